//! The traceroute state machine: hop-by-hop probing, reply matching, stop conditions and the
//! warts record.
//!
//! One probe is outstanding at a time (`-N 1`): a hop (TTL) gets up to `-q` attempts, each
//! waiting up to `-w` for a reply; without `-Q` the first reply ends the hop. When a hop ends
//! its replies decide whether the trace stops (destination reached, unreachable, other ICMP,
//! loop), otherwise an unresponsive hop counts towards the gap limit and the TTL grows until
//! the hop limit.

use std::net::IpAddr;

use scamper_packet::{IcmpKind, Quote, QuotedTransport, Rx, RxTransport};
use scamper_warts::icmpext::IcmpExt;
use scamper_warts::trace::{
    flags, reply_flags, Trace, TraceMethod, TraceProbe, TraceReply, TraceStop,
};
use scamper_warts::{Addr, Record, Timeval};

use super::options::{is_icmp, TraceOptions, GAPACTION_LASTDITCH};
use super::probe::{self, ProbeFields, TraceIds};
use crate::task::{Action, MatchKey, Probe, Task, TaskEnv, Time};

/// TTL of last-ditch probes: they must reach the destination whatever its distance.
const LASTDITCH_TTL: u8 = 255;

/// Start a traceroute. The engine calls this after the command parsed to `Command::Trace(opts)`
/// and the destination passed the do-not-probe check; `env.src` must already reflect `-S`.
pub fn new_task(opts: TraceOptions, env: TaskEnv) -> Box<dyn Task> {
    Box::new(TraceTask::new(opts, env))
}

/// A probe handed to the engine.
#[derive(Debug, Clone)]
struct Sent {
    fields: ProbeFields,
    /// 1-based attempt at its TTL.
    attempt: u8,
    size: u16,
    tx: Time,
    replies: Vec<TraceReply>,
    lastditch: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Probing TTL by TTL.
    Hops,
    /// Gap limit reached with `-G 2`: probing the destination with a high TTL.
    LastDitch,
}

/// What a reply says about the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// An intermediate hop (time exceeded from a router).
    Hop,
    /// The trace must stop for this reason and stop data.
    Stop(TraceStop, u8),
}

/// One traceroute in progress.
#[derive(Debug)]
pub struct TraceTask {
    opts: TraceOptions,
    env: TaskEnv,
    ids: TraceIds,
    /// Every probe sent, indexed by probe index.
    sent: Vec<Sent>,
    phase: Phase,
    /// TTL being probed.
    ttl: u8,
    /// Index in `sent` of the first probe of the current hop (or of the last-ditch probes).
    hop_first: usize,
    /// Consecutive unresponsive hops.
    gap: u8,
    /// Loops seen so far.
    loops_seen: u8,
    stop: Option<(TraceStop, u8)>,
    /// Hop whose (late) reply stopped the trace when higher TTLs had already been probed.
    stop_hop: u8,
    done: bool,
    errmsg: Option<String>,
}

impl TraceTask {
    pub fn new(opts: TraceOptions, env: TaskEnv) -> TraceTask {
        let mut ids = TraceIds::new(&opts, env.default_sport, env.start);
        if probe::identical_probes(&opts) && opts.method == TraceMethod::ICMP_ECHO_PARIS {
            // The payload may not change, so the checksum is whatever the constant probe has.
            let f = probe::fields(&opts, &ids, 0, 1);
            if let Ok(pkt) = probe::build(&opts, env.src, &f) {
                ids.icmp_sum = probe::icmp_checksum_of(&pkt, opts.dst.is_ipv6());
            }
        }
        TraceTask {
            ttl: opts.firsthop,
            opts,
            env,
            ids,
            sent: Vec::new(),
            phase: Phase::Hops,
            hop_first: 0,
            gap: 0,
            loops_seen: 0,
            stop: None,
            stop_hop: 0,
            done: false,
            errmsg: None,
        }
    }

