//! `scrs-lab-delay`: a point-to-point "wire" between two network namespaces that delays packets.
//!
//! The kernel on our machines has no netem qdisc, so the lab builds its delayed link from two TUN
//! devices, one in each namespace, and this program copies IP packets between them, holding the
//! packets of each direction for a fixed time.
//!
//! ```text
//! scrs-lab-delay --a NS_A:DEV_A --b NS_B:DEV_B --delay-us N [--reverse-delay-us M] [--max-secs S]
//! ```
//!
//! Packets read from DEV_A are written to DEV_B N microseconds later; packets from DEV_B go to
//! DEV_A after M microseconds (default 0). The devices are created by this program and are not
//! persistent, so they disappear with it. Prints `ready` on stdout once both devices exist.
//!
//! The program is bounded: it exits when either namespace is removed (`ip netns del`), when its
//! parent process goes away, or after `--max-secs` (default 3600).
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};
use tun_rs::{DeviceBuilder, SyncDevice};

/// Packets queued per direction before we drop (like netem's `limit`): bounds memory.
const QUEUE_LIMIT: usize = 8192;

struct Args {
    a: (String, String),
    b: (String, String),
    delay_ab: Duration,
    delay_ba: Duration,
    max_life: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut a = None;
    let mut b = None;
    let mut delay_ab = None;
    let mut delay_ba = Duration::ZERO;
    let mut max_life = Duration::from_secs(3600);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let us = |v: &str| -> Result<Duration, String> {
            v.parse::<u64>()
                .map(Duration::from_micros)
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--a" | "--b" => {
                let (ns, dev) = val
                    .split_once(':')
                    .ok_or_else(|| format!("{flag} wants NS:DEV, got {val}"))?;
                let end = Some((ns.to_string(), dev.to_string()));
                if flag == "--a" {
                    a = end;
                } else {
                    b = end;
                }
            }
            "--delay-us" => delay_ab = Some(us(&val)?),
            "--reverse-delay-us" => delay_ba = us(&val)?,
            "--max-secs" => {
                max_life = Duration::from_secs(val.parse().map_err(|e| format!("--max-secs: {e}"))?)
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(Args {
        a: a.ok_or("--a is required")?,
        b: b.ok_or("--b is required")?,
        delay_ab: delay_ab.ok_or("--delay-us is required")?,
        delay_ba,
        max_life,
    })
}

/// Creates TUN device `dev` inside namespace `ns`. The TUN file binds to the namespace the
/// calling thread is in when it is opened, so we switch this thread there first.
fn open_tun(ns: &str, dev: &str) -> Result<SyncDevice, String> {
    let f = File::open(Path::new("/run/netns").join(ns)).map_err(|e| format!("netns {ns}: {e}"))?;
    setns(&f, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns {ns}: {e}"))?;
    DeviceBuilder::new()
        .name(dev)
        .build_sync()
        .map_err(|e| format!("tun {dev} in {ns}: {e}"))
}

/// Copies packets from `src` to `dst`, each `delay` after it was read. One reader and one writer
/// thread, so a sleeping writer never stalls reading; the delay is constant, so FIFO order is
/// due-time order.
fn pump(src: Arc<SyncDevice>, dst: Arc<SyncDevice>, delay: Duration) {
    let (tx, rx) = sync_channel::<(Instant, Vec<u8>)>(QUEUE_LIMIT);
    thread::spawn(move || {
        for (due, pkt) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            // A failed write (e.g. device going away at teardown) just loses the packet.
            let _ = dst.send(&pkt);
        }
    });
    thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = src.recv(&mut buf) {
            let item = (Instant::now() + delay, buf[..n].to_vec());
            match tx.try_send(item) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => break,
            }
        }
    });
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("scrs-lab-delay: {e}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let parent = nix::unistd::getppid();
    let (dev_a, dev_b) = match (
        open_tun(&args.a.0, &args.a.1),
        open_tun(&args.b.0, &args.b.1),
    ) {
        (Ok(a), Ok(b)) => (Arc::new(a), Arc::new(b)),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("scrs-lab-delay: {e}");
            return ExitCode::FAILURE;
        }
    };
    pump(dev_a.clone(), dev_b.clone(), args.delay_ab);
    pump(dev_b, dev_a, args.delay_ba);
    let mut out = std::io::stdout();
    if writeln!(out, "ready").and_then(|()| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    // Watchdog: the process must not outlive its lab. Returning from main ends the pump threads
    // and removes the (non-persistent) TUN devices.
    let ns_a = Path::new("/run/netns").join(&args.a.0);
    let ns_b = Path::new("/run/netns").join(&args.b.0);
    loop {
        thread::sleep(Duration::from_millis(50));
        if !ns_a.exists()
            || !ns_b.exists()
            || nix::unistd::getppid() != parent
            || start.elapsed() > args.max_life
        {
            return ExitCode::SUCCESS;
        }
    }
}
