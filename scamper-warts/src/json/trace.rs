//! Trace JSON, version "0.1" (json.md section 2).

use super::emit::Emit;
use super::fmt::ftime;
use crate::addr::Addr;
use crate::icmpext::IcmpExt;
use crate::trace::{flags, reply_flags, Trace, TracePmtud, TraceProbe, TraceReply};

/// Appends the JSON object of a trace to `s`.
pub(crate) fn render(s: &mut Vec<u8>, t: &Trace) {
    s.raw("{\"type\":\"trace\",\"version\":\"0.1\",\"userid\":");
    s.num(t.userid);
    s.raw(",\"method\":\"");
    s.name_or_num(t.method.name(), t.method.0);
    s.push(b'"');
    s.opt_addrs(&[
        (",\"src\":", &t.src),
        (",\"dst\":", &t.dst),
        (",\"rtr\":", &t.rtr),
    ]);
    if t.method.is_udp() || t.method.is_tcp() {
        s.raw(",\"sport\":");
        s.num(t.sport);
        s.raw(",\"dport\":");
        s.num(t.dport);
    } else if t.flags & flags::ICMPCSUMDP != 0 {
        s.raw(",\"icmp_sum\":");
        s.num(t.dport);
    }
    s.raw(",\"stop_reason\":\"");
    s.name_or_num(t.stop_reason.name(), t.stop_reason.0);
    s.raw("\",\"stop_data\":");
    s.num(t.stop_data);
    if let Some(e) = &t.errmsg {
        s.raw(",\"errmsg\":\"");
        s.esc_max(e, 511);
        s.push(b'"');
    }
    let h = shown_hop_count(t);
    s.raw(",\"start\":{\"sec\":");
    s.num(t.start.sec);
    s.raw(",\"usec\":");
    s.num(t.start.usec);
    s.raw(",\"ftime\":\"");
    s.raw(&ftime(t.start.sec));
    s.raw("\"},\"hop_count\":");
    s.num(h);
    for (k, v) in [
        (",\"attempts\":", u64::from(t.attempts)),
        (",\"hoplimit\":", u64::from(t.hoplimit)),
        (",\"firsthop\":", u64::from(t.firsthop)),
        (",\"wait\":", u64::from(t.wait_timeout.sec)),
    ] {
        s.raw(k);
        s.num(v);
    }
    // in hundredths of a second (wrapping, so odd in-memory values cannot panic)
    s.raw(",\"wait_probe\":");
    s.num(
        t.wait_probe
            .sec
            .wrapping_mul(100)
            .wrapping_add(t.wait_probe.usec / 10000),
    );
    s.raw(",\"tos\":");
    s.num(t.tos);
    s.raw(",\"probe_size\":");
    s.num(t.probe_size);
    s.raw(",\"probe_count\":");
    s.num(t.probec);
    if let Some(m) = t.list.as_ref().and_then(|l| l.monitor.as_ref()) {
        s.raw(",\"monitor\":\"");
        s.esc_max(m, 511);
        s.push(b'"');
    }
    if t.flags != 0 {
        s.raw(",\"flags\":[");
        let mut first = true;
        for b in (0..32).filter(|b| t.flags & (1u32 << b) != 0) {
            if !first {
                s.push(b',');
            }
            first = false;
            s.push(b'"');
            match flags::NAMES.get(b) {
                Some(n) => s.raw(n),
                None => s.display(format_args!("0x{:08x}", 1u32 << b)),
            }
            s.push(b'"');
        }
        s.push(b']');
    }
    // probes inside the probed range; those up to H are hops, the rest extra hops
    let probes = || {
        t.probes
            .iter()
            .filter(|p| p.ttl >= t.firsthop && u16::from(p.ttl) <= t.hop_count)
    };
    for (key, extra) in [(",\"hops\":[", false), (",\"extra_hops\":[", true)] {
        let mut open = false;
        for p in probes().filter(|p| (u16::from(p.ttl) > h) == extra) {
            for r in &p.replies {
                s.raw(if open { "," } else { key });
                open = true;
                hop(s, t, p, r);
            }
        }
        if open {
            s.push(b']');
        }
    }
    for (key, extra) in [(",\"no_hops\":[", false), (",\"extra_no_hops\":[", true)] {
        let mut open = false;
        for p in probes().filter(|p| (u16::from(p.ttl) > h) == extra && p.replies.is_empty()) {
            s.raw(if open { "," } else { key });
            open = true;
            no_hop(s, p);
        }
        if open {
            s.push(b']');
        }
    }
    if let Some(pm) = t.pmtud.as_ref().filter(|pm| pm.ver == 2) {
        pmtud(s, t, pm);
    }
    s.push(b'}');
}

