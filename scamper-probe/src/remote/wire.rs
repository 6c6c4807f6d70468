//! The master-connection wire format shared by scamper (`-R`) and sc_remoted (remote.md §4):
//! frames, control messages, sequence arithmetic and the reliable-message bookkeeping that both
//! ends apply identically. Sans-IO: bytes in, typed values out, never panics on hostile input.

use std::collections::VecDeque;
use std::fmt;

/// Size of the frame header: sequence u32, channel u32, msglen u16.
pub const HEADER_LEN: usize = 10;
/// Largest payload one frame can carry (msglen is a u16).
pub const MAX_PAYLOAD: usize = u16::MAX as usize;
/// Magic length scamper uses in MASTER_NEW / MASTER_RES.
pub const MAGIC_LEN: usize = 8;

/// Control message type bytes (remote.md §4.2).
pub mod ctype {
    pub const MASTER_NEW: u8 = 0;
    pub const MASTER_ID: u8 = 1;
    pub const CHANNEL_NEW: u8 = 2;
    pub const CHANNEL_FIN: u8 = 3;
    pub const KEEPALIVE: u8 = 4;
    pub const ACK: u8 = 5;
    pub const MASTER_RES: u8 = 6;
    pub const MASTER_REJ: u8 = 7;
    pub const MASTER_OK: u8 = 8;
}

/// `a < b` in 32-bit wrap-around sequence space.
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `a <= b` in 32-bit wrap-around sequence space.
pub fn seq_le(a: u32, b: u32) -> bool {
    a == b || seq_lt(a, b)
}

/// Everything that can be wrong with bytes received on a master connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("zero-length message")]
    EmptyMessage,
    #[error("unknown control message type {0}")]
    UnknownType(u8),
    #[error("control message type {0} has a malformed payload")]
    BadPayload(u8),
    #[error("invalid monitor name in MASTER_NEW")]
    BadName,
    #[error("invalid id in MASTER_ID")]
    BadId,
    #[error("sequence {got} where {want} was expected")]
    OutOfOrder { got: u32, want: u32 },
    #[error("ACK {got} does not match the oldest unacknowledged message ({want:?})")]
    BadAck { got: u32, want: Option<u32> },
    #[error("{0} not allowed in this state")]
    Unexpected(&'static str),
    #[error("channel {0}: {1}")]
    Channel(u32, &'static str),
}

/// One message on the master connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub seq: u32,
    pub channel: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// Appends the encoded frame to `out`. The caller guarantees 1..=65535 payload bytes (all
    /// constructors in this module do).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        debug_assert!(!self.payload.is_empty() && self.payload.len() <= MAX_PAYLOAD);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.channel.to_be_bytes());
        out.extend_from_slice(&(self.payload.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.payload);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER_LEN + self.payload.len());
        self.encode_into(&mut v);
        v
    }
}

/// Incremental frame decoder. Its buffer never holds more than one partial frame plus whatever
/// the caller pushed at once, because `next_frame` consumes complete frames.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet decoded.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, WireError> {
        let b = &self.buf[self.start..];
        if b.len() < HEADER_LEN {
            self.compact();
            return Ok(None);
        }
        let len = u16::from_be_bytes([b[8], b[9]]) as usize;
        if len == 0 {
            return Err(WireError::EmptyMessage);
        }
        if b.len() < HEADER_LEN + len {
            self.compact();
            return Ok(None);
        }
        let frame = Frame {
            seq: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            channel: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            payload: b[HEADER_LEN..HEADER_LEN + len].to_vec(),
        };
        self.start += HEADER_LEN + len;
        Ok(Some(frame))
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

/// A channel-0 message, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// `name` excludes the terminating NUL; `None` when scamper has no monitor name.
    MasterNew {
        magic: Vec<u8>,
        name: Option<String>,
    },
    /// `id` excludes the terminating NUL.
    MasterId {
        id: String,
    },
    ChannelNew {
        channel: u32,
    },
    ChannelFin {
        channel: u32,
    },
    Keepalive,
    Ack {
        seq: u32,
    },
    MasterRes {
        magic: Vec<u8>,
        rcv_nxt: u32,
        snd_una: u32,
        snd_nxt: u32,
    },
    MasterRej,
    MasterOk {
        rcv_nxt: u32,
    },
}

/// Monitor-name characters accepted on the wire (remote.md §4.2, cli.md `-M`).
pub fn valid_monitor_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 254
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
}

