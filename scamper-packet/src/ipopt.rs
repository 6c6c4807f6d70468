//! IPv4 options that measurements set and read: record route (RFC 791 §3.1, type 7) and
//! internet timestamp (RFC 791, type 68).

use crate::ipv4::MAX_OPTIONS_LEN;
use crate::wire::be32;
use crate::{BuildError, ParseError};
use std::net::Ipv4Addr;

pub const IPOPT_EOL: u8 = 0;
pub const IPOPT_NOP: u8 = 1;
pub const IPOPT_RR: u8 = 7;
pub const IPOPT_TS: u8 = 68;

/// Timestamp option flag values (low nibble of the fourth byte).
pub const IPOPT_TS_TSONLY: u8 = 0;
pub const IPOPT_TS_TSANDADDR: u8 = 1;
pub const IPOPT_TS_PRESPEC: u8 = 3;

/// Record route holds at most 9 addresses (3 + 9 * 4 = 39 bytes).
pub const RR_MAX_SLOTS: u8 = 9;
/// Timestamp-only holds at most 9 stamps (4 + 9 * 4 = 40 bytes).
pub const TS_ONLY_MAX_SLOTS: usize = 9;
/// Address+timestamp pairs: at most 4 (4 + 4 * 8 = 36 bytes).
pub const TS_ADDR_MAX_SLOTS: usize = 4;

/// A timestamp option to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsOption {
    /// Routers record timestamps only; as many slots as fit in the option space left.
    TsOnly,
    /// Routers record address and timestamp; as many slots as fit in the option space left.
    TsAndAddr,
    /// Only the listed routers (1 to 4) fill in their timestamp.
    TsPrespec(Vec<Ipv4Addr>),
}

/// An IPv4 option to put in a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpOption {
    /// Record route with room for `slots` addresses (1..=9).
    RecordRoute {
        slots: u8,
    },
    Timestamp(TsOption),
}

/// One filled timestamp slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsEntry {
    /// The recording router for the address-carrying variants, `None` for timestamp-only.
    pub addr: Option<Ipv4Addr>,
    pub ts: u32,
}

/// An IPv4 option as received; only the slots before the pointer (the filled ones) are
/// reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RxIpOption {
    RecordRoute {
        pointer: u8,
        addrs: Vec<Ipv4Addr>,
    },
    Timestamp {
        flag: u8,
        overflow: u8,
        pointer: u8,
        entries: Vec<TsEntry>,
    },
    /// Any other option, kept raw (type byte and the bytes after the length byte).
    Other {
        kind: u8,
        data: Vec<u8>,
    },
}

/// Encode options into the bytes that follow a 20-byte IPv4 header, padded with EOL to a
/// multiple of 4.
pub fn encode_options(opts: &[IpOption]) -> Result<Vec<u8>, BuildError> {
    let mut out = Vec::new();
    for o in opts {
        let room = MAX_OPTIONS_LEN.saturating_sub(out.len());
        match o {
            IpOption::RecordRoute { slots } => {
                if *slots == 0 || *slots > RR_MAX_SLOTS {
                    return Err(BuildError::BadOption("record route needs 1..=9 slots"));
                }
                let len = 3 + 4 * usize::from(*slots);
                if len > room {
                    return Err(BuildError::BadOption("options exceed 40 bytes"));
                }
                // Pointer 4: the first slot, 1-based from the option's type byte.
                out.extend_from_slice(&[IPOPT_RR, len as u8, 4]);
                out.resize(out.len() + len - 3, 0);
            }
            IpOption::Timestamp(ts) => {
                let (flag, entry, slots, addrs): (u8, usize, usize, &[Ipv4Addr]) = match ts {
                    TsOption::TsOnly => (
                        IPOPT_TS_TSONLY,
                        4,
                        (room.saturating_sub(4) / 4).min(TS_ONLY_MAX_SLOTS),
                        &[],
                    ),
                    TsOption::TsAndAddr => (
                        IPOPT_TS_TSANDADDR,
                        8,
                        (room.saturating_sub(4) / 8).min(TS_ADDR_MAX_SLOTS),
                        &[],
                    ),
                    TsOption::TsPrespec(a) => {
                        if a.is_empty() || a.len() > TS_ADDR_MAX_SLOTS {
                            return Err(BuildError::BadOption(
                                "prespecified timestamp needs 1..=4 addresses",
                            ));
                        }
                        (IPOPT_TS_PRESPEC, 8, a.len(), a.as_slice())
                    }
                };
                let len = 4 + entry * slots;
                if slots == 0 || len > room {
                    return Err(BuildError::BadOption("options exceed 40 bytes"));
                }
                out.extend_from_slice(&[IPOPT_TS, len as u8, 5, flag]);
                for i in 0..slots {
                    if let Some(a) = addrs.get(i) {
                        out.extend_from_slice(&a.octets());
                    } else if entry == 8 {
                        out.extend_from_slice(&[0; 4]);
                    }
                    out.extend_from_slice(&[0; 4]);
                }
            }
        }
    }
    while out.len() % 4 != 0 {
        out.push(IPOPT_EOL);
    }
    Ok(out)
}

