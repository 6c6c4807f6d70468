//! Ping objects (type 7, warts.md section 5).

use crate::addr::Addr;
use crate::error::{Error, Result};
use crate::ping::{flags, reply_flags, Ping, PingMethod, PingProbe, PingReply, PingStop};
use crate::ping::{PingTsReply, PingV4Ts};
use crate::warts::{ReadState, WriteState};
use crate::wire::cursor::PutExt;
use crate::wire::{AddrIn, AddrOut, Cursor, IfnameIn, IfnameOut, ParamsIn, ParamsOut};

pub(crate) fn read(st: &ReadState, c: &mut Cursor<'_>) -> Result<Ping> {
    let mut at = AddrIn::new(&st.global_addrs);
    let mut it = IfnameIn::default();
    let mut p = Ping::default();
    let mut flags8 = 0u8;
    let mut flags32 = None;
    let mut timeout_sec = None;
    let mut datalen = 0u16;
    let mut pr = ParamsIn::read(c, 34)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => {
                let id = v.u32()?;
                p.list = st.list(v, id)?;
            }
            2 => {
                let id = v.u32()?;
                p.cycle = st.cycle(v, id)?;
            }
            3 => p.src = Some(at.read_gid(v)?),
            4 => p.dst = Some(at.read_gid(v)?),
            5 => p.start = v.timeval()?,
            6 => p.stop_reason = PingStop(v.u8()?),
            7 => p.stop_data = v.u8()?,
            8 => datalen = v.u16()?,
            9 => p.data = v.bytes(usize::from(datalen))?.to_vec(),
            10 => p.probe_count = v.u16()?,
            11 => p.probe_size = v.u16()?,
            12 => p.wait_probe.sec = u32::from(v.u8()?),
            13 => p.probe_ttl = v.u8()?,
            14 => p.stop_count = v.u16()?,
            15 => p.ping_sent = v.u16()?,
            16 => p.method = PingMethod(v.u8()?),
            17 => p.probe_sport = v.u16()?,
            18 => p.probe_dport = v.u16()?,
            19 => p.userid = v.u32()?,
            20 => p.src = Some(at.read(v)?),
            21 => p.dst = Some(at.read(v)?),
            22 => flags8 = v.u8()?,
            23 => p.probe_tos = v.u8()?,
            24 => {
                let n = v.u8()?;
                let mut l = Vec::new();
                for _ in 0..n {
                    l.push(at.read(v)?);
                }
                p.probe_tsps = Some(l);
            }
            25 => p.probe_icmpsum = v.u16()?,
            26 => p.pmtu = v.u16()?,
            27 => timeout_sec = Some(u32::from(v.u8()?)),
            28 => p.wait_probe.usec = v.u32()?,
            29 => p.probe_tcpack = v.u32()?,
            30 => flags32 = Some(v.u32()?),
            31 => p.probe_tcpseq = v.u32()?,
            32 => p.rtr = Some(v.addr_static()?),
            33 => p.wait_timeout.usec = v.u32()?,
            _ => p.errmsg = Some(v.string()?),
        }
    }
    p.flags = flags32.unwrap_or(u32::from(flags8));
    p.wait_timeout.sec = timeout_sec.unwrap_or(p.wait_probe.sec);
    if p.flags & flags::ICMPSUM == 0 {
        p.probe_icmpsum = 0;
    }
    let Some(dst) = p.dst else {
        return Err(c.err("ping without destination"));
    };

    let replyc = c.u16()?;
    // one slot per sent probe up front (at most 65,535, as the model keeps anyway)
    let mut probes: Vec<Option<PingProbe>> = vec![None; usize::from(p.ping_sent)];
    for _ in 0..replyc {
        let off = c.offset();
        let (id, probe, reply) = read_reply(c, &mut at, &mut it, dst, p.method.is_icmp())?;
        if id >= p.ping_sent {
            return Err(Error::format(
                off,
                format!("reply to probe {id} of {}", p.ping_sent),
            ));
        }
        // most probes have one reply: room for exactly that (a Vec's first push makes
        // room for four)
        probes[usize::from(id)]
            .get_or_insert_with(|| PingProbe {
                replies: Vec::with_capacity(1),
                ..probe
            })
            .replies
            .push(reply);
    }
    p.probes = probes;
    Ok(p)
}

