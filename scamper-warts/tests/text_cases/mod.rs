//! Hand-built records that exercise the corners of the text writers (tests/text.rs). They are
//! written to tests/data/text/cases.warts by `cargo test -p scamper-warts --test text --
//! --ignored write_cases_warts`; the expected text beside it comes from the C tool (README.md
//! there).

use std::net::{Ipv4Addr, Ipv6Addr};

use scamper_warts::dealias::{
    Ally, Dealias, DealiasData, DealiasMethod, DealiasProbedef, DealiasResult, Mercator,
    ProbedefMethod,
};
use scamper_warts::ping::{Ping, PingProbe, PingReply, PingTsReply, PingV4Ts};
use scamper_warts::sting::{self, Sting, StingPkt};
use scamper_warts::tbit::{Tbit, TbitApp, TbitPkt, TbitResult, TbitType, TbitTypeData};
use scamper_warts::trace::{Trace, TracePmtud, TraceProbe, TraceReply};
use scamper_warts::tracelb::{
    Tracelb, TracelbLink, TracelbMethod, TracelbNode, TracelbProbe, TracelbReply,
};
use scamper_warts::{Addr, Record, Timeval};

fn v4(s: &str) -> Addr {
    Addr::V4(s.parse::<Ipv4Addr>().unwrap())
}

fn v6(s: &str) -> Addr {
    Addr::V6(s.parse::<Ipv6Addr>().unwrap())
}

fn tv(sec: u32, usec: u32) -> Timeval {
    Timeval { sec, usec }
}

// ---------------------------------------------------------------- tracelb

fn probe(flowid: u16, from: &[Addr]) -> TracelbProbe {
    TracelbProbe {
        tx: tv(1_700_000_000, 0),
        flowid,
        ttl: 2,
        attempt: 0,
        replies: from
            .iter()
            .map(|a| TracelbReply {
                from: Some(*a),
                rx: tv(1_700_000_000, 500),
                icmp_type: 11,
                ..Default::default()
            })
            .collect(),
    }
}

fn node(a: Option<Addr>) -> TracelbNode {
    TracelbNode {
        addr: a,
        ..Default::default()
    }
}

fn tracelb_base(src: Option<Addr>, dst: Addr) -> Tracelb {
    Tracelb {
        src,
        dst: Some(dst),
        start: tv(1_700_000_000, 0),
        method: TracelbMethod::UDP_DPORT,
        sport: 4000,
        dport: 33435,
        probe_size: 44,
        firsthop: 1,
        wait_timeout: tv(5, 0),
        wait_probe: tv(0, 250_000),
        attempts: 2,
        confidence: 99,
        ..Default::default()
    }
}

/// Branching nodes, links to nowhere, hops with partial answers and the address order.
fn tracelb_graph() -> Tracelb {
    let mut t = tracelb_base(Some(v4("192.0.2.1")), v4("198.51.100.9"));
    t.nodes = vec![
        node(Some(v4("192.0.2.254"))),
        node(Some(v4("198.51.100.2"))),
        node(Some(v4("10.0.0.9"))),
        node(Some(v4("198.51.100.9"))),
        node(None),
    ];
    let ps = |probes: Vec<TracelbProbe>| probes;
    t.links = vec![
        // node 0 branches three ways, one to nowhere
        TracelbLink {
            from: 0,
            to: Some(1),
            probesets: vec![ps(vec![probe(1, &[v4("198.51.100.2")])])],
        },
        TracelbLink {
            from: 0,
            to: Some(2),
            probesets: vec![ps(vec![probe(2, &[v4("10.0.0.9")])])],
        },
        TracelbLink {
            from: 0,
            to: None,
            probesets: vec![ps(vec![probe(3, &[])])],
        },
        // node 1: one link through three unnamed hops to the destination
        TracelbLink {
            from: 1,
            to: Some(3),
            probesets: vec![
                // answered by several addresses (printed in scamper's order), one flow silent
                ps(vec![
                    probe(1, &[v4("203.0.113.7")]),
                    probe(2, &[]),
                    probe(2, &[]),
                    probe(3, &[v4("10.1.2.3"), v4("203.0.113.7")]),
                    probe(4, &[v4("192.0.2.77")]),
                ]),
                // nothing answered
                ps(vec![probe(1, &[]), probe(1, &[]), probe(5, &[])]),
                // a retried flow answered on its second attempt
                ps(vec![probe(6, &[]), probe(6, &[v4("198.51.100.200")])]),
                ps(vec![probe(7, &[v4("198.51.100.9")])]),
            ],
        },
        // node 2: one link to nowhere, its last hop summarised
        TracelbLink {
            from: 2,
            to: None,
            probesets: vec![
                ps(vec![probe(1, &[v4("203.0.113.1")])]),
                ps(vec![probe(1, &[]), probe(2, &[v4("203.0.113.2")])]),
            ],
        },
        // node 4 (no address)
        TracelbLink {
            from: 4,
            to: Some(3),
            probesets: vec![ps(vec![probe(1, &[v4("198.51.100.9")])])],
        },
    ];
    t.probec = 21;
    t
}

