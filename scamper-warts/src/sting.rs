//! In-memory sting measurement (warts type 12): TCP-based one-way loss measurement.

use std::sync::Arc;

use crate::addr::Addr;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// `StingPkt::flags` bits.
pub mod flags {
    pub const TX: u8 = 0x01;
    pub const RX: u8 = 0x02;
    pub const DATA: u8 = 0x04;
    pub const HOLE: u8 = 0x08;
}

/// One packet sent or received (raw IP bytes, never empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StingPkt {
    pub flags: u8,
    pub tv: Timeval,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sting {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub src: Option<Addr>,
    pub dst: Option<Addr>,
    pub sport: u16,
    pub dport: u16,
    /// Probes to send.
    pub count: u16,
    /// Mean inter-packet delay, milliseconds.
    pub mean: u16,
    /// Inter-phase delay, milliseconds.
    pub inter: u16,
    /// 1 exponential, 2 periodic, 3 uniform.
    pub dist: u8,
    pub synretx: u8,
    pub dataretx: u8,
    pub seqskip: u8,
    pub data: Vec<u8>,
    pub start: Timeval,
    pub hsrtt: Timeval,
    pub dataackc: u16,
    pub holec: u16,
    /// 0 none, 1 completed, 2 error.
    pub result: u8,
    pub pkts: Vec<StingPkt>,
}