/// One reply record: the probe id, the probe as this record describes it, and the reply.
fn read_reply(
    c: &mut Cursor<'_>,
    at: &mut AddrIn<'_>,
    it: &mut IfnameIn,
    dst: Addr,
    icmp_method: bool,
) -> Result<(u16, PingProbe, PingReply)> {
    let mut r = PingReply::default();
    let mut pb = PingProbe::default();
    let mut id = 0;
    let mut proto = None;
    let mut pr = ParamsIn::read(c, 21)?;
    while let Some(f) = pr.next() {
        let v = &mut pr.v;
        match f {
            1 => r.addr = Some(at.read_gid(v)?),
            2 => r.flags = v.u8()?,
            3 => r.reply_ttl = v.u8()?,
            4 => r.reply_size = v.u16()?,
            5 => {
                r.icmp_type = v.u8()?;
                r.icmp_code = v.u8()?;
            }
            6 => r.rtt = v.rtt()?,
            7 => id = v.u16()?,
            8 => r.reply_ipid = u32::from(v.u16()?),
            9 => pb.ipid = v.u16()?,
            10 => proto = Some(v.u8()?),
            11 => r.tcp_flags = v.u8()?,
            12 => r.addr = Some(at.read(v)?),
            13 => {
                let n = v.u8()?;
                let mut l = Vec::new();
                for _ in 0..n {
                    l.push(at.read(v)?);
                }
                r.v4rr = Some(l);
            }
            14 => {
                let tsc = v.u8()?;
                let ipc = v.u8()?;
                if ipc != 0 && ipc != tsc {
                    return Err(v.err(format!("timestamp option with {tsc} stamps, {ipc} addrs")));
                }
                let mut ts = PingV4Ts::default();
                for _ in 0..tsc {
                    ts.timestamps.push(v.u32()?);
                }
                for _ in 0..ipc {
                    ts.addrs.push(at.read(v)?);
                }
                r.v4ts = Some(ts);
            }
            15 => r.reply_ipid = v.u32()?,
            16 => pb.tx = v.timeval()?,
            17 => {
                r.tsreply = Some(PingTsReply {
                    originate: v.u32()?,
                    receive: v.u32()?,
                    transmit: v.u32()?,
                })
            }
            18 => pb.sport = v.u16()?,
            19 => r.reply_tos = v.u8()?,
            20 => r.ifname = Some(it.read(v)?),
            _ => r.icmp_nhmtu = v.u16()?,
        }
    }
    if r.addr.is_none() {
        return Err(c.err("ping reply without address"));
    }
    // The writer stores the reply protocol only for methods other than ICMP (as scamper
    // does), so an ICMP ping's replies are ICMP whatever a damaged file says.
    let icmp = if dst.is_ipv4() { 1 } else { 58 };
    r.reply_proto = if icmp_method {
        icmp
    } else {
        proto.unwrap_or(icmp)
    };
    pb.flags = r.flags & (reply_flags::PROBE_IPID | reply_flags::DLTX);
    // Keep only what the writer would store again, so read -> write -> read is stable even
    // for inconsistent input.
    if !r.is_icmp() {
        (r.icmp_type, r.icmp_code) = (0, 0);
    }
    if !r.is_icmp_ptb() {
        r.icmp_nhmtu = 0;
    }
    if r.reply_proto != 6 {
        r.tcp_flags = 0;
    }
    if r.flags & reply_flags::REPLY_TTL == 0 {
        r.reply_ttl = 0;
    }
    if r.flags & reply_flags::REPLY_IPID == 0 || !(dst.is_ipv4() || dst.is_ipv6()) {
        r.reply_ipid = 0;
    } else if dst.is_ipv4() {
        r.reply_ipid &= 0xffff;
    }
    if !(dst.is_ipv4() && r.flags & reply_flags::PROBE_IPID != 0) {
        pb.ipid = 0;
    }
    Ok((id, pb, r))
}