/// IPv6 addresses, ordered by scamper's in-memory 64-bit words.
fn tracelb_v6() -> Tracelb {
    let mut t = tracelb_base(None, v6("2001:db8::9"));
    t.method = TracelbMethod::ICMP_ECHO;
    t.confidence = 95;
    t.nodes = vec![node(Some(v6("2001:db8::1"))), node(Some(v6("2001:db8::9")))];
    t.links = vec![TracelbLink {
        from: 0,
        to: Some(1),
        probesets: vec![
            vec![
                probe(1, &[v6("2001:db8:0:1::2")]),
                probe(2, &[v6("2001:db8:0:2::1")]),
                probe(3, &[v6("2001:db8::ff00:1")]),
                probe(4, &[v6("2001:db8::100:1")]),
                probe(5, &[v6("fe80::1")]),
                probe(6, &[v6("2001:db9::1")]),
            ],
            vec![probe(1, &[v6("2001:db8::9")])],
        ],
    }];
    t.probec = 7;
    t
}

/// A single link with so many hops that the node's line passes the C buffer (2048 bytes).
fn tracelb_long() -> Tracelb {
    let mut t = tracelb_base(Some(v6("2001:db8::1")), v6("2001:db8::ffff"));
    t.nodes = vec![
        node(Some(v6("2001:db8::1"))),
        node(Some(v6("2001:db8::ffff"))),
    ];
    let sets = (0..40u16)
        .map(|i| {
            vec![
                probe(1, &[v6(&format!("2001:db8:1234:5678:9abc:def0:{i:x}:1"))]),
                probe(2, &[v6(&format!("2001:db8:1234:5678:9abc:def0:{i:x}:2"))]),
                probe(3, &[]),
            ]
        })
        .collect();
    // the cut line runs on into the next node's text
    t.links = vec![
        TracelbLink {
            from: 0,
            to: None,
            probesets: sets,
        },
        TracelbLink {
            from: 1,
            to: None,
            probesets: vec![vec![probe(1, &[])]],
        },
    ];
    t.probec = 121;
    t
}

/// No links at all: the header only.
fn tracelb_empty() -> Tracelb {
    let mut t = tracelb_base(Some(v4("192.0.2.1")), v4("192.0.2.2"));
    t.nodes = vec![node(Some(v4("192.0.2.3")))];
    t.probec = 3;
    t.confidence = 95;
    t
}

// ---------------------------------------------------------------- dealias

fn probedef(id: u32, dst: Addr) -> DealiasProbedef {
    DealiasProbedef {
        id,
        method: ProbedefMethod::ICMP_ECHO,
        dst: Some(dst),
        src: Some(if dst.is_ipv4() {
            v4("192.0.2.1")
        } else {
            v6("2001:db8::1")
        }),
        ttl: 255,
        size: 84,
        icmp_id: 7,
        ..Default::default()
    }
}

fn ally(a: Addr, b: Addr, result: u8) -> Dealias {
    Dealias {
        start: tv(1_700_000_100, 0),
        method: DealiasMethod::ALLY,
        result: DealiasResult(result),
        data: DealiasData::Ally(Ally {
            wait_probe: tv(0, 150_000),
            wait_timeout: tv(5, 0),
            attempts: 5,
            fudge: 200,
            flags: 0,
        }),
        probedefs: vec![probedef(0, a), probedef(1, b)],
        ..Default::default()
    }
}

fn mercator() -> Dealias {
    Dealias {
        start: tv(1_700_000_200, 0),
        method: DealiasMethod::MERCATOR,
        result: DealiasResult::ALIASES,
        data: DealiasData::Mercator(Mercator {
            attempts: 3,
            wait_timeout: tv(5, 0),
        }),
        probedefs: vec![probedef(0, v4("192.0.2.9"))],
        ..Default::default()
    }
}

