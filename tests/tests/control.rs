//! The control socket on the lab: the raw line protocol (every reply form, halt, done), a client
//! that behaves like the PyPI module (bare attach, commands without waiting for MORE, results
//! matched by task id), TCP and unix listeners, and many clients at once, one of which stops
//! reading.

mod common;

use common::control::{records, serve, uudecode, Conn, Msg};
use common::TempDir;
use scamper_systests::*;
use scamper_warts::Record;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn raw_protocol_every_reply_form() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("ctl-raw");
    let srv = serve(&lab, &dir, &["-p", "100"]);
    let mut c = Conn::open(&srv.sock);
    let t4 = TARGET_V4.to_string();

    for (send, want) in [
        ("get version", "OK version 20260420"),
        ("get pps", "OK pps 100"),
        ("set pps 0", "ERR pps: 0 out of range (1, 50000)"),
        ("set pps 50", "OK pps 50"),
        ("get window", "OK window 0/0"),
        ("get monitorname", "OK null monitorname"),
        (
            "get",
            "ERR usage: get [command | monitorname | nameserver | pid | pps | version | window]",
        ),
        ("help", "ERR XXX: todo"),
        ("frobnicate", "ERR unhandled command 'frobnicate'"),
        ("shutdown", "ERR usage: [cancel | done | flush | now]"),
        ("attach format yaml", "ERR format must be warts or json"),
    ] {
        c.send(send);
        assert_eq!(c.line().as_deref(), Some(want), "reply to {send:?}");
    }
    c.send("source list");
    assert_eq!(c.line().as_deref(), Some("OK"), "no sources yet");

    c.send("attach name lab1 priority 5");
    assert_eq!(c.line().as_deref(), Some("OK"));
    c.send(&format!("ping -c 50 -i 0.2 {t4}"));
    c.send(&format!("ping -c 1 {t4}"));
    c.send("ping -c 1 not-an-address");
    c.send("frob 192.0.2.1");
    let mut replies = Vec::new();
    let mut more = 0;
    let mut data: Vec<(Option<u32>, Vec<u8>)> = Vec::new();
    while replies.len() < 4 {
        match c.next(true).expect("connection open") {
            Msg::Line(l) if l == "MORE" => more += 1,
            Msg::Line(l) => replies.push(l),
            Msg::Data { id, body } => data.push((id, body)),
        }
    }
    assert_eq!(replies[0], "OK id-1");
    assert_eq!(replies[1], "OK id-2");
    assert!(
        replies[2].starts_with("ERR command not accepted: "),
        "{}",
        replies[2]
    );
    assert_eq!(
        replies[3],
        "ERR command not accepted: could not determine command type"
    );
    assert!(more >= 1, "MORE after the cycle start");

    // Halt the long ping; an unknown id and a bad number are refused.
    std::thread::sleep(Duration::from_millis(500));
    c.send("halt 1");
    c.send("halt 99");
    c.send("halt x");
    c.send("done");
    let mut replies = Vec::new();
    while let Some(m) = c.next(true) {
        match m {
            Msg::Line(l) if l == "MORE" => {}
            Msg::Line(l) => replies.push(l),
            Msg::Data { id, body } => data.push((id, body)),
        }
    }
    assert_eq!(
        replies,
        [
            "OK halted 1",
            "ERR no task id-99",
            "ERR usage: halt [id]",
            "OK"
        ]
    );
    // Objects: list, cycle start, the two pings (by id), cycle stop; then EOF.
    let ids: BTreeSet<u32> = data.iter().filter_map(|d| d.0).collect();
    assert_eq!(ids, BTreeSet::from([1, 2]));
    let stream: Vec<u8> = data.iter().flat_map(|d| d.1.clone()).collect();
    let recs = records(&stream);
    assert!(
        matches!(recs.first(), Some(Record::List(l)) if l.name == "lab1"),
        "{recs:?}"
    );
    assert!(matches!(recs.get(1), Some(Record::CycleStart(_))));
    assert!(matches!(recs.last(), Some(Record::CycleStop(_))));
    let pings: Vec<_> = recs
        .iter()
        .filter_map(|r| match r {
            Record::Ping(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(pings.len(), 2);
    let halted = pings.iter().find(|p| p.probe_count == 50).unwrap();
    assert!(
        halted.ping_sent < 50,
        "halted ping stopped early: sent {}",
        halted.ping_sent
    );
}

#[test]
fn a_client_like_the_python_module() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("ctl-py");
    let srv = serve(&lab, &dir, &["-p", "500"]);
    let mut c = Conn::open(&srv.sock);
    // Bare attach, then every command at once without waiting for MORE; FIFO reply matching.
    c.send("attach");
    let mut sent = Vec::new();
    for i in 0..20u32 {
        let dst = anyip_addr(if i % 2 == 0 { Family::V4 } else { Family::V6 }, i);
        let cmd = if i % 3 == 0 {
            format!("trace -q 1 -w 1 {dst}")
        } else {
            format!("ping -c 2 -i 0.1 {dst}")
        };
        c.send(&cmd);
        sent.push(cmd);
    }
    c.send("done");
    let mut fifo: Vec<&str> = std::iter::once("attach")
        .chain(sent.iter().map(String::as_str))
        .chain(["done"])
        .collect();
    fifo.reverse();
    let mut task_of_id = BTreeMap::new();
    let mut results = BTreeMap::new();
    let mut stream = Vec::new();
    while let Some(m) = c.next(true) {
        match m {
            Msg::Line(l) if l == "MORE" => {}
            Msg::Line(l) => {
                let cmd = fifo.pop().expect("a reply per line sent");
                if let Some(id) = l.strip_prefix("OK id-") {
                    task_of_id.insert(id.parse::<u32>().unwrap(), cmd.to_string());
                } else {
                    assert_eq!(l, "OK", "reply to {cmd}");
                }
            }
            Msg::Data { id, body } => {
                if let Some(id) = id {
                    assert!(task_of_id.contains_key(&id), "DATA for unknown id {id}");
                    assert!(
                        results.insert(id, body.clone()).is_none(),
                        "id {id} answered twice"
                    );
                }
                stream.extend(body);
            }
        }
    }
    assert!(fifo.is_empty(), "unanswered: {fifo:?}");
    assert_eq!(
        results.len(),
        20,
        "every accepted task answered exactly once"
    );
    let recs = records(&stream);
    let n = recs
        .iter()
        .filter(|r| matches!(r, Record::Ping(_) | Record::Trace(_)))
        .count();
    assert_eq!(n, 20);
    for (id, body) in &results {
        let cmd = &task_of_id[id];
        let r = records(&[records_prefix(&stream), body.clone()].concat());
        let last = r.last().unwrap();
        match last {
            Record::Ping(p) => assert!(
                cmd.starts_with("ping") && cmd.ends_with(&p.dst.as_ref().unwrap().to_string())
            ),
            Record::Trace(t) => assert!(
                cmd.starts_with("trace") && cmd.ends_with(&t.dst.as_ref().unwrap().to_string())
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The list and cycle-start objects at the start of a client's stream, so a single result can
/// be parsed on its own.
fn records_prefix(stream: &[u8]) -> Vec<u8> {
    let mut end = 0;
    for _ in 0..2 {
        let len = u32::from_be_bytes(stream[end + 4..end + 8].try_into().unwrap()) as usize;
        end += 8 + len;
    }
    stream[..end].to_vec()
}

#[test]
fn tcp_listener_and_json_format() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let mut cmd = lab.command(Role::Vp, scamper_bin());
    cmd.args(["-P", "127.0.0.1:31337"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = lab.spawn(cmd).unwrap();
    let out = lab
        .in_ns(Role::Vp, move || -> Result<Vec<String>> {
            let end = Instant::now() + Duration::from_secs(10);
            let s = loop {
                match std::net::TcpStream::connect("127.0.0.1:31337") {
                    Ok(s) => break s,
                    Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(50)),
                    Err(e) => return Err(LabError(e.to_string())),
                }
            };
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut w = s.try_clone().unwrap();
            w.write_all(format!("attach format json\nping -c 1 {TARGET_V4}\ndone\n").as_bytes())
                .unwrap();
            Ok(BufReader::new(s).lines().map_while(|l| l.ok()).collect())
        })
        .unwrap()
        .unwrap();
    child.signal(nix::sys::signal::SIGTERM).unwrap();
    child.wait_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(out[0], "OK");
    assert!(out.contains(&"OK id-1".to_string()), "{out:?}");
    let json: Vec<serde_json::Value> = out
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = json.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["cycle-start", "ping", "cycle-stop"], "{out:?}");
    assert!(out
        .iter()
        .any(|l| l.starts_with("DATA ") && l.ends_with(" id-1")));
}

#[test]
fn many_clients_at_once_and_one_that_stops_reading() {
    if !Lab::require_root() {
        return;
    }
    const CLIENTS: usize = 200;
    const PINGS: usize = 50;
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("ctl-load");
    let srv = serve(&lab, &dir, &["-p", "10000"]);
    // A client that attaches, asks for work and never reads its results.
    let mut stalled = Conn::open(&srv.sock);
    stalled.send("attach");
    for i in 0..PINGS {
        stalled.send(&format!(
            "ping -c 1 {}",
            anyip_addr(Family::V4, 100_000 + i as u32)
        ));
    }
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|k| {
            let sock = srv.sock.clone();
            std::thread::spawn(move || {
                let mut c = Conn::open(&sock);
                c.send("attach");
                for i in 0..PINGS {
                    c.send(&format!(
                        "ping -c 1 -W 1 {}",
                        anyip_addr(Family::V4, (k * PINGS + i) as u32)
                    ));
                }
                c.send("done");
                let (mut ok_ids, mut data_ids) = (BTreeSet::new(), Vec::new());
                while let Some(m) = c.next(true) {
                    match m {
                        Msg::Line(l) => {
                            if let Some(id) = l.strip_prefix("OK id-") {
                                ok_ids.insert(id.parse::<u32>().unwrap());
                            } else {
                                assert!(l == "OK" || l == "MORE", "client {k}: {l}");
                            }
                        }
                        Msg::Data { id: Some(id), body } => {
                            assert!(!body.is_empty());
                            data_ids.push(id)
                        }
                        Msg::Data { id: None, .. } => {}
                    }
                }
                (ok_ids, data_ids)
            })
        })
        .collect();
    let mut answered = 0;
    for (k, w) in workers.into_iter().enumerate() {
        let (ok_ids, mut data_ids) = w.join().unwrap();
        assert_eq!(ok_ids.len(), PINGS, "client {k}: every command accepted");
        data_ids.sort_unstable();
        let unique: BTreeSet<u32> = data_ids.iter().copied().collect();
        assert_eq!(unique, ok_ids, "client {k}: every accepted task answered");
        assert_eq!(data_ids.len(), PINGS, "client {k}: no duplicates");
        answered += data_ids.len();
    }
    assert_eq!(answered, CLIENTS * PINGS);
    // 10,000 single-probe pings at 10,000 pps with a one-second timeout: the stalled client
    // must not have held the others back for long.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(60), "took {took:?}");
    // Memory stays bounded: the prober's resident set after the load.
    let prober = std::fs::read_to_string(format!(
        "/proc/{}/task/{}/children",
        srv.child.pid(),
        srv.child.pid()
    ))
    .unwrap_or_default();
    if let Some(pid) = prober.split_whitespace().next() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or(0);
        assert!(
            rss_kb > 0 && rss_kb < 256 * 1024,
            "prober peak RSS {rss_kb} kB"
        );
    }
    drop(stalled);
}

/// Our sc_attach drives both listeners; the warts file it writes is complete and readable by
/// Debian's sc_warts2json too.
#[test]
fn sc_attach_over_unix_and_tcp() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("ctl-attach");
    let sock = dir.path("ctl.sock");
    let mut cmd = lab.command(Role::Vp, scamper_bin());
    cmd.args(["-U", sock.to_str().unwrap(), "-P", "31338", "-p", "200"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let server = lab.spawn(cmd).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < end, "control socket never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    let cmds = dir.path("cmds.txt");
    std::fs::write(
        &cmds,
        format!(
            "ping -c 2 -i 0.1 {TARGET_V4}\ntrace -q 1 {TARGET_V6}\nping -c 1 -P udp {TARGET_V6}\n"
        ),
    )
    .unwrap();
    for (how, target) in [
        ("-U", sock.to_str().unwrap().to_string()),
        ("-p", "31338".to_string()),
    ] {
        let out = dir.path(&format!("out{how}.warts"));
        let o = lab
            .exec(
                Role::Vp,
                &[
                    tool_bin("sc_attach").to_str().unwrap(),
                    how,
                    &target,
                    "-i",
                    cmds.to_str().unwrap(),
                    "-o",
                    out.to_str().unwrap(),
                ],
            )
            .unwrap();
        assert!(
            o.status.success(),
            "sc_attach {how}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let bytes = std::fs::read(&out).unwrap();
        let recs = records(&bytes);
        let kinds: Vec<&str> = recs
            .iter()
            .map(|r| match r {
                Record::List(_) => "list",
                Record::CycleStart(_) => "cycle-start",
                Record::CycleStop(_) => "cycle-stop",
                Record::Ping(_) => "ping",
                Record::Trace(_) => "trace",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds.len(), 6, "{how}: {kinds:?}");
        assert_eq!(&kinds[..2], ["list", "cycle-start"], "{how}");
        assert_eq!(kinds[5], "cycle-stop", "{how}");
        let mut middle = kinds[2..5].to_vec();
        middle.sort_unstable();
        assert_eq!(middle, ["ping", "ping", "trace"], "{how}");
        let deb = std::process::Command::new("/usr/bin/sc_warts2json")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            deb.status.success(),
            "Debian sc_warts2json on sc_attach output ({how})"
        );
        assert_eq!(
            String::from_utf8_lossy(&deb.stdout).lines().count(),
            5,
            "{how}: cycle-start, 3 results, cycle-stop"
        );
    }
    server.signal(nix::sys::signal::SIGTERM).unwrap();
    assert!(server
        .wait_timeout(Duration::from_secs(10))
        .unwrap()
        .expect("exits")
        .success());
    assert!(!sock.exists(), "the helper removes the -U socket at exit");
}

/// `-y stream` results arrive as `DATA <len> id-<n> inprog` before the final one; and the
/// `remote` commands list, add and delete controller connections.
#[test]
fn in_progress_results_and_remote_commands() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("ctl-inprog");
    let srv = serve(&lab, &dir, &["-p", "100"]);
    let mut c = Conn::open(&srv.sock);
    for (send, want) in [
        ("remote list", "OK"),
        ("remote delete 127.0.0.1:9", "ERR no remote connections"),
        ("remote add server 127.0.0.1:9", "OK"),
        (
            "remote add server 127.0.0.1:9",
            "ERR 127.0.0.1:9 already exists",
        ),
        ("remote list", "INFO 127.0.0.1:9"),
        ("OK", ""),
        ("remote delete 127.0.0.1:10", "ERR 127.0.0.1:10 not found"),
        ("remote delete 127.0.0.1:9", "OK"),
        ("remote list", "OK"),
    ] {
        if send == "OK" {
            // The second line of the `remote list` reply above.
            assert_eq!(c.line().as_deref(), Some("OK"));
            continue;
        }
        c.send(send);
        assert_eq!(c.line().as_deref(), Some(want), "reply to {send:?}");
    }
    c.send("attach");
    c.send(&format!("ping -c 4 -i 0.1 -y 2 {TARGET_V4}"));
    c.send("done");
    let mut headers = Vec::new();
    let mut raw = Vec::new();
    // Read the raw lines to see the DATA headers as sent.
    while let Some(l) = c.line() {
        if let Some(rest) = l.strip_prefix("DATA ") {
            headers.push(rest.to_string());
            let len: usize = rest.split(' ').next().unwrap().parse().unwrap();
            let mut body = vec![0u8; len];
            c.r.read_exact(&mut body).unwrap();
            raw.push(uudecode(&body));
        }
    }
    let ids: Vec<&str> = headers
        .iter()
        .filter(|h| h.contains("id-1"))
        .map(String::as_str)
        .collect();
    assert_eq!(ids.len(), 2, "{headers:?}");
    assert!(ids[0].ends_with("id-1 inprog"), "{headers:?}");
    assert!(ids[1].ends_with("id-1"), "{headers:?}");
    let stream: Vec<u8> = raw.concat();
    let pings: Vec<_> = records(&stream)
        .into_iter()
        .filter_map(|r| match r {
            Record::Ping(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(pings.len(), 2);
    assert_eq!(
        pings[0].ping_sent, 2,
        "the in-progress copy after two probes"
    );
    assert_eq!(pings[1].ping_sent, 4);
}
