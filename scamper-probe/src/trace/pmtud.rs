//! Path-MTU discovery after a completed traceroute (`trace -M`).
//!
//! The search, as the manual and warts(5) describe it, with version 2 notes:
//! - Probes of the interface MTU go to the destination with DF set (TTL 255). A packet-too-big
//!   quoting one gives the next size (its next-hop MTU) and a `ptb` note; a PTB whose next-hop
//!   MTU is unusable (zero, not smaller than the probe, below the protocol minimum) gets a
//!   `ptb-bad` note and the next smaller well-known MTU is tried.
//! - A size that draws no answer at all is a black hole: smaller well-known MTUs are tried until
//!   the destination answers, then a binary search between the largest answered size and the
//!   smallest lost one finds the exact MTU.
//! - To say where the black hole is, probes one byte too big go to the routers the trace found,
//!   nearest first: the last router that still answers them (time exceeded) is the hop before
//!   the black hole, recorded with a `silence` note. When even the first hop is silent, the MTU
//!   of the outgoing link is lower than the interface's (`outmtu`).
//!
//! This module only decides; [`super::task`] sends the probes, times them out and feeds the
//! answers back, so the logic is tested without packets.

/// Note types of the PMTUD record.
pub const NOTE_PTB: u8 = 1;
pub const NOTE_PTB_BAD: u8 = 2;
pub const NOTE_SILENCE: u8 = 3;

/// The data-collection version written in the record (current scamper writes 2).
pub const VERSION: u8 = 2;

/// TTL of probes to the destination: far enough for any path.
pub const DST_TTL: u8 = 255;

/// Interface MTU assumed when the kernel reports none (IPv6 here): Ethernet's.
pub const DEFAULT_IFMTU: u16 = 1500;

/// Well-known link MTUs (RFC 1191's plateaus and common tunnels), largest first: the sizes
/// tried below a size that vanished or drew an unusable PTB.
const MTU_TABLE: [u16; 19] = [
    65535, 17914, 9000, 8166, 4464, 4352, 2048, 2002, 1500, 1492, 1480, 1454, 1400, 1280, 1006,
    576, 552, 296, 68,
];

/// What a reply to a PMTUD probe says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The destination answered (the probe got through).
    Destination,
    /// ICMP packet-too-big with this next-hop MTU.
    TooBig(u16),
    /// A router on the way answered (TTL-limited probes of the hop search).
    TimeExceeded,
    /// Anything else (unreachable, other ICMP): the search cannot go on.
    Other,
}

/// A reply a note refers to: index of the probe in the trace's send order, and the reply's
/// position among that probe's replies.
pub type ReplyRef = (usize, usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note {
    pub kind: u8,
    pub nhmtu: u16,
    pub reply: Option<ReplyRef>,
}

/// The next probe to send: its size and TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub size: u16,
    pub ttl: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Probing the destination with this size.
    Search(u16),
    /// Looking for the last router that `size` reaches: probing `hop_ttls[i]`; `last` is the
    /// newest router answer so far.
    Hops {
        size: u16,
        i: usize,
        last: Option<ReplyRef>,
    },
    Done,
}

/// PMTUD state of one trace.
#[derive(Debug, Clone)]
pub struct Pmtud {
    /// Smallest MTU of the address family (IPv4 68, IPv6 1280).
    min: u16,
    pub ifmtu: u16,
    pub outmtu: u16,
    /// The path MTU found; 0 until (or unless) it is.
    pub pmtu: u16,
    pub notes: Vec<Note>,
    /// Largest size the destination answered since the last usable PTB.
    good: Option<u16>,
    /// Smallest size lost (no answer, or an unusable PTB) since the last usable PTB.
    lost: Option<u16>,
    /// The newest loss was an unusable PTB: its note already names the hop.
    lost_by_bad_ptb: bool,
    /// TTLs at which a router answered during the traceroute, ascending.
    hop_ttls: Vec<u8>,
    stage: Stage,
}

