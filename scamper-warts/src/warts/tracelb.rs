//! Tracelb objects (type 8, warts.md section 6).

use crate::error::{Error, Result};
use crate::timeval::Timeval;
use crate::tracelb::*;
use crate::warts::trace::{read_icmpexts, write_icmpexts};
use crate::warts::{ReadState, WriteState};
use crate::wire::cursor::PutExt;
use crate::wire::{AddrIn, AddrOut, Cursor, ParamsIn, ParamsOut};

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Tracelb> {
    let mut at = AddrIn::new(&st.global_addrs);
    let mut t = Tracelb::default();
    let (mut nodec, mut linkc) = (0u16, 0u16);
    let mut pr = ParamsIn::read(c, 26)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => {
                let id = v.u32()?;
                t.list = st.list(v, id)?;
            }
            2 => {
                let id = v.u32()?;
                t.cycle = st.cycle(v, id)?;
            }
            3 => t.src = Some(at.read_gid(v)?),
            4 => t.dst = Some(at.read_gid(v)?),
            5 => t.start = v.timeval()?,
            6 => t.sport = v.u16()?,
            7 => t.dport = v.u16()?,
            8 => t.probe_size = v.u16()?,
            9 => t.method = TracelbMethod(v.u8()?),
            10 => t.firsthop = v.u8()?,
            11 => t.wait_timeout = Timeval::new(u32::from(v.u8()?), 0),
            12 => {
                let cs = u32::from(v.u8()?);
                t.wait_probe = Timeval::new(cs / 100, (cs % 100) * 10000);
            }
            13 => t.attempts = v.u8()?,
            14 => t.confidence = v.u8()?,
            15 => t.tos = v.u8()?,
            16 => nodec = v.u16()?,
            17 => linkc = v.u16()?,
            18 => t.probec = v.u32()?,
            19 => t.probec_max = v.u32()?,
            20 => t.gaplimit = v.u8()?,
            21 => t.src = Some(at.read(v)?),
            22 => t.dst = Some(at.read(v)?),
            23 => t.userid = v.u32()?,
            24 => t.flags = v.u8()?,
            25 => t.rtr = Some(v.addr_static()?),
            _ => t.errmsg = Some(v.string()?),
        }
    }
    if t.dst.is_none() {
        return Err(c.err("tracelb without destination"));
    }
    let mut want = Vec::new();
    for _ in 0..nodec {
        let (n, lc) = read_node(c, &mut at)?;
        t.nodes.push(n);
        want.push(lc);
    }
    let mut have = vec![0u16; t.nodes.len()];
    for _ in 0..linkc {
        let off = c.offset();
        let l = read_link(c, &mut at)?;
        let bad = |i: u16| usize::from(i) >= t.nodes.len();
        if bad(l.from) || l.to.is_some_and(bad) {
            return Err(Error::format(
                off,
                format!("link {}->{:?} outside {} nodes", l.from, l.to, nodec),
            ));
        }
        have[usize::from(l.from)] += 1;
        t.links.push(l);
    }
    if have != want {
        return Err(c.err("tracelb node link counts do not match the links"));
    }
    Ok(t)
}

fn read_node(c: &mut Cursor<'_>, at: &mut AddrIn<'_>) -> Result<(TracelbNode, u16)> {
    let mut n = TracelbNode::default();
    let mut linkc = 0;
    let mut pr = ParamsIn::read(c, 6)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => n.addr = Some(at.read_gid(v)?),
            2 => n.flags = v.u8()?,
            3 => linkc = v.u16()?,
            4 => n.q_ttl = v.u8()?,
            5 => n.addr = Some(at.read(v)?),
            _ => n.name = Some(v.string()?),
        }
    }
    if n.flags & flags::NODE_QTTL == 0 {
        n.q_ttl = 0;
    }
    Ok((n, linkc))
}

