//! Running scamper on the lab and reading what it wrote.
#![allow(dead_code)]

pub mod control;

use scamper_systests::{scamper_bin, Lab, Role};
use std::io::Read;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

/// What one scamper run produced.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON objects of `-O json` output, one per line.
    pub fn json(&self) -> Vec<serde_json::Value> {
        json_lines(&self.stdout)
    }

    /// The ping records only.
    pub fn pings(&self) -> Vec<serde_json::Value> {
        self.json()
            .into_iter()
            .filter(|v| v["type"] == "ping")
            .collect()
    }
}

pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

/// Run `cmds` side by side (`-I`, `-p 1000`, `-O json`) bounded by `limit`; the records of
/// type `kind`, exactly one per command, in `-U` (userid) order.
pub fn run_json(lab: &Lab, cmds: &[String], kind: &str, limit: Duration) -> Vec<serde_json::Value> {
    let mut args = vec!["-O", "json", "-p", "1000", "-I"];
    args.extend(cmds.iter().map(String::as_str));
    let run = scamper(lab, &args, limit);
    assert!(run.status.success(), "scamper {cmds:?}: {}", run.stderr);
    let mut recs: Vec<serde_json::Value> = run
        .json()
        .into_iter()
        .filter(|v| v["type"] == kind)
        .collect();
    assert_eq!(
        recs.len(),
        cmds.len(),
        "one record per command: {}",
        run.stdout
    );
    recs.sort_by_key(|r| r["userid"].as_u64());
    recs
}

/// The trace records of a warts file, read by our library.
pub fn warts_traces(file: &std::path::Path) -> Vec<scamper_warts::trace::Trace> {
    scamper_warts::open_file(file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .filter_map(|r| match r.expect("valid warts") {
            scamper_warts::Record::Trace(t) => Some(*t),
            _ => None,
        })
        .collect()
}

/// The records of type `kind` (`"trace"`, `"ping"`, ...) of a warts file, as our
/// `sc_warts2json` prints them.
pub fn warts2json(file: &std::path::Path, kind: &str) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(scamper_systests::tool_bin("sc_warts2json"))
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .filter(|v| v["type"] == kind)
        .collect()
}

/// Run scamper in the vantage point with `args`, bounded by `limit`.
pub fn scamper(lab: &Lab, args: &[&str], limit: Duration) -> Run {
    let mut cmd = lab.command(Role::Vp, scamper_bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = lab.spawn(cmd).expect("scamper starts");
    let out = child.take_stdout().expect("stdout");
    let err = child.take_stderr().expect("stderr");
    let out_reader = std::thread::spawn(move || read_all(out));
    let err_reader = std::thread::spawn(move || read_all(err));
    let status = child.wait_timeout(limit).expect("wait").unwrap_or_else(|| {
        child.kill();
        panic!("scamper {args:?} did not finish within {limit:?}")
    });
    Run {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

pub fn read_all(mut r: impl Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}

/// A scratch directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "scrs-test-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
