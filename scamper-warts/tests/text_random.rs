//! Pseudo-random tbit, tracelb, trace and ping records against scamper's own sc_warts2text
//! (20260420): tests/data/text/random.warts.gz is what `records(SEED)` writes
//! (`cargo test -p scamper-warts --test text_random -- --ignored write_random_records`) and
//! random.txt.gz the C tool's text for it (see the README there).
//! `SCRS_TEXT_RANDOM_OUT=/tmp/r.warts SCRS_TEXT_RANDOM_SEED=<n>` with the ignored test writes
//! another set, for a wider differential check by hand.

use std::io::Read;
use std::path::{Path, PathBuf};

use std::net::{Ipv4Addr, Ipv6Addr};

use scamper_warts::ping::{Ping, PingProbe, PingReply, PingTsReply, PingV4Ts};
use scamper_warts::tbit::{Tbit, TbitApp, TbitPkt, TbitResult, TbitType};
use scamper_warts::trace::{Trace, TracePmtud, TracePmtudNote, TraceProbe, TraceReply};
use scamper_warts::tracelb::{Tracelb, TracelbLink, TracelbNode, TracelbProbe, TracelbReply};
use scamper_warts::{decompress_reader, text, Addr, Record, Timeval, WartsReader, WartsWriter};

mod support;
use support::Rng;

fn addr(r: &mut Rng, v6: bool) -> Addr {
    if v6 {
        let mut o = [0u8; 16];
        o[0] = 0x20;
        o[1] = 0x01;
        o[2] = 0x0d;
        o[3] = 0xb8;
        for b in o.iter_mut().skip(4) {
            if r.below(3) == 0 {
                *b = r.byte();
            }
        }
        Addr::V6(Ipv6Addr::from(o))
    } else {
        Addr::V4(Ipv4Addr::new(
            r.pick(&[10, 192, 198, 203, 1, 255]),
            r.byte(),
            r.below(4) as u8,
            r.byte(),
        ))
    }
}

fn tv(r: &mut Rng) -> Timeval {
    Timeval {
        sec: 1_700_000_000 + r.below(3),
        usec: r.below(1_000_000),
    }
}

fn tbit(r: &mut Rng) -> Tbit {
    let v6 = r.below(2) == 0;
    let mut pkts = Vec::new();
    for _ in 0..r.below(12) {
        // long enough for every read the C writer makes; random headers, zeros after them
        // (so the fixture compresses)
        let mut d: Vec<u8> = (0..400)
            .map(|i| if i < 100 { r.byte() } else { 0 })
            .collect();
        match r.below(8) {
            0 => d[0] = r.byte(),
            1..=3 => {
                d[0] = 0x45 + (r.below(3) as u8);
                d[9] = r.pick(&[6, 6, 6, 1, 17, 58]);
                if r.below(3) != 0 {
                    d[6] &= 0xe0 | (r.below(2) as u8);
                    d[7] = 0;
                }
                if d[9] == 1 && r.below(2) == 0 {
                    let h = usize::from(d[0] & 0xf) * 4;
                    d[h] = 3;
                    d[h + 1] = 4;
                }
            }
            _ => {
                d[0] = 0x60 | (d[0] & 0xf);
                d[6] = r.pick(&[6, 6, 0, 43, 44, 60, 58, 17]);
                d[40] = r.pick(&[6, 44, 0, 58]);
                d[41] = r.pick(&[0, 1, 2, 30]);
                if d[6] == 58 && r.below(2) == 0 {
                    d[40] = 2;
                }
                if d[6] == 44 && r.below(2) == 0 {
                    d[42] = 0;
                    d[43] &= 1;
                }
            }
        }
        if r.below(2) == 0 {
            // a TCP header with options
            let h = if d[0] >> 4 == 4 {
                usize::from(d[0] & 0xf) * 4
            } else {
                40
            };
            d[h + 12] = (r.pick(&[5u8, 8, 10, 15]) << 4) | (d[h + 12] & 0xf);
            let mut i = h + 20;
            while i < h + 60 {
                match r.below(5) {
                    0 => {
                        d[i] = 1;
                        i += 1;
                    }
                    1 | 2 => {
                        let n = r.pick(&[1u8, 2, 3, 4]);
                        d[i] = 5;
                        d[i + 1] = 2 + 8 * n;
                        i += usize::from(d[i + 1]);
                    }
                    _ => i += 4,
                }
            }
        }
        pkts.push(TbitPkt {
            dir: r.pick(&[1, 2, 2, 3]),
            tv: tv(r),
            data: d,
        });
    }
    let app = match r.below(4) {
        0 => Some(TbitApp::Http {
            host: Some("example.org".into()),
            file: Some("/x".into()),
            kind: r.below(2) as u8,
        }),
        1 => Some(TbitApp::Http {
            host: None,
            file: Some("/y".into()),
            kind: 0,
        }),
        _ => None,
    };
    Tbit {
        src: Some(addr(r, v6)),
        dst: Some(addr(r, v6)),
        start: tv(r),
        result: TbitResult(r.below(90) as u16),
        kind: TbitType(1 + r.below(10) as u8),
        app_proto: if app.is_some() { 1 } else { 0 },
        app,
        server_mss: r.below(65536) as u16,
        pkts,
        ..Default::default()
    }
}

