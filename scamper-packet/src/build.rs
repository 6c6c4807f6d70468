//! Probe builders: complete IP packets (IP header included) ready for a header-included raw
//! socket, with every field a measurement controls taken from [`IpParams`].

use crate::checksum;
use crate::icmp4::{self, IcmpPacket};
use crate::icmp6;
use crate::icmpext::{self, IcmpExtObject, ORIGINAL_DATAGRAM_MIN};
use crate::ipopt::{encode_options, IpOption};
use crate::ipv4::{self, Ipv4Packet};
use crate::ipv6::{self, Ipv6Packet};
use crate::tcp::{self, TcpPacket};
use crate::udp::{self, UdpPacket};
use crate::wire::put32;
use crate::{BuildError, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use std::net::IpAddr;

/// IP-level fields of a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpParams {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// TOS byte (IPv4) or traffic class (IPv6).
    pub tos: u8,
    /// IPv4 identification. For IPv6 it is used only as the fragment header's identification
    /// when `frag_offset`/`more_frags` ask for a fragment header.
    pub ip_id: u16,
    /// IPv4 don't-fragment flag (ignored for IPv6, where routers never fragment).
    pub df: bool,
    /// IPv6 flow label (20 bits).
    pub flow_label: u32,
    /// IPv4 options; an error for IPv6.
    pub options: Vec<IpOption>,
    /// Fragment offset in 8-byte units (13 bits). For IPv6, a non-zero offset or `more_frags`
    /// adds a fragment header.
    pub frag_offset: u16,
    pub more_frags: bool,
}

impl IpParams {
    /// TTL 64; everything else zero, false or empty.
    pub fn new(src: IpAddr, dst: IpAddr) -> Self {
        IpParams {
            src,
            dst,
            ttl: 64,
            tos: 0,
            ip_id: 0,
            df: false,
            flow_label: 0,
            options: Vec::new(),
            frag_offset: 0,
            more_frags: false,
        }
    }

    /// True for IPv6; an error if the two addresses differ in family.
    pub fn is_ipv6(&self) -> Result<bool, BuildError> {
        match (self.src, self.dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => Ok(false),
            (IpAddr::V6(_), IpAddr::V6(_)) => Ok(true),
            _ => Err(BuildError::FamilyMismatch),
        }
    }
}

/// TCP-level fields of a probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpParams {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// `tcp::TH_*` bits.
    pub flags: u8,
    pub window: u16,
    /// Adds an MSS option (the header grows to 24 bytes).
    pub mss: Option<u16>,
    pub payload: Vec<u8>,
}

/// ICMP echo request (ICMPv4 type 8 or ICMPv6 type 128 by the family of `ip`).
pub fn build_icmp_echo(
    ip: &IpParams,
    id: u16,
    seq: u16,
    payload: &[u8],
) -> Result<Vec<u8>, BuildError> {
    let v6 = ip.is_ipv6()?;
    let proto = if v6 { IPPROTO_ICMPV6 } else { IPPROTO_ICMP };
    assemble(ip, proto, icmp4::HEADER_LEN + payload.len(), |m| {
        let mut p = IcmpPacket::new_unchecked(&mut m[..]);
        p.set_msg_type(if v6 {
            icmp6::ICMP6_ECHO_REQUEST
        } else {
            icmp4::ICMP_ECHO
        });
        p.set_echo_id(id);
        p.set_echo_seq(seq);
        p.payload_mut().copy_from_slice(payload);
        icmp_checksum(ip, m, v6)
    })
}

/// ICMP timestamp request (type 13) with the given originate timestamp (milliseconds since
/// midnight UT, RFC 792); receive and transmit are zero. IPv4 only.
pub fn build_icmp_timestamp(
    ip: &IpParams,
    id: u16,
    seq: u16,
    originate_ms: u32,
) -> Result<Vec<u8>, BuildError> {
    build_icmp_timestamp_with_payload(ip, id, seq, originate_ms, &[])
}

