//! `tracelb from ... to ...` text: a header with the counts, then one line per link of a node
//! that branches, or one line with the whole chain of hops of a node's single link.

use std::cmp::Ordering;

use super::cbuf::{into_string, CBuf};
use crate::addr::Addr;
use crate::tracelb::{Tracelb, TracelbLink, TracelbProbeset};

/// Buffer sizes of the C writer: the header and each node's text are cut to these.
const HEADER_BUF: usize = 192;
const NODE_BUF: usize = 2048;

/// The text, or `None` when scamper prints nothing (a node with a single link that has no
/// probesets makes the C writer give up on the whole record).
pub(crate) fn render(t: &Tracelb) -> Option<String> {
    let mut out = header(t);
    // each node's links in order, gathered in one pass (a file may hold 65535 of each)
    let mut by_node: Vec<Vec<&TracelbLink>> = vec![Vec::new(); t.nodes.len()];
    for l in &t.links {
        if let Some(v) = by_node.get_mut(usize::from(l.from)) {
            v.push(l);
        }
    }
    for (i, links) in by_node.iter().enumerate() {
        if links.is_empty() {
            continue;
        }
        out.extend_from_slice(&node(t, i, links)?);
    }
    // the C writer overwrites its last byte with the newline (normally already one)
    if let Some(last) = out.last_mut() {
        *last = b'\n';
    }
    Some(into_string(out))
}

fn addr_text(a: Option<&Addr>) -> String {
    a.map_or_else(|| "*".to_string(), Addr::to_string)
}

fn header(t: &Tracelb) -> Vec<u8> {
    let mut b = CBuf::new(HEADER_BUF);
    b.push("tracelb");
    if let Some(a) = &t.src {
        b.push(" from ");
        b.push(&a.to_string());
    }
    if let Some(a) = &t.dst {
        b.push(" to ");
        b.push(&a.to_string());
    }
    if t.src.is_some() || t.dst.is_some() {
        b.push(",");
    }
    // the counts are the C structure's integer widths
    b.push(&format!(
        " {} nodes, {} links, {} probes, {}%\n",
        t.nodes.len() as u16,
        t.links.len() as u16,
        t.probec,
        t.confidence
    ));
    b.as_bytes().to_vec()
}

/// The address of the node a link leads to (`*` for none or an unknown node).
fn link_to(t: &Tracelb, l: &TracelbLink) -> Option<String> {
    l.to.map(|i| addr_text(t.nodes.get(usize::from(i)).and_then(|n| n.addr.as_ref())))
}

fn node(t: &Tracelb, i: usize, links: &[&TracelbLink]) -> Option<Vec<u8>> {
    let src = addr_text(t.nodes[i].addr.as_ref());
    let mut b = CBuf::new(NODE_BUF);
    if let [link] = links {
        let (last, middle) = link.probesets.split_last()?;
        b.push(&src);
        b.push(" -> ");
        for set in middle {
            b.push(&summary(set));
            b.push(" -> ");
        }
        match link_to(t, link) {
            Some(dst) => b.push(&dst),
            None => b.push(&summary(last)),
        }
        b.push("\n");
    } else {
        for link in links {
            b.push(&src);
            b.push(" -> ");
            b.push(&link_to(t, link).unwrap_or_else(|| "*".to_string()));
            b.push("\n");
        }
    }
    Some(b.as_bytes().to_vec())
}

/// scamper's address order (`scamper_addr_cmp` on a little-endian host): by type, then IPv4
/// as the in-memory 32-bit word, IPv6 as two in-memory 64-bit words, link addresses bytewise.
pub(crate) fn addr_cmp(a: &Addr, b: &Addr) -> Ordering {
    match (a, b) {
        (Addr::V4(x), Addr::V4(y)) => {
            u32::from_le_bytes(x.octets()).cmp(&u32::from_le_bytes(y.octets()))
        }
        (Addr::V6(x), Addr::V6(y)) => {
            let words = |o: [u8; 16]| {
                let (hi, lo) = o.split_at(8);
                (
                    u64::from_le_bytes(hi.try_into().unwrap_or_default()),
                    u64::from_le_bytes(lo.try_into().unwrap_or_default()),
                )
            };
            words(x.octets()).cmp(&words(y.octets()))
        }
        _ => a
            .type_code()
            .cmp(&b.type_code())
            .then_with(|| a.octets().cmp(&b.octets())),
    }
}

/// One hop of a link: `*` when nothing answered, else the distinct reply addresses in
/// scamper's address order, with `, *` when some flow got no answer.
fn summary(set: &TracelbProbeset) -> String {
    let mut addrs: Vec<Addr> = Vec::new();
    let mut nullc = 0usize;
    if let Some(first) = set.first() {
        // consecutive probes with one flow id are the attempts for that flow
        let mut flowid = first.flowid;
        let mut answered = false;
        for p in set {
            if p.flowid != flowid {
                if !answered {
                    nullc += 1;
                }
                flowid = p.flowid;
                answered = false;
            }
            if !p.replies.is_empty() {
                for a in p.replies.iter().filter_map(|r| r.from) {
                    if let Err(at) = addrs.binary_search_by(|x| addr_cmp(x, &a)) {
                        addrs.insert(at, a);
                    }
                }
                answered = true;
            }
        }
        if !answered {
            nullc += 1;
        }
    }
    if addrs.is_empty() {
        // an empty probeset crashes the C writer; print it as unanswered
        return "*".to_string();
    }
    let list: Vec<String> = addrs.iter().map(Addr::to_string).collect();
    format!(
        "({}{})",
        list.join(", "),
        if nullc > 0 { ", *" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_order_is_the_little_endian_word() {
        let a = Addr::V4("192.0.2.5".parse().unwrap());
        let b = Addr::V4("10.0.0.9".parse().unwrap());
        assert_eq!(addr_cmp(&a, &b), Ordering::Less);
        let c = Addr::V6("2001:db8::1".parse().unwrap());
        assert_eq!(addr_cmp(&a, &c), Ordering::Less);
    }
}
