//! UDP probe objects (type 16, warts.md section 14).

use crate::error::{Error, Result};
use crate::udpprobe::*;
use crate::warts::{ReadState, WriteState};
use crate::wire::{Cursor, IfnameIn, IfnameOut, ParamsIn, ParamsOut};

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Udpprobe> {
    let mut it = IfnameIn::default();
    let mut u = Udpprobe::default();
    let mut datalen = 0u16;
    let mut p0_sport = None;
    let mut p0_replyc = 0u8;
    let mut sent = 1u8;
    let mut pr = ParamsIn::read(c, 20)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => {
                let id = v.u32()?;
                u.list = st.list(v, id)?;
            }
            2 => {
                let id = v.u32()?;
                u.cycle = st.cycle(v, id)?;
            }
            3 => u.userid = v.u32()?,
            4 => u.src = Some(v.addr_static()?),
            5 => u.dst = Some(v.addr_static()?),
            6 => p0_sport = Some(v.u16()?),
            7 => u.dport = v.u16()?,
            8 => u.start = v.timeval()?,
            9 => u.wait_timeout = v.rtt()?,
            10 => u.flags = v.u8()?,
            11 => u.stop = UdpprobeStop(v.u8()?),
            12 => datalen = v.u16()?,
            13 => u.data = v.bytes(usize::from(datalen))?.to_vec(),
            14 => p0_replyc = v.u8()?,
            15 => u.probe_count = v.u8()?,
            16 => sent = v.u8()?,
            17 => u.stop_count = v.u8()?,
            18 => u.sport = v.u16()?,
            19 => u.wait_probe = v.rtt()?,
            _ => u.errmsg = Some(v.string()?),
        }
    }
    if sent == 0 && p0_replyc != 0 {
        return Err(c.err("udpprobe replies to probe 0 but no probe sent"));
    }
    let mut p0 = p0_sport.filter(|_| sent > 0).map(|sport| UdpprobeProbe {
        tx: u.start,
        sport,
        replies: Vec::new(),
    });
    if p0.is_none() && p0_replyc != 0 {
        return Err(c.err("udpprobe replies to a probe 0 that does not exist"));
    }
    for _ in 0..p0_replyc {
        let r = read_reply(c, &mut it)?;
        if let Some(p) = p0.as_mut() {
            p.replies.push(r);
        }
    }
    if sent > 0 {
        u.probes.push(p0);
    }
    let mut counts = Vec::new();
    for _ in 1..sent {
        let mut p = UdpprobeProbe::default();
        let mut replyc = 0u8;
        let mut pr = ParamsIn::read(c, 3)?;
        while let Some(f) = pr.next() {
            match f {
                1 => p.tx = pr.v.timeval()?,
                2 => p.sport = pr.v.u16()?,
                _ => replyc = pr.v.u8()?,
            }
        }
        counts.push(replyc);
        u.probes.push(Some(p));
    }
    for (i, n) in counts.into_iter().enumerate() {
        for _ in 0..n {
            let r = read_reply(c, &mut it)?;
            if let Some(p) = u.probes[i + 1].as_mut() {
                p.replies.push(r);
            }
        }
    }
    Ok(u)
}

fn read_reply(c: &mut Cursor<'_>, it: &mut IfnameIn) -> Result<UdpprobeReply> {
    let mut r = UdpprobeReply::default();
    let mut len = 0u16;
    let mut pr = ParamsIn::read(c, 4)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => r.rx = v.timeval()?,
            2 => len = v.u16()?,
            3 => r.data = v.bytes(usize::from(len))?.to_vec(),
            _ => r.ifname = Some(it.read(v)?),
        }
    }
    Ok(r)
}

fn u16_len(what: &str, n: usize) -> Result<u16> {
    u16::try_from(n).map_err(|_| Error::Encode(format!("{what} of {n} bytes")))
}

fn u8_count(what: &str, n: usize) -> Result<u8> {
    u8::try_from(n).map_err(|_| Error::Encode(format!("{n} {what} (at most 255)")))
}

pub(crate) fn write(
    st: &mut WriteState,
    u: &Udpprobe,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mut it = IfnameOut::default();
    let sent = u8_count("udpprobe probes", u.probes.len())?;
    let p0 = u.probes.first().and_then(Option::as_ref);
    let mut pa = ParamsOut::new();
    if let Some(l) = &u.list {
        pa.u32(1, st.list_id(l, side)?);
    }
    if let Some(cy) = &u.cycle {
        pa.u32(2, st.cycle_id(cy, side)?);
    }
    if u.userid != 0 {
        pa.u32(3, u.userid);
    }
    if let Some(a) = &u.src {
        pa.addr_static(4, a);
    }
    if let Some(a) = &u.dst {
        pa.addr_static(5, a);
    }
    if let Some(p) = p0 {
        pa.u16(6, p.sport);
    }
    if u.dport != 0 {
        pa.u16(7, u.dport);
    }
    if !u.start.is_zero() {
        pa.tv(8, &u.start);
    }
    if !u.wait_timeout.is_zero() {
        pa.rtt(9, &u.wait_timeout);
    }
    if u.flags != 0 {
        pa.u8(10, u.flags);
    }
    if u.stop.0 != 0 {
        pa.u8(11, u.stop.0);
    }
    if !u.data.is_empty() {
        pa.u16(12, u16_len("udpprobe payload", u.data.len())?);
        pa.bytes(13, &u.data);
    }
    if let Some(p) = p0.filter(|p| !p.replies.is_empty()) {
        pa.u8(14, u8_count("replies to probe 0", p.replies.len())?);
    }
    if u.probe_count != 1 {
        pa.u8(15, u.probe_count);
    }
    if sent != 1 {
        pa.u8(16, sent);
    }
    if u.stop_count != 0 {
        pa.u8(17, u.stop_count);
    }
    if u.sport != 0 {
        pa.u16(18, u.sport);
    }
    if !u.wait_probe.is_zero() {
        pa.rtt(19, &u.wait_probe);
    }
    if let Some(e) = &u.errmsg {
        pa.str(20, e);
    }
    pa.finish(out)?;
    if let Some(p) = p0 {
        for r in &p.replies {
            write_reply(r, &mut it, out)?;
        }
    }
    let rest = u.probes.iter().skip(1);
    for p in rest.clone() {
        let Some(p) = p else {
            return Err(Error::Encode(
                "udpprobe probe after the first missing".into(),
            ));
        };
        let mut pa = ParamsOut::new();
        pa.tv(1, &p.tx);
        pa.u16(2, p.sport);
        if !p.replies.is_empty() {
            pa.u8(3, u8_count("udpprobe replies", p.replies.len())?);
        }
        pa.finish(out)?;
    }
    for p in rest.flatten() {
        for r in &p.replies {
            write_reply(r, &mut it, out)?;
        }
    }
    Ok(())
}

fn write_reply(r: &UdpprobeReply, it: &mut IfnameOut, out: &mut Vec<u8>) -> Result<()> {
    let mut pa = ParamsOut::new();
    if !r.rx.is_zero() {
        pa.tv(1, &r.rx);
    }
    if !r.data.is_empty() {
        pa.u16(2, u16_len("udpprobe reply", r.data.len())?);
        pa.bytes(3, &r.data);
    }
    if let Some(n) = &r.ifname {
        pa.ifname(4, n, it);
    }
    pa.finish(out)
}
