//! Oracle: what the prober reads from its route socket (netlink replies) and from the wire
//! (ARP replies, neighbour advertisements) never panics it, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scamper_probe::engine::datalink::{neighbour, netlink as dlnl};
use scamper_probe::engine::netlink;

fuzz_target!(|data: &[u8]| {
    for m in netlink::messages(data).map_while(Result::ok) {
        let _ = netlink::attrs(m.body).count();
        let _ = netlink::error_code(m.body);
    }
    let seq = data.first().copied().map_or(0, u32::from);
    let _ = dlnl::parse_route(data, seq);
    let _ = dlnl::parse_neighbours(data, seq, &mut Vec::new());
    let _ = dlnl::parse_link(data, seq);
    let _ = neighbour::parse_arp_reply(data);
    let _ = neighbour::parse_neighbour_advert(data);
});
