//! `trace -O ptr`: the prober looks up the names of the hops with PTR queries to the `-n`
//! nameserver (here a tiny responder in the target namespace) and records them.

mod common;

use common::scamper;
use scamper_systests::*;
use std::net::{IpAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The name the responder gives an address.
fn name_of(addr: &str) -> String {
    format!("h-{}.lab.example", addr.replace(['.', ':'], "-"))
}

/// Decode the PTR question's owner name back into an address (in-addr.arpa / ip6.arpa).
fn question_addr(labels: &[String]) -> Option<IpAddr> {
    let n = labels.len();
    if n == 6 && labels[4] == "in-addr" && labels[5] == "arpa" {
        let s = format!("{}.{}.{}.{}", labels[3], labels[2], labels[1], labels[0]);
        return s.parse().ok();
    }
    if n == 34 && labels[32] == "ip6" && labels[33] == "arpa" {
        let nibbles: String = labels[..32].iter().rev().map(String::as_str).collect();
        let groups: Vec<&str> = (0..8).map(|i| &nibbles[i * 4..i * 4 + 4]).collect();
        return groups.join(":").parse().ok();
    }
    None
}

/// Answer one PTR query (a minimal DNS responder for the test, not a general one).
fn answer(q: &[u8]) -> Option<Vec<u8>> {
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *q.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).into_owned());
        i += len;
    }
    let question_end = i + 4;
    let addr = question_addr(&labels)?;
    let mut r = Vec::new();
    r.extend_from_slice(&q[..2]);
    r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    r.extend_from_slice(q.get(12..question_end)?);
    r.extend_from_slice(&[0xc0, 0x0c, 0, 12, 0, 1, 0, 0, 0, 60]);
    let mut rdata = Vec::new();
    for label in name_of(&addr.to_string()).split('.') {
        rdata.push(label.len() as u8);
        rdata.extend_from_slice(label.as_bytes());
    }
    rdata.push(0);
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(&rdata);
    Some(r)
}

#[test]
fn ptr_names_for_every_hop() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ns = lab.ns(Role::Target).to_string();
    let flag = stop.clone();
    let server = std::thread::spawn(move || {
        in_netns(&ns, move || {
            let sock = UdpSocket::bind((TARGET_V4, 53)).unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut buf = [0u8; 512];
            // Bounded: at most a minute, or until the test is done.
            for _ in 0..300 {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok((n, peer)) = sock.recv_from(&mut buf) {
                    if let Some(r) = answer(&buf[..n]) {
                        let _ = sock.send_to(&r, peer);
                    }
                }
            }
        })
    });
    let t4 = TARGET_V4.to_string();
    let run = scamper(
        &lab,
        &[
            "-O",
            "json",
            "-n",
            &t4,
            "-c",
            "trace -O ptr -q 1 -w 1",
            "-i",
            &t4,
            &TARGET_V6.to_string(),
        ],
        Duration::from_secs(60),
    );
    stop.store(true, Ordering::SeqCst);
    server.join().unwrap().unwrap();
    assert!(run.status.success(), "{}", run.stderr);
    let traces: Vec<_> = run
        .json()
        .into_iter()
        .filter(|v| v["type"] == "trace")
        .collect();
    assert_eq!(traces.len(), 2, "{}", run.stdout);
    for t in &traces {
        let hops = t["hops"].as_array().unwrap();
        assert!(hops.len() >= 3, "{t}");
        for h in hops {
            let addr = h["addr"].as_str().unwrap();
            assert_eq!(h["name"].as_str(), Some(name_of(addr).as_str()), "{h}");
        }
    }
}
