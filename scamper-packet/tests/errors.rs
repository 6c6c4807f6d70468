//! Malformed packets are typed errors naming what was wrong and where.

mod common;

use common::{v4, v6};
use scamper_packet::*;

#[test]
fn empty_and_bad_version() {
    assert!(matches!(
        parse_ip(&[]),
        Err(ParseError::Truncated { offset: 0, .. })
    ));
    assert_eq!(
        parse_ip(&[0x50; 40]),
        Err(ParseError::BadVersion {
            offset: 0,
            version: 5
        })
    );
    // The family-specific parsers insist on their own version.
    let p6 = build_udp(&IpParams::new(v6("::1"), v6("::2")), 1, 2, &[]).unwrap();
    assert!(matches!(
        parse_ipv4(&p6),
        Err(ParseError::BadVersion { version: 6, .. })
    ));
    let p4 = build_udp(
        &IpParams::new(v4([1, 1, 1, 1]), v4([2, 2, 2, 2])),
        1,
        2,
        &[],
    )
    .unwrap();
    assert!(matches!(
        parse_ipv6(&p4),
        Err(ParseError::BadVersion { version: 4, .. })
    ));
}

#[test]
fn ipv4_length_errors() {
    let ip = IpParams::new(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    let pkt = build_icmp_echo(&ip, 1, 1, &[0; 8]).unwrap();
    // Cut short: total length says more than was read.
    let e = parse_ipv4(&pkt[..30]).unwrap_err();
    assert!(
        matches!(
            e,
            ParseError::BadTotalLen {
                offset: 2,
                len: 36,
                have: 30,
                ..
            }
        ),
        "{e}"
    );
    // Link-layer padding after the packet is ignored.
    let mut padded = pkt.clone();
    padded.extend_from_slice(&[0xee; 10]);
    assert_eq!(parse_ipv4(&padded).unwrap(), parse_ipv4(&pkt).unwrap());
    // Total length smaller than the ICMP header: truncated ICMP at offset 20.
    let mut short = pkt.clone();
    short[3] = 24;
    let e = parse_ipv4(&short).unwrap_err();
    assert_eq!(
        e,
        ParseError::Truncated {
            what: "ICMP header",
            offset: 20,
            need: 8,
            have: 4
        }
    );
    assert_eq!(
        e.to_string(),
        "truncated ICMP header at offset 20: need 8 bytes, have 4"
    );
}

#[test]
fn bad_ipv4_option_is_reported_with_offset() {
    let mut ip = IpParams::new(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    ip.options = vec![IpOption::RecordRoute { slots: 1 }];
    let mut pkt = build_icmp_echo(&ip, 1, 1, &[]).unwrap();
    pkt[21] = 200;
    assert!(matches!(
        parse_ipv4(&pkt),
        Err(ParseError::BadOption {
            offset: 20,
            kind: 7,
            ..
        })
    ));
}

#[test]
fn tcp_and_udp_errors_carry_packet_offsets() {
    let ip = IpParams::new(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    let mut pkt = build_tcp(&ip, &TcpParams::default()).unwrap();
    pkt[32] = 0x30;
    assert!(matches!(
        parse_ip(&pkt),
        Err(ParseError::BadHeaderLen {
            what: "TCP",
            offset: 32,
            len: 12
        })
    ));
    pkt[32] = 0xf0;
    assert!(matches!(
        parse_ip(&pkt),
        Err(ParseError::Truncated {
            what: "TCP options",
            offset: 40,
            ..
        })
    ));
    let udp = build_udp(&ip, 1, 2, &[]).unwrap();
    let mut cut = udp[..24].to_vec();
    cut[3] = 24;
    assert!(matches!(
        parse_ip(&cut),
        Err(ParseError::Truncated {
            what: "UDP header",
            offset: 20,
            ..
        })
    ));
}

#[test]
fn ipv6_errors() {
    let ip = IpParams::new(v6("2001:db8::1"), v6("2001:db8::2"));
    let pkt = build_udp(&ip, 1, 2, &[0; 4]).unwrap();
    assert!(matches!(
        parse_ipv6(&pkt[..30]),
        Err(ParseError::Truncated {
            what: "IPv6 header",
            ..
        })
    ));
    assert!(matches!(
        parse_ipv6(&pkt[..50]),
        Err(ParseError::BadTotalLen {
            offset: 4,
            len: 12,
            have: 10,
            ..
        })
    ));
    // A hop-by-hop header announcing more bytes than the packet has.
    let mut hbh = pkt.clone();
    hbh[6] = 0;
    hbh[41] = 5;
    assert!(matches!(
        parse_ipv6(&hbh),
        Err(ParseError::Truncated {
            what: "IPv6 extension header",
            offset: 40,
            ..
        })
    ));
    // A chain of extension headers that never ends is cut off.
    let mut chain = pkt[..40].to_vec();
    chain[6] = 60;
    for _ in 0..20 {
        chain.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
    }
    let pl = (chain.len() - 40) as u16;
    chain[4..6].copy_from_slice(&pl.to_be_bytes());
    assert!(matches!(
        parse_ipv6(&chain),
        Err(ParseError::BadOption {
            reason: "too many extension headers",
            ..
        })
    ));
    // ICMPv6 socket data shorter than a header.
    assert!(matches!(
        parse_icmp6_socket(
            "::1".parse().unwrap(),
            "::1".parse().unwrap(),
            1,
            0,
            &[129, 0, 0]
        ),
        Err(ParseError::Truncated {
            what: "ICMP header",
            offset: 0,
            ..
        })
    ));
}

#[test]
fn other_protocols_and_no_next_header() {
    let ip = IpParams::new(v6("2001:db8::1"), v6("2001:db8::2"));
    let mut pkt = build_udp(&ip, 1, 2, &[]).unwrap();
    pkt[6] = 59;
    assert_eq!(
        parse_ipv6(&pkt).unwrap().transport,
        RxTransport::Other { proto: 59 }
    );
    let ip = IpParams::new(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    let mut pkt = build_udp(&ip, 1, 2, &[]).unwrap();
    pkt[9] = 47;
    pkt[10..12].fill(0);
    assert_eq!(
        parse_ipv4(&pkt).unwrap().transport,
        RxTransport::Other { proto: 47 }
    );
    // ICMPv6's protocol number inside IPv4 is not parsed as ICMP.
    pkt[9] = 58;
    assert_eq!(
        parse_ipv4(&pkt).unwrap().transport,
        RxTransport::Other { proto: 58 }
    );
}

#[test]
fn build_errors_display() {
    assert_eq!(
        BuildError::FamilyMismatch.to_string(),
        "source and destination address families differ"
    );
    let mut ip = IpParams::new(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    ip.frag_offset = 0x2000;
    assert!(matches!(
        build_udp(&ip, 1, 2, &[]),
        Err(BuildError::BadField {
            field: "frag_offset",
            value: 0x2000
        })
    ));
}
