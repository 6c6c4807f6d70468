//! The server's initial congestion window of a successful icw test (JSON `icw_bytes`).
//!
//! The test makes the server send its initial window, lets it time out and retransmit, and
//! acknowledges nothing. The window is how far the data received after the SYN/ACK reaches
//! past the test's starting sequence number (the SYN/ACK's sequence number plus the recorded
//! `start_seq` offset) when the segment starting there arrives a second time, the
//! retransmission. scamper queues the segments to find that edge; only the furthest edge
//! matters, so it is kept as one number here (constant memory whatever the packet count).
//!
//! Packets are read as scamper reads them, without bounds checks: bytes past the end of a
//! (malformed) recorded packet count as zero here.

use super::{Tbit, TbitResult, TbitType, TbitTypeData};

const DIR_RX: u8 = 2;
const PROTO_TCP: u8 = 6;
const TH_FIN: u8 = 0x01;
const TH_SYN: u8 = 0x02;
const TH_ACK: u8 = 0x10;
/// Result code icw-success.
const ICW_SUCCESS: TbitResult = TbitResult(60);

fn byte(d: &[u8], i: usize) -> u8 {
    d.get(i).copied().unwrap_or(0)
}

fn be16(d: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([byte(d, i), byte(d, i + 1)])
}

fn be32(d: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([byte(d, i), byte(d, i + 1), byte(d, i + 2), byte(d, i + 3)])
}

/// The network-layer facts the window computation needs.
struct Iph {
    proto: u8,
    hlen: usize,
    /// IPv4 total length; IPv6 payload length + 40 (16-bit, wrapping).
    len: u16,
}

/// scamper's header walk for tbit packets: IPv4 takes the header length from IHL whatever the
/// fragment fields say; IPv6 follows hop-by-hop, routing and destination-options headers
/// and an initial fragment, and refuses a zero-length extension header, a later or
/// more-to-come fragment, and a header chain reaching byte 255.
fn iph(d: &[u8]) -> Option<Iph> {
    match byte(d, 0) >> 4 {
        4 => Some(Iph {
            proto: byte(d, 9),
            hlen: usize::from(byte(d, 0) & 0xf) * 4,
            len: be16(d, 2),
        }),
        6 => {
            let mut h = Iph {
                proto: byte(d, 6),
                hlen: 40,
                len: be16(d, 4).wrapping_add(40),
            };
            loop {
                match h.proto {
                    0 | 43 | 60 => {
                        let ext = usize::from(byte(d, h.hlen + 1));
                        if ext == 0 || 255 - h.hlen <= ext * 8 + 8 {
                            return None;
                        }
                        h.proto = byte(d, h.hlen);
                        h.hlen += ext * 8 + 8;
                    }
                    44 => {
                        if 255 - h.hlen <= 8 {
                            return None;
                        }
                        h.proto = byte(d, h.hlen);
                        let fo = be16(d, h.hlen + 2);
                        if fo & 0xfff8 != 0 || fo & 1 != 0 {
                            return None;
                        }
                        h.hlen += 8;
                    }
                    _ => return Some(h),
                }
            }
        }
        _ => None,
    }
}

/// TCP sequence-space comparisons (`a - b` read as a signed 32-bit number).
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn seq_leq(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}

/// Does a segment of `len` bytes at `seq` start or end inside the 64 KiB after `rcv_nxt`?
fn in_window(rcv_nxt: u32, seq: u32, len: u16) -> bool {
    let wnd_end = rcv_nxt.wrapping_add(65535);
    let last = seq.wrapping_add(u32::from(len)).wrapping_sub(1);
    (seq_leq(rcv_nxt, seq) && seq_lt(seq, wnd_end))
        || (seq_leq(rcv_nxt, last) && seq_lt(last, wnd_end))
}

/// The initial window in bytes, or `None` when the test did not succeed or the packets do not
/// show it (no SYN/ACK as the first received packet after the first one, the retransmission
/// never seen, or a non-TCP / unparsable packet among the received ones before it).
pub fn server_icw_size(t: &Tbit) -> Option<u32> {
    if t.result != ICW_SUCCESS || t.kind != TbitType::ICW {
        return None;
    }
    let Some(TbitTypeData::Icw { start_seq: offset }) = t.type_data else {
        return None;
    };
    // the first received packet after the first packet must be the SYN/ACK
    let (at, synack) = t
        .pkts
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, p)| p.dir == DIR_RX)?;
    let d = &synack.data;
    let h = iph(d)?;
    if h.proto != PROTO_TCP || byte(d, h.hlen + 13) & (TH_SYN | TH_ACK) != TH_SYN | TH_ACK {
        return None;
    }
    let start = be32(d, h.hlen + 4).wrapping_add(offset);
    // furthest edge of the data queued so far, as an offset from `start`
    let mut reach: u32 = 0;
    let mut starts_seen = 0u8;
    for p in t.pkts[at + 1..].iter().filter(|p| p.dir == DIR_RX) {
        let d = &p.data;
        let h = iph(d)?;
        if h.proto != PROTO_TCP {
            return None;
        }
        let seq = be32(d, h.hlen + 4);
        let tcp_hlen = u16::from(byte(d, h.hlen + 12) >> 4) * 4;
        let flags = byte(d, h.hlen + 13);
        // 16-bit arithmetic, as scamper's
        let datalen = h.len.wrapping_sub(h.hlen as u16).wrapping_sub(tcp_hlen);
        if datalen == 0 && flags & TH_FIN == 0 {
            continue;
        }
        if !in_window(start, seq, datalen) {
            continue;
        }
        if seq == start {
            starts_seen += 1;
            if starts_seen == 2 {
                return Some(reach);
            }
        }
        reach = reach.max(seq.wrapping_add(u32::from(datalen)).wrapping_sub(start));
    }
    None
}

