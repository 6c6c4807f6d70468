//! In-memory one-way active measurement (OWAMP, warts type 17).

use std::sync::Arc;

use crate::addr::Addr;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// Outcome (`RESULT`, 0..7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OwampResult(pub u8);

impl OwampResult {
    pub const NONE: Self = Self(0);
    pub const DONE: Self = Self(1);
    pub const HALTED: Self = Self(2);
    pub const ERROR: Self = Self(3);
    pub const NOCONN: Self = Self(4);
    pub const NOTACCEPTED: Self = Self(5);
    pub const NOMODE: Self = Self(6);
    pub const TIMEOUT: Self = Self(7);

    pub fn name(&self) -> Option<&'static str> {
        [
            "none",
            "done",
            "halted",
            "error",
            "noconn",
            "notaccepted",
            "nomode",
            "timeout",
        ]
        .get(usize::from(self.0))
        .copied()
    }
}

/// Flag bits of OWAMP objects, tx and rx records.
pub mod flags {
    /// `Owamp::flags`: zero padding.
    pub const ZERO: u16 = 0x0001;
    /// `OwampTx::flags`: the packet was not sent.
    pub const TX_NOTSENT: u8 = 0x01;
    /// `OwampTx::flags`: `errest` is valid.
    pub const TX_ERREST: u8 = 0x02;
    /// `OwampRx::flags` validity bits.
    pub const RX_DSCP: u8 = 0x01;
    pub const RX_TTL: u8 = 0x02;
    pub const RX_ERREST: u8 = 0x04;
}

/// One schedule slot: a gap and its kind (0 fixed, 1 exponential).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwampSched {
    pub tv: Timeval,
    pub kind: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwampRx {
    pub stamp: Timeval,
    pub errest: u16,
    pub flags: u8,
    pub dscp: u8,
    pub ttl: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwampTx {
    pub sched: Timeval,
    pub stamp: Timeval,
    pub seq: u32,
    pub errest: u16,
    pub flags: u8,
    pub rxs: Vec<OwampRx>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owamp {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub src: Option<Addr>,
    pub dst: Option<Addr>,
    pub dport: u16,
    pub flags: u16,
    pub start: Timeval,
    pub startat: Timeval,
    pub wait_timeout: Timeval,
    pub attempts: u32,
    pub pktsize: u16,
    /// 0 tx, 1 rx.
    pub dir: u8,
    pub dscp: u8,
    pub ttl: u8,
    pub hsrtt: Timeval,
    pub result: OwampResult,
    pub errmsg: Option<String>,
    pub udp_sport: u16,
    pub udp_dport: u16,
    pub sched: Vec<OwampSched>,
    pub txs: Vec<OwampTx>,
}

impl Default for Owamp {
    fn default() -> Self {
        Owamp {
            list: None,
            cycle: None,
            userid: 0,
            src: None,
            dst: None,
            dport: 861,
            flags: 0,
            start: Timeval::default(),
            startat: Timeval::default(),
            wait_timeout: Timeval::new(2, 0),
            attempts: 10,
            pktsize: 42,
            dir: 0,
            dscp: 0,
            ttl: 255,
            hsrtt: Timeval::default(),
            result: OwampResult::NONE,
            errmsg: None,
            udp_sport: 0,
            udp_dport: 0,
            sched: Vec::new(),
            txs: Vec::new(),
        }
    }
}
