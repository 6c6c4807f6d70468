//! In-memory ping measurement (warts type 7).

use std::sync::Arc;

use crate::addr::Addr;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// Probe method (`PROBE_METHOD`, 0..10); unknown values are kept as-is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PingMethod(pub u8);

impl PingMethod {
    pub const ICMP_ECHO: Self = Self(0);
    pub const TCP_ACK: Self = Self(1);
    pub const TCP_ACK_SPORT: Self = Self(2);
    pub const UDP: Self = Self(3);
    pub const UDP_DPORT: Self = Self(4);
    pub const ICMP_TIME: Self = Self(5);
    pub const TCP_SYN: Self = Self(6);
    pub const TCP_SYNACK: Self = Self(7);
    pub const TCP_RST: Self = Self(8);
    pub const TCP_SYN_SPORT: Self = Self(9);
    pub const UDP_SPORT: Self = Self(10);

    const NAMES: [&'static str; 11] = [
        "icmp-echo",
        "tcp-ack",
        "tcp-ack-sport",
        "udp",
        "udp-dport",
        "icmp-time",
        "tcp-syn",
        "tcp-synack",
        "tcp-rst",
        "tcp-syn-sport",
        "udp-sport",
    ];

    /// The name scamper uses (`None` for unknown methods).
    pub fn name(&self) -> Option<&'static str> {
        Self::NAMES.get(usize::from(self.0)).copied()
    }

    pub fn is_icmp(&self) -> bool {
        matches!(self.0, 0 | 5)
    }
    pub fn is_tcp(&self) -> bool {
        matches!(self.0, 1 | 2 | 6 | 7 | 8 | 9)
    }
    pub fn is_udp(&self) -> bool {
        matches!(self.0, 3 | 4 | 10)
    }
    /// Methods where the source port grows by one per probe.
    pub fn varies_sport(&self) -> bool {
        matches!(self.0, 2 | 9 | 10)
    }
    /// Methods where the destination port grows by one per probe.
    pub fn varies_dport(&self) -> bool {
        self.0 == 4
    }
}

/// Why a ping stopped (`STOP_R`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PingStop(pub u8);

impl PingStop {
    pub const NONE: Self = Self(0);
    pub const DONE: Self = Self(1);
    pub const ERROR: Self = Self(2);
    pub const HALTED: Self = Self(3);
    pub const INPROGRESS: Self = Self(4);

    pub fn name(&self) -> Option<&'static str> {
        ["none", "done", "error", "halted", "inprogress"]
            .get(usize::from(self.0))
            .copied()
    }
}

/// Ping flags (`Ping::flags`).
pub mod flags {
    pub const V4RR: u32 = 0x001;
    pub const SPOOF: u32 = 0x002;
    pub const PAYLOAD: u32 = 0x004;
    pub const TSONLY: u32 = 0x008;
    pub const TSANDADDR: u32 = 0x010;
    pub const ICMPSUM: u32 = 0x020;
    pub const DL: u32 = 0x040;
    pub const TBT: u32 = 0x080;
    pub const NOSRC: u32 = 0x100;
    pub const RAW: u32 = 0x200;
    pub const SOCKRX: u32 = 0x400;
    pub const DLTX: u32 = 0x800;
    /// JSON names of bits 0..11.
    pub const NAMES: [&str; 12] = [
        "v4rr",
        "spoof",
        "payload",
        "tsonly",
        "tsandaddr",
        "icmpsum",
        "dl",
        "tbt",
        "nosrc",
        "raw",
        "sockrx",
        "dltx",
    ];
}

/// Reply flags (`PingReply::flags`) and probe flags (`PingProbe::flags`).
pub mod reply_flags {
    pub const REPLY_TTL: u8 = 0x01;
    pub const REPLY_IPID: u8 = 0x02;
    pub const PROBE_IPID: u8 = 0x04;
    pub const DLTX: u8 = 0x08;
    pub const DLRX: u8 = 0x10;
    pub const REPLY_TOS: u8 = 0x20;
    pub const PENDING: u8 = 0x40;
}

