//! The record type: one warts object.

use std::sync::Arc;

use crate::dealias::Dealias;
use crate::host::Host;
use crate::http::Http;
use crate::list::{Cycle, List};
use crate::neighbourdisc::Neighbourdisc;
use crate::owamp::Owamp;
use crate::ping::Ping;
use crate::sniff::Sniff;
use crate::sting::Sting;
use crate::tbit::Tbit;
use crate::trace::Trace;
use crate::tracelb::Tracelb;
use crate::udpprobe::Udpprobe;

/// Warts object type ids (`SCAMPER_FILE_OBJ_*`).
pub mod obj {
    pub const LIST: u16 = 1;
    pub const CYCLE_START: u16 = 2;
    pub const CYCLE_DEF: u16 = 3;
    pub const CYCLE_STOP: u16 = 4;
    pub const ADDR: u16 = 5;
    pub const TRACE: u16 = 6;
    pub const PING: u16 = 7;
    pub const TRACELB: u16 = 8;
    pub const DEALIAS: u16 = 9;
    pub const NEIGHBOURDISC: u16 = 10;
    pub const TBIT: u16 = 11;
    pub const STING: u16 = 12;
    pub const SNIFF: u16 = 13;
    pub const HOST: u16 = 14;
    pub const HTTP: u16 = 15;
    pub const UDPPROBE: u16 = 16;
    pub const OWAMP: u16 = 17;
    pub const MAX: u16 = 17;
}

/// One object of a warts file (or one result to write).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record {
    List(Arc<List>),
    CycleStart(Arc<Cycle>),
    /// Cycle definition: written lazily when a measurement refers to a cycle whose start is
    /// not in this file.
    CycleDef(Arc<Cycle>),
    /// The cycle that stopped, with `stop_time` set.
    CycleStop(Arc<Cycle>),
    Trace(Box<Trace>),
    Ping(Box<Ping>),
    Dealias(Box<Dealias>),
    Tbit(Box<Tbit>),
    Http(Box<Http>),
    Sting(Box<Sting>),
    Sniff(Box<Sniff>),
    Host(Box<Host>),
    Neighbourdisc(Box<Neighbourdisc>),
    Owamp(Box<Owamp>),
    Tracelb(Box<Tracelb>),
    Udpprobe(Box<Udpprobe>),
}

impl Record {
    /// The warts object type id.
    pub fn type_id(&self) -> u16 {
        match self {
            Record::List(_) => obj::LIST,
            Record::CycleStart(_) => obj::CYCLE_START,
            Record::CycleDef(_) => obj::CYCLE_DEF,
            Record::CycleStop(_) => obj::CYCLE_STOP,
            Record::Trace(_) => obj::TRACE,
            Record::Ping(_) => obj::PING,
            Record::Dealias(_) => obj::DEALIAS,
            Record::Tbit(_) => obj::TBIT,
            Record::Http(_) => obj::HTTP,
            Record::Sting(_) => obj::STING,
            Record::Sniff(_) => obj::SNIFF,
            Record::Host(_) => obj::HOST,
            Record::Neighbourdisc(_) => obj::NEIGHBOURDISC,
            Record::Owamp(_) => obj::OWAMP,
            Record::Tracelb(_) => obj::TRACELB,
            Record::Udpprobe(_) => obj::UDPPROBE,
        }
    }
}
