//! The binaries against the example files and their companions.

use std::path::{Path, PathBuf};
use std::process::Command;

const EXAMPLES: &str = "/work/shared/spec/examples";

fn run(bin: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(bin)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Every example file with a sc_wartsdump companion.
fn dumpable() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["", "unit", "gen"] {
        for e in std::fs::read_dir(Path::new(EXAMPLES).join(dir)).unwrap() {
            let p = e.unwrap().path();
            if let Some(base) = p.to_string_lossy().strip_suffix(".dump.txt") {
                v.push(PathBuf::from(base));
            }
        }
    }
    v.sort();
    v
}

#[test]
fn wartsdump_matches_companions() {
    let files = dumpable();
    // ping/trace (incl. compressed), tracelb, dealias, host, http, neighbourdisc, owamp,
    // udpprobe, sniff, sting, tbit
    assert!(files.len() >= 53, "only {} companions", files.len());
    let mut failed = Vec::new();
    for f in files {
        let want = std::fs::read_to_string(format!("{}.dump.txt", f.display())).unwrap();
        let (code, got) = run(env!("CARGO_BIN_EXE_sc_wartsdump"), &[f.to_str().unwrap()]);
        if code != 0 || got != want {
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(g, w)| g != w)
                .map_or_else(|| "length".to_string(), |i| format!("line {}", i + 1));
            failed.push(format!("{} ({line})", f.display()));
        }
    }
    assert!(failed.is_empty(), "dump differs: {failed:#?}");
}

#[test]
fn warts2json_matches_companion_for_compressed_and_plain() {
    for f in [
        "ping.warts",
        "ping.warts.gz",
        "ping.warts.bz2",
        "ping.warts.xz",
        "trace.warts",
    ] {
        let p = format!("{EXAMPLES}/{f}");
        let want = std::fs::read_to_string(format!("{p}.json")).unwrap();
        let (code, got) = run(env!("CARGO_BIN_EXE_sc_warts2json"), &[&p]);
        assert_eq!(code, 0);
        assert_eq!(got, want, "{f}");
    }
}

#[test]
fn warts2json_on_missing_file_fails() {
    let (code, out) = run(
        env!("CARGO_BIN_EXE_sc_warts2json"),
        &["/nonexistent/x.warts"],
    );
    assert_eq!(code, 255);
    assert!(out.is_empty());
}

