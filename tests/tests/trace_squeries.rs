//! trace `-N squeries` on the namespace lab: probing three hops in parallel finds the same
//! routers as probing one at a time and stops at the same hop, keeping the few probes sent
//! beyond it; and the probes for several TTLs leave before the first reply comes back.

mod common;

use scamper_systests::*;
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// One-way delay towards the delay target: a reply from there takes at least this long.
const DELAY: Duration = Duration::from_millis(40);

/// Run the commands side by side (`-I`), `-O json`; each carries `-U <n>` with n its 1-based
/// position, and the records come back in that order.
fn run_json(lab: &Lab, cmds: &[String]) -> Vec<Value> {
    common::run_json(lab, cmds, "trace", LIMIT)
}

/// Replies within the hop count as (probe_ttl, addr), in record order.
fn hops(tr: &Value) -> Vec<(u64, IpAddr)> {
    tr["hops"]
        .as_array()
        .map(|h| h.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|h| {
            (
                h["probe_ttl"].as_u64().unwrap(),
                h["addr"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// Every probe of the record, answered or not, as (probe_ttl, tx in seconds), by TTL.
fn probe_tx(tr: &Value) -> Vec<(u64, f64)> {
    let mut v: Vec<(u64, f64)> = ["hops", "extra_hops", "no_hops", "extra_no_hops"]
        .iter()
        .filter_map(|k| tr[*k].as_array())
        .flatten()
        .map(|h| {
            let tx = &h["tx"];
            (
                h["probe_ttl"].as_u64().unwrap(),
                tx["sec"].as_f64().unwrap() + tx["usec"].as_f64().unwrap() / 1e6,
            )
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v.dedup_by_key(|p| p.0);
    v
}

fn squeries(fam: Family) {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec {
        routers: 3,
        ecmp_branches: 0,
        delay: Some(DELAY),
        ..LabSpec::default()
    })
    .unwrap();
    let dst = lab.addr(Role::Target, fam);
    let slow = lab.addr(Role::DelayTarget, fam);
    let len = lab.path(Role::Target, fam).len() as u64;
    let slow_ttl = lab.path(Role::DelayTarget, fam).len() as u64 + 1;
    let cmds = [
        format!("trace -q 1 -w 1 -s 42001 -U 1 {dst}"),
        format!("trace -N 3 -q 1 -w 1 -s 42002 -U 2 {dst}"),
        // Starting at the delay target's distance: every probe is answered after DELAY.
        format!("trace -N 3 -q 1 -w 2 -f {slow_ttl} -s 42003 -U 3 {slow}"),
    ];
    let tr = run_json(&lab, &cmds);
    let (one, three, far) = (&tr[0], &tr[1], &tr[2]);

    // Same routers and stop as one hop at a time.
    for t in [one, three] {
        assert_eq!(t["stop_reason"], "COMPLETED", "{t}");
        assert_eq!(t["hop_count"], len + 1, "{t}");
    }
    assert_eq!(hops(three), hops(one), "{three}");
    assert_eq!(hops(one).len() as u64, len + 1, "{one}");
    assert_eq!(one["probe_count"], len + 1, "{one}");
    // At most two probes beyond the destination's TTL were out when it answered; they are
    // kept after the stop hop.
    let n = three["probe_count"].as_u64().unwrap();
    assert!((len + 1..=len + 3).contains(&n), "{three}");
    let ttls: Vec<u64> = probe_tx(three).iter().map(|p| p.0).collect();
    assert_eq!(ttls, (1..=n).collect::<Vec<_>>(), "{three}");

    // Three TTLs leave together, long before the first reply can come back.
    assert_eq!(far["stop_reason"], "COMPLETED", "{far}");
    assert_eq!(far["hop_count"], slow_ttl, "{far}");
    assert_eq!(far["probe_count"], 3, "{far}");
    let first = far["hops"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["probe_ttl"] == slow_ttl))
        .unwrap_or_else(|| panic!("no reply at TTL {slow_ttl}: {far}"));
    assert_eq!(first["addr"], slow.to_string(), "{far}");
    assert!(
        first["rtt"].as_f64().unwrap() >= DELAY.as_secs_f64() * 1e3,
        "{far}"
    );
    let tx = probe_tx(far);
    assert_eq!(
        tx.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![slow_ttl, slow_ttl + 1, slow_ttl + 2],
        "{far}"
    );
    let spread = tx.iter().map(|p| p.1).fold(f64::MIN, f64::max) - tx[0].1;
    // One at a time, each probe would wait for the previous reply (at least DELAY); in
    // parallel they all leave before the first reply, whatever the machine's load.
    assert!(spread < DELAY.as_secs_f64(), "sent {spread} s apart: {far}");
}

#[test]
fn squeries_v4() {
    squeries(Family::V4);
}

#[test]
fn squeries_v6() {
    squeries(Family::V6);
}