// ---------------------------------------------------------------- tbit

const TX: u8 = 1;
const RX: u8 = 2;

/// A TCP segment over IPv4: 20-byte IP header, TCP header with `opts` (padded to 4 bytes),
/// `datalen` payload bytes.
struct Seg<'a> {
    seq: u32,
    ack: u32,
    flags: u8,
    opts: &'a [u8],
    datalen: usize,
}

fn tcp_header(s: &Seg<'_>) -> Vec<u8> {
    let mut opts = s.opts.to_vec();
    while !opts.len().is_multiple_of(4) {
        opts.push(0);
    }
    let hlen = 20 + opts.len();
    let mut t = vec![0u8; hlen];
    t[0..2].copy_from_slice(&80u16.to_be_bytes());
    t[2..4].copy_from_slice(&4000u16.to_be_bytes());
    t[4..8].copy_from_slice(&s.seq.to_be_bytes());
    t[8..12].copy_from_slice(&s.ack.to_be_bytes());
    t[12] = ((hlen / 4) as u8) << 4;
    t[13] = s.flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    t[20..].copy_from_slice(&opts);
    t.extend(std::iter::repeat_n(0x61, s.datalen));
    t
}

/// IPv4 header in front of `payload`; `frag` = raw flags/offset word.
fn ipv4(tos: u8, id: u16, frag: u16, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 20];
    h[0] = 0x45;
    h[1] = tos;
    h[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&[192, 0, 2, 1]);
    h[16..20].copy_from_slice(&[192, 0, 2, 2]);
    h.extend_from_slice(payload);
    h
}

/// IPv6 header in front of `payload` (`next` = first next-header value).
fn ipv6(tclass: u8, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 40];
    h[0] = 0x60 | (tclass >> 4);
    h[1] = tclass << 4;
    h[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    h[6] = next;
    h[7] = 64;
    h[8] = 0x20;
    h[9] = 0x01;
    h[10] = 0x0d;
    h[11] = 0xb8;
    h[23] = 1;
    h.copy_within(8..24, 24);
    h[39] = 2;
    h.extend_from_slice(payload);
    h
}

fn pkt(dir: u8, ms: u32, data: Vec<u8>) -> TbitPkt {
    TbitPkt {
        dir,
        tv: tv(1_700_000_300 + ms / 1000, 250_000 + (ms % 1000) * 1000),
        data,
    }
}

fn sack(blocks: &[(u32, u32)]) -> Vec<u8> {
    let mut o = vec![1, 1, 5, (2 + 8 * blocks.len()) as u8];
    for (l, r) in blocks {
        o.extend_from_slice(&l.to_be_bytes());
        o.extend_from_slice(&r.to_be_bytes());
    }
    o
}

fn tbit_base(kind: TbitType, result: u16) -> Tbit {
    Tbit {
        src: Some(v4("192.0.2.1")),
        dst: Some(v4("192.0.2.2")),
        sport: 4000,
        dport: 80,
        start: tv(1_700_000_300, 250_000),
        result: TbitResult(result),
        kind,
        client_mss: 1460,
        server_mss: 1400,
        ..Default::default()
    }
}

