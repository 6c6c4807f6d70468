//! Sniff objects (type 13, warts.md section 11).

use crate::error::{Error, Result};
use crate::sniff::*;
use crate::warts::{ReadState, WriteState};
use crate::wire::{AddrIn, AddrOut, Cursor, ParamsIn, ParamsOut};

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Sniff> {
    let mut at = AddrIn::new(&st.global_addrs);
    let mut s = Sniff::default();
    let mut pktc = 0u32;
    let mut pr = ParamsIn::read(c, 12)?;
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
            5 => s.start = v.timeval()?,
            6 => s.finish = v.timeval()?,
            7 => s.stop_reason = SniffStop(v.u8()?),
            8 => s.limit_pktc = v.u32()?,
            9 => s.limit_time = v.u16()?,
            10 => pktc = v.u32()?,
            11 => s.icmpid = v.u16()?,
            _ => s.errmsg = Some(v.string()?),
        }
    }
    if s.src.is_none() {
        return Err(c.err("sniff without source"));
    }
    for _ in 0..pktc {
        let off = c.offset();
        let mut p = SniffPkt::default();
        let mut len = 0u16;
        let mut pr = ParamsIn::read(c, 3)?;
        while let Some(f) = pr.next() {
            match f {
                1 => p.tv = pr.v.timeval()?,
                2 => len = pr.v.u16()?,
                _ => p.data = pr.v.bytes(usize::from(len))?.to_vec(),
            }
        }
        if p.data.is_empty() {
            return Err(Error::format(off, "sniff packet without data"));
        }
        s.pkts.push(p);
    }
    Ok(s)
}

pub(crate) fn write(
    st: &mut WriteState,
    s: &Sniff,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let Some(src) = &s.src else {
        return Err(Error::Encode("sniff without source".into()));
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
    pa.tv(5, &s.start);
    pa.tv(6, &s.finish);
    pa.u8(7, s.stop_reason.0);
    pa.u32(8, s.limit_pktc);
    pa.u16(9, s.limit_time);
    let pktc = u32::try_from(s.pkts.len())
        .map_err(|_| Error::Encode("more than 2^32 sniffed packets".into()))?;
    pa.u32(10, pktc);
    pa.u16(11, s.icmpid);
    if let Some(e) = &s.errmsg {
        pa.str(12, e);
    }
    pa.finish(out)?;
    for p in &s.pkts {
        write_pkt(out, &p.tv, &p.data, None)?;
    }
    Ok(())
}

/// A captured-packet record shared by sniff, sting and tbit: optional leading u8 field
/// (direction / flags), time, length and bytes. Empty packets cannot be read back.
pub(crate) fn write_pkt(
    out: &mut Vec<u8>,
    tv: &crate::Timeval,
    data: &[u8],
    lead: Option<u8>,
) -> Result<()> {
    if data.is_empty() {
        return Err(Error::Encode("empty packet record".into()));
    }
    let len = u16::try_from(data.len())
        .map_err(|_| Error::Encode(format!("packet of {} bytes", data.len())))?;
    let mut pa = ParamsOut::new();
    let base = u16::from(lead.is_some());
    if let Some(b) = lead {
        pa.u8(1, b);
    }
    pa.tv(base + 1, tv);
    pa.u16(base + 2, len);
    pa.bytes(base + 3, data);
    pa.finish(out)
}
