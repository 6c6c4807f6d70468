//! Trace JSON, version "0.1" (json.md section 2).

use std::fmt::Write;

use super::fmt::{esc, esc_max, ftime, rtt, tv};
use crate::addr::Addr;
use crate::icmpext::IcmpExt;
use crate::trace::{flags, reply_flags, Trace, TracePmtud, TraceProbe, TraceReply};

pub(crate) fn render(t: &Trace) -> String {
    let mut s = format!(
        "{{\"type\":\"trace\",\"version\":\"0.1\",\"userid\":{}",
        t.userid
    );
    match t.method.name() {
        Some(n) => write!(s, ",\"method\":\"{n}\""),
        None => write!(s, ",\"method\":\"{}\"", t.method.0),
    }
    .ok();
    for (k, a) in [("src", &t.src), ("dst", &t.dst), ("rtr", &t.rtr)] {
        if let Some(a) = a {
            write!(s, ",\"{k}\":\"{a}\"").ok();
        }
    }
    if t.method.is_udp() || t.method.is_tcp() {
        write!(s, ",\"sport\":{},\"dport\":{}", t.sport, t.dport).ok();
    } else if t.flags & flags::ICMPCSUMDP != 0 {
        write!(s, ",\"icmp_sum\":{}", t.dport).ok();
    }
    match t.stop_reason.name() {
        Some(n) => write!(s, ",\"stop_reason\":\"{n}\""),
        None => write!(s, ",\"stop_reason\":\"{}\"", t.stop_reason.0),
    }
    .ok();
    write!(s, ",\"stop_data\":{}", t.stop_data).ok();
    if let Some(e) = &t.errmsg {
        write!(s, ",\"errmsg\":\"{}\"", esc(e)).ok();
    }
    let h = shown_hop_count(t);
    write!(
        s,
        ",\"start\":{{\"sec\":{},\"usec\":{},\"ftime\":\"{}\"}},\"hop_count\":{h},\"attempts\":{},\"hoplimit\":{},\"firsthop\":{},\"wait\":{},\"wait_probe\":{},\"tos\":{},\"probe_size\":{},\"probe_count\":{}",
        t.start.sec,
        t.start.usec,
        ftime(t.start.sec),
        t.attempts,
        t.hoplimit,
        t.firsthop,
        t.wait_timeout.sec,
        t.wait_probe.sec * 100 + t.wait_probe.usec / 10000,
        t.tos,
        t.probe_size,
        t.probec
    )
    .ok();
    if let Some(m) = t.list.as_ref().and_then(|l| l.monitor.as_ref()) {
        write!(s, ",\"monitor\":\"{}\"", esc(m)).ok();
    }
    if t.flags != 0 {
        let names: Vec<String> = (0..32)
            .filter(|b| t.flags & (1u32 << b) != 0)
            .map(|b| match flags::NAMES.get(b) {
                Some(n) => format!("\"{n}\""),
                None => format!("\"0x{:08x}\"", 1u32 << b),
            })
            .collect();
        write!(s, ",\"flags\":[{}]", names.join(",")).ok();
    }
    let (mut hops, mut extra, mut nohops, mut extra_no) = (vec![], vec![], vec![], vec![]);
    for p in t
        .probes
        .iter()
        .filter(|p| p.ttl >= t.firsthop && u16::from(p.ttl) <= t.hop_count)
    {
        let in_range = u16::from(p.ttl) <= h;
        if p.replies.is_empty() {
            let o = no_hop(p);
            if in_range {
                nohops.push(o)
            } else {
                extra_no.push(o)
            }
        }
        for r in &p.replies {
            let o = hop(t, p, r);
            if in_range {
                hops.push(o)
            } else {
                extra.push(o)
            }
        }
    }
    for (k, v) in [
        ("hops", hops),
        ("extra_hops", extra),
        ("no_hops", nohops),
        ("extra_no_hops", extra_no),
    ] {
        if !v.is_empty() {
            write!(s, ",\"{k}\":[{}]", v.join(",")).ok();
        }
    }
    if let Some(pm) = t.pmtud.as_ref().filter(|pm| pm.ver == 2) {
        s += &pmtud(t, pm);
    }
    s += "}";
    s
}

/// H: the stop hop when one was recorded inside the probed range, else the hop count.
fn shown_hop_count(t: &Trace) -> u16 {
    if t.stop_hop > 0 && u16::from(t.stop_hop) <= t.hop_count {
        u16::from(t.stop_hop)
    } else {
        t.hop_count
    }
}