pub(crate) fn write(
    st: &mut WriteState,
    p: &Ping,
    side: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let mut at = AddrOut::default();
    let mut it = IfnameOut::default();
    let mut pa = ParamsOut::new();
    if let Some(l) = &p.list {
        pa.u32(1, st.list_id(l, side)?);
    }
    if let Some(cy) = &p.cycle {
        pa.u32(2, st.cycle_id(cy, side)?);
    }
    pa.tv(5, &p.start);
    pa.u8(6, p.stop_reason.0);
    pa.u8(7, p.stop_data);
    if !p.data.is_empty() {
        let n = u16::try_from(p.data.len())
            .map_err(|_| Error::Encode(format!("ping data of {} bytes", p.data.len())))?;
        pa.u16(8, n);
        pa.bytes(9, &p.data);
    }
    pa.u16(10, p.probe_count);
    pa.u16(11, p.probe_size);
    pa.u8(12, p.wait_probe.sec as u8);
    pa.u8(13, p.probe_ttl);
    if p.stop_count != 0 {
        pa.u16(14, p.stop_count);
    }
    pa.u16(15, p.ping_sent);
    if p.method.0 != 0 {
        pa.u8(16, p.method.0);
    }
    if p.probe_sport != 0 {
        pa.u16(17, p.probe_sport);
    }
    if p.probe_dport != 0 {
        pa.u16(18, p.probe_dport);
    }
    if p.userid != 0 {
        pa.u32(19, p.userid);
    }
    if let Some(a) = &p.src {
        pa.addr(20, a, &mut at);
    }
    if let Some(a) = &p.dst {
        pa.addr(21, a, &mut at);
    }
    if p.flags & 0xff != 0 {
        pa.u8(22, p.flags as u8);
    }
    if p.probe_tos != 0 {
        pa.u8(23, p.probe_tos);
    }
    if let Some(l) = &p.probe_tsps {
        let b = pa.raw(24);
        b.put_u8(count_u8(l.len(), "tsps addresses")?);
        for a in l {
            at.put(b, a);
        }
    }
    if p.probe_icmpsum != 0 && p.flags & flags::ICMPSUM != 0 {
        pa.u16(25, p.probe_icmpsum);
    }
    if p.pmtu != 0 {
        pa.u16(26, p.pmtu);
    }
    if p.wait_timeout.sec != p.wait_probe.sec {
        pa.u8(27, p.wait_timeout.sec as u8);
    }
    if p.wait_probe.usec != 0 {
        pa.u32(28, p.wait_probe.usec);
    }
    if p.probe_tcpack != 0 {
        pa.u32(29, p.probe_tcpack);
    }
    if p.flags & !0xff != 0 {
        pa.u32(30, p.flags);
    }
    if p.probe_tcpseq != 0 {
        pa.u32(31, p.probe_tcpseq);
    }
    if let Some(a) = &p.rtr {
        pa.addr_static(32, a);
    }
    if p.wait_timeout.usec != 0 {
        pa.u32(33, p.wait_timeout.usec);
    }
    if let Some(e) = &p.errmsg {
        pa.str(34, e);
    }
    pa.finish(out)?;

    // The reply count comes first: written as 0 and filled in after the replies.
    let count_at = out.len();
    out.put_u16(0);
    let mut count = 0usize;
    for (i, probe) in p.probes.iter().enumerate() {
        let Some(probe) = probe else { continue };
        let id =
            u16::try_from(i).map_err(|_| Error::Encode("more than 65536 ping probes".into()))?;
        for r in &probe.replies {
            write_reply(p, id, probe, r, &mut at, &mut it, out)?;
            count += 1;
        }
    }
    let count = u16::try_from(count).map_err(|_| Error::Encode(format!("{count} ping replies")))?;
    out[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
    Ok(())
}

fn write_reply(
    p: &Ping,
    id: u16,
    pb: &PingProbe,
    r: &PingReply,
    at: &mut AddrOut,
    it: &mut IfnameOut,
    out: &mut Vec<u8>,
) -> Result<()> {
    let v4 = p.dst.is_some_and(|a| a.is_ipv4());
    let v6 = p.dst.is_some_and(|a| a.is_ipv6());
    let mut pa = ParamsOut::new();
    if r.flags != 0 {
        pa.u8(2, r.flags);
    }
    if r.flags & reply_flags::REPLY_TTL != 0 {
        pa.u8(3, r.reply_ttl);
    }
    pa.u16(4, r.reply_size);
    if r.is_icmp() {
        let b = pa.raw(5);
        b.put_u8(r.icmp_type);
        b.put_u8(r.icmp_code);
    }
    pa.rtt(6, &r.rtt);
    pa.u16(7, id);
    if v4 && r.flags & reply_flags::REPLY_IPID != 0 {
        pa.u16(8, r.reply_ipid as u16);
    }
    if v4 && r.flags & reply_flags::PROBE_IPID != 0 {
        pa.u16(9, pb.ipid);
    }
    if !p.method.is_icmp() {
        pa.u8(10, r.reply_proto);
    }
    if r.reply_proto == 6 {
        pa.u8(11, r.tcp_flags);
    }
    if let Some(a) = &r.addr {
        pa.addr(12, a, at);
    }
    if let Some(l) = &r.v4rr {
        let b = pa.raw(13);
        b.put_u8(count_u8(l.len(), "record-route addresses")?);
        for a in l {
            at.put(b, a);
        }
    }
    if let Some(ts) = &r.v4ts {
        if !ts.addrs.is_empty() && ts.addrs.len() != ts.timestamps.len() {
            return Err(Error::Encode(
                "timestamp option with unequal stamps and addresses".into(),
            ));
        }
        let b = pa.raw(14);
        b.put_u8(count_u8(ts.timestamps.len(), "timestamps")?);
        b.put_u8(ts.addrs.len() as u8);
        for t in &ts.timestamps {
            b.put_u32(*t);
        }
        for a in &ts.addrs {
            at.put(b, a);
        }
    }
    if v6 && r.flags & reply_flags::REPLY_IPID != 0 {
        pa.u32(15, r.reply_ipid);
    }
    if pb.tx.sec != 0 {
        pa.tv(16, &pb.tx);
    }
    if let Some(t) = &r.tsreply {
        let b = pa.raw(17);
        b.put_u32(t.originate);
        b.put_u32(t.receive);
        b.put_u32(t.transmit);
    }
    if pb.sport != 0 {
        pa.u16(18, pb.sport);
    }
    if r.reply_tos != 0 {
        pa.u8(19, r.reply_tos);
    }
    if let Some(n) = &r.ifname {
        pa.ifname(20, n, it);
    }
    if r.is_icmp_ptb() {
        pa.u16(21, r.icmp_nhmtu);
    }
    pa.finish(out)
}

pub(crate) fn count_u8(n: usize, what: &str) -> Result<u8> {
    u8::try_from(n).map_err(|_| Error::Encode(format!("{n} {what} (at most 255)")))
}
