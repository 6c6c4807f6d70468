//! Dealias objects (type 9, warts.md section 7).

use crate::addr::Addr;
use crate::dealias::*;
use crate::error::{Error, Result};
use crate::timeval::Timeval;
use crate::warts::trace::{read_icmpexts, write_icmpexts};
use crate::warts::{ReadState, WriteState};
use crate::wire::cursor::PutExt;
use crate::wire::{AddrIn, AddrOut, Cursor, ParamsIn, ParamsOut};

fn ms(v: u32) -> Timeval {
    Timeval::new(v / 1000, (v % 1000) * 1000)
}

fn to_ms(t: &Timeval) -> u32 {
    t.sec.wrapping_mul(1000).wrapping_add(t.usec / 1000)
}

fn secs(v: u8) -> Timeval {
    Timeval::new(u32::from(v), 0)
}

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Dealias> {
    let mut at = AddrIn::new(&st.global_addrs);
    let mut d = Dealias::default();
    let mut probec = 0u32;
    let mut pr = ParamsIn::read(c, 8)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => {
                let id = v.u32()?;
                d.list = st.list(v, id)?;
            }
            2 => {
                let id = v.u32()?;
                d.cycle = st.cycle(v, id)?;
            }
            3 => d.start = v.timeval()?,
            4 => d.method = DealiasMethod(v.u8()?),
            5 => d.result = DealiasResult(v.u8()?),
            6 => probec = v.u32()?,
            7 => d.userid = v.u32()?,
            _ => d.errmsg = Some(v.string()?),
        }
    }
    // Like the C reader, an unknown method leaves only the top-level parameters.
    if !(1..=7).contains(&d.method.0) {
        return Ok(d);
    }
    let (data, ndefs) = read_method(c, d.method, &mut at)?;
    d.data = data;
    for _ in 0..ndefs {
        d.probedefs.push(read_probedef(c, &mut at)?);
    }
    for _ in 0..probec {
        let p = read_probe(c, &mut at, &d.probedefs)?;
        d.probes.push(p);
    }
    Ok(d)
}