/// An IPv4 exchange: SYN, SYN/ACK with ECE, data with DF and ECN marks, SACK blocks,
/// fragments, FIN, RST, an ICMP PTB and packets the writer shows bare.
fn tbit_v4() -> Tbit {
    let mut t = tbit_base(TbitType::SACK_RCVR, 51);
    t.app_proto = 1;
    t.app = Some(TbitApp::Http {
        host: Some("www.example.com".into()),
        file: Some("/index.html".into()),
        kind: 1,
    });
    let (c, s) = (0x1000_0000u32, 0xffff_fff0u32);
    let seg = |seq, ack, flags, opts: &[u8], datalen| {
        tcp_header(&Seg {
            seq,
            ack,
            flags,
            opts,
            datalen,
        })
    };
    let mss = [2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0];
    t.pkts = vec![
        pkt(TX, 1, ipv4(0, 1, 0x4000, 6, &seg(c, 0, 0xc2, &mss, 0))),
        pkt(RX, 51, ipv4(0, 0, 0x4000, 6, &seg(s, c + 1, 0x52, &mss, 0))),
        pkt(
            TX,
            52,
            ipv4(
                2,
                2,
                0x4000,
                6,
                &seg(c + 1, s.wrapping_add(1), 0x10, &[], 0),
            ),
        ),
        pkt(
            TX,
            53,
            ipv4(
                2,
                3,
                0x4000,
                6,
                &seg(c + 1, s.wrapping_add(1), 0x18, &[], 120),
            ),
        ),
        pkt(
            RX,
            120,
            ipv4(
                3,
                4,
                0x4000,
                6,
                &seg(s.wrapping_add(1), c + 121, 0x10, &[], 1360),
            ),
        ),
        pkt(
            RX,
            121,
            ipv4(
                1,
                5,
                0,
                6,
                &seg(s.wrapping_add(2721), c + 121, 0x50, &[], 1360),
            ),
        ),
        pkt(
            TX,
            122,
            ipv4(
                0,
                6,
                0x4000,
                6,
                &seg(
                    c + 121,
                    s.wrapping_add(1361),
                    0x90,
                    &sack(&[(s.wrapping_add(2721), s.wrapping_add(4081))]),
                    0,
                ),
            ),
        ),
        pkt(
            TX,
            123,
            ipv4(
                0,
                7,
                0,
                6,
                &seg(
                    c + 121,
                    s.wrapping_add(1361),
                    0x10,
                    &sack(&[
                        (s.wrapping_add(2721), s.wrapping_add(4081)),
                        (s.wrapping_add(5441), s.wrapping_add(6801)),
                        (7, 9),
                    ]),
                    0,
                ),
            ),
        ),
        // first fragment (MF, offset 0) then a later one (offset 1480)
        pkt(
            RX,
            130,
            ipv4(
                0,
                0x1234,
                0x2000,
                6,
                &seg(s.wrapping_add(4081), c + 121, 0x10, &[], 100),
            ),
        ),
        pkt(RX, 131, ipv4(0, 0x1234, 185, 6, &[0u8; 40])),
        pkt(RX, 132, ipv4(0, 0xabcd, 0x2000 | 185, 6, &[0u8; 40])),
        // ICMP packet too big (mtu 1280), another ICMP message, UDP
        pkt(
            RX,
            140,
            ipv4(0, 9, 0, 1, &[3, 4, 0, 0, 0, 0, 0x05, 0x00, 0, 0, 0, 0]),
        ),
        pkt(RX, 141, ipv4(0, 10, 0, 1, &[11, 0, 0, 0, 0, 0, 0, 0])),
        pkt(RX, 142, ipv4(0, 11, 0, 17, &[0u8; 16])),
        pkt(
            TX,
            1500,
            ipv4(
                0,
                12,
                0x4000,
                6,
                &seg(c + 121, s.wrapping_add(1361), 0x11, &[], 0),
            ),
        ),
        pkt(
            RX,
            1551,
            ipv4(
                0,
                13,
                0x4000,
                6,
                &seg(s.wrapping_add(8000), 0, 0x04, &[], 0),
            ),
        ),
        pkt(RX, 1552, ipv4(0, 14, 0x4000, 6, &seg(0, 0, 0x84, &[], 0))),
        // not IP: no line
        pkt(RX, 1553, vec![0x50; 40]),
        // recorded before the start, and a slow one
        TbitPkt {
            dir: RX,
            tv: tv(1_700_000_299, 900_000),
            data: ipv4(0, 15, 0, 6, &seg(1, 2, 0x10, &[], 0)),
        },
        pkt(RX, 123_456, ipv4(0, 16, 0, 6, &seg(1, 2, 0x10, &[], 0))),
    ];
    t
}

