//! The ping state machine: when to send, which probe a reply answers, and the warts record.

use std::net::IpAddr;
use std::time::Duration;

use scamper_packet::{IcmpKind, QuotedTransport, Rx, RxIpOption, RxTransport};
use scamper_warts::ping::{
    flags, reply_flags, Ping, PingMethod, PingProbe, PingReply, PingStop, PingTsReply, PingV4Ts,
};
use scamper_warts::{Addr, Record, Timeval};

use super::options::{PingOptions, TimestampOption};
use super::probe::{self, ProbeFields};
use super::ptb;
use crate::task::{Action, MatchKey, Probe, Task, TaskEnv, Time};

/// Start a ping measurement. The engine calls this after [`crate::command::parse`] gave
/// `Command::Ping(opts)` and the destination passed the do-not-probe check; `env.src` must
/// already reflect `-S` (opts.src) if one was given.
pub fn new_task(opts: PingOptions, env: TaskEnv) -> Box<dyn Task> {
    Box::new(PingTask::new(opts, env))
}

/// A probe that has been handed to the engine.
#[derive(Debug, Clone)]
struct Sent {
    fields: ProbeFields,
    tx: Time,
    replies: Vec<PingReply>,
    /// At least one reply came from the target (counts towards `-o`).
    answered: bool,
    /// `tx` is the datalink's transmit time of the probe (`-O dl`).
    dltx: bool,
}

/// One ping measurement in progress.
#[derive(Debug, Clone)]
pub struct PingTask {
    opts: PingOptions,
    env: TaskEnv,
    /// ICMP id / base source port.
    sport: u16,
    ipid_base: u16,
    sent: Vec<Sent>,
    /// Earliest time the next probe may leave.
    next_tx: Time,
    /// Probes with at least one reply from the target.
    answered: u16,
    stop: Option<PingStop>,
    errmsg: Option<String>,
    /// `-M`: a packet-too-big waiting to go to the target. Boxed: it is rare, and inline it
    /// would add 56 bytes to every ping in progress.
    ptb: Option<Box<Probe>>,
    /// The last `Send` was a packet-too-big, not a probe: its transmit time is not a probe's.
    ptb_in_flight: bool,
}

impl PingTask {
    pub fn new(opts: PingOptions, env: TaskEnv) -> PingTask {
        // -F 0 (or no -F) means the engine's port; it reserves that one for us.
        let sport = opts.sport.unwrap_or(env.default_sport);
        PingTask {
            ipid_base: probe::ipid_base(env.start, sport),
            next_tx: env.start,
            sport,
            opts,
            env,
            sent: Vec::new(),
            answered: 0,
            stop: None,
            errmsg: None,
            ptb: None,
            ptb_in_flight: false,
        }
    }

    fn key(&self, f: &ProbeFields) -> MatchKey {
        MatchKey {
            peer: self.opts.dst,
            proto: probe::probe_proto(&self.opts),
            local_id: f.sport,
        }
    }

    /// Index of the probe whose ICMP sequence number is `seq`.
    fn by_icmp_seq(&self, seq: u16) -> Option<usize> {
        let i = usize::from(seq.wrapping_sub(self.opts.dport));
        (i < self.sent.len()).then_some(i)
    }

    /// Index of the probe with source port `sport` and destination port `dport`; for
    /// fixed-port methods `pick` chooses among the probes (which all share the ports).
    fn by_ports(&self, sport: u16, dport: u16, pick: impl Fn(&Sent) -> bool) -> Option<usize> {
        let m = self.opts.method;
        let i = if m.varies_sport() {
            usize::from(sport.wrapping_sub(self.sport))
        } else if m.varies_dport() {
            usize::from(dport.wrapping_sub(self.opts.dport))
        } else {
            return self
                .sent
                .iter()
                .position(|s| s.fields.sport == sport && s.fields.dport == dport && pick(s));
        };
        let s = self.sent.get(i)?;
        (s.fields.sport == sport && s.fields.dport == dport).then_some(i)
    }

    /// Which probe does this packet answer? Only what the packet carries is used.
    fn match_reply(&self, pkt: &Rx) -> Option<usize> {
        let m = self.opts.method;
        let dst = self.opts.dst;
        match &pkt.transport {
            RxTransport::Icmp(icmp) => match icmp.kind {
                IcmpKind::EchoReply { id, seq } => {
                    (m == PingMethod::ICMP_ECHO && pkt.src == dst && id == self.sport)
                        .then(|| self.by_icmp_seq(seq))
                        .flatten()
                }
                IcmpKind::TimestampReply { id, seq, .. } => {
                    (m == PingMethod::ICMP_TIME && pkt.src == dst && id == self.sport)
                        .then(|| self.by_icmp_seq(seq))
                        .flatten()
                }
                IcmpKind::EchoRequest { .. } | IcmpKind::Other => None,
                // Errors: the quotation of our probe says which one it was.
                _ => {
                    let q = icmp.quote.as_ref()?;
                    if q.dst != dst || q.proto != probe::probe_proto(&self.opts) {
                        return None;
                    }
                    match q.transport {
                        QuotedTransport::Icmp { id, seq, .. }
                            if m.is_icmp() && id == self.sport =>
                        {
                            self.by_icmp_seq(seq)
                        }
                        QuotedTransport::Udp { sport, dport, .. } if m.is_udp() => {
                            self.by_ports(sport, dport, |s| self.quote_ids_match(s, q))
                        }
                        QuotedTransport::Tcp { sport, dport, seq } if m.is_tcp() => {
                            self.by_ports(sport, dport, |s| {
                                s.fields.tcp_seq == seq && self.quote_ids_match(s, q)
                            })
                        }
                        _ => None,
                    }
                }
            },
            RxTransport::Tcp(t) if m.is_tcp() && pkt.src == dst => {
                // A reset answering an ACK carries the probe's ack as its sequence number; any
                // reply to a SYN (or RST) acknowledges the probe's sequence number + 1.
                let uses_ack = probe::tcp_uses_ack(m);
                self.by_ports(t.dport, t.sport, |s| {
                    if uses_ack {
                        t.seq == s.fields.tcp_ack
                    } else {
                        t.ack == s.fields.tcp_seq.wrapping_add(1)
                    }
                })
            }
            RxTransport::Udp(u) if m.is_udp() && pkt.src == dst => {
                // A UDP reply names no probe: with fixed ports all that can be said is that it
                // answers one of them, and it is attributed to the newest.
                if probe::fixed_ports(m) {
                    self.sent
                        .iter()
                        .rposition(|s| s.fields.sport == u.dport && s.fields.dport == u.sport)
                } else {
                    self.by_ports(u.dport, u.sport, |_| true)
                }
            }
            _ => None,
        }
    }

    /// For fixed-port probes the quoted IPv4 IP-ID, or the IPv6 flow label, tells them apart.
    fn quote_ids_match(&self, s: &Sent, q: &scamper_packet::Quote) -> bool {
        if q.is_ipv6() {
            q.flow_label == s.fields.flow_label
        } else {
            q.ip_id == u32::from(s.fields.ip_id)
        }
    }

    /// Whether a reply counts as "from the target" for `-o` (the rule the statistics use).
    fn is_from_target(&self, r: &PingReply) -> bool {
        let m = self.opts.method;
        let v4 = self.opts.dst.is_ipv4();
        if m == PingMethod::ICMP_ECHO {
            r.is_icmp() && r.icmp_type == if v4 { 0 } else { 129 }
        } else if m == PingMethod::ICMP_TIME {
            r.is_icmp() && r.icmp_type == 14
        } else if m.is_tcp() {
            r.is_tcp()
        } else {
            let port_unreach = if v4 { (3, 3) } else { (1, 4) };
            r.is_udp() || (r.is_icmp() && (r.icmp_type, r.icmp_code) == port_unreach)
        }
    }

