//! Addresses as warts stores them: IPv4, IPv6, Ethernet MAC and Firewire link addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A scamper address (`SCAMPER_ADDR_TYPE_*` 1..4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Addr {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    Ethernet([u8; 6]),
    Firewire([u8; 8]),
}

impl Addr {
    /// The warts type code of this address.
    pub fn type_code(&self) -> u8 {
        match self {
            Addr::V4(_) => 1,
            Addr::V6(_) => 2,
            Addr::Ethernet(_) => 3,
            Addr::Firewire(_) => 4,
        }
    }

    /// Raw bytes in network order.
    pub fn octets(&self) -> Vec<u8> {
        match self {
            Addr::V4(a) => a.octets().to_vec(),
            Addr::V6(a) => a.octets().to_vec(),
            Addr::Ethernet(a) => a.to_vec(),
            Addr::Firewire(a) => a.to_vec(),
        }
    }

    /// Build an address from a warts type code and raw bytes; `None` if the type is unknown or
    /// there are not enough bytes.
    pub fn from_type_bytes(kind: u8, b: &[u8]) -> Option<Addr> {
        Some(match kind {
            1 => Addr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(b.get(..4)?).ok()?)),
            2 => Addr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b.get(..16)?).ok()?)),
            3 => Addr::Ethernet(b.get(..6)?.try_into().ok()?),
            4 => Addr::Firewire(b.get(..8)?.try_into().ok()?),
            _ => return None,
        })
    }

    pub fn is_ipv4(&self) -> bool {
        matches!(self, Addr::V4(_))
    }

    pub fn is_ipv6(&self) -> bool {
        matches!(self, Addr::V6(_))
    }
}

impl From<IpAddr> for Addr {
    #[inline]
    fn from(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(a) => Addr::V4(a),
            IpAddr::V6(a) => Addr::V6(a),
        }
    }
}

impl From<Ipv4Addr> for Addr {
    fn from(a: Ipv4Addr) -> Self {
        Addr::V4(a)
    }
}

impl From<Ipv6Addr> for Addr {
    fn from(a: Ipv6Addr) -> Self {
        Addr::V6(a)
    }
}

/// Formats like glibc `inet_ntop` (IPv4-compatible IPv6 addresses get a dotted quad, unlike
/// Rust's own Display) and lowercase colon-separated hex for link addresses.
impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::V4(a) => write!(f, "{a}"),
            Addr::V6(a) => fmt_v6(f, a),
            Addr::Ethernet(b) => fmt_link(f, b),
            Addr::Firewire(b) => fmt_link(f, b),
        }
    }
}

fn fmt_link(f: &mut fmt::Formatter<'_>, b: &[u8]) -> fmt::Result {
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            f.write_str(":")?;
        }
        write!(f, "{x:02x}")?;
    }
    Ok(())
}

fn fmt_v6(f: &mut fmt::Formatter<'_>, a: &Ipv6Addr) -> fmt::Result {
    let o = a.octets();
    let seg = a.segments();
    let v4 = |f: &mut fmt::Formatter<'_>| write!(f, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
    if seg[..5].iter().all(|&s| s == 0) && seg[5] == 0xffff {
        f.write_str("::ffff:")?;
        return v4(f);
    }
    if seg[..6].iter().all(|&s| s == 0) && (seg[6] != 0 || seg[7] > 1) {
        f.write_str("::")?;
        return v4(f);
    }
    // longest run (>= 2) of zero groups, first on ties
    let (mut best_start, mut best_len) = (8usize, 0usize);
    let mut i = 0;
    while i < 8 {
        if seg[i] == 0 {
            let s = i;
            while i < 8 && seg[i] == 0 {
                i += 1;
            }
            if i - s > best_len {
                best_start = s;
                best_len = i - s;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_start = 8;
    }
    let mut i = 0;
    while i < 8 {
        if i == best_start {
            f.write_str("::")?;
            i += best_len;
            continue;
        }
        if i > 0 && i != best_start + best_len {
            f.write_str(":")?;
        }
        write!(f, "{:x}", seg[i])?;
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v6_formats_like_glibc() {
        let p = |s: &str| Addr::V6(s.parse().unwrap()).to_string();
        assert_eq!(p("::1"), "::1");
        assert_eq!(p("::"), "::");
        assert_eq!(p("::c000:201"), "::192.0.2.1");
        assert_eq!(p("::ffff:c000:201"), "::ffff:192.0.2.1");
        assert_eq!(p("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
        assert_eq!(p("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
        assert_eq!(p("fe80::1:2"), "fe80::1:2");
    }

    #[test]
    fn link_addresses_are_lowercase_hex() {
        let a = Addr::Ethernet([0, 0x1b, 0xAA, 1, 2, 3]);
        assert_eq!(a.to_string(), "00:1b:aa:01:02:03");
    }
}
