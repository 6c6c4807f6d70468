//! Path-MTU discovery on the namespace lab: `trace -M` finds a link lowered to 1280 bytes and
//! the router before it, from the router's packet-too-big or, when the router sends none (a
//! black hole), by inference; `ping -M` tells the target that its large replies did not fit,
//! and the target then keeps the smaller MTU for its way back to us.

mod common;

use common::scamper;
use scamper_systests::*;
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);
const LOW_MTU: u64 = 1280;

/// vp – r1 – r2 – tgt with the r1–r2 link lowered to 1280 bytes on both sides.
fn lab_with_low_link() -> Lab {
    let lab = Lab::build(LabSpec {
        routers: 2,
        ..LabSpec::single_path()
    })
    .unwrap();
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
    lab
}

/// Make r1 a black hole: it drops the packet-too-big messages it would send.
fn silence_ptbs(lab: &Lab) {
    for rule in [
        "add table inet pmtud",
        "add chain inet pmtud out { type filter hook output priority 0 ; }",
        "add rule inet pmtud out icmp type destination-unreachable drop",
        "add rule inet pmtud out icmpv6 type packet-too-big drop",
    ] {
        let mut args = vec!["nft"];
        args.extend(rule.split(' '));
        let out = lab.exec(Role::Router(1), &args).unwrap();
        assert!(out.status.success(), "nft {rule}: {out:?}");
    }
}

fn target(fam: Family) -> IpAddr {
    match fam {
        Family::V4 => TARGET_V4.into(),
        Family::V6 => TARGET_V6.into(),
    }
}

/// Run the commands side by side with JSON output; records of `kind` by their `-U` tag.
fn run_json(lab: &Lab, cmds: &[String], kind: &str) -> Vec<Value> {
    common::run_json(lab, cmds, kind, LIMIT)
}

fn addr(v: &Value) -> IpAddr {
    v.as_str().and_then(|s| s.parse().ok()).expect("an address")
}

#[test]
fn trace_finds_the_mtu_from_packet_too_big() {
    if !Lab::require_root() {
        return;
    }
    let lab = lab_with_low_link();
    let fams = [Family::V4, Family::V6];
    // UDP and ICMP probes: both solicit answers the destination can send back
    let cmds: Vec<String> = fams
        .iter()
        .enumerate()
        .map(|(i, &f)| {
            let m = if f == Family::V4 {
                "udp-paris"
            } else {
                "icmp-paris"
            };
            format!("trace -M -P {m} -q 1 -w 1 -U {i} {}", target(f))
        })
        .collect();
    let recs = run_json(&lab, &cmds, "trace");
    for (fam, tr) in fams.iter().zip(&recs) {
        assert_eq!(tr["stop_reason"], "COMPLETED", "{tr}");
        assert!(
            tr["flags"].as_array().unwrap().iter().any(|f| f == "pmtud"),
            "{tr}"
        );
        let pm = &tr["pmtud"];
        assert_eq!(pm["path_mtu"], LOW_MTU, "{fam:?} {pm}");
        assert_eq!(pm["if_mtu"], 1500, "{fam:?} {pm}");
        let notes = pm["notes"].as_array().expect("notes");
        assert_eq!(notes.len(), 1, "{fam:?} {pm}");
        let n = &notes[0];
        assert_eq!(n["type"], "ptb", "{fam:?} {pm}");
        assert_eq!(
            (&n["nhmtu"], &n["icmp_nhmtu"]),
            (&LOW_MTU.into(), &LOW_MTU.into())
        );
        // r1 sent it: the hop before the low link, the first hop of the trace
        assert_eq!(addr(&n["addr"]), lab.addr(Role::Router(1), *fam), "{pm}");
        assert_eq!(n["dist"], 1, "{fam:?} {pm}");
        // a 1500-byte probe drew the PTB, a 1280-byte one reached the target
        let hops = pm["hops"].as_array().unwrap();
        assert_eq!(hops[0]["probe_size"], 1500, "{pm}");
        let last = hops.last().unwrap();
        assert_eq!(
            (addr(&last["addr"]), &last["probe_size"]),
            (target(*fam), &LOW_MTU.into()),
            "{pm}"
        );
    }
}

