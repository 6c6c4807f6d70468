//! `traceroute from ... to ...` text.

use std::fmt::Write;

use crate::addr::Addr;
use crate::json::fmt_rtt;
use crate::trace::{flags, Trace, TracePmtud, TraceProbe, TraceReply};

pub(crate) fn render(t: &Trace) -> String {
    let mut s = String::from("traceroute ");
    if let Some(a) = &t.src {
        write!(s, "from {a} ").ok();
    }
    s += "to ";
    if let Some(a) = &t.dst {
        write!(s, "{a}").ok();
    }
    if let Some(a) = &t.rtr {
        write!(s, " via {a}").ok();
    }
    s += "\n";
    let mtus = t
        .pmtud
        .as_ref()
        .map(|pm| mtu_annotations(t, pm))
        .unwrap_or_default();
    for ttl in 1..=t.hop_count {
        let mut line = format!("{ttl:2}  ");
        let mut items: Vec<String> = Vec::new();
        let mut last: Option<Addr> = None;
        for p in t.probes.iter().filter(|p| u16::from(p.ttl) == ttl) {
            for r in &p.replies {
                let mut it = String::new();
                if r.addr != last {
                    if let Some(a) = &r.addr {
                        write!(it, "{a}  ").ok();
                    }
                    last = r.addr;
                }
                write!(it, "{} ms{}", fmt_rtt(&r.rtt), annotation(r)).ok();
                items.push(it);
            }
        }
        if items.is_empty() {
            if t.flags & flags::ALLATTEMPTS != 0 {
                line = all_attempts_silent(ttl, t.attempts);
            } else {
                line += "*";
            }
        } else {
            line += &items.join("  ");
        }
        if let Some(tag) = mtus.get(usize::from(ttl) - 1) {
            line += tag;
        }
        s += &line;
        s += "\n";
    }
    s
}

/// A silent hop of an all-attempts trace: one `*` per attempt. The C writer lays the stars
/// into a buffer sized for a two-digit hop number, so from hop 100 on the first star
/// overwrites the second space, and with no attempts the line is the hop number and one space.
fn all_attempts_silent(ttl: u16, attempts: u8) -> String {
    let n = usize::from(attempts);
    let mut b = format!("{ttl:2}  ").into_bytes();
    b.resize(4 + 2 * n, 0);
    for i in 0..n {
        b[4 + 2 * i] = b'*';
        b[5 + 2 * i] = b' ';
    }
    b.truncate(3 + 2 * n);
    String::from_utf8(b).unwrap_or_default()
}

fn annotation(r: &TraceReply) -> String {
    if r.is_tcp() {
        let f = r.tcp_flags;
        return match f & 0x57 {
            _ if f & 0x04 != 0 => " [closed]".into(),
            _ if f & 0x12 == 0x12 && f & 0x40 != 0 => " [open, ecn]".into(),
            _ if f & 0x12 == 0x12 => " [open]".into(),
            _ if f == 0 => " [unknown, no flags]".into(),
            _ => {
                let names = [
                    (0x04, "RST"),
                    (0x02, "SYN"),
                    (0x10, "ACK"),
                    (0x08, "PSH"),
                    (0x01, "FIN"),
                    (0x20, "URG"),
                    (0x80, "CWR"),
                    (0x40, "ECE"),
                ];
                let v: Vec<&str> = names
                    .iter()
                    .filter(|(b, _)| f & b != 0)
                    .map(|(_, n)| *n)
                    .collect();
                format!(" [unknown, {}]", v.join(" "))
            }
        };
    }
    if r.is_udp() {
        return String::new();
    }
    let (ty, code) = (r.icmp_type, r.icmp_code);
    match r.addr {
        Some(Addr::V4(_)) => match (ty, code) {
            (11, _) | (0, _) | (3, 3) => String::new(),
            (3, c) => match c {
                0 => " !N".into(),
                1 => " !H".into(),
                2 => " !P".into(),
                4 => " !F".into(),
                5 => " !S".into(),
                13 => " !X".into(),
                c => format!(" !<{c}>"),
            },
            (t, c) => format!(" !<{t},{c}>"),
        },
        Some(Addr::V6(_)) => match (ty, code) {
            (3, _) | (129, _) | (1, 4) => String::new(),
            (1, c) => match c {
                0 => " !N".into(),
                1 => " !P".into(),
                2 => " !S".into(),
                3 => " !A".into(),
                c => format!(" !<{c}>"),
            },
            (2, _) => " !F".into(),
            (t, c) => format!(" !<{t},{c}>"),
        },
        _ => String::new(),
    }
}

