//! Route, neighbour and link look-ups over a netlink route socket (the socket comes from the
//! root helper). Requests are built and replies parsed here without I/O; [`RouteSocket`] only
//! moves the bytes. Replies are untrusted bytes: every length is checked, nothing panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::time::Duration;

use crate::engine::netlink::{
    self as nl, u16_at, u32_at, Malformed, Msg, Request, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP,
    NLM_F_REQUEST,
};

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const IFLA_ADDRESS: u16 = 1;

/// Neighbour states whose link-layer address the kernel itself would use.
const NUD_USABLE: u16 = 0x02 /* reachable */
    | 0x04 /* stale */
    | 0x08 /* delay */
    | 0x10 /* probe */
    | 0x40 /* noarp */
    | 0x80 /* permanent */;

/// Why a netlink exchange gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NlError {
    #[error("netlink reply truncated")]
    Truncated,
    /// The kernel answered with an error (the negative errno of `struct nlmsgerr`).
    #[error("got nlerr: Unknown error {0}")]
    Kernel(i32),
    #[error("no answer in the netlink reply")]
    NoAnswer,
    #[error("netlink: {0}")]
    Io(String),
}

/// The kernel's route towards an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub ifindex: u32,
    pub gateway: Option<IpAddr>,
    pub prefsrc: Option<IpAddr>,
}

/// One entry of the kernel's neighbour table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    pub ifindex: u32,
    pub addr: IpAddr,
    pub mac: Option<[u8; 6]>,
    pub state: u16,
}

impl Neighbour {
    /// A complete entry the kernel would send frames to.
    pub fn usable_mac(&self) -> Option<[u8; 6]> {
        (self.state & NUD_USABLE != 0).then_some(self.mac).flatten()
    }
}

fn family_of(a: IpAddr) -> u8 {
    match a {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    }
}

fn addr_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// `RTM_GETROUTE` for the route to `dst`.
pub fn route_request(seq: u32, dst: IpAddr) -> Vec<u8> {
    let bits = if dst.is_ipv4() { 32 } else { 128 };
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32)
    Request::new(RTM_GETROUTE, NLM_F_REQUEST, seq)
        .fixed(&[family_of(dst), bits, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        .attr(RTA_DST, &addr_bytes(dst))
        .finish()
}

/// `RTM_GETNEIGH` dump of one family's neighbour table.
pub fn neighbour_request(seq: u32, v6: bool) -> Vec<u8> {
    let fam = if v6 { libc::AF_INET6 } else { libc::AF_INET } as u8;
    // struct ndmsg: family, pad, pad16, ifindex, state, flags, type
    Request::new(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq)
        .fixed(&[fam, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        .finish()
}

/// `RTM_GETLINK` for one interface (its link-layer address).
pub fn link_request(seq: u32, ifindex: u32) -> Vec<u8> {
    // struct ifinfomsg: family, pad, type, index, flags, change
    let mut fixed = [0u8; 16];
    fixed[0] = libc::AF_UNSPEC as u8;
    fixed[4..8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
    Request::new(RTM_GETLINK, NLM_F_REQUEST, seq)
        .fixed(&fixed)
        .finish()
}

impl From<Malformed> for NlError {
    fn from(_: Malformed) -> NlError {
        NlError::Truncated
    }
}

/// The messages of a datagram, or an error if any is malformed.
fn messages(buf: &[u8]) -> Result<Vec<Msg<'_>>, NlError> {
    Ok(nl::messages(buf).collect::<Result<_, _>>()?)
}

/// The attributes after a fixed header of `skip` bytes.
fn attrs(body: &[u8], skip: usize) -> Result<Vec<(u16, &[u8])>, NlError> {
    let rest = body.get(skip..).ok_or(NlError::Truncated)?;
    Ok(nl::attrs(rest).collect::<Result<_, _>>()?)
}

fn ip_from(data: &[u8]) -> Option<IpAddr> {
    match data.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(data).ok()?))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?))),
        _ => None,
    }
}

fn kernel_error(body: &[u8]) -> Result<(), NlError> {
    match nl::error_code(body)? {
        0 => Ok(()),
        e => Err(NlError::Kernel(e)),
    }
}

/// Outcome of feeding one datagram of a reply.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<T> {
    /// More datagrams follow (dumps).
    More,
    Done(T),
}

