//! `scrs-bench`: side-by-side benchmark of scamper-rs and Debian's scamper on the namespace lab.
//!
//! ```text
//! scrs-bench ping [--targets N] [--pps 1000,10000,...] [--runs R] [--impls rs,debian]
//!                 [--out FILE] [--profile] [--profile-only] [--keep]
//! scrs-bench trace [--targets N] [--pps P] [--runs R] [--impls rs,debian] [--routers K]
//!                  [--command 'trace -q 1 -w 1'] [--out FILE] [--keep]
//! scrs-bench measure --timeout-ms T --stderr FILE -- PROG ARGS...   (internal)
//! ```
//!
//! `ping` builds one small lab, writes the AnyIP targets to a file and, for each rate and each
//! implementation, runs `scamper -c 'ping -c 1' -p <pps> -O warts -o <file> -f <targets>` in the
//! vp namespace under the `measure` wrapper, which reports wall time and the rusage of the whole
//! process tree (user+sys CPU, the largest max RSS of any process in it). Replies and the achieved
//! rate come from the warts output through `sc_warts2json`. This is a benchmark that prints a
//! table, not a timed test: it never fails on numbers.
//!
//! `trace` does the same with one traceroute per target on a lab of K routers in a row
//! (`vp – r1 – … – rK – tgt`), counting traces, probes and replies from the warts output.
#![forbid(unsafe_code)]

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use scamper_systests::{
    anyip_addr, run_with_timeout, try_tool_bin, workspace_root, Family, Lab, LabSpec, Role,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: scrs-bench ping [--targets N] [--pps LIST] [--runs R] \
[--impls rs,debian] [--rs-bin PATH] [--debian-bin PATH] [--warts2json PATH] [--out FILE] \
[--workdir DIR] [--profile] [--profile-only] [--profile-pps N] [--offload-lab] [--keep]
       scrs-bench trace [--targets N] [--pps P] [--runs R] [--impls rs,debian] [--routers K] \
[--command CMD] [--offload-lab] [--profile] [--rs-bin PATH] [--debian-bin PATH] [--warts2json PATH] [--out FILE] \
[--workdir DIR] [--keep]";

/// Markers around the generated parts of the results file, so that hand-written notes around
/// them survive a re-run.
const TABLE_BEGIN: &str = "<!-- scrs-bench:ping-table:begin -->";
const TABLE_END: &str = "<!-- scrs-bench:ping-table:end -->";
const PROFILE_BEGIN: &str = "<!-- scrs-bench:ping-profile:begin -->";
const PROFILE_END: &str = "<!-- scrs-bench:ping-profile:end -->";
/// The --offload-lab ping table and profile have their own places, beside the raw ones.
const OFFLOAD_TABLE_BEGIN: &str = "<!-- scrs-bench:ping-offload-table:begin -->";
const OFFLOAD_TABLE_END: &str = "<!-- scrs-bench:ping-offload-table:end -->";
const OFFLOAD_PROFILE_BEGIN: &str = "<!-- scrs-bench:ping-offload-profile:begin -->";
const OFFLOAD_PROFILE_END: &str = "<!-- scrs-bench:ping-offload-profile:end -->";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("measure") => measure(&args[1..]),
        Some("ping") => Config::parse(&args[1..]).and_then(|c| ping_bench(&c)),
        Some("trace") => TraceConfig::parse(&args[1..]).and_then(|c| trace_bench(&c)),
        _ => Err(USAGE.to_string()),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scrs-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The `measure` wrapper: runs inside the vp namespace, so that nothing but the measured process
// tree is a child of it.

/// One measured run, as the wrapper reports it on one line of stdout.
#[derive(Clone, Debug, Default)]
struct Usage {
    wall: Duration,
    cpu: Duration,
    /// The user part of `cpu`. In this lab the kernel forwards and answers probes inline in the
    /// sender's system calls (veth), so system time includes the lab's routers; user time
    /// does not. Zero if the wrapper did not say.
    user: Duration,
    max_rss_kib: u64,
    /// Exit code of the main process, or 128+signal.
    status: i32,
    timed_out: bool,
}

fn measure(args: &[String]) -> Result<(), String> {
    let mut timeout = Duration::from_secs(600);
    let mut stderr_path: Option<PathBuf> = None;
    let mut i = 0;
    while i < args.len() && args[i] != "--" {
        let val = args.get(i + 1).ok_or("measure: missing value")?;
        match args[i].as_str() {
            "--timeout-ms" => {
                timeout = Duration::from_millis(val.parse().map_err(|e| format!("{val}: {e}"))?)
            }
            "--stderr" => stderr_path = Some(PathBuf::from(val)),
            o => return Err(format!("measure: unknown option {o}")),
        }
        i += 2;
    }
    let cmd = args
        .get(i + 1..)
        .filter(|c| !c.is_empty())
        .ok_or("measure: no command")?;

    // Orphans of the measured tree (e.g. a privilege-separation child that its parent never
    // waits for) are re-parented to us, so their CPU time is counted too and nothing outlives us.
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| format!("subreaper: {e}"))?;
    let stderr = match &stderr_path {
        Some(p) => Stdio::from(fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => Stdio::inherit(),
    };
    let start = Instant::now();
    let child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", cmd[0]))?;
    let main_pid = Pid::from_raw(child.id() as i32);
    // We reap with waitpid(-1) below, which std's Child must not race with; dropping the handle
    // neither kills nor waits.
    drop(child);

    let deadline = start + timeout;
    // After the main process is gone, stragglers get this long before they are killed.
    let linger = Duration::from_secs(10);
    let mut main_end: Option<(Instant, i32)> = None;
    let mut killed_at: Option<Instant> = None;
    // Bounded: after the deadline everything is SIGKILLed, and we stop waiting 10 s later.
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => thread::sleep(Duration::from_millis(1)),
            Ok(WaitStatus::Exited(pid, code)) if pid == main_pid => {
                main_end = Some((Instant::now(), code))
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main_pid => {
                main_end = Some((Instant::now(), 128 + sig as i32))
            }
            Ok(_) => {}
            Err(nix::errno::Errno::ECHILD) => break,
            Err(e) => return Err(format!("waitpid: {e}")),
        }
        let now = Instant::now();
        let overdue = now >= deadline || main_end.is_some_and(|(t, _)| now >= t + linger);
        if overdue && killed_at.is_none() {
            for pid in own_children() {
                let _ = kill(pid, Signal::SIGKILL);
            }
            killed_at = Some(now);
        }
        if killed_at.is_some_and(|t| now >= t + Duration::from_secs(10)) {
            return Err("measured processes did not die after SIGKILL".into());
        }
    }
    let (end, status) = main_end.unwrap_or((Instant::now(), -1));
    let ru = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(|e| format!("getrusage: {e}"))?;
    let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    println!(
        "wall_us={} cpu_us={} user_us={} maxrss_kib={} status={} timed_out={}",
        (end - start).as_micros(),
        tv(ru.user_time()) + tv(ru.system_time()),
        tv(ru.user_time()),
        ru.max_rss(),
        status,
        u8::from(killed_at.is_some() && end >= deadline),
    );
    Ok(())
}

/// PIDs whose parent is this process (read from /proc). They cannot be recycled while we have
/// not reaped them, so signalling them by PID is safe.
fn own_children() -> Vec<Pid> {
    let me = std::process::id().to_string();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PPid:"))
                    .is_some_and(|p| p.trim() == me)
            })
        })
        .map(Pid::from_raw)
        .collect()
}

