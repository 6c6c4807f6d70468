//! Building traceroute probes.
//!
//! Every probe of a trace has an index (0, 1, 2, … in send order) that a reply must let us
//! recover from what it carries, since several probes (late replies, `-Q`) can be answered at
//! once. Where the index lives depends on the method:
//! - udp: the UDP destination port (base `-d` + index), which ICMP errors quote and UDP replies
//!   echo as their source port;
//! - udp-paris: the ports are constant (the flow identifier of load balancers) so the index is
//!   the UDP checksum, index + 1, reached by rewriting the first two payload bytes;
//! - icmp, icmp-paris: the echo sequence number; icmp-paris keeps the ICMP checksum (part of the
//!   flow identifier) constant by rewriting the first two payload bytes;
//! - tcp, tcp-ack: the sequence number (quoted by ICMP errors, acknowledged by SYN+ACK and RST
//!   replies to a SYN); tcp-ack also puts it in the acknowledgement number, which a RST answering
//!   an ACK carries back as its sequence number.
//!
//! With `-O const-payload` paris probes are identical apart from the TTL and the IPv4 IP-ID (the
//! payload may not be altered), so replies are told apart by the quoted IP-ID in IPv4 and
//! otherwise attributed to the newest probe.
//!
//! With `-o offset` every probe is a lone non-first fragment at that offset (IPv4: the header's
//! fragment offset; IPv6: a fragment header), so the bytes after the IP header are data to the
//! network and an ICMP error quotes no transport header. The index then lives in the IP-ID (IPv4)
//! or the fragment identification (IPv6): every probe has its own, never 0 (Linux replaces a
//! zero IPv4 IP-ID of a raw packet), and the engine delivers replies under a key per probe.
//! The paris checksums are not forced then: routers cannot see the transport header of a
//! non-first fragment, so it cannot steer load balancing.

use std::cell::RefCell;
use std::net::IpAddr;
use std::time::Duration;

use scamper_packet::ipv4::Ipv4Packet;
use scamper_packet::ipv6::{self, Ipv6Packet};
use scamper_packet::tcp::{TH_ACK, TH_SYN};
use scamper_packet::{
    build_icmp_echo, build_tcp, build_udp, checksum, fix_payload_for_icmp_checksum,
    fix_payload_for_udp_checksum, BuildError, IpParams, TcpParams, IPPROTO_ICMP, IPPROTO_ICMPV6,
    IPPROTO_TCP, IPPROTO_UDP,
};
use scamper_warts::trace::TraceMethod;

use super::options::{is_icmp, TraceOptions, DEFAULT_TCP_DPORT, DEFAULT_UDP_DPORT};

/// Window advertised in TCP probes.
const TCP_WINDOW: u16 = 65535;
/// Odd step between consecutive IPv4 IP-IDs: a bijection mod 2^16, so IDs stay distinct.
const IPID_STEP: u16 = 0x9e37;
/// Step between the IDs of fragment probes, coprime to 65535 = 3 * 5 * 17 * 257: the IDs run
/// through 1..=65535 without repeating for 65535 probes.
const FRAG_ID_STEP: u32 = 0x9e3b;

/// Values fixed for the whole trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    /// UDP/TCP source port, or ICMP id.
    pub sport: u16,
    /// Base UDP/TCP destination port (0 for ICMP methods).
    pub dport: u16,
    /// ICMP checksum every icmp-paris probe carries (with `-O const-payload`: the natural
    /// checksum of the constant probe).
    pub icmp_sum: u16,
    pub ipid_base: u16,
    /// First TCP sequence (and tcp-ack acknowledgement) number.
    pub tcp_base: u32,
}

impl TraceIds {
    /// Derive the trace-wide values from the options, the engine's default port and the start
    /// time (which spreads IP-IDs and TCP numbers of concurrent traces).
    pub fn new(opts: &TraceOptions, default_sport: u16, start: Duration) -> TraceIds {
        let sport = opts.sport.unwrap_or(default_sport);
        let m = opts.method;
        let dport = if m.is_udp() {
            opts.dport.unwrap_or(DEFAULT_UDP_DPORT)
        } else if m.is_tcp() {
            opts.dport.unwrap_or(DEFAULT_TCP_DPORT)
        } else {
            0
        };
        // scamper's records show the ICMP id as the default icmp-paris checksum; 0xffff cannot
        // be a computed checksum, so it becomes its one's complement twin 0.
        let icmp_sum = match opts.dport.unwrap_or(sport) {
            0xffff => 0,
            s => s,
        };
        let mix =
            start.subsec_nanos() ^ (start.as_secs() as u32).rotate_left(16) ^ u32::from(sport);
        TraceIds {
            sport,
            dport,
            icmp_sum,
            ipid_base: (mix ^ (mix >> 16)) as u16,
            tcp_base: mix.wrapping_mul(0x9e37_79b9),
        }
    }
}

