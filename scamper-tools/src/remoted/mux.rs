//! The mux socket protocol (remote.md §8.2), sans-IO: frame encoders and an incremental decoder
//! that forwards data frames piecewise (only channel-0 messages are buffered whole).

use super::meta::VpMeta;

pub const VP_UPDATE: u16 = 0;
pub const VP_DEPART: u16 = 1;
pub const GO: u16 = 2;
pub const CHANNEL_OPEN: u16 = 3;
pub const CHANNEL_CLOSE: u16 = 4;

pub mod attr {
    pub const NAME: u16 = 1;
    pub const ARRIVAL: u16 = 2;
    pub const IPV4: u16 = 3;
    pub const IPV4_ASN: u16 = 4;
    pub const CC: u16 = 5;
    pub const ST: u16 = 6;
    pub const PLACE: u16 = 7;
    pub const LATLONG: u16 = 8;
    pub const SHORTNAME: u16 = 9;
    pub const TAG: u16 = 10;
    pub const IATA: u16 = 11;
    pub const IPV6: u16 = 12;
    pub const IPV6_ASN: u16 = 13;
}

/// sc_remoted builds VP_UPDATE in a buffer of this size and skips updates that do not fit.
pub const VP_UPDATE_MAX: usize = 1024;
/// Largest channel-0 message a client may send (they are all a few bytes).
const CONTROL_MAX: u32 = 4096;

pub fn frame(channel: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&channel.to_be_bytes());
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn control(t: u16, body: &[u8]) -> Vec<u8> {
    let mut p = t.to_be_bytes().to_vec();
    p.extend_from_slice(body);
    frame(0, &p)
}

pub fn go() -> Vec<u8> {
    control(GO, &[])
}

pub fn vp_depart(vp_id: u32) -> Vec<u8> {
    control(VP_DEPART, &vp_id.to_be_bytes())
}

pub fn channel_close(channel: u32) -> Vec<u8> {
    control(CHANNEL_CLOSE, &channel.to_be_bytes())
}

#[cfg(test)]
pub fn channel_open(vp_id: u32, channel: u32) -> Vec<u8> {
    let mut b = vp_id.to_be_bytes().to_vec();
    b.extend_from_slice(&channel.to_be_bytes());
    control(CHANNEL_OPEN, &b)
}

/// What a VP_UPDATE says about one VP.
#[derive(Debug, Clone)]
pub struct VpInfo<'a> {
    pub vp_id: u32,
    pub name: Option<&'a str>,
    /// `<unix-seconds>.<6-digit-usec>`
    pub arrival: String,
    pub peer: std::net::IpAddr,
    pub meta: Option<&'a VpMeta>,
}

/// VP_UPDATE with attributes in sc_remoted's order; `None` if it exceeds [`VP_UPDATE_MAX`].
pub fn vp_update(info: &VpInfo<'_>) -> Option<Vec<u8>> {
    let mut b = info.vp_id.to_be_bytes().to_vec();
    let mut add = |a: u16, s: &str| {
        b.extend_from_slice(&a.to_be_bytes());
        b.extend_from_slice(s.as_bytes());
        b.push(0);
    };
    if let Some(n) = info.name {
        add(attr::NAME, n);
    }
    add(attr::ARRIVAL, &info.arrival);
    match info.peer {
        std::net::IpAddr::V4(a) => add(attr::IPV4, &a.to_string()),
        std::net::IpAddr::V6(a) => add(attr::IPV6, &a.to_string()),
    }
    if let Some(m) = info.meta {
        let singles = [
            (attr::IPV4_ASN, &m.asn4),
            (attr::IPV6_ASN, &m.asn6),
            (attr::LATLONG, &m.latlong),
            (attr::CC, &m.cc),
            (attr::ST, &m.st),
            (attr::PLACE, &m.place),
            (attr::SHORTNAME, &m.shortname),
            (attr::IATA, &m.iata),
        ];
        for (a, v) in singles {
            if let Some(v) = v {
                add(a, v);
            }
        }
        for t in &m.tags {
            add(attr::TAG, t);
        }
    }
    let f = control(VP_UPDATE, &b);
    (f.len() <= VP_UPDATE_MAX).then_some(f)
}