fn parse_usage(line: &str) -> Option<Usage> {
    let kv: BTreeMap<&str, &str> = line
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect();
    let n = |k: &str| kv.get(k)?.parse::<i64>().ok();
    Some(Usage {
        wall: Duration::from_micros(n("wall_us")? as u64),
        cpu: Duration::from_micros(n("cpu_us")? as u64),
        user: Duration::from_micros(n("user_us").unwrap_or(0) as u64),
        max_rss_kib: n("maxrss_kib")? as u64,
        status: n("status")? as i32,
        timed_out: n("timed_out")? != 0,
    })
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Impl {
    Rs,
    Debian,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Rs => "scamper-rs",
            Impl::Debian => "Debian scamper 20211212",
        }
    }
}

/// What the ping and trace benchmarks share: workload size, runs, the programs compared, where
/// the results go.
struct Common {
    targets: u32,
    runs: u32,
    impls: Vec<Impl>,
    rs_bin: PathBuf,
    debian_bin: PathBuf,
    warts2json: Vec<PathBuf>,
    out: PathBuf,
    workdir: PathBuf,
    keep: bool,
    /// Pin the measured tree to CPU 0 and steer r1's receive processing (RPS) to CPU 1, so
    /// that the lab's forwarding and ICMP generation is not charged to the sender's sendto
    /// (see [`offload_lab`]).
    offload_lab: bool,
}

/// A number of an option; `_` may group digits.
fn num(v: &str) -> Result<u32, String> {
    v.replace('_', "")
        .parse::<u32>()
        .map_err(|e| format!("{v}: {e}"))
}

impl Common {
    /// Defaults: `targets` AnyIP targets, results into `bench/<results>`, a work directory
    /// named after `workdir_tag`.
    fn new(targets: u32, results: &str, workdir_tag: &str) -> Common {
        let rs_tools = |name: &str| try_tool_bin(name).unwrap_or_else(|_| PathBuf::from(name));
        Common {
            targets,
            runs: 3,
            impls: vec![Impl::Rs, Impl::Debian],
            rs_bin: rs_tools("scamper"),
            debian_bin: PathBuf::from("/usr/bin/scamper"),
            // Debian's converter is the reference reader for both outputs; ours is the fallback.
            warts2json: vec![
                PathBuf::from("/usr/bin/sc_warts2json"),
                rs_tools("sc_warts2json"),
            ],
            out: workspace_root().join("bench").join(results),
            workdir: std::env::temp_dir()
                .join(format!("scrs-bench{workdir_tag}-{}", std::process::id())),
            keep: false,
            offload_lab: false,
        }
    }

