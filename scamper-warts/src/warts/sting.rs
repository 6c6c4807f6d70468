//! Sting objects (type 12, warts.md section 10). The 20260420 tables stop at flag 22, so an
//! error message (flag 23) is skipped when read and never written.

use crate::error::{Error, Result};
use crate::sting::*;
use crate::warts::sniff::write_pkt;
use crate::warts::{ReadState, WriteState};
use crate::wire::{AddrIn, AddrOut, Cursor, ParamsIn, ParamsOut};

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Sting> {
    let mut at = AddrIn::new(&st.global_addrs);
    let mut s = Sting::default();
    let mut datalen = 0u16;
    let mut pktc = 0u32;
    let mut pr = ParamsIn::read(c, 22)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => {
                let id = v.u32()?;
                s.list = st.list(v, id)?;
            }
            2 => {
                let id = v.u32()?;
                s.cycle = st.cycle(v, id)?;
            }
            3 => s.userid = v.u32()?,
            4 => s.src = Some(at.read(v)?),
            5 => s.dst = Some(at.read(v)?),
            6 => s.sport = v.u16()?,
            7 => s.dport = v.u16()?,
            8 => s.count = v.u16()?,
            9 => s.mean = v.u16()?,
            10 => s.inter = v.u16()?,
            11 => s.dist = v.u8()?,
            12 => s.synretx = v.u8()?,
            13 => s.dataretx = v.u8()?,
            14 => s.seqskip = v.u8()?,
            15 => datalen = v.u16()?,
            16 => s.data = v.bytes(usize::from(datalen))?.to_vec(),
            17 => s.start = v.timeval()?,
            18 => s.hsrtt = v.timeval()?,
            19 => s.dataackc = v.u16()?,
            20 => s.holec = v.u16()?,
            21 => pktc = v.u32()?,
            _ => s.result = v.u8()?,
        }
    }
    if s.src.is_none() || s.dst.is_none() {
        return Err(c.err("sting without source or destination"));
    }
    for _ in 0..pktc {
        let off = c.offset();
        let mut p = StingPkt::default();
        let mut len = 0u16;
        let mut pr = ParamsIn::read(c, 4)?;
        while let Some(f) = pr.next() {
            match f {
                1 => p.flags = pr.v.u8()?,
                2 => p.tv = pr.v.timeval()?,
                3 => len = pr.v.u16()?,
                _ => p.data = pr.v.bytes(usize::from(len))?.to_vec(),
            }
        }
        if p.data.is_empty() {
            return Err(Error::format(off, "sting packet without data"));
        }
        s.pkts.push(p);
    }
    Ok(s)
}

pub(crate) fn write(
    st: &mut WriteState,
    s: &Sting,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let (Some(src), Some(dst)) = (&s.src, &s.dst) else {
        return Err(Error::Encode("sting without source or destination".into()));
    };
    let mut at = AddrOut::default();
    let mut pa = ParamsOut::new();
    if let Some(l) = &s.list {
        pa.u32(1, st.list_id(l, side)?);
    }
    if let Some(cy) = &s.cycle {
        pa.u32(2, st.cycle_id(cy, side)?);
    }
    if s.userid != 0 {
        pa.u32(3, s.userid);
    }
    pa.addr(4, src, &mut at);
    pa.addr(5, dst, &mut at);
    pa.u16(6, s.sport);
    pa.u16(7, s.dport);
    pa.u16(8, s.count);
    pa.u16(9, s.mean);
    pa.u16(10, s.inter);
    pa.u8(11, s.dist);
    pa.u8(12, s.synretx);
    pa.u8(13, s.dataretx);
    pa.u8(14, s.seqskip);
    let datalen = u16::try_from(s.data.len())
        .map_err(|_| Error::Encode(format!("sting payload of {} bytes", s.data.len())))?;
    pa.u16(15, datalen);
    if datalen != 0 {
        pa.bytes(16, &s.data);
    }
    pa.tv(17, &s.start);
    pa.tv(18, &s.hsrtt);
    pa.u16(19, s.dataackc);
    pa.u16(20, s.holec);
    let pktc = u32::try_from(s.pkts.len())
        .map_err(|_| Error::Encode("more than 2^32 sting packets".into()))?;
    pa.u32(21, pktc);
    if s.result != 0 {
        pa.u8(22, s.result);
    }
    pa.finish(out)?;
    for p in &s.pkts {
        write_pkt(out, &p.tv, &p.data, Some(p.flags))?;
    }
    Ok(())
}
