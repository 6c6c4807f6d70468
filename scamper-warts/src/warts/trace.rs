//! Trace objects (type 6, warts.md section 4), with PMTUD, last-ditch and doubletree
//! attributes.

use crate::addr::Addr;
use crate::error::{Error, Result};
use crate::icmpext::IcmpExt;
use crate::timeval::Timeval;
use crate::trace::{Trace, TraceDtree, TraceMethod, TracePmtud, TracePmtudNote, TraceProbe};
use crate::trace::{TraceReply, TraceStop};
use crate::warts::{ReadState, WriteState};
use crate::wire::cursor::PutExt;
use crate::wire::{append_block, AddrIn, AddrOut, Cursor, ParamsIn, ParamsOut};

const ATTR_PMTUD: u16 = 1;
const ATTR_LASTDITCH: u16 = 2;
const ATTR_DTREE: u16 = 3;

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Trace> {
    let mut at = AddrIn::new(&st.global_addrs);
    let mut t = Trace::default();
    let mut flags8 = 0u8;
    let mut flags32 = None;
    let mut pr = ParamsIn::read(c, 34)?;
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
            6 => t.stop_reason = TraceStop(v.u8()?),
            7 => t.stop_data = v.u8()?,
            8 => flags8 = v.u8()?,
            9 => t.attempts = v.u8()?,
            10 => t.hoplimit = v.u8()?,
            11 => t.method = TraceMethod(v.u8()?),
            12 => t.probe_size = v.u16()?,
            13 => t.sport = v.u16()?,
            14 => t.dport = v.u16()?,
            15 => t.firsthop = v.u8()?,
            16 => t.tos = v.u8()?,
            17 => t.wait_timeout = Timeval::new(u32::from(v.u8()?), 0),
            18 => t.loops = v.u8()?,
            19 => t.hop_count = v.u16()?,
            20 => t.gaplimit = v.u8()?,
            21 => t.gapaction = v.u8()?,
            22 => t.loopaction = v.u8()?,
            23 => t.probec = v.u16()?,
            24 => {
                let cs = u32::from(v.u8()?);
                t.wait_probe = Timeval::new(cs / 100, (cs % 100) * 10000);
            }
            25 => t.confidence = v.u8()?,
            26 => t.src = Some(at.read(v)?),
            27 => t.dst = Some(at.read(v)?),
            28 => t.userid = v.u32()?,
            29 => t.offset = v.u16()?,
            30 => t.rtr = Some(v.addr_static()?),
            31 => t.squeries = v.u8()?,
            32 => flags32 = Some(v.u32()?),
            33 => t.stop_hop = v.u8()?,
            _ => t.errmsg = Some(v.string()?),
        }
    }
    t.flags = flags32.unwrap_or(u32::from(flags8));
    if t.firsthop == 0 {
        t.firsthop = 1;
    }
    if t.squeries < 2 {
        t.squeries = 1;
    }
    if t.dst.is_none() {
        return Err(c.err("trace without destination"));
    }

    let off = c.offset();
    let n = c.u16()?;
    t.probes = read_hops(c, n, &mut at, t.probe_size, true)?;
    let max_ttl = t.probes.last().map_or(0, |p| u16::from(p.ttl));
    if t.hop_count == 0 {
        t.hop_count = max_ttl;
    } else if t.hop_count < max_ttl || t.hop_count > 255 {
        return Err(Error::format(
            off,
            format!("hop count {} with probes to TTL {max_ttl}", t.hop_count),
        ));
    }

    loop {
        let hdr = c.u16()?;
        if hdr == 0 {
            break;
        }
        let mut body = c.sub(usize::from(hdr & 0x0fff))?;
        match hdr >> 12 {
            ATTR_PMTUD => t.pmtud = Some(read_pmtud(&mut body, &mut at, t.probe_size)?),
            ATTR_LASTDITCH => {
                ParamsIn::read(&mut body, 0)?;
                let n = body.u16()?;
                t.lastditch = Some(read_hops(&mut body, n, &mut at, t.probe_size, false)?);
            }
            ATTR_DTREE => t.dtree = Some(read_dtree(&mut body, &mut at)?),
            _ => {}
        }
    }
    Ok(t)
}

