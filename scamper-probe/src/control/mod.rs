//! The control socket (`-U`, `-P`) and remote control (`-R`): clients that drive the engine
//! with the line protocol of control.md.
//!
//! A client is anything that gives a byte stream in and takes a byte stream out — an accepted
//! unix or TCP connection, or a channel multiplexed over the `-R` connection to sc_remoted. The
//! protocol itself (lines, replies, attach parameters, DATA framing) is sans-IO in
//! [`protocol`]; the engine owns the sources and tasks the clients create.

pub mod protocol;
pub mod server;
pub mod uuencode;

use tokio::io::{AsyncRead, AsyncWrite};

/// One client connection handed to the engine.
pub struct ClientConn {
    pub reader: Box<dyn AsyncRead + Unpin + Send>,
    pub writer: Box<dyn AsyncWrite + Unpin + Send>,
    /// Channels of the `-R` remote connection arrive already attached (warts format): they never
    /// send `attach`.
    pub pre_attached: bool,
    /// Source name used when the client does not name itself (`attach name ...`): for a unix
    /// listener `<path>:<n>`, for TCP `<ip>:<port>` (IPv6 `<ip6>.<port>`), for a remote channel
    /// what remote.md says.
    pub name_hint: String,
}