    /// Take option `a` if it is a shared one (its value from `val`); false if it is not.
    fn option(
        &mut self,
        a: &str,
        val: &mut dyn FnMut() -> Result<String, String>,
    ) -> Result<bool, String> {
        match a {
            "--targets" => self.targets = num(&val()?)?,
            "--runs" => self.runs = num(&val()?)?.max(1),
            "--impls" => {
                self.impls = val()?
                    .split(',')
                    .map(|s| match s {
                        "rs" => Ok(Impl::Rs),
                        "debian" => Ok(Impl::Debian),
                        o => Err(format!("unknown implementation {o} (rs, debian)")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--rs-bin" => self.rs_bin = val()?.into(),
            "--debian-bin" => self.debian_bin = val()?.into(),
            "--warts2json" => self.warts2json = vec![val()?.into()],
            "--out" => self.out = val()?.into(),
            "--workdir" => self.workdir = val()?.into(),
            "--keep" => self.keep = true,
            "--offload-lab" => self.offload_lab = true,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn check(&self) -> Result<(), String> {
        if self.targets == 0 || self.targets >= (1 << 17) - 2 {
            return Err("--targets must be 1..131069 (the IPv4 AnyIP prefix)".into());
        }
        Ok(())
    }

    fn bin(&self, i: Impl) -> &Path {
        match i {
            Impl::Rs => &self.rs_bin,
            Impl::Debian => &self.debian_bin,
        }
    }
}

struct Config {
    common: Common,
    pps: Vec<u32>,
    profile: bool,
    profile_only: bool,
    profile_pps: u32,
}

impl Config {
    fn parse(args: &[String]) -> Result<Config, String> {
        let mut c = Config {
            common: Common::new(50_000, "results-ping.md", ""),
            pps: vec![1_000, 10_000, 50_000, 100_000],
            profile: false,
            profile_only: false,
            profile_pps: 10_000,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || it.next().cloned().ok_or(format!("{a}: missing value"));
            if c.common.option(a, &mut val)? {
                continue;
            }
            match a.as_str() {
                "--pps" => {
                    c.pps = val()?.split(',').map(num).collect::<Result<_, _>>()?;
                }
                "--profile" => c.profile = true,
                "--profile-only" => {
                    c.profile = true;
                    c.profile_only = true;
                }
                "--profile-pps" => c.profile_pps = num(&val()?)?,
                "-h" | "--help" => return Err(USAGE.into()),
                o => return Err(format!("unknown option {o}\n{USAGE}")),
            }
        }
        c.common.check()?;
        Ok(c)
    }
}

// ---------------------------------------------------------------------------------------------
// The ping benchmark

/// Result of one run of one implementation at one rate.
#[derive(Clone, Debug)]
enum Outcome {
    /// The program refused the options (first line of its complaint).
    Refused(String),
    Done(RunResult),
}

#[derive(Clone, Debug)]
struct RunResult {
    usage: Usage,
    probes: u64,
    replies: u64,
    /// (probes - 1) / (last tx - first tx).
    achieved_pps: f64,
    note: String,
}

/// What every workload needs first: root, the binaries under test, the work directory and the
/// targets file (the first `count` AnyIP addresses). Returns this program's path (for the
/// `measure` wrapper) and the targets file.
fn prepare(
    bins: &[(&Path, &str)],
    workdir: &Path,
    count: u32,
) -> Result<(PathBuf, PathBuf), String> {
    if !Lab::require_root() {
        return Err("needs root (network namespaces, raw sockets)".into());
    }
    for (bin, name) in bins {
        if !bin.is_file() {
            return Err(format!("{} not found ({name})", bin.display()));
        }
    }
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    fs::create_dir_all(workdir).map_err(|e| format!("{}: {e}", workdir.display()))?;
    let targets = workdir.join("targets.txt");
    let mut text = String::with_capacity(count as usize * 14);
    for n in 0..count {
        let _ = writeln!(text, "{}", anyip_addr(Family::V4, n));
    }
    fs::write(&targets, text).map_err(|e| format!("{}: {e}", targets.display()))?;
    Ok((me, targets))
}

fn ping_bench(c: &Config) -> Result<(), String> {
    let bins: Vec<_> = c
        .common
        .impls
        .iter()
        .map(|i| (c.common.bin(*i), i.name()))
        .collect();
    let (me, targets) = prepare(&bins, &c.common.workdir, c.common.targets)?;

    // Smallest lab that puts a router between vp and the AnyIP target: vp - r1 - tgt.
    let lab = Lab::build(LabSpec {
        routers: 1,
        ecmp_branches: 0,
        delay: None,
        tcp_listener: false,
    })
    .map_err(|e| format!("lab: {e}"))?;
    if c.common.offload_lab {
        offload_lab(&lab)?;
    }
    eprintln!(
        "lab {} built; {} targets, rates {:?}, {} run(s) each",
        lab.id(),
        c.common.targets,
        c.pps,
        c.common.runs
    );

    let mut results: BTreeMap<(u32, Impl), Vec<Outcome>> = BTreeMap::new();
    if !c.profile_only {
        for run in 0..c.common.runs {
            for &pps in &c.pps {
                // Alternate who goes first, so that slow drift of the shared machine does not
                // always favour the same implementation.
                let mut order = c.common.impls.clone();
                if run % 2 == 1 {
                    order.reverse();
                }
                for imp in order {
                    let prior = results.entry((pps, imp)).or_default();
                    // A refusal is deterministic: no point asking again.
                    if prior.iter().any(|o| matches!(o, Outcome::Refused(_))) {
                        continue;
                    }
                    let tag = format!("{}-{pps}-{run}", short(imp));
                    let o = run_one(c, &lab, &me, imp, pps, &targets, &tag)?;
                    eprintln!(
                        "run {}/{} {:>6} pps {:<24} {}",
                        run + 1,
                        c.common.runs,
                        pps,
                        imp.name(),
                        describe(&o)
                    );
                    results.entry((pps, imp)).or_default().push(o);
                }
            }
        }
        let table = render_table(c, &results);
        println!("{table}");
        let (begin, end) = if c.common.offload_lab {
            (OFFLOAD_TABLE_BEGIN, OFFLOAD_TABLE_END)
        } else {
            (TABLE_BEGIN, TABLE_END)
        };
        update_section(&c.common.out, begin, end, &table)?;
        eprintln!("table written to {}", c.common.out.display());
    }
    if c.profile {
        let prof = profile(c, &lab, &targets)?;
        println!("{prof}");
        let (begin, end) = if c.common.offload_lab {
            (OFFLOAD_PROFILE_BEGIN, OFFLOAD_PROFILE_END)
        } else {
            (PROFILE_BEGIN, PROFILE_END)
        };
        update_section(&c.common.out, begin, end, &prof)?;
    }
    drop(lab);
    if !c.common.keep {
        let _ = fs::remove_dir_all(&c.common.workdir);
    }
    Ok(())
}

fn short(i: Impl) -> &'static str {
    match i {
        Impl::Rs => "rs",
        Impl::Debian => "debian",
    }
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Refused(why) => format!("refused: {why}"),
        Outcome::Done(r) => format!(
            "wall {:.2} s, cpu {:.3} s, rss {:.1} MiB, {}/{} replies, {:.0} pps{}",
            r.usage.wall.as_secs_f64(),
            r.usage.cpu.as_secs_f64(),
            r.usage.max_rss_kib as f64 / 1024.0,
            r.replies,
            r.probes,
            r.achieved_pps,
            if r.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.note)
            }
        ),
    }
}

/// Generous limit: three times the nominal duration plus a minute.
fn time_limit(targets: u32, pps: u32) -> Duration {
    Duration::from_secs_f64(3.0 * targets as f64 / pps.max(1) as f64 + 60.0)
}

fn scamper_args(pps: u32, out: &Path, targets: &Path) -> Vec<String> {
    vec![
        "-c".into(),
        "ping -c 1".into(),
        "-p".into(),
        pps.to_string(),
        "-O".into(),
        "warts".into(),
        "-o".into(),
        out.display().to_string(),
        "-f".into(),
        targets.display().to_string(),
    ]
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    c: &Config,
    lab: &Lab,
    me: &Path,
    imp: Impl,
    pps: u32,
    targets: &Path,
    tag: &str,
) -> Result<Outcome, String> {
    let warts = c.common.workdir.join(format!("{tag}.warts"));
    let errf = c.common.workdir.join(format!("{tag}.stderr"));
    let _ = fs::remove_file(&warts);
    let limit = time_limit(c.common.targets, pps);
    let mut cmd = vp_command(lab, me, c.common.offload_lab);
    cmd.arg("measure")
        .args(["--timeout-ms", &limit.as_millis().to_string()])
        .arg("--stderr")
        .arg(&errf)
        .arg("--")
        .arg(c.common.bin(imp))
        .args(scamper_args(pps, &warts, targets))
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let child = lab.spawn(cmd).map_err(|e| e.to_string())?;
    let mut stdout = child.take_stdout().ok_or("no stdout")?;
    // The wrapper kills the measured tree at `limit`; this outer bound only catches a stuck
    // wrapper (the handle's drop kills it by PID).
    let status = child
        .wait_timeout(limit + Duration::from_secs(30))
        .map_err(|e| format!("wait: {e}"))?;
    if status.is_none() {
        return Err(format!("{tag}: measure wrapper did not finish"));
    }
    let mut line = String::new();
    let _ = stdout.read_to_string(&mut line);
    let usage = parse_usage(line.trim()).ok_or(format!("{tag}: measure said {line:?}"))?;
    let stderr_text = fs::read_to_string(&errf).unwrap_or_default();
    // The line that names -p explains a refused rate best (Debian's usage text lists the
    // accepted range there); otherwise the first line.
    let first_err = stderr_text
        .lines()
        .find(|l| {
            (l.contains("-p ") || l.contains("pps")) && l.contains(|c: char| c.is_ascii_digit())
        })
        .or_else(|| stderr_text.lines().next())
        .unwrap_or("")
        .trim()
        .to_string();
    if usage.status != 0 && !warts.exists() {
        return Ok(Outcome::Refused(format!(
            "exit {}: {first_err}",
            usage.status
        )));
    }
    let stats = read_pings(c, &warts)?;
    let mut note = String::new();
    if usage.timed_out {
        note.push_str("killed at time limit; ");
    }
    if usage.status != 0 {
        let _ = write!(note, "exit status {}: {first_err}; ", usage.status);
    }
    let achieved = if stats.probes > 1 && stats.last_tx_us > stats.first_tx_us {
        (stats.probes - 1) as f64 / ((stats.last_tx_us - stats.first_tx_us) as f64 / 1e6)
    } else {
        f64::NAN
    };
    Ok(Outcome::Done(RunResult {
        usage,
        probes: stats.probes,
        replies: stats.replies,
        achieved_pps: achieved,
        note: note.trim_end_matches("; ").to_string(),
    }))
}

#[derive(Default, Debug)]
struct PingStats {
    probes: u64,
    replies: u64,
    first_tx_us: i64,
    last_tx_us: i64,
}

/// Counts probes and replies and finds the first and last probe tx time in a warts file.
fn read_pings(c: &Config, warts: &Path) -> Result<PingStats, String> {
    let mut last_err = String::from("no sc_warts2json found");
    for conv in c.common.warts2json.iter().filter(|p| p.is_file()) {
        let mut cmd = Command::new(conv);
        cmd.arg(warts).stdin(Stdio::null());
        let out = run_with_timeout(cmd, Duration::from_secs(300)).map_err(|e| e.to_string())?;
        if !out.status.success() {
            last_err = format!(
                "{} {}: {}",
                conv.display(),
                warts.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            continue;
        }
        return ping_stats(&String::from_utf8_lossy(&out.stdout));
    }
    Err(last_err)
}

fn ping_stats(json_lines: &str) -> Result<PingStats, String> {
    let mut s = PingStats {
        first_tx_us: i64::MAX,
        last_tx_us: i64::MIN,
        ..Default::default()
    };
    for (n, line) in json_lines.lines().enumerate() {
        // Cheap pre-filter: only ping records matter, and parsing every line costs seconds.
        if !line.contains("\"ping\"") {
            continue;
        }
        let v = json::parse(line).map_err(|e| format!("sc_warts2json line {}: {e}", n + 1))?;
        if v.get("type").and_then(json::Value::as_str) != Some("ping") {
            continue;
        }
        let sent = v
            .get("ping_sent")
            .and_then(json::Value::as_f64)
            .unwrap_or(0.0) as u64;
        s.probes += sent;
        let responses = v
            .get("responses")
            .and_then(json::Value::as_array)
            .unwrap_or(&[]);
        s.replies += responses.len() as u64;
        // The probe's own tx time when it was answered; the task's start time otherwise (with
        // -c 1 the only probe goes out when the task starts).
        let mut txs: Vec<i64> = responses
            .iter()
            .filter_map(|r| r.get("tx").and_then(timeval))
            .collect();
        if txs.is_empty() && sent > 0 {
            txs.extend(v.get("start").and_then(timeval));
        }
        for t in txs {
            s.first_tx_us = s.first_tx_us.min(t);
            s.last_tx_us = s.last_tx_us.max(t);
        }
    }
    Ok(s)
}

fn timeval(v: &json::Value) -> Option<i64> {
    let sec = v.get("sec")?.as_f64()? as i64;
    let usec = v.get("usec")?.as_f64()? as i64;
    Some(sec * 1_000_000 + usec)
}

// ---------------------------------------------------------------------------------------------
// Tables

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn fmt_range(v: &[f64], prec: usize) -> String {
    let m = median(v.to_vec());
    if v.len() < 2 {
        return format!("{m:.prec$}");
    }
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{m:.prec$} ({lo:.prec$}–{hi:.prec$})")
}

fn render_table(c: &Config, results: &BTreeMap<(u32, Impl), Vec<Outcome>>) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "One `ping -c 1` to each of {} AnyIP targets (198.18.0.0/15, lab vp – r1 – tgt), \
         `-O warts`; median of {} run(s) (min–max in brackets), 2 shared cores, so expect noise. \
         CPU = user+sys of the whole process tree (both implementations fork a privileged \
         helper); max RSS = the largest single process. Achieved pps = (probes − 1) / (last tx − \
         first tx) from the warts output.{}\n",
        c.common.targets,
        c.common.runs,
        if c.common.offload_lab {
            OFFLOAD_NOTE
        } else {
            ""
        }
    );
    let _ = writeln!(
        t,
        "| -p (pps) | implementation | wall s | CPU s | max RSS MiB | replies | achieved pps | vs -p |"
    );
    let _ = writeln!(t, "|---:|---|---:|---:|---:|---:|---:|---:|");
    for &pps in &c.pps {
        for &imp in &c.common.impls {
            let Some(runs) = results.get(&(pps, imp)) else {
                continue;
            };
            if let Some(Outcome::Refused(why)) =
                runs.iter().find(|o| matches!(o, Outcome::Refused(_)))
            {
                let _ = writeln!(
                    t,
                    "| {pps} | {} | – | – | – | – | refused: `{}` | – |",
                    imp.name(),
                    why.replace('|', "\\|")
                );
                continue;
            }
            let done: Vec<&RunResult> = runs
                .iter()
                .filter_map(|o| match o {
                    Outcome::Done(r) => Some(r),
                    Outcome::Refused(_) => None,
                })
                .collect();
            if done.is_empty() {
                continue;
            }
            let col =
                |f: &dyn Fn(&RunResult) -> f64| done.iter().map(|r| f(r)).collect::<Vec<f64>>();
            let ach = median(col(&|r| r.achieved_pps));
            let replies = median(col(&|r| r.replies as f64));
            let probes = median(col(&|r| r.probes as f64));
            let notes: Vec<&str> = done
                .iter()
                .map(|r| r.note.as_str())
                .filter(|n| !n.is_empty())
                .collect();
            let _ = writeln!(
                t,
                "| {pps} | {} | {} | {} | {} | {replies:.0} / {probes:.0} | {ach:.0} | {:+.2} %{} |",
                imp.name(),
                fmt_range(&col(&|r| r.usage.wall.as_secs_f64()), 2),
                fmt_range(&col(&|r| r.usage.cpu.as_secs_f64()), 3),
                fmt_range(&col(&|r| r.usage.max_rss_kib as f64 / 1024.0), 1),
                (ach / pps as f64 - 1.0) * 100.0,
                if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) },
            );
        }
    }
    t
}