/// H: the stop hop when one was recorded inside the probed range, else the hop count.
fn shown_hop_count(t: &Trace) -> u16 {
    if t.stop_hop > 0 && u16::from(t.stop_hop) <= t.hop_count {
        u16::from(t.stop_hop)
    } else {
        t.hop_count
    }
}

/// Appends the probe fields shared by hop and no-hop objects.
fn probe_fields(s: &mut Vec<u8>, p: &TraceProbe) {
    s.raw("\"probe_ttl\":");
    s.num(p.ttl);
    s.raw(",\"probe_id\":");
    s.num(p.id);
    s.raw(",\"probe_size\":");
    s.num(p.size);
    if p.tx.sec != 0 {
        s.raw(",\"tx\":");
        s.tv(&p.tx);
    }
}

/// Appends one hop object (a reply).
fn hop(s: &mut Vec<u8>, t: &Trace, p: &TraceProbe, r: &TraceReply) {
    s.push(b'{');
    if let Some(a) = &r.addr {
        s.raw("\"addr\":");
        s.quoted_addr(a);
    }
    if let Some(n) = &r.name {
        s.raw(",\"name\":\"");
        s.esc_max(n, 127);
        s.push(b'"');
    }
    // the comma comes even without an address before it, as in sc_warts2json
    s.push(b',');
    probe_fields(s, p);
    s.raw(",\"rtt\":");
    s.rtt(&r.rtt);
    s.raw(",\"reply_ttl\":");
    s.num(r.reply_ttl);
    s.raw(",\"reply_tos\":");
    s.num(r.reply_tos);
    let mut sep = ",\"flags\":[";
    for (bit, name) in [
        (reply_flags::TS_DL_TX, "\"dltxts\""),
        (reply_flags::TS_DL_RX, "\"dlrxts\""),
        (reply_flags::TS_SOCK_RX, "\"sockrxts\""),
    ] {
        if r.flags & bit != 0 {
            s.raw(sep);
            s.raw(name);
            sep = ",";
        }
    }
    if sep == "," {
        s.push(b']');
    }
    let rxerr = t.flags & flags::RXERR != 0;
    if !rxerr {
        s.raw(",\"reply_ipid\":");
        s.num(r.reply_ipid);
        s.raw(",\"reply_size\":");
        s.num(r.reply_size);
    }
    if r.is_icmp() {
        s.raw(",\"icmp_type\":");
        s.num(r.icmp_type);
        s.raw(",\"icmp_code\":");
        s.num(r.icmp_code);
        if r.has_quotation() && !rxerr {
            s.raw(",\"icmp_q_ttl\":");
            s.num(r.icmp_q_ttl);
            s.raw(",\"icmp_q_ipl\":");
            s.num(r.icmp_q_iplen);
            s.raw(",\"icmp_q_tos\":");
            s.num(r.icmp_q_tos);
        }
        if r.is_ptb() {
            // the key really has a colon inside
            s.raw(",\"icmp_nhmtu:\":");
            s.num(r.icmp_nhmtu);
        }
    } else if r.is_tcp() {
        s.raw(",\"tcp_flags\":");
        s.num(r.tcp_flags);
    }
    if !r.icmp_exts.is_empty() {
        s.raw(",\"icmpext\":[");
        push_icmpexts(s, &r.icmp_exts);
        s.push(b']');
    }
    s.push(b'}');
}

/// Appends one no-hop object (a probe without replies).
fn no_hop(s: &mut Vec<u8>, p: &TraceProbe) {
    s.push(b'{');
    probe_fields(s, p);
    s.push(b'}');
}

/// ICMP extension objects joined by `,` (shared with tracelb).
pub(crate) fn icmpexts(exts: &[IcmpExt]) -> String {
    let mut s = Vec::new();
    push_icmpexts(&mut s, exts);
    String::from_utf8(s).unwrap_or_default()
}

