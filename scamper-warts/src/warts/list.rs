//! List (1), cycle start/definition (2/3), cycle stop (4) and global address (5) objects.

use std::sync::Arc;

use crate::addr::Addr;
use crate::error::{Error, Result};
use crate::list::{Cycle, List};
use crate::warts::ReadState;
use crate::wire::cursor::PutExt;
use crate::wire::{Cursor, ParamsIn, ParamsOut};

pub(crate) fn read_list(st: &mut ReadState, c: &mut Cursor<'_>) -> Result<Arc<List>> {
    if c.remaining() < 11 {
        return Err(c.err("list object shorter than 11 bytes"));
    }
    let off = c.offset();
    let wid = c.u32()?;
    if wid as usize != st.lists.len() + 1 {
        return Err(Error::format(off, format!("list id {wid} out of sequence")));
    }
    let id = c.u32()?;
    let name = c.string()?;
    let mut l = List {
        id,
        name,
        descr: None,
        monitor: None,
    };
    let mut p = ParamsIn::read(c, 2)?;
    while let Some(f) = p.next() {
        match f {
            1 => l.descr = Some(p.v.string()?),
            _ => l.monitor = Some(p.v.string()?),
        }
    }
    let l = Arc::new(l);
    st.lists.push(l.clone());
    Ok(l)
}

pub(crate) fn write_list(b: &mut Vec<u8>, wid: u32, l: &List) -> Result<()> {
    let start = b.len();
    b.put_u32(wid);
    b.put_u32(l.id);
    b.put_str(&l.name);
    let mut p = ParamsOut::new();
    if let Some(d) = &l.descr {
        p.str(1, d);
    }
    if let Some(m) = &l.monitor {
        p.str(2, m);
    }
    p.finish(b)?;
    // An empty name without parameters encodes in 10 bytes, which scamper's reader (and ours)
    // refuse as shorter than 11; both ignore bytes after the parameters, so pad.
    if b.len() - start < 11 {
        b.resize(start + 11, 0);
    }
    Ok(())
}

pub(crate) fn read_cycle(st: &mut ReadState, c: &mut Cursor<'_>) -> Result<Arc<Cycle>> {
    if c.remaining() < 17 {
        return Err(c.err("cycle object shorter than 17 bytes"));
    }
    let off = c.offset();
    let wid = c.u32()?;
    if wid as usize != st.cycles.len() + 1 {
        return Err(Error::format(
            off,
            format!("cycle id {wid} out of sequence"),
        ));
    }
    let lid = c.u32()?;
    let list = st
        .list(c, lid)?
        .ok_or_else(|| Error::format(off + 4, "cycle without list"))?;
    let id = c.u32()?;
    let start_time = c.u32()?;
    let mut cy = Cycle {
        list,
        id,
        start_time,
        stop_time: 0,
        hostname: None,
    };
    let mut p = ParamsIn::read(c, 2)?;
    while let Some(f) = p.next() {
        match f {
            1 => cy.stop_time = p.v.u32()?,
            _ => cy.hostname = Some(p.v.string()?),
        }
    }
    let cy = Arc::new(cy);
    st.cycles.push(Some(cy.clone()));
    Ok(cy)
}

pub(crate) fn write_cycle(b: &mut Vec<u8>, wid: u32, lid: u32, cy: &Cycle) -> Result<()> {
    b.put_u32(wid);
    b.put_u32(lid);
    b.put_u32(cy.id);
    b.put_u32(cy.start_time);
    let mut p = ParamsOut::new();
    if cy.stop_time != 0 {
        p.u32(1, cy.stop_time);
    }
    if let Some(h) = &cy.hostname {
        p.str(2, h);
    }
    p.finish(b)
}

pub(crate) fn read_cycle_stop(st: &mut ReadState, c: &mut Cursor<'_>) -> Result<Arc<Cycle>> {
    if c.remaining() < 9 {
        return Err(c.err("cycle stop object shorter than 9 bytes"));
    }
    let off = c.offset();
    let wid = c.u32()?;
    let stop_time = c.u32()?;
    let slot = (wid as usize)
        .checked_sub(1)
        .and_then(|i| st.cycles.get_mut(i))
        .and_then(Option::take)
        .ok_or_else(|| Error::format(off, format!("cycle stop for unknown cycle {wid}")))?;
    let mut cy = (*slot).clone();
    cy.stop_time = stop_time;
    Ok(Arc::new(cy))
}

pub(crate) fn write_cycle_stop(b: &mut Vec<u8>, wid: u32, cy: &Cycle) {
    b.put_u32(wid);
    b.put_u32(cy.stop_time);
    b.put_u8(0);
}

pub(crate) fn read_global_addr(st: &mut ReadState, c: &mut Cursor<'_>) -> Result<()> {
    let off = c.offset();
    if c.remaining() < 3 {
        return Err(c.err("address object shorter than 3 bytes"));
    }
    let check = c.u8()?;
    let kind = c.u8()?;
    let raw = c.bytes(c.remaining())?;
    let n = st.global_addrs.len() + 1;
    if usize::from(check) != n % 255 {
        return Err(Error::format(
            off,
            format!("global address id check {check} != {}", n % 255),
        ));
    }
    let a = Addr::from_type_bytes(kind, raw)
        .ok_or_else(|| Error::format(off, format!("bad global address type {kind}")))?;
    st.global_addrs.push(a);
    Ok(())
}
