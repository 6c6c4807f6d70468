//! Receiving several datagrams with one `recvmmsg(2)`, each with its own source address and
//! control messages (kernel receive timestamps, packet info), into buffers owned by a reusable
//! [`RecvBatch`]. nix's `recvmmsg` keeps the headers between calls without restoring the address
//! and control lengths the kernel shortened, so a later datagram could lose its timestamp; here
//! every header is rebuilt from the batch's own buffers before each call.

use nix::sys::socket::{SockaddrLike, SockaddrStorage};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The most datagrams one call can return (the headers live on the stack).
pub const MAX_SLOTS: usize = 64;

/// Buffers for up to `slots` datagrams of at most `slot_size` bytes each.
pub struct RecvBatch {
    slot_size: usize,
    cmsg_size: usize,
    /// `slots * slot_size` bytes. Zeroed by the allocator (fresh pages), so the part of each
    /// slot no datagram ever reaches costs no memory.
    data: Box<[u8]>,
    cmsg: Box<[u8]>,
    names: Box<[libc::sockaddr_storage]>,
    got: Box<[Got]>,
    count: usize,
}

/// What the kernel reported for one datagram of the last call.
#[derive(Clone, Copy, Default)]
struct Got {
    len: usize,
    name_len: u32,
    cmsg_len: usize,
    flags: i32,
}

/// One datagram of the last [`RecvBatch::recv`].
pub struct Received<'a> {
    /// The datagram (its first `slot_size` bytes if it was longer).
    pub data: &'a [u8],
    /// The datagram was longer than a slot (MSG_TRUNC).
    pub truncated: bool,
    /// The sender's address as the kernel wrote it (see [`Received::addr`]).
    name: &'a libc::sockaddr_storage,
    name_len: usize,
    cmsg: &'a [u8],
}

impl RecvBatch {
    /// Buffers for `slots` (1..=[`MAX_SLOTS`]) datagrams of up to `slot_size` bytes, each with
    /// `cmsg_size` bytes for control messages (`nix::cmsg_space!` of what the socket sends).
    pub fn new(slots: usize, slot_size: usize, cmsg_size: usize) -> RecvBatch {
        let slots = slots.clamp(1, MAX_SLOTS);
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        let zero_name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        RecvBatch {
            slot_size,
            cmsg_size,
            data: vec![0u8; slots * slot_size].into_boxed_slice(),
            cmsg: vec![0u8; slots * cmsg_size].into_boxed_slice(),
            names: vec![zero_name; slots].into_boxed_slice(),
            got: vec![Got::default(); slots].into_boxed_slice(),
            count: 0,
        }
    }

    /// How many datagrams one call can return.
    pub fn slots(&self) -> usize {
        self.got.len()
    }

    /// Receive what `sock` has queued without blocking, up to [`RecvBatch::slots`] datagrams.
    /// Returns how many arrived (`WouldBlock` if none were queued).
    pub fn recv(&mut self, sock: BorrowedFd<'_>) -> std::io::Result<usize> {
        self.count = 0;
        let slots = self.slots();
        // Only the `slots` headers in use are set up: zeroing all MAX_SLOTS of both arrays
        // (5 KiB) on every call cost more than the rest of the call's user-space work.
        let mut iov = [const { MaybeUninit::<libc::iovec>::uninit() }; MAX_SLOTS];
        let mut hdrs = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; MAX_SLOTS];
        let data = self.data.as_mut_ptr();
        let cmsg = self.cmsg.as_mut_ptr();
        for i in 0..slots {
            // SAFETY (pointer offsets): i < slots, and `data` / `cmsg` hold `slots` slots of
            // `slot_size` / `cmsg_size` bytes, so each offset stays inside its allocation.
            let v = iov[i].write(libc::iovec {
                iov_base: unsafe { data.add(i * self.slot_size) }.cast(),
                iov_len: self.slot_size,
            });
            // SAFETY: plain old data; all-zero is a valid value (null pointers, lengths 0),
            // and it clears the padding fields some C libraries' msghdr has.
            let h = &mut hdrs[i].write(unsafe { std::mem::zeroed() }).msg_hdr;
            h.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = v;
            h.msg_iovlen = 1;
            if self.cmsg_size > 0 {
                h.msg_control = unsafe { cmsg.add(i * self.cmsg_size) }.cast();
                h.msg_controllen = self.cmsg_size as _;
            }
        }
        // SAFETY: every header points into buffers owned by `self` (data, cmsg, names) or into
        // the local `iov` array, all of which outlive the call, with the lengths of those
        // buffers; the kernel writes at most those lengths, and `slots` headers are valid.
        let rc = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr().cast::<libc::mmsghdr>(),
                slots as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = (rc as usize).min(slots);
        // msg_controllen is a size_t on glibc but a socklen_t on musl.
        #[allow(clippy::unnecessary_cast)]
        for (got, h) in self.got.iter_mut().zip(&hdrs[..n]) {
            // SAFETY: the first `slots` (>= n) headers were written above.
            let h = unsafe { h.assume_init_ref() };
            *got = Got {
                len: h.msg_len as usize,
                name_len: h.msg_hdr.msg_namelen,
                cmsg_len: h.msg_hdr.msg_controllen as usize,
                flags: h.msg_hdr.msg_flags,
            };
        }
        self.count = n;
        Ok(n)
    }

    /// Datagram `i` (< the count the last `recv` returned).
    pub fn get(&self, i: usize) -> Option<Received<'_>> {
        if i >= self.count {
            return None;
        }
        let got = self.got[i];
        let start = i * self.slot_size;
        let data = &self.data[start..start + got.len.min(self.slot_size)];
        let cstart = i * self.cmsg_size;
        let cmsg = &self.cmsg[cstart..cstart + got.cmsg_len.min(self.cmsg_size)];
        let name_len = (got.name_len as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
        Some(Received {
            data,
            truncated: got.flags & libc::MSG_TRUNC != 0,
            name: &self.names[i],
            name_len,
            cmsg,
        })
    }
}

