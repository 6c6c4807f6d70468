//! Building ping probes: the per-probe header values and the complete IP packet.
//!
//! Every probe must be recognisable from what a reply carries, so each one differs from its
//! siblings in a field the reply echoes or quotes:
//! - ICMP: the echo/timestamp sequence number (`-d` + index);
//! - sport-/dport-varying methods: the varying port;
//! - fixed-port TCP methods: the sequence number (SYN, RST) or acknowledgement number (ACK,
//!   SYN+ACK) grows by one per probe, since a TCP reply acknowledges or echoes it;
//! - ICMP errors quoting fixed-port probes: the IPv4 IP-ID (unique per probe) or, for IPv6, the
//!   flow label (probe index + 1).

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

use scamper_packet::tcp::{TH_ACK, TH_RST, TH_SYN};
use scamper_packet::{
    build_icmp_echo, build_icmp_timestamp_with_payload, build_tcp, build_udp,
    fix_payload_for_icmp_checksum, BuildError, IpOption, IpParams, TcpParams, TsOption,
    IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP,
};
use scamper_warts::ping::PingMethod;

use super::options::{PingOptions, TimestampOption};

/// Window advertised in TCP probes.
const TCP_WINDOW: u16 = 65535;
/// Odd step between consecutive IPv4 IP-IDs: multiplying the index by an odd number is a
/// bijection mod 2^16, so the 65535 probes a ping may send all get distinct IDs.
const IPID_STEP: u16 = 0x9e37;

/// Header values of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeFields {
    /// 0-based probe index (the record's `seq`).
    pub index: u16,
    /// IPv4 identification (unused for IPv6).
    pub ip_id: u16,
    /// IPv6 flow label; non-zero only for fixed-port UDP/TCP probes (see module docs).
    pub flow_label: u32,
    /// ICMP id for ICMP methods, else the TCP/UDP source port.
    pub sport: u16,
    /// TCP/UDP destination port (unused for ICMP).
    pub dport: u16,
    /// ICMP sequence number (ICMP methods).
    pub icmp_seq: u16,
    pub tcp_seq: u32,
    pub tcp_ack: u32,
}

/// Whether the acknowledgement number (rather than the sequence number) identifies probes of
/// this fixed-port TCP method: replies to ACK and SYN+ACK probes are resets whose sequence
/// number is the probe's acknowledgement number.
pub fn tcp_uses_ack(method: PingMethod) -> bool {
    matches!(
        method,
        PingMethod::TCP_ACK | PingMethod::TCP_ACK_SPORT | PingMethod::TCP_SYNACK
    )
}

/// TCP flags a probe of this method carries.
pub fn tcp_flags(method: PingMethod) -> u8 {
    match method {
        PingMethod::TCP_ACK | PingMethod::TCP_ACK_SPORT => TH_ACK,
        PingMethod::TCP_SYNACK => TH_SYN | TH_ACK,
        PingMethod::TCP_RST => TH_RST,
        _ => TH_SYN,
    }
}

/// Whether probes of this method share their ports, so replies need another field to tell
/// them apart.
pub fn fixed_ports(method: PingMethod) -> bool {
    !method.is_icmp() && !method.varies_sport() && !method.varies_dport()
}

/// IP protocol of the probes.
pub fn probe_proto(opts: &PingOptions) -> u8 {
    if opts.method.is_udp() {
        IPPROTO_UDP
    } else if opts.method.is_tcp() {
        IPPROTO_TCP
    } else if opts.dst.is_ipv6() {
        IPPROTO_ICMPV6
    } else {
        IPPROTO_ICMP
    }
}

/// First IP-ID of a task, derived from the start time and port so concurrent pings differ.
pub fn ipid_base(start: Duration, sport: u16) -> u16 {
    let mix = start.subsec_nanos() ^ (start.as_secs() as u32).rotate_left(16) ^ u32::from(sport);
    (mix ^ (mix >> 16)) as u16
}

