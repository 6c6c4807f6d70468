//! The engine's sockets: sending complete IP packets on header-included raw sockets and
//! receiving ICMP and ICMPv6 replies on raw sockets with kernel receive timestamps (TCP and UDP
//! replies come through the datalink, `super::datalink`). Parsing happens in scamper-packet.

use super::now;
use crate::task::Time;
use nix::sys::socket::{sendto, setsockopt, sockopt, MsgFlags, SockaddrIn, SockaddrIn6};
use scamper_packet::Rx;
use scamper_sys::recv_batch::Received;
use std::net::{IpAddr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

/// Which kind of receive socket a packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxKind {
    Icmp4,
    Icmp6,
}

/// A receive socket (non-blocking; [`super::receive::Receiver`] watches it).
pub struct RxSocket {
    pub kind: RxKind,
    pub fd: OwnedFd,
}

/// Where a timestamp came from, recorded with the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSource {
    Kernel,
    User,
}

pub(super) fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)?;
    let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags))?;
    Ok(())
}

impl RxSocket {
    pub fn new(kind: RxKind, fd: OwnedFd) -> std::io::Result<RxSocket> {
        set_nonblocking(&fd)?;
        setsockopt(&fd, sockopt::ReceiveTimestampns, &true)?;
        // A large receive buffer absorbs reply bursts at high probing rates.
        let _ = setsockopt(&fd, sockopt::RcvBuf, &(4 << 20));
        if kind == RxKind::Icmp4 {
            // The arrival interface, recorded with ping replies.
            setsockopt(&fd, sockopt::Ipv4PacketInfo, &true)?;
        }
        if kind == RxKind::Icmp6 {
            setsockopt(&fd, sockopt::Ipv6RecvPacketInfo, &true)?;
            setsockopt(&fd, sockopt::Ipv6RecvHopLimit, &true)?;
            setsockopt(&fd, sockopt::Ipv6RecvTClass, &true)?;
        }
        Ok(RxSocket { kind, fd })
    }

    /// Bytes of control messages one packet can bring on any of our receive sockets.
    pub fn cmsg_space() -> usize {
        nix::cmsg_space!(
            nix::sys::time::TimeSpec,
            libc::in6_pktinfo,
            libc::in_pktinfo,
            i32,
            i32
        )
        .capacity()
    }

    /// Make sense of one received datagram: `None` for one we cannot use (unparsable or
    /// truncated bytes). The time is the kernel's receive timestamp, so it does not depend on
    /// when the loop got round to reading the packet.
    #[cfg(test)]
    pub fn decode(&self, r: &Received<'_>) -> Option<(Rx, Time)> {
        self.decode_with(r, |p, t| (p.clone(), t))
    }

    /// [`RxSocket::decode`], handing the packet to `f` where it was parsed: a parsed packet is
    /// a few hundred bytes, and returning it took several copies per packet.
    pub fn decode_with<T>(&self, r: &Received<'_>, f: impl FnOnce(&Rx, Time) -> T) -> Option<T> {
        if r.truncated {
            return None;
        }
        let mut ts = None;
        let mut pktinfo6: Option<(Ipv6Addr, u32)> = None;
        let (mut hlim, mut tclass, mut ifindex4) = (0u8, 0u8, 0u32);
        for (level, kind, data) in r.cmsgs() {
            match (level, kind) {
                (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => ts = timespec(data),
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                    // struct in_pktinfo starts with the interface index.
                    ifindex4 = ne_i32(data, 0)
                        .and_then(|i| u32::try_from(i).ok())
                        .unwrap_or(0)
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    // struct in6_pktinfo: the destination address, then the interface index.
                    if let (Some(a), Some(i)) = (data.get(..16), ne_i32(data, 16)) {
                        let a: [u8; 16] = a.try_into().ok()?;
                        pktinfo6 = Some((Ipv6Addr::from(a), i as u32));
                    }
                }
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                    hlim = ne_i32(data, 0).unwrap_or(0).clamp(0, 255) as u8
                }
                (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => {
                    tclass = ne_i32(data, 0).unwrap_or(0).clamp(0, 255) as u8
                }
                _ => {}
            }
        }
        let data = r.data;
        let rx_time = ts.unwrap_or_else(now);
        let ifindex = match self.kind {
            RxKind::Icmp4 => ifindex4,
            RxKind::Icmp6 => pktinfo6.map_or(0, |p| p.1),
        };
        let mut parsed = match self.kind {
            RxKind::Icmp4 => scamper_packet::parse_ipv4(data),
            RxKind::Icmp6 => {
                let src = r.addr().and_then(|a| a.as_sockaddr_in6().map(|a| a.ip()));
                let (Some(src), Some((dst, _))) = (src, pktinfo6) else {
                    return None;
                };
                scamper_packet::parse_icmp6_socket(src, dst, hlim, tclass, data)
            }
        };
        // Used in place (see decode_with).
        let Ok(p) = &mut parsed else {
            return None;
        };
        p.ifindex = ifindex;
        Some(f(p, rx_time))
    }
}