fn hop(t: &Trace, p: &TraceProbe, r: &TraceReply) -> String {
    let mut s = String::from("{");
    if let Some(a) = &r.addr {
        write!(s, "\"addr\":\"{a}\"").ok();
    }
    if let Some(n) = &r.name {
        write!(s, ",\"name\":\"{}\"", esc_max(n, 127)).ok();
    }
    write!(
        s,
        ",\"probe_ttl\":{},\"probe_id\":{},\"probe_size\":{}",
        p.ttl, p.id, p.size
    )
    .ok();
    if p.tx.sec != 0 {
        write!(s, ",\"tx\":{}", tv(&p.tx, "")).ok();
    }
    write!(
        s,
        ",\"rtt\":{},\"reply_ttl\":{},\"reply_tos\":{}",
        rtt(&r.rtt),
        r.reply_ttl,
        r.reply_tos
    )
    .ok();
    let mut fl = Vec::new();
    for (bit, name) in [
        (reply_flags::TS_DL_TX, "\"dltxts\""),
        (reply_flags::TS_DL_RX, "\"dlrxts\""),
        (reply_flags::TS_SOCK_RX, "\"sockrxts\""),
    ] {
        if r.flags & bit != 0 {
            fl.push(name);
        }
    }
    if !fl.is_empty() {
        write!(s, ",\"flags\":[{}]", fl.join(",")).ok();
    }
    let rxerr = t.flags & flags::RXERR != 0;
    if !rxerr {
        write!(
            s,
            ",\"reply_ipid\":{},\"reply_size\":{}",
            r.reply_ipid, r.reply_size
        )
        .ok();
    }
    if r.is_icmp() {
        write!(
            s,
            ",\"icmp_type\":{},\"icmp_code\":{}",
            r.icmp_type, r.icmp_code
        )
        .ok();
        if r.has_quotation() && !rxerr {
            write!(
                s,
                ",\"icmp_q_ttl\":{},\"icmp_q_ipl\":{},\"icmp_q_tos\":{}",
                r.icmp_q_ttl, r.icmp_q_iplen, r.icmp_q_tos
            )
            .ok();
        }
        if r.is_ptb() {
            // the key really has a colon inside
            write!(s, ",\"icmp_nhmtu:\":{}", r.icmp_nhmtu).ok();
        }
    } else if r.is_tcp() {
        write!(s, ",\"tcp_flags\":{}", r.tcp_flags).ok();
    }
    if !r.icmp_exts.is_empty() {
        write!(s, ",\"icmpext\":[{}]", icmpexts(&r.icmp_exts)).ok();
    }
    s += "}";
    s
}

fn no_hop(p: &TraceProbe) -> String {
    let mut s = format!(
        "{{\"probe_ttl\":{},\"probe_id\":{},\"probe_size\":{}",
        p.ttl, p.id, p.size
    );
    if p.tx.sec != 0 {
        write!(s, ",\"tx\":{}", tv(&p.tx, "")).ok();
    }
    s += "}";
    s
}

/// ICMP extension objects joined by `,` (shared with tracelb).
pub(crate) fn icmpexts(exts: &[IcmpExt]) -> String {
    let v: Vec<String> = exts
        .iter()
        .map(|e| {
            let mut s = format!("{{\"ie_cn\":{},\"ie_ct\":{},\"ie_dl\":{}", e.class_num, e.class_type, e.data.len());
            if e.is_mpls() {
                let labels: Vec<String> = e
                    .data
                    .chunks_exact(4)
                    .map(|b| {
                        let label = u32::from(b[0]) * 4096 + u32::from(b[1]) * 16 + u32::from(b[2] >> 4);
                        format!(
                            "{{\"mpls_ttl\":{},\"mpls_s\":{},\"mpls_exp\":{},\"mpls_label\":{label}}}",
                            b[3],
                            b[2] & 1,
                            (b[2] >> 1) & 7
                        )
                    })
                    .collect();
                write!(s, ",\"mpls_labels\":[{}]", labels.join(",")).ok();
            }
            s += "}";
            s
        })
        .collect();
    v.join(",")
}

