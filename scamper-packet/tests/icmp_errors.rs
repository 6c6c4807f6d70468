//! ICMP errors quoting probes, truncated quotes, and RFC 4884 extensions with MPLS stacks.

mod common;

use common::{ref_verify, v4, v6};
use scamper_packet::*;
use std::net::{IpAddr, Ipv6Addr};

fn udp_probe4() -> (IpParams, Vec<u8>) {
    let mut ip = IpParams::new(v4([192, 0, 2, 10]), v4([203, 0, 113, 9]));
    ip.ttl = 1;
    ip.ip_id = 0x1111;
    ip.tos = 0x10;
    (
        ip.clone(),
        build_udp(&ip, 0x8abc, 33435, &[0x55; 12]).unwrap(),
    )
}

fn udp_probe6() -> (IpParams, Vec<u8>) {
    let mut ip = IpParams::new(v6("2001:db8::10"), v6("2001:db8:ffff::9"));
    ip.ttl = 2;
    ip.flow_label = 0x54321;
    (
        ip.clone(),
        build_udp(&ip, 0x8abc, 33436, &[0x66; 12]).unwrap(),
    )
}

/// The router's reply: from `router` back to the probe's source.
fn reply_ip(router: IpAddr, probe_ip: &IpParams) -> IpParams {
    let mut ip = IpParams::new(router, probe_ip.src);
    ip.ttl = 254;
    ip
}

#[test]
fn hand_made_time_exceeded_quoting_udp() {
    let (_, probe) = udp_probe4();
    // Built without the crate's builder: ICMP header by hand, RFC 792 quote (IP + 8 bytes).
    let mut icmp = vec![11, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&probe[..28]);
    let c = !(common::ref_sum(&icmp) as u16);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut pkt = vec![
        0x45, 0, 0, 0, 0xab, 0xcd, 0, 0, 250, 1, 0, 0, 198, 51, 100, 1, 192, 0, 2, 10,
    ];
    let total = (20 + icmp.len()) as u16;
    pkt[2..4].copy_from_slice(&total.to_be_bytes());
    let c = !(common::ref_sum(&pkt) as u16);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    pkt.extend_from_slice(&icmp);

    let rx = parse_ipv4(&pkt).unwrap();
    assert_eq!(rx.src, v4([198, 51, 100, 1]));
    assert_eq!((rx.ttl, rx.ip_id), (250, 0xabcd));
    let icmp = rx.icmp().unwrap();
    assert!(icmp.is_time_exceeded());
    assert_eq!(icmp.checksum, u16::from_be_bytes([pkt[22], pkt[23]]));
    let q = icmp.quote.unwrap();
    assert_eq!(q.src, v4([192, 0, 2, 10]));
    assert_eq!(q.dst, v4([203, 0, 113, 9]));
    assert_eq!((q.ttl, q.tos, q.ip_id, q.proto), (1, 0x10, 0x1111, 17));
    assert_eq!(usize::from(q.ip_len), probe.len());
    assert_eq!(
        q.transport,
        QuotedTransport::Udp {
            sport: 0x8abc,
            dport: 33435,
            checksum: u16::from_be_bytes([probe[26], probe[27]]),
            len: 20
        }
    );
    assert!(icmp.extensions.is_empty());
}

#[test]
fn port_unreachable_quoting_whole_probe() {
    let (pip, probe) = udp_probe4();
    let ip = reply_ip(pip.dst, &pip);
    let pkt = build_icmp_error(
        &ip,
        icmp4::ICMP_UNREACH,
        icmp4::ICMP_UNREACH_PORT,
        0,
        &probe,
        &[],
    )
    .unwrap();
    assert!(ref_verify(&[], &pkt[20..]));
    let icmp = parse_ip(&pkt).unwrap().icmp().unwrap().clone();
    assert!(icmp.is_unreach() && !icmp.is_ptb());
    assert_eq!(icmp.code, icmp4::ICMP_UNREACH_PORT);
    assert_eq!(icmp.next_hop_mtu, None);
    let q = icmp.quote.unwrap();
    assert!(matches!(
        q.transport,
        QuotedTransport::Udp { dport: 33435, .. }
    ));
}