/// A native-endian int at `at` in a control message's data.
fn ne_i32(data: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// A `struct timespec` (two longs: 16 bytes on 64-bit targets, 8 on the old 32-bit ABI).
fn timespec(data: &[u8]) -> Option<Duration> {
    let (sec, nsec) = match data.len() {
        16 => (
            i64::from_ne_bytes(data[..8].try_into().ok()?),
            i64::from_ne_bytes(data[8..].try_into().ok()?),
        ),
        8 => (i64::from(ne_i32(data, 0)?), i64::from(ne_i32(data, 4)?)),
        _ => return None,
    };
    Some(Duration::new(
        u64::try_from(sec).ok()?,
        u32::try_from(nsec).ok()?.min(999_999_999),
    ))
}

/// Interface names by index, for the replies that record where they arrived. Looked up
/// through the kernel (no file access, so it works in the chroot) and cached.
#[derive(Debug, Default)]
pub struct IfNames {
    names: std::sync::Mutex<std::collections::HashMap<u32, std::sync::Arc<str>>>,
}

impl IfNames {
    pub fn name(&self, ifindex: u32) -> Option<std::sync::Arc<str>> {
        if ifindex == 0 {
            return None;
        }
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if !names.contains_key(&ifindex) {
            // Interfaces come and go; refresh the whole table on a miss.
            if let Ok(list) = nix::net::if_::if_nameindex() {
                names.clear();
                for i in list.iter() {
                    names.insert(i.index(), i.name().to_string_lossy().into());
                }
            }
        }
        names.get(&ifindex).cloned()
    }
}

/// Header-included raw sockets for sending.
#[derive(Default)]
pub struct TxSockets {
    pub v4: Option<OwnedFd>,
    pub v6: Option<OwnedFd>,
}

impl TxSockets {
    /// Send a complete IP packet; returns the user-space transmit time.
    pub fn send(&self, dst: IpAddr, packet: &[u8]) -> std::io::Result<Time> {
        let t = now();
        match dst {
            IpAddr::V4(a) => {
                let fd = self.v4.as_ref().ok_or_else(|| no_socket("IPv4"))?;
                let sa = SockaddrIn::from(SocketAddrV4::new(a, 0));
                sendto(fd.as_fd().as_raw_fd(), packet, &sa, MsgFlags::empty())?;
            }
            IpAddr::V6(a) => {
                let fd = self.v6.as_ref().ok_or_else(|| no_socket("IPv6"))?;
                let sa = SockaddrIn6::from(SocketAddrV6::new(a, 0, 0, 0));
                sendto(fd.as_fd().as_raw_fd(), packet, &sa, MsgFlags::empty())?;
            }
        }
        Ok(t)
    }
}

fn no_socket(family: &str) -> std::io::Error {
    std::io::Error::other(format!("no {family} raw socket available"))
}

/// The source address the kernel would use towards a destination, learned by connecting a
/// UDP socket (no packet is sent). One socket per family is kept and re-connected for each
/// look-up. The answer is shared with the destinations the kernel treats alike (see
/// [`super::routes`]), so most tasks need no system call at all.
#[derive(Default)]
pub struct SourceFinder {
    v4: Option<std::net::UdpSocket>,
    v6: Option<std::net::UdpSocket>,
    /// `None` if the routing tables cannot be read (then every destination is looked up).
    classes: Option<super::routes::RouteClasses>,
}

impl SourceFinder {
    /// A finder that shares answers between destinations when the routing tables allow it.
    /// Must run inside the tokio runtime (route change notifications).
    pub fn new() -> SourceFinder {
        let classes = match super::routes::RouteClasses::open() {
            Ok(c) => Some(c),
            Err(e) => {
                crate::log::warn(&format!(
                    "routing tables unreadable ({e}): one source look-up per destination"
                ));
                None
            }
        };
        SourceFinder {
            classes,
            ..SourceFinder::default()
        }
    }

    pub fn source_for(&mut self, dst: IpAddr) -> std::io::Result<IpAddr> {
        let Some(classes) = self.classes.as_mut().and_then(|c| c.current()) else {
            return self.connect(dst);
        };
        let Some(class) = classes.class_of(dst) else {
            return self.connect(dst);
        };
        if let Some(src) = classes.get(&class) {
            return Ok(src);
        }
        let src = self.connect(dst)?;
        if let Some(classes) = self.classes.as_mut().and_then(|c| c.current()) {
            classes.store(class, dst, src);
        }
        Ok(src)
    }

    /// Ask the kernel: connect the family's socket to `dst` and read its local address.
    fn connect(&mut self, dst: IpAddr) -> std::io::Result<IpAddr> {
        let sock = self.socket(dst)?;
        sock.connect((dst, 33434))?;
        Ok(sock.local_addr()?.ip())
    }

    fn socket(&mut self, dst: IpAddr) -> std::io::Result<&std::net::UdpSocket> {
        let (slot, bind) = match dst {
            IpAddr::V4(_) => (&mut self.v4, "0.0.0.0:0"),
            IpAddr::V6(_) => (&mut self.v6, "[::]:0"),
        };
        Ok(match slot {
            Some(s) => s,
            None => slot.insert(std::net::UdpSocket::bind(bind)?),
        })
    }

    /// The route MTU towards `dst` (IPv4; the kernel reports it for connected sockets). Costs
    /// two system calls, so it is asked only by tasks that use it.
    pub fn route_mtu(&mut self, dst: IpAddr) -> Option<u16> {
        match dst {
            IpAddr::V4(_) => {
                let sock = self.socket(dst).ok()?;
                sock.connect((dst, 33434)).ok()?;
                let mtu =
                    nix::sys::socket::getsockopt(sock, nix::sys::socket::sockopt::IpMtu).ok()?;
                u16::try_from(mtu).ok()
            }
            IpAddr::V6(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers shared within a routing class are the ones the kernel gives each destination
    /// (connecting a UDP socket sends nothing).
    #[tokio::test]
    async fn shared_sources_match_the_kernel() {
        let mut shared = SourceFinder::new();
        let mut direct = SourceFinder::default();
        let dsts = [
            "127.0.0.1",
            "127.1.2.3",
            "192.0.2.1",
            "192.0.2.200",
            "198.18.0.1",
            "198.18.77.9",
            "198.51.100.4",
            "203.0.113.5",
            "::1",
            "2001:db8::1",
            "2001:db8:ffff::2",
        ];
        // Twice round, so the second pass answers from the cache.
        for _ in 0..2 {
            for d in dsts {
                let dst: IpAddr = d.parse().unwrap();
                match (shared.source_for(dst), direct.connect(dst)) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "source for {dst}"),
                    (Err(_), Err(_)) => {}
                    (a, b) => panic!("{dst}: shared {a:?}, direct {b:?}"),
                }
            }
        }
    }
}
