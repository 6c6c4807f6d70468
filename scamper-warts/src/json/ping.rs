//! Ping JSON, version "0.4" (json.md section 1).

use super::emit::Emit;
use crate::addr::Addr;
use crate::ping::{flags, reply_flags, Ping, PingProbe, PingReply};
use crate::timeval::Timeval;

/// Appends the JSON object of a ping to `s`.
pub(crate) fn render(s: &mut Vec<u8>, p: &Ping) {
    // room for a typical line, so appending does not reallocate midway
    s.reserve(512 + 320 * p.probes.len());
    s.raw("{\"type\":\"ping\",\"version\":\"0.4\",\"method\":\"");
    s.name_or_num(p.method.name(), p.method.0);
    s.push(b'"');
    s.opt_addrs(&[
        (",\"src\":", &p.src),
        (",\"dst\":", &p.dst),
        (",\"rtr\":", &p.rtr),
    ]);
    s.raw(",\"start\":");
    s.tv(&p.start);
    s.raw(",\"stop_reason\":\"");
    s.name_or_num(p.stop_reason.name(), p.stop_reason.0);
    s.raw("\",\"stop_data\":");
    s.num(p.stop_data);
    if let Some(e) = &p.errmsg {
        s.raw(",\"errmsg\":\"");
        s.esc_max(e, 511);
        s.push(b'"');
    }
    s.raw(",\"ping_sent\":");
    s.num(p.ping_sent);
    s.raw(",\"probe_size\":");
    s.num(p.probe_size);
    s.raw(",\"userid\":");
    s.num(p.userid);
    s.raw(",\"ttl\":");
    s.num(p.probe_ttl);
    s.raw(",\"tos\":");
    s.num(p.probe_tos);
    s.raw(",\"wait\":");
    s.num(p.wait_probe.sec);
    if p.wait_probe.usec != 0 {
        s.raw(",\"wait_us\":");
        s.num(p.wait_probe.usec);
    }
    s.raw(",\"timeout\":");
    s.num(p.wait_timeout.sec);
    if p.wait_timeout.usec != 0 {
        s.raw(",\"timeout_us\":");
        s.num(p.wait_timeout.usec);
    }
    if p.method.is_udp() || p.method.is_tcp() {
        s.raw(",\"sport\":");
        s.num(p.probe_sport);
        s.raw(",\"dport\":");
        s.num(p.probe_dport);
    }
    if p.method.is_tcp() {
        s.raw(",\"tcp_seq\":");
        s.num(p.probe_tcpseq);
        s.raw(",\"tcp_ack\":");
        s.num(p.probe_tcpack);
    }
    if !p.data.is_empty() {
        s.raw(if p.flags & flags::PAYLOAD != 0 {
            ",\"payload\":\""
        } else {
            ",\"pattern\":\""
        });
        s.hex(&p.data);
        s.push(b'"');
    }
    if p.flags != 0 {
        s.raw(",\"flags\":[");
        let mut sep = "\"";
        for (b, name) in flags::NAMES.iter().enumerate() {
            if p.flags & (1 << b) != 0 {
                s.raw(sep);
                s.raw(name);
                s.push(b'"');
                sep = ",\"";
            }
        }
        s.push(b']');
    }
    if p.method.is_icmp() && p.flags & flags::ICMPSUM != 0 {
        s.raw(",\"icmp_csum\":");
        s.num(p.probe_icmpsum);
    }
    if let Some(l) = &p.probe_tsps {
        // sc_warts2json really omits the commas here
        s.raw(",\"probe_tsps\":[");
        for a in l {
            s.quoted_addr(a);
        }
        s.push(b']');
    }
    if let Some(m) = p.list.as_ref().and_then(|l| l.monitor.as_ref()) {
        s.raw(",\"monitor\":\"");
        s.esc_max(m, 511);
        s.push(b'"');
    }
    s.raw(",\"responses\":[");
    let mut first = true;
    for (i, probe) in p.probes.iter().enumerate() {
        if let Some(probe) = probe {
            for r in &probe.replies {
                if !first {
                    s.push(b',');
                }
                first = false;
                reply(s, p, i, probe, r);
            }
        }
    }
    s.raw("],\"no_responses\":[");
    let mut first = true;
    for (i, probe) in p.probes.iter().enumerate() {
        if let Some(probe) = probe.as_ref().filter(|pr| pr.replies.is_empty()) {
            if !first {
                s.push(b',');
            }
            first = false;
            no_reply(s, p, i, probe);
        }
    }
    s.raw("],");
    statistics(s, p);
    s.push(b'}');
}

