//! IPv6 header (RFC 8200) as a typed view over a byte buffer, and the walk over extension
//! headers that finds the upper-layer protocol and the fragment header.

use crate::wire::{be16, be32, put16, put32, slice};
use crate::ParseError;
use std::net::Ipv6Addr;

pub const HEADER_LEN: usize = 40;
pub const FRAG_HEADER_LEN: usize = 8;

/// Next-header values for the extension headers the walk understands.
pub const NH_HOPOPTS: u8 = 0;
pub const NH_ROUTING: u8 = 43;
pub const NH_FRAGMENT: u8 = 44;
pub const NH_ESP: u8 = 50;
pub const NH_AH: u8 = 51;
pub const NH_NONE: u8 = 59;
pub const NH_DSTOPTS: u8 = 60;
pub const NH_MOBILITY: u8 = 135;

/// An IPv6 fixed header in `buf`. The payload is clamped to the buffer, so a truncated quote
/// still yields what is present.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wrap without checks; getters panic on a buffer shorter than 40 bytes.
    pub fn new_unchecked(buf: T) -> Self {
        Ipv6Packet { buf }
    }

    /// Wrap after checking the version and that the 40-byte header is present.
    pub fn new_checked(buf: T) -> Result<Self, ParseError> {
        let b = buf.as_ref();
        // Version first: a short packet of the wrong family is better reported as such.
        if let Some(v) = b.first().map(|x| x >> 4).filter(|v| *v != 6) {
            return Err(ParseError::BadVersion {
                offset: 0,
                version: v,
            });
        }
        slice(b, 0, HEADER_LEN, "IPv6 header")?;
        Ok(Ipv6Packet { buf })
    }

    /// Check that the payload length fits in the buffer, as it must for a whole packet.
    /// A zero payload length (jumbogram, RFC 2675) is accepted and means "the rest".
    pub fn check_payload_len(&self) -> Result<(), ParseError> {
        let pl = usize::from(self.payload_len());
        let have = self.buf.as_ref().len() - HEADER_LEN;
        if pl > have {
            return Err(ParseError::BadTotalLen {
                what: "IPv6 payload",
                offset: 4,
                len: pl,
                have,
            });
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buf
    }
    pub fn version(&self) -> u8 {
        self.buf.as_ref()[0] >> 4
    }
    pub fn traffic_class(&self) -> u8 {
        ((be16(self.buf.as_ref(), 0) >> 4) & 0xff) as u8
    }
    pub fn flow_label(&self) -> u32 {
        be32(self.buf.as_ref(), 0) & 0x000f_ffff
    }
    pub fn payload_len(&self) -> u16 {
        be16(self.buf.as_ref(), 4)
    }
    pub fn next_header(&self) -> u8 {
        self.buf.as_ref()[6]
    }
    pub fn hop_limit(&self) -> u8 {
        self.buf.as_ref()[7]
    }
    pub fn src(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buf.as_ref()[8..24]);
        Ipv6Addr::from(a)
    }
    pub fn dst(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buf.as_ref()[24..40]);
        Ipv6Addr::from(a)
    }
    /// Bytes after the fixed header up to the payload length (the rest if it is zero),
    /// clamped to the buffer.
    pub fn payload(&self) -> &[u8] {
        let b = self.buf.as_ref();
        let pl = usize::from(self.payload_len());
        let end = if pl == 0 {
            b.len()
        } else {
            (HEADER_LEN + pl).min(b.len())
        };
        &b[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Set version 6, the traffic class and the 20-bit flow label in one go.
    pub fn set_version_tc_flow(&mut self, tc: u8, flow: u32) {
        let v = (6u32 << 28) | (u32::from(tc) << 20) | (flow & 0x000f_ffff);
        put32(self.buf.as_mut(), 0, v);
    }
    pub fn set_payload_len(&mut self, v: u16) {
        put16(self.buf.as_mut(), 4, v);
    }
    pub fn set_next_header(&mut self, v: u8) {
        self.buf.as_mut()[6] = v;
    }
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buf.as_mut()[7] = v;
    }
    pub fn set_src(&mut self, a: Ipv6Addr) {
        self.buf.as_mut()[8..24].copy_from_slice(&a.octets());
    }
    pub fn set_dst(&mut self, a: Ipv6Addr) {
        self.buf.as_mut()[24..40].copy_from_slice(&a.octets());
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[HEADER_LEN..]
    }
}

/// What the fragment header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragInfo {
    pub ident: u32,
    /// In 8-byte units, as on the wire.
    pub offset: u16,
    pub more: bool,
}