/// The method block's parameters and the number of probedefs that follow it.
fn read_method(
    c: &mut Cursor<'_>,
    m: DealiasMethod,
    at: &mut AddrIn<'_>,
) -> Result<(DealiasData, u32)> {
    let off = c.offset();
    let nonzero = |n: u32| {
        if n == 0 {
            Err(Error::format(off, "dealias method without probedefs"))
        } else {
            Ok(n)
        }
    };
    Ok(match m {
        DealiasMethod::MERCATOR => {
            let mut x = Mercator::default();
            let mut pr = ParamsIn::read(c, 2)?;
            while let Some(f) = pr.next() {
                match f {
                    1 => x.attempts = pr.v.u8()?,
                    _ => x.wait_timeout = secs(pr.v.u8()?),
                }
            }
            (DealiasData::Mercator(x), 1)
        }
        DealiasMethod::ALLY => {
            let mut x = Ally::default();
            let mut pr = ParamsIn::read(c, 5)?;
            while let Some(f) = pr.next() {
                let v = &mut pr.v;
                match f {
                    1 => x.wait_probe = ms(u32::from(v.u16()?)),
                    2 => x.wait_timeout = secs(v.u8()?),
                    3 => x.attempts = v.u8()?,
                    4 => x.fudge = v.u16()?,
                    _ => x.flags = v.u8()?,
                }
            }
            (DealiasData::Ally(x), 2)
        }
        DealiasMethod::RADARGUN => {
            let mut x = Radargun::default();
            let mut n = 0;
            let mut pr = ParamsIn::read(c, 6)?;
            while let Some(f) = pr.next() {
                let v = &mut pr.v;
                match f {
                    1 => n = v.u32()?,
                    2 => x.rounds = v.u16()?,
                    3 => x.wait_probe = ms(u32::from(v.u16()?)),
                    4 => x.wait_round = ms(v.u32()?),
                    5 => x.wait_timeout = secs(v.u8()?),
                    _ => x.flags = v.u8()?,
                }
            }
            (DealiasData::Radargun(x), nonzero(n)?)
        }
        DealiasMethod::PREFIXSCAN => {
            let mut x = Prefixscan::default();
            let mut n = 0;
            let mut pr = ParamsIn::read(c, 12)?;
            while let Some(f) = pr.next() {
                let v = &mut pr.v;
                match f {
                    1 => x.a = Some(at.read(v)?),
                    2 => x.b = Some(at.read(v)?),
                    3 => x.ab = Some(at.read(v)?),
                    4 => {
                        for _ in 0..v.u16()? {
                            x.xs.push(at.read(v)?);
                        }
                    }
                    5 => x.prefix = v.u8()?,
                    6 => x.attempts = v.u8()?,
                    7 => x.fudge = v.u16()?,
                    8 => x.wait_probe = ms(u32::from(v.u16()?)),
                    9 => x.wait_timeout = secs(v.u8()?),
                    10 => n = u32::from(v.u16()?),
                    11 => x.flags = v.u8()?,
                    _ => x.replyc = v.u8()?,
                }
            }
            (DealiasData::Prefixscan(x), n)
        }
        DealiasMethod::BUMP => {
            let mut x = Bump::default();
            let mut pr = ParamsIn::read(c, 3)?;
            while let Some(f) = pr.next() {
                let v = &mut pr.v;
                match f {
                    1 => x.wait_probe = ms(u32::from(v.u16()?)),
                    2 => x.bump_limit = v.u16()?,
                    _ => x.attempts = v.u8()?,
                }
            }
            (DealiasData::Bump(x), 2)
        }
        DealiasMethod::MIDAREST => {
            let mut x = Midarest::default();
            let mut n = 0;
            let mut pr = ParamsIn::read(c, 5)?;
            while let Some(f) = pr.next() {
                let v = &mut pr.v;
                match f {
                    1 => n = u32::from(v.u16()?),
                    2 => x.rounds = v.u8()?,
                    3 => x.wait_probe = v.rtt()?,
                    4 => x.wait_round = v.rtt()?,
                    _ => x.wait_timeout = v.rtt()?,
                }
            }
            (DealiasData::Midarest(x), nonzero(n)?)
        }
        _ => {
            let mut x = Midardisc::default();
            let mut n = 0;
            let mut pr = ParamsIn::read(c, 4)?;
            while let Some(f) = pr.next() {
                let v = &mut pr.v;
                match f {
                    1 => n = v.u32()?,
                    2 => x.wait_timeout = v.rtt()?,
                    3 => {
                        for _ in 0..v.u32()? {
                            x.schedule.push(MidardiscRound {
                                start: v.timeval()?,
                                begin: v.u32()?,
                                end: v.u32()?,
                            });
                        }
                    }
                    _ => x.startat = Some(v.timeval()?),
                }
            }
            (DealiasData::Midardisc(x), nonzero(n)?)
        }
    })
}

fn read_probedef(c: &mut Cursor<'_>, at: &mut AddrIn<'_>) -> Result<DealiasProbedef> {
    let off = c.offset();
    let mut d = DealiasProbedef::default();
    let mut four: Option<[u8; 4]> = None;
    let mut pr = ParamsIn::read(c, 14)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => d.dst = Some(at.read_gid(v)?),
            2 => d.src = Some(at.read_gid(v)?),
            3 => d.id = v.u32()?,
            4 => d.method = ProbedefMethod(v.u8()?),
            5 => d.ttl = v.u8()?,
            6 => d.tos = v.u8()?,
            7 => four = Some(v.bytes(4)?.try_into().expect("4 bytes")),
            8 => d.tcp_flags = v.u8()?,
            9 => d.icmp_id = v.u16()?,
            10 => d.dst = Some(at.read(v)?),
            11 => d.src = Some(at.read(v)?),
            12 => d.size = v.u16()?,
            13 => d.mtu = v.u16()?,
            _ => d.icmp_csum = v.u16()?,
        }
    }
    if !d.method.is_known() {
        return Err(Error::format(
            off,
            format!("unknown probedef method {}", d.method.0),
        ));
    }
    if d.dst.is_none() {
        return Err(Error::format(off, "probedef without destination"));
    }
    // Keep only the fields the writer stores for this method.
    if d.method.is_icmp() {
        if let Some(b) = four {
            d.icmp_csum = u16::from_be_bytes([b[2], b[3]]);
        }
    } else {
        if let Some(b) = four {
            d.sport = u16::from_be_bytes([b[0], b[1]]);
            d.dport = u16::from_be_bytes([b[2], b[3]]);
        }
        (d.icmp_id, d.icmp_csum) = (0, 0);
    }
    if !d.method.is_tcp() {
        d.tcp_flags = 0;
    }
    Ok(d)
}