#[test]
fn frag_needed_reports_mtu() {
    let (pip, probe) = udp_probe4();
    let ip = reply_ip(v4([10, 9, 9, 9]), &pip);
    let pkt = build_icmp_error(&ip, 3, icmp4::ICMP_UNREACH_NEEDFRAG, 1400, &probe, &[]).unwrap();
    let icmp = parse_ip(&pkt).unwrap().icmp().unwrap().clone();
    assert!(icmp.is_ptb());
    assert_eq!(icmp.next_hop_mtu, Some(1400));
}

#[test]
fn quote_of_icmp_and_tcp_probes() {
    let pip = IpParams::new(v4([192, 0, 2, 10]), v4([203, 0, 113, 9]));
    let echo = build_icmp_echo(&pip, 0x4444, 17, &[0; 8]).unwrap();
    let ip = reply_ip(v4([10, 0, 0, 1]), &pip);
    let pkt = build_icmp_error(&ip, 11, 0, 0, &echo[..28], &[]).unwrap();
    let q = parse_ip(&pkt).unwrap().icmp().unwrap().quote.unwrap();
    assert_eq!(
        q.transport,
        QuotedTransport::Icmp {
            icmp_type: 8,
            code: 0,
            id: 0x4444,
            seq: 17,
            checksum: u16::from_be_bytes([echo[22], echo[23]])
        }
    );

    let syn = build_tcp(
        &pip,
        &TcpParams {
            sport: 5000,
            dport: 443,
            seq: 99,
            flags: tcp::TH_SYN,
            ..TcpParams::default()
        },
    )
    .unwrap();
    let pkt = build_icmp_error(&ip, 11, 0, 0, &syn[..28], &[]).unwrap();
    let q = parse_ip(&pkt).unwrap().icmp().unwrap().quote.unwrap();
    assert_eq!(
        q.transport,
        QuotedTransport::Tcp {
            sport: 5000,
            dport: 443,
            seq: 99
        }
    );
}

#[test]
fn truncated_quotes_parse_what_is_present() {
    let (pip, probe) = udp_probe4();
    let ip = reply_ip(v4([10, 0, 0, 1]), &pip);
    // IP header and 4 transport bytes: the header is there, the UDP header is not.
    let pkt = build_icmp_error(&ip, 11, 0, 0, &probe[..24], &[]).unwrap();
    let q = parse_ip(&pkt).unwrap().icmp().unwrap().quote.unwrap();
    assert_eq!(q.dst, pip.dst);
    assert_eq!(q.transport, QuotedTransport::Other);
    // Not even a whole IP header: no quote, but still a time exceeded message.
    let pkt = build_icmp_error(&ip, 11, 0, 0, &probe[..10], &[]).unwrap();
    let icmp = parse_ip(&pkt).unwrap().icmp().unwrap().clone();
    assert!(icmp.is_time_exceeded());
    assert!(icmp.quote.is_none());
    // A quote of the wrong family is not a quote.
    let (_, probe6) = udp_probe6();
    let pkt = build_icmp_error(&ip, 11, 0, 0, &probe6, &[]).unwrap();
    assert!(parse_ip(&pkt).unwrap().icmp().unwrap().quote.is_none());
}

#[test]
fn icmp6_time_exceeded_via_datalink_and_socket() {
    let (pip, probe) = udp_probe6();
    let router = v6("2001:db8:1::1");
    let ip = reply_ip(router, &pip);
    let pkt = build_icmp_error(
        &ip,
        icmp6::ICMP6_TIME_EXCEEDED,
        icmp6::ICMP6_TIME_EXCEED_TRANSIT,
        0,
        &probe,
        &[],
    )
    .unwrap();
    assert!(ref_verify(
        &common::pseudo(router, pip.src, 58, pkt.len() - 40),
        &pkt[40..]
    ));
    let rx = parse_ipv6(&pkt).unwrap();
    assert_eq!(rx.src, router);
    let icmp = rx.icmp().unwrap();
    assert!(icmp.is_time_exceeded() && icmp.is_ipv6);
    let q = icmp.quote.unwrap();
    assert_eq!((q.src, q.dst, q.ttl), (pip.src, pip.dst, 2));
    assert_eq!(q.flow_label, 0x54321);
    assert_eq!(usize::from(q.ip_len), probe.len());
    assert!(matches!(
        q.transport,
        QuotedTransport::Udp {
            sport: 0x8abc,
            dport: 33436,
            len: 20,
            ..
        }
    ));

    // The same message as a raw ICMPv6 socket delivers it.
    let src: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
    let dst: Ipv6Addr = "2001:db8::10".parse().unwrap();
    let rx2 = parse_icmp6_socket(src, dst, 60, 0, &pkt[40..]).unwrap();
    assert_eq!(rx2.ttl, 60);
    assert_eq!(rx2.ip_len, rx.ip_len);
    assert_eq!(rx2.icmp(), rx.icmp());
}