/// Header values of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeFields {
    pub index: u16,
    pub ttl: u8,
    pub ip_id: u16,
    pub sport: u16,
    pub dport: u16,
    pub icmp_seq: u16,
    /// UDP checksum to force (udp-paris), or ICMP checksum (icmp-paris).
    pub checksum: Option<u16>,
    pub tcp_seq: u32,
    pub tcp_ack: u32,
}

/// IP protocol of the probes.
pub fn probe_proto(opts: &TraceOptions) -> u8 {
    let m = opts.method;
    if m.is_udp() {
        IPPROTO_UDP
    } else if m.is_tcp() {
        IPPROTO_TCP
    } else if opts.dst.is_ipv6() {
        IPPROTO_ICMPV6
    } else {
        IPPROTO_ICMP
    }
}

/// Whether the probes are non-first fragments (`-o`), told apart only by their IP-ID or IPv6
/// fragment identification.
pub fn fragment_probes(opts: &TraceOptions) -> bool {
    opts.offset != 0
}

/// IP-ID (IPv4) or fragment identification (IPv6) of fragment probe `index`: never 0, distinct
/// for 65535 consecutive indexes.
pub fn fragment_id(base: u16, index: u16) -> u16 {
    let n = (u32::from(base) + u32::from(index) * FRAG_ID_STEP) % 65535;
    (n + 1) as u16
}

/// Whether the probes differ only in TTL and IP-ID (paris with `-O const-payload`).
pub fn identical_probes(opts: &TraceOptions) -> bool {
    opts.const_payload()
        && matches!(
            opts.method,
            TraceMethod::UDP_PARIS | TraceMethod::ICMP_ECHO_PARIS
        )
}

/// The UDP checksum that identifies udp-paris probe `index`.
pub fn udp_paris_sum(index: u16) -> u16 {
    index.wrapping_add(1)
}

/// Header values of probe `index` sent with `ttl`.
pub fn fields(opts: &TraceOptions, ids: &TraceIds, index: u16, ttl: u8) -> ProbeFields {
    let m = opts.method;
    let same = identical_probes(opts);
    // A non-first fragment shows routers no transport header, so the paris flow identifier
    // (ports, ICMP checksum) cannot matter and the checksum is left as computed.
    let checksum = match m {
        _ if fragment_probes(opts) => None,
        TraceMethod::UDP_PARIS if !same => Some(udp_paris_sum(index)),
        TraceMethod::ICMP_ECHO_PARIS if !same => Some(ids.icmp_sum),
        _ => None,
    };
    ProbeFields {
        index,
        ttl,
        ip_id: if fragment_probes(opts) {
            fragment_id(ids.ipid_base, index)
        } else {
            ids.ipid_base.wrapping_add(index.wrapping_mul(IPID_STEP))
        },
        sport: ids.sport,
        dport: if m == TraceMethod::UDP {
            ids.dport.wrapping_add(index)
        } else {
            ids.dport
        },
        icmp_seq: if same { 0 } else { index },
        checksum,
        tcp_seq: ids.tcp_base.wrapping_add(u32::from(index)),
        tcp_ack: if m == TraceMethod::TCP_ACK {
            ids.tcp_base.wrapping_add(u32::from(index))
        } else {
            0
        },
    }
}

/// The payload of every probe before any checksum adjustment.
pub fn base_payload(opts: &TraceOptions) -> Vec<u8> {
    let mut p = opts.payload.clone();
    p.resize(usize::from(opts.payload_len()), 0);
    p
}

/// Build the complete IP packet of a probe from `src`.
pub fn build(opts: &TraceOptions, src: IpAddr, f: &ProbeFields) -> Result<Vec<u8>, BuildError> {
    build_with(opts, src, f, base_payload(opts), false)
}

