//! In-memory DNS measurement (warts type 14): the queries sent and the resource records of
//! each response.

use std::sync::Arc;

use crate::addr::Addr;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// `Host::flags` bits.
pub mod flags {
    pub const NORECURSE: u16 = 0x0001;
    pub const TCP: u16 = 0x0002;
    pub const NSID: u16 = 0x0004;
}

/// DNS classes and types scamper knows by name.
pub mod dns {
    pub const CLASS_IN: u16 = 1;
    pub const CLASS_CH: u16 = 3;
    pub const TYPE_A: u16 = 1;
    pub const TYPE_NS: u16 = 2;
    pub const TYPE_CNAME: u16 = 5;
    pub const TYPE_SOA: u16 = 6;
    pub const TYPE_PTR: u16 = 12;
    pub const TYPE_MX: u16 = 15;
    pub const TYPE_TXT: u16 = 16;
    pub const TYPE_AAAA: u16 = 28;
    pub const TYPE_OPT: u16 = 41;
    pub const TYPE_SVCB: u16 = 64;
    pub const TYPE_HTTPS: u16 = 65;

    /// Name of a class, if scamper has one.
    pub fn class_name(c: u16) -> Option<&'static str> {
        match c {
            CLASS_IN => Some("IN"),
            CLASS_CH => Some("CH"),
            _ => None,
        }
    }

    /// Name of a type, if scamper has one.
    /// The response code's name as the C tools print it.
    pub fn rcode_name(r: u8) -> String {
        const NAMES: [&str; 12] = [
            "NoError",
            "FormErr",
            "ServFail",
            "NXDomain",
            "NotImp",
            "Refused",
            "YXDomain",
            "YXRRSet",
            "NXRRSet",
            "NotAuth",
            "NotZone",
            "DSOTYPENI",
        ];
        // 12..15 have no name in the C table (glibc prints "(null)"); 19 lacks a comma in the
        // C source, so two names run together.
        const HIGH: [&str; 7] = [
            "BADVERS",
            "BADKEY",
            "BADTIME",
            "BADMODEBADNAME",
            "BADALG",
            "BADTRUNC",
            "BADCOOKIE",
        ];
        match r {
            0..=11 => NAMES[usize::from(r)].into(),
            12..=15 => "(null)".into(),
            16..=22 => HIGH[usize::from(r - 16)].into(),
            _ => r.to_string(),
        }
    }

    pub fn type_name(t: u16) -> Option<&'static str> {
        Some(match t {
            1 => "A",
            2 => "NS",
            5 => "CNAME",
            6 => "SOA",
            12 => "PTR",
            15 => "MX",
            16 => "TXT",
            28 => "AAAA",
            41 => "OPT",
            43 => "DS",
            44 => "SSHFP",
            46 => "RRSIG",
            47 => "NSEC",
            48 => "DNSKEY",
            64 => "SVCB",
            65 => "HTTPS",
            _ => return None,
        })
    }
}

/// Why the measurement stopped (0 none, 1 done, 2 timeout, 3 halted, 4 error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HostStop(pub u8);

impl HostStop {
    pub const NONE: Self = Self(0);
    pub const DONE: Self = Self(1);
    pub const TIMEOUT: Self = Self(2);
    pub const HALTED: Self = Self(3);
    pub const ERROR: Self = Self(4);

    pub fn name(&self) -> Option<&'static str> {
        ["NONE", "DONE", "TIMEOUT", "HALTED", "ERROR"]
            .get(usize::from(self.0))
            .copied()
    }
}

/// An SOA record's data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Soa {
    pub mname: String,
    pub rname: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

/// A (code, value) element of an OPT record or a (key, value) SVCB parameter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RrOption {
    pub code: u16,
    pub data: Vec<u8>,
}

/// Decoded RR data; which variant is allowed follows from the RR's class and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RrData {
    /// IN A / IN AAAA.
    Addr(Addr),
    /// IN NS / CNAME / PTR.
    Str(String),
    Soa(Soa),
    Mx {
        preference: u16,
        exchange: String,
    },
    /// TXT character-strings (each under 256 bytes).
    Txt(Vec<Vec<u8>>),
    Opt(Vec<RrOption>),
    Svcb {
        priority: u16,
        target: Option<String>,
        params: Vec<RrOption>,
    },
}

impl RrData {
    /// The warts data-kind code (warts.md 12.3).
    pub fn kind(&self) -> u16 {
        match self {
            RrData::Addr(_) => 1,
            RrData::Str(_) => 2,
            RrData::Soa(_) => 3,
            RrData::Mx { .. } => 4,
            RrData::Txt(_) => 5,
            RrData::Opt(_) => 6,
            RrData::Svcb { .. } => 7,
        }
    }
}

/// The data kind scamper decodes for an RR of this class and type (0: none).
pub fn rr_data_kind(class: u16, rtype: u16) -> u16 {
    use dns::*;
    match (class, rtype) {
        (_, TYPE_OPT) => 6,
        (CLASS_IN, TYPE_A | TYPE_AAAA) => 1,
        (CLASS_IN, TYPE_NS | TYPE_CNAME | TYPE_PTR) => 2,
        (CLASS_IN, TYPE_SOA) => 3,
        (CLASS_IN, TYPE_MX) => 4,
        (CLASS_IN | CLASS_CH, TYPE_TXT) => 5,
        (CLASS_IN, TYPE_SVCB | TYPE_HTTPS) => 7,
        _ => 0,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostRr {
    pub class: u16,
    pub rtype: u16,
    pub name: String,
    pub ttl: u32,
    pub data: Option<RrData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostQuery {
    pub tx: Timeval,
    pub rx: Timeval,
    pub id: u16,
    pub rcode: u8,
    /// DNS header flag bits (AA 0x40, TC 0x20, RD 0x10, RA 0x08, AD 0x02, CD 0x01).
    pub flags: u8,
    pub an: Vec<HostRr>,
    pub ns: Vec<HostRr>,
    pub ar: Vec<HostRr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Host {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub src: Option<Addr>,
    /// The DNS server.
    pub dst: Option<Addr>,
    pub start: Timeval,
    pub flags: u16,
    /// Milliseconds on disk.
    pub wait_timeout: Timeval,
    pub stop: HostStop,
    pub retries: u8,
    pub qtype: u16,
    pub qclass: u16,
    pub qname: Option<String>,
    /// EDNS client subnet, as text.
    pub ecs: Option<String>,
    pub errmsg: Option<String>,
    pub queries: Vec<HostQuery>,
}