impl<'a> Received<'a> {
    /// The sender's address, if the socket reports one. Converted on demand: the IPv4 ICMP
    /// socket's packets carry their source in the IP header, so most packets never need it.
    pub fn addr(&self) -> Option<SockaddrStorage> {
        if self.name_len == 0 {
            return None;
        }
        // SAFETY: the pointer is to our own sockaddr_storage, which the kernel filled for
        // this datagram, and the length is at most its size.
        unsafe {
            SockaddrStorage::from_raw(
                (self.name as *const libc::sockaddr_storage).cast(),
                Some(self.name_len as libc::socklen_t),
            )
        }
    }

    /// The control messages as (level, type, data), in the order the kernel wrote them.
    #[inline]
    pub fn cmsgs(&self) -> Cmsgs<'a> {
        Cmsgs { rest: self.cmsg }
    }
}

/// Iterator over the control messages of one datagram (parsed from bytes, never trusted for
/// lengths beyond the buffer).
pub struct Cmsgs<'a> {
    rest: &'a [u8],
}

/// `struct cmsghdr`: a `size_t` length, then the level and type as ints.
const CMSG_HDR: usize = std::mem::size_of::<usize>() + 2 * std::mem::size_of::<i32>();
const ALIGN: usize = std::mem::size_of::<usize>();

fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

impl<'a> Iterator for Cmsgs<'a> {
    type Item = (i32, i32, &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.rest;
        if r.len() < CMSG_HDR {
            return None;
        }
        let w = std::mem::size_of::<usize>();
        let len = usize::from_ne_bytes(r[..w].try_into().ok()?);
        let level = i32::from_ne_bytes(r[w..w + 4].try_into().ok()?);
        let kind = i32::from_ne_bytes(r[w + 4..w + 8].try_into().ok()?);
        if len < CMSG_HDR || len > r.len() {
            self.rest = &[];
            return None;
        }
        let data = &r[align(CMSG_HDR)..len];
        self.rest = r.get(align(len)..).unwrap_or(&[]);
        Some((level, kind, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{
        bind, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockType,
        SockaddrIn,
    };
    use std::os::fd::AsFd;

    fn udp_pair() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd, SockaddrIn) {
        let rx = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        bind(rx.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, 0)).unwrap();
        let local: SockaddrIn = nix::sys::socket::getsockname(rx.as_raw_fd()).unwrap();
        let tx = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        (rx, tx, local)
    }

    #[test]
    fn receives_several_datagrams_with_timestamps_and_senders() {
        let (rx, tx, to) = udp_pair();
        setsockopt(&rx, sockopt::ReceiveTimestampns, &true).unwrap();
        let mut batch = RecvBatch::new(4, 64, 64);
        assert_eq!(
            batch.recv(rx.as_fd()).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        for payload in [&b"one"[..], b"two", b"three", b"four", b"five"] {
            sendto(tx.as_raw_fd(), payload, &to, MsgFlags::empty()).unwrap();
        }
        let sender: SockaddrIn = nix::sys::socket::getsockname(tx.as_raw_fd()).unwrap();
        // Twice round: the second call's headers must be as good as the first's.
        let mut seen = Vec::new();
        for want in [4, 1] {
            assert_eq!(batch.recv(rx.as_fd()).unwrap(), want);
            for i in 0..want {
                let got = batch.get(i).unwrap();
                assert!(!got.truncated);
                let from = got.addr().unwrap();
                assert_eq!(from.as_sockaddr_in().unwrap().port(), sender.port());
                let ts: Vec<_> = got
                    .cmsgs()
                    .filter(|(level, kind, _)| {
                        *level == libc::SOL_SOCKET && *kind == libc::SO_TIMESTAMPNS
                    })
                    .collect();
                assert_eq!(ts.len(), 1);
                assert_eq!(ts[0].2.len(), std::mem::size_of::<libc::timespec>());
                seen.push(got.data.to_vec());
            }
            assert!(batch.get(want).is_none());
        }
        let want: Vec<Vec<u8>> = [&b"one"[..], b"two", b"three", b"four", b"five"]
            .iter()
            .map(|p| p.to_vec())
            .collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn long_datagrams_are_marked_truncated() {
        let (rx, tx, to) = udp_pair();
        let mut batch = RecvBatch::new(2, 8, 0);
        sendto(tx.as_raw_fd(), &[7u8; 20], &to, MsgFlags::empty()).unwrap();
        assert_eq!(batch.recv(rx.as_fd()).unwrap(), 1);
        let got = batch.get(0).unwrap();
        assert!(got.truncated);
        assert_eq!(got.data, &[7u8; 8]);
        assert_eq!(got.cmsgs().count(), 0);
    }

    #[test]
    fn malformed_control_bytes_end_the_iteration() {
        let mut bytes = vec![0u8; 64];
        // A length beyond the buffer.
        bytes[..8].copy_from_slice(&1000usize.to_ne_bytes());
        assert_eq!(Cmsgs { rest: &bytes }.count(), 0);
        // A length shorter than the header.
        bytes[..8].copy_from_slice(&4usize.to_ne_bytes());
        assert_eq!(Cmsgs { rest: &bytes }.count(), 0);
        assert_eq!(Cmsgs { rest: &bytes[..3] }.count(), 0);
    }
}
