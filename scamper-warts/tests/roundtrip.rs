//! Property: any record we can write reads back, and read → write → read is stable.

use std::sync::Arc;

use proptest::prelude::*;
use scamper_warts::dealias::*;
use scamper_warts::host::{dns, Host, HostQuery, HostRr, HostStop, RrData, RrOption, Soa};
use scamper_warts::ping::{
    Ping, PingMethod, PingProbe, PingReply, PingStop, PingTsReply, PingV4Ts,
};
use scamper_warts::trace::{
    Trace, TraceDtree, TraceMethod, TracePmtud, TracePmtudNote, TraceProbe, TraceReply, TraceStop,
};
use scamper_warts::tracelb::{
    Tracelb, TracelbLink, TracelbMethod, TracelbNode, TracelbProbe, TracelbReply,
};
use scamper_warts::udpprobe::{Udpprobe, UdpprobeProbe, UdpprobeReply, UdpprobeStop};
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

fn icmpexts() -> impl Strategy<Value = Vec<IcmpExt>> {
    proptest::collection::vec(
        (
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..12),
        )
            .prop_map(|(class_num, class_type, data)| IcmpExt {
                class_num,
                class_type,
                data,
            }),
        0..3,
    )
}

/// Milliseconds as a Timeval (the dealias wait fields are stored in ms).
fn ms_tv(max: u32) -> impl Strategy<Value = Timeval> {
    (0..max).prop_map(|v| Timeval::new(v / 1000, v % 1000 * 1000))
}

fn probedef() -> impl Strategy<Value = DealiasProbedef> {
    (
        (any::<u32>(), 1u8..=6, addr(), proptest::option::of(addr())),
        (any::<u8>(), any::<u8>(), any::<u16>(), any::<u16>()),
        (
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
            any::<u16>(),
            any::<u16>(),
        ),
    )
        .prop_map(
            |(
                (id, m, dst, src),
                (ttl, tos, size, mtu),
                (sport, dport, tcp_flags, icmp_id, icmp_csum),
            )| {
                DealiasProbedef {
                    id,
                    method: ProbedefMethod(m),
                    dst: Some(dst),
                    src,
                    ttl,
                    tos,
                    size,
                    mtu,
                    sport,
                    dport,
                    tcp_flags,
                    icmp_id,
                    icmp_csum,
                }
            },
        )
}

fn dealias_reply() -> impl Strategy<Value = DealiasReply> {
    (
        (
            addr(),
            tv(),
            any::<u8>(),
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
        ),
        (0u8..2, prop_oneof![Just(1u8), Just(58), Just(6), Just(17)]),
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            icmpexts(),
            any::<u8>(),
        ),
    )
        .prop_map(
            |((src, rx, ttl, size, ipid, ipid32), (flags, proto), (it, ic, qttl, exts, tf))| {
                DealiasReply {
                    src: Some(src),
                    rx,
                    ttl,
                    size,
                    ipid,
                    ipid32,
                    flags,
                    proto,
                    icmp_type: it,
                    icmp_code: ic,
                    icmp_q_ttl: qttl,
                    icmp_exts: exts,
                    tcp_flags: tf,
                }
            },
        )
}