    fn key(&self) -> MatchKey {
        MatchKey {
            peer: self.opts.dst,
            proto: probe::probe_proto(&self.opts),
            local_id: self.ids.sport,
        }
    }

    fn finish_with(&mut self, reason: TraceStop, data: u8) {
        self.stop = Some((reason, data));
        self.done = true;
    }

    /// Probe `i` if it exists and has the header values the reply shows.
    fn checked(&self, i: u16, ok: impl Fn(&ProbeFields) -> bool) -> Option<usize> {
        let s = self.sent.get(usize::from(i))?;
        ok(&s.fields).then_some(usize::from(i))
    }

    /// For probes that differ only in TTL and IP-ID: the IPv4 IP-ID names the probe; without
    /// it (IPv6, echo replies, UDP replies) only the newest probe can be assumed.
    fn identical_match(&self, q: Option<&Quote>) -> Option<usize> {
        match q {
            Some(q) if !q.is_ipv6() => {
                self.sent.iter().rposition(|s| u32::from(s.fields.ip_id) == q.ip_id)
            }
            _ => self.sent.len().checked_sub(1),
        }
    }

    /// Which probe does this packet answer? Only what the packet carries is used.
    fn match_reply(&self, pkt: &Rx) -> Option<usize> {
        let m = self.opts.method;
        let dst = self.opts.dst;
        let ids = &self.ids;
        let same = probe::identical_probes(&self.opts);
        match &pkt.transport {
            RxTransport::Icmp(icmp) => match icmp.kind {
                IcmpKind::EchoReply { id, seq } => {
                    if !is_icmp(m) || pkt.src != dst || id != ids.sport {
                        None
                    } else if same {
                        self.identical_match(None)
                    } else {
                        self.checked(seq, |_| true)
                    }
                }
                IcmpKind::EchoRequest { .. } | IcmpKind::TimestampReply { .. } => None,
                _ => {
                    let q = icmp.quote.as_ref()?;
                    if q.dst != dst || q.proto != probe::probe_proto(&self.opts) {
                        return None;
                    }
                    match q.transport {
                        QuotedTransport::Icmp { id, seq, .. } if is_icmp(m) && id == ids.sport => {
                            if same {
                                self.identical_match(Some(q))
                            } else {
                                self.checked(seq, |_| true)
                            }
                        }
                        QuotedTransport::Udp { sport, dport, checksum, .. }
                            if m.is_udp() && sport == ids.sport =>
                        {
                            if m == TraceMethod::UDP {
                                self.checked(dport.wrapping_sub(ids.dport), |f| f.dport == dport)
                            } else if dport != ids.dport {
                                None
                            } else if same {
                                self.identical_match(Some(q))
                            } else {
                                self.checked(checksum.wrapping_sub(1), |f| f.checksum == Some(checksum))
                            }
                        }
                        QuotedTransport::Tcp { sport, dport, seq }
                            if m.is_tcp() && sport == ids.sport && dport == ids.dport =>
                        {
                            let i = seq.wrapping_sub(ids.tcp_base);
                            u16::try_from(i).ok().and_then(|i| self.checked(i, |f| f.tcp_seq == seq))
                        }
                        _ => None,
                    }
                }
            },
            RxTransport::Tcp(t) if m.is_tcp() && pkt.src == dst => {
                if t.dport != ids.sport || t.sport != ids.dport {
                    return None;
                }
                // A RST answering an ACK carries the probe's acknowledgement number as its
                // sequence number; any acknowledging reply to a SYN acknowledges seq + 1.
                let (n, want) = if m == TraceMethod::TCP_ACK {
                    (t.seq.wrapping_sub(ids.tcp_base), t.seq)
                } else if t.flags & scamper_packet::tcp::TH_ACK != 0 {
                    (t.ack.wrapping_sub(1).wrapping_sub(ids.tcp_base), t.ack.wrapping_sub(1))
                } else {
                    return None;
                };
                let ack_probe = m == TraceMethod::TCP_ACK;
                u16::try_from(n).ok().and_then(|i| {
                    self.checked(i, |f| if ack_probe { f.tcp_ack == want } else { f.tcp_seq == want })
                })
            }
            RxTransport::Udp(u) if m.is_udp() && pkt.src == dst && u.dport == ids.sport => {
                if m == TraceMethod::UDP {
                    self.checked(u.sport.wrapping_sub(ids.dport), |f| f.dport == u.sport)
                } else if u.sport == ids.dport {
                    // A UDP reply names no paris probe: as the manual says for -O dl, it is
                    // taken to answer the newest probe.
                    self.identical_match(None)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    fn reply_record(&self, pkt: &Rx, rtt: std::time::Duration) -> TraceReply {
        let mut r = TraceReply {
            addr: Some(Addr::from(pkt.src)),
            flags: reply_flags::REPLY_TTL | reply_flags::TS_SOCK_RX,
            reply_ttl: pkt.ttl,
            reply_tos: pkt.tos,
            reply_size: pkt.ip_len,
            reply_ipid: pkt.ip_id as u16,
            rtt: Timeval::from(rtt),
            ..TraceReply::default()
        };
        match &pkt.transport {
            RxTransport::Icmp(i) => {
                r.icmp_type = i.icmp_type;
                r.icmp_code = i.code;
                if let Some(q) = &i.quote {
                    r.icmp_q_iplen = q.ip_len;
                    r.icmp_q_ttl = q.ttl;
                    r.icmp_q_tos = q.tos;
                }
                if i.is_ptb() {
                    r.icmp_nhmtu = i.next_hop_mtu.unwrap_or(0);
                }
                r.icmp_exts = i
                    .extensions
                    .iter()
                    .map(|e| IcmpExt { class_num: e.class_num, class_type: e.c_type, data: e.data.clone() })
                    .collect();
            }
            RxTransport::Tcp(t) => {
                r.flags |= reply_flags::TCP;
                r.tcp_flags = t.flags;
            }
            RxTransport::Udp(_) => r.flags |= reply_flags::UDP,
            RxTransport::Other { .. } => {}
        }
        r
    }

    /// What one reply means for the trace.
    fn verdict(&self, r: &TraceReply) -> Verdict {
        let from_dst = r.addr == Some(Addr::from(self.opts.dst));
        if !r.is_icmp() {
            // TCP and UDP replies come only from the destination (the engine matched them by
            // source address).
            return Verdict::Stop(TraceStop::COMPLETED, 0);
        }
        let v4 = self.opts.dst.is_ipv4();
        let ignore_ttl_dst = self.opts.flags & flags::IGNORETTLDST != 0;
        let (t, c) = (r.icmp_type, r.icmp_code);
        let (echo_reply, time_exceeded, unreach, port_unreach) =
            if v4 { (0, 11, 3, 3) } else { (129, 3, 1, 4) };
        if t == echo_reply {
            Verdict::Stop(TraceStop::COMPLETED, 0)
        } else if t == time_exceeded {
            if from_dst && !ignore_ttl_dst {
                Verdict::Stop(TraceStop::COMPLETED, 0)
            } else {
                Verdict::Hop
            }
        } else if t == unreach {
            if c == port_unreach {
                Verdict::Stop(TraceStop::COMPLETED, 0)
            } else {
                Verdict::Stop(TraceStop::UNREACH, c)
            }
        } else {
            Verdict::Stop(TraceStop::ICMP, t)
        }
    }

    /// Whether `addr` replied at a TTL below `ttl - 1`: the packet came back to a router it
    /// had already passed. The same address at consecutive TTLs is not counted, as routers
    /// that answer for two TTLs are common.
    fn seen_before(&self, addr: &Addr, ttl: u8) -> bool {
        self.sent.iter().any(|s| {
            !s.lastditch
                && s.fields.ttl.saturating_add(1) < ttl
                && s.replies.iter().any(|r| r.addr.as_ref() == Some(addr))
        })
    }

    /// The current hop is over: decide whether and how the trace goes on.
    fn end_hop(&mut self) {
        let ttl = self.ttl;
        let hop = &self.sent[self.hop_first..];
        let replies: Vec<&TraceReply> = hop.iter().flat_map(|s| s.replies.iter()).collect();
        if replies.is_empty() {
            self.gap = self.gap.saturating_add(1);
            if self.opts.gaplimit != 0 && self.gap >= self.opts.gaplimit {
                self.stop = Some((TraceStop::GAPLIMIT, 0));
                if self.opts.gapaction == GAPACTION_LASTDITCH {
                    self.phase = Phase::LastDitch;
                    self.hop_first = self.sent.len();
                } else {
                    self.done = true;
                }
                return;
            }
        } else {
            self.gap = 0;
            let stop = replies.iter().find_map(|r| match self.verdict(r) {
                Verdict::Stop(reason, data) => Some((reason, data)),
                Verdict::Hop => None,
            });
            if let Some((reason, data)) = stop {
                self.finish_with(reason, data);
                return;
            }
            let looped = replies.iter().any(|r| r.addr.as_ref().is_some_and(|a| self.seen_before(a, ttl)));
            if looped {
                self.loops_seen = self.loops_seen.saturating_add(1);
                if self.opts.loops != 0 && self.loops_seen >= self.opts.loops {
                    self.finish_with(TraceStop::LOOP, 0);
                    return;
                }
            }
        }
        if ttl >= self.opts.max_ttl() {
            self.finish_with(TraceStop::HOPLIMIT, 0);
            return;
        }
        self.ttl = ttl + 1;
        self.hop_first = self.sent.len();
    }

    /// Send the next probe with `ttl` once `-W` (and `-H` for the same TTL) allow it.
    fn send_or_wait(&mut self, now: Time, ttl: u8, lastditch: bool) -> Action {
        let mut earliest = now;
        if let Some(last) = self.sent.last() {
            earliest = earliest.max(last.tx + self.opts.wait_probe);
        }
        if let Some(last) = self.sent[self.hop_first..].last() {
            earliest = earliest.max(last.tx + self.opts.wait_probe_hop);
        }
        if now < earliest {
            return Action::WaitUntil(earliest);
        }
        let Ok(index) = u16::try_from(self.sent.len()) else {
            self.errmsg = Some("too many probes".to_string());
            self.finish_with(TraceStop::ERROR, 0);
            return Action::Done;
        };
        let f = probe::fields(&self.opts, &self.ids, index, ttl);
        let packet = match probe::build(&self.opts, self.env.src, &f) {
            Ok(p) => p,
            Err(e) => {
                self.errmsg = Some(format!("could not build probe: {e}"));
                self.finish_with(TraceStop::ERROR, 0);
                return Action::Done;
            }
        };
        let attempt = (self.sent.len() - self.hop_first + 1) as u8;
        self.sent.push(Sent {
            fields: f,
            attempt,
            size: packet.len() as u16,
            // Provisional; on_sent gives the real transmit time.
            tx: now,
            replies: Vec::new(),
            lastditch,
        });
        Action::Send(Probe { dst: self.opts.dst, packet, key: self.key() })
    }

    fn build_record(self, _now: Time) -> Trace {
        let o = &self.opts;
        let (stop_reason, stop_data) = self.stop.unwrap_or((TraceStop::HALTED, 0));
        // A trace stopped before its stop condition (halted, error) keeps the reason it had.
        let (stop_reason, stop_data) =
            if self.done { (stop_reason, stop_data) } else { (TraceStop::HALTED, 0) };
        let to_probe = |s: &Sent| TraceProbe {
            ttl: s.fields.ttl,
            id: s.attempt,
            size: s.size,
            tx: Timeval::from(s.tx),
            replies: s.replies.clone(),
        };
        let mut probes: Vec<TraceProbe> =
            self.sent.iter().filter(|s| !s.lastditch).map(to_probe).collect();
        // Warts needs TTL order; each TTL's probes stay in send order.
        probes.sort_by_key(|p| p.ttl);
        let lastditch: Vec<TraceProbe> =
            self.sent.iter().filter(|s| s.lastditch).map(to_probe).collect();
        let hop_count = probes.iter().map(|p| u16::from(p.ttl)).max().unwrap_or(0);
        let dport = if o.method == TraceMethod::ICMP_ECHO_PARIS {
            self.ids.icmp_sum
        } else {
            self.ids.dport
        };
        Trace {
            list: Some(self.env.list.clone()),
            cycle: Some(self.env.cycle.clone()),
            userid: o.userid,
            src: Some(Addr::from(self.env.src)),
            dst: Some(Addr::from(o.dst)),
            rtr: o.rtr.map(Addr::from),
            start: Timeval::from(self.env.start),
            stop_reason,
            stop_data,
            errmsg: self.errmsg,
            flags: o.flags,
            attempts: o.attempts,
            hoplimit: o.hoplimit,
            method: o.method,
            probe_size: o.probe_size,
            sport: self.ids.sport,
            dport,
            firsthop: o.firsthop,
            tos: o.tos,
            wait_timeout: Timeval::from(o.wait_timeout),
            wait_probe: Timeval::from(o.wait_probe),
            loops: o.loops,
            hop_count,
            gaplimit: o.gaplimit,
            gapaction: o.gapaction,
            loopaction: 0,
            probec: self.sent.len() as u16,
            confidence: o.confidence,
            offset: o.offset,
            squeries: o.squeries,
            stop_hop: self.stop_hop,
            probes,
            pmtud: None,
            lastditch: (!lastditch.is_empty()).then_some(lastditch),
            dtree: None,
        }
    }
}

impl Task for TraceTask {
    fn dst(&self) -> IpAddr {
        self.opts.dst
    }

    fn poll(&mut self, now: Time) -> Action {
        let wait = self.opts.wait_timeout;
        loop {
            if self.done {
                return Action::Done;
            }
            let hop = &self.sent[self.hop_first..];
            let replied = hop.iter().any(|s| !s.replies.is_empty());
            let last_settled = hop.last().map_or(true, |s| !s.replies.is_empty() || now >= s.tx + wait);
            let n = hop.len();
            let attempts = usize::from(self.opts.attempts);
            match self.phase {
                Phase::Hops => {
                    if n > 0 && ((replied && !self.opts.all_attempts()) || (n >= attempts && last_settled)) {
                        self.end_hop();
                        continue;
                    }
                    if last_settled {
                        return self.send_or_wait(now, self.ttl, false);
                    }
                }
                Phase::LastDitch => {
                    // The gap-limit stop reason stays; these probes only show whether the
                    // destination would have answered.
                    if replied || (n >= attempts && last_settled) {
                        self.done = true;
                        continue;
                    }
                    if last_settled {
                        return self.send_or_wait(now, LASTDITCH_TTL, true);
                    }
                }
            }
            let deadline = hop.last().map_or(now, |s| s.tx + wait);
            return Action::WaitUntil(deadline);
        }
    }

    fn on_sent(&mut self, tx: Time) {
        if let Some(s) = self.sent.last_mut() {
            s.tx = tx;
        }
    }

    fn on_response(&mut self, pkt: &Rx, rx: Time) {
        if self.done {
            return;
        }
        let Some(i) = self.match_reply(pkt) else {
            return;
        };
        let reply = self.reply_record(pkt, rx.saturating_sub(self.sent[i].tx));
        let verdict = self.verdict(&reply);
        let s = &mut self.sent[i];
        s.replies.push(reply);
        // A late reply to an earlier hop that ends the path stops the trace at that hop.
        if self.phase == Phase::Hops && i < self.hop_first && !s.lastditch {
            if let Verdict::Stop(reason, data) = verdict {
                self.stop_hop = s.fields.ttl;
                self.finish_with(reason, data);
            }
        }
    }

    fn finish(self: Box<Self>, now: Time) -> Record {
        Record::Trace(Box::new(self.build_record(now)))
    }
}