/// tx, port and probe-ipid fragments shared by reply and no-reply objects.
fn probe_fields(s: &mut Vec<u8>, p: &Ping, i: usize, pb: &PingProbe) {
    if pb.tx.sec != 0 {
        s.raw(",\"tx\":");
        s.tv(&pb.tx);
    }
    let i16 = i as u16;
    if p.method.is_icmp() {
        s.raw(",\"icmp_id\":");
        s.num(p.probe_sport);
        s.raw(",\"icmp_seq\":");
        s.num(p.probe_dport.wrapping_add(i16));
    } else {
        let sport = if pb.sport != 0 {
            pb.sport
        } else if p.method.varies_sport() {
            p.probe_sport.wrapping_add(i16)
        } else {
            p.probe_sport
        };
        let dport = if p.method.varies_dport() {
            p.probe_dport.wrapping_add(i16)
        } else {
            p.probe_dport
        };
        let (ks, kd) = if p.method.is_udp() {
            (",\"udp_sport\":", ", \"udp_dport\":")
        } else if p.method.is_tcp() {
            (",\"tcp_sport\":", ", \"tcp_dport\":")
        } else {
            (",\"bug_sport\":", ", \"bug_dport\":")
        };
        s.raw(ks);
        s.num(sport);
        s.raw(kd);
        s.num(dport);
    }
    if pb.flags & reply_flags::PROBE_IPID != 0 {
        s.raw(",\"probe_ipid\":");
        s.num(pb.ipid);
    }
}

/// Appends one reply object.
fn reply(s: &mut Vec<u8>, p: &Ping, i: usize, pb: &PingProbe, r: &PingReply) {
    s.push(b'{');
    if let Some(a) = &r.addr {
        s.raw("\"from\":");
        s.quoted_addr(a);
        s.push(b',');
    }
    s.raw("\"reply_size\":");
    s.num(r.reply_size);
    s.raw(",\"reply_ttl\":");
    s.num(r.reply_ttl);
    s.raw(",\"seq\":");
    s.num(i as u64);
    probe_fields(s, p, i, pb);
    match r.reply_proto {
        1 | 58 => s.raw(",\"reply_proto\":\"icmp\""),
        6 => s.raw(",\"reply_proto\":\"tcp\""),
        17 => s.raw(",\"reply_proto\":\"udp\""),
        n => {
            s.raw(",\"reply_proto\":");
            s.num(n);
        }
    }
    if let Some(n) = &r.ifname {
        s.raw(",\"ifname\":\"");
        s.raw(n);
        s.push(b'"');
    }
    match r.flags & (reply_flags::DLTX | reply_flags::DLRX) {
        0 => {}
        reply_flags::DLTX => s.raw(",\"reply_flags\":[\"dltxts\"]"),
        reply_flags::DLRX => s.raw(",\"reply_flags\":[\"dlrxts\"]"),
        _ => s.raw(",\"reply_flags\":[\"dltxts\",\"dlrxts\"]"),
    }
    if pb.tx.sec != 0 {
        s.raw(",\"rx\":");
        s.tv(&pb.tx.add(&r.rtt));
    }
    s.raw(",\"rtt\":");
    s.rtt(&r.rtt);
    match r.addr {
        Some(Addr::V4(_)) => {
            s.raw(",\"reply_ipid\":");
            s.num(r.reply_ipid as u16);
        }
        Some(Addr::V6(_)) if r.flags & reply_flags::REPLY_IPID != 0 => {
            s.raw(",\"reply_ipid\":");
            s.num(r.reply_ipid);
        }
        _ => {}
    }
    if r.flags & reply_flags::REPLY_TOS != 0 {
        s.raw(",\"reply_tos\":");
        s.num(r.reply_tos);
    }
    if r.is_icmp() {
        s.raw(",\"icmp_type\":");
        s.num(r.icmp_type);
        s.raw(",\"icmp_code\":");
        s.num(r.icmp_code);
        if r.is_icmp_ptb() {
            s.raw(",\"icmp_nhmtu\":");
            s.num(r.icmp_nhmtu);
        }
    } else if r.is_tcp() {
        s.raw(",\"tcp_flags\":");
        s.num(r.tcp_flags);
    }
    if let Some(rr) = &r.v4rr {
        s.raw(",\"RR\":[");
        for (k, a) in rr.iter().enumerate() {
            if k > 0 {
                s.push(b',');
            }
            s.quoted_addr(a);
        }
        s.push(b']');
    }
    if let Some(ts) = &r.v4ts {
        if p.flags & flags::TSONLY != 0 {
            s.raw(",\"tsonly\":[");
            for (k, t) in ts.timestamps.iter().enumerate() {
                if k > 0 {
                    s.push(b',');
                }
                s.num(*t);
            }
        } else {
            s.raw(",\"tsandaddr\":[");
            for (k, t) in ts.timestamps.iter().enumerate() {
                if k > 0 {
                    s.push(b',');
                }
                s.raw("{\"ts\":");
                s.num(*t);
                if let Some(a) = ts.addrs.get(k) {
                    s.raw(",\"ip\":");
                    s.quoted_addr(a);
                }
                s.push(b'}');
            }
        }
        s.push(b']');
    }
    s.push(b'}');
}

