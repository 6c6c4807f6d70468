//! Error types for parsing and building.

use std::fmt;

/// Why a received packet could not be parsed. Offsets are from the start of the buffer handed
/// to the parse function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The buffer ended before a header (or a field it announces) was complete.
    Truncated {
        what: &'static str,
        offset: usize,
        need: usize,
        have: usize,
    },
    /// The IP version nibble is not the one expected (or neither 4 nor 6 for `parse_ip`).
    BadVersion { offset: usize, version: u8 },
    /// A header length field is impossible (e.g. IPv4 IHL < 5, TCP data offset < 5).
    BadHeaderLen {
        what: &'static str,
        offset: usize,
        len: usize,
    },
    /// A total/payload length field disagrees with the header or the buffer.
    BadTotalLen {
        what: &'static str,
        offset: usize,
        len: usize,
        have: usize,
    },
    /// An IPv4 option or IPv6 extension header is malformed.
    BadOption {
        offset: usize,
        kind: u8,
        reason: &'static str,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Truncated {
                what,
                offset,
                need,
                have,
            } => write!(
                f,
                "truncated {what} at offset {offset}: need {need} bytes, have {have}"
            ),
            ParseError::BadVersion { offset, version } => {
                write!(f, "unexpected IP version {version} at offset {offset}")
            }
            ParseError::BadHeaderLen { what, offset, len } => {
                write!(f, "bad {what} header length {len} at offset {offset}")
            }
            ParseError::BadTotalLen {
                what,
                offset,
                len,
                have,
            } => write!(
                f,
                "bad {what} length {len} at offset {offset} ({have} bytes available)"
            ),
            ParseError::BadOption {
                offset,
                kind,
                reason,
            } => write!(
                f,
                "bad option/extension {kind} at offset {offset}: {reason}"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// Why a probe could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// Source and destination are not of the same address family.
    FamilyMismatch,
    /// The request makes no sense for this family (e.g. an ICMP timestamp over IPv6).
    Unsupported(&'static str),
    /// The packet would exceed what the length fields can describe.
    TooLong { len: usize },
    /// A field value does not fit its wire field.
    BadField { field: &'static str, value: u32 },
    /// The IPv4 options cannot be encoded (too many slots, more than 40 bytes, ...).
    BadOption(&'static str),
    /// The checksum-fixing bytes do not lie within the payload, or the value is unreachable.
    ChecksumFix(&'static str),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::FamilyMismatch => {
                write!(f, "source and destination address families differ")
            }
            BuildError::Unsupported(what) => write!(f, "unsupported: {what}"),
            BuildError::TooLong { len } => write!(f, "packet too long: {len} bytes"),
            BuildError::BadField { field, value } => {
                write!(f, "value {value} does not fit field {field}")
            }
            BuildError::BadOption(why) => write!(f, "bad IP option: {why}"),
            BuildError::ChecksumFix(why) => write!(f, "cannot fix checksum: {why}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl ParseError {
    /// Move an error found in a sub-slice to offsets in the enclosing buffer.
    pub(crate) fn shift(self, base: usize) -> Self {
        match self {
            ParseError::Truncated {
                what,
                offset,
                need,
                have,
            } => ParseError::Truncated {
                what,
                offset: offset + base,
                need,
                have,
            },
            ParseError::BadVersion { offset, version } => ParseError::BadVersion {
                offset: offset + base,
                version,
            },
            ParseError::BadHeaderLen { what, offset, len } => ParseError::BadHeaderLen {
                what,
                offset: offset + base,
                len,
            },
            ParseError::BadTotalLen {
                what,
                offset,
                len,
                have,
            } => ParseError::BadTotalLen {
                what,
                offset: offset + base,
                len,
                have,
            },
            ParseError::BadOption {
                offset,
                kind,
                reason,
            } => ParseError::BadOption {
                offset: offset + base,
                kind,
                reason,
            },
        }
    }
}
