//! The only crate of scamper-rs that contains `unsafe` code. Each function wraps one operation
//! the safe crates we depend on cannot express, and states the invariant that makes it sound.
//! Everything else in the workspace is `#![forbid(unsafe_code)]`.

pub mod alloc_cache;
pub mod lazy_code;
pub mod packet_outgoing;
pub mod recv_batch;

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Which side of a fork we are on.
pub enum Forked {
    Parent { child: nix::unistd::Pid },
    Child,
}

/// The text of a `/proc/<pid>/status` file opened as `f` and not read yet. One read into a
/// buffer large enough for the whole file (~1.5 KiB), rather than read_to_string's growing
/// reads of a file that reports no size; the kernel writes the values current at the read.
pub fn read_proc_status(f: &std::fs::File) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(8192);
    f.take(8192).read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Number of threads in this process, from /proc/self/status.
fn thread_count() -> std::io::Result<usize> {
    let status = read_proc_status(&std::fs::File::open("/proc/self/status")?)?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no Threads: line in /proc/self/status"))
}

/// End the process now with `code`: stdout is flushed, and everything else (exit handlers,
/// destructors, unmapping, closing descriptors) is left to the kernel. For a process whose work
/// is done and whose files are written; buffered writers other than stdout must be flushed
/// first.
pub fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: _exit(2) takes an integer and does not return; no memory of ours is involved.
    unsafe { libc::_exit(code) }
}

/// fork(2), refused unless the process has exactly one thread.
///
/// After a fork in a multi-threaded process the child may only call async-signal-safe
/// functions, because locks held by other threads stay locked forever. With a single thread
/// there are no such locks, so both sides may continue with ordinary Rust code.
pub fn fork_single_threaded() -> std::io::Result<Forked> {
    let threads = thread_count()?;
    if threads != 1 {
        return Err(std::io::Error::other(format!(
            "refusing to fork with {threads} threads running"
        )));
    }
    // SAFETY: the process has a single thread (checked above, and no thread can be started
    // concurrently because we are that thread), so the child inherits no locked mutexes.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => Ok(Forked::Parent { child }),
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
    }
}

/// Send `data` on a unix stream socket, with `fd` attached over SCM_RIGHTS if given. Returns the
/// number of bytes sent (a short send is possible on stream sockets; the caller sends the rest
/// without the descriptor).
pub fn send_with_fd(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> std::io::Result<usize> {
    let iov = [IoSlice::new(data)];
    let raw: [RawFd; 1];
    let mut cmsgs = Vec::new();
    if let Some(fd) = fd {
        raw = [fd.as_raw_fd()];
        cmsgs.push(ControlMessage::ScmRights(&raw));
    }
    Ok(sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &cmsgs,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?)
}

/// Receive into `buf` from a unix stream socket, taking ownership of any descriptors passed with
/// the data. Returns the byte count and the descriptors (closed automatically when dropped).
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> std::io::Result<(usize, Vec<OwnedFd>)> {
    let mut cmsg_space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg_space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            for raw in received {
                // SAFETY: the kernel just installed this descriptor in our table for this
                // message; nothing else in the process knows its number, so we are its only
                // owner.
                fds.push(unsafe { OwnedFd::from_raw_fd(raw) });
            }
        }
    }
    let truncated = msg.flags.contains(MsgFlags::MSG_CTRUNC);
    let n = msg.bytes;
    if truncated {
        // Some descriptors were dropped by the kernel; the ones we did get are closed by drop.
        return Err(std::io::Error::other("control message truncated"));
    }
    Ok((n, fds))
}

/// Receive one message from `sock` into the spare capacity of `buf`, which is cleared first and
/// then holds exactly the bytes received. Unlike reading into a zero-filled buffer, only the
/// pages the kernel writes are touched: a large buffer that usually receives small messages
/// costs neither the zeroing nor resident memory for its unused part.
pub fn recv_into_spare(sock: BorrowedFd<'_>, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    buf.clear();
    let spare = buf.spare_capacity_mut();
    // SAFETY: the pointer and length describe `spare`, writable memory owned by `buf` that
    // outlives the call; the kernel writes at most that many bytes into it.
    let n = unsafe {
        libc::recv(
            sock.as_raw_fd(),
            spare.as_mut_ptr().cast::<libc::c_void>(),
            spare.len(),
            0,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: recv initialised the first n bytes of the spare capacity (n <= its length).
    unsafe { buf.set_len(n) };
    Ok(n)
}

/// Bind an AF_PACKET socket to one interface (ifindex 0 = every interface) for `protocol`
/// (an ETH_P_* value in host order).
pub fn bind_packet_socket(
    sock: BorrowedFd<'_>,
    ifindex: u32,
    protocol: u16,
) -> std::io::Result<()> {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: the pointer and length describe the local sockaddr_ll above, which outlives the
    // call; the kernel only reads it.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Send one network-layer packet on a cooked (SOCK_DGRAM) AF_PACKET socket out of interface
/// `ifindex`, to the link-layer address `dst` (6 bytes on Ethernet), with EtherType `protocol`
/// (host order); the kernel adds the link-layer header. Returns the bytes sent.
pub fn send_link_frame(
    sock: BorrowedFd<'_>,
    packet: &[u8],
    ifindex: u32,
    protocol: u16,
    dst: &[u8],
) -> std::io::Result<usize> {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    if dst.len() > sll.sll_addr.len() {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = i32::try_from(ifindex)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    sll.sll_halen = dst.len() as u8;
    sll.sll_addr[..dst.len()].copy_from_slice(dst);
    // SAFETY: the buffer pointer and length come from a live slice, and the address pointer and
    // length describe the local sockaddr_ll above; the kernel only reads both during the call.
    let rc = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            packet.as_ptr() as *const libc::c_void,
            packet.len(),
            0,
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(rc as usize)
}

/// Register an owned descriptor with the tokio reactor.
pub fn async_fd(fd: OwnedFd) -> std::io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    // SAFETY: `fd` is an OwnedFd moved into the AsyncFd, so nothing else can close or reuse the
    // descriptor number while it is registered, which is what `register` requires.
    unsafe { tokio::io::unix::AsyncFd::register(fd) }.map_err(|e| e.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsFd;

    #[test]
    fn passes_a_descriptor_over_a_socketpair() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let mut file = tempfile_with(b"hello");
        send_with_fd(a.as_fd(), b"x", Some(file.as_fd())).unwrap();
        let mut buf = [0u8; 8];
        let (n, fds) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert_eq!((n, buf[0], fds.len()), (1, b'x', 1));
        let mut got = std::fs::File::from(fds.into_iter().next().unwrap());
        got.rewind().unwrap();
        let mut s = String::new();
        got.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        file.write_all(b"!").unwrap();
    }

    #[test]
    fn plain_data_has_no_descriptors() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        send_with_fd(a.as_fd(), b"abc", None).unwrap();
        let mut buf = [0u8; 8];
        let (n, fds) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert_eq!((n, fds.len()), (3, 0));
    }

    #[test]
    fn fork_is_refused_with_threads() {
        // The test harness runs tests on worker threads, so the process is multi-threaded.
        assert!(fork_single_threaded().is_err());
    }

    /// An unlinked read-write temporary file holding `content` (also used by other modules' tests).
    pub(crate) fn tempfile_with(content: &[u8]) -> std::fs::File {
        // Tests run in parallel threads of one process: each call gets its own name.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("scamper-sys-test-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f.write_all(content).unwrap();
        f
    }
}
