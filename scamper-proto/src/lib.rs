//! The typed messages exchanged between the root helper (`scamper-priv`) and the unprivileged
//! prober (`scamper-probe`), and their framing.
//!
//! The helper trusts nothing the prober sends: every frame is decoded here into one of the closed
//! enums below, with a size limit, and anything that fails to decode is an error the helper treats
//! as fatal. Descriptors travel beside the frames over `SCM_RIGHTS`; this crate only says which
//! replies carry one.
#![forbid(unsafe_code)]

pub mod codec;
pub mod framing;
mod messages;

pub use codec::{
    decode_from_helper, decode_request, encode_from_helper, encode_request, CodecError,
};
pub use framing::FrameBuf;
pub use messages::*;

/// Version of this protocol; both ends are the same binary, but the handshake still catches a
/// prober from a different build talking to an older helper after an in-place upgrade.
pub const PROTO_VERSION: u32 = 1;

/// Largest frame the helper accepts from the prober. Requests are small fixed records.
pub const MAX_REQUEST_FRAME: usize = 1024;

/// Largest frame the prober accepts from the helper.
pub const MAX_HELPER_FRAME: usize = 64 * 1024;
