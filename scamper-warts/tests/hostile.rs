//! Damaged input: errors name the offset, objects before the damage are delivered, and lying
//! lengths or counts cost no more memory than the input has.

use scamper_warts::{Error, Record, WartsReader};

fn example() -> Vec<u8> {
    std::fs::read("/work/shared/spec/examples/ping.warts").unwrap()
}

/// Offsets of the objects in a warts byte string.
fn object_starts(b: &[u8]) -> Vec<usize> {
    let mut v = Vec::new();
    let mut i = 0;
    while i + 8 <= b.len() {
        v.push(i);
        i += 8 + u32::from_be_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
    }
    v
}

#[test]
fn truncated_file_keeps_earlier_objects() {
    let b = example();
    let starts = object_starts(&b);
    let ping_at = starts[2];
    let cut = &b[..ping_at + 20];
    let mut rd = WartsReader::new(cut);
    assert!(matches!(rd.next(), Some(Ok(Record::List(_)))));
    assert!(matches!(rd.next(), Some(Ok(Record::CycleStart(_)))));
    let err = rd.next().unwrap().unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }));
    assert_eq!(err.offset(), Some(ping_at as u64));
    assert!(rd.next().is_none());
}

#[test]
fn lying_length_is_an_error_not_an_allocation() {
    let mut b = example();
    let ping_at = object_starts(&b)[2];
    b[ping_at + 4..ping_at + 8].copy_from_slice(&u32::MAX.to_be_bytes());
    let recs: Vec<_> = WartsReader::new(&b[..]).collect();
    assert_eq!(recs.len(), 3);
    assert!(recs[2].as_ref().unwrap_err().offset() == Some(ping_at as u64));
}

#[test]
fn huge_reply_count_fails_at_its_offset() {
    let b = example();
    let ping_at = object_starts(&b)[2];
    // the u16 reply count follows the params block: flags f3 bc 65, u16 length 0x27
    let count_at = ping_at + 8 + 3 + 2 + 0x27;
    let mut bad = b.clone();
    bad[count_at..count_at + 2].copy_from_slice(&[0xff, 0xff]);
    let err = WartsReader::new(&bad[..]).nth(2).unwrap().unwrap_err();
    let off = err.offset().unwrap();
    assert!(
        off > count_at as u64 && off <= (ping_at + 8 + 154) as u64,
        "{err}"
    );
}

#[test]
fn bad_magic_is_reported_at_its_offset() {
    let mut b = example();
    let at = object_starts(&b)[1];
    b[at] = 0x13;
    let recs: Vec<_> = WartsReader::new(&b[..]).collect();
    assert_eq!(recs.len(), 2);
    let err = recs[1].as_ref().unwrap_err();
    assert!(matches!(err, Error::Format { .. }));
    assert_eq!(err.offset(), Some(at as u64));
}

#[test]
fn reference_to_undefined_list_fails() {
    let b = example();
    let ping_at = object_starts(&b)[2];
    let only_ping = &b[ping_at..];
    let err = WartsReader::new(only_ping).next().unwrap().unwrap_err();
    assert!(err.to_string().contains("list id 1 undefined"), "{err}");
}

/// Every example file (all record types), damaged one byte at a time: the reader never
/// panics, whatever it delivers re-encodes, and from then on read/write is a fixed point
/// (the fuzz target's oracle).
#[test]
fn damaged_examples_decode_stably() {
    use scamper_warts::WartsWriter;
    let write = |recs: &[Record]| {
        let mut w = WartsWriter::new(Vec::new());
        for r in recs {
            w.write(r).expect("a decoded record must be encodable");
        }
        w.into_inner()
    };
    let mut files = Vec::new();
    for dir in ["", "unit", "gen"] {
        let d = std::path::Path::new("/work/shared/spec/examples").join(dir);
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "warts") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 50);
    for p in files {
        let orig = std::fs::read(&p).unwrap();
        // the first KiB holds every structure of all but the largest files; more only costs
        // time (each damaged copy is decoded whole)
        for i in 0..orig.len().min(1024) {
            for v in [orig[i] ^ 0xff, 0, orig[i].wrapping_add(1)] {
                let mut b = orig.clone();
                b[i] = v;
                let first: Vec<Record> = WartsReader::new(&b[..]).map_while(Result::ok).collect();
                let bytes = write(&first);
                let second: Vec<Record> = WartsReader::new(&bytes[..])
                    .collect::<Result<_, _>>()
                    .unwrap_or_else(|e| panic!("{} byte {i}={v:#x}: {e}", p.display()));
                let bytes2 = write(&second);
                let third: Vec<Record> = WartsReader::new(&bytes2[..])
                    .collect::<Result<_, _>>()
                    .unwrap_or_else(|e| panic!("{} byte {i}={v:#x}: {e}", p.display()));
                assert_eq!(second, third, "{} byte {i}={v:#x}", p.display());
                assert_eq!(bytes2, bytes, "{} byte {i}={v:#x}", p.display());
                for r in &second {
                    let _ = scamper_warts::json::to_json(r);
                    let _ = scamper_warts::text::to_text(r);
                }
            }
        }
    }
}