/// PMTUD note kinds (warts.md 4.5.1).
const NOTE_PTB: u8 = 1;
const NOTE_PTB_BAD: u8 = 2;
const NOTE_SILENCE: u8 = 3;

/// One step of the MTU walk: where the MTU changed, to what, and on what evidence.
struct Step<'a> {
    kind: u8,
    nhmtu: u16,
    /// The reply the note refers to, with the probe it answered.
    reply: Option<(&'a TraceProbe, &'a TraceReply)>,
}

/// The PMTUD annotation of each hop line (index TTL - 1; empty for none), cli.md 5.1.
///
/// The notes are walked in order with the MTU in force: every responding hop up to a note's
/// hop gets ` [mtu: N]`, or ` [*mtu: N]` when N was inferred without a packet-too-big telling
/// it (silence, a PTB with a bad next-hop MTU, a note whose hop is unknown, or a first-hop MTU
/// below the interface's). The note's own hop is annotated even when silent, with ` ptb <addr>`
/// when the PTB came from an address the trace did not see there, and ` nhmtu <n>!` with the
/// bogus next-hop MTU of a PTB-bad note. Hops after the last note get the path MTU found.
fn mtu_annotations(t: &Trace, pm: &TracePmtud) -> Vec<String> {
    let h = usize::from(t.hop_count);
    let mut tags = vec![String::new(); h];
    let replies: Vec<(&TraceProbe, &TraceReply)> = pm
        .probes
        .iter()
        .flat_map(|p| p.replies.iter().map(move |r| (p, r)))
        .collect();
    let mut steps: Vec<Step> = if pm.ver >= 2 {
        pm.notes
            .iter()
            .map(|n| Step {
                kind: n.kind,
                nhmtu: n.nhmtu,
                reply: n.reply.and_then(|i| replies.get(usize::from(i)).copied()),
            })
            .collect()
    } else {
        // Version 1 data has no notes: each packet-too-big is where the MTU changed.
        replies
            .iter()
            .filter(|(_, r)| r.is_ptb())
            .map(|&(p, r)| Step {
                kind: NOTE_PTB,
                nhmtu: r.icmp_nhmtu,
                reply: Some((p, r)),
            })
            .collect()
    };
    let responding = |ttl: usize| {
        t.probes
            .iter()
            .any(|p| usize::from(p.ttl) == ttl && !p.replies.is_empty())
    };
    let tag = |mtu: u16, inferred: bool| {
        if inferred {
            format!(" [*mtu: {mtu}]")
        } else {
            format!(" [mtu: {mtu}]")
        }
    };
    let (mut mtu, mut inferred) = (pm.ifmtu, false);
    // Distances are worked out over every note, in order, as the JSON notes show them.
    let dists: Vec<Option<usize>> = {
        let mut d = 0;
        steps
            .iter()
            .map(|s| {
                let dist = note_dist(t, s, d, h);
                d = d.max(dist.unwrap_or(0));
                dist
            })
            .collect()
    };
    let mut dists = dists.into_iter();
    if pm.ver >= 2 && pm.outmtu != 0 && !steps.is_empty() {
        // The first note is the search that found the first hop's MTU below the interface's.
        steps.remove(0);
        dists.next();
        (mtu, inferred) = (pm.outmtu, true);
    }
    // Hops 1..=done are annotated.
    let mut done = 0;
    for (s, dist) in steps.iter().zip(dists) {
        // A PTB that cannot be placed on the path is shown on the last hop before the
        // destination, where it can have happened at the latest.
        let ptb = s.kind != NOTE_SILENCE && s.reply.is_some();
        let dist = dist.or_else(|| ptb.then(|| h.saturating_sub(1)));
        let placed = dist.filter(|&d| d >= 1 && d >= done);
        if let Some(dist) = placed {
            for ttl in done + 1..=dist.min(h) {
                if responding(ttl) || ttl == dist {
                    tags[ttl - 1] = tag(mtu, inferred);
                }
            }
            if let (true, Some((_, r)), Some(at)) = (ptb, s.reply, tags.get_mut(dist - 1)) {
                let seen = t
                    .probes
                    .iter()
                    .filter(|p| usize::from(p.ttl) == dist)
                    .flat_map(|p| &p.replies)
                    .any(|x| x.addr == r.addr);
                if let (false, Some(a)) = (seen, &r.addr) {
                    write!(at, " ptb {a}").ok();
                }
                if s.kind == NOTE_PTB_BAD && r.is_ptb() {
                    write!(at, " nhmtu {}!", r.icmp_nhmtu).ok();
                }
            }
            done = dist;
        }
        // Only a PTB placed on the path tells the MTU; anything else is an inference.
        (mtu, inferred) = (s.nhmtu, s.kind != NOTE_PTB || placed.is_none());
    }
    for ttl in done + 1..=h {
        if responding(ttl) {
            tags[ttl - 1] = tag(mtu, inferred);
        }
    }
    tags
}

