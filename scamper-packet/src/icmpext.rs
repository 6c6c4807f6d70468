//! ICMP multi-part message extensions (RFC 4884) and the MPLS label stack object (RFC 4950).
//!
//! The extension structure follows the (padded) original datagram: a 4-byte header (version 2
//! in the top nibble, 12 reserved bits, checksum over the whole structure) and then objects,
//! each with a 16-bit length (object header included), a class number and a C-type.

use crate::checksum;
use crate::wire::{be16, be32, put16};

pub const EXT_VERSION: u8 = 2;
pub const EXT_HEADER_LEN: usize = 4;
pub const OBJ_HEADER_LEN: usize = 4;
/// RFC 4884 §5: with extensions, the original datagram is padded to at least 128 bytes; it is
/// also where pre-RFC 4884 routers (RFC 4950 era) put the extensions with a zero length field.
pub const ORIGINAL_DATAGRAM_MIN: usize = 128;

/// Class 1: MPLS label stack; C-type 1: incoming label stack.
pub const CLASS_MPLS: u8 = 1;
pub const CTYPE_MPLS_INCOMING: u8 = 1;

/// One MPLS label stack entry (RFC 3032).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MplsLabelEntry {
    /// 20-bit label.
    pub label: u32,
    /// 3-bit traffic class (formerly EXP).
    pub tc: u8,
    /// Bottom of stack.
    pub s: bool,
    pub ttl: u8,
}

impl MplsLabelEntry {
    pub fn from_u32(v: u32) -> Self {
        MplsLabelEntry {
            label: v >> 12,
            tc: ((v >> 9) & 0x7) as u8,
            s: (v >> 8) & 1 != 0,
            ttl: (v & 0xff) as u8,
        }
    }
    pub fn to_u32(self) -> u32 {
        ((self.label & 0x000f_ffff) << 12)
            | (u32::from(self.tc & 0x7) << 9)
            | (u32::from(self.s) << 8)
            | u32::from(self.ttl)
    }
}

/// One extension object. The payload is kept raw for all classes (warts stores it so); MPLS
/// label stacks are also decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpExtObject {
    pub class_num: u8,
    pub c_type: u8,
    /// Object payload, without the 4-byte object header.
    pub data: Vec<u8>,
    /// Decoded entries when this is a well-formed MPLS incoming label stack object.
    pub mpls: Option<Vec<MplsLabelEntry>>,
}

impl IcmpExtObject {
    /// An object from its raw parts; MPLS stacks are decoded on the way.
    pub fn new(class_num: u8, c_type: u8, data: Vec<u8>) -> Self {
        let mpls = if class_num == CLASS_MPLS
            && c_type == CTYPE_MPLS_INCOMING
            && !data.is_empty()
            && data.len() % 4 == 0
        {
            Some(
                data.chunks_exact(4)
                    .map(|c| MplsLabelEntry::from_u32(be32(c, 0)))
                    .collect(),
            )
        } else {
            None
        };
        IcmpExtObject {
            class_num,
            c_type,
            data,
            mpls,
        }
    }

    /// An MPLS incoming label stack object.
    pub fn mpls_stack(entries: &[MplsLabelEntry]) -> Self {
        let data = entries
            .iter()
            .flat_map(|e| e.to_u32().to_be_bytes())
            .collect();
        IcmpExtObject::new(CLASS_MPLS, CTYPE_MPLS_INCOMING, data)
    }
}

/// Parse an extension structure. `None` if it is not one: too short, not version 2, or a
/// non-zero checksum that does not verify (RFC 4884 §7: zero means none was sent). Objects
/// are read until one is malformed; the well-formed ones before it are kept.
pub fn parse_extensions(ext: &[u8]) -> Option<Vec<IcmpExtObject>> {
    if ext.len() < EXT_HEADER_LEN || ext[0] >> 4 != EXT_VERSION {
        return None;
    }
    if be16(ext, 2) != 0 && !checksum::verify(ext) {
        return None;
    }
    let mut out = Vec::new();
    let mut off = EXT_HEADER_LEN;
    while off + OBJ_HEADER_LEN <= ext.len() {
        let len = usize::from(be16(ext, off));
        if len < OBJ_HEADER_LEN || off + len > ext.len() {
            break;
        }
        out.push(IcmpExtObject::new(
            ext[off + 2],
            ext[off + 3],
            ext[off + OBJ_HEADER_LEN..off + len].to_vec(),
        ));
        off += len;
    }
    Some(out)
}

/// Encode an extension structure (version 2, checksum filled) for the given objects.
pub fn encode_extensions(objs: &[IcmpExtObject]) -> Vec<u8> {
    let mut out = vec![EXT_VERSION << 4, 0, 0, 0];
    for o in objs {
        let len = (OBJ_HEADER_LEN + o.data.len()) as u16;
        out.extend_from_slice(&len.to_be_bytes());
        out.push(o.class_num);
        out.push(o.c_type);
        out.extend_from_slice(&o.data);
    }
    let c = checksum::checksum(&out);
    put16(&mut out, 2, c);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpls_entry_bits() {
        // Label 16005, TC 5, bottom of stack, TTL 1: 0x03e85b01 worked by hand
        // (16005 << 12 = 0x03e85000, 5 << 9 = 0xa00, S = 0x100, TTL = 0x01).
        let e = MplsLabelEntry::from_u32(0x03e8_5b01);
        assert_eq!(
            e,
            MplsLabelEntry {
                label: 16005,
                tc: 5,
                s: true,
                ttl: 1
            }
        );
        assert_eq!(e.to_u32(), 0x03e8_5b01);
    }

    #[test]
    fn hand_made_structure() {
        // Version 2, one MPLS object with one entry; checksum worked by hand:
        // 0x2000 + 0x0008 + 0x0101 + 0x03e8 + 0x5b01 = 0x7ff2 -> !0x7ff2 = 0x800d.
        let ext = [
            0x20, 0x00, 0x80, 0x0d, 0x00, 0x08, 0x01, 0x01, 0x03, 0xe8, 0x5b, 0x01,
        ];
        let objs = parse_extensions(&ext).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].mpls.as_ref().unwrap()[0].label, 16005);
        assert_eq!(encode_extensions(&objs), ext.to_vec());
    }

    #[test]
    fn bad_checksum_or_version_rejected() {
        let mut ext = encode_extensions(&[IcmpExtObject::mpls_stack(&[MplsLabelEntry {
            label: 1,
            tc: 0,
            s: true,
            ttl: 255,
        }])]);
        ext[3] ^= 1;
        assert!(parse_extensions(&ext).is_none());
        ext[2] = 0;
        ext[3] = 0;
        assert!(parse_extensions(&ext).is_some());
        ext[0] = 0x10;
        assert!(parse_extensions(&ext).is_none());
    }

    #[test]
    fn malformed_object_stops_walk() {
        let mut ext = vec![0x20, 0, 0, 0, 0, 2, 1, 1];
        assert_eq!(parse_extensions(&ext), Some(vec![]));
        ext[5] = 200;
        assert_eq!(parse_extensions(&ext), Some(vec![]));
    }
}
