//! A scamper serving a control socket on the lab, and a line-protocol client for it.

use super::TempDir;
use scamper_systests::*;
use scamper_warts::Record;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A scamper serving `-U` in the lab's vantage point, stopped (SIGTERM) on drop.
pub struct Served {
    pub child: LabChild,
    pub sock: std::path::PathBuf,
}

pub fn serve(lab: &Lab, dir: &TempDir, extra: &[&str]) -> Served {
    let sock = dir.path("ctl.sock");
    let mut cmd = lab.command(Role::Vp, scamper_bin());
    cmd.args(["-U", sock.to_str().unwrap()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = lab.spawn(cmd).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < end, "control socket never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    Served { child, sock }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.signal(nix::sys::signal::SIGTERM);
        let _ = self.child.wait_timeout(Duration::from_secs(10));
    }
}

/// One line-protocol conversation.
pub struct Conn {
    pub r: BufReader<UnixStream>,
    pub w: UnixStream,
}

/// Something scamper sent.
#[derive(Debug)]
pub enum Msg {
    Line(String),
    Data { id: Option<u32>, body: Vec<u8> },
}

impl Conn {
    pub fn open(path: &std::path::Path) -> Conn {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Conn {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    pub fn send(&mut self, line: &str) {
        self.w.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    pub fn line(&mut self) -> Option<String> {
        let mut l = String::new();
        match self.r.read_line(&mut l) {
            Ok(0) => None,
            Ok(_) => Some(l.trim_end_matches('\n').to_string()),
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Next message; DATA bodies are read whole (uudecoded for warts).
    pub fn next(&mut self, warts: bool) -> Option<Msg> {
        let l = self.line()?;
        let Some(rest) = l.strip_prefix("DATA ") else {
            return Some(Msg::Line(l));
        };
        let mut words = rest.split(' ');
        let len: usize = words.next().unwrap().parse().unwrap();
        let id = words
            .next()
            .map(|w| w.strip_prefix("id-").unwrap().parse().unwrap());
        let mut body = vec![0u8; len];
        self.r.read_exact(&mut body).unwrap();
        let body = if warts { uudecode(&body) } else { body };
        Some(Msg::Data { id, body })
    }
}

/// An independent uudecoder (the test's oracle for control.md §5).
pub fn uudecode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        if line.is_empty() || line[0] == b'`' {
            continue;
        }
        let n = ((line[0] - 32) & 0x3f) as usize;
        let vals: Vec<u8> = line[1..]
            .iter()
            .map(|&c| (c.wrapping_sub(32)) & 0x3f)
            .collect();
        let mut bytes = Vec::new();
        for g in vals.chunks(4) {
            if g.len() < 4 {
                break;
            }
            bytes.push((g[0] << 2) | (g[1] >> 4));
            bytes.push((g[1] << 4) | (g[2] >> 2));
            bytes.push((g[2] << 6) | g[3]);
        }
        bytes.truncate(n);
        out.extend(bytes);
    }
    out
}

pub fn records(warts: &[u8]) -> Vec<Record> {
    scamper_warts::WartsReader::new(warts)
        .collect::<std::result::Result<Vec<_>, _>>()
        .expect("the DATA stream is a valid warts sequence")
}