/// Replaces the text between `begin` and `end` in `path` (appending both markers if missing),
/// leaving everything else in the file alone.
fn update_section(path: &Path, begin: &str, end: &str, body: &str) -> Result<(), String> {
    let old = fs::read_to_string(path).unwrap_or_default();
    let block = format!("{begin}\n{}\n{end}", body.trim_end());
    let new = match (old.find(begin), old.find(end)) {
        (Some(b), Some(e)) if e > b => format!("{}{block}{}", &old[..b], &old[e + end.len()..]),
        _ if old.is_empty() => format!("# Ping benchmark results\n\n{block}\n"),
        _ => format!("{}\n\n{block}\n", old.trim_end()),
    };
    let mut f = fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(new.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Profiling our binary at one rate: perf (software cpu-clock; VMs often lack hardware
// counters) and strace's syscall summary, both against Debian's for comparison.

fn profile(c: &Config, lab: &Lab, targets: &Path) -> Result<String, String> {
    let pps = c.profile_pps;
    let limit = time_limit(c.common.targets, pps);
    let mut report = String::new();
    let _ = writeln!(
        report,
        "### Profile at -p {pps}, {} targets{} (generated by `scrs-bench ping --profile`)\n",
        c.common.targets,
        if c.common.offload_lab {
            ", with `--offload-lab`"
        } else {
            ""
        }
    );
    let Ok(perf) = which("perf") else {
        let _ = writeln!(
            report,
            "perf not installed (`apt-get install linux-perf`): no profile."
        );
        return Ok(report);
    };
    // perf record: scamper-rs only (symbols come from the release build's debug line tables).
    let data = c.common.workdir.join("perf.data");
    let warts = c.common.workdir.join("profile-rs.warts");
    let mut cmd = vp_command(lab, &perf, c.common.offload_lab);
    cmd.args(["record", "-q", "-F", "4999", "-g", "-o"])
        .arg(&data)
        .arg("--")
        .arg(&c.common.rs_bin)
        .args(scamper_args(pps, &warts, targets))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    run_bounded(lab, cmd, limit)?;
    // Self time per function, then inclusive time of the system calls (where kernel time goes).
    let views: [(&str, &[&str], &str, usize); 2] = [
        (
            "self time per function, entries >= 1 %",
            &[
                "--no-children",
                "--percent-limit",
                "1",
                "--sort",
                "comm,dso,symbol",
            ],
            "",
            30,
        ),
        (
            "inclusive time per system call",
            &["--children", "--sort", "symbol"],
            "__x64_sys_",
            12,
        ),
    ];
    for (title, args, keep, max) in views {
        let mut rep = Command::new(&perf);
        rep.args(["report", "--stdio", "-g", "none", "-i"])
            .arg(&data)
            .args(args)
            .stdin(Stdio::null());
        let out = run_with_timeout(rep, Duration::from_secs(300)).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        let samples = text
            .lines()
            .find(|l| l.starts_with("# Samples"))
            .unwrap_or("");
        let _ = writeln!(
            report,
            "scamper-rs, `perf record -F 4999 -g`, {title} ({}):\n\n```text",
            samples.trim_start_matches("# ").trim()
        );
        let rows = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && l.contains(keep));
        for l in rows.take(max) {
            // perf pads every row to the terminal width and appends empty columns.
            let _ = writeln!(report, "{}", l.trim_end().trim_end_matches(['-', ' ']));
        }
        let _ = writeln!(report, "```\n");
    }

    // Syscall counts of each implementation (strace slows the run, so no timing from these).
    if let Ok(strace) = which("strace") {
        for &imp in &c.common.impls {
            let sum = c.common.workdir.join(format!("strace-{}.txt", short(imp)));
            let warts = c
                .common
                .workdir
                .join(format!("strace-{}.warts", short(imp)));
            let mut cmd = vp_command(lab, &strace, c.common.offload_lab);
            cmd.args(["-f", "-c", "-o"])
                .arg(&sum)
                .arg("--")
                .arg(c.common.bin(imp))
                .args(scamper_args(pps, &warts, targets))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            run_bounded(lab, cmd, limit * 2)?;
            let text = fs::read_to_string(&sum).unwrap_or_default();
            // strace slows the program down, which can cost replies: say how many arrived, so
            // that receive-side counts are read with that in mind.
            let got = read_pings(c, &warts)
                .map(|p| format!("{}/{} replies under strace", p.replies, p.probes))
                .unwrap_or_else(|e| e);
            let _ = writeln!(
                report,
                "{}, `strace -f -c` (top 12 by calls; {got}):\n\n```text",
                imp.name()
            );
            let mut rows: Vec<(u64, &str)> = text
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    // Rows are: % time, seconds, usecs/call, calls, [errors], syscall.
                    let calls = f.get(3)?.parse::<u64>().ok()?;
                    (f.last()? != &"total").then_some((calls, l))
                })
                .collect();
            rows.sort_by_key(|r| std::cmp::Reverse(r.0));
            for l in text.lines().take(2) {
                let _ = writeln!(report, "{l}");
            }
            for (_, l) in rows.iter().take(12) {
                let _ = writeln!(report, "{l}");
            }
            if let Some(t) = text.lines().find(|l| l.trim_end().ends_with("total")) {
                let _ = writeln!(report, "{t}");
            }
            let _ = writeln!(report, "```\n");
        }
    }
    Ok(report)
}