/// First reply address of TTL slot `i` (0-based).
fn slot_addr(t: &Trace, i: usize) -> Option<Addr> {
    t.probes
        .iter()
        .filter(|p| usize::from(p.ttl) == i + 1)
        .find_map(|p| p.replies.first())
        .and_then(|r| r.addr)
}

fn common_prefix_bits(a: &Addr, b: &Addr) -> u32 {
    let (x, y) = (a.octets(), b.octets());
    let mut n = 0;
    for (p, q) in x.iter().zip(y.iter()) {
        let d = p ^ q;
        if d == 0 {
            n += 8;
        } else {
            n += d.leading_zeros();
            break;
        }
    }
    n
}

fn pmtud(t: &Trace, pm: &TracePmtud) -> String {
    let replies: Vec<(&TraceProbe, &TraceReply)> = pm
        .probes
        .iter()
        .flat_map(|p| p.replies.iter().map(move |r| (p, r)))
        .collect();
    let h = usize::from(shown_hop_count(t));
    let out_mtu = if pm.outmtu != 0 { pm.outmtu } else { pm.ifmtu };
    let mut s = format!(
        ",\"pmtud\":{{\"if_mtu\":{},\"out_mtu\":{out_mtu},\"path_mtu\":{},\"probec\":{},\"notec\":{}",
        pm.ifmtu,
        pm.pmtu,
        pm.probes.len(),
        pm.notes.len()
    );
    let first_silent = pm
        .notes
        .first()
        .is_some_and(|n| n.kind == 3 && n.reply.is_none());
    if !pm.notes.is_empty() && (pm.outmtu == 0 || first_silent) {
        let mut d: i32 = 0;
        let mut v = Vec::new();
        for n in &pm.notes {
            let hit = n
                .reply
                .and_then(|i| replies.get(usize::from(i)).map(|pr| (i, pr)));
            let dist: i32 = if n.kind == 3 {
                hit.map_or(0, |(_, (p, _))| i32::from(p.ttl))
            } else if let Some((_, (p, r))) = hit {
                let ra = r.addr;
                let start = (d.max(1) - 1) as usize;
                match (start..h).find(|&i| slot_addr(t, i).is_some() && slot_addr(t, i) == ra) {
                    Some(i) => i as i32 + 1,
                    None if p.ttl <= r.icmp_q_ttl => -1,
                    None => {
                        let i = usize::from(p.ttl - r.icmp_q_ttl);
                        if i >= h {
                            -1
                        } else {
                            let near = match (slot_addr(t, i), ra) {
                                (Some(sa), Some(ra)) => {
                                    let need = if ra.is_ipv4() { 30 } else { 126 };
                                    sa.type_code() == ra.type_code()
                                        && common_prefix_bits(&sa, &ra) >= need
                                }
                                _ => false,
                            };
                            if near {
                                i as i32
                            } else {
                                i as i32 + 1
                            }
                        }
                    }
                }
            } else {
                -1
            };
            let mut o = format!("{{\"nhmtu\":{}", n.nhmtu);
            if let Some((i, _)) = hit {
                write!(o, ",\"hop_id\":{i}").ok();
            }
            if dist >= 0 {
                write!(o, ",\"dist\":{}", dist as u8).ok();
            }
            match n.kind {
                1 => o += ",\"type\":\"ptb\"",
                2 => o += ",\"type\":\"ptb-bad\"",
                3 => o += ",\"type\":\"silence\"",
                k => write!(o, ",\"type\":\"{k}\"").unwrap_or(()),
            }
            if let Some((_, (_, r))) = hit {
                if r.is_ptb() {
                    write!(o, ",\"icmp_nhmtu\":{}", r.icmp_nhmtu).ok();
                }
                if let Some(a) = &r.addr {
                    write!(o, ",\"addr\":\"{a}\"").ok();
                }
            }
            o += "}";
            v.push(o);
            d = d.max(dist);
        }
        write!(s, ",\"notes\":[{}]", v.join(",")).ok();
    }
    let hops: Vec<String> = replies.iter().map(|(p, r)| hop(t, p, r)).collect();
    if !hops.is_empty() {
        write!(s, ",\"hops\":[{}]", hops.join(",")).ok();
    }
    let no: Vec<String> = pm
        .probes
        .iter()
        .filter(|p| p.replies.is_empty())
        .map(no_hop)
        .collect();
    if !no.is_empty() {
        write!(s, ",\"no_hops\":[{}]", no.join(",")).ok();
    }
    s += "}";
    s
}
