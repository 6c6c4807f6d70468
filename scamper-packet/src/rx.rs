//! Parsing received packets into owned values the measurement code can match on.
//!
//! Everything here treats its input as hostile: lengths are checked before use, quotations in
//! ICMP errors are parsed only as far as they go, and any problem with the outer packet is a
//! [`ParseError`]. A quotation that cannot be understood leaves `quote` as `None` rather than
//! failing the whole message, because the error itself (who sent it, what type) is still data.

use crate::icmp4::{self, IcmpPacket};
use crate::icmp6;
use crate::icmpext::{self, IcmpExtObject, ORIGINAL_DATAGRAM_MIN};
use crate::ipopt::{self, RxIpOption};
use crate::ipv4::Ipv4Packet;
use crate::ipv6::{self, Ipv6Packet};
use crate::tcp::TcpPacket;
use crate::udp::UdpPacket;
use crate::wire::{be16, be32, slice};
use crate::{ParseError, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use std::net::{IpAddr, Ipv6Addr};

/// At most this many UDP payload bytes are copied into [`RxUdp::payload`].
pub const RX_UDP_PAYLOAD_MAX: usize = 2048;

/// A received packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rx {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// TOS byte (IPv4) or traffic class (IPv6).
    pub tos: u8,
    /// IPv4 identification, or the IPv6 fragment header's identification (0 without one).
    pub ip_id: u32,
    /// IPv4 total length; IPv6 payload length + 40, so both mean the whole packet.
    pub ip_len: u16,
    pub df: bool,
    /// Fragment offset in 8-byte units, as on the wire.
    pub frag_offset: u16,
    pub more_frags: bool,
    /// IPv4 options as received (always empty for IPv6).
    pub options: Vec<RxIpOption>,
    pub transport: RxTransport,
    /// Index of the interface the packet arrived on, filled in by the receiver from the
    /// socket's ancillary data (0 when unknown: parsing bytes alone cannot tell).
    pub ifindex: u32,
}

impl Rx {
    pub fn is_ipv6(&self) -> bool {
        self.src.is_ipv6()
    }
    pub fn icmp(&self) -> Option<&RxIcmp> {
        match &self.transport {
            RxTransport::Icmp(i) => Some(i),
            _ => None,
        }
    }
    pub fn tcp(&self) -> Option<&RxTcp> {
        match &self.transport {
            RxTransport::Tcp(t) => Some(t),
            _ => None,
        }
    }
    pub fn udp(&self) -> Option<&RxUdp> {
        match &self.transport {
            RxTransport::Udp(u) => Some(u),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RxTransport {
    Icmp(RxIcmp),
    Tcp(RxTcp),
    Udp(RxUdp),
    /// Another protocol, or a non-first fragment (which carries no transport header).
    Other {
        proto: u8,
    },
}

/// An ICMP or ICMPv6 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxIcmp {
    pub icmp_type: u8,
    pub code: u8,
    pub checksum: u16,
    pub kind: IcmpKind,
    /// Next-hop MTU of an IPv4 fragmentation-needed message, or an ICMPv6 packet-too-big MTU
    /// (saturated to 65535).
    pub next_hop_mtu: Option<u16>,
    /// The invoking packet quoted by an error message.
    pub quote: Option<Quote>,
    /// RFC 4884 extension objects.
    pub extensions: Vec<IcmpExtObject>,
    pub is_ipv6: bool,
}

impl RxIcmp {
    pub fn is_echo_reply(&self) -> bool {
        matches!(self.kind, IcmpKind::EchoReply { .. })
    }
    pub fn is_time_exceeded(&self) -> bool {
        matches!(self.kind, IcmpKind::TimeExceeded)
    }
    pub fn is_unreach(&self) -> bool {
        matches!(self.kind, IcmpKind::DestUnreach)
    }
    /// IPv6 packet too big, or IPv4 fragmentation needed and DF set.
    pub fn is_ptb(&self) -> bool {
        match self.kind {
            IcmpKind::PacketTooBig { .. } => true,
            IcmpKind::DestUnreach => !self.is_ipv6 && self.code == icmp4::ICMP_UNREACH_NEEDFRAG,
            _ => false,
        }
    }
    pub fn is_timestamp_reply(&self) -> bool {
        matches!(self.kind, IcmpKind::TimestampReply { .. })
    }
}

/// The message types measurements care about, with their type-specific fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    EchoReply {
        id: u16,
        seq: u16,
    },
    EchoRequest {
        id: u16,
        seq: u16,
    },
    TimestampReply {
        id: u16,
        seq: u16,
        originate: u32,
        receive: u32,
        transmit: u32,
    },
    TimeExceeded,
    DestUnreach,
    PacketTooBig {
        mtu: u32,
    },
    /// Pointer to the offending octet (8 bits in ICMPv4, 32 in ICMPv6).
    ParamProblem {
        pointer: u32,
    },
    Other,
}