/// Read `n` hop records and group them into probes (`trace_size`: the trace's probe size,
/// against which quoted IP lengths are stored). The trace's own hops are kept by TTL, as
/// scamper keeps them (one list per TTL, records in file order within it), so `by_ttl` sorts
/// them stably; PMTUD and last-ditch probes stay in file order, where TTLs may go down.
fn read_hops(
    c: &mut Cursor<'_>,
    n: u16,
    at: &mut AddrIn<'_>,
    trace_size: u16,
    by_ttl: bool,
) -> Result<Vec<TraceProbe>> {
    let mut hops = Vec::with_capacity(usize::from(n).min(c.remaining() / 4));
    for _ in 0..n {
        hops.push(read_hop(c, at, trace_size)?);
    }
    if by_ttl {
        hops.sort_by_key(|(probe, _)| probe.ttl);
    }
    let mut probes: Vec<TraceProbe> = Vec::new();
    for (probe, reply) in hops {
        match probes.last_mut() {
            Some(last) if (last.ttl, last.id, last.size) == (probe.ttl, probe.id, probe.size) => {
                last.replies.push(reply);
            }
            _ => probes.push(TraceProbe {
                replies: vec![reply],
                ..probe
            }),
        }
    }
    Ok(probes)
}

fn read_hop(
    c: &mut Cursor<'_>,
    at: &mut AddrIn<'_>,
    trace_size: u16,
) -> Result<(TraceProbe, TraceReply)> {
    let mut p = TraceProbe::default();
    let mut r = TraceReply::default();
    let (mut q_iplen, mut q_ttl) = (None, None);
    let mut pr = ParamsIn::read(c, 20)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => r.addr = Some(at.read_gid(v)?),
            2 => p.ttl = v.u8()?,
            3 => r.reply_ttl = v.u8()?,
            4 => r.flags = v.u8()?,
            5 => p.id = v.u8()?.wrapping_add(1),
            6 => r.rtt = v.rtt()?,
            7 => {
                r.icmp_type = v.u8()?;
                r.icmp_code = v.u8()?;
            }
            8 => p.size = v.u16()?,
            9 => r.reply_size = v.u16()?,
            10 => r.reply_ipid = v.u16()?,
            11 => r.reply_tos = v.u8()?,
            12 => r.icmp_nhmtu = v.u16()?,
            13 => q_iplen = Some(v.u16()?),
            14 => q_ttl = Some(v.u8()?),
            15 => r.tcp_flags = v.u8()?,
            16 => r.icmp_q_tos = v.u8()?,
            17 => r.icmp_exts = read_icmpexts(v)?,
            18 => r.addr = Some(at.read(v)?),
            19 => p.tx = v.timeval()?,
            _ => r.name = Some(v.string()?),
        }
    }
    if p.ttl == 0 {
        return Err(c.err("hop record without probe TTL"));
    }
    if r.addr.is_none() {
        return Err(c.err("hop record without address"));
    }
    // Keep only what the writer would store again (stable read -> write -> read).
    if r.has_quotation() {
        r.icmp_q_ttl = q_ttl.unwrap_or(1);
        // a stored length equal to the trace's probe size would not be stored again
        r.icmp_q_iplen = q_iplen.filter(|&l| l != trace_size).unwrap_or(p.size);
    } else {
        (r.icmp_q_ttl, r.icmp_q_iplen, r.icmp_q_tos) = (0, 0, 0);
    }
    if !r.is_icmp() {
        (r.icmp_type, r.icmp_code) = (0, 0);
    }
    if !r.is_ptb() {
        r.icmp_nhmtu = 0;
    }
    if !r.is_tcp() {
        r.tcp_flags = 0;
    }
    Ok((p, r))
}

