//! Host (DNS) JSON (json.md section 5).

use std::fmt::Write;

use super::fmt::{esc, tv};
use crate::host::*;

fn class(c: u16) -> String {
    crate::code_label(dns::class_name(c), c)
}

fn rtype(t: u16) -> String {
    crate::code_label(dns::type_name(t), t)
}

fn rcode(r: u8) -> String {
    dns::rcode_name(r)
}

pub(crate) fn render(h: &Host) -> String {
    let mut s = String::from("{\"type\":\"host\", \"version\":\"0.1\"");
    if let Some(a) = &h.src {
        write!(s, ", \"src\":\"{a}\"").ok();
    }
    if let Some(a) = &h.dst {
        write!(s, ", \"dst\":\"{a}\"").ok();
    }
    write!(
        s,
        ", \"userid\":{}, \"start\":{}",
        h.userid,
        tv(&h.start, "")
    )
    .ok();
    if let Some(e) = &h.errmsg {
        write!(s, ",\"errmsg\":\"{}\"", esc(e)).ok();
    }
    let names = [
        (flags::NORECURSE, "\"norecurse\""),
        (flags::TCP, "\"tcp\""),
        (flags::NSID, "\"nsid\""),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(b, _)| h.flags & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if !set.is_empty() {
        write!(s, ", \"flags\":[{}]", set.join(", ")).ok();
    }
    let stop = crate::code_label(h.stop.name(), h.stop.0);
    let wait = h
        .wait_timeout
        .sec
        .wrapping_mul(1000)
        .wrapping_add(h.wait_timeout.usec / 1000);
    write!(
        s,
        ", \"wait\":{wait}, \"retries\":{}, \"stop\":\"{stop}\"",
        h.retries
    )
    .ok();
    if let Some(q) = &h.qname {
        write!(s, ", \"qname\":\"{}\"", esc(q)).ok();
    }
    write!(
        s,
        ", \"qclass\":\"{}\", \"qtype\":\"{}\", \"qcount\":{}",
        class(h.qclass),
        rtype(h.qtype),
        h.queries.len()
    )
    .ok();
    if let Some(e) = &h.ecs {
        write!(s, ", \"ecs\":\"{e}\"").ok();
    }
    if let Some(m) = h.list.as_ref().and_then(|l| l.monitor.as_ref()) {
        write!(s, ",\"monitor\":\"{}\"", esc(m)).ok();
    }
    let qs: Vec<String> = h.queries.iter().map(query).collect();
    write!(s, ", \"queries\":[{}]}}", qs.join(",")).ok();
    s
}

fn query(q: &HostQuery) -> String {
    let mut s = format!(
        "{{\"id\":{}, \"ancount\":{}, \"nscount\":{}, \"arcount\":{}, \"tx\":{}",
        q.id,
        q.an.len(),
        q.ns.len(),
        q.ar.len(),
        tv(&q.tx, "")
    );
    if !q.rx.is_zero() {
        const FLAGS: [&str; 8] = ["CD", "AD", "Z", "RA", "RD", "TC", "AA", "0x80"];
        let f: Vec<String> = (0..8)
            .filter(|b| q.flags & (1 << b) != 0)
            .map(|b| format!("\"{}\"", FLAGS[b]))
            .collect();
        write!(
            s,
            ", \"rx\":{}, \"rcode\":\"{}\", \"flags\":[{}]",
            tv(&q.rx, ""),
            rcode(q.rcode),
            f.join(",")
        )
        .ok();
    }
    for (k, sect) in [("an", &q.an), ("ns", &q.ns), ("ar", &q.ar)] {
        if !sect.is_empty() {
            let v: Vec<String> = sect.iter().map(rr).collect();
            write!(s, ", \"{k}\":[{}]", v.join(",")).ok();
        }
    }
    s + "}"
}

fn rr(r: &HostRr) -> String {
    let mut s = format!(
        "{{\"class\":\"{}\", \"type\":\"{}\", \"ttl\":{}, \"name\":\"{}\"",
        class(r.class),
        rtype(r.rtype),
        r.ttl,
        esc(&r.name)
    );
    match &r.data {
        Some(RrData::Addr(a)) => {
            write!(s, ", \"address\":\"{a}\"").ok();
        }
        Some(RrData::Str(n)) => {
            let key = match r.rtype {
                dns::TYPE_NS => "nsdname",
                dns::TYPE_CNAME => "cname",
                _ => "ptrdname",
            };
            write!(s, ", \"{key}\":\"{}\"", esc(n)).ok();
        }
        Some(RrData::Mx {
            preference,
            exchange,
        }) => {
            write!(
                s,
                ", \"preference\":{preference}, \"exchange\":\"{}\"",
                esc(exchange)
            )
            .ok();
        }
        Some(RrData::Soa(x)) => {
            write!(
                s,
                ", \"mname\":\"{}\", \"rname\":\"{}\", \"serial\":{}, \"refresh\":{}, \"retry\":{}, \"expire\":{}, \"minimum\":{}",
                esc(&x.mname),
                esc(&x.rname),
                x.serial,
                x.refresh,
                x.retry,
                x.expire,
                x.minimum
            )
            .ok();
        }
        Some(RrData::Txt(strs)) => {
            let v: Vec<String> = strs
                .iter()
                .map(|b| format!("\"{}\"", esc(&String::from_utf8_lossy(b))))
                .collect();
            write!(s, ", \"strc\":{}, \"strs\":[{}]", strs.len(), v.join(", ")).ok();
        }
        Some(RrData::Opt(_)) | Some(RrData::Svcb { .. }) | None => {}
    }
    s + "}"
}