fn read_link(c: &mut Cursor<'_>, at: &mut AddrIn<'_>) -> Result<TracelbLink> {
    let mut l = TracelbLink::default();
    let mut hopc = 0u8;
    let mut pr = ParamsIn::read(c, 3)?;
    while let Some(f) = pr.next() {
        match f {
            1 => l.from = pr.v.u16()?,
            2 => l.to = Some(pr.v.u16()?),
            _ => hopc = pr.v.u8()?,
        }
    }
    for _ in 0..hopc {
        let mut probec = 0u16;
        let mut pr = ParamsIn::read(c, 1)?;
        while pr.next().is_some() {
            probec = pr.v.u16()?;
        }
        let mut set = Vec::new();
        for _ in 0..probec {
            set.push(read_probe(c, at)?);
        }
        l.probesets.push(set);
    }
    Ok(l)
}

fn read_probe(c: &mut Cursor<'_>, at: &mut AddrIn<'_>) -> Result<TracelbProbe> {
    let mut p = TracelbProbe::default();
    let mut rxc = 0u16;
    let mut pr = ParamsIn::read(c, 5)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => p.tx = v.timeval()?,
            2 => p.flowid = v.u16()?,
            3 => p.ttl = v.u8()?,
            4 => p.attempt = v.u8()?,
            _ => rxc = v.u16()?,
        }
    }
    for _ in 0..rxc {
        p.replies.push(read_reply(c, at)?);
    }
    Ok(p)
}

fn read_reply(c: &mut Cursor<'_>, at: &mut AddrIn<'_>) -> Result<TracelbReply> {
    let off = c.offset();
    let mut r = TracelbReply::default();
    let mut pr = ParamsIn::read(c, 11)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => r.rx = v.timeval()?,
            2 => r.ipid = v.u16()?,
            3 => r.ttl = v.u8()?,
            4 => r.flags = v.u8()?,
            5 => {
                r.icmp_type = v.u8()?;
                r.icmp_code = v.u8()?;
            }
            6 => r.tcp_flags = v.u8()?,
            7 => r.icmp_exts = read_icmpexts(v)?,
            8 => r.icmp_q_ttl = v.u8()?,
            9 => r.icmp_q_tos = v.u8()?,
            10 => r.from = Some(at.read_gid(v)?),
            _ => r.from = Some(at.read(v)?),
        }
    }
    if r.from.is_none() {
        return Err(Error::format(off, "tracelb reply without source"));
    }
    if r.flags & flags::REPLY_TTL == 0 {
        r.ttl = 0;
    }
    if r.is_tcp() {
        (r.icmp_type, r.icmp_code, r.icmp_q_ttl, r.icmp_q_tos) = (0, 0, 0, 0);
        r.icmp_exts.clear();
    } else {
        r.tcp_flags = 0;
    }
    Ok(r)
}

fn count<T: TryFrom<usize>>(what: &str, n: usize) -> Result<T> {
    T::try_from(n).map_err(|_| Error::Encode(format!("too many tracelb {what}: {n}")))
}

