//! Neighbour discovery for a next hop the kernel has no link-layer address for: an ARP request
//! (IPv4) or a neighbour solicitation (IPv6), and the parsing of the answers. Packets are built
//! as the network-layer part only; the cooked datalink socket adds the Ethernet header.

use scamper_packet::checksum;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const BROADCAST: [u8; 6] = [0xff; 6];

const ICMP6_NEIGHBOR_SOLICIT: u8 = 135;
const ICMP6_NEIGHBOR_ADVERT: u8 = 136;

/// An ARP request: who has `target`? tell `sender_ip` at `sender_mac`.
pub fn arp_request(sender_mac: [u8; 6], sender_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut p = Vec::with_capacity(28);
    p.extend_from_slice(&1u16.to_be_bytes()); // Ethernet
    p.extend_from_slice(&ETH_P_IP.to_be_bytes());
    p.extend_from_slice(&[6, 4]);
    p.extend_from_slice(&1u16.to_be_bytes()); // request
    p.extend_from_slice(&sender_mac);
    p.extend_from_slice(&sender_ip.octets());
    p.extend_from_slice(&[0; 6]);
    p.extend_from_slice(&target.octets());
    p
}

/// The sender of an ARP reply: (its IPv4 address, its link-layer address).
pub fn parse_arp_reply(p: &[u8]) -> Option<(Ipv4Addr, [u8; 6])> {
    if p.len() < 28 || p[0..2] != [0, 1] || p[2..4] != ETH_P_IP.to_be_bytes() || p[4..6] != [6, 4] {
        return None;
    }
    if p[6..8] != [0, 2] {
        return None;
    }
    let mac = <[u8; 6]>::try_from(&p[8..14]).ok()?;
    let ip = Ipv4Addr::from(<[u8; 4]>::try_from(&p[14..18]).ok()?);
    Some((ip, mac))
}

/// The solicited-node multicast group of `target` and its Ethernet address.
pub fn solicited_node(target: Ipv6Addr) -> (Ipv6Addr, [u8; 6]) {
    let t = target.octets();
    let mut g = [0u8; 16];
    g[0] = 0xff;
    g[1] = 0x02;
    g[11] = 0x01;
    g[12] = 0xff;
    g[13..].copy_from_slice(&t[13..]);
    (Ipv6Addr::from(g), [0x33, 0x33, 0xff, t[13], t[14], t[15]])
}

/// A neighbour solicitation for `target` from `src` (an address of the outgoing interface),
/// carrying our link-layer address; returns the IPv6 packet and the Ethernet destination.
pub fn neighbour_solicitation(
    sender_mac: [u8; 6],
    src: Ipv6Addr,
    target: Ipv6Addr,
) -> (Vec<u8>, [u8; 6]) {
    let (group, mac) = solicited_node(target);
    let mut icmp = Vec::with_capacity(32);
    icmp.extend_from_slice(&[ICMP6_NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0]);
    icmp.extend_from_slice(&target.octets());
    icmp.extend_from_slice(&[1, 1]); // source link-layer address option, 8 bytes
    icmp.extend_from_slice(&sender_mac);
    let sum = checksum::pseudo_header_sum(
        IpAddr::V6(src),
        IpAddr::V6(group),
        scamper_packet::IPPROTO_ICMPV6,
        icmp.len() as u32,
    ) + checksum::sum(&icmp);
    let c = !checksum::fold(sum);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut p = Vec::with_capacity(40 + icmp.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    p.push(scamper_packet::IPPROTO_ICMPV6);
    p.push(255); // RFC 4861: neighbour discovery uses hop limit 255
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&group.octets());
    p.extend_from_slice(&icmp);
    (p, mac)
}

