//! trace options beyond the basic hop-by-hop walk, on the namespace lab: `-y` in-progress
//! records.

mod common;

use common::scamper;
use scamper_systests::*;
use serde_json::Value;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// A lab without ECMP or the delayed link: every hop address is exact.
fn lab(routers: u8) -> Lab {
    Lab::build(LabSpec {
        routers,
        ecmp_branches: 0,
        delay: None,
        ..LabSpec::default()
    })
    .unwrap()
}

/// Run one trace command per destination with `-O json`; every trace record, in output order.
fn traces(lab: &Lab, cmd: &str, dst: &str) -> Vec<Value> {
    let run = scamper(lab, &["-O", "json", "-c", cmd, "-i", dst], LIMIT);
    assert!(run.status.success(), "{cmd} {dst}: {}", run.stderr);
    run.json()
        .into_iter()
        .filter(|v| v["type"] == "trace")
        .collect()
}

/// `-y 1`: a record with stop reason INPROGRESS after each probe, holding the probes sent so
/// far, and the final record after them. The target is at TTL 3 behind two routers.
#[test]
fn stream_reports_in_progress_records() {
    if !Lab::require_root() {
        return;
    }
    let lab = lab(2);
    for fam in Family::BOTH {
        let dst = lab.addr(Role::Target, fam).to_string();
        let recs = traces(&lab, "trace -q 1 -w 1 -y 1", &dst);
        let got: Vec<(&str, u64)> = recs
            .iter()
            .map(|t| {
                (
                    t["stop_reason"].as_str().unwrap(),
                    t["probe_count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("INPROGRESS", 1),
                ("INPROGRESS", 2),
                ("INPROGRESS", 3),
                ("COMPLETED", 3)
            ],
            "{fam:?}: {recs:?}"
        );
        // The second snapshot already holds the first hop's reply (from r1).
        let r1 = lab.addr(Role::Router(1), fam).to_string();
        assert_eq!(recs[1]["hops"][0]["addr"], r1.as_str(), "{fam:?}");
        // -y 2 over three probes: one snapshot.
        let recs = traces(&lab, "trace -q 1 -w 1 -y 2", &dst);
        let reasons: Vec<&str> = recs
            .iter()
            .map(|t| t["stop_reason"].as_str().unwrap())
            .collect();
        assert_eq!(reasons, ["INPROGRESS", "COMPLETED"], "{fam:?}");
    }
}

/// Lower the r1–r2 link of `lab` to 1280 bytes on both sides.
fn lower_r1_r2(lab: &Lab) {
    for (role, other) in [
        (Role::Router(1), Role::Router(2)),
        (Role::Router(2), Role::Router(1)),
    ] {
        let ifname = lab.ifname_towards(role, other);
        let out = lab
            .exec(role, &["ip", "link", "set", &ifname, "mtu", "1280"])
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

/// The hop lines of one text trace, without the header.
fn text_hops(lab: &Lab, cmd: &str, dst: &str) -> Vec<String> {
    let run = scamper(lab, &["-c", cmd, "-i", dst], LIMIT);
    assert!(run.status.success(), "{cmd} {dst}: {}", run.stderr);
    let mut lines = run.stdout.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("traceroute from")),
        "{}",
        run.stdout
    );
    lines.map(str::to_string).collect()
}

/// `trace -M` text: r1 sends a packet-too-big for the 1280-byte link behind it, so hop 1 is
/// reached with the interface MTU and the hops after it with 1280 (cli.md 5.1). When r1 drops
/// its PTBs, the MTU behind it is an inference: starred.
#[test]
fn pmtud_text_shows_the_mtu_of_each_hop() {
    if !Lab::require_root() {
        return;
    }
    let lab = lab(2);
    lower_r1_r2(&lab);
    let tail = |l: &str| l.split(" ms").last().unwrap_or_default().to_string();
    for fam in Family::BOTH {
        let dst = lab.addr(Role::Target, fam).to_string();
        let lines = text_hops(&lab, "trace -M -q 1 -w 1", &dst);
        let got: Vec<String> = lines.iter().map(|l| tail(l)).collect();
        assert_eq!(
            got,
            [" [mtu: 1500]", " [mtu: 1280]", " [mtu: 1280]"],
            "{fam:?}: {lines:?}"
        );
    }
    lab.nft(
        Role::Router(1),
        "table inet scrs_noptb {
           chain out {
             type filter hook output priority 0; policy accept;
             icmp type destination-unreachable drop
             icmpv6 type packet-too-big drop
           }
         }",
    )
    .unwrap();
    for fam in Family::BOTH {
        let dst = lab.addr(Role::Target, fam).to_string();
        let lines = text_hops(&lab, "trace -M -q 1 -w 1", &dst);
        let got: Vec<String> = lines.iter().map(|l| tail(l)).collect();
        assert_eq!(
            got,
            [" [mtu: 1500]", " [*mtu: 1280]", " [*mtu: 1280]"],
            "{fam:?}: {lines:?}"
        );
    }
}