/// The hop (TTL) a note refers to, `None` when unknown (json.md 2.4 "dist"): a silence note is
/// at the TTL of its probe; a PTB at the first trace hop from `d` on with the PTB's address,
/// else at the distance its quotation's TTL gives (one hop nearer when the trace's hop there
/// is on the same /30 or /126, as the two ends of one link are).
fn note_dist(t: &Trace, s: &Step, d: usize, h: usize) -> Option<usize> {
    let Some((p, r)) = s.reply else {
        return (s.kind == NOTE_SILENCE).then_some(0);
    };
    if s.kind == NOTE_SILENCE {
        return Some(usize::from(p.ttl));
    }
    let slot = |i: usize| {
        t.probes
            .iter()
            .filter(|p| usize::from(p.ttl) == i + 1)
            .find_map(|p| p.replies.first())
            .and_then(|r| r.addr)
    };
    if let Some(i) = (d.max(1) - 1..h).find(|&i| slot(i).is_some() && slot(i) == r.addr) {
        return Some(i + 1);
    }
    if p.ttl <= r.icmp_q_ttl {
        return None;
    }
    let i = usize::from(p.ttl - r.icmp_q_ttl);
    if i >= h {
        return None;
    }
    let near = match (slot(i), r.addr) {
        (Some(a), Some(b)) => {
            let need = if b.is_ipv4() { 30 } else { 126 };
            a.type_code() == b.type_code() && common_prefix_bits(&a, &b) >= need
        }
        _ => false,
    };
    Some(if near { i } else { i + 1 })
}

