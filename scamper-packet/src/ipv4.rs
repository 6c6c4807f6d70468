//! IPv4 header (RFC 791) as a typed view over a byte buffer.

use crate::checksum;
use crate::wire::{be16, put16};
use crate::ParseError;
use std::net::Ipv4Addr;

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;
/// Options may take at most 40 bytes (IHL is 4 bits of 32-bit words).
pub const MAX_OPTIONS_LEN: usize = 40;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// An IPv4 header in `buf`. After [`Ipv4Packet::new_checked`] the whole header (options
/// included) is known to be present, so every getter is in bounds; the payload is clamped to
/// the buffer, because quotations inside ICMP errors are routinely shorter than their total
/// length says.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wrap without checks; getters panic if the buffer is shorter than the header claims.
    pub fn new_unchecked(buf: T) -> Self {
        Ipv4Packet { buf }
    }

    /// Wrap after checking the version and that the full header (IHL) is present.
    pub fn new_checked(buf: T) -> Result<Self, ParseError> {
        let b = buf.as_ref();
        // Version first: a short packet of the wrong family is better reported as such.
        if let Some(v) = b.first().map(|x| x >> 4).filter(|v| *v != 4) {
            return Err(ParseError::BadVersion {
                offset: 0,
                version: v,
            });
        }
        if b.len() < HEADER_LEN {
            return Err(ParseError::Truncated {
                what: "IPv4 header",
                offset: 0,
                need: HEADER_LEN,
                have: b.len(),
            });
        }
        let hl = usize::from(b[0] & 0x0f) * 4;
        if hl < HEADER_LEN {
            return Err(ParseError::BadHeaderLen {
                what: "IPv4",
                offset: 0,
                len: hl,
            });
        }
        if hl > b.len() {
            return Err(ParseError::Truncated {
                what: "IPv4 options",
                offset: HEADER_LEN,
                need: hl - HEADER_LEN,
                have: b.len() - HEADER_LEN,
            });
        }
        Ok(Ipv4Packet { buf })
    }

    /// Check that the total length covers the header and fits in the buffer, as it must for a
    /// packet read whole from a socket (not for a quotation).
    pub fn check_total_len(&self) -> Result<(), ParseError> {
        let tl = usize::from(self.total_len());
        let have = self.buf.as_ref().len();
        if tl < self.header_len() || tl > have {
            return Err(ParseError::BadTotalLen {
                what: "IPv4 total",
                offset: 2,
                len: tl,
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
    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[0] & 0x0f) * 4
    }
    pub fn tos(&self) -> u8 {
        self.buf.as_ref()[1]
    }
    pub fn total_len(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }
    pub fn ident(&self) -> u16 {
        be16(self.buf.as_ref(), 4)
    }
    pub fn df(&self) -> bool {
        be16(self.buf.as_ref(), 6) & FLAG_DF != 0
    }
    pub fn more_frags(&self) -> bool {
        be16(self.buf.as_ref(), 6) & FLAG_MF != 0
    }
    /// Fragment offset in 8-byte units, as on the wire.
    pub fn frag_offset(&self) -> u16 {
        be16(self.buf.as_ref(), 6) & OFFSET_MASK
    }
    pub fn ttl(&self) -> u8 {
        self.buf.as_ref()[8]
    }
    pub fn protocol(&self) -> u8 {
        self.buf.as_ref()[9]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), 10)
    }
    pub fn src(&self) -> Ipv4Addr {
        let b = self.buf.as_ref();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }
    pub fn dst(&self) -> Ipv4Addr {
        let b = self.buf.as_ref();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }
    pub fn options(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..self.header_len()]
    }
    /// Bytes after the header up to the total length, clamped to what the buffer holds.
    pub fn payload(&self) -> &[u8] {
        let b = self.buf.as_ref();
        let hl = self.header_len();
        let end = usize::from(self.total_len()).clamp(hl, b.len());
        &b[hl..end]
    }
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(&self.buf.as_ref()[..self.header_len()])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Set version 4 and the header length in bytes (a multiple of 4, 20..=60).
    pub fn set_version_and_header_len(&mut self, hl: usize) {
        self.buf.as_mut()[0] = 0x40 | ((hl / 4) as u8 & 0x0f);
    }
    pub fn set_tos(&mut self, v: u8) {
        self.buf.as_mut()[1] = v;
    }
    pub fn set_total_len(&mut self, v: u16) {
        put16(self.buf.as_mut(), 2, v);
    }
    pub fn set_ident(&mut self, v: u16) {
        put16(self.buf.as_mut(), 4, v);
    }
    /// Set DF, MF and the fragment offset (8-byte units, 13 bits) together.
    pub fn set_frag(&mut self, df: bool, mf: bool, offset: u16) {
        let mut v = offset & OFFSET_MASK;
        if df {
            v |= FLAG_DF;
        }
        if mf {
            v |= FLAG_MF;
        }
        put16(self.buf.as_mut(), 6, v);
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.buf.as_mut()[8] = v;
    }
    pub fn set_protocol(&mut self, v: u8) {
        self.buf.as_mut()[9] = v;
    }
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buf.as_mut(), 10, v);
    }
    pub fn set_src(&mut self, a: Ipv4Addr) {
        self.buf.as_mut()[12..16].copy_from_slice(&a.octets());
    }
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        self.buf.as_mut()[16..20].copy_from_slice(&a.octets());
    }
    /// Compute and store the header checksum over the current header length.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let c = checksum::checksum(&self.buf.as_ref()[..hl]);
        self.set_checksum(c);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buf.as_mut()[hl..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hand_made_header() {
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        let p = Ipv4Packet::new_checked(&h[..]).unwrap();
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 0x73);
        assert!(p.df());
        assert!(!p.more_frags());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.src(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst(), Ipv4Addr::new(192, 168, 0, 199));
        assert!(p.verify_checksum());
        // Total length 0x73 exceeds this 20-byte buffer: fine for a quote, not for a packet.
        assert!(p.check_total_len().is_err());
        assert!(p.payload().is_empty());
    }

    #[test]
    fn rejects_bad_ihl_and_version() {
        let mut h = [0u8; 20];
        h[0] = 0x44;
        assert!(matches!(
            Ipv4Packet::new_checked(&h[..]),
            Err(ParseError::BadHeaderLen { len: 16, .. })
        ));
        h[0] = 0x65;
        assert!(matches!(
            Ipv4Packet::new_checked(&h[..]),
            Err(ParseError::BadVersion { version: 6, .. })
        ));
        h[0] = 0x46;
        assert!(matches!(
            Ipv4Packet::new_checked(&h[..]),
            Err(ParseError::Truncated { .. })
        ));
    }
}
