//! Host (DNS) objects (type 14, warts.md section 12).

use crate::error::{Error, Result};
use crate::host::*;
use crate::timeval::Timeval;
use crate::warts::{ReadState, WriteState};
use crate::wire::cursor::PutExt;
use crate::wire::{AddrIn, AddrOut, Cursor, ParamsIn, ParamsOut};

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Host> {
    let mut at = AddrIn::new(&st.global_addrs);
    let mut h = Host::default();
    let mut qcount = 0u8;
    let mut pr = ParamsIn::read(c, 16)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => {
                let id = v.u32()?;
                h.list = st.list(v, id)?;
            }
            2 => {
                let id = v.u32()?;
                h.cycle = st.cycle(v, id)?;
            }
            3 => h.userid = v.u32()?,
            4 => h.src = Some(at.read(v)?),
            5 => h.dst = Some(at.read(v)?),
            6 => h.start = v.timeval()?,
            7 => h.flags = v.u16()?,
            8 => {
                let ms = u32::from(v.u16()?);
                h.wait_timeout = Timeval::new(ms / 1000, (ms % 1000) * 1000);
            }
            9 => h.stop = HostStop(v.u8()?),
            10 => h.retries = v.u8()?,
            11 => h.qtype = v.u16()?,
            12 => h.qclass = v.u16()?,
            13 => h.qname = Some(v.string()?),
            14 => qcount = v.u8()?,
            15 => h.ecs = Some(v.string()?),
            _ => h.errmsg = Some(v.string()?),
        }
    }
    if h.dst.is_none() {
        return Err(c.err("host without destination"));
    }
    for _ in 0..qcount {
        let mut q = HostQuery::default();
        let mut counts = [0u16; 3];
        let mut pr = ParamsIn::read(c, 8)?;
        while let Some(f) = pr.next() {
            let v = &mut pr.v;
            match f {
                1 => q.tx = v.timeval()?,
                2 => q.rx = v.timeval()?,
                3 => q.id = v.u16()?,
                4..=6 => counts[usize::from(f - 4)] = v.u16()?,
                7 => q.rcode = v.u8()?,
                _ => q.flags = v.u8()?,
            }
        }
        for (i, n) in counts.into_iter().enumerate() {
            let mut rrs = Vec::new();
            for _ in 0..n {
                rrs.push(read_rr(c, &mut at)?);
            }
            match i {
                0 => q.an = rrs,
                1 => q.ns = rrs,
                _ => q.ar = rrs,
            }
        }
        h.queries.push(q);
    }
    Ok(h)
}

fn read_rr(c: &mut Cursor<'_>, at: &mut AddrIn<'_>) -> Result<HostRr> {
    let off = c.offset();
    let mut rr = HostRr::default();
    let mut name = None;
    let mut raw_data = None;
    let mut pr = ParamsIn::read(c, 5)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => rr.class = v.u16()?,
            2 => rr.rtype = v.u16()?,
            3 => name = Some(v.string()?),
            4 => rr.ttl = v.u32()?,
            // the data's meaning depends on class and type, which come first on the wire
            _ => raw_data = Some(read_rr_data(v, at, rr.class, rr.rtype)?),
        }
    }
    rr.name = name.ok_or_else(|| Error::format(off, "DNS record without name"))?;
    rr.data = raw_data;
    Ok(rr)
}

