//! ping options beyond plain probing, on the namespace lab: `-O spoof` (with and without
//! `-O nosrc`) sends from another address and tells the target who really sent the probe.

mod common;

use common::scamper;
use scamper_systests::*;
use serde_json::Value;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::Read;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// A raw socket in the target's namespace that gets a copy of every ICMP (ICMPv6) packet
/// arriving there, echo requests included.
fn icmp_listener(lab: &Lab, fam: Family) -> Socket {
    let (domain, proto) = match fam {
        Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
        Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
    };
    let s = lab
        .in_ns(Role::Target, || Socket::new(domain, Type::RAW, Some(proto)))
        .unwrap()
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s
}

/// Payloads (after the ICMP header) of the echo requests queued on `s`, read for at most two
/// seconds. IPv4 raw sockets deliver the IP header, IPv6 ones do not.
fn echo_request_payloads(mut s: &Socket, fam: Family) -> Vec<Vec<u8>> {
    let (ip_hdr, echo_request) = match fam {
        Family::V4 => (20, 8),
        Family::V6 => (0, 128),
    };
    let mut out = Vec::new();
    let until = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 2048];
    while Instant::now() < until {
        let Ok(n) = s.read(&mut buf) else { break };
        let icmp = &buf[ip_hdr.min(n)..n];
        if icmp.len() >= 8 && icmp[0] == echo_request {
            out.push(icmp[8..].to_vec());
        }
    }
    out
}

fn octets(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn one_ping(lab: &Lab, cmd: &str, dst: IpAddr) -> Value {
    let run = scamper(
        lab,
        &["-O", "json", "-c", cmd, "-i", &dst.to_string()],
        LIMIT,
    );
    assert!(run.status.success(), "{cmd}: {}", run.stderr);
    let pings = run.pings();
    assert_eq!(pings.len(), 1, "{}", run.stdout);
    pings.into_iter().next().unwrap()
}

/// `-O spoof -S <vp's second address>`: the target sees echo requests from the spoofed address
/// whose payload starts with the vp's real (default) source, answers the spoofed address, which
/// the lab routes back to the vp, and the record names the spoofed source with flag "spoof".
/// With `-O nosrc` the payload stays zeroed.
#[test]
fn spoofed_source_and_embedded_real_source() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec {
        routers: 1,
        ..LabSpec::single_path()
    })
    .unwrap();
    for fam in Family::BOTH {
        let [real, spoofed] = lab.vp_addrs(fam);
        let dst = lab.addr(Role::Target, fam);
        for nosrc in [false, true] {
            let what = format!("{fam:?} nosrc={nosrc}");
            let listener = icmp_listener(&lab, fam);
            let extra = if nosrc { " -O nosrc" } else { "" };
            let cmd = format!("ping -c 2 -i 0.2 -O spoof{extra} -S {spoofed}");
            let p = one_ping(&lab, &cmd, dst);
            assert_eq!(p["src"], spoofed.to_string().as_str(), "{what}: {p}");
            let fl: Vec<&str> = p["flags"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(fl.contains(&"spoof"), "{what}: {p}");
            assert_eq!(fl.contains(&"nosrc"), nosrc, "{what}: {p}");
            assert_eq!(p["statistics"]["replies"], 2, "{what}: {p}");
            let payloads = echo_request_payloads(&listener, fam);
            assert_eq!(payloads.len(), 2, "{what}: {payloads:?}");
            let n = octets(real).len();
            for pl in payloads {
                if nosrc {
                    assert!(pl.iter().all(|&b| b == 0), "{what}: {pl:?}");
                } else {
                    assert_eq!(pl[..n], octets(real), "{what}: {pl:?}");
                    assert!(pl[n..].iter().all(|&b| b == 0), "{what}: {pl:?}");
                }
            }
        }
    }
}