pub(crate) fn read_icmpexts(c: &mut Cursor<'_>) -> Result<Vec<IcmpExt>> {
    let total = c.u16()?;
    if total == 0 {
        return Err(c.err("empty ICMP extension block"));
    }
    let mut b = c.sub(usize::from(total))?;
    let mut v = Vec::new();
    while !b.is_empty() {
        let dl = b.u16()?;
        let class_num = b.u8()?;
        let class_type = b.u8()?;
        let data = b.bytes(usize::from(dl))?.to_vec();
        v.push(IcmpExt {
            class_num,
            class_type,
            data,
        });
    }
    Ok(v)
}

pub(crate) fn write_icmpexts(out: &mut Vec<u8>, exts: &[IcmpExt]) -> Result<()> {
    let total: usize = exts.iter().map(|e| 4 + e.data.len()).sum();
    let too_big = || Error::Encode("ICMP extensions longer than 65535 bytes".into());
    out.put_u16(u16::try_from(total).map_err(|_| too_big())?);
    for e in exts {
        out.put_u16(e.data.len() as u16);
        out.put_u8(e.class_num);
        out.put_u8(e.class_type);
        out.extend_from_slice(&e.data);
    }
    Ok(())
}

fn read_pmtud(c: &mut Cursor<'_>, at: &mut AddrIn<'_>, trace_size: u16) -> Result<TracePmtud> {
    let mut pm = TracePmtud {
        ver: 1,
        ..Default::default()
    };
    let mut notec = 0;
    let mut pr = ParamsIn::read(c, 5)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => pm.ifmtu = v.u16()?,
            2 => pm.pmtu = v.u16()?,
            3 => pm.outmtu = v.u16()?,
            4 => pm.ver = v.u8()?,
            _ => notec = v.u8()?,
        }
    }
    let n = c.u16()?;
    pm.probes = read_hops(c, n, at, trace_size, false)?;
    for _ in 0..notec {
        let mut note = TracePmtudNote::default();
        let mut pr = ParamsIn::read(c, 3)?;
        while let Some(f) = pr.next() {
            let v = &mut pr.v;
            match f {
                1 => note.kind = v.u8()?,
                2 => note.nhmtu = v.u16()?,
                _ => note.reply = Some(v.u16()?),
            }
        }
        pm.notes.push(note);
    }
    Ok(pm)
}

fn read_dtree(c: &mut Cursor<'_>, at: &mut AddrIn<'_>) -> Result<TraceDtree> {
    let mut d = TraceDtree::default();
    let mut pr = ParamsIn::read(c, 7)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => d.lss_stop = Some(at.read_gid(v)?),
            2 => d.gss_stop = Some(at.read_gid(v)?),
            3 => d.firsthop = v.u8()?,
            4 => d.lss_stop = Some(at.read(v)?),
            5 => d.gss_stop = Some(at.read(v)?),
            6 => d.lss_name = Some(v.string()?),
            _ => d.flags = v.u8()?,
        }
    }
    Ok(d)
}

