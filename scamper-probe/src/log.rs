//! Logging for both processes: stderr normally, syslog in daemon mode, and a copy of everything
//! in the `-d` debug file when one is given. The syslog socket and the debug file are opened
//! before the prober enters its chroot, so both keep working inside it.

use std::io::Write;
use std::sync::Mutex;

type Syslog = syslog::Logger<syslog::LoggerBackend, syslog::Formatter3164>;

struct Sinks {
    stderr: bool,
    syslog: Option<Syslog>,
    debug: Option<std::fs::File>,
}

static SINKS: Mutex<Sinks> = Mutex::new(Sinks {
    stderr: true,
    syslog: None,
    debug: None,
});

/// Switch to syslog (daemon mode): messages no longer go to stderr.
pub fn use_syslog(process: &str) -> std::io::Result<()> {
    let formatter = syslog::Formatter3164 {
        facility: syslog::Facility::LOG_DAEMON,
        hostname: None,
        process: process.into(),
        pid: std::process::id(),
    };
    let logger = syslog::unix(formatter).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut s = SINKS.lock().unwrap_or_else(|p| p.into_inner());
    s.syslog = Some(logger);
    s.stderr = false;
    Ok(())
}

/// Stop writing to stderr (a daemon's stderr is /dev/null).
pub fn quiet_stderr() {
    SINKS.lock().unwrap_or_else(|p| p.into_inner()).stderr = false;
}

/// Send a copy of every message to the `-d` debug file.
pub fn set_debug_file(file: std::fs::File) {
    SINKS.lock().unwrap_or_else(|p| p.into_inner()).debug = Some(file);
}

/// The process id recorded by syslog is fixed at creation; after the fork the prober records its
/// own.
pub fn set_pid(pid: u32) {
    if let Some(l) = SINKS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .syslog
        .as_mut()
    {
        l.formatter.pid = pid;
    }
}

#[derive(Clone, Copy)]
enum Level {
    Error,
    Warn,
    Info,
}

fn emit(level: Level, msg: &str) {
    let mut s = SINKS.lock().unwrap_or_else(|p| p.into_inner());
    // Informational messages go to syslog and the debug file only; stderr is for problems.
    if s.stderr && !matches!(level, Level::Info) {
        let _ = writeln!(std::io::stderr(), "scamper: {msg}");
    }
    if let Some(l) = s.syslog.as_mut() {
        let _ = match level {
            Level::Error => l.err(msg),
            Level::Warn => l.warning(msg),
            Level::Info => l.info(msg),
        };
    }
    if let Some(f) = s.debug.as_mut() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let _ = writeln!(f, "[{}.{:06}] {msg}", now.as_secs(), now.subsec_micros());
    }
}

pub fn error(msg: &str) {
    emit(Level::Error, msg)
}
pub fn warn(msg: &str) {
    emit(Level::Warn, msg)
}
pub fn info(msg: &str) {
    emit(Level::Info, msg)
}