#[test]
fn icmp6_unreach_ptb_and_param_problem() {
    let mut pip = IpParams::new(v6("2001:db8::10"), v6("2001:db8::9"));
    pip.ip_id = 0x0102;
    pip.more_frags = true;
    // The quoted echo carries a fragment header: its identification shows up in the quote.
    let echo = build_icmp_echo(&pip, 0x4321, 5, &[1; 16]).unwrap();
    let ip = reply_ip(pip.dst, &pip);
    let pkt = build_icmp_error(&ip, 1, icmp6::ICMP6_DST_UNREACH_NOPORT, 0, &echo, &[]).unwrap();
    let icmp = parse_ip(&pkt).unwrap().icmp().unwrap().clone();
    assert!(icmp.is_unreach());
    let q = icmp.quote.unwrap();
    assert_eq!((q.ip_id, q.proto), (0x0102, 58));
    assert!(matches!(
        q.transport,
        QuotedTransport::Icmp {
            icmp_type: 128,
            id: 0x4321,
            seq: 5,
            ..
        }
    ));

    let pkt = build_icmp_error(&ip, 2, 0, 1280, &echo, &[]).unwrap();
    let icmp = parse_ip(&pkt).unwrap().icmp().unwrap().clone();
    assert!(icmp.is_ptb());
    assert_eq!(icmp.kind, IcmpKind::PacketTooBig { mtu: 1280 });
    assert_eq!(icmp.next_hop_mtu, Some(1280));

    let pkt = build_icmp_error(&ip, 4, 0, 0x2a, &echo, &[]).unwrap();
    let icmp = parse_ip(&pkt).unwrap().icmp().unwrap().clone();
    assert_eq!(icmp.kind, IcmpKind::ParamProblem { pointer: 0x2a });
    assert!(icmp.quote.is_some());
}

fn stack() -> Vec<MplsLabelEntry> {
    vec![
        MplsLabelEntry {
            label: 24001,
            tc: 0,
            s: false,
            ttl: 1,
        },
        MplsLabelEntry {
            label: 16,
            tc: 7,
            s: true,
            ttl: 1,
        },
    ]
}

#[test]
fn rfc4884_mpls_v4() {
    let (pip, probe) = udp_probe4();
    let ip = reply_ip(v4([10, 0, 0, 1]), &pip);
    let ext = [IcmpExtObject::mpls_stack(&stack())];
    let pkt = build_icmp_error(&ip, 11, 0, 0, &probe, &ext).unwrap();
    // Length field in 32-bit words at byte 5 of the ICMP header; quote padded to 128 bytes.
    assert_eq!(pkt[25], 32);
    assert_eq!(pkt.len(), 20 + 8 + 128 + 4 + 4 + 8);
    assert!(ref_verify(&[], &pkt[20..]));
    // Version 2 extension header with a checksum over the structure.
    assert_eq!(pkt[156] >> 4, 2);
    assert!(ref_verify(&[], &pkt[156..]));
    let icmp = parse_ip(&pkt).unwrap().icmp().unwrap().clone();
    assert_eq!(icmp.extensions.len(), 1);
    let o = &icmp.extensions[0];
    assert_eq!((o.class_num, o.c_type), (1, 1));
    assert_eq!(o.mpls.as_deref(), Some(&stack()[..]));
    assert!(matches!(
        icmp.quote.unwrap().transport,
        QuotedTransport::Udp { .. }
    ));
}

#[test]
fn rfc4884_mpls_v6() {
    let (pip, probe) = udp_probe6();
    let ip = reply_ip(v6("2001:db8:1::1"), &pip);
    let ext = [
        IcmpExtObject::mpls_stack(&stack()),
        IcmpExtObject::new(2, 1, vec![0, 0, 0, 7]),
    ];
    let pkt = build_icmp_error(&ip, 3, 0, 0, &probe, &ext).unwrap();
    // Length field in 64-bit words at byte 4 of the ICMPv6 header.
    assert_eq!(pkt[44], 16);
    let icmp = parse_ip(&pkt).unwrap().icmp().unwrap().clone();
    assert_eq!(icmp.extensions.len(), 2);
    assert_eq!(icmp.extensions[0].mpls.as_deref(), Some(&stack()[..]));
    assert_eq!(icmp.extensions[1].mpls, None);
    assert_eq!(icmp.extensions[1].data, vec![0, 0, 0, 7]);
    assert!(icmp.quote.is_some());
    // Extensions are not allowed on packet too big.
    assert!(build_icmp_error(&ip, 2, 0, 1280, &probe, &ext).is_err());
}

