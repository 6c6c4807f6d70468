//! Ping JSON, version "0.4" (json.md section 1).

use std::fmt::Write;

use super::fmt::{esc, hex, push_addr, push_num, push_rtt, push_tv};
use crate::addr::Addr;
use crate::ping::{flags, reply_flags, Ping, PingProbe, PingReply};
use crate::timeval::Timeval;

pub(crate) fn render(p: &Ping) -> String {
    // one allocation for a typical ping line
    let mut s = String::with_capacity(512 + 320 * p.probes.len());
    s.push_str("{\"type\":\"ping\",\"version\":\"0.4\"");
    match p.method.name() {
        Some(n) => write!(s, ",\"method\":\"{n}\""),
        None => write!(s, ",\"method\":\"{}\"", p.method.0),
    }
    .ok();
    for (k, a) in [("src", &p.src), ("dst", &p.dst), ("rtr", &p.rtr)] {
        if let Some(a) = a {
            s.push_str(",\"");
            s.push_str(k);
            s.push_str("\":\"");
            push_addr(&mut s, a);
            s.push('"');
        }
    }
    s.push_str(",\"start\":");
    push_tv(&mut s, &p.start);
    match p.stop_reason.name() {
        Some(n) => write!(s, ",\"stop_reason\":\"{n}\""),
        None => write!(s, ",\"stop_reason\":\"{}\"", p.stop_reason.0),
    }
    .ok();
    s.push_str(",\"stop_data\":");
    push_num(&mut s, p.stop_data);
    if let Some(e) = &p.errmsg {
        write!(s, ",\"errmsg\":\"{}\"", esc(e)).ok();
    }
    for (k, v) in [
        (",\"ping_sent\":", u64::from(p.ping_sent)),
        (",\"probe_size\":", u64::from(p.probe_size)),
        (",\"userid\":", u64::from(p.userid)),
        (",\"ttl\":", u64::from(p.probe_ttl)),
        (",\"tos\":", u64::from(p.probe_tos)),
        (",\"wait\":", u64::from(p.wait_probe.sec)),
    ] {
        s.push_str(k);
        push_num(&mut s, v);
    }
    if p.wait_probe.usec != 0 {
        write!(s, ",\"wait_us\":{}", p.wait_probe.usec).ok();
    }
    s.push_str(",\"timeout\":");
    push_num(&mut s, p.wait_timeout.sec);
    if p.wait_timeout.usec != 0 {
        write!(s, ",\"timeout_us\":{}", p.wait_timeout.usec).ok();
    }
    if p.method.is_udp() || p.method.is_tcp() {
        write!(
            s,
            ",\"sport\":{},\"dport\":{}",
            p.probe_sport, p.probe_dport
        )
        .ok();
    }
    if p.method.is_tcp() {
        write!(
            s,
            ",\"tcp_seq\":{},\"tcp_ack\":{}",
            p.probe_tcpseq, p.probe_tcpack
        )
        .ok();
    }
    if !p.data.is_empty() {
        let k = if p.flags & flags::PAYLOAD != 0 {
            "payload"
        } else {
            "pattern"
        };
        write!(s, ",\"{k}\":\"{}\"", hex(&p.data)).ok();
    }
    if p.flags != 0 {
        let names: Vec<String> = (0..12)
            .filter(|b| p.flags & (1 << b) != 0)
            .map(|b| format!("\"{}\"", flags::NAMES[b]))
            .collect();
        write!(s, ",\"flags\":[{}]", names.join(",")).ok();
    }
    if p.method.is_icmp() && p.flags & flags::ICMPSUM != 0 {
        write!(s, ",\"icmp_csum\":{}", p.probe_icmpsum).ok();
    }
    if let Some(l) = &p.probe_tsps {
        // sc_warts2json really omits the commas here
        let items: String = l.iter().map(|a| format!("\"{a}\"")).collect();
        write!(s, ",\"probe_tsps\":[{items}]").ok();
    }
    if let Some(m) = p.list.as_ref().and_then(|l| l.monitor.as_ref()) {
        write!(s, ",\"monitor\":\"{}\"", esc(m)).ok();
    }
    s += ",\"responses\":[";
    let mut first = true;
    for (i, probe) in p.probes.iter().enumerate() {
        if let Some(probe) = probe {
            for r in &probe.replies {
                if !first {
                    s.push(',');
                }
                first = false;
                reply(&mut s, p, i, probe, r);
            }
        }
    }
    s += "],\"no_responses\":[";
    let nores: Vec<String> = p
        .probes
        .iter()
        .enumerate()
        .filter_map(|(i, pr)| {
            pr.as_ref()
                .filter(|pr| pr.replies.is_empty())
                .map(|pr| no_reply(p, i, pr))
        })
        .collect();
    s += &nores.join(",");
    s += "],";
    statistics(&mut s, p);
    s += "}";
    s
}

