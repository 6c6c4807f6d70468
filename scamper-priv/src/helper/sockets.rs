//! The privileged operations themselves: each opens one kind of descriptor. Nothing here reads
//! from the descriptors it opens.

use crate::ids::Identity;
use scamper_proto::{Family, Refusal};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

fn errno(e: std::io::Error) -> Refusal {
    Refusal::Errno(e.raw_os_error().unwrap_or(libc::EIO))
}

fn domain(family: Family) -> Domain {
    match family {
        Family::Inet => Domain::IPV4,
        Family::Inet6 => Domain::IPV6,
    }
}

/// Raw ICMP (IPv4) or ICMPv6 socket: replies and ICMP errors arrive here.
pub fn open_icmp(family: Family) -> Result<OwnedFd, Refusal> {
    let proto = match family {
        Family::Inet => Protocol::ICMPV4,
        Family::Inet6 => Protocol::ICMPV6,
    };
    let s = Socket::new(domain(family), Type::RAW.cloexec(), Some(proto)).map_err(errno)?;
    Ok(s.into())
}

/// Header-included raw socket (`IPPROTO_RAW`) for sending complete IP packets.
pub fn open_raw_ip(family: Family) -> Result<OwnedFd, Refusal> {
    let s = Socket::new(
        domain(family),
        Type::RAW.cloexec(),
        Some(Protocol::from(libc::IPPROTO_RAW)),
    )
    .map_err(errno)?;
    if family == Family::Inet {
        s.set_header_included_v4(true).map_err(errno)?;
    }
    Ok(s.into())
}

/// Datalink socket: AF_PACKET, all protocols, one interface (0 = any, cooked).
pub fn open_datalink(ifindex: u32) -> Result<OwnedFd, Refusal> {
    let ty = if ifindex == 0 { Type::DGRAM } else { Type::RAW };
    let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
    let s =
        Socket::new(Domain::PACKET, ty.cloexec(), Some(Protocol::from(proto))).map_err(errno)?;
    scamper_sys::bind_packet_socket(s.as_fd(), ifindex, libc::ETH_P_ALL as u16).map_err(errno)?;
    Ok(s.into())
}

/// Netlink route socket, for interface and route look-ups.
pub fn open_route_socket() -> Result<OwnedFd, Refusal> {
    let s = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::RAW.cloexec(),
        Some(Protocol::from(libc::NETLINK_ROUTE)),
    )
    .map_err(errno)?;
    Ok(s.into())
}

/// The `-U` control socket, created with the invoking user's rights.
pub fn bind_unix(id: &Identity, path: &Path) -> Result<OwnedFd, Refusal> {
    id.as_real_user(|| {
        let s = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None)?;
        s.bind(&socket2::SockAddr::unix(path)?)?;
        if let Err(e) = s.listen(libc::SOMAXCONN) {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        Ok(OwnedFd::from(s))
    })
    .map_err(errno)
}

/// The `-P` control socket.
pub fn bind_tcp(addr: SocketAddr) -> Result<OwnedFd, Refusal> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM.cloexec(), None).map_err(errno)?;
    s.set_reuse_address(true).map_err(errno)?;
    s.bind(&addr.into()).map_err(errno)?;
    s.listen(libc::SOMAXCONN).map_err(errno)?;
    Ok(s.into())
}

/// Open a file the user named, read-only, with the user's rights; refuse anything but a
/// regular file so a FIFO or device cannot block or confuse the helper.
pub fn open_user_file(id: &Identity, path: &Path) -> Result<OwnedFd, Refusal> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = id
        .as_real_user(|| {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(path)
        })
        .map_err(errno)?;
    let meta = f.metadata().map_err(errno)?;
    if !meta.is_file() {
        return Err(Refusal::Policy(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    Ok(f.into())
}