fn read_probe(
    c: &mut Cursor<'_>,
    at: &mut AddrIn<'_>,
    defs: &[DealiasProbedef],
) -> Result<DealiasProbe> {
    let off = c.offset();
    let mut p = DealiasProbe::default();
    let mut replyc = 0;
    let mut pr = ParamsIn::read(c, 5)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => p.def = v.u32()?,
            2 => p.tx = v.timeval()?,
            3 => replyc = v.u16()?,
            4 => p.ipid = v.u16()?,
            _ => p.seq = v.u32()?,
        }
    }
    let Some(def) = defs.get(p.def as usize) else {
        return Err(Error::format(
            off,
            format!("probe uses probedef {} of {}", p.def, defs.len()),
        ));
    };
    if !matches!(def.dst, Some(Addr::V4(_))) {
        p.ipid = 0;
    }
    for _ in 0..replyc {
        p.replies.push(read_reply(c, at)?);
    }
    Ok(p)
}

fn read_reply(c: &mut Cursor<'_>, at: &mut AddrIn<'_>) -> Result<DealiasReply> {
    let off = c.offset();
    let mut r = DealiasReply::default();
    let mut proto = None;
    let mut pr = ParamsIn::read(c, 13)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => r.src = Some(at.read_gid(v)?),
            2 => r.rx = v.timeval()?,
            3 => r.ipid = v.u16()?,
            4 => r.ttl = v.u8()?,
            5 => {
                r.icmp_type = v.u8()?;
                r.icmp_code = v.u8()?;
            }
            6 => r.icmp_q_ttl = v.u8()?,
            7 => r.icmp_exts = read_icmpexts(v)?,
            8 => proto = Some(v.u8()?),
            9 => r.tcp_flags = v.u8()?,
            10 => r.src = Some(at.read(v)?),
            11 => r.ipid32 = v.u32()?,
            12 => r.flags = v.u8()?,
            _ => r.size = v.u16()?,
        }
    }
    let Some(src) = r.src else {
        return Err(Error::format(off, "dealias reply without source"));
    };
    let dflt = if src.is_ipv4() { 1 } else { 58 };
    // An ICMP protocol number is not stored, so it reads back as the family's ICMP.
    r.proto = match proto {
        Some(1 | 58) | None => dflt,
        Some(p) => p,
    };
    if !r.is_icmp() {
        (r.icmp_type, r.icmp_code, r.icmp_q_ttl) = (0, 0, 0);
        r.icmp_exts.clear();
    }
    if !r.is_tcp() {
        r.tcp_flags = 0;
    }
    if !src.is_ipv4() {
        r.ipid = 0;
    }
    if !src.is_ipv6() {
        r.ipid32 = 0;
    }
    Ok(r)
}

pub(crate) fn write(
    st: &mut WriteState,
    d: &Dealias,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mut at = AddrOut::default();
    let mut pa = ParamsOut::new();
    let lid = match &d.list {
        Some(l) => st.list_id(l, side)?,
        None => 0,
    };
    let cid = match &d.cycle {
        Some(cy) => st.cycle_id(cy, side)?,
        None => 0,
    };
    pa.u32(1, lid);
    pa.u32(2, cid);
    pa.tv(3, &d.start);
    pa.u8(4, d.method.0);
    if d.result.0 != 0 {
        pa.u8(5, d.result.0);
    }
    let probec = match d.data {
        DealiasData::None => 0,
        _ => u32::try_from(d.probes.len())
            .map_err(|_| Error::Encode("more than 2^32 dealias probes".into()))?,
    };
    if probec != 0 {
        pa.u32(6, probec);
    }
    if d.userid != 0 {
        pa.u32(7, d.userid);
    }
    if let Some(e) = &d.errmsg {
        pa.str(8, e);
    }
    pa.finish(out)?;
    if matches!(d.data, DealiasData::None) {
        if (1..=7).contains(&d.method.0) {
            return Err(Error::Encode(format!(
                "dealias method {} without its parameters",
                d.method.0
            )));
        }
        return Ok(());
    }
    write_method(d, &mut at, out)?;
    for pd in &d.probedefs {
        write_probedef(pd, &mut at, out)?;
    }
    for p in &d.probes {
        write_probe(d, p, &mut at, out)?;
    }
    Ok(())
}