/// Parse the answer to [`route_request`].
pub fn parse_route(buf: &[u8], seq: u32) -> Result<Step<Route>, NlError> {
    for m in messages(buf)? {
        if m.seq != seq {
            continue;
        }
        match m.ty {
            NLMSG_ERROR => kernel_error(m.body)?,
            RTM_NEWROUTE => {
                let mut r = Route {
                    ifindex: 0,
                    gateway: None,
                    prefsrc: None,
                };
                for (ty, data) in attrs(m.body, 12)? {
                    match ty {
                        RTA_OIF => r.ifindex = u32_at(data, 0).ok_or(NlError::Truncated)?,
                        RTA_GATEWAY => r.gateway = ip_from(data),
                        RTA_PREFSRC => r.prefsrc = ip_from(data),
                        _ => {}
                    }
                }
                return Ok(Step::Done(r));
            }
            _ => {}
        }
    }
    Ok(Step::More)
}

/// Parse one datagram of the answer to [`neighbour_request`], adding entries to `into`.
pub fn parse_neighbours(
    buf: &[u8],
    seq: u32,
    into: &mut Vec<Neighbour>,
) -> Result<Step<()>, NlError> {
    for m in messages(buf)? {
        if m.seq != seq {
            continue;
        }
        match m.ty {
            NLMSG_DONE => return Ok(Step::Done(())),
            NLMSG_ERROR => kernel_error(m.body)?,
            RTM_NEWNEIGH => {
                let ifindex = u32_at(m.body, 4).ok_or(NlError::Truncated)?;
                let state = u16_at(m.body, 8).ok_or(NlError::Truncated)?;
                let mut addr = None;
                let mut mac = None;
                for (ty, data) in attrs(m.body, 12)? {
                    match ty {
                        NDA_DST => addr = ip_from(data),
                        NDA_LLADDR => mac = <[u8; 6]>::try_from(data).ok(),
                        _ => {}
                    }
                }
                if let Some(addr) = addr {
                    into.push(Neighbour {
                        ifindex,
                        addr,
                        mac,
                        state,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(Step::More)
}

/// Parse the answer to [`link_request`]: the interface's link-layer address, if it has an
/// Ethernet-sized one.
pub fn parse_link(buf: &[u8], seq: u32) -> Result<Step<Option<[u8; 6]>>, NlError> {
    for m in messages(buf)? {
        if m.seq != seq {
            continue;
        }
        match m.ty {
            NLMSG_ERROR => kernel_error(m.body)?,
            RTM_NEWLINK => {
                let mac = attrs(m.body, 16)?
                    .into_iter()
                    .find(|(ty, _)| *ty == IFLA_ADDRESS)
                    .and_then(|(_, d)| <[u8; 6]>::try_from(d).ok());
                return Ok(Step::Done(mac));
            }
            _ => {}
        }
    }
    Ok(Step::More)
}

/// The route socket: one request at a time, answered by the kernel at once.
pub struct RouteSocket {
    sock: socket2::Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// Upper bound on the datagrams of one answer (a neighbour dump of a large table).
const MAX_DATAGRAMS: usize = 4096;

impl RouteSocket {
    pub fn new(fd: OwnedFd) -> std::io::Result<RouteSocket> {
        let sock = socket2::Socket::from(fd);
        // The kernel answers route queries synchronously; the timeout only guards the loop.
        sock.set_read_timeout(Some(Duration::from_secs(1)))?;
        Ok(RouteSocket {
            sock,
            seq: 0,
            // Not zero-filled: answers are usually far smaller (see recv_into_spare).
            buf: Vec::with_capacity(65536),
        })
    }

    fn exchange<T>(
        &mut self,
        make: impl FnOnce(u32) -> Vec<u8>,
        mut parse: impl FnMut(&[u8], u32) -> Result<Step<T>, NlError>,
    ) -> Result<T, NlError> {
        use std::os::fd::AsFd;
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let io = |e: std::io::Error| NlError::Io(e.to_string());
        self.sock.send(&make(seq)).map_err(io)?;
        for _ in 0..MAX_DATAGRAMS {
            let n = scamper_sys::recv_into_spare(self.sock.as_fd(), &mut self.buf).map_err(io)?;
            if n == 0 {
                break;
            }
            if let Step::Done(v) = parse(&self.buf, seq)? {
                return Ok(v);
            }
        }
        Err(NlError::NoAnswer)
    }

    pub fn route(&mut self, dst: IpAddr) -> Result<Route, NlError> {
        self.exchange(|s| route_request(s, dst), parse_route)
    }

    pub fn neighbours(&mut self, v6: bool) -> Result<Vec<Neighbour>, NlError> {
        let mut all = Vec::new();
        self.exchange(
            |s| neighbour_request(s, v6),
            |b, s| parse_neighbours(b, s, &mut all),
        )?;
        Ok(all)
    }

    pub fn link_mac(&mut self, ifindex: u32) -> Result<Option<[u8; 6]>, NlError> {
        self.exchange(|s| link_request(s, ifindex), parse_link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ty: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        Request::new(ty, 0, seq).fixed(body).finish()
    }

    /// Append one attribute to a message body under construction.
    fn attr(body: &mut Vec<u8>, ty: u16, data: &[u8]) {
        body.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        body.extend_from_slice(&ty.to_ne_bytes());
        body.extend_from_slice(data);
        body.resize(nl::align4(body.len()), 0);
    }

    #[test]
    fn route_request_layout() {
        let r = route_request(7, "192.0.2.9".parse().unwrap());
        assert_eq!(r.len(), 16 + 12 + 8);
        assert_eq!(u32_at(&r, 0), Some(36));
        assert_eq!(u16_at(&r, 4), Some(RTM_GETROUTE));
        assert_eq!(u32_at(&r, 8), Some(7));
        assert_eq!(r[16], libc::AF_INET as u8);
        assert_eq!(r[17], 32);
        assert_eq!(&r[32..36], &[192, 0, 2, 9]);
    }

    #[test]
    fn parses_a_route_with_gateway() {
        let mut body = vec![libc::AF_INET as u8, 32, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0];
        attr(&mut body, RTA_DST, &[198, 51, 100, 1]);
        attr(&mut body, RTA_OIF, &3u32.to_ne_bytes());
        attr(&mut body, RTA_GATEWAY, &[192, 0, 2, 2]);
        attr(&mut body, RTA_PREFSRC, &[192, 0, 2, 1]);
        let buf = msg(RTM_NEWROUTE, 5, &body);
        assert_eq!(
            parse_route(&buf, 5),
            Ok(Step::Done(Route {
                ifindex: 3,
                gateway: Some("192.0.2.2".parse().unwrap()),
                prefsrc: Some("192.0.2.1".parse().unwrap()),
            }))
        );
        // Another request's answer is not ours.
        assert_eq!(parse_route(&buf, 6), Ok(Step::More));
    }

    #[test]
    fn kernel_errors_are_reported() {
        let mut body = (-101i32).to_ne_bytes().to_vec();
        body.extend_from_slice(&[0; 16]);
        let buf = msg(NLMSG_ERROR, 1, &body);
        assert_eq!(parse_route(&buf, 1), Err(NlError::Kernel(-101)));
        assert_eq!(
            NlError::Kernel(-101).to_string(),
            "got nlerr: Unknown error -101"
        );
    }

    #[test]
    fn parses_a_neighbour_dump() {
        let mut body = vec![libc::AF_INET as u8, 0, 0, 0];
        body.extend_from_slice(&2u32.to_ne_bytes());
        body.extend_from_slice(&0x80u16.to_ne_bytes());
        body.extend_from_slice(&[0, 1]);
        attr(&mut body, NDA_DST, &[192, 0, 2, 2]);
        attr(&mut body, NDA_LLADDR, &[2, 0, 0, 0, 0, 9]);
        let mut buf = msg(RTM_NEWNEIGH, 4, &body);
        let mut all = Vec::new();
        assert_eq!(parse_neighbours(&buf, 4, &mut all), Ok(Step::More));
        buf.extend_from_slice(&msg(NLMSG_DONE, 4, &[0; 4]));
        all.clear();
        assert_eq!(parse_neighbours(&buf, 4, &mut all), Ok(Step::Done(())));
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].ifindex, 2);
        assert_eq!(all[0].usable_mac(), Some([2, 0, 0, 0, 0, 9]));
        // An incomplete entry has no usable address.
        let n = Neighbour {
            state: 0x01,
            ..all[0].clone()
        };
        assert_eq!(n.usable_mac(), None);
    }

    #[test]
    fn parses_a_link_address() {
        let mut body = vec![0u8; 16];
        attr(&mut body, 3, b"veth0\0");
        attr(&mut body, IFLA_ADDRESS, &[2, 1, 2, 3, 4, 5]);
        let buf = msg(RTM_NEWLINK, 9, &body);
        assert_eq!(
            parse_link(&buf, 9),
            Ok(Step::Done(Some([2, 1, 2, 3, 4, 5])))
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        // A length running past the datagram.
        let mut buf = msg(RTM_NEWROUTE, 1, &[0; 12]);
        buf[0] = 200;
        assert_eq!(parse_route(&buf, 1), Err(NlError::Truncated));
        // An attribute running past its message.
        let mut body = vec![0u8; 12];
        body.extend_from_slice(&40u16.to_ne_bytes());
        body.extend_from_slice(&RTA_OIF.to_ne_bytes());
        assert_eq!(
            parse_route(&msg(RTM_NEWROUTE, 1, &body), 1),
            Err(NlError::Truncated)
        );
        for n in 0..40 {
            let b = vec![0xffu8; n];
            let _ = parse_route(&b, 1);
            let _ = parse_neighbours(&b, 1, &mut Vec::new());
            let _ = parse_link(&b, 1);
        }
    }
}
