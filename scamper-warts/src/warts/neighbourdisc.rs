//! Neighbour discovery objects (type 10, warts.md section 8).

use crate::error::{Error, Result};
use crate::neighbourdisc::*;
use crate::timeval::Timeval;
use crate::warts::{ReadState, WriteState};
use crate::wire::{AddrIn, AddrOut, Cursor, ParamsIn, ParamsOut};

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Neighbourdisc> {
    let mut at = AddrIn::new(&st.global_addrs);
    let mut n = Neighbourdisc::default();
    let mut probec = 0u16;
    let mut pr = ParamsIn::read(c, 16)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => {
                let id = v.u32()?;
                n.list = st.list(v, id)?;
            }
            2 => {
                let id = v.u32()?;
                n.cycle = st.cycle(v, id)?;
            }
            3 => n.userid = v.u32()?,
            4 => n.ifname = Some(v.string()?),
            5 => n.start = v.timeval()?,
            6 => n.method = NeighbourdiscMethod(v.u8()?),
            7 => {
                let ms = u32::from(v.u16()?);
                n.wait_timeout = Timeval::new(ms / 1000, (ms % 1000) * 1000);
            }
            8 => n.flags = v.u8()?,
            9 => n.attempts = v.u16()?,
            10 => n.replyc = v.u16()?,
            11 => n.src_ip = Some(at.read(v)?),
            12 => n.src_mac = Some(at.read(v)?),
            13 => n.dst_ip = Some(at.read(v)?),
            14 => n.dst_mac = Some(at.read(v)?),
            15 => probec = v.u16()?,
            _ => n.errmsg = Some(v.string()?),
        }
    }
    for _ in 0..probec {
        let mut p = NeighbourdiscProbe::default();
        let mut rxc = 0u16;
        let mut pr = ParamsIn::read(c, 2)?;
        while let Some(f) = pr.next() {
            match f {
                1 => p.tx = pr.v.timeval()?,
                _ => rxc = pr.v.u16()?,
            }
        }
        for _ in 0..rxc {
            let off = c.offset();
            let mut r = NeighbourdiscReply::default();
            let mut pr = ParamsIn::read(c, 2)?;
            while let Some(f) = pr.next() {
                match f {
                    1 => r.rx = pr.v.timeval()?,
                    _ => r.mac = Some(at.read(&mut pr.v)?),
                }
            }
            if r.mac.is_none() {
                return Err(Error::format(off, "neighbourdisc reply without address"));
            }
            p.replies.push(r);
        }
        n.probes.push(p);
    }
    Ok(n)
}

fn count(what: &str, n: usize) -> Result<u16> {
    u16::try_from(n).map_err(|_| Error::Encode(format!("{n} neighbourdisc {what}")))
}

pub(crate) fn write(
    st: &mut WriteState,
    n: &Neighbourdisc,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mut at = AddrOut::default();
    let mut pa = ParamsOut::new();
    if let Some(l) = &n.list {
        pa.u32(1, st.list_id(l, side)?);
    }
    if let Some(cy) = &n.cycle {
        pa.u32(2, st.cycle_id(cy, side)?);
    }
    if n.userid != 0 {
        pa.u32(3, n.userid);
    }
    if let Some(s) = &n.ifname {
        pa.str(4, s);
    }
    pa.tv(5, &n.start);
    pa.u8(6, n.method.0);
    let ms = n
        .wait_timeout
        .sec
        .wrapping_mul(1000)
        .wrapping_add(n.wait_timeout.usec / 1000);
    pa.u16(7, ms as u16);
    pa.u8(8, n.flags);
    pa.u16(9, n.attempts);
    pa.u16(10, n.replyc);
    for (id, a) in [
        (11, &n.src_ip),
        (12, &n.src_mac),
        (13, &n.dst_ip),
        (14, &n.dst_mac),
    ] {
        if let Some(a) = a {
            pa.addr(id, a, &mut at);
        }
    }
    let probec = count("probes", n.probes.len())?;
    if probec != 0 {
        pa.u16(15, probec);
    }
    if let Some(e) = &n.errmsg {
        pa.str(16, e);
    }
    pa.finish(out)?;
    for p in &n.probes {
        let rxc = count("replies", p.replies.len())?;
        let mut pa = ParamsOut::new();
        pa.tv(1, &p.tx);
        if rxc != 0 {
            pa.u16(2, rxc);
        }
        pa.finish(out)?;
        for r in &p.replies {
            let Some(mac) = &r.mac else {
                return Err(Error::Encode("neighbourdisc reply without address".into()));
            };
            let mut pa = ParamsOut::new();
            pa.tv(1, &r.rx);
            pa.addr(2, mac, &mut at);
            pa.finish(out)?;
        }
    }
    Ok(())
}