pub(crate) fn write(
    st: &mut WriteState,
    t: &Trace,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let Some(dst) = &t.dst else {
        return Err(Error::Encode("trace without destination".into()));
    };
    let mut at = AddrOut::default();
    let lid = match &t.list {
        Some(l) => st.list_id(l, side)?,
        None => 0,
    };
    let cid = match &t.cycle {
        Some(cy) => st.cycle_id(cy, side)?,
        None => 0,
    };
    if !write_params_fast(out, t, lid, cid, dst, &mut at) {
        write_params(out, t, lid, cid, dst, &mut at)?;
    }

    if let Some(p) = t
        .probes
        .iter()
        .find(|p| p.ttl == 0 || u16::from(p.ttl) > t.hop_count)
    {
        return Err(Error::Encode(format!(
            "probe TTL {} outside hop count {}",
            p.ttl, t.hop_count
        )));
    }
    // Hop records go out by TTL, each TTL's probes in send order (a stable sort, needed only
    // when the probes are not in TTL order already).
    if t.probes.is_sorted_by_key(|p| p.ttl) {
        write_hops(out, t.probes.iter(), t.probe_size, &mut at)?;
    } else {
        let mut sorted: Vec<&TraceProbe> = t.probes.iter().collect();
        sorted.sort_by_key(|p| p.ttl);
        write_hops(out, sorted, t.probe_size, &mut at)?;
    }

    if let Some(pm) = &t.pmtud {
        let mut b = Vec::new();
        let mut pa = ParamsOut::new();
        if pm.ifmtu != 0 {
            pa.u16(1, pm.ifmtu);
        }
        if pm.pmtu != 0 {
            pa.u16(2, pm.pmtu);
        }
        if pm.outmtu != 0 {
            pa.u16(3, pm.outmtu);
        }
        pa.u8(4, pm.ver);
        if !pm.notes.is_empty() {
            pa.u8(
                5,
                crate::warts::ping::count_u8(pm.notes.len(), "PMTUD notes")?,
            );
        }
        pa.finish(&mut b)?;
        write_hops(&mut b, &pm.probes, t.probe_size, &mut at)?;
        for n in &pm.notes {
            let mut pa = ParamsOut::new();
            if n.kind != 0 {
                pa.u8(1, n.kind);
            }
            if n.nhmtu != 0 {
                pa.u16(2, n.nhmtu);
            }
            if let Some(r) = n.reply {
                pa.u16(3, r);
            }
            pa.finish(&mut b)?;
        }
        put_attr(out, ATTR_PMTUD, &b)?;
    }
    if let Some(ld) = &t.lastditch {
        let mut b = vec![0u8];
        write_hops(&mut b, ld, t.probe_size, &mut at)?;
        put_attr(out, ATTR_LASTDITCH, &b)?;
    }
    if let Some(d) = &t.dtree {
        let mut b = Vec::new();
        let mut pa = ParamsOut::new();
        pa.u8(3, d.firsthop);
        if let Some(a) = &d.lss_stop {
            pa.addr(4, a, &mut at);
        }
        if let Some(a) = &d.gss_stop {
            pa.addr(5, a, &mut at);
        }
        if let Some(n) = &d.lss_name {
            pa.str(6, n);
        }
        if d.flags != 0 {
            pa.u8(7, d.flags);
        }
        pa.finish(&mut b)?;
        put_attr(out, ATTR_DTREE, &b)?;
    }
    out.put_u16(0);
    Ok(())
}

fn put_attr(out: &mut Vec<u8>, kind: u16, body: &[u8]) -> Result<()> {
    if body.len() > 0x0fff {
        return Err(Error::Encode(format!(
            "trace attribute {kind} of {} bytes",
            body.len()
        )));
    }
    out.put_u16(kind << 12 | body.len() as u16);
    out.extend_from_slice(body);
    Ok(())
}

/// u16 record count then one record per (probe, reply).
/// The trace's own params block.
fn write_params(
    out: &mut Vec<u8>,
    t: &Trace,
    lid: u32,
    cid: u32,
    dst: &Addr,
    at: &mut AddrOut,
) -> Result<()> {
    let mut pa = ParamsOut::new();
    pa.u32(1, lid);
    pa.u32(2, cid);
    pa.tv(5, &t.start);
    pa.u8(6, t.stop_reason.0);
    pa.u8(7, t.stop_data);
    if t.flags & 0xff != 0 {
        pa.u8(8, t.flags as u8);
    }
    pa.u8(9, t.attempts);
    pa.u8(10, t.hoplimit);
    pa.u8(11, t.method.0);
    pa.u16(12, t.probe_size);
    pa.u16(13, t.sport);
    pa.u16(14, t.dport);
    pa.u8(15, t.firsthop);
    pa.u8(16, t.tos);
    pa.u8(17, t.wait_timeout.sec as u8);
    pa.u8(18, t.loops);
    pa.u16(19, t.hop_count);
    pa.u8(20, t.gaplimit);
    pa.u8(21, t.gapaction);
    pa.u8(22, t.loopaction);
    pa.u16(23, t.probec);
    pa.u8(
        24,
        (t.wait_probe.sec * 100 + t.wait_probe.usec / 10000) as u8,
    );
    pa.u8(25, t.confidence);
    if let Some(a) = &t.src {
        pa.addr(26, a, at);
    }
    pa.addr(27, dst, at);
    if t.userid != 0 {
        pa.u32(28, t.userid);
    }
    if t.offset != 0 {
        pa.u16(29, t.offset);
    }
    if let Some(a) = &t.rtr {
        pa.addr_static(30, a);
    }
    if t.squeries >= 2 {
        pa.u8(31, t.squeries);
    }
    if t.flags & !0xff != 0 {
        pa.u32(32, t.flags);
    }
    if t.stop_hop != 0 {
        pa.u8(33, t.stop_hop);
    }
    if let Some(e) = &t.errmsg {
        pa.str(34, e);
    }
    pa.finish(out)?;
    Ok(())
}

