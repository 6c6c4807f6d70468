//! `traceroute from ... to ...` text.

use std::fmt::Write;

use super::trace_pmtud::Hops;
use crate::addr::Addr;
use crate::json::fmt_rtt;
use crate::trace::{flags, Trace, TraceReply};

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
    let hops = Hops::new(t);
    let mut mtus = t
        .pmtud
        .as_ref()
        .map(|pm| super::trace_pmtud::annotations(t, &hops, pm))
        .unwrap_or_default();
    // annotations are printed up to the stop hop only
    if t.stop_hop != 0 && u16::from(t.stop_hop) <= t.hop_count {
        mtus.truncate(usize::from(t.stop_hop));
    }
    for ttl in 1..=t.hop_count {
        let mut line = format!("{ttl:2}  ");
        let mut items: Vec<String> = Vec::new();
        let mut last: Option<Addr> = None;
        for p in hops.at(ttl) {
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
        if let Some(Some(tag)) = mtus.get(usize::from(ttl) - 1) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{TracePmtud, TracePmtudNote, TraceProbe, TraceStop};
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
        // scamper 20260420 annotates nothing after the hop of the last PTB
        // (tests/data/text/cases.txt has the same trace through sc_warts2text)
        assert_eq!(
            tails(&t),
            [
                " [mtu: 1500]",
                " [mtu: 1500]",
                " [mtu: 1492]",
                " [mtu: 1492]",
                ""
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