fn tracelb(r: &mut Rng) -> Tracelb {
    let v6 = r.below(3) == 0;
    let nodec = 1 + r.below(6) as u16;
    let nodes: Vec<TracelbNode> = (0..nodec)
        .map(|_| TracelbNode {
            addr: if r.below(8) == 0 {
                None
            } else {
                Some(addr(r, v6))
            },
            ..Default::default()
        })
        .collect();
    let mut links = Vec::new();
    for from in 0..nodec {
        for _ in 0..r.pick(&[0, 1, 1, 2, 3]) {
            let sets = (0..1 + r.below(4))
                .map(|_| {
                    let mut flow = 1;
                    (0..1 + r.below(5))
                        .map(|_| {
                            if r.below(2) == 0 {
                                flow += 1;
                            }
                            TracelbProbe {
                                tx: tv(r),
                                flowid: flow,
                                ttl: 1,
                                attempt: 0,
                                replies: (0..r.pick(&[0, 0, 1, 1, 2]))
                                    .map(|_| TracelbReply {
                                        from: Some(addr(r, v6)),
                                        rx: tv(r),
                                        icmp_type: 11,
                                        ..Default::default()
                                    })
                                    .collect(),
                            }
                        })
                        .collect()
                })
                .collect();
            links.push(TracelbLink {
                from,
                // the C writer cannot print a link to a node without an address
                to: Some(r.below(u32::from(nodec)) as u16)
                    .filter(|&i| r.below(3) != 0 && nodes[usize::from(i)].addr.is_some()),
                probesets: sets,
            });
        }
    }
    Tracelb {
        src: if r.below(4) == 0 {
            None
        } else {
            Some(addr(r, v6))
        },
        dst: Some(addr(r, v6)),
        start: tv(r),
        probec: r.next(),
        confidence: r.byte(),
        nodes,
        links,
        ..Default::default()
    }
}

fn trace(r: &mut Rng) -> Trace {
    let v6 = r.below(3) == 0;
    let hops = r.below(8) as u8;
    let mut probes = Vec::new();
    for ttl in 1..=hops {
        for id in 0..r.below(4) as u8 {
            let replies = (0..r.pick(&[0, 1, 1, 2]))
                .map(|_| {
                    let tcp = r.below(5) == 0;
                    TraceReply {
                        addr: Some(if r.below(3) == 0 {
                            addr(r, v6)
                        } else {
                            addr(&mut Rng(u64::from(ttl) + 7), v6)
                        }),
                        flags: if tcp { 0x02 } else { 0 },
                        rtt: Timeval {
                            sec: r.below(2),
                            usec: r.below(1_000_000),
                        },
                        icmp_type: if v6 {
                            r.pick(&[3, 1, 129, 2, 4, 1])
                        } else {
                            r.pick(&[11, 3, 0, 12, 3])
                        },
                        icmp_code: r.pick(&[0, 1, 2, 3, 4, 5, 9, 13]),
                        tcp_flags: r.byte(),
                        ..Default::default()
                    }
                })
                .collect();
            probes.push(TraceProbe {
                ttl,
                id,
                size: 60,
                tx: tv(r),
                replies,
            });
        }
    }
    let pmtud = (r.below(3) == 0).then(|| pmtud(r, v6, &probes));
    Trace {
        pmtud,
        stop_hop: r.pick(&[0, 0, 0, 1, 2, 3, 200]),
        src: Some(addr(r, v6)),
        dst: Some(addr(r, v6)),
        start: tv(r),
        flags: if r.below(2) == 0 {
            scamper_warts::trace::flags::ALLATTEMPTS
        } else {
            0
        },
        attempts: r.below(4) as u8,
        method: scamper_warts::trace::TraceMethod(r.pick(&[1, 2, 3, 4, 5, 6])),
        // silent hops after the last reply, sometimes past hop 99
        hop_count: u16::from(hops)
            + if r.below(10) == 0 {
                100
            } else {
                r.below(3) as u16
            },
        probec: probes.len() as u16,
        probes,
        ..Default::default()
    }
}

