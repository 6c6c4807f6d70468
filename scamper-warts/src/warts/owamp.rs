//! OWAMP objects (type 17, warts.md section 15). Several fields have non-zero defaults that
//! are left off the wire.

use crate::error::{Error, Result};
use crate::owamp::*;
use crate::timeval::Timeval;
use crate::warts::{ReadState, WriteState};
use crate::wire::{Cursor, ParamsIn, ParamsOut};

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Owamp> {
    let mut o = Owamp::default();
    let (mut schedc, mut txc) = (1u32, 0u32);
    let mut pr = ParamsIn::read(c, 22)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => {
                let id = v.u32()?;
                o.list = st.list(v, id)?;
            }
            2 => {
                let id = v.u32()?;
                o.cycle = st.cycle(v, id)?;
            }
            3 => o.userid = v.u32()?,
            4 => o.src = Some(v.addr_static()?),
            5 => o.dst = Some(v.addr_static()?),
            6 => o.dport = v.u16()?,
            7 => o.flags = v.u16()?,
            8 => o.start = v.timeval()?,
            9 => o.startat = v.timeval()?,
            10 => o.wait_timeout = v.timeval()?,
            11 => schedc = v.u32()?,
            12 => o.attempts = v.u32()?,
            13 => o.pktsize = v.u16()?,
            14 => o.dir = v.u8()?,
            15 => o.dscp = v.u8()?,
            16 => o.ttl = v.u8()?,
            17 => o.hsrtt = v.rtt()?,
            18 => o.result = OwampResult(v.u8()?),
            19 => o.errmsg = Some(v.string()?),
            20 => o.udp_sport = v.u16()?,
            21 => o.udp_dport = v.u16()?,
            _ => txc = v.u32()?,
        }
    }
    for _ in 0..schedc {
        let mut s = OwampSched::default();
        let mut pr = ParamsIn::read(c, 2)?;
        while let Some(f) = pr.next() {
            match f {
                1 => s.tv = pr.v.timeval()?,
                _ => s.kind = pr.v.u8()?,
            }
        }
        o.sched.push(s);
    }
    for _ in 0..txc {
        let mut t = OwampTx::default();
        let mut rxc = 0u8;
        let mut pr = ParamsIn::read(c, 6)?;
        while let Some(f) = pr.next() {
            let v = &mut pr.v;
            match f {
                1 => t.sched = v.timeval()?,
                2 => t.stamp = v.timeval()?,
                3 => t.seq = v.u32()?,
                4 => t.errest = v.u16()?,
                5 => t.flags = v.u8()?,
                _ => rxc = v.u8()?,
            }
        }
        for _ in 0..rxc {
            let mut r = OwampRx::default();
            let mut pr = ParamsIn::read(c, 5)?;
            while let Some(f) = pr.next() {
                let v = &mut pr.v;
                match f {
                    1 => r.stamp = v.timeval()?,
                    2 => r.errest = v.u16()?,
                    3 => r.flags = v.u8()?,
                    4 => r.dscp = v.u8()?,
                    _ => r.ttl = v.u8()?,
                }
            }
            t.rxs.push(r);
        }
        o.txs.push(t);
    }
    Ok(o)
}

fn tv_nz(pa: &mut ParamsOut, id: u16, t: &Timeval) {
    if !t.is_zero() {
        pa.tv(id, t);
    }
}

pub(crate) fn write(
    st: &mut WriteState,
    o: &Owamp,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mut pa = ParamsOut::new();
    if let Some(l) = &o.list {
        pa.u32(1, st.list_id(l, side)?);
    }
    if let Some(cy) = &o.cycle {
        pa.u32(2, st.cycle_id(cy, side)?);
    }
    if o.userid != 0 {
        pa.u32(3, o.userid);
    }
    if let Some(a) = &o.src {
        pa.addr_static(4, a);
    }
    if let Some(a) = &o.dst {
        pa.addr_static(5, a);
    }
    if o.dport != 861 {
        pa.u16(6, o.dport);
    }
    if o.flags != 0 {
        pa.u16(7, o.flags);
    }
    tv_nz(&mut pa, 8, &o.start);
    tv_nz(&mut pa, 9, &o.startat);
    if o.wait_timeout != Timeval::new(2, 0) {
        pa.tv(10, &o.wait_timeout);
    }
    let schedc = u32::try_from(o.sched.len())
        .map_err(|_| Error::Encode("more than 2^32 owamp schedule slots".into()))?;
    if schedc != 1 {
        pa.u32(11, schedc);
    }
    if o.attempts != 10 {
        pa.u32(12, o.attempts);
    }
    if o.pktsize != 42 {
        pa.u16(13, o.pktsize);
    }
    if o.dir != 0 {
        pa.u8(14, o.dir);
    }
    if o.dscp != 0 {
        pa.u8(15, o.dscp);
    }
    if o.ttl != 255 {
        pa.u8(16, o.ttl);
    }
    if !o.hsrtt.is_zero() {
        pa.rtt(17, &o.hsrtt);
    }
    if o.result.0 != 0 {
        pa.u8(18, o.result.0);
    }
    if let Some(e) = &o.errmsg {
        pa.str(19, e);
    }
    if o.udp_sport != 0 {
        pa.u16(20, o.udp_sport);
    }
    if o.udp_dport != 0 {
        pa.u16(21, o.udp_dport);
    }
    if !o.txs.is_empty() {
        let n = u32::try_from(o.txs.len())
            .map_err(|_| Error::Encode("more than 2^32 owamp packets".into()))?;
        pa.u32(22, n);
    }
    pa.finish(out)?;
    for s in &o.sched {
        let mut pa = ParamsOut::new();
        tv_nz(&mut pa, 1, &s.tv);
        if s.kind != 0 {
            pa.u8(2, s.kind);
        }
        pa.finish(out)?;
    }
    for t in &o.txs {
        let rxc = u8::try_from(t.rxs.len())
            .map_err(|_| Error::Encode("more than 255 owamp receptions".into()))?;
        let mut pa = ParamsOut::new();
        tv_nz(&mut pa, 1, &t.sched);
        tv_nz(&mut pa, 2, &t.stamp);
        if t.seq != 0 {
            pa.u32(3, t.seq);
        }
        if t.errest != 0 {
            pa.u16(4, t.errest);
        }
        if t.flags != 0 {
            pa.u8(5, t.flags);
        }
        if rxc != 0 {
            pa.u8(6, rxc);
        }
        pa.finish(out)?;
        for r in &t.rxs {
            let mut pa = ParamsOut::new();
            tv_nz(&mut pa, 1, &r.stamp);
            if r.errest != 0 {
                pa.u16(2, r.errest);
            }
            if r.flags != 0 {
                pa.u8(3, r.flags);
            }
            if r.dscp != 0 {
                pa.u8(4, r.dscp);
            }
            if r.ttl != 0 {
                pa.u8(5, r.ttl);
            }
            pa.finish(out)?;
        }
    }
    Ok(())
}