#[test]
fn trace_infers_a_black_hole_and_the_hop_before_it() {
    if !Lab::require_root() {
        return;
    }
    let lab = lab_with_low_link();
    silence_ptbs(&lab);
    let fams = [Family::V4, Family::V6];
    let cmds: Vec<String> = fams
        .iter()
        .enumerate()
        .map(|(i, &f)| format!("trace -M -P udp -q 1 -w 1 -U {i} {}", target(f)))
        .collect();
    let recs = run_json(&lab, &cmds, "trace");
    for (fam, tr) in fams.iter().zip(&recs) {
        let pm = &tr["pmtud"];
        assert_eq!(pm["path_mtu"], LOW_MTU, "{fam:?} {pm}");
        let notes = pm["notes"].as_array().expect("notes");
        assert_eq!(notes.len(), 1, "{fam:?} {pm}");
        let n = &notes[0];
        // nothing said so: the size was narrowed down, and the last router that still
        // answered a 1281-byte probe is r1
        assert_eq!(
            (&n["type"], &n["nhmtu"], &n["dist"]),
            (&"silence".into(), &LOW_MTU.into(), &1.into()),
            "{fam:?} {pm}"
        );
        assert_eq!(addr(&n["addr"]), lab.addr(Role::Router(1), *fam), "{pm}");
        let hops = pm["hops"].as_array().unwrap();
        assert!(
            hops.iter()
                .any(|h| h["probe_ttl"] == 1 && h["probe_size"] == LOW_MTU + 1),
            "{pm}"
        );
        assert!(pm.get("no_hops").is_some(), "lost probes are listed: {pm}");
    }
}

#[test]
fn ping_pseudo_mtu_makes_the_target_lower_its_mtu() {
    if !Lab::require_root() {
        return;
    }
    // no low link: the PTB is the only reason for the target to think the path is smaller
    let lab = Lab::build(LabSpec {
        routers: 1,
        ..LabSpec::single_path()
    })
    .unwrap();
    let fams = [Family::V4, Family::V6];
    let cmds: Vec<String> = fams
        .iter()
        .enumerate()
        .map(|(i, &f)| format!("ping -c 3 -i 0.2 -s 1400 -M 1280 -U {i} {}", target(f)))
        .collect();
    let recs = run_json(&lab, &cmds, "ping");
    for (fam, p) in fams.iter().zip(&recs) {
        let replies = p["responses"].as_array().unwrap();
        assert_eq!(replies.len(), 3, "{fam:?} {p}");
        // -M pings read their replies from the datalink (scamper_ping_do.c ping_dltx and
        // do_ping_handle_dl, which takes the first fragment and its IP size): the first
        // reply is whole, the later ones come fragmented to fit the pseudo MTU.
        assert_eq!(replies[0]["reply_size"], 1400, "{fam:?} {p}");
        for r in &replies[1..] {
            let size = r["reply_size"].as_u64().unwrap_or(0);
            assert!(size > 1200 && size <= LOW_MTU, "{fam:?} {r}");
        }
        // The target learned MTU 1280 towards the vantage point from our packet too big.
        let vp = match fam {
            Family::V4 => VP_V4.to_string(),
            Family::V6 => VP_V6.to_string(),
        };
        let out = lab
            .exec(Role::Target, &["ip", "route", "get", &vp])
            .unwrap();
        let route = String::from_utf8_lossy(&out.stdout);
        assert!(route.contains("mtu 1280"), "{fam:?}: {route}");
    }
}

/// `-M` given through `-c` with `-i` runs (it was refused at start-up before PMTUD existed);
/// on a path of 1500-byte links the first probe gets through and nothing needs a note.
#[test]
fn trace_m_from_the_command_line_on_a_clear_path() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec {
        routers: 1,
        ..LabSpec::single_path()
    })
    .unwrap();
    let dst = target(Family::V4).to_string();
    let run = scamper(
        &lab,
        &["-O", "json", "-c", "trace -q 1 -M -w 1", "-i", &dst],
        LIMIT,
    );
    assert!(run.status.success(), "{}", run.stderr);
    let tr = run
        .json()
        .into_iter()
        .find(|v| v["type"] == "trace")
        .expect("a trace record");
    let pm = &tr["pmtud"];
    assert_eq!(
        (&pm["path_mtu"], &pm["notec"]),
        (&1500.into(), &0.into()),
        "{tr}"
    );
    assert_eq!(pm["hops"].as_array().map(Vec::len), Some(1), "{tr}");
}