/// Method parameters with the number of probedefs the method needs.
fn dealias_data() -> impl Strategy<Value = (DealiasMethod, DealiasData, std::ops::Range<usize>)> {
    prop_oneof![
        (any::<u8>(), 0u32..256).prop_map(|(attempts, w)| (
            DealiasMethod::MERCATOR,
            DealiasData::Mercator(Mercator {
                attempts,
                wait_timeout: Timeval::new(w, 0),
            }),
            1..2
        )),
        (ms_tv(65536), 0u32..256, any::<u8>(), any::<u16>(), 0u8..2).prop_map(
            |(wait_probe, w, attempts, fudge, flags)| (
                DealiasMethod::ALLY,
                DealiasData::Ally(Ally {
                    wait_probe,
                    wait_timeout: Timeval::new(w, 0),
                    attempts,
                    fudge,
                    flags,
                }),
                2..3
            )
        ),
        (
            any::<u16>(),
            ms_tv(65536),
            ms_tv(10_000_000),
            0u32..256,
            0u8..2
        )
            .prop_map(|(rounds, wait_probe, wait_round, w, flags)| (
                DealiasMethod::RADARGUN,
                DealiasData::Radargun(Radargun {
                    rounds,
                    wait_probe,
                    wait_round,
                    wait_timeout: Timeval::new(w, 0),
                    flags,
                }),
                1..5
            )),
        (
            (
                proptest::option::of(addr()),
                proptest::option::of(addr()),
                proptest::option::of(addr())
            ),
            proptest::collection::vec(addr(), 0..4),
            (
                any::<u8>(),
                any::<u8>(),
                any::<u16>(),
                ms_tv(65536),
                0u32..256
            ),
            (0u8..4, any::<u8>()),
        )
            .prop_map(
                |((a, b, ab), xs, (prefix, attempts, fudge, wait_probe, w), (flags, replyc))| (
                    DealiasMethod::PREFIXSCAN,
                    DealiasData::Prefixscan(Prefixscan {
                        a,
                        b,
                        ab,
                        xs,
                        prefix,
                        attempts,
                        fudge,
                        wait_probe,
                        wait_timeout: Timeval::new(w, 0),
                        flags,
                        replyc,
                    }),
                    0..4
                )
            ),
        (ms_tv(65536), any::<u16>(), any::<u8>()).prop_map(|(wait_probe, bump_limit, attempts)| (
            DealiasMethod::BUMP,
            DealiasData::Bump(Bump {
                wait_probe,
                bump_limit,
                attempts,
            }),
            2..3
        )),
        (
            any::<u8>(),
            0u32..4_000_000_000,
            0u32..4_000_000_000,
            0u32..4_000_000_000
        )
            .prop_map(|(rounds, a, b, c)| (
                DealiasMethod::MIDAREST,
                DealiasData::Midarest(Midarest {
                    rounds,
                    wait_probe: Timeval::from_usec32(a),
                    wait_round: Timeval::from_usec32(b),
                    wait_timeout: Timeval::from_usec32(c),
                }),
                1..4
            )),
        (
            0u32..4_000_000_000,
            proptest::collection::vec((tv(), any::<u32>(), any::<u32>()), 0..3),
            proptest::option::of(tv()),
        )
            .prop_map(|(w, rounds, startat)| (
                DealiasMethod::MIDARDISC,
                DealiasData::Midardisc(Midardisc {
                    wait_timeout: Timeval::from_usec32(w),
                    schedule: rounds
                        .into_iter()
                        .map(|(start, begin, end)| MidardiscRound { start, begin, end })
                        .collect(),
                    startat,
                }),
                1..4
            )),
    ]
}

fn dealias() -> impl Strategy<Value = Dealias> {
    (
        dealias_data(),
        (
            cycle(),
            any::<u32>(),
            tv(),
            0u8..6,
            proptest::option::of(short_str()),
        ),
    )
        .prop_flat_map(
            |((method, data, ndefs), (cy, userid, start, result, errmsg))| {
                proptest::collection::vec(probedef(), ndefs).prop_flat_map(move |defs| {
                    let n = defs.len() as u32;
                    let probe = (
                        0..n.max(1),
                        any::<u32>(),
                        tv(),
                        any::<u16>(),
                        proptest::collection::vec(dealias_reply(), 0..3),
                    )
                        .prop_map(|(def, seq, tx, ipid, replies)| {
                            DealiasProbe {
                                def,
                                seq,
                                tx,
                                ipid,
                                replies,
                            }
                        });
                    // a probe needs a probedef to refer to
                    let nprobes = if defs.is_empty() { 0..1 } else { 0..4 };
                    let (data, cy, errmsg) = (data.clone(), cy.clone(), errmsg.clone());
                    proptest::collection::vec(probe, nprobes).prop_map(move |probes| Dealias {
                        list: cy.as_ref().map(|c| c.list.clone()),
                        cycle: cy.clone(),
                        userid,
                        start,
                        method,
                        result: DealiasResult(result),
                        errmsg: errmsg.clone(),
                        data: data.clone(),
                        probedefs: defs.clone(),
                        probes,
                    })
                })
            },
        )
}

fn tracelb_reply() -> impl Strategy<Value = TracelbReply> {
    (
        (addr(), tv(), any::<u16>(), any::<u8>(), 0u8..4),
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            icmpexts(),
            any::<u8>(),
        ),
    )
        .prop_map(
            |((from, rx, ipid, ttl, flags), (it, ic, qttl, qtos, exts, tf))| TracelbReply {
                from: Some(from),
                rx,
                ipid,
                ttl,
                flags,
                icmp_type: it,
                icmp_code: ic,
                icmp_q_ttl: qttl,
                icmp_q_tos: qtos,
                icmp_exts: exts,
                tcp_flags: tf,
            },
        )
}

