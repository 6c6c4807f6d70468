//! The traceroute state machine: hop-by-hop probing, reply matching, stop conditions and the
//! warts record.
//!
//! By default one probe is outstanding at a time (`-N 1`): a hop (TTL) gets up to `-q`
//! attempts, each waiting up to `-w` for a reply; without `-Q` the first reply ends the hop.
//! When a hop ends its replies decide whether the trace stops (destination reached,
//! unreachable, other ICMP, loop), otherwise an unresponsive hop counts towards the gap limit
//! and the TTL grows until the hop limit.
//!
//! With `-c confidence` a hop is not over at its first reply: it is probed until the rule of
//! [`super::confidence`] is met for the interfaces it has shown (several when load balancers
//! spread the probes' flows), and only then do its replies decide whether the trace stops.
//! `-q` does not apply to hops then; last-ditch and path-MTU discovery probes get the rule's
//! probe count for a single interface as their attempts. The rule also applies to the hops
//! of `-N` above 1 and of doubletree's backwards probing (scamper 20260420 disregards `-c`
//! when `-N` is above 1 and uses `-q` there).
//!
//! With `-N squeries` above 1, up to that many consecutive TTLs have a probe outstanding, one
//! per TTL. Hops still end in TTL order with the same rules, so the trace stops at the lowest
//! TTL that ends it; probes already sent beyond it stay in the record, and `stop_hop` names
//! the hop that stopped the trace.
//!
//! With doubletree (`-z`, `-Z`, `-O dtree-noback`, see [`super::dtree`]) probing forward from
//! `-f` also stops at a router in the global stop set, and is followed by probing backwards
//! from `-f` minus one.
//!
//! With `-o offset` the probes are lone non-first fragments (see [`super::probe`]). Each is
//! registered under its own key, `{ dst, protocol, IP-ID }`, and only ICMP errors that quote one
//! of them (destination as probed, same protocol, the fragment offset of `-o`, a known IP-ID /
//! IPv6 fragment identification) are taken as replies; echo, TCP and UDP replies cannot
//! answer a fragment that was never reassembled. What the replies mean is as for whole probes:
//! - time exceeded in transit from a router is a hop;
//! - the destination cannot reassemble a lone non-first fragment, so it never answers as the
//!   transport would (echo reply, port unreachable, SYN/ACK). If it answers at all it is with
//!   ICMP time exceeded, "fragment reassembly time exceeded" (code 1), once its reassembly timer
//!   (tens of seconds) runs out; like any time exceeded from the destination, that counts as
//!   reaching it (COMPLETED), late or not. A reassembly time exceeded from another address (a
//!   middlebox that reassembles) is a hop like any time exceeded. Hosts send that message only
//!   when they hold the first fragment (RFC 792, RFC 8200 §4.5), which these probes never
//!   supply, so a trace with `-o` usually finds the routers and then ends at the gap limit or
//!   the hop limit rather than with COMPLETED;
//! - unreachables and other ICMP errors quoting the fragment stop the trace as usual.

use std::net::IpAddr;

use scamper_packet::{IcmpKind, Quote, QuotedTransport, Rx, RxTransport};
use scamper_warts::icmpext::IcmpExt;
use scamper_warts::trace::{
    flags, reply_flags, Trace, TraceMethod, TracePmtud, TracePmtudNote, TraceProbe, TraceReply,
    TraceStop,
};
use scamper_warts::{Addr, Record, Timeval};

use super::confidence::{self, Level};
use super::dtree::{ip_of, Back, Dtree};
use super::options::{is_icmp, TraceOptions, GAPACTION_LASTDITCH};
use super::pmtud::{self, Answer, Pmtud};
use super::probe::{self, ProbeFields, ProbeTemplate, TraceIds};
use crate::task::{Action, MatchKey, Probe, Task, TaskEnv, Time};

mod datalink;

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
    /// Sent while probing backwards (doubletree).
    back: bool,
    /// A path-MTU discovery probe (`-M`), sent after the trace.
    pmtud: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Probing TTL by TTL.
    Hops,
    /// Gap limit reached with `-G 2`: probing the destination with a high TTL.
    LastDitch,
    /// Doubletree: probing from `-f` minus one towards the vantage point.
    Back,
}

/// What a reply says about the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// An intermediate hop (time exceeded from a router).
    Hop,
    /// The trace must stop for this reason and stop data.
    Stop(TraceStop, u8),
}