    fn reply_record(&self, pkt: &Rx, rtt: Duration) -> PingReply {
        let v6 = pkt.is_ipv6();
        let mut r = PingReply {
            addr: Some(Addr::from(pkt.src)),
            flags: reply_flags::REPLY_TTL | reply_flags::REPLY_TOS | self.link_rx_flag(pkt),
            reply_ttl: pkt.ttl,
            reply_size: pkt.ip_len,
            reply_tos: pkt.tos,
            reply_ipid: pkt.ip_id,
            rtt: Timeval::from(rtt),
            // Where the reply arrived, as scamper records it.
            ifname: self
                .env
                .ifnames
                .name(pkt.ifindex)
                .map(|n| String::from(&*n)),
            ..PingReply::default()
        };
        // IPv6 has an identification only in a fragment header.
        if !v6 || pkt.ip_id != 0 || pkt.frag_offset != 0 || pkt.more_frags {
            r.flags |= reply_flags::REPLY_IPID;
        }
        // scamper records ICMP timestamp values and IPv4 options only for replies read from
        // the ICMP socket (do_ping_handle_icmp); do_ping_handle_dl records neither.
        let from_link = r.flags & reply_flags::DLRX != 0;
        match &pkt.transport {
            RxTransport::Icmp(i) => {
                r.reply_proto = if v6 {
                    scamper_packet::IPPROTO_ICMPV6
                } else {
                    scamper_packet::IPPROTO_ICMP
                };
                r.icmp_type = i.icmp_type;
                r.icmp_code = i.code;
                if i.is_ptb() {
                    r.icmp_nhmtu = i.next_hop_mtu.unwrap_or(0);
                }
                if let (
                    false,
                    IcmpKind::TimestampReply {
                        originate,
                        receive,
                        transmit,
                        ..
                    },
                ) = (from_link, i.kind)
                {
                    r.tsreply = Some(PingTsReply {
                        originate,
                        receive,
                        transmit,
                    });
                }
            }
            RxTransport::Tcp(t) => {
                r.reply_proto = scamper_packet::IPPROTO_TCP;
                r.tcp_flags = t.flags;
            }
            RxTransport::Udp(_) => r.reply_proto = scamper_packet::IPPROTO_UDP,
            RxTransport::Other { proto } => r.reply_proto = *proto,
        }
        for o in pkt.options.iter().filter(|_| !from_link) {
            match o {
                RxIpOption::RecordRoute { addrs, .. } if self.opts.flags & flags::V4RR != 0 => {
                    r.v4rr = Some(addrs.iter().map(|a| Addr::V4(*a)).collect());
                }
                RxIpOption::Timestamp { entries, .. } if self.opts.timestamp.is_some() => {
                    let tsonly = self.opts.timestamp == Some(TimestampOption::TsOnly);
                    r.v4ts = Some(PingV4Ts {
                        timestamps: entries.iter().map(|e| e.ts).collect(),
                        // tsonly records carry no addresses; the others one per timestamp.
                        addrs: if tsonly {
                            Vec::new()
                        } else {
                            entries
                                .iter()
                                .map(|e| {
                                    Addr::V4(e.addr.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED))
                                })
                                .collect()
                        },
                    });
                }
                _ => {}
            }
        }
        r
    }

    /// The record; takes the probes and the error message out of the task, which is not used
    /// afterwards (by reference: moving the whole task out of its box cost a large copy).
    fn build_record(&mut self, now: Time) -> Ping {
        let o = &self.opts;
        let stop = self.stop.unwrap_or(PingStop::HALTED);
        let v4 = o.dst.is_ipv4();
        let sent = std::mem::take(&mut self.sent);
        // Collected into a new exact-size vector: collecting in place into the probes'
        // allocation shrank it with a realloc (a copy) for every record.
        let mut probes = Vec::with_capacity(sent.len());
        probes.extend(sent.into_iter().map(|s| {
            let mut fl = if v4 { reply_flags::PROBE_IPID } else { 0 };
            if s.dltx {
                fl |= reply_flags::DLTX;
            }
            // Halted before its timeout: the probe may still have been answered.
            if stop != PingStop::DONE && s.tx + o.wait_timeout > now {
                fl |= reply_flags::PENDING;
            }
            Some(PingProbe {
                tx: Timeval::from(s.tx),
                sport: if o.method.varies_sport() {
                    s.fields.sport
                } else {
                    0
                },
                ipid: if v4 { s.fields.ip_id } else { 0 },
                flags: fl,
                replies: s.replies,
            })
        }));
        Ping {
            list: Some(self.env.list.clone()),
            cycle: Some(self.env.cycle.clone()),
            userid: o.userid,
            src: Some(Addr::from(self.env.src)),
            dst: Some(Addr::from(o.dst)),
            rtr: o.rtr.map(Addr::from),
            start: Timeval::from(self.env.start),
            stop_reason: stop,
            stop_data: 0,
            errmsg: self.errmsg.take(),
            data: o.data.clone(),
            probe_count: o.probe_count,
            probe_size: o.probe_size,
            method: o.method,
            probe_ttl: o.ttl,
            probe_tos: o.tos,
            probe_sport: self.sport,
            probe_dport: o.dport,
            probe_icmpsum: o.icmp_sum.unwrap_or(0),
            probe_tcpseq: o.tcp_seq,
            probe_tcpack: o.tcp_ack,
            probe_tsps: match &o.timestamp {
                Some(TimestampOption::Prespec(a)) => Some(a.iter().map(|a| Addr::V4(*a)).collect()),
                _ => None,
            },
            wait_probe: Timeval::from(o.wait_probe),
            wait_timeout: Timeval::from(o.wait_timeout),
            stop_count: o.stop_count,
            pmtu: o.pmtu,
            flags: o.flags,
            ping_sent: probes.len() as u16,
            probes,
        }
    }
}

impl Task for PingTask {
    fn dst(&self) -> IpAddr {
        self.opts.dst
    }

    fn poll(&mut self, now: Time) -> Action {
        if self.stop.is_some() {
            return Action::Done;
        }
        // Before any stop check: the reply that completes `-o` may still need its PTB.
        if let Some(p) = self.ptb.take() {
            self.ptb_in_flight = true;
            return Action::Send(*p);
        }
        if self.opts.stop_count != 0 && self.answered >= self.opts.stop_count {
            self.stop = Some(PingStop::DONE);
            return Action::Done;
        }
        if self.sent.len() < usize::from(self.opts.probe_count) {
            if now < self.next_tx {
                return Action::WaitUntil(self.next_tx);
            }
            let index = self.sent.len() as u16;
            let f = probe::fields(&self.opts, self.sport, self.ipid_base, index);
            let packet = match probe::build(&self.opts, self.env.src, self.env.real_src, &f, now) {
                Ok(p) => p,
                Err(e) => {
                    self.errmsg = Some(format!("could not build probe: {e}"));
                    self.stop = Some(PingStop::ERROR);
                    return Action::Done;
                }
            };
            // Provisional; on_sent replaces both with the real transmit time.
            self.next_tx = now + self.opts.wait_probe;
            if self.sent.capacity() == 0 {
                // Exactly the probes this ping sends (capped): thousands of tasks run at once
                // at high rates, so the default growth to 4 would dominate memory.
                self.sent
                    .reserve_exact(usize::from(self.opts.probe_count).min(64));
            }
            self.sent.push(Sent {
                fields: f,
                tx: now,
                replies: Vec::new(),
                answered: false,
                dltx: false,
            });
            return Action::Send(Probe {
                dst: self.opts.dst,
                packet,
                key: self.key(&f),
            });
        }
        // Everything sent: replies are awaited for -W after the last probe.
        let deadline = self
            .sent
            .last()
            .map_or(now, |s| s.tx + self.opts.wait_timeout);
        if now >= deadline {
            self.stop = Some(PingStop::DONE);
            return Action::Done;
        }
        Action::WaitUntil(deadline)
    }

    fn on_sent(&mut self, tx: Time) {
        if std::mem::take(&mut self.ptb_in_flight) {
            return;
        }
        if let Some(s) = self.sent.last_mut() {
            s.tx = tx;
            self.next_tx = tx + self.opts.wait_probe;
        }
    }