fn push_icmpexts(s: &mut Vec<u8>, exts: &[IcmpExt]) {
    for (i, e) in exts.iter().enumerate() {
        if i > 0 {
            s.push(b',');
        }
        s.raw("{\"ie_cn\":");
        s.num(e.class_num);
        s.raw(",\"ie_ct\":");
        s.num(e.class_type);
        s.raw(",\"ie_dl\":");
        s.num(e.data.len() as u64);
        if e.is_mpls() {
            s.raw(",\"mpls_labels\":[");
            for (k, b) in e.data.chunks_exact(4).enumerate() {
                if k > 0 {
                    s.push(b',');
                }
                let label = u32::from(b[0]) * 4096 + u32::from(b[1]) * 16 + u32::from(b[2] >> 4);
                s.raw("{\"mpls_ttl\":");
                s.num(b[3]);
                s.raw(",\"mpls_s\":");
                s.num(b[2] & 1);
                s.raw(",\"mpls_exp\":");
                s.num((b[2] >> 1) & 7);
                s.raw(",\"mpls_label\":");
                s.num(label);
                s.push(b'}');
            }
            s.push(b']');
        }
        s.push(b'}');
    }
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

/// Appends the `"pmtud"` member (PMTUD version 2 data).
fn pmtud(s: &mut Vec<u8>, t: &Trace, pm: &TracePmtud) {
    let replies: Vec<(&TraceProbe, &TraceReply)> = pm
        .probes
        .iter()
        .flat_map(|p| p.replies.iter().map(move |r| (p, r)))
        .collect();
    let h = usize::from(shown_hop_count(t));
    let out_mtu = if pm.outmtu != 0 { pm.outmtu } else { pm.ifmtu };
    s.raw(",\"pmtud\":{\"if_mtu\":");
    s.num(pm.ifmtu);
    s.raw(",\"out_mtu\":");
    s.num(out_mtu);
    s.raw(",\"path_mtu\":");
    s.num(pm.pmtu);
    s.raw(",\"probec\":");
    s.num(pm.probes.len() as u64);
    s.raw(",\"notec\":");
    s.num(pm.notes.len() as u64);
    let first_silent = pm
        .notes
        .first()
        .is_some_and(|n| n.kind == 3 && n.reply.is_none());
    if !pm.notes.is_empty() && (pm.outmtu == 0 || first_silent) {
        let mut d: i32 = 0;
        s.raw(",\"notes\":[");
        for (k, n) in pm.notes.iter().enumerate() {
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
            if k > 0 {
                s.push(b',');
            }
            s.raw("{\"nhmtu\":");
            s.num(n.nhmtu);
            if let Some((i, _)) = hit {
                s.raw(",\"hop_id\":");
                s.num(i);
            }
            if dist >= 0 {
                s.raw(",\"dist\":");
                s.num(dist as u8);
            }
            match n.kind {
                1 => s.raw(",\"type\":\"ptb\""),
                2 => s.raw(",\"type\":\"ptb-bad\""),
                3 => s.raw(",\"type\":\"silence\""),
                k => {
                    s.raw(",\"type\":\"");
                    s.num(k);
                    s.push(b'"');
                }
            }
            if let Some((_, (_, r))) = hit {
                if r.is_ptb() {
                    s.raw(",\"icmp_nhmtu\":");
                    s.num(r.icmp_nhmtu);
                }
                if let Some(a) = &r.addr {
                    s.raw(",\"addr\":");
                    s.quoted_addr(a);
                }
            }
            s.push(b'}');
            d = d.max(dist);
        }
        s.push(b']');
    }
    for (k, (p, r)) in replies.iter().enumerate() {
        s.raw(if k == 0 { ",\"hops\":[" } else { "," });
        hop(s, t, p, r);
    }
    if !replies.is_empty() {
        s.push(b']');
    }
    let mut open = false;
    for p in pm.probes.iter().filter(|p| p.replies.is_empty()) {
        s.raw(if open { "," } else { ",\"no_hops\":[" });
        open = true;
        no_hop(s, p);
    }
    if open {
        s.push(b']');
    }
    s.push(b'}');
}
