//! In-memory MDA traceroute (warts type 8): a graph of nodes (interfaces) and links, each link
//! holding the probesets sent across it.

use std::sync::Arc;

use crate::addr::Addr;
use crate::icmpext::IcmpExt;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// Probe method (`TYPE`, 1..5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TracelbMethod(pub u8);

impl TracelbMethod {
    pub const UDP_DPORT: Self = Self(1);
    pub const ICMP_ECHO: Self = Self(2);
    pub const UDP_SPORT: Self = Self(3);
    pub const TCP_SPORT: Self = Self(4);
    pub const TCP_ACK_SPORT: Self = Self(5);

    pub fn name(&self) -> Option<&'static str> {
        let n = [
            "udp-dport",
            "icmp-echo",
            "udp-sport",
            "tcp-sport",
            "tcp-ack-sport",
        ];
        usize::from(self.0)
            .checked_sub(1)
            .and_then(|i| n.get(i).copied())
    }
    pub fn is_udp(&self) -> bool {
        matches!(self.0, 1 | 3)
    }
    pub fn is_tcp(&self) -> bool {
        matches!(self.0, 4 | 5)
    }
}

/// Flag bits of tracelb objects, nodes and replies.
pub mod flags {
    /// `Tracelb::flags`: PTR lookups were done.
    pub const PTR: u8 = 0x01;
    /// `TracelbNode::flags`: `q_ttl` is valid.
    pub const NODE_QTTL: u8 = 0x01;
    /// `TracelbReply::flags`: `ttl` is valid.
    pub const REPLY_TTL: u8 = 0x01;
    /// `TracelbReply::flags`: the reply is TCP (else ICMP).
    pub const REPLY_TCP: u8 = 0x02;
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TracelbNode {
    pub addr: Option<Addr>,
    pub name: Option<String>,
    pub flags: u8,
    /// Quoted TTL (valid with [`flags::NODE_QTTL`]).
    pub q_ttl: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TracelbReply {
    pub from: Option<Addr>,
    pub rx: Timeval,
    pub ipid: u16,
    pub ttl: u8,
    pub flags: u8,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub icmp_q_ttl: u8,
    pub icmp_q_tos: u8,
    pub icmp_exts: Vec<IcmpExt>,
    pub tcp_flags: u8,
}

impl TracelbReply {
    pub fn is_tcp(&self) -> bool {
        self.flags & flags::REPLY_TCP != 0
    }
    /// ICMP destination unreachable or time exceeded.
    pub fn is_unreach_or_ttl_exp(&self) -> bool {
        match self.from {
            Some(Addr::V4(_)) => matches!(self.icmp_type, 3 | 11),
            Some(Addr::V6(_)) => matches!(self.icmp_type, 1 | 3),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TracelbProbe {
    pub tx: Timeval,
    pub flowid: u16,
    pub ttl: u8,
    pub attempt: u8,
    pub replies: Vec<TracelbReply>,
}

/// The probes sent at one hop of a link.
pub type TracelbProbeset = Vec<TracelbProbe>;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TracelbLink {
    /// Index into [`Tracelb::nodes`].
    pub from: u16,
    /// Index into [`Tracelb::nodes`]; `None` for a link to nowhere.
    pub to: Option<u16>,
    pub probesets: Vec<TracelbProbeset>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tracelb {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub src: Option<Addr>,
    pub dst: Option<Addr>,
    pub rtr: Option<Addr>,
    pub start: Timeval,
    pub sport: u16,
    pub dport: u16,
    pub probe_size: u16,
    pub method: TracelbMethod,
    pub firsthop: u8,
    /// Whole seconds on disk.
    pub wait_timeout: Timeval,
    /// Centiseconds on disk.
    pub wait_probe: Timeval,
    pub attempts: u8,
    pub confidence: u8,
    pub tos: u8,
    pub gaplimit: u8,
    pub probec: u32,
    pub probec_max: u32,
    pub flags: u8,
    pub errmsg: Option<String>,
    pub nodes: Vec<TracelbNode>,
    /// All links; a node's links are those whose `from` is its index, in this order.
    pub links: Vec<TracelbLink>,
}

impl Tracelb {
    /// The links leaving node `i`, in order.
    pub fn node_links(&self, i: usize) -> impl Iterator<Item = &TracelbLink> {
        self.links.iter().filter(move |l| usize::from(l.from) == i)
    }
}