fn common_prefix_bits(a: &Addr, b: &Addr) -> u32 {
    let mut n = 0;
    for (x, y) in a.octets().iter().zip(b.octets().iter()) {
        let diff = x ^ y;
        n += diff.leading_zeros();
        if diff != 0 {
            break;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{TracePmtudNote, TraceStop};
    use crate::Timeval;

    fn a(s: &str) -> Option<Addr> {
        Some(Addr::from(s.parse::<std::net::IpAddr>().unwrap()))
    }

    /// A reply from `from` with an RTT of `ms` milliseconds: time exceeded, or port
    /// unreachable from the destination 192.0.2.2.
    fn reply(from: &str, ms: u64) -> TraceReply {
        let dst = from == "192.0.2.2";
        TraceReply {
            addr: a(from),
            rtt: Timeval::from(std::time::Duration::from_millis(ms)),
            icmp_type: if dst { 3 } else { 11 },
            icmp_code: if dst { 3 } else { 0 },
            icmp_q_ttl: 1,
            ..TraceReply::default()
        }
    }

    /// 192.0.2.1 to 192.0.2.2 through routers .4 .5 .6 .7 (None: a silent hop), with PMTUD
    /// data of interface MTU 1500.
    fn trace(path: [Option<&str>; 5]) -> Trace {
        let probes = path
            .iter()
            .zip(1u8..)
            .map(|(from, ttl)| TraceProbe {
                ttl,
                id: 1,
                size: 44,
                replies: from.map(|f| reply(f, u64::from(ttl))).into_iter().collect(),
                ..TraceProbe::default()
            })
            .collect();
        Trace {
            src: a("192.0.2.1"),
            dst: a("192.0.2.2"),
            stop_reason: TraceStop::COMPLETED,
            flags: flags::PMTUD,
            hop_count: 5,
            probes,
            pmtud: Some(TracePmtud {
                ifmtu: 1500,
                ver: 2,
                ..TracePmtud::default()
            }),
            ..Trace::default()
        }
    }

    const PATH: [Option<&str>; 5] = [
        Some("192.0.2.4"),
        Some("192.0.2.5"),
        Some("192.0.2.6"),
        Some("192.0.2.7"),
        Some("192.0.2.2"),
    ];

    /// A PMTUD probe to the destination (TTL 255) of `size` answered by a PTB from `from`
    /// quoting TTL `q_ttl`, saying next-hop MTU `nhmtu`.
    fn ptb(size: u16, from: &str, q_ttl: u8, nhmtu: u16) -> TraceProbe {
        TraceProbe {
            ttl: 255,
            id: 1,
            size,
            replies: vec![TraceReply {
                icmp_type: 3,
                icmp_code: 4,
                icmp_q_ttl: q_ttl,
                icmp_nhmtu: nhmtu,
                ..reply(from, 9)
            }],
            ..TraceProbe::default()
        }
    }

    fn note(kind: u8, nhmtu: u16, reply: Option<u16>) -> TracePmtudNote {
        TracePmtudNote { kind, nhmtu, reply }
    }

    fn with(mut t: Trace, probes: Vec<TraceProbe>, notes: Vec<TracePmtudNote>) -> Trace {
        let pm = t.pmtud.as_mut().unwrap();
        (pm.probes, pm.notes) = (probes, notes);
        t
    }

    /// The hop lines' text after the RTT (the annotations).
    fn tails(t: &Trace) -> Vec<String> {
        render(t)
            .lines()
            .skip(1)
            .map(|l| match l.find(" ms") {
                Some(i) => l[i + 3..].to_string(),
                None => l[4..].to_string(),
            })
            .collect()
    }

    #[test]
    fn ptbs_change_the_mtu_after_the_hop_that_sent_them() {
        // .5 (hop 2) says 1492, .7 (hop 4) says 1480.
        let t = with(
            trace(PATH),
            vec![
                ptb(1500, "192.0.2.5", 1, 1492),
                ptb(1492, "192.0.2.7", 1, 1480),
            ],
            vec![note(1, 1492, Some(0)), note(1, 1480, Some(1))],
        );
        assert_eq!(
            render(&t),
            "traceroute from 192.0.2.1 to 192.0.2.2\n \
             1  192.0.2.4  1.000 ms [mtu: 1500]\n \
             2  192.0.2.5  2.000 ms [mtu: 1500]\n \
             3  192.0.2.6  3.000 ms [mtu: 1492]\n \
             4  192.0.2.7  4.000 ms [mtu: 1492]\n \
             5  192.0.2.2  5.000 ms [mtu: 1480]\n"
        );
        // No notes: the interface MTU all the way.
        let t = with(trace(PATH), vec![], vec![]);
        assert!(tails(&t).iter().all(|l| l == " [mtu: 1500]"), "{t:?}");
    }

    #[test]
    fn an_mtu_inferred_from_silence_is_starred() {
        // The TTL-limited probe of 1500 bytes reached hop 1; beyond it only 1492 got through.
        let ttl1 = TraceProbe {
            ttl: 1,
            size: 1500,
            replies: vec![reply("192.0.2.4", 9)],
            ..TraceProbe::default()
        };
        let t = with(trace(PATH), vec![ttl1], vec![note(3, 1492, Some(0))]);
        assert_eq!(
            tails(&t),
            [
                " [mtu: 1500]",
                " [*mtu: 1492]",
                " [*mtu: 1492]",
                " [*mtu: 1492]",
                " [*mtu: 1492]"
            ]
        );
        // A first-hop MTU below the interface's (outmtu), found by silence before any reply,
        // then a PTB from hop 2.
        let mut t = with(
            trace(PATH),
            vec![ptb(8986, "192.0.2.5", 1, 8980)],
            vec![note(3, 8986, None), note(1, 8980, Some(0))],
        );
        let pm = t.pmtud.as_mut().unwrap();
        (pm.ifmtu, pm.outmtu) = (9000, 8986);
        assert_eq!(
            tails(&t),
            [
                " [*mtu: 8986]",
                " [*mtu: 8986]",
                " [mtu: 8980]",
                " [mtu: 8980]",
                " [mtu: 8980]"
            ]
        );
    }

    #[test]
    fn ptb_source_and_bad_next_hop_mtu_are_shown() {
        // A PTB from an address the trace did not see, quoting TTL 253 (two hops used up):
        // it is placed at hop 3, whose address is not on its /30, and claims an MTU (1600)
        // larger than the packet it refused, so the 1400 that got through is an inference.
        let t = with(
            trace(PATH),
            vec![
                ptb(1500, "10.9.9.9", 253, 1600),
                ptb(1400, "192.0.2.7", 1, 1280),
            ],
            vec![note(2, 1400, Some(0)), note(1, 1280, Some(1))],
        );
        assert_eq!(
            tails(&t),
            [
                " [mtu: 1500]",
                " [mtu: 1500]",
                " [mtu: 1500] ptb 10.9.9.9 nhmtu 1600!",
                " [*mtu: 1400]",
                " [mtu: 1280]"
            ]
        );
    }

    #[test]
    fn silent_hops_and_notes_that_cannot_be_placed() {
        // Hop 3 is silent: no annotation, unless a note is placed there.
        let mut path = PATH;
        path[2] = None;
        let probes = vec![
            ptb(1500, "192.0.2.5", 1, 1492),
            ptb(1492, "192.0.2.7", 1, 1480),
        ];
        let notes = vec![note(1, 1492, Some(0)), note(1, 1480, Some(1))];
        let t = with(trace(path), probes.clone(), notes.clone());
        assert_eq!(tails(&t)[2], "*");
        let t = with(
            trace(path),
            vec![ptb(1500, "10.9.9.9", 253, 1492)],
            vec![note(1, 1492, Some(0))],
        );
        assert_eq!(tails(&t)[2], "* [mtu: 1500] ptb 10.9.9.9");
        // A note without a reply has no place: the MTU after the previous note is inferred.
        let t = with(
            trace(PATH),
            probes.clone(),
            vec![note(1, 1492, Some(0)), note(1, 1480, None)],
        );
        assert_eq!(
            tails(&t)[1..],
            [
                " [mtu: 1500]",
                " [*mtu: 1480]",
                " [*mtu: 1480]",
                " [*mtu: 1480]"
            ]
        );
        // A PTB whose quotation places it beyond the path goes on the hop before the
        // destination.
        let t = with(
            trace(PATH),
            vec![ptb(1500, "10.9.9.9", 1, 1480)],
            vec![note(1, 1480, Some(0))],
        );
        assert_eq!(
            tails(&t)[3..],
            [" [mtu: 1500] ptb 10.9.9.9", " [mtu: 1480]"]
        );
    }

    #[test]
    fn version_1_data_uses_the_ptbs_themselves() {
        let mut t = with(
            trace(PATH),
            vec![
                ptb(1500, "192.0.2.5", 1, 1492),
                ptb(1492, "192.0.2.7", 1, 1480),
            ],
            vec![],
        );
        t.pmtud.as_mut().unwrap().ver = 1;
        assert_eq!(
            tails(&t),
            [
                " [mtu: 1500]",
                " [mtu: 1500]",
                " [mtu: 1492]",
                " [mtu: 1492]",
                " [mtu: 1480]"
            ]
        );
    }

    #[test]
    fn unreachable_annotation_comes_before_the_mtu_and_no_source_is_left_out() {
        let mut t = with(trace(PATH), vec![], vec![]);
        t.probes[4].replies[0].icmp_code = 1;
        assert_eq!(tails(&t)[4], " !H [mtu: 1500]");
        t.src = None;
        assert!(render(&t).starts_with("traceroute to 192.0.2.2\n"));
    }
}
