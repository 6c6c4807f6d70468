//! trace on the namespace lab: every method on IPv4 and IPv6 finds the routers the topology
//! dictates and stops where it should; silent routers, forwarding loops and unreachables give
//! the manual's stop reasons; Paris probes keep to one ECMP branch; the text output has the
//! documented layout; and unimplemented options are refused instead of ignored.

mod common;

use common::{scamper, TempDir};
use scamper_systests::*;
use scamper_warts::trace::{Trace, TraceStop};
use scamper_warts::Addr;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// Every `-P` method with its name in the records.
const METHODS: [(&str, &str); 6] = [
    ("udp", "udp"),
    ("udp-paris", "udp-paris"),
    ("icmp", "icmp-echo"),
    ("icmp-paris", "icmp-echo-paris"),
    ("tcp", "tcp"),
    ("tcp-ack", "tcp-ack"),
];

fn v6(fam: Family) -> bool {
    fam == Family::V6
}

/// ICMP time exceeded (type, code) of the family.
fn time_exceeded(fam: Family) -> (u64, u64) {
    if v6(fam) {
        (3, 0)
    } else {
        (11, 0)
    }
}

/// A lab without the delayed link, which no trace here goes through.
fn lab(routers: u8, ecmp_branches: u8) -> Lab {
    Lab::build(LabSpec {
        routers,
        ecmp_branches,
        delay: None,
        ..LabSpec::default()
    })
    .unwrap()
}

/// Run the trace commands side by side (`-I`), `-O json`, and return the trace records. Each
/// command carries `-U <tag>` so that [`tagged`] finds its record whatever the finishing order.
fn run_json(lab: &Lab, cmds: &[String]) -> Vec<Value> {
    common::run_json(lab, cmds, "trace", LIMIT)
}

fn tagged(traces: &[Value], tag: u64) -> &Value {
    traces
        .iter()
        .find(|t| t["userid"] == tag)
        .unwrap_or_else(|| panic!("no record with userid {tag}"))
}

