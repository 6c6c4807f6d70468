//! Ping JSON, version "0.4" (json.md section 1).

use std::fmt::Write;

use super::fmt::{esc, hex, rtt, tv};
use crate::addr::Addr;
use crate::ping::{flags, reply_flags, Ping, PingProbe, PingReply};
use crate::timeval::Timeval;

pub(crate) fn render(p: &Ping) -> String {
    let mut s = String::from("{\"type\":\"ping\",\"version\":\"0.4\"");
    match p.method.name() {
        Some(n) => write!(s, ",\"method\":\"{n}\""),
        None => write!(s, ",\"method\":\"{}\"", p.method.0),
    }
    .ok();
    for (k, a) in [("src", &p.src), ("dst", &p.dst), ("rtr", &p.rtr)] {
        if let Some(a) = a {
            write!(s, ",\"{k}\":\"{a}\"").ok();
        }
    }
    write!(s, ",\"start\":{}", tv(&p.start, "")).ok();
    match p.stop_reason.name() {
        Some(n) => write!(s, ",\"stop_reason\":\"{n}\""),
        None => write!(s, ",\"stop_reason\":\"{}\"", p.stop_reason.0),
    }
    .ok();
    write!(s, ",\"stop_data\":{}", p.stop_data).ok();
    if let Some(e) = &p.errmsg {
        write!(s, ",\"errmsg\":\"{}\"", esc(e)).ok();
    }
    write!(
        s,
        ",\"ping_sent\":{},\"probe_size\":{},\"userid\":{},\"ttl\":{},\"tos\":{},\"wait\":{}",
        p.ping_sent, p.probe_size, p.userid, p.probe_ttl, p.probe_tos, p.wait_probe.sec
    )
    .ok();
    if p.wait_probe.usec != 0 {
        write!(s, ",\"wait_us\":{}", p.wait_probe.usec).ok();
    }
    write!(s, ",\"timeout\":{}", p.wait_timeout.sec).ok();
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
    let mut replies = Vec::new();
    for (i, probe) in p.probes.iter().enumerate() {
        if let Some(probe) = probe {
            for r in &probe.replies {
                replies.push(reply(p, i, probe, r));
            }
        }
    }
    write!(
        s,
        ",\"responses\":[{}],\"no_responses\":[",
        replies.join(",")
    )
    .ok();
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
    s += &statistics(p);
    s += "}";
    s
}

/// tx, port and probe-ipid fragments shared by reply and no-reply objects.
fn probe_fields(s: &mut String, p: &Ping, i: usize, pb: &PingProbe, with_tx: bool) {
    if with_tx && pb.tx.sec != 0 {
        write!(s, ",\"tx\":{}", tv(&pb.tx, "")).ok();
    }
    let i16 = i as u16;
    if p.method.is_icmp() {
        write!(
            s,
            ",\"icmp_id\":{},\"icmp_seq\":{}",
            p.probe_sport,
            p.probe_dport.wrapping_add(i16)
        )
        .ok();
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

fn reply(p: &Ping, i: usize, pb: &PingProbe, r: &PingReply) -> String {
    let mut s = String::from("{");
    if let Some(a) = &r.addr {
        write!(s, "\"from\":\"{a}\",").ok();
    }
    write!(
        s,
        "\"reply_size\":{},\"reply_ttl\":{},\"seq\":{}",
        r.reply_size, r.reply_ttl, i
    )
    .ok();
    probe_fields(&mut s, p, i, pb, true);
    match r.reply_proto {
        1 | 58 => s += ",\"reply_proto\":\"icmp\"",
        6 => s += ",\"reply_proto\":\"tcp\"",
        17 => s += ",\"reply_proto\":\"udp\"",
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
        write!(s, ",\"rx\":{}", tv(&pb.tx.add(&r.rtt), "")).ok();
    }
    write!(s, ",\"rtt\":{}", rtt(&r.rtt)).ok();
    match r.addr {
        Some(Addr::V4(_)) => write!(s, ",\"reply_ipid\":{}", r.reply_ipid as u16).unwrap_or(()),
        Some(Addr::V6(_)) if r.flags & reply_flags::REPLY_IPID != 0 => {
            write!(s, ",\"reply_ipid\":{}", r.reply_ipid).unwrap_or(())
        }
        _ => {}
    }
    if r.flags & reply_flags::REPLY_TOS != 0 {
        write!(s, ",\"reply_tos\":{}", r.reply_tos).ok();
    }
    if r.is_icmp() {
        write!(
            s,
            ",\"icmp_type\":{},\"icmp_code\":{}",
            r.icmp_type, r.icmp_code
        )
        .ok();
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
    s += "}";
    s
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

fn statistics(p: &Ping) -> String {
    let st = stats(p);
    let mut s = format!("\"statistics\":{{\"replies\":{}", st.replies);
    let sent = u32::from(p.ping_sent);
    if sent > st.npend {
        let total = sent - st.npend;
        if st.replies == 0 {
            s += ",\"loss\":1";
        } else if st.replies == total {
            s += ",\"loss\":0";
        } else {
            let loss = (i64::from(total) - i64::from(st.replies)) as f32 / total as f32;
            write!(s, ",\"loss\":{loss:.2}").ok();
        }
    }
    if st.replies > 0 {
        write!(
            s,
            ",\"min\":{},\"max\":{},\"avg\":{},\"stddev\":{}",
            rtt(&st.min),
            rtt(&st.max),
            rtt(&Timeval::from_usec32(st.avg_us)),
            rtt(&Timeval::from_usec32(st.stddev_us))
        )
        .ok();
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
    s += "}";
    s
}
