//! Which destinations the kernel treats alike, so that the source address it picks for one of
//! them can be reused for the others without asking again (one `connect` + `getsockname` per
//! destination is two system calls per task, 100,000 for 50,000 pings).
//!
//! Two destinations get the same source if they lie in exactly the same set of "relevant"
//! prefixes: every route in every table, the destination prefixes of policy rules, the host's
//! addresses, and the address ranges that the kernel's source selection treats specially. Prefixes
//! nest or are disjoint, so that set is fixed by the longest relevant prefix containing the
//! destination: its *class*. The route lookup, the rule walk (when rules select on the
//! destination only) and the source choice are functions of that set:
//!
//! * IPv4 takes the source from the route's preferred source or its next hop's device, never from
//!   the destination, except for `local` routes without a preferred source (source = destination);
//!   those answers are recognised and not shared.
//! * IPv6 source selection (RFC 6724) looks at the destination's scope, its policy label and its
//!   common prefix with each candidate address up to that address's prefix length; the prefixes
//!   `a/0 ..= a/len` of every host address and the scope and label ranges are in the set, so all
//!   of those are the same within a class too.
//!
//! What would break this is not shared: multipath routes and nexthop objects (the path depends on
//! a hash of the destination) and policy rules that select on anything but the destination
//! (source, marks, interfaces, uid, ports, ...) turn sharing off for their family. A change of
//! routes, rules, addresses or links (netlink notifications) empties the cache and the tables
//! are read again.

use nix::sys::socket::{
    bind, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use std::collections::HashSet;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;

use super::core::{FastHash, FastMap};
use super::netlink::{self as nl, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP, NLM_F_REQUEST};

// rtnetlink message types and attributes (linux/rtnetlink.h, linux/fib_rules.h,
// linux/if_addr.h).
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWRULE: u16 = 32;
const RTM_GETRULE: u16 = 34;
const RTA_DST: u16 = 1;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RTA_NH_ID: u16 = 30;
const IFA_ADDRESS: u16 = 1;
const FRA_DST: u16 = 1;
const FRA_GOTO: u16 = 4;
const FRA_PRIORITY: u16 = 6;
const FRA_SUPPRESS_IFGROUP: u16 = 13;
const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
const FRA_TABLE: u16 = 15;
const FRA_PAD: u16 = 18;
const FRA_PROTOCOL: u16 = 21;
const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;
/// Notification groups: links, IPv4 addresses/routes/rules, IPv6 addresses/routes, and IPv6
/// rules (group 19).
const GROUPS: u32 = 0x1 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | (1 << 18);

/// A prefix of one family as bits in a u128 (IPv4 in the low 32 bits) and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Class {
    v6: bool,
    bits: u128,
    len: u8,
}

fn width(v6: bool) -> u8 {
    if v6 {
        128
    } else {
        32
    }
}

fn mask(v6: bool, len: u8) -> u128 {
    let w = width(v6);
    let len = len.min(w);
    if len == 0 {
        return 0;
    }
    let ones = if w == 128 {
        u128::MAX
    } else {
        u128::from(u32::MAX)
    };
    // `checked_shr`: a shift by the full width (a host prefix) is not a no-op here.
    ones & !ones.checked_shr(u32::from(len)).unwrap_or(0)
}