/// Header values of probe `index`, with `sport` the resolved base source port / ICMP id.
pub fn fields(opts: &PingOptions, sport: u16, ipid_base: u16, index: u16) -> ProbeFields {
    let m = opts.method;
    let fixed = fixed_ports(m);
    let step = u32::from(index);
    ProbeFields {
        index,
        ip_id: ipid_base.wrapping_add(index.wrapping_mul(IPID_STEP)),
        flow_label: if fixed && opts.dst.is_ipv6() {
            (step + 1) & 0xf_ffff
        } else {
            0
        },
        sport: if m.varies_sport() {
            sport.wrapping_add(index)
        } else {
            sport
        },
        dport: if m.varies_dport() {
            opts.dport.wrapping_add(index)
        } else {
            opts.dport
        },
        icmp_seq: opts.dport.wrapping_add(index),
        tcp_seq: if fixed && !tcp_uses_ack(m) {
            opts.tcp_seq.wrapping_add(step)
        } else {
            opts.tcp_seq
        },
        tcp_ack: if fixed && tcp_uses_ack(m) {
            opts.tcp_ack.wrapping_add(step)
        } else {
            opts.tcp_ack
        },
    }
}

/// Milliseconds since midnight UT, the ICMP timestamp unit (RFC 792).
pub fn ms_since_midnight(now: Duration) -> u32 {
    (now.as_millis() % 86_400_000) as u32
}

/// Whether probes carry the real source address at the start of their payload: with
/// `-O spoof`, unless `-O nosrc`, so that whoever receives a spoofed probe can tell who sent it.
pub fn embeds_real_src(opts: &PingOptions) -> bool {
    use scamper_warts::ping::flags::{NOSRC, SPOOF};
    opts.flags & (SPOOF | NOSRC) == SPOOF
}

/// Payload bytes the embedded real source takes (the address length of the family).
pub fn real_src_len(opts: &PingOptions) -> usize {
    match (embeds_real_src(opts), opts.dst.is_ipv6()) {
        (false, _) => 0,
        (true, false) => 4,
        (true, true) => 16,
    }
}

/// Zero bytes for the payload of probes without a pattern, borrowed instead of allocated.
static ZEROS: [u8; 1500] = [0; 1500];

/// The payload of every probe ([`PingOptions::payload_bytes`]), borrowed when the probe
/// carries it unchanged (no embedded source address): the common case needs no allocation.
fn payload(opts: &PingOptions, embed: usize) -> Cow<'_, [u8]> {
    if embed == 0 {
        if opts.has_payload() {
            return Cow::Borrowed(&opts.data);
        }
        let n = usize::from(opts.payload_len);
        if opts.data.is_empty() && n <= ZEROS.len() {
            return Cow::Borrowed(&ZEROS[..n]);
        }
    }
    Cow::Owned(opts.payload_bytes())
}

