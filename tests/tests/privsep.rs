//! The process pair on a running scamper: the prober is confined (credentials, capabilities,
//! no-new-privs, chroot), the helper holds the pidfile, SIGHUP reloads the do-not-probe file,
//! SIGTERM shuts down cleanly; and a setuid-root install writes files as the invoking user.

mod common;

use common::{read_all, scamper, TempDir};
use scamper_systests::*;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Poll `f` every 50 ms until it returns Some, at most `limit`.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn status_field(pid: u32, field: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Children of `parent`, from /proc.
fn children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if status_field(pid, "PPid").as_deref() == Some(&parent.to_string()) {
            out.push(pid);
        }
    }
    out
}

/// Number of userfaultfd descriptors `pid` holds.
fn userfaultfds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|l| l.to_string_lossy().contains("userfaultfd"))
        .count()
}

#[test]
fn prober_is_confined_and_the_helper_relays_signals() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("privsep");
    let (pidfile, dnp, out) = (
        dir.path("scamper.pid"),
        dir.path("dnp.txt"),
        dir.path("out.json"),
    );
    std::fs::write(&dnp, "# nothing yet\n").unwrap();
    let dnp_opt = format!("dnp={}", dnp.display());
    let mut cmd = lab.command(Role::Vp, scamper_bin());
    cmd.args([
        "-e",
        pidfile.to_str().unwrap(),
        "-O",
        &dnp_opt,
        "-o",
        out.to_str().unwrap(),
    ])
    .args(["-c", "ping -c 100 -i 0.2", "-f", "-"])
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let child = lab.spawn(cmd).unwrap();
    let mut stdin = child.take_stdin().unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut err_pipe = child.take_stderr().unwrap();
    let sink = stderr.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = err_pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    writeln!(stdin, "{TARGET_V4}").unwrap();

    // The pidfile holds the helper's pid: the process we started.
    let helper = child.pid();
    let recorded = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&pidfile)
            .ok()
            .filter(|s| s.ends_with('\n'))
    })
    .expect("pidfile written");
    assert_eq!(recorded.trim(), helper.to_string());
    assert_eq!(status_field(helper, "Uid").as_deref(), Some("0 0 0 0"));

    let prober = wait_for(Duration::from_secs(10), || {
        children(helper).first().copied()
    })
    .expect("prober process");
    // Give it time to confine itself (it does so before any measurement starts).
    let confined = wait_for(Duration::from_secs(10), || {
        (status_field(prober, "NoNewPrivs").as_deref() == Some("1")).then_some(())
    });
    assert!(confined.is_some(), "prober never set no-new-privs");
    assert_eq!(
        status_field(prober, "Uid").as_deref(),
        Some("65534 65534 65534 65534")
    );
    assert_eq!(
        status_field(prober, "Gid").as_deref(),
        Some("65534 65534 65534 65534")
    );
    assert_eq!(status_field(prober, "Groups").as_deref(), Some(""));
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            status_field(prober, cap).as_deref(),
            Some("0000000000000000"),
            "{cap}"
        );
    }
    // A userfaultfd acts on the memory of the process that created it: the helper's
    // (scamper_sys::lazy_code) must not stay open in the prober, which may hold only its own.
    assert!(
        userfaultfds(prober) <= 1,
        "prober holds the helper's userfaultfd"
    );
    assert!(userfaultfds(helper) <= 1);
    let root = std::fs::read_link(format!("/proc/{prober}/root")).unwrap();
    assert_eq!(root, std::path::Path::new("/var/empty"));
    assert_eq!(
        std::fs::read_dir("/var/empty").unwrap().count(),
        0,
        "chroot must be empty"
    );

    // SIGHUP: the helper re-reads the do-not-probe file and the prober swaps it in; the ping in
    // progress keeps going, and a new task to the now-listed target is refused.
    std::fs::write(&dnp, format!("{TARGET_V4}/32\n")).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(helper as i32),
        nix::sys::signal::SIGHUP,
    )
    .unwrap();
    let reloaded = wait_for(Duration::from_secs(10), || {
        // Feed the target again until the refusal shows that the new set is in force.
        writeln!(stdin, "{TARGET_V4}").ok()?;
        std::thread::sleep(Duration::from_millis(200));
        stderr
            .lock()
            .unwrap()
            .contains("destination in do-not-probe list")
            .then_some(())
    });
    assert!(
        reloaded.is_some(),
        "reload not seen: {}",
        stderr.lock().unwrap()
    );

    // SIGTERM: results flushed, pidfile removed, exit 0.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(helper as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    let status = child
        .wait_timeout(Duration::from_secs(20))
        .unwrap()
        .expect("scamper exits");
    drop(stdin);
    reader.join().unwrap();
    assert!(
        status.success(),
        "exit {status:?}: {}",
        stderr.lock().unwrap()
    );
    assert!(!pidfile.exists(), "pidfile left behind");
    let text = std::fs::read_to_string(&out).unwrap();
    let lines = common::json_lines(&text);
    assert_eq!(lines.first().unwrap()["type"], "cycle-start");
    assert_eq!(lines.last().unwrap()["type"], "cycle-stop");
    let pings: Vec<_> = lines.iter().filter(|l| l["type"] == "ping").collect();
    assert_eq!(pings.len(), 1, "{text}");
    assert!(pings[0]["ping_sent"].as_u64().unwrap() >= 2, "{text}");
    assert!(
        !pings[0]["responses"].as_array().unwrap().is_empty(),
        "{text}"
    );
}