fn bits_of(a: IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

/// The relevant prefixes of one family, for longest-prefix lookups in at most 33 / 129 probes
/// of one hash set (one table rather than one per length: an IPv6 host address alone brings
/// up to 129 lengths, and this is built at every start).
#[derive(Debug, Default)]
struct PrefixSet {
    v6: bool,
    /// Lengths present, longest first.
    lens: Vec<u8>,
    /// (length, masked prefix).
    set: HashSet<(u8, u128), FastHash>,
}

impl PrefixSet {
    fn new(v6: bool) -> PrefixSet {
        // Sized for the special prefixes (IPv6: 256 multicast scopes and a few more) and a
        // small table, so building them does not grow the set step by step.
        let capacity = if v6 { 320 } else { 32 };
        PrefixSet {
            v6,
            lens: Vec::new(),
            set: HashSet::with_capacity_and_hasher(capacity, FastHash::default()),
        }
    }

    fn insert(&mut self, bits: u128, len: u8) {
        let len = len.min(width(self.v6));
        if let Err(i) = self.lens.binary_search_by(|l| len.cmp(l)) {
            self.lens.insert(i, len);
        }
        self.set.insert((len, bits & mask(self.v6, len)));
    }

    fn longest(&self, bits: u128) -> Option<Class> {
        self.lens.iter().find_map(|&len| {
            let p = bits & mask(self.v6, len);
            self.set.contains(&(len, p)).then_some(Class {
                v6: self.v6,
                bits: p,
                len,
            })
        })
    }
}

/// What the tables say about sharing answers within one family.
#[derive(Debug)]
struct Family {
    prefixes: PrefixSet,
    /// False if a route or rule makes the answer depend on more than the class.
    shareable: bool,
}

impl Family {
    fn new(v6: bool) -> Family {
        let mut prefixes = PrefixSet::new(v6);
        let special: &[(&str, u8)] = if v6 {
            &[
                ("::", 128),
                ("::1", 128),
                ("::", 96),
                ("::ffff:0.0.0.0", 96),
                ("::ffff:0.0.0.0", 104),
                ("::ffff:127.0.0.0", 104),
                ("::ffff:169.254.0.0", 112),
                ("2000::", 3),
                ("2001::", 32),
                ("2001:10::", 28),
                ("2002::", 16),
                ("3ffe::", 16),
                ("fc00::", 7),
                ("fe80::", 10),
                ("fec0::", 10),
                ("ff00::", 8),
            ]
        } else {
            &[
                ("0.0.0.0", 8),
                ("127.0.0.0", 8),
                ("169.254.0.0", 16),
                ("224.0.0.0", 4),
                ("240.0.0.0", 4),
                ("255.255.255.255", 32),
            ]
        };
        for (a, len) in special {
            if let Ok(a) = a.parse::<IpAddr>() {
                prefixes.insert(bits_of(a).1, *len);
            }
        }
        if v6 {
            // Multicast scope is the low nibble of the second byte (the high one holds flags).
            for b in 0..=255u128 {
                prefixes.insert((0xff00 | b) << 112, 16);
            }
        }
        Family {
            prefixes,
            shareable: true,
        }
    }
}

/// The classes and the sources found for them.
#[derive(Debug)]
pub struct Classes {
    v4: Family,
    v6: Family,
    cache: FastMap<Class, IpAddr>,
}

impl Classes {
    /// The class of `dst`, if answers for it may be shared.
    pub fn class_of(&self, dst: IpAddr) -> Option<Class> {
        let (v6, bits) = bits_of(dst);
        let fam = if v6 { &self.v6 } else { &self.v4 };
        if !fam.shareable {
            return None;
        }
        fam.prefixes.longest(bits)
    }

    pub fn get(&self, class: &Class) -> Option<IpAddr> {
        self.cache.get(class).copied()
    }

    /// Remember the source the kernel chose for `dst` of `class`. A source equal to the
    /// destination comes from a `local` route and is the destination's own: not shared.
    pub fn store(&mut self, class: Class, dst: IpAddr, src: IpAddr) {
        if src != dst && src.is_ipv6() == dst.is_ipv6() {
            self.cache.insert(class, src);
        }
    }

    /// Build from dump messages (the payloads of rtnetlink replies).
    fn from_messages(msgs: &[(u16, Vec<u8>)]) -> Classes {
        let mut c = Classes {
            v4: Family::new(false),
            v6: Family::new(true),
            cache: FastMap::default(),
        };
        let mut seen = HashSet::new();
        for (ty, body) in msgs {
            match *ty {
                RTM_NEWROUTE => c.add_route(body, &mut seen),
                RTM_NEWADDR => c.add_addr(body),
                RTM_NEWRULE => c.add_rule(body),
                _ => {}
            }
        }
        c
    }

    fn family(&mut self, af: u8) -> Option<&mut Family> {
        match af {
            AF_INET => Some(&mut self.v4),
            AF_INET6 => Some(&mut self.v6),
            _ => None,
        }
    }

    /// rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (12 bytes).
    fn add_route(&mut self, body: &[u8], seen: &mut HashSet<(u8, u32, u128, u8)>) {
        let Some(hdr) = body.get(..12) else { return };
        let (af, dst_len) = (hdr[0], hdr[1]);
        let mut table = u32::from(hdr[4]);
        let Some(fam) = self.family(af) else { return };
        let mut dst = 0u128;
        for a in nl::attrs(&body[12..]) {
            // A malformed attribute list: nothing about this family can be trusted.
            let Ok((ty, val)) = a else {
                fam.shareable = false;
                break;
            };
            match ty {
                RTA_DST => match addr_bits(af, val) {
                    Some(b) => dst = b,
                    None => fam.shareable = false,
                },
                RTA_TABLE => {
                    if let Ok(b) = val.try_into() {
                        table = u32::from_ne_bytes(b);
                    }
                }
                RTA_MULTIPATH | RTA_NH_ID => fam.shareable = false,
                _ => {}
            }
        }
        // A source-specific route (IPv6 `from`) makes the answer depend on the source.
        if hdr[2] != 0 {
            fam.shareable = false;
        }
        // Several IPv6 routes for one prefix (default routes from several routers) are chosen
        // between by neighbour reachability, which changes without a route notification.
        if af == AF_INET6 && !seen.insert((af, table, dst & mask(true, dst_len), dst_len)) {
            fam.shareable = false;
        }
        fam.prefixes.insert(dst, dst_len);
    }

    /// ifaddrmsg: family, prefixlen, flags, scope, index (8 bytes).
    fn add_addr(&mut self, body: &[u8]) {
        let Some(hdr) = body.get(..8) else { return };
        let (af, plen) = (hdr[0], hdr[1]);
        let Some(fam) = self.family(af) else { return };
        for a in nl::attrs(&body[8..]) {
            let Ok((ty, val)) = a else {
                fam.shareable = false;
                break;
            };
            if ty != IFA_ADDRESS {
                continue;
            }
            let Some(a) = addr_bits(af, val) else {
                fam.shareable = false;
                continue;
            };
            fam.prefixes.insert(a, 128);
            if af == AF_INET6 {
                // Source selection compares the destination with each address up to the
                // address's prefix length.
                for len in 0..=plen.min(128) {
                    fam.prefixes.insert(a, len);
                }
            }
        }
    }

    /// fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action, flags (12 bytes).
    fn add_rule(&mut self, body: &[u8]) {
        let Some(hdr) = body.get(..12) else { return };
        let (af, dst_len, src_len, tos) = (hdr[0], hdr[1], hdr[2], hdr[3]);
        let Some(fam) = self.family(af) else { return };
        if src_len != 0 || tos != 0 {
            fam.shareable = false;
        }
        for a in nl::attrs(&body[12..]) {
            let Ok((ty, val)) = a else {
                fam.shareable = false;
                break;
            };
            match ty {
                FRA_DST => match addr_bits(af, val) {
                    Some(b) => fam.prefixes.insert(b, dst_len),
                    None => fam.shareable = false,
                },
                FRA_GOTO
                | FRA_PRIORITY
                | FRA_SUPPRESS_IFGROUP
                | FRA_SUPPRESS_PREFIXLEN
                | FRA_TABLE
                | FRA_PAD
                | FRA_PROTOCOL => {}
                // Selectors other than the destination (source, marks, interfaces, uid,
                // ports, ...), or something newer than this list.
                _ => fam.shareable = false,
            }
        }
    }
}

fn addr_bits(af: u8, val: &[u8]) -> Option<u128> {
    match (af, val.len()) {
        (AF_INET, 4) => Some(u128::from(u32::from_be_bytes(val.try_into().ok()?))),
        (AF_INET6, 16) => Some(u128::from_be_bytes(val.try_into().ok()?)),
        _ => None,
    }
}

fn netlink_socket(groups: u32) -> std::io::Result<OwnedFd> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups))?;
    Ok(fd)
}

