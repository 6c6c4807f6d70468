//! Property tests: the parsers never panic, and build -> parse is the identity on the fields a
//! measurement controls.

mod common;

use proptest::prelude::*;
use scamper_packet::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn addr_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<[u8; 4]>())
            .prop_map(|(s, d)| (Ipv4Addr::from(s).into(), Ipv4Addr::from(d).into())),
        (any::<[u8; 16]>(), any::<[u8; 16]>())
            .prop_map(|(s, d)| (Ipv6Addr::from(s).into(), Ipv6Addr::from(d).into())),
    ]
}

/// IP parameters valid for the family (no options; fragments only as first fragments so the
/// transport header is there to compare).
fn ip_params() -> impl Strategy<Value = IpParams> {
    (
        addr_pair(),
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        any::<bool>(),
        0u32..0x10_0000,
        any::<bool>(),
    )
        .prop_map(
            |((src, dst), ttl, tos, ip_id, df, flow_label, mf)| IpParams {
                ttl,
                tos,
                ip_id,
                df,
                flow_label,
                more_frags: mf,
                ..IpParams::new(src, dst)
            },
        )
}

/// Check the IP-level fields of a parsed packet against what was asked for.
fn check_ip(ip: &IpParams, rx: &Rx, len: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(rx.src, ip.src);
    prop_assert_eq!(rx.dst, ip.dst);
    prop_assert_eq!(rx.ttl, ip.ttl);
    prop_assert_eq!(rx.tos, ip.tos);
    prop_assert_eq!(usize::from(rx.ip_len), len);
    prop_assert_eq!(rx.more_frags, ip.more_frags);
    if ip.src.is_ipv4() {
        prop_assert_eq!(rx.ip_id, u32::from(ip.ip_id));
        prop_assert_eq!(rx.df, ip.df);
    } else if ip.more_frags {
        prop_assert_eq!(rx.ip_id, u32::from(ip.ip_id));
    }
    Ok(())
}

