//! In-memory traceroute measurement (warts type 6).

use std::sync::Arc;

use crate::addr::Addr;
use crate::icmpext::IcmpExt;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// Probe method (`TYPE`, 1..6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceMethod(pub u8);

impl TraceMethod {
    pub const ICMP_ECHO: Self = Self(1);
    pub const UDP: Self = Self(2);
    pub const TCP: Self = Self(3);
    pub const ICMP_ECHO_PARIS: Self = Self(4);
    pub const UDP_PARIS: Self = Self(5);
    pub const TCP_ACK: Self = Self(6);

    pub fn name(&self) -> Option<&'static str> {
        let n = [
            "icmp-echo",
            "udp",
            "tcp",
            "icmp-echo-paris",
            "udp-paris",
            "tcp-ack",
        ];
        usize::from(self.0)
            .checked_sub(1)
            .and_then(|i| n.get(i).copied())
    }
    #[inline]
    pub fn is_udp(&self) -> bool {
        matches!(self.0, 2 | 5)
    }
    #[inline]
    pub fn is_tcp(&self) -> bool {
        matches!(self.0, 3 | 6)
    }
}

/// Why a trace stopped (`STOP_R`, 0..10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceStop(pub u8);

impl TraceStop {
    pub const NONE: Self = Self(0);
    pub const COMPLETED: Self = Self(1);
    pub const UNREACH: Self = Self(2);
    pub const ICMP: Self = Self(3);
    pub const LOOP: Self = Self(4);
    pub const GAPLIMIT: Self = Self(5);
    pub const ERROR: Self = Self(6);
    pub const HOPLIMIT: Self = Self(7);
    pub const GSS: Self = Self(8);
    pub const HALTED: Self = Self(9);
    pub const INPROGRESS: Self = Self(10);

    pub fn name(&self) -> Option<&'static str> {
        [
            "NONE",
            "COMPLETED",
            "UNREACH",
            "ICMP",
            "LOOP",
            "GAPLIMIT",
            "ERROR",
            "HOPLIMIT",
            "GSS",
            "HALTED",
            "INPROGRESS",
        ]
        .get(usize::from(self.0))
        .copied()
    }
}

/// Trace flags (`Trace::flags`).
pub mod flags {
    pub const ALLATTEMPTS: u32 = 0x001;
    pub const PMTUD: u32 = 0x002;
    pub const DL: u32 = 0x004;
    pub const IGNORETTLDST: u32 = 0x008;
    pub const DOUBLETREE: u32 = 0x010;
    pub const ICMPCSUMDP: u32 = 0x020;
    pub const CONSTPAYLOAD: u32 = 0x040;
    pub const RXERR: u32 = 0x080;
    pub const PTR: u32 = 0x100;
    pub const RAW: u32 = 0x200;
    pub const BACK: u32 = 0x400;
    /// JSON names of bits 0..10.
    pub const NAMES: [&str; 11] = [
        "all-attempts",
        "pmtud",
        "dl",
        "ignorettldst",
        "doubletree",
        "icmp-csum-dport",
        "const-payload",
        "rxerr",
        "ptr",
        "raw",
        "back",
    ];
}

/// Reply flags (`TraceReply::flags`).
pub mod reply_flags {
    pub const TS_SOCK_RX: u8 = 0x01;
    pub const TS_DL_TX: u8 = 0x02;
    pub const TS_DL_RX: u8 = 0x04;
    pub const REPLY_TTL: u8 = 0x10;
    pub const TCP: u8 = 0x20;
    pub const UDP: u8 = 0x40;
    pub const PENDING: u8 = 0x80;
}

