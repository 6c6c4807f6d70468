//! In-memory HTTP(S) measurement (warts type 15): the request and the buffers exchanged.

use std::sync::Arc;

use crate::addr::Addr;
use crate::list::{Cycle, List};
use crate::timeval::Timeval;

/// Why the measurement stopped (0 none, 1 halted, 2 noconn, 3 done, 4 error, 5 timeout,
/// 6 insecure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HttpStop(pub u8);

impl HttpStop {
    pub fn name(&self) -> Option<&'static str> {
        [
            "none", "halted", "noconn", "done", "error", "timeout", "insecure",
        ]
        .get(usize::from(self.0))
        .copied()
    }
}

/// `Http::kind` values: note that 0 is https.
pub mod kind {
    pub const HTTPS: u8 = 0;
    pub const HTTP: u8 = 1;
}

/// `Http::flags` bits.
pub mod flags {
    pub const INSECURE: u32 = 0x01;
    pub const GREASE: u32 = 0x02;
}

/// One buffer sent or received.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpBuf {
    /// 0 rx, 1 tx.
    pub dir: u8,
    /// 0 data, 1 hdr, 2 tls.
    pub kind: u8,
    pub tv: Timeval,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Http {
    pub list: Option<Arc<List>>,
    pub cycle: Option<Arc<Cycle>>,
    pub userid: u32,
    pub src: Option<Addr>,
    pub dst: Option<Addr>,
    pub sport: u16,
    pub dport: u16,
    pub start: Timeval,
    pub stop: HttpStop,
    /// [`kind::HTTPS`] or [`kind::HTTP`].
    pub kind: u8,
    pub host: Option<String>,
    pub file: Option<String>,
    /// Extra request headers.
    pub headers: Vec<String>,
    pub hsrtt: Timeval,
    pub flags: u32,
    pub maxtime: Timeval,
    pub errmsg: Option<String>,
    pub ech_status: u8,
    pub ech_outer_sni: Option<String>,
    pub ech_config: Vec<u8>,
    pub ech_retry: Vec<u8>,
    pub bufs: Vec<HttpBuf>,
}