/// Build a path-MTU discovery probe of `size` bytes in all, with IPv4's don't-fragment flag
/// set so that routers must drop it (and send a packet-too-big) rather than fragment it.
pub fn build_sized(
    opts: &TraceOptions,
    src: IpAddr,
    f: &ProbeFields,
    size: u16,
) -> Result<Vec<u8>, BuildError> {
    let headers = opts.probe_size - opts.payload_len();
    let mut payload = base_payload(opts);
    payload.resize(usize::from(size.saturating_sub(headers)), 0);
    build_with(opts, src, f, payload, true)
}

fn build_with(
    opts: &TraceOptions,
    src: IpAddr,
    f: &ProbeFields,
    payload: Vec<u8>,
    df: bool,
) -> Result<Vec<u8>, BuildError> {
    let mut ip = IpParams::new(src, opts.dst);
    ip.ttl = f.ttl;
    ip.tos = opts.tos;
    ip.ip_id = f.ip_id;
    ip.df = df;
    // A lone last fragment at `-o`: IPv4 sets the header's offset, IPv6 adds a fragment header
    // whose identification is the IP-ID.
    ip.frag_offset = opts.offset;
    let m = opts.method;
    if is_icmp(m) {
        let mut pkt = build_icmp_echo(&ip, f.sport, f.icmp_seq, &payload)?;
        if let Some(sum) = f.checksum {
            fix_payload_for_icmp_checksum(&mut pkt, 0, sum)?;
        }
        Ok(pkt)
    } else if m.is_udp() {
        let mut pkt = build_udp(&ip, f.sport, f.dport, &payload)?;
        if let Some(sum) = f.checksum {
            fix_payload_for_udp_checksum(&mut pkt, 0, sum)?;
        }
        Ok(pkt)
    } else {
        let t = TcpParams {
            sport: f.sport,
            dport: f.dport,
            seq: f.tcp_seq,
            ack: f.tcp_ack,
            flags: if m == TraceMethod::TCP_ACK {
                TH_ACK
            } else {
                TH_SYN
            },
            window: TCP_WINDOW,
            mss: None,
            payload,
        };
        build_tcp(&ip, &t)
    }
}

/// The packet of a trace's first probe, from which the later ones are made: probes of one trace
/// differ only in TTL, IPv4 IP-ID and the per-index transport field (UDP destination port,
/// ICMP sequence, TCP sequence/acknowledgement) with the checksums that follow from them, so a
/// copy with those rewritten is the packet a full build would give, without building the
/// headers and payload again for every probe. Fragment probes (`-o`) and path-MTU probes
/// (other sizes) are still built in full.
///
/// The checksums are updated, not recomputed: the sums of everything that stays the same are
/// taken once here, and each probe adds the few 16-bit words it changes.
#[derive(Debug, Clone)]
pub struct ProbeTemplate {
    pkt: Vec<u8>,
    /// Offset of the transport header.
    at: usize,
    v6: bool,
    method: TraceMethod,
    /// Transport protocol (for the pseudo-header).
    proto: u8,
    /// Unfolded sum of the transport checksum's pseudo-header (0 for ICMPv4, which has none).
    pseudo: u64,
    /// Unfolded sum of the transport bytes, with the checksum field, the per-probe field(s)
    /// and the first two payload bytes (which paris probes choose) counted as zero.
    tbase: u64,
    /// The first two payload bytes of the template as a word (0 if there are fewer).
    payload_word: u64,
    /// IPv4: unfolded sum of the header with TTL, IP-ID and checksum counted as zero.
    ip_base: u64,
}

/// Offsets into the transport header of the bytes a probe changes (its index field(s) and the
/// checksum): TCP sequence, acknowledgement and checksum; ICMP checksum and sequence, or UDP
/// destination port and checksum (the same offsets).
fn varying(method: TraceMethod) -> &'static [std::ops::Range<usize>] {
    if method.is_tcp() {
        &[4..12, 16..18]
    } else {
        &[2..4, 6..8]
    }
}

/// Where the first two payload bytes are (after the 8-byte UDP or ICMP header).
const PAYLOAD_FIX: std::ops::Range<usize> = 8..10;

