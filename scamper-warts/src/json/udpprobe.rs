//! UDP probe JSON (json.md section 6).

use std::fmt::Write;

use crate::json::fmt::{esc, hex, tv};
use crate::udpprobe::*;

pub(crate) fn render(u: &Udpprobe) -> String {
    let mut s = String::from("{\"type\":\"udpprobe\", \"version\":\"0.1\"");
    if let Some(a) = &u.src {
        write!(s, ", \"src\":\"{a}\"").ok();
    }
    if let Some(a) = &u.dst {
        write!(s, ", \"dst\":\"{a}\"").ok();
    }
    write!(
        s,
        ", \"userid\":{}, \"start\":{}, \"sport\":{}, \"dport\":{}, \"wait_timeout\":{}",
        u.userid,
        tv(&u.start, " "),
        u.sport,
        u.dport,
        tv(&u.wait_timeout, " ")
    )
    .ok();
    if u.flags & flags::EXITFIRST != 0 {
        s += ", \"flags\":[\"exitfirst\"]";
    }
    let stop = u
        .stop
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| u.stop.0.to_string());
    write!(s, ", \"stop_reason\":\"{stop}\"").ok();
    if let Some(e) = &u.errmsg {
        write!(s, ",\"errmsg\":\"{}\"", esc(e)).ok();
    }
    if !u.data.is_empty() {
        write!(s, ", \"data\":\"{}\"", hex(&u.data)).ok();
    }
    write!(
        s,
        ", \"len\":{}, \"probe_count\":{}, \"probe_sent\":{}, \"stop_count\":{}",
        u.data.len() as u16,
        u.probe_count,
        u.probes.len() as u8,
        u.stop_count
    )
    .ok();
    if let Some(m) = u.list.as_ref().and_then(|l| l.monitor.as_ref()) {
        write!(s, ",\"monitor\":\"{}\"", esc(m)).ok();
    }
    let probes: Vec<String> = u.probes.iter().map(|p| probe(p.as_ref())).collect();
    write!(s, ", \"probes\":[{}]}}", probes.join(",")).ok();
    s
}

fn probe(p: Option<&UdpprobeProbe>) -> String {
    let Some(p) = p else {
        return "{}".into();
    };
    let replies: Vec<String> = p
        .replies
        .iter()
        .map(|r| {
            let mut s = format!(
                "{{\"rx\":{}, \"rtt\":{}, \"len\":{}",
                tv(&r.rx, " "),
                tv(&r.rx.sub(&p.tx), " "),
                r.data.len() as u16
            );
            if !r.data.is_empty() {
                write!(s, ", \"data\":\"{}\"", hex(&r.data)).ok();
            }
            if let Some(n) = &r.ifname {
                write!(s, ", \"ifname\":\"{n}\"").ok();
            }
            s + "}"
        })
        .collect();
    format!(
        "{{\"tx\":{}, \"sport\":{}, \"replyc\":{}, \"replies\":[{}]}}",
        tv(&p.tx, " "),
        p.sport,
        p.replies.len(),
        replies.join(", ")
    )
}
