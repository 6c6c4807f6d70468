//! Tracelb JSON, version "0.1" (json.md section 3).

use std::cmp::Ordering;
use std::fmt::Write;

use super::fmt::{esc, ftime, rtt};
use super::trace::icmpexts;
use crate::addr::Addr;
use crate::tracelb::*;

pub(crate) fn render(t: &Tracelb) -> String {
    let m = t
        .method
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| t.method.0.to_string());
    let mut s = format!(
        "{{\"type\":\"tracelb\", \"version\":\"0.1\", \"userid\":{}, \"method\":\"{m}\"",
        t.userid
    );
    for (k, a) in [("src", &t.src), ("dst", &t.dst), ("rtr", &t.rtr)] {
        if let Some(a) = a {
            write!(s, ", \"{k}\":\"{a}\"").ok();
        }
    }
    if t.method.is_udp() || t.method.is_tcp() {
        write!(s, ", \"sport\":{}, \"dport\":{}", t.sport, t.dport).ok();
    }
    write!(
        s,
        ", \"start\":{{\"sec\":{}, \"usec\":{}, \"ftime\":\"{}\"}}, \"probe_size\":{}, \"firsthop\":{}, \"attempts\":{}, \"confidence\":{}, \"tos\":{}, \"gaplimit\":{}, \"wait_timeout\":{}, \"wait_probe\":{}, \"probec\":{}, \"probec_max\":{}, \"nodec\":{}, \"linkc\":{}",
        t.start.sec,
        t.start.usec,
        ftime(t.start.sec),
        t.probe_size,
        t.firsthop,
        t.attempts,
        t.confidence,
        t.tos,
        t.gaplimit,
        t.wait_timeout.sec,
        t.wait_probe.sec.wrapping_mul(100).wrapping_add(t.wait_probe.usec / 10000),
        t.probec,
        t.probec_max,
        t.nodes.len() as u16,
        t.links.len() as u16
    )
    .ok();
    if let Some(e) = &t.errmsg {
        write!(s, ",\"errmsg\":\"{}\"", esc(e)).ok();
    }
    if let Some(m) = t.list.as_ref().and_then(|l| l.monitor.as_ref()) {
        write!(s, ",\"monitor\":\"{}\"", esc(m)).ok();
    }
    let nodes: Vec<String> = (0..t.nodes.len())
        .filter(|&i| t.node_links(i).next().is_some())
        .map(|i| node(t, i))
        .collect();
    if !nodes.is_empty() {
        write!(s, ", \"nodes\":[{}]", nodes.join(",")).ok();
    }
    s + "}"
}

fn addr_or_star(a: Option<Addr>) -> String {
    a.map_or_else(|| "*".to_string(), |a| a.to_string())
}

fn node(t: &Tracelb, i: usize) -> String {
    let n = &t.nodes[i];
    let links: Vec<&TracelbLink> = t.node_links(i).collect();
    let mut s = format!("{{\"addr\":\"{}\"", addr_or_star(n.addr));
    if let Some(name) = &n.name {
        write!(s, ", \"name\":\"{}\"", esc(name)).ok();
    }
    if n.flags & flags::NODE_QTTL != 0 {
        write!(s, ", \"q_ttl\":{}", n.q_ttl).ok();
    }
    write!(s, ", \"linkc\":{}, \"links\":[", links.len() as u16).ok();
    let to_addr = |l: &TracelbLink| l.to.and_then(|x| t.nodes.get(usize::from(x))?.addr);
    if links.len() > 1 {
        let v: Vec<String> = links
            .iter()
            .map(|l| {
                let to = to_addr(l);
                let mut s = String::from("{");
                if let Some(a) = to {
                    write!(s, "\"addr\":\"{a}\", ").ok();
                }
                let set = l.probesets.first().map_or(&[][..], |x| &x[..]);
                write!(s, "\"probes\":[{}]}}", probes(set, to)).ok();
                s
            })
            .collect();
        write!(s, "[{}]", v.join(",")).ok();
    } else if let Some(l) = links.first() {
        let hopc = l.probesets.len();
        let v: Vec<String> = l
            .probesets
            .iter()
            .take(hopc.saturating_sub(1))
            .map(|set| format!("[{}]", summary(set)))
            .collect();
        s += &v.join(",");
        if hopc > 1 {
            s += ",";
        }
        if l.to.is_some() {
            let to = to_addr(l);
            let set = l.probesets.last().map_or(&[][..], |x| &x[..]);
            write!(
                s,
                "[{{\"addr\":\"{}\", \"probes\":[{}]}}]",
                addr_or_star(to),
                probes(set, to)
            )
            .ok();
        } else {
            s += "[{\"addr\":\"*\"}]";
        }
    }
    s + "]}"
}

