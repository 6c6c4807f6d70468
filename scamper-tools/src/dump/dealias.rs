//! sc_wartsdump text of dealias objects (all seven methods).

use std::fmt::Write;

use scamper_warts::dealias::*;
use scamper_warts::Addr;

use super::{dur, header, opt, start_line, tcp_flags, tv6};

pub(super) fn dump(d: &Dealias) -> String {
    let mut s = String::from("dealias");
    // only mercator (one probedef) names its endpoints on the first line
    if let (DealiasData::Mercator(_), Some(pd)) = (&d.data, d.probedefs.first()) {
        if let Some(src) = &pd.src {
            write!(s, " from {src}").ok();
        }
        write!(s, " to {}", opt(&pd.dst)).ok();
    }
    s.push('\n');
    header(&mut s, &d.list, &d.cycle, d.userid);
    start_line(&mut s, &d.start);
    method(&mut s, d);
    for pd in &d.probedefs {
        probedef(&mut s, pd);
    }
    write!(
        s,
        " probes: {}, result: {}",
        d.probes.len(),
        scamper_warts::code_label(d.result.name(), d.result.0)
    )
    .ok();
    if let DealiasData::Prefixscan(x) = &d.data {
        if x.flags & flags::PREFIXSCAN_CSA != 0 {
            s += ", csa";
        }
    }
    s.push('\n');
    if let Some(e) = &d.errmsg {
        writeln!(s, " errmsg: {e}").ok();
    }
    for (i, p) in d.probes.iter().enumerate() {
        probe(&mut s, d, i, p);
    }
    s + "\n"
}

fn method(s: &mut String, d: &Dealias) {
    let name = scamper_warts::code_label(d.method.name(), d.method.0);
    write!(s, " method: {name}").ok();
    let n = d.probedefs.len();
    match &d.data {
        DealiasData::Mercator(x) => {
            write!(
                s,
                ", attempts: {}, timeout: {}s",
                x.attempts, x.wait_timeout.sec
            )
            .ok();
        }
        DealiasData::Ally(x) => {
            write!(
                s,
                ", attempts: {}, fudge: {}, wait-probe: {}, wait-timeout: {}",
                x.attempts,
                x.fudge,
                dur(&x.wait_probe),
                dur(&x.wait_timeout)
            )
            .ok();
            if x.flags & flags::ALLY_NOBS != 0 {
                s.push_str(", nobs");
            }
        }
        DealiasData::Radargun(x) => {
            write!(
                s,
                ", rounds: {}, probedefc: {n}\n  wait-probe: {}, wait-round: {}, wait-timeout: {}",
                x.rounds,
                dur(&x.wait_probe),
                dur(&x.wait_round),
                dur(&x.wait_timeout)
            )
            .ok();
            if x.flags & flags::RADARGUN_SHUFFLE != 0 {
                s.push_str(", shuffle");
            }
        }
        DealiasData::Prefixscan(x) => {
            write!(s, ", {}:{}/{}", opt(&x.a), opt(&x.b), x.prefix).ok();
            if let (Some(ab), Some(p)) = (&x.ab, x.ab_prefix()) {
                write!(s, ", alias: {ab}/{p}").ok();
            }
            write!(
                s,
                "\n  attempts: {}, replyc: {}, fudge: {}, wait-probe: {}, wait-timeout: {}",
                x.attempts,
                x.replyc,
                x.fudge,
                dur(&x.wait_probe),
                dur(&x.wait_timeout)
            )
            .ok();
            if x.flags & flags::PREFIXSCAN_NOBS != 0 {
                s.push_str(", nobs");
            }
            if !x.xs.is_empty() {
                let v: Vec<String> = x.xs.iter().map(Addr::to_string).collect();
                write!(s, "\n  exclude: {}", v.join(" ")).ok();
            }
        }
        DealiasData::Bump(x) => {
            write!(
                s,
                ", attempts: {}, wait-probe: {}, bump-limit: {}",
                x.attempts,
                dur(&x.wait_probe),
                x.bump_limit
            )
            .ok();
        }
        DealiasData::Midarest(x) => {
            write!(
                s,
                ", wait-probe: {}, wait-round: {}\n  wait-timeout: {}, rounds: {}, probedefc: {n}",
                dur(&x.wait_probe),
                dur(&x.wait_round),
                dur(&x.wait_timeout),
                x.rounds
            )
            .ok();
        }
        DealiasData::Midardisc(x) => {
            write!(
                s,
                ", wait-timeout: {}, probedefc: {n}",
                dur(&x.wait_timeout)
            )
            .ok();
            if let Some(t) = &x.startat {
                write!(
                    s,
                    "\n startat: {} {:06}",
                    scamper_warts::json::ctime(t.sec),
                    t.usec
                )
                .ok();
            }
            for (i, r) in x.schedule.iter().enumerate() {
                write!(
                    s,
                    "\n  round {i}: {} {} {}, {}-{}",
                    tv6(&r.start),
                    r.begin,
                    r.end,
                    r.begin,
                    r.end
                )
                .ok();
            }
        }
        DealiasData::None => {}
    }
    s.push('\n');
}