/// Something a mux client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MuxIn {
    Open {
        vp_id: u32,
        channel: u32,
    },
    Close {
        channel: u32,
    },
    /// A piece of a data frame (frames are forwarded as their bytes arrive).
    Data {
        channel: u32,
        data: Vec<u8>,
    },
    /// A channel-0 type the server does not act on (ignored, like unknown types in clients).
    Ignored {
        msg_type: u16,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MuxError {
    #[error("control message of {0} bytes")]
    ControlSize(u32),
    #[error("malformed control message type {0}")]
    Malformed(u16),
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Header,
    Data {
        channel: u32,
        left: u32,
    },
    Control {
        len: u32,
    },
}

#[derive(Debug, Default)]
pub struct MuxDecoder {
    buf: Vec<u8>,
    state: State,
}

impl MuxDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn next_msg(&mut self) -> Result<Option<MuxIn>, MuxError> {
        loop {
            match self.state {
                State::Header => {
                    if self.buf.len() < 8 {
                        return Ok(None);
                    }
                    let ch =
                        u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
                    let len =
                        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]);
                    self.buf.drain(..8);
                    if ch == 0 {
                        if !(2..=CONTROL_MAX).contains(&len) {
                            return Err(MuxError::ControlSize(len));
                        }
                        self.state = State::Control { len };
                    } else if len > 0 {
                        self.state = State::Data {
                            channel: ch,
                            left: len,
                        };
                    }
                }
                State::Data { channel, left } => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    let n = (left as usize).min(self.buf.len());
                    let data: Vec<u8> = self.buf.drain(..n).collect();
                    let left = left - n as u32;
                    self.state = if left == 0 {
                        State::Header
                    } else {
                        State::Data { channel, left }
                    };
                    return Ok(Some(MuxIn::Data { channel, data }));
                }
                State::Control { len } => {
                    if self.buf.len() < len as usize {
                        return Ok(None);
                    }
                    let p: Vec<u8> = self.buf.drain(..len as usize).collect();
                    self.state = State::Header;
                    let t = u16::from_be_bytes([p[0], p[1]]);
                    let u32_at =
                        |at: usize| u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
                    return match t {
                        CHANNEL_OPEN if p.len() == 10 => Ok(Some(MuxIn::Open {
                            vp_id: u32_at(2),
                            channel: u32_at(6),
                        })),
                        CHANNEL_CLOSE if p.len() == 6 => {
                            Ok(Some(MuxIn::Close { channel: u32_at(2) }))
                        }
                        CHANNEL_OPEN | CHANNEL_CLOSE => Err(MuxError::Malformed(t)),
                        other => Ok(Some(MuxIn::Ignored { msg_type: other })),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // remote.md §10, mux part.
    #[test]
    fn worked_examples() {
        assert_eq!(go(), hex("00000000 00000002 | 0002"));
        assert_eq!(
            channel_open(1, 1),
            hex("00000000 0000000a | 0003 00000001 00000001")
        );
        assert_eq!(channel_close(1), hex("00000000 00000006 | 0004 00000001"));
        assert_eq!(vp_depart(1), hex("00000000 00000006 | 0001 00000001"));
        let mut d = hex("00000001 0000000f");
        d.extend_from_slice(b"ping 192.0.2.1\n");
        assert_eq!(frame(1, b"ping 192.0.2.1\n"), d);
        let u = vp_update(&VpInfo {
            vp_id: 1,
            name: Some("vp1"),
            arrival: "1700000000.123456".into(),
            peer: "198.51.100.55".parse().unwrap(),
            meta: None,
        })
        .unwrap();
        let mut body = hex("0000 00000001 0001");
        body.extend_from_slice(b"vp1\0");
        body.extend(hex("0002"));
        body.extend_from_slice(b"1700000000.123456\0");
        body.extend(hex("0003"));
        body.extend_from_slice(b"198.51.100.55\0");
        assert_eq!(u, frame(0, &body));
    }

    #[test]
    fn update_with_metadata_order_and_limit() {
        let meta = VpMeta {
            asn4: Some("64496".into()),
            cc: Some("NZ".into()),
            shortname: Some("hlz".into()),
            tags: vec!["x".into()],
            ..Default::default()
        };
        let u = vp_update(&VpInfo {
            vp_id: 2,
            name: None,
            arrival: "1.000000".into(),
            peer: "2001:db8::1".parse().unwrap(),
            meta: Some(&meta),
        })
        .unwrap();
        let attrs: Vec<u16> = {
            let mut v = Vec::new();
            let mut p = &u[8 + 2 + 4..];
            while p.len() >= 2 {
                v.push(u16::from_be_bytes([p[0], p[1]]));
                let nul = p[2..].iter().position(|b| *b == 0).unwrap();
                p = &p[2 + nul + 1..];
            }
            v
        };
        assert_eq!(
            attrs,
            vec![
                attr::ARRIVAL,
                attr::IPV6,
                attr::IPV4_ASN,
                attr::CC,
                attr::SHORTNAME,
                attr::TAG
            ]
        );
        let big = VpMeta {
            place: Some("x".repeat(1100)),
            ..Default::default()
        };
        assert!(vp_update(&VpInfo {
            vp_id: 3,
            name: None,
            arrival: "1.000000".into(),
            peer: "192.0.2.1".parse().unwrap(),
            meta: Some(&big),
        })
        .is_none());
    }

    #[test]
    fn decoder_pieces_and_controls() {
        let mut d = MuxDecoder::new();
        let mut bytes = channel_open(1, 7);
        bytes.extend(frame(7, b"ping 192.0.2.1\n"));
        bytes.extend(frame(0, &[0, 9]));
        bytes.extend(frame(3, b""));
        bytes.extend(channel_close(7));
        let mut got = Vec::new();
        // Three bytes at a time: data arrives in pieces.
        for c in bytes.chunks(3) {
            d.push(c);
            while let Some(m) = d.next_msg().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(
            got[0],
            MuxIn::Open {
                vp_id: 1,
                channel: 7
            }
        );
        let data: Vec<u8> = got
            .iter()
            .filter_map(|m| match m {
                MuxIn::Data { channel: 7, data } => Some(data.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(data, b"ping 192.0.2.1\n");
        assert!(got.contains(&MuxIn::Ignored { msg_type: 9 }));
        assert_eq!(got.last(), Some(&MuxIn::Close { channel: 7 }));
    }

    #[test]
    fn hostile_controls() {
        let mut d = MuxDecoder::new();
        d.push(&hex("00000000 ffffffff"));
        assert!(d.next_msg().is_err());
        let mut d = MuxDecoder::new();
        d.push(&frame(0, &[0, 3, 1]));
        assert_eq!(d.next_msg(), Err(MuxError::Malformed(CHANNEL_OPEN)));
        let mut d = MuxDecoder::new();
        d.push(&frame(0, &[0]));
        assert!(d.next_msg().is_err());
    }
}