/// Order of reply sources in a probeset summary: IPv4 numerically, IPv6 by its two 64-bit
/// halves read as little-endian integers (how the C code compares them on x86-64).
fn addr_cmp(a: &Addr, b: &Addr) -> Ordering {
    match (a, b) {
        (Addr::V4(x), Addr::V4(y)) => u32::from(*x).cmp(&u32::from(*y)),
        (Addr::V6(x), Addr::V6(y)) => {
            let halves = |o: [u8; 16]| {
                (
                    u64::from_le_bytes(o[..8].try_into().expect("8 bytes")),
                    u64::from_le_bytes(o[8..].try_into().expect("8 bytes")),
                )
            };
            halves(x.octets()).cmp(&halves(y.octets()))
        }
        _ => a
            .type_code()
            .cmp(&b.type_code())
            .then_with(|| a.octets().cmp(&b.octets())),
    }
}

fn summary(set: &[TracelbProbe]) -> String {
    let mut addrs: Vec<Addr> = set
        .iter()
        .flat_map(|p| p.replies.iter().filter_map(|r| r.from))
        .collect();
    addrs.sort_by(addr_cmp);
    addrs.dedup();
    // A flow group is a run of consecutive probes with the same flow id; it is unanswered
    // when none of its probes got a reply.
    let mut unanswered = false;
    let mut i = 0;
    while i < set.len() {
        let mut j = i;
        let mut answered = false;
        while j < set.len() && set[j].flowid == set[i].flowid {
            answered |= !set[j].replies.is_empty();
            j += 1;
        }
        unanswered |= !answered;
        i = j;
    }
    if unanswered && addrs.is_empty() {
        return "{\"addr\":\"*\"}".into();
    }
    let mut v: Vec<String> = addrs
        .iter()
        .map(|a| {
            let with: Vec<TracelbProbe> = set
                .iter()
                .filter(|p| p.replies.iter().any(|r| r.from == Some(*a)))
                .cloned()
                .collect();
            format!(
                "{{\"addr\":\"{a}\", \"probes\":[{}]}}",
                probes(&with, Some(*a))
            )
        })
        .collect();
    if unanswered {
        v.push("{\"addr\":\"*\"}".into());
    }
    v.join(", ")
}

/// Probe objects with only the replies from `from`.
fn probes(set: &[TracelbProbe], from: Option<Addr>) -> String {
    let v: Vec<String> = set
        .iter()
        .map(|p| {
            let rs: Vec<String> = p
                .replies
                .iter()
                .filter(|r| from.is_some() && r.from == from)
                .map(|r| reply(p, r))
                .collect();
            let mut s = format!(
                "{{\"tx\":{{\"sec\":{}, \"usec\":{}}}, \"replyc\":{}, \"ttl\":{}, \"attempt\":{}, \"flowid\":{}",
                p.tx.sec,
                p.tx.usec,
                rs.len(),
                p.ttl,
                p.attempt,
                p.flowid
            );
            if !rs.is_empty() {
                write!(s, ", \"replies\":[{}]", rs.join(",")).ok();
            }
            s + "}"
        })
        .collect();
    v.join(",")
}

fn reply(p: &TracelbProbe, r: &TracelbReply) -> String {
    let mut s = format!(
        "{{\"rx\":{{\"sec\":{}, \"usec\":{}}}, \"ttl\":{}, \"rtt\":{}",
        r.rx.sec,
        r.rx.usec,
        r.ttl,
        rtt(&r.rx.sub(&p.tx))
    );
    if matches!(r.from, Some(Addr::V4(_))) {
        write!(s, ", \"ipid\":{}", r.ipid).ok();
    }
    if r.is_tcp() {
        write!(s, ", \"tcp_flags\":{}", r.tcp_flags).ok();
    } else {
        write!(
            s,
            ", \"icmp_type\":{}, \"icmp_code\":{}, \"icmp_q_tos\":{}",
            r.icmp_type, r.icmp_code, r.icmp_q_tos
        )
        .ok();
        if r.is_unreach_or_ttl_exp() {
            write!(s, ", \"icmp_q_ttl\":{}", r.icmp_q_ttl).ok();
        }
    }
    if !r.icmp_exts.is_empty() {
        write!(s, ",\"icmpext\":[{}]", icmpexts(&r.icmp_exts)).ok();
    }
    s + "}"
}
