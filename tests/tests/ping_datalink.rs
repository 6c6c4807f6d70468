//! ping and trace through the datalink on the namespace lab: `-O dl` (datalink transmit and
//! receive timestamps), `-O sockrx`, `-O dltx` (probes sent as frames), and `-r` (frames to a
//! chosen router), on IPv4 and IPv6, with the flags scamper records for each; and the errors
//! scamper gives when the router cannot be reached.

mod common;

use common::scamper;
use scamper_systests::*;
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn target(fam: Family) -> IpAddr {
    match fam {
        Family::V4 => IpAddr::V4(TARGET_V4),
        Family::V6 => IpAddr::V6(TARGET_V6),
    }
}

fn lab() -> Option<Lab> {
    if !Lab::require_root() {
        return None;
    }
    Some(Lab::build(LabSpec::single_path()).unwrap())
}

/// Run one ping command per line (`-I`), return the records in command order (matched by
/// the user id each command is given with `-U`; `-F` gives each its own ICMP id, so they run
/// side by side).
fn pings(lab: &Lab, cmds: &[String]) -> Vec<Value> {
    let mut args = vec!["-O", "json", "-p", "200", "-I"];
    args.extend(cmds.iter().map(String::as_str));
    let run = scamper(lab, &args, LIMIT);
    assert!(run.status.success(), "scamper failed: {}", run.stderr);
    let recs = run.pings();
    assert_eq!(recs.len(), cmds.len(), "{}", run.stdout);
    if std::env::var_os("SCRS_DEBUG").is_some() {
        eprintln!("{}", run.stderr);
    }
    cmds.iter()
        .map(|c| {
            let userid: u64 = c
                .split_whitespace()
                .skip_while(|w| *w != "-U")
                .nth(1)
                .and_then(|v| v.parse().ok())
                .expect("every command has -U");
            recs.iter()
                .find(|r| r["userid"].as_u64() == Some(userid))
                .unwrap_or_else(|| panic!("no record for {c}: {}", run.stdout))
                .clone()
        })
        .collect()
}

