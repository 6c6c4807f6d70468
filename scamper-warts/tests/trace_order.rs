//! Hop order on disk: a trace's own hops are kept by TTL (as scamper keeps them), while
//! path-MTU and last-ditch probes keep the order they were sent in, where TTLs may go down.

use std::net::Ipv4Addr;

use scamper_warts::trace::{Trace, TracePmtud, TraceProbe, TraceReply};
use scamper_warts::{Addr, Record, Timeval, WartsReader, WartsWriter};

fn probe(ttl: u8, last_octet: u8) -> TraceProbe {
    TraceProbe {
        ttl,
        id: 1,
        size: 60,
        tx: Timeval {
            sec: 1_700_000_000,
            usec: u32::from(last_octet),
        },
        replies: vec![TraceReply {
            addr: Some(Addr::from(Ipv4Addr::new(192, 0, 2, last_octet))),
            ..TraceReply::default()
        }],
    }
}

fn write(rec: &Record) -> Vec<u8> {
    let mut w = WartsWriter::new(Vec::new());
    w.write(rec).unwrap();
    w.into_inner()
}

fn read_one(bytes: &[u8]) -> Trace {
    let mut recs = WartsReader::new(bytes)
        .collect::<Result<Vec<_>, _>>()
        .expect("file is read without error");
    match recs.pop() {
        Some(Record::Trace(t)) if recs.is_empty() => *t,
        other => panic!("expected one trace, got {other:?}"),
    }
}

#[test]
fn pmtud_and_lastditch_probes_keep_their_order_and_hops_come_back_by_ttl() {
    let trace = Trace {
        src: Some(Addr::from(Ipv4Addr::new(192, 0, 2, 100))),
        dst: Some(Addr::from(Ipv4Addr::new(198, 51, 100, 1))),
        probe_size: 60,
        hop_count: 3,
        probes: vec![probe(1, 1), probe(2, 2), probe(3, 3)],
        lastditch: Some(vec![probe(5, 50), probe(4, 40)]),
        pmtud: Some(TracePmtud {
            ver: 2,
            ifmtu: 1500,
            probes: vec![probe(3, 33), probe(2, 22), probe(3, 34)],
            ..TracePmtud::default()
        }),
        ..Trace::default()
    };
    let bytes = write(&Record::Trace(Box::new(trace)));
    let back = read_one(&bytes);
    let ttls = |v: &[TraceProbe]| v.iter().map(|p| p.ttl).collect::<Vec<_>>();
    assert_eq!(ttls(&back.pmtud.as_ref().unwrap().probes), [3, 2, 3]);
    assert_eq!(ttls(back.lastditch.as_ref().unwrap()), [5, 4]);
    assert_eq!(ttls(&back.probes), [1, 2, 3]);
    // read -> write -> read is stable
    let again = write(&Record::Trace(Box::new(back.clone())));
    assert_eq!(read_one(&again), back);
}

#[test]
fn hops_out_of_ttl_order_are_written_as_if_sorted_stably() {
    let trace = |probes: Vec<TraceProbe>| Trace {
        src: Some(Addr::from(Ipv4Addr::new(192, 0, 2, 100))),
        dst: Some(Addr::from(Ipv4Addr::new(198, 51, 100, 1))),
        probe_size: 60,
        hop_count: 3,
        probes,
        ..Trace::default()
    };
    // Two probes at TTL 2 keep their send order whichever way the others are given.
    let unsorted = trace(vec![probe(3, 3), probe(2, 21), probe(1, 1), probe(2, 22)]);
    let sorted = trace(vec![probe(1, 1), probe(2, 21), probe(2, 22), probe(3, 3)]);
    let bytes = write(&Record::Trace(Box::new(unsorted)));
    assert_eq!(bytes, write(&Record::Trace(Box::new(sorted))));
    let back = read_one(&bytes);
    let last: Vec<u8> = back
        .probes
        .iter()
        .flat_map(|p| &p.replies)
        .map(|r| match r.addr {
            Some(Addr::V4(a)) => a.octets()[3],
            _ => 0,
        })
        .collect();
    assert_eq!(last, [1, 21, 22, 3]);
}