/// The plain sum of the 16-bit words of `b` (even length, at an even offset), to take out of a
/// [`checksum::sum`] that covered them: there each word counts as itself or, inside a 32-bit
/// half, as itself times 2^16, so the difference cannot underflow, and as 2^16 is 1 modulo
/// 0xffff it folds as the sum of the remaining words does.
fn words(b: &[u8]) -> u64 {
    b.chunks_exact(2)
        .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
        .sum()
}

impl ProbeTemplate {
    /// The template for the trace of `opts` from `src`, given the full build `pkt` of one of
    /// its probes; `None` if its probes are not made from a template.
    pub fn new(opts: &TraceOptions, src: IpAddr, pkt: &[u8]) -> Option<ProbeTemplate> {
        if fragment_probes(opts) {
            return None;
        }
        let v6 = opts.dst.is_ipv6();
        let at = if v6 {
            ipv6::HEADER_LEN
        } else {
            Ipv4Packet::new_unchecked(pkt).header_len()
        };
        pkt.len().checked_sub(at)?;
        // Every field rewritten below must lie inside the packet.
        if pkt.len() < at + if opts.method.is_tcp() { 18 } else { 8 } {
            return None;
        }
        let t = &pkt[at..];
        let mut tbase = checksum::sum(t);
        for r in varying(opts.method) {
            tbase -= words(&t[r.clone()]);
        }
        let mut payload_word = 0;
        if !opts.method.is_tcp() {
            if let Some(b) = t.get(PAYLOAD_FIX) {
                payload_word = words(b);
                tbase -= payload_word;
            }
        }
        let mut tpl = ProbeTemplate {
            pkt: pkt.to_vec(),
            at,
            v6,
            method: opts.method,
            proto: probe_proto(opts),
            pseudo: 0,
            tbase,
            payload_word,
            ip_base: 0,
        };
        tpl.set_dst_sums(src, opts.dst)?;
        Some(tpl)
    }

    /// The same template for the probes of a trace to `dst` (with the same options and
    /// source): only the destination address and the sums over it change.
    pub fn for_dst(&self, src: IpAddr, dst: IpAddr) -> Option<ProbeTemplate> {
        let mut t = self.clone();
        match dst {
            IpAddr::V4(a) if !self.v6 => t.pkt.get_mut(16..20)?.copy_from_slice(&a.octets()),
            IpAddr::V6(a) if self.v6 => t.pkt.get_mut(24..40)?.copy_from_slice(&a.octets()),
            _ => return None,
        }
        t.set_dst_sums(src, dst)?;
        Some(t)
    }

    /// The pseudo-header and IPv4 header sums for the addresses now in the packet.
    fn set_dst_sums(&mut self, src: IpAddr, dst: IpAddr) -> Option<()> {
        let len = u32::try_from(self.pkt.len() - self.at).ok()?;
        self.pseudo = if self.proto == IPPROTO_ICMP {
            0
        } else {
            checksum::pseudo_header_sum(src, dst, self.proto, len)
        };
        if !self.v6 {
            let h = &self.pkt[..self.at];
            // Less the IP-ID, TTL (the high byte of its word) and checksum.
            self.ip_base =
                checksum::sum(h) - words(&h[4..6]) - (u64::from(h[8]) << 8) - words(&h[10..12]);
        }
        Some(())
    }

    /// The packet of probe `f`: the same bytes as [`build`] gives.
    pub fn make(&self, f: &ProbeFields) -> Result<Vec<u8>, BuildError> {
        self.make_in(f, Vec::new())
    }