fn reply_flags(r: &Value) -> Vec<String> {
    r["reply_flags"]
        .as_array()
        .map(|a| a.iter().map(|f| f.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Every probe answered by the target with an echo reply whose flags are `flags`.
fn assert_replies(fam: Family, what: &str, ping: &Value, count: usize, flags: &[&str]) {
    assert_eq!(ping["stop_reason"], "done", "{what}: {ping}");
    assert_eq!(
        ping["ping_sent"].as_u64(),
        Some(count as u64),
        "{what}: {ping}"
    );
    let replies = ping["responses"].as_array().expect("responses");
    assert_eq!(replies.len(), count, "{what}: one reply per probe: {ping}");
    let dst = target(fam).to_string();
    for r in replies {
        assert_eq!(r["from"], dst.as_str(), "{what}: {r}");
        assert_eq!(
            r["icmp_type"],
            if fam == Family::V4 { 0 } else { 129 },
            "{what}: {r}"
        );
        assert_eq!(reply_flags(r), flags, "{what}: {r}");
        // Replies that came through the datalink name the interface they arrived on.
        assert_eq!(r["ifname"], "e-r1", "{what}: {r}");
        let rtt = r["rtt"].as_f64().expect("rtt");
        assert!(rtt > 0.0 && rtt < 1000.0, "{what}: rtt {rtt}");
    }
}

/// `-O dl`: the probes' transmit times and the replies' receive times come from the
/// datalink (reply flags dltxts and dlrxts). With `-O sockrx` the ICMP replies are read from
/// the socket (no dlrxts) while transmit times still come from the datalink. `-O dltx` sends
/// the probes as frames: on Linux the sending socket does not see its own frames, so scamper
/// records only receive timestamps there.
fn dl_options(fam: Family) {
    let Some(lab) = lab() else { return };
    let dst = target(fam);
    let cmds = [
        format!("ping -c 3 -i 0.2 -F 41001 -U 1 -O dl {dst}"),
        format!("ping -c 3 -i 0.2 -F 41002 -U 2 -O dl -O sockrx {dst}"),
        format!("ping -c 3 -i 0.2 -F 41003 -U 3 -O dltx {dst}"),
        format!("ping -c 3 -i 0.2 -F 41004 -U 4 -O dltx -O sockrx {dst}"),
        format!("ping -c 3 -i 0.2 -F 41005 -U 5 {dst}"),
    ];
    let recs = pings(&lab, &cmds);
    assert_replies(fam, "-O dl", &recs[0], 3, &["dltxts", "dlrxts"]);
    assert_replies(fam, "-O dl -O sockrx", &recs[1], 3, &["dltxts"]);
    assert_replies(fam, "-O dltx", &recs[2], 3, &["dlrxts"]);
    assert_replies(fam, "-O dltx -O sockrx", &recs[3], 3, &[]);
    assert_replies(fam, "plain", &recs[4], 3, &[]);
    for (rec, flags) in recs.iter().zip(["dl", "dl sockrx", "dltx", "sockrx dltx"]) {
        let got: Vec<&str> = rec["flags"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(got.join(" "), flags, "{rec}");
    }
}

#[test]
fn dl_options_ipv4() {
    dl_options(Family::V4);
}

#[test]
fn dl_options_ipv6() {
    dl_options(Family::V6);
}

/// `-r`: frames go to the router's link-layer address. The lab's first router works, and so
/// does the second (not a neighbour: its frames go to the route's gateway, as scamper does).
fn rtr_works(fam: Family) {
    let Some(lab) = lab() else { return };
    let dst = target(fam);
    let r1 = lab.addr(Role::Router(1), fam);
    let r2 = lab.addr(Role::Router(2), fam);
    let cmds = [
        format!("ping -c 2 -i 0.2 -F 41011 -U 11 -r {r1} {dst}"),
        format!("ping -c 2 -i 0.2 -F 41012 -U 12 -r {r2} {dst}"),
        format!("ping -c 2 -i 0.2 -F 41013 -U 13 -r {r1} -O dl {dst}"),
    ];
    let recs = pings(&lab, &cmds);
    assert_replies(fam, "-r r1", &recs[0], 2, &["dlrxts"]);
    assert_replies(fam, "-r r2", &recs[1], 2, &["dlrxts"]);
    assert_replies(fam, "-r r1 -O dl", &recs[2], 2, &["dlrxts"]);
    assert_eq!(recs[0]["rtr"], r1.to_string().as_str(), "{}", recs[0]);
    assert_eq!(recs[1]["rtr"], r2.to_string().as_str(), "{}", recs[1]);
}

#[test]
fn rtr_ipv4() {
    rtr_works(Family::V4);
}

#[test]
fn rtr_ipv6() {
    rtr_works(Family::V6);
}

/// A router address on the vantage point's link that nobody answers for: neighbour discovery
/// gets no answer and the ping stops with scamper's error, having sent nothing.
fn rtr_unreachable(fam: Family) {
    let Some(lab) = lab() else { return };
    let dst = target(fam);
    let absent: IpAddr = match fam {
        Family::V4 => "192.0.2.6".parse().unwrap(),
        Family::V6 => "2001:db8::6".parse().unwrap(),
    };
    // No route at all: the kernel's answer is the error, as scamper reports it.
    let unroutable: IpAddr = match fam {
        Family::V4 => "192.0.2.200".parse().unwrap(),
        Family::V6 => "2001:db8:ffff::6".parse().unwrap(),
    };
    let cmds = [
        format!("ping -c 2 -i 0.2 -F 41021 -U 21 -r {absent} {dst}"),
        format!("ping -c 2 -i 0.2 -F 41022 -U 22 {dst}"),
        format!("ping -c 2 -i 0.2 -F 41023 -U 23 -r {unroutable} {dst}"),
    ];
    let recs = pings(&lab, &cmds);
    let bad = &recs[0];
    assert_eq!(bad["stop_reason"], "error", "{bad}");
    assert_eq!(
        bad["errmsg"],
        format!("dlhdr_ethcb: did not get mac address for {absent}").as_str(),
        "{bad}"
    );
    assert_eq!(bad["ping_sent"].as_u64(), Some(0), "{bad}");
    assert_eq!(bad["rtr"], absent.to_string().as_str(), "{bad}");
    // The other command of the run is unaffected.
    assert_replies(fam, "plain", &recs[1], 2, &[]);
    let none = &recs[2];
    assert_eq!(none["stop_reason"], "error", "{none}");
    assert_eq!(
        none["errmsg"], "rtsock_parsemsg: got nlerr: Unknown error -101",
        "{none}"
    );
    // scamper keeps the error number in a byte: -ENETUNREACH as u8.
    assert_eq!(none["stop_data"].as_u64(), Some(155), "{none}");
    assert_eq!(none["ping_sent"].as_u64(), Some(0), "{none}");
}

#[test]
fn rtr_without_neighbour_ipv4() {
    rtr_unreachable(Family::V4);
}

#[test]
fn rtr_without_neighbour_ipv6() {
    rtr_unreachable(Family::V6);
}

/// Frames leave below the IP stack: a firewall rule dropping the probes on the vantage point's
/// output path stops plain pings, not `-O dltx` or `-r` ones.
fn frames_bypass_the_ip_stack(fam: Family) {
    let Some(lab) = lab() else { return };
    let dst = target(fam);
    let rule = match fam {
        Family::V4 => format!("ip daddr {dst} icmp type echo-request drop"),
        Family::V6 => format!("ip6 daddr {dst} icmpv6 type echo-request drop"),
    };
    lab.nft(
        Role::Vp,
        &format!(
            "table inet scrs_dl {{\n chain out {{\n  type filter hook output priority 0;\n  {rule}\n }}\n}}\n"
        ),
    )
    .unwrap();
    let r1 = lab.addr(Role::Router(1), fam);
    let cmds = [
        format!("ping -c 2 -i 0.2 -W 1 -F 41031 -U 31 {dst}"),
        format!("ping -c 2 -i 0.2 -F 41032 -U 32 -O dltx {dst}"),
        format!("ping -c 2 -i 0.2 -F 41033 -U 33 -r {r1} {dst}"),
    ];
    let recs = pings(&lab, &cmds);
    assert_eq!(recs[0]["ping_sent"].as_u64(), Some(2), "{}", recs[0]);
    assert_eq!(
        recs[0]["responses"].as_array().map(Vec::len),
        Some(0),
        "the rule drops plain probes: {}",
        recs[0]
    );
    assert_replies(fam, "-O dltx", &recs[1], 2, &["dlrxts"]);
    assert_replies(fam, "-r", &recs[2], 2, &["dlrxts"]);
}

#[test]
fn frames_bypass_the_ip_stack_ipv4() {
    frames_bypass_the_ip_stack(Family::V4);
}

#[test]
fn frames_bypass_the_ip_stack_ipv6() {
    frames_bypass_the_ip_stack(Family::V6);
}

/// The hops of one trace command's record.
fn trace_hops(lab: &Lab, cmd: &str) -> (Value, Vec<Value>) {
    let run = scamper(lab, &["-O", "json", "-I", cmd], LIMIT);
    assert!(run.status.success(), "scamper failed: {}", run.stderr);
    let rec = run
        .json()
        .into_iter()
        .find(|v| v["type"] == "trace")
        .unwrap_or_else(|| panic!("no trace record: {}", run.stdout));
    let hops = rec["hops"].as_array().cloned().unwrap_or_default();
    (rec, hops)
}

fn hop_flags(h: &Value) -> Vec<&str> {
    h["flags"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// trace `-O dl` records datalink transmit and receive timestamps for every hop; `-r` sends
/// the probes as frames to the router and records datalink receive timestamps. Both reach the
/// target through the lab's routers.
fn trace_dl(fam: Family) {
    let Some(lab) = lab() else { return };
    let dst = target(fam);
    let path: Vec<String> = vec![
        lab.addr(Role::Router(1), fam).to_string(),
        lab.addr(Role::Router(2), fam).to_string(),
        dst.to_string(),
    ];
    let r1 = lab.addr(Role::Router(1), fam);
    for (cmd, flags) in [
        (format!("trace -q 1 -w 1 {dst}"), vec!["sockrxts"]),
        (
            format!("trace -q 1 -w 1 -O dl {dst}"),
            vec!["dltxts", "dlrxts"],
        ),
        (format!("trace -q 1 -w 1 -r {r1} {dst}"), vec!["dlrxts"]),
        (
            format!("trace -q 1 -w 1 -P icmp-paris -O dl {dst}"),
            vec!["dltxts", "dlrxts"],
        ),
    ] {
        let (rec, hops) = trace_hops(&lab, &cmd);
        assert_eq!(rec["stop_reason"], "COMPLETED", "{cmd}: {rec}");
        let addrs: Vec<&str> = hops.iter().filter_map(|h| h["addr"].as_str()).collect();
        assert_eq!(addrs, path, "{cmd}: {rec}");
        for h in &hops {
            assert_eq!(hop_flags(h), flags, "{cmd}: {h}");
        }
    }
}

#[test]
fn trace_dl_ipv4() {
    trace_dl(Family::V4);
}

#[test]
fn trace_dl_ipv6() {
    trace_dl(Family::V6);
}

/// `-O tbt`: the first reply is too big for the pseudo MTU, so scamper answers it with a
/// packet-too-big; the target then fragments its replies, and the ping stops once `-o` of them
/// came back fragmented (each with its IPv6 fragment identification, in pieces no larger
/// than the pseudo MTU).
#[test]
fn tbt_gets_fragmented_replies_ipv6() {
    let Some(lab) = lab() else { return };
    let dst = target(Family::V6);
    let cmds = [format!(
        "ping -c 5 -o 2 -i 0.2 -s 1300 -M 1280 -O tbt -F 41041 -U 41 {dst}"
    )];
    let recs = pings(&lab, &cmds);
    let ping = &recs[0];
    assert_eq!(ping["stop_reason"], "done", "{ping}");
    assert_eq!(ping["ping_sent"].as_u64(), Some(3), "{ping}");
    let replies = ping["responses"].as_array().expect("responses");
    assert_eq!(replies.len(), 3, "{ping}");
    let dst = dst.to_string();
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r["from"], dst.as_str(), "{r}");
        assert_eq!(r["icmp_type"], 129, "{r}");
        assert_eq!(reply_flags(r), ["dlrxts"], "{r}");
        if i == 0 {
            // The whole reply, before the target learnt the pseudo MTU.
            assert_eq!(r["reply_size"], 1300, "{r}");
            assert!(r.get("reply_ipid").is_none(), "{r}");
        } else {
            assert_eq!(r["reply_size"], 1280, "{r}");
            assert!(r["reply_ipid"].as_u64().is_some(), "{r}");
        }
    }
}

/// A next hop the kernel has no link-layer address for is found with ARP (IPv4) or a
/// neighbour solicitation (IPv6), as scamper does, and the frames then reach it.
fn rtr_resolved_by_neighbour_discovery(fam: Family) {
    let Some(lab) = lab() else { return };
    let dst = target(fam);
    let r1 = lab.addr(Role::Router(1), fam).to_string();
    let ifname = lab.ifname_towards(Role::Vp, Role::Router(1));
    // A router's IPv6 ignores neighbour solicitations for about a second after its link
    // comes up: the kernel's own resolution (which retries) tells when it answers. Then the
    // entry the kernel learnt is removed again.
    let fam_flag = if fam == Family::V4 { "-4" } else { "-6" };
    let forget = || {
        let out = lab
            .exec(Role::Vp, &["ip", "neigh", "del", &r1, "dev", &ifname])
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    forget();
    let out = lab
        .exec(Role::Vp, &["ping", fam_flag, "-c", "1", "-W", "5", &r1])
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    forget();
    let cmds = [format!("ping -c 2 -i 0.2 -F 41051 -U 51 -r {r1} {dst}")];
    let recs = pings(&lab, &cmds);
    assert_replies(
        fam,
        "-r after neighbour discovery",
        &recs[0],
        2,
        &["dlrxts"],
    );
}

#[test]
fn rtr_resolved_by_neighbour_discovery_ipv4() {
    rtr_resolved_by_neighbour_discovery(Family::V4);
}

#[test]
fn rtr_resolved_by_neighbour_discovery_ipv6() {
    rtr_resolved_by_neighbour_discovery(Family::V6);
}