/// veth hands a sent packet to the peer's receive path in the sender's context, so without this
/// every router hop and ICMP reply of the lab is system time of the measured scamper. RPS on
/// r1's interface towards vp moves that work to CPU 1's backlog (the way back inherits it: r1
/// answers from there), and [`vp_command`] pins the measured tree to CPU 0.
fn offload_lab(lab: &Lab) -> Result<(), String> {
    let ifname = lab.ifname_towards(Role::Router(1), Role::Vp);
    let path = format!("/sys/class/net/{ifname}/queues/rx-0/rps_cpus");
    let out = lab
        .exec(Role::Router(1), &["sh", "-c", &format!("echo 2 > {path}")])
        .map_err(|e| format!("rps: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rps on r1 {ifname}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Table note for runs with --offload-lab.
const OFFLOAD_NOTE: &str = " With `--offload-lab`: the measured tree pinned to CPU 0 \
(`taskset -c 0`), r1's receive processing steered to CPU 1 (RPS), so the lab's forwarding is \
mostly not charged to scamper.";

/// A command in the vp namespace; with `offload`, pinned to CPU 0 (see [`offload_lab`]).
fn vp_command(lab: &Lab, program: impl AsRef<std::ffi::OsStr>, offload: bool) -> Command {
    if offload {
        let mut cmd = lab.command(Role::Vp, "taskset");
        cmd.args(["-c", "0"]).arg(program);
        cmd
    } else {
        lab.command(Role::Vp, program)
    }
}

fn run_bounded(lab: &Lab, cmd: Command, limit: Duration) -> Result<(), String> {
    let child = lab.spawn(cmd).map_err(|e| e.to_string())?;
    match child.wait_timeout(limit).map_err(|e| e.to_string())? {
        Some(_) => Ok(()),
        None => {
            child.kill();
            Err(format!("profiling run exceeded {limit:?}"))
        }
    }
}

fn which(name: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{name} not found"))
}

// ---------------------------------------------------------------------------------------------
// The trace benchmark: one traceroute per AnyIP target, several routers deep. Kept apart from
// the ping code (rather than generalising it) so that the ping workload runs exactly as before.

const TRACE_TABLE_BEGIN: &str = "<!-- scrs-bench:trace-table:begin -->";
const TRACE_TABLE_END: &str = "<!-- scrs-bench:trace-table:end -->";
/// The --offload-lab table has its own place, so that both can stand side by side.
const TRACE_OFFLOAD_BEGIN: &str = "<!-- scrs-bench:trace-offload-table:begin -->";
const TRACE_OFFLOAD_END: &str = "<!-- scrs-bench:trace-offload-table:end -->";

struct TraceConfig {
    common: Common,
    pps: u32,
    routers: u8,
    /// The `-c` command, identical for both implementations.
    command: String,
    /// After the timed runs, also run `strace -f -c` of each implementation and `perf record`
    /// of ours; the raw files stay in the workdir (implies --keep).
    profile: bool,
}

impl TraceConfig {
    fn parse(args: &[String]) -> Result<TraceConfig, String> {
        let mut c = TraceConfig {
            common: Common::new(2_000, "results-trace.md", "-trace"),
            pps: 5_000,
            routers: 3,
            // One attempt per hop and a 1 s reply timeout: the lab answers every probe within a
            // millisecond, so the defaults (-q 2 -w 5) would only change the unanswered tail.
            command: "trace -q 1 -w 1".into(),
            profile: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || it.next().cloned().ok_or(format!("{a}: missing value"));
            if c.common.option(a, &mut val)? {
                continue;
            }
            match a.as_str() {
                "--pps" => c.pps = num(&val()?)?,
                "--routers" => {
                    c.routers = num(&val()?)?
                        .try_into()
                        .ok()
                        .filter(|r| (1..=16).contains(r))
                        .ok_or("--routers must be 1..16")?
                }
                "--command" => c.command = val()?,
                "--profile" => {
                    c.profile = true;
                    c.common.keep = true;
                }
                "-h" | "--help" => return Err(USAGE.into()),
                o => return Err(format!("unknown option {o}\n{USAGE}")),
            }
        }
        c.common.check()?;
        if c.pps == 0 {
            return Err("--pps must be at least 1".into());
        }
        Ok(c)
    }
}

/// What the warts output of one trace run says.
#[derive(Clone, Debug, Default, PartialEq)]
struct TraceStats {
    traces: u64,
    /// Sum of `probe_count`.
    probes: u64,
    /// Hop objects, i.e. replies.
    replies: u64,
    /// Traces per stop reason.
    stop: BTreeMap<String, u64>,
    first_tx_us: i64,
    last_tx_us: i64,
    /// Trace start times, to see how starts are spread over the run.
    last_start_us: i64,
    /// Per trace: last reply's tx + rtt − start, the time the trace spent probing.
    durations_us: Vec<i64>,
}

#[derive(Clone, Debug)]
struct TraceRun {
    usage: Usage,
    stats: TraceStats,
    /// Wall-clock time the run was started (µs since the epoch), to relate the probe times in
    /// the output to the process lifetime.
    started_us: i64,
    note: String,
}

impl TraceRun {
    fn achieved_pps(&self) -> f64 {
        let s = &self.stats;
        if s.probes > 1 && s.last_tx_us > s.first_tx_us {
            (s.probes - 1) as f64 / ((s.last_tx_us - s.first_tx_us) as f64 / 1e6)
        } else {
            f64::NAN
        }
    }
    /// Seconds from the start of the run to the first probe, and from the last probe to the
    /// exit of the process: time not spent probing.
    fn head_tail(&self) -> (f64, f64) {
        let s = &self.stats;
        let head = (s.first_tx_us - self.started_us) as f64 / 1e6;
        let tail = self.usage.wall.as_secs_f64() - (s.last_tx_us - self.started_us) as f64 / 1e6;
        (head, tail)
    }
}

fn trace_bench(c: &TraceConfig) -> Result<(), String> {
    let bins: Vec<_> = c
        .common
        .impls
        .iter()
        .map(|i| (c.common.bin(*i), i.name()))
        .collect();
    let (me, targets) = prepare(&bins, &c.common.workdir, c.common.targets)?;

    // Routers in a row and no ECMP split, so every trace has the same K + 1 hops.
    let lab = Lab::build(LabSpec {
        routers: c.routers,
        ecmp_branches: 0,
        delay: None,
        tcp_listener: false,
    })
    .map_err(|e| format!("lab: {e}"))?;
    if c.common.offload_lab {
        offload_lab(&lab)?;
    }
    eprintln!(
        "lab {} built ({} routers); {} targets, -p {}, -c '{}', {} run(s) each",
        lab.id(),
        c.routers,
        c.common.targets,
        c.pps,
        c.command,
        c.common.runs
    );

    let mut results: BTreeMap<Impl, Vec<Result<TraceRun, String>>> = BTreeMap::new();
    for run in 0..c.common.runs {
        let mut order = c.common.impls.clone();
        // Alternate who goes first (slow drift of the shared machine).
        if run % 2 == 1 {
            order.reverse();
        }
        for imp in order {
            let prior = results.entry(imp).or_default();
            // A refusal is deterministic: no point asking again.
            if prior.iter().any(|o| o.is_err()) {
                continue;
            }
            let tag = format!("trace-{}-{run}", short(imp));
            let o = run_trace_one(c, &lab, &me, imp, &targets, &tag)?;
            match &o {
                Ok(r) => {
                    let (head, tail) = r.head_tail();
                    eprintln!(
                        "run {}/{} {:<24} wall {:.2} s, cpu {:.3} s (user {:.3}), rss {:.1} MiB, {} traces, \
                         {} probes, {} replies, {:.0} pps, head {head:.2} s, tail {tail:.2} s, \
                         median trace {:.3} s, stop {:?}{}",
                        run + 1,
                        c.common.runs,
                        imp.name(),
                        r.usage.wall.as_secs_f64(),
                        r.usage.cpu.as_secs_f64(),
                        r.usage.user.as_secs_f64(),
                        r.usage.max_rss_kib as f64 / 1024.0,
                        r.stats.traces,
                        r.stats.probes,
                        r.stats.replies,
                        r.achieved_pps(),
                        median(
                            r.stats
                                .durations_us
                                .iter()
                                .map(|&d| d as f64 / 1e6)
                                .collect()
                        ),
                        r.stats.stop,
                        if r.note.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", r.note)
                        }
                    )
                }
                Err(why) => eprintln!("run {}/{} {:<24} {why}", run + 1, c.common.runs, imp.name()),
            }
            results.entry(imp).or_default().push(o);
        }
    }
    let table = render_trace_table(c, &results);
    println!("{table}");
    if !c.common.out.exists() {
        // update_section's fallback heading is the ping one.
        fs::write(&c.common.out, "# Trace benchmark results\n")
            .map_err(|e| format!("{}: {e}", c.common.out.display()))?;
    }
    let (begin, end) = if c.common.offload_lab {
        (TRACE_OFFLOAD_BEGIN, TRACE_OFFLOAD_END)
    } else {
        (TRACE_TABLE_BEGIN, TRACE_TABLE_END)
    };
    update_section(&c.common.out, begin, end, &table)?;
    eprintln!("table written to {}", c.common.out.display());
    if c.profile {
        trace_profile(c, &lab, &targets)?;
    }
    drop(lab);
    if !c.common.keep {
        let _ = fs::remove_dir_all(&c.common.workdir);
    }
    Ok(())
}

/// strace and perf runs (not timed: both tools slow the program). Their output files stay in
/// the workdir for reading with `perf report -i`.
fn trace_profile(c: &TraceConfig, lab: &Lab, targets: &Path) -> Result<(), String> {
    let limit = trace_time_limit(c) * 2;
    let scamper_args = |imp: Impl, tag: &str| -> Vec<std::ffi::OsString> {
        let mut a: Vec<std::ffi::OsString> = vec![c.common.bin(imp).into()];
        for s in [
            "-c",
            &c.command,
            "-p",
            &c.pps.to_string(),
            "-O",
            "warts",
            "-o",
        ] {
            a.push(s.into());
        }
        a.push(c.common.workdir.join(format!("{tag}.warts")).into());
        a.push("-f".into());
        a.push(targets.into());
        a
    };
    let mut tools: Vec<(String, Vec<std::ffi::OsString>)> = Vec::new();
    if let Ok(strace) = which("strace") {
        for &imp in &c.common.impls {
            let out = c
                .common
                .workdir
                .join(format!("strace-trace-{}.txt", short(imp)));
            let mut a: Vec<std::ffi::OsString> =
                vec![strace.clone().into(), "-f".into(), "-c".into(), "-o".into()];
            a.push(out.into());
            a.push("--".into());
            a.extend(scamper_args(imp, &format!("strace-{}", short(imp))));
            tools.push((format!("strace {}", imp.name()), a));
        }
    }
    if let Ok(perf) = which("perf") {
        for &imp in &c.common.impls {
            let data = c
                .common
                .workdir
                .join(format!("perf-trace-{}.data", short(imp)));
            let mut a: Vec<std::ffi::OsString> = vec![perf.clone().into()];
            // A 1.6 s run at a few per cent of a CPU gives ~300 samples at the default rate;
            // SCRS_PERF_FREQ raises it for a closer look.
            let freq = std::env::var("SCRS_PERF_FREQ").unwrap_or_else(|_| "4999".into());
            for s in ["record", "-q", "-F", &freq, "-g", "-o"] {
                a.push(s.into());
            }
            a.push(data.into());
            a.push("--".into());
            a.extend(scamper_args(imp, &format!("perf-{}", short(imp))));
            tools.push((format!("perf {}", imp.name()), a));
        }
    }
    for (what, mut argv) in tools {
        if c.common.offload_lab {
            // Same placement as the timed runs.
            argv.splice(0..0, ["taskset".into(), "-c".into(), "0".into()]);
        }
        let mut cmd = lab.command(Role::Vp, &argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        run_bounded(lab, cmd, limit)?;
        eprintln!("{what}: done ({})", c.common.workdir.display());
    }
    Ok(())
}

/// Generous limit: three times the nominal duration (K + 1 probes per trace at -p), plus the
/// per-trace reply timeouts and hold times scamper may add at the end, plus a minute.
fn trace_time_limit(c: &TraceConfig) -> Duration {
    let probes = c.common.targets as f64 * (c.routers as f64 + 1.0);
    Duration::from_secs_f64(3.0 * probes / c.pps as f64 + 90.0)
}

/// Runs one implementation once under `measure`. `Ok(Err(why))` is a refusal (nothing written);
/// `Err` is a failure of the benchmark itself.
fn run_trace_one(
    c: &TraceConfig,
    lab: &Lab,
    me: &Path,
    imp: Impl,
    targets: &Path,
    tag: &str,
) -> Result<Result<TraceRun, String>, String> {
    let warts = c.common.workdir.join(format!("{tag}.warts"));
    let errf = c.common.workdir.join(format!("{tag}.stderr"));
    let _ = fs::remove_file(&warts);
    let limit = trace_time_limit(c);
    let mut cmd = vp_command(lab, me, c.common.offload_lab);
    cmd.arg("measure")
        .args(["--timeout-ms", &limit.as_millis().to_string()])
        .arg("--stderr")
        .arg(&errf)
        .arg("--")
        .arg(c.common.bin(imp))
        .args([
            "-c",
            &c.command,
            "-p",
            &c.pps.to_string(),
            "-O",
            "warts",
            "-o",
        ])
        .arg(&warts)
        .arg("-f")
        .arg(targets)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let started_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    let child = lab.spawn(cmd).map_err(|e| e.to_string())?;
    let mut stdout = child.take_stdout().ok_or("no stdout")?;
    // The wrapper kills the measured tree at `limit`; this only catches a stuck wrapper (the
    // handle's drop kills it by PID).
    let status = child
        .wait_timeout(limit + Duration::from_secs(30))
        .map_err(|e| format!("wait: {e}"))?;
    if status.is_none() {
        return Err(format!("{tag}: measure wrapper did not finish"));
    }
    let mut line = String::new();
    let _ = stdout.read_to_string(&mut line);
    let usage = parse_usage(line.trim()).ok_or(format!("{tag}: measure said {line:?}"))?;
    let stderr_text = fs::read_to_string(&errf).unwrap_or_default();
    let first_err = stderr_text.lines().next().unwrap_or("").trim().to_string();
    if usage.status != 0 && !warts.exists() {
        return Ok(Err(format!("refused: exit {}: {first_err}", usage.status)));
    }
    let json = warts_json(&c.common.warts2json, &warts)?;
    let stats = trace_stats(&json)?;
    let mut note = String::new();
    if usage.timed_out {
        note.push_str("killed at time limit; ");
    }
    if usage.status != 0 {
        let _ = write!(note, "exit status {}: {first_err}; ", usage.status);
    }
    Ok(Ok(TraceRun {
        usage,
        stats,
        started_us,
        note: note.trim_end_matches("; ").to_string(),
    }))
}

/// The JSON lines of a warts file, from the first converter that accepts it.
fn warts_json(convs: &[PathBuf], warts: &Path) -> Result<String, String> {
    let mut last_err = String::from("no sc_warts2json found");
    for conv in convs.iter().filter(|p| p.is_file()) {
        let mut cmd = Command::new(conv);
        cmd.arg(warts).stdin(Stdio::null());
        let out = run_with_timeout(cmd, Duration::from_secs(300)).map_err(|e| e.to_string())?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        last_err = format!(
            "{} {}: {}",
            conv.display(),
            warts.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Err(last_err)
}

fn trace_stats(json_lines: &str) -> Result<TraceStats, String> {
    let mut s = TraceStats {
        first_tx_us: i64::MAX,
        last_tx_us: i64::MIN,
        last_start_us: i64::MIN,
        ..Default::default()
    };
    for (n, line) in json_lines.lines().enumerate() {
        if !line.contains("\"trace\"") {
            continue;
        }
        let v = json::parse(line).map_err(|e| format!("sc_warts2json line {}: {e}", n + 1))?;
        if v.get("type").and_then(json::Value::as_str) != Some("trace") {
            continue;
        }
        s.traces += 1;
        // probe_count is every probe the trace sent, answered or not (json.md §2.1).
        s.probes += v
            .get("probe_count")
            .and_then(json::Value::as_f64)
            .unwrap_or(0.0) as u64;
        let stop = v
            .get("stop_reason")
            .and_then(json::Value::as_str)
            .unwrap_or("?");
        *s.stop.entry(stop.to_string()).or_default() += 1;
        let start = v.get("start").and_then(timeval);
        if let Some(t) = start {
            // Probes without a reply leave no tx in warts; the first probe of a trace goes out
            // when it starts, so the start bounds the first tx.
            s.first_tx_us = s.first_tx_us.min(t);
            s.last_start_us = s.last_start_us.max(t);
        }
        let mut end = None;
        for h in ["hops", "extra_hops"]
            .iter()
            .filter_map(|k| v.get(k).and_then(json::Value::as_array))
            .flatten()
        {
            s.replies += 1;
            if let Some(tx) = h.get("tx").and_then(timeval) {
                s.first_tx_us = s.first_tx_us.min(tx);
                s.last_tx_us = s.last_tx_us.max(tx);
                let rtt = h.get("rtt").and_then(json::Value::as_f64).unwrap_or(0.0);
                let rx = tx + (rtt * 1000.0) as i64;
                end = Some(end.map_or(rx, |e: i64| e.max(rx)));
            }
        }
        if let (Some(st), Some(e)) = (start, end) {
            s.durations_us.push(e - st);
        }
    }
    if s.last_tx_us == i64::MIN {
        s.last_tx_us = s.last_start_us;
    }
    Ok(s)
}

fn render_trace_table(
    c: &TraceConfig,
    results: &BTreeMap<Impl, Vec<Result<TraceRun, String>>>,
) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "`scamper -c '{}' -p {} -O warts -o <file> -f <targets>`: one trace to each of {} AnyIP \
         targets (198.18.0.0/15) through {} routers (lab vp – r1 … r{} – tgt, {} hops); median \
         of {} run(s) (min–max in brackets), 2 cores shared with other work, so expect noise. \
         CPU = user+sys of the whole process tree (sys includes the lab's forwarding and ICMP \
         work, which veth runs inline in the sender's sendto), user CPU = its user part; max RSS = the largest single process. \
         Probes = sum of `probe_count`, replies = hop records. Achieved pps = (probes − 1) / \
         (last probe tx − first trace start). Head = run start to first probe, tail = last \
         probe to exit.{}\n",
        c.command,
        c.pps,
        c.common.targets,
        c.routers,
        c.routers,
        c.routers as u32 + 1,
        c.common.runs,
        if c.common.offload_lab { OFFLOAD_NOTE } else { "" }
    );
    let _ = writeln!(
        t,
        "| implementation | wall s | CPU s | user CPU s | max RSS MiB | traces | probes | replies | achieved pps | head s | tail s | median trace s | stop reasons |"
    );
    let _ = writeln!(
        t,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for &imp in &c.common.impls {
        let Some(runs) = results.get(&imp) else {
            continue;
        };
        if let Some(Err(why)) = runs.iter().find(|o| o.is_err()) {
            let _ = writeln!(
                t,
                "| {} | – | – | – | – | – | – | – | `{}` | – | – | – | – |",
                imp.name(),
                why.replace('|', "\\|")
            );
            continue;
        }
        let done: Vec<&TraceRun> = runs.iter().filter_map(|o| o.as_ref().ok()).collect();
        if done.is_empty() {
            continue;
        }
        let col = |f: &dyn Fn(&TraceRun) -> f64| done.iter().map(|r| f(r)).collect::<Vec<f64>>();
        let mut stops: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for r in &done {
            for k in r.stats.stop.keys() {
                stops.entry(k).or_default();
            }
        }
        for (k, v) in stops.iter_mut() {
            v.extend(
                done.iter()
                    .map(|r| *r.stats.stop.get(*k).unwrap_or(&0) as f64),
            );
        }
        let stops: Vec<String> = stops
            .iter()
            .map(|(k, v)| format!("{k} {:.0}", median(v.clone())))
            .collect();
        let notes: Vec<&str> = done
            .iter()
            .map(|r| r.note.as_str())
            .filter(|n| !n.is_empty())
            .collect();
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {:.0} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.3} | {}{} |",
            imp.name(),
            fmt_range(&col(&|r| r.usage.wall.as_secs_f64()), 2),
            fmt_range(&col(&|r| r.usage.cpu.as_secs_f64()), 3),
            fmt_range(&col(&|r| r.usage.user.as_secs_f64()), 3),
            fmt_range(&col(&|r| r.usage.max_rss_kib as f64 / 1024.0), 1),
            median(col(&|r| r.stats.traces as f64)),
            fmt_range(&col(&|r| r.stats.probes as f64), 0),
            median(col(&|r| r.stats.replies as f64)),
            median(col(&|r| r.achieved_pps())),
            median(col(&|r| r.head_tail().0)),
            median(col(&|r| r.head_tail().1)),
            median(col(&|r| median(
                r.stats
                    .durations_us
                    .iter()
                    .map(|&d| d as f64 / 1e6)
                    .collect()
            ))),
            stops.join(", "),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            },
        );
    }
    t
}

// ---------------------------------------------------------------------------------------------

/// Just enough JSON to read `sc_warts2json` output (the lab crate has no JSON dependency and
/// adding one to it for a benchmark is not worth it).
mod json {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Num(f64),
        Str(String),
        Arr(Vec<Value>),
        Obj(Vec<(String, Value)>),
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
        pub fn as_str(&self) -> Option<&str> {
            match self {
                Value::Str(s) => Some(s),
                _ => None,
            }
        }
        pub fn as_f64(&self) -> Option<f64> {
            match self {
                Value::Num(n) => Some(*n),
                _ => None,
            }
        }
        pub fn as_array(&self) -> Option<&[Value]> {
            match self {
                Value::Arr(a) => Some(a),
                _ => None,
            }
        }
    }

    pub fn parse(s: &str) -> Result<Value, String> {
        let mut p = Parser {
            b: s.as_bytes(),
            i: 0,
            depth: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.b.len() {
            return Err(format!("trailing data at {}", p.i));
        }
        Ok(v)
    }

    struct Parser<'a> {
        b: &'a [u8],
        i: usize,
        depth: u32,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn err<T>(&self, what: &str) -> Result<T, String> {
            Err(format!("{what} at byte {}", self.i))
        }
        fn eat(&mut self, c: u8) -> Result<(), String> {
            self.ws();
            if self.b.get(self.i) == Some(&c) {
                self.i += 1;
                Ok(())
            } else {
                self.err(&format!("expected '{}'", c as char))
            }
        }
        fn value(&mut self) -> Result<Value, String> {
            self.ws();
            // Nesting bound keeps recursion finite on hostile input.
            if self.depth > 64 {
                return self.err("nesting too deep");
            }
            match self.b.get(self.i) {
                Some(b'{') => {
                    self.i += 1;
                    self.depth += 1;
                    let mut m = Vec::new();
                    self.ws();
                    if self.b.get(self.i) == Some(&b'}') {
                        self.i += 1;
                    } else {
                        loop {
                            self.ws();
                            let k = self.string()?;
                            self.eat(b':')?;
                            m.push((k, self.value()?));
                            self.ws();
                            match self.b.get(self.i) {
                                Some(b',') => self.i += 1,
                                Some(b'}') => {
                                    self.i += 1;
                                    break;
                                }
                                _ => return self.err("expected ',' or '}'"),
                            }
                        }
                    }
                    self.depth -= 1;
                    Ok(Value::Obj(m))
                }
                Some(b'[') => {
                    self.i += 1;
                    self.depth += 1;
                    let mut a = Vec::new();
                    self.ws();
                    if self.b.get(self.i) == Some(&b']') {
                        self.i += 1;
                    } else {
                        loop {
                            a.push(self.value()?);
                            self.ws();
                            match self.b.get(self.i) {
                                Some(b',') => self.i += 1,
                                Some(b']') => {
                                    self.i += 1;
                                    break;
                                }
                                _ => return self.err("expected ',' or ']'"),
                            }
                        }
                    }
                    self.depth -= 1;
                    Ok(Value::Arr(a))
                }
                Some(b'"') => Ok(Value::Str(self.string()?)),
                Some(b't') => self.word("true", Value::Bool(true)),
                Some(b'f') => self.word("false", Value::Bool(false)),
                Some(b'n') => self.word("null", Value::Null),
                Some(c) if *c == b'-' || c.is_ascii_digit() => {
                    let start = self.i;
                    while self.i < self.b.len()
                        && matches!(
                            self.b[self.i],
                            b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                        )
                    {
                        self.i += 1;
                    }
                    let t = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
                    t.parse()
                        .map(Value::Num)
                        .or_else(|_| self.err("bad number"))
                }
                _ => self.err("unexpected character"),
            }
        }
        fn word(&mut self, w: &str, v: Value) -> Result<Value, String> {
            if self.b[self.i..].starts_with(w.as_bytes()) {
                self.i += w.len();
                Ok(v)
            } else {
                self.err("bad literal")
            }
        }
        fn string(&mut self) -> Result<String, String> {
            if self.b.get(self.i) != Some(&b'"') {
                return self.err("expected string");
            }
            self.i += 1;
            let mut out = Vec::new();
            while let Some(&c) = self.b.get(self.i) {
                self.i += 1;
                match c {
                    b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                    b'\\' => {
                        let e = *self.b.get(self.i).ok_or("unterminated escape")?;
                        self.i += 1;
                        match e {
                            b'n' => out.push(b'\n'),
                            b't' => out.push(b'\t'),
                            b'r' => out.push(b'\r'),
                            b'b' => out.push(8),
                            b'f' => out.push(12),
                            // \uXXXX: keep it verbatim; no field we read uses it.
                            b'u' => out.extend_from_slice(b"\\u"),
                            other => out.push(other),
                        }
                    }
                    _ => out.push(c),
                }
            }
            self.err("unterminated string")
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        #[test]
        fn reads_scamper_ping_json() {
            let l = r#"{"type":"ping", "start":{"sec":17,"usec":5}, "ping_sent":1, "responses":[{"tx":{"sec":17, "usec":9}, "rtt":0.038}],"x":[],"y":{},"z":null,"w":true,"s":"a\"b"}"#;
            let v = parse(l).unwrap();
            assert_eq!(v.get("type").and_then(Value::as_str), Some("ping"));
            let r = v.get("responses").and_then(Value::as_array).unwrap();
            assert_eq!(
                r[0].get("tx").unwrap().get("usec").unwrap().as_f64(),
                Some(9.0)
            );
            assert_eq!(v.get("s").and_then(Value::as_str), Some("a\"b"));
            assert!(parse("{").is_err());
            assert!(parse("[1,]").is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_from_json_lines() {
        let text = concat!(
            "{\"type\":\"cycle-start\", \"id\":0}\n",
            "{\"type\":\"ping\", \"start\":{\"sec\":10,\"usec\":0}, \"ping_sent\":1, \"responses\":[{\"tx\":{\"sec\":10, \"usec\":100}}]}\n",
            "{\"type\":\"ping\", \"start\":{\"sec\":10,\"usec\":0}, \"ping_sent\":1, \"responses\":[]}\n",
            "{\"type\":\"ping\", \"start\":{\"sec\":11,\"usec\":100}, \"ping_sent\":1, \"responses\":[{\"tx\":{\"sec\":11, \"usec\":100}}]}\n",
        );
        let s = ping_stats(text).unwrap();
        assert_eq!((s.probes, s.replies), (3, 2));
        assert_eq!(s.first_tx_us, 10_000_000);
        assert_eq!(s.last_tx_us, 11_000_100);
    }

    #[test]
    fn trace_stats_from_json_lines() {
        let text = concat!(
            "{\"type\":\"cycle-start\", \"id\":0}\n",
            "{\"type\":\"trace\",\"stop_reason\":\"COMPLETED\",\"start\":{\"sec\":10,\"usec\":0,\"ftime\":\"x\"},\"probe_count\":2,\"hops\":[{\"addr\":\"192.0.2.10\",\"tx\":{\"sec\":10,\"usec\":10},\"rtt\":0.5},{\"addr\":\"198.18.0.0\",\"tx\":{\"sec\":10,\"usec\":2000},\"rtt\":1.0}]}\n",
            "{\"type\":\"trace\",\"stop_reason\":\"GAPLIMIT\",\"start\":{\"sec\":11,\"usec\":0,\"ftime\":\"x\"},\"probe_count\":5}\n",
        );
        let s = trace_stats(text).unwrap();
        assert_eq!((s.traces, s.probes, s.replies), (2, 7, 2));
        assert_eq!(s.stop.get("COMPLETED"), Some(&1));
        assert_eq!(s.stop.get("GAPLIMIT"), Some(&1));
        assert_eq!((s.first_tx_us, s.last_tx_us), (10_000_000, 10_002_000));
        assert_eq!(s.last_start_us, 11_000_000);
        assert_eq!(s.durations_us, vec![3000]);
    }

    #[test]
    fn usage_line_round_trip() {
        let u = parse_usage("wall_us=1500000 cpu_us=250000 maxrss_kib=4096 status=0 timed_out=0")
            .unwrap();
        assert_eq!(u.wall, Duration::from_millis(1500));
        assert_eq!(u.cpu, Duration::from_millis(250));
        assert_eq!(u.max_rss_kib, 4096);
        assert!(!u.timed_out);
    }

    #[test]
    fn median_and_sections() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        let dir = std::env::temp_dir().join(format!("scrs-bench-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("r.md");
        fs::write(&f, "intro\n\nnotes\n").unwrap();
        update_section(&f, TABLE_BEGIN, TABLE_END, "T1").unwrap();
        update_section(&f, TABLE_BEGIN, TABLE_END, "T2").unwrap();
        let s = fs::read_to_string(&f).unwrap();
        assert!(s.starts_with("intro\n\nnotes\n") && s.contains("T2") && !s.contains("T1"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