/// IPv6: extension headers, a zero-length one (which ends the C writer's walk), fragments,
/// ICMPv6 packet too big with an mtu that `%d` shows negative, traffic-class ECN.
fn tbit_v6() -> Tbit {
    let mut t = tbit_base(TbitType::PMTUD, 25);
    t.src = Some(v6("2001:db8::1"));
    t.dst = Some(v6("2001:db8::2"));
    t.type_data = Some(TbitTypeData::Pmtud {
        mtu: 1280,
        ptb_retx: 4,
        options: 0,
        ptbsrc: Some(v6("2001:db8::ff")),
    });
    t.app_proto = 1;
    t.app = Some(TbitApp::Http {
        host: Some("host.example".into()),
        file: None,
        kind: 0,
    });
    let seg = |seq, ack, flags, datalen| {
        tcp_header(&Seg {
            seq,
            ack,
            flags,
            opts: &[],
            datalen,
        })
    };
    let hop = |next: u8, len8: u8, rest: &[u8]| {
        let mut e = vec![next, len8];
        e.extend(std::iter::repeat_n(0, usize::from(len8) * 8 + 6));
        e.extend_from_slice(rest);
        e
    };
    let frag = |next: u8, off: u16, mf: bool, id: u32, rest: &[u8]| {
        let mut e = vec![next, 0];
        e.extend_from_slice(&(off | u16::from(mf)).to_be_bytes());
        e.extend_from_slice(&id.to_be_bytes());
        e.extend_from_slice(rest);
        e
    };
    let ptb = |mtu: u32| {
        let mut e = vec![2, 0, 0, 0];
        e.extend_from_slice(&mtu.to_be_bytes());
        e.extend_from_slice(&[0u8; 40]);
        e
    };
    t.pkts = vec![
        pkt(TX, 0, ipv6(0, 6, &seg(100, 0, 0x02, 0))),
        pkt(RX, 10, ipv6(0, 6, &seg(5000, 101, 0x12, 0))),
        pkt(TX, 11, ipv6(0x02, 6, &seg(101, 5001, 0x18, 50))),
        pkt(
            RX,
            20,
            ipv6(0x03, 0, &hop(6, 1, &seg(5001, 151, 0x10, 1000))),
        ),
        pkt(
            RX,
            21,
            ipv6(0x01, 60, &hop(6, 0, &seg(6001, 151, 0x10, 10))),
        ),
        pkt(
            RX,
            22,
            ipv6(
                0,
                44,
                &frag(6, 0, true, 0xdeadbeef, &seg(6001, 151, 0x10, 200)),
            ),
        ),
        pkt(RX, 23, ipv6(0, 44, &frag(6, 1232, false, 0x1f, &[0u8; 48]))),
        pkt(
            RX,
            24,
            ipv6(
                0,
                0,
                &hop(44, 2, &frag(6, 0, false, 0xa, &seg(7001, 151, 0x11, 0))),
            ),
        ),
        pkt(RX, 30, ipv6(0, 58, &ptb(1280))),
        pkt(RX, 31, ipv6(0, 58, &ptb(0xffff_fff0))),
        pkt(RX, 32, ipv6(0, 58, &[1, 4, 0, 0, 0, 0, 0, 0])),
        pkt(RX, 33, ipv6(0, 17, &[0u8; 16])),
    ];
    t
}

fn tbit_odd_app(host: Option<&str>, file: Option<&str>, result: u16) -> Tbit {
    let mut t = tbit_base(TbitType::ICW, result);
    t.type_data = Some(TbitTypeData::Icw { start_seq: 1 });
    t.app_proto = 1;
    t.app = Some(TbitApp::Http {
        host: host.map(str::to_string),
        file: file.map(str::to_string),
        kind: 1,
    });
    t
}

/// Thousands of identical CE-marked ACKs: more text than the C writer's 128 KiB buffer. The
/// host name's length moves the cut to a different part of the last line.
fn tbit_overflow(host_len: usize) -> Tbit {
    let mut t = tbit_base(TbitType::NULL, 0);
    t.app_proto = 1;
    t.app = Some(TbitApp::Http {
        host: Some("h".repeat(host_len)),
        file: None,
        kind: 0,
    });
    let ack = tcp_header(&Seg {
        seq: 1,
        ack: 1,
        flags: 0x10,
        opts: &[],
        datalen: 0,
    });
    let p = pkt(RX, 1, ipv4(3, 4, 0, 6, &ack));
    t.pkts = vec![p; 2400];
    t
}

/// The cases too big to keep uncompressed (tests/data/text/overflow.warts.gz).
pub fn overflow_cases() -> Vec<Record> {
    vec![
        Record::Tbit(Box::new(tbit_overflow(10))),
        Record::Tbit(Box::new(tbit_overflow(32))),
    ]
}

// ---------------------------------------------------------------- sting