/// The IP header (and as much of the transport header as is present) of the packet an ICMP
/// error quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub tos: u8,
    /// IPv4 identification, or an IPv6 fragment header's identification (0 without one).
    pub ip_id: u32,
    /// Length as the quoted header states it: IPv4 total length, IPv6 payload length + 40.
    pub ip_len: u16,
    /// IPv6 flow label (0 for IPv4).
    pub flow_label: u32,
    /// Upper-layer protocol of the quoted packet (after any IPv6 extension headers).
    pub proto: u8,
    /// Fragment offset of the quoted packet in 8-byte units: the IPv4 header's, or an IPv6
    /// fragment header's (0 without one). Non-zero means `transport` is
    /// [`QuotedTransport::Other`], as a non-first fragment carries no transport header.
    pub frag_offset: u16,
    pub transport: QuotedTransport,
}

impl Quote {
    pub fn is_ipv6(&self) -> bool {
        self.src.is_ipv6()
    }
}

/// The quoted transport header. Every variant needs its first 8 bytes, which RFC 792 always
/// quotes; with fewer, or another protocol, it is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotedTransport {
    Icmp {
        icmp_type: u8,
        code: u8,
        id: u16,
        seq: u16,
        checksum: u16,
    },
    Udp {
        sport: u16,
        dport: u16,
        checksum: u16,
        len: u16,
    },
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
    },
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxTcp {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub mss: Option<u16>,
    pub payload_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxUdp {
    pub sport: u16,
    pub dport: u16,
    /// The length field as received.
    pub len: u16,
    pub checksum: u16,
    /// Payload bounded by the length field, the packet and [`RX_UDP_PAYLOAD_MAX`].
    pub payload: Vec<u8>,
}

/// Parse an IPv4 or IPv6 packet by its version nibble.
pub fn parse_ip(bytes: &[u8]) -> Result<Rx, ParseError> {
    match bytes.first().map(|b| b >> 4) {
        Some(4) => parse_ipv4(bytes),
        Some(6) => parse_ipv6(bytes),
        Some(version) => Err(ParseError::BadVersion { offset: 0, version }),
        None => Err(ParseError::Truncated {
            what: "IP header",
            offset: 0,
            need: 1,
            have: 0,
        }),
    }
}

/// Parse a whole IPv4 packet. Bytes past the total length (link-layer padding) are ignored.
pub fn parse_ipv4(bytes: &[u8]) -> Result<Rx, ParseError> {
    let p = Ipv4Packet::new_checked(bytes)?;
    p.check_total_len()?;
    let hl = p.header_len();
    // Nearly every packet has no options: no call for them.
    let options = match p.options() {
        [] => Vec::new(),
        o => ipopt::parse_options(o, crate::ipv4::HEADER_LEN)?,
    };
    let transport = if p.frag_offset() != 0 {
        RxTransport::Other {
            proto: p.protocol(),
        }
    } else {
        parse_transport(p.protocol(), p.payload(), hl, false)?
    };
    Ok(Rx {
        src: p.src().into(),
        dst: p.dst().into(),
        ttl: p.ttl(),
        tos: p.tos(),
        ip_id: u32::from(p.ident()),
        ip_len: p.total_len(),
        df: p.df(),
        frag_offset: p.frag_offset(),
        more_frags: p.more_frags(),
        options,
        transport,
        ifindex: 0,
    })
}

/// Parse a whole IPv6 packet, walking extension headers (the fragment header's fields go into
/// `ip_id`, `frag_offset` and `more_frags`).
pub fn parse_ipv6(bytes: &[u8]) -> Result<Rx, ParseError> {
    let p = Ipv6Packet::new_checked(bytes)?;
    p.check_payload_len()?;
    let payload = p.payload();
    let w = ipv6::walk_ext(p.next_header(), payload, ipv6::HEADER_LEN, true)?;
    let frag = w.frag.unwrap_or(ipv6::FragInfo {
        ident: 0,
        offset: 0,
        more: false,
    });
    let transport = if frag.offset != 0 {
        RxTransport::Other { proto: w.proto }
    } else {
        parse_transport(
            w.proto,
            &payload[w.offset..],
            ipv6::HEADER_LEN + w.offset,
            true,
        )?
    };
    Ok(Rx {
        src: p.src().into(),
        dst: p.dst().into(),
        ttl: p.hop_limit(),
        tos: p.traffic_class(),
        ip_id: frag.ident,
        ip_len: (payload.len() + ipv6::HEADER_LEN).min(usize::from(u16::MAX)) as u16,
        df: false,
        frag_offset: frag.offset,
        more_frags: frag.more,
        options: Vec::new(),
        transport,
        ifindex: 0,
    })
}

/// Parse an ICMPv6 message as delivered by a raw ICMPv6 socket (no IPv6 header); the addresses,
/// hop limit and traffic class come from the socket's ancillary data.
pub fn parse_icmp6_socket(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    tclass: u8,
    bytes: &[u8],
) -> Result<Rx, ParseError> {
    let icmp = parse_icmp(bytes, 0, true)?;
    Ok(Rx {
        src: src.into(),
        dst: dst.into(),
        ttl: hop_limit,
        tos: tclass,
        ip_id: 0,
        ip_len: (bytes.len() + ipv6::HEADER_LEN).min(usize::from(u16::MAX)) as u16,
        df: false,
        frag_offset: 0,
        more_frags: false,
        options: Vec::new(),
        transport: RxTransport::Icmp(icmp),
        ifindex: 0,
    })
}

fn parse_transport(proto: u8, t: &[u8], base: usize, v6: bool) -> Result<RxTransport, ParseError> {
    Ok(match proto {
        IPPROTO_ICMP if !v6 => RxTransport::Icmp(parse_icmp(t, base, false)?),
        IPPROTO_ICMPV6 if v6 => RxTransport::Icmp(parse_icmp(t, base, true)?),
        IPPROTO_TCP => RxTransport::Tcp(parse_tcp(t).map_err(|e| e.shift(base))?),
        IPPROTO_UDP => RxTransport::Udp(parse_udp(t).map_err(|e| e.shift(base))?),
        proto => RxTransport::Other { proto },
    })
}

fn parse_tcp(t: &[u8]) -> Result<RxTcp, ParseError> {
    let p = TcpPacket::new_checked(t)?;
    p.check_header_len()?;
    Ok(RxTcp {
        sport: p.src_port(),
        dport: p.dst_port(),
        seq: p.seq(),
        ack: p.ack(),
        flags: p.flags(),
        window: p.window(),
        mss: p.mss(),
        payload_len: p.payload().len(),
    })
}

fn parse_udp(t: &[u8]) -> Result<RxUdp, ParseError> {
    let p = UdpPacket::new_checked(t)?;
    let pl = p.payload();
    Ok(RxUdp {
        sport: p.src_port(),
        dport: p.dst_port(),
        len: p.len(),
        checksum: p.checksum(),
        payload: pl[..pl.len().min(RX_UDP_PAYLOAD_MAX)].to_vec(),
    })
}

/// Parse an ICMP (`v6` false) or ICMPv6 message; `base` is its offset in the caller's buffer.
fn parse_icmp(b: &[u8], base: usize, v6: bool) -> Result<RxIcmp, ParseError> {
    let p = IcmpPacket::new_checked(b).map_err(|e| e.shift(base))?;
    let (t, code, rest) = (p.msg_type(), p.code(), p.rest());
    let payload = p.payload();
    let mut next_hop_mtu = None;
    // `rfc4884`: where the length of the original datagram lives and its unit, for the types
    // that may carry extensions.
    let (kind, quotes, rfc4884) = if v6 {
        match t {
            icmp6::ICMP6_ECHO_REPLY => (echo(&p, true), false, None),
            icmp6::ICMP6_ECHO_REQUEST => (echo(&p, false), false, None),
            icmp6::ICMP6_DST_UNREACH => (IcmpKind::DestUnreach, true, Some((4, 8))),
            icmp6::ICMP6_TIME_EXCEEDED => (IcmpKind::TimeExceeded, true, Some((4, 8))),
            icmp6::ICMP6_PACKET_TOO_BIG => {
                next_hop_mtu = Some(rest.min(u32::from(u16::MAX)) as u16);
                (IcmpKind::PacketTooBig { mtu: rest }, true, None)
            }
            icmp6::ICMP6_PARAM_PROB => (IcmpKind::ParamProblem { pointer: rest }, true, None),
            _ => (IcmpKind::Other, false, None),
        }
    } else {
        match t {
            icmp4::ICMP_ECHOREPLY => (echo(&p, true), false, None),
            icmp4::ICMP_ECHO => (echo(&p, false), false, None),
            icmp4::ICMP_TSTAMPREPLY => {
                let ts = slice(b, 8, 12, "ICMP timestamp").map_err(|e| e.shift(base))?;
                let kind = IcmpKind::TimestampReply {
                    id: p.echo_id(),
                    seq: p.echo_seq(),
                    originate: be32(ts, 0),
                    receive: be32(ts, 4),
                    transmit: be32(ts, 8),
                };
                (kind, false, None)
            }
            icmp4::ICMP_UNREACH => {
                if code == icmp4::ICMP_UNREACH_NEEDFRAG {
                    next_hop_mtu = Some((rest & 0xffff) as u16);
                }
                (IcmpKind::DestUnreach, true, Some((5, 4)))
            }
            icmp4::ICMP_TIMXCEED => (IcmpKind::TimeExceeded, true, Some((5, 4))),
            icmp4::ICMP_PARAMPROB => (
                IcmpKind::ParamProblem {
                    pointer: rest >> 24,
                },
                true,
                Some((5, 4)),
            ),
            icmp4::ICMP_SOURCEQUENCH | icmp4::ICMP_REDIRECT => (IcmpKind::Other, true, None),
            _ => (IcmpKind::Other, false, None),
        }
    };
    let (quote, extensions) = if quotes {
        let (orig, ext) = match rfc4884 {
            Some((at, unit)) => split_rfc4884(payload, usize::from(b[at]) * unit),
            None => (payload, Vec::new()),
        };
        (parse_quote(orig, v6), ext)
    } else {
        (None, Vec::new())
    };
    Ok(RxIcmp {
        icmp_type: t,
        code,
        checksum: p.checksum(),
        kind,
        next_hop_mtu,
        quote,
        extensions,
        is_ipv6: v6,
    })
}

fn echo(p: &IcmpPacket<&[u8]>, reply: bool) -> IcmpKind {
    let (id, seq) = (p.echo_id(), p.echo_seq());
    if reply {
        IcmpKind::EchoReply { id, seq }
    } else {
        IcmpKind::EchoRequest { id, seq }
    }
}

/// Split an error message's payload into the original datagram and RFC 4884 extensions.
/// `len` is the original datagram length from the header (0 if absent). With a zero length,
/// a structure that verifies at byte 128 is accepted too (RFC 4884 §5.5: routers that predate
/// the length field put extensions there); it must carry a real checksum because otherwise
/// quoted bytes could pass for one.
fn split_rfc4884(payload: &[u8], len: usize) -> (&[u8], Vec<IcmpExtObject>) {
    if len > 0 {
        if len >= payload.len() {
            return (payload, Vec::new());
        }
        let ext = icmpext::parse_extensions(&payload[len..]).unwrap_or_default();
        return (&payload[..len], ext);
    }
    if payload.len() > ORIGINAL_DATAGRAM_MIN + icmpext::EXT_HEADER_LEN {
        let e = &payload[ORIGINAL_DATAGRAM_MIN..];
        if be16(e, 2) != 0 {
            if let Some(ext) = icmpext::parse_extensions(e) {
                return (&payload[..ORIGINAL_DATAGRAM_MIN], ext);
            }
        }
    }
    (payload, Vec::new())
}

/// Parse a quoted packet of the same family as the error. The transport header is taken from
/// all bytes after the IP header, ignoring the quoted total length, which some routers rewrite.
fn parse_quote(q: &[u8], v6: bool) -> Option<Quote> {
    if v6 {
        let p = Ipv6Packet::new_checked(q).ok()?;
        let rest = &q[ipv6::HEADER_LEN..];
        let w = ipv6::walk_ext(p.next_header(), rest, ipv6::HEADER_LEN, false).ok()?;
        let frag = w.frag.map(|f| (f.ident, f.offset)).unwrap_or((0, 0));
        let transport = if frag.1 != 0 {
            QuotedTransport::Other
        } else {
            quoted_transport(w.proto, &rest[w.offset.min(rest.len())..], true)
        };
        Some(Quote {
            src: p.src().into(),
            dst: p.dst().into(),
            ttl: p.hop_limit(),
            tos: p.traffic_class(),
            ip_id: frag.0,
            ip_len: p.payload_len().saturating_add(ipv6::HEADER_LEN as u16),
            flow_label: p.flow_label(),
            proto: w.proto,
            frag_offset: frag.1,
            transport,
        })
    } else {
        let p = Ipv4Packet::new_checked(q).ok()?;
        let transport = if p.frag_offset() != 0 {
            QuotedTransport::Other
        } else {
            quoted_transport(p.protocol(), &q[p.header_len()..], false)
        };
        Some(Quote {
            src: p.src().into(),
            dst: p.dst().into(),
            ttl: p.ttl(),
            tos: p.tos(),
            ip_id: u32::from(p.ident()),
            ip_len: p.total_len(),
            flow_label: 0,
            proto: p.protocol(),
            frag_offset: p.frag_offset(),
            transport,
        })
    }
}

fn quoted_transport(proto: u8, t: &[u8], v6: bool) -> QuotedTransport {
    if t.len() < 8 {
        return QuotedTransport::Other;
    }
    match proto {
        IPPROTO_ICMP if !v6 => quoted_icmp(t),
        IPPROTO_ICMPV6 if v6 => quoted_icmp(t),
        IPPROTO_UDP => QuotedTransport::Udp {
            sport: be16(t, 0),
            dport: be16(t, 2),
            len: be16(t, 4),
            checksum: be16(t, 6),
        },
        IPPROTO_TCP => QuotedTransport::Tcp {
            sport: be16(t, 0),
            dport: be16(t, 2),
            seq: be32(t, 4),
        },
        _ => QuotedTransport::Other,
    }
}

fn quoted_icmp(t: &[u8]) -> QuotedTransport {
    QuotedTransport::Icmp {
        icmp_type: t[0],
        code: t[1],
        checksum: be16(t, 2),
        id: be16(t, 4),
        seq: be16(t, 6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_icmp_error, build_udp, IpParams};

    fn quote_of(probe: &[u8], router: IpAddr, v6: bool) -> Quote {
        let mut ip = IpParams::new(router, "192.0.2.10".parse().unwrap());
        if v6 {
            ip.dst = "2001:db8::10".parse().unwrap();
        }
        let (t, code) = if v6 {
            (icmp6::ICMP6_TIME_EXCEEDED, 0)
        } else {
            (icmp4::ICMP_TIMXCEED, 0)
        };
        // Quote the IP header and 8 bytes after it (plus the fragment header for IPv6).
        let n = if v6 { 40 + 8 + 8 } else { 20 + 8 };
        let pkt = build_icmp_error(&ip, t, code, 0, &probe[..n], &[]).unwrap();
        let rx = parse_ip(&pkt).unwrap();
        rx.icmp().unwrap().quote.unwrap()
    }

    #[test]
    fn quoted_non_first_fragment_reports_offset_and_id() {
        for (src, dst, router, v6) in [
            ("192.0.2.10", "198.51.100.1", "192.0.2.1", false),
            ("2001:db8::10", "2001:db8:1::1", "2001:db8::1", true),
        ] {
            let mut ip = IpParams::new(src.parse().unwrap(), dst.parse().unwrap());
            ip.ip_id = 0xbeef;
            ip.frag_offset = 8;
            let probe = build_udp(&ip, 1234, 33435, &[0; 16]).unwrap();
            let q = quote_of(&probe, router.parse().unwrap(), v6);
            assert_eq!(q.frag_offset, 8, "{dst}");
            assert_eq!(q.ip_id, 0xbeef, "{dst}");
            assert_eq!(q.proto, crate::IPPROTO_UDP, "{dst}");
            assert_eq!(q.dst, dst.parse::<IpAddr>().unwrap());
            // The bytes after the header are data, not a UDP header.
            assert_eq!(q.transport, QuotedTransport::Other, "{dst}");
        }
    }

    #[test]
    fn quoted_first_fragment_or_whole_packet_has_offset_zero() {
        for (src, dst, router, v6, more) in [
            ("192.0.2.10", "198.51.100.1", "192.0.2.1", false, false),
            ("192.0.2.10", "198.51.100.1", "192.0.2.1", false, true),
            ("2001:db8::10", "2001:db8:1::1", "2001:db8::1", true, true),
        ] {
            let mut ip = IpParams::new(src.parse().unwrap(), dst.parse().unwrap());
            ip.ip_id = 77;
            ip.more_frags = more;
            let probe = build_udp(&ip, 1234, 33435, &[0; 16]).unwrap();
            let q = quote_of(&probe, router.parse().unwrap(), v6);
            assert_eq!(q.frag_offset, 0, "{dst} mf={more}");
            assert!(
                matches!(
                    q.transport,
                    QuotedTransport::Udp {
                        sport: 1234,
                        dport: 33435,
                        ..
                    }
                ),
                "{dst} mf={more}: {:?}",
                q.transport
            );
        }
    }
}
