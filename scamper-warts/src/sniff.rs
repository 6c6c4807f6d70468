//! In-memory packet capture (warts type 13): ICMP packets addressed to a source, filtered by
//! ICMP id.

use std::sync::Arc;

use crate::addr::Addr;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// Why capture stopped (0 none, 1 error, 2 limit-time, 3 limit-pktc, 4 halted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SniffStop(pub u8);

impl SniffStop {
    pub fn name(&self) -> Option<&'static str> {
        ["none", "error", "limit-time", "limit-pktc", "halted"]
            .get(usize::from(self.0))
            .copied()
    }
}

/// One captured packet (raw IP bytes, never empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SniffPkt {
    pub tv: Timeval,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sniff {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub src: Option<Addr>,
    pub start: Timeval,
    pub finish: Timeval,
    pub stop_reason: SniffStop,
    pub limit_pktc: u32,
    /// Seconds.
    pub limit_time: u16,
    pub icmpid: u16,
    pub errmsg: Option<String>,
    pub pkts: Vec<SniffPkt>,
}