impl Pmtud {
    /// Start at the interface MTU; `hop_ttls` are the TTLs whose routers answered the trace.
    pub fn new(v6: bool, ifmtu: u16, hop_ttls: Vec<u8>) -> Pmtud {
        let min = if v6 { 1280 } else { 68 };
        let ifmtu = ifmtu.max(min);
        Pmtud {
            min,
            ifmtu,
            outmtu: 0,
            pmtu: 0,
            notes: Vec::new(),
            good: None,
            lost: None,
            lost_by_bad_ptb: false,
            hop_ttls,
            stage: Stage::Search(ifmtu),
        }
    }

    /// The probe to send now, or `None` when the search is over.
    pub fn step(&self) -> Option<Step> {
        match self.stage {
            Stage::Search(size) => Some(Step { size, ttl: DST_TTL }),
            Stage::Hops { size, i, .. } => Some(Step {
                size,
                ttl: self.hop_ttls[i],
            }),
            Stage::Done => None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Stop searching (a probe could not be built); what was found so far stays.
    pub fn abandon(&mut self) {
        self.stage = Stage::Done;
    }

    /// The largest well-known MTU below `size` (the family minimum at the bottom).
    fn below(&self, size: u16) -> Option<u16> {
        if size <= self.min {
            return None;
        }
        Some(
            MTU_TABLE
                .iter()
                .copied()
                .find(|&m| m < size)
                .unwrap_or(self.min)
                .max(self.min),
        )
    }

    fn finish(&mut self, pmtu: u16) {
        self.pmtu = pmtu;
        self.stage = Stage::Done;
    }

    /// A reply to a probe of the current step.
    pub fn on_answer(&mut self, answer: Answer, reply: ReplyRef) {
        match self.stage {
            Stage::Search(size) => self.search_answer(size, answer, reply),
            Stage::Hops { size, i, last } => match answer {
                Answer::TimeExceeded => {
                    if i + 1 < self.hop_ttls.len() {
                        self.stage = Stage::Hops {
                            size,
                            i: i + 1,
                            last: Some(reply),
                        };
                    } else {
                        // Every router before the destination passes it on: the black hole
                        // is on the last link.
                        self.silence_note(Some(reply));
                        self.stage = Stage::Done;
                    }
                }
                Answer::TooBig(n) => {
                    // A router that stayed quiet for the destination's probes speaks up now.
                    let kind = if self.usable(n, size) {
                        NOTE_PTB
                    } else {
                        NOTE_PTB_BAD
                    };
                    self.notes.push(Note {
                        kind,
                        nhmtu: n,
                        reply: Some(reply),
                    });
                    self.stage = Stage::Done;
                }
                Answer::Destination | Answer::Other => {
                    self.silence_note(last);
                    self.stage = Stage::Done;
                }
            },
            Stage::Done => {}
        }
    }

    fn usable(&self, nhmtu: u16, size: u16) -> bool {
        nhmtu >= self.min && nhmtu < size
    }

    fn search_answer(&mut self, size: u16, answer: Answer, reply: ReplyRef) {
        match answer {
            Answer::Destination => {
                self.good = Some(self.good.map_or(size, |g| g.max(size)));
                match self.lost {
                    None => self.finish(size),
                    Some(_) => self.narrow(),
                }
            }
            Answer::TooBig(n) if self.usable(n, size) => {
                self.notes.push(Note {
                    kind: NOTE_PTB,
                    nhmtu: n,
                    reply: Some(reply),
                });
                // The PTB says exactly how far this size gets; earlier bounds were about a
                // larger packet and no longer help.
                self.good = None;
                self.lost = None;
                self.lost_by_bad_ptb = false;
                self.stage = Stage::Search(n);
            }
            Answer::TooBig(n) => {
                self.notes.push(Note {
                    kind: NOTE_PTB_BAD,
                    nhmtu: n,
                    reply: Some(reply),
                });
                self.lose(size, true);
            }
            Answer::TimeExceeded | Answer::Other => {
                let g = self.good.unwrap_or(0);
                self.finish(g);
            }
        }
    }

    /// No answer to any attempt of the current step.
    pub fn on_silence(&mut self) {
        match self.stage {
            Stage::Search(size) => self.lose(size, false),
            Stage::Hops { i, last, .. } => {
                if last.is_none() && i == 0 && self.hop_ttls.first() == Some(&1) {
                    // Not even the first hop gets it: the outgoing link is the bottleneck.
                    self.outmtu = self.pmtu;
                }
                self.silence_note(last);
                self.stage = Stage::Done;
            }
            Stage::Done => {}
        }
    }

    fn lose(&mut self, size: u16, bad_ptb: bool) {
        self.lost = Some(self.lost.map_or(size, |l| l.min(size)));
        self.lost_by_bad_ptb = bad_ptb;
        if self.good.is_some() {
            self.narrow();
            return;
        }
        match self.below(size) {
            Some(next) => self.stage = Stage::Search(next),
            // Even the smallest packet is lost: no inference is possible.
            None => self.finish(0),
        }
    }

    /// Binary search between the largest answered and the smallest lost size; once they are
    /// adjacent the answered one is the path MTU and the hop search begins.
    fn narrow(&mut self) {
        let (Some(good), Some(lost)) = (self.good, self.lost) else {
            return;
        };
        if lost > good + 1 {
            self.stage = Stage::Search(good + (lost - good) / 2);
            return;
        }
        self.pmtu = good;
        if self.lost_by_bad_ptb {
            self.stage = Stage::Done;
        } else if self.hop_ttls.is_empty() {
            self.silence_note(None);
            self.stage = Stage::Done;
        } else {
            self.stage = Stage::Hops {
                size: lost,
                i: 0,
                last: None,
            };
        }
    }

    fn silence_note(&mut self, reply: Option<ReplyRef>) {
        self.notes.push(Note {
            kind: NOTE_SILENCE,
            nhmtu: self.pmtu,
            reply,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the search against a path: `links[i]` is the MTU of the link after hop i (link 0
    /// leaves the vantage point), `ptb[i]` whether the router before that link sends PTBs (and
    /// with which next-hop MTU: `Some(None)` means a bogus zero); the destination is past the
    /// last link. Returns the probes sent.
    fn run(p: &mut Pmtud, links: &[u16], ptb: &[Option<Option<u16>>]) -> Vec<Step> {
        let mut steps = Vec::new();
        while let Some(s) = p.step() {
            let n = steps.len();
            steps.push(s);
            assert!(steps.len() < 100, "no end: {steps:?}");
            match walk(s, links, ptb) {
                Some(a) => p.on_answer(a, (n, 0)),
                None => p.on_silence(),
            }
        }
        steps
    }

    /// What becomes of probe `s` on the path; `None` when it vanishes. Router i (TTL i) sits
    /// before link i; a TTL expiring there is answered before the link's MTU matters.
    fn walk(s: Step, links: &[u16], ptb: &[Option<Option<u16>>]) -> Option<Answer> {
        for (i, &mtu) in links.iter().enumerate() {
            if i > 0 && usize::from(s.ttl) == i {
                return Some(Answer::TimeExceeded);
            }
            if s.size > mtu {
                return ptb[i].map(|m| Answer::TooBig(m.unwrap_or(0)));
            }
        }
        Some(Answer::Destination)
    }

    #[test]
    fn ptbs_lead_to_the_path_mtu() {
        // link 1 (after hop 1) 1492 with PTB, link 3 1480 with PTB
        let mut p = Pmtud::new(false, 1500, vec![1, 2, 3]);
        let steps = run(
            &mut p,
            &[1500, 1492, 1500, 1480],
            &[None, Some(Some(1492)), None, Some(Some(1480))],
        );
        assert_eq!(
            steps.iter().map(|s| (s.size, s.ttl)).collect::<Vec<_>>(),
            [(1500, 255), (1492, 255), (1480, 255)]
        );
        assert_eq!(p.pmtu, 1480);
        assert_eq!(
            p.notes,
            [
                Note {
                    kind: NOTE_PTB,
                    nhmtu: 1492,
                    reply: Some((0, 0))
                },
                Note {
                    kind: NOTE_PTB,
                    nhmtu: 1480,
                    reply: Some((1, 0))
                }
            ]
        );
        assert_eq!(p.outmtu, 0);
    }

    #[test]
    fn black_hole_is_narrowed_and_located() {
        // link 2 (after hop 2) has MTU 1300 and its router sends no PTB
        let mut p = Pmtud::new(false, 1500, vec![1, 2, 3]);
        let steps = run(&mut p, &[1500, 1500, 1300, 1500], &[None; 4]);
        assert_eq!(p.pmtu, 1300);
        // table descent to 1280, then a binary search between 1280 and 1400
        let sizes: Vec<u16> = steps.iter().map(|s| s.size).collect();
        assert_eq!(&sizes[..7], [1500, 1492, 1480, 1454, 1400, 1280, 1340]);
        // the hop search uses 1301-byte probes towards hops 1, 2 and 3: 3 is beyond the hole
        let hops: Vec<(u16, u8)> = steps
            .iter()
            .filter(|s| s.ttl != DST_TTL)
            .map(|s| (s.size, s.ttl))
            .collect();
        assert_eq!(hops, [(1301, 1), (1301, 2), (1301, 3)]);
        let last = p.notes.last().unwrap();
        assert_eq!((last.kind, last.nhmtu), (NOTE_SILENCE, 1300));
        // the note refers to the answer of hop 2
        let hop2 = steps.iter().position(|s| s.ttl == 2).unwrap();
        assert_eq!(last.reply, Some((hop2, 0)));
        assert!(p.is_done());
    }

    #[test]
    fn first_link_bottleneck_sets_outmtu() {
        let mut p = Pmtud::new(true, 1500, vec![1, 2]);
        let _ = run(&mut p, &[1400, 1500, 1500], &[None; 3]);
        assert_eq!((p.pmtu, p.outmtu), (1400, 1400));
        assert_eq!(
            p.notes,
            [Note {
                kind: NOTE_SILENCE,
                nhmtu: 1400,
                reply: None
            }]
        );
    }

    #[test]
    fn bad_ptb_steps_down_the_table() {
        // a router sends PTBs with next-hop MTU 0 (pre RFC 1191) for a 1400 link
        let mut p = Pmtud::new(false, 1500, vec![1, 2]);
        let steps = run(&mut p, &[1500, 1400, 1500], &[None, Some(None), None]);
        assert_eq!(p.pmtu, 1400);
        assert_eq!(p.notes[0].kind, NOTE_PTB_BAD);
        assert_eq!(p.notes[0].nhmtu, 0);
        // every lost size was an unusable PTB: no hop search, only PTB-bad notes
        assert!(steps.iter().all(|s| s.ttl == DST_TTL));
        assert!(p.notes.iter().all(|n| n.kind == NOTE_PTB_BAD));
    }

    #[test]
    fn ipv6_never_goes_below_1280_and_gives_up_when_nothing_answers() {
        let mut p = Pmtud::new(true, 1500, vec![1]);
        let steps = run(&mut p, &[1500, 1000], &[None, None]);
        assert!(steps.iter().all(|s| s.size >= 1280));
        assert_eq!(steps.last().unwrap().size, 1280);
        assert_eq!(p.pmtu, 0);
        assert!(p.is_done());
        // an IPv6 PTB below 1280 is unusable
        let mut p = Pmtud::new(true, 1500, vec![1]);
        p.on_answer(Answer::TooBig(1000), (0, 0));
        assert_eq!(p.notes[0].kind, NOTE_PTB_BAD);
        assert_eq!(p.step().unwrap().size, 1492);
    }

    #[test]
    fn whole_path_carries_the_interface_mtu() {
        let mut p = Pmtud::new(false, 1500, vec![1]);
        let steps = run(&mut p, &[1500, 1500], &[None, None]);
        assert_eq!(steps.len(), 1);
        assert_eq!(p.pmtu, 1500);
        assert!(p.notes.is_empty());
    }

    /// The whole trace task against a simulated path: the search's probes, the record, the
    /// JSON scamper's sc_warts2json would print and the warts round trip.
    mod with_task {
        use crate::task::{Action, Task, TaskEnv};
        use crate::trace::options::TraceOptions;
        use crate::trace::pmtud::{NOTE_PTB, NOTE_SILENCE};
        use crate::trace::task::TraceTask;
        use scamper_packet::{build_icmp_error, parse_ip, IpParams};
        use scamper_warts::trace::{Trace, TraceStop};
        use scamper_warts::{Cycle, List, Record};
        use std::net::IpAddr;
        use std::sync::Arc;
        use std::time::Duration;

        const START: Duration = Duration::from_secs(1_700_000_000);

        fn ip(s: &str) -> IpAddr {
            s.parse().unwrap()
        }

        /// A path of routers; `mtus[i]` is the link after router i (0: the vantage point's
        /// link; the last one reaches the destination) and `ptb[i]` whether router i sends
        /// packet-too-big messages for it.
        struct Path {
            routers: Vec<IpAddr>,
            mtus: Vec<u16>,
            ptb: Vec<bool>,
        }

        impl Path {
            /// A router's ICMP error quoting the probe, with `info` in bytes 4..8.
            fn error(pkt: &[u8], from: IpAddr, t: u8, code: u8, info: u32) -> Vec<u8> {
                let rx = parse_ip(pkt).unwrap();
                let mut p = IpParams::new(from, rx.src);
                p.ttl = 250;
                build_icmp_error(&p, t, code, info, pkt, &[]).unwrap()
            }

            fn answer(&self, pkt: &[u8]) -> Option<Vec<u8>> {
                let rx = parse_ip(pkt).unwrap();
                let v6 = rx.is_ipv6();
                // IPv4 routers may fragment only what lacks DF; every PMTUD probe has it.
                let big_df = v6 || rx.df;
                for (i, &mtu) in self.mtus.iter().enumerate() {
                    if i > 0 && usize::from(rx.ttl) == i {
                        let (t, c) = if v6 { (3, 0) } else { (11, 0) };
                        return Some(Self::error(pkt, self.routers[i - 1], t, c, 0));
                    }
                    if pkt.len() > usize::from(mtu) {
                        assert!(big_df, "an oversized probe without DF");
                        if i == 0 || !self.ptb[i] {
                            return None;
                        }
                        let (t, c) = if v6 { (2, 0) } else { (3, 4) };
                        return Some(Self::error(pkt, self.routers[i - 1], t, c, u32::from(mtu)));
                    }
                }
                // UDP probes: the destination's port unreachable.
                let (t, c) = if v6 { (1, 4) } else { (3, 3) };
                Some(Self::error(pkt, rx.dst, t, c, 0))
            }
        }

        /// Run `trace <cmd>` over `path`; returns the record and the (size, TTL) of the probes.
        fn run(cmd: &str, path: &Path, route_mtu: Option<u16>) -> (Trace, Vec<(usize, u8)>) {
            let w: Vec<&str> = cmd.split_whitespace().collect();
            let opts = TraceOptions::parse(&w).unwrap();
            let src = if opts.dst.is_ipv4() {
                ip("192.0.2.10")
            } else {
                ip("2001:db8::10")
            };
            let list = Arc::new(List {
                id: 1,
                name: "default".into(),
                ..List::default()
            });
            let env = TaskEnv {
                src,
                real_src: src,
                route_mtu,
                stop_sets: Default::default(),
                ifnames: Default::default(),
                default_sport: 40000,
                start: START,
                list: list.clone(),
                cycle: Arc::new(Cycle {
                    list,
                    id: 1,
                    ..Cycle::default()
                }),
            };
            let mut t: Box<dyn Task> = Box::new(TraceTask::new(opts, env));
            let mut now = START;
            let mut probes = Vec::new();
            for _ in 0..1000 {
                match t.poll(now) {
                    Action::Send(p) => {
                        t.on_sent(now);
                        let rx = parse_ip(&p.packet).unwrap();
                        probes.push((p.packet.len(), rx.ttl));
                        if let Some(r) = path.answer(&p.packet) {
                            now += Duration::from_millis(3);
                            t.on_response(&parse_ip(&r).unwrap(), now);
                        }
                    }
                    Action::WaitUntil(at) => {
                        assert!(at > now);
                        now = at;
                    }
                    Action::Done => {
                        let Record::Trace(tr) = t.finish(now) else {
                            panic!("not a trace")
                        };
                        return (*tr, probes);
                    }
                }
            }
            panic!("no end")
        }

        fn json(tr: &Trace) -> String {
            let rec = Record::Trace(Box::new(tr.clone()));
            scamper_warts::json::to_json(&rec).unwrap().unwrap()
        }

        /// The PMTUD data survives warts (which keeps only probes that were answered).
        fn assert_warts_keeps_pmtud(tr: &Trace) {
            let mut want = tr.pmtud.clone().unwrap();
            want.probes.retain(|p| !p.replies.is_empty());
            assert_eq!(warts_round_trip(tr).pmtud, Some(want));
        }

        fn warts_round_trip(tr: &Trace) -> Trace {
            let rec = Record::Trace(Box::new(tr.clone()));
            let mut w = scamper_warts::warts::WartsWriter::new(Vec::new());
            w.write(&rec).unwrap();
            let bytes = w.into_inner();
            let mut r = scamper_warts::warts::WartsReader::new(&bytes[..]);
            loop {
                match r.next_record().unwrap() {
                    Some(Record::Trace(t)) => return *t,
                    Some(_) => continue,
                    None => panic!("no trace in the warts"),
                }
            }
        }

        fn three_routers(v6: bool, mtus: Vec<u16>, ptb: Vec<bool>) -> Path {
            let routers = if v6 {
                vec![
                    ip("2001:db8:1::1"),
                    ip("2001:db8:2::1"),
                    ip("2001:db8:3::1"),
                ]
            } else {
                vec![ip("198.51.100.1"), ip("198.51.100.2"), ip("198.51.100.3")]
            };
            Path { routers, mtus, ptb }
        }

        #[test]
        fn ptb_from_the_second_router_v4() {
            let path = three_routers(
                false,
                vec![1500, 1500, 1400, 1500],
                vec![false, false, true, false],
            );
            let (tr, probes) = run("-P udp-paris -M -q 1 192.0.2.1", &path, Some(1500));
            assert_eq!((tr.stop_reason, tr.hop_count), (TraceStop::COMPLETED, 4));
            // the trace's four probes, then 1500 (PTB) and 1400 (answered), both TTL 255
            assert_eq!(&probes[4..], [(1500, 255), (1400, 255)]);
            assert_eq!(tr.probec, 4);
            let pm = tr.pmtud.as_ref().expect("PMTUD data");
            assert_eq!((pm.ver, pm.ifmtu, pm.pmtu, pm.outmtu), (2, 1500, 1400, 0));
            assert_eq!(pm.probes.len(), 2);
            assert_eq!(pm.probes[0].replies[0].icmp_nhmtu, 1400);
            assert_eq!(pm.notes.len(), 1);
            assert_eq!((pm.notes[0].kind, pm.notes[0].nhmtu), (NOTE_PTB, 1400));
            assert_eq!(pm.notes[0].reply, Some(0));
            let j = json(&tr);
            let want = r#","pmtud":{"if_mtu":1500,"out_mtu":1500,"path_mtu":1400,"probec":2,"notec":1,"notes":[{"nhmtu":1400,"hop_id":0,"dist":2,"type":"ptb","icmp_nhmtu":1400,"addr":"198.51.100.2"}],"hops":[{"addr":"198.51.100.2","probe_ttl":255,"probe_id":1,"probe_size":1500"#;
            assert!(j.contains(want), "{j}");
            assert!(j.contains(r#""flags":["pmtud"]"#), "{j}");
            assert_warts_keeps_pmtud(&tr);
        }

        #[test]
        fn black_hole_behind_the_first_router_v6() {
            // link r1-r2 carries 1300 bytes and r1 sends no PTB; no route MTU for IPv6
            let path = three_routers(
                true,
                vec![1500, 1300, 1500, 1500],
                vec![false, false, false, false],
            );
            let (tr, probes) = run("-P udp -M -q 1 -w 1 2001:db8::1", &path, None);
            let pm = tr.pmtud.as_ref().expect("PMTUD data");
            assert_eq!((pm.ifmtu, pm.pmtu, pm.outmtu), (1500, 1300, 0));
            // the hop search: 1301 bytes reach r1 (TTL 1) but not r2 (TTL 2)
            assert_eq!(&probes[probes.len() - 2..], [(1301, 1), (1301, 2)]);
            let note = pm.notes.last().unwrap();
            assert_eq!((note.kind, note.nhmtu), (NOTE_SILENCE, 1300));
            let replied: Vec<_> = pm.probes.iter().flat_map(|p| &p.replies).collect();
            let r = replied[usize::from(note.reply.unwrap())];
            assert_eq!(r.addr, Some(ip("2001:db8:1::1").into()));
            let j = json(&tr);
            assert!(
                j.contains(r#""path_mtu":1300"#) && j.contains(r#""dist":1,"type":"silence""#),
                "{j}"
            );
            assert_warts_keeps_pmtud(&tr);
        }

        #[test]
        fn outgoing_link_below_the_interface_mtu() {
            let path = three_routers(
                false,
                vec![1400, 1500, 1500, 1500],
                vec![false, false, false, false],
            );
            let (tr, _) = run("-P icmp-paris -M -q 1 -w 1 192.0.2.1", &path, Some(1500));
            let pm = tr.pmtud.as_ref().expect("PMTUD data");
            assert_eq!((pm.ifmtu, pm.pmtu, pm.outmtu), (1500, 1400, 1400));
            assert_eq!(pm.notes.last().map(|n| (n.kind, n.reply)), Some((3, None)));
            let j = json(&tr);
            assert!(j.contains(r#""out_mtu":1400"#), "{j}");
        }

        #[test]
        fn no_pmtud_without_a_responsive_destination_or_with_tcp_syn() {
            let path = three_routers(false, vec![1500; 4], vec![false; 4]);
            let (tr, _) = run("-M -m 2 -q 1 192.0.2.1", &path, Some(1500));
            assert_eq!(tr.stop_reason, TraceStop::HOPLIMIT);
            assert!(tr.pmtud.is_none());
            assert!(tr.flags & scamper_warts::trace::flags::PMTUD != 0);
            let (tr, probes) = run("-P udp -M 192.0.2.1", &path, Some(1500));
            // the whole path carries 1500 bytes: one probe, no notes
            let pm = tr.pmtud.as_ref().expect("PMTUD data");
            assert_eq!((pm.pmtu, pm.notes.len(), pm.probes.len()), (1500, 0, 1));
            assert_eq!(probes.last(), Some(&(1500, 255)));
        }
    }
}
