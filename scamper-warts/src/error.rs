//! Errors of the warts reader and of the output writers.

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The input is not valid warts; `offset` is the byte offset in the (decompressed) stream.
    #[error("invalid warts at offset {offset:#x}: {what}")]
    Format { offset: u64, what: String },
    /// The input ended inside an object.
    #[error("truncated warts at offset {offset:#x}: {what}")]
    Truncated { offset: u64, what: String },
    /// A record cannot be encoded (e.g. a field too large for its wire type).
    #[error("cannot encode {0}")]
    Encode(String),
    /// The output format has no rendering for this record type.
    #[error("{0}")]
    Unsupported(String),
    #[error("unknown output format {0:?}")]
    UnknownFormat(String),
}

impl Error {
    pub(crate) fn format(offset: u64, what: impl Into<String>) -> Self {
        Error::Format {
            offset,
            what: what.into(),
        }
    }

    /// Byte offset of the damage, for format errors.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Format { offset, .. } | Error::Truncated { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}