/// A traceroute.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trace {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub src: Option<Addr>,
    /// Required on disk.
    pub dst: Option<Addr>,
    pub rtr: Option<Addr>,
    pub start: Timeval,
    pub stop_reason: TraceStop,
    pub stop_data: u8,
    pub errmsg: Option<String>,
    /// `flags::*`.
    pub flags: u32,
    pub attempts: u8,
    pub hoplimit: u8,
    pub method: TraceMethod,
    pub probe_size: u16,
    /// Source port, or ICMP id for ICMP methods.
    pub sport: u16,
    /// Destination port, or the ICMP checksum with `flags::ICMPCSUMDP`.
    pub dport: u16,
    pub firsthop: u8,
    pub tos: u8,
    /// Per-probe timeout; warts keeps whole seconds only.
    pub wait_timeout: Timeval,
    /// Minimum wait between probes; warts keeps centiseconds.
    pub wait_probe: Timeval,
    pub loops: u8,
    /// Number of TTL slots (highest TTL probed).
    pub hop_count: u16,
    pub gaplimit: u8,
    pub gapaction: u8,
    pub loopaction: u8,
    /// Number of probes sent.
    pub probec: u16,
    pub confidence: u8,
    /// IP fragment offset.
    pub offset: u16,
    pub squeries: u8,
    /// Hop whose reply stopped the trace, 0 if none.
    pub stop_hop: u8,
    /// Probes in TTL order (non-decreasing `ttl`), each TTL's probes in send order. Warts keeps
    /// only probes that got a reply.
    pub probes: Vec<TraceProbe>,
    pub pmtud: Option<TracePmtud>,
    pub lastditch: Option<Vec<TraceProbe>>,
    pub dtree: Option<TraceDtree>,
}

/// A probe and its replies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceProbe {
    pub ttl: u8,
    /// Attempt number, 1-based.
    pub id: u8,
    pub size: u16,
    pub tx: Timeval,
    pub replies: Vec<TraceReply>,
}

/// A reply to a trace probe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceReply {
    /// Required on disk.
    pub addr: Option<Addr>,
    pub name: Option<String>,
    /// `reply_flags::*`.
    pub flags: u8,
    pub reply_ttl: u8,
    pub reply_tos: u8,
    pub reply_size: u16,
    pub reply_ipid: u16,
    pub rtt: Timeval,
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// Quoted IP length, TTL and TOS of an ICMP reply carrying a quotation.
    pub icmp_q_iplen: u16,
    pub icmp_q_ttl: u8,
    pub icmp_q_tos: u8,
    pub icmp_nhmtu: u16,
    pub tcp_flags: u8,
    pub icmp_exts: Vec<IcmpExt>,
}

impl TraceReply {
    pub fn is_tcp(&self) -> bool {
        self.flags & reply_flags::TCP != 0
    }
    pub fn is_udp(&self) -> bool {
        self.flags & reply_flags::UDP != 0
    }
    #[inline]
    pub fn is_icmp(&self) -> bool {
        !self.is_tcp() && !self.is_udp()
    }
    /// ICMP error that quotes the probe (v4 unreach/time-exceeded, v6 types 1..3).
    #[inline]
    pub fn has_quotation(&self) -> bool {
        self.is_icmp()
            && match self.addr {
                Some(Addr::V4(_)) => matches!(self.icmp_type, 3 | 11),
                Some(Addr::V6(_)) => matches!(self.icmp_type, 1..=3),
                _ => false,
            }
    }
    #[inline]
    pub fn is_ptb(&self) -> bool {
        self.is_icmp()
            && match self.addr {
                Some(Addr::V4(_)) => self.icmp_type == 3 && self.icmp_code == 4,
                Some(Addr::V6(_)) => self.icmp_type == 2,
                _ => false,
            }
    }
}

/// PMTUD data (`trace -M`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TracePmtud {
    pub ifmtu: u16,
    pub pmtu: u16,
    pub outmtu: u16,
    pub ver: u8,
    pub probes: Vec<TraceProbe>,
    pub notes: Vec<TracePmtudNote>,
}

/// A PMTUD note; `reply` is the 0-based index of a reply among all replies of
/// `TracePmtud::probes` (counted in order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TracePmtudNote {
    /// 1 PTB, 2 PTB with bad next-hop MTU, 3 silence.
    pub kind: u8,
    pub nhmtu: u16,
    pub reply: Option<u16>,
}

/// Doubletree state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceDtree {
    pub firsthop: u8,
    pub lss_stop: Option<Addr>,
    pub gss_stop: Option<Addr>,
    pub lss_name: Option<String>,
    /// 0x01 NOBACK.
    pub flags: u8,
}
