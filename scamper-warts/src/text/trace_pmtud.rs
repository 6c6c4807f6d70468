//! The ` [mtu: N]` / ` [*mtu: N]` hop annotations of a trace with path-MTU data (cli.md 5.1),
//! worked out the way scamper's text writer does it: version-1 data by walking the PMTUD
//! replies alongside the hops, version-2 data by walking the notes and placing each on a hop.
//!
//! An annotation shows the size of the packets that got through to the hop (`size`); it is
//! starred when that differs from the MTU known from a packet-too-big (`mtu`).

use std::fmt::Write;

use crate::addr::Addr;
use crate::trace::{Trace, TracePmtud, TraceProbe, TraceReply};

/// Note kind: silence (a probe size nothing answered).
const NOTE_SILENCE: u8 = 3;

/// Size of the C writer's buffer for a hop's annotation with ` ptb` / ` nhmtu` details.
const NOTE_BUF: usize = 256;

/// The annotation of each hop line, index TTL - 1 (`None` for none), for `hop_count` hops.
pub(crate) fn annotations(t: &Trace, hops: &Hops<'_>, pm: &TracePmtud) -> Vec<Option<String>> {
    let mut tags = vec![None; usize::from(t.hop_count)];
    match pm.ver {
        1 => ver1(hops, pm, &mut tags),
        2 => ver2(t, hops, pm, &mut tags),
        _ => {}
    }
    tags
}

fn tag(mtu: u16, size: u16) -> String {
    if mtu != size {
        format!(" [*mtu: {size}]")
    } else {
        format!(" [mtu: {mtu}]")
    }
}

/// The trace's probes by TTL (probe TTLs are 8-bit), so that each hop is found without a walk
/// over every probe (a file may hold 65535 probes and hops).
pub(crate) struct Hops<'a> {
    by_ttl: Vec<Vec<&'a TraceProbe>>,
}

impl<'a> Hops<'a> {
    pub(crate) fn new(t: &'a Trace) -> Self {
        let mut by_ttl = vec![Vec::new(); 256];
        for p in &t.probes {
            by_ttl[usize::from(p.ttl)].push(p);
        }
        Hops { by_ttl }
    }

    /// The probes sent with `ttl`, in order (none past 255).
    pub(crate) fn at(&self, ttl: u16) -> &[&'a TraceProbe] {
        self.by_ttl.get(usize::from(ttl)).map_or(&[], Vec::as_slice)
    }

    /// The reply that stands for a hop (0-based index; scamper's index is 8-bit): the first
    /// reply of the first probe at that TTL that got one.
    fn first_reply(&self, i: usize) -> Option<&'a TraceReply> {
        let ttl = (i as u8).wrapping_add(1);
        self.at(u16::from(ttl))
            .iter()
            .find_map(|p| p.replies.first())
    }
}

/// The PMTUD replies in order, each with its probe.
fn pmtud_replies(pm: &TracePmtud) -> Vec<(&TraceProbe, &TraceReply)> {
    pm.probes
        .iter()
        .flat_map(|p| p.replies.iter().map(move |r| (p, r)))
        .collect()
}

fn same_addr(a: &TraceReply, b: &TraceReply) -> bool {
    a.addr.is_some() && a.addr == b.addr
}

fn ver1(hops: &Hops<'_>, pm: &TracePmtud, tags: &mut [Option<String>]) {
    let replies = pmtud_replies(pm);
    let mut next = replies.into_iter();
    let mut cur = next.next();
    // with no PMTUD reply at all, the path MTU is the only figure
    let (mut mtu, mut size) = match cur {
        None => (pm.pmtu, pm.pmtu),
        Some(_) if pm.outmtu != 0 => (pm.ifmtu, pm.outmtu),
        Some(_) => (pm.ifmtu, pm.ifmtu),
    };
    for (i, slot) in tags.iter_mut().enumerate() {
        let Some(trace_hop) = hops.first_reply(i) else {
            *slot = None;
            continue;
        };
        let Some((probe, hop)) = cur else { continue };
        // the PTB came from this hop's address, or the quoted TTL puts it at or before here
        let from_here = same_addr(hop, trace_hop);
        if from_here || i as i32 >= i32::from(probe.ttl) - i32::from(hop.icmp_q_ttl) {
            if !from_here && hop.is_ptb() {
                mtu = hop.icmp_nhmtu;
                size = mtu;
            }
            *slot = Some(tag(mtu, size));
            if from_here && hop.is_ptb() {
                mtu = hop.icmp_nhmtu;
            }
            cur = next.next();
            size = cur.map_or(pm.pmtu, |(p, _)| p.size);
            continue;
        }
        *slot = Some(tag(mtu, size));
    }
}

/// Where the note walk is: the next note, and the hop the last placed note was on.
struct NoteIter {
    n: usize,
    start: u8,
}

/// A note with the reply (and its probe) it refers to.
struct Note<'a> {
    kind: u8,
    nhmtu: u16,
    reply: Option<(&'a TraceProbe, &'a TraceReply)>,
}

/// The hop count the notes are placed within: the stop hop when it is inside the trace.
fn note_hop_count(t: &Trace) -> Option<u8> {
    if t.stop_hop == 0 || u16::from(t.stop_hop) > t.hop_count {
        u8::try_from(t.hop_count).ok()
    } else {
        Some(t.stop_hop)
    }
}