fn u32_at(p: &[u8], at: usize) -> Option<u32> {
    let b = p.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Exactly-4-byte u32 payload after the type byte.
fn only_u32(t: u8, p: &[u8]) -> Result<u32, WireError> {
    if p.len() != 5 {
        return Err(WireError::BadPayload(t));
    }
    u32_at(p, 1).ok_or(WireError::BadPayload(t))
}

impl Control {
    pub fn name(&self) -> &'static str {
        match self {
            Control::MasterNew { .. } => "MASTER_NEW",
            Control::MasterId { .. } => "MASTER_ID",
            Control::ChannelNew { .. } => "CHANNEL_NEW",
            Control::ChannelFin { .. } => "CHANNEL_FIN",
            Control::Keepalive => "KEEPALIVE",
            Control::Ack { .. } => "ACK",
            Control::MasterRes { .. } => "MASTER_RES",
            Control::MasterRej => "MASTER_REJ",
            Control::MasterOk { .. } => "MASTER_OK",
        }
    }

    /// Reliable messages consume a sequence number and are retained until acknowledged.
    pub fn is_reliable(&self) -> bool {
        matches!(
            self,
            Control::ChannelNew { .. } | Control::ChannelFin { .. }
        )
    }

    pub fn parse(p: &[u8]) -> Result<Control, WireError> {
        let t = *p.first().ok_or(WireError::EmptyMessage)?;
        let bad = WireError::BadPayload(t);
        match t {
            ctype::MASTER_NEW => {
                let mlen = *p.get(1).ok_or(bad.clone())? as usize;
                let magic = p.get(2..2 + mlen).ok_or(bad.clone())?.to_vec();
                let nlen = *p.get(2 + mlen).ok_or(bad.clone())? as usize;
                let rest = &p[3 + mlen..];
                if rest.len() != nlen {
                    return Err(bad);
                }
                let name = if nlen == 0 {
                    None
                } else {
                    // Last byte NUL; every other byte alphanumeric, '.' or '-'.
                    let (body, nul) = rest.split_at(nlen - 1);
                    if nul != [0] {
                        return Err(WireError::BadName);
                    }
                    let s = std::str::from_utf8(body).map_err(|_| WireError::BadName)?;
                    if !valid_monitor_name(s) {
                        return Err(WireError::BadName);
                    }
                    Some(s.to_string())
                };
                Ok(Control::MasterNew { magic, name })
            }
            ctype::MASTER_ID => {
                let ilen = *p.get(1).ok_or(bad.clone())? as usize;
                let rest = &p[2..];
                if ilen == 0 || rest.len() != ilen {
                    return Err(WireError::BadId);
                }
                let (body, nul) = rest.split_at(ilen - 1);
                if nul != [0] || !body.iter().all(|c| (0x20..0x7f).contains(c)) {
                    return Err(WireError::BadId);
                }
                // Printable ASCII is valid UTF-8.
                let id = String::from_utf8_lossy(body).into_owned();
                Ok(Control::MasterId { id })
            }
            ctype::CHANNEL_NEW => Ok(Control::ChannelNew {
                channel: only_u32(t, p)?,
            }),
            ctype::CHANNEL_FIN => Ok(Control::ChannelFin {
                channel: only_u32(t, p)?,
            }),
            ctype::KEEPALIVE => {
                if p.len() != 1 {
                    return Err(bad);
                }
                Ok(Control::Keepalive)
            }
            ctype::ACK => Ok(Control::Ack {
                seq: only_u32(t, p)?,
            }),
            ctype::MASTER_RES => {
                let mlen = *p.get(1).ok_or(bad.clone())? as usize;
                if p.len() != 2 + mlen + 12 {
                    return Err(bad);
                }
                let magic = p[2..2 + mlen].to_vec();
                let at = 2 + mlen;
                Ok(Control::MasterRes {
                    magic,
                    rcv_nxt: u32_at(p, at).ok_or(bad.clone())?,
                    snd_una: u32_at(p, at + 4).ok_or(bad.clone())?,
                    snd_nxt: u32_at(p, at + 8).ok_or(bad)?,
                })
            }
            ctype::MASTER_REJ => {
                if p.len() != 1 {
                    return Err(bad);
                }
                Ok(Control::MasterRej)
            }
            ctype::MASTER_OK => Ok(Control::MasterOk {
                rcv_nxt: only_u32(t, p)?,
            }),
            other => Err(WireError::UnknownType(other)),
        }
    }

    /// Encoded payload (type byte first). Strings/magic longer than a u8 length allows are
    /// truncated by the callers' validation, never here: this asserts in debug builds only.
    pub fn encode(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(32);
        match self {
            Control::MasterNew { magic, name } => {
                p.push(ctype::MASTER_NEW);
                p.push(magic.len().min(255) as u8);
                p.extend_from_slice(&magic[..magic.len().min(255)]);
                match name {
                    Some(n) => {
                        let n = &n.as_bytes()[..n.len().min(254)];
                        p.push(n.len() as u8 + 1);
                        p.extend_from_slice(n);
                        p.push(0);
                    }
                    None => p.push(0),
                }
            }
            Control::MasterId { id } => {
                let id = &id.as_bytes()[..id.len().min(254)];
                p.push(ctype::MASTER_ID);
                p.push(id.len() as u8 + 1);
                p.extend_from_slice(id);
                p.push(0);
            }
            Control::ChannelNew { channel } => {
                p.push(ctype::CHANNEL_NEW);
                p.extend_from_slice(&channel.to_be_bytes());
            }
            Control::ChannelFin { channel } => {
                p.push(ctype::CHANNEL_FIN);
                p.extend_from_slice(&channel.to_be_bytes());
            }
            Control::Keepalive => p.push(ctype::KEEPALIVE),
            Control::Ack { seq } => {
                p.push(ctype::ACK);
                p.extend_from_slice(&seq.to_be_bytes());
            }
            Control::MasterRes {
                magic,
                rcv_nxt,
                snd_una,
                snd_nxt,
            } => {
                p.push(ctype::MASTER_RES);
                p.push(magic.len().min(255) as u8);
                p.extend_from_slice(&magic[..magic.len().min(255)]);
                p.extend_from_slice(&rcv_nxt.to_be_bytes());
                p.extend_from_slice(&snd_una.to_be_bytes());
                p.extend_from_slice(&snd_nxt.to_be_bytes());
            }
            Control::MasterRej => p.push(ctype::MASTER_REJ),
            Control::MasterOk { rcv_nxt } => {
                p.push(ctype::MASTER_OK);
                p.extend_from_slice(&rcv_nxt.to_be_bytes());
            }
        }
        p
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Sequence state and the retained (unacknowledged) reliable messages of one end (§4.1).
/// Whether a message is actually transmitted now is the caller's business: this only numbers
/// messages and keeps copies.
#[derive(Debug, Default)]
pub struct SeqState {
    pub snd_nxt: u32,
    pub rcv_nxt: u32,
    retained: VecDeque<Frame>,
    retained_bytes: usize,
}

impl SeqState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Numbers a reliable message, retains a copy and returns it for transmission.
    pub fn reliable(&mut self, channel: u32, payload: Vec<u8>) -> Frame {
        let f = Frame {
            seq: self.snd_nxt,
            channel,
            payload,
        };
        self.snd_nxt = self.snd_nxt.wrapping_add(1);
        self.retained_bytes += f.payload.len();
        self.retained.push_back(f.clone());
        f
    }

    /// An unreliable control message, stamped with `snd_nxt` (not incremented).
    pub fn unreliable(&self, msg: &Control) -> Frame {
        Frame {
            seq: self.snd_nxt,
            channel: 0,
            payload: msg.encode(),
        }
    }

    /// Checks a received frame's sequence against `rcv_nxt`.
    pub fn check_rx(&self, seq: u32) -> Result<(), WireError> {
        if seq != self.rcv_nxt {
            return Err(WireError::OutOfOrder {
                got: seq,
                want: self.rcv_nxt,
            });
        }
        Ok(())
    }

    /// Accepts a received reliable message (already checked) and returns the ACK to send.
    pub fn accept_reliable(&mut self, seq: u32) -> Frame {
        self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
        self.unreliable(&Control::Ack { seq })
    }

    /// An ACK must name the oldest retained message.
    pub fn on_ack(&mut self, seq: u32) -> Result<(), WireError> {
        match self.retained.front() {
            Some(f) if f.seq == seq => {
                self.retained_bytes -= f.payload.len();
                self.retained.pop_front();
                Ok(())
            }
            other => Err(WireError::BadAck {
                got: seq,
                want: other.map(|f| f.seq),
            }),
        }
    }

    /// Sequence of the oldest retained message, or `snd_nxt` if none.
    pub fn snd_una(&self) -> u32 {
        self.retained.front().map_or(self.snd_nxt, |f| f.seq)
    }

    pub fn retained(&self) -> impl Iterator<Item = &Frame> {
        self.retained.iter()
    }

    pub fn retained_len(&self) -> usize {
        self.retained.len()
    }

    /// Payload bytes held for retransmission.
    pub fn retained_bytes(&self) -> usize {
        self.retained_bytes
    }

    /// Whether some retained message has sequence `seq`.
    pub fn holds(&self, seq: u32) -> bool {
        self.retained.iter().any(|f| f.seq == seq)
    }

    /// Drops retained messages the peer already has (sequence < `peer_rcv_nxt`).
    pub fn drop_acked_before(&mut self, peer_rcv_nxt: u32) {
        while let Some(f) = self.retained.front() {
            if !seq_lt(f.seq, peer_rcv_nxt) {
                break;
            }
            self.retained_bytes -= f.payload.len();
            self.retained.pop_front();
        }
    }

    /// Forgets everything (session rejected).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Splits a byte stream chunk into frame-sized pieces.
pub fn chunks(bytes: &[u8], max: usize) -> impl Iterator<Item = &[u8]> {
    bytes.chunks(max.clamp(1, MAX_PAYLOAD))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '|')
            .collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn frame0(seq: u32, c: &Control) -> Vec<u8> {
        Frame {
            seq,
            channel: 0,
            payload: c.encode(),
        }
        .encode()
    }

    // remote.md §10, in order.
    #[test]
    fn worked_examples_encode() {
        let magic = vec![0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8];
        let new = Control::MasterNew {
            magic: magic.clone(),
            name: Some("vp1".into()),
        };
        assert_eq!(
            frame0(0, &new),
            hex("00000000 00000000 000f | 00 08 a1a2a3a4a5a6a7a8 04 767031 00")
        );
        let mut id = hex("00000000 00000000 0015 | 01 13");
        id.extend_from_slice(b"198.51.100.55:1025\0");
        let idc = Control::MasterId {
            id: "198.51.100.55:1025".into(),
        };
        assert_eq!(frame0(0, &idc), id);
        assert_eq!(
            frame0(0, &Control::ChannelNew { channel: 1 }),
            hex("00000000 00000000 0005 | 02 00000001")
        );
        assert_eq!(
            frame0(0, &Control::Ack { seq: 0 }),
            hex("00000000 00000000 0005 | 05 00000000")
        );
        assert_eq!(
            frame0(2, &Control::Keepalive),
            hex("00000002 00000000 0001 | 04")
        );
        let mut res = hex("00000000 00000000 0016 | 06 08");
        res.extend_from_slice(&magic);
        res.extend_from_slice(&hex("00000003 00000001 00000004"));
        let resc = Control::MasterRes {
            magic,
            rcv_nxt: 3,
            snd_una: 1,
            snd_nxt: 4,
        };
        assert_eq!(frame0(0, &resc), res);
        assert_eq!(
            frame0(0, &Control::MasterOk { rcv_nxt: 7 }),
            hex("00000000 00000000 0005 | 08 00000007")
        );
        assert_eq!(
            frame0(0, &Control::MasterRej),
            hex("00000000 00000000 0001 | 07")
        );
        // Data messages are plain frames.
        let mut d = hex("00000001 00000001 000f");
        d.extend_from_slice(b"ping 192.0.2.1\n");
        let f = Frame {
            seq: 1,
            channel: 1,
            payload: b"ping 192.0.2.1\n".to_vec(),
        };
        assert_eq!(f.encode(), d);
    }

    #[test]
    fn worked_examples_decode_roundtrip() {
        let mut stream = hex("00000000 00000000 000f | 00 08 a1a2a3a4a5a6a7a8 04 767031 00");
        stream.extend(hex("00000000 00000001 0005"));
        stream.extend_from_slice(b"MORE\n");
        stream.extend(hex("00000002 00000000 0005 | 05 00000000"));
        let mut d = FrameDecoder::new();
        // Feed one byte at a time: split points are arbitrary.
        let mut frames = Vec::new();
        for b in &stream {
            d.push(std::slice::from_ref(b));
            while let Some(f) = d.next_frame().unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(
            Control::parse(&frames[0].payload).unwrap(),
            Control::MasterNew {
                magic: vec![0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8],
                name: Some("vp1".into())
            }
        );
        assert_eq!(frames[1].channel, 1);
        assert_eq!(frames[1].payload, b"MORE\n");
        assert_eq!(frames[2].seq, 2);
        assert_eq!(
            Control::parse(&frames[2].payload).unwrap(),
            Control::Ack { seq: 0 }
        );
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn every_control_roundtrips() {
        let all = [
            Control::MasterNew {
                magic: vec![1; 8],
                name: None,
            },
            Control::MasterNew {
                magic: vec![2; 8],
                name: Some("a.b-c".into()),
            },
            Control::MasterId {
                id: "2001:db8::1.1026".into(),
            },
            Control::ChannelNew { channel: 9 },
            Control::ChannelFin { channel: 9 },
            Control::Keepalive,
            Control::Ack { seq: u32::MAX },
            Control::MasterRes {
                magic: vec![3; 8],
                rcv_nxt: 1,
                snd_una: 2,
                snd_nxt: 3,
            },
            Control::MasterRej,
            Control::MasterOk { rcv_nxt: 5 },
        ];
        for c in all {
            assert_eq!(Control::parse(&c.encode()).unwrap(), c);
        }
    }

    #[test]
    fn hostile_payloads_are_errors() {
        let cases: &[&[u8]] = &[
            &[],
            &[99],
            &[ctype::KEEPALIVE, 0],
            &[ctype::ACK, 0, 0, 0],
            &[ctype::ACK, 0, 0, 0, 0, 0],
            &[ctype::CHANNEL_NEW],
            &[ctype::MASTER_OK, 1, 2],
            &[ctype::MASTER_REJ, 1],
            &[ctype::MASTER_NEW],
            &[ctype::MASTER_NEW, 200, 1, 2],
            &[ctype::MASTER_NEW, 1, 1, 3, b'a', b'b'],
            &[ctype::MASTER_NEW, 1, 1, 3, b'a', b'b', b'c'],
            &[ctype::MASTER_NEW, 1, 1, 3, b'a', b'_', 0],
            &[ctype::MASTER_NEW, 1, 1, 1, 0],
            &[ctype::MASTER_ID, 0],
            &[ctype::MASTER_ID, 2, b'a'],
            &[ctype::MASTER_ID, 2, 7, 0],
            &[ctype::MASTER_ID, 2, b'a', b'b'],
            &[ctype::MASTER_RES, 8, 1, 2, 3],
            &[ctype::MASTER_RES, 255],
        ];
        for c in cases {
            assert!(Control::parse(c).is_err(), "{c:?}");
        }
    }

    #[test]
    fn zero_length_frame_is_an_error() {
        let mut d = FrameDecoder::new();
        d.push(&hex("00000000 00000001 0000"));
        assert_eq!(d.next_frame(), Err(WireError::EmptyMessage));
    }

    #[test]
    fn sequence_wraps() {
        assert!(seq_lt(u32::MAX, 0));
        assert!(!seq_lt(0, u32::MAX));
        assert!(seq_le(5, 5));
        let mut s = SeqState::new();
        s.snd_nxt = u32::MAX;
        let a = s.reliable(1, b"x".to_vec());
        let b = s.reliable(1, b"y".to_vec());
        assert_eq!((a.seq, b.seq, s.snd_nxt), (u32::MAX, 0, 1));
        s.drop_acked_before(0);
        assert_eq!(s.snd_una(), 0);
        assert!(s.on_ack(1).is_err());
        s.on_ack(0).unwrap();
        assert_eq!(s.snd_una(), 1);
        assert_eq!(s.retained_bytes(), 0);
        assert!(s.on_ack(1).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic xorshift stream of garbage through the decoder and parser.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut d = FrameDecoder::new();
        let mut seen = 0;
        for _ in 0..2000 {
            let mut chunk = [0u8; 37];
            for b in chunk.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            // Keep lengths small so frames complete often.
            chunk[8] = 0;
            d.push(&chunk);
            loop {
                match d.next_frame() {
                    Ok(Some(f)) => {
                        seen += 1;
                        let _ = Control::parse(&f.payload);
                    }
                    Ok(None) => break,
                    Err(_) => {
                        d = FrameDecoder::new();
                        break;
                    }
                }
            }
            assert!(d.pending() < HEADER_LEN + MAX_PAYLOAD + chunk.len());
        }
        assert!(seen > 0);
    }
}
