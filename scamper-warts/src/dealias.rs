//! In-memory alias-resolution measurement (warts type 9): mercator, ally, radargun,
//! prefixscan, bump, midarest and midardisc.

use std::sync::Arc;

use crate::addr::Addr;
use crate::icmpext::IcmpExt;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// Dealias method (`METHOD`, 1..7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DealiasMethod(pub u8);

impl DealiasMethod {
    pub const MERCATOR: Self = Self(1);
    pub const ALLY: Self = Self(2);
    pub const RADARGUN: Self = Self(3);
    pub const PREFIXSCAN: Self = Self(4);
    pub const BUMP: Self = Self(5);
    pub const MIDAREST: Self = Self(6);
    pub const MIDARDISC: Self = Self(7);

    pub fn name(&self) -> Option<&'static str> {
        let n = [
            "mercator",
            "ally",
            "radargun",
            "prefixscan",
            "bump",
            "midarest",
            "midardisc",
        ];
        usize::from(self.0)
            .checked_sub(1)
            .and_then(|i| n.get(i).copied())
    }
}

/// Outcome (`RESULT`, 0..5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DealiasResult(pub u8);

impl DealiasResult {
    pub const NONE: Self = Self(0);
    pub const ALIASES: Self = Self(1);
    pub const NOT_ALIASES: Self = Self(2);
    pub const HALTED: Self = Self(3);
    pub const IPID_ECHO: Self = Self(4);
    pub const ERROR: Self = Self(5);

    pub fn name(&self) -> Option<&'static str> {
        [
            "none",
            "aliases",
            "not-aliases",
            "halted",
            "ipid-echo",
            "error",
        ]
        .get(usize::from(self.0))
        .copied()
    }
}

/// Probe method of a probe definition (1..6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ProbedefMethod(pub u8);

impl ProbedefMethod {
    pub const ICMP_ECHO: Self = Self(1);
    pub const TCP_ACK: Self = Self(2);
    pub const UDP: Self = Self(3);
    pub const TCP_ACK_SPORT: Self = Self(4);
    pub const UDP_DPORT: Self = Self(5);
    pub const TCP_SYN_SPORT: Self = Self(6);

    pub fn name(&self) -> Option<&'static str> {
        let n = [
            "icmp-echo",
            "tcp-ack",
            "udp",
            "tcp-ack-sport",
            "udp-dport",
            "tcp-syn-sport",
        ];
        usize::from(self.0)
            .checked_sub(1)
            .and_then(|i| n.get(i).copied())
    }
    pub fn is_known(&self) -> bool {
        (1..=6).contains(&self.0)
    }
    pub fn is_icmp(&self) -> bool {
        self.0 == 1
    }
    pub fn is_udp(&self) -> bool {
        matches!(self.0, 3 | 5)
    }
    pub fn is_tcp(&self) -> bool {
        matches!(self.0, 2 | 4 | 6)
    }
}

/// Method flag bits (ally and prefixscan `nobs`, prefixscan `csa`, radargun `shuffle`).
pub mod flags {
    pub const ALLY_NOBS: u8 = 0x01;
    pub const RADARGUN_SHUFFLE: u8 = 0x01;
    pub const PREFIXSCAN_NOBS: u8 = 0x01;
    pub const PREFIXSCAN_CSA: u8 = 0x02;
    /// Reply flag: `ipid32` is valid.
    pub const REPLY_IPID32: u8 = 0x01;
}