/// Valid error messages with extensions, to be mangled.
fn seed_packets() -> Vec<Vec<u8>> {
    let s4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let d4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    let s6 = IpAddr::V6("2001:db8::1".parse().unwrap());
    let d6 = IpAddr::V6("2001:db8::2".parse().unwrap());
    let ext = [IcmpExtObject::mpls_stack(&[MplsLabelEntry {
        label: 100,
        tc: 1,
        s: true,
        ttl: 1,
    }])];
    let mut out = Vec::new();
    for (s, d, te) in [(s4, d4, 11u8), (s6, d6, 3u8)] {
        let mut ip = IpParams::new(s, d);
        let probe = build_udp(&ip, 1, 2, &[0; 8]).unwrap();
        let tcp = build_tcp(
            &ip,
            &TcpParams {
                mss: Some(1400),
                ..TcpParams::default()
            },
        )
        .unwrap();
        if s.is_ipv4() {
            ip.options = vec![IpOption::Timestamp(TsOption::TsAndAddr)];
        }
        out.push(build_icmp_error(&ip, te, 0, 0, &probe, &ext).unwrap());
        out.push(build_icmp_error(&ip, te, 0, 0, &tcp, &[]).unwrap());
        out.push(tcp);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics(first in prop_oneof![Just(0x45u8), 0x46u8..0x50, Just(0x60), any::<u8>()],
                          rest in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut b = vec![first];
        b.extend_from_slice(&rest);
        let _ = parse_ip(&b);
        let _ = parse_ipv4(&b);
        let _ = parse_ipv6(&b);
        let _ = parse_icmp6_socket(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 1, 0, &rest);
    }

    #[test]
    fn mangled_valid_packets_never_panic(which in 0usize..6,
                                         flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
                                         cut in any::<usize>()) {
        let mut b = seed_packets().swap_remove(which);
        for (at, v) in flips {
            let i = at % b.len();
            b[i] = v;
        }
        b.truncate(cut % (b.len() + 1));
        let _ = parse_ip(&b);
        if b.len() > 40 {
            let _ = parse_icmp6_socket(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 1, 0, &b[40..]);
        }
    }
}

proptest! {
    #[test]
    fn echo_round_trip(ip in ip_params(), id: u16, seq: u16,
                       payload in proptest::collection::vec(any::<u8>(), 0..100)) {
        let pkt = build_icmp_echo(&ip, id, seq, &payload).unwrap();
        let rx = parse_ip(&pkt).unwrap();
        check_ip(&ip, &rx, pkt.len())?;
        let icmp = rx.icmp().unwrap();
        prop_assert_eq!(icmp.kind, IcmpKind::EchoRequest { id, seq });
        prop_assert_eq!(icmp.is_ipv6, ip.src.is_ipv6());
    }

    #[test]
    fn udp_round_trip(ip in ip_params(), sport: u16, dport: u16,
                      payload in proptest::collection::vec(any::<u8>(), 0..100)) {
        let pkt = build_udp(&ip, sport, dport, &payload).unwrap();
        let rx = parse_ip(&pkt).unwrap();
        check_ip(&ip, &rx, pkt.len())?;
        let u = rx.udp().unwrap();
        prop_assert_eq!((u.sport, u.dport, usize::from(u.len)), (sport, dport, payload.len() + 8));
        prop_assert_ne!(u.checksum, 0);
        prop_assert_eq!(&u.payload, &payload);
    }

    #[test]
    fn tcp_round_trip(ip in ip_params(), sport: u16, dport: u16, seq: u32, ack: u32, flags: u8,
                      window: u16, mss: Option<u16>,
                      payload in proptest::collection::vec(any::<u8>(), 0..40)) {
        let t = TcpParams { sport, dport, seq, ack, flags, window, mss, payload: payload.clone() };
        let pkt = build_tcp(&ip, &t).unwrap();
        let rx = parse_ip(&pkt).unwrap();
        check_ip(&ip, &rx, pkt.len())?;
        let r = rx.tcp().unwrap();
        prop_assert_eq!(r, &RxTcp { sport, dport, seq, ack, flags, window, mss, payload_len: payload.len() });
    }

    #[test]
    fn timestamp_round_trip(src: [u8; 4], dst: [u8; 4], id: u16, seq: u16, orig: u32) {
        let ip = IpParams::new(Ipv4Addr::from(src).into(), Ipv4Addr::from(dst).into());
        let rx = parse_ip(&build_icmp_timestamp(&ip, id, seq, orig).unwrap()).unwrap();
        let icmp = rx.icmp().unwrap();
        prop_assert_eq!(icmp.icmp_type, icmp4::ICMP_TSTAMP);
        prop_assert!(common::ref_verify(&[], &build_icmp_timestamp(&ip, id, seq, orig).unwrap()[20..]));
    }

    #[test]
    fn error_quote_round_trip(ip in ip_params(), sport: u16, dport: u16, code: u8,
                              payload in proptest::collection::vec(any::<u8>(), 0..64),
                              labels in proptest::collection::vec((0u32..0x10_0000, 0u8..8, any::<u8>()), 0..4)) {
        let probe = build_udp(&ip, sport, dport, &payload).unwrap();
        let stack: Vec<MplsLabelEntry> = labels.iter().enumerate().map(|(i, (label, tc, ttl))| MplsLabelEntry {
            label: *label, tc: *tc, s: i + 1 == labels.len(), ttl: *ttl,
        }).collect();
        let ext = if stack.is_empty() { vec![] } else { vec![IcmpExtObject::mpls_stack(&stack)] };
        let te = if ip.src.is_ipv4() { icmp4::ICMP_TIMXCEED } else { icmp6::ICMP6_TIME_EXCEEDED };
        let reply = IpParams::new(ip.dst, ip.src);
        let pkt = build_icmp_error(&reply, te, code, 0, &probe, &ext).unwrap();
        let rx = parse_ip(&pkt).unwrap();
        let icmp = rx.icmp().unwrap();
        prop_assert!(icmp.is_time_exceeded());
        let q = icmp.quote.unwrap();
        prop_assert_eq!((q.src, q.dst, q.ttl, q.tos), (ip.src, ip.dst, ip.ttl, ip.tos));
        prop_assert_eq!(usize::from(q.ip_len), probe.len());
        prop_assert_eq!(q.proto, IPPROTO_UDP);
        let udp_len = (payload.len() + 8) as u16;
        let transport_matches = matches!(q.transport, QuotedTransport::Udp { sport: s, dport: d, len, .. }
            if s == sport && d == dport && len == udp_len);
        prop_assert!(transport_matches);
        if ip.src.is_ipv6() {
            prop_assert_eq!(q.flow_label, ip.flow_label);
        }
        let got: Vec<MplsLabelEntry> = icmp.extensions.iter().flat_map(|o| o.mpls.clone().unwrap_or_default()).collect();
        prop_assert_eq!(got, stack);
    }

    #[test]
    fn icmp_checksum_fix(ip in ip_params(), id: u16, seq: u16, want in 0u16..0xffff,
                         payload in proptest::collection::vec(any::<u8>(), 2..64), at in any::<usize>()) {
        let at = at % (payload.len() - 1);
        let mut pkt = build_icmp_echo(&ip, id, seq, &payload).unwrap();
        fix_payload_for_icmp_checksum(&mut pkt, at, want).unwrap();
        let rx = parse_ip(&pkt).unwrap();
        let icmp = rx.icmp().unwrap();
        prop_assert_eq!(icmp.checksum, want);
        prop_assert_eq!(icmp.kind, IcmpKind::EchoRequest { id, seq });
        let hl = pkt.len() - 8 - payload.len();
        let ps = if ip.src.is_ipv4() { vec![] } else { common::pseudo(ip.src, ip.dst, 58, pkt.len() - hl) };
        prop_assert!(common::ref_verify(&ps, &pkt[hl..]));
    }

    #[test]
    fn udp_checksum_fix(ip in ip_params(), sport: u16, dport: u16, want in 1u16..=0xffff,
                        payload in proptest::collection::vec(any::<u8>(), 2..64), at in any::<usize>()) {
        let at = at % (payload.len() - 1);
        let mut pkt = build_udp(&ip, sport, dport, &payload).unwrap();
        fix_payload_for_udp_checksum(&mut pkt, at, want).unwrap();
        let rx = parse_ip(&pkt).unwrap();
        prop_assert_eq!(rx.udp().unwrap().checksum, want);
        let hl = pkt.len() - 8 - payload.len();
        prop_assert!(common::ref_verify(&common::pseudo(ip.src, ip.dst, 17, pkt.len() - hl), &pkt[hl..]));
    }
}
