//! Bounds-checked big-endian reads shared by the parsers. The one-line helpers are marked
//! `#[inline]`: the packet accessors that use them are instantiated in other crates, which
//! otherwise call them out of line for every field.

use crate::ParseError;

/// `len` bytes of `buf` starting at `off`, or a `Truncated` error naming `what`.
pub(crate) fn slice<'a>(
    buf: &'a [u8],
    off: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], ParseError> {
    match off.checked_add(len) {
        Some(end) if end <= buf.len() => Ok(&buf[off..end]),
        _ => Err(ParseError::Truncated {
            what,
            offset: off,
            need: len,
            have: buf.len().saturating_sub(off),
        }),
    }
}

#[inline]
pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

#[inline]
pub(crate) fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}
