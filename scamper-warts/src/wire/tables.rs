//! Per-object address and interface-name tables (warts.md 2.3.2, 2.4).

use std::collections::HashMap;

use crate::addr::Addr;
use crate::error::{Error, Result};
use crate::wire::cursor::{Cursor, PutExt};

/// Reader side of the address table; also resolves deprecated global address ids.
#[derive(Default)]
pub(crate) struct AddrIn<'g> {
    table: Vec<Addr>,
    global: &'g [Addr],
}

impl<'g> AddrIn<'g> {
    pub fn new(global: &'g [Addr]) -> Self {
        AddrIn {
            table: Vec::new(),
            global,
        }
    }

    pub fn read(&mut self, c: &mut Cursor<'_>) -> Result<Addr> {
        let off = c.offset();
        let len = c.u8()?;
        if len == 0 {
            let id = c.u32()?;
            return self
                .table
                .get(id as usize)
                .copied()
                .ok_or_else(|| Error::format(off, format!("address reference {id} undefined")));
        }
        let kind = c.u8()?;
        let raw = c.bytes(usize::from(len))?;
        let a = Addr::from_type_bytes(kind, raw)
            .ok_or_else(|| Error::format(off, format!("bad address type {kind} length {len}")))?;
        self.table.push(a);
        Ok(a)
    }

    /// Deprecated `addr-gid` field: u32 index (1-based) into the file's global addresses.
    pub fn read_gid(&self, c: &mut Cursor<'_>) -> Result<Addr> {
        let off = c.offset();
        let id = c.u32()?;
        (id as usize)
            .checked_sub(1)
            .and_then(|i| self.global.get(i))
            .copied()
            .ok_or_else(|| Error::format(off, format!("global address {id} undefined")))
    }
}

/// Addresses an object's table keeps inline: a ping record has two or three, a trace a few
/// dozen at most; beyond that a hash map takes the rest.
const ADDR_INLINE: usize = 16;

/// Writer side: first occurrence is a definition, later ones references. Small tables are
/// searched linearly without allocating (one per record written); large ones (tracelb, long
/// traces) spill into a hash map.
pub(crate) struct AddrOut {
    inline: [Addr; ADDR_INLINE],
    len: usize,
    more: Option<HashMap<Addr, u32>>,
}

impl Default for AddrOut {
    fn default() -> Self {
        AddrOut {
            inline: [Addr::V4(std::net::Ipv4Addr::UNSPECIFIED); ADDR_INLINE],
            len: 0,
            more: None,
        }
    }
}

impl AddrOut {
    fn find(&self, a: &Addr) -> Option<u32> {
        let n = self.len.min(ADDR_INLINE);
        if let Some(i) = self.inline[..n].iter().position(|x| x == a) {
            return Some(i as u32);
        }
        self.more.as_ref().and_then(|m| m.get(a).copied())
    }

    /// What [`AddrOut::put`] appends, written at the start of `buf` (at least 18 bytes) for
    /// an IPv4 or IPv6 address; returns its length (`None`, with nothing done, for other
    /// types).
    pub fn put_slice(&mut self, buf: &mut [u8], a: &Addr) -> Option<usize> {
        let n = match a {
            Addr::V4(v) => {
                buf[..2].copy_from_slice(&[4, 1]);
                buf[2..6].copy_from_slice(&v.octets());
                6
            }
            Addr::V6(v) => {
                buf[..2].copy_from_slice(&[16, 2]);
                buf[2..18].copy_from_slice(&v.octets());
                18
            }
            _ => return None,
        };
        if let Some(id) = self.find(a) {
            buf[0] = 0;
            buf[1..5].copy_from_slice(&id.to_be_bytes());
            return Some(5);
        }
        self.remember(a);
        Some(n)
    }

    /// Give `a` (not in the table) the next id.
    fn remember(&mut self, a: &Addr) {
        let id = self.len as u32;
        if self.len < ADDR_INLINE {
            self.inline[self.len] = *a;
        } else {
            self.more.get_or_insert_with(HashMap::new).insert(*a, id);
        }
        self.len += 1;
    }

    pub fn put(&mut self, out: &mut Vec<u8>, a: &Addr) {
        if let Some(id) = self.find(a) {
            out.put_u8(0);
            out.put_u32(id);
            return;
        }
        self.remember(a);
        out.put_addr_static(a);
    }
}

#[derive(Default)]
pub(crate) struct IfnameIn {
    table: Vec<String>,
}

impl IfnameIn {
    pub fn read(&mut self, c: &mut Cursor<'_>) -> Result<String> {
        let off = c.offset();
        let id = usize::from(c.u8()?);
        if id == 0 {
            return c.string();
        }
        if id <= self.table.len() {
            return Ok(self.table[id - 1].clone());
        }
        if id == self.table.len() + 1 {
            let s = c.string()?;
            self.table.push(s.clone());
            return Ok(s);
        }
        Err(Error::format(
            off,
            format!("interface name id {id} out of sequence"),
        ))
    }
}

