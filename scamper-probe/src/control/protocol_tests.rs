//! Tests of the sans-IO control protocol against the texts and bytes of control.md.

use super::*;
use crate::control::uuencode::uudecode;

/// Reply line for an interactive line, for the forms the parser answers on its own.
fn ierr(line: &str) -> String {
    match parse_interactive(line) {
        Err(e) => e.line(),
        Ok(v) => panic!("{line:?} parsed as {v:?}"),
    }
}

fn iok(line: &str) -> Interactive {
    match parse_interactive(line) {
        Ok(v) => v,
        Err(e) => panic!("{line:?}: {}", e.line()),
    }
}

#[test]
fn interactive_errors() {
    let cases: &[(&str, &str)] = &[
        ("help", "ERR XXX: todo"),
        ("HELP me", "ERR XXX: todo"),
        ("frobnicate now", "ERR unhandled command 'frobnicate'"),
        ("ping 192.0.2.1", "ERR unhandled command 'ping'"),
        ("outfile list", "ERR unhandled command 'outfile'"),
        ("done", "ERR unhandled command 'done'"),
        ("   ", "ERR unhandled command ''"),
        (
            "get",
            "ERR usage: get [command | monitorname | nameserver | pid | pps | version | window]",
        ),
        ("get pid x", "ERR unhandled get command 'pid x'"),
        ("get foo", "ERR unhandled get command 'foo'"),
        (
            "set",
            "ERR usage: set [command | monitorname | pps | window]",
        ),
        ("set foo 1", "ERR unhandled set command 'foo'"),
        ("set command", "ERR could not set command"),
        ("set nameserver", "ERR could not set nameserver"),
        ("set nameserver 1.2.3", "ERR could not set nameserver"),
        ("set pps", "ERR set pps requires argument"),
        ("set pps abc", "ERR set pps argument is not an integer"),
        ("set pps 1.5", "ERR set pps argument is not an integer"),
        (
            "set pps 99999999999999999999",
            "ERR could not convert 99999999999999999999 to long: Numerical result out of range",
        ),
        ("set pps 50001", "ERR pps: 50001 out of range (1, 50000)"),
        ("set pps -1", "ERR pps: -1 out of range (1, 50000)"),
        ("set window", "ERR set window requires argument"),
        ("set window x1", "ERR set window argument is not an integer"),
        (
            "set window 65536",
            "ERR window: 65536 out of range (0, 65535)",
        ),
        ("set window -3", "ERR window: -3 out of range (0, 65535)"),
        ("source", "ERR usage: source [cycle | list]"),
        ("source cycle x", "ERR unhandled command 'cycle'"),
        ("source add name x", "ERR unhandled command 'add'"),
        ("source list a b", "ERR source check params_get failed"),
        ("source list \"a b", "ERR source check params_get failed"),
        ("shutdown", "ERR usage: [cancel | done | flush | now]"),
        ("shutdown later", "ERR unhandled command 'later'"),
        ("remote", "ERR usage: remote [add]"),
        ("remote frob", "ERR unhandled outfile command 'frob'"),
        ("remote add", "ERR usage remote add server <name>"),
        ("remote add ssl on", "ERR usage remote add server <name>"),
        ("remote add server", "ERR remote add param 'server' failed"),
        ("remote add port 1", "ERR remote add param 'port' failed"),
        (
            "remote add server a:1 server b:2",
            "ERR remote add param 'server' failed",
        ),
        (
            "remote add server a:1 ssl on x y",
            "ERR remote add params_get failed",
        ),
        (
            "remote add server \"a:1",
            "ERR remote add params_get failed",
        ),
        (
            "remote add server host",
            "ERR invalid server, expect <name>:<port>",
        ),
        (
            "remote add server host:0",
            "ERR invalid server, expect <name>:<port>",
        ),
        (
            "remote add server :80",
            "ERR invalid server, expect <name>:<port>",
        ),
        ("remote add server host:80 ssl maybe", "ERR ssl <on|off>"),
        ("lss-clear", "ERR usage: lss-clear [lss-name]"),
    ];
    for (line, want) in cases {
        assert_eq!(ierr(line), *want, "line {line:?}");
    }
}

