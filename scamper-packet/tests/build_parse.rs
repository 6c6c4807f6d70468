//! Builders checked byte-for-byte against hand-worked packets, and build -> parse round trips
//! for every builder on both families.

mod common;

use common::{pseudo, ref_verify, v4, v6};
use scamper_packet::tcp::{TH_ACK, TH_ECE, TH_SYN};
use scamper_packet::*;

#[test]
fn icmp4_echo_exact_bytes() {
    let ip = IpParams::new(v4([192, 0, 2, 1]), v4([198, 51, 100, 2]));
    let pkt = build_icmp_echo(&ip, 0x1234, 1, &[]).unwrap();
    // IPv4 header sum worked by hand: 0x4500+0x001c+0x4001+0xc000+0x0201+0xc633+0x6402 =
    // 0x27153 -> 0x7155 -> checksum 0x8eaa. ICMP: 0x0800+0x1234+0x0001 -> 0xe5ca.
    let want = [
        0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0x8e, 0xaa, 0xc0, 0x00, 0x02,
        0x01, 0xc6, 0x33, 0x64, 0x02, 0x08, 0x00, 0xe5, 0xca, 0x12, 0x34, 0x00, 0x01,
    ];
    assert_eq!(pkt, want);
}

#[test]
fn icmp6_echo_checksum_by_hand() {
    let ip = IpParams::new(v6("::1"), v6("::1"));
    let pkt = build_icmp_echo(&ip, 0x1234, 1, &[]).unwrap();
    assert_eq!(pkt.len(), 48);
    assert_eq!(&pkt[..8], &[0x60, 0, 0, 0, 0, 8, 58, 64]);
    // Pseudo-header 1 + 1 + 8 + 58, message 0x8000 + 0x1234 + 0x0001: sum 0x9279.
    assert_eq!(&pkt[40..], &[0x80, 0, 0x6d, 0x86, 0x12, 0x34, 0, 1]);
}