/// How one kind of probe is sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DealiasProbedef {
    pub id: u32,
    pub method: ProbedefMethod,
    pub dst: Option<Addr>,
    pub src: Option<Addr>,
    pub ttl: u8,
    pub tos: u8,
    pub size: u16,
    pub mtu: u16,
    /// UDP / TCP ports (zero for ICMP).
    pub sport: u16,
    pub dport: u16,
    /// TCP methods only.
    pub tcp_flags: u8,
    /// ICMP method only.
    pub icmp_id: u16,
    pub icmp_csum: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mercator {
    pub attempts: u8,
    /// Whole seconds on disk.
    pub wait_timeout: Timeval,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ally {
    /// Milliseconds on disk.
    pub wait_probe: Timeval,
    pub wait_timeout: Timeval,
    pub attempts: u8,
    pub fudge: u16,
    pub flags: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Radargun {
    pub rounds: u16,
    pub wait_probe: Timeval,
    pub wait_round: Timeval,
    pub wait_timeout: Timeval,
    pub flags: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefixscan {
    pub a: Option<Addr>,
    pub b: Option<Addr>,
    pub ab: Option<Addr>,
    /// Addresses excluded from the scan.
    pub xs: Vec<Addr>,
    pub prefix: u8,
    pub attempts: u8,
    pub fudge: u16,
    pub wait_probe: Timeval,
    pub wait_timeout: Timeval,
    pub flags: u8,
    pub replyc: u8,
}

impl Default for Prefixscan {
    fn default() -> Self {
        Prefixscan {
            a: None,
            b: None,
            ab: None,
            xs: Vec::new(),
            prefix: 0,
            attempts: 0,
            fudge: 0,
            wait_probe: Timeval::default(),
            wait_timeout: Timeval::default(),
            flags: 0,
            replyc: 5,
        }
    }
}

impl Prefixscan {
    /// The prefix length printed with the alias `ab`: the leading bits `b` and `ab` share,
    /// shortened while either host part is all zeros or all ones (IPv4 only).
    pub fn ab_prefix(&self) -> Option<u32> {
        let (Some(Addr::V4(b)), Some(Addr::V4(ab))) = (self.b, self.ab) else {
            return None;
        };
        let (b, ab) = (u32::from(b), u32::from(ab));
        let mut p = (b ^ ab).leading_zeros();
        if p >= 31 {
            return Some(p);
        }
        while p > 0 {
            let mask = u32::MAX >> p;
            let edge = |x: u32| x & mask == 0 || x & mask == mask;
            if edge(b) || edge(ab) {
                p -= 1;
            } else {
                break;
            }
        }
        Some(p)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bump {
    /// Milliseconds on disk (whole seconds only survive: see warts.md 7.4).
    pub wait_probe: Timeval,
    pub bump_limit: u16,
    pub attempts: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Midarest {
    pub rounds: u8,
    /// Microseconds on disk.
    pub wait_probe: Timeval,
    pub wait_round: Timeval,
    pub wait_timeout: Timeval,
}

/// One midardisc round: when it starts and which probedefs it covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MidardiscRound {
    pub start: Timeval,
    pub begin: u32,
    pub end: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Midardisc {
    pub wait_timeout: Timeval,
    pub schedule: Vec<MidardiscRound>,
    pub startat: Option<Timeval>,
}

/// The method-specific parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DealiasData {
    /// Method 0 or unknown: only the top-level parameters were stored.
    #[default]
    None,
    Mercator(Mercator),
    Ally(Ally),
    Radargun(Radargun),
    Prefixscan(Prefixscan),
    Bump(Bump),
    Midarest(Midarest),
    Midardisc(Midardisc),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DealiasReply {
    pub src: Option<Addr>,
    pub rx: Timeval,
    pub ttl: u8,
    pub size: u16,
    /// IPv4 IP-ID.
    pub ipid: u16,
    /// IPv6 fragment id (valid with [`flags::REPLY_IPID32`]).
    pub ipid32: u32,
    pub flags: u8,
    pub proto: u8,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub icmp_q_ttl: u8,
    pub icmp_exts: Vec<IcmpExt>,
    pub tcp_flags: u8,
}

impl DealiasReply {
    pub fn is_icmp(&self) -> bool {
        matches!(self.proto, 1 | 58)
    }
    pub fn is_tcp(&self) -> bool {
        self.proto == 6
    }
    /// ICMP destination unreachable or time exceeded (the ones that quote the probe).
    pub fn is_icmp_unreach_or_ttl_exp(&self) -> bool {
        match (self.src, self.proto) {
            (Some(Addr::V4(_)), 1) => matches!(self.icmp_type, 3 | 11),
            (Some(Addr::V6(_)), 58) => matches!(self.icmp_type, 1 | 3),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DealiasProbe {
    /// Index into [`Dealias::probedefs`].
    pub def: u32,
    pub seq: u32,
    pub tx: Timeval,
    pub ipid: u16,
    pub replies: Vec<DealiasReply>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dealias {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub start: Timeval,
    pub method: DealiasMethod,
    pub result: DealiasResult,
    pub errmsg: Option<String>,
    pub data: DealiasData,
    pub probedefs: Vec<DealiasProbedef>,
    pub probes: Vec<DealiasProbe>,
}

impl Dealias {
    /// The probe definition a probe used.
    pub fn probedef(&self, p: &DealiasProbe) -> Option<&DealiasProbedef> {
        self.probedefs.get(p.def as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ab_prefix_shrinks_past_network_and_broadcast() {
        let p = |b: &str, ab: &str| {
            Prefixscan {
                b: Some(Addr::V4(b.parse().unwrap())),
                ab: Some(Addr::V4(ab.parse().unwrap())),
                ..Default::default()
            }
            .ab_prefix()
        };
        assert_eq!(p("198.51.100.1", "198.51.100.2"), Some(30));
        // .4 is the network address of the shared /30, so the prefix shrinks to /29
        assert_eq!(p("198.51.100.4", "198.51.100.6"), Some(29));
        assert_eq!(p("10.0.0.1", "10.0.0.1"), Some(32));
        assert_eq!(Prefixscan::default().ab_prefix(), None);
    }
}
