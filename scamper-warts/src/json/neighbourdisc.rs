//! Neighbour discovery JSON (json.md section 7).

use std::fmt::Write;

use super::fmt::{esc, tv};
use crate::neighbourdisc::*;

pub(crate) fn render(n: &Neighbourdisc) -> String {
    let m = n
        .method
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| n.method.0.to_string());
    let mut s = format!("{{\"type\":\"neighbourdisc\", \"version\":\"0.1\", \"method\":\"{m}\"");
    for (k, a) in [
        ("src_ip", &n.src_ip),
        ("src_mac", &n.src_mac),
        ("dst_ip", &n.dst_ip),
        ("dst_mac", &n.dst_mac),
    ] {
        if let Some(a) = a {
            write!(s, ", \"{k}\":\"{a}\"").ok();
        }
    }
    if let Some(i) = &n.ifname {
        write!(s, ", \"ifname\":\"{i}\"").ok();
    }
    write!(
        s,
        ", \"userid\":{}, \"attempts\":{}, \"stop_count\":{}, \"start\":{}, \"wait_timeout\":{}",
        n.userid,
        n.attempts,
        n.replyc,
        tv(&n.start, " "),
        tv(&n.wait_timeout, " ")
    )
    .ok();
    if let Some(e) = &n.errmsg {
        write!(s, ",\"errmsg\":\"{}\"", esc(e)).ok();
    }
    if n.flags != 0 {
        let mut v = Vec::new();
        if n.flags & flags::ALLATTEMPTS != 0 {
            v.push("\"allattempts\"");
        }
        if n.flags & flags::FIRSTRESPONSE != 0 {
            v.push("\"firstresponse\"");
        }
        write!(s, ", \"flags\":[{}]", v.join(",")).ok();
    }
    if let Some(m) = n.list.as_ref().and_then(|l| l.monitor.as_ref()) {
        write!(s, ",\"monitor\":\"{}\"", esc(m)).ok();
    }
    let probes: Vec<String> = n
        .probes
        .iter()
        .map(|p| {
            let rs: Vec<String> = p
                .replies
                .iter()
                .map(|r| {
                    let mut s = format!("{{\"rx\":{}", tv(&r.rx, " "));
                    if let Some(m) = &r.mac {
                        write!(s, ", \"mac\":\"{m}\"").ok();
                    }
                    s + "}"
                })
                .collect();
            format!(
                "{{\"tx\":{}, \"replyc\":{}, \"replies\":[{}]}}",
                tv(&p.tx, " "),
                p.replies.len(),
                rs.join(",")
            )
        })
        .collect();
    write!(s, ", \"probes\":[{}]}}", probes.join(",")).ok();
    s
}