/// As [`build_icmp_timestamp`], with `payload` appended after the 20-byte timestamp message
/// (scamper's ping pads icmp-time probes to the requested size).
pub fn build_icmp_timestamp_with_payload(
    ip: &IpParams,
    id: u16,
    seq: u16,
    originate_ms: u32,
    payload: &[u8],
) -> Result<Vec<u8>, BuildError> {
    if ip.is_ipv6()? {
        return Err(BuildError::Unsupported("ICMP timestamp over IPv6"));
    }
    assemble(
        ip,
        IPPROTO_ICMP,
        icmp4::TIMESTAMP_LEN + payload.len(),
        |m| {
            m[icmp4::TIMESTAMP_LEN..].copy_from_slice(payload);
            let mut p = IcmpPacket::new_unchecked(&mut m[..]);
            p.set_msg_type(icmp4::ICMP_TSTAMP);
            p.set_echo_id(id);
            p.set_echo_seq(seq);
            put32(m, 8, originate_ms);
            icmp_checksum(ip, m, false)
        },
    )
}

/// An ICMP error message quoting `quoted` (the invoking packet, from its IP header on), as a
/// router or host would send it; used to test the receive path and by simulated responders.
/// `info` fills bytes 4..8 (unused, MTU or pointer). With `extensions`, the quote is zero-padded
/// per RFC 4884 (to 128 bytes at least, to 32-bit words for ICMPv4 and 64-bit for ICMPv6), the
/// length field is set, and the extension structure follows; only destination unreachable,
/// time exceeded and (ICMPv4) parameter problem may carry them.
pub fn build_icmp_error(
    ip: &IpParams,
    icmp_type: u8,
    code: u8,
    info: u32,
    quoted: &[u8],
    extensions: &[IcmpExtObject],
) -> Result<Vec<u8>, BuildError> {
    let v6 = ip.is_ipv6()?;
    let mut orig = quoted.to_vec();
    let mut rest = info;
    if !extensions.is_empty() {
        let (unit, len_byte) = match (v6, icmp_type) {
            (false, icmp4::ICMP_UNREACH | icmp4::ICMP_TIMXCEED | icmp4::ICMP_PARAMPROB) => (4, 5),
            (true, icmp6::ICMP6_DST_UNREACH | icmp6::ICMP6_TIME_EXCEEDED) => (8, 4),
            _ => {
                return Err(BuildError::Unsupported(
                    "ICMP extensions on this message type",
                ))
            }
        };
        let padded = orig.len().max(ORIGINAL_DATAGRAM_MIN).div_ceil(unit) * unit;
        if padded / unit > 255 {
            return Err(BuildError::TooLong { len: padded });
        }
        orig.resize(padded, 0);
        let shift = 8 * (3 - len_byte % 4);
        rest = (rest & !(0xff << shift)) | (((padded / unit) as u32) << shift);
        orig.extend_from_slice(&icmpext::encode_extensions(extensions));
    }
    let proto = if v6 { IPPROTO_ICMPV6 } else { IPPROTO_ICMP };
    assemble(ip, proto, icmp4::HEADER_LEN + orig.len(), |m| {
        m[icmp4::HEADER_LEN..].copy_from_slice(&orig);
        let mut p = IcmpPacket::new_unchecked(&mut m[..]);
        p.set_msg_type(icmp_type);
        p.set_code(code);
        p.set_rest(rest);
        icmp_checksum(ip, m, v6)
    })
}