/// Interface names kept inline by [`IfnameOut`]: a record names one or two interfaces.
const IFNAME_INLINE: usize = 4;
/// Longest name kept inline (Linux names are at most 15 bytes).
const IFNAME_INLINE_LEN: usize = 16;

/// Writer side of the interface-name table: ids 1..=254 in order of first use, 0 (the name
/// itself, every time) once they run out. The first few short names live inline, so a
/// record with a named interface allocates nothing for the table.
#[derive(Default)]
pub(crate) struct IfnameOut {
    /// Name bytes and length of ids 1..; a length of `u8::MAX` means the name is in `more`.
    inline: [([u8; IFNAME_INLINE_LEN], u8); IFNAME_INLINE],
    /// Names too long for their inline slot, or past the inline ones, with their ids.
    more: Vec<(String, u8)>,
    count: usize,
}

impl IfnameOut {
    fn find(&self, s: &str) -> Option<u8> {
        let b = s.as_bytes();
        let n = self.count.min(IFNAME_INLINE);
        for (i, (name, len)) in self.inline[..n].iter().enumerate() {
            let len = usize::from(*len);
            if len <= IFNAME_INLINE_LEN && &name[..len] == b {
                return Some(i as u8 + 1);
            }
        }
        self.more.iter().find(|(m, _)| m == s).map(|&(_, id)| id)
    }

    pub fn put(&mut self, out: &mut Vec<u8>, s: &str) {
        if let Some(id) = self.find(s) {
            out.put_u8(id);
        } else if self.count < 254 {
            let id = self.count as u8 + 1;
            let b = s.as_bytes();
            match self.inline.get_mut(self.count) {
                Some(slot) if b.len() <= IFNAME_INLINE_LEN => {
                    slot.0[..b.len()].copy_from_slice(b);
                    slot.1 = b.len() as u8;
                }
                slot => {
                    if let Some(slot) = slot {
                        slot.1 = u8::MAX;
                    }
                    self.more.push((s.to_string(), id));
                }
            }
            self.count += 1;
            out.put_u8(id);
            out.put_str(s);
        } else {
            out.put_u8(0);
            out.put_str(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// The tables as first written (hash maps), to check the inline ones byte for byte.
    #[derive(Default)]
    struct RefAddrOut(HashMap<Addr, u32>);

    impl RefAddrOut {
        fn put(&mut self, out: &mut Vec<u8>, a: &Addr) {
            if let Some(&id) = self.0.get(a) {
                out.put_u8(0);
                out.put_u32(id);
            } else {
                let id = self.0.len() as u32;
                self.0.insert(*a, id);
                out.put_addr_static(a);
            }
        }
    }

    #[derive(Default)]
    struct RefIfnameOut(HashMap<String, u8>);

    impl RefIfnameOut {
        fn put(&mut self, out: &mut Vec<u8>, s: &str) {
            if let Some(&id) = self.0.get(s) {
                out.put_u8(id);
            } else if self.0.len() < 254 {
                let id = self.0.len() as u8 + 1;
                self.0.insert(s.to_string(), id);
                out.put_u8(id);
                out.put_str(s);
            } else {
                out.put_u8(0);
                out.put_str(s);
            }
        }
    }

    /// Deterministic pseudo-random numbers (no test flakes, no dependency).
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *seed >> 33
    }

    #[test]
    fn address_table_matches_the_hash_map_one_beyond_the_inline_part() {
        let mut seed = 7;
        for distinct in [1u64, 3, 16, 17, 40, 300] {
            let (mut a, mut b) = (AddrOut::default(), RefAddrOut::default());
            let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
            for _ in 0..2000 {
                let n = lcg(&mut seed) % distinct;
                let addr = match n % 4 {
                    0 => Addr::V4(Ipv4Addr::from(0xc000_0200 + n as u32)),
                    1 => Addr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(n))),
                    2 => Addr::Ethernet([2, 0, 0, 0, 0, n as u8]),
                    _ => Addr::Firewire([1, 0, 0, 0, 0, 0, (n >> 8) as u8, n as u8]),
                };
                a.put(&mut out_a, &addr);
                b.put(&mut out_b, &addr);
            }
            assert_eq!(out_a, out_b, "{distinct} distinct addresses");
        }
    }

    #[test]
    fn ifname_table_matches_the_hash_map_one_with_long_names_and_overflow() {
        let mut seed = 11;
        for distinct in [1u64, 4, 5, 20, 400] {
            let (mut a, mut b) = (IfnameOut::default(), RefIfnameOut::default());
            let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
            for _ in 0..3000 {
                let n = lcg(&mut seed) % distinct;
                // Some names longer than the inline slots, one with the longest inline length.
                let name = match n % 3 {
                    0 => format!("eth{n}"),
                    1 => format!("a-rather-long-interface-name-{n}"),
                    _ => format!("{:0>16}", n),
                };
                a.put(&mut out_a, &name);
                b.put(&mut out_b, &name);
            }
            assert_eq!(out_a, out_b, "{distinct} distinct names");
        }
    }
}