pub(crate) fn write(
    st: &mut WriteState,
    t: &Tracelb,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let Some(dst) = &t.dst else {
        return Err(Error::Encode("tracelb without destination".into()));
    };
    let mut at = AddrOut::default();
    let mut pa = ParamsOut::new();
    let lid = match &t.list {
        Some(l) => st.list_id(l, side)?,
        None => 0,
    };
    let cid = match &t.cycle {
        Some(cy) => st.cycle_id(cy, side)?,
        None => 0,
    };
    pa.u32(1, lid);
    pa.u32(2, cid);
    pa.tv(5, &t.start);
    pa.u16(6, t.sport);
    pa.u16(7, t.dport);
    pa.u16(8, t.probe_size);
    pa.u8(9, t.method.0);
    pa.u8(10, t.firsthop);
    pa.u8(11, t.wait_timeout.sec as u8);
    pa.u8(12, centisecs(&t.wait_probe) as u8);
    pa.u8(13, t.attempts);
    pa.u8(14, t.confidence);
    pa.u8(15, t.tos);
    pa.u16(16, count("nodes", t.nodes.len())?);
    pa.u16(17, count("links", t.links.len())?);
    pa.u32(18, t.probec);
    pa.u32(19, t.probec_max);
    pa.u8(20, t.gaplimit);
    if let Some(a) = &t.src {
        pa.addr(21, a, &mut at);
    }
    pa.addr(22, dst, &mut at);
    if t.userid != 0 {
        pa.u32(23, t.userid);
    }
    if t.flags != 0 {
        pa.u8(24, t.flags);
    }
    if let Some(a) = &t.rtr {
        pa.addr_static(25, a);
    }
    if let Some(e) = &t.errmsg {
        pa.str(26, e);
    }
    pa.finish(out)?;
    for (i, n) in t.nodes.iter().enumerate() {
        let mut pa = ParamsOut::new();
        pa.u8(2, n.flags);
        pa.u16(3, count("links of a node", t.node_links(i).count())?);
        if n.flags & flags::NODE_QTTL != 0 {
            pa.u8(4, n.q_ttl);
        }
        if let Some(a) = &n.addr {
            pa.addr(5, a, &mut at);
        }
        if let Some(s) = &n.name {
            pa.str(6, s);
        }
        pa.finish(out)?;
    }
    for l in &t.links {
        let bad = |i: u16| usize::from(i) >= t.nodes.len();
        if bad(l.from) || l.to.is_some_and(bad) {
            return Err(Error::Encode(format!(
                "tracelb link {}->{:?} outside the nodes",
                l.from, l.to
            )));
        }
        write_link(l, &mut at, out)?;
    }
    Ok(())
}

fn write_link(l: &TracelbLink, at: &mut AddrOut, out: &mut Vec<u8>) -> Result<()> {
    let mut pa = ParamsOut::new();
    pa.u16(1, l.from);
    if let Some(to) = l.to {
        pa.u16(2, to);
    }
    pa.u8(3, count("probesets in a link", l.probesets.len())?);
    pa.finish(out)?;
    for set in &l.probesets {
        let mut pa = ParamsOut::new();
        pa.u16(1, count("probes in a probeset", set.len())?);
        pa.finish(out)?;
        for p in set {
            let mut pa = ParamsOut::new();
            pa.tv(1, &p.tx);
            pa.u16(2, p.flowid);
            pa.u8(3, p.ttl);
            pa.u8(4, p.attempt);
            pa.u16(5, count("replies to a probe", p.replies.len())?);
            pa.finish(out)?;
            for r in &p.replies {
                write_reply(r, at, out)?;
            }
        }
    }
    Ok(())
}

fn write_reply(r: &TracelbReply, at: &mut AddrOut, out: &mut Vec<u8>) -> Result<()> {
    let Some(from) = &r.from else {
        return Err(Error::Encode("tracelb reply without source".into()));
    };
    let mut pa = ParamsOut::new();
    pa.tv(1, &r.rx);
    pa.u16(2, r.ipid);
    if r.flags & flags::REPLY_TTL != 0 {
        pa.u8(3, r.ttl);
    }
    pa.u8(4, r.flags);
    if r.is_tcp() {
        pa.u8(6, r.tcp_flags);
    } else {
        let b = pa.raw(5);
        b.put_u8(r.icmp_type);
        b.put_u8(r.icmp_code);
        if !r.icmp_exts.is_empty() {
            write_icmpexts(pa.raw(7), &r.icmp_exts)?;
        }
        pa.u8(8, r.icmp_q_ttl);
        pa.u8(9, r.icmp_q_tos);
    }
    pa.addr(11, from, at);
    pa.finish(out)
}

fn centisecs(t: &Timeval) -> u32 {
    t.sec.wrapping_mul(100).wrapping_add(t.usec / 10000)
}
