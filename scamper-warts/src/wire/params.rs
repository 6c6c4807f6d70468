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

/// Flag bytes a [`ParamsOut`] holds inline: 7 ids each, far beyond the highest id any object
/// type defines (34).
const FLAG_BYTES: usize = 16;

/// Value buffers of finished [`ParamsOut`]s, reused by the next ones on this thread: a record
/// has one params block per reply or hop, and a fresh buffer for each grew through several
/// reallocations.
mod spare {
    use std::cell::RefCell;

    const KEEP: usize = 8;
    const MAX_CAPACITY: usize = 4096;

    thread_local! {
        static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    }

    pub fn take() -> Vec<u8> {
        SPARE
            .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop()))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    pub fn give(mut v: Vec<u8>) {
        if v.capacity() == 0 || v.capacity() > MAX_CAPACITY {
            return;
        }
        v.clear();
        let _ = SPARE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if s.len() < KEEP {
                    s.push(v);
                }
            }
        });
    }
}

/// Builds a params block; values must be added in ascending flag id order.
pub(crate) struct ParamsOut {
    /// Flag bits by byte (7 a byte).
    flags: [u8; FLAG_BYTES],
    /// Flag bytes in use (up to the one holding the highest id set).
    nflags: usize,
    vals: Vec<u8>,
    #[cfg(debug_assertions)]
    last: u16,
    /// An id beyond `FLAG_BYTES * 7` was set (a bug in a writer): `finish` reports it.
    overflow: Option<u16>,
}

impl Default for ParamsOut {
    fn default() -> Self {
        ParamsOut {
            flags: [0; FLAG_BYTES],
            nflags: 0,
            vals: spare::take(),
            #[cfg(debug_assertions)]
            last: 0,
            overflow: None,
        }
    }
}

impl Drop for ParamsOut {
    fn drop(&mut self) {
        spare::give(std::mem::take(&mut self.vals));
    }
}

impl ParamsOut {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn set(&mut self, id: u16) -> &mut Vec<u8> {
        #[cfg(debug_assertions)]
        {
            assert!(
                id > self.last,
                "params must be written in ascending flag order"
            );
            self.last = id;
        }
        let (i, b) = (usize::from(id.wrapping_sub(1)) / 7, id.wrapping_sub(1) % 7);
        match self.flags.get_mut(i) {
            Some(f) => {
                *f |= 1 << b;
                // Ids come in ascending order, so this byte is the last in use.
                self.nflags = i + 1;
            }
            None => self.overflow = Some(id),
        }
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
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        self.finish_and_clear(out)
    }

    /// [`ParamsOut::finish`], leaving this block empty for the next one: records with a block
    /// per hop or reply take one value buffer for all of them.
    pub fn finish_and_clear(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let r = self.append_to(out);
        self.flags = [0; FLAG_BYTES];
        self.nflags = 0;
        self.vals.clear();
        #[cfg(debug_assertions)]
        {
            self.last = 0;
        }
        self.overflow = None;
        r
    }

    fn append_to(&self, out: &mut Vec<u8>) -> Result<()> {
        if let Some(id) = self.overflow {
            return Err(Error::Encode(format!("params flag id {id} out of range")));
        }
        if u16::try_from(self.vals.len()).is_err() {
            return Err(Error::Encode(format!(
                "params block of {} bytes",
                self.vals.len()
            )));
        }
        append_block(out, &self.flags[..self.nflags], &self.vals);
        Ok(())
    }
}

/// Append a params block: its flag bytes (7 ids each, all but the last marked "another
/// follows"), the values' length and the values; a lone zero byte if no flag is set. `flags`
/// holds at most [`FLAG_BYTES`] bytes and `vals` fits a 16-bit length (the callers check).
pub(crate) fn append_block(out: &mut Vec<u8>, flags: &[u8], vals: &[u8]) {
    let n = flags.len();
    if n == 0 {
        out.push(0);
        return;
    }
    // Flag bytes and the length, in one copy.
    let mut head = [0u8; FLAG_BYTES + 2];
    for (h, f) in head.iter_mut().zip(flags) {
        *h = f | 0x80;
    }
    head[n - 1] &= 0x7f;
    head[n..n + 2].copy_from_slice(&(vals.len() as u16).to_be_bytes());
    out.reserve(n + 2 + vals.len());
    out.extend_from_slice(&head[..n + 2]);
    out.extend_from_slice(vals);
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
    fn value_buffers_are_reused_empty_and_ids_out_of_range_are_errors() {
        let mut out = Vec::new();
        for round in 0..3u8 {
            let mut p = ParamsOut::new();
            p.u8(2, round);
            p.u16(3, 0x0102);
            p.finish(&mut out).unwrap();
        }
        assert_eq!(
            out,
            [
                [0x06, 0, 3, 0, 1, 2],
                [0x06, 0, 3, 1, 1, 2],
                [0x06, 0, 3, 2, 1, 2]
            ]
            .concat()
        );
        let mut p = ParamsOut::new();
        p.u8(1, 1);
        p.u8(FLAG_BYTES as u16 * 7 + 1, 1);
        assert!(p.finish(&mut Vec::new()).is_err());
    }

    #[test]
    fn empty_block_is_one_zero_byte() {
        let mut out = Vec::new();
        ParamsOut::new().finish(&mut out).unwrap();
        assert_eq!(out, [0]);
    }
}
