//! The network-namespace lab: building, addressing, running commands in it, and teardown.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{
    Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio,
};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};

/// Every namespace the lab creates is named `scrs-<pid>x<n>-<role>`.
pub const NS_PREFIX: &str = "scrs-";

/// The vantage point's address (on its link to r1).
pub const VP_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The vantage point's address (on its link to r1).
pub const VP_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// A second vp address (same link; never chosen by default: bind to it, e.g. scamper -S).
pub const VP_ALT_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
/// A second vp address (same link; deprecated, so never chosen by default: bind to it).
pub const VP_ALT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3);
/// The target's host address (on its loopback).
pub const TARGET_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The target's host address (on its loopback).
pub const TARGET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// The delayed target's host address (on its loopback), reached over the delayed link.
pub const DELAY_TARGET_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The delayed target's host address (on its loopback), reached over the delayed link.
pub const DELAY_TARGET_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1);
/// Whole prefix the target answers for (AnyIP: a `local` route on its loopback).
pub const ANYIP_V4: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 18, 0, 0), 15);
/// Whole prefix the target answers for (AnyIP: a `local` route on its loopback).
pub const ANYIP_V6: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0), 48);
/// TCP port with a listener on the target and the delayed target (SYN gets SYN/ACK), on every
/// address of those namespaces, AnyIP included.
pub const TCP_OPEN_PORT: u16 = 80;
/// TCP port with no listener (SYN gets RST).
pub const TCP_CLOSED_PORT: u16 = 81;
/// A UDP port with no socket (gets ICMP port unreachable). No UDP port is open in the lab.
pub const UDP_CLOSED_PORT: u16 = 33434;

/// Most links a lab can have: link subnets are /29s carved from 192.0.2.0/24.
const MAX_LINKS: usize = 32;
/// Upper bound for any one `ip`/`nft`/`ethtool` invocation while building or removing a lab.
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);
/// Default bound for [`Lab::exec`].
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(60);
/// The delay program never outlives this, even if our process hangs instead of dying.
const DELAY_MAX_SECS: u64 = 3 * 3600;

/// Error from building or using the lab; the message says what failed.
#[derive(Debug)]
pub struct LabError(pub String);

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LabError {}

impl From<io::Error> for LabError {
    fn from(e: io::Error) -> Self {
        LabError(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, LabError>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(LabError(msg.into()))
}

/// Address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];
}

/// A node of the lab. Routers and branches are numbered from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The vantage point, where scamper runs.
    Vp,
    /// Chain router `r<i>`, i = 1..=routers; the last one splits traffic over the branches.
    Router(u8),
    /// ECMP branch router `b<i>`, i = 1..=ecmp_branches.
    Branch(u8),
    /// Router where the ECMP branches join again.
    Join,
    /// The target: host address, AnyIP prefixes, TCP listener.
    Target,
    /// Host behind the delayed link (attached to the last chain router).
    DelayTarget,
}

impl Role {
    /// Short name used in namespace and interface names: vp, r1, b2, j, tgt, dly.
    pub fn short(self) -> String {
        match self {
            Role::Vp => "vp".into(),
            Role::Router(i) => format!("r{i}"),
            Role::Branch(i) => format!("b{i}"),
            Role::Join => "j".into(),
            Role::Target => "tgt".into(),
            Role::DelayTarget => "dly".into(),
        }
    }

    fn is_router(self) -> bool {
        matches!(self, Role::Router(_) | Role::Branch(_) | Role::Join)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())
    }
}

/// What to build. `Default` gives vp, r1, r2, two ECMP branches, join, target, and a 20 ms
/// delayed link to a delay target.
#[derive(Clone, Debug)]
pub struct LabSpec {
    /// Chain routers r1..rN (1..=16). rN is the ECMP split router and carries the delayed link.
    pub routers: u8,
    /// Parallel branch routers between rN and the join router (0..=6). 0: the target hangs
    /// directly off rN (no join router, no ECMP); 1: a single branch, no ECMP.
    pub ecmp_branches: u8,
    /// One-way delay from rN towards the delay target; `None` leaves the delay target out.
    pub delay: Option<Duration>,
    /// Run a TCP listener on [`TCP_OPEN_PORT`] in the target namespaces.
    pub tcp_listener: bool,
}

impl Default for LabSpec {
    fn default() -> Self {
        LabSpec {
            routers: 2,
            ecmp_branches: 2,
            delay: Some(Duration::from_millis(20)),
            tcp_listener: true,
        }
    }
}

impl LabSpec {
    /// The default chain of routers with neither the ECMP section nor the delayed link: the
    /// smallest lab, for tests that need only a reachable target.
    pub fn single_path() -> LabSpec {
        LabSpec {
            ecmp_branches: 0,
            delay: None,
            ..LabSpec::default()
        }
    }
}

/// An address prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Prefix(IpAddr, u8);

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0, self.1)
    }
}

struct Node {
    role: Role,
    ns: String,
    /// Host addresses on the loopback (/32, /128).
    lo_addrs: Vec<Prefix>,
    /// AnyIP prefixes (`local` routes on the loopback).
    anyip: Vec<Prefix>,
}

struct Link {
    a: usize,
    b: usize,
    /// A TUN pair joined by the delay program instead of a veth pair.
    tun: bool,
}

fn link_v4(link: usize, side: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, (8 * link + 1 + side) as u8)
}

fn link_v6(link: usize, side: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, link as u16, 0, 0, 0, 1 + side as u16)
}

/// Locally administered MAC of one end of a veth link (L2 domains are per link, so these only
/// need to differ within a link).
fn link_mac(link: usize, side: usize) -> String {
    format!("02:5c:00:00:{link:02x}:{:02x}", side + 1)
}

/// The `n`-th address (n >= 0) inside the AnyIP prefix of `family`, for big target lists.
/// Panics if `n` does not fit the prefix (2^17 - 2 addresses for IPv4).
pub fn anyip_addr(family: Family, n: u32) -> IpAddr {
    match family {
        Family::V4 => {
            assert!(n < (1 << 17) - 2, "AnyIP v4 index {n} out of 198.18.0.0/15");
            IpAddr::V4(Ipv4Addr::from(u32::from(ANYIP_V4.0) + 1 + n))
        }
        Family::V6 => IpAddr::V6(Ipv6Addr::from(u128::from(ANYIP_V6.0) + 1 + u128::from(n))),
    }
}

