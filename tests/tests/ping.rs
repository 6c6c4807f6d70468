//! ping on the namespace lab: every method on IPv4 and IPv6 gets the reply the topology implies,
//! RTTs through the delayed link show the delay, and bad input is reported without losing the
//! rest of the run.

mod common;

use common::{scamper, TempDir};
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

/// What a probe should get back.
#[derive(Debug, Clone, Copy)]
enum Expect {
    EchoReply,
    TimestampReply,
    PortUnreachable,
    Tcp(u64),
    Nothing,
}

/// (method, destination port option, expectation). `-F` gives each its own source port so the
/// commands run side by side without sharing a probe signature.
fn cases(fam: Family) -> Vec<(&'static str, Option<u16>, Expect)> {
    let mut v = vec![
        ("icmp-echo", None, Expect::EchoReply),
        ("udp", None, Expect::PortUnreachable),
        ("udp-dport", None, Expect::PortUnreachable),
        ("udp-sport", None, Expect::PortUnreachable),
        ("tcp-syn", Some(TCP_OPEN_PORT), Expect::Tcp(0x12)),
        ("tcp-syn", Some(TCP_CLOSED_PORT), Expect::Tcp(0x14)),
        ("tcp-syn-sport", Some(TCP_OPEN_PORT), Expect::Tcp(0x12)),
        ("tcp-ack", Some(TCP_OPEN_PORT), Expect::Tcp(0x04)),
        ("tcp-ack-sport", Some(TCP_OPEN_PORT), Expect::Tcp(0x04)),
        ("tcp-synack", Some(TCP_CLOSED_PORT), Expect::Tcp(0x04)),
        ("tcp-rst", Some(TCP_CLOSED_PORT), Expect::Nothing),
    ];
    if fam == Family::V4 {
        v.push(("icmp-time", None, Expect::TimestampReply));
    }
    v
}

fn check_reply(fam: Family, what: &str, expect: Expect, ping: &Value) {
    let responses = ping["responses"].as_array().expect("responses array");
    let sent = ping["ping_sent"].as_u64().unwrap();
    assert_eq!(sent, 2, "{what}: {ping}");
    if let Expect::Nothing = expect {
        assert!(responses.is_empty(), "{what}: expected no reply: {ping}");
        return;
    }
    assert_eq!(
        responses.len(),
        2,
        "{what}: one reply per probe expected: {ping}"
    );
    let dst = target(fam).to_string();
    for r in responses {
        assert_eq!(r["from"], dst.as_str(), "{what}: {r}");
        let proto = r["reply_proto"].as_str().unwrap_or_default();
        match expect {
            Expect::EchoReply => {
                assert_eq!(
                    r["icmp_type"],
                    if fam == Family::V4 { 0 } else { 129 },
                    "{what}: {r}"
                )
            }
            Expect::TimestampReply => assert_eq!(r["icmp_type"], 14, "{what}: {r}"),
            Expect::PortUnreachable => {
                let (t, c) = if fam == Family::V4 { (3, 3) } else { (1, 4) };
                assert_eq!(
                    (r["icmp_type"].as_u64(), r["icmp_code"].as_u64()),
                    (Some(t), Some(c)),
                    "{what}: {r}"
                );
            }
            Expect::Tcp(flags) => {
                assert_eq!(proto, "tcp", "{what}: {r}");
                assert_eq!(r["tcp_flags"].as_u64(), Some(flags), "{what}: {r}");
            }
            Expect::Nothing => unreachable!(),
        }
        let rtt = r["rtt"].as_f64().expect("rtt");
        assert!(rtt > 0.0 && rtt < 1000.0, "{what}: rtt {rtt}");
    }
}

fn every_method(fam: Family) {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::default()).unwrap();
    let cases = cases(fam);
    let cmds: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, (m, port, _))| {
            let dport = port.map(|p| format!(" -d {p}")).unwrap_or_default();
            format!(
                "ping -c 2 -i 0.2 -W 1 -F {} -P {m}{dport} {}",
                40000 + i,
                target(fam)
            )
        })
        .collect();
    let mut args = vec!["-O", "json", "-p", "200", "-I"];
    args.extend(cmds.iter().map(String::as_str));
    let run = scamper(&lab, &args, LIMIT);
    assert!(run.status.success(), "scamper failed: {}", run.stderr);
    let pings = run.pings();
    assert_eq!(
        pings.len(),
        cases.len(),
        "one record per command: {}",
        run.stdout
    );
    for (i, (method, port, expect)) in cases.iter().enumerate() {
        let sport = 40000 + i as u64;
        // TCP and UDP records carry their source port; each ICMP method appears once.
        let ping = pings
            .iter()
            .find(|p| {
                p["sport"].as_u64() == Some(sport)
                    || (method.starts_with("icmp") && p["method"] == *method)
            })
            .unwrap_or_else(|| panic!("no record for {method}: {}", run.stdout));
        assert_eq!(ping["method"], *method, "{ping}");
        check_reply(fam, &format!("{method} {port:?}"), *expect, ping);
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

#[test]
fn rtt_through_the_delayed_link() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::default()).unwrap();
    let delay = lab
        .delay()
        .expect("default lab has a delayed link")
        .as_secs_f64()
        * 1000.0;
    for dst in [DELAY_TARGET_V4.to_string(), DELAY_TARGET_V6.to_string()] {
        let run = scamper(
            &lab,
            &["-O", "json", "-c", "ping -c 3 -i 0.2", "-i", &dst],
            LIMIT,
        );
        assert!(run.status.success(), "{}", run.stderr);
        let pings = run.pings();
        let replies = pings[0]["responses"].as_array().unwrap();
        assert_eq!(replies.len(), 3, "{}", run.stdout);
        let mut rtts: Vec<f64> = replies.iter().map(|r| r["rtt"].as_f64().unwrap()).collect();
        rtts.sort_by(f64::total_cmp);
        // The delay program adds the delay; a loaded machine can add a few ms to one probe.
        assert!(
            rtts[0] >= delay,
            "rtt {rtts:?} ms below the {delay} ms delay"
        );
        assert!(
            rtts[1] < delay + 5.0,
            "median rtt {rtts:?} ms with {delay} ms delay"
        );
        assert!(
            rtts[2] < delay + 25.0,
            "worst rtt {rtts:?} ms with {delay} ms delay"
        );
    }
}

