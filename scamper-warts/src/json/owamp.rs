//! OWAMP JSON (json.md section 9; no version key, no spaces after commas).

use std::fmt::Write;

use super::fmt::{esc, tv};
use crate::owamp::*;

pub(crate) fn render(o: &Owamp) -> String {
    let dir = match o.dir {
        0 => "tx".to_string(),
        1 => "rx".to_string(),
        d => d.to_string(),
    };
    let mut s = format!("{{\"type\":\"owamp\",\"dir\":\"{dir}\"");
    if let Some(a) = &o.src {
        write!(s, ",\"src\":\"{a}\"").ok();
    }
    if let Some(a) = &o.dst {
        write!(s, ",\"dst\":\"{a}\"").ok();
    }
    let result = o
        .result
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| o.result.0.to_string());
    write!(
        s,
        ",\"dport\":{},\"start\":{},\"startat\":{},\"wait_timeout\":{},\"hsrtt\":{},\"userid\":{},\"attempts\":{},\"pktsize\":{},\"dscp\":{},\"udp_sport\":{},\"udp_dport\":{},\"result\":\"{result}\"",
        o.dport,
        tv(&o.start, ""),
        tv(&o.startat, ""),
        tv(&o.wait_timeout, ""),
        tv(&o.hsrtt, ""),
        o.userid,
        o.attempts,
        o.pktsize,
        o.dscp,
        o.udp_sport,
        o.udp_dport
    )
    .ok();
    if let Some(e) = &o.errmsg {
        write!(s, ",\"errmsg\":\"{}\"", esc(e)).ok();
    }
    if let Some(m) = o.list.as_ref().and_then(|l| l.monitor.as_ref()) {
        write!(s, ",\"monitor\":\"{}\"", esc(m)).ok();
    }
    if !o.sched.is_empty() {
        let v: Vec<String> = o
            .sched
            .iter()
            .map(|x| {
                let k = match x.kind {
                    0 => "fixed".to_string(),
                    1 => "exponential".to_string(),
                    k => k.to_string(),
                };
                format!("{{\"value\":{},\"type\":\"{k}\"}}", tv(&x.tv, ""))
            })
            .collect();
        write!(s, ",\"sched\":[{}]", v.join(",")).ok();
    }
    let txs: Vec<String> = o.txs.iter().map(tx).collect();
    write!(s, ",\"txs\":[{}]}}", txs.join(",")).ok();
    s
}

fn tx(t: &OwampTx) -> String {
    let mut s = format!("{{\"stamp\":{},\"seq\":{}", tv(&t.stamp, ""), t.seq);
    if t.flags & flags::TX_ERREST != 0 {
        write!(s, ",\"errest\":{}", t.errest).ok();
    }
    let rxs: Vec<String> = t
        .rxs
        .iter()
        .map(|r| {
            let mut s = format!("{{\"stamp\":{}", tv(&r.stamp, ""));
            if r.flags & flags::RX_ERREST != 0 {
                write!(s, ",\"errest\":{}", r.errest).ok();
            }
            if r.flags & flags::RX_DSCP != 0 {
                write!(s, ",\"dscp\":{}", r.dscp).ok();
            }
            if r.flags & flags::RX_TTL != 0 {
                write!(s, ",\"ttl\":{}", r.ttl).ok();
            }
            s + "}"
        })
        .collect();
    write!(
        s,
        ",\"rxc\":{},\"sent\":{},\"rxs\":[{}]}}",
        t.rxs.len(),
        u8::from(t.flags & flags::TX_NOTSENT == 0),
        rxs.join(",")
    )
    .ok();
    s
}