#[test]
fn wartscat_concatenates_and_compresses() {
    let dir = std::env::temp_dir().join(format!("wartscat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("both.warts.gz");
    let ping = format!("{EXAMPLES}/ping.warts");
    let trace = format!("{EXAMPLES}/trace.warts");
    let st = Command::new(env!("CARGO_BIN_EXE_sc_wartscat"))
        .args(["-o", out.to_str().unwrap(), &ping, &trace])
        .status()
        .unwrap();
    assert!(st.success());
    let (code, got) = run(
        env!("CARGO_BIN_EXE_sc_warts2json"),
        &[out.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    let want = std::fs::read_to_string(format!("{ping}.json")).unwrap()
        + &std::fs::read_to_string(format!("{trace}.json")).unwrap();
    assert_eq!(got, want);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn warts2text_prints_ping_and_trace() {
    let (code, out) = run(
        env!("CARGO_BIN_EXE_sc_warts2text"),
        &[&format!("{EXAMPLES}/ping.warts")],
    );
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "ping from 127.0.0.1 to 127.0.0.1: 84 byte packets"
    );
    assert_eq!(
        lines[1],
        "84 bytes from 127.0.0.1, seq=0 ttl=64 time=0.206 ms"
    );
    assert_eq!(lines[4], "--- 127.0.0.1 ping statistics ---");
    assert_eq!(
        lines[5],
        "3 packets transmitted, 3 packets received, 0% packet loss"
    );
    assert_eq!(
        lines[6],
        "round-trip min/avg/max/stddev = 0.055/0.105/0.206/0.070 ms"
    );
    let (_, out) = run(
        env!("CARGO_BIN_EXE_sc_warts2text"),
        &[&format!("{EXAMPLES}/trace.warts")],
    );
    assert_eq!(out, "traceroute from 127.0.0.1 to 127.0.0.1\n 1  127.0.0.1  0.033 ms\ntraceroute from 127.0.0.1 to 127.0.0.1\n 1  127.0.0.1  0.037 ms\n");
}

#[test]
fn warts2json_stops_with_255_on_midar_dealias() {
    for f in [
        "gen/gen-dealias-midarest.warts",
        "gen/gen-dealias-midardisc.warts",
    ] {
        let (code, out) = run(
            env!("CARGO_BIN_EXE_sc_warts2json"),
            &[&format!("{EXAMPLES}/{f}")],
        );
        assert_eq!(code, 255, "{f}");
        assert!(out.is_empty(), "{f}: {out}");
    }
}

#[test]
fn warts2json_prints_the_newer_record_types() {
    for f in [
        "ally.warts",
        "tracelb.warts",
        "misc.warts",
        "gen/gen-host.warts",
        "unit/owamp-002.warts",
        "unit/neighbourdisc-000.warts",
        "unit/udpprobe-005.warts",
        "gen/gen-tbit.warts",
    ] {
        let p = format!("{EXAMPLES}/{f}");
        let want = std::fs::read_to_string(format!("{p}.json")).unwrap();
        let (code, got) = run(env!("CARGO_BIN_EXE_sc_warts2json"), &[&p]);
        assert_eq!(code, 0, "{f}");
        assert_eq!(got, want, "{f}");
    }
}

#[test]
fn warts2text_prints_every_type_with_a_text_writer_and_descriptions() {
    let dir = std::env::temp_dir().join(format!("scrs-w2t-descr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let descr = dir.join("descr.txt");
    std::fs::write(
        &descr,
        "127.0.0.1 \"loopback\"\n\n192.0.2.2 \t\"tbit dst\" x\n",
    )
    .unwrap();
    let files = [
        format!("{EXAMPLES}/trace.warts"),
        format!("{EXAMPLES}/gen/gen-tbit.warts"),
        format!("{EXAMPLES}/ally.warts"),
        format!("{EXAMPLES}/gen/gen-sting.warts"),
    ];
    let mut args = vec!["-d", descr.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let (code, out) = run(env!("CARGO_BIN_EXE_sc_warts2text"), &args);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "loopback\ntraceroute from 127.0.0.1 to 127.0.0.1\n 1  127.0.0.1  0.033 ms\n\
         loopback\ntraceroute from 127.0.0.1 to 127.0.0.1\n 1  127.0.0.1  0.037 ms\n\
         tbit dst\ntbit from 192.0.2.1 to 192.0.2.2\n server-mss 1400, result: pmtud-success\n \
         app: http, url: http://www.example.com/index.html\n \
         [  0.001] TX SYN             44  seq = 0:0              0001\n \
         [  0.051] RX SYN/ACK         44  seq = 0:1              0002\n\
         127.0.0.1 127.0.0.2 not aliases\n\
         tbit dst\nsting from 192.0.2.1:4000 to 192.0.2.2:80, 48 probes, 100ms mean\n \
         data-ack count 0, holec 0\n"
    );
    std::fs::write(&descr, "127.0.0.1 nope\n").unwrap();
    let (code, out) = run(
        env!("CARGO_BIN_EXE_sc_warts2text"),
        &["-d", descr.to_str().unwrap(), &files[0]],
    );
    assert_eq!((code, out.as_str()), (255, ""));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Debian's sc_warts2text (scamper 20211212, when installed) prints the same text as ours for
/// every example file except pings, whose text changed after that version.
#[test]
fn warts2text_matches_debian_sc_warts2text_where_the_format_is_unchanged() {
    let debian = std::path::Path::new("/usr/bin/sc_warts2text");
    if !debian.exists() {
        eprintln!("skipped: {} not installed", debian.display());
        return;
    }
    let mut compared = 0;
    for dir in ["", "unit", "gen"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(format!("{EXAMPLES}/{dir}"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "warts"))
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("ping") || name == "misc.warts" {
                continue;
            }
            let path = f.to_str().unwrap();
            let (_, ours) = run(env!("CARGO_BIN_EXE_sc_warts2text"), &[path]);
            let (_, theirs) = run(debian.to_str().unwrap(), &[path]);
            assert_eq!(ours, theirs, "{path}");
            compared += 1;
        }
    }
    assert!(compared > 40, "{compared} files compared");
}