impl Tbit {
    /// See [`server_icw_size`].
    pub fn server_icw_size(&self) -> Option<u32> {
        server_icw_size(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tbit::TbitPkt;

    const TX: u8 = 1;

    /// An IPv4/TCP segment with `datalen` payload bytes.
    fn seg4(seq: u32, flags: u8, datalen: u16) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(40 + datalen).to_be_bytes());
        p[9] = PROTO_TCP;
        p[24..28].copy_from_slice(&seq.to_be_bytes());
        p[32] = 5 << 4;
        p[33] = flags;
        p.resize(40 + usize::from(datalen), 0x61);
        p
    }

    /// The same over IPv6 behind `ext` (raw extension header bytes; first next header `nh`).
    fn seg6(nh: u8, ext: &[u8], seq: u32, flags: u8, datalen: u16) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(ext.len() as u16 + 20 + datalen).to_be_bytes());
        p[6] = nh;
        p.extend_from_slice(ext);
        let mut t = vec![0u8; 20];
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = flags;
        p.extend_from_slice(&t);
        p.resize(p.len() + usize::from(datalen), 0x61);
        p
    }

    fn pkt(dir: u8, data: Vec<u8>) -> TbitPkt {
        TbitPkt {
            dir,
            tv: Default::default(),
            data,
        }
    }

    fn icw_test(start_seq: u32, pkts: Vec<TbitPkt>) -> Tbit {
        Tbit {
            kind: TbitType::ICW,
            result: ICW_SUCCESS,
            type_data: Some(TbitTypeData::Icw { start_seq }),
            pkts,
            ..Default::default()
        }
    }

    const ISN: u32 = 1000;
    const ACK: u8 = TH_ACK;

    /// SYN, SYN/ACK, the request, then the server's data.
    fn exchange(data: Vec<Vec<u8>>) -> Vec<TbitPkt> {
        let mut v = vec![
            pkt(TX, seg4(1, TH_SYN, 0)),
            pkt(DIR_RX, seg4(ISN, TH_SYN | TH_ACK, 0)),
            pkt(TX, seg4(2, ACK, 100)),
        ];
        v.extend(data.into_iter().map(|d| pkt(DIR_RX, d)));
        v
    }

    #[test]
    fn window_is_the_data_before_the_retransmission() {
        let s = ISN + 1;
        let t = icw_test(
            1,
            exchange(vec![
                seg4(s, ACK, 1460),
                seg4(s + 1460, ACK, 1460),
                seg4(s + 2920, ACK, 1000),
                seg4(s, ACK, 1460),
                seg4(s + 1460, ACK, 1460),
            ]),
        );
        assert_eq!(t.server_icw_size(), Some(3920));
    }

    #[test]
    fn out_of_order_gaps_and_duplicates_count_the_furthest_edge() {
        let s = ISN + 1;
        let t = icw_test(
            1,
            exchange(vec![
                seg4(s + 2920, ACK, 100),
                seg4(s + 1460, ACK, 1460),
                seg4(s, ACK, 1460),
                seg4(s + 1460, ACK, 1460),
                // data outside the window is ignored
                seg4(s + 200_000, ACK, 1460),
                // an empty ACK is skipped; a FIN counts even without data
                seg4(s + 3020, ACK, 0),
                seg4(s + 3020, ACK | TH_FIN, 0),
                seg4(s, ACK, 1460),
            ]),
        );
        assert_eq!(t.server_icw_size(), Some(3020));
    }

    #[test]
    fn start_seq_offset_and_sequence_wrap() {
        let isn = u32::MAX - 500;
        let mut pkts = exchange(vec![]);
        pkts[1] = pkt(DIR_RX, seg4(isn, TH_SYN | TH_ACK, 0));
        let s = isn.wrapping_add(1);
        for d in [
            seg4(s, ACK, 1000),
            seg4(s.wrapping_add(1000), ACK, 1000),
            seg4(s, ACK, 1000),
        ] {
            pkts.push(pkt(DIR_RX, d));
        }
        assert_eq!(icw_test(1, pkts.clone()).server_icw_size(), Some(2000));
        // an offset that matches no segment start: never retransmitted
        assert_eq!(icw_test(2, pkts).server_icw_size(), None);
    }

    #[test]
    fn not_computable_cases() {
        let s = ISN + 1;
        let data = || vec![seg4(s, ACK, 10), seg4(s, ACK, 10)];
        assert_eq!(icw_test(1, exchange(data())).server_icw_size(), Some(10));
        // wrong result, type or type data
        let mut t = icw_test(1, exchange(data()));
        t.result = TbitResult(61);
        assert_eq!(t.server_icw_size(), None);
        let mut t = icw_test(1, exchange(data()));
        t.type_data = None;
        assert_eq!(t.server_icw_size(), None);
        let mut t = icw_test(1, exchange(data()));
        t.kind = TbitType::ABC;
        assert_eq!(t.server_icw_size(), None);
        // the first received packet (after packet 0) is not a SYN/ACK
        let mut t = icw_test(1, exchange(data()));
        t.pkts[1] = pkt(DIR_RX, seg4(ISN, ACK, 0));
        assert_eq!(t.server_icw_size(), None);
        // a received packet at index 0 is not the SYN/ACK looked for
        let mut t = icw_test(1, exchange(data()));
        t.pkts.remove(0);
        assert_eq!(t.server_icw_size(), None);
        // a non-TCP received packet before the retransmission ends the search
        let mut icmp = seg4(0, 0, 8);
        icmp[9] = 1;
        let t = icw_test(1, exchange(vec![seg4(s, ACK, 10), icmp, seg4(s, ACK, 10)]));
        assert_eq!(t.server_icw_size(), None);
        // a sent packet in between does not matter
        let mut t = icw_test(1, exchange(data()));
        t.pkts.insert(4, pkt(TX, vec![0x45]));
        assert_eq!(t.server_icw_size(), Some(10));
        assert_eq!(icw_test(1, vec![]).server_icw_size(), None);
    }

    #[test]
    fn ipv6_extension_headers_and_fragments() {
        let s = ISN + 1;
        let hop = [6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut pkts = vec![
            pkt(TX, seg6(6, &[], 1, TH_SYN, 0)),
            pkt(DIR_RX, seg6(0, &hop, ISN, TH_SYN | TH_ACK, 0)),
            pkt(DIR_RX, seg6(44, &[6, 0, 0, 0, 0, 0, 0, 1], s, ACK, 500)),
            pkt(DIR_RX, seg6(6, &[], s + 500, ACK, 500)),
            pkt(DIR_RX, seg6(6, &[], s, ACK, 500)),
        ];
        assert_eq!(icw_test(1, pkts.clone()).server_icw_size(), Some(1000));
        // a zero-length hop-by-hop header, or a fragment with more to come, is unparsable
        pkts[3] = pkt(
            DIR_RX,
            seg6(0, &[6, 0, 0, 0, 0, 0, 0, 0], s + 500, ACK, 500),
        );
        assert_eq!(icw_test(1, pkts.clone()).server_icw_size(), None);
        pkts[3] = pkt(
            DIR_RX,
            seg6(44, &[6, 0, 0, 1, 0, 0, 0, 1], s + 500, ACK, 500),
        );
        assert_eq!(icw_test(1, pkts).server_icw_size(), None);
    }

    #[test]
    fn hostile_packets_do_not_panic() {
        let odd: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x45],
            vec![0x4f, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 6],
            vec![0x40, 0, 0, 0, 0, 0, 0, 0, 0, 6],
            vec![0x60, 0, 0, 0, 0xff, 0xff, 0],
            vec![0x60, 0, 0, 0, 0, 0, 60, 0, 0, 0],
            // chains of extension headers up to the 255-byte limit
            [
                vec![0x60, 0, 0, 0, 0, 0, 0],
                vec![0; 33],
                vec![0, 25],
                vec![0; 400],
            ]
            .concat(),
            [vec![0x60, 0, 0, 0, 0, 0, 44], vec![0; 33], vec![44; 400]].concat(),
            vec![0xff; 1000],
        ];
        for synack in &odd {
            let mut pkts = exchange(odd.clone());
            pkts[1] = pkt(DIR_RX, synack.clone());
            let _ = icw_test(0, pkts).server_icw_size();
        }
        let _ = icw_test(0, exchange(odd)).server_icw_size();
        // many segments, none a retransmission: constant memory, no result
        let s = ISN + 1;
        let t = icw_test(
            1,
            exchange((0..5000u32).map(|i| seg4(s + 1 + i, ACK, 1)).collect()),
        );
        assert_eq!(t.server_icw_size(), None);
    }
}