/// A ping measurement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ping {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub src: Option<Addr>,
    /// Required on disk: a warts reader rejects a ping without a destination.
    pub dst: Option<Addr>,
    /// Router the probes were sent through (`-r`).
    pub rtr: Option<Addr>,
    pub start: Timeval,
    pub stop_reason: PingStop,
    pub stop_data: u8,
    pub errmsg: Option<String>,
    /// Pattern bytes, or the whole payload when `flags & PAYLOAD`.
    pub data: Vec<u8>,
    /// Number of probes to send (`-c`).
    pub probe_count: u16,
    pub probe_size: u16,
    pub method: PingMethod,
    pub probe_ttl: u8,
    pub probe_tos: u8,
    /// Source port, or the ICMP id for ICMP methods.
    pub probe_sport: u16,
    /// Destination port, or the first ICMP sequence number for ICMP methods.
    pub probe_dport: u16,
    /// ICMP checksum to use; stored only with `flags::ICMPSUM`.
    pub probe_icmpsum: u16,
    pub probe_tcpseq: u32,
    pub probe_tcpack: u32,
    /// Pre-specified timestamp addresses (`-T tsprespec=`).
    pub probe_tsps: Option<Vec<Addr>>,
    /// Inter-probe wait (`-i`).
    pub wait_probe: Timeval,
    /// Reply timeout (`-W`).
    pub wait_timeout: Timeval,
    /// Replies needed before stopping (`-o`), 0 = none.
    pub stop_count: u16,
    /// Pseudo path MTU (`-M`).
    pub pmtu: u16,
    /// `flags::*` bits.
    pub flags: u32,
    /// Probes actually sent.
    pub ping_sent: u16,
    /// One slot per sent probe (index = sequence number, `len() == ping_sent`). Warts stores
    /// only replies, so after reading, probes without replies are `None`.
    pub probes: Vec<Option<PingProbe>>,
}

/// One probe and the replies it elicited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PingProbe {
    pub tx: Timeval,
    /// Per-probe source port (sport-varying methods), 0 if none.
    pub sport: u16,
    /// IPID of the probe (valid with `reply_flags::PROBE_IPID` in `flags`).
    pub ipid: u16,
    /// `reply_flags::PROBE_IPID` / `DLTX` / `PENDING`.
    pub flags: u8,
    pub replies: Vec<PingReply>,
}

/// IPv4 timestamp option data of a reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PingV4Ts {
    pub timestamps: Vec<u32>,
    /// Empty for tsonly, else one address per timestamp.
    pub addrs: Vec<Addr>,
}

/// ICMP timestamp reply contents (icmp-time method).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PingTsReply {
    pub originate: u32,
    pub receive: u32,
    pub transmit: u32,
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PingReply {
    /// Reply source; required on disk.
    pub addr: Option<Addr>,
    /// `reply_flags::*`.
    pub flags: u8,
    pub reply_ttl: u8,
    pub reply_size: u16,
    /// IP protocol of the reply (1 ICMP, 58 ICMPv6, 6 TCP, 17 UDP).
    pub reply_proto: u8,
    pub reply_tos: u8,
    /// IPID of the reply (16 bits for IPv4, 32-bit fragment id for IPv6).
    pub reply_ipid: u32,
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// Next-hop MTU of an ICMP packet-too-big.
    pub icmp_nhmtu: u16,
    pub tcp_flags: u8,
    pub rtt: Timeval,
    pub ifname: Option<String>,
    /// IPv4 record-route addresses.
    pub v4rr: Option<Vec<Addr>>,
    pub v4ts: Option<PingV4Ts>,
    pub tsreply: Option<PingTsReply>,
}

impl PingReply {
    /// ICMP reply matching the address family (v4 proto 1, v6 proto 58).
    pub fn is_icmp(&self) -> bool {
        match self.addr {
            Some(Addr::V4(_)) => self.reply_proto == 1,
            Some(Addr::V6(_)) => self.reply_proto == 58,
            _ => false,
        }
    }

    pub fn is_tcp(&self) -> bool {
        self.reply_proto == 6
    }

    pub fn is_udp(&self) -> bool {
        self.reply_proto == 17
    }

    pub fn is_icmp_ptb(&self) -> bool {
        self.is_icmp()
            && match self.addr {
                Some(Addr::V4(_)) => self.icmp_type == 3 && self.icmp_code == 4,
                _ => self.icmp_type == 2,
            }
    }
}