/// The hop (1-based TTL) a note belongs on, 0 when it cannot be placed. A silence note is on
/// its probe's TTL; a PTB on the first hop after the previous note with the PTB's address, or
/// else where its quoted TTL says (one hop nearer when the trace's reply there is on the same
/// /30 or /126, as the two ends of one link are), at most the last hop.
fn note_dist(t: &Trace, hops: &Hops<'_>, it: &mut NoteIter, note: &Note<'_>) -> u8 {
    let dist = note_dist_inner(t, hops, it, note);
    if dist != 0 {
        it.start = dist;
    }
    dist
}

fn note_dist_inner(t: &Trace, hops: &Hops<'_>, it: &NoteIter, note: &Note<'_>) -> u8 {
    let Some(hop_count) = note_hop_count(t).filter(|&h| h != 0) else {
        return 0;
    };
    if note.kind == NOTE_SILENCE {
        return match note.reply {
            Some((p, _)) if p.ttl < hop_count => p.ttl,
            _ => 0,
        };
    }
    let Some((probe, hop)) = note.reply else {
        return 0;
    };
    let first = it.start.wrapping_add(1);
    if first != 0 && first <= hop_count {
        let last = hop_count.min(u8::try_from(t.hop_count).unwrap_or(u8::MAX));
        for ttl in first..=last {
            let seen = hops
                .at(u16::from(ttl))
                .iter()
                .flat_map(|p| &p.replies)
                .any(|r| same_addr(r, hop));
            if seen {
                return ttl;
            }
        }
    }
    if probe.ttl <= hop.icmp_q_ttl {
        return 0;
    }
    let i = probe.ttl - hop.icmp_q_ttl;
    let near = i < hop_count
        && match (
            hops.first_reply(usize::from(i)).and_then(|r| r.addr),
            hop.addr,
        ) {
            (Some(a @ Addr::V4(_)), Some(b @ Addr::V4(_))) => common_prefix_bits(&a, &b) >= 30,
            (Some(a @ Addr::V6(_)), Some(b @ Addr::V6(_))) => common_prefix_bits(&a, &b) >= 126,
            _ => false,
        };
    let dist = if near { i } else { i.wrapping_add(1) };
    if dist >= hop_count {
        hop_count - 1
    } else {
        dist
    }
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

fn ver2(t: &Trace, hops: &Hops<'_>, pm: &TracePmtud, tags: &mut [Option<String>]) {
    let replies = pmtud_replies(pm);
    let notes: Vec<Note<'_>> = pm
        .notes
        .iter()
        .map(|n| Note {
            kind: n.kind,
            nhmtu: n.nhmtu,
            reply: n.reply.and_then(|i| replies.get(usize::from(i)).copied()),
        })
        .collect();
    let (mut mtu, mut size) = (pm.ifmtu, pm.ifmtu);
    let mut it = NoteIter { n: 0, start: 0 };
    if pm.outmtu != 0 {
        // the first note is the first hop's silence that found the outgoing MTU
        size = pm.outmtu;
        it.n = 1;
    }
    let hop_count = usize::from(if t.stop_hop == 0 || u16::from(t.stop_hop) > t.hop_count {
        t.hop_count as u8
    } else {
        t.stop_hop
    });
    let mut h = 0usize;
    let set = |tags: &mut [Option<String>], i: usize, mtu: u16, size: u16| {
        if let Some(slot) = tags.get_mut(i) {
            *slot = Some(tag(mtu, size));
        }
    };
    while let Some(note) = notes.get(it.n) {
        it.n += 1;
        let Some((_, hop)) = note.reply else {
            size = note.nhmtu;
            continue;
        };
        let dist = note_dist(t, hops, &mut it, note);
        if dist == 0 {
            continue;
        }
        let i = usize::from(dist - 1);
        // every answering hop up to the note's gets the sizes known so far
        while h <= i {
            if hops.first_reply(h).is_some() {
                set(tags, h, mtu, size);
            }
            h += 1;
        }
        if hop.is_ptb() {
            let trace_hop = hops.first_reply(i);
            if trace_hop.is_none() {
                set(tags, i, mtu, size);
            }
            let other = match trace_hop {
                Some(th) if same_addr(th, hop) => None,
                _ => Some(hop.addr.map(|a| a.to_string()).unwrap_or_default()),
            };
            if other.is_some() || note.nhmtu != hop.icmp_nhmtu {
                if let Some(slot) = tags.get_mut(i) {
                    let mut b = super::cbuf::CBuf::new(NOTE_BUF);
                    b.push(slot.as_deref().unwrap_or(""));
                    if let Some(a) = &other {
                        b.push(" ptb ");
                        b.push(a);
                    }
                    if note.nhmtu != hop.icmp_nhmtu {
                        write!(b, " nhmtu {}!", hop.icmp_nhmtu).ok();
                    }
                    *slot = Some(super::cbuf::into_string(b.as_bytes().to_vec()));
                }
            }
            mtu = hop.icmp_nhmtu;
        }
        size = note.nhmtu;
    }
    while h < hop_count {
        if hops.first_reply(h).is_some() {
            set(tags, h, mtu, size);
        }
        h += 1;
    }
}