/// tx, port and probe-ipid fragments shared by reply and no-reply objects.
fn probe_fields(s: &mut String, p: &Ping, i: usize, pb: &PingProbe, with_tx: bool) {
    if with_tx && pb.tx.sec != 0 {
        s.push_str(",\"tx\":");
        push_tv(s, &pb.tx);
    }
    let i16 = i as u16;
    if p.method.is_icmp() {
        s.push_str(",\"icmp_id\":");
        push_num(s, p.probe_sport);
        s.push_str(",\"icmp_seq\":");
        push_num(s, p.probe_dport.wrapping_add(i16));
    } else {
        let pt = if p.method.is_udp() {
            "udp"
        } else if p.method.is_tcp() {
            "tcp"
        } else {
            "bug"
        };
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
        write!(s, ",\"{pt}_sport\":{sport}, \"{pt}_dport\":{dport}").ok();
    }
    if pb.flags & reply_flags::PROBE_IPID != 0 {
        write!(s, ",\"probe_ipid\":{}", pb.ipid).ok();
    }
}

/// Appends one reply object to `s`.
fn reply(s: &mut String, p: &Ping, i: usize, pb: &PingProbe, r: &PingReply) {
    s.push('{');
    if let Some(a) = &r.addr {
        s.push_str("\"from\":\"");
        push_addr(s, a);
        s.push_str("\",");
    }
    s.push_str("\"reply_size\":");
    push_num(s, r.reply_size);
    s.push_str(",\"reply_ttl\":");
    push_num(s, r.reply_ttl);
    s.push_str(",\"seq\":");
    push_num(s, i as u64);
    probe_fields(s, p, i, pb, true);
    match r.reply_proto {
        1 | 58 => s.push_str(",\"reply_proto\":\"icmp\""),
        6 => s.push_str(",\"reply_proto\":\"tcp\""),
        17 => s.push_str(",\"reply_proto\":\"udp\""),
        n => write!(s, ",\"reply_proto\":{n}").unwrap_or(()),
    }
    if let Some(n) = &r.ifname {
        write!(s, ",\"ifname\":\"{n}\"").ok();
    }
    if r.flags & (reply_flags::DLTX | reply_flags::DLRX) != 0 {
        let mut v = Vec::new();
        if r.flags & reply_flags::DLTX != 0 {
            v.push("\"dltxts\"");
        }
        if r.flags & reply_flags::DLRX != 0 {
            v.push("\"dlrxts\"");
        }
        write!(s, ",\"reply_flags\":[{}]", v.join(",")).ok();
    }
    if pb.tx.sec != 0 {
        s.push_str(",\"rx\":");
        push_tv(s, &pb.tx.add(&r.rtt));
    }
    s.push_str(",\"rtt\":");
    push_rtt(s, &r.rtt);
    match r.addr {
        Some(Addr::V4(_)) => {
            s.push_str(",\"reply_ipid\":");
            push_num(s, r.reply_ipid as u16);
        }
        Some(Addr::V6(_)) if r.flags & reply_flags::REPLY_IPID != 0 => {
            s.push_str(",\"reply_ipid\":");
            push_num(s, r.reply_ipid);
        }
        _ => {}
    }
    if r.flags & reply_flags::REPLY_TOS != 0 {
        write!(s, ",\"reply_tos\":{}", r.reply_tos).ok();
    }
    if r.is_icmp() {
        s.push_str(",\"icmp_type\":");
        push_num(s, r.icmp_type);
        s.push_str(",\"icmp_code\":");
        push_num(s, r.icmp_code);
        if r.is_icmp_ptb() {
            write!(s, ",\"icmp_nhmtu\":{}", r.icmp_nhmtu).ok();
        }
    } else if r.is_tcp() {
        write!(s, ",\"tcp_flags\":{}", r.tcp_flags).ok();
    }
    if let Some(rr) = &r.v4rr {
        let v: Vec<String> = rr.iter().map(|a| format!("\"{a}\"")).collect();
        write!(s, ",\"RR\":[{}]", v.join(",")).ok();
    }
    if let Some(ts) = &r.v4ts {
        if p.flags & flags::TSONLY != 0 {
            let v: Vec<String> = ts.timestamps.iter().map(u32::to_string).collect();
            write!(s, ",\"tsonly\":[{}]", v.join(",")).ok();
        } else {
            let v: Vec<String> = ts
                .timestamps
                .iter()
                .enumerate()
                .map(|(k, t)| match ts.addrs.get(k) {
                    Some(a) => format!("{{\"ts\":{t},\"ip\":\"{a}\"}}"),
                    None => format!("{{\"ts\":{t}}}"),
                })
                .collect();
            write!(s, ",\"tsandaddr\":[{}]", v.join(",")).ok();
        }
    }
    s.push('}');
}

