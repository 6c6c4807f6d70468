//! ICMP (RFC 792) constants and the 8-byte ICMP header view shared by ICMPv4 and ICMPv6 (both
//! put type, code, checksum and a 32-bit "rest of header" in the same places).

use crate::checksum;
use crate::wire::{be16, be32, put16, put32, slice};
use crate::ParseError;
use std::net::Ipv6Addr;

pub const HEADER_LEN: usize = 8;
/// An ICMP timestamp message: header plus originate/receive/transmit.
pub const TIMESTAMP_LEN: usize = 20;

pub const ICMP_ECHOREPLY: u8 = 0;
pub const ICMP_UNREACH: u8 = 3;
pub const ICMP_SOURCEQUENCH: u8 = 4;
pub const ICMP_REDIRECT: u8 = 5;
pub const ICMP_ECHO: u8 = 8;
pub const ICMP_TIMXCEED: u8 = 11;
pub const ICMP_PARAMPROB: u8 = 12;
pub const ICMP_TSTAMP: u8 = 13;
pub const ICMP_TSTAMPREPLY: u8 = 14;

pub const ICMP_UNREACH_NET: u8 = 0;
pub const ICMP_UNREACH_HOST: u8 = 1;
pub const ICMP_UNREACH_PROTOCOL: u8 = 2;
pub const ICMP_UNREACH_PORT: u8 = 3;
pub const ICMP_UNREACH_NEEDFRAG: u8 = 4;
pub const ICMP_UNREACH_SRCFAIL: u8 = 5;
pub const ICMP_UNREACH_NET_UNKNOWN: u8 = 6;
pub const ICMP_UNREACH_HOST_UNKNOWN: u8 = 7;
pub const ICMP_UNREACH_ISOLATED: u8 = 8;
pub const ICMP_UNREACH_NET_PROHIB: u8 = 9;
pub const ICMP_UNREACH_HOST_PROHIB: u8 = 10;
pub const ICMP_UNREACH_TOSNET: u8 = 11;
pub const ICMP_UNREACH_TOSHOST: u8 = 12;
pub const ICMP_UNREACH_FILTER_PROHIB: u8 = 13;
pub const ICMP_UNREACH_HOST_PRECEDENCE: u8 = 14;
pub const ICMP_UNREACH_PRECEDENCE_CUTOFF: u8 = 15;

pub const ICMP_TIMXCEED_INTRANS: u8 = 0;
pub const ICMP_TIMXCEED_REASS: u8 = 1;

/// An ICMP header in `buf` (either family). `new_checked` guarantees 8 bytes.
#[derive(Debug, Clone)]
pub struct IcmpPacket<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Wrap without checks; getters panic on a buffer shorter than 8 bytes.
    pub fn new_unchecked(buf: T) -> Self {
        IcmpPacket { buf }
    }
    pub fn new_checked(buf: T) -> Result<Self, ParseError> {
        slice(buf.as_ref(), 0, HEADER_LEN, "ICMP header")?;
        Ok(IcmpPacket { buf })
    }
    pub fn into_inner(self) -> T {
        self.buf
    }
    pub fn msg_type(&self) -> u8 {
        self.buf.as_ref()[0]
    }
    pub fn code(&self) -> u8 {
        self.buf.as_ref()[1]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }
    /// Bytes 4..8: id/seq for echo, MTU, pointer or RFC 4884 length depending on the type.
    pub fn rest(&self) -> u32 {
        be32(self.buf.as_ref(), 4)
    }
    pub fn echo_id(&self) -> u16 {
        be16(self.buf.as_ref(), 4)
    }
    pub fn echo_seq(&self) -> u16 {
        be16(self.buf.as_ref(), 6)
    }
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }
    /// ICMPv4 checksum: over the message alone.
    pub fn verify_checksum_v4(&self) -> bool {
        checksum::verify(self.buf.as_ref())
    }
    /// ICMPv6 checksum: over the pseudo-header and the message.
    pub fn verify_checksum_v6(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let b = self.buf.as_ref();
        let acc = checksum::pseudo_header_sum(
            src.into(),
            dst.into(),
            crate::IPPROTO_ICMPV6,
            b.len() as u32,
        ) + checksum::sum(b);
        checksum::fold(acc) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buf.as_mut()[0] = v;
    }
    pub fn set_code(&mut self, v: u8) {
        self.buf.as_mut()[1] = v;
    }
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buf.as_mut(), 2, v);
    }
    pub fn set_rest(&mut self, v: u32) {
        put32(self.buf.as_mut(), 4, v);
    }
    pub fn set_echo_id(&mut self, v: u16) {
        put16(self.buf.as_mut(), 4, v);
    }
    pub fn set_echo_seq(&mut self, v: u16) {
        put16(self.buf.as_mut(), 6, v);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[HEADER_LEN..]
    }
    pub fn fill_checksum_v4(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buf.as_ref());
        self.set_checksum(c);
    }
    pub fn fill_checksum_v6(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let b = self.buf.as_ref();
        let acc = checksum::pseudo_header_sum(
            src.into(),
            dst.into(),
            crate::IPPROTO_ICMPV6,
            b.len() as u32,
        ) + checksum::sum(b);
        let c = !checksum::fold(acc);
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_checksum_by_hand() {
        // Echo request id 0x1234 seq 1, no payload. Words: 0x0800 + 0x1234 + 0x0001 = 0x1a35,
        // so the checksum is !0x1a35 = 0xe5ca.
        let mut b = [8u8, 0, 0, 0, 0x12, 0x34, 0x00, 0x01];
        let mut p = IcmpPacket::new_checked(&mut b[..]).unwrap();
        p.fill_checksum_v4();
        assert_eq!(p.checksum(), 0xe5ca);
        assert!(p.verify_checksum_v4());
        assert_eq!(p.echo_id(), 0x1234);
        assert_eq!(p.echo_seq(), 1);
    }

    #[test]
    fn short_header_is_error() {
        assert!(IcmpPacket::new_checked(&[0u8; 7][..]).is_err());
    }
}
