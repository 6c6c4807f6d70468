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

/// A firewall rule on the vantage point's output path (below it, frames are not filtered).
fn drop_on_output(lab: &Lab, rule: &str) {
    lab.nft(
        Role::Vp,
        &format!(
            "table inet scrs_dl {{\n chain out {{\n  type filter hook output priority 0;\n  {rule}\n }}\n}}\n"
        ),
    )
    .unwrap();
}

/// Plain pings to `dst` are dropped on the output path; datalink frames are not.
fn drop_echo_requests_on_output(lab: &Lab, fam: Family, dst: IpAddr) {
    drop_on_output(
        lab,
        &match fam {
            Family::V4 => format!("ip daddr {dst} icmp type echo-request drop"),
            Family::V6 => format!("ip6 daddr {dst} icmpv6 type echo-request drop"),
        },
    );
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

/// The datalink socket is asked for when the first datalink ping starts and idles (ignoring
/// outgoing packets) between datalink pings. With `-w 1` the commands run one after another:
/// plain, datalink, plain, datalink; each datalink ping gets the outbound copies of its
/// probes (dltxts) and its replies from the datalink (dlrxts), the second one after a time
/// in which the socket idled.
fn datalink_after_idle(fam: Family) {
    let Some(lab) = lab() else { return };
    let dst = target(fam);
    let cmds = [
        format!("ping -c 2 -i 0.1 -F 41011 -U 1 {dst}"),
        format!("ping -c 2 -i 0.1 -F 41012 -U 2 -O dl {dst}"),
        format!("ping -c 2 -i 0.1 -F 41013 -U 3 {dst}"),
        format!("ping -c 2 -i 0.1 -F 41014 -U 4 -O dl {dst}"),
    ];
    let mut args = vec!["-O", "json", "-p", "200", "-w", "1", "-I"];
    args.extend(cmds.iter().map(String::as_str));
    let run = scamper(&lab, &args, LIMIT);
    assert!(run.status.success(), "scamper failed: {}", run.stderr);
    let recs = run.pings();
    assert_eq!(recs.len(), 4, "{}", run.stdout);
    let by_user = |u: u64| {
        recs.iter()
            .find(|r| r["userid"].as_u64() == Some(u))
            .unwrap_or_else(|| panic!("no record for user {u}: {}", run.stdout))
    };
    // One after another: each starts after the one before it.
    let start = |u: u64| {
        let r = by_user(u);
        r["start"]["sec"].as_f64().unwrap() * 1e6 + r["start"]["usec"].as_f64().unwrap()
    };
    assert!((1..4).all(|u| start(u) <= start(u + 1)), "{}", run.stdout);
    assert_replies(fam, "plain, before", by_user(1), 2, &[]);
    assert_replies(fam, "first -O dl", by_user(2), 2, &["dltxts", "dlrxts"]);
    assert_replies(fam, "plain, between", by_user(3), 2, &[]);
    assert_replies(
        fam,
        "-O dl after idling",
        by_user(4),
        2,
        &["dltxts", "dlrxts"],
    );
}

#[test]
fn datalink_after_idle_ipv4() {
    datalink_after_idle(Family::V4);
}

#[test]
fn datalink_after_idle_ipv6() {
    datalink_after_idle(Family::V6);
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
    drop_echo_requests_on_output(&lab, fam, dst);
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

/// The replies of one ping record: each from `from`, with reply flags `flags`, arriving on
/// the vantage point's interface towards r1.
fn assert_reply_flags(what: &str, ping: &Value, count: usize, from: IpAddr, flags: &[&str]) {
    assert_eq!(ping["stop_reason"], "done", "{what}: {ping}");
    let replies = ping["responses"].as_array().expect("responses");
    assert_eq!(replies.len(), count, "{what}: {ping}");
    for r in replies {
        assert_eq!(r["from"], from.to_string().as_str(), "{what}: {r}");
        assert_eq!(reply_flags(r), flags, "{what}: {r}");
        assert_eq!(r["ifname"], "e-r1", "{what}: {r}");
    }
}

/// TCP ping methods. scamper_ping_do.c: ping_state_alloc looks the route up for every TCP
/// method; ping_handle_rt opens the datalink and builds a frame header unless `-O raw` gave
/// a raw socket; do_ping_probe then sends the probe as a frame (pr_dl set). Replies are taken
/// only from the datalink (do_ping_handle_dl sets DLRX; do_ping_handle_icmp ignores the ICMP
/// socket once state->dl is set). Linux does not loop a packet socket's frames back to it, so
/// frame probes get no dltxts; `-O raw` (IPv4) probes leave by the raw socket and their copy
/// on the datalink gives dltxts (the "outbound packet" branch of do_ping_handle_dl).
/// A firewall rule dropping TCP port 80 on the output path shows the frames bypass the stack.
fn tcp_methods(fam: Family) {
    let Some(lab) = lab() else { return };
    let dst = target(fam);
    // Only the SYNs: the stack's resets to the SYN/ACKs must leave, or the target
    // retransmits its SYN/ACKs and scamper records them as duplicates.
    drop_on_output(&lab, "tcp dport 80 tcp flags & (syn | ack) == syn drop");
    let mut cmds = vec![
        format!("ping -c 2 -i 0.2 -P tcp-syn -d 80 -F 41161 -U 61 {dst}"),
        format!("ping -c 2 -i 0.2 -P tcp-ack -d 81 -F 41261 -U 62 {dst}"),
        format!("ping -c 2 -i 0.2 -P tcp-syn-sport -d 80 -F 41361 -U 63 {dst}"),
    ];
    if fam == Family::V4 {
        cmds.push(format!(
            "ping -c 2 -i 0.2 -P tcp-syn -d 81 -O raw -F 41461 -U 64 {dst}"
        ));
    }
    let recs = pings(&lab, &cmds);
    assert_reply_flags("tcp-syn", &recs[0], 2, dst, &["dlrxts"]);
    assert_reply_flags("tcp-ack", &recs[1], 2, dst, &["dlrxts"]);
    assert_reply_flags("tcp-syn-sport", &recs[2], 2, dst, &["dlrxts"]);
    for r in recs[0]["responses"].as_array().unwrap() {
        assert_eq!(r["tcp_flags"], 0x12, "SYN/ACK from the open port: {r}");
    }
    for r in recs[1]["responses"].as_array().unwrap() {
        assert_eq!(r["tcp_flags"], 0x04, "RST from the closed port: {r}");
    }
    if fam == Family::V4 {
        assert_reply_flags("tcp-syn -O raw", &recs[3], 2, dst, &["dltxts", "dlrxts"]);
        for p in recs[3]["responses"].as_array().unwrap() {
            assert_eq!(p["tcp_flags"], 0x14, "RST/ACK from the closed port: {p}");
        }
    }
}

#[test]
fn tcp_methods_ipv4() {
    tcp_methods(Family::V4);
}

#[test]
fn tcp_methods_ipv6() {
    tcp_methods(Family::V6);
}

/// `-M` and `-O spoof` are "dltx" pings in scamper_ping_do.c (ping_dltx: pmtu != 0 or the
/// spoof flag): their probes (and -M's packet-too-big) leave as frames, which a firewall rule
/// on the output path does not see, and every reply is read from the datalink (dlrxts, no
/// dltxts). `-O spoof` here claims the vantage point's other address, so replies come back.
fn pmtu_and_spoof_send_frames(fam: Family) {
    let Some(lab) = lab() else { return };
    let dst = target(fam);
    drop_echo_requests_on_output(&lab, fam, dst);
    let alt = lab.vp_addrs(fam)[1];
    let cmds = [
        format!("ping -c 2 -i 0.5 -s 1300 -M 1280 -F 41071 -U 71 {dst}"),
        format!("ping -c 2 -i 0.2 -O spoof -S {alt} -F 41072 -U 72 {dst}"),
        format!("ping -c 2 -i 0.2 -W 1 -F 41073 -U 73 {dst}"),
    ];
    let recs = pings(&lab, &cmds);
    assert_reply_flags("-M", &recs[0], 2, dst, &["dlrxts"]);
    let first = &recs[0]["responses"][0];
    assert_eq!(first["reply_size"], 1300, "{first}");
    assert_reply_flags("-O spoof", &recs[1], 2, dst, &["dlrxts"]);
    assert_eq!(recs[1]["src"], alt.to_string().as_str(), "{}", recs[1]);
    // Plain probes go through the stack and its rule.
    assert_eq!(recs[2]["ping_sent"].as_u64(), Some(2), "{}", recs[2]);
    assert_eq!(
        recs[2]["responses"].as_array().map(Vec::len),
        Some(0),
        "{}",
        recs[2]
    );
}

#[test]
fn pmtu_and_spoof_send_frames_ipv4() {
    pmtu_and_spoof_send_frames(Family::V4);
}

#[test]
fn pmtu_and_spoof_send_frames_ipv6() {
    pmtu_and_spoof_send_frames(Family::V6);
}

/// Traces scamper opens a datalink for (scamper_trace_do.c trace_state_alloc: -M, -O dl, TCP,
/// -o, -r). TCP probes leave as frames (trace_probe sets pr_dl when TCP has no raw socket),
/// so their hops carry only dlrxts: ICMP replies through dlin_trace, the target's TCP reply
/// through trace_dl_hop (REPLY_TTL | TS_DL_RX | TCP, never sockrxts). With `-O raw` (IPv4)
/// probes leave by socket and dlout_apply adds dltxts; `-M` probes in the trace phase leave
/// by socket too, so its hops carry both.
fn trace_datalink_methods(fam: Family) {
    let Some(lab) = lab() else { return };
    let dst = target(fam);
    let path: Vec<String> = vec![
        lab.addr(Role::Router(1), fam).to_string(),
        lab.addr(Role::Router(2), fam).to_string(),
        dst.to_string(),
    ];
    let mut cases = vec![
        (format!("trace -q 1 -w 1 -P tcp {dst}"), vec!["dlrxts"]),
        (format!("trace -q 1 -w 1 -P tcp-ack {dst}"), vec!["dlrxts"]),
        (
            format!("trace -q 1 -w 1 -M {dst}"),
            vec!["dltxts", "dlrxts"],
        ),
    ];
    if fam == Family::V4 {
        cases.push((
            format!("trace -q 1 -w 1 -P tcp -O raw {dst}"),
            vec!["dltxts", "dlrxts"],
        ));
    }
    for (cmd, flags) in cases {
        let (rec, hops) = trace_hops(&lab, &cmd);
        assert_eq!(rec["stop_reason"], "COMPLETED", "{cmd}: {rec}");
        let addrs: Vec<&str> = hops.iter().filter_map(|h| h["addr"].as_str()).collect();
        assert_eq!(addrs, path, "{cmd}: {rec}");
        for h in &hops {
            assert_eq!(hop_flags(h), flags, "{cmd}: {h}");
        }
        if cmd.contains("tcp") {
            let last = hops.last().unwrap();
            assert!(last["tcp_flags"].as_u64().is_some(), "{cmd}: {last}");
        }
        if cmd.contains("-M") {
            // PMTUD probes leave outside scamper's trace mode (no dltxts: their frames are
            // not looped back, and dlout_apply is not used in PMTUD modes); their replies
            // carry the datalink time the probe recorded first (trace_icmp_hop).
            let pm = rec["pmtud"]["hops"].as_array().cloned().unwrap_or_default();
            assert!(!pm.is_empty(), "{cmd}: {rec}");
            for h in &pm {
                assert_eq!(hop_flags(h), ["dlrxts"], "{cmd}: {h}");
            }
        }
    }
}

#[test]
fn trace_datalink_methods_ipv4() {
    trace_datalink_methods(Family::V4);
}

#[test]
fn trace_datalink_methods_ipv6() {
    trace_datalink_methods(Family::V6);
}

/// A next hop that never answers ARP / neighbour solicitation. scamper builds a frame header
/// (scamper_dlhdr.c dlhdr_ethernet -> neighbour discovery) for trace -O dl, -M, TCP, and for
/// ping's frame methods (here tcp-syn), and stops them with dlhdr_ethcb's error having sent
/// nothing; ping -O dl only looks the route up (ping_handle_rt goes straight to MODE_PING),
/// so it probes and just gets no answer.
fn unresolvable_next_hop(fam: Family) {
    let Some(lab) = lab() else { return };
    let (gw, dst, plen) = match fam {
        Family::V4 => ("192.0.2.6", "203.0.113.200", "32"),
        Family::V6 => ("2001:db8::6", "2001:db8:fff0::1", "128"),
    };
    let out = lab
        .exec(
            Role::Vp,
            &["ip", "route", "add", &format!("{dst}/{plen}"), "via", gw],
        )
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = format!("dlhdr_ethcb: did not get mac address for {gw}");
    for cmd in [
        format!("trace -q 1 -w 1 -O dl {dst}"),
        format!("trace -q 1 -w 1 -M {dst}"),
        format!("trace -q 1 -w 1 -P tcp {dst}"),
    ] {
        let (rec, hops) = trace_hops(&lab, &cmd);
        assert_eq!(rec["stop_reason"], "ERROR", "{cmd}: {rec}");
        assert_eq!(rec["errmsg"], err.as_str(), "{cmd}: {rec}");
        assert!(hops.is_empty(), "{cmd}: {rec}");
        assert_eq!(rec["probe_count"].as_u64(), Some(0), "{cmd}: {rec}");
    }
    let cmds = [
        format!("ping -c 1 -W 1 -P tcp-syn -d 80 -F 41081 -U 81 {dst}"),
        format!("ping -c 1 -W 1 -O dl -F 41082 -U 82 {dst}"),
    ];
    let recs = pings(&lab, &cmds);
    assert_eq!(recs[0]["stop_reason"], "error", "{}", recs[0]);
    assert_eq!(recs[0]["errmsg"], err.as_str(), "{}", recs[0]);
    assert_eq!(recs[0]["ping_sent"].as_u64(), Some(0), "{}", recs[0]);
    assert_eq!(recs[1]["stop_reason"], "done", "{}", recs[1]);
    assert_eq!(recs[1]["ping_sent"].as_u64(), Some(1), "{}", recs[1]);
}

#[test]
fn unresolvable_next_hop_ipv4() {
    unresolvable_next_hop(Family::V4);
}

#[test]
fn unresolvable_next_hop_ipv6() {
    unresolvable_next_hop(Family::V6);
}

/// IPv4 record route read from the datalink. scamper_ping_do.c records the option's
/// addresses only in do_ping_handle_icmp (the ICMP socket's handler); do_ping_handle_dl builds
/// replies without them. So `-R -O dl` replies have no "RR", while `-O sockrx` (ICMP replies
/// from the socket) and plain `-R` keep them.
#[test]
fn record_route_only_from_the_socket_ipv4() {
    let Some(lab) = lab() else { return };
    let dst = target(Family::V4);
    let cmds = [
        format!("ping -c 2 -i 0.2 -R -O dl -F 41091 -U 91 {dst}"),
        format!("ping -c 2 -i 0.2 -R -O dl -O sockrx -F 41092 -U 92 {dst}"),
        format!("ping -c 2 -i 0.2 -R -F 41093 -U 93 {dst}"),
    ];
    let recs = pings(&lab, &cmds);
    for (rec, rr, flags) in [
        (&recs[0], false, vec!["dltxts", "dlrxts"]),
        (&recs[1], true, vec!["dltxts"]),
        (&recs[2], true, vec![]),
    ] {
        assert_eq!(rec["stop_reason"], "done", "{rec}");
        let replies = rec["responses"].as_array().expect("responses");
        assert_eq!(replies.len(), 2, "{rec}");
        for r in replies {
            assert_eq!(reply_flags(r), flags, "{r}");
            assert_eq!(r.get("RR").is_some(), rr, "{r}");
        }
    }
}
