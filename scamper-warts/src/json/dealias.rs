//! Dealias JSON (json.md section 4). Midarest and midardisc have no renderer.

use std::fmt::Write;

use crate::addr::Addr;
use crate::dealias::*;
use crate::error::{Error, Result};
use crate::json::fmt::esc;

fn flag_list(v: u8, names: &[&str]) -> String {
    let items: Vec<String> = (0..8)
        .filter(|b| v & (1 << b) != 0)
        .map(|b| match names.get(b) {
            Some(n) => format!("\"{n}\""),
            None => (1u32 << b).to_string(),
        })
        .collect();
    format!(", \"flags\":[{}]", items.join(","))
}

fn ms(t: &crate::Timeval) -> u32 {
    t.sec.wrapping_mul(1000).wrapping_add(t.usec / 1000)
}

pub(crate) fn render(d: &Dealias) -> Result<String> {
    let Some(mname) = d.method.name().filter(|_| d.method.0 <= 5) else {
        return Err(Error::Unsupported(format!(
            "no JSON for dealias method {}",
            d.method.0
        )));
    };
    let result = d
        .result
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| d.result.0.to_string());
    let mut s = format!(
        "{{\"type\":\"dealias\",\"version\":\"0.2\",\"method\":\"{mname}\", \"userid\":{}, \"result\":\"{result}\", \"start\":{{\"sec\":{}, \"usec\":{}}}",
        d.userid, d.start.sec, d.start.usec
    );
    if let Some(e) = &d.errmsg {
        write!(s, ",\"errmsg\":\"{}\"", esc(e)).ok();
    }
    match &d.data {
        DealiasData::Mercator(x) => {
            write!(
                s,
                ", \"attempts\":{}, \"wait_timeout\":{}",
                x.attempts, x.wait_timeout.sec
            )
            .ok();
        }
        DealiasData::Ally(x) => {
            write!(
                s,
                ", \"wait_probe\":{}, \"wait_timeout\":{}, \"attempts\":{}, \"fudge\":{}",
                ms(&x.wait_probe) as u16,
                x.wait_timeout.sec,
                x.attempts,
                x.fudge
            )
            .ok();
            if x.flags != 0 {
                s += &flag_list(x.flags, &["nobs"]);
            }
        }
        DealiasData::Radargun(x) => {
            write!(
                s,
                ", \"attempts\":{}, \"wait_probe\":{}, \"wait_round\":{}, \"wait_timeout\":{}",
                x.rounds,
                ms(&x.wait_probe) as u16,
                ms(&x.wait_round) as u16,
                x.wait_timeout.sec
            )
            .ok();
            if x.flags != 0 {
                // bit 0 means shuffle but is printed with the ally name
                s += &flag_list(x.flags, &["nobs"]);
            }
        }
        DealiasData::Prefixscan(x) => {
            if let Some(a) = &x.a {
                write!(s, ", \"a\":\"{a}\"").ok();
            }
            if let Some(b) = &x.b {
                write!(s, ", \"b\":\"{b}/{}\"", x.prefix).ok();
                if let (Some(ab), Some(n)) = (&x.ab, x.ab_prefix()) {
                    write!(s, ", \"ab\":\"{ab}/{n}\"").ok();
                }
            }
            if !x.xs.is_empty() {
                let v: Vec<String> = x.xs.iter().map(|a| format!("\"{a}\"")).collect();
                write!(s, ", \"xs\":[{}]", v.join(",")).ok();
            }
            write!(
                s,
                ", \"attempts\":{}, \"replyc\":{}, \"fudge\":{}, \"wait_probe\":{}, \"wait_timeout\":{}",
                x.attempts,
                x.replyc,
                x.fudge,
                ms(&x.wait_probe) as u16,
                x.wait_timeout.sec
            )
            .ok();
            if x.flags != 0 {
                s += &flag_list(x.flags, &["nobs", "csa"]);
            }
        }
        DealiasData::Bump(x) => {
            write!(
                s,
                ", \"wait_probe\":{}, \"bump_limit\":{}, \"attempts\":{}",
                ms(&x.wait_probe) as u16,
                x.bump_limit,
                x.attempts
            )
            .ok();
        }
        _ => {}
    }
    if let Some(m) = d.list.as_ref().and_then(|l| l.monitor.as_ref()) {
        write!(s, ",\"monitor\":\"{}\"", esc(m)).ok();
    }
    let defs: Vec<String> = d.probedefs.iter().map(probedef).collect();
    write!(s, ", \"probedefs\":[{}]", defs.join(", ")).ok();
    let probes: Vec<String> = d.probes.iter().map(|p| probe(d, p)).collect();
    write!(s, ", \"probes\":[{}]}}", probes.join(", ")).ok();
    Ok(s)
}

