//! PTR lookups for `trace -O ptr`: the names of the addresses a trace met.
//!
//! A trace task does no I/O, so names are looked up after it finishes and before its record
//! is written: the engine asks [`ptr_wanted`] which addresses need a name, resolves them with
//! [`resolve_ptrs`] against one nameserver (`-n`, else the first `nameserver` of
//! /etc/resolv.conf, read with [`nameserver_from_resolv_conf`] before the chroot), and fills
//! the record with [`apply_names`]. The message code ([`ptr_query`], [`parse_ptr_answer`]) is
//! sans-IO so that it is tested with canned and hostile packets.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use scamper_warts::trace::{flags, Trace, TraceProbe};
use scamper_warts::{Addr, Record};
use tokio::net::UdpSocket;
use tokio::time::{timeout_at, Instant};

/// Sends of each query: the first and at most two retries.
const SENDS: u32 = 3;
/// Largest DNS message over UDP without EDNS, plus slack for servers that ignore the limit.
const MAX_MESSAGE: usize = 4096;
/// CNAMEs followed from the reverse name (RFC 2317 classless delegation uses one).
const MAX_CNAMES: usize = 8;

/// The reverse-lookup name of an address (`4.3.2.1.in-addr.arpa.`, nibbles for IPv6).
pub fn reverse_name(addr: IpAddr) -> Name {
    Name::from(addr)
}

/// A recursive PTR query for `addr` with message id `id`.
pub fn ptr_query(id: u16, addr: IpAddr) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(reverse_name(addr), RecordType::PTR));
    // Encoding a message with one question of a valid name cannot fail.
    m.to_vec().unwrap_or_default()
}

/// What a packet says about the PTR query `id` for `addr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PtrAnswer {
    /// The address has this name (without the trailing dot).
    Name(String),
    /// A valid answer to the query without a PTR record (NXDOMAIN, no data, a server
    /// failure): asking again would not help.
    NoName,
    /// Not an answer to this query (another id or question, not a response, malformed, or
    /// truncated); it is ignored.
    NotOurs,
}

/// Read a packet from the nameserver as the answer to the PTR query `id` for `addr`.
pub fn parse_ptr_answer(id: u16, addr: IpAddr, packet: &[u8]) -> PtrAnswer {
    let Ok(m) = Message::from_vec(packet) else {
        return PtrAnswer::NotOurs;
    };
    let qname = reverse_name(addr);
    let md = &m.metadata;
    // Names compare case-insensitively (servers may change the case of the question).
    let asked = m.queries.len() == 1
        && m.queries[0].query_type() == RecordType::PTR
        && *m.queries[0].name() == qname;
    if md.id != id || md.message_type != MessageType::Response || !asked || md.truncation {
        return PtrAnswer::NotOurs;
    }
    // Follow CNAMEs from the reverse name to its PTR record, within the answer section.
    let mut owner = qname;
    for _ in 0..=MAX_CNAMES {
        let mut next = None;
        for r in m.answers.iter().filter(|r| r.name == owner) {
            match &r.data {
                RData::PTR(p) => return name_answer(&p.0),
                RData::CNAME(c) if next.is_none() => next = Some(c.0.clone()),
                _ => {}
            }
        }
        match next {
            Some(n) => owner = n,
            None => break,
        }
    }
    PtrAnswer::NoName
}

fn name_answer(n: &Name) -> PtrAnswer {
    let s = n.to_ascii();
    let s = s.strip_suffix('.').unwrap_or(&s);
    if s.is_empty() {
        PtrAnswer::NoName
    } else {
        PtrAnswer::Name(s.to_string())
    }
}

/// The first `nameserver` of a resolv.conf text, port 53. Lines whose address does not parse
/// (e.g. an IPv6 address with a zone) are passed over.
pub fn nameserver_from_resolv_conf(text: &str) -> Option<SocketAddr> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next()? == "nameserver")
            .then(|| w.next()?.parse::<IpAddr>().ok())
            .flatten()
            .map(|a| SocketAddr::new(a, 53))
    })
}

/// Unpredictable query ids, so that an off-path host cannot easily forge answers: each
/// `RandomState` is randomly keyed.
fn random_ids(n: usize) -> Vec<u16> {
    let mut seen = HashSet::new();
    let state = RandomState::new();
    let mut out = Vec::with_capacity(n);
    let mut i: u64 = 0;
    while out.len() < n.min(usize::from(u16::MAX)) {
        let mut h = state.build_hasher();
        h.write_u64(i);
        i += 1;
        let id = h.finish() as u16;
        if seen.insert(id) {
            out.push(id);
        }
    }
    out
}

