//! Tests of the namespace lab itself: it builds, routes, delays, spreads flows, and cleans up.
//! Every test needs root; without it each one prints why and passes (CI runs as root).

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use scamper_systests::*;

fn build(spec: LabSpec) -> Lab {
    let lab = Lab::build(spec).expect("lab builds");
    eprintln!("lab {} built in {:?}", lab.id(), lab.build_time());
    lab
}

fn ns_exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// `ping` from the vp; returns (per-reply RTTs in ms, full stdout).
fn ping(lab: &Lab, dst: IpAddr, extra: &[&str]) -> (Vec<f64>, String) {
    let d = dst.to_string();
    let fam = if dst.is_ipv6() { "-6" } else { "-4" };
    let mut args = vec!["ping", fam, "-n", "-W", "2"];
    args.extend_from_slice(extra);
    args.push(&d);
    let out = lab
        .exec_timeout(Role::Vp, &args, Duration::from_secs(30))
        .expect("ping runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rtts = text
        .lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.split_whitespace().next()?.parse().ok())
        .collect();
    (rtts, text)
}

/// Addresses in ping's "From <addr> icmp_seq=..." lines (ICMP errors).
fn error_sources(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| l.strip_prefix("From "))
        .filter_map(|l| {
            l.split_whitespace()
                .next()?
                .trim_end_matches(':')
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn builds_and_tears_down_completely() {
    if !Lab::require_root() {
        return;
    }
    let lab = build(LabSpec::default());
    let names = lab.namespaces();
    // vp, r1, r2, b1, b2, j, tgt, dly
    assert_eq!(names.len(), 8, "{names:?}");
    let existing = lab_namespaces();
    for ns in &names {
        assert!(ns.starts_with(NS_PREFIX) && ns.contains(lab.id()), "{ns}");
        assert!(existing.contains(ns), "{ns} missing from {existing:?}");
    }
    let delay_pid = lab.delay_pid().expect("delay program runs");
    let t = Instant::now();
    drop(lab);
    eprintln!("teardown took {:?}", t.elapsed());
    for ns in &names {
        assert!(!ns_exists(ns), "{ns} left behind");
    }
    assert!(
        !Path::new(&format!("/proc/{delay_pid}")).exists(),
        "delay program left behind"
    );
}

#[test]
fn teardown_kills_spawned_processes_and_their_children() {
    if !Lab::require_root() {
        return;
    }
    let lab = build(LabSpec {
        routers: 1,
        ecmp_branches: 0,
        delay: None,
        tcp_listener: false,
    });
    let mut cmd = lab.command(Role::Vp, "sh");
    // A background grandchild that the lab never saw, like a prober's helper process.
    cmd.args(["-c", "sleep 300 & echo $!; wait"])
        .stdout(std::process::Stdio::piped());
    let child = lab.spawn(cmd).unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.take_stdout().unwrap()),
        &mut line,
    )
    .unwrap();
    let grandchild: u32 = line.trim().parse().expect("grandchild pid");
    assert!(!exited(grandchild));
    assert!(child
        .wait_timeout(Duration::from_millis(50))
        .unwrap()
        .is_none());
    let pid = child.pid();
    drop(lab);
    assert!(
        child.try_wait().unwrap().is_some(),
        "spawned process {pid} still running"
    );
    let t = Instant::now();
    while !exited(grandchild) && t.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(
        exited(grandchild),
        "grandchild {grandchild} outlived the lab"
    );
}

