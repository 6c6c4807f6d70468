//! tbit `icw_bytes` against scamper's own sc_warts2json (20260420): pseudo-random icw tests
//! (well-formed packets, random segment order, sizes, retransmissions, FINs, sent packets,
//! IPv4 and IPv6, the odd non-TCP packet) written to tests/data/json/icw.warts.gz by
//! `cargo test -p scamper-warts --test tbit_icw -- --ignored write_icw_warts`; icw-bytes.txt
//! beside it holds the `icw_bytes` of each record in the C tool's output for that file (see
//! the README there).

use std::io::Read;
use std::path::{Path, PathBuf};

use scamper_warts::tbit::{Tbit, TbitPkt, TbitResult, TbitType, TbitTypeData};
use scamper_warts::{decompress_reader, json, Addr, Record, Timeval, WartsReader, WartsWriter};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/json")
}

mod support;
use support::Rng;

/// A TCP segment whose IP length counts `datalen` payload bytes that are not stored (the
/// window computation reads only the headers), to keep the file small.
fn tcp(v6: bool, seq: u32, flags: u8, datalen: u16) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&80u16.to_be_bytes());
    t[2..4].copy_from_slice(&4000u16.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    ip(v6, 6, t, datalen)
}

fn ip(v6: bool, proto: u8, payload: Vec<u8>, unstored: u16) -> Vec<u8> {
    let plen = payload.len() as u16 + unstored;
    let mut h = if v6 {
        let mut h = vec![0u8; 40];
        h[0] = 0x60;
        h[4..6].copy_from_slice(&plen.to_be_bytes());
        h[6] = proto;
        h[7] = 64;
        h[8..10].copy_from_slice(&[0x20, 0x01]);
        h[24..26].copy_from_slice(&[0x20, 0x01]);
        h
    } else {
        let mut h = vec![0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&(20 + plen).to_be_bytes());
        h[8] = 64;
        h[9] = proto;
        h
    };
    h.extend_from_slice(&payload);
    h
}

fn one_test(r: &mut Rng, n: u32) -> Tbit {
    let v6 = n.is_multiple_of(3);
    let isn = r.next();
    let offset = if r.below(8) == 0 { r.below(3) } else { 1 };
    let start = isn.wrapping_add(offset);
    let mss = [536u16, 1000, 1460][r.below(3) as usize];
    let at = |i: u32| Timeval {
        sec: 1_700_000_000,
        usec: i * 1000,
    };
    let pkt = |dir: u8, i: u32, data: Vec<u8>| TbitPkt {
        dir,
        tv: at(i),
        data,
    };
    let mut pkts = vec![
        pkt(1, 0, tcp(v6, 7, 0x02, 0)),
        pkt(
            2,
            1,
            tcp(v6, isn, if r.below(20) == 0 { 0x10 } else { 0x12 }, 0),
        ),
        pkt(1, 2, tcp(v6, 8, 0x10, 80)),
    ];
    // the initial window: segments in random order, some lost, some duplicated
    let segs = 1 + r.below(8);
    let mut order: Vec<u32> = (0..segs).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, r.below(i as u32 + 1) as usize);
    }
    let mut i = 3;
    for k in order {
        if r.below(6) == 0 {
            continue;
        }
        let len = if r.below(5) == 0 {
            r.below(u32::from(mss)) as u16
        } else {
            mss
        };
        let fin = if k == segs - 1 && r.below(3) == 0 {
            0x01
        } else {
            0
        };
        let seq = start.wrapping_add(k * u32::from(mss));
        pkts.push(pkt(2, i, tcp(v6, seq, 0x10 | fin, len)));
        i += 1;
        match r.below(12) {
            0 => pkts.push(pkt(1, i, tcp(v6, 9, 0x10, 0))),
            1 => pkts.push(pkt(2, i, tcp(v6, seq, 0x10, len))),
            2 => pkts.push(pkt(
                2,
                i,
                tcp(v6, start.wrapping_add(r.next() >> 8), 0x10, 100),
            )),
            3 if n.is_multiple_of(17) => {
                pkts.push(pkt(2, i, ip(v6, if v6 { 58 } else { 1 }, vec![0; 8], 0)))
            }
            _ => {}
        }
        i += 1;
    }
    // the retransmission (usually)
    if r.below(5) != 0 {
        let len = if r.below(4) == 0 { 0 } else { mss };
        pkts.push(pkt(2, i, tcp(v6, start, 0x10, len)));
        pkts.push(pkt(
            2,
            i + 1,
            tcp(v6, start.wrapping_add(u32::from(mss)), 0x10, mss),
        ));
    }
    let (src, dst) = if v6 {
        (
            Addr::V6("2001:db8::1".parse().unwrap()),
            Addr::V6("2001:db8::2".parse().unwrap()),
        )
    } else {
        (
            Addr::V4("192.0.2.1".parse().unwrap()),
            Addr::V4("192.0.2.2".parse().unwrap()),
        )
    };
    Tbit {
        src: Some(src),
        dst: Some(dst),
        sport: 4000,
        dport: 80,
        start: at(0),
        result: TbitResult(if r.below(10) == 0 { 61 } else { 60 }),
        kind: TbitType::ICW,
        client_mss: mss,
        server_mss: mss,
        type_data: Some(TbitTypeData::Icw { start_seq: offset }),
        pkts,
        ..Default::default()
    }
}

fn cases() -> Vec<Record> {
    let mut r = Rng(0x5ca1_ab1e_d00d_f00d);
    (0..200)
        .map(|n| Record::Tbit(Box::new(one_test(&mut r, n))))
        .collect()
}

#[test]
fn icw_bytes_match_sc_warts2json() {
    let mut bytes = Vec::new();
    let f = std::fs::File::open(data_dir().join("icw.warts.gz")).unwrap();
    decompress_reader(f)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let recs: Vec<Record> = WartsReader::new(&bytes[..]).map(|r| r.unwrap()).collect();
    assert_eq!(recs, cases(), "icw.warts is not what the generator writes");
    // one line per record: the C tool's icw_bytes, or `-` when its JSON has none
    let want = std::fs::read_to_string(data_dir().join("icw-bytes.txt")).unwrap();
    assert_eq!(recs.len(), want.lines().count());
    let mut with_icw = 0;
    for (i, (rec, line)) in recs.iter().zip(want.lines()).enumerate() {
        let got = json::to_json(rec).unwrap().expect("tbit has JSON");
        let got_icw = got
            .split_once("\"icw_bytes\":")
            .map_or("-", |(_, rest)| rest.split(',').next().unwrap_or(""));
        assert_eq!(got_icw, line, "record {i}");
        if let Record::Tbit(t) = rec {
            assert_eq!(
                t.server_icw_size().map(|n| n.to_string()).as_deref(),
                Some(line).filter(|l| *l != "-")
            );
        }
        with_icw += usize::from(line != "-");
    }
    // the generator must exercise both outcomes
    assert!(
        with_icw > 60 && with_icw < 180,
        "{with_icw} records with icw_bytes"
    );
}

/// Regenerates tests/data/json/icw.warts.gz (then rerun the C sc_warts2json on it).
#[test]
#[ignore]
fn write_icw_warts() {
    std::fs::create_dir_all(data_dir()).unwrap();
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut w = WartsWriter::new(gz);
    for r in cases() {
        w.write(&r).unwrap();
    }
    let gz = w.into_inner().finish().unwrap();
    std::fs::write(data_dir().join("icw.warts.gz"), gz).unwrap();
}