#[test]
fn udp4_checksum_by_hand() {
    let ip = IpParams::new(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    let pkt = build_udp(&ip, 0x8000, 33435, &[]).unwrap();
    // Pseudo 0x141c + header 0x8000 + 0x829b + 0x0008 = 0x116bf -> 0x16c0 -> 0xe93f.
    assert_eq!(
        &pkt[20..],
        &[0x80, 0x00, 0x82, 0x9b, 0x00, 0x08, 0xe9, 0x3f]
    );
}

#[test]
fn icmp4_echo_round_trip_with_all_fields() {
    let mut ip = IpParams::new(v4([192, 0, 2, 1]), v4([198, 51, 100, 2]));
    ip.ttl = 7;
    ip.tos = 0xb8;
    ip.ip_id = 0xbeef;
    ip.df = true;
    let payload: Vec<u8> = (0..56).collect();
    let pkt = build_icmp_echo(&ip, 0x8123, 42, &payload).unwrap();
    assert!(ref_verify(&[], &pkt[..20]));
    assert!(ref_verify(&[], &pkt[20..]));
    let rx = parse_ip(&pkt).unwrap();
    assert_eq!(rx.src, ip.src);
    assert_eq!(rx.dst, ip.dst);
    assert_eq!((rx.ttl, rx.tos, rx.ip_id, rx.df), (7, 0xb8, 0xbeef, true));
    assert_eq!(usize::from(rx.ip_len), pkt.len());
    let icmp = rx.icmp().unwrap();
    assert_eq!(
        icmp.kind,
        IcmpKind::EchoRequest {
            id: 0x8123,
            seq: 42
        }
    );
    assert!(!icmp.is_echo_reply() && !icmp.is_ipv6);
    assert!(icmp.quote.is_none());
}

#[test]
fn icmp6_echo_round_trip() {
    let mut ip = IpParams::new(v6("2001:db8::1"), v6("2001:db8::2"));
    ip.ttl = 3;
    ip.tos = 0x20;
    ip.flow_label = 0xabcde;
    let pkt = build_icmp_echo(&ip, 7, 9, b"hello").unwrap();
    let (s, d) = (ip.src, ip.dst);
    assert!(ref_verify(&pseudo(s, d, 58, pkt.len() - 40), &pkt[40..]));
    let rx = parse_ipv6(&pkt).unwrap();
    assert_eq!((rx.ttl, rx.tos, rx.ip_id), (3, 0x20, 0));
    assert_eq!(usize::from(rx.ip_len), pkt.len());
    let icmp = rx.icmp().unwrap();
    assert!(icmp.is_ipv6);
    assert_eq!(icmp.kind, IcmpKind::EchoRequest { id: 7, seq: 9 });
}

#[test]
fn icmp_timestamp_v4_and_v6_error() {
    let ip = IpParams::new(v4([10, 1, 1, 1]), v4([10, 2, 2, 2]));
    let pkt = build_icmp_timestamp(&ip, 5, 6, 0x0102_0304).unwrap();
    assert_eq!(pkt.len(), 40);
    assert!(ref_verify(&[], &pkt[20..]));
    assert_eq!(&pkt[20..22], &[13, 0]);
    assert_eq!(&pkt[28..32], &[1, 2, 3, 4]);
    let rx = parse_ipv4(&pkt).unwrap();
    let icmp = rx.icmp().unwrap();
    assert_eq!(icmp.icmp_type, icmp4::ICMP_TSTAMP);

    // A reply as a host would send it: type 14 with receive/transmit filled.
    let mut reply = pkt.clone();
    reply[20] = icmp4::ICMP_TSTAMPREPLY;
    reply[32..40].copy_from_slice(&[0, 0, 0, 9, 0, 0, 0, 10]);
    reply[22..24].fill(0);
    let c = checksum::checksum(&reply[20..]);
    reply[22..24].copy_from_slice(&c.to_be_bytes());
    let rx = parse_ipv4(&reply).unwrap();
    let icmp = rx.icmp().unwrap();
    assert!(icmp.is_timestamp_reply());
    assert_eq!(
        icmp.kind,
        IcmpKind::TimestampReply {
            id: 5,
            seq: 6,
            originate: 0x0102_0304,
            receive: 9,
            transmit: 10
        }
    );

    let padded = build_icmp_timestamp_with_payload(&ip, 5, 6, 0x0102_0304, &[0xab; 44]).unwrap();
    assert_eq!(padded.len(), 84);
    assert_eq!(&padded[..2], &[0x45, 0]);
    assert_eq!(&padded[2..4], &84u16.to_be_bytes());
    assert!(ref_verify(&[], &padded[20..]));
    assert_eq!(&padded[40..], &[0xab; 44][..]);

    let ip6 = IpParams::new(v6("::1"), v6("::2"));
    assert!(matches!(
        build_icmp_timestamp(&ip6, 1, 1, 0),
        Err(BuildError::Unsupported(_))
    ));
}

#[test]
fn udp_round_trip_both_families() {
    for (s, d) in [
        (v4([10, 0, 0, 1]), v4([10, 0, 0, 2])),
        (v6("fe80::1"), v6("2001:db8::53")),
    ] {
        let mut ip = IpParams::new(s, d);
        ip.ttl = 1;
        ip.ip_id = 77;
        let pkt = build_udp(&ip, 40000, 33435, b"payload!").unwrap();
        let hl = if s.is_ipv4() { 20 } else { 40 };
        assert!(ref_verify(&pseudo(s, d, 17, 16), &pkt[hl..]));
        let rx = parse_ip(&pkt).unwrap();
        let u = rx.udp().unwrap();
        assert_eq!((u.sport, u.dport, u.len), (40000, 33435, 16));
        assert_eq!(u.payload, b"payload!");
        assert_eq!(rx.ttl, 1);
    }
}

#[test]
fn tcp_round_trip_both_families() {
    for (s, d) in [
        (v4([10, 0, 0, 1]), v4([10, 0, 0, 2])),
        (v6("2001:db8::1"), v6("2001:db8::2")),
    ] {
        let ip = IpParams::new(s, d);
        let t = TcpParams {
            sport: 1234,
            dport: 80,
            seq: 0xdead_beef,
            ack: 17,
            flags: TH_SYN | TH_ECE,
            window: 5840,
            mss: Some(1460),
            payload: b"GET".to_vec(),
        };
        let pkt = build_tcp(&ip, &t).unwrap();
        let hl = if s.is_ipv4() { 20 } else { 40 };
        assert!(ref_verify(&pseudo(s, d, 6, 27), &pkt[hl..]));
        let rx = parse_ip(&pkt).unwrap();
        let r = rx.tcp().unwrap();
        assert_eq!(
            (r.sport, r.dport, r.seq, r.ack),
            (1234, 80, 0xdead_beef, 17)
        );
        assert_eq!(
            (r.flags, r.window, r.mss, r.payload_len),
            (TH_SYN | TH_ECE, 5840, Some(1460), 3)
        );

        let plain = TcpParams {
            flags: TH_ACK,
            ..TcpParams::default()
        };
        let rx = parse_ip(&build_tcp(&ip, &plain).unwrap()).unwrap();
        assert_eq!(rx.tcp().unwrap().mss, None);
    }
}

#[test]
fn family_mismatch_and_v6_options_rejected() {
    let ip = IpParams::new(v4([10, 0, 0, 1]), v6("::1"));
    assert_eq!(build_udp(&ip, 1, 2, &[]), Err(BuildError::FamilyMismatch));
    assert_eq!(
        build_icmp_echo(&ip, 1, 2, &[]),
        Err(BuildError::FamilyMismatch)
    );
    let mut ip = IpParams::new(v6("::1"), v6("::2"));
    ip.options = vec![IpOption::RecordRoute { slots: 9 }];
    assert!(matches!(
        build_udp(&ip, 1, 2, &[]),
        Err(BuildError::Unsupported(_))
    ));
    let mut ip = IpParams::new(v6("::1"), v6("::2"));
    ip.flow_label = 0x10_0000;
    assert!(matches!(
        build_udp(&ip, 1, 2, &[]),
        Err(BuildError::BadField { .. })
    ));
    let ip = IpParams::new(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    assert!(matches!(
        build_udp(&ip, 1, 2, &vec![0; 65530]),
        Err(BuildError::TooLong { .. })
    ));
}

#[test]
fn fragments_both_families() {
    let mut ip = IpParams::new(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    ip.more_frags = true;
    ip.ip_id = 0x4242;
    let rx = parse_ip(&build_udp(&ip, 1, 2, &[0; 16]).unwrap()).unwrap();
    assert!(rx.more_frags);
    assert!(rx.udp().is_some());
    ip.frag_offset = 3;
    ip.more_frags = false;
    let rx = parse_ip(&build_udp(&ip, 1, 2, &[0; 16]).unwrap()).unwrap();
    assert_eq!(rx.frag_offset, 3);
    // A non-first fragment has no transport header to parse.
    assert_eq!(rx.transport, RxTransport::Other { proto: 17 });

    let mut ip = IpParams::new(v6("2001:db8::1"), v6("2001:db8::2"));
    ip.ip_id = 0x7777;
    ip.more_frags = true;
    let pkt = build_icmp_echo(&ip, 3, 4, &[1, 2, 3, 4]).unwrap();
    assert_eq!(pkt[6], 44);
    let rx = parse_ipv6(&pkt).unwrap();
    assert_eq!((rx.ip_id, rx.more_frags, rx.frag_offset), (0x7777, true, 0));
    assert_eq!(
        rx.icmp().unwrap().kind,
        IcmpKind::EchoRequest { id: 3, seq: 4 }
    );
    ip.frag_offset = 100;
    let rx = parse_ipv6(&build_icmp_echo(&ip, 3, 4, &[]).unwrap()).unwrap();
    assert_eq!(rx.frag_offset, 100);
    assert_eq!(rx.transport, RxTransport::Other { proto: 58 });
}

#[test]
fn icmp_checksum_fix_both_families() {
    for (s, d) in [
        (v4([10, 0, 0, 1]), v4([10, 0, 0, 2])),
        (v6("2001:db8::1"), v6("2001:db8::2")),
    ] {
        let ip = IpParams::new(s, d);
        for at in [0usize, 1, 5, 10] {
            let mut pkt = build_icmp_echo(&ip, 0x9999, 3, &[0xaa; 12]).unwrap();
            fix_payload_for_icmp_checksum(&mut pkt, at, 0x1234).unwrap();
            let hl = pkt.len() - 20;
            let rx = parse_ip(&pkt).unwrap();
            assert_eq!(rx.icmp().unwrap().checksum, 0x1234);
            let ps = if s.is_ipv4() {
                vec![]
            } else {
                pseudo(s, d, 58, 20)
            };
            assert!(ref_verify(&ps, &pkt[hl..]), "at {at}");
            // Only the two chosen bytes changed in the payload.
            let changed: Vec<usize> = pkt[hl + 8..]
                .iter()
                .enumerate()
                .filter(|(_, b)| **b != 0xaa)
                .map(|(i, _)| i)
                .collect();
            assert!(changed.iter().all(|i| *i == at || *i == at + 1));
        }
        let mut pkt = build_icmp_echo(&ip, 1, 1, &[0; 4]).unwrap();
        assert!(fix_payload_for_icmp_checksum(&mut pkt, 3, 1).is_err());
        let mut udp = build_udp(&ip, 1, 1, &[0; 4]).unwrap();
        assert!(fix_payload_for_icmp_checksum(&mut udp, 0, 1).is_err());
    }
}

#[test]
fn udp_checksum_fix_both_families() {
    for (s, d) in [
        (v4([10, 0, 0, 1]), v4([10, 0, 0, 2])),
        (v6("2001:db8::1"), v6("2001:db8::2")),
    ] {
        let ip = IpParams::new(s, d);
        for want in [0x0001u16, 0x8000, 0xffff] {
            let mut pkt = build_udp(&ip, 40000, 33435, b"0123456789").unwrap();
            fix_payload_for_udp_checksum(&mut pkt, 2, want).unwrap();
            let rx = parse_ip(&pkt).unwrap();
            assert_eq!(rx.udp().unwrap().checksum, want);
            let hl = pkt.len() - 18;
            assert!(ref_verify(&pseudo(s, d, 17, 18), &pkt[hl..]));
        }
        let mut pkt = build_udp(&ip, 40000, 33435, b"01").unwrap();
        assert!(fix_payload_for_udp_checksum(&mut pkt, 0, 0).is_err());
        assert!(fix_payload_for_udp_checksum(&mut pkt, 1, 5).is_err());
    }
}

#[test]
fn record_route_and_timestamp_options() {
    let mut ip = IpParams::new(v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    ip.options = vec![IpOption::RecordRoute { slots: 9 }];
    let mut pkt = build_icmp_echo(&ip, 1, 1, &[]).unwrap();
    assert_eq!(pkt[0], 0x4f);
    assert!(ref_verify(&[], &pkt[..60]));
    let rx = parse_ipv4(&pkt).unwrap();
    assert_eq!(
        rx.options,
        vec![RxIpOption::RecordRoute {
            pointer: 4,
            addrs: vec![]
        }]
    );
    assert_eq!(
        rx.icmp().unwrap().kind,
        IcmpKind::EchoRequest { id: 1, seq: 1 }
    );

    // Two routers record their addresses, as the reply would show them.
    pkt[22] = 12;
    pkt[23..31].copy_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
    pkt[10..12].fill(0);
    let c = checksum::checksum(&pkt[..60]);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    let rx = parse_ipv4(&pkt).unwrap();
    assert_eq!(
        rx.options,
        vec![RxIpOption::RecordRoute {
            pointer: 12,
            addrs: vec!["192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap()]
        }]
    );

    let a: std::net::Ipv4Addr = "10.0.0.2".parse().unwrap();
    ip.options = vec![IpOption::Timestamp(TsOption::TsPrespec(vec![a, a]))];
    let mut pkt = build_icmp_echo(&ip, 1, 1, &[]).unwrap();
    assert_eq!(pkt[0], 0x45 + 5);
    assert_eq!(&pkt[20..24], &[68, 20, 5, 3]);
    // The destination stamps the first prespecified slot.
    pkt[22] = 13;
    pkt[28..32].copy_from_slice(&1000u32.to_be_bytes());
    let rx = parse_ipv4(&pkt).unwrap();
    assert_eq!(
        rx.options,
        vec![RxIpOption::Timestamp {
            flag: 3,
            overflow: 0,
            pointer: 13,
            entries: vec![TsEntry {
                addr: Some(a),
                ts: 1000
            }]
        }]
    );

    ip.options = vec![IpOption::Timestamp(TsOption::TsOnly)];
    let pkt = build_icmp_echo(&ip, 1, 1, &[]).unwrap();
    assert_eq!(pkt[0], 0x4f);
    assert!(matches!(
        &parse_ipv4(&pkt).unwrap().options[..],
        [RxIpOption::Timestamp { flag: 0, pointer: 5, entries, .. }] if entries.is_empty()
    ));
}
