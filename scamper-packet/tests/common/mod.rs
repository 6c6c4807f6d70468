//! Helpers shared by the integration tests. Kept deliberately independent of the crate's own
//! checksum code so that checksums are verified against a second implementation.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Reference Internet checksum: add 16-bit words into a u32, folding as we go.
pub fn ref_sum(data: &[u8]) -> u32 {
    let mut s: u32 = 0;
    let mut i = 0;
    while i < data.len() {
        let hi = u32::from(data[i]) << 8;
        let lo = if i + 1 < data.len() {
            u32::from(data[i + 1])
        } else {
            0
        };
        s += hi | lo;
        if s > 0xffff {
            s = (s & 0xffff) + 1;
        }
        i += 2;
    }
    s
}

/// True if `data` plus an optional pseudo-header checks out.
pub fn ref_verify(pseudo: &[u8], data: &[u8]) -> bool {
    let mut s = ref_sum(pseudo) + ref_sum(data);
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s == 0xffff
}

/// RFC 768/793 pseudo-header for IPv4, or RFC 8200 §8.1 for IPv6.
pub fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.push(0);
            p.push(proto);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
        }
        _ => panic!("mixed families"),
    }
    p
}

pub fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

pub fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}