fn write_method(d: &Dealias, at: &mut AddrOut, out: &mut Vec<u8>) -> Result<()> {
    let n = d.probedefs.len();
    let count_err = |want: &str| {
        Error::Encode(format!(
            "dealias {} with {n} probedefs (needs {want})",
            d.method.name().unwrap_or("?")
        ))
    };
    let mut pa = ParamsOut::new();
    let method_ok = match &d.data {
        DealiasData::Mercator(_) => d.method == DealiasMethod::MERCATOR,
        DealiasData::Ally(_) => d.method == DealiasMethod::ALLY,
        DealiasData::Radargun(_) => d.method == DealiasMethod::RADARGUN,
        DealiasData::Prefixscan(_) => d.method == DealiasMethod::PREFIXSCAN,
        DealiasData::Bump(_) => d.method == DealiasMethod::BUMP,
        DealiasData::Midarest(_) => d.method == DealiasMethod::MIDAREST,
        DealiasData::Midardisc(_) => d.method == DealiasMethod::MIDARDISC,
        DealiasData::None => false,
    };
    if !method_ok {
        return Err(Error::Encode(format!(
            "dealias method {} does not match its parameters",
            d.method.0
        )));
    }
    match &d.data {
        DealiasData::Mercator(x) => {
            if n != 1 {
                return Err(count_err("1"));
            }
            pa.u8(1, x.attempts);
            pa.u8(2, x.wait_timeout.sec as u8);
        }
        DealiasData::Ally(x) => {
            if n != 2 {
                return Err(count_err("2"));
            }
            pa.u16(1, to_ms(&x.wait_probe) as u16);
            pa.u8(2, x.wait_timeout.sec as u8);
            pa.u8(3, x.attempts);
            if x.fudge != 0 {
                pa.u16(4, x.fudge);
            }
            if x.flags != 0 {
                pa.u8(5, x.flags);
            }
        }
        DealiasData::Radargun(x) => {
            if n == 0 {
                return Err(count_err("at least 1"));
            }
            pa.u32(1, n as u32);
            pa.u16(2, x.rounds);
            pa.u16(3, to_ms(&x.wait_probe) as u16);
            pa.u32(4, to_ms(&x.wait_round));
            pa.u8(5, x.wait_timeout.sec as u8);
            if x.flags != 0 {
                pa.u8(6, x.flags);
            }
        }
        DealiasData::Prefixscan(x) => {
            let n = u16::try_from(n).map_err(|_| count_err("at most 65535"))?;
            if let Some(a) = &x.a {
                pa.addr(1, a, at);
            }
            if let Some(a) = &x.b {
                pa.addr(2, a, at);
            }
            if let Some(a) = &x.ab {
                pa.addr(3, a, at);
            }
            if !x.xs.is_empty() {
                let xc = u16::try_from(x.xs.len())
                    .map_err(|_| Error::Encode("more than 65535 excluded addresses".into()))?;
                let b = pa.raw(4);
                b.put_u16(xc);
                for a in &x.xs {
                    at.put(b, a);
                }
            }
            pa.u8(5, x.prefix);
            pa.u8(6, x.attempts);
            pa.u16(7, x.fudge);
            pa.u16(8, to_ms(&x.wait_probe) as u16);
            pa.u8(9, x.wait_timeout.sec as u8);
            if n != 0 {
                pa.u16(10, n);
            }
            if x.flags != 0 {
                pa.u8(11, x.flags);
            }
            if x.replyc != 5 {
                pa.u8(12, x.replyc);
            }
        }
        DealiasData::Bump(x) => {
            if n != 2 {
                return Err(count_err("2"));
            }
            pa.u16(1, to_ms(&x.wait_probe) as u16);
            pa.u16(2, x.bump_limit);
            pa.u8(3, x.attempts);
        }
        DealiasData::Midarest(x) => {
            let n = u16::try_from(n)
                .ok()
                .filter(|&n| n != 0)
                .ok_or_else(|| count_err("1..65535"))?;
            pa.u16(1, n);
            pa.u8(2, x.rounds);
            pa.rtt(3, &x.wait_probe);
            pa.rtt(4, &x.wait_round);
            pa.rtt(5, &x.wait_timeout);
        }
        DealiasData::Midardisc(x) => {
            if n == 0 {
                return Err(count_err("at least 1"));
            }
            pa.u32(1, n as u32);
            pa.rtt(2, &x.wait_timeout);
            if !x.schedule.is_empty() {
                let b = pa.raw(3);
                b.put_u32(x.schedule.len() as u32);
                for r in &x.schedule {
                    b.put_tv(&r.start);
                    b.put_u32(r.begin);
                    b.put_u32(r.end);
                }
            }
            if let Some(t) = &x.startat {
                pa.tv(4, t);
            }
        }
        DealiasData::None => {}
    }
    pa.finish(out)
}