/// Parse the option bytes of an IPv4 header; `base` is their offset in the packet, for errors.
pub fn parse_options(o: &[u8], base: usize) -> Result<Vec<RxIpOption>, ParseError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < o.len() {
        let kind = o[i];
        match kind {
            IPOPT_EOL => break,
            IPOPT_NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = match o.get(i + 1) {
            Some(l) => usize::from(*l),
            None => {
                return Err(ParseError::BadOption {
                    offset: base + i,
                    kind,
                    reason: "missing length",
                })
            }
        };
        if len < 2 || i + len > o.len() {
            return Err(ParseError::BadOption {
                offset: base + i,
                kind,
                reason: "length out of range",
            });
        }
        let opt = &o[i..i + len];
        out.push(match kind {
            IPOPT_RR if len >= 3 => {
                let filled = (usize::from(opt[2]).saturating_sub(4) / 4).min((len - 3) / 4);
                let addrs = (0..filled)
                    .map(|k| Ipv4Addr::from(be32(opt, 3 + 4 * k)))
                    .collect();
                RxIpOption::RecordRoute {
                    pointer: opt[2],
                    addrs,
                }
            }
            IPOPT_TS if len >= 4 => {
                let flag = opt[3] & 0x0f;
                let entry = if flag == IPOPT_TS_TSONLY { 4 } else { 8 };
                let filled = (usize::from(opt[2]).saturating_sub(5) / entry).min((len - 4) / entry);
                let entries = (0..filled)
                    .map(|k| {
                        let at = 4 + entry * k;
                        if entry == 4 {
                            TsEntry {
                                addr: None,
                                ts: be32(opt, at),
                            }
                        } else {
                            TsEntry {
                                addr: Some(Ipv4Addr::from(be32(opt, at))),
                                ts: be32(opt, at + 4),
                            }
                        }
                    })
                    .collect();
                RxIpOption::Timestamp {
                    flag,
                    overflow: opt[3] >> 4,
                    pointer: opt[2],
                    entries,
                }
            }
            IPOPT_RR | IPOPT_TS => {
                return Err(ParseError::BadOption {
                    offset: base + i,
                    kind,
                    reason: "option too short",
                })
            }
            _ => RxIpOption::Other {
                kind,
                data: opt[2..].to_vec(),
            },
        });
        i += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_record_route_nine_slots() {
        let b = encode_options(&[IpOption::RecordRoute { slots: 9 }]).unwrap();
        assert_eq!(b.len(), 40);
        assert_eq!(&b[..3], &[7, 39, 4]);
        assert!(b[3..].iter().all(|x| *x == 0));
    }

    #[test]
    fn encode_timestamp_variants() {
        let b = encode_options(&[IpOption::Timestamp(TsOption::TsOnly)]).unwrap();
        assert_eq!(&b[..4], &[68, 40, 5, 0]);
        let b = encode_options(&[IpOption::Timestamp(TsOption::TsAndAddr)]).unwrap();
        assert_eq!(b.len(), 36);
        assert_eq!(&b[..4], &[68, 36, 5, 1]);
        let a = Ipv4Addr::new(192, 0, 2, 1);
        let b = encode_options(&[IpOption::Timestamp(TsOption::TsPrespec(vec![a]))]).unwrap();
        assert_eq!(b, vec![68, 12, 5, 3, 192, 0, 2, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn encode_rejects_overflow() {
        let r = encode_options(&[
            IpOption::RecordRoute { slots: 9 },
            IpOption::Timestamp(TsOption::TsOnly),
        ]);
        assert!(matches!(r, Err(BuildError::BadOption(_))));
        assert!(encode_options(&[IpOption::RecordRoute { slots: 10 }]).is_err());
        assert!(encode_options(&[IpOption::Timestamp(TsOption::TsPrespec(vec![]))]).is_err());
    }

    #[test]
    fn parse_filled_record_route() {
        // Two of three slots filled: pointer 12.
        let o = [7, 15, 12, 10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 0, IPOPT_EOL];
        let r = parse_options(&o, 20).unwrap();
        assert_eq!(
            r,
            vec![RxIpOption::RecordRoute {
                pointer: 12,
                addrs: vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)],
            }]
        );
    }

    #[test]
    fn parse_timestamp_and_addr_with_overflow() {
        let o = [
            IPOPT_NOP, 68, 20, 13, 0x21, 10, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let r = parse_options(&o, 20).unwrap();
        assert_eq!(
            r,
            vec![RxIpOption::Timestamp {
                flag: 1,
                overflow: 2,
                pointer: 13,
                entries: vec![TsEntry {
                    addr: Some(Ipv4Addr::new(10, 0, 0, 1)),
                    ts: 7
                }],
            }]
        );
    }

    #[test]
    fn parse_rejects_bad_lengths() {
        assert!(matches!(
            parse_options(&[7, 60, 4, 0], 20),
            Err(ParseError::BadOption { offset: 20, .. })
        ));
        assert!(parse_options(&[7], 20).is_err());
        assert!(parse_options(&[68, 3, 5], 20).is_err());
    }
}
