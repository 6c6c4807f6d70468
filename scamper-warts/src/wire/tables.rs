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

/// Writer side: first occurrence is a definition, later ones references.
#[derive(Default)]
pub(crate) struct AddrOut {
    ids: HashMap<Addr, u32>,
}

impl AddrOut {
    pub fn put(&mut self, out: &mut Vec<u8>, a: &Addr) {
        if let Some(&id) = self.ids.get(a) {
            out.put_u8(0);
            out.put_u32(id);
        } else {
            let id = self.ids.len() as u32;
            self.ids.insert(*a, id);
            out.put_addr_static(a);
        }
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

#[derive(Default)]
pub(crate) struct IfnameOut {
    ids: HashMap<String, u8>,
}

impl IfnameOut {
    pub fn put(&mut self, out: &mut Vec<u8>, s: &str) {
        if let Some(&id) = self.ids.get(s) {
            out.put_u8(id);
        } else if self.ids.len() < 254 {
            let id = self.ids.len() as u8 + 1;
            self.ids.insert(s.to_string(), id);
            out.put_u8(id);
            out.put_str(s);
        } else {
            out.put_u8(0);
            out.put_str(s);
        }
    }
}