fn no_reply(p: &Ping, i: usize, pb: &PingProbe) -> String {
    let mut s = format!("{{\"seq\":{i}");
    let f = pb.flags & (reply_flags::DLTX | reply_flags::PENDING);
    if f != 0 {
        let mut v = Vec::new();
        if pb.flags & reply_flags::DLTX != 0 {
            v.push("\"dltxts\"");
        }
        if pb.flags & reply_flags::PENDING != 0 {
            v.push("\"pending\"");
        }
        write!(s, ",\"probe_flags\":[{}]", v.join(", ")).ok();
    }
    probe_fields(&mut s, p, i, pb, true);
    s += "}";
    s
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
    let mut rtts: Vec<f64> = Vec::new();
    for pb in p.probes.iter().flatten() {
        if pb.flags & reply_flags::PENDING != 0 {
            st.npend += 1;
            continue;
        }
        let mut k = 0;
        for r in &pb.replies {
            if from_target(p, r) {
                if rtts.is_empty() {
                    st.min = r.rtt;
                    st.max = r.rtt;
                } else {
                    st.min = st.min.min(r.rtt);
                    st.max = st.max.max(r.rtt);
                }
                rtts.push(f64::from(r.rtt.sec) * 1e6 + f64::from(r.rtt.usec));
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
    if !rtts.is_empty() {
        let n = rtts.len() as f64;
        let mean = rtts.iter().sum::<f64>() / n;
        st.avg_us = mean as u32;
        let var = rtts.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        st.stddev_us = var.sqrt() as u32;
    }
    st
}

/// Appends the statistics object.
fn statistics(s: &mut String, p: &Ping) {
    let st = stats(p);
    s.push_str("\"statistics\":{\"replies\":");
    push_num(s, st.replies);
    let sent = u32::from(p.ping_sent);
    if sent > st.npend {
        let total = sent - st.npend;
        if st.replies == 0 {
            s.push_str(",\"loss\":1");
        } else if st.replies == total {
            s.push_str(",\"loss\":0");
        } else {
            let loss = (i64::from(total) - i64::from(st.replies)) as f32 / total as f32;
            write!(s, ",\"loss\":{loss:.2}").ok();
        }
    }
    if st.replies > 0 {
        for (k, v) in [
            (",\"min\":", st.min),
            (",\"max\":", st.max),
            (",\"avg\":", Timeval::from_usec32(st.avg_us)),
            (",\"stddev\":", Timeval::from_usec32(st.stddev_us)),
        ] {
            s.push_str(k);
            push_rtt(s, &v);
        }
    }
    if st.ndups > 0 {
        write!(s, ",\"ndups\":{}", st.ndups).ok();
    }
    if st.nerrs > 0 {
        write!(s, ",\"nerrs\":{}", st.nerrs).ok();
    }
    if st.npend > 0 {
        write!(s, ",\"npend\":{}", st.npend).ok();
    }
    s.push('}');
}
