//! Every example file in the shared spec: read, re-write byte-identically, and render JSON
//! equal to the `.json` companion.

use std::io::Read;
use std::path::{Path, PathBuf};

use scamper_warts::{decompress_reader, json, Record, WartsReader, WartsWriter};

const EXAMPLES: &str = "/work/shared/spec/examples";

/// Object types this crate decodes completely (all but the deprecated address object).
const SUPPORTED: &[u16] = &[1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];

fn warts_files() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["", "unit", "gen"] {
        let d = Path::new(EXAMPLES).join(dir);
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            if n.ends_with(".warts")
                || n.ends_with(".warts.gz")
                || n.ends_with(".warts.bz2")
                || n.ends_with(".warts.xz")
            {
                v.push(p);
            }
        }
    }
    v.sort();
    assert!(v.len() > 50, "examples missing");
    v
}

fn raw_bytes(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    decompress_reader(std::fs::File::open(p).unwrap())
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Object types present, from the headers alone.
fn types_in(b: &[u8]) -> Vec<u16> {
    let mut v = Vec::new();
    let mut i = 0;
    while i + 8 <= b.len() {
        v.push(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        i += 8 + u32::from_be_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
    }
    v
}

fn supported(b: &[u8]) -> bool {
    types_in(b).iter().all(|t| SUPPORTED.contains(t))
}

fn read_all(b: &[u8]) -> Vec<Record> {
    WartsReader::new(b).collect::<Result<Vec<_>, _>>().unwrap()
}

#[test]
fn rewrite_is_byte_identical() {
    let mut checked = 0;
    for p in warts_files() {
        let raw = raw_bytes(&p);
        if !supported(&raw) {
            continue;
        }
        let recs = read_all(&raw);
        let mut w = WartsWriter::new(Vec::new());
        for r in &recs {
            w.write(r).unwrap();
        }
        assert!(
            w.into_inner() == raw,
            "{}: rewritten bytes differ",
            p.display()
        );
        checked += 1;
    }
    // every example file decodes completely
    assert_eq!(checked, warts_files().len());
}

#[test]
fn json_matches_companions() {
    std::env::set_var("TZ", "UTC");
    let mut checked = 0;
    for p in warts_files() {
        let jp = PathBuf::from(format!("{}.json", p.display()));
        let Ok(want) = std::fs::read_to_string(&jp) else {
            continue;
        };
        let raw = raw_bytes(&p);
        if !supported(&raw) {
            continue;
        }
        let mut got = String::new();
        for r in read_all(&raw) {
            if let Some(line) = json::to_json(&r).unwrap() {
                got += &line;
                got.push('\n');
            }
        }
        for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            assert_eq!(g, w, "{} line {}", p.display(), i + 1);
        }
        assert_eq!(got, want, "{}", p.display());
        checked += 1;
    }
    assert!(checked >= 45, "only {checked} files checked");
}