fn read_rr_data(v: &mut Cursor<'_>, at: &mut AddrIn<'_>, class: u16, rtype: u16) -> Result<RrData> {
    let off = v.offset();
    let kind = v.u16()?;
    let want = rr_data_kind(class, rtype);
    if kind != want || want == 0 {
        return Err(Error::format(
            off,
            format!("DNS record data kind {kind} for class {class} type {rtype}"),
        ));
    }
    Ok(match kind {
        1 => RrData::Addr(at.read(v)?),
        2 => RrData::Str(v.string()?),
        3 => {
            let (mut mname, mut rname) = (None, None);
            let mut s = Soa::default();
            let mut pr = ParamsIn::read(v, 7)?;
            while let Some(f) = pr.next() {
                let w = &mut pr.v;
                match f {
                    1 => mname = Some(w.string()?),
                    2 => rname = Some(w.string()?),
                    3 => s.serial = w.u32()?,
                    4 => s.refresh = w.u32()?,
                    5 => s.retry = w.u32()?,
                    6 => s.expire = w.u32()?,
                    _ => s.minimum = w.u32()?,
                }
            }
            let (Some(m), Some(r)) = (mname, rname) else {
                return Err(Error::format(off, "SOA record without both names"));
            };
            (s.mname, s.rname) = (m, r);
            RrData::Soa(s)
        }
        4 => {
            let (mut preference, mut exchange) = (0, None);
            let mut pr = ParamsIn::read(v, 2)?;
            while let Some(f) = pr.next() {
                match f {
                    1 => preference = pr.v.u16()?,
                    _ => exchange = Some(pr.v.string()?),
                }
            }
            let exchange = exchange.ok_or_else(|| Error::format(off, "MX without exchange"))?;
            RrData::Mx {
                preference,
                exchange,
            }
        }
        5 => {
            let mut n = 0;
            let mut strs = Vec::new();
            let mut pr = ParamsIn::read(v, 2)?;
            while let Some(f) = pr.next() {
                match f {
                    1 => n = pr.v.u16()?,
                    _ => {
                        for _ in 0..n {
                            let len = pr.v.u8()?;
                            strs.push(pr.v.bytes(usize::from(len))?.to_vec());
                        }
                    }
                }
            }
            if strs.len() != usize::from(n) {
                return Err(Error::format(off, "TXT record string count mismatch"));
            }
            RrData::Txt(strs)
        }
        6 => {
            let mut n = 0;
            let mut elems = Vec::new();
            let mut pr = ParamsIn::read(v, 2)?;
            while let Some(f) = pr.next() {
                match f {
                    1 => n = pr.v.u16()?,
                    _ => elems = read_options(&mut pr.v, n)?,
                }
            }
            if elems.len() != usize::from(n) {
                return Err(Error::format(off, "OPT record element count mismatch"));
            }
            RrData::Opt(elems)
        }
        _ => {
            let (mut priority, mut target, mut n) = (0, None, 0);
            let mut params = Vec::new();
            let mut pr = ParamsIn::read(v, 4)?;
            while let Some(f) = pr.next() {
                match f {
                    1 => priority = pr.v.u16()?,
                    2 => target = Some(pr.v.string()?),
                    3 => n = pr.v.u16()?,
                    _ => params = read_options(&mut pr.v, n)?,
                }
            }
            if params.len() != usize::from(n) {
                return Err(Error::format(off, "SVCB record parameter count mismatch"));
            }
            RrData::Svcb {
                priority,
                target,
                params,
            }
        }
    })
}

fn read_options(v: &mut Cursor<'_>, n: u16) -> Result<Vec<RrOption>> {
    let mut out = Vec::new();
    for _ in 0..n {
        let code = v.u16()?;
        let len = v.u16()?;
        out.push(RrOption {
            code,
            data: v.bytes(usize::from(len))?.to_vec(),
        });
    }
    Ok(out)
}

fn u16_count(what: &str, n: usize) -> Result<u16> {
    u16::try_from(n).map_err(|_| Error::Encode(format!("{n} {what} in a DNS record")))
}

pub(crate) fn write(
    st: &mut WriteState,
    h: &Host,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let Some(dst) = &h.dst else {
        return Err(Error::Encode("host without destination".into()));
    };
    let qcount = u8::try_from(h.queries.len())
        .map_err(|_| Error::Encode(format!("{} host queries", h.queries.len())))?;
    let mut at = AddrOut::default();
    let mut pa = ParamsOut::new();
    if let Some(l) = &h.list {
        pa.u32(1, st.list_id(l, side)?);
    }
    if let Some(cy) = &h.cycle {
        pa.u32(2, st.cycle_id(cy, side)?);
    }
    if h.userid != 0 {
        pa.u32(3, h.userid);
    }
    if let Some(a) = &h.src {
        pa.addr(4, a, &mut at);
    }
    pa.addr(5, dst, &mut at);
    pa.tv(6, &h.start);
    if h.flags != 0 {
        pa.u16(7, h.flags);
    }
    let ms = h
        .wait_timeout
        .sec
        .wrapping_mul(1000)
        .wrapping_add(h.wait_timeout.usec / 1000) as u16;
    if ms != 0 {
        pa.u16(8, ms);
    }
    for (id, v) in [(9, h.stop.0), (10, h.retries)] {
        if v != 0 {
            pa.u8(id, v);
        }
    }
    for (id, v) in [(11, h.qtype), (12, h.qclass)] {
        if v != 0 {
            pa.u16(id, v);
        }
    }
    if let Some(s) = &h.qname {
        pa.str(13, s);
    }
    if qcount != 0 {
        pa.u8(14, qcount);
    }
    if let Some(s) = &h.ecs {
        pa.str(15, s);
    }
    if let Some(s) = &h.errmsg {
        pa.str(16, s);
    }
    pa.finish(out)?;
    for q in &h.queries {
        let mut pa = ParamsOut::new();
        if !q.tx.is_zero() {
            pa.tv(1, &q.tx);
        }
        if !q.rx.is_zero() {
            pa.tv(2, &q.rx);
        }
        if q.id != 0 {
            pa.u16(3, q.id);
        }
        for (id, sect) in [(4, &q.an), (5, &q.ns), (6, &q.ar)] {
            let n = u16::try_from(sect.len())
                .map_err(|_| Error::Encode(format!("{} DNS records in a section", sect.len())))?;
            if n != 0 {
                pa.u16(id, n);
            }
        }
        if q.rcode != 0 {
            pa.u8(7, q.rcode);
        }
        if q.flags != 0 {
            pa.u8(8, q.flags);
        }
        pa.finish(out)?;
        for rr in q.an.iter().chain(&q.ns).chain(&q.ar) {
            write_rr(rr, &mut at, out)?;
        }
    }
    Ok(())
}

