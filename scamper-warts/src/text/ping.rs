//! `ping from ... to ...` text.

use std::fmt::Write;

use super::cbuf::{into_string, CBuf};
use crate::json::fmt_rtt;
use crate::json::ping_stats as stats;
use crate::ping::{Ping, PingReply};
use crate::timeval::Timeval;

pub(crate) fn render(p: &Ping) -> String {
    let addr = |a: &Option<crate::addr::Addr>| a.map(|a| a.to_string()).unwrap_or_default();
    let mut s = String::from("ping");
    if let Some(a) = &p.src {
        write!(s, " from {a}").ok();
    }
    writeln!(s, " to {}: {} byte packets", addr(&p.dst), p.probe_size).ok();
    for (i, pb) in p.probes.iter().enumerate() {
        let Some(pb) = pb else { continue };
        for r in &pb.replies {
            reply_line(&mut s, i, r);
        }
    }
    let st = stats(p);
    let sent = u32::from(p.ping_sent);
    write!(
        s,
        "--- {} ping statistics ---\n{sent} packets transmitted, {} packets received",
        addr(&p.dst),
        st.replies
    )
    .ok();
    if st.ndups > 0 {
        write!(s, ", +{} duplicates", st.ndups).ok();
    }
    if st.nerrs > 0 {
        write!(s, ", +{} errors", st.nerrs).ok();
    }
    if st.npend > 0 {
        write!(s, ", +{} pending", st.npend).ok();
    }
    if sent > st.npend {
        let total = i64::from(sent - st.npend);
        write!(
            s,
            ", {}% packet loss",
            (total - i64::from(st.replies)) * 100 / total
        )
        .ok();
    }
    s += "\n";
    if st.replies > 0 {
        writeln!(
            s,
            "round-trip min/avg/max/stddev = {}/{}/{}/{} ms",
            fmt_rtt(&st.min),
            fmt_rtt(&Timeval::from_usec32(st.avg_us)),
            fmt_rtt(&st.max),
            fmt_rtt(&Timeval::from_usec32(st.stddev_us))
        )
        .ok();
    }
    s
}

fn hms(ms: u32) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Size of the C writer's buffer for one reply's text (with its RR / TS lines).
const REPLY_BUF: usize = 256;

fn reply_line(s: &mut String, i: usize, r: &PingReply) {
    let mut b = CBuf::new(REPLY_BUF);
    let from = r.addr.map(|a| a.to_string()).unwrap_or_default();
    b.push(&format!("{} bytes from {from}, seq={i} ", r.reply_size));
    let ttl_time = format!("ttl={} time={} ms", r.reply_ttl, fmt_rtt(&r.rtt));
    if r.is_icmp() || r.is_udp() {
        b.push(&ttl_time);
    }
    match &r.tsreply {
        Some(t) if r.is_icmp() => b.push(&format!(
            " tso={} tsr={} tst={}",
            hms(t.originate),
            hms(t.receive),
            hms(t.transmit)
        )),
        _ if r.is_tcp() => {
            let f = r.tcp_flags;
            let desc = if f & 0x04 != 0 {
                "closed".to_string()
            } else if f & 0x12 == 0x12 && f & 0x40 != 0 {
                "open,ecn".to_string()
            } else if f & 0x12 == 0x12 {
                "open".to_string()
            } else {
                format!("0x{f:02x}")
            };
            b.push(&format!("tcp={desc} {ttl_time}"));
        }
        _ => {}
    }
    b.push("\n");
    if let Some(rr) = &r.v4rr {
        for (k, a) in rr.iter().enumerate() {
            let lead = if k == 0 { " RR: " } else { "     " };
            b.push(&format!("{lead}{a}\n"));
        }
    }
    if let Some(ts) = &r.v4ts {
        for (k, t) in ts.timestamps.iter().enumerate() {
            b.push(if k == 0 { " TS: " } else { "     " });
            // addresses are either absent or one per timestamp
            if let Some(a) = ts.addrs.get(k) {
                b.pushf(format_args!("{:<15} ", a.to_string()));
            }
            b.push(&format!("{t}\n"));
        }
    }
    s.push_str(&into_string(b.as_bytes().to_vec()));
}