fn sting_holes(src: Addr, dst: Addr) -> Sting {
    let mut flags_seq = vec![sting::flags::TX, sting::flags::RX];
    for i in 0..12u8 {
        let mut f = sting::flags::TX | sting::flags::DATA;
        if i % 5 == 2 {
            f |= sting::flags::HOLE;
        }
        flags_seq.push(f);
        flags_seq.push(sting::flags::RX);
    }
    Sting {
        src: Some(src),
        dst: Some(dst),
        sport: 40000,
        dport: 443,
        count: 12,
        mean: 1250,
        inter: 2000,
        dist: 1,
        synretx: 2,
        dataretx: 3,
        seqskip: 1,
        start: tv(1_700_000_400, 0),
        hsrtt: tv(0, 2000),
        dataackc: 9,
        holec: 3,
        result: 1,
        pkts: flags_seq
            .into_iter()
            .enumerate()
            .map(|(i, f)| StingPkt {
                flags: f,
                tv: tv(1_700_000_400, i as u32 * 1000),
                data: ipv4(0, i as u16, 0, 6, &[0u8; 20]),
            })
            .collect(),
        ..Default::default()
    }
}

// ---------------------------------------------------------------- ping and trace

/// A reply with an ICMP timestamp, nine record-route and four timestamp entries: more than
/// the C writer's 256-byte reply buffer. No source address; replies of odd protocols.
fn ping_odd() -> Ping {
    let dst = v4("198.51.100.200");
    let rr: Vec<Addr> = (0..9)
        .map(|i| v4(&format!("203.0.113.{}", 200 + i)))
        .collect();
    let reply = |proto: u8, tcp_flags: u8| PingReply {
        addr: Some(dst),
        flags: scamper_warts::ping::reply_flags::REPLY_TTL,
        reply_ttl: 250,
        reply_size: 1500,
        reply_proto: proto,
        tcp_flags,
        rtt: tv(1, 234_567),
        ..Default::default()
    };
    let long = PingReply {
        v4rr: Some(rr.clone()),
        v4ts: Some(PingV4Ts {
            timestamps: vec![1, 4_000_000_000, 3, 86_399_999],
            addrs: rr[..4].to_vec(),
        }),
        tsreply: Some(PingTsReply {
            originate: 4_294_967_295,
            receive: 0,
            transmit: 3_723_004,
        }),
        ..reply(1, 0)
    };
    let probe = |replies: Vec<PingReply>| {
        Some(PingProbe {
            tx: tv(1_700_000_500, 0),
            replies,
            ..Default::default()
        })
    };
    Ping {
        src: None,
        dst: Some(dst),
        start: tv(1_700_000_500, 0),
        // a UDP method, so that the reply protocols are stored
        method: scamper_warts::ping::PingMethod(3),
        probe_count: 5,
        probe_size: 84,
        ping_sent: 5,
        probes: vec![
            probe(vec![long]),
            probe(vec![reply(58, 0), reply(6, 0x12), reply(6, 0x52)]),
            None,
            probe(vec![reply(6, 0x18), reply(17, 0)]),
            probe(vec![PingReply {
                v4ts: Some(PingV4Ts {
                    timestamps: vec![7, 8],
                    addrs: Vec::new(),
                }),
                ..reply(1, 0)
            }]),
        ],
        ..Default::default()
    }
}

/// Unreachable codes without a letter, on both families.
fn trace_odd() -> Trace {
    let reply = |a: Addr, icmp_type: u8, icmp_code: u8| TraceReply {
        addr: Some(a),
        rtt: tv(0, 1500),
        icmp_type,
        icmp_code,
        ..Default::default()
    };
    let probe = |ttl: u8, replies: Vec<TraceReply>| TraceProbe {
        ttl,
        id: 0,
        size: 60,
        tx: tv(1_700_000_600, 0),
        replies,
    };
    let (a, b) = (v4("192.0.2.30"), v6("2001:db8::30"));
    Trace {
        src: Some(v4("192.0.2.1")),
        dst: Some(a),
        start: tv(1_700_000_600, 0),
        attempts: 1,
        hop_count: 4,
        probec: 4,
        probes: vec![
            probe(1, vec![reply(a, 3, 9)]),
            probe(2, vec![reply(a, 3, 3), reply(a, 12, 1)]),
            probe(3, vec![reply(b, 1, 5)]),
            probe(4, vec![reply(b, 1, 4), reply(b, 4, 0)]),
        ],
        ..Default::default()
    }
}

