//! Which task a received packet belongs to, computed from what the packet carries: echo ids,
//! the ports of TCP/UDP replies, or the headers an ICMP error quotes.

use crate::task::{MatchKey, PROTO_ICMP, PROTO_ICMP6, PROTO_TCP, PROTO_UDP};
use scamper_packet::{IcmpKind, QuotedTransport, Rx, RxTransport};

pub fn reply_key(rx: &Rx) -> Option<MatchKey> {
    let key = |peer, proto, local_id| {
        Some(MatchKey {
            peer,
            proto,
            local_id,
        })
    };
    match &rx.transport {
        RxTransport::Icmp(icmp) => match icmp.kind {
            IcmpKind::EchoReply { id, .. } | IcmpKind::TimestampReply { id, .. } => {
                let proto = if icmp.is_ipv6 {
                    PROTO_ICMP6
                } else {
                    PROTO_ICMP
                };
                key(rx.src, proto, id)
            }
            IcmpKind::EchoRequest { .. } => None,
            _ => {
                let q = icmp.quote.as_ref()?;
                match q.transport {
                    QuotedTransport::Icmp { id, .. } => key(q.dst, q.proto, id),
                    QuotedTransport::Udp { sport, .. } => key(q.dst, PROTO_UDP, sport),
                    QuotedTransport::Tcp { sport, .. } => key(q.dst, PROTO_TCP, sport),
                    // A quoted non-first fragment has no transport header: tasks that send
                    // such probes (trace -o) register each probe's IP-ID as its key instead.
                    QuotedTransport::Other => key(q.dst, q.proto, q.ip_id as u16),
                }
            }
        },
        RxTransport::Tcp(t) => key(rx.src, PROTO_TCP, t.dport),
        RxTransport::Udp(u) => key(rx.src, PROTO_UDP, u.dport),
        RxTransport::Other { .. } => None,
    }
}