fn tracelb_probe() -> impl Strategy<Value = TracelbProbe> {
    (
        tv(),
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        proptest::collection::vec(tracelb_reply(), 0..3),
    )
        .prop_map(|(tx, flowid, ttl, attempt, replies)| TracelbProbe {
            tx,
            flowid,
            ttl,
            attempt,
            replies,
        })
}

fn tracelb() -> impl Strategy<Value = Tracelb> {
    let node = (
        proptest::option::of(addr()),
        proptest::option::of(short_str()),
        0u8..2,
        any::<u8>(),
    )
        .prop_map(|(addr, name, flags, q_ttl)| TracelbNode {
            addr,
            name,
            flags,
            q_ttl,
        });
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
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            1u8..=5,
            any::<u8>(),
            0u32..256,
            0u32..256,
        ),
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
            any::<u32>(),
            0u8..2,
        ),
        proptest::option::of(short_str()),
        proptest::collection::vec(node, 0..5),
    )
        .prop_flat_map(|(hdr, par, more, errmsg, nodes)| {
            let n = nodes.len() as u16;
            let link = (
                0..n.max(1),
                proptest::option::of(0..n.max(1)),
                proptest::collection::vec(proptest::collection::vec(tracelb_probe(), 0..3), 0..3),
            )
                .prop_map(|(from, to, probesets)| TracelbLink {
                    from,
                    to,
                    probesets,
                });
            let nlinks = if n == 0 { 0..1 } else { 0..5 };
            proptest::collection::vec(link, nlinks).prop_map(move |mut links| {
                let (cy, userid, src, dst, rtr, start) = hdr.clone();
                let (sport, dport, probe_size, m, firsthop, wt, wp) = par;
                let (attempts, confidence, tos, gaplimit, probec, probec_max, flags) = more;
                // the warts link order is by source node
                links.sort_by_key(|l| l.from);
                Tracelb {
                    list: cy.as_ref().map(|c| c.list.clone()),
                    cycle: cy,
                    userid,
                    src,
                    dst: Some(dst),
                    rtr,
                    start,
                    sport,
                    dport,
                    probe_size,
                    method: TracelbMethod(m),
                    firsthop,
                    wait_timeout: Timeval::new(wt, 0),
                    wait_probe: Timeval::new(wp / 100, wp % 100 * 10_000),
                    attempts,
                    confidence,
                    tos,
                    gaplimit,
                    probec,
                    probec_max,
                    flags,
                    errmsg: errmsg.clone(),
                    nodes: nodes.clone(),
                    links,
                }
            })
        })
}

fn dns_name() -> impl Strategy<Value = String> {
    "[a-z0-9.-]{0,20}"
}

fn rr_options() -> impl Strategy<Value = Vec<RrOption>> {
    proptest::collection::vec(
        (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..8))
            .prop_map(|(code, data)| RrOption { code, data }),
        0..3,
    )
}

/// A resource record whose data kind agrees with its class and type.
fn host_rr() -> impl Strategy<Value = HostRr> {
    use dns::*;
    let data = prop_oneof![
        (prop_oneof![Just(TYPE_A), Just(TYPE_AAAA)], addr()).prop_map(|(t, a)| (
            CLASS_IN,
            t,
            Some(RrData::Addr(a))
        )),
        (
            prop_oneof![Just(TYPE_NS), Just(TYPE_CNAME), Just(TYPE_PTR)],
            dns_name()
        )
            .prop_map(|(t, n)| (CLASS_IN, t, Some(RrData::Str(n)))),
        (dns_name(), dns_name(), any::<[u32; 5]>()).prop_map(|(m, r, v)| (
            CLASS_IN,
            TYPE_SOA,
            Some(RrData::Soa(Soa {
                mname: m,
                rname: r,
                serial: v[0],
                refresh: v[1],
                retry: v[2],
                expire: v[3],
                minimum: v[4],
            }))
        )),
        (any::<u16>(), dns_name()).prop_map(|(preference, exchange)| (
            CLASS_IN,
            TYPE_MX,
            Some(RrData::Mx {
                preference,
                exchange
            })
        )),
        (
            prop_oneof![Just(CLASS_IN), Just(CLASS_CH)],
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..10), 0..3)
        )
            .prop_map(|(c, v)| (c, TYPE_TXT, Some(RrData::Txt(v)))),
        (any::<u16>(), rr_options()).prop_map(|(c, o)| (c, TYPE_OPT, Some(RrData::Opt(o)))),
        (
            prop_oneof![Just(TYPE_SVCB), Just(TYPE_HTTPS)],
            any::<u16>(),
            proptest::option::of(dns_name()),
            rr_options()
        )
            .prop_map(|(t, priority, target, params)| (
                CLASS_IN,
                t,
                Some(RrData::Svcb {
                    priority,
                    target,
                    params
                })
            )),
        // types without a data encoding
        prop_oneof![Just(43u16), Just(46), Just(48)].prop_map(|t| (CLASS_IN, t, None)),
    ];
    (data, dns_name(), any::<u32>()).prop_map(|((class, rtype, data), name, ttl)| HostRr {
        class,
        rtype,
        name,
        ttl,
        data,
    })
}