#[test]
fn interactive_commands() {
    let cases: Vec<(&str, Interactive)> = vec![
        ("exit", Interactive::Exit),
        ("EXIT", Interactive::Exit),
        ("get command", Interactive::Get(GetKey::Command)),
        ("GET MonitorName", Interactive::Get(GetKey::MonitorName)),
        ("get nameserver", Interactive::Get(GetKey::Nameserver)),
        ("get pid", Interactive::Get(GetKey::Pid)),
        ("get pps", Interactive::Get(GetKey::Pps)),
        ("get version", Interactive::Get(GetKey::Version)),
        ("get   window", Interactive::Get(GetKey::Window)),
        (
            "set command trace -P icmp-paris",
            Interactive::Set(SetCommand::Command("trace -P icmp-paris".into())),
        ),
        (
            "set monitorname vp1",
            Interactive::Set(SetCommand::MonitorName(Some("vp1".into()))),
        ),
        (
            "set monitorname",
            Interactive::Set(SetCommand::MonitorName(None)),
        ),
        (
            "set nameserver 2001:db8::53",
            Interactive::Set(SetCommand::Nameserver("2001:db8::53".parse().unwrap())),
        ),
        ("set pps 100", Interactive::Set(SetCommand::Pps(100))),
        (
            "set pps 50000 extra",
            Interactive::Set(SetCommand::Pps(50000)),
        ),
        ("set pps 0", Interactive::Set(SetCommand::Pps(0))),
        ("set window 0", Interactive::Set(SetCommand::Window(0))),
        (
            "SET WINDOW 65535",
            Interactive::Set(SetCommand::Window(65535)),
        ),
        ("source list", Interactive::SourceList(None)),
        (
            "source LIST ctl.sock:0",
            Interactive::SourceList(Some("ctl.sock:0".into())),
        ),
        (
            "source list \"my list\"",
            Interactive::SourceList(Some("my list".into())),
        ),
        ("shutdown done", Interactive::Shutdown(ShutdownMode::Done)),
        ("shutdown FLUSH", Interactive::Shutdown(ShutdownMode::Flush)),
        ("shutdown now", Interactive::Shutdown(ShutdownMode::Now)),
        (
            "shutdown cancel",
            Interactive::Shutdown(ShutdownMode::Cancel),
        ),
        (
            "remote add server ark.example.org:43210",
            Interactive::Remote(RemoteCommand::Add {
                server: RemoteServer {
                    host: "ark.example.org".into(),
                    port: 43210,
                },
                ssl: None,
            }),
        ),
        (
            "remote add ssl OFF server 192.0.2.9:1",
            Interactive::Remote(RemoteCommand::Add {
                server: RemoteServer {
                    host: "192.0.2.9".into(),
                    port: 1,
                },
                ssl: Some(false),
            }),
        ),
        (
            "remote delete a:1",
            Interactive::Remote(RemoteCommand::Delete(Some("a:1".into()))),
        ),
        (
            "remote delete",
            Interactive::Remote(RemoteCommand::Delete(None)),
        ),
        ("remote list", Interactive::Remote(RemoteCommand::List)),
        ("lss-clear lss1", Interactive::LssClear("lss1".into())),
        ("attach", Interactive::Attach(AttachParams::default())),
    ];
    for (line, want) in cases {
        assert_eq!(iok(line), want, "line {line:?}");
    }
}

#[test]
fn remote_delete_argument() {
    assert_eq!(
        RemoteServer::parse_delete(None).unwrap_err().line(),
        "ERR missing required parameter for remote delete"
    );
    assert_eq!(
        RemoteServer::parse_delete(Some("nocolon"))
            .unwrap_err()
            .line(),
        "ERR invalid server"
    );
    let s = RemoteServer::parse_delete(Some("h:7")).unwrap();
    assert_eq!(s.to_string(), "h:7");
    assert_eq!(reply::info_remote(&s, None), "INFO h:7");
    assert_eq!(reply::info_remote(&s, Some("vp")), "INFO h:7 alias vp");
}

