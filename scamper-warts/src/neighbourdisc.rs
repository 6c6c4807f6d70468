//! In-memory neighbour discovery (warts type 10): ARP or IPv6 neighbour solicitation.

use std::sync::Arc;

use crate::addr::Addr;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// Method (1 arp, 2 nd-nsol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NeighbourdiscMethod(pub u8);

impl NeighbourdiscMethod {
    pub const ARP: Self = Self(1);
    pub const ND_NSOL: Self = Self(2);

    pub fn name(&self) -> Option<&'static str> {
        match self.0 {
            1 => Some("arp"),
            2 => Some("nd-nsol"),
            _ => None,
        }
    }
}

/// `Neighbourdisc::flags` bits.
pub mod flags {
    pub const ALLATTEMPTS: u8 = 0x01;
    pub const FIRSTRESPONSE: u8 = 0x02;
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NeighbourdiscReply {
    pub rx: Timeval,
    pub mac: Option<Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NeighbourdiscProbe {
    pub tx: Timeval,
    pub replies: Vec<NeighbourdiscReply>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Neighbourdisc {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub ifname: Option<String>,
    pub start: Timeval,
    pub method: NeighbourdiscMethod,
    /// Milliseconds on disk.
    pub wait_timeout: Timeval,
    pub flags: u8,
    pub attempts: u16,
    /// Replies wanted before stopping (`-o`).
    pub replyc: u16,
    pub src_ip: Option<Addr>,
    pub src_mac: Option<Addr>,
    pub dst_ip: Option<Addr>,
    pub dst_mac: Option<Addr>,
    pub errmsg: Option<String>,
    pub probes: Vec<NeighbourdiscProbe>,
}
