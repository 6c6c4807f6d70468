//! Start-up work done before the fork, in the one process that exists then: a clean environment,
//! the files the user named opened with the user's rights, and the pidfile.

use crate::ids::Identity;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Variables kept from the caller's environment; everything else (LD_*, IFS, PATH tricks,
/// locale file paths, ...) is removed because a setuid binary must not be steered by them.
const KEEP_ENV: &[&str] = &["TZ", "LANG", "LC_ALL", "NOTIFY_SOCKET"];

pub fn sanitise_environment() {
    let drop: Vec<_> = std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| !KEEP_ENV.iter().any(|keep| k == keep))
        .collect();
    for k in drop {
        // Single-threaded at this point, so no other thread reads the environment.
        std::env::remove_var(k);
    }
    std::env::set_var("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
}

/// Make sure descriptors 0, 1 and 2 are open, so a file we open later cannot become "stdout"
/// by accident and receive our output. open(2) returns the lowest free number: while that is
/// below 3 it filled a hole and is kept.
pub fn ensure_std_fds() -> std::io::Result<()> {
    use std::os::fd::{AsRawFd, IntoRawFd};
    loop {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        if f.as_raw_fd() > 2 {
            return Ok(());
        }
        let _ = f.into_raw_fd();
    }
}

/// Open an output file (`-o`, `-d`) with the invoking user's rights, as scamper does: created
/// 0644, truncated unless `append`.
pub fn open_output(id: &Identity, path: &Path, append: bool) -> std::io::Result<File> {
    id.as_real_user(|| {
        let mut o = OpenOptions::new();
        o.write(true)
            .create(true)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC);
        if append {
            o.append(true);
        } else {
            o.truncate(true);
        }
        o.open(path)
    })
}

/// Open an input file (`-f`, `-g`, `dnp=`) with the invoking user's rights.
pub fn open_input(id: &Identity, path: &Path) -> std::io::Result<File> {
    id.as_real_user(|| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
    })
}

/// The `-e` pidfile, locked for as long as the helper lives so a second instance refuses to
/// start, holding the helper's pid. The lock is flock(2) on the open file: the prober's copy of
/// the descriptor is closed after the fork without unlocking, so the lock stays with the helper.
pub struct PidFile {
    file: File,
    path: std::path::PathBuf,
}

impl PidFile {
    pub fn create(id: &Identity, path: &Path) -> std::io::Result<PidFile> {
        let mut file = id.as_real_user(|| {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC)
                .open(path)
        })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(std::io::Error::other(format!(
                    "{} is locked: another scamper is running",
                    path.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        file.set_len(0)?;
        writeln!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(PidFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Remove the file at exit (as the invoking user, who created it).
    pub fn remove(self, id: &Identity) {
        let _ = id.as_real_user(|| std::fs::remove_file(&self.path));
        drop(self.file);
    }
}
