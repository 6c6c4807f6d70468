//! Wire primitives shared by all warts object codecs: a bounds-checked cursor, the
//! flags/params block, and the per-object address and interface-name tables.

pub(crate) mod cursor;
pub(crate) mod params;
pub(crate) mod tables;

pub(crate) use cursor::Cursor;
pub(crate) use params::{append_block, ParamsIn, ParamsOut};
pub(crate) use tables::{AddrIn, AddrOut, IfnameIn, IfnameOut};
