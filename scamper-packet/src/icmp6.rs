//! ICMPv6 (RFC 4443) constants. The header layout is shared with ICMPv4: see
//! [`crate::icmp4::IcmpPacket`].

pub const ICMP6_DST_UNREACH: u8 = 1;
pub const ICMP6_PACKET_TOO_BIG: u8 = 2;
pub const ICMP6_TIME_EXCEEDED: u8 = 3;
pub const ICMP6_PARAM_PROB: u8 = 4;
pub const ICMP6_ECHO_REQUEST: u8 = 128;
pub const ICMP6_ECHO_REPLY: u8 = 129;
pub const ND_ROUTER_SOLICIT: u8 = 133;
pub const ND_ROUTER_ADVERT: u8 = 134;
pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
pub const ND_NEIGHBOR_ADVERT: u8 = 136;
pub const ND_REDIRECT: u8 = 137;

pub const ICMP6_DST_UNREACH_NOROUTE: u8 = 0;
pub const ICMP6_DST_UNREACH_ADMIN: u8 = 1;
pub const ICMP6_DST_UNREACH_BEYONDSCOPE: u8 = 2;
pub const ICMP6_DST_UNREACH_ADDR: u8 = 3;
pub const ICMP6_DST_UNREACH_NOPORT: u8 = 4;
pub const ICMP6_DST_UNREACH_POLICY: u8 = 5;
pub const ICMP6_DST_UNREACH_REJECT: u8 = 6;

pub const ICMP6_TIME_EXCEED_TRANSIT: u8 = 0;
pub const ICMP6_TIME_EXCEED_REASSEMBLY: u8 = 1;

pub const ICMP6_PARAMPROB_HEADER: u8 = 0;
pub const ICMP6_PARAMPROB_NEXTHEADER: u8 = 1;
pub const ICMP6_PARAMPROB_OPTION: u8 = 2;

/// True for the ICMPv6 error messages, which quote the invoking packet (RFC 4443 §2.1: types
/// below 128).
pub fn is_error(icmp_type: u8) -> bool {
    icmp_type < 128
}
