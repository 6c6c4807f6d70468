//! UDP header (RFC 768) view.

use crate::wire::{be16, put16, slice};
use crate::ParseError;

pub const HEADER_LEN: usize = 8;

/// A UDP header in `buf`; `new_checked` guarantees 8 bytes.
#[derive(Debug, Clone)]
pub struct UdpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wrap without checks; getters panic on a buffer shorter than 8 bytes.
    pub fn new_unchecked(buf: T) -> Self {
        UdpPacket { buf }
    }
    pub fn new_checked(buf: T) -> Result<Self, ParseError> {
        slice(buf.as_ref(), 0, HEADER_LEN, "UDP header")?;
        Ok(UdpPacket { buf })
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
    pub fn len(&self) -> u16 {
        be16(self.buf.as_ref(), 4)
    }
    /// True if the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), 6)
    }
    /// Payload as bounded by both the length field and the buffer.
    pub fn payload(&self) -> &[u8] {
        let b = self.buf.as_ref();
        let end = usize::from(self.len()).clamp(HEADER_LEN, b.len());
        &b[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    pub fn set_src_port(&mut self, v: u16) {
        put16(self.buf.as_mut(), 0, v);
    }
    pub fn set_dst_port(&mut self, v: u16) {
        put16(self.buf.as_mut(), 2, v);
    }
    pub fn set_len(&mut self, v: u16) {
        put16(self.buf.as_mut(), 4, v);
    }
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buf.as_mut(), 6, v);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[HEADER_LEN..]
    }
}