fn probedef(s: &mut String, pd: &DealiasProbedef) {
    writeln!(
        s,
        " probedef {}: dst: {}, ttl: {}, tos: 0x{:02x}",
        pd.id,
        opt(&pd.dst),
        pd.ttl,
        pd.tos
    )
    .ok();
    write!(s, "  src: {}, size: {}", opt(&pd.src), pd.size).ok();
    if pd.mtu != 0 {
        write!(s, ", mtu: {}", pd.mtu).ok();
    }
    s.push('\n');
    let name = scamper_warts::code_label(pd.method.name(), pd.method.0);
    if pd.method.is_icmp() {
        writeln!(
            s,
            "  {name} csum: 0x{:04x}, id: 0x{:04x}",
            pd.icmp_csum, pd.icmp_id
        )
        .ok();
    } else {
        write!(s, "  {name} {}:{}", pd.sport, pd.dport).ok();
        if pd.method.is_tcp() {
            write!(s, "  {}", tcp_flags(pd.tcp_flags)).ok();
        }
        s.push('\n');
    }
}

fn probe(s: &mut String, d: &Dealias, i: usize, p: &DealiasProbe) {
    write!(
        s,
        " probe: {i}, def: {}, seq: {}, tx: {}",
        p.def,
        p.seq,
        tv6(&p.tx)
    )
    .ok();
    // the IP-ID is stored only for IPv4 probes
    if matches!(d.probedef(p).and_then(|x| x.dst), Some(Addr::V4(_))) {
        write!(s, ", ipid: 0x{:04x}", p.ipid).ok();
    }
    s.push('\n');
    for (j, r) in p.replies.iter().enumerate() {
        write!(
            s,
            "  reply: {j}, src: {}, ttl: {}, rtt: {}",
            opt(&r.src),
            r.ttl,
            tv6(&r.rx.sub(&p.tx))
        )
        .ok();
        if r.size != 0 {
            write!(s, ", size: {}", r.size).ok();
        }
        match r.src {
            Some(Addr::V4(_)) => write!(s, ", ipid: 0x{:04x}", r.ipid).ok(),
            _ if r.flags & flags::REPLY_IPID32 != 0 => {
                write!(s, ", ipid32: 0x{:08x}", r.ipid32).ok()
            }
            _ => None,
        };
        s.push('\n');
        if r.is_icmp() {
            write!(
                s,
                "  icmp-type: {}, icmp-code: {}",
                r.icmp_type, r.icmp_code
            )
            .ok();
            if r.is_icmp_unreach_or_ttl_exp() {
                write!(s, ", icmp-q-ttl: {}", r.icmp_q_ttl).ok();
            }
            s.push('\n');
        } else if r.is_tcp() {
            writeln!(s, "   tcp flags: {}", tcp_flags(r.tcp_flags)).ok();
        }
    }
}
