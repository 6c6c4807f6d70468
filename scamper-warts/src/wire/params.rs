//! The flags + parameter-length + values block (warts.md 2.1).

use crate::addr::Addr;
use crate::error::{Error, Result};
use crate::timeval::Timeval;
use crate::wire::cursor::{Cursor, PutExt};
use crate::wire::tables::{AddrOut, IfnameOut};

/// A decoded params block: iterate set flags with `next()` and read each value from `v`.
/// Borrows the flag bytes from the object body, so decoding allocates nothing.
pub(crate) struct ParamsIn<'a> {
    /// Flag bytes as stored: 7 flag bits each, the high bit means "another byte follows".
    flags: &'a [u8],
    pub v: Cursor<'a>,
    /// Index into `flags` of the byte whose bits are in `pending`.
    byte: usize,
    /// Flag bits of `flags[byte]` not yet returned.
    pending: u8,
    known: usize,
}

impl<'a> ParamsIn<'a> {
    /// Read the block; `known` is the highest flag id the caller understands (higher flags
    /// end decoding, their values are skipped by length).
    pub fn read(c: &mut Cursor<'a>, known: u16) -> Result<Self> {
        let mut n = 1;
        while c.peek(n - 1)? & 0x80 != 0 {
            n += 1;
        }
        let flags = c.bytes(n)?;
        let v = if n == 1 && flags[0] == 0 {
            Cursor::new(&[], c.offset())
        } else {
            let len = c.u16()?;
            c.sub(usize::from(len))?
        };
        Ok(ParamsIn {
            flags,
            v,
            byte: 0,
            pending: flags[0] & 0x7f,
            known: usize::from(known),
        })
    }

    /// Next set flag id (ascending), or `None` at the end or at the first unknown id.
    pub fn next(&mut self) -> Option<u16> {
        while self.pending == 0 {
            self.byte += 1;
            self.pending = self.flags.get(self.byte)? & 0x7f;
        }
        let bit = self.pending.trailing_zeros() as usize;
        self.pending &= self.pending - 1;
        let id = self.byte * 7 + bit + 1;
        if id > self.known {
            // stop here for good: values of unknown flags cannot be located
            self.byte = self.flags.len();
            self.pending = 0;
            return None;
        }
        Some(id as u16)
    }
}

/// Builds a params block; values must be added in ascending flag id order.
#[derive(Default)]
pub(crate) struct ParamsOut {
    flags: Vec<u8>,
    vals: Vec<u8>,
    last: u16,
}

impl ParamsOut {
    pub fn new() -> Self {
        Self::default()
    }

    fn set(&mut self, id: u16) -> &mut Vec<u8> {
        debug_assert!(
            id > self.last,
            "params must be written in ascending flag order"
        );
        self.last = id;
        let (i, b) = (usize::from(id - 1) / 7, (id - 1) % 7);
        if self.flags.len() <= i {
            self.flags.resize(i + 1, 0);
        }
        self.flags[i] |= 1 << b;
        &mut self.vals
    }

    pub fn u8(&mut self, id: u16, v: u8) {
        self.set(id).put_u8(v);
    }
    pub fn u16(&mut self, id: u16, v: u16) {
        self.set(id).put_u16(v);
    }
    pub fn u32(&mut self, id: u16, v: u32) {
        self.set(id).put_u32(v);
    }
    pub fn tv(&mut self, id: u16, v: &Timeval) {
        self.set(id).put_tv(v);
    }
    pub fn rtt(&mut self, id: u16, v: &Timeval) {
        self.set(id).put_u32(v.as_usec32());
    }
    pub fn str(&mut self, id: u16, s: &str) {
        self.set(id).put_str(s);
    }
    pub fn bytes(&mut self, id: u16, b: &[u8]) {
        self.set(id).extend_from_slice(b);
    }
    pub fn addr(&mut self, id: u16, a: &Addr, t: &mut AddrOut) {
        t.put(self.set(id), a);
    }
    pub fn addr_static(&mut self, id: u16, a: &Addr) {
        self.set(id).put_addr_static(a);
    }
    pub fn ifname(&mut self, id: u16, s: &str, t: &mut IfnameOut) {
        t.put(self.set(id), s);
    }
    /// Set a flag and get the value buffer for a composite value.
    pub fn raw(&mut self, id: u16) -> &mut Vec<u8> {
        self.set(id)
    }

    /// Append flag bytes, length and values to `out`.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<()> {
        if self.flags.is_empty() {
            out.push(0);
            return Ok(());
        }
        let n = self.flags.len();
        for (i, f) in self.flags.iter().enumerate() {
            out.push(if i + 1 < n { f | 0x80 } else { *f });
        }
        let len = u16::try_from(self.vals.len())
            .map_err(|_| Error::Encode(format!("params block of {} bytes", self.vals.len())))?;
        out.put_u16(len);
        out.extend_from_slice(&self.vals);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_bytes_follow_highest_id() {
        let mut p = ParamsOut::new();
        for id in [1, 2, 5, 6, 7, 10, 11, 12, 13, 15, 17, 20, 21] {
            p.u8(id, 0);
        }
        let mut out = Vec::new();
        p.finish(&mut out).unwrap();
        assert_eq!(&out[..5], &[0xf3, 0xbc, 0x65, 0x00, 13]);

        let mut c = Cursor::new(&out, 0);
        let mut p = ParamsIn::read(&mut c, 34).unwrap();
        let mut ids = Vec::new();
        while let Some(id) = p.next() {
            ids.push(id);
        }
        assert_eq!(ids, [1, 2, 5, 6, 7, 10, 11, 12, 13, 15, 17, 20, 21]);
        assert!(c.is_empty());
    }

    #[test]
    fn unknown_trailing_flags_are_skipped() {
        let mut p = ParamsOut::new();
        p.u8(1, 7);
        p.u32(9, 0xdeadbeef);
        let mut out = Vec::new();
        p.finish(&mut out).unwrap();
        let mut c = Cursor::new(&out, 0);
        let mut p = ParamsIn::read(&mut c, 8).unwrap();
        assert_eq!(p.next(), Some(1));
        assert_eq!(p.v.u8().unwrap(), 7);
        assert_eq!(p.next(), None);
        assert!(c.is_empty());
    }

    #[test]
    fn empty_block_is_one_zero_byte() {
        let mut out = Vec::new();
        ParamsOut::new().finish(&mut out).unwrap();
        assert_eq!(out, [0]);
    }
}
