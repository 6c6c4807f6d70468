//! `trace -o offset` on the namespace lab: the probes are lone non-first fragments at the
//! offset, each with its own IP-ID (IPv4) or fragment identification (IPv6). The target never
//! holds the first fragment, so it cannot reassemble and stays silent: the trace ends at the gap
//! limit.
//!
//! IPv6 routers answer fragments whose hop limit runs out with time exceeded (RFC 4443 makes no
//! exception for fragments); the errors quote no transport header, so the hops are found by the
//! quoted fragment identification. IPv4 routers must not send ICMP errors about non-first
//! fragments (RFC 1122 §3.2.2) and Linux does not: there the lab shows that the fragments go
//! out as asked (offset 8, distinct IP-IDs, seen by the first router) and that the trace ends at
//! the gap limit without hops.

mod common;

use common::{scamper, TempDir};
use scamper_systests::*;
use scamper_warts::trace::Trace;
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);
/// The default gap limit: silent hops after the last router before the trace stops.
const GAPLIMIT: u64 = 5;

/// Run `trace -o 8 -q 1 -w 1` to the target; the warts record and its JSON.
fn offset_trace(lab: &Lab, fam: Family) -> (Trace, Value) {
    let dst_s = lab.addr(Role::Target, fam).to_string();
    let tmp = TempDir::new("trace-offset");
    let file = tmp.path("out.warts");
    let file_s = file.to_str().unwrap();
    let run = scamper(
        lab,
        &[
            "-O",
            "warts",
            "-o",
            file_s,
            "-c",
            "trace -o 8 -q 1 -w 1",
            "-i",
            &dst_s,
        ],
        LIMIT,
    );
    assert!(run.status.success(), "scamper: {}", run.stderr);
    let mut records: Vec<Trace> = common::warts_traces(&file);
    let mut json = common::warts2json(&file, "trace");
    assert_eq!((records.len(), json.len()), (1, 1), "{json:?}");
    let (tr, js) = (records.remove(0), json.remove(0));
    // The record keeps the offset (warts trace field 29; JSON has no key for it).
    assert_eq!(tr.offset, 8);
    assert_eq!(js["dst"], dst_s, "{js}");
    assert_eq!(js["method"], "udp-paris", "{js}");
    (tr, js)
}

fn lab(routers: u8) -> Lab {
    Lab::build(LabSpec {
        routers,
        ecmp_branches: 0,
        delay: None,
        ..LabSpec::default()
    })
    .unwrap()
}

fn stop(tr: &Value) -> (Option<&str>, Option<u64>, Option<u64>) {
    (
        tr["stop_reason"].as_str(),
        tr["hop_count"].as_u64(),
        tr["probe_count"].as_u64(),
    )
}

#[test]
fn offset_ipv6_routers_matched_by_fragment_id() {
    if !Lab::require_root() {
        return;
    }
    let lab = lab(3);
    let fam = Family::V6;
    let dst = lab.addr(Role::Target, fam);
    let path = lab.path(Role::Target, fam);
    let routers = path.len() as u64;
    let (_, tr) = offset_trace(&lab, fam);
    assert_eq!(
        stop(&tr),
        (
            Some("GAPLIMIT"),
            Some(routers + GAPLIMIT),
            Some(routers + GAPLIMIT)
        ),
        "{tr}"
    );
    // One reply per router at its TTL, matched by the quoted fragment identification; nothing
    // from the target.
    let hops = tr["hops"].as_array().expect("hops");
    assert_eq!(hops.len() as u64, routers, "{tr}");
    for (i, h) in hops.iter().enumerate() {
        let ttl = i as u64 + 1;
        let addr: IpAddr = h["addr"].as_str().unwrap().parse().unwrap();
        assert!(
            path[i].contains(&addr),
            "TTL {ttl}: {addr} not in {:?}",
            path[i]
        );
        assert_ne!(addr, dst, "{h}");
        assert_eq!(
            (
                h["probe_ttl"].as_u64(),
                h["probe_id"].as_u64(),
                h["icmp_type"].as_u64(),
                h["icmp_code"].as_u64(),
                h["icmp_q_ttl"].as_u64(),
            ),
            (Some(ttl), Some(1), Some(3), Some(0), Some(1)),
            "{h}"
        );
        // The 60-byte probe plus its 8-byte fragment header, as sent and as quoted.
        assert_eq!(
            (h["probe_size"].as_u64(), h["icmp_q_ipl"].as_u64()),
            (Some(68), Some(68)),
            "{h}"
        );
    }
}

#[test]
fn offset_ipv4_fragments_leave_with_distinct_ids() {
    if !Lab::require_root() {
        return;
    }
    let lab = lab(2);
    // The first router collects the IP-IDs of the fragments at offset 8 that reach it.
    lab.nft(
        Role::Router(1),
        "table ip scrs_frag {\n\
         \tset ids { typeof ip id; size 65535; flags dynamic; }\n\
         \tchain pre {\n\
         \t\ttype filter hook prerouting priority -450; policy accept;\n\
         \t\tip frag-off & 0x1fff == 8 add @ids { ip id } counter\n\
         \t}\n\
         }\n",
    )
    .unwrap();
    let (rec, tr) = offset_trace(&lab, Family::V4);
    // No router answers a non-first fragment and the target cannot reassemble it: every hop
    // is silent and the default gap limit ends the trace.
    assert_eq!(
        stop(&tr),
        (Some("GAPLIMIT"), Some(GAPLIMIT), Some(GAPLIMIT)),
        "{tr}"
    );
    assert!(tr.get("hops").is_none(), "{tr}");
    assert_eq!((u64::from(rec.probec), rec.probes.len()), (GAPLIMIT, 0));
    let out = lab
        .exec(
            Role::Router(1),
            &["nft", "list", "table", "ip", "scrs_frag"],
        )
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let elems = text
        .split("elements = {")
        .nth(1)
        .and_then(|e| e.split('}').next())
        .unwrap_or_else(|| panic!("no IP-IDs recorded: {text}"));
    let ids: std::collections::BTreeSet<u64> = elems
        .split(',')
        .map(|e| {
            e.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{e:?} in {text}"))
        })
        .collect();
    assert_eq!(ids.len() as u64, GAPLIMIT, "one IP-ID per probe: {text}");
    assert!(!ids.contains(&0), "{text}");
    assert!(
        text.contains(&format!("counter packets {GAPLIMIT} ")),
        "{text}"
    );
    // The silence is the router's (RFC 1122), not lost replies: it sent no time exceeded.
    assert_eq!(icmp_out_time_exceeded(&lab, Role::Router(1)), 0);
}

/// `Icmp: OutTimeExcds` of `role`'s namespace.
fn icmp_out_time_exceeded(lab: &Lab, role: Role) -> u64 {
    let out = lab.exec(role, &["cat", "/proc/net/snmp"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut icmp = text.lines().filter(|l| l.starts_with("Icmp:"));
    let (names, values) = (icmp.next().unwrap(), icmp.next().unwrap());
    let at = names
        .split_whitespace()
        .position(|n| n == "OutTimeExcds")
        .unwrap();
    values.split_whitespace().nth(at).unwrap().parse().unwrap()
}
