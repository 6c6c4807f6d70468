//! sc_remoted's per-scamper master as a sans-IO state machine (remote.md §4-§7): validates
//! frames, numbers and retains reliable messages, allocates channels, and produces the bytes to
//! write. Decisions that involve other masters (magic lookup, resume, cert names) are the hub's.

use std::collections::HashSet;

use scamper_probe::remote::wire::{self, Control, Frame, FrameDecoder, SeqState, WireError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Waiting for MASTER_NEW / MASTER_RES, or a zombie (no connection): reliable messages
    /// are queued, nothing is transmitted.
    Connect,
    Go,
    /// MASTER_REJ sent: input ignored, connection closes once the output is written.
    Flush,
}

/// What the hub must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MEvent {
    New {
        magic: Vec<u8>,
        name: Option<String>,
    },
    Resume {
        magic: Vec<u8>,
        rcv_nxt: u32,
        snd_una: u32,
        snd_nxt: u32,
    },
    Data {
        channel: u32,
        data: Vec<u8>,
    },
    /// scamper finished a channel.
    Fin {
        channel: u32,
    },
}

#[derive(Debug)]
pub struct Master {
    mode: Mode,
    seq: SeqState,
    decoder: FrameDecoder,
    out: Vec<u8>,
    channels: HashSet<u32>,
    next_channel: u32,
}

impl Default for Master {
    fn default() -> Self {
        Self::new()
    }
}

