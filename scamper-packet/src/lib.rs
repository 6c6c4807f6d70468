//! Building and parsing the packets scamper sends and receives.
//!
//! Two layers, in the manner of smoltcp:
//! - `*Packet<T>` wrappers (`Ipv4Packet`, `Ipv6Packet`, `IcmpPacket`, `UdpPacket`, `TcpPacket`)
//!   give typed access to the fields of a header sitting in a byte buffer; `new_checked` makes
//!   sure every getter stays within the buffer.
//! - Owned values: [`IpParams`]/[`TcpParams`] describe a probe to build (see [`build`]) and [`Rx`]
//!   is a received packet parsed into plain data (see [`rx`]).
//!
//! Parsing never panics on untrusted input: every malformed packet is a [`ParseError`].
#![forbid(unsafe_code)]

pub mod build;
pub mod checksum;
pub mod icmp4;
pub mod icmp6;
pub mod icmpext;
pub mod ipopt;
pub mod ipv4;
pub mod ipv6;
pub mod rx;
pub mod tcp;
pub mod udp;

mod error;
mod wire;

pub use build::{
    build_icmp_echo, build_icmp_error, build_icmp_timestamp, build_icmp_timestamp_with_payload,
    build_tcp, build_udp, fix_payload_for_icmp_checksum, fix_payload_for_udp_checksum, IpParams,
    TcpParams,
};
pub use error::{BuildError, ParseError};
pub use icmpext::{IcmpExtObject, MplsLabelEntry};
pub use ipopt::{IpOption, RxIpOption, TsEntry, TsOption};
pub use rx::{
    parse_icmp6_socket, parse_ip, parse_ipv4, parse_ipv6, IcmpKind, Quote, QuotedTransport, Rx,
    RxIcmp, RxTcp, RxTransport, RxUdp, RX_UDP_PAYLOAD_MAX,
};

/// IP protocol numbers.
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;
