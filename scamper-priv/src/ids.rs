//! Who invoked us. A setuid-root install runs with real uid = the user and effective uid = root;
//! anything the user names (files, the -U socket path) must be touched with the user's rights,
//! so those operations run with the effective uid lowered to the real uid.

use nix::unistd::{getegid, geteuid, getgid, getuid, setegid, seteuid, Gid, Uid};

#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub real_uid: Uid,
    pub real_gid: Gid,
    pub saved_uid: Uid,
    pub saved_gid: Gid,
}

impl Identity {
    /// Record the identities at start-up and, for a setuid or setgid binary, lower the effective
    /// ids to the real ones at once; they are raised again only for the privileged steps.
    pub fn lower_at_start() -> std::io::Result<Identity> {
        let id = Identity {
            real_uid: getuid(),
            real_gid: getgid(),
            saved_uid: geteuid(),
            saved_gid: getegid(),
        };
        if id.saved_gid != id.real_gid {
            setegid(id.real_gid)?;
        }
        if id.saved_uid != id.real_uid {
            seteuid(id.real_uid)?;
        }
        Ok(id)
    }

    /// Raise the effective ids back to what the binary was started with (root for setuid).
    pub fn raise(&self) -> std::io::Result<()> {
        if geteuid() != self.saved_uid {
            seteuid(self.saved_uid)?;
        }
        if getegid() != self.saved_gid {
            setegid(self.saved_gid)?;
        }
        Ok(())
    }

    /// Run `f` with the effective ids of the invoking user, then raise them again.
    pub fn as_real_user<T>(&self, f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
        let lowered = geteuid() != self.real_uid || getegid() != self.real_gid;
        if lowered {
            setegid(self.real_gid)?;
            seteuid(self.real_uid)?;
        }
        let out = f();
        if lowered {
            self.raise()?;
        }
        out
    }
}