/// Build the complete IP packet of a probe from `src`, at time `now` (ICMP timestamps).
/// `real_src`, the address the kernel would have used, goes into the payload when
/// [`embeds_real_src`].
pub fn build(
    opts: &PingOptions,
    src: IpAddr,
    real_src: IpAddr,
    f: &ProbeFields,
    now: Duration,
) -> Result<Vec<u8>, BuildError> {
    let mut ip = IpParams::new(src, opts.dst);
    ip.ttl = opts.ttl;
    ip.tos = opts.tos;
    ip.ip_id = f.ip_id;
    ip.flow_label = f.flow_label;
    if opts.flags & scamper_warts::ping::flags::V4RR != 0 {
        ip.options.push(IpOption::RecordRoute { slots: 9 });
    }
    if let Some(ts) = &opts.timestamp {
        ip.options.push(IpOption::Timestamp(match ts {
            TimestampOption::TsOnly => TsOption::TsOnly,
            TimestampOption::TsAndAddr => TsOption::TsAndAddr,
            TimestampOption::Prespec(a) => TsOption::TsPrespec(a.clone()),
        }));
    }
    let embed = real_src_len(opts);
    let mut payload = payload(opts, embed);
    if embed > 0 {
        let payload = payload.to_mut();
        let octets = match real_src {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        if octets.len() != embed {
            return Err(BuildError::FamilyMismatch);
        }
        // Option parsing made sure the payload has room for the address.
        if payload.len() < embed {
            return Err(BuildError::Unsupported(
                "payload too short for the real source",
            ));
        }
        payload[..embed].copy_from_slice(&octets);
    }
    let m = opts.method;
    if m == PingMethod::ICMP_TIME {
        build_icmp_timestamp_with_payload(
            &ip,
            f.sport,
            f.icmp_seq,
            ms_since_midnight(now),
            &payload,
        )
    } else if m.is_icmp() {
        let mut pkt = build_icmp_echo(&ip, f.sport, f.icmp_seq, &payload)?;
        if let Some(sum) = opts.icmp_sum {
            // The checksum bytes follow the embedded address, which must stay intact.
            fix_payload_for_icmp_checksum(&mut pkt, embed, sum)?;
        }
        Ok(pkt)
    } else if m.is_udp() {
        build_udp(&ip, f.sport, f.dport, &payload)
    } else {
        let t = TcpParams {
            sport: f.sport,
            dport: f.dport,
            seq: f.tcp_seq,
            ack: f.tcp_ack,
            flags: tcp_flags(m),
            window: TCP_WINDOW,
            mss: (opts.tcp_mss != 0).then_some(opts.tcp_mss),
            payload: payload.into_owned(),
        };
        build_tcp(&ip, &t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scamper_packet::{parse_ip, IcmpKind, RxTransport};

    fn opts(s: &str) -> PingOptions {
        let w: Vec<&str> = s.split_whitespace().collect();
        PingOptions::parse(&w).unwrap()
    }

    const SRC4: &str = "192.0.2.10";
    const SRC6: &str = "2001:db8::10";

    #[test]
    fn echo_probe_has_requested_header_values() {
        let o = opts("-m 12 -z 8 -d 100 -s 100 -p abcd 192.0.2.1");
        let f = fields(&o, 5000, 7, 3);
        assert_eq!((f.sport, f.icmp_seq), (5000, 103));
        let pkt = build(
            &o,
            SRC4.parse().unwrap(),
            SRC4.parse().unwrap(),
            &f,
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(pkt.len(), 100);
        let rx = parse_ip(&pkt).unwrap();
        assert_eq!(rx.dst, o.dst);
        assert_eq!((rx.ttl, rx.tos, rx.ip_id), (12, 8, u32::from(f.ip_id)));
        match rx.transport {
            RxTransport::Icmp(i) => {
                assert_eq!(i.kind, IcmpKind::EchoRequest { id: 5000, seq: 103 })
            }
            t => panic!("{t:?}"),
        }
        assert_eq!(&pkt[28..32], &[0xab, 0xcd, 0xab, 0xcd]);
    }

    #[test]
    fn ip_ids_are_distinct() {
        let o = opts("-c 65535 192.0.2.1");
        let mut seen = std::collections::HashSet::new();
        for i in 0..=u16::MAX {
            assert!(seen.insert(fields(&o, 1, 99, i).ip_id));
        }
    }

    #[test]
    fn ports_and_tcp_numbers_per_method() {
        let f = |m: &str, i| {
            fields(
                &opts(&format!("-P {m} -d 50 -A 1000 192.0.2.1")),
                40000,
                0,
                i,
            )
        };
        assert_eq!(
            (f("tcp-syn-sport", 2).sport, f("tcp-syn-sport", 2).dport),
            (40002, 50)
        );
        assert_eq!(f("tcp-syn-sport", 2).tcp_seq, 1000);
        assert_eq!(f("tcp-ack-sport", 2).tcp_ack, 1000);
        assert_eq!(
            (f("tcp-syn", 2).sport, f("tcp-syn", 2).tcp_seq),
            (40000, 1002)
        );
        assert_eq!(
            (f("tcp-ack", 2).tcp_ack, f("tcp-ack", 2).tcp_seq),
            (1002, 0)
        );
        assert_eq!(f("tcp-synack", 1).tcp_ack, 1001);
        assert_eq!(f("tcp-rst", 1).tcp_seq, 1001);
        let g = |m: &str, i| fields(&opts(&format!("-P {m} -d 50 192.0.2.1")), 40000, 0, i);
        assert_eq!(
            (g("udp-dport", 3).sport, g("udp-dport", 3).dport),
            (40000, 53)
        );
        assert_eq!(
            (g("udp-sport", 3).sport, g("udp-sport", 3).dport),
            (40003, 50)
        );
        assert_eq!((g("udp", 3).sport, g("udp", 3).dport), (40000, 50));
    }

    #[test]
    fn spoofed_probes_carry_the_real_source_unless_nosrc() {
        let spoofed: IpAddr = "192.0.2.99".parse().unwrap();
        let real: IpAddr = SRC4.parse().unwrap();
        let o = opts("-O spoof -S 192.0.2.99 192.0.2.1");
        let pkt = build(&o, spoofed, real, &fields(&o, 9, 0, 0), Duration::ZERO).unwrap();
        let rx = parse_ip(&pkt).unwrap();
        assert_eq!((rx.src, pkt.len()), (spoofed, usize::from(o.probe_size)));
        // IPv4 header (20), ICMP header (8), then the real source.
        assert_eq!(pkt[28..32], [192, 0, 2, 10]);
        assert!(pkt[32..].iter().all(|&b| b == 0));
        // -C: the checksum is reached with the bytes after the address.
        let o = opts("-O spoof -S 192.0.2.99 -C 4660 192.0.2.1");
        let pkt = build(&o, spoofed, real, &fields(&o, 9, 0, 0), Duration::ZERO).unwrap();
        assert_eq!(pkt[28..32], [192, 0, 2, 10]);
        assert_eq!(u16::from_be_bytes([pkt[22], pkt[23]]), 4660);
        // -O nosrc: the payload is left alone.
        let o = opts("-O spoof -O nosrc -S 192.0.2.99 192.0.2.1");
        let pkt = build(&o, spoofed, real, &fields(&o, 9, 0, 0), Duration::ZERO).unwrap();
        assert!(pkt[28..].iter().all(|&b| b == 0));
        // IPv6 UDP: 40 + 8 header bytes, then the 16-byte address.
        let o = opts("-P udp -O spoof -S 2001:db8::99 -b 20 2001:db8::1");
        let real6: IpAddr = SRC6.parse().unwrap();
        let pkt = build(
            &o,
            "2001:db8::99".parse().unwrap(),
            real6,
            &fields(&o, 9, 0, 0),
            Duration::ZERO,
        )
        .unwrap();
        let IpAddr::V6(r6) = real6 else { panic!() };
        assert_eq!(pkt[48..64], r6.octets());
    }

    #[test]
    fn tcp_probe_packet() {
        let o = opts("-P tcp-synack -A 77 -O mss=1400 -d 443 192.0.2.1");
        let f = fields(&o, 33000, 0, 1);
        let pkt = build(
            &o,
            SRC4.parse().unwrap(),
            SRC4.parse().unwrap(),
            &f,
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(pkt.len(), usize::from(o.probe_size));
        let rx = parse_ip(&pkt).unwrap();
        let t = rx.tcp().unwrap();
        assert_eq!(
            (t.sport, t.dport, t.ack, t.flags),
            (33000, 443, 78, TH_SYN | TH_ACK)
        );
        assert_eq!(t.mss, Some(1400));
    }

    #[test]
    fn udp_ipv6_probe_carries_flow_label_and_size() {
        let o = opts("-P udp 2001:db8::1");
        let f = fields(&o, 33000, 0, 4);
        assert_eq!(f.flow_label, 5);
        let pkt = build(
            &o,
            SRC6.parse().unwrap(),
            SRC6.parse().unwrap(),
            &f,
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(pkt.len(), usize::from(o.probe_size));
        let u = parse_ip(&pkt).unwrap();
        assert_eq!(
            (u.udp().unwrap().sport, u.udp().unwrap().dport),
            (33000, 33435)
        );
        // flow label sits in the low 20 bits of the first word
        assert_eq!(u32::from_be_bytes([0, pkt[1] & 0x0f, pkt[2], pkt[3]]), 5);
        // sport-varying methods need no flow label
        assert_eq!(fields(&opts("-P udp-sport ::1"), 1, 0, 4).flow_label, 0);
    }

    #[test]
    fn record_route_and_timestamp_sizes_match_options() {
        for s in ["-R", "-T tsonly", "-T tsandaddr", "-T tsprespec=192.0.2.5"] {
            let o = opts(&format!("{s} 192.0.2.1"));
            let pkt = build(
                &o,
                SRC4.parse().unwrap(),
                SRC4.parse().unwrap(),
                &fields(&o, 1, 0, 0),
                Duration::ZERO,
            )
            .unwrap();
            assert_eq!(pkt.len(), usize::from(o.probe_size), "{s}");
        }
    }

    #[test]
    fn icmp_checksum_is_forced() {
        let o = opts("-C 4660 192.0.2.1");
        let pkt = build(
            &o,
            SRC4.parse().unwrap(),
            SRC4.parse().unwrap(),
            &fields(&o, 9, 0, 2),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(u16::from_be_bytes([pkt[22], pkt[23]]), 4660);
    }

    #[test]
    fn timestamp_probe_carries_originate_time() {
        let o = opts("-P icmp-time 192.0.2.1");
        let now = Duration::from_secs(86_400 * 3 + 5) + Duration::from_millis(250);
        let pkt = build(
            &o,
            SRC4.parse().unwrap(),
            SRC4.parse().unwrap(),
            &fields(&o, 9, 0, 0),
            now,
        )
        .unwrap();
        assert_eq!(
            u32::from_be_bytes([pkt[28], pkt[29], pkt[30], pkt[31]]),
            5250
        );
    }
}
