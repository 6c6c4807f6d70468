//! HTTP objects (type 15, warts.md section 13).

use crate::error::{Error, Result};
use crate::http::*;
use crate::warts::{ReadState, WriteState};
use crate::wire::cursor::PutExt;
use crate::wire::{Cursor, ParamsIn, ParamsOut};

fn default_dport(k: u8) -> Option<u16> {
    match k {
        kind::HTTPS => Some(443),
        kind::HTTP => Some(80),
        _ => None,
    }
}

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Http> {
    let mut h = Http::default();
    let mut dport = None;
    let mut bufc = 0u32;
    let mut pr = ParamsIn::read(c, 20)?;
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
            4 => h.src = Some(v.addr_static()?),
            5 => h.dst = Some(v.addr_static()?),
            6 => h.sport = v.u16()?,
            7 => dport = Some(v.u16()?),
            8 => h.start = v.timeval()?,
            9 => h.stop = HttpStop(v.u8()?),
            10 => h.kind = v.u8()?,
            11 => h.host = Some(v.string()?),
            12 => h.file = Some(v.string()?),
            13 => {
                for _ in 0..v.u8()? {
                    h.headers.push(v.string()?);
                }
            }
            14 => bufc = v.u32()?,
            15 => h.hsrtt = v.rtt()?,
            16 => h.flags = v.u32()?,
            17 => h.maxtime = v.timeval()?,
            18 => h.errmsg = Some(v.string()?),
            19 => h.ech_status = v.u8()?,
            _ => h.ech_outer_sni = Some(v.string()?),
        }
    }
    h.dport = match dport.or_else(|| default_dport(h.kind)) {
        Some(p) => p,
        None => return Err(c.err(format!("http type {} without port", h.kind))),
    };
    for _ in 0..bufc {
        let mut b = HttpBuf::default();
        let mut len = 0u16;
        let mut pr = ParamsIn::read(c, 4)?;
        while let Some(f) = pr.next() {
            let v = &mut pr.v;
            match f {
                1 => {
                    let t = v.u8()?;
                    (b.dir, b.kind) = (t >> 7, t & 0x7f);
                }
                2 => b.tv = v.timeval()?,
                3 => len = v.u16()?,
                _ => b.data = v.bytes(usize::from(len))?.to_vec(),
            }
        }
        h.bufs.push(b);
    }
    // Trailing attributes run to the end of the object; unknown ones are skipped.
    while c.remaining() >= 5 {
        let t = c.u8()?;
        let len = c.u32()?;
        let data = c.bytes(len as usize)?;
        match t {
            1 => h.ech_config = data.to_vec(),
            2 => h.ech_retry = data.to_vec(),
            _ => {}
        }
    }
    Ok(h)
}

pub(crate) fn write(
    st: &mut WriteState,
    h: &Http,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
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
        pa.addr_static(4, a);
    }
    if let Some(a) = &h.dst {
        pa.addr_static(5, a);
    }
    if h.sport != 0 {
        pa.u16(6, h.sport);
    }
    if default_dport(h.kind) != Some(h.dport) {
        pa.u16(7, h.dport);
    }
    if !h.start.is_zero() {
        pa.tv(8, &h.start);
    }
    if h.stop.0 != 0 {
        pa.u8(9, h.stop.0);
    }
    if h.kind != 0 {
        pa.u8(10, h.kind);
    }
    if let Some(s) = &h.host {
        pa.str(11, s);
    }
    if let Some(s) = &h.file {
        pa.str(12, s);
    }
    if !h.headers.is_empty() {
        let n = u8::try_from(h.headers.len())
            .map_err(|_| Error::Encode(format!("{} http headers", h.headers.len())))?;
        let b = pa.raw(13);
        b.put_u8(n);
        for s in &h.headers {
            b.put_str(s);
        }
    }
    if !h.bufs.is_empty() {
        let n = u32::try_from(h.bufs.len())
            .map_err(|_| Error::Encode("more than 2^32 http buffers".into()))?;
        pa.u32(14, n);
    }
    if !h.hsrtt.is_zero() {
        pa.rtt(15, &h.hsrtt);
    }
    if h.flags != 0 {
        pa.u32(16, h.flags);
    }
    if !h.maxtime.is_zero() {
        pa.tv(17, &h.maxtime);
    }
    if let Some(s) = &h.errmsg {
        pa.str(18, s);
    }
    if h.ech_status != 0 {
        pa.u8(19, h.ech_status);
    }
    if let Some(s) = &h.ech_outer_sni {
        pa.str(20, s);
    }
    pa.finish(out)?;
    for b in &h.bufs {
        if b.dir > 1 || b.kind > 0x7f {
            return Err(Error::Encode(format!(
                "http buffer direction {} type {}",
                b.dir, b.kind
            )));
        }
        let mut pa = ParamsOut::new();
        if b.dir != 0 || b.kind != 0 {
            pa.u8(1, (b.dir << 7) | b.kind);
        }
        if !b.tv.is_zero() {
            pa.tv(2, &b.tv);
        }
        if !b.data.is_empty() {
            let n = u16::try_from(b.data.len())
                .map_err(|_| Error::Encode(format!("http buffer of {} bytes", b.data.len())))?;
            pa.u16(3, n);
            pa.bytes(4, &b.data);
        }
        pa.finish(out)?;
    }
    for (t, data) in [(1u8, &h.ech_config), (2, &h.ech_retry)] {
        if !data.is_empty() {
            let n = u32::try_from(data.len())
                .map_err(|_| Error::Encode("ECH data larger than 4 GiB".into()))?;
            out.put_u8(t);
            out.put_u32(n);
            out.extend_from_slice(data);
        }
    }
    Ok(())
}