    /// [`ProbeTemplate::make`] in `buf` (whatever it holds is replaced), reusing its
    /// allocation.
    pub fn make_in(&self, f: &ProbeFields, buf: Vec<u8>) -> Result<Vec<u8>, BuildError> {
        let mut p = buf;
        p.clear();
        p.extend_from_slice(&self.pkt);
        if self.v6 {
            Ipv6Packet::new_unchecked(&mut p[..]).set_hop_limit(f.ttl);
        } else {
            let mut ip = Ipv4Packet::new_unchecked(&mut p[..]);
            ip.set_ttl(f.ttl);
            ip.set_ident(f.ip_id);
            let var = u64::from(f.ip_id) + (u64::from(f.ttl) << 8);
            ip.set_checksum(!checksum::fold(self.ip_base + var));
        }
        let t = self.at;
        let m = self.method;
        if is_icmp(m) {
            p[t + 6..t + 8].copy_from_slice(&f.icmp_seq.to_be_bytes());
            let var = u64::from(f.icmp_seq);
            match f.checksum {
                Some(sum) if !self.force_checksum(&mut p, 2, var, sum, false) => {
                    fix_payload_for_icmp_checksum(&mut p, 0, sum)?
                }
                Some(_) => {}
                None => self.fill_checksum(&mut p, 2, var, false),
            }
        } else if m.is_udp() {
            p[t + 2..t + 4].copy_from_slice(&f.dport.to_be_bytes());
            let var = u64::from(f.dport);
            match f.checksum {
                Some(sum) if !self.force_checksum(&mut p, 6, var, sum, true) => {
                    fix_payload_for_udp_checksum(&mut p, 0, sum)?
                }
                Some(_) => {}
                None => self.fill_checksum(&mut p, 6, var, true),
            }
        } else {
            p[t + 4..t + 8].copy_from_slice(&f.tcp_seq.to_be_bytes());
            p[t + 8..t + 12].copy_from_slice(&f.tcp_ack.to_be_bytes());
            let var = u64::from(f.tcp_seq >> 16)
                + u64::from(f.tcp_seq & 0xffff)
                + u64::from(f.tcp_ack >> 16)
                + u64::from(f.tcp_ack & 0xffff);
            // TCP payloads are never chosen: the template's bytes count as they are.
            self.fill_checksum(&mut p, 16, var, false);
        }
        Ok(p)
    }

    /// Paris probes: choose the first two payload bytes (right after the 8-byte UDP or ICMP
    /// header) so that the checksum comes out as `want`, as scamper-packet's
    /// `fix_payload_for_*_checksum` do, but from the template's sums (`var`: the sum of the
    /// probe's own field words). False if it did not come out (`want` unreachable, or 0 for
    /// UDP): the caller then asks scamper-packet, which reports why.
    fn force_checksum(&self, p: &mut [u8], cks: usize, var: u64, want: u16, udp: bool) -> bool {
        let (t, off) = (self.at, self.at + PAYLOAD_FIX.start);
        if p.len() < off + 2 || (udp && want == 0) {
            return false;
        }
        // A transmitted UDP 0xffff is a computed 0.
        let target = if udp && want == 0xffff { 0 } else { want };
        let base = self.pseudo + self.tbase;
        let s = checksum::fold(base + var);
        let x = checksum::ones_add(!target, !s);
        p[off..off + 2].copy_from_slice(&x.to_be_bytes());
        let mut c = !checksum::fold(base + var + u64::from(x));
        if udp && c == 0 {
            c = 0xffff;
        }
        p[t + cks..t + cks + 2].copy_from_slice(&c.to_be_bytes());
        c == want
    }

    /// Store the transport checksum `cks` bytes into the transport header, for the template's
    /// payload; UDP sends a computed 0 as 0xffff (0 means "no checksum").
    fn fill_checksum(&self, p: &mut [u8], cks: usize, var: u64, udp: bool) {
        let at = self.at + cks;
        let mut c = !checksum::fold(self.pseudo + self.tbase + var + self.payload_word);
        if udp && c == 0 {
            c = 0xffff;
        }
        p[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
}

/// The template of the last trace that made one, for the next trace with the same options
/// from the same source: with `-c` and a list of addresses every trace runs the same command,
/// and its template is the last one's with another destination (a full build of a trace's
/// first probe cost more than making all its other probes). Per thread: tasks run on the
/// engine's.
struct LastTemplate {
    opts: TraceOptions,
    src: IpAddr,
    sport: u16,
    template: ProbeTemplate,
}

thread_local! {
    static LAST_TEMPLATE: RefCell<Option<LastTemplate>> = const { RefCell::new(None) };
}

/// A template for a trace of `opts` from `src` with source port (ICMP id) `sport`, made from
/// the last remembered one if that trace had the same options but for the destination.
pub fn reuse_template(opts: &TraceOptions, src: IpAddr, sport: u16) -> Option<ProbeTemplate> {
    LAST_TEMPLATE
        .try_with(|last| {
            let mut last = last.try_borrow_mut().ok()?;
            let l = last.as_mut()?;
            if l.src != src || l.sport != sport {
                return None;
            }
            // Every option may shape the probes, so all are compared but the destination (the
            // template knows its own).
            l.opts.dst = opts.dst;
            if l.opts != *opts {
                return None;
            }
            l.template.for_dst(src, opts.dst)
        })
        .ok()
        .flatten()
}

/// Keep `t` for [`reuse_template`].
pub fn remember_template(opts: &TraceOptions, src: IpAddr, sport: u16, t: &ProbeTemplate) {
    let _ = LAST_TEMPLATE.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = Some(LastTemplate {
                opts: opts.clone(),
                src,
                sport,
                template: t.clone(),
            });
        }
    });
}