    fn on_response(&mut self, pkt: &Rx, rx: Time) {
        self.record_response(pkt, rx);
    }

    fn on_response_raw(&mut self, pkt: &Rx, raw: &[u8], rx: Time) {
        let Some((i, true)) = self.record_response(pkt, rx) else {
            return;
        };
        let pmtu = self.opts.pmtu;
        if pmtu == 0 || pkt.ip_len <= pmtu {
            return;
        }
        match ptb::packet_too_big(self.env.src, pkt, raw, pmtu) {
            Ok(packet) => {
                self.ptb = Some(Box::new(Probe {
                    dst: self.opts.dst,
                    packet,
                    key: self.key(&self.sent[i].fields),
                }))
            }
            Err(e) => self.errmsg = Some(format!("could not build packet too big: {e}")),
        }
    }

    /// `-y stream`: after every `stream` probes (but the last), the record so far, with stop
    /// reason "inprogress".
    fn snapshot(&mut self, now: Time) -> Option<Record> {
        let every = usize::from(self.opts.stream);
        let sent = self.sent.len();
        if every == 0 || !sent.is_multiple_of(every) || sent >= usize::from(self.opts.probe_count) {
            return None;
        }
        let mut copy = self.clone();
        copy.stop = Some(PingStop::INPROGRESS);
        Some(Record::Ping(Box::new(copy.build_record(now))))
    }

    fn finish(mut self: Box<Self>, now: Time) -> Record {
        Record::Ping(Box::new(self.build_record(now)))
    }
}

/// The datalink side of ping (`-O dl`, `-O dltx`, `-r`): the engine delivers the probes'
/// outbound copies seen on the datalink, and replies come from the datalink unless
/// `-O sockrx` takes ICMP ones from the socket.
impl PingTask {
    fn uses_datalink(&self) -> bool {
        self.opts.uses_datalink()
    }

    /// DLRX for a reply that came through the datalink: all of them, except ICMP replies
    /// under `-O sockrx`. TCP and UDP replies always come through the datalink.
    fn link_rx_flag(&self, pkt: &Rx) -> u8 {
        let icmp = matches!(pkt.transport, RxTransport::Icmp(_));
        let socket = icmp && self.opts.flags & flags::SOCKRX != 0;
        if self.uses_datalink() && !socket {
            reply_flags::DLRX
        } else {
            0
        }
    }

    /// Is this one of our probes on its way out?
    fn is_own_probe(&self, pkt: &Rx) -> bool {
        pkt.src == self.env.src
            && pkt.dst == self.opts.dst
            && match &pkt.transport {
                RxTransport::Icmp(i) => matches!(i.kind, IcmpKind::EchoRequest { .. }),
                RxTransport::Udp(_) | RxTransport::Tcp(_) => true,
                RxTransport::Other { .. } => false,
            }
    }

    /// Which probe left as this packet?
    fn match_outbound(&self, pkt: &Rx) -> Option<usize> {
        let m = self.opts.method;
        // Fixed-port probes are told apart by IPv4 IP-ID; IPv6 copies leave in order, so the
        // first probe without its datalink time is the one.
        let same_probe = |s: &Sent| {
            if pkt.is_ipv6() {
                !s.dltx
            } else {
                pkt.ip_id == u32::from(s.fields.ip_id)
            }
        };
        match &pkt.transport {
            RxTransport::Icmp(i) => match i.kind {
                IcmpKind::EchoRequest { id, seq } if m.is_icmp() && id == self.sport => {
                    self.by_icmp_seq(seq)
                }
                _ => None,
            },
            RxTransport::Udp(u) if m.is_udp() => self.by_ports(u.sport, u.dport, same_probe),
            RxTransport::Tcp(t) if m.is_tcp() => self.by_ports(t.sport, t.dport, |s| {
                s.fields.tcp_seq == t.seq && same_probe(s)
            }),
            _ => None,
        }
    }

    /// A probe's datalink transmit time: it replaces the user-space one, and replies already
    /// recorded get their round-trip times shortened by the difference.
    fn datalink_tx(&mut self, pkt: &Rx, at: Time) {
        let Some(i) = self.match_outbound(pkt) else {
            return;
        };
        let s = &mut self.sent[i];
        // Seen before: a copy; earlier than the send: not this probe.
        if s.dltx || at < s.tx {
            return;
        }
        let diff = Timeval::from(at - s.tx);
        for r in &mut s.replies {
            if diff <= r.rtt {
                r.rtt = r.rtt.sub(&diff);
                r.flags |= reply_flags::DLTX;
            }
        }
        s.tx = at;
        s.dltx = true;
    }

