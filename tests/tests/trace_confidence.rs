//! trace `-c confidence` on the namespace lab, whose split router spreads flows over three
//! ECMP branches (L4 hashing). Classic UDP probes (`-P udp`) vary the destination port with
//! every probe, so the probes of one hop take different branches: with `-c 95` the trace keeps
//! probing the split hop until the stopping rule is met for the branches it has seen, and so
//! finds all three, while every hop with one router gets the rule's six probes.
//!
//! Which branch a flow takes depends on the kernel's hash, which is random per boot. To stay
//! deterministic the test first asks the lab: a `-Q -q 20` trace limited to the split hop
//! sends the very flows (same ports) the `-c` trace's probes at that hop will use, and shows
//! the branch each takes. From that the test predicts, probe by probe, the addresses the `-c`
//! trace must record at the split hop and how many probes the rule gives it. The records are
//! read from warts, which keeps the confidence (JSON does not show it).

mod common;

use common::{scamper, TempDir};
use scamper_systests::*;
use scamper_warts::trace::{Trace, TraceStop};
use scamper_warts::{Addr, Record};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// Base UDP destination port of every trace here (the default, given explicitly).
const DPORT: u16 = 33435;

/// Probes the rule gives a hop that has shown `m` interfaces, for up to four (restated from
/// the rule, independently of the implementation under test): enough probes to miss one of
/// m + 1 equally likely interfaces with at most 5 % (1 %) probability.
fn rule(confidence: u8, m: usize) -> usize {
    let table: [usize; 4] = if confidence == 95 {
        [6, 11, 16, 21]
    } else {
        [8, 15, 21, 28]
    };
    table[m.max(1) - 1]
}

/// Apply the rule to the addresses a hop's probes would get, in order: how many probes the
/// hop gets, or `None` if the sequence is too short to tell.
fn probes_by_rule(confidence: u8, seq: &[IpAddr]) -> Option<usize> {
    let mut seen = BTreeSet::new();
    for (i, a) in seq.iter().enumerate() {
        seen.insert(*a);
        if i + 1 >= rule(confidence, seen.len()) {
            return Some(i + 1);
        }
    }
    None
}

/// Run `cmds` side by side (`-I`) with warts output; the trace records by userid 1..=n, where
/// each command carries `-U <its 1-based position>`.
fn run_warts(lab: &Lab, cmds: &[String]) -> Vec<Trace> {
    let dir = TempDir::new("trconf");
    let out = dir.path("out.warts");
    let out_s = out.to_string_lossy().to_string();
    let mut args = vec!["-O", "warts", "-o", &out_s, "-p", "1000", "-I"];
    args.extend(cmds.iter().map(String::as_str));
    let run = scamper(lab, &args, LIMIT);
    assert!(run.status.success(), "scamper {cmds:?}: {}", run.stderr);
    let traces = common::warts_traces(&out);
    (1..=cmds.len() as u32)
        .map(|tag| {
            traces
                .iter()
                .find(|t| t.userid == tag)
                .unwrap_or_else(|| panic!("no record with userid {tag}"))
                .clone()
        })
        .collect()
}

fn ip_of(a: &Addr) -> IpAddr {
    match a {
        Addr::V4(a) => IpAddr::V4(*a),
        Addr::V6(a) => IpAddr::V6(*a),
        other => panic!("not an IP address: {other:?}"),
    }
}

/// The reply addresses at `ttl` by attempt (probe id), in attempt order; warts keeps only
/// answered probes, so every entry has one.
fn replies_at(tr: &Trace, ttl: u8) -> Vec<(u8, IpAddr)> {
    let mut v: Vec<(u8, IpAddr)> = tr
        .probes
        .iter()
        .filter(|p| p.ttl == ttl)
        .flat_map(|p| {
            p.replies
                .iter()
                .map(move |r| (p.id, ip_of(r.addr.as_ref().unwrap())))
        })
        .collect();
    v.sort_by_key(|r| r.0);
    v
}

fn distinct(replies: &[(u8, IpAddr)]) -> BTreeSet<IpAddr> {
    replies.iter().map(|r| r.1).collect()
}