fn write_hops<'a>(
    out: &mut Vec<u8>,
    probes: impl IntoIterator<Item = &'a TraceProbe>,
    trace_size: u16,
    at: &mut AddrOut,
) -> Result<()> {
    // The count comes first: written as 0 and filled in after the hop records.
    let count_at = out.len();
    out.put_u16(0);
    let mut n = 0usize;
    let mut pa = ParamsOut::new();
    for p in probes {
        for r in &p.replies {
            if !write_hop_fast(out, p, r, trace_size, at) {
                write_hop(&mut pa, out, p, r, trace_size, at)?;
            }
            n += 1;
        }
    }
    let n = u16::try_from(n).map_err(|_| Error::Encode(format!("{n} trace hop records")))?;
    out[count_at..count_at + 2].copy_from_slice(&n.to_be_bytes());
    Ok(())
}

/// [`write_hop`] for the common hop record (IPv4 or IPv6 address, no ICMP extensions, no
/// name), assembled on the stack and appended in one copy: the generic params block costs a
/// capacity check and a flag update per field, and a trace writes a record per hop. False,
/// with nothing written, for other records.
fn write_hop_fast(
    out: &mut Vec<u8>,
    p: &TraceProbe,
    r: &TraceReply,
    trace_size: u16,
    at: &mut AddrOut,
) -> bool {
    let Some(addr) = &r.addr else {
        return false;
    };
    if !r.icmp_exts.is_empty() || r.name.is_some() || !matches!(addr, Addr::V4(_) | Addr::V6(_)) {
        return false;
    }
    // Values in flag order, as write_hop adds them.
    let mut sp = StackParams::new();
    sp.put(2, &[p.ttl]);
    sp.put(3, &[r.reply_ttl]);
    sp.put(4, &[r.flags]);
    sp.put(5, &[p.id.wrapping_sub(1)]);
    sp.put(6, &r.rtt.as_usec32().to_be_bytes());
    if r.is_icmp() {
        sp.put(7, &[r.icmp_type, r.icmp_code]);
    }
    sp.put(8, &p.size.to_be_bytes());
    sp.put(9, &r.reply_size.to_be_bytes());
    if r.reply_ipid != 0 {
        sp.put(10, &r.reply_ipid.to_be_bytes());
    }
    sp.put(11, &[r.reply_tos]);
    if r.is_ptb() {
        sp.put(12, &r.icmp_nhmtu.to_be_bytes());
    }
    let quot = r.has_quotation();
    if quot && r.icmp_q_iplen != trace_size {
        sp.put(13, &r.icmp_q_iplen.to_be_bytes());
    }
    if quot && r.icmp_q_ttl != 1 {
        sp.put(14, &[r.icmp_q_ttl]);
    }
    if r.is_tcp() {
        sp.put(15, &[r.tcp_flags]);
    }
    if quot {
        sp.put(16, &[r.icmp_q_tos]);
    }
    let mut a = [0u8; 18];
    let Some(alen) = at.put_slice(&mut a, addr) else {
        return false;
    };
    sp.put(18, &a[..alen]);
    if p.tx.sec != 0 {
        sp.put(19, &timeval_bytes(&p.tx));
    }
    sp.finish(out);
    true
}

/// A params block gathered on the stack for the fast writers, as [`ParamsOut`] gathers one:
/// flag bits 7 a byte, values in ascending flag order. 128 bytes of values hold the largest
/// common block (the trace's own, with two IPv6 addresses); ids go up to 35.
struct StackParams {
    flags: [u8; 5],
    nflags: usize,
    vals: [u8; 128],
    len: usize,
}