/// Interface statistics from `/proc/net/dev` of a namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfStats {
    pub name: String,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// A process started in the lab with [`Lab::spawn`]. Killed (SIGKILL) and reaped when this
/// handle or its lab is dropped, whichever comes first.
pub struct LabChild {
    child: Arc<Mutex<Child>>,
    pid: u32,
}

fn lock(c: &Mutex<Child>) -> std::sync::MutexGuard<'_, Child> {
    // A panic while holding the lock cannot leave a Child inconsistent; keep going.
    c.lock().unwrap_or_else(|p| p.into_inner())
}

fn kill_child(c: &Mutex<Child>) {
    let mut c = lock(c);
    // std knows whether it already reaped the child, and then sends no signal: no PID reuse risk.
    if let Ok(None) = c.try_wait() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl LabChild {
    pub fn pid(&self) -> u32 {
        self.pid
    }
    pub fn take_stdout(&self) -> Option<ChildStdout> {
        lock(&self.child).stdout.take()
    }
    pub fn take_stderr(&self) -> Option<ChildStderr> {
        lock(&self.child).stderr.take()
    }
    pub fn take_stdin(&self) -> Option<ChildStdin> {
        lock(&self.child).stdin.take()
    }
    pub fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        lock(&self.child).try_wait()
    }
    /// Waits at most `timeout` for the process to exit.
    pub fn wait_timeout(&self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
    /// Sends `sig` (e.g. SIGTERM for a clean shutdown) if the process has not been reaped yet.
    pub fn signal(&self, sig: nix::sys::signal::Signal) -> io::Result<()> {
        let mut c = lock(&self.child);
        // Holding the lock while the child is unreaped means its PID cannot have been reused.
        if c.try_wait()?.is_none() {
            let pid = nix::unistd::Pid::from_raw(self.pid as i32);
            nix::sys::signal::kill(pid, sig).map_err(io::Error::from)?;
        }
        Ok(())
    }
    /// SIGKILL and reap.
    pub fn kill(&self) {
        kill_child(&self.child);
    }
}

impl Drop for LabChild {
    fn drop(&mut self) {
        kill_child(&self.child);
    }
}

/// A built lab. Everything it created is removed when it is dropped (also while unwinding from a
/// panic); namespaces left by a crashed process are removed by the next [`Lab::build`].
pub struct Lab {
    id: String,
    spec: LabSpec,
    nodes: Vec<Node>,
    links: Vec<Link>,
    /// dist[d][x]: hops from node x to node d.
    dist: Vec<Vec<usize>>,
    split: Option<usize>,
    /// Namespaces we asked `ip netns add` for (deleted on drop, existing or not).
    created: Vec<String>,
    delay_proc: Option<Child>,
    children: Mutex<Vec<Arc<Mutex<Child>>>>,
    listeners: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    build_time: Duration,
}

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Finds a system tool (the lab runs as root, but PATH may lack the sbin directories).
fn sys_tool(name: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            LabError(format!(
                "`{name}` not found; install the Debian packages in .ci/lab-packages.txt"
            ))
        })
}

/// Runs `cmd` to completion, killing it after `timeout`; stdout and stderr are captured. Stdin
/// is whatever the caller set on `cmd`.
pub fn run_with_timeout(cmd: Command, timeout: Duration) -> Result<Output> {
    run_io(cmd, None, timeout)
}

fn run_io(mut cmd: Command, input: Option<&str>, timeout: Duration) -> Result<Output> {
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .map_err(|e| LabError(format!("spawn {desc}: {e}")))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        let text = text.to_string();
        // Own thread: a child that writes before reading all its input cannot deadlock us.
        thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
    }
    // Read both pipes in threads so a chatty child cannot block on a full pipe.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            let _ = tx.send(buf);
        });
        rx
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let errs = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return err(format!("{desc} timed out after {timeout:?}"));
        }
        thread::sleep(Duration::from_millis(2));
    };
    // A background grandchild may hold the pipes open: wait for them only until the deadline.
    let collect = |rx: mpsc::Receiver<Vec<u8>>| {
        let left = deadline.saturating_duration_since(Instant::now());
        rx.recv_timeout(left.max(Duration::from_millis(100)))
            .map_err(|_| LabError(format!("{desc}: output still open after it exited")))
    };
    Ok(Output {
        status,
        stdout: collect(out)?,
        stderr: collect(errs)?,
    })
}

/// Runs a system tool with `input` on stdin (or none); fails unless it exits 0.
fn run_checked(mut cmd: Command, input: Option<&str>) -> Result<Output> {
    let desc = format!("{cmd:?}");
    if input.is_none() {
        cmd.stdin(Stdio::null());
    }
    let out = run_io(cmd, input, TOOL_TIMEOUT)?;
    if !out.status.success() {
        return err(format!(
            "{desc} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            input
                .map(|i| format!("\ninput was:\n{i}"))
                .unwrap_or_default()
        ));
    }
    Ok(out)
}

