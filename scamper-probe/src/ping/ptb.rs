//! The packet-too-big message of ping `-M` (pseudo MTU): when a reply is larger than the
//! pseudo MTU, the target is told, as a router on a smaller link would tell it, that the reply
//! did not fit, so that it sends later replies in fragments of at most that size.

use std::net::IpAddr;

use scamper_packet::{build_icmp_error, BuildError, IpParams, Rx};

/// ICMPv4 destination unreachable, code fragmentation needed (RFC 1191 next-hop MTU).
const ICMP_UNREACH: u8 = 3;
const ICMP_UNREACH_NEEDFRAG: u8 = 4;
/// ICMPv6 packet too big.
const ICMP6_PACKET_TOO_BIG: u8 = 2;
/// An IPv4 ICMP error should fit in the 576 bytes every host accepts (RFC 1812); an ICMPv6
/// error in the IPv6 minimum MTU (RFC 4443).
const V4_ERROR_MAX: usize = 576;
const V6_ERROR_MAX: usize = 1280;
const V4_ERROR_HEADERS: usize = 20 + 8;
const V6_ERROR_HEADERS: usize = 40 + 8;
const IPV6_HEADER_LEN: usize = 40;

/// The IP packet of a reply as the target sent it. ICMPv6 arrives on a raw ICMPv6 socket
/// without its IPv6 header, so the header is rebuilt from what the socket reported. An IPv6
/// packet starts with version nibble 6, which no ICMPv6 type (1..4, 128..) can.
fn reply_packet(reply: &Rx, raw: &[u8]) -> Vec<u8> {
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (reply.src, reply.dst) else {
        return raw.to_vec();
    };
    if raw.first().is_some_and(|b| b >> 4 == 6) && raw.len() >= IPV6_HEADER_LEN {
        return raw.to_vec();
    }
    let mut p = Vec::with_capacity(IPV6_HEADER_LEN + raw.len());
    p.push(0x60 | (reply.tos >> 4));
    p.push(reply.tos << 4);
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&(raw.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    p.push(scamper_packet::IPPROTO_ICMPV6);
    p.push(reply.ttl);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(raw);
    p
}

/// A packet-too-big from `src` to the target that sent `reply` (`raw`: its bytes as
/// received), with next-hop MTU `mtu`, quoting as much of the reply as the error may carry.
pub fn packet_too_big(
    src: IpAddr,
    reply: &Rx,
    raw: &[u8],
    mtu: u16,
) -> Result<Vec<u8>, BuildError> {
    let quoted = reply_packet(reply, raw);
    let v6 = reply.src.is_ipv6();
    let (max, headers, t, code) = if v6 {
        (V6_ERROR_MAX, V6_ERROR_HEADERS, ICMP6_PACKET_TOO_BIG, 0)
    } else {
        (
            V4_ERROR_MAX,
            V4_ERROR_HEADERS,
            ICMP_UNREACH,
            ICMP_UNREACH_NEEDFRAG,
        )
    };
    // The error itself must fit the MTU it announces.
    let room = max.min(usize::from(mtu)).saturating_sub(headers);
    let quote = &quoted[..quoted.len().min(room)];
    let ip = IpParams::new(src, reply.src);
    // IPv4 puts the next-hop MTU in the low 16 bits of the word after the checksum, IPv6
    // uses the whole word.
    build_icmp_error(&ip, t, code, u32::from(mtu), quote, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use scamper_packet::{
        build_icmp_echo, parse_icmp6_socket, parse_ip, QuotedTransport, RxTransport,
    };
    use std::net::Ipv6Addr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_frag_needed_quotes_the_reply() {
        let target = ip("192.0.2.1");
        let us = ip("192.0.2.10");
        let reply = build_icmp_echo(&IpParams::new(target, us), 7, 3, &[0u8; 1400]).unwrap();
        let rx = parse_ip(&reply).unwrap();
        let ptb = packet_too_big(us, &rx, &reply, 1280).unwrap();
        assert!(ptb.len() <= V4_ERROR_MAX);
        let p = parse_ip(&ptb).unwrap();
        assert_eq!((p.src, p.dst), (us, target));
        let RxTransport::Icmp(i) = &p.transport else {
            panic!("not ICMP")
        };
        assert_eq!((i.icmp_type, i.code, i.next_hop_mtu), (3, 4, Some(1280)));
        let q = i.quote.as_ref().unwrap();
        assert_eq!((q.src, q.dst, q.ip_len), (target, us, 1428));
        assert!(matches!(q.transport, QuotedTransport::Icmp { id: 7, .. }));
        // the quotation is the reply's first bytes
        assert_eq!(&ptb[28..], &reply[..ptb.len() - 28]);
    }

    #[test]
    fn ipv6_packet_too_big_rebuilds_the_header_of_a_socket_reply() {
        let target: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let us: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let full =
            build_icmp_echo(&IpParams::new(target.into(), us.into()), 7, 3, &[0u8; 1400]).unwrap();
        // what the raw ICMPv6 socket gives: the ICMPv6 message alone
        let icmp = &full[40..];
        let rx = parse_icmp6_socket(target, us, 61, 0, icmp).unwrap();
        let ptb = packet_too_big(us.into(), &rx, icmp, 1280).unwrap();
        assert_eq!(ptb.len(), 1280);
        let p = parse_ip(&ptb).unwrap();
        let RxTransport::Icmp(i) = &p.transport else {
            panic!("not ICMP")
        };
        assert_eq!((i.icmp_type, i.next_hop_mtu), (2, Some(1280)));
        let q = i.quote.as_ref().unwrap();
        assert_eq!((q.src, q.dst), (IpAddr::from(target), IpAddr::from(us)));
        assert_eq!(usize::from(q.ip_len), full.len());
        // the rebuilt header carries the hop limit the socket reported, the rest is the reply
        assert_eq!(ptb[48 + 7], 61);
        assert_eq!(&ptb[48 + 40..], &icmp[..1280 - 88]);
        // a reply that comes with its IPv6 header (datalink) is quoted as it is
        let ptb = packet_too_big(us.into(), &rx, &full, 1280).unwrap();
        assert_eq!(&ptb[48..], &full[..1280 - 48]);
    }
}