#[test]
fn rfc4884_compat_and_corrupt_extensions() {
    let (pip, probe) = udp_probe4();
    let ip = reply_ip(v4([10, 0, 0, 1]), &pip);
    let ext = [IcmpExtObject::mpls_stack(&stack())];
    let good = build_icmp_error(&ip, 11, 0, 0, &probe, &ext).unwrap();

    // Pre-RFC 4884 router: no length field, extensions at byte 128 of the payload.
    let mut compat = good.clone();
    compat[25] = 0;
    let icmp = parse_ip(&compat).unwrap().icmp().unwrap().clone();
    assert_eq!(icmp.extensions.len(), 1);
    assert!(icmp.quote.is_some());

    // A corrupted extension checksum means no extensions, but the quote stays.
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 0xff;
    let icmp = parse_ip(&bad).unwrap().icmp().unwrap().clone();
    assert!(icmp.extensions.is_empty());
    assert!(icmp.quote.is_some());

    // A length field pointing past the end: everything is quote.
    let mut long = good.clone();
    long[25] = 200;
    let icmp = parse_ip(&long).unwrap().icmp().unwrap().clone();
    assert!(icmp.extensions.is_empty());
    assert_eq!(icmp.quote.unwrap().dst, pip.dst);

    // Without a length field, a long quote that merely looks like data is not an extension.
    let big_probe = build_udp(&pip, 1, 2, &[0x20; 200]).unwrap();
    let pkt = build_icmp_error(&ip, 3, 3, 0, &big_probe, &[]).unwrap();
    assert!(parse_ip(&pkt)
        .unwrap()
        .icmp()
        .unwrap()
        .extensions
        .is_empty());
}

/// An ICMPv6 time exceeded assembled by hand (no builder), quoting a UDP probe that carried a
/// hop-by-hop header, as a raw ICMPv6 socket delivers it.
#[test]
fn hand_made_icmp6_quote_with_extension_header() {
    let probe_src: Ipv6Addr = "2001:db8::10".parse().unwrap();
    let probe_dst: Ipv6Addr = "2001:db8::99".parse().unwrap();
    let mut quote = vec![0x60, 0x00, 0x00, 0x07, 0x00, 0x18, 0x00, 0x01];
    quote.extend_from_slice(&probe_src.octets());
    quote.extend_from_slice(&probe_dst.octets());
    // Hop-by-hop: next header UDP, length 0 (8 bytes), PadN filling the rest.
    quote.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
    // UDP 0x8001 -> 33435, length 16, checksum 0xbeef (not checked in a quote).
    quote.extend_from_slice(&[0x80, 0x01, 0x82, 0x9b, 0x00, 0x10, 0xbe, 0xef]);
    let mut msg = vec![3, 0, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&quote);
    let router: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
    let mut ps = common::pseudo(router.into(), probe_src.into(), 58, msg.len());
    ps.extend_from_slice(&msg);
    let c = !(common::ref_sum(&ps) as u16);
    msg[2..4].copy_from_slice(&c.to_be_bytes());

    let rx = parse_icmp6_socket(router, probe_src, 61, 0, &msg).unwrap();
    assert_eq!(rx.src, IpAddr::V6(router));
    let icmp = rx.icmp().unwrap();
    assert!(icmp.is_time_exceeded());
    assert_eq!(icmp.checksum, c);
    let q = icmp.quote.unwrap();
    assert_eq!((q.ttl, q.flow_label, q.proto, q.ip_len), (1, 7, 17, 64));
    assert_eq!(
        q.transport,
        QuotedTransport::Udp {
            sport: 0x8001,
            dport: 33435,
            checksum: 0xbeef,
            len: 16
        }
    );

    // Cut inside the hop-by-hop header: the quote stops there.
    let cut = &msg[..8 + 40 + 4];
    let q = parse_icmp6_socket(router, probe_src, 61, 0, cut)
        .unwrap()
        .icmp()
        .unwrap()
        .quote
        .unwrap();
    assert_eq!((q.proto, q.transport), (0, QuotedTransport::Other));
}
