//! In-memory UDP probe measurement (warts type 16): a payload sent to a UDP port, with the
//! replies it elicited.

use std::sync::Arc;

use crate::addr::Addr;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// Why the measurement stopped (`STOP`, 0..3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct UdpprobeStop(pub u8);

impl UdpprobeStop {
    pub const NONE: Self = Self(0);
    pub const DONE: Self = Self(1);
    pub const HALTED: Self = Self(2);
    pub const ERROR: Self = Self(3);

    pub fn name(&self) -> Option<&'static str> {
        ["none", "done", "halted", "error"]
            .get(usize::from(self.0))
            .copied()
    }
}

/// `Udpprobe::flags` bits.
pub mod flags {
    /// Stop after the first reply.
    pub const EXITFIRST: u8 = 0x01;
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UdpprobeReply {
    pub rx: Timeval,
    pub data: Vec<u8>,
    pub ifname: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UdpprobeProbe {
    /// Transmit time; for probe 0 this is always the measurement's start time in warts.
    pub tx: Timeval,
    pub sport: u16,
    pub replies: Vec<UdpprobeReply>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Udpprobe {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub src: Option<Addr>,
    pub dst: Option<Addr>,
    /// Requested source port (0 = chosen per probe).
    pub sport: u16,
    pub dport: u16,
    pub start: Timeval,
    pub wait_timeout: Timeval,
    pub wait_probe: Timeval,
    pub flags: u8,
    pub stop: UdpprobeStop,
    pub data: Vec<u8>,
    pub probe_count: u8,
    pub stop_count: u8,
    pub errmsg: Option<String>,
    /// One slot per probe sent (`probe_sent` = length); a slot may be empty.
    pub probes: Vec<Option<UdpprobeProbe>>,
}

impl Default for Udpprobe {
    fn default() -> Self {
        Udpprobe {
            list: None,
            cycle: None,
            userid: 0,
            src: None,
            dst: None,
            sport: 0,
            dport: 0,
            start: Timeval::default(),
            wait_timeout: Timeval::default(),
            wait_probe: Timeval::default(),
            flags: 0,
            stop: UdpprobeStop::NONE,
            data: Vec::new(),
            probe_count: 1,
            stop_count: 0,
            errmsg: None,
            probes: Vec::new(),
        }
    }
}