    /// Record a reply; returns the probe it answers and whether it came from the target.
    fn record_response(&mut self, pkt: &Rx, rx: Time) -> Option<(usize, bool)> {
        if self.stop.is_some() {
            return None;
        }
        if self.uses_datalink() && self.is_own_probe(pkt) {
            self.datalink_tx(pkt, rx);
            return None;
        }
        // scamper's ping reads UDP replies only from a datalink (do_ping_handle_dl has the
        // only UDP match): without one it never records them.
        if !self.uses_datalink() && matches!(pkt.transport, RxTransport::Udp(_)) {
            return None;
        }
        let i = self.match_reply(pkt)?;
        let rtt = rx.saturating_sub(self.sent[i].tx);
        let mut reply = self.reply_record(pkt, rtt);
        if self.sent[i].dltx {
            reply.flags |= reply_flags::DLTX;
        }
        let target = self.is_from_target(&reply);
        let tbt = self.opts.flags & flags::TBT != 0;
        let first = self.sent[i].replies.is_empty();
        let (echo, fragment) = (
            reply.is_icmp() && reply.icmp_type == 129,
            reply.flags & reply_flags::REPLY_IPID != 0,
        );
        let s = &mut self.sent[i];
        // Most probes get one reply; do not let the first push reserve room for four.
        s.replies.reserve_exact(1);
        s.replies.push(reply);
        if tbt {
            // -O tbt counts fragmented replies (an IPv6 identification comes only with a
            // fragment header); anything but an echo reply before the first of them ends it.
            if first && self.answered == 0 && !echo {
                self.stop = Some(PingStop::DONE);
            } else if first && fragment {
                s.answered = true;
                self.answered += 1;
            }
        } else if target && !s.answered {
            s.answered = true;
            self.answered += 1;
        }
        Some((i, target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{PROTO_ICMP, PROTO_ICMP6, PROTO_TCP, PROTO_UDP};
    use scamper_packet::tcp::{TH_ACK, TH_RST, TH_SYN};
    use scamper_packet::{build_icmp_error, build_tcp, build_udp, parse_ip, IpParams, TcpParams};
    use scamper_packet::{RxIcmp, TsEntry};
    use scamper_warts::{Cycle, List};
    use std::sync::Arc;

    /// The start time of the real record in spec/examples/ping.warts.json.
    const T0: Duration = Duration::new(1_795_402_741, 827_656_000);
    const SPORT: u16 = 6389;
    const DST4: &str = "192.0.2.1";
    const SRC4: &str = "192.0.2.10";
    const DST6: &str = "2001:db8::1";
    const SRC6: &str = "2001:db8::10";
    const ROUTER4: &str = "198.51.100.1";

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn task(args: &str) -> PingTask {
        let w: Vec<&str> = args.split_whitespace().collect();
        let opts = PingOptions::parse(&w).unwrap();
        let src = if opts.dst.is_ipv4() { SRC4 } else { SRC6 };
        let list = Arc::new(List {
            id: 1,
            name: "default".into(),
            ..List::default()
        });
        let cycle = Arc::new(Cycle {
            list: list.clone(),
            id: 1,
            ..Cycle::default()
        });
        let src_addr = ip(src);
        let env = TaskEnv {
            src: src_addr,
            real_src: src_addr,
            route_mtu: None,
            stop_sets: Default::default(),
            ifnames: Default::default(),
            default_sport: SPORT,
            start: T0,
            list,
            cycle,
        };
        PingTask::new(opts, env)
    }

    /// Poll at `now`, expect a probe, and report it sent at `now`.
    fn send(t: &mut PingTask, now: Duration) -> Probe {
        match t.poll(now) {
            Action::Send(p) => {
                t.on_sent(now);
                p
            }
            a => panic!("expected a probe at {now:?}, got {a:?}"),
        }
    }

    /// Send every probe on schedule (`-i` apart from T0) and return them.
    fn send_all(t: &mut PingTask) -> Vec<Probe> {
        let n = t.opts.probe_count;
        let gap = t.opts.wait_probe;
        (0..u32::from(n)).map(|i| send(t, T0 + gap * i)).collect()
    }

    fn record(t: PingTask, now: Duration) -> Ping {
        match Box::new(t).finish(now) {
            Record::Ping(p) => *p,
            r => panic!("{r:?}"),
        }
    }

    /// The echo reply the destination sends for `probe`: the request turned around.
    fn echo_reply(probe: &Probe, ttl: u8, ip_id: u32) -> Rx {
        let mut rx = parse_ip(&probe.packet).unwrap();
        std::mem::swap(&mut rx.src, &mut rx.dst);
        rx.ttl = ttl;
        rx.ip_id = ip_id;
        let v6 = rx.is_ipv6();
        let RxTransport::Icmp(i) = &mut rx.transport else {
            panic!("not ICMP")
        };
        let IcmpKind::EchoRequest { id, seq } = i.kind else {
            panic!("not an echo request")
        };
        i.kind = IcmpKind::EchoReply { id, seq };
        i.icmp_type = if v6 { 129 } else { 0 };
        rx
    }

    /// An ICMP error from `from` quoting the first `quote_len` bytes of `probe`.
    fn icmp_error(probe: &Probe, from: &str, t: u8, code: u8, quote_len: usize) -> Rx {
        let p = parse_ip(&probe.packet).unwrap();
        let params = IpParams::new(ip(from), p.src);
        let q = &probe.packet[..quote_len.min(probe.packet.len())];
        parse_ip(&build_icmp_error(&params, t, code, 0, q, &[]).unwrap()).unwrap()
    }

    /// A TCP segment from the destination back to the probe's source port.
    fn tcp_reply(probe: &Probe, seq: u32, ack: u32, flags: u8) -> Rx {
        let p = parse_ip(&probe.packet).unwrap();
        let t = p.tcp().unwrap();
        let seg = TcpParams {
            sport: t.dport,
            dport: t.sport,
            seq,
            ack,
            flags,
            ..TcpParams::default()
        };
        parse_ip(&build_tcp(&IpParams::new(p.dst, p.src), &seg).unwrap()).unwrap()
    }

    fn json(p: &Ping) -> String {
        scamper_warts::json::to_json(&Record::Ping(Box::new(p.clone())))
            .unwrap()
            .unwrap()
    }

    fn text(p: &Ping) -> String {
        scamper_warts::text::to_text(&Record::Ping(Box::new(p.clone()))).unwrap()
    }

    #[test]
    fn probes_leave_every_wait_probe_and_done_after_wait_timeout() {
        let mut t = task("-c 3 -i 0.5 -W 2 192.0.2.1");
        assert_eq!(t.dst(), ip(DST4));
        let p0 = send(&mut t, T0);
        assert_eq!(t.poll(T0), Action::WaitUntil(T0 + ms(500)));
        assert_eq!(t.poll(T0 + ms(499)), Action::WaitUntil(T0 + ms(500)));
        // the engine sent the second probe a little late: the next one is due -i after it
        let p1 = send(&mut t, T0 + ms(510));
        assert_eq!(t.poll(T0 + ms(600)), Action::WaitUntil(T0 + ms(1010)));
        let p2 = send(&mut t, T0 + ms(1010));
        assert_eq!(t.poll(T0 + ms(1010)), Action::WaitUntil(T0 + ms(3010)));
        assert_eq!(t.poll(T0 + ms(3009)), Action::WaitUntil(T0 + ms(3010)));
        assert_eq!(t.poll(T0 + ms(3010)), Action::Done);
        assert_eq!(t.poll(T0 + ms(4000)), Action::Done);

        for (i, p) in [&p0, &p1, &p2].into_iter().enumerate() {
            assert_eq!(p.dst, ip(DST4));
            assert_eq!(
                p.key,
                MatchKey {
                    peer: ip(DST4),
                    proto: PROTO_ICMP,
                    local_id: SPORT
                }
            );
            let rx = parse_ip(&p.packet).unwrap();
            assert_eq!((rx.src, rx.ttl, rx.ip_len), (ip(SRC4), 64, 84));
            assert_eq!(
                rx.icmp().unwrap().kind,
                IcmpKind::EchoRequest {
                    id: SPORT,
                    seq: i as u16
                }
            );
        }
        let r = record(t, T0 + ms(3010));
        assert_eq!(r.stop_reason, PingStop::DONE);
        assert_eq!(r.ping_sent, 3);
        assert_eq!(r.probes.len(), 3);
        assert_eq!(
            r.probes[1].as_ref().unwrap().tx,
            Timeval::from(T0 + ms(510))
        );
        assert!(r
            .probes
            .iter()
            .all(|p| p.as_ref().unwrap().replies.is_empty()));
        assert_eq!(r.wait_probe, Timeval::new(0, 500_000));
        assert_eq!(r.wait_timeout, Timeval::new(2, 0));
    }

    #[test]
    fn icmp_echo_record_renders_like_scamper() {
        // Reproduces the probe/reply timing of spec/examples/ping.warts.json.
        let mut t = task("-c 3 127.0.0.1");
        t.env.src = ip("127.0.0.1");
        let tx = [
            Duration::new(1_795_402_741, 828_022_000),
            Duration::new(1_795_402_742, 828_590_000),
            Duration::new(1_795_402_743, 828_801_000),
        ];
        let rtt = [206, 55, 56];
        for i in 0..3 {
            let p = send(&mut t, tx[i]);
            let mut rx = echo_reply(&p, 64, 6265 + i as u32);
            rx.src = ip("127.0.0.1");
            t.on_response(&rx, tx[i] + Duration::from_micros(rtt[i]));
        }
        assert_eq!(t.poll(tx[2] + ms(1000)), Action::Done);
        let r = record(t, tx[2] + ms(1000));
        let js = json(&r);
        assert!(
            js.starts_with(
                "{\"type\":\"ping\",\"version\":\"0.4\",\"method\":\"icmp-echo\",\
                 \"src\":\"127.0.0.1\",\"dst\":\"127.0.0.1\",\
                 \"start\":{\"sec\":1795402741,\"usec\":827656},\"stop_reason\":\"done\",\
                 \"stop_data\":0,\"ping_sent\":3,\"probe_size\":84,\"userid\":0,\"ttl\":64,\
                 \"tos\":0,\"wait\":1,\"timeout\":1,\"responses\":[{\"from\":\"127.0.0.1\",\
                 \"reply_size\":84,\"reply_ttl\":64,\"seq\":0,\
                 \"tx\":{\"sec\":1795402741,\"usec\":828022},\"icmp_id\":6389,\"icmp_seq\":0,"
            ),
            "{js}"
        );
        assert!(js.contains("\"rx\":{\"sec\":1795402741,\"usec\":828228},\"rtt\":0.206,\"reply_ipid\":6265,\"reply_tos\":0,\"icmp_type\":0,\"icmp_code\":0}"), "{js}");
        assert!(
            js.ends_with(
                "],\"no_responses\":[],\"statistics\":{\"replies\":3,\"loss\":0,\
                 \"min\":0.055,\"max\":0.206,\"avg\":0.105,\"stddev\":0.070}}"
            ),
            "{js}"
        );
        let probe0 = r.probes[0].as_ref().unwrap();
        assert_eq!(probe0.flags, reply_flags::PROBE_IPID);
        let r0 = &probe0.replies[0];
        assert_eq!(
            r0.flags,
            reply_flags::REPLY_TTL | reply_flags::REPLY_IPID | reply_flags::REPLY_TOS
        );
        assert_eq!((r0.reply_proto, r0.reply_size), (1, 84));
    }

    #[test]
    fn replies_match_by_sequence_not_arrival_order_and_duplicates_count() {
        let mut t = task("-c 3 192.0.2.1");
        let p = send_all(&mut t);
        // probe 2's reply first, then probe 0's twice (a duplicate), nothing for probe 1
        t.on_response(&echo_reply(&p[2], 50, 1), T0 + ms(2030));
        t.on_response(&echo_reply(&p[0], 50, 2), T0 + ms(2100));
        t.on_response(&echo_reply(&p[0], 50, 3), T0 + ms(2200));
        let r = record(t, T0 + ms(3000));
        let replies = |i: usize| &r.probes[i].as_ref().unwrap().replies;
        assert_eq!(replies(0).len(), 2);
        assert_eq!(replies(0)[0].rtt, Timeval::new(2, 100_000));
        assert_eq!(replies(0)[1].rtt, Timeval::new(2, 200_000));
        assert!(replies(1).is_empty());
        assert_eq!(replies(2)[0].rtt, Timeval::new(0, 30_000));
        assert_eq!(replies(2)[0].reply_ttl, 50);
        let txt = text(&r);
        assert!(
            txt.contains(
                "3 packets transmitted, 2 packets received, +1 duplicates, 33% packet loss"
            ),
            "{txt}"
        );
        assert!(json(&r).contains("\"statistics\":{\"replies\":2,\"loss\":0.33,"));
    }

    #[test]
    fn foreign_replies_are_ignored() {
        let mut t = task("-c 2 192.0.2.1");
        let p = send(&mut t, T0);
        // from another address, with another id, for a probe not yet sent
        let mut other = echo_reply(&p, 64, 0);
        other.src = ip("192.0.2.99");
        t.on_response(&other, T0 + ms(1));
        let mut wrong_id = echo_reply(&p, 64, 0);
        if let RxTransport::Icmp(RxIcmp {
            kind: IcmpKind::EchoReply { id, .. },
            ..
        }) = &mut wrong_id.transport
        {
            *id = SPORT + 1;
        }
        t.on_response(&wrong_id, T0 + ms(1));
        let mut unsent = echo_reply(&p, 64, 0);
        if let RxTransport::Icmp(RxIcmp {
            kind: IcmpKind::EchoReply { seq, .. },
            ..
        }) = &mut unsent.transport
        {
            *seq = 1;
        }
        t.on_response(&unsent, T0 + ms(1));
        // an error quoting a packet to some other destination
        let mut q = icmp_error(&p, ROUTER4, 11, 0, 28);
        if let RxTransport::Icmp(i) = &mut q.transport {
            i.quote.as_mut().unwrap().dst = ip("192.0.2.77");
        }
        t.on_response(&q, T0 + ms(1));
        let r = record(t, T0 + ms(5000));
        assert!(r.probes[0].as_ref().unwrap().replies.is_empty());
    }

    #[test]
    fn errors_from_routers_are_recorded_and_counted_as_errors() {
        let mut t = task("-c 2 -m 3 192.0.2.1");
        let p = send_all(&mut t);
        // time exceeded from a router quoting probe 1 (IP header + 8 bytes, RFC 792)
        t.on_response(&icmp_error(&p[1], ROUTER4, 11, 0, 28), T0 + ms(1005));
        t.on_response(&echo_reply(&p[0], 60, 9), T0 + ms(10));
        let r = record(t, T0 + ms(2000));
        let e = &r.probes[1].as_ref().unwrap().replies[0];
        assert_eq!(e.addr, Some(Addr::from(ip(ROUTER4))));
        assert_eq!((e.icmp_type, e.icmp_code, e.reply_proto), (11, 0, 1));
        assert_eq!(e.rtt, Timeval::new(0, 5_000));
        let txt = text(&r);
        assert!(
            txt.contains("2 packets transmitted, 1 packets received, +1 errors, 50% packet loss"),
            "{txt}"
        );
        assert!(json(&r).contains("\"nerrs\":1"));
    }

    #[test]
    fn stop_after_o_replies() {
        let mut t = task("-c 5 -o 2 192.0.2.1");
        let p0 = send(&mut t, T0);
        t.on_response(&echo_reply(&p0, 64, 1), T0 + ms(5));
        // a duplicate is not a second reply
        t.on_response(&echo_reply(&p0, 64, 2), T0 + ms(6));
        let p1 = send(&mut t, T0 + ms(1000));
        assert_eq!(t.poll(T0 + ms(1000)), Action::WaitUntil(T0 + ms(2000)));
        t.on_response(&echo_reply(&p1, 64, 3), T0 + ms(1005));
        assert_eq!(t.poll(T0 + ms(1005)), Action::Done);
        let r = record(t, T0 + ms(1005));
        assert_eq!(
            (r.ping_sent, r.stop_count, r.stop_reason),
            (2, 2, PingStop::DONE)
        );
    }

    #[test]
    fn no_replies_is_total_loss() {
        let mut t = task("192.0.2.1");
        send_all(&mut t);
        assert_eq!(t.poll(T0 + ms(4000)), Action::Done);
        let r = record(t, T0 + ms(4000));
        assert_eq!(r.ping_sent, 4);
        let txt = text(&r);
        assert!(
            txt.contains("4 packets transmitted, 0 packets received, 100% packet loss"),
            "{txt}"
        );
        assert!(!txt.contains("round-trip"));
        let js = json(&r);
        assert!(
            js.contains("\"responses\":[],\"no_responses\":[{\"seq\":0"),
            "{js}"
        );
        assert!(
            js.ends_with("\"statistics\":{\"replies\":0,\"loss\":1}}"),
            "{js}"
        );
    }

    #[test]
    fn halted_ping_marks_pending_probes() {
        let mut t = task("-c 4 -W 3 192.0.2.1");
        send(&mut t, T0);
        send(&mut t, T0 + ms(1000));
        let r = record(t, T0 + ms(3500));
        assert_eq!(r.stop_reason, PingStop::HALTED);
        assert_eq!(r.ping_sent, 2);
        // probe 0's -W ran out at T0+3s; probe 1 still had time
        assert_eq!(
            r.probes[0].as_ref().unwrap().flags & reply_flags::PENDING,
            0
        );
        assert_ne!(
            r.probes[1].as_ref().unwrap().flags & reply_flags::PENDING,
            0
        );
    }

    #[test]
    fn replies_after_done_are_ignored() {
        let mut t = task("-c 1 192.0.2.1");
        let p = send(&mut t, T0);
        assert_eq!(t.poll(T0 + ms(1000)), Action::Done);
        t.on_response(&echo_reply(&p, 64, 1), T0 + ms(1001));
        let r = record(t, T0 + ms(1001));
        assert!(r.probes[0].as_ref().unwrap().replies.is_empty());
    }

    #[test]
    fn unbuildable_probe_ends_with_error() {
        // 0xffff cannot be a computed ICMP checksum
        let mut t = task("-C 65535 192.0.2.1");
        assert_eq!(t.poll(T0), Action::Done);
        let r = record(t, T0);
        assert_eq!((r.stop_reason, r.ping_sent), (PingStop::ERROR, 0));
        assert!(r.errmsg.unwrap().starts_with("could not build probe"));
    }

    #[test]
    fn record_carries_the_probe_parameters() {
        let mut t = task(
            "-c 2 -s 100 -p 0102 -m 9 -z 32 -U 77 -d 5 -F 9999 -r 192.0.2.254 -W 2 -C 300 192.0.2.1",
        );
        send_all(&mut t);
        let r = record(t, T0 + ms(3000));
        assert_eq!(r.list.as_ref().unwrap().id, 1);
        assert_eq!(r.cycle.as_ref().unwrap().id, 1);
        assert_eq!(r.start, Timeval::from(T0));
        assert_eq!(r.src, Some(Addr::from(ip(SRC4))));
        assert_eq!(r.dst, Some(Addr::from(ip(DST4))));
        assert_eq!(r.rtr, Some(Addr::from(ip("192.0.2.254"))));
        assert_eq!(
            (r.probe_count, r.probe_size, r.probe_ttl, r.probe_tos),
            (2, 100, 9, 32)
        );
        assert_eq!((r.userid, r.probe_sport, r.probe_dport), (77, 9999, 5));
        assert_eq!(r.data, vec![1, 2]);
        assert_eq!(r.probe_icmpsum, 300);
        assert_eq!(r.flags, flags::ICMPSUM);
        assert_eq!(r.method, PingMethod::ICMP_ECHO);
        let js = json(&r);
        assert!(
            js.contains("\"pattern\":\"0102\",\"flags\":[\"icmpsum\"],\"icmp_csum\":300"),
            "{js}"
        );
    }

    #[test]
    fn datalink_transmit_times_replace_user_space_ones() {
        let mut t = task("-c 2 -O dl 192.0.2.1");
        let p = send_all(&mut t);
        // Probe 0: its outbound copy 1 ms after the send, then the reply at 10 ms.
        t.on_response(&parse_ip(&p[0].packet).unwrap(), T0 + ms(1));
        t.on_response(&echo_reply(&p[0], 60, 7), T0 + ms(10));
        // Probe 1: the reply is seen before the outbound copy (2 ms late): the recorded
        // round trip shrinks by the difference.
        let t1 = T0 + t.opts.wait_probe;
        t.on_response(&echo_reply(&p[1], 60, 8), t1 + ms(10));
        t.on_response(&parse_ip(&p[1].packet).unwrap(), t1 + ms(2));
        // A second copy of the same probe changes nothing.
        t.on_response(&parse_ip(&p[1].packet).unwrap(), t1 + ms(3));
        let r = record(t, T0 + ms(5000));
        let dl = reply_flags::DLTX | reply_flags::DLRX;
        for (i, tx, rtt) in [(0, T0 + ms(1), ms(9)), (1, t1 + ms(2), ms(8))] {
            let pr = r.probes[i].as_ref().unwrap();
            assert_eq!(pr.tx, Timeval::from(tx), "probe {i}");
            assert_eq!(pr.flags & reply_flags::DLTX, reply_flags::DLTX, "probe {i}");
            assert_eq!(pr.replies.len(), 1, "probe {i}");
            assert_eq!(pr.replies[0].flags & dl, dl, "probe {i}");
            assert_eq!(pr.replies[0].rtt, Timeval::from(rtt), "probe {i}");
        }
    }

    #[test]
    fn sockrx_and_plain_pings_record_no_datalink_receive_times() {
        // (options, an outbound copy is seen, the flags of the reply). Frames the datalink
        // socket sends itself (-O dltx) are not looped back to it, so no copy is seen there.
        for (args, copy, want) in [
            ("-c 1 -O dl -O sockrx 192.0.2.1", true, reply_flags::DLTX),
            ("-c 1 -O dltx 192.0.2.1", false, reply_flags::DLRX),
            ("-c 1 192.0.2.1", true, 0),
        ] {
            let mut t = task(args);
            let p = send_all(&mut t);
            if copy {
                t.on_response(&parse_ip(&p[0].packet).unwrap(), T0 + ms(1));
            }
            t.on_response(&echo_reply(&p[0], 60, 7), T0 + ms(10));
            let r = record(t, T0 + ms(5000));
            let pr = r.probes[0].as_ref().unwrap();
            assert_eq!(pr.replies.len(), 1, "{args}");
            let f = pr.replies[0].flags & (reply_flags::DLTX | reply_flags::DLRX);
            assert_eq!(f, want, "{args}");
        }
    }

    #[test]
    fn tbt_counts_fragmented_replies_only() {
        let mut t = task("-c 4 -o 2 -s 1300 -M 1280 -O tbt 2001:db8::1");
        let gap = t.opts.wait_probe;
        // Probe 0's whole reply does not count; fragmented replies (with an identification)
        // to probes 1 and 2 do, and then the ping is done.
        for i in 0..3u32 {
            let p = send(&mut t, T0 + gap * i);
            let mut rx = echo_reply(&p, 60, 0);
            if i > 0 {
                rx.ip_id = 0x1234 + i;
                rx.more_frags = true;
                rx.ip_len = 1280;
            }
            t.on_response(&rx, T0 + gap * i + ms(5));
        }
        assert_eq!(t.poll(T0 + gap * 2 + ms(6)), Action::Done);
        let r = record(t, T0 + ms(9000));
        assert_eq!(r.stop_reason, PingStop::DONE);
        assert_eq!(r.ping_sent, 3);
        let ids: Vec<u32> = (0..3)
            .map(|i| r.probes[i].as_ref().unwrap().replies[0].reply_ipid)
            .collect();
        assert_eq!(ids, [0, 0x1235, 0x1236]);
        // Anything but an echo reply before the first fragmented one ends the ping.
        let mut t = task("-c 4 -o 2 -s 1300 -M 1280 -O tbt 2001:db8::1");
        let p = send(&mut t, T0);
        t.on_response(&icmp_error(&p, "2001:db8::2", 1, 4, 200), T0 + ms(5));
        assert_eq!(t.poll(T0 + ms(6)), Action::Done);
    }

    #[test]
    fn ipv6_echo() {
        let mut t = task("-c 2 2001:db8::1");
        let p = send_all(&mut t);
        assert_eq!(
            p[0].key,
            MatchKey {
                peer: ip(DST6),
                proto: PROTO_ICMP6,
                local_id: SPORT
            }
        );
        assert_eq!(p[0].packet.len(), 104);
        t.on_response(&echo_reply(&p[1], 55, 0), T0 + ms(1020));
        let r = record(t, T0 + ms(2000));
        assert!(r.probes[0].as_ref().unwrap().replies.is_empty());
        let pr = r.probes[1].as_ref().unwrap();
        assert_eq!(pr.flags & reply_flags::PROBE_IPID, 0);
        let x = &pr.replies[0];
        assert_eq!(
            (x.icmp_type, x.reply_proto, x.reply_size, x.reply_ttl),
            (129, 58, 104, 55)
        );
        assert_eq!(x.flags & reply_flags::REPLY_IPID, 0);
        let js = json(&r);
        assert!(
            js.contains("\"icmp_id\":6389,\"icmp_seq\":1,\"reply_proto\":\"icmp\""),
            "{js}"
        );
        assert!(
            js.contains("\"statistics\":{\"replies\":1,\"loss\":0.50,"),
            "{js}"
        );
    }

    #[test]
    fn ipv6_time_exceeded_quotes_identify_the_probe() {
        let mut t = task("-c 2 -m 2 2001:db8::1");
        let p = send_all(&mut t);
        let e = icmp_error(&p[0], "2001:db8:ffff::1", 3, 0, 1232);
        t.on_response(&e, T0 + ms(1500));
        let r = record(t, T0 + ms(2000));
        let x = &r.probes[0].as_ref().unwrap().replies[0];
        assert_eq!((x.icmp_type, x.icmp_code), (3, 0));
        assert_eq!(x.rtt, Timeval::new(1, 500_000));
    }

    #[test]
    fn udp_port_unreachable_matched_by_quoted_ipid() {
        let mut t = task("-c 3 -P udp 192.0.2.1");
        let p = send_all(&mut t);
        assert_eq!(
            p[0].key,
            MatchKey {
                peer: ip(DST4),
                proto: PROTO_UDP,
                local_id: SPORT
            }
        );
        // all three share their ports; the quote's IP-ID says it answers probe 1
        t.on_response(&icmp_error(&p[1], DST4, 3, 3, 28), T0 + ms(2100));
        let r = record(t, T0 + ms(3000));
        let x = &r.probes[1].as_ref().unwrap().replies[0];
        assert_eq!((x.icmp_type, x.icmp_code), (3, 3));
        assert_eq!(x.rtt, Timeval::new(1, 100_000));
        let js = json(&r);
        assert!(js.contains("\"sport\":6389,\"dport\":33435"), "{js}");
        assert!(js.contains("\"seq\":1,\"tx\":{\"sec\":1795402742,\"usec\":827656},\"udp_sport\":6389, \"udp_dport\":33435"), "{js}");
        assert!(js.contains("\"replies\":1,"), "{js}");
    }

    #[test]
    fn udp_ipv6_matched_by_quoted_flow_label_and_udp_reply() {
        // UDP answers from the service itself are seen only with a datalink (-O dl), as in
        // scamper's do_ping_handle_dl; the ICMP error is seen either way.
        for (args, udp_seen) in [
            ("-c 3 -P udp 2001:db8::1", false),
            ("-c 3 -P udp -O dl 2001:db8::1", true),
        ] {
            let mut t = task(args);
            let p = send_all(&mut t);
            t.on_response(&icmp_error(&p[0], DST6, 1, 4, 1232), T0 + ms(2500));
            let pr = parse_ip(&p[2].packet).unwrap();
            let u = pr.udp().unwrap();
            let back = build_udp(&IpParams::new(pr.dst, pr.src), u.dport, u.sport, b"hi").unwrap();
            t.on_response(&parse_ip(&back).unwrap(), T0 + ms(2010));
            let r = record(t, T0 + ms(3000));
            let x0 = &r.probes[0].as_ref().unwrap().replies[0];
            assert_eq!((x0.icmp_type, x0.icmp_code, x0.reply_proto), (1, 4, 58));
            assert!(r.probes[1].as_ref().unwrap().replies.is_empty());
            let r2 = &r.probes[2].as_ref().unwrap().replies;
            if udp_seen {
                assert_eq!(
                    (r2[0].reply_proto, r2[0].rtt),
                    (17, Timeval::new(0, 10_000))
                );
                assert_eq!(r2[0].flags & reply_flags::DLRX, reply_flags::DLRX);
                assert!(json(&r).contains("\"replies\":2,"));
            } else {
                assert!(r2.is_empty(), "{args}");
                assert!(json(&r).contains("\"replies\":1,"));
            }
        }
    }

    #[test]
    fn udp_dport_and_sport_vary_and_identify_probes() {
        let mut t = task("-c 3 -P udp-dport -d 40000 192.0.2.1");
        let p = send_all(&mut t);
        let dports: Vec<u16> = p
            .iter()
            .map(|p| parse_ip(&p.packet).unwrap().udp().unwrap().dport)
            .collect();
        assert_eq!(dports, [40000, 40001, 40002]);
        t.on_response(&icmp_error(&p[2], DST4, 3, 3, 28), T0 + ms(2001));
        let r = record(t, T0 + ms(3000));
        assert_eq!(r.probes[2].as_ref().unwrap().replies.len(), 1);

        let mut t = task("-c 3 -P udp-sport -F 50000 192.0.2.1");
        let p = send_all(&mut t);
        let keys: Vec<u16> = p.iter().map(|p| p.key.local_id).collect();
        assert_eq!(keys, [50000, 50001, 50002]);
        t.on_response(&icmp_error(&p[1], DST4, 3, 3, 28), T0 + ms(1001));
        let r = record(t, T0 + ms(3000));
        let pr = r.probes[1].as_ref().unwrap();
        assert_eq!((pr.sport, pr.replies.len()), (50001, 1));
        assert!(json(&r).contains("\"udp_sport\":50001, \"udp_dport\":33435"));
    }

    #[test]
    fn tcp_syn_replies_matched_by_ack() {
        let mut t = task("-c 3 -P tcp-syn -A 1000 -d 443 192.0.2.1");
        let p = send_all(&mut t);
        assert_eq!(
            p[0].key,
            MatchKey {
                peer: ip(DST4),
                proto: PROTO_TCP,
                local_id: SPORT
            }
        );
        // SYN+ACK for probe 1 (seq 1001), RST for probe 2 (seq 1002), one acking nothing sent
        t.on_response(&tcp_reply(&p[1], 555, 1002, TH_SYN | TH_ACK), T0 + ms(1010));
        t.on_response(&tcp_reply(&p[2], 0, 1003, TH_RST | TH_ACK), T0 + ms(2020));
        t.on_response(&tcp_reply(&p[2], 0, 2000, TH_RST | TH_ACK), T0 + ms(2020));
        let r = record(t, T0 + ms(3000));
        assert!(r.probes[0].as_ref().unwrap().replies.is_empty());
        let x1 = &r.probes[1].as_ref().unwrap().replies[0];
        assert_eq!((x1.reply_proto, x1.tcp_flags), (6, TH_SYN | TH_ACK));
        let x2 = &r.probes[2].as_ref().unwrap().replies;
        assert_eq!(x2.len(), 1);
        assert_eq!(x2[0].tcp_flags, TH_RST | TH_ACK);
        assert_eq!(r.probe_tcpseq, 1000);
        let txt = text(&r);
        assert!(txt.contains("seq=1 tcp=open ttl=64"), "{txt}");
        assert!(txt.contains("seq=2 tcp=closed"), "{txt}");
        assert!(json(&r).contains("\"tcp_seq\":1000,\"tcp_ack\":0"));
    }

    #[test]
    fn tcp_ack_resets_matched_by_sequence_number() {
        let mut t = task("-c 2 -P tcp-ack -A 7 192.0.2.1");
        let p = send_all(&mut t);
        let acks: Vec<u32> = p
            .iter()
            .map(|p| parse_ip(&p.packet).unwrap().tcp().unwrap().ack)
            .collect();
        assert_eq!(acks, [7, 8]);
        t.on_response(&tcp_reply(&p[0], 7, 0, TH_RST), T0 + ms(3));
        t.on_response(&tcp_reply(&p[1], 8, 0, TH_RST), T0 + ms(1004));
        let r = record(t, T0 + ms(2000));
        assert_eq!(
            r.probes[0].as_ref().unwrap().replies[0].rtt,
            Timeval::new(0, 3000)
        );
        assert_eq!(
            r.probes[1].as_ref().unwrap().replies[0].rtt,
            Timeval::new(0, 4000)
        );
        assert_eq!(r.probe_tcpack, 7);
    }

    #[test]
    fn tcp_sport_methods_vary_the_source_port() {
        let mut t = task("-c 3 -P tcp-syn-sport -F 30000 192.0.2.1");
        let p = send_all(&mut t);
        let keys: Vec<u16> = p.iter().map(|p| p.key.local_id).collect();
        assert_eq!(keys, [30000, 30001, 30002]);
        t.on_response(&tcp_reply(&p[2], 1, 1, TH_SYN | TH_ACK), T0 + ms(2001));
        // an ICMP error quoting probe 0's TCP header
        t.on_response(&icmp_error(&p[0], ROUTER4, 3, 13, 28), T0 + ms(2));
        let r = record(t, T0 + ms(3000));
        assert_eq!(
            r.probes[2].as_ref().unwrap().replies[0].tcp_flags,
            TH_SYN | TH_ACK
        );
        assert_eq!(r.probes[0].as_ref().unwrap().replies[0].icmp_code, 13);

        let mut t = task("-c 2 -P tcp-ack-sport 2001:db8::1");
        let p = send_all(&mut t);
        assert_eq!(
            p[1].key,
            MatchKey {
                peer: ip(DST6),
                proto: PROTO_TCP,
                local_id: SPORT + 1
            }
        );
        t.on_response(&tcp_reply(&p[1], 0, 0, TH_RST), T0 + ms(1001));
        let r = record(t, T0 + ms(2000));
        assert_eq!(r.probes[1].as_ref().unwrap().replies[0].reply_proto, 6);
        assert!(r.probes[0].as_ref().unwrap().replies.is_empty());
    }

    #[test]
    fn tcp_ipv6_fixed_port_errors_use_flow_label() {
        let mut t = task("-c 2 -P tcp-ack 2001:db8::1");
        let p = send_all(&mut t);
        t.on_response(
            &icmp_error(&p[1], "2001:db8:ffff::1", 1, 1, 1232),
            T0 + ms(1100),
        );
        let r = record(t, T0 + ms(2000));
        assert!(r.probes[0].as_ref().unwrap().replies.is_empty());
        assert_eq!(r.probes[1].as_ref().unwrap().replies[0].icmp_type, 1);
    }

    #[test]
    fn record_route_and_timestamps_are_recorded() {
        let mut t = task("-c 1 -R 192.0.2.1");
        let p = send(&mut t, T0);
        let mut rx = echo_reply(&p, 64, 1);
        let hops = ["192.0.2.10", "198.51.100.1", "192.0.2.1"];
        rx.options = vec![RxIpOption::RecordRoute {
            pointer: 16,
            addrs: hops.iter().map(|a| a.parse().unwrap()).collect(),
        }];
        t.on_response(&rx, T0 + ms(1));
        let r = record(t, T0 + ms(1000));
        assert_eq!(r.probe_size, 124);
        let js = json(&r);
        assert!(js.contains("\"flags\":[\"v4rr\"]"), "{js}");
        assert!(
            js.contains("\"RR\":[\"192.0.2.10\",\"198.51.100.1\",\"192.0.2.1\"]"),
            "{js}"
        );
        // Read from the datalink, the reply keeps no options (scamper's do_ping_handle_dl).
        let mut t = task("-c 1 -R -O dl 192.0.2.1");
        let p = send(&mut t, T0);
        let mut rx = echo_reply(&p, 64, 1);
        rx.options = vec![RxIpOption::RecordRoute {
            pointer: 16,
            addrs: hops.iter().map(|a| a.parse().unwrap()).collect(),
        }];
        t.on_response(&rx, T0 + ms(1));
        let r = record(t, T0 + ms(1000));
        let x = &r.probes[0].as_ref().unwrap().replies[0];
        assert_eq!(x.v4rr, None);
        assert_eq!(x.flags & reply_flags::DLRX, reply_flags::DLRX);

        for (opt, want) in [
            ("tsonly", "\"tsonly\":[10900464,10900465]"),
            ("tsandaddr", "\"tsandaddr\":[{\"ts\":10900464,\"ip\":\"198.51.100.1\"},{\"ts\":10900465,\"ip\":\"192.0.2.1\"}]"),
        ] {
            let mut t = task(&format!("-c 1 -T {opt} 192.0.2.1"));
            let p = send(&mut t, T0);
            let mut rx = echo_reply(&p, 64, 1);
            let addr = |s: &str| (opt != "tsonly").then(|| s.parse().unwrap());
            rx.options = vec![RxIpOption::Timestamp {
                flag: u8::from(opt != "tsonly"),
                overflow: 0,
                pointer: 13,
                entries: vec![
                    TsEntry { addr: addr("198.51.100.1"), ts: 10_900_464 },
                    TsEntry { addr: addr("192.0.2.1"), ts: 10_900_465 },
                ],
            }];
            t.on_response(&rx, T0 + ms(1));
            let js = json(&record(t, T0 + ms(1000)));
            assert!(js.contains(want), "{js}");
        }
    }

    #[test]
    fn icmp_timestamp_replies() {
        // The timestamp values are recorded from the ICMP socket's copy only (scamper's
        // do_ping_handle_icmp); a reply read from the datalink (-O dl) has none.
        for (args, values) in [
            ("-c 1 -P icmp-time 192.0.2.1", true),
            ("-c 1 -P icmp-time -O dl -O sockrx 192.0.2.1", true),
            ("-c 1 -P icmp-time -O dl 192.0.2.1", false),
        ] {
            let mut t = task(args);
            let p = send(&mut t, T0);
            let mut rx = parse_ip(&p.packet).unwrap();
            std::mem::swap(&mut rx.src, &mut rx.dst);
            let RxTransport::Icmp(i) = &mut rx.transport else {
                panic!()
            };
            i.icmp_type = 14;
            i.kind = IcmpKind::TimestampReply {
                id: SPORT,
                seq: 0,
                originate: 1,
                receive: 2,
                transmit: 3,
            };
            t.on_response(&rx, T0 + ms(7));
            let r = record(t, T0 + ms(1000));
            let x = &r.probes[0].as_ref().unwrap().replies[0];
            let want = values.then_some(PingTsReply {
                originate: 1,
                receive: 2,
                transmit: 3,
            });
            assert_eq!(x.tsreply, want, "{args}");
            assert_eq!(x.icmp_type, 14);
            assert!(text(&r).contains("1 packets received"));
        }
    }

    #[test]
    fn pseudo_mtu_answers_large_replies_with_packet_too_big() {
        for (dst, v6) in [(DST4, false), (DST6, true)] {
            let mut t = task(&format!("-c 2 -s 1400 -M 1280 {dst}"));
            let p0 = send(&mut t, T0);
            let rx = echo_reply(&p0, 60, 0);
            // the bytes the engine read: IPv4 with its header, ICMPv6 without
            let mut raw = p0.packet.clone();
            if v6 {
                raw.drain(..40);
                raw[0] = 129;
            } else {
                let (s, d) = (raw[12..16].to_vec(), raw[16..20].to_vec());
                raw[12..16].copy_from_slice(&d);
                raw[16..20].copy_from_slice(&s);
                raw[20] = 0;
            }
            assert!(rx.ip_len > 1280);
            t.on_response_raw(&rx, &raw, T0 + ms(5));
            let Action::Send(ptb) = t.poll(T0 + ms(5)) else {
                panic!("no packet too big")
            };
            assert_eq!((ptb.dst, ptb.key), (p0.dst, p0.key));
            let p = parse_ip(&ptb.packet).unwrap();
            let RxTransport::Icmp(i) = &p.transport else {
                panic!("not ICMP")
            };
            let want = if v6 { (2, 0) } else { (3, 4) };
            assert_eq!((i.icmp_type, i.code), want);
            assert_eq!(i.next_hop_mtu, Some(1280));
            assert_eq!(
                i.quote.as_ref().map(|q| (q.src, q.dst)),
                Some((rx.src, rx.dst))
            );
            // sending it leaves the probe's transmit time alone
            t.on_sent(T0 + ms(6));
            assert_eq!(t.sent[0].tx, T0);
            // the second probe goes on schedule
            assert_eq!(t.poll(T0 + ms(6)), Action::WaitUntil(T0 + ms(1000)));
            let p1 = send(&mut t, T0 + ms(1000));
            // a reply that fits the pseudo MTU draws no packet too big
            let mut small = echo_reply(&p1, 60, 0);
            small.ip_len = 1280;
            t.on_response_raw(&small, &raw[..100], T0 + ms(1005));
            assert_eq!(t.poll(T0 + ms(1005)), Action::WaitUntil(T0 + ms(2000)));
            let r = record(t, T0 + ms(2000));
            assert_eq!((r.pmtu, r.probes.len()), (1280, 2));
            assert!(r
                .probes
                .iter()
                .all(|p| p.as_ref().is_some_and(|p| p.replies.len() == 1)));
        }
    }

    #[test]
    fn stream_reports_in_progress_records() {
        let mut t = task("-c 4 -y 2 192.0.2.9");
        let mut snaps = Vec::new();
        for i in 0..4u64 {
            let now = T0 + ms(i * 1000);
            let Action::Send(_) = t.poll(now) else {
                panic!("probe {i} due")
            };
            t.on_sent(now);
            snaps.extend(t.snapshot(now));
        }
        // After probes 2 (not after the last, 4): one in-progress copy with two probes.
        assert_eq!(snaps.len(), 1);
        let Record::Ping(p) = &snaps[0] else {
            panic!("a ping record")
        };
        assert_eq!((p.stop_reason, p.ping_sent), (PingStop::INPROGRESS, 2));
    }
}
