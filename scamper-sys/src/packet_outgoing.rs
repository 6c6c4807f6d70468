//! PACKET_IGNORE_OUTGOING (Linux 4.20+) as a switch: a packet socket that is idle for a while
//! turns the host's outgoing packets away before they are cloned for it, and takes them again
//! when it needs their copies (datalink transmit timestamps).

use std::os::fd::{AsRawFd, BorrowedFd};

/// linux/if_packet.h
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// Should the AF_PACKET socket `sock` skip the host's outgoing packets? While it does, the
/// kernel's transmit path passes it by (`dev_queue_xmit_nit` checks the flag before it clones
/// the packet), so it costs the sender nothing.
pub fn set_ignore_outgoing(sock: BorrowedFd<'_>, ignore: bool) -> std::io::Result<()> {
    let val: libc::c_int = ignore.into();
    // SAFETY: the pointer and length describe the local int above, which outlives the call;
    // the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            &val as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Does `sock` skip the host's outgoing packets?
pub fn ignores_outgoing(sock: BorrowedFd<'_>) -> std::io::Result<bool> {
    let mut val: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the pointers describe the local int and its length, both outliving the call; the
    // kernel writes at most `len` bytes into `val` and the new length into `len`.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            &mut val as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(val != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};

    /// An unbound packet socket (protocol 0: no packet hook), or None without CAP_NET_RAW.
    fn packet_socket() -> Option<OwnedFd> {
        // SAFETY: plain socket(2); the descriptor is owned by the OwnedFd right away.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        // SAFETY: a non-negative return is a fresh descriptor nobody else owns.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    }

    #[test]
    fn the_switch_goes_both_ways() {
        let Some(s) = packet_socket() else {
            eprintln!("skipped: no CAP_NET_RAW");
            return;
        };
        assert!(!ignores_outgoing(s.as_fd()).unwrap(), "off by default");
        set_ignore_outgoing(s.as_fd(), true).unwrap();
        assert!(ignores_outgoing(s.as_fd()).unwrap());
        set_ignore_outgoing(s.as_fd(), false).unwrap();
        assert!(!ignores_outgoing(s.as_fd()).unwrap());
    }

    #[test]
    fn other_sockets_refuse_it() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(set_ignore_outgoing(s.as_fd(), true).is_err());
    }
}
