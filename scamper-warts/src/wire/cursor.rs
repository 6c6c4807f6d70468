//! Bounds-checked big-endian reading of an object body. Every failure names the absolute
//! stream offset.

use crate::addr::Addr;
use crate::error::{Error, Result};
use crate::timeval::Timeval;

#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], base: u64) -> Self {
        Cursor { buf, pos: 0, base }
    }

    #[inline]
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn err(&self, what: impl Into<String>) -> Error {
        Error::format(self.offset(), what)
    }

    /// The byte `k` positions ahead, without consuming anything. The error is the one
    /// reading up to it byte by byte would give.
    pub fn peek(&self, k: usize) -> Result<u8> {
        match self.buf.get(self.pos + k) {
            Some(&b) => Ok(b),
            None => Err(Error::format(
                self.base + self.buf.len() as u64,
                "1 bytes needed, 0 left in object",
            )),
        }
    }

    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.buf.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(b) => {
                self.pos += n;
                Ok(b)
            }
            None => Err(self.short(n)),
        }
    }

    /// The error for a read of `n` bytes past the end; kept out of line so the readers
    /// above inline to a bounds check.
    #[cold]
    #[inline(never)]
    fn short(&self, n: usize) -> Error {
        self.err(format!(
            "{n} bytes needed, {} left in object",
            self.remaining()
        ))
    }

    /// Split off the next `n` bytes as their own cursor.
    pub fn sub(&mut self, n: usize) -> Result<Cursor<'a>> {
        let base = self.offset();
        let b = self.bytes(n)?;
        Ok(Cursor::new(b, base))
    }

    #[inline]
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    #[inline]
    pub fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    #[inline]
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    pub fn timeval(&mut self) -> Result<Timeval> {
        Ok(Timeval::new(self.u32()?, self.u32()?))
    }

    /// A duration stored as u32 microseconds.
    #[inline]
    pub fn rtt(&mut self) -> Result<Timeval> {
        Ok(Timeval::from_usec32(self.u32()?))
    }

    /// NUL-terminated string; invalid UTF-8 is replaced (lossy) so any bytes can be read.
    pub fn string(&mut self) -> Result<String> {
        let rest = &self.buf[self.pos..];
        let Some(n) = rest.iter().position(|&b| b == 0) else {
            return Err(self.err("string without terminating NUL"));
        };
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    /// Self-contained address: u8 length, u8 type, bytes.
    pub fn addr_static(&mut self) -> Result<Addr> {
        let off = self.offset();
        let len = self.u8()?;
        if len == 0 {
            return Err(Error::format(off, "static address with zero length"));
        }
        let kind = self.u8()?;
        let raw = self.bytes(usize::from(len))?;
        Addr::from_type_bytes(kind, raw)
            .ok_or_else(|| Error::format(off, format!("bad address type {kind} length {len}")))
    }
}

/// Appending big-endian values to an output buffer.
pub(crate) trait PutExt {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_tv(&mut self, v: &Timeval);
    fn put_str(&mut self, s: &str);
    fn put_addr_static(&mut self, a: &Addr);
}

impl PutExt for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_tv(&mut self, v: &Timeval) {
        self.put_u32(v.sec);
        self.put_u32(v.usec);
    }
    /// Strings are NUL-terminated on disk, so anything after an embedded NUL is dropped.
    fn put_str(&mut self, s: &str) {
        let b = s.as_bytes();
        let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        self.extend_from_slice(&b[..n]);
        self.push(0);
    }
    fn put_addr_static(&mut self, a: &Addr) {
        // Length, type and bytes as one fixed-size copy per address type.
        match a {
            Addr::V4(v) => {
                let o = v.octets();
                self.extend_from_slice(&[4, 1, o[0], o[1], o[2], o[3]]);
            }
            Addr::V6(v) => {
                self.extend_from_slice(&[16, 2]);
                self.extend_from_slice(&v.octets());
            }
            Addr::Ethernet(e) => {
                self.extend_from_slice(&[6, 3]);
                self.extend_from_slice(e);
            }
            Addr::Firewire(f) => {
                self.extend_from_slice(&[8, 4]);
                self.extend_from_slice(f);
            }
        }
    }
}