fn probedef(d: &DealiasProbedef) -> String {
    let mut s = format!("{{\"id\":{}", d.id);
    if let Some(a) = &d.src {
        write!(s, ", \"src\":\"{a}\"").ok();
    }
    if let Some(a) = &d.dst {
        write!(s, ", \"dst\":\"{a}\"").ok();
    }
    let m = d
        .method
        .name()
        .map(str::to_string)
        .unwrap_or_else(|| d.method.0.to_string());
    write!(
        s,
        ", \"ttl\":{}, \"size\":{}, \"method\":\"{m}\"",
        d.ttl, d.size
    )
    .ok();
    if d.method.is_icmp() {
        write!(
            s,
            ", \"icmp_id\":{}, \"icmp_csum\":{}",
            d.icmp_id, d.icmp_csum
        )
        .ok();
    } else if d.method.is_udp() {
        write!(s, ", \"udp_sport\":{}, \"udp_dport\":{}", d.sport, d.dport).ok();
    } else if d.method.is_tcp() {
        write!(
            s,
            ", \"tcp_sport\":{}, \"tcp_dport\":{}, \"tcp_flags\":{}",
            d.sport, d.dport, d.tcp_flags
        )
        .ok();
    }
    if d.mtu > 0 {
        write!(s, ", \"mtu\":{}", d.mtu).ok();
    }
    s + "}"
}

fn probe(d: &Dealias, p: &DealiasProbe) -> String {
    let def = d.probedef(p);
    let mut s = String::from("{");
    if let Some(def) = def {
        write!(s, "\"probedef_id\":{},", def.id).ok();
    }
    write!(
        s,
        "\"seq\":{},\"tx\":{{\"sec\":{},\"usec\":{}}}",
        p.seq, p.tx.sec, p.tx.usec
    )
    .ok();
    if matches!(def.and_then(|x| x.dst), Some(Addr::V4(_))) {
        write!(s, ", \"ipid\":{}", p.ipid).ok();
    }
    let rs: Vec<String> = p.replies.iter().map(reply).collect();
    write!(s, ", \"replies\":[{}]}}", rs.join(", ")).ok();
    s
}

fn reply(r: &DealiasReply) -> String {
    let mut s = String::from("{");
    if let Some(a) = &r.src {
        write!(s, "\"src\":\"{a}\",").ok();
    }
    write!(
        s,
        "\"rx\":{{\"sec\":{},\"usec\":{}}},\"ttl\":{}",
        r.rx.sec, r.rx.usec, r.ttl
    )
    .ok();
    if r.size != 0 {
        write!(s, ", \"size\":{}", r.size).ok();
    }
    if matches!(r.src, Some(Addr::V4(_))) {
        write!(s, ", \"ipid\":{}", r.ipid).ok();
    } else if r.flags & flags::REPLY_IPID32 != 0 {
        write!(s, ", \"ipid\":{}", r.ipid32).ok();
    }
    write!(s, ", \"proto\":{}", r.proto).ok();
    if r.is_icmp() {
        write!(
            s,
            ", \"icmp_type\":{}, \"icmp_code\":{}",
            r.icmp_type, r.icmp_code
        )
        .ok();
        if r.is_icmp_unreach_or_ttl_exp() {
            write!(s, ", \"icmp_q_ttl\":{}", r.icmp_q_ttl).ok();
        }
    } else if r.is_tcp() {
        write!(s, ", \"tcp_flags\":{}", r.tcp_flags).ok();
    }
    s + "}"
}