/// Runs `f` on a new thread that has joined network namespace `ns`. Sockets created there stay
/// in that namespace; processes spawned from that thread start in it too.
pub fn in_netns<T: Send, F: FnOnce() -> T + Send>(ns: &str, f: F) -> Result<T> {
    thread::scope(|s| {
        let h = s.spawn(|| -> Result<T> {
            enter_netns(ns)?;
            Ok(f())
        });
        match h.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn enter_netns(ns: &str) -> Result<()> {
    let f = File::open(Path::new("/run/netns").join(ns))
        .map_err(|e| LabError(format!("open netns {ns}: {e}")))?;
    setns(&f, CloneFlags::CLONE_NEWNET).map_err(|e| LabError(format!("setns {ns}: {e}")))
}

/// Writes sysctls of the calling thread's network namespace (/proc/sys/net follows the thread).
fn write_sysctls(settings: &[(&str, &str)]) -> Result<()> {
    for (key, val) in settings {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, format!("{val}\n"))
            .map_err(|e| LabError(format!("sysctl {key}={val}: {e}")))?;
    }
    Ok(())
}

/// Namespace names of the lab prefix that exist now.
pub fn lab_namespaces() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with(NS_PREFIX))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// PID of the process that created a lab namespace, from its name `scrs-<pid>x<n>-<role>`.
fn owner_pid(ns: &str) -> Option<u32> {
    let rest = ns.strip_prefix(NS_PREFIX)?;
    let (id, _role) = rest.split_once('-')?;
    let (pid, n) = id.split_once('x')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

impl Lab {
    /// True if we are root. Otherwise prints why the calling test is skipped and returns false;
    /// under CI (`CI` set) it panics instead, because CI runs as root and must really test.
    pub fn require_root() -> bool {
        if nix::unistd::geteuid().is_root() {
            return true;
        }
        if std::env::var_os("CI").is_some() {
            panic!("the namespace lab needs root, and CI runs as root: refusing to skip");
        }
        eprintln!("skipped: the namespace lab needs root (network namespaces, veth, nft)");
        false
    }

    /// Removes namespaces with our prefix whose creating process is gone (a crashed or killed
    /// earlier run), after killing any process still running inside them. Namespaces of live
    /// processes, including other tests running in parallel, are left alone. Returns the names
    /// removed.
    pub fn sweep_stale() -> Result<Vec<String>> {
        let ip = sys_tool("ip")?;
        let me = std::process::id();
        let stale: Vec<String> = lab_namespaces()
            .into_iter()
            .filter(|ns| match owner_pid(ns) {
                Some(pid) => pid != me && !Path::new(&format!("/proc/{pid}")).exists(),
                None => false,
            })
            .collect();
        // Leftovers of our own crashed run (delay program, scamper): kill them by PID.
        kill_processes_in(&ip, &stale);
        for ns in &stale {
            let mut c = Command::new(&ip);
            c.args(["netns", "del", ns]);
            // Another process may sweep the same name at the same time; only a leftover counts.
            if run_checked(c, None).is_err() && Path::new("/run/netns").join(ns).exists() {
                return err(format!("could not remove stale namespace {ns}"));
            }
        }
        Ok(stale)
    }

    /// Builds a lab. On error everything created so far is removed again.
    pub fn build(spec: LabSpec) -> Result<Lab> {
        let t0 = Instant::now();
        for tool in ["ip", "ethtool", "nft"] {
            sys_tool(tool)?;
        }
        let mut lab = Self::planned(spec)?;
        Self::sweep_stale()?;
        // On error `lab` is dropped here, which removes whatever was created.
        lab.create()?;
        lab.build_time = t0.elapsed();
        Ok(lab)
    }

    /// A lab laid out but not created: nothing exists on the system, and dropping it does nothing.
    fn planned(spec: LabSpec) -> Result<Lab> {
        if !(1..=16).contains(&spec.routers) || spec.ecmp_branches > 6 {
            return err(format!("unsupported spec {spec:?}"));
        }
        let n = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut lab = Lab {
            id: format!("{}x{n}", std::process::id()),
            spec,
            nodes: Vec::new(),
            links: Vec::new(),
            dist: Vec::new(),
            split: None,
            created: Vec::new(),
            delay_proc: None,
            children: Mutex::new(Vec::new()),
            listeners: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            build_time: Duration::ZERO,
        };
        lab.plan();
        Ok(lab)
    }

    /// Lays out nodes, links and addresses (no system changes).
    fn plan(&mut self) {
        let spec = self.spec.clone();
        let add = |lab: &mut Lab, role: Role| {
            let ns = format!("{NS_PREFIX}{}-{}", lab.id, role.short());
            lab.nodes.push(Node {
                role,
                ns,
                lo_addrs: Vec::new(),
                anyip: Vec::new(),
            });
            lab.nodes.len() - 1
        };
        let link =
            |lab: &mut Lab, a: usize, b: usize, tun: bool| lab.links.push(Link { a, b, tun });
        let vp = add(self, Role::Vp);
        let mut prev = vp;
        for i in 1..=spec.routers {
            let r = add(self, Role::Router(i));
            link(self, prev, r, false);
            prev = r;
        }
        let last = prev;
        let tgt_parent = if spec.ecmp_branches == 0 {
            last
        } else {
            let branches: Vec<usize> = (1..=spec.ecmp_branches)
                .map(|i| add(self, Role::Branch(i)))
                .collect();
            let j = add(self, Role::Join);
            for &b in &branches {
                link(self, last, b, false);
            }
            for &b in &branches {
                link(self, b, j, false);
            }
            if branches.len() > 1 {
                self.split = Some(last);
            }
            j
        };
        let tgt = add(self, Role::Target);
        link(self, tgt_parent, tgt, false);
        self.nodes[tgt].lo_addrs =
            vec![Prefix(TARGET_V4.into(), 32), Prefix(TARGET_V6.into(), 128)];
        self.nodes[tgt].anyip = vec![
            Prefix(ANYIP_V4.0.into(), ANYIP_V4.1),
            Prefix(ANYIP_V6.0.into(), ANYIP_V6.1),
        ];
        if spec.delay.is_some() {
            let dly = add(self, Role::DelayTarget);
            link(self, last, dly, true);
            self.nodes[dly].lo_addrs = vec![
                Prefix(DELAY_TARGET_V4.into(), 32),
                Prefix(DELAY_TARGET_V6.into(), 128),
            ];
        }
        assert!(self.links.len() <= MAX_LINKS);
        // Hop distances by BFS from every node.
        let nn = self.nodes.len();
        self.dist = (0..nn)
            .map(|d| {
                let mut dist = vec![usize::MAX; nn];
                dist[d] = 0;
                let mut q = VecDeque::from([d]);
                while let Some(x) = q.pop_front() {
                    for (_, y) in self.adj(x) {
                        if dist[y] == usize::MAX {
                            dist[y] = dist[x] + 1;
                            q.push_back(y);
                        }
                    }
                }
                dist
            })
            .collect();
    }

    /// (link, neighbour) pairs of node x, in link order.
    fn adj(&self, x: usize) -> Vec<(usize, usize)> {
        self.links
            .iter()
            .enumerate()
            .filter_map(|(l, k)| {
                if k.a == x {
                    Some((l, k.b))
                } else if k.b == x {
                    Some((l, k.a))
                } else {
                    None
                }
            })
            .collect()
    }

    /// Next hops node x uses towards node d: all shortest-path neighbours at the ECMP split
    /// router, otherwise only the first (lowest link), so that everywhere else, and in particular
    /// on the way back to the vp, routing is single-path and replies are deterministic.
    fn route_choice(&self, x: usize, d: usize) -> Vec<(usize, usize)> {
        let dx = self.dist[d][x];
        if dx == 0 || dx == usize::MAX {
            return Vec::new();
        }
        let nh: Vec<_> = self
            .adj(x)
            .into_iter()
            .filter(|&(_, y)| self.dist[d][y] == dx - 1)
            .collect();
        if Some(x) == self.split {
            nh
        } else {
            nh.into_iter().take(1).collect()
        }
    }

    fn side(&self, x: usize, l: usize) -> usize {
        usize::from(self.links[l].a != x)
    }

    fn link_addr(&self, x: usize, l: usize, fam: Family) -> IpAddr {
        let s = self.side(x, l);
        match fam {
            Family::V4 => link_v4(l, s).into(),
            Family::V6 => link_v6(l, s).into(),
        }
    }

    fn ifname(&self, x: usize, l: usize) -> String {
        let k = &self.links[l];
        let other = if k.a == x { k.b } else { k.a };
        let p = if k.tun { "t-" } else { "e-" };
        format!("{p}{}", self.nodes[other].role.short())
    }

    fn idx(&self, role: Role) -> Option<usize> {
        self.nodes.iter().position(|n| n.role == role)
    }

    fn node(&self, role: Role) -> usize {
        self.idx(role)
            .unwrap_or_else(|| panic!("this lab has no {role} (spec {:?})", self.spec))
    }

    fn ip_cmd(&self) -> Result<Command> {
        Ok(Command::new(sys_tool("ip")?))
    }

    /// `ip -n <ns> -batch -` with the given lines.
    fn ip_batch(&self, ns: Option<&str>, lines: &[String]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut c = self.ip_cmd()?;
        if let Some(ns) = ns {
            c.args(["-n", ns]);
        }
        c.args(["-batch", "-"]);
        let mut text = lines.join("\n");
        text.push('\n');
        run_checked(c, Some(&text)).map(|_| ())
    }

    fn sysctls_for(role: Role) -> Vec<(&'static str, &'static str)> {
        let mut s = vec![
            // No ICMP rate limiting anywhere: per-destination, global, and by type.
            ("net.ipv4.icmp_ratelimit", "0"),
            ("net.ipv4.icmp_ratemask", "0"),
            ("net.ipv4.icmp_msgs_per_sec", "2147483647"),
            ("net.ipv4.icmp_msgs_burst", "2147483647"),
            ("net.ipv6.icmp.ratelimit", "0"),
            ("net.ipv6.icmp.ratemask", ""),
            // Replies may come back over another branch than the probe went out on.
            ("net.ipv4.conf.all.rp_filter", "0"),
            ("net.ipv4.conf.default.rp_filter", "0"),
            // Addresses usable at once: no duplicate address detection, no router adverts.
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.accept_ra", "0"),
            ("net.ipv6.conf.default.accept_ra", "0"),
            // Per-flow (L4) hashing over ECMP next hops.
            ("net.ipv4.fib_multipath_hash_policy", "1"),
            ("net.ipv6.fib_multipath_hash_policy", "1"),
            // Unprivileged ICMP sockets, in case a prober drops root.
            ("net.ipv4.ping_group_range", "0 2147483647"),
        ];
        if role.is_router() {
            s.extend([
                ("net.ipv4.ip_forward", "1"),
                ("net.ipv6.conf.all.forwarding", "1"),
                ("net.ipv6.conf.default.forwarding", "1"),
            ]);
        }
        if matches!(role, Role::Target | Role::DelayTarget) {
            // Lets tests bind sockets to any AnyIP address.
            s.extend([
                ("net.ipv4.ip_nonlocal_bind", "1"),
                ("net.ipv6.ip_nonlocal_bind", "1"),
            ]);
        }
        s
    }

    fn create(&mut self) -> Result<()> {
        // 1. Namespaces, in one batch. Record names first so a partial failure is cleaned up.
        self.created = self.nodes.iter().map(|n| n.ns.clone()).collect();
        let lines: Vec<String> = self
            .created
            .iter()
            .map(|ns| format!("netns add {ns}"))
            .collect();
        self.ip_batch(None, &lines)?;

        // 2. Sysctls before any interface exists, so `default` applies to all of them.
        let plan: Vec<(String, Role)> = self.nodes.iter().map(|n| (n.ns.clone(), n.role)).collect();
        thread::scope(|s| {
            s.spawn(|| -> Result<()> {
                for (ns, role) in &plan {
                    enter_netns(ns)?;
                    write_sysctls(&Self::sysctls_for(*role))?;
                }
                Ok(())
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })?;

        // 3. veth pairs, created straight into their namespaces.
        let mut lines = Vec::new();
        for (l, k) in self.links.iter().enumerate() {
            if !k.tun {
                lines.push(format!(
                    "link add name {} address {} netns {} type veth peer name {} address {} netns {}",
                    self.ifname(k.a, l),
                    link_mac(l, 0),
                    self.nodes[k.a].ns,
                    self.ifname(k.b, l),
                    link_mac(l, 1),
                    self.nodes[k.b].ns
                ));
            }
        }
        self.ip_batch(None, &lines)?;

        // 4. The delayed link: TUN devices made by our delay program.
        if let Some(delay) = self.spec.delay {
            let l = self.links.iter().position(|k| k.tun).expect("planned");
            let (a, b) = (self.links[l].a, self.links[l].b);
            self.start_delay(
                (&self.nodes[a].ns.clone(), &self.ifname(a, l)),
                (&self.nodes[b].ns.clone(), &self.ifname(b, l)),
                delay,
            )?;
        }

        // 5. Loopback, addresses, links up.
        for x in 0..self.nodes.len() {
            let mut lines = vec!["link set lo up".to_string()];
            for p in &self.nodes[x].lo_addrs {
                lines.push(format!("addr add {p} dev lo{}", nodad(p.0)));
            }
            for p in &self.nodes[x].anyip {
                lines.push(format!("route add local {p} dev lo"));
            }
            for (l, _) in self.adj(x) {
                let ifn = self.ifname(x, l);
                for fam in Family::BOTH {
                    let a = self.link_addr(x, l, fam);
                    let len = if fam == Family::V4 { 29 } else { 64 };
                    lines.push(format!("addr add {a}/{len} dev {ifn}{}", nodad(a)));
                }
                lines.push(format!("link set {ifn} up"));
                if !self.links[l].tun {
                    // Static neighbours: no ARP/ND delay on first packets, no ND in counters.
                    let peer = 1 - self.side(x, l);
                    for a in [IpAddr::from(link_v4(l, peer)), link_v6(l, peer).into()] {
                        let mac = link_mac(l, peer);
                        lines.push(format!(
                            "neigh replace {a} lladdr {mac} dev {ifn} nud permanent"
                        ));
                    }
                }
                if l == 0 {
                    // The vp's second source addresses, on its link to r1 (side 0 is the vp).
                    if self.side(x, l) == 0 {
                        lines.push(format!("addr add {VP_ALT_V4}/29 dev {ifn}"));
                        // Deprecated at once, so the kernel never picks it as a default source.
                        lines.push(format!(
                            "addr add {VP_ALT_V6}/64 dev {ifn} nodad preferred_lft 0"
                        ));
                    } else {
                        let mac = link_mac(l, 0);
                        for a in [IpAddr::from(VP_ALT_V4), VP_ALT_V6.into()] {
                            lines.push(format!(
                                "neigh replace {a} lladdr {mac} dev {ifn} nud permanent"
                            ));
                        }
                    }
                }
            }
            self.ip_batch(Some(&self.nodes[x].ns), &lines)?;
        }

        // 6. Routes (nexthop objects need their devices' carrier, so after every link is up).
        for x in 0..self.nodes.len() {
            let lines = self.route_lines(x);
            self.ip_batch(Some(&self.nodes[x].ns), &lines)?;
        }

        // 7. No TX checksum offload on veths: forwarded IPv6 UDP would carry partial checksums.
        let ethtool = sys_tool("ethtool")?;
        let jobs: Vec<(String, Vec<String>)> = (0..self.nodes.len())
            .map(|x| {
                let ifs = self
                    .adj(x)
                    .into_iter()
                    .filter(|&(l, _)| !self.links[l].tun)
                    .map(|(l, _)| self.ifname(x, l))
                    .collect();
                (self.nodes[x].ns.clone(), ifs)
            })
            .collect();
        thread::scope(|s| {
            s.spawn(|| -> Result<()> {
                for (ns, ifs) in &jobs {
                    enter_netns(ns)?;
                    for ifn in ifs {
                        // Spawned from this thread, ethtool starts in its namespace.
                        let mut c = Command::new(&ethtool);
                        c.args(["-K", ifn, "tx", "off"]);
                        run_checked(c, None)?;
                    }
                }
                Ok(())
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })?;

        // 8. TCP listeners.
        if self.spec.tcp_listener {
            for role in [Role::Target, Role::DelayTarget] {
                if let Some(x) = self.idx(role) {
                    let ns = self.nodes[x].ns.clone();
                    self.start_listener(ns)?;
                }
            }
        }
        Ok(())
    }

    fn route_lines(&self, x: usize) -> Vec<String> {
        // (destination prefix, owning node)
        let mut dests: Vec<(Prefix, usize)> = Vec::new();
        for (l, k) in self.links.iter().enumerate() {
            if k.a == x || k.b == x {
                continue;
            }
            let d = if self.dist[k.a][x] <= self.dist[k.b][x] {
                k.a
            } else {
                k.b
            };
            dests.push((
                Prefix(Ipv4Addr::new(192, 0, 2, (8 * l) as u8).into(), 29),
                d,
            ));
            let net = Ipv6Addr::new(0x2001, 0xdb8, 0, l as u16, 0, 0, 0, 0);
            dests.push((Prefix(net.into(), 64), d));
        }
        for (d, n) in self.nodes.iter().enumerate() {
            if d != x {
                for p in n.lo_addrs.iter().chain(&n.anyip) {
                    dests.push((*p, d));
                }
            }
        }
        let mut lines = Vec::new();
        let mut nh_ids: BTreeMap<(bool, usize), u32> = BTreeMap::new();
        let mut group_ids: BTreeMap<(bool, Vec<usize>), u32> = BTreeMap::new();
        for (p, d) in dests {
            let v6 = p.0.is_ipv6();
            let fam = if v6 { Family::V6 } else { Family::V4 };
            let choice = self.route_choice(x, d);
            match choice.as_slice() {
                [] => {}
                [(l, y)] => {
                    let ifn = self.ifname(x, *l);
                    if self.links[*l].tun {
                        // Point-to-point TUN: no neighbour to resolve.
                        lines.push(format!("route add {p} dev {ifn}"));
                    } else {
                        let via = self.link_addr(*y, *l, fam);
                        lines.push(format!("route add {p} via {via} dev {ifn}"));
                    }
                }
                many => {
                    let mut members = Vec::new();
                    for &(l, y) in many {
                        let next = 1 + nh_ids.len() as u32;
                        let id = *nh_ids.entry((v6, l)).or_insert_with(|| {
                            lines.push(format!(
                                "nexthop add id {next} via {} dev {}",
                                self.link_addr(y, l, fam),
                                self.ifname(x, l)
                            ));
                            next
                        });
                        members.push(id as usize);
                    }
                    let next = 1000 + group_ids.len() as u32;
                    let gid = *group_ids.entry((v6, members.clone())).or_insert_with(|| {
                        let g: Vec<String> = members.iter().map(|m| m.to_string()).collect();
                        lines.push(format!("nexthop add id {next} group {}", g.join("/")));
                        next
                    });
                    lines.push(format!("route add {p} nhid {gid}"));
                }
            }
        }
        lines
    }

    fn start_delay(&mut self, a: (&str, &str), b: (&str, &str), delay: Duration) -> Result<()> {
        let bin = delay_bin()?;
        // Real-time priority: on a busy 2-core machine a normal thread can wake up many ms late,
        // and the delay must stay within ~1 ms. The program only blocks or sleeps, so this cannot
        // starve anything.
        let mut c = match sys_tool("chrt") {
            Ok(chrt) => {
                let mut c = Command::new(chrt);
                c.args(["-f", "20"]).arg(&bin);
                c
            }
            Err(_) => Command::new(&bin),
        };
        c.arg("--a")
            .arg(format!("{}:{}", a.0, a.1))
            .arg("--b")
            .arg(format!("{}:{}", b.0, b.1))
            .arg("--delay-us")
            .arg(delay.as_micros().to_string())
            .arg("--max-secs")
            .arg(DELAY_MAX_SECS.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut child = c
            .spawn()
            .map_err(|e| LabError(format!("spawn {}: {e}", bin.display())))?;
        let stdout = child.stdout.take();
        self.delay_proc = Some(child);
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            if let Some(out) = stdout {
                let _ = BufReader::new(out).read_line(&mut line);
            }
            let _ = tx.send(line);
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) if l.trim() == "ready" => Ok(()),
            Ok(l) => err(format!("delay program did not start (said {l:?})")),
            Err(_) => err("delay program not ready after 10 s"),
        }
    }

    fn start_listener(&mut self, ns: String) -> Result<()> {
        let stop = self.stop.clone();
        let (tx, rx) = mpsc::channel();
        let h = thread::spawn(move || {
            let l = enter_netns(&ns).and_then(|()| {
                // [::] with the default bindv6only=0 takes IPv4 too.
                let l = std::net::TcpListener::bind(("::", TCP_OPEN_PORT))?;
                l.set_nonblocking(true)?;
                Ok(l)
            });
            let l = match l {
                Ok(l) => {
                    let _ = tx.send(Ok(()));
                    l
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            // Bounded by the lab's lifetime: Drop sets `stop` and joins.
            while !stop.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((conn, _)) => drop(conn),
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        self.listeners.push(h);
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(r) => r,
            Err(_) => err("TCP listener did not start"),
        }
    }

    // ---- Queries ----

    /// This lab's unique id (`<pid>x<n>`), part of every namespace name.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn spec(&self) -> &LabSpec {
        &self.spec
    }

    /// How long [`Lab::build`] took.
    pub fn build_time(&self) -> Duration {
        self.build_time
    }

    /// PID of the delay program, if this lab has a delayed link.
    pub fn delay_pid(&self) -> Option<u32> {
        self.delay_proc.as_ref().map(Child::id)
    }

    /// Roles present in this lab.
    pub fn roles(&self) -> Vec<Role> {
        self.nodes.iter().map(|n| n.role).collect()
    }

    /// Namespace name of `role` (for `ip netns exec` / `ip -n`). Panics if absent.
    pub fn ns(&self, role: Role) -> &str {
        &self.nodes[self.node(role)].ns
    }

    /// All namespace names of this lab.
    pub fn namespaces(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.ns.clone()).collect()
    }

    /// The canonical address of `role`: the vp's source address; for routers the address of the
    /// interface facing the vp (the one their ICMP errors come from); for the targets their
    /// host address.
    pub fn addr(&self, role: Role, fam: Family) -> IpAddr {
        let x = self.node(role);
        match role {
            Role::Target | Role::DelayTarget => {
                let n = &self.nodes[x];
                n.lo_addrs
                    .iter()
                    .find(|p| p.0.is_ipv6() == (fam == Family::V6))
                    .expect("host address")
                    .0
            }
            _ => self.facing_vp(x, fam),
        }
    }

    /// Source addresses of the vp: the default one ([`VP_V4`]/[`VP_V6`]) first, then the
    /// alternative ([`VP_ALT_V4`]/[`VP_ALT_V6`]).
    pub fn vp_addrs(&self, fam: Family) -> [IpAddr; 2] {
        match fam {
            Family::V4 => [VP_V4.into(), VP_ALT_V4.into()],
            Family::V6 => [VP_V6.into(), VP_ALT_V6.into()],
        }
    }

    fn facing_vp(&self, x: usize, fam: Family) -> IpAddr {
        let vp = self.node(Role::Vp);
        let l = if x == vp {
            self.adj(x)[0].0
        } else {
            self.route_choice(x, vp)[0].0
        };
        self.link_addr(x, l, fam)
    }

    /// Every interface address of `role` in `fam`: (interface name, address), in link order.
    pub fn iface_addrs(&self, role: Role, fam: Family) -> Vec<(String, IpAddr)> {
        let x = self.node(role);
        self.adj(x)
            .into_iter()
            .map(|(l, _)| (self.ifname(x, l), self.link_addr(x, l, fam)))
            .collect()
    }

    /// Name of the interface of `role` that faces `towards` (they must be neighbours).
    pub fn ifname_towards(&self, role: Role, towards: Role) -> String {
        let (x, y) = (self.node(role), self.node(towards));
        let l = self
            .adj(x)
            .into_iter()
            .find(|&(_, o)| o == y)
            .unwrap_or_else(|| panic!("{role} and {towards} are not neighbours"))
            .0;
        self.ifname(x, l)
    }

    /// The ECMP branch roles (empty without branches).
    pub fn branches(&self) -> Vec<Role> {
        self.roles()
            .into_iter()
            .filter(|r| matches!(r, Role::Branch(_)))
            .collect()
    }

    /// Addresses of the ECMP branch routers facing the vp.
    pub fn branch_addrs(&self, fam: Family) -> Vec<IpAddr> {
        self.branches()
            .into_iter()
            .map(|b| self.addr(b, fam))
            .collect()
    }

    /// The configured one-way delay towards the delay target (RTT grows by this much).
    pub fn delay(&self) -> Option<Duration> {
        self.spec.delay
    }

    /// For each TTL from 1 up to the hop before `to`: the set of addresses that can answer with
    /// ICMP time exceeded (one address per router, several at the ECMP hop).
    pub fn path(&self, to: Role, fam: Family) -> Vec<Vec<IpAddr>> {
        let d = self.node(to);
        let mut cur = BTreeSet::from([self.node(Role::Vp)]);
        let mut hops = Vec::new();
        for _ in 0..self.nodes.len() {
            let next: BTreeSet<usize> = cur
                .iter()
                .flat_map(|&x| self.route_choice(x, d))
                .map(|(_, y)| y)
                .collect();
            if next.is_empty() || next == BTreeSet::from([d]) {
                break;
            }
            hops.push(next.iter().map(|&y| self.facing_vp(y, fam)).collect());
            cur = next;
        }
        hops
    }

    // ---- Running things ----

    /// `ip netns exec <ns of role> <program>`: add args, stdio, then run it or [`Lab::spawn`] it.
    pub fn command(&self, role: Role, program: impl AsRef<OsStr>) -> Command {
        let ip = sys_tool("ip").unwrap_or_else(|_| PathBuf::from("ip"));
        let mut c = Command::new(ip);
        c.args(["netns", "exec", self.ns(role)]).arg(program);
        c
    }

    /// Runs `args` in `role`'s namespace, waits at most [`EXEC_TIMEOUT`]; returns its output
    /// whatever its exit status.
    pub fn exec(&self, role: Role, args: &[&str]) -> Result<Output> {
        self.exec_timeout(role, args, EXEC_TIMEOUT)
    }

    /// Like [`Lab::exec`] with an explicit time limit (the process is killed after it).
    pub fn exec_timeout(&self, role: Role, args: &[&str], timeout: Duration) -> Result<Output> {
        let (prog, rest) = args
            .split_first()
            .ok_or_else(|| LabError("empty command".into()))?;
        let mut c = self.command(role, prog);
        c.args(rest).stdin(Stdio::null());
        run_with_timeout(c, timeout)
    }

    /// Starts a long-running process, usually from [`Lab::command`]. It is killed when the handle
    /// or the lab is dropped.
    pub fn spawn(&self, mut cmd: Command) -> Result<LabChild> {
        let desc = format!("{cmd:?}");
        let child = cmd
            .spawn()
            .map_err(|e| LabError(format!("spawn {desc}: {e}")))?;
        let pid = child.id();
        let child = Arc::new(Mutex::new(child));
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(child.clone());
        Ok(LabChild { child, pid })
    }

    /// Runs `f` in this process, on a thread inside `role`'s namespace (see [`in_netns`]).
    pub fn in_ns<T: Send, F: FnOnce() -> T + Send>(&self, role: Role, f: F) -> Result<T> {
        in_netns(self.ns(role), f)
    }

    /// Interface counters of `role`'s namespace.
    pub fn if_stats(&self, role: Role) -> Result<Vec<IfStats>> {
        // /proc/thread-self/net follows the calling thread's namespace; /proc/self/net would not.
        let text = self.in_ns(role, || {
            std::fs::read_to_string("/proc/thread-self/net/dev")
        })??;
        Ok(parse_net_dev(&text))
    }

    /// Loads an nft script (`nft -f -`) in `role`'s namespace.
    pub fn nft(&self, role: Role, script: &str) -> Result<()> {
        let mut c = self.command(role, sys_tool("nft")?);
        c.args(["-f", "-"]);
        run_checked(c, Some(script)).map(|_| ())
    }

    /// Fakes a shared IP-ID counter on two interfaces of router `role`, as alias-resolution
    /// techniques expect of one router: every IPv4 packet the router itself sends from either
    /// returned address (echo replies, time exceeded, port unreachable ...) gets its IP-ID from one
    /// nft `numgen inc` counter (0, 1, 2, ... mod 65536). Returns the two addresses: the one facing
    /// the vp and the next interface's. Remove with `nft delete table ip scrs_ipid`.
    pub fn install_shared_ipid(&self, role: Role) -> Result<[Ipv4Addr; 2]> {
        let addrs: Vec<Ipv4Addr> = self
            .iface_addrs(role, Family::V4)
            .into_iter()
            .filter_map(|(_, a)| match a {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
            .collect();
        let facing = match self.addr(role, Family::V4) {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => unreachable!(),
        };
        let other = *addrs
            .iter()
            .find(|&&a| a != facing)
            .ok_or_else(|| LabError(format!("{role} has only one interface")))?;
        // One rule with a set: one numgen instance, hence one counter for both addresses.
        // `<< 16`: nft converts the 32-bit numgen register to network order and then writes its
        // first two bytes into the 16-bit IP-ID, which would always be 0 without the shift.
        let script = format!(
            "table ip scrs_ipid {{\n  chain out {{\n    type filter hook output priority 0; policy accept;\n    ip saddr {{ {facing}, {other} }} ip id set numgen inc mod 65536 << 16\n  }}\n}}\n"
        );
        self.nft(role, &script)?;
        Ok([facing, other])
    }
}

fn nodad(a: IpAddr) -> &'static str {
    if a.is_ipv6() {
        " nodad"
    } else {
        ""
    }
}

fn parse_net_dev(text: &str) -> Vec<IfStats> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            (f.len() >= 10).then(|| IfStats {
                name: name.trim().to_string(),
                rx_packets: f[1],
                tx_packets: f[9],
            })
        })
        .collect()
}

/// Path of the delay program: `$SCRS_LAB_DELAY_BIN`, else next to the running test binary
/// (cargo puts integration tests in `target/<profile>/deps/`, binaries in `target/<profile>/`).
fn delay_bin() -> Result<PathBuf> {
    const NAME: &str = "scrs-lab-delay";
    if let Some(p) = std::env::var_os("SCRS_LAB_DELAY_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|d| d.join(NAME))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            LabError(format!(
            "{NAME} not found in {candidates:?}; build it with `cargo build -p scamper-systests` \
             (cargo test builds it) or set SCRS_LAB_DELAY_BIN"
        ))
        })
}

/// SIGKILLs every process inside the named namespaces (never this process). Only called for
/// namespaces of our own labs, so these are processes our tests started, or their descendants.
fn kill_processes_in(ip: &Path, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let lines: String = names
        .iter()
        .map(|ns| format!("netns pids {ns}\n"))
        .collect();
    let mut c = Command::new(ip);
    // -force: go on past namespaces that are already gone.
    c.args(["-force", "-batch", "-"]);
    let Ok(out) = run_io(c, Some(&lines), TOOL_TIMEOUT) else {
        return;
    };
    let me = std::process::id();
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        match pid.parse::<u32>() {
            Ok(pid) if pid != me => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            _ => {}
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for h in self.listeners.drain(..) {
            let _ = h.join();
        }
        let children =
            std::mem::take(&mut *self.children.lock().unwrap_or_else(|p| p.into_inner()));
        for c in children {
            kill_child(&c);
        }
        if let Some(mut c) = self.delay_proc.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.created.is_empty() {
            return;
        }
        if let Ok(ip) = sys_tool("ip") {
            // Processes our children started (e.g. scamper's helpers) would keep a deleted
            // namespace alive and run on: kill whatever is still inside.
            kill_processes_in(&ip, &self.created);
        }
        let lines: Vec<String> = self
            .created
            .iter()
            .map(|ns| format!("netns del {ns}"))
            .collect();
        let ok = sys_tool("ip").map(|ip| {
            let mut c = Command::new(ip);
            // -force: keep deleting the rest if one is already gone (partial build).
            c.args(["-force", "-batch", "-"]);
            let _ = run_checked(c, Some(&(lines.join("\n") + "\n")));
        });
        let left: Vec<&String> = self
            .created
            .iter()
            .filter(|ns| Path::new("/run/netns").join(ns).exists())
            .collect();
        if ok.is_err() || !left.is_empty() {
            // Never panic in drop (we may be unwinding); the next build's sweep retries.
            eprintln!("scamper-systests: could not remove lab namespaces {left:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    //! Layout and routing decisions, checked without root (nothing is created).
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_layout_and_addresses() {
        let lab = Lab::planned(LabSpec::default()).unwrap();
        let roles = lab.roles();
        assert_eq!(roles.len(), 8);
        assert_eq!(lab.addr(Role::Vp, Family::V4), IpAddr::from(VP_V4));
        assert_eq!(lab.addr(Role::Vp, Family::V6), IpAddr::from(VP_V6));
        assert_eq!(lab.addr(Role::Target, Family::V6), IpAddr::from(TARGET_V6));
        let path = lab.path(Role::Target, Family::V4);
        // r1 and r2 on links 0 and 1; b1, b2 on links 2, 3; j answers from link 4 (to b1).
        assert_eq!(
            path,
            vec![
                vec![v4("192.0.2.2")],
                vec![v4("192.0.2.10")],
                vec![v4("192.0.2.18"), v4("192.0.2.26")],
                vec![v4("192.0.2.34")],
            ]
        );
        assert_eq!(
            lab.path(Role::Target, Family::V6)[3],
            vec![v4("2001:db8:0:4::2")]
        );
        assert_eq!(
            lab.path(Role::DelayTarget, Family::V4),
            vec![vec![v4("192.0.2.2")], vec![v4("192.0.2.10")]]
        );
        assert_eq!(
            lab.ifname_towards(Role::Router(2), Role::DelayTarget),
            "t-dly"
        );
        assert_eq!(lab.ifname_towards(Role::Branch(2), Role::Join), "e-j");
        assert!(lab.ns(Role::Join).starts_with(NS_PREFIX));
        assert!(lab.ns(Role::Join).ends_with("-j"));
        assert_eq!(owner_pid(lab.ns(Role::Vp)), Some(std::process::id()));
    }

    #[test]
    fn routes_ecmp_only_at_the_split_router_and_never_default() {
        let lab = Lab::planned(LabSpec::default()).unwrap();
        for x in 0..lab.nodes.len() {
            let lines = lab.route_lines(x);
            assert!(lines.iter().all(|l| !l.contains("default")));
            let groups = lines.iter().filter(|l| l.contains(" group ")).count();
            if lab.nodes[x].role == Role::Router(2) {
                // One group per family, used for everything behind the join router.
                assert_eq!(groups, 2, "{lines:#?}");
                assert!(lines.contains(&"route add 198.51.100.1/32 nhid 1000".to_string()));
                assert!(lines.contains(&"route add 198.18.0.0/15 nhid 1000".to_string()));
            } else {
                assert_eq!(groups, 0, "{:?}: {lines:#?}", lab.nodes[x].role);
            }
        }
        // Without branches the target hangs off the last router and nothing is multipath.
        let lab = Lab::planned(LabSpec {
            ecmp_branches: 0,
            delay: None,
            ..LabSpec::default()
        })
        .unwrap();
        assert_eq!(lab.roles().len(), 4);
        assert_eq!(lab.path(Role::Target, Family::V4).len(), 2);
        assert!(lab.split.is_none());
    }

    #[test]
    fn specs_out_of_range_are_refused() {
        for spec in [
            LabSpec {
                routers: 0,
                ..LabSpec::default()
            },
            LabSpec {
                routers: 17,
                ..LabSpec::default()
            },
            LabSpec {
                ecmp_branches: 7,
                ..LabSpec::default()
            },
        ] {
            assert!(Lab::planned(spec).is_err());
        }
        // The largest lab still fits 32 /29 link subnets and 1-byte link numbers.
        let lab = Lab::planned(LabSpec {
            routers: 16,
            ecmp_branches: 6,
            ..LabSpec::default()
        })
        .unwrap();
        assert_eq!(lab.path(Role::Target, Family::V4).len(), 18);
    }

    #[test]
    fn helpers() {
        assert_eq!(anyip_addr(Family::V4, 0), v4("198.18.0.1"));
        assert_eq!(anyip_addr(Family::V4, 65535), v4("198.19.0.0"));
        assert_eq!(anyip_addr(Family::V6, 0x10000), v4("2001:db8:100::1:1"));
        assert_eq!(owner_pid("scrs-123x4-vp"), Some(123));
        assert_eq!(owner_pid("scrs-probe-a"), None);
        assert_eq!(owner_pid("other-123x4-vp"), None);
        let dev = "Inter-|   Receive ...\n face |bytes ...\n  e-r1: 100 7 0 0 0 0 0 0 200 9 0 0 0 0 0 0\n";
        assert_eq!(
            parse_net_dev(dev),
            vec![IfStats {
                name: "e-r1".into(),
                rx_packets: 7,
                tx_packets: 9
            }]
        );
    }
}
