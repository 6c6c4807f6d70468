//! `traceroute from ... to ...` text.

use std::fmt::Write;

use crate::addr::Addr;
use crate::json::fmt_rtt;
use crate::trace::{flags, Trace, TraceReply};

pub(crate) fn render(t: &Trace) -> String {
    let mut s = String::from("traceroute from ");
    if let Some(a) = &t.src {
        write!(s, "{a}").ok();
    }
    s += " to ";
    if let Some(a) = &t.dst {
        write!(s, "{a}").ok();
    }
    if let Some(a) = &t.rtr {
        write!(s, " via {a}").ok();
    }
    s += "\n";
    for ttl in 1..=t.hop_count {
        let mut line = format!("{ttl:2}  ");
        let mut items: Vec<String> = Vec::new();
        let mut last: Option<Addr> = None;
        for p in t.probes.iter().filter(|p| u16::from(p.ttl) == ttl) {
            for r in &p.replies {
                let mut it = String::new();
                if r.addr != last {
                    if let Some(a) = &r.addr {
                        write!(it, "{a}  ").ok();
                    }
                    last = r.addr;
                }
                write!(it, "{} ms{}", fmt_rtt(&r.rtt), annotation(r)).ok();
                items.push(it);
            }
        }
        if items.is_empty() {
            let n = if t.flags & flags::ALLATTEMPTS != 0 {
                usize::from(t.attempts.max(1))
            } else {
                1
            };
            line += &vec!["*"; n].join(" ");
        } else {
            line += &items.join("  ");
        }
        s += line.trim_end();
        s += "\n";
    }
    s
}

fn annotation(r: &TraceReply) -> String {
    if r.is_tcp() {
        let f = r.tcp_flags;
        return match f & 0x57 {
            _ if f & 0x04 != 0 => " [closed]".into(),
            _ if f & 0x12 == 0x12 && f & 0x40 != 0 => " [open, ecn]".into(),
            _ if f & 0x12 == 0x12 => " [open]".into(),
            _ if f == 0 => " [unknown, no flags]".into(),
            _ => {
                let names = [
                    (0x04, "RST"),
                    (0x02, "SYN"),
                    (0x10, "ACK"),
                    (0x08, "PSH"),
                    (0x01, "FIN"),
                    (0x20, "URG"),
                    (0x80, "CWR"),
                    (0x40, "ECE"),
                ];
                let v: Vec<&str> = names
                    .iter()
                    .filter(|(b, _)| f & b != 0)
                    .map(|(_, n)| *n)
                    .collect();
                format!(" [unknown, {}]", v.join(" "))
            }
        };
    }
    if r.is_udp() {
        return String::new();
    }
    let (ty, code) = (r.icmp_type, r.icmp_code);
    match r.addr {
        Some(Addr::V4(_)) => match (ty, code) {
            (11, _) | (0, _) | (3, 3) => String::new(),
            (3, c) => match c {
                0 => " !N".into(),
                1 => " !H".into(),
                2 => " !P".into(),
                4 => " !F".into(),
                5 => " !S".into(),
                13 => " !X".into(),
                c => format!(" !{c}"),
            },
            (t, c) => format!(" !<{t},{c}>"),
        },
        _ => match (ty, code) {
            (3, _) | (129, _) | (1, 4) => String::new(),
            (1, c) => match c {
                0 => " !N".into(),
                1 => " !P".into(),
                2 => " !S".into(),
                3 => " !A".into(),
                c => format!(" !{c}"),
            },
            (2, _) => " !F".into(),
            (t, c) => format!(" !<{t},{c}>"),
        },
    }
}