/// The ICMP checksum of an echo probe packet (at the start of the ICMP header).
pub fn icmp_checksum_of(pkt: &[u8], v6: bool) -> u16 {
    let at = if v6 {
        40
    } else {
        usize::from(pkt.first().map_or(5, |b| b & 0x0f)) * 4
    } + 2;
    pkt.get(at..at + 2)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scamper_packet::{parse_ip, IcmpKind, RxTransport};

    fn opts(s: &str) -> TraceOptions {
        let w: Vec<&str> = s.split_whitespace().collect();
        TraceOptions::parse(&w).unwrap()
    }

    fn ids(o: &TraceOptions) -> TraceIds {
        TraceIds::new(o, 40000, Duration::from_secs(1_700_000_000))
    }

    const SRC4: &str = "192.0.2.10";
    const SRC6: &str = "2001:db8::10";

    #[test]
    fn default_sizes_match_scamper_records() {
        for (cmd, src, size) in [
            ("-P udp 192.0.2.1", SRC4, 44),
            ("192.0.2.1", SRC4, 44),
            ("-P icmp-paris 192.0.2.1", SRC4, 44),
            ("-P icmp-paris 2001:db8::1", SRC6, 60),
            ("-P udp 2001:db8::1", SRC6, 60),
            ("-P tcp 192.0.2.1", SRC4, 40),
            ("-P tcp-ack 2001:db8::1", SRC6, 60),
        ] {
            let o = opts(cmd);
            let pkt = build(&o, src.parse().unwrap(), &fields(&o, &ids(&o), 3, 7)).unwrap();
            assert_eq!(pkt.len(), size, "{cmd}");
            assert_eq!(o.probe_size, size as u16, "{cmd}");
            assert_eq!(parse_ip(&pkt).unwrap().ttl, 7);
        }
    }

    #[test]
    fn udp_paris_keeps_ports_and_encodes_index_in_checksum() {
        let o = opts("-P udp-paris -d 33500 -s 1234 192.0.2.1");
        let i = ids(&o);
        for index in [0u16, 1, 2, 500] {
            let pkt = build(&o, SRC4.parse().unwrap(), &fields(&o, &i, index, 3)).unwrap();
            let u = parse_ip(&pkt).unwrap().udp().cloned().unwrap();
            assert_eq!((u.sport, u.dport), (1234, 33500));
            assert_eq!(u.checksum, index + 1);
        }
    }

    #[test]
    fn icmp_paris_checksum_constant_and_seq_varies() {
        for (cmd, src) in [
            ("-P icmp-paris -s 777 192.0.2.1", SRC4),
            ("-P icmp-paris -s 777 2001:db8::1", SRC6),
        ] {
            let o = opts(cmd);
            let i = ids(&o);
            assert_eq!(i.icmp_sum, 777);
            for index in 0..4u16 {
                let pkt = build(
                    &o,
                    src.parse().unwrap(),
                    &fields(&o, &i, index, 1 + index as u8),
                )
                .unwrap();
                let rx = parse_ip(&pkt).unwrap();
                let icmp = rx.icmp().unwrap();
                assert_eq!(icmp.checksum, 777);
                assert_eq!(
                    icmp.kind,
                    IcmpKind::EchoRequest {
                        id: 777,
                        seq: index
                    }
                );
                assert_eq!(icmp_checksum_of(&pkt, src == SRC6), 777);
            }
        }
    }

    #[test]
    fn classic_udp_varies_dport_and_tcp_varies_seq() {
        let o = opts("-P udp -d 40000 192.0.2.1");
        let i = ids(&o);
        assert_eq!(fields(&o, &i, 5, 1).dport, 40005);
        let t = opts("-P tcp-ack -d 443 2001:db8::1");
        let ti = ids(&t);
        let f = fields(&t, &ti, 9, 4);
        assert_eq!(f.tcp_seq.wrapping_sub(ti.tcp_base), 9);
        assert_eq!(f.tcp_ack, f.tcp_seq);
        let pkt = build(&t, SRC6.parse().unwrap(), &f).unwrap();
        match parse_ip(&pkt).unwrap().transport {
            RxTransport::Tcp(tcp) => {
                assert_eq!((tcp.dport, tcp.flags, tcp.ack), (443, TH_ACK, f.tcp_ack))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn payload_base_is_kept_after_the_adjusted_bytes() {
        let o = opts("-P udp-paris -p 0000aabbcc 192.0.2.1");
        assert_eq!(o.probe_size, 33);
        let pkt = build(&o, SRC4.parse().unwrap(), &fields(&o, &ids(&o), 0, 1)).unwrap();
        assert_eq!(&pkt[30..], &[0xaa, 0xbb, 0xcc]);
        // const-payload leaves the payload alone; the probes are then identical apart from TTL
        // and IP-ID.
        let c = opts("-P udp-paris -O const-payload -p 0102 192.0.2.1");
        let ci = ids(&c);
        let a = build(&c, SRC4.parse().unwrap(), &fields(&c, &ci, 0, 1)).unwrap();
        let b = build(&c, SRC4.parse().unwrap(), &fields(&c, &ci, 1, 1)).unwrap();
        assert_eq!(&a[28..], &[1, 2]);
        assert_eq!(a[20..], b[20..]);
    }

    #[test]
    fn fragment_probes_are_non_first_fragments_with_distinct_ids() {
        for (cmd, src) in [
            ("-o 8 -P udp 192.0.2.1", SRC4),
            ("-o 8 -P icmp-paris 192.0.2.1", SRC4),
            ("-o 8 -P tcp 2001:db8::1", SRC6),
            ("-o 8 -P udp-paris 2001:db8::1", SRC6),
        ] {
            let o = opts(cmd);
            let i = ids(&o);
            let mut seen = std::collections::HashSet::new();
            for index in 0..300u16 {
                let f = fields(&o, &i, index, 1 + (index % 30) as u8);
                let pkt = build(&o, src.parse().unwrap(), &f).unwrap();
                let rx = parse_ip(&pkt).unwrap();
                assert_eq!((rx.frag_offset, rx.more_frags), (8, false), "{cmd}");
                assert_eq!(rx.ip_id, u32::from(f.ip_id), "{cmd}");
                assert_ne!(f.ip_id, 0, "{cmd}");
                assert!(seen.insert(f.ip_id), "{cmd}: id {} repeats", f.ip_id);
                // The network sees no transport header in a non-first fragment.
                assert_eq!(
                    rx.transport,
                    RxTransport::Other {
                        proto: probe_proto(&o)
                    },
                    "{cmd}"
                );
                // IPv6 carries the 8-byte fragment header on top of the probe.
                let extra = if src == SRC6 { 8 } else { 0 };
                assert_eq!(pkt.len(), usize::from(o.probe_size) + extra, "{cmd}");
            }
        }
        // Without -o nothing is fragmented.
        let o = opts("-P udp 192.0.2.1");
        let pkt = build(&o, SRC4.parse().unwrap(), &fields(&o, &ids(&o), 0, 1)).unwrap();
        assert_eq!(parse_ip(&pkt).unwrap().frag_offset, 0);
    }

    #[test]
    fn template_probes_are_the_bytes_of_a_full_build() {
        let mut checked = 0;
        for method in ["udp-paris", "udp", "icmp", "icmp-paris", "tcp", "tcp-ack"] {
            for (extra, dport) in [
                ("", None),
                ("-O const-payload", None),
                ("-p 00ff1234abcd", None),
                ("-t 46 -s 65535", Some(65535)),
                ("-s 1", Some(1)),
                ("-q 3 -O const-payload -p 0102", Some(0)),
            ] {
                // ICMP probes take no -d.
                let extra = match dport {
                    Some(d) if !method.starts_with("icmp") => format!("{extra} -d {d}"),
                    _ => extra.to_string(),
                };
                for (dst, src) in [("192.0.2.1", SRC4), ("2001:db8::1", SRC6)] {
                    let cmd = format!("-P {method} {extra} {dst}");
                    let w: Vec<&str> = cmd.split_whitespace().collect();
                    let o = TraceOptions::parse(&w).expect(&cmd);
                    let src: IpAddr = src.parse().unwrap();
                    let i = ids(&o);
                    let first = build(&o, src, &fields(&o, &i, 0, 1)).unwrap();
                    let t = ProbeTemplate::new(&o, src, &first).expect(&cmd);
                    let indexes = (0..300u16).chain((65000..=65535).step_by(7)).chain([65535]);
                    for (n, index) in indexes.enumerate() {
                        let f = fields(&o, &i, index, 1 + (n % 255) as u8);
                        // Errors too: udp-paris has no probe 65535 (its checksum would be 0).
                        assert_eq!(t.make(&f), build(&o, src, &f), "{cmd} {f:?}");
                        checked += 1;
                    }
                }
            }
        }
        // 6 methods, 6 option sets, 2 families, 378 probes each.
        assert_eq!(checked, 72 * 378);
        // Fragment probes are built in full.
        let o = opts("-o 8 -P udp 192.0.2.1");
        let pkt = build(&o, SRC4.parse().unwrap(), &fields(&o, &ids(&o), 0, 1)).unwrap();
        assert!(ProbeTemplate::new(&o, SRC4.parse().unwrap(), &pkt).is_none());
    }

    #[test]
    fn templates_moved_to_another_destination_make_its_full_builds() {
        let mut checked = 0;
        for method in ["udp-paris", "udp", "icmp", "icmp-paris", "tcp", "tcp-ack"] {
            for extra in ["", "-O const-payload", "-p 00ff1234abcd", "-t 46", "-s 1"] {
                for (a, b, src) in [
                    ("192.0.2.1", "198.18.7.200", SRC4),
                    ("2001:db8::1", "2001:db8:ffff::1234", SRC6),
                ] {
                    let parse = |dst: &str| {
                        let cmd = format!("-P {method} {extra} {dst}");
                        let w: Vec<&str> = cmd.split_whitespace().collect();
                        TraceOptions::parse(&w).expect(&cmd)
                    };
                    let (oa, ob) = (parse(a), parse(b));
                    let src: IpAddr = src.parse().unwrap();
                    let first = build(&oa, src, &fields(&oa, &ids(&oa), 0, 1)).unwrap();
                    let ta = ProbeTemplate::new(&oa, src, &first).unwrap();
                    remember_template(&oa, src, ids(&oa).sport, &ta);
                    let tb = reuse_template(&ob, src, ids(&ob).sport).expect(b);
                    let i = ids(&ob);
                    for index in (0..40u16).chain([65534, 65535]) {
                        let f = fields(&ob, &i, index, 1 + (index % 255) as u8);
                        assert_eq!(tb.make(&f), build(&ob, src, &f), "{method} {extra} {b}");
                        checked += 1;
                    }
                    // Not for other options, sources, ports or families.
                    let oc = parse(&format!("-q 3 {b}"));
                    assert!(reuse_template(&oc, src, i.sport).is_none());
                    assert!(reuse_template(&ob, src, i.sport.wrapping_add(1)).is_none());
                    let other: IpAddr = if src.is_ipv4() { SRC6 } else { SRC4 }.parse().unwrap();
                    assert!(reuse_template(&ob, other, i.sport).is_none());
                }
            }
        }
        assert_eq!(checked, 6 * 5 * 2 * 42);
        let o4 = opts("-P udp 192.0.2.1");
        let o6 = opts("-P udp 2001:db8::1");
        let src: IpAddr = SRC4.parse().unwrap();
        let t = ProbeTemplate::new(
            &o4,
            src,
            &build(&o4, src, &fields(&o4, &ids(&o4), 0, 1)).unwrap(),
        )
        .unwrap();
        assert!(t.for_dst(src, o6.dst).is_none());
    }

    #[test]
    fn fragment_ids_cover_every_nonzero_value_once() {
        for base in [0u16, 1, 0x1234, 0xffff] {
            let mut hit = vec![false; 65536];
            for index in 0..65535u16 {
                let id = fragment_id(base, index);
                assert_ne!(id, 0);
                assert!(!hit[usize::from(id)], "base {base}: {id} twice");
                hit[usize::from(id)] = true;
            }
        }
    }
}