fn write_probedef(d: &DealiasProbedef, at: &mut AddrOut, out: &mut Vec<u8>) -> Result<()> {
    let Some(dst) = &d.dst else {
        return Err(Error::Encode("dealias probedef without destination".into()));
    };
    if !d.method.is_known() {
        return Err(Error::Encode(format!(
            "dealias probedef method {}",
            d.method.0
        )));
    }
    let mut pa = ParamsOut::new();
    if d.id != 0 {
        pa.u32(3, d.id);
    }
    pa.u8(4, d.method.0);
    pa.u8(5, d.ttl);
    if d.tos != 0 {
        pa.u8(6, d.tos);
    }
    if d.method.is_udp() || d.method.is_tcp() {
        let b = pa.raw(7);
        b.put_u16(d.sport);
        b.put_u16(d.dport);
    }
    if d.method.is_tcp() {
        pa.u8(8, d.tcp_flags);
    }
    if d.method.is_icmp() {
        pa.u16(9, d.icmp_id);
    }
    pa.addr(10, dst, at);
    if let Some(a) = &d.src {
        pa.addr(11, a, at);
    }
    if d.size != 0 {
        pa.u16(12, d.size);
    }
    if d.mtu != 0 {
        pa.u16(13, d.mtu);
    }
    if d.method.is_icmp() && d.icmp_csum != 0 {
        pa.u16(14, d.icmp_csum);
    }
    pa.finish(out)
}

fn write_probe(d: &Dealias, p: &DealiasProbe, at: &mut AddrOut, out: &mut Vec<u8>) -> Result<()> {
    let Some(def) = d.probedef(p) else {
        return Err(Error::Encode(format!(
            "dealias probe uses probedef {} of {}",
            p.def,
            d.probedefs.len()
        )));
    };
    let replyc = u16::try_from(p.replies.len())
        .map_err(|_| Error::Encode("more than 65535 replies to a dealias probe".into()))?;
    let mut pa = ParamsOut::new();
    // The index is stored (the C writer stores the probedef's id, equal to the index
    // whenever ids are assigned in order; the index is what readers use).
    if p.def != 0 {
        pa.u32(1, p.def);
    }
    pa.tv(2, &p.tx);
    if replyc != 0 {
        pa.u16(3, replyc);
    }
    if matches!(def.dst, Some(Addr::V4(_))) {
        pa.u16(4, p.ipid);
    }
    if p.seq != 0 {
        pa.u32(5, p.seq);
    }
    pa.finish(out)?;
    for r in &p.replies {
        write_reply(r, at, out)?;
    }
    Ok(())
}

fn write_reply(r: &DealiasReply, at: &mut AddrOut, out: &mut Vec<u8>) -> Result<()> {
    let Some(src) = &r.src else {
        return Err(Error::Encode("dealias reply without source".into()));
    };
    let mut pa = ParamsOut::new();
    pa.tv(2, &r.rx);
    if src.is_ipv4() && r.ipid != 0 {
        pa.u16(3, r.ipid);
    }
    pa.u8(4, r.ttl);
    if r.is_icmp() {
        let b = pa.raw(5);
        b.put_u8(r.icmp_type);
        b.put_u8(r.icmp_code);
        pa.u8(6, r.icmp_q_ttl);
        if !r.icmp_exts.is_empty() {
            write_icmpexts(pa.raw(7), &r.icmp_exts)?;
        }
    } else {
        pa.u8(8, r.proto);
    }
    if r.is_tcp() {
        pa.u8(9, r.tcp_flags);
    }
    pa.addr(10, src, at);
    if src.is_ipv6() && r.ipid32 != 0 {
        pa.u32(11, r.ipid32);
    }
    if r.flags != 0 {
        pa.u8(12, r.flags);
    }
    if r.size != 0 {
        pa.u16(13, r.size);
    }
    pa.finish(out)
}
