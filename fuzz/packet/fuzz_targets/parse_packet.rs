//! Feeds arbitrary bytes to every entry point that sees untrusted packets. Any panic is a bug;
//! beyond that, a few invariants of a successful parse are checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scamper_packet::{
    parse_icmp6_socket, parse_ip, parse_ipv4, parse_ipv6, Rx, RX_UDP_PAYLOAD_MAX,
};
use std::net::Ipv6Addr;

fn check(rx: &Rx, input_len: usize) {
    if let Some(u) = rx.udp() {
        assert!(u.payload.len() <= RX_UDP_PAYLOAD_MAX);
        assert!(u.payload.len() <= input_len);
    }
    if let Some(t) = rx.tcp() {
        assert!(t.payload_len <= input_len);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(rx) = parse_ip(data) {
        check(&rx, data.len());
    }
    let _ = parse_ipv4(data);
    let _ = parse_ipv6(data);
    // The first 32 bytes, when present, pick the socket's addresses so they vary too.
    let (src, dst, msg) = if data.len() >= 32 {
        let mut s = [0u8; 16];
        let mut d = [0u8; 16];
        s.copy_from_slice(&data[..16]);
        d.copy_from_slice(&data[16..32]);
        (Ipv6Addr::from(s), Ipv6Addr::from(d), &data[32..])
    } else {
        (Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, data)
    };
    if let Ok(rx) = parse_icmp6_socket(src, dst, 64, 0, msg) {
        check(&rx, msg.len());
    }
    let _ = parse_icmp6_socket(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 1, 0, data);
});