/// Look up the names of `addrs` at `nameserver` over UDP. Each address gets one query, sent
/// again at most twice when unanswered; the whole lookup ends after `timeout`. Addresses
/// without a name (or whose answers did not come in time) are absent from the map. At most
/// 65535 distinct addresses are looked up per call.
pub async fn resolve_ptrs(
    nameserver: SocketAddr,
    addrs: &[IpAddr],
    timeout: Duration,
) -> HashMap<IpAddr, String> {
    if addrs.is_empty() {
        return HashMap::new();
    }
    let local: SocketAddr = if nameserver.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let Ok(sock) = UdpSocket::bind(local).await else {
        return HashMap::new();
    };
    resolve_ptrs_on(sock, nameserver, addrs, timeout).await
}

/// [`resolve_ptrs`] on a UDP socket opened elsewhere (e.g. handed over by the root helper when
/// the sandbox forbids creating sockets); it is connected to `nameserver` here.
pub async fn resolve_ptrs_on(
    sock: UdpSocket,
    nameserver: SocketAddr,
    addrs: &[IpAddr],
    timeout: Duration,
) -> HashMap<IpAddr, String> {
    let mut names = HashMap::new();
    let mut uniq: Vec<IpAddr> = Vec::new();
    for a in addrs {
        if !uniq.contains(a) && uniq.len() < usize::from(u16::MAX) {
            uniq.push(*a);
        }
    }
    // Connected: the kernel drops datagrams from any other source.
    if uniq.is_empty() || sock.connect(nameserver).await.is_err() {
        return names;
    }
    let deadline = Instant::now() + timeout;
    let ids = random_ids(uniq.len());
    // Outstanding queries by id.
    let mut pending: HashMap<u16, IpAddr> = ids.iter().copied().zip(uniq).collect();
    let mut buf = vec![0u8; MAX_MESSAGE];
    for round in 0..SENDS {
        // Each round waits for an equal share of what is left of the deadline.
        let now = Instant::now();
        if now >= deadline || pending.is_empty() {
            break;
        }
        let round_end = now + (deadline - now) / (SENDS - round);
        for (&id, &a) in &pending {
            // A failed send (e.g. no route yet) is retried next round.
            let _ = sock.send(&ptr_query(id, a)).await;
        }
        while !pending.is_empty() {
            let n = match timeout_at(round_end, sock.recv(&mut buf)).await {
                Ok(Ok(n)) => n,
                // ICMP port unreachable from the nameserver shows as an error on a
                // connected socket; keep waiting for the round in case others answer.
                Ok(Err(_)) => continue,
                Err(_) => break,
            };
            let pkt = &buf[..n];
            let Some(id) = pkt.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
                continue;
            };
            let Some(&a) = pending.get(&id) else {
                continue;
            };
            match parse_ptr_answer(id, a, pkt) {
                PtrAnswer::Name(name) => {
                    pending.remove(&id);
                    names.insert(a, name);
                }
                PtrAnswer::NoName => {
                    pending.remove(&id);
                }
                PtrAnswer::NotOurs => {}
            }
        }
    }
    names
}

fn ip_of(a: &Addr) -> Option<IpAddr> {
    crate::trace::dtree::ip_of(a)
}

/// Every probe list of a trace (hops, last-ditch, PMTUD).
fn probe_lists(t: &Trace) -> impl Iterator<Item = &TraceProbe> {
    t.probes
        .iter()
        .chain(t.lastditch.iter().flatten())
        .chain(t.pmtud.iter().flat_map(|p| &p.probes))
}

/// The addresses whose names a record wants: every reply address of a trace run with
/// `-O ptr` (the trace's PTR flag), each once, in the order met. Empty for other records.
pub fn ptr_wanted(rec: &Record) -> Vec<IpAddr> {
    let Record::Trace(t) = rec else {
        return Vec::new();
    };
    if t.flags & flags::PTR == 0 {
        return Vec::new();
    }
    let mut seen = HashSet::new();
    probe_lists(t)
        .flat_map(|p| &p.replies)
        .filter_map(|r| r.addr.as_ref().and_then(ip_of))
        .filter(|a| seen.insert(*a))
        .collect()
}

