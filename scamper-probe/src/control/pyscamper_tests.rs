//! The lines the Python `scamper` module (ScamperCtrl over libscamperctrl 20260420) sent to our
//! control socket in tests/pyscamper, and what it requires of our replies. The transcript in
//! `testdata/pyscamper_client_lines.txt` was recorded with strace from that run.

use super::*;
use crate::command;

const CLIENT_LINES: &str = include_str!("testdata/pyscamper_client_lines.txt");

/// One client line through the same path the engine takes: line reader, attached-mode parser,
/// command parser. Returns the command, or the `ERR` line the client gets.
fn attached(bytes: &[u8]) -> Result<command::Command, String> {
    let mut r = LineReader::new();
    r.push(bytes);
    let line = r
        .next_line()
        .expect("one complete line")
        .map_err(|e| e.reply().line())?;
    assert!(r.next_line().is_none());
    match parse_attached(&line).map_err(|e| e.line())? {
        Attached::Command(c) => {
            command::parse(&c).map_err(|e| reply::not_accepted(Some(&e.to_string())))
        }
        other => panic!("{line:?} parsed as {other:?}"),
    }
}

#[test]
fn every_command_the_module_sent_is_accepted_or_refused_as_expected() {
    let mut n = 0;
    for entry in CLIENT_LINES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        // `<expect>\t<line as sent, without its \n>`; expect is `OK` or the whole ERR line.
        let (expect, line) = entry.split_once('\t').expect("tab-separated entry");
        let sent = format!("{line}\n");
        match (expect, attached(sent.as_bytes())) {
            ("OK", Ok(_)) => {}
            ("OK", Err(e)) => panic!("{line:?} refused: {e}"),
            (want, Err(got)) => assert_eq!(got, want, "{line:?}"),
            (want, Ok(c)) => panic!("{line:?} accepted as {}, want {want}", c.name()),
        }
        n += 1;
    }
    assert!(n >= 10, "transcript has {n} commands");
}

#[test]
fn times_with_a_unit_suffix_as_the_module_writes_them() {
    // do_ping(attempts=3, wait_probe=timedelta(milliseconds=200), userid=77)
    let Ok(command::Command::Ping(p)) = attached(b"ping -c 3 -i 0.2s -U 77 198.51.100.1\n") else {
        panic!("ping refused");
    };
    assert_eq!(p.wait_probe, std::time::Duration::from_millis(200));
    assert_eq!((p.probe_count, p.userid), (3, 77));
    // do_trace(wait_timeout=timedelta(seconds=2))
    let Ok(command::Command::Trace(t)) = attached(b"trace -w 2.0s 198.51.100.1\n") else {
        panic!("trace refused");
    };
    assert_eq!(t.wait_timeout, std::time::Duration::from_secs(2));
}

#[test]
fn a_long_refused_command_gets_an_err_line_libscamperctrl_can_hold() {
    // do_ping("192.0.2." + "7" * 3000): libscamperctrl failed the connection with "long
    // partial line" when our ERR line, which quoted the whole destination, crossed one of its
    // 8 KiB reads.
    let sent = format!("ping 192.0.2.{}\n", "7".repeat(3000));
    let err = attached(sent.as_bytes()).unwrap_err();
    let want = format!(
        "ERR command not accepted: ping: invalid destination address 192.0.2.{}...",
        "7".repeat(56)
    );
    assert_eq!(err, want);
    assert_eq!(err.len(), reply::MAX_ERR_LINE);
    // With its `\n` the line fits the library's 128-byte partial-line buffer.
    assert!(err.len() < 128);
}

#[test]
fn err_lines_are_cut_on_a_character_boundary() {
    assert_eq!(reply::err("short"), "ERR short");
    let exact = "x".repeat(reply::MAX_ERR_LINE - 4);
    assert_eq!(reply::err(&exact), format!("ERR {exact}"));
    let over = format!("{exact}y");
    assert_eq!(
        reply::err(&over),
        format!("ERR {}...", "x".repeat(reply::MAX_ERR_LINE - 7))
    );
    // A multi-byte character straddling the cut is dropped whole.
    let wide = format!("{}é{}", "a".repeat(reply::MAX_ERR_LINE - 8), "b".repeat(10));
    let cut = reply::err(&wide);
    assert!(
        cut.len() <= reply::MAX_ERR_LINE && cut.ends_with("..."),
        "{cut}"
    );
    assert_eq!(
        cut,
        format!("ERR {}...", "a".repeat(reply::MAX_ERR_LINE - 8))
    );
}