/// Every hop of a complete `-c` trace in the lossless lab: one answer per probe, attempts
/// numbered 1..=n, and n what the rule gives for the addresses the hop showed. Returns the
/// total of probes.
fn check_every_hop_follows_the_rule(tr: &Trace, confidence: u8) -> usize {
    let mut total = 0;
    for ttl in 1..=tr.hop_count as u8 {
        let r = replies_at(tr, ttl);
        let ids: Vec<u8> = r.iter().map(|x| x.0).collect();
        let n = r.len();
        assert_eq!(ids, (1..=n as u8).collect::<Vec<_>>(), "TTL {ttl}: {r:?}");
        assert_eq!(
            n,
            rule(confidence, distinct(&r).len()),
            "TTL {ttl}, -c {confidence}: {r:?}"
        );
        total += n;
    }
    total
}

/// The -c 95 trace sees every branch at the split hop, exactly as predicted probe by probe;
/// every other hop gets the rule's count; the record keeps confidence 95, -q's attempts and
/// the probe count; the JSON rendering of the record lists every probe, and the text output's
/// split hop line every reply.
fn ecmp_hop_is_enumerated(fam: Family) {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec {
        routers: 2,
        ecmp_branches: 3,
        delay: None,
        tcp_listener: false,
    })
    .unwrap();
    let dst = lab.addr(Role::Target, fam);
    let path = lab.path(Role::Target, fam);
    let split = 1 + path.iter().position(|h| h.len() > 1).expect("an ECMP hop");
    let branches: BTreeSet<IpAddr> = lab.branch_addrs(fam).into_iter().collect();
    assert_eq!(branches.len(), 3);
    assert_eq!(
        path[split - 1].iter().copied().collect::<BTreeSet<_>>(),
        branches
    );

    // Hops before the split have one router each and get 6 probes, so the -c trace's probes
    // at the split hop have the global indices 6 * (split - 1) and on: classic UDP probe i
    // goes to port DPORT + i. The prediction traces send those ports at the split TTL.
    let first = (6 * (split - 1)) as u16;
    let sports: Vec<u16> = (0..8).map(|i| 42001 + i).collect();
    let cmds: Vec<String> = sports
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "trace -P udp -Q -q 20 -w 1 -f {split} -m {split} -s {s} -d {} -U {} {dst}",
                DPORT + first,
                i + 1
            )
        })
        .collect();
    let predicted = run_warts(&lab, &cmds);
    // The first source port whose flows reveal every branch within the rule's probes.
    let (sport, seq, k) = sports
        .iter()
        .zip(&predicted)
        .find_map(|(s, tr)| {
            let r = replies_at(tr, split as u8);
            if r.len() != 20 {
                return None;
            }
            let seq: Vec<IpAddr> = r.iter().map(|x| x.1).collect();
            let k = probes_by_rule(95, &seq)?;
            let seen: BTreeSet<IpAddr> = seq[..k].iter().copied().collect();
            (seen == branches).then(|| (*s, seq[..k].to_vec(), k))
        })
        .unwrap_or_else(|| panic!("{fam:?}: no source port shows all branches: {predicted:?}"));
    assert_eq!(k, 16, "three interfaces at 95 %");

    let cmd = format!("trace -P udp -c 95 -w 1 -s {sport} -d {DPORT} -U 1 {dst}");
    let tr = run_warts(&lab, &[cmd]).remove(0);
    assert_eq!(
        (tr.stop_reason, tr.hop_count as usize),
        (TraceStop::COMPLETED, path.len() + 1),
        "{fam:?}: {tr:?}"
    );
    assert_eq!((tr.confidence, tr.attempts), (95, 2));
    let at_split: Vec<IpAddr> = replies_at(&tr, split as u8).iter().map(|r| r.1).collect();
    assert_eq!(at_split, seq, "{fam:?}: split hop as predicted");
    for (ttl, hop) in path.iter().enumerate().take(split - 1) {
        let r = replies_at(&tr, ttl as u8 + 1);
        assert_eq!(r.len(), 6, "{fam:?} TTL {}", ttl + 1);
        assert_eq!(distinct(&r), hop.iter().copied().collect(), "{fam:?}");
    }
    let last = replies_at(&tr, tr.hop_count as u8);
    assert_eq!(last.len(), 6);
    assert_eq!(distinct(&last), BTreeSet::from([dst]));
    let total = check_every_hop_follows_the_rule(&tr, 95);
    assert_eq!(
        usize::from(tr.probec),
        total,
        "{fam:?}: every probe answered"
    );

    // JSON of the same record: every probe is a hop entry, up to attempt 16 at the split.
    let json = scamper_warts::json::to_json(&Record::Trace(Box::new(tr.clone())))
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["probe_count"].as_u64(), Some(total as u64));
    assert_eq!(v["attempts"].as_u64(), Some(2));
    let split_ids: Vec<u64> = v["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["probe_ttl"] == split as u64)
        .map(|h| h["probe_id"].as_u64().unwrap())
        .collect();
    assert_eq!(split_ids, (1..=16).collect::<Vec<u64>>());

    // Text output of the same trace (same flows, same branches): the split hop's line has
    // the 16 replies and names every branch.
    let cmd = format!("trace -P udp -c 95 -w 1 -s {sport} -d {DPORT}");
    let run = scamper(&lab, &["-c", &cmd, "-i", &dst.to_string()], LIMIT);
    assert!(run.status.success(), "{cmd}: {}", run.stderr);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("{split:2}  ")))
        .unwrap_or_else(|| panic!("no hop {split} line: {}", run.stdout));
    assert_eq!(line.matches(" ms").count(), 16, "{line}");
    for b in &branches {
        assert!(line.contains(&format!("{b}  ")), "{b} missing: {line}");
    }
}

