//! sc_wartsdump text of tracelb (MDA traceroute) objects: parameters, then every node with
//! the links leaving it and the probes sent across each link.

use std::fmt::Write;

use scamper_warts::tracelb::*;

use super::{dur, header, opt, start_line, tv6};

pub(super) fn dump(t: &Tracelb) -> String {
    let mut s = String::from("tracelb ");
    if let Some(a) = &t.src {
        write!(s, "from {a} ").ok();
    }
    writeln!(s, "to {}", opt(&t.dst)).ok();
    header(&mut s, &t.list, &t.cycle, t.userid);
    start_line(&mut s, &t.start);
    let name = scamper_warts::code_label(t.method.name(), t.method.0);
    if t.method == TracelbMethod::ICMP_ECHO {
        write!(s, " type: {name} id: {}", t.sport).ok();
    } else {
        write!(s, " type: {name} {}:{}", t.sport, t.dport).ok();
    }
    writeln!(s, ", tos: 0x{:02x}", t.tos).ok();
    writeln!(
        s,
        " firsthop: {}, attempts: {}, confidence: {}",
        t.firsthop, t.attempts, t.confidence
    )
    .ok();
    writeln!(
        s,
        " probe-size: {}, wait-probe: {}, wait-timeout: {}",
        t.probe_size,
        dur(&t.wait_probe),
        dur(&t.wait_timeout)
    )
    .ok();
    writeln!(
        s,
        " nodec: {}, linkc: {}, probec: {}, probec_max: {}",
        t.nodes.len(),
        t.links.len(),
        t.probec,
        t.probec_max
    )
    .ok();
    if let Some(e) = &t.errmsg {
        writeln!(s, " errmsg: {e}").ok();
    }
    let node_addr = |i: Option<u16>| {
        i.and_then(|i| t.nodes.get(usize::from(i)))
            .map_or_else(|| "*".to_string(), |n| opt(&n.addr))
    };
    for (i, n) in t.nodes.iter().enumerate() {
        write!(s, "node {i} {}", opt(&n.addr)).ok();
        if let Some(name) = &n.name {
            write!(s, ", name {name}").ok();
        }
        if n.flags & flags::NODE_QTTL != 0 {
            write!(s, ", q-ttl {}", n.q_ttl).ok();
        }
        s.push('\n');
        for l in t.node_links(i) {
            writeln!(
                s,
                " link {} -> {} hopc {}",
                opt(&n.addr),
                node_addr(l.to),
                l.probesets.len()
            )
            .ok();
            for p in l.probesets.iter().flatten() {
                probe(&mut s, p);
            }
        }
    }
    s + "\n"
}

fn probe(s: &mut String, p: &TracelbProbe) {
    writeln!(
        s,
        "  probe flowid: {}, ttl: {}, attempt: {}, tx: {}",
        p.flowid,
        p.ttl,
        p.attempt,
        tv6(&p.tx)
    )
    .ok();
    for r in &p.replies {
        write!(
            s,
            "   reply from: {}, rtt: {}, ttl: {}",
            opt(&r.from),
            tv6(&r.rx.sub(&p.tx)),
            r.ttl
        )
        .ok();
        if r.from.is_some_and(|a| a.is_ipv4()) {
            write!(s, ", ipid: 0x{:04x}", r.ipid).ok();
        }
        s.push('\n');
        if r.is_tcp() {
            writeln!(s, "     tcp flags: 0x{:02x}", r.tcp_flags).ok();
            continue;
        }
        write!(s, "     icmp: {}/{}", r.icmp_type, r.icmp_code).ok();
        if r.is_unreach_or_ttl_exp() {
            write!(
                s,
                ", q-tos: 0x{:02x}, q-ttl: {}",
                r.icmp_q_tos, r.icmp_q_ttl
            )
            .ok();
        }
        s.push('\n');
        for e in r.icmp_exts.iter().filter(|e| e.is_mpls()) {
            for (k, lse) in e.data.chunks_exact(4).enumerate() {
                let v = u32::from_be_bytes([lse[0], lse[1], lse[2], lse[3]]);
                let lead = if k == 0 {
                    "     icmp-ext mpls:"
                } else {
                    "            :"
                };
                writeln!(
                    s,
                    "{lead} label {} exp {} s {} ttl {}",
                    v >> 12,
                    (v >> 9) & 7,
                    (v >> 8) & 1,
                    v & 0xff
                )
                .ok();
            }
        }
    }
}
