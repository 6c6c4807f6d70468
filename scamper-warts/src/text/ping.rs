//! `ping from ... to ...` text.

use std::fmt::Write;

use crate::json::fmt_rtt;
use crate::json::ping_stats as stats;
use crate::ping::{flags, Ping, PingReply};
use crate::timeval::Timeval;

pub(crate) fn render(p: &Ping) -> String {
    let addr = |a: &Option<crate::addr::Addr>| a.map(|a| a.to_string()).unwrap_or_default();
    let mut s = format!(
        "ping from {} to {}: {} byte packets\n",
        addr(&p.src),
        addr(&p.dst),
        p.probe_size
    );
    for (i, pb) in p.probes.iter().enumerate() {
        let Some(pb) = pb else { continue };
        for r in &pb.replies {
            reply_line(&mut s, p, i, r);
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

fn reply_line(s: &mut String, p: &Ping, i: usize, r: &PingReply) {
    let from = r.addr.map(|a| a.to_string()).unwrap_or_default();
    write!(s, "{} bytes from {from}, seq={i} ", r.reply_size).ok();
    if r.is_tcp() {
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
        write!(s, "tcp={desc} ").ok();
    }
    write!(s, "ttl={} time={} ms", r.reply_ttl, fmt_rtt(&r.rtt)).ok();
    if let Some(t) = &r.tsreply {
        write!(
            s,
            " tso={} tsr={} tst={}",
            hms(t.originate),
            hms(t.receive),
            hms(t.transmit)
        )
        .ok();
    }
    s.push('\n');
    if let Some(rr) = &r.v4rr {
        for (k, a) in rr.iter().enumerate() {
            let lead = if k == 0 { " RR: " } else { "     " };
            writeln!(s, "{lead}{a}").ok();
        }
    }
    if let Some(ts) = &r.v4ts {
        for (k, t) in ts.timestamps.iter().enumerate() {
            let lead = if k == 0 { " TS: " } else { "     " };
            match ts.addrs.get(k).filter(|_| p.flags & flags::TSONLY == 0) {
                Some(a) => writeln!(s, "{lead}{:<15} {t}", a.to_string()),
                None => writeln!(s, "{lead}{t}"),
            }
            .ok();
        }
    }
}
