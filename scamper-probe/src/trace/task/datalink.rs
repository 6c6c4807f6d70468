//! Timestamps from the datalink, for the traces scamper opens one for (`-O dl`, `-M`, TCP
//! methods, `-o`, `-r`: [`crate::engine::datalink::trace_uses_datalink`]). The engine
//! delivers the probes' outbound copies seen on the datalink, whose times replace the
//! user-space transmit times (replies already recorded get shorter round trips and TS_DL_TX),
//! and replies from the datalink rather than the ICMP socket, recorded with TS_DL_RX instead
//! of TS_SOCK_RX. Probes sent as frames have no outbound copy (Linux does not loop a packet
//! socket's frames back to it), so only their replies carry datalink times.

use super::{flags, reply_flags, Rx, Time, Timeval, TraceReply, TraceTask};
use scamper_packet::RxTransport;

impl TraceTask {
    pub(super) fn uses_datalink(&self) -> bool {
        crate::engine::datalink::trace_uses_datalink(&self.opts)
    }

    /// A UDP reply reaches scamper's trace only through a datalink (do_trace_handle_dl): a
    /// trace without one never records it, whatever socket of ours saw it.
    pub(super) fn unseen_without_datalink(&self, pkt: &Rx) -> bool {
        !self.uses_datalink() && matches!(pkt.transport, RxTransport::Udp(_))
    }

    /// If `pkt` is one of our probes on its way out, take its datalink transmit time and
    /// return true. Copies leave in send order, so the copy belongs to the oldest probe of its
    /// TTL and size that has no datalink time yet.
    pub(super) fn datalink_tx(&mut self, pkt: &Rx, at: Time) -> bool {
        if !self.uses_datalink() || pkt.src != self.env.src || pkt.dst != self.opts.dst {
            return false;
        }
        let Some(i) = (0..self.sent.len()).find(|&i| {
            let s = &self.sent[i];
            !s.pmtud
                && !self.dltx.contains(&i)
                && s.fields.ttl == pkt.ttl
                && s.size == pkt.ip_len
                && s.tx <= at
        }) else {
            return true;
        };
        // scamper applies transmit times only in its trace, last-ditch and parallel modes
        // (do_trace_handle_dl's dlout_func), not to doubletree probes.
        if self.opts.flags & flags::DOUBLETREE != 0 && !self.sent[i].lastditch {
            return true;
        }
        self.dltx.insert(i);
        let s = &mut self.sent[i];
        let diff = Timeval::from(at - s.tx);
        s.tx = at;
        for r in &mut s.replies {
            r.flags |= reply_flags::TS_DL_TX;
            if r.rtt >= diff {
                r.rtt = r.rtt.sub(&diff);
            }
        }
        true
    }

    /// The timestamp flags of a reply to probe `i` when the datalink is in use. scamper reads
    /// its datalink before the ICMP socket (the packet tap runs first), and a probe whose
    /// datalink receive time is known gets it whatever its mode (trace_icmp_hop), so PMTUD
    /// and doubletree replies carry TS_DL_RX too.
    pub(super) fn datalink_reply(&self, i: usize, mut r: TraceReply) -> TraceReply {
        if self.uses_datalink() {
            r.flags = (r.flags & !reply_flags::TS_SOCK_RX) | reply_flags::TS_DL_RX;
            if self.dltx.contains(&i) {
                r.flags |= reply_flags::TS_DL_TX;
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::super::{new_task, Action, Task, TaskEnv};
    use crate::trace::TraceOptions;
    use scamper_packet::{build_icmp_error, parse_ip, IpParams};
    use scamper_warts::trace::reply_flags;
    use scamper_warts::{Cycle, List, Record};
    use std::net::IpAddr;
    use std::sync::Arc;
    use std::time::Duration;

    const T0: Duration = Duration::new(1_795_402_741, 0);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trace(args: &str) -> Box<dyn Task> {
        let w: Vec<&str> = args.split_whitespace().collect();
        let opts = TraceOptions::parse(&w).unwrap();
        let list = Arc::new(List::default());
        let cycle = Arc::new(Cycle {
            list: list.clone(),
            ..Cycle::default()
        });
        new_task(
            opts,
            TaskEnv {
                src: ip("192.0.2.1"),
                real_src: ip("192.0.2.1"),
                default_sport: 40000,
                start: T0,
                list,
                cycle,
                route_mtu: None,
                stop_sets: Default::default(),
                ifnames: Default::default(),
            },
        )
    }

    /// One probe to TTL 1 sent at `T0`, its outbound copy at `T0 + copy`, and a time exceeded
    /// from 192.0.2.2 at `T0 + 10 ms`; returns the hop's flags and rtt.
    fn one_hop(args: &str, copy: Option<Duration>) -> (u8, Duration) {
        let mut t = trace(args);
        let Action::Send(p) = t.poll(T0) else {
            panic!("no probe")
        };
        t.on_sent(T0);
        if let Some(c) = copy {
            let out = parse_ip(&p.packet).unwrap();
            t.on_response(&out, T0 + c);
        }
        let te = build_icmp_error(
            &IpParams::new(ip("192.0.2.2"), ip("192.0.2.1")),
            11,
            0,
            0,
            &p.packet,
            &[],
        )
        .unwrap();
        t.on_response(&parse_ip(&te).unwrap(), T0 + Duration::from_millis(10));
        let Record::Trace(r) = t.finish(T0 + Duration::from_secs(1)) else {
            panic!("not a trace")
        };
        let h = &r.probes[0].replies[0];
        (h.flags, Duration::from(h.rtt))
    }

    #[test]
    fn doubletree_probes_take_no_datalink_transmit_time() {
        let (f, rtt) = one_hop(
            "-O dl -O dtree-noback -q 1 -f 1 -m 1 198.51.100.1",
            Some(Duration::from_millis(2)),
        );
        assert_eq!(f, reply_flags::REPLY_TTL | reply_flags::TS_DL_RX);
        assert_eq!(rtt, Duration::from_millis(10));
    }

    #[test]
    fn datalink_times_replace_socket_times() {
        let args = "-q 1 -f 1 -m 1 198.51.100.1";
        let (f, rtt) = one_hop(args, None);
        assert_eq!(f, reply_flags::REPLY_TTL | reply_flags::TS_SOCK_RX);
        assert_eq!(rtt, Duration::from_millis(10));
        // Without -O dl an outbound copy is not taken for a reply.
        let (_, rtt) = one_hop(args, Some(Duration::from_millis(2)));
        assert_eq!(rtt, Duration::from_millis(10));

        let dl = "-O dl -q 1 -f 1 -m 1 198.51.100.1";
        let (f, rtt) = one_hop(dl, Some(Duration::from_millis(2)));
        assert_eq!(
            f,
            reply_flags::REPLY_TTL | reply_flags::TS_DL_RX | reply_flags::TS_DL_TX
        );
        assert_eq!(rtt, Duration::from_millis(8));
        let (f, rtt) = one_hop(dl, None);
        assert_eq!(f, reply_flags::REPLY_TTL | reply_flags::TS_DL_RX);
        assert_eq!(rtt, Duration::from_millis(10));
    }
}