/// Path-MTU data: packet-too-bigs from the trace's own hop addresses (or others), at
/// various quoted TTLs, and version-2 notes pointing at them.
fn pmtud(r: &mut Rng, v6: bool, hops: &[TraceProbe]) -> TracePmtud {
    let hop_addrs: Vec<Addr> = hops
        .iter()
        .flat_map(|p| p.replies.iter().filter_map(|x| x.addr))
        .collect();
    let ifmtu = r.pick(&[1500, 9000, 1280]);
    let mut probes = Vec::new();
    let mut nreplies = 0u16;
    for _ in 0..r.below(5) {
        let replies: Vec<TraceReply> = (0..r.pick(&[0, 1, 1, 1, 2]))
            .map(|_| {
                let a = if !hop_addrs.is_empty() && r.below(4) != 0 {
                    hop_addrs[r.below(hop_addrs.len() as u32) as usize]
                } else {
                    addr(r, v6)
                };
                let ptb = r.below(4) != 0;
                TraceReply {
                    addr: Some(a),
                    rtt: Timeval {
                        sec: 0,
                        usec: r.below(100_000),
                    },
                    icmp_type: match (v6, ptb) {
                        (false, true) => 3,
                        (true, true) => 2,
                        (false, false) => 11,
                        (true, false) => 3,
                    },
                    icmp_code: if !v6 && ptb { 4 } else { 0 },
                    icmp_nhmtu: r.pick(&[0, 1280, 1400, 1480, 576, 9000]),
                    icmp_q_ttl: r.pick(&[0, 1, 1, 2, 3]),
                    ..Default::default()
                }
            })
            .collect();
        nreplies += replies.len() as u16;
        probes.push(TraceProbe {
            ttl: r.pick(&[1, 2, 3, 4, 255]),
            id: 0,
            size: r.pick(&[1500, 1480, 1400, 1280, 9000]),
            tx: tv(r),
            replies,
        });
    }
    // our reader wants the PMTUD probes in TTL order (the C reader does not mind)
    probes.sort_by_key(|p| p.ttl);
    let ver = r.pick(&[1, 2, 2]);
    let notes = if ver == 2 {
        (0..r.below(4))
            .map(|_| TracePmtudNote {
                kind: r.pick(&[1, 2, 3]),
                nhmtu: r.pick(&[0, 1280, 1400, 1492]),
                reply: (nreplies > 0 && r.below(4) != 0)
                    .then(|| r.below(u32::from(nreplies)) as u16),
            })
            .collect()
    } else {
        Vec::new()
    };
    TracePmtud {
        ifmtu,
        pmtu: r.pick(&[0, 1280, 1400, 1500]),
        outmtu: r.pick(&[0, 0, 1492]),
        ver,
        probes,
        notes,
    }
}