/// UDP datagram with its checksum computed (never sent as zero: a computed zero is 0xffff).
pub fn build_udp(
    ip: &IpParams,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Result<Vec<u8>, BuildError> {
    ip.is_ipv6()?;
    let len = udp::HEADER_LEN + payload.len();
    if len > usize::from(u16::MAX) {
        return Err(BuildError::TooLong { len });
    }
    assemble(ip, IPPROTO_UDP, len, |m| {
        let mut p = UdpPacket::new_unchecked(&mut m[..]);
        p.set_src_port(sport);
        p.set_dst_port(dport);
        p.set_len(len as u16);
        p.payload_mut().copy_from_slice(payload);
        let c = udp_checksum(ip, m);
        UdpPacket::new_unchecked(&mut m[..]).set_checksum(c);
        Ok(())
    })
}

/// TCP segment (urgent pointer zero, checksum computed).
pub fn build_tcp(ip: &IpParams, t: &TcpParams) -> Result<Vec<u8>, BuildError> {
    ip.is_ipv6()?;
    let hl = tcp::HEADER_LEN + if t.mss.is_some() { 4 } else { 0 };
    assemble(ip, IPPROTO_TCP, hl + t.payload.len(), |m| {
        let mut p = TcpPacket::new_unchecked(&mut m[..]);
        p.set_src_port(t.sport);
        p.set_dst_port(t.dport);
        p.set_seq(t.seq);
        p.set_ack(t.ack);
        p.set_header_len(hl);
        p.set_flags(t.flags);
        p.set_window(t.window);
        if let Some(mss) = t.mss {
            m[20] = tcp::OPT_MSS;
            m[21] = 4;
            m[22..24].copy_from_slice(&mss.to_be_bytes());
        }
        m[hl..].copy_from_slice(&t.payload);
        let c = !checksum::fold(transport_sum(ip, IPPROTO_TCP, m)?);
        TcpPacket::new_unchecked(&mut m[..]).set_checksum(c);
        Ok(())
    })
}

/// Rewrite two bytes of an ICMP/ICMPv6 packet's payload, at offset `at` within the payload
/// (after the 8-byte ICMP header), so that its checksum becomes `want`; the checksum field is
/// updated. Any offset works: RFC 1071 sums are byte-order independent, so an odd offset just
/// swaps the bytes. 0xffff is unreachable (a computed checksum is 0 instead).
pub fn fix_payload_for_icmp_checksum(
    pkt: &mut [u8],
    at: usize,
    want: u16,
) -> Result<(), BuildError> {
    let (v6, start, end) = locate(pkt, IPPROTO_ICMP, IPPROTO_ICMPV6)?;
    let off = start + icmp4::HEADER_LEN + at;
    let pseudo = if v6 {
        let len = (end - start) as u32;
        ip_pair(pkt)
            .map(|(s, d)| checksum::pseudo_header_sum(s, d, IPPROTO_ICMPV6, len))
            .unwrap_or(0)
    } else {
        0
    };
    solve(pkt, start, end, off, 2, pseudo, want)?;
    if checksum_at(pkt, start + 2) != want {
        return Err(BuildError::ChecksumFix("value unreachable"));
    }
    Ok(())
}

/// Rewrite two bytes of a UDP packet's payload, at offset `at` within the payload, so that its
/// checksum becomes `want` (as transmitted: a computed zero goes out as 0xffff); used by
/// udp-paris to keep the checksum constant while the payload varies. `want` 0 ("no checksum")
/// is an error.
pub fn fix_payload_for_udp_checksum(
    pkt: &mut [u8],
    at: usize,
    want: u16,
) -> Result<(), BuildError> {
    if want == 0 {
        return Err(BuildError::ChecksumFix("0 means no UDP checksum"));
    }
    let (_, start, end) = locate(pkt, IPPROTO_UDP, IPPROTO_UDP)?;
    let off = start + udp::HEADER_LEN + at;
    let len = (end - start) as u32;
    let (s, d) = ip_pair(pkt).ok_or(BuildError::ChecksumFix("not an IP packet"))?;
    let pseudo = checksum::pseudo_header_sum(s, d, IPPROTO_UDP, len);
    // A transmitted 0xffff is a computed 0.
    let target = if want == 0xffff { 0 } else { want };
    solve(pkt, start, end, off, 6, pseudo, target)?;
    if checksum_at(pkt, start + 6) == 0 {
        pkt[start + 6..start + 8].copy_from_slice(&[0xff, 0xff]);
    }
    if checksum_at(pkt, start + 6) != want {
        return Err(BuildError::ChecksumFix("value unreachable"));
    }
    Ok(())
}

/// Choose the two bytes at `off` so that the checksum over `pkt[start..end]` (plus `pseudo`),
/// stored at `start + cks`, comes out as `want`.
fn solve(
    pkt: &mut [u8],
    start: usize,
    end: usize,
    off: usize,
    cks: usize,
    pseudo: u64,
    want: u16,
) -> Result<(), BuildError> {
    if off + 2 > end {
        return Err(BuildError::ChecksumFix("bytes lie outside the payload"));
    }
    pkt[off..off + 2].fill(0);
    pkt[start + cks..start + cks + 2].fill(0);
    let s = checksum::fold(pseudo + checksum::sum(&pkt[start..end]));
    // Want s + x == !want (one's complement), so x = !want - s = !want + !s.
    let x = checksum::ones_add(!want, !s);
    let bytes = if (off - start) % 2 == 0 {
        x.to_be_bytes()
    } else {
        x.to_le_bytes()
    };
    pkt[off..off + 2].copy_from_slice(&bytes);
    let c = !checksum::fold(pseudo + checksum::sum(&pkt[start..end]));
    pkt[start + cks..start + cks + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

fn checksum_at(pkt: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([pkt[at], pkt[at + 1]])
}

fn ip_pair(pkt: &[u8]) -> Option<(IpAddr, IpAddr)> {
    match pkt.first()? >> 4 {
        4 => {
            let p = Ipv4Packet::new_checked(pkt).ok()?;
            Some((p.src().into(), p.dst().into()))
        }
        6 => {
            let p = Ipv6Packet::new_checked(pkt).ok()?;
            Some((p.src().into(), p.dst().into()))
        }
        _ => None,
    }
}

/// Find the transport message of a packet built here: (is IPv6, start, end).
fn locate(pkt: &[u8], proto4: u8, proto6: u8) -> Result<(bool, usize, usize), BuildError> {
    const WRONG: BuildError = BuildError::ChecksumFix("not a packet of the expected protocol");
    match pkt.first().map(|b| b >> 4) {
        Some(4) => {
            let p = Ipv4Packet::new_checked(pkt).map_err(|_| WRONG)?;
            p.check_total_len().map_err(|_| WRONG)?;
            if p.protocol() != proto4 || p.frag_offset() != 0 {
                return Err(WRONG);
            }
            Ok((false, p.header_len(), usize::from(p.total_len())))
        }
        Some(6) => {
            let p = Ipv6Packet::new_checked(pkt).map_err(|_| WRONG)?;
            p.check_payload_len().map_err(|_| WRONG)?;
            let w = ipv6::walk_ext(p.next_header(), p.payload(), ipv6::HEADER_LEN, true)
                .map_err(|_| WRONG)?;
            if w.proto != proto6 || w.frag.is_some_and(|f| f.offset != 0) {
                return Err(WRONG);
            }
            let end = ipv6::HEADER_LEN + p.payload().len();
            Ok((true, ipv6::HEADER_LEN + w.offset, end))
        }
        _ => Err(WRONG),
    }
}

fn transport_sum(ip: &IpParams, proto: u8, m: &[u8]) -> Result<u64, BuildError> {
    let len = u32::try_from(m.len()).map_err(|_| BuildError::TooLong { len: m.len() })?;
    Ok(checksum::pseudo_header_sum(ip.src, ip.dst, proto, len) + checksum::sum(m))
}

fn udp_checksum(ip: &IpParams, m: &[u8]) -> u16 {
    // Length was checked to fit 16 bits by the caller.
    let c = !checksum::fold(
        checksum::pseudo_header_sum(ip.src, ip.dst, IPPROTO_UDP, m.len() as u32) + checksum::sum(m),
    );
    if c == 0 {
        0xffff
    } else {
        c
    }
}

/// Fill in the checksum of a finished ICMP message (ICMPv6's covers the pseudo-header).
fn icmp_checksum(ip: &IpParams, m: &mut [u8], v6: bool) -> Result<(), BuildError> {
    if v6 {
        let c = !checksum::fold(transport_sum(ip, IPPROTO_ICMPV6, m)?);
        IcmpPacket::new_unchecked(&mut m[..]).set_checksum(c);
    } else {
        IcmpPacket::new_unchecked(&mut m[..]).fill_checksum_v4();
    }
    Ok(())
}

/// A packet of `tlen` transport bytes behind the IP header (and for IPv6 any fragment
/// header), in one allocation: `fill` writes the transport message (zeroed, the IP header
/// already in place) and its checksum.
fn assemble(
    ip: &IpParams,
    proto: u8,
    tlen: usize,
    fill: impl FnOnce(&mut [u8]) -> Result<(), BuildError>,
) -> Result<Vec<u8>, BuildError> {
    if ip.frag_offset > 0x1fff {
        return Err(BuildError::BadField {
            field: "frag_offset",
            value: u32::from(ip.frag_offset),
        });
    }
    match (ip.src, ip.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let opts = encode_options(&ip.options)?;
            let hl = ipv4::HEADER_LEN + opts.len();
            let total = hl + tlen;
            if total > usize::from(u16::MAX) {
                return Err(BuildError::TooLong { len: total });
            }
            let mut out = vec![0u8; total];
            out[ipv4::HEADER_LEN..hl].copy_from_slice(&opts);
            let mut p = Ipv4Packet::new_unchecked(&mut out[..hl]);
            p.set_version_and_header_len(hl);
            p.set_tos(ip.tos);
            p.set_total_len(total as u16);
            p.set_ident(ip.ip_id);
            p.set_frag(ip.df, ip.more_frags, ip.frag_offset);
            p.set_ttl(ip.ttl);
            p.set_protocol(proto);
            p.set_src(src);
            p.set_dst(dst);
            p.fill_checksum();
            fill(&mut out[hl..])?;
            Ok(out)
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            if !ip.options.is_empty() {
                return Err(BuildError::Unsupported("IPv4 options on IPv6"));
            }
            if ip.flow_label > 0x000f_ffff {
                return Err(BuildError::BadField {
                    field: "flow_label",
                    value: ip.flow_label,
                });
            }
            let frag = ip.frag_offset != 0 || ip.more_frags;
            let ext = if frag { ipv6::FRAG_HEADER_LEN } else { 0 };
            let plen = ext + tlen;
            if plen > usize::from(u16::MAX) {
                return Err(BuildError::TooLong {
                    len: plen + ipv6::HEADER_LEN,
                });
            }
            let hl = ipv6::HEADER_LEN + ext;
            let mut out = vec![0u8; hl + tlen];
            let mut p = Ipv6Packet::new_unchecked(&mut out[..]);
            p.set_version_tc_flow(ip.tos, ip.flow_label);
            p.set_payload_len(plen as u16);
            p.set_next_header(if frag { ipv6::NH_FRAGMENT } else { proto });
            p.set_hop_limit(ip.ttl);
            p.set_src(src);
            p.set_dst(dst);
            if frag {
                let f = &mut out[ipv6::HEADER_LEN..hl];
                f[0] = proto;
                let ofl = (ip.frag_offset << 3) | u16::from(ip.more_frags);
                f[2..4].copy_from_slice(&ofl.to_be_bytes());
                put32(f, 4, u32::from(ip.ip_id));
            }
            fill(&mut out[hl..])?;
            Ok(out)
        }
        _ => Err(BuildError::FamilyMismatch),
    }
}
