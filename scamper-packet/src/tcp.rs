//! TCP header (RFC 9293) view, flag constants and the MSS option.

use crate::wire::{be16, be32, put16, put32, slice};
use crate::ParseError;

pub const HEADER_LEN: usize = 20;

pub const TH_FIN: u8 = 0x01;
pub const TH_SYN: u8 = 0x02;
pub const TH_RST: u8 = 0x04;
pub const TH_PSH: u8 = 0x08;
pub const TH_ACK: u8 = 0x10;
pub const TH_URG: u8 = 0x20;
pub const TH_ECE: u8 = 0x40;
pub const TH_CWR: u8 = 0x80;

pub const OPT_EOL: u8 = 0;
pub const OPT_NOP: u8 = 1;
pub const OPT_MSS: u8 = 2;

/// A TCP header in `buf`. `new_checked` guarantees 20 bytes; [`TcpPacket::check_header_len`]
/// additionally checks that the options announced by the data offset are present.
#[derive(Debug, Clone)]
pub struct TcpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wrap without checks; getters panic on a buffer shorter than 20 bytes.
    pub fn new_unchecked(buf: T) -> Self {
        TcpPacket { buf }
    }
    pub fn new_checked(buf: T) -> Result<Self, ParseError> {
        slice(buf.as_ref(), 0, HEADER_LEN, "TCP header")?;
        Ok(TcpPacket { buf })
    }
    /// Check the data offset: at least 5 words and within the buffer.
    pub fn check_header_len(&self) -> Result<(), ParseError> {
        let hl = self.header_len();
        if hl < HEADER_LEN {
            return Err(ParseError::BadHeaderLen {
                what: "TCP",
                offset: 12,
                len: hl,
            });
        }
        slice(
            self.buf.as_ref(),
            HEADER_LEN,
            hl - HEADER_LEN,
            "TCP options",
        )?;
        Ok(())
    }
    pub fn into_inner(self) -> T {
        self.buf
    }
    pub fn src_port(&self) -> u16 {
        be16(self.buf.as_ref(), 0)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }
    pub fn seq(&self) -> u32 {
        be32(self.buf.as_ref(), 4)
    }
    pub fn ack(&self) -> u32 {
        be32(self.buf.as_ref(), 8)
    }
    /// Header length in bytes from the data offset.
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[12] >> 4) * 4
    }
    pub fn flags(&self) -> u8 {
        self.buf.as_ref()[13]
    }
    pub fn window(&self) -> u16 {
        be16(self.buf.as_ref(), 14)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), 16)
    }
    pub fn urgent(&self) -> u16 {
        be16(self.buf.as_ref(), 18)
    }
    /// Option bytes, clamped to the buffer.
    pub fn options(&self) -> &[u8] {
        let b = self.buf.as_ref();
        let end = self.header_len().clamp(HEADER_LEN, b.len());
        &b[HEADER_LEN..end]
    }
    /// The MSS option if present. A malformed option list ends the search rather than
    /// failing: the rest of the segment is still worth reporting.
    pub fn mss(&self) -> Option<u16> {
        let o = self.options();
        let mut i = 0;
        while i < o.len() {
            match o[i] {
                OPT_EOL => return None,
                OPT_NOP => i += 1,
                kind => {
                    let len = usize::from(*o.get(i + 1)?);
                    if len < 2 || i + len > o.len() {
                        return None;
                    }
                    if kind == OPT_MSS && len == 4 {
                        return Some(be16(o, i + 2));
                    }
                    i += len;
                }
            }
        }
        None
    }
    /// Bytes after the header (data offset clamped to the buffer).
    pub fn payload(&self) -> &[u8] {
        let b = self.buf.as_ref();
        let hl = self.header_len().clamp(HEADER_LEN, b.len());
        &b[hl..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    pub fn set_src_port(&mut self, v: u16) {
        put16(self.buf.as_mut(), 0, v);
    }
    pub fn set_dst_port(&mut self, v: u16) {
        put16(self.buf.as_mut(), 2, v);
    }
    pub fn set_seq(&mut self, v: u32) {
        put32(self.buf.as_mut(), 4, v);
    }
    pub fn set_ack(&mut self, v: u32) {
        put32(self.buf.as_mut(), 8, v);
    }
    /// Set the data offset from a header length in bytes (multiple of 4, 20..=60).
    pub fn set_header_len(&mut self, hl: usize) {
        self.buf.as_mut()[12] = ((hl / 4) as u8) << 4;
    }
    pub fn set_flags(&mut self, v: u8) {
        self.buf.as_mut()[13] = v;
    }
    pub fn set_window(&mut self, v: u16) {
        put16(self.buf.as_mut(), 14, v);
    }
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buf.as_mut(), 16, v);
    }
    pub fn set_urgent(&mut self, v: u16) {
        put16(self.buf.as_mut(), 18, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mss_after_nops() {
        let mut b = [0u8; 28];
        b[12] = 7 << 4;
        b[20..28].copy_from_slice(&[OPT_NOP, OPT_NOP, OPT_MSS, 4, 0x05, 0xb4, OPT_EOL, 0]);
        let t = TcpPacket::new_checked(&b[..]).unwrap();
        t.check_header_len().unwrap();
        assert_eq!(t.mss(), Some(1460));
        assert!(t.payload().is_empty());
    }

    #[test]
    fn malformed_options_do_not_panic() {
        let mut b = [0u8; 24];
        b[12] = 6 << 4;
        b[20..24].copy_from_slice(&[OPT_MSS, 0, 0, 0]);
        let t = TcpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(t.mss(), None);
        b[12] = 15 << 4;
        let t = TcpPacket::new_checked(&b[..]).unwrap();
        assert!(t.check_header_len().is_err());
        assert_eq!(t.mss(), None);
    }
}