#[test]
fn do_not_probe_refuses_listed_targets_and_keeps_going() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::default()).unwrap();
    let dir = TempDir::new("dnp");
    let dnp = dir.path("dnp.txt");
    std::fs::write(&dnp, "# lab target\n198.51.100.0/24\n2001:db8:1::/48\n").unwrap();
    let list = dir.path("list.txt");
    std::fs::write(
        &list,
        format!("{TARGET_V4}\n{DELAY_TARGET_V4}\n{TARGET_V6}\n"),
    )
    .unwrap();
    let dnp_opt = format!("dnp={}", dnp.display());
    let run = scamper(
        &lab,
        &[
            "-O",
            "json",
            "-O",
            &dnp_opt,
            "-c",
            "ping -c 1",
            "-f",
            list.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert!(run.status.success(), "{}", run.stderr);
    let pings = run.pings();
    assert_eq!(pings.len(), 1, "{}", run.stdout);
    assert_eq!(pings[0]["dst"], DELAY_TARGET_V4.to_string().as_str());
    for line in [1, 3] {
        assert!(
            run.stderr.contains(&format!("line {line}:"))
                && run.stderr.contains("destination in do-not-probe list"),
            "line {line} not reported: {}",
            run.stderr
        );
    }
}

#[test]
fn a_bad_do_not_probe_file_refuses_to_start() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("dnpbad");
    let dnp = dir.path("dnp.txt");
    std::fs::write(&dnp, "192.0.2.0/24\n192.0.2.1/16\n").unwrap();
    let dnp_opt = format!("dnp={}", dnp.display());
    let run = scamper(
        &lab,
        &[
            "-O",
            &dnp_opt,
            "-c",
            "ping -c 1",
            "-i",
            &TARGET_V4.to_string(),
        ],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(255), "{}", run.stderr);
    assert!(run.stderr.contains("line 2"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn bad_commands_are_reported_with_line_numbers_and_the_rest_runs() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("cmdfile");
    let list = dir.path("cmds.txt");
    std::fs::write(
        &list,
        format!(
            "ping -c 1 {TARGET_V4}\nping -c 0 {TARGET_V4}\nfrobnicate {TARGET_V4}\n\n# comment\nping -c 1 -P udp {TARGET_V6}\nping -c 1\n"
        ),
    )
    .unwrap();
    let run = scamper(
        &lab,
        &["-O", "json", "-O", "cmdfile", "-f", list.to_str().unwrap()],
        LIMIT,
    );
    assert!(run.status.success(), "{}", run.stderr);
    let pings = run.pings();
    assert_eq!(pings.len(), 2, "{}", run.stdout);
    for line in [2, 3, 7] {
        assert!(
            run.stderr.contains(&format!("line {line}:")),
            "line {line}: {}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("unknown command frobnicate"),
        "{}",
        run.stderr
    );
    // -i with a command that does not parse is a start-up error.
    let run = scamper(
        &lab,
        &["-c", "ping -c 0", "-i", &TARGET_V4.to_string()],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(255));
    assert!(run.stderr.contains("-c 0"), "{}", run.stderr);
}

/// `-p` is honoured from a list file: neither exceeded nor starved (a loose bound that catches a
/// broken scheduler, not a benchmark).
#[test]
fn packets_per_second_from_a_list() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("pps");
    let list = dir.path("targets.txt");
    let targets: String = (0..300)
        .map(|i| format!("{}\n", anyip_addr(Family::V4, i)))
        .collect();
    std::fs::write(&list, targets).unwrap();
    let run = scamper(
        &lab,
        &[
            "-O",
            "json",
            "-p",
            "300",
            "-c",
            "ping -c 1",
            "-f",
            list.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert!(run.status.success(), "{}", run.stderr);
    let mut tx: Vec<f64> = run
        .pings()
        .iter()
        .flat_map(|p| p["responses"].as_array().unwrap().clone())
        .map(|r| r["tx"]["sec"].as_f64().unwrap() + r["tx"]["usec"].as_f64().unwrap() / 1e6)
        .collect();
    assert_eq!(tx.len(), 300, "every target answered");
    tx.sort_by(f64::total_cmp);
    let span = tx[299] - tx[0];
    // 300 probes at 300 pps take about one second.
    assert!(
        span > 0.8 && span < 6.0,
        "300 probes at -p 300 took {span:.3} s"
    );
}
