//! Property: any record we can write reads back, and read → write → read is stable.

use std::sync::Arc;

use proptest::prelude::*;
use scamper_warts::ping::{
    Ping, PingMethod, PingProbe, PingReply, PingStop, PingTsReply, PingV4Ts,
};
use scamper_warts::trace::{
    Trace, TraceDtree, TraceMethod, TracePmtud, TracePmtudNote, TraceProbe, TraceReply, TraceStop,
};
use scamper_warts::{
    icmpext::IcmpExt, Addr, Cycle, List, Record, Timeval, WartsReader, WartsWriter,
};

fn addr() -> impl Strategy<Value = Addr> {
    prop_oneof![
        any::<u32>().prop_map(|v| Addr::V4(v.into())),
        any::<u128>().prop_map(|v| Addr::V6(v.into())),
        (0u32..4).prop_map(|v| Addr::V4(std::net::Ipv4Addr::from(0x7f00_0001 + v))),
    ]
}

fn tv() -> impl Strategy<Value = Timeval> {
    (any::<u32>(), 0u32..1_000_000).prop_map(|(s, u)| Timeval::new(s, u))
}

fn short_str() -> impl Strategy<Value = String> {
    "[a-z0-9 \"\\\\é]{0,12}"
}

fn cycle() -> impl Strategy<Value = Option<Arc<Cycle>>> {
    proptest::option::of(
        (
            any::<u32>(),
            short_str(),
            proptest::option::of(short_str()),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(|(id, name, mon, cid, start)| {
                let list = Arc::new(List {
                    id,
                    name,
                    descr: Some("default".into()),
                    monitor: mon,
                });
                Arc::new(Cycle {
                    list,
                    id: cid,
                    start_time: start,
                    stop_time: 0,
                    hostname: Some("vm".into()),
                })
            }),
    )
}

fn ping_reply() -> impl Strategy<Value = PingReply> {
    (
        addr(),
        any::<u8>(),
        (
            any::<u8>(),
            any::<u16>(),
            prop_oneof![Just(1u8), Just(58), Just(6), Just(17)],
            any::<u8>(),
        ),
        (
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            any::<u8>(),
        ),
        (0u32..4_000_000_000).prop_map(Timeval::from_usec32),
        proptest::option::of("[a-z]{1,4}"),
        proptest::option::of(proptest::collection::vec(addr(), 0..4)),
        proptest::option::of((proptest::collection::vec(any::<u32>(), 0..4), any::<bool>())),
        proptest::option::of((any::<u32>(), any::<u32>(), any::<u32>())),
    )
        .prop_map(
            |(
                a,
                flags,
                (ttl, size, proto, tos),
                (ipid, it, ic, mtu, tcpf),
                rtt,
                ifname,
                rr,
                ts,
                tsr,
            )| PingReply {
                addr: Some(a),
                flags: flags & 0x3f,
                reply_ttl: ttl,
                reply_size: size,
                reply_proto: proto,
                reply_tos: tos,
                reply_ipid: ipid,
                icmp_type: it,
                icmp_code: ic,
                icmp_nhmtu: mtu,
                tcp_flags: tcpf,
                rtt,
                ifname,
                v4rr: rr,
                v4ts: ts.map(|(t, with)| PingV4Ts {
                    addrs: if with {
                        t.iter().map(|&x| Addr::V4(x.into())).collect()
                    } else {
                        vec![]
                    },
                    timestamps: t,
                }),
                tsreply: tsr.map(|(o, r, t)| PingTsReply {
                    originate: o,
                    receive: r,
                    transmit: t,
                }),
            },
        )
}

fn ping() -> impl Strategy<Value = Ping> {
    (
        (
            cycle(),
            any::<u32>(),
            proptest::option::of(addr()),
            addr(),
            proptest::option::of(addr()),
            tv(),
        ),
        (
            0u8..6,
            any::<u8>(),
            proptest::option::of(short_str()),
            proptest::collection::vec(any::<u8>(), 0..8),
        ),
        (
            any::<u16>(),
            any::<u16>(),
            0u8..12,
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            any::<u16>(),
        ),
        (
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(proptest::collection::vec(addr(), 0..3)),
        ),
        (tv(), tv(), any::<u16>(), any::<u16>(), any::<u32>()),
        proptest::collection::vec(
            proptest::option::of((
                tv(),
                any::<u16>(),
                any::<u16>(),
                proptest::collection::vec(ping_reply(), 0..3),
            )),
            0..5,
        ),
    )
        .prop_map(
            |(
                (cy, userid, src, dst, rtr, start),
                (sr, sd, err, data),
                (pc, ps, m, ttl, tos, sp, dp),
                (csum, seq, ack, tsps),
                (wp, wt, sc, pmtu, flags),
                probes,
            )| {
                let probes: Vec<Option<PingProbe>> = probes
                    .into_iter()
                    .map(|p| {
                        p.map(|(tx, sport, ipid, replies)| PingProbe {
                            tx,
                            sport,
                            ipid,
                            flags: 0,
                            replies,
                        })
                    })
                    .collect();
                Ping {
                    list: cy.as_ref().map(|c| c.list.clone()),
                    cycle: cy,
                    userid,
                    src,
                    dst: Some(dst),
                    rtr,
                    start,
                    stop_reason: PingStop(sr),
                    stop_data: sd,
                    errmsg: err,
                    data,
                    probe_count: pc,
                    probe_size: ps,
                    method: PingMethod(m),
                    probe_ttl: ttl,
                    probe_tos: tos,
                    probe_sport: sp,
                    probe_dport: dp,
                    probe_icmpsum: csum,
                    probe_tcpseq: seq,
                    probe_tcpack: ack,
                    probe_tsps: tsps,
                    wait_probe: wp,
                    wait_timeout: wt,
                    stop_count: sc,
                    pmtu,
                    flags,
                    ping_sent: probes.len() as u16,
                    probes,
                }
            },
        )
}

fn trace_probe(ttl: u8) -> impl Strategy<Value = TraceProbe> {
    (
        1u8..4,
        any::<u16>(),
        tv(),
        proptest::collection::vec(
            (
                addr(),
                proptest::option::of("[a-z.]{1,8}"),
                any::<u8>(),
                (any::<u8>(), any::<u8>(), any::<u16>(), any::<u16>()),
                (0u32..4_000_000_000).prop_map(Timeval::from_usec32),
                (
                    prop_oneof![Just(11u8), Just(3), Just(0), Just(1), Just(2)],
                    any::<u8>(),
                    any::<u16>(),
                    any::<u8>(),
                    any::<u8>(),
                    any::<u16>(),
                    any::<u8>(),
                ),
                proptest::collection::vec(
                    (
                        any::<u8>(),
                        any::<u8>(),
                        proptest::collection::vec(any::<u8>(), 0..8),
                    ),
                    0..2,
                ),
            ),
            1..3,
        ),
    )
        .prop_map(move |(id, size, tx, replies)| TraceProbe {
            ttl,
            id,
            size,
            tx,
            replies: replies
                .into_iter()
                .map(
                    |(
                        a,
                        name,
                        flags,
                        (rttl, rtos, rsize, ipid),
                        rtt,
                        (it, ic, qlen, qttl, qtos, mtu, tcpf),
                        exts,
                    )| TraceReply {
                        addr: Some(a),
                        name,
                        flags: flags & 0x77,
                        reply_ttl: rttl,
                        reply_tos: rtos,
                        reply_size: rsize,
                        reply_ipid: ipid,
                        rtt,
                        icmp_type: it,
                        icmp_code: ic,
                        icmp_q_iplen: qlen,
                        icmp_q_ttl: qttl,
                        icmp_q_tos: qtos,
                        icmp_nhmtu: mtu,
                        tcp_flags: tcpf,
                        icmp_exts: exts
                            .into_iter()
                            .map(|(cn, ct, data)| IcmpExt {
                                class_num: cn,
                                class_type: ct,
                                data,
                            })
                            .collect(),
                    },
                )
                .collect(),
        })
}

fn trace() -> impl Strategy<Value = Trace> {
    (
        (
            cycle(),
            any::<u32>(),
            proptest::option::of(addr()),
            addr(),
            proptest::option::of(addr()),
            tv(),
            0u8..11,
            proptest::option::of(short_str()),
        ),
        (
            any::<u32>(),
            any::<u8>(),
            1u8..7,
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            0u32..256,
            0u32..256,
        ),
        (1u8..5).prop_flat_map(|n| (1..=n).map(trace_probe).collect::<Vec<_>>()),
        proptest::option::of((
            any::<u16>(),
            any::<u16>(),
            1u8..3,
            (1u8..3).prop_flat_map(|n| (1..=n).map(trace_probe).collect::<Vec<_>>()),
            proptest::collection::vec((0u8..4, any::<u16>(), proptest::option::of(0u16..2)), 0..3),
        )),
        proptest::option::of(
            (1u8..3).prop_flat_map(|n| (1..=n).map(trace_probe).collect::<Vec<_>>()),
        ),
        proptest::option::of((
            any::<u8>(),
            proptest::option::of(addr()),
            proptest::option::of(addr()),
            proptest::option::of(short_str()),
            any::<u8>(),
        )),
    )
        .prop_map(
            |(
                (cy, userid, src, dst, rtr, start, sr, err),
                (flags, att, m, size, sp, dp, fh, tos, wt, wp),
                probes,
                pm,
                ld,
                dt,
            )| Trace {
                list: cy.as_ref().map(|c| c.list.clone()),
                cycle: cy,
                userid,
                src,
                dst: Some(dst),
                rtr,
                start,
                stop_reason: TraceStop(sr),
                stop_data: 0,
                errmsg: err,
                flags,
                attempts: att,
                hoplimit: 0,
                method: TraceMethod(m),
                probe_size: size,
                sport: sp,
                dport: dp,
                firsthop: fh,
                tos,
                wait_timeout: Timeval::new(wt, 0),
                wait_probe: Timeval::new(wp / 100, wp % 100 * 10000),
                loops: 1,
                hop_count: probes.len() as u16,
                gaplimit: 5,
                gapaction: 1,
                loopaction: 0,
                probec: 7,
                confidence: 0,
                offset: 0,
                squeries: 1,
                stop_hop: 0,
                probes,
                pmtud: pm.map(|(ifmtu, pmtu, ver, probes, notes)| TracePmtud {
                    ifmtu,
                    pmtu,
                    outmtu: 0,
                    ver,
                    probes,
                    notes: notes
                        .into_iter()
                        .map(|(kind, nhmtu, reply)| TracePmtudNote { kind, nhmtu, reply })
                        .collect(),
                }),
                lastditch: ld,
                dtree: dt.map(
                    |(firsthop, lss_stop, gss_stop, lss_name, flags)| TraceDtree {
                        firsthop,
                        lss_stop,
                        gss_stop,
                        lss_name,
                        flags,
                    },
                ),
            },
        )
}

fn write_all(recs: &[Record]) -> Vec<u8> {
    let mut w = WartsWriter::new(Vec::new());
    for r in recs {
        w.write(r).unwrap();
    }
    w.into_inner()
}

fn read_all(b: &[u8]) -> Vec<Record> {
    WartsReader::new(b).collect::<Result<Vec<_>, _>>().unwrap()
}

fn stable(recs: Vec<Record>) {
    let bytes1 = write_all(&recs);
    let once = read_all(&bytes1);
    let bytes2 = write_all(&once);
    let twice = read_all(&bytes2);
    assert_eq!(once, twice);
    assert_eq!(bytes2, write_all(&twice));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn ping_roundtrip(p in ping()) {
        stable(vec![Record::Ping(Box::new(p))]);
    }

    #[test]
    fn trace_roundtrip(t in trace()) {
        stable(vec![Record::Trace(Box::new(t))]);
    }

    #[test]
    fn mixed_roundtrip(p in ping(), t in trace()) {
        let mut recs = Vec::new();
        if let Some(c) = &p.cycle {
            recs.push(Record::List(c.list.clone()));
            recs.push(Record::CycleStart(c.clone()));
        }
        recs.push(Record::Ping(Box::new(p.clone())));
        recs.push(Record::Trace(Box::new(t)));
        if let Some(c) = &p.cycle {
            recs.push(Record::CycleStop(Arc::new(Cycle { stop_time: 5, ..(**c).clone() })));
        }
        stable(recs);
    }

    /// Arbitrary bytes never panic, and whatever decodes re-encodes stably.
    #[test]
    fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300), ty in 1u16..18) {
        let mut input = vec![0x12, 0x05];
        input.extend_from_slice(&ty.to_be_bytes());
        input.extend_from_slice(&(b.len() as u32).to_be_bytes());
        input.extend_from_slice(&b);
        let recs: Vec<Record> = WartsReader::new(&input[..]).filter_map(Result::ok).collect();
        let bytes = write_all(&recs);
        let again = read_all(&bytes);
        prop_assert_eq!(write_all(&again), bytes);
    }
}
