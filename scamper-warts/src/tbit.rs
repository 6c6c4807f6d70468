//! In-memory TCP behaviour inference test (warts type 11): the test parameters, the packets
//! exchanged, and the test- and application-specific data.

use std::sync::Arc;

use crate::addr::Addr;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// Test type (1..10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TbitType(pub u8);

impl TbitType {
    pub const PMTUD: Self = Self(1);
    pub const ECN: Self = Self(2);
    pub const NULL: Self = Self(3);
    pub const SACK_RCVR: Self = Self(4);
    pub const ICW: Self = Self(5);
    pub const ABC: Self = Self(6);
    pub const BLIND_DATA: Self = Self(7);
    pub const BLIND_RST: Self = Self(8);
    pub const BLIND_SYN: Self = Self(9);
    pub const BLIND_FIN: Self = Self(10);

    pub fn name(&self) -> Option<&'static str> {
        let n = [
            "pmtud",
            "ecn",
            "null",
            "sack-rcvr",
            "icw",
            "abc",
            "blind-data",
            "blind-rst",
            "blind-syn",
            "blind-fin",
        ];
        usize::from(self.0)
            .checked_sub(1)
            .and_then(|i| n.get(i).copied())
    }
    pub fn is_blind(&self) -> bool {
        (7..=10).contains(&self.0)
    }
}

/// Result code (warts.md 9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TbitResult(pub u16);

impl TbitResult {
    pub fn name(&self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "none",
            1 => "tcp-noconn",
            2 => "tcp-rst",
            3 => "tcp-error",
            4 => "sys-error",
            5 => "aborted",
            6 => "tcp-noconn-rst",
            7 => "halted",
            8 => "tcp-badopt",
            9 => "tcp-fin",
            10 => "tcp-zerowin",
            20 => "pmtud-noack",
            21 => "pmtud-nodata",
            22 => "pmtud-toosmall",
            23 => "pmtud-nodf",
            24 => "pmtud-fail",
            25 => "pmtud-success",
            26 => "pmtud-cleardf",
            30 => "ecn-success",
            31 => "ecn-incapable",
            32 => "ecn-badsynack",
            33 => "ecn-noece",
            34 => "ecn-noack",
            35 => "ecn-nodata",
            40 => "null-success",
            41 => "null-nodata",
            50 => "sack-incapable",
            51 => "sack-rcvr-success",
            52 => "sack-rcvr-shifted",
            53 => "sack-rcvr-timeout",
            54 => "sack-rcvr-nosack",
            60 => "icw-success",
            61 => "icw-tooshort",
            70 => "abc-success",
            71 => "abc-tooshort",
            72 => "abc-badicw",
            80 => "blind-accepted",
            81 => "blind-challenge",
            82 => "blind-ignored",
            83 => "blind-rst",
            84 => "blind-synnew",
            _ => return None,
        })
    }
}

/// Test-type specific data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TbitTypeData {
    Pmtud {
        mtu: u16,
        ptb_retx: u8,
        /// 0x01 blackhole.
        options: u8,
        ptbsrc: Option<Addr>,
    },
    Null {
        options: u16,
        results: u16,
    },
    Icw {
        start_seq: u32,
    },
    /// Blind data / rst / syn / fin.
    Blind {
        off: i32,
        retx: u8,
    },
}

/// Application data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TbitApp {
    Http {
        host: Option<String>,
        file: Option<String>,
        /// 0 http, 1 https.
        kind: u8,
    },
    Bgp {
        asn: u32,
    },
}

/// One packet sent (dir 1) or received (dir 2): raw IP bytes, never empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TbitPkt {
    pub dir: u8,
    pub tv: Timeval,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tbit {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub src: Option<Addr>,
    pub dst: Option<Addr>,
    pub sport: u16,
    pub dport: u16,
    pub start: Timeval,
    pub result: TbitResult,
    pub kind: TbitType,
    /// 1 http, 2 smtp, 3 dns, 4 ftp, 5 bgp.
    pub app_proto: u8,
    pub client_mss: u16,
    pub server_mss: u16,
    pub synretx: u8,
    pub dataretx: u8,
    /// TCP fast-open cookie (at most 16 bytes).
    pub fo_cookie: Vec<u8>,
    pub client_wscale: u8,
    /// 0x01 tcpts, 0x02 sack.
    pub options: u32,
    pub client_ipttl: u8,
    pub errmsg: Option<String>,
    pub type_data: Option<TbitTypeData>,
    pub app: Option<TbitApp>,
    pub pkts: Vec<TbitPkt>,
}

impl Default for Tbit {
    fn default() -> Self {
        Tbit {
            list: None,
            cycle: None,
            userid: 0,
            src: None,
            dst: None,
            sport: 0,
            dport: 0,
            start: Timeval::default(),
            result: TbitResult::default(),
            kind: TbitType::default(),
            app_proto: 0,
            client_mss: 0,
            server_mss: 0,
            synretx: 0,
            dataretx: 0,
            fo_cookie: Vec::new(),
            client_wscale: 0,
            options: 0,
            client_ipttl: 255,
            errmsg: None,
            type_data: None,
            app: None,
            pkts: Vec::new(),
        }
    }
}
