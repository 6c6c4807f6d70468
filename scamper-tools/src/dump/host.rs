//! sc_wartsdump text of host (DNS) and http objects.

use std::fmt::Write;

use scamper_warts::host::{dns, Host, HostRr, RrData, RrOption};
use scamper_warts::http::Http;
use scamper_warts::json::hex;

use super::{base64, dur, header, named_flags, opt, start_line, tv6};

fn class(c: u16) -> String {
    dns::class_name(c).map_or_else(|| c.to_string(), str::to_string)
}

fn rtype(t: u16) -> String {
    dns::type_name(t).map_or_else(|| t.to_string(), str::to_string)
}

/// `<count> code[:hex] ...` for OPT options and SVCB parameters.
fn options(v: &[RrOption]) -> String {
    let mut s = v.len().to_string();
    for o in v {
        write!(s, " {}", o.code).ok();
        if !o.data.is_empty() {
            write!(s, ":{}", hex(&o.data)).ok();
        }
    }
    s
}

fn rr(s: &mut String, section: &str, r: &HostRr) {
    write!(
        s,
        "  {section}: {} {} {} {}",
        r.name,
        r.ttl,
        class(r.class),
        rtype(r.rtype)
    )
    .ok();
    match &r.data {
        Some(RrData::Addr(a)) => write!(s, " {a}").ok(),
        Some(RrData::Str(x)) => write!(s, " {x}").ok(),
        Some(RrData::Soa(x)) => write!(
            s,
            " {} {} {} {} {} {} {}",
            x.mname, x.rname, x.serial, x.refresh, x.retry, x.expire, x.minimum
        )
        .ok(),
        Some(RrData::Mx {
            preference,
            exchange,
        }) => write!(s, " {preference} {exchange}").ok(),
        Some(RrData::Txt(v)) => {
            write!(s, " {}", v.len()).ok();
            for t in v {
                write!(s, " \"{}\"", String::from_utf8_lossy(t)).ok();
            }
            Some(())
        }
        Some(RrData::Opt(v)) => write!(s, " {}", options(v)).ok(),
        Some(RrData::Svcb {
            priority,
            target,
            params,
        }) => write!(
            s,
            " {priority} {} {}",
            target.as_deref().unwrap_or("."),
            options(params)
        )
        .ok(),
        None => None,
    };
    s.push('\n');
}

pub(super) fn dump(h: &Host) -> String {
    let mut s = format!("host from {} to {}\n", opt(&h.src), opt(&h.dst));
    header(&mut s, &h.list, &h.cycle, h.userid);
    start_line(&mut s, &h.start);
    if h.flags != 0 {
        let v: Vec<&str> = ["norecurse", "tcp", "nsid"]
            .iter()
            .enumerate()
            .filter(|(b, _)| h.flags & (1 << b) != 0)
            .map(|(_, n)| *n)
            .collect();
        writeln!(s, " flags: {}", v.join(" ")).ok();
    }
    let stop = h
        .stop
        .name()
        .map_or_else(|| h.stop.0.to_string(), str::to_ascii_lowercase);
    writeln!(
        s,
        " wait: {}, retries: {}, stop: {stop}",
        dur(&h.wait_timeout),
        h.retries
    )
    .ok();
    writeln!(
        s,
        " qname: {}, qclass: {}, qtype: {}, qcount: {}",
        h.qname.as_deref().unwrap_or(""),
        class(h.qclass),
        rtype(h.qtype),
        h.queries.len()
    )
    .ok();
    if let Some(e) = &h.ecs {
        writeln!(s, " edns-client-subnet: {e}").ok();
    }
    if let Some(e) = &h.errmsg {
        writeln!(s, " errmsg: {e}").ok();
    }
    for (i, q) in h.queries.iter().enumerate() {
        writeln!(
            s,
            " query: {i}, id: {}, tx: {}, rtt: {}, an: {}, ns: {}, ar: {}",
            q.id,
            tv6(&q.tx.sub(&h.start)),
            tv6(&q.rx.sub(&q.tx)),
            q.an.len(),
            q.ns.len(),
            q.ar.len()
        )
        .ok();
        write!(s, "  rcode: {}", dns::rcode_name(q.rcode)).ok();
        if q.flags != 0 {
            const FLAGS: [&str; 8] = ["CD", "AD", "Z", "RA", "RD", "TC", "AA", "0x80"];
            let v: Vec<&str> = (0..8)
                .filter(|b| q.flags & (1 << b) != 0)
                .map(|b| FLAGS[b])
                .collect();
            write!(s, ", flags: {}", v.join(", ")).ok();
        }
        s.push('\n');
        for (section, v) in [("an", &q.an), ("ns", &q.ns), ("ar", &q.ar)] {
            for r in v {
                rr(&mut s, section, r);
            }
        }
    }
    s + "\n"
}

pub(super) fn http(h: &Http) -> String {
    let mut s = format!("http from {} to {}\n", opt(&h.src), opt(&h.dst));
    header(&mut s, &h.list, &h.cycle, h.userid);
    start_line(&mut s, &h.start);
    writeln!(s, " sport: {}, dport: {}", h.sport, h.dport).ok();
    if h.flags != 0 {
        writeln!(
            s,
            " flags: {}",
            named_flags(h.flags, 1, &["insecure", "grease"])
        )
        .ok();
    }
    let stop = scamper_warts::code_label(h.stop.name(), h.stop.0);
    writeln!(s, " maxtime: {}, stop: {stop}", dur(&h.maxtime)).ok();
    if let Some(e) = &h.errmsg {
        writeln!(s, " errmsg: {e}").ok();
    }
    if h.ech_status != 0 {
        const ECH: [&str; 13] = [
            "none",
            "unknown",
            "failed",
            "success",
            "grease",
            "grease-ech",
            "backend",
            "bad-call",
            "not-tried",
            "bad-name",
            "not-configured",
            "failed-ech",
            "failed-ech-bad-name",
        ];
        let st = ECH
            .get(usize::from(h.ech_status))
            .map_or_else(|| h.ech_status.to_string(), |n| n.to_string());
        write!(s, " ech-status: {st}").ok();
        if let Some(sni) = &h.ech_outer_sni {
            write!(s, ", ech-outer-sni: {sni}").ok();
        }
        s.push('\n');
    }
    if !h.ech_config.is_empty() {
        writeln!(s, " ech-config-list: {}", base64(&h.ech_config)).ok();
    }
    if !h.ech_retry.is_empty() {
        writeln!(s, " ech-retry-config: {}", base64(&h.ech_retry)).ok();
    }
    let scheme = if h.kind == scamper_warts::http::kind::HTTP {
        "http"
    } else {
        "https"
    };
    writeln!(
        s,
        " url: {scheme}://{}{}",
        h.host.as_deref().unwrap_or(""),
        h.file.as_deref().unwrap_or("")
    )
    .ok();
    s
}