/// A neighbour advertisement in an IPv6 packet: (its target, the target link-layer address
/// option). Advertisements without the option do not tell us the address.
pub fn parse_neighbour_advert(p: &[u8]) -> Option<(Ipv6Addr, [u8; 6])> {
    if p.len() < 40 + 24 || p[0] >> 4 != 6 || p[6] != scamper_packet::IPPROTO_ICMPV6 {
        return None;
    }
    // RFC 4861 7.1.2: only advertisements that no router forwarded.
    if p[7] != 255 {
        return None;
    }
    let icmp = &p[40..];
    if icmp[0] != ICMP6_NEIGHBOR_ADVERT || icmp[1] != 0 {
        return None;
    }
    let target = Ipv6Addr::from(<[u8; 16]>::try_from(&icmp[8..24]).ok()?);
    let mut opts = &icmp[24..];
    while opts.len() >= 8 {
        let len = usize::from(opts[1]) * 8;
        if len == 0 || len > opts.len() {
            return None;
        }
        if opts[0] == 2 && len >= 8 {
            return Some((target, <[u8; 6]>::try_from(&opts[2..8]).ok()?));
        }
        opts = &opts[len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const PEER: [u8; 6] = [2, 0, 0, 0, 0, 2];

    #[test]
    fn arp_request_and_reply() {
        let me: Ipv4Addr = "192.0.2.1".parse().unwrap();
        let them: Ipv4Addr = "192.0.2.2".parse().unwrap();
        let req = arp_request(MAC, me, them);
        assert_eq!(req.len(), 28);
        assert_eq!(&req[6..8], &[0, 1]);
        // A request is not a reply.
        assert_eq!(parse_arp_reply(&req), None);
        // Build the reply as the neighbour would.
        let mut rep = req.clone();
        rep[7] = 2;
        rep[8..14].copy_from_slice(&PEER);
        rep[14..18].copy_from_slice(&them.octets());
        rep[18..24].copy_from_slice(&MAC);
        rep[24..28].copy_from_slice(&me.octets());
        assert_eq!(parse_arp_reply(&rep), Some((them, PEER)));
        for n in 0..28 {
            assert_eq!(parse_arp_reply(&rep[..n]), None);
        }
    }

    #[test]
    fn solicitation_goes_to_the_solicited_node_group() {
        let target: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let (p, mac) = neighbour_solicitation(MAC, src, target);
        assert_eq!(mac, [0x33, 0x33, 0xff, 0, 0, 2]);
        let rx = scamper_packet::parse_ip(&p).unwrap();
        assert_eq!(rx.dst, "ff02::1:ff00:2".parse::<IpAddr>().unwrap());
        assert_eq!(rx.ttl, 255);
        let icmp = rx.icmp().unwrap();
        assert_eq!(icmp.icmp_type, 135);
        // The checksum verifies over the pseudo header.
        let sum = checksum::pseudo_header_sum(
            rx.src,
            rx.dst,
            scamper_packet::IPPROTO_ICMPV6,
            (p.len() - 40) as u32,
        ) + checksum::sum(&p[40..]);
        assert_eq!(checksum::fold(sum), 0xffff);
    }

    #[test]
    fn parses_an_advertisement() {
        let target: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let mut p = vec![0x60, 0, 0, 0, 0, 32, 58, 255];
        p.extend_from_slice(&target.octets());
        p.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[136, 0, 0, 0, 0x60, 0, 0, 0]);
        p.extend_from_slice(&target.octets());
        p.extend_from_slice(&[2, 1]);
        p.extend_from_slice(&PEER);
        assert_eq!(parse_neighbour_advert(&p), Some((target, PEER)));
        // Forwarded (hop limit below 255): ignored.
        let mut fwd = p.clone();
        fwd[7] = 64;
        assert_eq!(parse_neighbour_advert(&fwd), None);
        // A zero-length option must not loop forever.
        let mut bad = p.clone();
        bad[40 + 25] = 0;
        assert_eq!(parse_neighbour_advert(&bad), None);
        for n in 0..p.len() {
            let _ = parse_neighbour_advert(&p[..n]);
        }
    }
}