/// Every reply of a JSON trace as (probe_ttl, probe_id, addr), in record order.
fn replies(tr: &Value) -> Vec<(u64, u64, IpAddr)> {
    tr["hops"]
        .as_array()
        .map(|h| h.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|h| {
            (
                h["probe_ttl"].as_u64().unwrap(),
                h["probe_id"].as_u64().unwrap(),
                h["addr"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn addrs_at(tr: &Value, ttl: u64) -> Vec<IpAddr> {
    replies(tr)
        .into_iter()
        .filter(|r| r.0 == ttl)
        .map(|r| r.2)
        .collect()
}

fn hop_at(tr: &Value, ttl: u64) -> &Value {
    tr["hops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["probe_ttl"] == ttl)
        .unwrap_or_else(|| panic!("no reply at TTL {ttl}: {tr}"))
}

fn stop(tr: &Value) -> (&str, u64, u64) {
    (
        tr["stop_reason"].as_str().unwrap(),
        tr["stop_data"].as_u64().unwrap(),
        tr["hop_count"].as_u64().unwrap(),
    )
}

/// The address router `role` answers from for a probe that arrives from `prev`. IPv4 ICMP errors
/// come from the address towards the vp (what `lab.path` lists); Linux sends ICMPv6 errors from
/// the address of the interface the probe came in on, which differs at the join router when the
/// probe came over a branch other than the one the way back uses.
fn answers_from(lab: &Lab, fam: Family, role: Role, prev: Role) -> IpAddr {
    if !v6(fam) {
        return lab.addr(role, fam);
    }
    let ifname = lab.ifname_towards(role, prev);
    lab.iface_addrs(role, fam)
        .into_iter()
        .find(|(n, _)| *n == ifname)
        .map(|(_, a)| a)
        .unwrap()
}

/// TTL (1-based) of the ECMP split hop: where `lab.path` offers the branches.
fn split_ttl(lab: &Lab, fam: Family) -> u64 {
    let path = lab.path(Role::Target, fam);
    1 + path.iter().position(|h| h.len() > 1).expect("an ECMP hop") as u64
}

/// The branch a reply at the split hop came from.
fn branch_of(lab: &Lab, fam: Family, addr: IpAddr) -> Role {
    lab.branches()
        .into_iter()
        .find(|b| lab.addr(*b, fam) == addr)
        .unwrap_or_else(|| panic!("{addr} is not a branch address"))
}

/// Check the hop addresses of a complete trace to the target of the default lab: the routers of
/// `lab.path` at every TTL, and at the join hop the address that fits the branch the probe took.
fn check_path(lab: &Lab, fam: Family, tr: &Value) {
    let path = lab.path(Role::Target, fam);
    let split = split_ttl(lab, fam);
    for (ttl, _, addr) in replies(tr) {
        let i = ttl as usize - 1;
        if i == path.len() {
            assert_eq!(addr, lab.addr(Role::Target, fam), "TTL {ttl}: {tr}");
            continue;
        }
        assert!(i < path.len(), "reply beyond the target at TTL {ttl}: {tr}");
        if ttl == split + 1 {
            // The join hop: the probe with the same flow went over one branch before.
            let branch = branch_of(lab, fam, addrs_at(tr, split)[0]);
            assert_eq!(
                addr,
                answers_from(lab, fam, Role::Join, branch),
                "TTL {ttl}: {tr}"
            );
        } else {
            assert!(
                path[i].contains(&addr),
                "TTL {ttl}: {addr} not in {:?}",
                path[i]
            );
        }
    }
}

/// Each method to the target: the topology's routers at each TTL, the right reply at the end,
/// and the trace stops right there (one probe per hop: nothing is lost in the lab).
fn every_method(fam: Family) {
    if !Lab::require_root() {
        return;
    }
    let lab = lab(2, 2);
    let dst = lab.addr(Role::Target, fam);
    let path_len = lab.path(Role::Target, fam).len() as u64;
    let cmds: Vec<String> = METHODS
        .iter()
        .enumerate()
        .map(|(i, (m, _))| format!("trace -P {m} -q 1 -w 1 -U {} -s {} {dst}", i + 1, 41000 + i))
        .collect();
    let traces = run_json(&lab, &cmds);
    for (i, (m, name)) in METHODS.iter().enumerate() {
        let tr = tagged(&traces, i as u64 + 1);
        let sport = 41000 + i as u64;
        assert_eq!(tr["method"], *name, "{tr}");
        assert_eq!(tr["dst"], dst.to_string(), "{tr}");
        assert_eq!(tr["src"], lab.addr(Role::Vp, fam).to_string(), "{tr}");
        assert_eq!(stop(tr), ("COMPLETED", 0, path_len + 1), "{m}: {tr}");
        assert_eq!(tr["probe_count"], path_len + 1, "{m}: {tr}");
        assert_eq!(tr["attempts"], 1, "{tr}");
        let probe_size = match (*m, v6(fam)) {
            (_, true) => 60,
            ("tcp" | "tcp-ack", false) => 40,
            _ => 44,
        };
        assert_eq!(tr["probe_size"], probe_size, "{m}: {tr}");
        match *m {
            "udp" | "udp-paris" => assert_eq!(
                (tr["sport"].as_u64(), tr["dport"].as_u64()),
                (Some(sport), Some(33435)),
                "{tr}"
            ),
            "tcp" | "tcp-ack" => assert_eq!(
                (tr["sport"].as_u64(), tr["dport"].as_u64()),
                (Some(sport), Some(80)),
                "{tr}"
            ),
            "icmp-paris" => assert_eq!(tr["icmp_sum"], sport, "{tr}"),
            _ => assert!(tr.get("sport").is_none(), "{tr}"),
        }
        // One reply per TTL, from the routers in order, then the target.
        let r = replies(tr);
        let ttls: Vec<(u64, u64)> = r.iter().map(|r| (r.0, r.1)).collect();
        let want: Vec<(u64, u64)> = (1..=path_len + 1).map(|t| (t, 1)).collect();
        assert_eq!(ttls, want, "{m}: {tr}");
        check_path(&lab, fam, tr);
        for ttl in 1..=path_len {
            let h = hop_at(tr, ttl);
            assert_eq!(
                (
                    h["icmp_type"].as_u64().unwrap(),
                    h["icmp_code"].as_u64().unwrap()
                ),
                time_exceeded(fam),
                "{m}: {h}"
            );
            assert_eq!(h["icmp_q_ttl"], 1, "{m}: {h}");
        }
        let last = hop_at(tr, path_len + 1);
        match *m {
            "udp" | "udp-paris" => {
                let want = if v6(fam) { (1, 4) } else { (3, 3) };
                assert_eq!(
                    (
                        last["icmp_type"].as_u64().unwrap(),
                        last["icmp_code"].as_u64().unwrap()
                    ),
                    want,
                    "port unreachable: {last}"
                );
            }
            "icmp" | "icmp-paris" => {
                let want = if v6(fam) { 129 } else { 0 };
                assert_eq!(last["icmp_type"], want, "echo reply: {last}");
            }
            // port 80 is open: SYN/ACK; an unexpected ACK gets a RST
            "tcp" => assert_eq!(last["tcp_flags"], 0x12, "SYN/ACK: {last}"),
            _ => assert_eq!(last["tcp_flags"], 0x04, "RST: {last}"),
        }
    }
}

#[test]
fn every_method_ipv4() {
    every_method(Family::V4);
}

#[test]
fn every_method_ipv6() {
    every_method(Family::V6);
}

/// Make router `role` silent: it still forwards, but its time-exceeded messages are dropped.
fn silence(lab: &Lab, role: Role) {
    lab.nft(
        role,
        "table inet scrs_silent {
           chain out {
             type filter hook output priority 0; policy accept;
             icmp type time-exceeded drop
             icmpv6 type time-exceeded drop
           }
         }",
    )
    .unwrap();
}

fn addr(a: IpAddr) -> Option<Addr> {
    Some(Addr::from(a))
}

/// (ttl, reply addresses) of every probe of a warts trace.
fn probe_replies(tr: &Trace) -> Vec<(u8, Vec<Option<Addr>>)> {
    tr.probes
        .iter()
        .map(|p| (p.ttl, p.replies.iter().map(|r| r.addr).collect()))
        .collect()
}

/// Three silent routers (r2..r4 of r1..r5): `-g 3` stops with GAPLIMIT at the third silent hop,
/// with `-G 2` after last-ditch probes (TTL 255) that reach the target, which warts keeps and
/// JSON does not show; `-g 4` tolerates the gap and completes.
#[test]
fn silent_routers_gaplimit_and_gapaction() {
    if !Lab::require_root() {
        return;
    }
    let lab = lab(5, 0);
    for r in 2..=4 {
        silence(&lab, Role::Router(r));
    }
    let dir = TempDir::new("trace-gap");
    let file = dir.path("gap.warts");
    let mut cmds = Vec::new();
    for (f, fam) in Family::BOTH.into_iter().enumerate() {
        let dst = lab.addr(Role::Target, fam);
        for (i, opts) in ["-g 3 -G 1", "-g 3 -G 2", "-g 4"].iter().enumerate() {
            let tag = 10 * (f + 1) + i + 1;
            // Distinct source ports: traces with one probe signature would run one at a time.
            cmds.push(format!(
                "trace {opts} -q 1 -w 1 -U {tag} -s {} {dst}",
                42000 + tag
            ));
        }
    }
    let file_s = file.to_str().unwrap();
    let mut args = vec!["-O", "warts", "-o", file_s, "-p", "1000", "-I"];
    args.extend(cmds.iter().map(String::as_str));
    let t0 = Instant::now();
    let run = scamper(&lab, &args, LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    // Three silent hops of one 1 s attempt each, side by side.
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    let traces: Vec<Trace> = common::warts_traces(&file);
    assert_eq!(traces.len(), cmds.len());
    let json = common::warts2json(&file, "trace");
    for (f, fam) in Family::BOTH.into_iter().enumerate() {
        let path = lab.path(Role::Target, fam);
        assert_eq!(path.len(), 5);
        let (r1, r5, dst) = (path[0][0], path[4][0], lab.addr(Role::Target, fam));
        let by_tag = |i: usize| {
            let tag = (10 * (f + 1) + i) as u32;
            traces.iter().find(|t| t.userid == tag).unwrap()
        };
        // Warts keeps replies, not unanswered probes: the silent TTLs show in hop_count and
        // probec only.
        let t = by_tag(1);
        assert_eq!(
            (
                t.stop_reason,
                t.stop_data,
                t.hop_count,
                t.gaplimit,
                t.gapaction
            ),
            (TraceStop::GAPLIMIT, 0, 4, 3, 1),
            "-g 3 -G 1 halts at the third silent hop: {fam:?}"
        );
        assert_eq!(t.probec, 4, "{fam:?}");
        assert_eq!(probe_replies(t), vec![(1, vec![addr(r1)])], "{fam:?}");
        assert!(t.lastditch.is_none(), "{fam:?}: {:?}", t.lastditch);
        // -g 3 -G 2: the same hops, then last-ditch probes to the target, whose first reply ends
        // them; the stop reason stays GAPLIMIT.
        let t = by_tag(2);
        assert_eq!(
            (t.stop_reason, t.hop_count, t.gapaction),
            (TraceStop::GAPLIMIT, 4, 2),
            "{fam:?}"
        );
        assert_eq!(probe_replies(t), vec![(1, vec![addr(r1)])], "{fam:?}");
        let ld = t.lastditch.as_ref().expect("last-ditch probes");
        assert_eq!(ld.len(), 1, "{fam:?}: {ld:?}");
        assert_eq!((ld[0].ttl, ld[0].id), (255, 1), "{fam:?}");
        let r = &ld[0].replies;
        assert_eq!(r.len(), 1, "{fam:?}: {ld:?}");
        let unreach = if v6(fam) { (1, 4) } else { (3, 3) };
        assert_eq!(
            (r[0].addr, r[0].icmp_type, r[0].icmp_code),
            (addr(dst), unreach.0, unreach.1),
            "{fam:?}"
        );
        // JSON (json.md 2.2) does not render last-ditch probes.
        let j = json
            .iter()
            .find(|j| j["userid"] == 10 * (f as u64 + 1) + 2)
            .unwrap();
        assert_eq!(stop(j), ("GAPLIMIT", 0, 4), "{j}");
        assert_eq!(
            replies(j).iter().map(|r| (r.0, r.2)).collect::<Vec<_>>(),
            vec![(1, r1)],
            "{j}"
        );
        // -g 4: three silent hops are tolerated.
        let t = by_tag(3);
        assert_eq!(
            (t.stop_reason, t.hop_count, t.gaplimit, t.probec),
            (TraceStop::COMPLETED, 6, 4, 6),
            "{fam:?}"
        );
        assert_eq!(
            probe_replies(t),
            vec![
                (1, vec![addr(r1)]),
                (5, vec![addr(r5)]),
                (6, vec![addr(dst)])
            ],
            "{fam:?}"
        );
    }
}

/// The address of `role`'s interface towards `towards`.
fn iface_towards(lab: &Lab, fam: Family, role: Role, towards: Role) -> IpAddr {
    let name = lab.ifname_towards(role, towards);
    lab.iface_addrs(role, fam)
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1
}

/// A forwarding loop for one AnyIP address (r2 sends it back to r1, which sends it to r2):
/// the routers alternate and `-l` decides when the repeated addresses stop the trace.
#[test]
fn forwarding_loop_stops_with_loop() {
    if !Lab::require_root() {
        return;
    }
    let lab = lab(2, 2);
    let mut cmds = Vec::new();
    for (f, fam) in Family::BOTH.into_iter().enumerate() {
        let dst = anyip_addr(fam, 7);
        let back = iface_towards(&lab, fam, Role::Router(1), Role::Router(2));
        let plen = if v6(fam) { 128 } else { 32 };
        let out = lab
            .exec(
                Role::Router(2),
                &[
                    "ip",
                    "route",
                    "add",
                    &format!("{dst}/{plen}"),
                    "via",
                    &back.to_string(),
                ],
            )
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        for (i, opts) in ["", "-l 2", "-l 0 -m 6"].iter().enumerate() {
            let tag = 10 * (f + 1) + i + 1;
            cmds.push(format!(
                "trace {opts} -q 1 -w 1 -U {tag} -s {} {dst}",
                42000 + tag
            ));
        }
    }
    let traces = run_json(&lab, &cmds);
    for (f, fam) in Family::BOTH.into_iter().enumerate() {
        // Who answers at TTL 1..=6: r1 from the vp, then r2 and r1 passing the probe to each
        // other (see answers_from for the ICMPv6 source address).
        let r1_first = answers_from(&lab, fam, Role::Router(1), Role::Vp);
        let r1 = answers_from(&lab, fam, Role::Router(1), Role::Router(2));
        let r2 = answers_from(&lab, fam, Role::Router(2), Role::Router(1));
        let want = [r1_first, r2, r1, r2, r1, r2];
        // A loop is an address seen again at a TTL more than one below (consecutive repeats are
        // routers answering twice). IPv4 r1 answers from one address: loops at TTL 3, 4, ...;
        // IPv6 r1 first answers from its vp-facing address: loops at TTL 4, 5, ...
        let first_loop = if v6(fam) { 4 } else { 3 };
        let tag = |i: u64| 10 * (f as u64 + 1) + i;
        let seq = |tr: &Value| replies(tr).iter().map(|r| (r.0, r.2)).collect::<Vec<_>>();
        let upto = |n: u64| {
            (1..=n)
                .map(|t| (t, want[t as usize - 1]))
                .collect::<Vec<_>>()
        };
        let t = tagged(&traces, tag(1));
        assert_eq!(stop(t), ("LOOP", 0, first_loop), "{fam:?} {t}");
        assert_eq!(seq(t), upto(first_loop), "{fam:?} {t}");
        let t = tagged(&traces, tag(2));
        assert_eq!(stop(t), ("LOOP", 0, first_loop + 1), "-l 2: {fam:?} {t}");
        assert_eq!(seq(t), upto(first_loop + 1), "{fam:?} {t}");
        let t = tagged(&traces, tag(3));
        assert_eq!(stop(t), ("HOPLIMIT", 0, 6), "-l 0: {fam:?} {t}");
        assert_eq!(seq(t), upto(6), "{fam:?} {t}");
    }
}

/// `<ms>.<µs3> ms` (cli.md 5).
fn is_rtt(s: &str) -> bool {
    let Some(n) = s.strip_suffix(" ms") else {
        return false;
    };
    match n.split_once('.') {
        Some((ms, us)) => {
            !ms.is_empty()
                && ms.bytes().all(|b| b.is_ascii_digit())
                && us.len() == 3
                && us.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// The text records of a run, keyed by their header line.
fn text_blocks(out: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
    for l in out.lines() {
        if l.starts_with("traceroute from ") {
            blocks.push((l.to_string(), Vec::new()));
        } else {
            let b = blocks
                .last_mut()
                .unwrap_or_else(|| panic!("no header: {out}"));
            b.1.push(l.to_string());
        }
    }
    blocks
}

/// Check one hop line with one reply: `NN  <addr>  <rtt> ms<annotation>`.
fn check_hop_line(line: &str, ttl: u8, from: IpAddr, annotation: &str) {
    let rest = line
        .strip_prefix(&format!("{ttl:2}  {from}  "))
        .unwrap_or_else(|| panic!("{line:?}: want TTL {ttl} from {from}"));
    let rtt = rest
        .strip_suffix(annotation)
        .unwrap_or_else(|| panic!("{line:?}: want {annotation:?}"));
    assert!(is_rtt(rtt), "{line:?}");
}

/// A router rejects forwarded probes to some AnyIP addresses with ICMP unreachables: the trace
/// stops there with UNREACH and the code, and the text output marks the hop (`!H`, `!A`, ...).
#[test]
fn unreachable_stops_with_the_code() {
    if !Lab::require_root() {
        return;
    }
    let lab = lab(2, 2);
    // (reject type, code, text annotation) per family
    let kinds_v4 = [
        ("host-unreachable", 1, " !H"),
        ("net-unreachable", 0, " !N"),
        ("admin-prohibited", 13, " !X"),
    ];
    let kinds_v6 = [
        ("addr-unreachable", 3, " !A"),
        ("no-route", 0, " !N"),
        ("admin-prohibited", 1, " !P"),
    ];
    let mut rules = Vec::new();
    // (family, destination, code, annotation)
    let mut cases = Vec::new();
    for (fam, kinds) in [(Family::V4, kinds_v4), (Family::V6, kinds_v6)] {
        for (i, (kind, code, ann)) in kinds.into_iter().enumerate() {
            let dst = anyip_addr(fam, 20 + i as u32);
            rules.push(if v6(fam) {
                format!("ip6 daddr {dst} reject with icmpv6 type {kind}")
            } else {
                format!("ip daddr {dst} reject with icmp type {kind}")
            });
            cases.push((fam, dst, code, ann));
        }
    }
    // In r2's forward hook: the TTL check comes first, so TTL 2 still expires at r2 and TTL 3
    // gets the unreachable, from r2 too.
    lab.nft(
        Role::Router(2),
        &format!(
            "table inet scrs_unreach {{ chain reject_some {{ type filter hook forward priority 0; \
             policy accept;\n{}\n}}\n}}\n",
            rules.join("\n")
        ),
    )
    .unwrap();
    let cmds: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, dst, _, _))| {
            format!(
                "trace -P icmp -q 1 -w 1 -U {} -s {} {dst}",
                i + 1,
                43000 + i
            )
        })
        .collect();
    let traces = run_json(&lab, &cmds);
    for (i, (fam, dst, code, _)) in cases.iter().enumerate() {
        let tr = tagged(&traces, i as u64 + 1);
        let (r1, r2) = (
            lab.addr(Role::Router(1), *fam),
            lab.addr(Role::Router(2), *fam),
        );
        assert_eq!(stop(tr), ("UNREACH", *code, 3), "{dst}: {tr}");
        let seq: Vec<(u64, IpAddr)> = replies(tr).iter().map(|r| (r.0, r.2)).collect();
        assert_eq!(seq, vec![(1, r1), (2, r2), (3, r2)], "{dst}: {tr}");
        let h = hop_at(tr, 3);
        let unreach = if v6(*fam) { 1 } else { 3 };
        assert_eq!(
            (h["icmp_type"].as_u64(), h["icmp_code"].as_u64()),
            (Some(unreach), Some(*code)),
            "{h}"
        );
    }
    // The same traces in text.
    let mut args = vec!["-p", "1000", "-I"];
    args.extend(cmds.iter().map(String::as_str));
    let run = scamper(&lab, &args, LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    let blocks = text_blocks(&run.stdout);
    assert_eq!(blocks.len(), cases.len(), "{}", run.stdout);
    for (fam, dst, _, ann) in &cases {
        let src = lab.addr(Role::Vp, *fam);
        let header = format!("traceroute from {src} to {dst}");
        let (_, lines) = blocks
            .iter()
            .find(|b| b.0 == header)
            .unwrap_or_else(|| panic!("no {header:?}: {}", run.stdout));
        assert_eq!(lines.len(), 3, "{lines:?}");
        let (r1, r2) = (
            lab.addr(Role::Router(1), *fam),
            lab.addr(Role::Router(2), *fam),
        );
        check_hop_line(&lines[0], 1, r1, "");
        check_hop_line(&lines[1], 2, r2, "");
        check_hop_line(&lines[2], 3, r2, ann);
    }
}

/// Paris traceroute over the ECMP split: every probe of one udp-paris, icmp-paris or tcp trace
/// (all attempts, -Q) goes over one branch, also seen at the join router behind it; different
/// source ports spread udp-paris and tcp traces over both branches. Classic udp changes the
/// destination port per probe, so its probes at the split answer from both branches.
fn paris_keeps_one_branch(fam: Family) {
    if !Lab::require_root() {
        return;
    }
    let lab = lab(2, 2);
    let dst = lab.addr(Role::Target, fam);
    let split = split_ttl(&lab, fam);
    let branches: BTreeSet<IpAddr> = lab.branch_addrs(fam).into_iter().collect();
    const PER_METHOD: usize = 12;
    let paris = ["udp-paris", "icmp-paris", "tcp"];
    let mut cmds = Vec::new();
    for (m, method) in paris.iter().enumerate() {
        for i in 0..PER_METHOD {
            let tag = 100 * (m + 1) + i;
            cmds.push(format!(
                "trace -P {method} -q 3 -Q -w 1 -U {tag} -s {} {dst}",
                44000 + tag
            ));
        }
    }
    // Classic udp: the 20 probes at the split TTL only.
    for (i, d) in [33435, 40000].iter().enumerate() {
        cmds.push(format!(
            "trace -P udp -q 20 -Q -f {split} -m {split} -w 1 -d {d} -U {} -s {} {dst}",
            900 + i,
            45000 + i
        ));
    }
    let traces = run_json(&lab, &cmds);
    let path_len = lab.path(Role::Target, fam).len() as u64;
    for (m, method) in paris.iter().enumerate() {
        let mut seen = BTreeSet::new();
        for i in 0..PER_METHOD {
            let tr = tagged(&traces, (100 * (m + 1) + i) as u64);
            assert_eq!(stop(tr), ("COMPLETED", 0, path_len + 1), "{method}: {tr}");
            // -Q: all 3 attempts at every TTL answered
            assert_eq!(
                replies(tr).len() as u64,
                3 * (path_len + 1),
                "{method}: {tr}"
            );
            check_path(&lab, fam, tr);
            let at_split = addrs_at(tr, split);
            let one: BTreeSet<IpAddr> = at_split.iter().copied().collect();
            assert_eq!(
                one.len(),
                1,
                "{method}: probes took different branches: {tr}"
            );
            assert!(branches.is_superset(&one), "{method}: {at_split:?}");
            let join: BTreeSet<IpAddr> = addrs_at(tr, split + 1).into_iter().collect();
            assert_eq!(join.len(), 1, "{method}: {tr}");
            seen.extend(one);
        }
        // ICMP echoes have no ports for the kernel's L4 hash, so every icmp-paris trace between
        // the same two addresses takes the same branch; the others vary with the source port
        // (12 flows on one branch by chance: 2^-11).
        if *method != "icmp-paris" {
            assert_eq!(
                seen, branches,
                "{method}: {PER_METHOD} source ports, one branch"
            );
        }
    }
    let mut classic = BTreeSet::new();
    for tag in [900, 901] {
        let tr = tagged(&traces, tag);
        assert_eq!(stop(tr), ("HOPLIMIT", 0, split), "{tr}");
        let at_split = addrs_at(tr, split);
        assert_eq!(at_split.len(), 20, "{tr}");
        classic.extend(at_split);
    }
    // 40 flows on one branch by chance: 2^-39.
    assert_eq!(classic, branches, "classic udp: both branches");
}

#[test]
fn paris_keeps_one_branch_ipv4() {
    paris_keeps_one_branch(Family::V4);
}

#[test]
fn paris_keeps_one_branch_ipv6() {
    paris_keeps_one_branch(Family::V6);
}

/// Text output (cli.md 5.1): header, `%2d` and two spaces, one `*` per silent attempt, repeated
/// replies from the same address as bare RTTs, TCP annotations.
#[test]
fn text_output_format() {
    if !Lab::require_root() {
        return;
    }
    // No ECMP: every hop address is exact.
    let lab = lab(2, 0);
    let text = |args: &[&str]| {
        let run = scamper(&lab, args, LIMIT);
        assert!(run.status.success(), "{args:?}: {}", run.stderr);
        let blocks = text_blocks(&run.stdout);
        assert_eq!(blocks.len(), 1, "{}", run.stdout);
        assert!(run.stdout.ends_with('\n'), "{:?}", run.stdout);
        blocks.into_iter().next().unwrap()
    };
    for fam in Family::BOTH {
        let (src, dst) = (lab.addr(Role::Vp, fam), lab.addr(Role::Target, fam));
        let (r1, r2) = (
            lab.addr(Role::Router(1), fam),
            lab.addr(Role::Router(2), fam),
        );
        let header = format!("traceroute from {src} to {dst}");
        let d = dst.to_string();
        // The default command: `trace`, udp-paris.
        let (h, lines) = text(&["-i", &d]);
        assert_eq!(h, header);
        assert_eq!(lines.len(), 3, "{lines:?}");
        check_hop_line(&lines[0], 1, r1, "");
        check_hop_line(&lines[1], 2, r2, "");
        check_hop_line(&lines[2], 3, dst, "");
        for (cmd, ann) in [
            ("trace -P tcp -q 1 -w 1", " [open]"),
            ("trace -P tcp-ack -q 1 -w 1", " [closed]"),
        ] {
            let (h, lines) = text(&["-c", cmd, "-i", &d]);
            assert_eq!(h, header);
            assert_eq!(lines.len(), 3, "{lines:?}");
            check_hop_line(&lines[2], 3, dst, ann);
        }
    }
    silence(&lab, Role::Router(1));
    for fam in Family::BOTH {
        let dst = lab.addr(Role::Target, fam);
        let r2 = lab.addr(Role::Router(2), fam);
        let d = dst.to_string();
        let (_, lines) = text(&["-c", "trace -q 1 -w 1", "-i", &d]);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], " 1  *");
        check_hop_line(&lines[1], 2, r2, "");
        // -Q: a star per silent attempt; a second reply from the same address is its RTT only.
        let (_, lines) = text(&["-c", "trace -q 2 -Q -w 1", "-i", &d]);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0], " 1  * *");
        for (line, ttl, from) in [(&lines[1], 2, r2), (&lines[2], 3, dst)] {
            let rest = line
                .strip_prefix(&format!("{ttl:2}  {from}  "))
                .unwrap_or_else(|| panic!("{line:?}"));
            let (a, b) = rest.split_once("  ").unwrap_or_else(|| panic!("{line:?}"));
            assert!(is_rtt(a) && is_rtt(b), "{line:?}");
        }
    }
}