/// Silent hops printed one `*` per attempt (all-attempts), past hop 99, and with no attempts.
fn trace_allattempts(hop_count: u16, attempts: u8) -> Trace {
    let a = v4("192.0.2.40");
    Trace {
        src: Some(v4("192.0.2.1")),
        dst: Some(a),
        start: tv(1_700_000_700, 0),
        flags: scamper_warts::trace::flags::ALLATTEMPTS,
        attempts,
        hop_count,
        probec: 1,
        probes: vec![TraceProbe {
            ttl: 1,
            id: 0,
            size: 60,
            tx: tv(1_700_000_700, 0),
            replies: vec![TraceReply {
                addr: Some(a),
                rtt: tv(0, 999),
                icmp_type: 11,
                ..Default::default()
            }],
        }],
        ..Default::default()
    }
}

/// Version-1 path-MTU data: two packet-too-bigs from hops on the path; no annotation after
/// the last one.
fn trace_pmtud_v1() -> Trace {
    let hop = |ttl: u8, from: &str| TraceProbe {
        ttl,
        id: 1,
        size: 44,
        tx: tv(1_700_000_800, 0),
        replies: vec![TraceReply {
            addr: Some(v4(from)),
            rtt: tv(0, u32::from(ttl) * 1000),
            icmp_type: if ttl == 5 { 3 } else { 11 },
            icmp_code: if ttl == 5 { 3 } else { 0 },
            icmp_q_ttl: 1,
            ..Default::default()
        }],
    };
    let ptb = |size: u16, from: &str, nhmtu: u16| TraceProbe {
        ttl: 255,
        id: 1,
        size,
        tx: tv(1_700_000_801, 0),
        replies: vec![TraceReply {
            addr: Some(v4(from)),
            rtt: tv(0, 9000),
            icmp_type: 3,
            icmp_code: 4,
            icmp_q_ttl: 1,
            icmp_nhmtu: nhmtu,
            ..Default::default()
        }],
    };
    Trace {
        src: Some(v4("192.0.2.1")),
        dst: Some(v4("192.0.2.2")),
        start: tv(1_700_000_800, 0),
        flags: scamper_warts::trace::flags::PMTUD,
        attempts: 1,
        hop_count: 5,
        probec: 5,
        probes: vec![
            hop(1, "192.0.2.4"),
            hop(2, "192.0.2.5"),
            hop(3, "192.0.2.6"),
            hop(4, "192.0.2.7"),
            hop(5, "192.0.2.2"),
        ],
        pmtud: Some(TracePmtud {
            ifmtu: 1500,
            pmtu: 1480,
            ver: 1,
            probes: vec![ptb(1500, "192.0.2.5", 1492), ptb(1492, "192.0.2.7", 1480)],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every hand-built case, in file order.
pub fn cases() -> Vec<Record> {
    let mut sting_no_holes = sting_holes(v4("192.0.2.1"), v4("192.0.2.2"));
    sting_no_holes.holec = 0;
    sting_no_holes.mean = 0;
    vec![
        Record::Tracelb(Box::new(tracelb_graph())),
        Record::Tracelb(Box::new(tracelb_v6())),
        Record::Tracelb(Box::new(tracelb_long())),
        Record::Tracelb(Box::new(tracelb_empty())),
        Record::Dealias(Box::new(ally(v4("192.0.2.5"), v4("192.0.2.6"), 1))),
        Record::Dealias(Box::new(ally(v6("2001:db8::5"), v6("2001:db8::6"), 0))),
        Record::Dealias(Box::new(ally(v4("192.0.2.5"), v4("198.51.100.6"), 3))),
        Record::Dealias(Box::new(ally(v4("192.0.2.5"), v4("198.51.100.6"), 5))),
        Record::Dealias(Box::new(mercator())),
        Record::Tbit(Box::new(tbit_v4())),
        Record::Tbit(Box::new(tbit_v6())),
        Record::Tbit(Box::new(tbit_odd_app(Some("h.example"), None, 61))),
        Record::Tbit(Box::new(tbit_odd_app(None, Some("/f"), 15))),
        Record::Sting(Box::new(sting_holes(v6("2001:db8::1"), v6("2001:db8::2")))),
        Record::Sting(Box::new(sting_no_holes)),
        Record::Ping(Box::new(ping_odd())),
        Record::Trace(Box::new(trace_odd())),
        Record::Trace(Box::new(trace_allattempts(102, 3))),
        Record::Trace(Box::new(trace_allattempts(3, 0))),
        Record::Trace(Box::new(trace_pmtud_v1())),
    ]
}