/// The replies to the probes in `sent` that went out with `ttl`.
fn replies_at(sent: &[Sent], ttl: u8) -> impl Iterator<Item = &TraceReply> {
    sent.iter()
        .filter(move |s| s.fields.ttl == ttl)
        .flat_map(|s| s.replies.iter())
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
    dtree: Option<Dtree>,
    /// Doubletree: no hop has answered as a router yet. While so, a first hop that answers
    /// as the destination (or unreachable) is too far: `-f` is halved and probing restarts.
    dtree_first: bool,
    /// The lowest TTL probed: `-f`, lowered by doubletree halving and backwards probing.
    firsthop: u8,
    /// Path-MTU discovery (`-M`), once the trace is done and it applies.
    pmtud: Option<Pmtud>,
    /// Index in `sent` of the first probe of the current PMTUD step.
    pmtud_first: usize,
    /// `-O dl` / `-r`: probes whose transmit time came from the datalink.
    dltx: std::collections::BTreeSet<usize>,
    /// The first probe's packet, from which the later ones are made.
    template: Option<ProbeTemplate>,
    /// The last sent probe's buffer, for the next one (see [`Task::recycle`]).
    spare_packet: Vec<u8>,
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
        let dtree = Dtree::new(&opts, env.stop_sets.clone());
        TraceTask {
            ttl: opts.firsthop,
            firsthop: opts.firsthop,
            dtree_first: dtree.is_some(),
            dtree,
            pmtud: None,
            pmtud_first: 0,
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
            dltx: Default::default(),
            template: None,
            spare_packet: Vec::new(),
        }
    }

    fn key(&self) -> MatchKey {
        MatchKey {
            peer: self.opts.dst,
            proto: probe::probe_proto(&self.opts),
            local_id: self.ids.sport,
        }
    }

    /// The key replies to probe `f` arrive under: the trace's key, or for fragment probes,
    /// whose quotes carry no ports or ICMP id, the probe's own IP-ID.
    fn probe_key(&self, f: &ProbeFields) -> MatchKey {
        let key = self.key();
        if probe::fragment_probes(&self.opts) {
            MatchKey {
                local_id: f.ip_id,
                ..key
            }
        } else {
            key
        }
    }

    /// Fragment probes (`-o`): the probe an ICMP error's quotation names by its IP-ID (IPv4) or
    /// fragment identification (IPv6), if it quotes one of our fragments.
    fn fragment_match(&self, pkt: &Rx) -> Option<usize> {
        let q = pkt.icmp()?.quote.as_ref()?;
        if q.dst != self.opts.dst
            || q.proto != probe::probe_proto(&self.opts)
            || q.frag_offset != self.opts.offset
            || q.transport != QuotedTransport::Other
        {
            return None;
        }
        self.sent
            .iter()
            .rposition(|s| !s.pmtud && u32::from(s.fields.ip_id) == q.ip_id)
    }

    /// Probing forward (and any last-ditch probing) ended for this reason.
    fn finish_with(&mut self, reason: TraceStop, data: u8) {
        self.stop = Some((reason, data));
        if reason == TraceStop::ERROR {
            self.done = true;
        } else {
            self.end_forward();
        }
    }

    /// Forward probing is over: probe backwards (doubletree) or finish.
    fn end_forward(&mut self) {
        let back = self
            .dtree
            .as_ref()
            .is_some_and(|d| !d.noback() && self.firsthop > 1);
        if back {
            self.phase = Phase::Back;
            self.ttl = self.firsthop - 1;
            self.hop_first = self.sent.len();
        } else {
            self.done = true;
        }
    }

    /// A backwards hop is over: the local stop set decides whether probing goes on.
    fn end_back_hop(&mut self) {
        let ttl = self.ttl;
        let mut addrs: Vec<IpAddr> = Vec::new();
        for r in self.sent[self.hop_first..].iter().flat_map(|s| &s.replies) {
            if let Some(a) = r.addr.as_ref().and_then(ip_of) {
                if !addrs.contains(&a) {
                    addrs.push(a);
                }
            }
        }
        self.firsthop = ttl;
        let Some(d) = self.dtree.as_mut() else {
            self.done = true;
            return;
        };
        match d.back_hop(ttl, &addrs) {
            Back::Stop => self.done = true,
            Back::Continue => {
                self.ttl = ttl - 1;
                self.hop_first = self.sent.len();
            }
        }
    }

    /// Router addresses of forward probes (doubletree's global stop set learns them).
    fn forward_routers(&self) -> Vec<IpAddr> {
        self.sent
            .iter()
            .filter(|s| !s.lastditch && !s.back && !s.pmtud)
            .flat_map(|s| &s.replies)
            .filter(|r| self.verdict(r) == Verdict::Hop)
            .filter_map(|r| r.addr.as_ref().and_then(ip_of))
            .collect()
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
            Some(q) if !q.is_ipv6() => self
                .sent
                .iter()
                .rposition(|s| u32::from(s.fields.ip_id) == q.ip_id),
            _ => self.sent.len().checked_sub(1),
        }
    }

    /// Which probe does this packet answer? Only what the packet carries is used.
    fn match_reply(&self, pkt: &Rx) -> Option<usize> {
        if probe::fragment_probes(&self.opts) {
            return self.fragment_match(pkt);
        }
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
                        QuotedTransport::Udp {
                            sport,
                            dport,
                            checksum,
                            ..
                        } if m.is_udp() && sport == ids.sport => {
                            if m == TraceMethod::UDP {
                                self.checked(dport.wrapping_sub(ids.dport), |f| f.dport == dport)
                            } else if dport != ids.dport {
                                None
                            } else if same {
                                self.identical_match(Some(q))
                            } else {
                                self.checked(checksum.wrapping_sub(1), |f| {
                                    f.checksum == Some(checksum)
                                })
                            }
                        }
                        QuotedTransport::Tcp { sport, dport, seq }
                            if m.is_tcp() && sport == ids.sport && dport == ids.dport =>
                        {
                            let i = seq.wrapping_sub(ids.tcp_base);
                            u16::try_from(i)
                                .ok()
                                .and_then(|i| self.checked(i, |f| f.tcp_seq == seq))
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
                    (
                        t.ack.wrapping_sub(1).wrapping_sub(ids.tcp_base),
                        t.ack.wrapping_sub(1),
                    )
                } else {
                    return None;
                };
                let ack_probe = m == TraceMethod::TCP_ACK;
                u16::try_from(n).ok().and_then(|i| {
                    self.checked(i, |f| {
                        if ack_probe {
                            f.tcp_ack == want
                        } else {
                            f.tcp_seq == want
                        }
                    })
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
                    .map(|e| IcmpExt {
                        class_num: e.class_num,
                        class_type: e.c_type,
                        data: e.data.clone(),
                    })
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

    /// The `-c` level, if any.
    fn confidence(&self) -> Option<Level> {
        Level::from_percent(self.opts.confidence)
    }

    /// Attempts for probing that does not enumerate a hop's interfaces (last-ditch, PMTUD):
    /// `-q`, or with `-c` the rule's count for one interface, as scamper does.
    fn plain_attempts(&self) -> usize {
        usize::from(
            self.confidence()
                .map_or(self.opts.attempts, confidence::plain_attempts),
        )
    }

    /// Whether a hop whose probes are `probes` (in send order) is over, `newest_settled` when
    /// its newest probe has been answered or has timed out. Without `-c`: a reply ends it
    /// (unless `-Q`), else `-q` probes that all settled. With `-c`: the confidence rule over
    /// the distinct addresses that replied.
    fn hop_over<'a>(&self, probes: impl Iterator<Item = &'a Sent>, newest_settled: bool) -> bool {
        let (mut n, mut replied) = (0usize, false);
        // Distinct addresses, for -c only (no allocation per poll otherwise).
        let level = self.confidence();
        let mut interfaces: Vec<&Addr> = Vec::new();
        for s in probes {
            n += 1;
            replied |= !s.replies.is_empty();
            if level.is_none() {
                continue;
            }
            for a in s.replies.iter().filter_map(|r| r.addr.as_ref()) {
                if !interfaces.contains(&a) {
                    interfaces.push(a);
                }
            }
        }
        if n == 0 {
            return false;
        }
        match level {
            Some(level) => confidence::hop_over(level, n, interfaces.len(), newest_settled),
            None => {
                (replied && !self.opts.all_attempts())
                    || (n >= usize::from(self.opts.attempts) && newest_settled)
            }
        }
    }

    /// Probes of the current run at `ttl`: with `-N 1` every probe from `hop_first` on, as
    /// each hop starts a new run; with more, the run holds several TTLs.
    fn hop_probes(&self, ttl: u8) -> impl Iterator<Item = &Sent> {
        self.sent[self.hop_first..]
            .iter()
            .filter(move |s| s.fields.ttl == ttl)
    }

    /// The current hop is over: decide whether and how the trace goes on.
    fn end_hop(&mut self) {
        let ttl = self.ttl;
        // As hop_probes, borrowing only `sent`: the state below changes.
        let first = self.hop_first;
        if replies_at(&self.sent[first..], ttl).next().is_none() {
            self.dtree_first = false;
            self.gap = self.gap.saturating_add(1);
            if self.opts.gaplimit != 0 && self.gap >= self.opts.gaplimit {
                self.stop = Some((TraceStop::GAPLIMIT, 0));
                if self.opts.gapaction == GAPACTION_LASTDITCH {
                    self.phase = Phase::LastDitch;
                    self.hop_first = self.sent.len();
                } else {
                    self.end_forward();
                }
                return;
            }
        } else {
            self.gap = 0;
            let stop = replies_at(&self.sent[first..], ttl).find_map(|r| match self.verdict(r) {
                Verdict::Stop(reason, data) => Some((reason, data)),
                Verdict::Hop => None,
            });
            if let Some((reason, data)) = stop {
                if self.dtree_first && ttl > 1 {
                    // Doubletree's first hop is at or beyond the destination: start again
                    // nearer, at half the distance.
                    self.firsthop = ttl / 2;
                    self.ttl = self.firsthop;
                    self.hop_first = self.sent.len();
                    return;
                }
                self.finish_with(reason, data);
                return;
            }
            self.dtree_first = false;
            if let Some(d) = self.dtree.as_mut() {
                let routers: Vec<IpAddr> = replies_at(&self.sent[first..], ttl)
                    .filter_map(|r| r.addr.as_ref().and_then(ip_of))
                    .collect();
                if d.forward_hit(&routers).is_some() {
                    self.finish_with(TraceStop::GSS, 0);
                    return;
                }
            }
            // Each address of the hop that came back from further up counts once, as in
            // scamper: a hop enumerated with -c (or -Q) may show several.
            let mut looped: Vec<&Addr> = Vec::new();
            for a in replies_at(&self.sent[first..], ttl).filter_map(|r| r.addr.as_ref()) {
                if !looped.contains(&a) && self.seen_before(a, ttl) {
                    looped.push(a);
                }
            }
            if !looped.is_empty() {
                let n = u8::try_from(looped.len()).unwrap_or(u8::MAX);
                self.loops_seen = self.loops_seen.saturating_add(n);
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
        if self.opts.squeries <= 1 {
            self.hop_first = self.sent.len();
        }
    }

    /// Send the next probe with `ttl` once `-W` (and `-H` for the same TTL) allow it.
    fn send_or_wait(&mut self, now: Time, ttl: u8, lastditch: bool) -> Action {
        let mut earliest = now;
        if let Some(last) = self.sent.last() {
            earliest = earliest.max(last.tx + self.opts.wait_probe);
        }
        if let Some(last) = self.hop_probes(ttl).last() {
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
        if self.template.is_none() && self.sent.is_empty() {
            self.template = probe::reuse_template(&self.opts, self.env.src, self.ids.sport);
        }
        let built = match &self.template {
            Some(t) => t.make_in(&f, std::mem::take(&mut self.spare_packet)),
            None => probe::build(&self.opts, self.env.src, &f),
        };
        let packet = match built {
            Ok(p) => p,
            Err(e) => {
                self.errmsg = Some(format!("could not build probe: {e}"));
                self.finish_with(TraceStop::ERROR, 0);
                return Action::Done;
            }
        };
        if self.template.is_none() {
            self.template = ProbeTemplate::new(&self.opts, self.env.src, &packet);
            if let Some(t) = &self.template {
                probe::remember_template(&self.opts, self.env.src, self.ids.sport, t);
            }
        }
        let attempt = (self.hop_probes(ttl).count() + 1) as u8;
        self.sent.push(Sent {
            fields: f,
            attempt,
            size: packet.len() as u16,
            // Provisional; on_sent gives the real transmit time.
            tx: now,
            replies: Vec::new(),
            lastditch,
            back: self.phase == Phase::Back,
            pmtud: false,
        });
        Action::Send(Probe {
            dst: self.opts.dst,
            packet,
            key: self.probe_key(&f),
        })
    }

    /// Whether hop `ttl` of the current run is over: answered (without `-Q`), or every
    /// attempt sent and the last one answered or timed out. Also whether its newest probe is
    /// settled, and when it times out if not.
    fn hop_status(&self, ttl: u8, now: Time) -> (bool, bool, Option<Time>) {
        let wait = self.opts.wait_timeout;
        let pending = self
            .hop_probes(ttl)
            .last()
            .filter(|s| s.replies.is_empty() && now < s.tx + wait)
            .map(|s| s.tx + wait);
        let over = self.hop_over(self.hop_probes(ttl), pending.is_none());
        (over, pending.is_none(), pending)
    }

    /// Whether a hop's replies would stop the trace when its turn comes.
    fn hop_stops(&self, ttl: u8) -> bool {
        self.hop_probes(ttl)
            .flat_map(|s| s.replies.iter())
            .any(|r| matches!(self.verdict(r), Verdict::Stop(..)))
    }

    /// `-N` above 1: end the lowest hop once it is over, else send for the lowest hop of the
    /// window that may have another probe, else wait for the first timeout. `None` when a hop
    /// ended, so the caller looks at the new state.
    fn poll_parallel(&mut self, now: Time) -> Option<Action> {
        let ttl = self.ttl;
        if self.hop_status(ttl, now).0 {
            // Probes beyond this hop are already out: if it stops the trace, say where.
            let beyond = self.sent[self.hop_first..]
                .iter()
                .any(|s| s.fields.ttl > ttl);
            self.end_hop();
            if beyond && self.stop.is_some() && self.stop_hop == 0 {
                self.stop_hop = ttl;
            }
            return None;
        }
        let top = ttl
            .saturating_add(self.opts.squeries - 1)
            .min(self.opts.max_ttl());
        let mut send = None;
        let mut deadline: Option<Time> = None;
        for t in ttl..=top {
            let (over, settled, pending) = self.hop_status(t, now);
            if !over {
                if settled {
                    send = send.or(Some(t));
                }
                deadline = match (deadline, pending) {
                    (Some(d), Some(p)) => Some(d.min(p)),
                    (d, p) => d.or(p),
                };
            }
            // A hop with a reply that stops the trace ends it once the hop is over (with -Q
            // or -c it may still want probes): probing further is wasted.
            if self.hop_stops(t) {
                break;
            }
        }
        let action = match send {
            Some(t) => self.send_or_wait(now, t, false),
            None => Action::WaitUntil(deadline.unwrap_or(now + self.opts.wait_timeout)),
        };
        // Waiting for -W or -H must not delay noticing another hop's timeout.
        Some(match (action, deadline) {
            (Action::WaitUntil(w), Some(d)) => Action::WaitUntil(w.min(d)),
            (a, _) => a,
        })
    }

    /// The record so far. `take` moves the hop replies into it (the final record, after which
    /// the task is dropped) instead of copying them (`-y` snapshots).
    fn build_record(&mut self, take: bool) -> Trace {
        // PMTUD probes are not taken: pmtud_record copies them.
        let pmtud = self.pmtud_record();
        let mut probes: Vec<TraceProbe> = Vec::with_capacity(self.sent.len());
        let mut lastditch: Vec<TraceProbe> = Vec::new();
        for s in self.sent.iter_mut().filter(|s| !s.pmtud) {
            let p = TraceProbe {
                ttl: s.fields.ttl,
                id: s.attempt,
                size: s.size,
                tx: Timeval::from(s.tx),
                replies: if take {
                    std::mem::take(&mut s.replies)
                } else {
                    s.replies.clone()
                },
            };
            if s.lastditch {
                lastditch.push(p);
            } else {
                probes.push(p);
            }
        }
        // Warts needs TTL order; each TTL's probes stay in send order.
        if !probes.is_sorted_by_key(|p| p.ttl) {
            probes.sort_by_key(|p| p.ttl);
        }
        let o = &self.opts;
        // Stopped by the engine before a stop condition (possibly during last-ditch probing
        // after the gap limit): halted. Backwards probing comes after the forward phase has
        // found its stop reason.
        let (stop_reason, stop_data) = match self.stop {
            Some(stop) if self.done || self.phase == Phase::Back => stop,
            _ => (TraceStop::HALTED, 0),
        };
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
            errmsg: self.errmsg.clone(),
            flags: o.flags,
            attempts: o.attempts,
            hoplimit: o.hoplimit,
            method: o.method,
            probe_size: o.probe_size,
            sport: self.ids.sport,
            dport,
            firsthop: self.firsthop,
            tos: o.tos,
            wait_timeout: Timeval::from(o.wait_timeout),
            wait_probe: Timeval::from(o.wait_probe),
            loops: o.loops,
            hop_count,
            gaplimit: o.gaplimit,
            gapaction: o.gapaction,
            loopaction: 0,
            probec: self.sent.iter().filter(|s| !s.pmtud).count() as u16,
            confidence: o.confidence,
            offset: o.offset,
            squeries: o.squeries,
            stop_hop: self.stop_hop,
            probes,
            pmtud,
            lastditch: (!lastditch.is_empty()).then_some(lastditch),
            dtree: self.dtree.as_ref().map(Dtree::record),
        }
    }
}

/// Path-MTU discovery (`-M`) after the trace: [`Pmtud`] decides, this sends and times out.
impl TraceTask {
    /// The manual's conditions: a responsive destination (else lost big packets cannot be told
    /// from lost packets), and not TCP SYN probes, whose answers allow no reliable inference.
    fn wants_pmtud(&self) -> bool {
        self.opts.flags & flags::PMTUD != 0
            && matches!(self.stop, Some((TraceStop::COMPLETED, _)))
            && self.opts.method != TraceMethod::TCP
    }

    /// TTLs at which a router (not the destination) answered the trace, for the hop search.
    fn router_ttls(&self) -> Vec<u8> {
        let mut ttls: Vec<u8> = self
            .sent
            .iter()
            .filter(|s| !s.lastditch && !s.pmtud)
            .filter(|s| s.replies.iter().any(|r| self.verdict(r) == Verdict::Hop))
            .map(|s| s.fields.ttl)
            .collect();
        ttls.sort_unstable();
        ttls.dedup();
        ttls
    }

    fn poll_pmtud(&mut self, now: Time) -> Action {
        if self.pmtud.is_none() {
            if !self.wants_pmtud() {
                return Action::Done;
            }
            let ifmtu = self.env.route_mtu.unwrap_or(pmtud::DEFAULT_IFMTU);
            let pm = Pmtud::new(self.opts.dst.is_ipv6(), ifmtu, self.router_ttls());
            self.pmtud = Some(pm);
            self.pmtud_first = self.sent.len();
        }
        let wait = self.opts.wait_timeout;
        let attempts = self.plain_attempts();
        loop {
            let Some(step) = self.pmtud.as_ref().and_then(Pmtud::step) else {
                return Action::Done;
            };
            // A reply moves the search on at once, so the step's probes here are unanswered.
            let cur = &self.sent[self.pmtud_first..];
            let settled = cur.last().is_none_or(|s| now >= s.tx + wait);
            if !settled {
                return Action::WaitUntil(cur.last().map_or(now, |s| s.tx + wait));
            }
            if cur.len() >= attempts {
                if let Some(pm) = self.pmtud.as_mut() {
                    pm.on_silence();
                }
                self.pmtud_first = self.sent.len();
                continue;
            }
            return self.send_pmtud(now, step);
        }
    }

    fn send_pmtud(&mut self, now: Time, step: pmtud::Step) -> Action {
        if let Some(last) = self.sent.last() {
            let earliest = last.tx + self.opts.wait_probe;
            if now < earliest {
                return Action::WaitUntil(earliest);
            }
        }
        let built = u16::try_from(self.sent.len())
            .map_err(|_| "too many probes".to_string())
            .and_then(|index| {
                let f = probe::fields(&self.opts, &self.ids, index, step.ttl);
                probe::build_sized(&self.opts, self.env.src, &f, step.size)
                    .map(|p| (f, p))
                    .map_err(|e| format!("could not build PMTUD probe: {e}"))
            });
        let (f, packet) = match built {
            Ok(b) => b,
            Err(e) => {
                // The trace itself is complete; only the PMTUD search ends here.
                self.errmsg = Some(e);
                self.pmtud = self.pmtud.take().map(|mut pm| {
                    pm.abandon();
                    pm
                });
                return Action::Done;
            }
        };
        self.sent.push(Sent {
            fields: f,
            attempt: (self.sent.len() - self.pmtud_first + 1) as u8,
            size: packet.len() as u16,
            tx: now,
            replies: Vec::new(),
            lastditch: false,
            back: false,
            pmtud: true,
        });
        Action::Send(Probe {
            dst: self.opts.dst,
            packet,
            key: self.key(),
        })
    }

    /// A reply after the trace: it matters only to a PMTUD probe.
    fn pmtud_response(&mut self, pkt: &Rx, rx: Time) {
        if self.pmtud.as_ref().is_none_or(Pmtud::is_done) {
            return;
        }
        let Some(i) = self.match_reply(pkt).filter(|&i| self.sent[i].pmtud) else {
            return;
        };
        let reply = self.reply_record(pkt, rx.saturating_sub(self.sent[i].tx));
        let reply = self.datalink_reply(i, reply);
        let answer = if reply.is_ptb() {
            Answer::TooBig(reply.icmp_nhmtu)
        } else {
            match self.verdict(&reply) {
                Verdict::Stop(TraceStop::COMPLETED, _) => Answer::Destination,
                Verdict::Hop => Answer::TimeExceeded,
                Verdict::Stop(..) => Answer::Other,
            }
        };
        let s = &mut self.sent[i];
        let at = (i, s.replies.len());
        s.replies.push(reply);
        // Late replies to an earlier step are kept but no longer steer the search.
        if i >= self.pmtud_first {
            if let Some(pm) = self.pmtud.as_mut() {
                pm.on_answer(answer, at);
            }
            self.pmtud_first = self.sent.len();
        }
    }

    fn pmtud_record(&self) -> Option<TracePmtud> {
        let pm = self.pmtud.as_ref()?;
        // Readers (scamper's too) need hop records in TTL order, so the hop search's
        // TTL-limited probes go before those to the destination (TTL 255).
        let mut order: Vec<usize> = (0..self.sent.len())
            .filter(|&i| self.sent[i].pmtud)
            .collect();
        order.sort_by_key(|&i| self.sent[i].fields.ttl);
        // Notes name a reply by its position among all replies of the PMTUD probes, in
        // record order.
        let flat = |(probe, nth): pmtud::ReplyRef| {
            let before: usize = order
                .iter()
                .take_while(|&&i| i != probe)
                .map(|&i| self.sent[i].replies.len())
                .sum();
            u16::try_from(before + nth).ok()
        };
        Some(TracePmtud {
            ifmtu: pm.ifmtu,
            pmtu: pm.pmtu,
            outmtu: pm.outmtu,
            ver: pmtud::VERSION,
            probes: order
                .iter()
                .map(|&i| {
                    let s = &self.sent[i];
                    TraceProbe {
                        ttl: s.fields.ttl,
                        id: s.attempt,
                        size: s.size,
                        tx: Timeval::from(s.tx),
                        replies: s.replies.clone(),
                    }
                })
                .collect(),
            notes: pm
                .notes
                .iter()
                .map(|n| TracePmtudNote {
                    kind: n.kind,
                    nhmtu: n.nhmtu,
                    reply: n.reply.and_then(flat),
                })
                .collect(),
        })
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
                return self.poll_pmtud(now);
            }
            let hop = &self.sent[self.hop_first..];
            let replied = hop.iter().any(|s| !s.replies.is_empty());
            // The newest probe of the hop was answered or has timed out (or none was sent).
            let last_settled = match hop.last() {
                Some(s) => !s.replies.is_empty() || now >= s.tx + wait,
                None => true,
            };
            let n = hop.len();
            let attempts = self.plain_attempts();
            match self.phase {
                Phase::Hops if self.opts.squeries > 1 => match self.poll_parallel(now) {
                    Some(action) => return action,
                    None => continue,
                },
                Phase::Hops => {
                    if self.hop_over(hop.iter(), last_settled) {
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
                        self.end_forward();
                        continue;
                    }
                    if last_settled {
                        return self.send_or_wait(now, LASTDITCH_TTL, true);
                    }
                }
                Phase::Back => {
                    if self.hop_over(hop.iter(), last_settled) {
                        self.end_back_hop();
                        continue;
                    }
                    if last_settled {
                        return self.send_or_wait(now, self.ttl, false);
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

    fn recycle(&mut self, packet: Vec<u8>) {
        self.spare_packet = packet;
    }

    /// The common case of [`TraceTask::poll`] after a send: probing hop by hop without `-N`
    /// or `-c`, no reply in the hop yet and the new probe not timed out, so the hop is not over
    /// and the poll would wait for that probe's timeout.
    fn wait_after_send(&mut self, now: Time) -> Option<Time> {
        if self.done
            || self.phase != Phase::Hops
            || self.opts.squeries > 1
            || self.confidence().is_some()
        {
            return None;
        }
        let hop = &self.sent[self.hop_first..];
        let deadline = hop.last()?.tx + self.opts.wait_timeout;
        (now < deadline && hop.iter().all(|s| s.replies.is_empty())).then_some(deadline)
    }

    fn on_response(&mut self, pkt: &Rx, rx: Time) {
        if self.datalink_tx(pkt, rx) || self.unseen_without_datalink(pkt) {
            return;
        }
        if self.done {
            self.pmtud_response(pkt, rx);
            return;
        }
        let Some(i) = self.match_reply(pkt) else {
            return;
        };
        let reply = self.reply_record(pkt, rx.saturating_sub(self.sent[i].tx));
        let reply = self.datalink_reply(i, reply);
        let verdict = self.verdict(&reply);
        let s = &mut self.sent[i];
        // Most probes get one reply: room for one, not Vec's first four, while the trace and
        // its record wait to be written.
        if s.replies.capacity() == 0 {
            // (Allocated directly: reserve_exact on an empty Vec takes the slower growth path.)
            s.replies = Vec::with_capacity(1);
        }
        s.replies.push(reply);
        // A late reply to an earlier hop that ends the path stops the trace at that hop.
        // With -N above 1 the run holds several hops; those below the current one are over.
        let earlier = i < self.hop_first || (self.opts.squeries > 1 && s.fields.ttl < self.ttl);
        if self.phase == Phase::Hops && earlier && !s.lastditch {
            if let Verdict::Stop(reason, data) = verdict {
                self.stop_hop = s.fields.ttl;
                self.finish_with(reason, data);
            }
        }
    }

    /// `-y stream`: after every `stream` probes, the record so far with stop reason
    /// INPROGRESS. Unlike ping, a trace cannot know which probe is its last, so the final
    /// record may follow a snapshot of the same probes.
    fn snapshot(&mut self, _now: Time) -> Option<Record> {
        let every = usize::from(self.opts.stream);
        if every == 0 || self.sent.is_empty() || !self.sent.len().is_multiple_of(every) {
            return None;
        }
        let mut tr = self.build_record(false);
        (tr.stop_reason, tr.stop_data) = (TraceStop::INPROGRESS, 0);
        Some(Record::Trace(Box::new(tr)))
    }

    fn finish(mut self: Box<Self>, _now: Time) -> Record {
        if let Some(d) = &self.dtree {
            d.learn_forward(self.forward_routers());
        }
        Record::Trace(Box::new(self.build_record(true)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scamper_packet::tcp::{TH_ACK, TH_RST, TH_SYN};
    use scamper_packet::{
        build_icmp_echo, build_icmp_error, build_tcp, parse_ip, IcmpExtObject, IpParams,
        MplsLabelEntry, TcpParams,
    };
    use scamper_warts::{Cycle, List};
    use std::sync::Arc;
    use std::time::Duration;

    const SPORT: u16 = 40000;
    const START: Duration = Duration::from_secs(1_700_000_000);

    fn src_for(dst: IpAddr) -> IpAddr {
        if dst.is_ipv4() {
            "192.0.2.10"
        } else {
            "2001:db8::10"
        }
        .parse()
        .unwrap()
    }

    fn task(cmd: &str) -> TraceTask {
        task_with(cmd, Default::default())
    }

    /// A task whose doubletree stop sets are `sets` (shared with other tasks).
    fn task_with(cmd: &str, sets: Arc<std::sync::Mutex<crate::task::StopSets>>) -> TraceTask {
        let w: Vec<&str> = cmd.split_whitespace().collect();
        let opts = TraceOptions::parse(&w).unwrap();
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
        let src_addr = src_for(opts.dst);
        let env = TaskEnv {
            src: src_addr,
            real_src: src_addr,
            route_mtu: None,
            stop_sets: sets,
            ifnames: Default::default(),
            default_sport: SPORT,
            start: START,
            list,
            cycle,
        };
        TraceTask::new(opts, env)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The key the engine computes for a reply (the contract in crate::task).
    fn engine_key(rx: &Rx) -> Option<MatchKey> {
        let k = |peer, proto, local_id| {
            Some(MatchKey {
                peer,
                proto,
                local_id,
            })
        };
        match &rx.transport {
            RxTransport::Icmp(i) => match (i.kind, &i.quote) {
                (IcmpKind::EchoReply { id, .. }, _) => {
                    k(rx.src, if i.is_ipv6 { 58 } else { 1 }, id)
                }
                (_, Some(q)) => match q.transport {
                    QuotedTransport::Icmp { id, .. } => k(q.dst, q.proto, id),
                    QuotedTransport::Udp { sport, .. } => k(q.dst, 17, sport),
                    QuotedTransport::Tcp { sport, .. } => k(q.dst, 6, sport),
                    // A quoted non-first fragment: its IP-ID (trace -o).
                    QuotedTransport::Other => k(q.dst, q.proto, q.ip_id as u16),
                },
                _ => None,
            },
            RxTransport::Tcp(t) => k(rx.src, 6, t.dport),
            RxTransport::Udp(u) => k(rx.src, 17, u.dport),
            RxTransport::Other { .. } => None,
        }
    }

    /// A router's ICMP error quoting `probe` as it arrived (TTL 1), from `from`.
    fn icmp_error(probe: &[u8], from: IpAddr, t: u8, code: u8, exts: &[IcmpExtObject]) -> Vec<u8> {
        let rx = parse_ip(probe).unwrap();
        let mut quoted = probe.to_vec();
        // The router quotes the header it received: TTL/hop limit 1 (IPv4 header checksum
        // left as sent; nothing checks it).
        if rx.is_ipv6() {
            quoted[7] = 1
        } else {
            quoted[8] = 1
        }
        let mut p = IpParams::new(from, rx.src);
        p.ttl = 250;
        p.ip_id = 77;
        build_icmp_error(&p, t, code, 0, &quoted, exts).unwrap()
    }

    fn time_exceeded(probe: &[u8], from: IpAddr) -> Vec<u8> {
        let t = if from.is_ipv4() { 11 } else { 3 };
        icmp_error(probe, from, t, 0, &[])
    }

    /// What the destination answers to a probe of each method.
    fn dst_reply(probe: &[u8]) -> Vec<u8> {
        let rx = parse_ip(probe).unwrap();
        let mut p = IpParams::new(rx.dst, rx.src);
        p.ttl = 60;
        match &rx.transport {
            RxTransport::Udp(_) => {
                let (t, c) = if rx.is_ipv6() { (1, 4) } else { (3, 3) };
                icmp_error(probe, rx.dst, t, c, &[])
            }
            RxTransport::Icmp(i) => match i.kind {
                IcmpKind::EchoRequest { id, seq } if rx.is_ipv6() => {
                    build_icmp6_echo_reply(&p, id, seq, &probe[48..])
                }
                IcmpKind::EchoRequest { id, seq } => {
                    let mut r = build_icmp_echo(&p, id, seq, &probe[28..]).unwrap();
                    // Turn the request (type 8) into a reply (type 0): the checksum, the
                    // complement of the sum, grows by 0x0800 (with end-around carry).
                    r[20] = 0;
                    let (s, c) = u16::from_be_bytes([r[22], r[23]]).overflowing_add(0x0800);
                    r[22..24].copy_from_slice(&(s + u16::from(c)).to_be_bytes());
                    r
                }
                _ => panic!("not a probe"),
            },
            RxTransport::Tcp(t) => {
                let reply = if t.flags & TH_SYN != 0 {
                    TcpParams {
                        sport: t.dport,
                        dport: t.sport,
                        seq: 9,
                        ack: t.seq.wrapping_add(1),
                        flags: TH_SYN | TH_ACK,
                        window: 1000,
                        ..TcpParams::default()
                    }
                } else {
                    TcpParams {
                        sport: t.dport,
                        dport: t.sport,
                        seq: t.ack,
                        flags: TH_RST,
                        ..TcpParams::default()
                    }
                };
                build_tcp(&p, &reply).unwrap()
            }
            RxTransport::Other { .. } => panic!("not a probe"),
        }
    }

    /// ICMPv6 echo reply: the builder makes requests, so rewrite the type and recompute the
    /// checksum over the pseudo header.
    fn build_icmp6_echo_reply(p: &IpParams, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut r = build_icmp_echo(p, id, seq, payload).unwrap();
        r[40] = 129;
        r[42] = 0;
        r[43] = 0;
        let (IpAddr::V6(s), IpAddr::V6(d)) = (p.src, p.dst) else {
            unreachable!()
        };
        let len = (r.len() - 40) as u32;
        let mut sum: u32 = 0;
        let mut add = |b: &[u8]| {
            for c in b.chunks(2) {
                sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
        };
        add(&s.octets());
        add(&d.octets());
        add(&len.to_be_bytes());
        add(&[0, 0, 0, 58]);
        add(&r[40..]);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        r[42..44].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        r
    }

    /// Runs the task against a simulated network: `net` gets each probe and may return a reply
    /// and its delay. Returns the probes sent with their transmit times.
    struct Sim {
        t: TraceTask,
        now: Time,
        sent: Vec<(Probe, Time)>,
        pending: Vec<(Time, Vec<u8>)>,
        /// In-progress records (`-y`), asked for after each send as the engine does.
        snaps: Vec<Trace>,
        /// Sends after which `wait_after_send` stood in for a poll.
        shortcuts: usize,
    }

    impl Sim {
        fn new(cmd: &str) -> Sim {
            Sim::with_sets(cmd, Default::default())
        }

        fn with_sets(cmd: &str, sets: Arc<std::sync::Mutex<crate::task::StopSets>>) -> Sim {
            Sim {
                t: task_with(cmd, sets),
                now: START,
                sent: Vec::new(),
                pending: Vec::new(),
                snaps: Vec::new(),
                shortcuts: 0,
            }
        }

        fn run(
            &mut self,
            mut net: impl FnMut(&[u8], usize) -> Option<(Vec<u8>, Duration)>,
        ) -> Trace {
            for _ in 0..10_000 {
                match self.t.poll(self.now) {
                    Action::Send(p) => {
                        assert!(self.sent.iter().all(|(_, tx)| *tx <= self.now));
                        self.t.on_sent(self.now);
                        if let Some(Record::Trace(tr)) = self.t.snapshot(self.now) {
                            self.snaps.push(*tr);
                        }
                        // The engine takes this instead of a poll: it must be what a poll
                        // says (every trace of these tests checks it).
                        if let Some(t) = self.t.wait_after_send(self.now) {
                            assert_eq!(self.t.poll(self.now), Action::WaitUntil(t));
                            self.shortcuts += 1;
                        }
                        if let Some((r, d)) = net(&p.packet, self.sent.len()) {
                            self.pending.push((self.now + d, r));
                        }
                        self.sent.push((p, self.now));
                    }
                    Action::WaitUntil(t) => {
                        assert!(t > self.now, "wait into the past");
                        self.pending.sort_by_key(|(at, _)| *at);
                        if self.pending.first().is_some_and(|(at, _)| *at <= t) {
                            let (at, r) = self.pending.remove(0);
                            self.now = at;
                            self.deliver(&r);
                        } else {
                            self.now = t;
                        }
                    }
                    Action::Done => {
                        let t = std::mem::replace(&mut self.t, task("192.0.2.1"));
                        let Record::Trace(tr) = Box::new(t).finish(self.now) else {
                            panic!()
                        };
                        return *tr;
                    }
                }
            }
            panic!("trace did not finish");
        }

        fn deliver(&mut self, r: &[u8]) {
            let rx = parse_ip(r).unwrap();
            // Only what the engine would hand to this task.
            let key = engine_key(&rx);
            if self.sent.iter().any(|(p, _)| Some(p.key) == key) {
                self.t.on_response(&rx, self.now);
            }
        }
    }

    /// A path of routers (None = silent) before the destination, which answers at
    /// TTL path.len() + 1 and beyond.
    fn path_net(
        path: Vec<Option<IpAddr>>,
    ) -> impl FnMut(&[u8], usize) -> Option<(Vec<u8>, Duration)> {
        move |pkt, _| {
            let rx = parse_ip(pkt).unwrap();
            let hop = usize::from(rx.ttl);
            let delay = Duration::from_millis(10 * hop as u64);
            if hop <= path.len() {
                path[hop - 1].map(|a| (time_exceeded(pkt, a), delay))
            } else {
                Some((dst_reply(pkt), delay))
            }
        }
    }

    fn addrs(tr: &Trace) -> Vec<(u8, u8, Option<String>)> {
        tr.probes
            .iter()
            .map(|p| {
                (
                    p.ttl,
                    p.id,
                    p.replies
                        .first()
                        .and_then(|r| r.addr.map(|a| a.to_string())),
                )
            })
            .collect()
    }

    #[test]
    fn every_method_reaches_the_destination_v4_and_v6() {
        for m in ["udp", "udp-paris", "icmp", "icmp-paris", "tcp", "tcp-ack"] {
            for (dst, r) in [
                (
                    "192.0.2.1",
                    ["198.51.100.1", "198.51.100.2", "198.51.100.3"],
                ),
                (
                    "2001:db8::1",
                    ["2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::3"],
                ),
            ] {
                let mut sim = Sim::new(&format!("-P {m} {dst}"));
                let tr = sim.run(path_net(r.iter().map(|a| Some(ip(a))).collect()));
                let what = format!("{m} {dst}");
                assert_eq!(tr.stop_reason, TraceStop::COMPLETED, "{what}");
                assert_eq!((tr.hop_count, tr.probec, tr.stop_hop), (4, 4, 0), "{what}");
                // After every send the shortcut applied (run checks it against a poll).
                assert_eq!(sim.shortcuts, 4, "{what}");
                assert_eq!(
                    addrs(&tr),
                    vec![
                        (1, 1, Some(r[0].to_string())),
                        (2, 1, Some(r[1].to_string())),
                        (3, 1, Some(r[2].to_string())),
                        (4, 1, Some(dst.to_string()))
                    ],
                    "{what}"
                );
                let last = &tr.probes[3].replies[0];
                assert_eq!(last.rtt, Timeval::from(Duration::from_millis(40)), "{what}");
                assert_eq!(tr.probes[0].replies[0].icmp_q_ttl, 1);
                assert_eq!(tr.probes[0].replies[0].icmp_q_iplen, tr.probe_size);
                assert_eq!(tr.probes[0].size, tr.probe_size);
                assert_eq!(tr.method, super::super::options::parse_method(m).unwrap());
                assert_eq!(tr.sport, SPORT);
                assert_eq!(tr.src, Some(Addr::from(src_for(ip(dst)))));
                assert_eq!(tr.start, Timeval::from(START));
                assert_eq!(
                    (tr.attempts, tr.gaplimit, tr.loops, tr.firsthop),
                    (2, 5, 1, 1)
                );
                assert_eq!(tr.wait_timeout, Timeval::from(Duration::from_secs(5)));
                assert!(tr.list.is_some() && tr.cycle.is_some());
                let proto_flag = last.flags & (reply_flags::TCP | reply_flags::UDP);
                assert_eq!(
                    proto_flag,
                    if m.starts_with("tcp") {
                        reply_flags::TCP
                    } else {
                        0
                    },
                    "{what}"
                );
                if m.starts_with("tcp") {
                    let want = if m == "tcp" { TH_SYN | TH_ACK } else { TH_RST };
                    assert_eq!(last.tcp_flags, want, "{what}");
                }
                match m {
                    "udp" | "udp-paris" => assert_eq!(tr.dport, 33435),
                    "tcp" | "tcp-ack" => assert_eq!(tr.dport, 80),
                    "icmp-paris" => {
                        assert_eq!(tr.dport, SPORT);
                        assert_eq!(tr.flags, flags::ICMPCSUMDP);
                    }
                    _ => assert_eq!(tr.dport, 0),
                }
            }
        }
    }

    /// The fields load balancers hash on: addresses, protocol, TOS/traffic class, flow label,
    /// ports (UDP/TCP) or ICMP type, code and checksum.
    fn flow_id(pkt: &[u8]) -> (IpAddr, u8, u32, Vec<u8>) {
        let rx = parse_ip(pkt).unwrap();
        let hl = if rx.is_ipv6() { 40 } else { 20 };
        let flow_label = if rx.is_ipv6() {
            u32::from_be_bytes([0, pkt[1] & 0x0f, pkt[2], pkt[3]])
        } else {
            0
        };
        let l4 = match &rx.transport {
            RxTransport::Icmp(_) => vec![pkt[hl], pkt[hl + 1], pkt[hl + 2], pkt[hl + 3]],
            _ => pkt[hl..hl + 4].to_vec(),
        };
        (rx.dst, rx.tos, flow_label, l4)
    }

    #[test]
    fn paris_methods_keep_the_flow_identifier_and_classic_ones_vary_it() {
        for (m, constant) in [
            ("udp-paris", true),
            ("icmp-paris", true),
            ("tcp", true),
            ("tcp-ack", true),
            ("udp", false),
            ("icmp", false),
        ] {
            for dst in ["192.0.2.1", "2001:db8::1"] {
                let mut sim = Sim::new(&format!("-P {m} -q 1 -g 0 -m 6 -t 8 {dst}"));
                let tr = sim.run(|_, _| None);
                assert_eq!((tr.stop_reason, tr.probec), (TraceStop::HOPLIMIT, 6));
                let ids: Vec<_> = sim.sent.iter().map(|(p, _)| flow_id(&p.packet)).collect();
                let same = ids.windows(2).all(|w| w[0] == w[1]);
                assert_eq!(same, constant, "{m} {dst}: {ids:?}");
                // and every probe carries the trace's engine key
                assert!(sim.sent.iter().all(|(p, _)| p.key == sim.sent[0].0.key));
                assert_eq!(sim.sent[0].0.key.local_id, SPORT);
            }
        }
    }

    #[test]
    fn gaplimit_stops_after_unresponsive_hops() {
        let mut sim = Sim::new("-g 3 192.0.2.1");
        let tr = sim.run(path_net(vec![
            Some(ip("198.51.100.1")),
            None,
            None,
            None,
            None,
        ]));
        assert_eq!(
            (tr.stop_reason, tr.hop_count, tr.probec),
            (TraceStop::GAPLIMIT, 4, 7)
        );
        // two attempts per silent hop, each given the full 5 s
        let tx: Vec<Duration> = sim.sent.iter().map(|(_, t)| *t - START).collect();
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(
            tx,
            vec![
                ms(0),
                ms(10),
                ms(5010),
                ms(10010),
                ms(15010),
                ms(20010),
                ms(25010)
            ]
        );
        assert_eq!(
            addrs(&tr)[1..],
            [
                (2, 1, None),
                (2, 2, None),
                (3, 1, None),
                (3, 2, None),
                (4, 1, None),
                (4, 2, None)
            ]
        );
        assert!(tr.lastditch.is_none());
    }

    #[test]
    fn gapaction_lastditch_probes_the_destination() {
        let mut sim = Sim::new("-g 2 -G 2 -q 1 192.0.2.1");
        let tr = sim.run(|pkt, _| {
            let rx = parse_ip(pkt).unwrap();
            // routers are silent; only a probe that can reach the far destination gets an answer
            (rx.ttl > 30).then(|| (dst_reply(pkt), Duration::from_millis(50)))
        });
        assert_eq!(
            (tr.stop_reason, tr.hop_count, tr.probec, tr.gapaction),
            (TraceStop::GAPLIMIT, 2, 3, 2)
        );
        let ld = tr.lastditch.expect("last-ditch probes");
        assert_eq!(ld.len(), 1);
        assert_eq!((ld[0].ttl, ld[0].id), (255, 1));
        assert_eq!(ld[0].replies[0].addr, Some(Addr::from(ip("192.0.2.1"))));
    }

    #[test]
    fn a_loop_stops_the_trace() {
        let r: Vec<IpAddr> = ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
            .iter()
            .map(|a| ip(a))
            .collect();
        let mut sim = Sim::new("192.0.2.1");
        let tr = sim.run(path_net(vec![
            Some(r[0]),
            Some(r[1]),
            Some(r[2]),
            Some(r[1]),
            Some(r[2]),
        ]));
        assert_eq!(
            (tr.stop_reason, tr.stop_data, tr.hop_count),
            (TraceStop::LOOP, 0, 4)
        );
        // -l 2 tolerates the first loop; -l 0 disables the check
        let mut sim = Sim::new("-l 2 192.0.2.1");
        let tr = sim.run(path_net(vec![
            Some(r[0]),
            Some(r[1]),
            Some(r[2]),
            Some(r[1]),
            Some(r[2]),
        ]));
        assert_eq!((tr.stop_reason, tr.hop_count), (TraceStop::LOOP, 5));
        let mut sim = Sim::new("-l 0 192.0.2.1");
        let tr = sim.run(path_net(vec![
            Some(r[0]),
            Some(r[1]),
            Some(r[2]),
            Some(r[1]),
            Some(r[2]),
        ]));
        assert_eq!((tr.stop_reason, tr.hop_count), (TraceStop::COMPLETED, 6));
        // the same router at consecutive hops is not a loop
        let mut sim = Sim::new("192.0.2.1");
        let tr = sim.run(path_net(vec![Some(r[0]), Some(r[0]), Some(r[1])]));
        assert_eq!((tr.stop_reason, tr.hop_count), (TraceStop::COMPLETED, 4));
    }

    #[test]
    fn unreachable_and_other_icmp_stop_the_trace() {
        // (dst, icmp type, code, expected reason, expected stop data)
        for (dst, t, c, reason, data) in [
            ("192.0.2.1", 3, 1, TraceStop::UNREACH, 1),
            ("192.0.2.1", 3, 13, TraceStop::UNREACH, 13),
            ("192.0.2.1", 3, 3, TraceStop::COMPLETED, 0),
            ("192.0.2.1", 12, 0, TraceStop::ICMP, 12),
            ("2001:db8::1", 1, 1, TraceStop::UNREACH, 1),
            ("2001:db8::1", 1, 3, TraceStop::UNREACH, 3),
            ("2001:db8::1", 1, 4, TraceStop::COMPLETED, 0),
            ("2001:db8::1", 2, 0, TraceStop::ICMP, 2),
        ] {
            let router = if dst.contains(':') {
                ip("2001:db8:1::1")
            } else {
                ip("198.51.100.1")
            };
            let mut sim = Sim::new(&format!("-P udp {dst}"));
            let tr = sim.run(|pkt, _| {
                let rx = parse_ip(pkt).unwrap();
                let r = if rx.ttl == 1 {
                    time_exceeded(pkt, router)
                } else {
                    icmp_error(pkt, router, t, c, &[])
                };
                Some((r, Duration::from_millis(5)))
            });
            assert_eq!(
                (tr.stop_reason, tr.stop_data, tr.hop_count),
                (reason, data, 2),
                "{dst} {t}/{c}"
            );
            let last = &tr.probes[1].replies[0];
            assert_eq!((last.icmp_type, last.icmp_code), (t, c));
        }
    }

    #[test]
    fn tcp_reset_and_synack_from_the_destination() {
        let mut sim = Sim::new("-P tcp -d 443 192.0.2.1");
        let tr = sim.run(|pkt, _| {
            let rx = parse_ip(pkt).unwrap();
            let t = rx.tcp().unwrap();
            assert_eq!((t.dport, t.flags), (443, TH_SYN));
            let mut p = IpParams::new(rx.dst, rx.src);
            p.ttl = 61;
            // a closed port answers a SYN with RST+ACK acknowledging seq + 1
            let rst = TcpParams {
                sport: 443,
                dport: t.sport,
                ack: t.seq.wrapping_add(1),
                flags: TH_RST | TH_ACK,
                ..TcpParams::default()
            };
            (rx.ttl == 2).then(|| (build_tcp(&p, &rst).unwrap(), Duration::from_millis(3)))
        });
        assert_eq!(
            (tr.stop_reason, tr.hop_count, tr.dport),
            (TraceStop::COMPLETED, 2, 443)
        );
        let r = &tr.probes[2].replies[0];
        assert_eq!(
            (r.tcp_flags, r.reply_ttl, r.flags),
            (
                TH_RST | TH_ACK,
                61,
                // TCP replies come only from the datalink (scamper_trace_do.c trace_dl_hop).
                reply_flags::REPLY_TTL | reply_flags::TS_DL_RX | reply_flags::TCP
            )
        );
        assert_eq!((tr.probes[2].ttl, tr.probes[2].id), (2, 1));
        // a SYN+ACK acknowledging another sequence number answers no probe
        let mut sim = Sim::new("-P tcp -q 1 -m 1 192.0.2.1");
        let tr = sim.run(|pkt, _| {
            let rx = parse_ip(pkt).unwrap();
            let t = rx.tcp().unwrap();
            let p = IpParams::new(rx.dst, rx.src);
            let bogus = TcpParams {
                sport: 80,
                dport: t.sport,
                ack: t.seq.wrapping_add(2),
                flags: TH_SYN | TH_ACK,
                ..TcpParams::default()
            };
            Some((build_tcp(&p, &bogus).unwrap(), Duration::from_millis(3)))
        });
        assert_eq!(tr.stop_reason, TraceStop::HOPLIMIT);
        assert!(tr.probes[0].replies.is_empty());
    }

    #[test]
    fn attempts_timeouts_and_all_attempts() {
        let r1 = ip("198.51.100.1");
        // hop 1 answers only the second attempt
        let mut sim = Sim::new("-q 3 -m 1 192.0.2.1");
        let tr =
            sim.run(|pkt, n| (n == 1).then(|| (time_exceeded(pkt, r1), Duration::from_millis(7))));
        assert_eq!(addrs(&tr), vec![(1, 1, None), (1, 2, Some(r1.to_string()))]);
        assert_eq!(tr.stop_reason, TraceStop::HOPLIMIT);
        assert_eq!(sim.sent[1].1 - sim.sent[0].1, Duration::from_secs(5));
        // -Q sends every attempt; -W spaces all probes (in centiseconds)
        let mut sim = Sim::new("-Q -q 3 -W 150 -m 2 -w 1 192.0.2.1");
        let tr = sim.run(path_net(vec![Some(r1)]));
        assert_eq!(tr.probec, 6);
        assert_eq!(tr.flags, flags::ALLATTEMPTS);
        assert_eq!(addrs(&tr).iter().filter(|a| a.2.is_some()).count(), 6);
        assert_eq!(tr.stop_reason, TraceStop::COMPLETED);
        assert!(sim
            .sent
            .windows(2)
            .all(|w| w[1].1 - w[0].1 == Duration::from_millis(1500)));
        assert_eq!(tr.wait_probe, Timeval::from(Duration::from_millis(1500)));
        // -H spaces probes of the same TTL; -f starts further out
        let mut sim = Sim::new("-Q -H 2 -f 3 -m 3 192.0.2.1");
        let tr = sim.run(path_net(vec![Some(r1), Some(r1), Some(r1)]));
        assert_eq!(
            addrs(&tr),
            vec![(3, 1, Some(r1.to_string())), (3, 2, Some(r1.to_string()))]
        );
        assert_eq!(sim.sent[1].1 - sim.sent[0].1, Duration::from_secs(2));
        assert_eq!(
            (tr.hop_count, tr.firsthop, tr.stop_reason),
            (3, 3, TraceStop::HOPLIMIT)
        );
    }

    /// Probe TTLs with their transmit times (ms since the start), in send order.
    fn sends(sim: &Sim) -> Vec<(u8, u64)> {
        sim.sent
            .iter()
            .map(|(p, t)| {
                let ttl = parse_ip(&p.packet).unwrap().ttl;
                (ttl, (*t - START).as_millis() as u64)
            })
            .collect()
    }

    #[test]
    fn squeries_probes_hops_in_parallel_and_takes_replies_out_of_order() {
        // Higher TTLs answer sooner, so replies arrive in the reverse of send order.
        let net = |dst: &str| {
            let r = if dst.contains(':') {
                ["2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::3"]
            } else {
                ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
            };
            let mut inner = path_net(r.map(|a| Some(ip(a))).to_vec());
            move |pkt: &[u8], n: usize| {
                let ttl = u64::from(parse_ip(pkt).unwrap().ttl);
                inner(pkt, n).map(|(reply, _)| (reply, Duration::from_millis(100 - 10 * ttl)))
            }
        };
        for dst in ["192.0.2.1", "2001:db8::1"] {
            let mut sim = Sim::new(&format!("-N 3 -q 1 {dst}"));
            let tr = sim.run(net(dst));
            // TTLs 1-3 leave together; 4-6 once hops 1-3 have ended (TTL 1 answers last).
            assert_eq!(
                sends(&sim),
                vec![(1, 0), (2, 0), (3, 0), (4, 90), (5, 90), (6, 90)],
                "{dst}"
            );
            assert_eq!(tr.squeries, 3);
            // The trace ends at the destination's first TTL; the probes beyond it stay.
            assert_eq!(
                (tr.stop_reason, tr.stop_hop, tr.hop_count, tr.probec),
                (TraceStop::COMPLETED, 4, 6, 6),
                "{dst}"
            );
            let mut one = Sim::new(&format!("-q 1 {dst}"));
            let want = addrs(&one.run(net(dst)));
            assert_eq!(addrs(&tr)[..4], want[..], "{dst}");
            // TTL 6 answered first and TTL 5 next, before hop 4 ended the trace.
            assert_eq!(
                tr.probes[4..]
                    .iter()
                    .map(|p| p.replies[0].rtt)
                    .collect::<Vec<_>>(),
                [50, 40].map(|ms| Timeval::from(Duration::from_millis(ms)))
            );
        }
        // -W still spaces every probe: hops then end before the window fills.
        let mut sim = Sim::new("-N 3 -q 1 -W 50 192.0.2.1");
        let path = vec![Some(ip("198.51.100.1")), Some(ip("198.51.100.2"))];
        let tr = sim.run(path_net(path));
        assert_eq!(sends(&sim), vec![(1, 0), (2, 500), (3, 1000)]);
        assert_eq!(
            (tr.stop_reason, tr.stop_hop, tr.hop_count),
            (TraceStop::COMPLETED, 0, 3)
        );
    }

    #[test]
    fn squeries_stops_at_the_destination_below_outstanding_probes() {
        let path = vec![Some(ip("198.51.100.1")), Some(ip("198.51.100.2"))];
        let mut sim = Sim::new("-N 4 -q 1 192.0.2.1");
        let tr = sim.run(path_net(path));
        // Each hop that ends lets one more TTL out, keeping four outstanding.
        assert_eq!(
            sends(&sim),
            vec![(1, 0), (2, 0), (3, 0), (4, 0), (5, 10), (6, 20)]
        );
        assert_eq!(
            (tr.stop_reason, tr.stop_hop, tr.hop_count, tr.probec),
            (TraceStop::COMPLETED, 3, 6, 6)
        );
        // Replies to TTLs 4-6 would come after the trace ended at 30 ms.
        assert_eq!(
            addrs(&tr),
            vec![
                (1, 1, Some("198.51.100.1".to_string())),
                (2, 1, Some("198.51.100.2".to_string())),
                (3, 1, Some("192.0.2.1".to_string())),
                (4, 1, None),
                (5, 1, None),
                (6, 1, None)
            ]
        );

        // A hop that will stop the trace gets no further probes sent beyond it: the first
        // attempt at TTL 1 goes unanswered, TTL 2 is the destination, TTL 3 is silent. After
        // the timeout only TTL 1 is probed again.
        let mut sim = Sim::new("-N 3 -q 2 -w 1 192.0.2.1");
        let tr = sim.run(|pkt, n| match parse_ip(pkt).unwrap().ttl {
            1 if n == 0 => None,
            1 => Some((
                time_exceeded(pkt, ip("198.51.100.1")),
                Duration::from_millis(5),
            )),
            2 => Some((dst_reply(pkt), Duration::from_millis(5))),
            _ => None,
        });
        assert_eq!(sends(&sim), vec![(1, 0), (2, 0), (3, 0), (1, 1000)]);
        assert_eq!(
            (tr.stop_reason, tr.stop_hop, tr.hop_count),
            (TraceStop::COMPLETED, 2, 3)
        );
        assert_eq!(
            addrs(&tr),
            vec![
                (1, 1, None),
                (1, 2, Some("198.51.100.1".to_string())),
                (2, 1, Some("192.0.2.1".to_string())),
                (3, 1, None)
            ]
        );
    }

    #[test]
    fn squeries_counts_the_gap_limit_in_ttl_order() {
        // Router at TTL 1 and at TTL 3, the latter answering only after TTL 2 has timed out:
        // TTL 2's silence counts first, then TTL 3's reply resets the gap. TTLs 4-6 are silent.
        let r1 = ip("198.51.100.1");
        let r3 = ip("198.51.100.3");
        let mut sim = Sim::new("-N 2 -g 3 -q 1 -w 1 192.0.2.1");
        let tr = sim.run(|pkt, _| match parse_ip(pkt).unwrap().ttl {
            1 => Some((time_exceeded(pkt, r1), Duration::from_millis(10))),
            3 => Some((time_exceeded(pkt, r3), Duration::from_millis(995))),
            _ => None,
        });
        assert_eq!(
            sends(&sim),
            vec![
                (1, 0),
                (2, 0),
                (3, 10),
                (4, 1000),
                (5, 1005),
                (6, 2000),
                (7, 2005)
            ]
        );
        // The gap limit is reached at TTL 6; TTL 7 was already out.
        assert_eq!(
            (tr.stop_reason, tr.stop_hop, tr.hop_count, tr.probec),
            (TraceStop::GAPLIMIT, 6, 7, 7)
        );
        assert_eq!(tr.probes[2].replies[0].addr, Some(Addr::from(r3)));
        assert!(tr.lastditch.is_none());

        // With -G 2 the last-ditch probes follow, after the forward ones left outstanding.
        let mut sim = Sim::new("-N 2 -g 3 -G 2 -q 1 -w 1 192.0.2.1");
        let tr = sim.run(|pkt, _| {
            let ttl = parse_ip(pkt).unwrap().ttl;
            (ttl == LASTDITCH_TTL).then(|| (dst_reply(pkt), Duration::from_millis(10)))
        });
        assert_eq!(
            (tr.stop_reason, tr.stop_hop, tr.hop_count),
            (TraceStop::GAPLIMIT, 3, 4)
        );
        let ld = tr.lastditch.as_ref().unwrap();
        assert_eq!((ld.len(), ld[0].replies.len()), (1, 1));
    }

    #[test]
    fn late_replies_go_to_the_probe_they_answer() {
        let r2 = ip("198.51.100.2");
        for m in ["udp", "udp-paris", "icmp", "icmp-paris", "tcp", "tcp-ack"] {
            // the reply to the first attempt at hop 1 arrives after its timeout, once the
            // second attempt is out; hop 2 answers at once
            let mut sim = Sim::new(&format!("-P {m} -m 2 192.0.2.1"));
            let tr = sim.run(|pkt, n| match n {
                0 => Some((
                    time_exceeded(pkt, ip("198.51.100.1")),
                    Duration::from_millis(6000),
                )),
                1 => None,
                _ => Some((time_exceeded(pkt, r2), Duration::from_millis(20))),
            });
            assert_eq!(
                addrs(&tr),
                vec![
                    (1, 1, Some("198.51.100.1".to_string())),
                    (1, 2, None),
                    (2, 1, Some(r2.to_string()))
                ],
                "{m}"
            );
            assert_eq!(
                tr.probes[0].replies[0].rtt,
                Timeval::from(Duration::from_secs(6)),
                "{m}"
            );
            // the late reply ended hop 1: no third attempt there
            assert_eq!(tr.probec, 3, "{m}");
        }
        // a late port unreachable from the destination at hop 2 ends the trace there, with
        // hop 3 already probed
        let mut sim = Sim::new("-P udp -q 1 192.0.2.1");
        let tr = sim.run(|pkt, n| match n {
            0 => Some((
                time_exceeded(pkt, ip("198.51.100.1")),
                Duration::from_millis(5),
            )),
            1 => Some((dst_reply(pkt), Duration::from_millis(5500))),
            _ => None,
        });
        assert_eq!(
            (tr.stop_reason, tr.stop_hop, tr.hop_count, tr.probec),
            (TraceStop::COMPLETED, 2, 3, 3)
        );
        assert_eq!(
            tr.probes[1].replies[0].addr,
            Some(Addr::from(ip("192.0.2.1")))
        );
    }

    #[test]
    fn stream_reports_in_progress_records() {
        let r = |i: u8| Some(ip(&format!("198.51.100.{i}")));
        // Destination at TTL 5: five probes, snapshots after the second and the fourth.
        let mut sim = Sim::new("-q 1 -y 2 192.0.2.1");
        let tr = sim.run(path_net(vec![r(1), r(2), r(3), r(4)]));
        assert_eq!((tr.stop_reason, tr.probec), (TraceStop::COMPLETED, 5));
        let got: Vec<_> = sim
            .snaps
            .iter()
            .map(|s| (s.stop_reason, s.probec, s.hop_count))
            .collect();
        assert_eq!(
            got,
            [(TraceStop::INPROGRESS, 2, 2), (TraceStop::INPROGRESS, 4, 4)]
        );
        // Replies received before a snapshot are in it; the newest probe is still waiting.
        let first = &sim.snaps[0];
        assert_eq!(first.probes[0].replies.len(), 1);
        assert!(first.probes[1].replies.is_empty());
        // Without -y no snapshot is made.
        let mut sim = Sim::new("-q 1 192.0.2.1");
        sim.run(path_net(vec![r(1), r(2)]));
        assert!(sim.snaps.is_empty());
    }

    #[test]
    fn const_payload_paris_matches_by_ipid() {
        let mut sim = Sim::new("-P udp-paris -O const-payload -m 2 192.0.2.1");
        let tr = sim.run(|pkt, n| match n {
            0 => Some((
                time_exceeded(pkt, ip("198.51.100.1")),
                Duration::from_millis(5200),
            )),
            1 => None,
            _ => Some((
                time_exceeded(pkt, ip("198.51.100.2")),
                Duration::from_millis(10),
            )),
        });
        assert_eq!(
            addrs(&tr)[..2],
            [(1, 1, Some("198.51.100.1".to_string())), (1, 2, None)]
        );
        assert_eq!(tr.flags, flags::CONSTPAYLOAD);
        let mut sim = Sim::new("-P icmp-paris -O const-payload -m 3 -q 1 2001:db8::1");
        let tr = sim.run(path_net(vec![Some(ip("2001:db8:1::1"))]));
        assert_eq!(tr.stop_reason, TraceStop::COMPLETED);
        let sums: Vec<u16> = sim
            .sent
            .iter()
            .map(|(p, _)| probe::icmp_checksum_of(&p.packet, true))
            .collect();
        assert!(sums.iter().all(|s| *s == tr.dport));
    }

    #[test]
    fn ttl_exceeded_from_the_destination_and_option_t() {
        let dst = ip("192.0.2.1");
        let net = |pkt: &[u8], _| Some((time_exceeded(pkt, dst), Duration::from_millis(1)));
        let tr = Sim::new("-m 3 192.0.2.1").run(net);
        assert_eq!((tr.stop_reason, tr.hop_count), (TraceStop::COMPLETED, 1));
        let tr = Sim::new("-T -m 2 192.0.2.1").run(net);
        assert_eq!(
            (tr.stop_reason, tr.hop_count, tr.flags),
            (TraceStop::HOPLIMIT, 2, flags::IGNORETTLDST)
        );
        // further out the destination's address repeats non-adjacently: a loop
        let tr = Sim::new("-T -m 5 192.0.2.1").run(net);
        assert_eq!((tr.stop_reason, tr.hop_count), (TraceStop::LOOP, 3));
    }

    #[test]
    fn mpls_extensions_and_reply_fields_are_recorded() {
        let stack = [MplsLabelEntry {
            label: 16001,
            tc: 0,
            s: true,
            ttl: 1,
        }];
        let ext = IcmpExtObject::mpls_stack(&stack);
        let tr = Sim::new("-m 1 192.0.2.1").run(|pkt, _| {
            Some((
                icmp_error(pkt, ip("198.51.100.1"), 11, 0, std::slice::from_ref(&ext)),
                Duration::from_millis(2),
            ))
        });
        let r = &tr.probes[0].replies[0];
        assert_eq!(r.icmp_exts.len(), 1);
        assert!(r.icmp_exts[0].is_mpls());
        assert_eq!(r.icmp_exts[0].data, ext.data);
        assert_eq!(
            (
                r.reply_ttl,
                r.reply_ipid,
                r.icmp_type,
                r.icmp_code,
                r.icmp_q_ttl
            ),
            (250, 77, 11, 0, 1)
        );
        assert_eq!(r.flags, reply_flags::REPLY_TTL | reply_flags::TS_SOCK_RX);
        assert!(r.reply_size > tr.probe_size);
    }

    #[test]
    fn replies_for_other_flows_are_ignored_and_halting_is_recorded() {
        let mut t = task("-P udp-paris 192.0.2.1");
        let Action::Send(p) = t.poll(START) else {
            panic!()
        };
        t.on_sent(START);
        // quotes with another destination port, or a checksum no probe carried
        let te = parse_ip(&time_exceeded(&p.packet, ip("198.51.100.1"))).unwrap();
        for change in [(1u16, None), (33435, Some(9u16))] {
            let mut other = te.clone();
            if let RxTransport::Icmp(i) = &mut other.transport {
                if let Some(QuotedTransport::Udp {
                    dport, checksum, ..
                }) = i.quote.as_mut().map(|q| &mut q.transport)
                {
                    *dport = change.0;
                    *checksum = change.1.unwrap_or(*checksum);
                }
            }
            assert_ne!(other, te);
            t.on_response(&other, START + Duration::from_millis(1));
        }
        assert_eq!(
            t.poll(START + Duration::from_millis(2)),
            Action::WaitUntil(START + Duration::from_secs(5))
        );
        let Record::Trace(tr) = Box::new(t).finish(START + Duration::from_secs(1)) else {
            panic!()
        };
        assert_eq!(
            (tr.stop_reason, tr.probec, tr.hop_count),
            (TraceStop::HALTED, 1, 1)
        );
        assert!(tr.probes[0].replies.is_empty());
    }

    fn ttls(tr: &Trace) -> Vec<u8> {
        tr.probes.iter().map(|p| p.ttl).collect()
    }

    #[test]
    fn doubletree_traces_share_their_stop_sets() {
        use scamper_warts::trace::TraceDtree;
        let sets: Arc<std::sync::Mutex<crate::task::StopSets>> = Default::default();
        let r = |i: u8| ip(&format!("198.51.100.{i}"));
        // First trace: nothing known; forward from 3 to the destination at 5, then backwards
        // to TTL 1, filling the local stop set "vp".
        let mut sim = Sim::with_sets("-q 1 -f 3 -Z vp 192.0.2.1", sets.clone());
        let tr = sim.run(path_net(vec![
            Some(r(1)),
            Some(r(2)),
            Some(r(3)),
            Some(r(4)),
        ]));
        assert_eq!(ttls(&tr), vec![1, 2, 3, 4, 5]);
        assert_eq!(
            sim.sent
                .iter()
                .map(|(p, _)| p.packet[8])
                .collect::<Vec<_>>(),
            [3, 4, 5, 2, 1]
        );
        assert_eq!((tr.stop_reason, tr.firsthop), (TraceStop::COMPLETED, 1));
        assert_eq!(tr.flags, flags::DOUBLETREE);
        assert_eq!(
            tr.dtree,
            Some(TraceDtree {
                firsthop: 3,
                lss_name: Some("vp".into()),
                ..TraceDtree::default()
            })
        );
        {
            let s = sets.lock().unwrap();
            // routers found going forward, not the destination
            assert_eq!(s.global, [r(3), r(4)].into());
            assert_eq!(s.local["vp"], [r(1), r(2)].into());
        }
        // Second trace, another destination through r3: stops forward at r3 (GSS), and
        // backwards at r2, known from the first trace.
        let path2 = || path_net(vec![Some(r(1)), Some(r(2)), Some(r(3)), Some(r(5))]);
        let mut sim = Sim::with_sets("-q 1 -f 3 -Z vp 192.0.2.2", sets.clone());
        let tr = sim.run(path2());
        assert_eq!(ttls(&tr), vec![2, 3]);
        assert_eq!(
            (tr.stop_reason, tr.firsthop, tr.probec),
            (TraceStop::GSS, 2, 2)
        );
        let d = tr.dtree.unwrap();
        assert_eq!(d.gss_stop, Some(Addr::from(r(3))));
        assert_eq!(d.lss_stop, Some(Addr::from(r(2))));
        assert_eq!(d.firsthop, 3);
        // lss-clear removes the named set: backwards probing goes down to TTL 1 again
        sets.lock().unwrap().local.remove("vp");
        let mut sim = Sim::with_sets("-q 1 -f 3 -Z vp 192.0.2.2", sets.clone());
        let tr = sim.run(path2());
        assert_eq!(ttls(&tr), vec![1, 2, 3]);
        assert_eq!(tr.stop_reason, TraceStop::GSS);
        assert_eq!(tr.dtree.unwrap().lss_stop, None);
        // -O dtree-noback: no backwards probing at all
        let mut sim = Sim::with_sets("-q 1 -f 3 -O dtree-noback 192.0.2.2", sets.clone());
        let tr = sim.run(path2());
        assert_eq!(ttls(&tr), vec![3]);
        assert_eq!((tr.stop_reason, tr.firsthop), (TraceStop::GSS, 3));
        assert_eq!(
            tr.dtree.unwrap().flags,
            super::super::dtree::DTREE_FLAG_NOBACK
        );
        // a trace without doubletree neither stops at the global set nor adds to it
        let before = sets.lock().unwrap().global.len();
        let tr = Sim::with_sets("-q 1 -f 3 192.0.2.3", sets.clone()).run(path_net(vec![
            None,
            None,
            Some(r(3)),
            Some(r(9)),
        ]));
        assert_eq!((tr.stop_reason, tr.dtree), (TraceStop::COMPLETED, None));
        assert_eq!(sets.lock().unwrap().global.len(), before);
    }

    #[test]
    fn doubletree_gss_entry_and_first_hop_halving() {
        let r = |i: u8| ip(&format!("198.51.100.{i}"));
        // -z names a router the trace stops at; it stays in the global set
        let sets: Arc<std::sync::Mutex<crate::task::StopSets>> = Default::default();
        let tr = Sim::with_sets(
            "-q 1 -f 2 -z 198.51.100.4 -O dtree-noback 192.0.2.1",
            sets.clone(),
        )
        .run(path_net(vec![
            Some(r(1)),
            Some(r(2)),
            Some(r(3)),
            Some(r(4)),
            Some(r(5)),
        ]));
        assert_eq!(ttls(&tr), vec![2, 3, 4]);
        assert_eq!((tr.stop_reason, tr.hop_count), (TraceStop::GSS, 4));
        assert_eq!(tr.dtree.unwrap().gss_stop, Some(Addr::from(r(4))));
        assert!(sets.lock().unwrap().global.contains(&r(4)));
        // -f beyond the destination (at TTL 3): 8 -> 4 -> 2, then forward and backwards
        let mut sim = Sim::new("-q 1 -f 8 -Z vp 192.0.2.1");
        let tr = sim.run(path_net(vec![Some(r(1)), Some(r(2))]));
        assert_eq!(
            sim.sent
                .iter()
                .map(|(p, _)| p.packet[8])
                .collect::<Vec<_>>(),
            [8, 4, 2, 3, 1]
        );
        assert_eq!(ttls(&tr), vec![1, 2, 3, 4, 8]);
        assert_eq!((tr.stop_reason, tr.firsthop), (TraceStop::COMPLETED, 1));
        assert_eq!(tr.dtree.unwrap().firsthop, 8);
        // silent backwards hops are passed over
        let tr =
            Sim::new("-q 1 -w 1 -f 3 -Z vp 192.0.2.1").run(path_net(vec![None, None, Some(r(3))]));
        assert_eq!(ttls(&tr), vec![1, 2, 3, 4]);
        assert_eq!((tr.stop_reason, tr.firsthop), (TraceStop::COMPLETED, 1));
    }

    #[test]
    fn build_errors_end_the_trace_with_an_error() {
        let opts = TraceOptions::parse(&["192.0.2.1"]).unwrap();
        let list = Arc::new(List::default());
        let cycle = Arc::new(Cycle::default());
        // an IPv6 source for an IPv4 destination cannot be built
        let env = TaskEnv {
            src: ip("2001:db8::10"),
            real_src: ip("2001:db8::10"),
            route_mtu: None,
            stop_sets: Default::default(),
            ifnames: Default::default(),
            default_sport: SPORT,
            start: START,
            list,
            cycle,
        };
        let mut t = TraceTask::new(opts, env);
        assert_eq!(t.poll(START), Action::Done);
        let Record::Trace(tr) = Box::new(t).finish(START) else {
            panic!()
        };
        assert_eq!(tr.stop_reason, TraceStop::ERROR);
        assert!(tr.errmsg.unwrap().contains("could not build probe"));
    }

    /// Remove the `"ftime":"…"` member, which is local time and so depends on TZ.
    fn without_ftime(json: &str) -> String {
        let at = json.find(",\"ftime\":\"").expect("ftime");
        let end = at + 10 + json[at + 10..].find('"').unwrap() + 1;
        format!("{}{}", &json[..at], &json[end..])
    }

    #[test]
    fn json_matches_records_written_by_scamper() {
        // examples/trace.warts.json: `trace -P icmp-paris 127.0.0.1` and
        // `trace -P udp -q 2 127.0.0.1` by scamper 20260420, pid-derived port 39258.
        let want = [
            r#"{"type":"trace","version":"0.1","userid":0,"method":"icmp-echo-paris","src":"127.0.0.1","dst":"127.0.0.1","icmp_sum":39258,"stop_reason":"COMPLETED","stop_data":0,"start":{"sec":1795402761,"usec":400224,"ftime":"2026-11-23 02:59:21"},"hop_count":1,"attempts":2,"hoplimit":0,"firsthop":1,"wait":5,"wait_probe":0,"tos":0,"probe_size":44,"probe_count":1,"flags":["icmp-csum-dport"],"hops":[{"addr":"127.0.0.1","probe_ttl":1,"probe_id":1,"probe_size":44,"tx":{"sec":1795402761,"usec":400238},"rtt":0.033,"reply_ttl":64,"reply_tos":0,"flags":["sockrxts"],"reply_ipid":7498,"reply_size":44,"icmp_type":0,"icmp_code":0}]}"#,
            r#"{"type":"trace","version":"0.1","userid":0,"method":"udp","src":"127.0.0.1","dst":"127.0.0.1","sport":39258,"dport":33435,"stop_reason":"COMPLETED","stop_data":0,"start":{"sec":1795402761,"usec":449700,"ftime":"2026-11-23 02:59:21"},"hop_count":1,"attempts":2,"hoplimit":0,"firsthop":1,"wait":5,"wait_probe":0,"tos":0,"probe_size":44,"probe_count":1,"hops":[{"addr":"127.0.0.1","probe_ttl":1,"probe_id":1,"probe_size":44,"tx":{"sec":1795402761,"usec":449979},"rtt":0.037,"reply_ttl":64,"reply_tos":192,"flags":["sockrxts"],"reply_ipid":7506,"reply_size":72,"icmp_type":3,"icmp_code":3,"icmp_q_ttl":1,"icmp_q_ipl":44,"icmp_q_tos":0}]}"#,
        ];
        let lo = ip("127.0.0.1");
        // (command, start usec, tx usec, rtt usec, reply tos, reply ip id)
        let runs = [
            ("-P icmp-paris 127.0.0.1", 400_224, 400_238, 33, 0, 7498),
            ("-P udp -q 2 127.0.0.1", 449_700, 449_979, 37, 0xc0, 7506),
        ];
        for ((cmd, start_us, tx_us, rtt_us, tos, ipid), want) in runs.into_iter().zip(want) {
            let w: Vec<&str> = cmd.split_whitespace().collect();
            let list = Arc::new(List {
                id: 1,
                name: "default".into(),
                descr: Some("default".into()),
                ..List::default()
            });
            let cycle = Arc::new(Cycle {
                list: list.clone(),
                id: 1,
                ..Cycle::default()
            });
            let start = Duration::from_secs(1_795_402_761) + Duration::from_micros(start_us);
            let env = TaskEnv {
                src: lo,
                real_src: lo,
                route_mtu: None,
                stop_sets: Default::default(),
                ifnames: Default::default(),
                default_sport: 39258,
                start,
                list,
                cycle,
            };
            let mut t = new_task(TraceOptions::parse(&w).unwrap(), env);
            let Action::Send(p) = t.poll(start) else {
                panic!("{cmd}")
            };
            let tx = Duration::from_secs(1_795_402_761) + Duration::from_micros(tx_us);
            t.on_sent(tx);
            let mut r = parse_ip(&dst_reply(&p.packet)).unwrap();
            (r.ttl, r.tos, r.ip_id) = (64, tos, ipid);
            t.on_response(&r, tx + Duration::from_micros(rtt_us));
            assert_eq!(t.poll(tx), Action::Done);
            let rec = t.finish(tx);
            let json = scamper_warts::json::to_json(&rec)
                .unwrap()
                .expect("a trace has JSON");
            assert_eq!(without_ftime(json.trim_end()), without_ftime(want), "{cmd}");
        }
    }

    /// `-o`: where the IP-ID (IPv4) or fragment identification (IPv6) sits in a probe.
    fn frag_id_bytes(pkt: &[u8]) -> std::ops::Range<usize> {
        if pkt[0] >> 4 == 6 {
            44..48
        } else {
            4..6
        }
    }

    /// `-o`: set the fragment offset of a probe (8-byte units).
    fn set_frag_offset(pkt: &mut [u8], off: u16) {
        if pkt[0] >> 4 == 6 {
            pkt[42..44].copy_from_slice(&(off << 3).to_be_bytes());
        } else {
            pkt[6..8].copy_from_slice(&off.to_be_bytes());
        }
    }

    #[test]
    fn fragment_probes_find_routers_by_ip_id_v4_and_v6() {
        for m in ["udp", "udp-paris", "icmp", "icmp-paris", "tcp", "tcp-ack"] {
            for (dst, r) in [
                ("192.0.2.1", ["198.51.100.1", "198.51.100.2"]),
                ("2001:db8::1", ["2001:db8:1::1", "2001:db8:1::2"]),
            ] {
                let what = format!("{m} {dst}");
                // The destination cannot reassemble the lone fragment: it stays silent.
                let mut sim = Sim::new(&format!("-P {m} -o 8 -q 1 -w 1 -g 2 {dst}"));
                let tr = sim.run(|pkt, _| {
                    let rx = parse_ip(pkt).unwrap();
                    assert_eq!(rx.frag_offset, 8, "{what}");
                    let hop = usize::from(rx.ttl);
                    (hop <= r.len())
                        .then(|| (time_exceeded(pkt, ip(r[hop - 1])), Duration::from_millis(5)))
                });
                assert_eq!(tr.offset, 8, "{what}");
                assert_eq!(
                    (tr.stop_reason, tr.hop_count, tr.probec),
                    (TraceStop::GAPLIMIT, 4, 4),
                    "{what}"
                );
                assert_eq!(
                    addrs(&tr),
                    vec![
                        (1, 1, Some(r[0].to_string())),
                        (2, 1, Some(r[1].to_string())),
                        (3, 1, None),
                        (4, 1, None),
                    ],
                    "{what}"
                );
                // Each probe has its own key: the destination, the protocol and its IP-ID.
                let proto = match m {
                    "udp" | "udp-paris" => 17,
                    "tcp" | "tcp-ack" => 6,
                    _ if dst.contains(':') => 58,
                    _ => 1,
                };
                for (p, _) in &sim.sent {
                    let rx = parse_ip(&p.packet).unwrap();
                    assert_eq!(rx.transport, RxTransport::Other { proto }, "{what}");
                    let want = MatchKey {
                        peer: ip(dst),
                        proto,
                        local_id: rx.ip_id as u16,
                    };
                    assert_eq!((p.key, rx.ip_id >> 16), (want, 0), "{what}");
                }
                let keys: std::collections::HashSet<_> = sim.sent.iter().map(|p| p.0.key).collect();
                assert_eq!(keys.len(), sim.sent.len(), "{what}");
            }
        }
    }

    #[test]
    fn fragment_reassembly_timeout_from_the_destination_completes() {
        for (dst, r, te) in [
            ("192.0.2.1", "198.51.100.1", 11),
            ("2001:db8::1", "2001:db8:1::1", 3),
        ] {
            // Hop 1 is a middlebox answering "reassembly time exceeded": still a hop. The
            // destination (TTL 2 and beyond) answers the same after its reassembly timer, long
            // after -w: the late reply stops the trace at the hop it answers.
            let mut sim = Sim::new(&format!("-P udp -o 8 -q 1 -w 1 {dst}"));
            let tr = sim.run(|pkt, _| {
                let ttl = parse_ip(pkt).unwrap().ttl;
                if ttl == 1 {
                    Some((icmp_error(pkt, ip(r), te, 1, &[]), Duration::from_millis(5)))
                } else {
                    Some((
                        icmp_error(pkt, ip(dst), te, 1, &[]),
                        Duration::from_millis(2500),
                    ))
                }
            });
            assert_eq!(
                (tr.stop_reason, tr.stop_hop),
                (TraceStop::COMPLETED, 2),
                "{dst}"
            );
            let a = addrs(&tr);
            assert_eq!(a[0], (1, 1, Some(r.to_string())), "{dst}");
            assert_eq!(a[1], (2, 1, Some(dst.to_string())), "{dst}");
            let reply = &tr.probes[1].replies[0];
            assert_eq!((reply.icmp_type, reply.icmp_code), (te, 1), "{dst}");
            assert_eq!(reply.rtt, Timeval::from(Duration::from_millis(2500)));

            // An unreachable quoting the fragment stops the trace as usual.
            let mut sim = Sim::new(&format!("-P icmp -o 8 -q 1 -w 1 {dst}"));
            let (ut, uc) = if dst.contains(':') { (1, 1) } else { (3, 13) };
            let tr = sim.run(|pkt, _| {
                Some((
                    icmp_error(pkt, ip(r), ut, uc, &[]),
                    Duration::from_millis(5),
                ))
            });
            assert_eq!(
                (tr.stop_reason, tr.stop_data, tr.hop_count),
                (TraceStop::UNREACH, uc, 1),
                "{dst}"
            );
        }
    }

    #[test]
    fn fragment_probes_take_only_quotes_of_their_fragments() {
        for (dst, r) in [
            ("192.0.2.1", "198.51.100.1"),
            ("2001:db8::1", "2001:db8:1::1"),
        ] {
            let mut t = task(&format!("-P udp -o 8 -q 1 -w 5 {dst}"));
            let Action::Send(p) = t.poll(START) else {
                panic!("no probe")
            };
            t.on_sent(START);
            let at = START + Duration::from_millis(10);
            let deliver = |t: &mut TraceTask, pkt: &[u8]| {
                t.on_response(&parse_ip(&time_exceeded(pkt, ip(r))).unwrap(), at)
            };
            // Another IP-ID: no probe of ours.
            let mut other_id = p.packet.clone();
            let idb = frag_id_bytes(&other_id);
            other_id[idb.end - 1] ^= 0x5a;
            deliver(&mut t, &other_id);
            // Same IP-ID at another offset.
            let mut other_off = p.packet.clone();
            set_frag_offset(&mut other_off, 16);
            deliver(&mut t, &other_off);
            // A whole packet (offset 0) with the same IP-ID.
            let mut whole = p.packet.clone();
            set_frag_offset(&mut whole, 0);
            deliver(&mut t, &whole);
            // The same fragment to another destination.
            let o = task(&format!(
                "-P udp -o 8 -q 1 {}",
                if dst.contains(':') {
                    "2001:db8::2"
                } else {
                    "192.0.2.2"
                }
            ));
            let f = t.sent[0].fields;
            let elsewhere = probe::build(&o.opts, t.env.src, &f).unwrap();
            deliver(&mut t, &elsewhere);
            assert!(t.sent[0].replies.is_empty(), "{dst}");
            // The fragment itself.
            deliver(&mut t, &p.packet);
            assert_eq!(t.sent[0].replies.len(), 1, "{dst}");
            assert_eq!(t.sent[0].replies[0].addr, Some(Addr::from(ip(r))), "{dst}");
        }
    }

    /// A path where hop h answers from `hops[h - 1]`, the i-th probe at that TTL from address
    /// `pick(i)` of the list (None = silent); the destination answers beyond it.
    fn lb_net(
        hops: Vec<Vec<IpAddr>>,
        pick: impl Fn(usize, usize) -> Option<usize>,
    ) -> impl FnMut(&[u8], usize) -> Option<(Vec<u8>, Duration)> {
        let mut at_ttl: Vec<usize> = vec![0; 256];
        move |pkt, _| {
            let rx = parse_ip(pkt).unwrap();
            let hop = usize::from(rx.ttl);
            let i = at_ttl[hop];
            at_ttl[hop] += 1;
            let delay = Duration::from_millis(5);
            match hops.get(hop - 1) {
                Some(ifaces) if ifaces.is_empty() => None,
                Some(ifaces) => {
                    pick(i, ifaces.len()).map(|j| (time_exceeded(pkt, ifaces[j]), delay))
                }
                None => Some((dst_reply(pkt), delay)),
            }
        }
    }

    /// Round robin over a hop's interfaces: a per-flow load balancer seen by probes whose
    /// flows differ.
    fn round_robin(i: usize, n: usize) -> Option<usize> {
        Some(i % n)
    }

    /// (TTL, number of probes, distinct reply addresses) per TTL, in TTL order.
    fn per_hop(tr: &Trace) -> Vec<(u8, usize, usize)> {
        let mut out: Vec<(u8, usize, usize)> = Vec::new();
        for p in &tr.probes {
            if out.last().is_none_or(|h| h.0 != p.ttl) {
                out.push((p.ttl, 0, 0));
            }
            let h = out.last_mut().unwrap();
            h.1 += 1;
        }
        for h in &mut out {
            let mut seen: Vec<Addr> = Vec::new();
            for r in tr
                .probes
                .iter()
                .filter(|p| p.ttl == h.0)
                .flat_map(|p| &p.replies)
            {
                if !seen.contains(r.addr.as_ref().unwrap()) {
                    seen.push(r.addr.unwrap());
                }
            }
            h.2 = seen.len();
        }
        out
    }

    fn routers(n: usize, v6: bool) -> Vec<IpAddr> {
        (1..=n)
            .map(|i| {
                if v6 {
                    ip(&format!("2001:db8:1::{i}"))
                } else {
                    ip(&format!("198.51.100.{i}"))
                }
            })
            .collect()
    }

    #[test]
    fn confidence_probes_a_single_interface_hop_six_or_eight_times() {
        for (dst, v6) in [("192.0.2.1", false), ("2001:db8::1", true)] {
            for (c, k) in [(95, 6), (99, 8)] {
                // -q plays no part in how many probes a hop gets.
                let mut sim = Sim::new(&format!("-P udp -c {c} -q 1 {dst}"));
                let r = routers(2, v6);
                let tr = sim.run(lb_net(vec![vec![r[0]], vec![r[1]]], round_robin));
                assert_eq!(
                    per_hop(&tr),
                    vec![(1, k, 1), (2, k, 1), (3, k, 1)],
                    "-c {c} {dst}"
                );
                assert_eq!((tr.stop_reason, tr.hop_count), (TraceStop::COMPLETED, 3));
                assert_eq!(
                    (tr.confidence, tr.attempts, tr.probec),
                    (c, 1, 3 * k as u16)
                );
                // Every probe of a hop is answered, with attempts 1..=k.
                for ttl in 1..=3u8 {
                    let ids: Vec<u8> = tr
                        .probes
                        .iter()
                        .filter(|p| p.ttl == ttl)
                        .map(|p| p.id)
                        .collect();
                    assert_eq!(ids, (1..=k as u8).collect::<Vec<_>>());
                }
                assert!(tr.probes.iter().all(|p| p.replies.len() == 1));
                // One probe at a time: the next leaves when the previous one is answered.
                for w in sim.sent.windows(2) {
                    assert_eq!(w[1].1 - w[0].1, Duration::from_millis(5));
                }
            }
        }
    }

    #[test]
    fn confidence_probes_more_when_a_hop_shows_more_interfaces() {
        // (interfaces at hop 2, -c, probes the rule gives)
        for (n, c, k) in [
            (2, 95, 11),
            (3, 95, 16),
            (2, 99, 15),
            (3, 99, 21),
            (4, 95, 21),
        ] {
            let r = routers(n + 1, false);
            let mut sim = Sim::new(&format!("-P udp -c {c} 192.0.2.1"));
            let tr = sim.run(lb_net(vec![vec![r[0]], r[1..].to_vec()], round_robin));
            let one = if c == 95 { 6 } else { 8 };
            assert_eq!(
                per_hop(&tr),
                vec![(1, one, 1), (2, k, n), (3, one, 1)],
                "{n} interfaces, -c {c}"
            );
            let at2: std::collections::BTreeSet<String> = tr
                .probes
                .iter()
                .filter(|p| p.ttl == 2)
                .flat_map(|p| &p.replies)
                .map(|r| r.addr.unwrap().to_string())
                .collect();
            let want: std::collections::BTreeSet<String> =
                r[1..].iter().map(|a| a.to_string()).collect();
            assert_eq!(at2, want);
            assert_eq!(tr.stop_reason, TraceStop::COMPLETED);
        }
    }

    #[test]
    fn confidence_a_late_new_interface_raises_the_probe_count() {
        let a = ip("198.51.100.1");
        let b = ip("198.51.100.2");
        let c = ip("198.51.100.3");
        let hop = vec![a, b, c];
        // b shows up only on the 6th probe, which would otherwise have ended the hop: the hop
        // needs 11; c only on the 11th: it needs 16.
        let pick = |i: usize, _: usize| {
            Some(match i {
                5 => 1,
                10 => 2,
                _ => 0,
            })
        };
        let mut sim = Sim::new("-P icmp -c 95 -m 1 192.0.2.1");
        let tr = sim.run(lb_net(vec![hop], pick));
        assert_eq!(per_hop(&tr), vec![(1, 16, 3)]);
        assert_eq!(tr.stop_reason, TraceStop::HOPLIMIT);
        // Without the late ones, 6 probes.
        let mut sim = Sim::new("-P icmp -c 95 -m 1 192.0.2.1");
        let tr = sim.run(lb_net(vec![vec![a]], round_robin));
        assert_eq!(per_hop(&tr), vec![(1, 6, 1)]);
    }

    #[test]
    fn confidence_counts_timeouts_and_the_gap_limit_counts_hops() {
        let r = routers(1, false);
        // Hops 2 and 3 are silent: each gets 6 probes that time out, then the gap limit.
        let mut sim = Sim::new("-P udp -c 95 -w 1 -g 2 192.0.2.1");
        let tr = sim.run(lb_net(vec![r.clone(), vec![], vec![]], round_robin));
        assert_eq!(per_hop(&tr), vec![(1, 6, 1), (2, 6, 0), (3, 6, 0)]);
        assert_eq!(tr.stop_reason, TraceStop::GAPLIMIT);
        // A hop that answers only some probes: every probe counts, answered or not.
        let mut sim = Sim::new("-P udp -c 99 -w 1 -m 1 192.0.2.1");
        let tr = sim.run(lb_net(vec![r.clone()], |i, _| (i % 3 == 0).then_some(0)));
        assert_eq!(per_hop(&tr), vec![(1, 8, 1)]);
        let answered: Vec<u8> = tr
            .probes
            .iter()
            .filter(|p| !p.replies.is_empty())
            .map(|p| p.id)
            .collect();
        assert_eq!(answered, vec![1, 4, 7]);
        // A timed-out probe is followed by the next one after -w.
        assert_eq!(sim.sent[2].1 - sim.sent[1].1, Duration::from_secs(1));
    }

    #[test]
    fn confidence_waits_for_the_newest_probe_when_an_older_one_answers_late() {
        let a = ip("198.51.100.1");
        let b = ip("198.51.100.2");
        // The first probe's reply (from b) comes after its timeout, while the second probe
        // is outstanding: b still counts, so the hop needs 11 probes, and the hop does not
        // end before the newest probe settles.
        let mut n = 0;
        let mut sim = Sim::new("-P udp -c 95 -w 1 -m 1 192.0.2.1");
        let tr = sim.run(move |pkt, _| {
            n += 1;
            let (from, delay) = if n == 1 {
                (b, Duration::from_millis(1500))
            } else {
                (a, Duration::from_millis(800))
            };
            Some((time_exceeded(pkt, from), delay))
        });
        assert_eq!(per_hop(&tr), vec![(1, 11, 2)]);
        assert_eq!(tr.probes[0].replies[0].addr, Some(Addr::from(b)));
        assert!(tr.probes.iter().all(|p| p.replies.len() == 1));
    }

    #[test]
    fn confidence_last_ditch_gets_the_single_interface_count() {
        // Everything silent: hop 1 is the gap (-g 1), then last-ditch probes at TTL 255.
        let mut sim = Sim::new("-P icmp -c 99 -w 1 -g 1 -G 2 -q 2 192.0.2.1");
        let tr = sim.run(|_, _| None);
        assert_eq!(per_hop(&tr), vec![(1, 8, 0)]);
        assert_eq!(tr.lastditch.as_ref().map(Vec::len), Some(8));
        assert_eq!(tr.stop_reason, TraceStop::GAPLIMIT);
    }

    #[test]
    fn confidence_with_parallel_hops_probes_each_hop_to_the_rule() {
        let r = routers(3, false);
        let hops = vec![vec![r[0]], vec![r[1], r[2]]];
        let mut sim = Sim::new("-P udp -c 95 -N 2 192.0.2.1");
        let tr = sim.run(lb_net(hops, round_robin));
        assert_eq!(per_hop(&tr), vec![(1, 6, 1), (2, 11, 2), (3, 6, 1)]);
        assert_eq!(tr.stop_reason, TraceStop::COMPLETED);
    }

    #[test]
    fn confidence_counts_each_looping_interface_of_a_hop() {
        let r = routers(3, false);
        // Hop 4 shows the routers of hops 1 and 2: two loops at one hop, enough for -l 2.
        let hops = vec![vec![r[0]], vec![r[1]], vec![r[2]], vec![r[0], r[1]]];
        let mut sim = Sim::new("-P udp -c 95 -l 2 192.0.2.1");
        let tr = sim.run(lb_net(hops.clone(), round_robin));
        assert_eq!((tr.stop_reason, tr.hop_count), (TraceStop::LOOP, 4));
        assert_eq!(per_hop(&tr).last(), Some(&(4, 11, 2)));
        let mut sim = Sim::new("-P udp -c 95 -l 3 192.0.2.1");
        let tr = sim.run(lb_net(hops, round_robin));
        assert_eq!((tr.stop_reason, tr.hop_count), (TraceStop::COMPLETED, 5));
    }

    #[test]
    fn confidence_gives_pmtud_steps_the_single_interface_count() {
        // Packets above 1000 bytes are lost: each PMTUD step above that size goes unanswered
        // for 8 attempts (-c 99) before another size is tried.
        let r = routers(1, false);
        let mut inner = lb_net(vec![r], round_robin);
        let mut sim = Sim::new("-P icmp -c 99 -M -w 1 192.0.2.1");
        let tr = sim.run(move |pkt, i| {
            if pkt.len() > 1000 {
                None
            } else {
                inner(pkt, i)
            }
        });
        assert_eq!(per_hop(&tr), vec![(1, 8, 1), (2, 8, 1)]);
        let pm = tr.pmtud.as_ref().expect("PMTUD ran");
        let sizes: Vec<u16> = pm.probes.iter().map(|p| p.size).collect();
        // Each lost size of the search got 8 attempts.
        for lost in [1500, 1492, 1280] {
            let n = sizes.iter().filter(|&&s| s == lost).count();
            assert_eq!(n, 8, "{lost}: {sizes:?}");
        }
        assert!(sizes.len() > 8);
    }

    #[test]
    fn confidence_is_recorded_in_warts() {
        let r = routers(1, true);
        let mut sim = Sim::new("-P icmp -c 99 -m 1 2001:db8::1");
        let tr = sim.run(lb_net(vec![r], round_robin));
        let rec = Record::Trace(Box::new(tr));
        let mut w = scamper_warts::warts::WartsWriter::new(Vec::new());
        w.write(&rec).unwrap();
        let bytes = w.into_inner();
        let mut rd = scamper_warts::warts::WartsReader::new(&bytes[..]);
        let back = loop {
            match rd.next_record().unwrap() {
                Some(Record::Trace(t)) => break t,
                Some(_) => continue,
                None => panic!("no trace in the warts"),
            }
        };
        assert_eq!(
            (back.confidence, back.probec, back.probes.len()),
            (99, 8, 8)
        );
        assert_eq!(back.flags, 0);
    }
}