impl StackParams {
    fn new() -> StackParams {
        StackParams {
            flags: [0; 5],
            nflags: 0,
            vals: [0; 128],
            len: 0,
        }
    }

    fn put(&mut self, id: u32, b: &[u8]) {
        let (byte, bit) = ((id as usize - 1) / 7, (id - 1) % 7);
        self.flags[byte] |= 1 << bit;
        // Ids come in ascending order, so this byte is the last in use.
        self.nflags = byte + 1;
        self.vals[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    fn finish(&self, out: &mut Vec<u8>) {
        append_block(out, &self.flags[..self.nflags], &self.vals[..self.len]);
    }
}

/// A timeval as warts stores it: seconds, then microseconds, both 32-bit big-endian.
fn timeval_bytes(t: &Timeval) -> [u8; 8] {
    let mut tv = [0u8; 8];
    tv[..4].copy_from_slice(&t.sec.to_be_bytes());
    tv[4..].copy_from_slice(&t.usec.to_be_bytes());
    tv
}

/// The trace's own params block (see [`write`]) assembled on the stack, for the common
/// trace: IPv4 or IPv6 addresses, no `-r` router, no error message. False, with nothing
/// written and the address table untouched, for others.
fn write_params_fast(
    out: &mut Vec<u8>,
    t: &Trace,
    lid: u32,
    cid: u32,
    dst: &Addr,
    at: &mut AddrOut,
) -> bool {
    let ip = |a: &Addr| matches!(a, Addr::V4(_) | Addr::V6(_));
    if t.errmsg.is_some() || t.rtr.is_some() || !ip(dst) || t.src.as_ref().is_some_and(|a| !ip(a)) {
        return false;
    }
    let mut sp = StackParams::new();
    sp.put(1, &lid.to_be_bytes());
    sp.put(2, &cid.to_be_bytes());
    sp.put(5, &timeval_bytes(&t.start));
    sp.put(6, &[t.stop_reason.0]);
    sp.put(7, &[t.stop_data]);
    if t.flags & 0xff != 0 {
        sp.put(8, &[t.flags as u8]);
    }
    sp.put(9, &[t.attempts]);
    sp.put(10, &[t.hoplimit]);
    sp.put(11, &[t.method.0]);
    sp.put(12, &t.probe_size.to_be_bytes());
    sp.put(13, &t.sport.to_be_bytes());
    sp.put(14, &t.dport.to_be_bytes());
    sp.put(15, &[t.firsthop]);
    sp.put(16, &[t.tos]);
    sp.put(17, &[t.wait_timeout.sec as u8]);
    sp.put(18, &[t.loops]);
    sp.put(19, &t.hop_count.to_be_bytes());
    sp.put(20, &[t.gaplimit]);
    sp.put(21, &[t.gapaction]);
    sp.put(22, &[t.loopaction]);
    sp.put(23, &t.probec.to_be_bytes());
    sp.put(
        24,
        &[(t.wait_probe.sec * 100 + t.wait_probe.usec / 10000) as u8],
    );
    sp.put(25, &[t.confidence]);
    let mut a = [0u8; 18];
    if let Some(src) = &t.src {
        let Some(len) = at.put_slice(&mut a, src) else {
            return false;
        };
        sp.put(26, &a[..len]);
    }
    let Some(len) = at.put_slice(&mut a, dst) else {
        return false;
    };
    sp.put(27, &a[..len]);
    if t.userid != 0 {
        sp.put(28, &t.userid.to_be_bytes());
    }
    if t.offset != 0 {
        sp.put(29, &t.offset.to_be_bytes());
    }
    if t.squeries >= 2 {
        sp.put(31, &[t.squeries]);
    }
    if t.flags & !0xff != 0 {
        sp.put(32, &t.flags.to_be_bytes());
    }
    if t.stop_hop != 0 {
        sp.put(33, &[t.stop_hop]);
    }
    sp.finish(out);
    true
}

/// One hop record; `pa` is empty, and is left empty for the next.
fn write_hop(
    pa: &mut ParamsOut,
    out: &mut Vec<u8>,
    p: &TraceProbe,
    r: &TraceReply,
    trace_size: u16,
    at: &mut AddrOut,
) -> Result<()> {
    pa.u8(2, p.ttl);
    pa.u8(3, r.reply_ttl);
    pa.u8(4, r.flags);
    pa.u8(5, p.id.wrapping_sub(1));
    pa.rtt(6, &r.rtt);
    if r.is_icmp() {
        let b = pa.raw(7);
        b.put_u8(r.icmp_type);
        b.put_u8(r.icmp_code);
    }
    pa.u16(8, p.size);
    pa.u16(9, r.reply_size);
    if r.reply_ipid != 0 {
        pa.u16(10, r.reply_ipid);
    }
    pa.u8(11, r.reply_tos);
    if r.is_ptb() {
        pa.u16(12, r.icmp_nhmtu);
    }
    let quot = r.has_quotation();
    if quot && r.icmp_q_iplen != trace_size {
        pa.u16(13, r.icmp_q_iplen);
    }
    if quot && r.icmp_q_ttl != 1 {
        pa.u8(14, r.icmp_q_ttl);
    }
    if r.is_tcp() {
        pa.u8(15, r.tcp_flags);
    }
    if quot {
        pa.u8(16, r.icmp_q_tos);
    }
    if !r.icmp_exts.is_empty() {
        write_icmpexts(pa.raw(17), &r.icmp_exts)?;
    }
    if let Some(a) = &r.addr {
        pa.addr(18, a, at);
    }
    if p.tx.sec != 0 {
        pa.tv(19, &p.tx);
    }
    if let Some(n) = &r.name {
        pa.str(20, n);
    }
    pa.finish_and_clear(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::reply_flags;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// A reproducible stream of random words for the fast-path checks.
    fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// The fast trace params block is the generic one, address table included.
    #[test]
    fn fast_trace_params_are_the_generic_ones() {
        let addrs = [
            Addr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            Addr::V4(Ipv4Addr::new(198, 51, 100, 7)),
            Addr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ];
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        for i in 0..20_000 {
            let (a, b) = (next(), next());
            let t = Trace {
                src: (a & 1 != 0).then_some(addrs[(a >> 1) as usize % 3]),
                dst: Some(addrs[(a >> 3) as usize % 3]),
                start: Timeval::new((a >> 8) as u32, (a >> 40) as u32 % 1_000_000),
                stop_reason: TraceStop((b & 7) as u8),
                stop_data: (b >> 3) as u8,
                flags: if b & (1 << 11) != 0 {
                    (b >> 12) as u32 & 0xff
                } else {
                    (b >> 12) as u32
                },
                attempts: (b >> 44) as u8,
                hoplimit: (b >> 52) as u8,
                method: TraceMethod((b >> 60) as u8),
                probe_size: (a >> 20) as u16,
                sport: (a >> 36) as u16,
                dport: (a >> 48) as u16,
                firsthop: (b >> 20) as u8,
                tos: (b >> 28) as u8,
                wait_timeout: Timeval::new((a >> 5) as u32 % 10, 0),
                wait_probe: Timeval::new((b >> 5) as u32 % 3, (b >> 9) as u32 % 1_000_000),
                loops: (a >> 24) as u8,
                hop_count: (b >> 36) as u16,
                gaplimit: (a >> 28) as u8,
                gapaction: (a >> 30) as u8 & 3,
                confidence: [0, 95, 99][(a >> 32) as usize % 3],
                probec: (b >> 40) as u16,
                userid: if a & (1 << 4) != 0 {
                    0
                } else {
                    (a >> 12) as u32
                },
                offset: if b & (1 << 6) != 0 {
                    0
                } else {
                    (b >> 16) as u16
                },
                squeries: (a >> 56) as u8 % 4,
                stop_hop: if b & (1 << 7) != 0 {
                    0
                } else {
                    (b >> 24) as u8
                },
                ..Trace::default()
            };
            let (mut fast, mut generic) = (Vec::new(), Vec::new());
            let (mut at_fast, mut at_generic) = (AddrOut::default(), AddrOut::default());
            let (lid, cid) = ((a >> 44) as u32, (b >> 30) as u32);
            let dst = t.dst.as_ref().unwrap();
            assert!(write_params_fast(
                &mut fast,
                &t,
                lid,
                cid,
                dst,
                &mut at_fast
            ));
            write_params(&mut generic, &t, lid, cid, dst, &mut at_generic).unwrap();
            assert_eq!(fast, generic, "trace {i}: {t:?}");
        }
        // Error messages and -r take the generic path.
        let t = Trace {
            dst: Some(addrs[0]),
            errmsg: Some("no route".into()),
            ..Trace::default()
        };
        let mut out = Vec::new();
        assert!(!write_params_fast(
            &mut out,
            &t,
            1,
            1,
            &addrs[0],
            &mut AddrOut::default()
        ));
        assert!(out.is_empty());
    }

    /// The fast hop writer gives the generic one's bytes, address table included.
    #[test]
    fn fast_hop_records_are_the_generic_ones() {
        let addrs = [
            Addr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            Addr::V4(Ipv4Addr::new(198, 51, 100, 7)),
            Addr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            Addr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
        ];
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        let (mut fast, mut generic) = (Vec::new(), Vec::new());
        let (mut at_fast, mut at_generic) = (AddrOut::default(), AddrOut::default());
        let mut pa = ParamsOut::new();
        for i in 0..20_000 {
            let r0 = next();
            let kind = [reply_flags::TCP, reply_flags::UDP, 0, 0][(r0 & 3) as usize];
            let r = TraceReply {
                addr: Some(addrs[(r0 >> 2) as usize % addrs.len()]),
                flags: kind | (r0 >> 8) as u8 & !(reply_flags::TCP | reply_flags::UDP),
                reply_ttl: (r0 >> 16) as u8,
                reply_tos: (r0 >> 24) as u8,
                reply_size: (r0 >> 32) as u16 & 0x7ff,
                reply_ipid: if r0 & (1 << 48) != 0 {
                    0
                } else {
                    (r0 >> 49) as u16
                },
                rtt: Timeval::new((r0 >> 20) as u32 % 5, (r0 >> 30) as u32 % 1_000_000),
                icmp_type: [0, 3, 11, 1, 2, 3, 129][(r0 >> 40) as usize % 7],
                icmp_code: [0, 3, 4][(r0 >> 44) as usize % 3],
                icmp_q_iplen: if r0 & (1 << 60) != 0 {
                    44
                } else {
                    (r0 >> 36) as u16
                },
                icmp_q_ttl: if r0 & (1 << 61) != 0 {
                    1
                } else {
                    (r0 >> 50) as u8
                },
                icmp_q_tos: (r0 >> 54) as u8,
                icmp_nhmtu: (r0 >> 12) as u16,
                tcp_flags: (r0 >> 4) as u8,
                ..TraceReply::default()
            };
            let r1 = next();
            let p = TraceProbe {
                ttl: 1 + (r1 as u8 % 254),
                id: (r1 >> 8) as u8,
                size: 44,
                tx: if r1 & (1 << 20) != 0 {
                    Timeval::new(0, 5)
                } else {
                    Timeval::new((r1 >> 21) as u32, (r1 >> 40) as u32 % 1_000_000)
                },
                replies: Vec::new(),
            };
            assert!(write_hop_fast(&mut fast, &p, &r, 44, &mut at_fast));
            write_hop(&mut pa, &mut generic, &p, &r, 44, &mut at_generic).unwrap();
            assert_eq!(fast, generic, "record {i}: {p:?} {r:?}");
        }
        // Extensions and names take the generic path.
        let r = TraceReply {
            addr: Some(addrs[0]),
            name: Some("r1".into()),
            ..TraceReply::default()
        };
        let p = TraceProbe {
            ttl: 1,
            id: 1,
            size: 44,
            tx: Timeval::new(1, 0),
            replies: Vec::new(),
        };
        let before = fast.len();
        assert!(!write_hop_fast(&mut fast, &p, &r, 44, &mut at_fast));
        assert_eq!(fast.len(), before);
    }
}