fn write_rr(rr: &HostRr, at: &mut AddrOut, out: &mut Vec<u8>) -> Result<()> {
    let mut pa = ParamsOut::new();
    if rr.class != 0 {
        pa.u16(1, rr.class);
    }
    if rr.rtype != 0 {
        pa.u16(2, rr.rtype);
    }
    pa.str(3, &rr.name);
    if rr.ttl != 0 {
        pa.u32(4, rr.ttl);
    }
    if let Some(d) = &rr.data {
        if d.kind() != rr_data_kind(rr.class, rr.rtype) {
            return Err(Error::Encode(format!(
                "DNS record data kind {} for class {} type {}",
                d.kind(),
                rr.class,
                rr.rtype
            )));
        }
        let b = pa.raw(5);
        b.put_u16(d.kind());
        write_rr_data(d, at, b)?;
    }
    pa.finish(out)
}

fn write_rr_data(d: &RrData, at: &mut AddrOut, b: &mut Vec<u8>) -> Result<()> {
    match d {
        RrData::Addr(a) => at.put(b, a),
        RrData::Str(s) => b.put_str(s),
        RrData::Soa(s) => {
            let mut pa = ParamsOut::new();
            pa.str(1, &s.mname);
            pa.str(2, &s.rname);
            for (id, v) in [
                (3, s.serial),
                (4, s.refresh),
                (5, s.retry),
                (6, s.expire),
                (7, s.minimum),
            ] {
                if v != 0 {
                    pa.u32(id, v);
                }
            }
            pa.finish(b)?;
        }
        RrData::Mx {
            preference,
            exchange,
        } => {
            let mut pa = ParamsOut::new();
            if *preference != 0 {
                pa.u16(1, *preference);
            }
            pa.str(2, exchange);
            pa.finish(b)?;
        }
        RrData::Txt(strs) => {
            let mut pa = ParamsOut::new();
            let n = u16_count("TXT strings", strs.len())?;
            if n != 0 {
                pa.u16(1, n);
                let v = pa.raw(2);
                for s in strs {
                    let len = u8::try_from(s.len())
                        .map_err(|_| Error::Encode(format!("TXT string of {} bytes", s.len())))?;
                    v.put_u8(len);
                    v.extend_from_slice(s);
                }
            }
            pa.finish(b)?;
        }
        RrData::Opt(elems) => {
            let mut pa = ParamsOut::new();
            let n = u16_count("OPT elements", elems.len())?;
            if n != 0 {
                pa.u16(1, n);
                write_options(pa.raw(2), elems)?;
            }
            pa.finish(b)?;
        }
        RrData::Svcb {
            priority,
            target,
            params,
        } => {
            let mut pa = ParamsOut::new();
            if *priority != 0 {
                pa.u16(1, *priority);
            }
            if let Some(t) = target {
                pa.str(2, t);
            }
            let n = u16_count("SVCB parameters", params.len())?;
            if n != 0 {
                pa.u16(3, n);
                write_options(pa.raw(4), params)?;
            }
            pa.finish(b)?;
        }
    }
    Ok(())
}

fn write_options(b: &mut Vec<u8>, opts: &[RrOption]) -> Result<()> {
    for o in opts {
        b.put_u16(o.code);
        b.put_u16(u16_count("option bytes", o.data.len())?);
        b.extend_from_slice(&o.data);
    }
    Ok(())
}