#[test]
fn set_rate_rules_and_replies() {
    // pps 0 (unlimited) needs a window; window 0 (unlimited) needs a rate.
    assert_eq!(
        SetCommand::Pps(0).check_rate(20, 0).unwrap_err().line(),
        "ERR pps: 0 out of range (1, 50000)"
    );
    assert!(SetCommand::Pps(0).check_rate(20, 10).is_ok());
    assert_eq!(
        SetCommand::Window(0).check_rate(0, 5).unwrap_err().line(),
        "ERR window: 0 out of range (0, 65535)"
    );
    assert!(SetCommand::Window(0).check_rate(1, 5).is_ok());
    assert!(SetCommand::Pps(7).check_rate(0, 0).is_ok());
    assert_eq!(SetCommand::Pps(7).reply(), "OK pps 7");
    assert_eq!(SetCommand::Window(9).reply(), "OK window 9");
    assert_eq!(SetCommand::Command("ping".into()).reply(), "OK");
}

#[test]
fn get_replies() {
    let cases: Vec<(GetValue, &str)> = vec![
        (GetValue::Command(Some("trace")), "OK command trace"),
        (GetValue::Command(None), "OK null command"),
        (GetValue::MonitorName(Some("vp1")), "OK monitorname vp1"),
        (GetValue::MonitorName(None), "OK null monitorname"),
        (
            GetValue::Nameserver(Some("192.0.2.53".parse().unwrap())),
            "OK nameserver 192.0.2.53",
        ),
        (GetValue::Nameserver(None), "OK null nameserver"),
        (GetValue::Pid(4242), "OK pid 4242"),
        (GetValue::Pps(20), "OK pps 20"),
        (GetValue::Version, "OK version 20260420"),
        (GetValue::Window { active: 3, max: 0 }, "OK window 3/0"),
    ];
    for (v, want) in cases {
        assert_eq!(v.reply(), want);
    }
}

#[test]
fn other_replies() {
    assert_eq!(reply::ok(), "OK");
    assert_eq!(reply::more(), "MORE");
    assert_eq!(reply::ok_id(1), "OK id-1");
    assert_eq!(reply::ok_halted(3), "OK halted 3");
    assert_eq!(reply::no_task(5), "ERR no task id-5");
    assert_eq!(reply::err("x y"), "ERR x y");
    assert_eq!(
        reply::not_accepted(Some("destination in do-not-probe list")),
        "ERR command not accepted: destination in do-not-probe list"
    );
    assert_eq!(reply::not_accepted(None), "ERR command not accepted");
    assert_eq!(reply::ok_lss_clear("x"), "OK lss-clear x");
    assert_eq!(reply::no_source("nope"), "ERR no source 'nope'");
    assert_eq!(reply::ok_version(), "OK version 20260420");
}

#[test]
fn source_info_lines() {
    let mut s = SourceInfo {
        name: "ctl.sock:0".into(),
        descr: None,
        list_id: 0,
        cycle_id: 1,
        priority: 1,
        outfile: None,
        kind: SourceKind::Control,
    };
    assert_eq!(
        s.info_line(),
        "INFO name 'ctl.sock:0' list_id 0 cycle_id 1 priority 1 type 'control'"
    );
    s.descr = Some("my list".into());
    s.outfile = Some("out.warts".into());
    s.kind = SourceKind::File("dsts.txt".into());
    assert_eq!(
        s.info_line(),
        "INFO name 'ctl.sock:0' descr 'my list' list_id 0 cycle_id 1 priority 1 \
         outfile 'out.warts' type 'file' file 'dsts.txt'"
    );
    s.kind = SourceKind::Cmdline;
    assert!(s.info_line().ends_with(" type 'cmdline'"));
}