fn host() -> impl Strategy<Value = Host> {
    let rrs = || proptest::collection::vec(host_rr(), 0..3);
    let query = (
        (tv(), tv(), any::<u16>(), any::<u8>(), any::<u8>()),
        (rrs(), rrs(), rrs()),
    )
        .prop_map(|((tx, rx, id, rcode, flags), (an, ns, ar))| HostQuery {
            tx,
            rx,
            id,
            rcode,
            flags,
            an,
            ns,
            ar,
        });
    (
        (
            cycle(),
            any::<u32>(),
            proptest::option::of(addr()),
            addr(),
            tv(),
            0u16..8,
        ),
        (
            ms_tv(65536),
            0u8..5,
            any::<u8>(),
            any::<u16>(),
            any::<u16>(),
        ),
        (
            proptest::option::of(dns_name()),
            proptest::option::of(short_str()),
            proptest::option::of(short_str()),
        ),
        proptest::collection::vec(query, 0..3),
    )
        .prop_map(
            |(
                (cy, userid, src, dst, start, flags),
                (wait, stop, retries, qtype, qclass),
                (qname, ecs, errmsg),
                queries,
            )| Host {
                list: cy.as_ref().map(|c| c.list.clone()),
                cycle: cy,
                userid,
                src,
                dst: Some(dst),
                start,
                flags,
                wait_timeout: wait,
                stop: HostStop(stop),
                retries,
                qtype,
                qclass,
                qname,
                ecs,
                errmsg,
                queries,
            },
        )
}

fn udpprobe() -> impl Strategy<Value = Udpprobe> {
    let reply = (
        tv(),
        proptest::collection::vec(any::<u8>(), 0..10),
        proptest::option::of("[a-z0-9]{1,6}"),
    )
        .prop_map(|(rx, data, ifname)| UdpprobeReply { rx, data, ifname });
    let probe = (tv(), any::<u16>(), proptest::collection::vec(reply, 0..3))
        .prop_map(|(tx, sport, replies)| Some(UdpprobeProbe { tx, sport, replies }));
    (
        (
            cycle(),
            any::<u32>(),
            proptest::option::of(addr()),
            proptest::option::of(addr()),
        ),
        (
            any::<u16>(),
            any::<u16>(),
            tv(),
            any::<u32>(),
            any::<u32>(),
            0u8..2,
            0u8..4,
        ),
        (
            proptest::collection::vec(any::<u8>(), 0..10),
            any::<u8>(),
            any::<u8>(),
            proptest::option::of(short_str()),
        ),
        proptest::collection::vec(probe, 0..4),
    )
        .prop_map(
            |(
                (cy, userid, src, dst),
                (sport, dport, start, wt, wp, flags, stop),
                (data, probe_count, stop_count, errmsg),
                probes,
            )| Udpprobe {
                list: cy.as_ref().map(|c| c.list.clone()),
                cycle: cy,
                userid,
                src,
                dst,
                sport,
                dport,
                start,
                wait_timeout: Timeval::from_usec32(wt),
                wait_probe: Timeval::from_usec32(wp),
                flags,
                stop: UdpprobeStop(stop),
                data,
                probe_count,
                stop_count,
                errmsg,
                probes,
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
    fn dealias_roundtrip(d in dealias()) {
        stable(vec![Record::Dealias(Box::new(d))]);
    }

    #[test]
    fn tracelb_roundtrip(t in tracelb()) {
        stable(vec![Record::Tracelb(Box::new(t))]);
    }

    #[test]
    fn host_roundtrip(h in host()) {
        stable(vec![Record::Host(Box::new(h))]);
    }

    #[test]
    fn udpprobe_roundtrip(u in udpprobe()) {
        stable(vec![Record::Udpprobe(Box::new(u))]);
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
