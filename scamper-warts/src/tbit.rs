//! In-memory TCP behaviour inference test (warts type 11): the test parameters, the packets
//! exchanged, and the test- and application-specific data.

pub mod icw;

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

/// TCP header flag bits, lowest first, with the names the renderings use.
pub const TCP_FLAG_NAMES: [&str; 8] = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"];
pub const TH_SYN: u8 = 0x02;
pub const TH_RST: u8 = 0x04;
pub const TH_ACK: u8 = 0x10;

/// The IP and TCP header fields of a recorded tbit packet (the JSON and dump renderings need
/// them; the warts record keeps only the raw bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PktHeaders<'a> {
    pub ip_version: u8,
    /// IPv4 IHL * 4; IPv6 40 plus the extension headers walked.
    pub ip_hlen: u16,
    /// IPv4 total length; IPv6 payload length + 40.
    pub ip_len: u16,
    pub ecn: u8,
    pub ttl: u8,
    /// (id, offset in bytes, more-fragments): always for IPv4, IPv6 only with a fragment header.
    pub frag: Option<(u32, u16, bool)>,
    /// Present when the packet is an unfragmented (offset 0) TCP segment with a whole header.
    pub tcp: Option<TcpHeader<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpHeader<'a> {
    pub hlen: u8,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    /// The option bytes (header bytes 20..hlen).
    pub options: &'a [u8],
}

impl TcpHeader<'_> {
    /// Payload length as IP total length minus both headers (wrapping, as the C tool computes).
    pub fn datalen(&self, ip: &PktHeaders<'_>) -> u16 {
        ip.ip_len
            .wrapping_sub(ip.ip_hlen)
            .wrapping_sub(u16::from(self.hlen))
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Decode the headers of a recorded packet; `None` when it is neither IPv4 nor IPv6 or the
/// IP header is truncated.
pub fn parse_pkt(b: &[u8]) -> Option<PktHeaders<'_>> {
    let v = b.first()? >> 4;
    let (mut h, proto, tcp_ok) = match v {
        4 => {
            let hlen = u16::from(b[0] & 0x0f) * 4;
            if b.len() < 20 {
                return None;
            }
            let fo = be16(b, 6)?;
            let off = (fo & 0x1fff) * 8;
            let h = PktHeaders {
                ip_version: 4,
                ip_hlen: hlen,
                ip_len: be16(b, 2)?,
                ecn: b[1] & 3,
                ttl: b[8],
                frag: Some((u32::from(be16(b, 4)?), off, fo & 0x2000 != 0)),
                tcp: None,
            };
            (h, b[9], off == 0)
        }
        6 => {
            if b.len() < 40 {
                return None;
            }
            let mut h = PktHeaders {
                ip_version: 6,
                ip_hlen: 40,
                ip_len: be16(b, 4)?.wrapping_add(40),
                ecn: ((be16(b, 0)? >> 4) & 0xff) as u8 & 3,
                ttl: b[7],
                frag: None,
                tcp: None,
            };
            let mut nh = b[6];
            let mut off_ok = true;
            // walk hop-by-hop, routing, fragment and destination-options headers; `at` only
            // grows and every step reads inside `b`, so the walk ends
            let mut at = 40usize;
            loop {
                match nh {
                    0 | 43 | 60 => {
                        let len = (usize::from(*b.get(at + 1)?) + 1) * 8;
                        nh = b[at];
                        at += len;
                    }
                    44 => {
                        let fo = be16(b, at + 2)?;
                        h.frag = Some((be32(b, at + 4)?, fo & 0xfff8, fo & 1 != 0));
                        off_ok = fo & 0xfff8 == 0;
                        nh = b[at];
                        at += 8;
                    }
                    _ => break,
                }
            }
            h.ip_hlen = u16::try_from(at).ok()?;
            (h, nh, off_ok)
        }
        _ => return None,
    };
    if proto == 6 && tcp_ok {
        let t = b.get(usize::from(h.ip_hlen)..).unwrap_or(&[]);
        if t.len() >= 20 {
            let hlen = (t[12] >> 4) * 4;
            h.tcp = Some(TcpHeader {
                hlen,
                flags: t[13],
                seq: be32(t, 4)?,
                ack: be32(t, 8)?,
                win: be16(t, 14)?,
                options: t.get(20..usize::from(hlen)).unwrap_or(&[]),
            });
        }
    }
    Some(h)
}

impl Tbit {
    /// Client and server initial sequence numbers: the sequence number of the first SYN
    /// without ACK and of the first SYN/ACK among the recorded packets.
    pub fn isns(&self) -> (Option<u32>, Option<u32>) {
        let (mut client, mut server) = (None, None);
        for p in &self.pkts {
            let Some(tcp) = parse_pkt(&p.data).and_then(|h| h.tcp) else {
                continue;
            };
            if tcp.flags & TH_SYN == 0 {
                continue;
            }
            if tcp.flags & TH_ACK == 0 {
                client = client.or(Some(tcp.seq));
            } else {
                server = server.or(Some(tcp.seq));
            }
        }
        (client, server)
    }

    /// A packet's sequence and acknowledgement numbers relative to the ISNs (unknown ISNs
    /// count as 0): tx seq against the client, rx seq against the server (a zero RST
    /// sequence number stays 0), acks the other way round.
    pub fn relative_seq_ack(&self, dir: u8, tcp: &TcpHeader<'_>, isns: (u32, u32)) -> (u32, u32) {
        let (client, server) = isns;
        if dir == 1 {
            (tcp.seq.wrapping_sub(client), tcp.ack.wrapping_sub(server))
        } else {
            let seq = if tcp.seq == 0 && tcp.flags & TH_RST != 0 {
                0
            } else {
                tcp.seq.wrapping_sub(server)
            };
            (seq, tcp.ack.wrapping_sub(client))
        }
    }
}