#[test]
fn a_second_instance_with_the_same_pidfile_refuses_to_start() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("pidlock");
    let pidfile = dir.path("scamper.pid");
    let mut cmd = lab.command(Role::Vp, scamper_bin());
    cmd.args([
        "-e",
        pidfile.to_str().unwrap(),
        "-c",
        "ping -c 50 -i 0.2",
        "-i",
    ])
    .arg(TARGET_V4.to_string())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let first = lab.spawn(cmd).unwrap();
    wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&pidfile)
            .ok()
            .filter(|s| !s.is_empty())
    })
    .expect("first instance wrote its pidfile");
    let second = scamper(
        &lab,
        &[
            "-e",
            pidfile.to_str().unwrap(),
            "-c",
            "ping -c 1",
            "-i",
            &TARGET_V4.to_string(),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(second.status.code(), Some(255));
    assert!(
        second.stderr.contains("another scamper is running"),
        "{}",
        second.stderr
    );
    first.signal(nix::sys::signal::SIGTERM).unwrap();
    assert!(first
        .wait_timeout(Duration::from_secs(20))
        .unwrap()
        .expect("exits")
        .success());
}

#[test]
fn setuid_install_writes_as_the_invoking_user() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    // The installed copy: root-owned, setuid, in a directory the user can reach.
    let install = TempDir::new("setuid-bin");
    std::fs::set_permissions(&install.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = install.path("scamper");
    std::fs::copy(scamper_bin(), &bin).unwrap();
    nix::unistd::chown(&bin, Some(0.into()), Some(0.into())).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o4755)).unwrap();
    // The user's own directory.
    let home = TempDir::new("setuid-home");
    nix::unistd::chown(&home.0, Some(65534.into()), Some(65534.into())).unwrap();
    let out = home.path("out.json");

    let as_user = |args: &[&str]| {
        let mut cmd = lab.command(Role::Vp, "setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = lab.spawn(cmd).unwrap();
        let err = child.take_stderr().unwrap();
        let err = std::thread::spawn(move || read_all(err));
        let status = child
            .wait_timeout(Duration::from_secs(30))
            .unwrap()
            .expect("finishes");
        (status, err.join().unwrap())
    };

    let (status, err) = as_user(&[
        "-o",
        out.to_str().unwrap(),
        "-O",
        "json",
        "-c",
        "ping -c 1",
        "-i",
        &TARGET_V4.to_string(),
    ]);
    assert!(status.success(), "{err}");
    let meta = std::fs::metadata(&out).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (65534, 65534),
        "output owned by the user"
    );
    assert_eq!(meta.mode() & 0o777, 0o644);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        common::json_lines(&text)
            .iter()
            .any(|l| l["type"] == "ping"),
        "{text}"
    );

    // A file only root may write is refused, and nothing is created.
    let forbidden = format!("/root/scrs-setuid-{}.json", std::process::id());
    let (status, err) = as_user(&[
        "-o",
        &forbidden,
        "-c",
        "ping -c 1",
        "-i",
        &TARGET_V4.to_string(),
    ]);
    assert_eq!(status.code(), Some(255), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    assert!(!std::path::Path::new(&forbidden).exists());
}

#[test]
fn daemon_mode_with_a_control_socket() {
    if !Lab::require_root() {
        return;
    }
    let lab = Lab::build(LabSpec::single_path()).unwrap();
    let dir = TempDir::new("daemon");
    let (sock, pidfile, debug) = (
        dir.path("ctl.sock"),
        dir.path("scamper.pid"),
        dir.path("debug.log"),
    );
    let run = scamper(
        &lab,
        &[
            "-D",
            "-U",
            sock.to_str().unwrap(),
            "-e",
            pidfile.to_str().unwrap(),
            "-d",
            debug.to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    // The foreground process returns once the daemon is detached.
    assert!(run.status.success(), "{}", run.stderr);
    let pid: i32 = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    })
    .expect("daemon wrote its pidfile");
    assert_eq!(
        status_field(pid as u32, "PPid").as_deref(),
        Some("1"),
        "detached from its parent"
    );
    let reply = wait_for(Duration::from_secs(10), || {
        let mut s = std::os::unix::net::UnixStream::connect(&sock).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(b"get version\n").ok()?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    })
    .expect("daemon answers on its control socket");
    assert_eq!(reply, "OK version 20260420\n");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGTERM).unwrap();
    let gone = wait_for(Duration::from_secs(15), || {
        (!pidfile.exists() && !sock.exists()).then_some(())
    });
    assert!(gone.is_some(), "pidfile and socket removed at exit");
    assert!(std::fs::read_to_string(&debug)
        .unwrap()
        .contains("prober confined"));
}