#[test]
fn ecmp_hop_is_enumerated_v4() {
    ecmp_hop_is_enumerated(Family::V4);
}

#[test]
fn ecmp_hop_is_enumerated_v6() {
    ecmp_hop_is_enumerated(Family::V6);
}

/// `-c 99` with ICMP echo probes: whatever branches the kernel's hash gives them, each hop's
/// probe count is the 99 % rule's for the addresses it showed (8 for a single router), and the
/// record keeps 99. `-c 95` next to it on another source port gets the 95 % counts.
#[test]
fn levels_95_and_99_on_both_families() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec {
        routers: 2,
        ecmp_branches: 2,
        delay: None,
        tcp_listener: false,
    })
    .unwrap();
    for fam in Family::BOTH {
        let dst = lab.addr(Role::Target, fam);
        let cmds = vec![
            format!("trace -P icmp -c 99 -q 1 -w 1 -s 43001 -U 1 {dst}"),
            format!("trace -P udp-paris -c 95 -w 1 -s 43002 -U 2 {dst}"),
        ];
        let traces = run_warts(&lab, &cmds);
        for (tr, c) in traces.iter().zip([99u8, 95]) {
            assert_eq!(tr.stop_reason, TraceStop::COMPLETED, "{fam:?} -c {c}");
            assert_eq!(tr.confidence, c);
            let total = check_every_hop_follows_the_rule(tr, c);
            assert_eq!(usize::from(tr.probec), total);
            let single = rule(c, 1);
            assert_eq!(replies_at(tr, 1).len(), single, "{fam:?} -c {c}");
            assert_eq!(replies_at(tr, tr.hop_count as u8).len(), single);
        }
        // Paris UDP keeps one flow, so one branch answers at the split hop.
        let split = 1 + lab
            .path(Role::Target, fam)
            .iter()
            .position(|h| h.len() > 1)
            .unwrap();
        assert_eq!(distinct(&replies_at(&traces[1], split as u8)).len(), 1);
    }
}

/// Values other than 95 and 99, and -c with -Q, are refused with scamper's reasons.
#[test]
fn invalid_confidence_is_refused() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dst = lab.addr(Role::Target, Family::V4).to_string();
    for (cmd, reason) in [
        ("trace -c 90", "confidence must be 95 or 99"),
        ("trace -c x", "confidence must be 95 or 99"),
        (
            "trace -c 95 -Q",
            "cannot set both all-attempts and confidence",
        ),
    ] {
        let run = scamper(&lab, &["-c", cmd, "-i", &dst], LIMIT);
        assert!(!run.status.success(), "{cmd}: {}", run.stdout);
        assert!(run.stderr.contains(reason), "{cmd}: {}", run.stderr);
    }
}
