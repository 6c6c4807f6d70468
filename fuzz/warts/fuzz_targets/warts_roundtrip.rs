//! Oracle: arbitrary bytes never panic the reader; every record it delivers can be written,
//! and read → write → read gives the same records and the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scamper_warts::{Record, WartsReader, WartsWriter};

fn write_all(recs: &[Record]) -> Vec<u8> {
    let mut w = WartsWriter::new(Vec::new());
    for r in recs {
        w.write(r).expect("a decoded record must be encodable");
    }
    w.into_inner()
}

fuzz_target!(|data: &[u8]| {
    // Objects before any damage are delivered; the error ends the stream.
    let first: Vec<Record> = WartsReader::new(data).map_while(Result::ok).collect();
    let bytes = write_all(&first);
    let second: Vec<Record> = WartsReader::new(&bytes[..])
        .collect::<Result<_, _>>()
        .expect("re-written warts must read back");
    let bytes2 = write_all(&second);
    let third: Vec<Record> = WartsReader::new(&bytes2[..])
        .collect::<Result<_, _>>()
        .expect("re-written warts must read back");
    assert_eq!(second, third);
    assert_eq!(bytes, bytes2);
    // JSON and text rendering must not panic either.
    for r in &second {
        let _ = scamper_warts::json::to_json(r);
        let _ = scamper_warts::text::to_text(r);
    }
});