fn ping(r: &mut Rng) -> Ping {
    let v6 = r.below(3) == 0;
    let sent = r.below(6) as u16;
    let dst = addr(r, v6);
    let probes = (0..sent)
        .map(|_| {
            if r.below(3) == 0 {
                return None;
            }
            Some(PingProbe {
                tx: tv(r),
                replies: (0..r.pick(&[1, 1, 2]))
                    .map(|_| PingReply {
                        addr: Some(if r.below(4) == 0 { addr(r, v6) } else { dst }),
                        reply_ttl: r.byte(),
                        reply_size: r.below(1500) as u16,
                        reply_proto: if v6 {
                            r.pick(&[58, 58, 6, 17, 1])
                        } else {
                            r.pick(&[1, 1, 6, 17, 58])
                        },
                        // record route, IP timestamps (with or without addresses) and ICMP
                        // timestamp replies; long RR lists pass the C reply buffer
                        v4rr: (!v6 && r.below(4) == 0)
                            .then(|| (0..1 + r.below(9)).map(|_| addr(r, false)).collect()),
                        v4ts: (!v6 && r.below(4) == 0).then(|| {
                            let n = r.below(5) as usize;
                            PingV4Ts {
                                timestamps: (0..n).map(|_| r.next()).collect(),
                                addrs: if r.below(2) == 0 {
                                    Vec::new()
                                } else {
                                    (0..n).map(|_| addr(r, false)).collect()
                                },
                            }
                        }),
                        tsreply: (r.below(4) == 0).then(|| PingTsReply {
                            originate: r.next(),
                            receive: r.below(86_400_000),
                            transmit: r.below(100_000_000),
                        }),
                        icmp_type: r.pick(&[0, 3, 11, 129, 1]),
                        icmp_code: r.pick(&[0, 1, 3]),
                        tcp_flags: r.byte(),
                        rtt: Timeval {
                            sec: r.below(2),
                            usec: r.below(1_000_000),
                        },
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        })
        .collect();
    Ping {
        src: (r.below(5) != 0).then(|| addr(r, v6)),
        dst: Some(dst),
        start: tv(r),
        probe_count: sent,
        probe_size: 84,
        method: scamper_warts::ping::PingMethod(r.below(10) as u8),
        ping_sent: sent,
        probes,
        ..Default::default()
    }
}

const SEED: u64 = 0x1234_5678_9abc_def0;

fn records(seed: u64) -> Vec<Record> {
    let mut r = Rng(seed);
    (0..200)
        .map(|i| match i % 4 {
            0 => Record::Tbit(Box::new(tbit(&mut r))),
            1 => Record::Tracelb(Box::new(tracelb(&mut r))),
            2 => Record::Trace(Box::new(trace(&mut r))),
            _ => Record::Ping(Box::new(ping(&mut r))),
        })
        .collect()
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/text")
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    decompress_reader(f).unwrap().read_to_end(&mut out).unwrap();
    out
}

#[test]
fn random_records_match_sc_warts2text() {
    let bytes = gunzip(&data_dir().join("random.warts.gz"));
    // the file holds what the generator writes (the records themselves do not survive a
    // round trip exactly: warts drops unanswered probes and fills some defaults)
    let mut w = WartsWriter::new(Vec::new());
    for rec in records(SEED) {
        w.write(&rec).unwrap();
    }
    assert!(
        w.into_inner() == bytes,
        "random.warts.gz is not what the generator writes"
    );
    let recs: Vec<Record> = WartsReader::new(&bytes[..]).map(|r| r.unwrap()).collect();
    let want = String::from_utf8(gunzip(&data_dir().join("random.txt.gz"))).unwrap();
    let got: String = recs.iter().filter_map(text::to_text).collect();
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {}", i + 1);
    }
    assert_eq!(got.len(), want.len());
}

#[test]
#[ignore]
fn write_random_records() {
    let (out, seed) = match std::env::var("SCRS_TEXT_RANDOM_OUT") {
        Ok(out) => {
            let seed = std::env::var("SCRS_TEXT_RANDOM_SEED").map_or(SEED, |s| s.parse().unwrap());
            (PathBuf::from(out), seed)
        }
        Err(_) => (data_dir().join("random.warts.gz"), SEED),
    };
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut w = WartsWriter::new(gz);
    for rec in records(seed) {
        w.write(&rec).unwrap();
    }
    std::fs::write(out, w.into_inner().finish().unwrap()).unwrap();
}