/// Appends one object of the no_responses array.
fn no_reply(s: &mut Vec<u8>, p: &Ping, i: usize, pb: &PingProbe) {
    s.raw("{\"seq\":");
    s.num(i as u64);
    match pb.flags & (reply_flags::DLTX | reply_flags::PENDING) {
        0 => {}
        reply_flags::DLTX => s.raw(",\"probe_flags\":[\"dltxts\"]"),
        reply_flags::PENDING => s.raw(",\"probe_flags\":[\"pending\"]"),
        _ => s.raw(",\"probe_flags\":[\"dltxts\", \"pending\"]"),
    }
    probe_fields(s, p, i, pb);
    s.push(b'}');
}

/// Whether a reply comes from the target for the purposes of the statistics.
pub(crate) fn from_target(p: &Ping, r: &PingReply) -> bool {
    let v4 = matches!(r.addr, Some(Addr::V4(_)));
    if p.method.0 == 0 {
        r.is_icmp() && ((v4 && r.icmp_type == 0) || (!v4 && r.icmp_type == 129))
    } else if p.method.0 == 5 {
        r.is_icmp() && v4 && r.icmp_type == 14
    } else if p.method.is_tcp() {
        r.reply_proto == 6
    } else if p.method.is_udp() {
        (r.is_icmp()
            && ((v4 && r.icmp_type == 3 && r.icmp_code == 3)
                || (!v4 && r.icmp_type == 1 && r.icmp_code == 4)))
            || r.reply_proto == 17
    } else {
        false
    }
}

/// Summary numbers over a ping's replies.
pub(crate) struct Stats {
    pub replies: u32,
    pub ndups: u32,
    pub nerrs: u32,
    pub npend: u32,
    pub min: Timeval,
    pub max: Timeval,
    pub avg_us: u32,
    pub stddev_us: u32,
}

pub(crate) fn stats(p: &Ping) -> Stats {
    let mut st = Stats {
        replies: 0,
        ndups: 0,
        nerrs: 0,
        npend: 0,
        min: Timeval::default(),
        max: Timeval::default(),
        avg_us: 0,
        stddev_us: 0,
    };
    let us = |r: &PingReply| f64::from(r.rtt.sec) * 1e6 + f64::from(r.rtt.usec);
    // RTT count and sum in this pass, the spread in a second one over the same replies in
    // the same order (no list of RTTs to allocate)
    let (mut n, mut sum) = (0u32, 0.0f64);
    for pb in p.probes.iter().flatten() {
        if pb.flags & reply_flags::PENDING != 0 {
            st.npend += 1;
            continue;
        }
        let mut k = 0;
        for r in &pb.replies {
            if from_target(p, r) {
                if n == 0 {
                    st.min = r.rtt;
                    st.max = r.rtt;
                } else {
                    st.min = st.min.min(r.rtt);
                    st.max = st.max.max(r.rtt);
                }
                n += 1;
                sum += us(r);
                k += 1;
            } else {
                st.nerrs += 1;
            }
        }
        if k > 0 {
            st.replies += 1;
            st.ndups += k - 1;
        }
    }
    if n > 0 {
        let n = f64::from(n);
        let mean = sum / n;
        st.avg_us = mean as u32;
        let var = p
            .probes
            .iter()
            .flatten()
            .filter(|pb| pb.flags & reply_flags::PENDING == 0)
            .flat_map(|pb| pb.replies.iter())
            .filter(|r| from_target(p, r))
            .map(|r| (us(r) - mean) * (us(r) - mean))
            .sum::<f64>()
            / n;
        st.stddev_us = var.sqrt() as u32;
    }
    st
}

/// Appends the statistics object.
fn statistics(s: &mut Vec<u8>, p: &Ping) {
    let st = stats(p);
    s.raw("\"statistics\":{\"replies\":");
    s.num(st.replies);
    let sent = u32::from(p.ping_sent);
    if sent > st.npend {
        let total = sent - st.npend;
        if st.replies == 0 {
            s.raw(",\"loss\":1");
        } else if st.replies == total {
            s.raw(",\"loss\":0");
        } else {
            let loss = (i64::from(total) - i64::from(st.replies)) as f32 / total as f32;
            s.raw(",\"loss\":");
            s.display(format_args!("{loss:.2}"));
        }
    }
    if st.replies > 0 {
        for (k, v) in [
            (",\"min\":", st.min),
            (",\"max\":", st.max),
            (",\"avg\":", Timeval::from_usec32(st.avg_us)),
            (",\"stddev\":", Timeval::from_usec32(st.stddev_us)),
        ] {
            s.raw(k);
            s.rtt(&v);
        }
    }
    for (k, v) in [
        (",\"ndups\":", st.ndups),
        (",\"nerrs\":", st.nerrs),
        (",\"npend\":", st.npend),
    ] {
        if v > 0 {
            s.raw(k);
            s.num(v);
        }
    }
    s.push(b'}');
}