#[test]
fn teardown_happens_on_panic() {
    if !Lab::require_root() {
        return;
    }
    let seen: Arc<Mutex<(Vec<String>, Option<u32>)>> = Arc::default();
    let seen2 = seen.clone();
    let r = std::panic::catch_unwind(move || {
        let lab = build(LabSpec {
            routers: 1,
            ecmp_branches: 0,
            ..LabSpec::default()
        });
        *seen2.lock().unwrap() = (lab.namespaces(), lab.delay_pid());
        panic!("deliberate panic inside a lab test");
    });
    assert!(r.is_err());
    let (names, pid) = seen.lock().unwrap().clone();
    assert_eq!(names.len(), 4, "{names:?}");
    for ns in &names {
        assert!(!ns_exists(ns), "{ns} left behind after panic");
    }
    let pid = pid.expect("delay program ran");
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn sweep_removes_only_stale_namespaces() {
    if !Lab::require_root() {
        return;
    }
    // A PID above pid_max can never be alive: a namespace "left by a crashed run".
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stale = format!("{NS_PREFIX}{}x0-vp", pid_max + 1);
    let st = std::process::Command::new("ip")
        .args(["netns", "add", &stale])
        .status()
        .unwrap();
    assert!(st.success());
    let lab = build(LabSpec {
        routers: 1,
        ecmp_branches: 0,
        delay: None,
        tcp_listener: false,
    });
    // Lab::build swept it already; a second sweep must leave the live lab alone.
    assert!(
        !ns_exists(&stale),
        "stale namespace survived the build's sweep"
    );
    let removed = Lab::sweep_stale().unwrap();
    assert!(removed.iter().all(|n| !n.contains(lab.id())), "{removed:?}");
    for ns in lab.namespaces() {
        assert!(ns_exists(&ns), "sweep removed live {ns}");
    }
}

#[test]
fn ping_reaches_targets_and_anyip_on_both_families() {
    if !Lab::require_root() {
        return;
    }
    let lab = build(LabSpec::default());
    for fam in Family::BOTH {
        let dsts = [
            lab.addr(Role::Target, fam),
            anyip_addr(fam, 0),
            anyip_addr(fam, 77_777),
            lab.addr(Role::DelayTarget, fam),
        ];
        for dst in dsts {
            let (rtts, text) = ping(&lab, dst, &["-c", "2", "-i", "0.2"]);
            assert_eq!(rtts.len(), 2, "ping {dst}:\n{text}");
            // The echo reply must come from the very address we pinged (AnyIP included).
            assert!(text.contains(&format!("from {dst}: icmp_seq")), "{text}");
        }
        // The default source is VP_*, and the alternative source works as well.
        let [main, alt] = lab.vp_addrs(fam);
        let tgt = lab.addr(Role::Target, fam).to_string();
        let out = lab.exec(Role::Vp, &["ip", "route", "get", &tgt]).unwrap();
        let route = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(route.contains(&format!("src {main} ")), "{route}");
        let alt_s = alt.to_string();
        let (rtts, text) = ping(
            &lab,
            lab.addr(Role::Target, fam),
            &["-c", "1", "-I", &alt_s],
        );
        assert_eq!(rtts.len(), 1, "from {alt}:\n{text}");
    }
}

#[test]
fn ttl_limited_ping_gets_time_exceeded_from_each_router() {
    if !Lab::require_root() {
        return;
    }
    let lab = build(LabSpec {
        routers: 3,
        ..LabSpec::default()
    });
    for fam in Family::BOTH {
        let path = lab.path(Role::Target, fam);
        // r1, r2, r3, one of b1/b2, j
        assert_eq!(path.len(), 5, "{path:?}");
        assert_eq!(path[0], vec![lab.addr(Role::Router(1), fam)]);
        assert_eq!(path[3], lab.branch_addrs(fam));
        assert_eq!(path[4], vec![lab.addr(Role::Join, fam)]);
        for (i, hop) in path.iter().enumerate() {
            let ttl = (i + 1).to_string();
            let (rtts, text) = ping(&lab, lab.addr(Role::Target, fam), &["-c", "1", "-t", &ttl]);
            assert!(rtts.is_empty(), "TTL {ttl} reached the target:\n{text}");
            let from = error_sources(&text);
            assert_eq!(from.len(), 1, "TTL {ttl}:\n{text}");
            assert!(
                hop.contains(&from[0]),
                "TTL {ttl}: {} not in {hop:?}",
                from[0]
            );
        }
        // One more hop reaches the target.
        let ttl = (path.len() + 1).to_string();
        let (rtts, text) = ping(&lab, lab.addr(Role::Target, fam), &["-c", "1", "-t", &ttl]);
        assert_eq!(rtts.len(), 1, "{text}");
    }
}

#[test]
fn icmp_errors_are_not_rate_limited() {
    if !Lab::require_root() {
        return;
    }
    let lab = build(LabSpec {
        delay: None,
        ..LabSpec::default()
    });
    for fam in Family::BOTH {
        // 100 expiring probes within ~0.2 s: Linux's default limits would answer only a few.
        let (_, text) = ping(
            &lab,
            lab.addr(Role::Target, fam),
            &["-c", "100", "-i", "0.002", "-t", "1"],
        );
        let from = error_sources(&text);
        assert_eq!(from.len(), 100, "{fam:?}: {} errors:\n{text}", from.len());
        assert!(from.iter().all(|&a| a == lab.addr(Role::Router(1), fam)));
    }
}

#[test]
fn delayed_link_adds_the_configured_delay() {
    if !Lab::require_root() {
        return;
    }
    let delay = Duration::from_millis(30);
    let lab = build(LabSpec {
        delay: Some(delay),
        ..LabSpec::default()
    });
    assert_eq!(lab.delay(), Some(delay));
    let want = delay.as_secs_f64() * 1000.0;
    for fam in Family::BOTH {
        let (mut rtts, text) = ping(
            &lab,
            lab.addr(Role::DelayTarget, fam),
            &["-c", "10", "-i", "0.1"],
        );
        assert_eq!(rtts.len(), 10, "{text}");
        rtts.sort_by(f64::total_cmp);
        // Never below the delay; typically 0.1-0.8 ms above. On a loaded 2-core machine single
        // packets can be late in the kernel's own softirq processing, so the median must be
        // within 2 ms and only outliers may be later (but bounded).
        assert!(rtts[0] >= want, "{fam:?}: below the delay: {rtts:?}");
        assert!(rtts[5] <= want + 2.0, "{fam:?}: median too high: {rtts:?}");
        assert!(rtts[9] <= want + 25.0, "{fam:?}: outlier: {rtts:?}");
        let (mut rtts, text) = ping(&lab, lab.addr(Role::Target, fam), &["-c", "3", "-i", "0.1"]);
        assert_eq!(rtts.len(), 3, "{text}");
        rtts.sort_by(f64::total_cmp);
        assert!(rtts[1] < 2.0, "undelayed path slow: {rtts:?}");
    }
}

/// Counts forwarded UDP packets to the closed port in each branch router (nft counters: exact,
/// unlike interface counters, which also see IPv6 MLD chatter on fresh links).
fn install_branch_counters(lab: &Lab) {
    for b in lab.branches() {
        lab.nft(
            b,
            &format!(
                "table inet scrs_cnt {{\n  chain cnt {{\n    type filter hook forward priority 0;\n    udp dport {UDP_CLOSED_PORT} counter\n  }}\n}}\n"),
        )
        .unwrap();
    }
}

fn branch_counts(lab: &Lab) -> Vec<u64> {
    lab.branches()
        .into_iter()
        .map(|b| {
            let out = lab
                .exec(b, &["nft", "list", "chain", "inet", "scrs_cnt", "cnt"])
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            text.split("counter packets ")
                .nth(1)
                .and_then(|t| t.split_whitespace().next()?.parse().ok())
                .unwrap_or_else(|| panic!("{b}: no counter in {text}"))
        })
        .collect()
}

#[test]
fn ecmp_spreads_flows_over_branches() {
    if !Lab::require_root() {
        return;
    }
    let lab = build(LabSpec {
        delay: None,
        tcp_listener: false,
        ..LabSpec::default()
    });
    const FLOWS: usize = 64;
    install_branch_counters(&lab);
    for fam in Family::BOTH {
        let dst = SocketAddr::new(lab.addr(Role::Target, fam), UDP_CLOSED_PORT);
        let bind = SocketAddr::new(lab.addr(Role::Vp, fam), 0);

        // Many flows (one source port each): every branch must carry some.
        let before = branch_counts(&lab);
        let refused = lab
            .in_ns(Role::Vp, || {
                let socks: Vec<UdpSocket> = (0..FLOWS)
                    .map(|_| {
                        let s = UdpSocket::bind(bind).unwrap();
                        s.connect(dst).unwrap();
                        s.send(b"scamper-rs lab").unwrap();
                        s
                    })
                    .collect();
                // Each flow gets an ICMP port unreachable back: the closed UDP port answers.
                socks
                    .iter()
                    .filter(|s| {
                        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                        let mut b = [0u8; 64];
                        matches!(s.recv(&mut b), Err(e) if e.kind() == ErrorKind::ConnectionRefused)
                    })
                    .count()
            })
            .unwrap();
        assert_eq!(refused, FLOWS, "{fam:?}: port unreachables");
        let delta: Vec<u64> = branch_counts(&lab)
            .iter()
            .zip(&before)
            .map(|(a, b)| a - b)
            .collect();
        let total: u64 = delta.iter().sum();
        // Exactly one packet per flow forward (static neighbours: no ND); small slack for
        // stray IPv6 multicast (MLD) on freshly created links.
        assert!(
            (FLOWS as u64..FLOWS as u64 + 8).contains(&total),
            "{fam:?}: {delta:?}"
        );
        assert!(
            delta.iter().all(|&d| d >= 4),
            "{fam:?}: flows not spread: {delta:?}"
        );

        // One flow: all its packets take one branch.
        let before = branch_counts(&lab);
        lab.in_ns(Role::Vp, || {
            let s = UdpSocket::bind(bind).unwrap();
            for _ in 0..30 {
                s.send_to(b"one flow", dst).unwrap();
            }
        })
        .unwrap();
        let delta: Vec<u64> = branch_counts(&lab)
            .iter()
            .zip(&before)
            .map(|(a, b)| a - b)
            .collect();
        assert_eq!(
            delta.iter().filter(|&&d| d >= 30).count(),
            1,
            "{fam:?}: {delta:?}"
        );
        assert!(delta.iter().sum::<u64>() < 38, "{fam:?}: {delta:?}");
    }
}

#[test]
fn tcp_open_and_closed_ports_answer() {
    if !Lab::require_root() {
        return;
    }
    let lab = build(LabSpec {
        ecmp_branches: 0,
        ..LabSpec::default()
    });
    let t = Duration::from_secs(3);
    for fam in Family::BOTH {
        let hosts = [
            lab.addr(Role::Target, fam),
            anyip_addr(fam, 4242),
            lab.addr(Role::DelayTarget, fam),
        ];
        lab.in_ns(Role::Vp, || {
            for h in hosts {
                let open = TcpStream::connect_timeout(&SocketAddr::new(h, TCP_OPEN_PORT), t);
                assert!(open.is_ok(), "{h}:{TCP_OPEN_PORT}: {open:?}");
                let closed = TcpStream::connect_timeout(&SocketAddr::new(h, TCP_CLOSED_PORT), t);
                assert!(
                    matches!(&closed, Err(e) if e.kind() == ErrorKind::ConnectionRefused),
                    "{h}:{TCP_CLOSED_PORT}: {closed:?}"
                );
            }
        })
        .unwrap();
    }
}

#[test]
fn parallel_labs_do_not_collide() {
    if !Lab::require_root() {
        return;
    }
    let handles: Vec<_> = (0..3)
        .map(|_| {
            thread::spawn(|| {
                let lab = build(LabSpec::default());
                for fam in Family::BOTH {
                    for role in [Role::Target, Role::DelayTarget] {
                        let (rtts, text) = ping(&lab, lab.addr(role, fam), &["-c", "1"]);
                        assert_eq!(rtts.len(), 1, "{text}");
                    }
                }
                lab.namespaces()
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    for h in handles {
        for ns in h.join().expect("lab thread") {
            assert!(!ns_exists(&ns), "{ns} left behind");
            assert!(all.insert(ns.clone()), "{ns} used twice");
        }
    }
    assert_eq!(all.len(), 3 * 8);
}

#[test]
fn lab_hygiene_addresses_routes_offloads() {
    if !Lab::require_root() {
        return;
    }
    let lab = build(LabSpec::default());
    let allowed = |a: IpAddr| match a {
        IpAddr::V4(v) => {
            let o = v.octets();
            v.is_loopback()
                || (o[0..3] == [192, 0, 2])
                || (o[0..3] == [198, 51, 100])
                || (o[0..3] == [203, 0, 113])
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            v.is_loopback() || (s[0] & 0xffc0) == 0xfe80 || (s[0] == 0x2001 && s[1] == 0xdb8)
        }
    };
    for role in lab.roles() {
        let out = lab.exec(role, &["ip", "-o", "addr", "show"]).unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let mut n = 0;
        for l in text.lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            let addr = w
                .iter()
                .position(|&x| x == "inet" || x == "inet6")
                .map(|i| w[i + 1]);
            let a: IpAddr = addr.unwrap().split('/').next().unwrap().parse().unwrap();
            assert!(
                allowed(a),
                "{role}: address {a} outside the documentation ranges"
            );
            n += 1;
        }
        assert!(n >= 4, "{role}: {text}");
        for fam in ["-4", "-6"] {
            let out = lab
                .exec(role, &["ip", fam, "route", "show", "default"])
                .unwrap();
            assert!(out.stdout.is_empty(), "{role}: default route {fam}");
        }
        for (key, want) in [
            ("net/ipv4/icmp_ratelimit", "0"),
            ("net/ipv6/icmp/ratelimit", "0"),
            ("net/ipv4/fib_multipath_hash_policy", "1"),
            ("net/ipv6/fib_multipath_hash_policy", "1"),
        ] {
            let out = lab
                .exec(role, &["cat", &format!("/proc/sys/{key}")])
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                want,
                "{role} {key}"
            );
        }
        for (ifn, _) in lab.iface_addrs(role, Family::V4) {
            if ifn.starts_with("e-") {
                let out = lab.exec(role, &["ethtool", "-k", &ifn]).unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(
                    text.contains("tx-checksumming: off"),
                    "{role} {ifn}: {text}"
                );
            }
        }
    }
    // No route out of the lab at all: the vp cannot even try an outside address.
    for inside in [lab.addr(Role::Join, Family::V4), anyip_addr(Family::V6, 9)] {
        let out = lab
            .exec(Role::Vp, &["ip", "route", "get", &inside.to_string()])
            .unwrap();
        assert!(out.status.success(), "vp has no route to {inside}");
    }
    for outside in ["1.1.1.1", "10.0.0.1", "2001:4860::1"] {
        let out = lab
            .exec(Role::Vp, &["ip", "route", "get", outside])
            .unwrap();
        assert!(!out.status.success(), "vp has a route to {outside}");
    }
}

fn icmp_checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn shared_ipid_counter_spans_two_interfaces() {
    if !Lab::require_root() {
        return;
    }
    let lab = build(LabSpec {
        delay: None,
        tcp_listener: false,
        ..LabSpec::default()
    });
    let pair = lab.install_shared_ipid(Role::Router(1)).unwrap();
    assert_eq!(IpAddr::V4(pair[0]), lab.addr(Role::Router(1), Family::V4));
    let ids = lab
        .in_ns(Role::Vp, || {
            use socket2::{Domain, Protocol, Socket, Type};
            let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let ident: u16 = 0x5c5c;
            let mut ids = Vec::new();
            for seq in 0..10u16 {
                let dst = pair[usize::from(seq % 2)];
                let mut pkt = vec![8, 0, 0, 0];
                pkt.extend_from_slice(&ident.to_be_bytes());
                pkt.extend_from_slice(&seq.to_be_bytes());
                pkt.extend_from_slice(b"alias?");
                let ck = icmp_checksum(&pkt);
                pkt[2..4].copy_from_slice(&ck.to_be_bytes());
                s.send_to(&pkt, &SocketAddr::new(dst.into(), 0).into())
                    .unwrap();
                // Bounded: at most 20 reads of at most 500 ms for this reply.
                for _ in 0..20 {
                    let mut buf = [0u8; 1500];
                    // io::Read on a raw IPv4 socket: the IP header comes with the packet.
                    let Ok(n) = (&s).read(&mut buf) else { break };
                    let b = &buf[..n];
                    let hl = usize::from(b[0] & 0x0f) * 4;
                    let src = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
                    let icmp = &b[hl..];
                    if icmp[0] == 0
                        && icmp[4..6] == ident.to_be_bytes()
                        && icmp[6..8] == seq.to_be_bytes()
                    {
                        assert_eq!(src, dst);
                        ids.push(u16::from_be_bytes([b[4], b[5]]));
                        break;
                    }
                }
            }
            ids
        })
        .unwrap();
    assert_eq!(ids.len(), 10, "replies: {ids:?}");
    for w in ids.windows(2) {
        assert_eq!(
            w[1],
            w[0].wrapping_add(1),
            "IP-IDs not from one counter: {ids:?}"
        );
    }
}

/// Child half of `crashed_run_is_swept`: builds a lab, reports it, and dies by SIGKILL, so no
/// destructor runs. Does nothing unless started by that test.
#[test]
#[ignore = "helper process for crashed_run_is_swept"]
fn crash_child() {
    if std::env::var_os("SCRS_LAB_CRASH_CHILD").is_none() {
        return;
    }
    let lab = build(LabSpec {
        routers: 1,
        ecmp_branches: 0,
        ..LabSpec::default()
    });
    for ns in lab.namespaces() {
        println!("NS {ns}");
    }
    println!("DELAY {}", lab.delay_pid().unwrap());
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
}

/// True once process `pid` has exited (gone, or a zombie nobody reaped yet).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn crashed_run_is_swept() {
    if !Lab::require_root() {
        return;
    }
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .env("SCRS_LAB_CRASH_CHILD", "1");
    let out = run_with_timeout(cmd, Duration::from_secs(60)).unwrap();
    assert!(!out.status.success(), "child should have been killed");
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("NS ")).collect();
    assert_eq!(names.len(), 4, "{text}");
    let delay_pid: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("DELAY "))
        .unwrap()
        .parse()
        .unwrap();
    // The delay program notices its parent is gone and exits on its own (polls every 50 ms).
    let t = Instant::now();
    while !exited(delay_pid) && t.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(exited(delay_pid), "delay program outlived its lab");
    // Another test's build may have swept them already; either way none may remain.
    Lab::sweep_stale().unwrap();
    for ns in names {
        assert!(!ns_exists(ns), "{ns} survived the sweep");
    }
}