/// Read every route, rule and address of both families (bounded: a dump ends with DONE, and
/// a silent kernel times the socket out).
fn dump() -> std::io::Result<Vec<(u16, Vec<u8>)>> {
    let fd = netlink_socket(0)?;
    setsockopt(
        &fd,
        sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(1, 0),
    )?;
    let mut out = Vec::new();
    // Not zero-filled: a dump message is usually far smaller than the buffer.
    let mut buf = Vec::with_capacity(1 << 16);
    let queries: [(u16, &[u8]); 6] = [
        (RTM_GETROUTE, &[AF_INET, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (RTM_GETROUTE, &[AF_INET6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (RTM_GETRULE, &[AF_INET, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (RTM_GETRULE, &[AF_INET6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (RTM_GETADDR, &[AF_INET, 0, 0, 0, 0, 0, 0, 0]),
        (RTM_GETADDR, &[AF_INET6, 0, 0, 0, 0, 0, 0, 0]),
    ];
    for (seq, (ty, body)) in queries.iter().enumerate() {
        let req = nl::Request::new(*ty, NLM_F_REQUEST | NLM_F_DUMP, seq as u32 + 1)
            .fixed(body)
            .finish();
        send(fd.as_raw_fd(), &req, MsgFlags::empty())?;
        // A dump of a full routing table is large but finite; this bounds a misbehaving one.
        'dump: for _ in 0..1_000_000 {
            let n = scamper_sys::recv_into_spare(fd.as_fd(), &mut buf)?;
            if n == 0 {
                return Err(std::io::Error::other("netlink: empty read"));
            }
            for m in nl::messages(&buf) {
                let m = m.map_err(|_| std::io::Error::other("netlink: malformed reply"))?;
                match m.ty {
                    NLMSG_DONE => break 'dump,
                    NLMSG_ERROR => {
                        let code = nl::error_code(m.body).unwrap_or(-libc::EIO);
                        if code != 0 {
                            return Err(std::io::Error::from_raw_os_error(-code));
                        }
                        break 'dump;
                    }
                    _ => out.push((m.ty, m.body.to_vec())),
                }
            }
        }
    }
    Ok(out)
}

/// The kernel's tables as classes, kept current by netlink notifications.
pub struct RouteClasses {
    notify: AsyncFd<OwnedFd>,
    classes: Option<Classes>,
    /// A change was seen and the tables are not read again yet.
    stale: bool,
    /// When the tables were last read, and how long that took.
    last_dump: Instant,
    dump_took: Duration,
}

/// The tables are read at most this often (or ten times as long as reading them took): on a
/// host whose routes change all the time (a BGP router), look-ups go to the kernel one by one
/// between reads instead of reading a large table for every change.
const MIN_DUMP_INTERVAL: Duration = Duration::from_secs(1);

impl RouteClasses {
    /// Subscribe to changes, then read the tables. Needs no privilege; must run inside a tokio
    /// runtime.
    pub fn open() -> std::io::Result<RouteClasses> {
        let fd = netlink_socket(GROUPS)?;
        super::net::set_nonblocking(&fd)?;
        let notify = scamper_sys::async_fd(fd)?;
        let started = Instant::now();
        let classes = Some(Classes::from_messages(&dump()?));
        Ok(RouteClasses {
            notify,
            classes,
            stale: false,
            last_dump: started,
            dump_took: started.elapsed(),
        })
    }

    /// The current classes, read again if the tables changed since the last call (`None` if
    /// they cannot be read now: answer each destination on its own).
    pub fn current(&mut self) -> Option<&mut Classes> {
        if self.changed() {
            self.stale = true;
            self.classes = None;
        }
        if self.stale && self.last_dump.elapsed() >= MIN_DUMP_INTERVAL.max(self.dump_took * 10) {
            let started = Instant::now();
            self.classes = dump().ok().map(|m| Classes::from_messages(&m));
            self.stale = false;
            self.last_dump = started;
            self.dump_took = started.elapsed();
        }
        self.classes.as_mut()
    }

    /// Drain pending notifications without a system call when there are none: readiness comes
    /// from the runtime's poller, which the main loop runs anyway.
    fn changed(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let Poll::Ready(Ok(mut guard)) = self.notify.poll_read_ready(&mut cx) else {
            return false;
        };
        let mut buf = [0u8; 8192];
        // Any message, or an overflow of the queue (ENOBUFS), means a change.
        let fd = self.notify.get_ref().as_raw_fd();
        for _ in 0..10_000 {
            match recv(fd, &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(0) | Err(nix::errno::Errno::EAGAIN) => break,
                Ok(_) | Err(_) => {}
            }
        }
        guard.clear_ready();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(ty: u16, val: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + val.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&ty.to_ne_bytes());
        a.extend_from_slice(val);
        a.resize(nl::align4(a.len()), 0);
        a
    }

    fn route(dst: &str, len: u8, extra: &[Vec<u8>]) -> (u16, Vec<u8>) {
        let a: IpAddr = dst.parse().unwrap();
        let (af, octets) = match a {
            IpAddr::V4(a) => (AF_INET, a.octets().to_vec()),
            IpAddr::V6(a) => (AF_INET6, a.octets().to_vec()),
        };
        let mut b = vec![af, len, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0];
        if len > 0 {
            b.extend(attr(RTA_DST, &octets));
        }
        for e in extra {
            b.extend_from_slice(e);
        }
        (RTM_NEWROUTE, b)
    }

    fn addr6(a: &str, plen: u8) -> (u16, Vec<u8>) {
        let a: std::net::Ipv6Addr = a.parse().unwrap();
        let mut b = vec![AF_INET6, plen, 0, 0, 2, 0, 0, 0];
        b.extend(attr(IFA_ADDRESS, &a.octets()));
        (RTM_NEWADDR, b)
    }

    fn rule(af: u8, src_len: u8, extra: &[Vec<u8>]) -> (u16, Vec<u8>) {
        let mut b = vec![af, 0, src_len, 0, 254, 0, 0, 1, 0, 0, 0, 0];
        for e in extra {
            b.extend_from_slice(e);
        }
        (RTM_NEWRULE, b)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn destinations_share_a_class_only_without_a_more_specific_route() {
        let c = Classes::from_messages(&[
            route("0.0.0.0", 0, &[]),
            route("10.0.0.0", 24, &[]),
            route("10.0.0.128", 25, &[]),
        ]);
        let a = c.class_of(ip("198.18.0.1")).unwrap();
        assert_eq!(c.class_of(ip("198.18.200.7")), Some(a));
        assert_eq!(c.class_of(ip("203.0.113.9")), Some(a));
        let lan = c.class_of(ip("10.0.0.5")).unwrap();
        assert_ne!(lan, a);
        assert_eq!(c.class_of(ip("10.0.0.127")), Some(lan));
        assert_ne!(c.class_of(ip("10.0.0.129")), Some(lan));
        // Special ranges are classes of their own.
        assert_ne!(c.class_of(ip("127.0.0.1")), Some(a));
        assert_ne!(c.class_of(ip("224.0.0.1")), Some(a));
    }

    #[test]
    fn multipath_routes_and_source_rules_turn_sharing_off() {
        let mp = attr(RTA_MULTIPATH, &[0; 8]);
        let c = Classes::from_messages(&[route("0.0.0.0", 0, &[mp])]);
        assert_eq!(c.class_of(ip("198.18.0.1")), None);
        let c = Classes::from_messages(&[route("0.0.0.0", 0, &[]), rule(AF_INET, 8, &[])]);
        assert_eq!(c.class_of(ip("198.18.0.1")), None);
        let fwmark = attr(10, &1u32.to_ne_bytes());
        let c = Classes::from_messages(&[route("::", 0, &[]), rule(AF_INET6, 0, &[fwmark])]);
        assert_eq!(c.class_of(ip("2001:db8::1")), None);
        // The default rules select nothing; the IPv4 side is unaffected by IPv6 rules.
        let table = attr(FRA_TABLE, &254u32.to_ne_bytes());
        let c = Classes::from_messages(&[
            route("0.0.0.0", 0, &[]),
            rule(AF_INET, 0, std::slice::from_ref(&table)),
            rule(AF_INET6, 0, &[attr(10, &[1, 0, 0, 0])]),
        ]);
        assert!(c.class_of(ip("198.18.0.1")).is_some());
    }

    #[test]
    fn several_ipv6_routes_for_one_prefix_turn_sharing_off() {
        let c = Classes::from_messages(&[route("::", 0, &[]), route("::", 0, &[])]);
        assert_eq!(c.class_of(ip("2001:db8::1")), None);
    }

    #[test]
    fn rule_destinations_split_classes() {
        let dst = attr(FRA_DST, &[198, 18, 0, 0]);
        let mut r = rule(AF_INET, 0, &[dst]);
        r.1[1] = 16;
        let c = Classes::from_messages(&[route("0.0.0.0", 0, &[]), r]);
        assert_ne!(c.class_of(ip("198.18.0.1")), c.class_of(ip("198.19.0.1")));
    }

    #[test]
    fn ipv6_classes_follow_the_host_addresses() {
        let c = Classes::from_messages(&[
            route("::", 0, &[]),
            addr6("2001:db8:1::1", 64),
            addr6("2001:db8:2::1", 64),
        ]);
        // Source selection may pick different addresses for these: different classes.
        let one = c.class_of(ip("2001:db8:1::5")).unwrap();
        let two = c.class_of(ip("2001:db8:2::5")).unwrap();
        assert_ne!(one, two);
        assert_eq!(c.class_of(ip("2001:db8:1::99")), Some(one));
        // The same common prefix with both addresses (30 bits): the same class.
        assert_eq!(
            c.class_of(ip("2001:dba::1")),
            c.class_of(ip("2001:dbb::77"))
        );
        // 31 bits in common with 2001:db8:: instead of 30: another class.
        assert_ne!(c.class_of(ip("2001:db9::1")), c.class_of(ip("2001:dba::1")));
        assert_ne!(c.class_of(ip("fe80::1")), c.class_of(ip("2001:dba::1")));
    }

    #[test]
    fn masks_cover_every_length() {
        assert_eq!(mask(false, 0), 0);
        assert_eq!(mask(false, 32), 0xffff_ffff);
        assert_eq!(mask(false, 8), 0xff00_0000);
        assert_eq!(mask(true, 128), u128::MAX);
        assert_eq!(mask(true, 1), 1 << 127);
    }

    #[test]
    fn local_answers_are_not_shared() {
        let mut c = Classes::from_messages(&[route("198.18.0.0", 15, &[])]);
        let k = c.class_of(ip("198.18.0.1")).unwrap();
        c.store(k, ip("198.18.0.1"), ip("198.18.0.1"));
        assert_eq!(c.get(&k), None);
        c.store(k, ip("198.18.0.1"), ip("192.0.2.1"));
        assert_eq!(c.get(&k), Some(ip("192.0.2.1")));
    }

    #[test]
    fn malformed_messages_turn_sharing_off_without_panics() {
        let mut junk = vec![(RTM_NEWROUTE, vec![2u8, 33])];
        junk.push((
            RTM_NEWROUTE,
            vec![2, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 1, 0],
        ));
        junk.push((RTM_NEWADDR, vec![10, 200, 0, 0, 0, 0, 0, 0, 3, 0]));
        junk.push((RTM_NEWRULE, vec![2; 40]));
        let c = Classes::from_messages(&junk);
        // The IPv4 route with an attribute running past its message turns IPv4 sharing off.
        assert_eq!(c.class_of(ip("198.18.0.1")), None);
    }

    #[tokio::test]
    async fn the_kernel_tables_can_be_read() {
        // Needs no privilege; the test's own namespace has at least the local routes.
        let mut rc = RouteClasses::open().expect("netlink route socket");
        assert!(rc.current().is_some());
        let c = rc.current().unwrap();
        let _ = c.class_of(ip("127.0.0.1"));
    }
}