/// Result of walking the extension-header chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtWalk {
    /// The upper-layer protocol (or the header where the walk stopped: ESP, no-next-header,
    /// or a non-first fragment's next header).
    pub proto: u8,
    /// Offset of the upper-layer header within the walked bytes.
    pub offset: usize,
    pub frag: Option<FragInfo>,
}

/// Walk extension headers starting with `first` over `data` (the bytes after the fixed
/// header). With `strict`, a chain cut short by the end of `data` is an error; without it (for
/// quotations) the walk stops where the bytes run out. `base` is added to error offsets.
pub fn walk_ext(first: u8, data: &[u8], base: usize, strict: bool) -> Result<ExtWalk, ParseError> {
    let mut nh = first;
    let mut off = 0usize;
    let mut frag = None;
    // Bounded so that a crafted chain cannot keep us busy; real packets have a handful.
    for _ in 0..16 {
        let len = match nh {
            NH_HOPOPTS | NH_ROUTING | NH_DSTOPTS | NH_MOBILITY => match data.get(off + 1) {
                Some(l) => (usize::from(*l) + 1) * 8,
                None => return short(nh, off, base, data.len(), strict, frag),
            },
            NH_AH => match data.get(off + 1) {
                Some(l) => (usize::from(*l) + 2) * 4,
                None => return short(nh, off, base, data.len(), strict, frag),
            },
            NH_FRAGMENT => FRAG_HEADER_LEN,
            _ => {
                return Ok(ExtWalk {
                    proto: nh,
                    offset: off,
                    frag,
                })
            }
        };
        if off + len > data.len() {
            return short(nh, off, base, data.len(), strict, frag);
        }
        let h = &data[off..off + len];
        if nh == NH_FRAGMENT {
            let ofl = be16(h, 2);
            let info = FragInfo {
                ident: be32(h, 4),
                offset: ofl >> 3,
                more: ofl & 1 != 0,
            };
            frag = Some(info);
            if info.offset != 0 {
                // A non-first fragment carries no upper-layer header to parse.
                return Ok(ExtWalk {
                    proto: h[0],
                    offset: off + len,
                    frag,
                });
            }
        }
        nh = h[0];
        off += len;
    }
    Err(ParseError::BadOption {
        offset: base + off,
        kind: nh,
        reason: "too many extension headers",
    })
}

fn short(
    nh: u8,
    off: usize,
    base: usize,
    have: usize,
    strict: bool,
    frag: Option<FragInfo>,
) -> Result<ExtWalk, ParseError> {
    if strict {
        Err(ParseError::Truncated {
            what: "IPv6 extension header",
            offset: base + off,
            need: 2,
            have: have.saturating_sub(off),
        })
    } else {
        Ok(ExtWalk {
            proto: nh,
            offset: have,
            frag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        let mut b = [0u8; 48];
        {
            let mut p = Ipv6Packet::new_unchecked(&mut b[..]);
            p.set_version_tc_flow(0xb8, 0x12345);
            p.set_payload_len(8);
            p.set_next_header(17);
            p.set_hop_limit(3);
        }
        assert_eq!(&b[..4], &[0x6b, 0x81, 0x23, 0x45]);
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload().len(), 8);
        p.check_payload_len().unwrap();
    }

    #[test]
    fn walks_hbh_then_fragment() {
        // Hop-by-hop (8 bytes, next = fragment), fragment (next = UDP, offset 0, M=1).
        let data = [
            NH_FRAGMENT,
            0,
            1,
            4,
            0,
            0,
            0,
            0,
            17,
            0,
            0x00,
            0x01,
            0xde,
            0xad,
            0xbe,
            0xef,
            0xaa,
        ];
        let w = walk_ext(NH_HOPOPTS, &data, 40, true).unwrap();
        assert_eq!(w.proto, 17);
        assert_eq!(w.offset, 16);
        assert_eq!(
            w.frag,
            Some(FragInfo {
                ident: 0xdeadbeef,
                offset: 0,
                more: true
            })
        );
    }

    #[test]
    fn truncated_chain() {
        let data = [NH_FRAGMENT, 0, 0, 0];
        assert!(walk_ext(NH_HOPOPTS, &data, 40, true).is_err());
        let w = walk_ext(NH_HOPOPTS, &data, 40, false).unwrap();
        assert_eq!(w.proto, NH_HOPOPTS);
        assert_eq!(w.offset, 4);
    }
}
