//! Confinement of the prober, applied before it runs anything: an empty chroot, an unprivileged
//! user with no groups, no capabilities in any set, no new privileges, not dumpable, and a
//! landlock ruleset that denies every filesystem access.

use caps::CapSet;
use nix::unistd::{chdir, chroot, getresgid, getresuid, setgroups, setresgid, setresuid, Gid, Uid};
use std::path::Path;

/// Who the prober becomes.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub chroot_dir: std::path::PathBuf,
    pub uid: Uid,
    pub gid: Gid,
}

/// What could be applied; landlock is best effort on kernels that lack it.
#[derive(Debug)]
pub struct SandboxReport {
    pub landlock: String,
}

fn err(step: &str, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{step}: {e}"))
}

/// Create the chroot directory if it is missing: root-owned, mode 0555, empty. An existing one
/// must be a root-owned directory that nobody else can write.
pub fn prepare_chroot_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    match std::fs::symlink_metadata(dir) {
        Ok(m) => {
            if !m.is_dir() {
                return Err(err(
                    "chroot",
                    format!("{} is not a directory", dir.display()),
                ));
            }
            if m.uid() != 0 || m.permissions().mode() & 0o022 != 0 {
                return Err(err(
                    "chroot",
                    format!(
                        "{} must be owned by root and not writable by others",
                        dir.display()
                    ),
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .mode(0o555)
            .create(dir)
            .and_then(|_| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)))
            .map_err(|e| err("creating chroot directory", e)),
        Err(e) => Err(err("chroot", e)),
    }
}

/// Drop everything. Must run while the process is still root and single-threaded.
pub fn enter(spec: &SandboxSpec) -> std::io::Result<SandboxReport> {
    // Opened while /proc is still reachable, read once everything is dropped: one read shows
    // every capability set (instead of one system call per capability and set).
    let status = std::fs::File::open("/proc/self/status").ok();
    chroot(&spec.chroot_dir).map_err(|e| err("chroot", e))?;
    chdir("/").map_err(|e| err("chdir", e))?;

    // The bounding and ambient sets can only be cleared while we still hold CAP_SETPCAP.
    caps::clear(None, CapSet::Ambient).map_err(|e| err("clearing ambient capabilities", e))?;
    for cap in caps::all() {
        caps::drop(None, CapSet::Bounding, cap)
            .map_err(|e| err("dropping bounding capabilities", e))?;
    }
    nix::sys::prctl::set_no_new_privs().map_err(|e| err("PR_SET_NO_NEW_PRIVS", e))?;

    setgroups(&[]).map_err(|e| err("setgroups", e))?;
    setresgid(spec.gid, spec.gid, spec.gid).map_err(|e| err("setresgid", e))?;
    setresuid(spec.uid, spec.uid, spec.uid).map_err(|e| err("setresuid", e))?;

    // Verify instead of trusting the calls above.
    let u = getresuid().map_err(|e| err("getresuid", e))?;
    let g = getresgid().map_err(|e| err("getresgid", e))?;
    if [u.real, u.effective, u.saved] != [spec.uid; 3]
        || [g.real, g.effective, g.saved] != [spec.gid; 3]
    {
        return Err(err("privilege drop", "uids or gids did not change"));
    }
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() && spec.uid.as_raw() != 0 {
        return Err(err("privilege drop", "root could be regained"));
    }
    for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
        caps::clear(None, set).map_err(|e| err("clearing capabilities", e))?;
    }
    match status {
        Some(f) => check_status_caps(&f)?,
        None => check_caps()?,
    }
    // A change of credentials resets dumpability, so this comes after setresuid.
    nix::sys::prctl::set_dumpable(false).map_err(|e| err("PR_SET_DUMPABLE", e))?;

    Ok(SandboxReport {
        landlock: restrict_filesystem(),
    })
}

/// The capability sets, from /proc/self/status opened before the chroot: every `Cap*` line must
/// be present and zero.
fn check_status_caps(f: &std::fs::File) -> std::io::Result<()> {
    let text = scamper_sys::read_proc_status(f).map_err(|e| err("reading /proc/self/status", e))?;
    for name in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .ok_or_else(|| err("privilege drop", format!("no {name} line to check")))?;
        if value.is_empty() || value.bytes().any(|b| b != b'0') {
            return Err(err(
                "privilege drop",
                format!("capabilities remain: {name} {value}"),
            ));
        }
    }
    Ok(())
}

/// The capability sets, one query at a time (where /proc is not mounted).
fn check_caps() -> std::io::Result<()> {
    for set in [
        CapSet::Effective,
        CapSet::Permitted,
        CapSet::Inheritable,
        CapSet::Bounding,
        CapSet::Ambient,
    ] {
        let held = caps::read(None, set).map_err(|e| err("reading capabilities", e))?;
        if !held.is_empty() {
            return Err(err(
                "privilege drop",
                format!("{set:?} capabilities remain"),
            ));
        }
    }
    Ok(())
}

/// Deny all filesystem access with landlock, as far as this kernel supports it.
fn restrict_filesystem() -> String {
    use landlock::{Access, AccessFs, Ruleset, RulesetAttr, ABI};
    let result = Ruleset::default()
        .handle_access(AccessFs::from_all(ABI::V6))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self());
    match result {
        Ok(status) => format!("landlock: {:?}", status.ruleset),
        Err(e) => format!("landlock unavailable: {e}"),
    }
}