/// Set the name of every reply of a trace record whose address was resolved (warts hop
/// flag 20 NAME, JSON `"name"`).
pub fn apply_names(rec: &mut Record, names: &HashMap<IpAddr, String>) {
    let Record::Trace(t) = rec else {
        return;
    };
    let t: &mut Trace = t;
    let lists = t
        .probes
        .iter_mut()
        .chain(t.lastditch.iter_mut().flatten())
        .chain(t.pmtud.iter_mut().flat_map(|p| &mut p.probes));
    for r in lists.flat_map(|p| &mut p.replies) {
        if let Some(n) = r.addr.as_ref().and_then(ip_of).and_then(|a| names.get(&a)) {
            r.name = Some(n.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::rdata::{CNAME, PTR};
    use hickory_proto::rr::Record as Rr;
    use scamper_warts::trace::TraceReply;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A nameserver's answer to `query` with these answer records and response code.
    fn answer(query: &[u8], rcode: ResponseCode, answers: Vec<Rr>) -> Vec<u8> {
        let q = Message::from_vec(query).unwrap();
        let mut m = Message::response(q.metadata.id, OpCode::Query);
        m.metadata.response_code = rcode;
        m.metadata.recursion_desired = true;
        m.metadata.recursion_available = true;
        m.add_queries(q.queries);
        m.add_answers(answers);
        m.to_vec().unwrap()
    }

    fn ptr_rr(owner: Name, target: &str) -> Rr {
        Rr::from_rdata(
            owner,
            300,
            RData::PTR(PTR(Name::from_ascii(target).unwrap())),
        )
    }

    #[test]
    fn builds_the_reverse_query() {
        let q = ptr_query(0x1234, ip("192.0.2.7"));
        // header: id, RD set, one question
        assert_eq!(&q[..6], &[0x12, 0x34, 0x01, 0x00, 0x00, 0x01]);
        let m = Message::from_vec(&q).unwrap();
        assert_eq!(m.queries[0].name().to_ascii(), "7.2.0.192.in-addr.arpa.");
        assert_eq!(m.queries[0].query_type(), RecordType::PTR);
        let v6 = Message::from_vec(&ptr_query(1, ip("2001:db8::1"))).unwrap();
        assert_eq!(
            v6.queries[0].name().to_ascii(),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
    }

    #[test]
    fn parses_answers() {
        let a = ip("192.0.2.7");
        let q = ptr_query(77, a);
        let ok = answer(
            &q,
            ResponseCode::NoError,
            vec![ptr_rr(reverse_name(a), "r1.example.net.")],
        );
        assert_eq!(
            parse_ptr_answer(77, a, &ok),
            PtrAnswer::Name("r1.example.net".into())
        );
        // another id or another address: not ours
        assert_eq!(parse_ptr_answer(78, a, &ok), PtrAnswer::NotOurs);
        assert_eq!(
            parse_ptr_answer(77, ip("192.0.2.8"), &ok),
            PtrAnswer::NotOurs
        );
        // our own query echoed back is not an answer
        assert_eq!(parse_ptr_answer(77, a, &q), PtrAnswer::NotOurs);
        let nx = answer(&q, ResponseCode::NXDomain, vec![]);
        assert_eq!(parse_ptr_answer(77, a, &nx), PtrAnswer::NoName);
        // a PTR record for another owner does not name the address
        let other = answer(
            &q,
            ResponseCode::NoError,
            vec![ptr_rr(reverse_name(ip("192.0.2.9")), "x.example.")],
        );
        assert_eq!(parse_ptr_answer(77, a, &other), PtrAnswer::NoName);
        // RFC 2317 classless delegation: a CNAME to the PTR record
        let via = Name::from_ascii("7.0-63.2.0.192.in-addr.arpa.").unwrap();
        let cname = answer(
            &q,
            ResponseCode::NoError,
            vec![
                Rr::from_rdata(reverse_name(a), 60, RData::CNAME(CNAME(via.clone()))),
                ptr_rr(via, "host.example.org."),
            ],
        );
        assert_eq!(
            parse_ptr_answer(77, a, &cname),
            PtrAnswer::Name("host.example.org".into())
        );
    }

    #[test]
    fn hostile_answers_do_not_panic() {
        let a = ip("192.0.2.7");
        let q = ptr_query(5, a);
        let ok = answer(
            &q,
            ResponseCode::NoError,
            vec![ptr_rr(reverse_name(a), "r1.example.")],
        );
        // every truncation and single-byte corruption of a valid answer
        for n in 0..ok.len() {
            let _ = parse_ptr_answer(5, a, &ok[..n]);
            for v in [0x00, 0xc0, 0xff] {
                let mut bad = ok.clone();
                bad[n] = v;
                let _ = parse_ptr_answer(5, a, &bad);
            }
        }
        // a compression pointer to itself in the answer name
        let mut looped = ok.clone();
        let at = q.len();
        looped[at] = 0xc0;
        looped[at + 1] = at as u8;
        assert_eq!(parse_ptr_answer(5, a, &looped), PtrAnswer::NotOurs);
        // a CNAME loop ends without a name
        let loop_ = answer(
            &q,
            ResponseCode::NoError,
            vec![Rr::from_rdata(
                reverse_name(a),
                60,
                RData::CNAME(CNAME(reverse_name(a))),
            )],
        );
        assert_eq!(parse_ptr_answer(5, a, &loop_), PtrAnswer::NoName);
        assert_eq!(parse_ptr_answer(5, a, &[]), PtrAnswer::NotOurs);
    }

    #[test]
    fn resolv_conf_first_usable_nameserver() {
        let conf = "# generated\nsearch example.net\nnameserver fe80::1%eth0\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n";
        assert_eq!(
            nameserver_from_resolv_conf(conf),
            Some("192.0.2.53:53".parse().unwrap())
        );
        assert_eq!(nameserver_from_resolv_conf("nameserver\n"), None);
    }

    fn trace_with(flags_: u32, addrs: &[&str]) -> Record {
        let reply = |a: &str| TraceReply {
            addr: Some(Addr::from(ip(a))),
            ..TraceReply::default()
        };
        let probes = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| TraceProbe {
                ttl: i as u8 + 1,
                id: 1,
                replies: vec![reply(a)],
                ..TraceProbe::default()
            })
            .collect();
        Record::Trace(Box::new(Trace {
            flags: flags_,
            hop_count: addrs.len() as u16,
            probes,
            lastditch: Some(vec![TraceProbe {
                ttl: 255,
                id: 1,
                replies: vec![reply("192.0.2.1")],
                ..TraceProbe::default()
            }]),
            ..Trace::default()
        }))
    }

    #[test]
    fn wanted_addresses_and_names_applied() {
        let hops = ["198.51.100.1", "198.51.100.2", "198.51.100.1", "192.0.2.1"];
        assert!(ptr_wanted(&trace_with(0, &hops)).is_empty());
        let mut rec = trace_with(flags::PTR, &hops);
        assert_eq!(
            ptr_wanted(&rec),
            vec![ip("198.51.100.1"), ip("198.51.100.2"), ip("192.0.2.1")]
        );
        let names = HashMap::from([
            (ip("198.51.100.1"), "r1.example".to_string()),
            (ip("192.0.2.1"), "dst.example".to_string()),
        ]);
        apply_names(&mut rec, &names);
        let Record::Trace(t) = &rec else { panic!() };
        let got: Vec<Option<&str>> = t
            .probes
            .iter()
            .map(|p| p.replies[0].name.as_deref())
            .collect();
        assert_eq!(
            got,
            [
                Some("r1.example"),
                None,
                Some("r1.example"),
                Some("dst.example")
            ]
        );
        assert_eq!(
            t.lastditch.as_ref().unwrap()[0].replies[0].name.as_deref(),
            Some("dst.example")
        );
        // the name reaches the JSON output
        let json = scamper_warts::json::to_json(&rec).unwrap().unwrap();
        assert!(json.contains("\"name\":\"r1.example\""), "{json}");
    }

    /// A nameserver on the loopback that drops the first query for each address, answers
    /// one address with a name, another with NXDOMAIN and leaves a third unanswered.
    #[tokio::test]
    async fn resolves_with_retries_within_the_deadline() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let ns = server.local_addr().unwrap();
        let (named, nx, silent) = (ip("198.51.100.1"), ip("198.51.100.2"), ip("198.51.100.3"));
        let th = std::thread::spawn(move || {
            server
                .set_read_timeout(Some(Duration::from_secs(1)))
                .unwrap();
            let mut seen: HashSet<Vec<u8>> = HashSet::new();
            let mut buf = [0u8; 512];
            let mut queries = 0;
            while let Ok((n, from)) = server.recv_from(&mut buf) {
                queries += 1;
                let q = Message::from_vec(&buf[..n]).unwrap();
                let qname = q.queries[0].name().clone();
                // first sends are dropped: the answers come to retries
                if seen.insert(qname.to_ascii().into_bytes()) {
                    continue;
                }
                let reply = if qname == reverse_name(named) {
                    answer(
                        &buf[..n],
                        ResponseCode::NoError,
                        vec![ptr_rr(qname, "r1.lab.")],
                    )
                } else if qname == reverse_name(nx) {
                    answer(&buf[..n], ResponseCode::NXDomain, vec![])
                } else {
                    continue;
                };
                // a forged answer with another id first: ignored
                let mut forged = reply.clone();
                forged[0] ^= 0xff;
                server.send_to(&forged, from).unwrap();
                server.send_to(&reply, from).unwrap();
            }
            queries
        });
        let t0 = std::time::Instant::now();
        let names = resolve_ptrs(ns, &[named, nx, silent, named], Duration::from_millis(900)).await;
        let took = t0.elapsed();
        assert_eq!(names, HashMap::from([(named, "r1.lab".to_string())]));
        assert!(took < Duration::from_millis(1500), "{took:?}");
        // three distinct addresses; the silent one is sent three times, the others twice
        assert_eq!(th.join().unwrap(), 7);
    }
}