impl Master {
    pub fn new() -> Self {
        Master {
            mode: Mode::Connect,
            seq: SeqState::new(),
            decoder: FrameDecoder::new(),
            out: Vec::new(),
            channels: HashSet::new(),
            next_channel: 1,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    #[cfg(test)]
    pub fn seq(&self) -> &SeqState {
        &self.seq
    }

    #[cfg(test)]
    pub fn has_channel(&self, channel: u32) -> bool {
        self.channels.contains(&channel)
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    pub fn receive(&mut self, bytes: &[u8]) -> Result<Vec<MEvent>, WireError> {
        let mut ev = Vec::new();
        if self.mode == Mode::Flush {
            return Ok(ev);
        }
        self.decoder.push(bytes);
        while let Some(f) = self.decoder.next_frame()? {
            // remoted checks the sequence of every message before dispatch.
            self.seq.check_rx(f.seq)?;
            if f.channel != 0 {
                if self.mode != Mode::Go {
                    return Err(WireError::Unexpected("channel data before GO"));
                }
                let ack = self.seq.accept_reliable(f.seq);
                ack.encode_into(&mut self.out);
                // Data for an unknown channel is acked and ignored.
                if self.channels.contains(&f.channel) {
                    ev.push(MEvent::Data {
                        channel: f.channel,
                        data: f.payload,
                    });
                }
                continue;
            }
            let msg = Control::parse(&f.payload)?;
            match (self.mode, msg) {
                (Mode::Connect, Control::MasterNew { magic, name }) => {
                    ev.push(MEvent::New { magic, name });
                    // Nothing else may arrive before MASTER_ID: leave the rest undecoded.
                    return Ok(ev);
                }
                (
                    Mode::Connect,
                    Control::MasterRes {
                        magic,
                        rcv_nxt,
                        snd_una,
                        snd_nxt,
                    },
                ) => {
                    ev.push(MEvent::Resume {
                        magic,
                        rcv_nxt,
                        snd_una,
                        snd_nxt,
                    });
                    return Ok(ev);
                }
                (Mode::Go, Control::ChannelFin { channel }) => {
                    let ack = self.seq.accept_reliable(f.seq);
                    ack.encode_into(&mut self.out);
                    if self.channels.remove(&channel) {
                        ev.push(MEvent::Fin { channel });
                    }
                }
                (Mode::Go, Control::Keepalive) => {}
                (Mode::Go, Control::Ack { seq }) => self.seq.on_ack(seq)?,
                (_, other) => return Err(WireError::Unexpected(other.name())),
            }
        }
        Ok(ev)
    }

    /// MASTER_NEW accepted: GO, and tell scamper how we see it.
    pub fn accept_new(&mut self, id: &str) {
        self.mode = Mode::Go;
        self.emit(
            &self
                .seq
                .unreliable(&Control::MasterId { id: id.to_string() }),
        );
    }

    /// MASTER_REJ, then close.
    pub fn reject(&mut self) {
        self.emit(&self.seq.unreliable(&Control::MasterRej));
        self.mode = Mode::Flush;
    }

    /// Whether a MASTER_RES with these numbers can continue this session (§5.2).
    pub fn can_resume(&self, rcv_nxt: u32, snd_una: u32, snd_nxt: u32) -> bool {
        (self.seq.snd_nxt == rcv_nxt || self.seq.holds(rcv_nxt))
            && wire::seq_le(snd_una, self.seq.rcv_nxt)
            && wire::seq_le(self.seq.rcv_nxt, snd_nxt)
    }

    /// Continues the session on a new connection: MASTER_OK, then everything scamper lacks.
    pub fn resume(&mut self, rcv_nxt: u32) {
        self.seq.drop_acked_before(rcv_nxt);
        self.decoder = FrameDecoder::new();
        self.out.clear();
        self.mode = Mode::Go;
        // MASTER_OK always carries sequence 0.
        Frame {
            seq: 0,
            channel: 0,
            payload: Control::MasterOk {
                rcv_nxt: self.seq.rcv_nxt,
            }
            .encode(),
        }
        .encode_into(&mut self.out);
        let mut out = std::mem::take(&mut self.out);
        for f in self.seq.retained() {
            f.encode_into(&mut out);
        }
        self.out = out;
    }

    /// The connection is gone; keep everything for a resume (zombie).
    pub fn zombify(&mut self) {
        self.mode = Mode::Connect;
        self.out.clear();
        self.decoder = FrameDecoder::new();
    }

    /// New channel id (from 1, skipping 0 and ids in use) announced with CHANNEL_NEW.
    pub fn open_channel(&mut self) -> u32 {
        let mut id = self.next_channel;
        // Bounded: at most one id per open channel is skipped.
        for _ in 0..=self.channels.len() {
            if id != 0 && !self.channels.contains(&id) {
                break;
            }
            id = id.wrapping_add(1);
        }
        self.next_channel = id.wrapping_add(1);
        self.channels.insert(id);
        self.reliable(0, Control::ChannelNew { channel: id }.encode());
        id
    }

    /// Local bytes for scamper.
    pub fn send_data(&mut self, channel: u32, data: &[u8]) {
        if !self.channels.contains(&channel) {
            return;
        }
        for piece in wire::chunks(data, wire::MAX_PAYLOAD) {
            self.reliable(channel, piece.to_vec());
        }
    }

    /// The local side went away first: CHANNEL_FIN (once).
    pub fn close_channel(&mut self, channel: u32) {
        if self.channels.remove(&channel) {
            self.reliable(0, Control::ChannelFin { channel }.encode());
        }
    }

    pub fn keepalive(&mut self) {
        if self.mode == Mode::Go {
            self.emit(&self.seq.unreliable(&Control::Keepalive));
        }
    }

    fn reliable(&mut self, channel: u32, payload: Vec<u8>) {
        let f = self.seq.reliable(channel, payload);
        if self.mode == Mode::Go {
            f.encode_into(&mut self.out);
        }
    }

    fn emit(&mut self, f: &Frame) {
        f.encode_into(&mut self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scamper_probe::remote::session::{Event, Session};

    fn ctl(seq: u32, c: Control) -> Vec<u8> {
        Frame {
            seq,
            channel: 0,
            payload: c.encode(),
        }
        .encode()
    }

    /// Pumps bytes between a scamper session and a master until both are quiet.
    fn pump(s: &mut Session, m: &mut Master, sev: &mut Vec<Event>, mev: &mut Vec<MEvent>) {
        for _ in 0..100 {
            let a = s.take_output();
            let b = m.take_output();
            if a.is_empty() && b.is_empty() {
                return;
            }
            mev.extend(m.receive(&a).unwrap());
            sev.extend(s.receive(&b).unwrap());
        }
        panic!("no quiescence");
    }

    #[test]
    fn worked_example_from_remoted_side() {
        let mut m = Master::new();
        let mut new = ctl(
            0,
            Control::MasterNew {
                magic: vec![0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8],
                name: Some("vp1".into()),
            },
        );
        assert_eq!(new[..10], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0f]);
        let ev = m.receive(&std::mem::take(&mut new)).unwrap();
        assert!(matches!(&ev[0], MEvent::New { name: Some(n), .. } if n == "vp1"));
        m.accept_new("198.51.100.55:1025");
        let mut id = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0x15, 1, 0x13];
        id.extend_from_slice(b"198.51.100.55:1025\0");
        assert_eq!(m.take_output(), id);
        assert_eq!(m.open_channel(), 1);
        assert_eq!(m.take_output(), ctl(0, Control::ChannelNew { channel: 1 }));
        m.send_data(1, b"ping 192.0.2.1\n");
        let mut d = vec![0, 0, 0, 1, 0, 0, 0, 1, 0, 0x0f];
        d.extend_from_slice(b"ping 192.0.2.1\n");
        assert_eq!(m.take_output(), d);
        // scamper's acks and its MORE.
        let mut inb = ctl(0, Control::Ack { seq: 0 });
        inb.extend(ctl(0, Control::Ack { seq: 1 }));
        let mut more = vec![0, 0, 0, 0, 0, 0, 0, 1, 0, 5];
        more.extend_from_slice(b"MORE\n");
        inb.extend(more);
        let ev = m.receive(&inb).unwrap();
        assert_eq!(
            ev,
            vec![MEvent::Data {
                channel: 1,
                data: b"MORE\n".to_vec()
            }]
        );
        // remoted ACK (its snd_nxt is 2).
        assert_eq!(m.take_output(), ctl(2, Control::Ack { seq: 0 }));
        m.keepalive();
        assert_eq!(m.take_output(), ctl(2, Control::Keepalive));
    }

    #[test]
    fn protocol_errors() {
        let mut m = Master::new();
        assert!(
            m.receive(&ctl(0, Control::Keepalive)).is_err(),
            "keepalive before NEW"
        );
        let mut m = Master::new();
        assert!(m
            .receive(&ctl(
                1,
                Control::MasterNew {
                    magic: vec![1],
                    name: None
                }
            ))
            .is_err());
        let mut m = Master::new();
        m.accept_new("x");
        assert!(m
            .receive(&ctl(0, Control::ChannelNew { channel: 1 }))
            .is_err());
        let mut m = Master::new();
        m.accept_new("x");
        assert!(m.receive(&ctl(0, Control::Ack { seq: 0 })).is_err());
        let mut m = Master::new();
        m.accept_new("x");
        assert!(m
            .receive(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 2, ctype_bad(), 0])
            .is_err());
        // Unknown channel data and FIN are acked and ignored.
        let mut m = Master::new();
        m.accept_new("x");
        m.take_output();
        let mut inb = Frame {
            seq: 0,
            channel: 9,
            payload: b"x".to_vec(),
        }
        .encode();
        inb.extend(ctl(1, Control::ChannelFin { channel: 9 }));
        assert!(m.receive(&inb).unwrap().is_empty());
        assert_eq!(m.seq().rcv_nxt, 2);
    }

    fn ctype_bad() -> u8 {
        42
    }

    #[test]
    fn full_session_with_scamper_state_machine() {
        let mut s = Session::new(Some("vp1".into()), vec![7; 8]);
        let mut m = Master::new();
        let (mut sev, mut mev) = (Vec::new(), Vec::new());
        s.connected();
        pump(&mut s, &mut m, &mut sev, &mut mev);
        assert!(matches!(mev.remove(0), MEvent::New { .. }));
        m.accept_new("127.0.0.1:5000");
        let c = m.open_channel();
        m.send_data(c, b"ping 192.0.2.1\n");
        pump(&mut s, &mut m, &mut sev, &mut mev);
        assert_eq!(
            sev,
            vec![
                Event::Established {
                    alias: "127.0.0.1:5000".into()
                },
                Event::ChannelOpened {
                    channel: 1,
                    name: "127.0.0.1:5000_0".into()
                },
                Event::ChannelData {
                    channel: 1,
                    data: b"ping 192.0.2.1\n".to_vec()
                },
            ]
        );
        sev.clear();
        s.send_data(1, b"OK id-1\n");
        pump(&mut s, &mut m, &mut sev, &mut mev);
        assert_eq!(
            mev,
            vec![MEvent::Data {
                channel: 1,
                data: b"OK id-1\n".to_vec()
            }]
        );
        mev.clear();
        assert_eq!(m.seq().retained_len(), 0);
        assert_eq!(s.seq().retained_len(), 0);

        // Break: both sides queue while apart; bytes in flight are lost.
        s.send_data(1, b"MORE\n");
        let _lost = s.take_output();
        m.send_data(1, b"done\n");
        let _lost2 = m.take_output();
        s.disconnected();
        m.zombify();
        s.send_data(1, b"DATA 5\n");
        m.send_data(1, b"halt 1\n");

        // Reconnect: a fresh temporary master receives MASTER_RES; the hub hands it to m.
        s.connected();
        let mut tmp = Master::new();
        let ev = tmp.receive(&s.take_output()).unwrap();
        let MEvent::Resume {
            rcv_nxt,
            snd_una,
            snd_nxt,
            ..
        } = ev[0].clone()
        else {
            panic!("{ev:?}")
        };
        assert!(m.can_resume(rcv_nxt, snd_una, snd_nxt));
        m.resume(rcv_nxt);
        pump(&mut s, &mut m, &mut sev, &mut mev);
        assert_eq!(sev[0], Event::Resumed);
        assert_eq!(
            sev[1..],
            [
                Event::ChannelData {
                    channel: 1,
                    data: b"done\n".to_vec()
                },
                Event::ChannelData {
                    channel: 1,
                    data: b"halt 1\n".to_vec()
                },
            ]
        );
        assert_eq!(
            mev,
            vec![
                MEvent::Data {
                    channel: 1,
                    data: b"MORE\n".to_vec()
                },
                MEvent::Data {
                    channel: 1,
                    data: b"DATA 5\n".to_vec()
                },
            ]
        );
        assert_eq!(m.seq().retained_len() + s.seq().retained_len(), 0);

        // scamper finishes the channel.
        mev.clear();
        s.close_channel(1);
        pump(&mut s, &mut m, &mut sev, &mut mev);
        assert_eq!(mev, vec![MEvent::Fin { channel: 1 }]);
        assert!(!m.has_channel(1));
    }

    #[test]
    fn resume_checks() {
        let mut m = Master::new();
        m.accept_new("x");
        let c = m.open_channel(); // seq 0
        m.send_data(c, b"a"); // seq 1
        m.take_output();
        m.receive(&ctl(0, Control::Ack { seq: 0 })).unwrap();
        // m: snd_nxt 2, retained {1}, rcv_nxt 0.
        assert!(m.can_resume(1, 0, 0));
        assert!(m.can_resume(2, 0, 0));
        assert!(!m.can_resume(0, 0, 0), "0 was acked, not retained");
        assert!(!m.can_resume(3, 0, 0));
        assert!(
            !m.can_resume(1, 1, 1),
            "scamper's snd_una beyond our rcv_nxt"
        );
        m.zombify();
        m.resume(2);
        assert_eq!(m.take_output(), ctl(0, Control::MasterOk { rcv_nxt: 0 }));
    }

    #[test]
    fn reject_then_flush() {
        let mut m = Master::new();
        m.reject();
        assert_eq!(m.take_output(), ctl(0, Control::MasterRej));
        assert_eq!(m.mode(), Mode::Flush);
        assert!(m.receive(b"garbage").unwrap().is_empty());
    }

    #[test]
    fn channel_ids_skip_zero_and_in_use() {
        let mut m = Master::new();
        m.next_channel = u32::MAX;
        assert_eq!(m.open_channel(), u32::MAX);
        assert_eq!(m.open_channel(), 1);
        m.next_channel = 1;
        assert_eq!(m.open_channel(), 2);
    }
}