#[test]
fn attach_params() {
    let d = AttachParams::default();
    assert_eq!(
        (d.cycle_id, d.list_id, d.priority, d.format),
        (1, 0, 1, DataFormat::Warts)
    );
    assert_eq!((d.descr, d.monitor, d.name), (None, None, None));

    let p = match iok(
        "ATTACH cycle_id 4294967295 descr \"a b  c\" FORMAT JSON list_id 7 \
         monitor \"vp 1\" name x priority 100000",
    ) {
        Interactive::Attach(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        p,
        AttachParams {
            cycle_id: u32::MAX,
            descr: Some("a b  c".into()),
            format: DataFormat::Json,
            list_id: 7,
            monitor: Some("vp 1".into()),
            name: Some("x".into()),
            priority: 100_000,
        }
    );
    // The libscamperctrl order with quoted strings.
    let p = parse_attach(" cycle_id 2 descr \"d\" list_id 3 monitor \"m\" name \"n\" priority 4")
        .unwrap();
    assert_eq!((p.cycle_id, p.list_id, p.priority), (2, 3, 4));
    assert_eq!(p.name.as_deref(), Some("n"));
    assert_eq!(
        parse_attach("format warts").unwrap().format,
        DataFormat::Warts
    );
    assert_eq!(parse_attach("name \"\"").unwrap().name.as_deref(), Some(""));

    let errors: &[(&str, &str)] = &[
        ("attach name", "ERR command attach param 'name' failed"),
        (
            "attach colour red",
            "ERR command attach param 'colour' failed",
        ),
        (
            "attach name a NAME b",
            "ERR command attach param 'NAME' failed",
        ),
        ("attach name \"a b", "ERR could not params_get"),
        (
            "attach cycle_id 1 descr 2 format warts list_id 3 monitor m name n priority 1 x",
            "ERR could not params_get",
        ),
        ("attach cycle_id -1", "ERR invalid cycle_id"),
        ("attach cycle_id 4294967296", "ERR invalid cycle_id"),
        ("attach cycle_id 1x", "ERR invalid cycle_id"),
        ("attach list_id abc", "ERR invalid list_id"),
        ("attach priority 0", "ERR invalid priority"),
        ("attach priority 100001", "ERR invalid priority"),
        ("attach format text", "ERR format must be warts or json"),
    ];
    for (line, want) in errors {
        assert_eq!(ierr(line), *want, "line {line:?}");
    }
    // Exactly 14 words is fine.
    assert!(
        parse_attach("cycle_id 1 descr 2 format warts list_id 3 monitor m name n priority 1")
            .is_ok()
    );
}

#[test]
fn attached_lines() {
    let ok: Vec<(&str, Attached)> = vec![
        ("done", Attached::Done),
        ("DONE", Attached::Done),
        ("halt 3", Attached::Halt(3)),
        ("HALT   4294967295", Attached::Halt(u32::MAX)),
        (
            "ping -c 3 192.0.2.1",
            Attached::Command("ping -c 3 192.0.2.1".into()),
        ),
        (
            "Trace 198.51.100.7",
            Attached::Command("Trace 198.51.100.7".into()),
        ),
    ];
    for (line, want) in ok {
        assert_eq!(parse_attached(line), Ok(want), "line {line:?}");
    }
    for m in MEASUREMENT_COMMANDS {
        let line = format!("{m} 192.0.2.1");
        assert_eq!(parse_attached(&line), Ok(Attached::Command(line.clone())));
    }
    let undetermined = "ERR command not accepted: could not determine command type";
    let errors: &[(&str, &str)] = &[
        ("halt x", "ERR usage: halt [id]"),
        ("halt 1 2", "ERR usage: halt [id]"),
        ("halt  ", "ERR usage: halt [id]"),
        ("halt 0", "ERR halt number invalid"),
        ("halt -1", "ERR halt number invalid"),
        ("halt 4294967296", "ERR halt number invalid"),
        ("halt 99999999999999999999999", "ERR halt number invalid"),
        ("halt", undetermined),
        ("done ", undetermined),
        ("done now", undetermined),
        ("attach", undetermined),
        ("ping", undetermined),
        (" ping 192.0.2.1", undetermined),
        ("pingx 192.0.2.1", undetermined),
        ("get pid", undetermined),
    ];
    for (line, want) in errors {
        assert_eq!(parse_attached(line).unwrap_err().line(), *want, "{line:?}");
    }
}

#[test]
fn task_ids_wrap_to_one() {
    let mut ids = TaskIds::new();
    assert_eq!((ids.next_id(), ids.next_id(), ids.next_id()), (1, 2, 3));
    let mut ids = TaskIds { next: u32::MAX };
    assert_eq!(ids.next_id(), u32::MAX);
    assert_eq!(ids.next_id(), 1);
    assert_eq!(format_task_id(7), "7");
    assert_eq!(format_task_id(2_147_483_647), "2147483647");
    // C %d of an unsigned value above INT_MAX.
    assert_eq!(format_task_id(2_147_483_648), "-2147483648");
    assert_eq!(reply::ok_id(u32::MAX), "OK id--1");
}

fn all_lines(r: &mut LineReader) -> Vec<Result<String, LineError>> {
    std::iter::from_fn(|| r.next_line()).collect()
}

#[test]
fn line_reader_splits_and_checks() {
    let mut r = LineReader::new();
    r.push(b"attach\r\n\n\r\nping -c 1 ");
    assert_eq!(all_lines(&mut r), vec![Ok("attach".to_string())]);
    assert_eq!(r.pending(), 10);
    r.push(b"192.0.2.1\nhalt 1\n");
    assert_eq!(
        all_lines(&mut r),
        vec![Ok("ping -c 1 192.0.2.1".to_string()), Ok("halt 1".into())]
    );
    r.push(b"a\tb\nx\ry\n\xff\ndone\n");
    assert_eq!(
        all_lines(&mut r),
        vec![
            Err(LineError::InvalidCharacter),
            Err(LineError::InvalidCharacter),
            Err(LineError::InvalidCharacter),
            Ok("done".into())
        ]
    );
    assert_eq!(
        LineError::InvalidCharacter.reply().line(),
        "ERR invalid character in line"
    );
    // A partial line at EOF is never dispatched.
    r.push(b"done");
    assert_eq!(all_lines(&mut r), vec![]);
}

#[test]
fn line_reader_limits_length() {
    let mut r = LineReader::with_max_len(8);
    r.push(b"12345678\n123456789");
    assert_eq!(
        all_lines(&mut r),
        vec![Ok("12345678".into()), Err(LineError::TooLong)]
    );
    // The rest of the over-long line is dropped, later lines still split.
    r.push(b"more bytes of it\nok\n");
    assert_eq!(all_lines(&mut r), vec![Ok("ok".into())]);
    // Complete over-long line in one push; `\r` does not count.
    r.push(b"123456789\n12345678\r\n");
    assert_eq!(
        all_lines(&mut r),
        vec![Err(LineError::TooLong), Ok("12345678".into())]
    );
    assert_eq!(LineError::TooLong.reply().line(), "ERR line too long");
    // Byte-at-a-time input.
    let mut r = LineReader::new();
    let mut got = Vec::new();
    for b in b"get pid\nexit\n" {
        r.push(&[*b]);
        got.extend(all_lines(&mut r));
    }
    assert_eq!(got, vec![Ok("get pid".to_string()), Ok("exit".into())]);
}

/// Writes everything queued, `step` bytes per write (as a slow socket would).
fn drain(q: &mut OutputQueue, step: usize, out: &mut Vec<u8>) {
    while let Some(chunk) = q.next_chunk() {
        let n = chunk.len().min(step);
        out.extend_from_slice(&chunk[..n]);
        q.consume(n);
    }
    assert_eq!(q.queued_bytes(), 0);
    assert!(q.is_empty());
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Replays control.md §7 through LineReader, the parsers, TaskIds and OutputQueue.
#[test]
fn annotated_session_replay() {
    let mut list = hex("1205 0001 00000014 00000001 00000000");
    list.extend_from_slice(b"ctl.sock:0\0\0");
    let mut cstart = hex("1205 0002 00000023 00000001 00000001 00000001 6553f100 02 0010");
    cstart.extend_from_slice(b"vp1.example.net\0");
    let cstop = hex("1205 0004 00000009 00000001 6553f164 00");
    // Result bodies are illustrative in §7; use a ping-sized and a trace-sized object.
    let ping: Vec<u8> = [0x12, 0x05, 0, 7].into_iter().chain(0..88).collect();
    let trace: Vec<u8> = [0x12, 0x05, 0, 6]
        .into_iter()
        .chain((0..200).map(|i| i as u8))
        .collect();

    let mut reader = LineReader::new();
    let mut q = OutputQueue::new();
    let mut ids = TaskIds::new();
    let mut attached = false;
    let mut out = Vec::new();
    let mut accepted = Vec::new();

    let mut client = |bytes: &[u8], q: &mut OutputQueue| {
        reader.push(bytes);
        while let Some(line) = reader.next_line() {
            let line = line.unwrap();
            if !attached {
                match parse_interactive(&line).unwrap() {
                    Interactive::Attach(p) => {
                        assert_eq!(p, AttachParams::default());
                        attached = true;
                        q.push_line(reply::ok());
                    }
                    other => panic!("{other:?}"),
                }
                continue;
            }
            match parse_attached(&line).unwrap() {
                Attached::Command(c) => {
                    accepted.push(c);
                    q.push_line(reply::ok_id(ids.next_id()));
                }
                Attached::Done => q.push_line(reply::ok()),
                Attached::Halt(n) => panic!("halt {n}"),
            }
        }
    };

    client(b"attach\n", &mut q);
    q.push_line(reply::more());
    q.push_data(&list, None, DataFormat::Warts);
    q.push_data(&cstart, None, DataFormat::Warts);
    drain(&mut q, 7, &mut out);
    client(b"ping -c 3 192.0.2.1\ntrace 198", &mut q);
    client(b".51.100.7\n", &mut q);
    q.push_line(reply::more());
    drain(&mut q, 1000, &mut out);
    client(b"done\n", &mut q);
    q.push_data(&ping, Some(1), DataFormat::Warts);
    q.push_data(&trace, Some(2), DataFormat::Warts);
    assert!(!is_cycle_stop(&trace, DataFormat::Warts));
    assert!(is_cycle_stop(&cstop, DataFormat::Warts));
    q.push_data(&cstop, None, DataFormat::Warts);
    drain(&mut q, 13, &mut out);
    assert_eq!(accepted, ["ping -c 3 192.0.2.1", "trace 198.51.100.7"]);

    let mut want: Vec<u8> = b"OK\nMORE\n\
DATA 44\n<$@4``0```!0````!`````&-T;\"YS;V-K.C``````\n`\n\
DATA 64\nK$@4``@```\",````!`````0````%E4_$``@`0=G`Q+F5X86UP;&4N;F5T````\n`\n\
OK id-1\nOK id-2\nMORE\nOK\n"
        .to_vec();
    want.extend_from_slice(format!("DATA {} id-1\n", encoded_len(92)).as_bytes());
    want.extend_from_slice(&uuencode(&ping));
    want.extend_from_slice(format!("DATA {} id-2\n", encoded_len(204)).as_bytes());
    want.extend_from_slice(&uuencode(&trace));
    want.extend_from_slice(b"DATA 28\n1$@4`!`````D````!95/Q9```\n`\n");
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(out, want);
}

/// The captured session of examples/attach-session.txt (scamper 20260420): decoding each
/// DATA body and re-queueing the objects with the same replies reproduces it byte for byte.
#[test]
fn captured_session_reframes_identically() {
    const CAPTURED: &[u8] = b"OK\nMORE\nDATA 52\n\
C$@4``0```!L````!`````\"]T;7`O97@O<V,N<V]C:SHP````\n`\n\
DATA 44\n>$@4``@```!8````!`````0````%K`ZQP`@`#=FT`\n`\n\
OK id-1\nMORE\nDATA 132 id-1\n\
M$@4`!P```%3SO&4`)P````$````!:P.L<0`\"`DL!```!`%0!0``!.YL$`7\\`\n\
M``$````````!_I,B`\"$G0`!4```````<``!A:5>-``````!K`ZQQ``(#-`%L\n\
\";P``\n`\n\
OK\nDATA 28\n1$@4`!`````D````!:P.L=P``\n`\n";
    assert_eq!(CAPTURED.len(), 318);

    // Take the capture apart: text lines, and DATA blocks as (id, decoded object).
    enum Item {
        Line(String),
        Data(Option<u32>, Vec<u8>),
    }
    let mut items = Vec::new();
    let mut rest = CAPTURED;
    while !rest.is_empty() {
        let nl = rest.iter().position(|&b| b == b'\n').unwrap();
        let line = std::str::from_utf8(&rest[..nl]).unwrap();
        rest = &rest[nl + 1..];
        if let Some(hdr) = line.strip_prefix("DATA ") {
            let mut w = hdr.split(' ');
            let len: usize = w.next().unwrap().parse().unwrap();
            let id = w
                .next()
                .map(|i| i.strip_prefix("id-").unwrap().parse().unwrap());
            let obj = uudecode(&rest[..len]).unwrap();
            rest = &rest[len..];
            items.push(Item::Data(id, obj));
        } else {
            items.push(Item::Line(line.to_string()));
        }
    }
    let objs: Vec<&Vec<u8>> = items
        .iter()
        .filter_map(|i| match i {
            Item::Data(_, o) => Some(o),
            Item::Line(_) => None,
        })
        .collect();
    assert_eq!(
        objs.iter().map(|o| o.len()).collect::<Vec<_>>(),
        [35, 30, 92, 17]
    );
    assert!(is_cycle_stop(objs[3], DataFormat::Warts));

    let mut q = OutputQueue::new();
    let mut out = Vec::new();
    for item in &items {
        match item {
            Item::Line(l) => q.push_line(l),
            Item::Data(id, obj) => q.push_data(obj, *id, DataFormat::Warts),
        }
        // A fast writer: everything goes out before the next event.
        drain(&mut q, usize::MAX, &mut out);
    }
    assert_eq!(out, CAPTURED);
}

#[test]
fn output_ordering_rule() {
    let a = vec![0x12u8; 100];
    let b = vec![0x34u8; 10];
    let mut q = OutputQueue::new();
    // Data queued but not started: later text overtakes it.
    q.push_data(&a, Some(1), DataFormat::Warts);
    q.push_line("OK id-2");
    q.push_line("MORE");
    assert_eq!(q.next_chunk().unwrap(), b"OK id-2\nMORE\n");
    q.consume(3);
    // A text line that has started finishes before data.
    q.push_data(&b, None, DataFormat::Warts);
    assert_eq!(q.next_chunk().unwrap(), b"id-2\nMORE\n");
    q.consume(10);
    // Now data block a starts; text pushed meanwhile waits for it to complete.
    let first = q.next_chunk().unwrap().to_vec();
    assert!(first.starts_with(format!("DATA {} id-1\n", encoded_len(100)).as_bytes()));
    q.consume(5);
    q.push_line("OK id-3");
    let mut out = Vec::new();
    drain(&mut q, 9, &mut out);
    let mut want = first[5..].to_vec();
    want.extend_from_slice(b"OK id-3\n");
    want.extend_from_slice(b"DATA 20\n");
    want.extend_from_slice(&uuencode(&b));
    assert_eq!(encoded_len(10), 20);
    assert_eq!(out, want);
    // consume() past the chunk is clamped, and on an empty queue a no-op.
    q.push_line("OK");
    q.consume(100);
    assert!(q.is_empty());
    q.consume(1);
    assert_eq!(q.next_chunk(), None);
}

#[test]
fn queued_bytes_track_everything() {
    let mut q = OutputQueue::new();
    q.push_line("MORE");
    assert_eq!(q.queued_bytes(), 5);
    q.push_data(&[1, 2, 3], Some(12), DataFormat::Warts);
    // "DATA 8 id-12\n" + 8 encoded bytes.
    assert_eq!(q.queued_bytes(), 5 + 13 + 8);
    q.consume(2);
    assert_eq!(q.queued_bytes(), 24);
    // Many lines, written in pieces, keep the text buffer bounded by what is unwritten.
    let mut out = Vec::new();
    for i in 0..1000 {
        q.push_line(format!("OK id-{i}"));
        if let Some(c) = q.next_chunk() {
            let n = c.len().min(4);
            out.extend_from_slice(&c[..n]);
            q.consume(n);
        }
    }
    drain(&mut q, 64, &mut out);
    // The text never ran dry, so the DATA block (not started) went out after all of it.
    let mut tail = b"OK id-999\nDATA 8 id-12\n".to_vec();
    tail.extend_from_slice(&uuencode(&[1, 2, 3]));
    assert!(out.ends_with(&tail));
    assert_eq!(
        out.len(),
        3 + (0..1000)
            .map(|i| format!("OK id-{i}\n").len())
            .sum::<usize>()
            + 21
    );
}

#[test]
fn json_data_framing() {
    let start = b"{\"type\":\"cycle-start\", \"list_name\":\"ctl.sock:0\", \"id\":1, \
\"hostname\":\"vp1.example.net\", \"start_time\":1700000000}\n";
    assert_eq!(start.len(), 112);
    let mut q = OutputQueue::new();
    q.push_data(start, None, DataFormat::Json);
    let ping = b"{\"type\":\"ping\"}\n";
    q.push_data(ping, Some(1), DataFormat::Json);
    // A missing final newline is added and counted.
    q.push_data_inprog(b"{\"type\":\"trace\"}", 2, DataFormat::Json);
    let stop = b"{\"type\":\"cycle-stop\", \"list_name\":\"ctl.sock:0\", \"id\":1, \"stop_time\":1700000100}\n";
    assert!(is_cycle_stop(stop, DataFormat::Json));
    assert!(!is_cycle_stop(start, DataFormat::Json));
    q.push_data(stop, None, DataFormat::Json);
    let mut out = Vec::new();
    drain(&mut q, 50, &mut out);
    let mut want = b"DATA 112\n".to_vec();
    want.extend_from_slice(start);
    want.extend_from_slice(b"DATA 16 id-1\n{\"type\":\"ping\"}\n");
    want.extend_from_slice(b"DATA 17 id-2 inprog\n{\"type\":\"trace\"}\n");
    want.extend_from_slice(format!("DATA {}\n", stop.len()).as_bytes());
    want.extend_from_slice(stop);
    assert_eq!(out, want);
}

#[test]
fn warts_inprog_header() {
    let mut q = OutputQueue::new();
    q.push_data_inprog(&[0x12, 0x05, 0, 6, 0, 0, 0, 0], 9, DataFormat::Warts);
    let mut out = Vec::new();
    drain(&mut q, 3, &mut out);
    assert!(out.starts_with(b"DATA 16 id-9 inprog\n"));
    assert_eq!(out.len(), "DATA 16 id-9 inprog\n".len() + 16);
}

mod prop {
    use super::super::*;
    use proptest::prelude::*;

    proptest! {
        /// Untrusted lines never panic any parser.
        #[test]
        fn parsers_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut r = LineReader::with_max_len(64);
            r.push(&bytes);
            r.push(b"\n");
            while let Some(line) = r.next_line() {
                if let Ok(l) = line {
                    let _ = parse_interactive(&l);
                    let _ = parse_attached(&l);
                }
            }
        }

        #[test]
        fn printable_lines_never_panic(line in "[ -~]{0,80}") {
            let _ = parse_interactive(&line);
            let _ = parse_attached(&line);
        }

        /// Whatever the write sizes, the output is the text/DATA interleaving of the rule and
        /// every DATA block is contiguous.
        #[test]
        fn queue_preserves_blocks(ops in proptest::collection::vec((0u8..3, 1usize..40), 1..40)) {
            let mut q = OutputQueue::new();
            let mut out = Vec::new();
            let mut objs = Vec::new();
            for (i, (op, n)) in ops.iter().enumerate() {
                match op {
                    0 => q.push_line(format!("OK id-{i}")),
                    1 => {
                        let obj: Vec<u8> = (0..*n as u8).collect();
                        q.push_data(&obj, Some(i as u32), DataFormat::Warts);
                        objs.push(obj);
                    }
                    _ => {
                        if let Some(c) = q.next_chunk() {
                            let k = c.len().min(*n);
                            out.extend_from_slice(&c[..k]);
                            q.consume(k);
                        }
                    }
                }
            }
            while let Some(c) = q.next_chunk() {
                out.extend_from_slice(c);
                let k = c.len();
                q.consume(k);
            }
            // Re-parse: every DATA header is followed by exactly its body.
            let mut rest = &out[..];
            let mut got = Vec::new();
            while !rest.is_empty() {
                let nl = rest.iter().position(|&b| b == b'\n').unwrap();
                let line = std::str::from_utf8(&rest[..nl]).unwrap().to_string();
                rest = &rest[nl + 1..];
                if let Some(h) = line.strip_prefix("DATA ") {
                    let len: usize = h.split(' ').next().unwrap().parse().unwrap();
                    got.push(crate::control::uuencode::uudecode(&rest[..len]).unwrap());
                    rest = &rest[len..];
                } else {
                    prop_assert!(line.starts_with("OK id-"));
                }
            }
            prop_assert_eq!(got, objs);
        }
    }
}
