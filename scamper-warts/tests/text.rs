//! Text output against scamper's own sc_warts2text (20260420): every shared example file and a
//! set of hand-built corner cases (tests/text_cases), compared byte for byte with the C
//! tool's output committed under tests/data/text/ (see the README there).

mod text_cases;

use std::io::Read;
use std::path::{Path, PathBuf};

use scamper_warts::{text, Record, WartsReader, WartsWriter};

const EXAMPLES: &str = "/work/shared/spec/examples";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/text")
}

/// What sc_warts2text prints for a warts file: the text of each record in order.
fn render_file(bytes: &[u8]) -> String {
    WartsReader::new(bytes)
        .map(|r| r.expect("readable warts"))
        .filter_map(|r| text::to_text(&r))
        .collect()
}

fn encode(recs: &[Record]) -> Vec<u8> {
    let mut w = WartsWriter::new(Vec::new());
    for r in recs {
        w.write(r).unwrap();
    }
    w.into_inner()
}

fn check(name: &str, got: &str, want_path: &Path) {
    let want = std::fs::read_to_string(want_path)
        .unwrap_or_else(|e| panic!("{}: {e}", want_path.display()));
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "{name}: text differs from the C tool's at line {}:\n ours: {:?}\n C:    {:?}",
            line + 1,
            got.lines().nth(line),
            want.lines().nth(line)
        );
    }
}

#[test]
fn shared_examples_match_sc_warts2text() {
    let dir = data_dir().join("examples");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let Some(rel) = name.strip_suffix(".txt") else {
            continue;
        };
        // fixture names are example paths with '/' as '_'
        let src = Path::new(EXAMPLES).join(rel.replacen('_', "/", 1));
        let src = if src.exists() {
            src
        } else {
            Path::new(EXAMPLES).join(rel)
        };
        let bytes = std::fs::read(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        check(&name, &render_file(&bytes), &p);
        n += 1;
    }
    assert!(n >= 45, "only {n} example fixtures");
}

#[test]
fn corner_cases_match_sc_warts2text() {
    let bytes = std::fs::read(data_dir().join("cases.warts")).unwrap();
    // the committed file is what the hand-built cases encode to, so the C output applies
    assert!(
        encode(&text_cases::cases()) == bytes,
        "cases.warts is not what the hand-built cases encode to"
    );
    check(
        "cases.warts",
        &render_file(&bytes),
        &data_dir().join("cases.txt"),
    );
}

/// Regenerates tests/data/text/cases.warts from the hand-built cases (then rerun the C tool,
/// see the README there).
#[test]
#[ignore]
fn write_cases_warts() {
    let mut w = WartsWriter::new(Vec::new());
    for r in text_cases::cases() {
        w.write(&r).unwrap();
    }
    std::fs::write(data_dir().join("cases.warts"), w.into_inner()).unwrap();
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut w = WartsWriter::new(gz);
    for r in text_cases::overflow_cases() {
        w.write(&r).unwrap();
    }
    let gz = w.into_inner().finish().unwrap();
    std::fs::write(data_dir().join("overflow.warts.gz"), gz).unwrap();
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    flate2::read::GzDecoder::new(f)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn text_past_the_c_buffer_is_cut_where_sc_warts2text_cuts_it() {
    let bytes = gunzip(&data_dir().join("overflow.warts.gz"));
    assert!(
        encode(&text_cases::overflow_cases()) == bytes,
        "overflow.warts.gz is not what the hand-built cases encode to"
    );
    let want = String::from_utf8(gunzip(&data_dir().join("overflow.txt.gz"))).unwrap();
    let got = render_file(&bytes);
    // each record is cut to 131071 bytes plus the newline
    assert_eq!(got.len(), 2 * 131_072);
    assert!(got == want, "overflow text differs from the C tool's");
}

#[test]
fn types_without_a_text_writer_print_nothing() {
    for name in [
        "unit/host-000.warts",
        "unit/http-000.warts",
        "unit/neighbourdisc-000.warts",
        "unit/owamp-000.warts",
        "unit/udpprobe-000.warts",
        "gen/gen-sniff.warts",
        "gen/gen-dealias-bump.warts",
        "gen/gen-dealias-prefixscan.warts",
        "gen/gen-dealias-midarest.warts",
        "gen/gen-dealias-midardisc.warts",
    ] {
        let bytes = std::fs::read(Path::new(EXAMPLES).join(name)).unwrap();
        assert_eq!(render_file(&bytes), "", "{name}");
    }
}
