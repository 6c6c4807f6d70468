//! scamper's side of the master connection as a sans-IO state machine (remote.md §4-§7):
//! handshake (MASTER_NEW / MASTER_RES), GO mode, channels, sequence numbers and acks, resume
//! and reject. The tokio driver in `mod.rs` feeds it bytes and events and writes what it emits.

use std::collections::{BTreeMap, HashSet, VecDeque};

use super::wire::{self, Control, Frame, FrameDecoder, SeqState, WireError};

/// Largest channel-data chunk scamper puts in one message (remote.md §6.2: body chunks of at
/// most 8192 bytes).
pub const DATA_CHUNK: usize = 8192;

/// How many recently closed channel ids to remember, so that data or a FIN crossing our own
/// FIN on the wire is tolerated instead of tearing the connection down.
const RECENTLY_CLOSED: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No session on the current connection yet (or no connection).
    Connect,
    Go,
}

/// What the driver has to act on after feeding bytes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// MASTER_ID received: new session, `alias` is how remoted sees us.
    Established { alias: String },
    /// MASTER_OK received: the old session continues.
    Resumed,
    /// MASTER_REJ received: every channel is gone; reconnect later with MASTER_NEW.
    Rejected { channels: Vec<u32> },
    /// CHANNEL_NEW: hand a new pre-attached client named `name` to the engine.
    ChannelOpened { channel: u32, name: String },
    /// Bytes from the controller for a channel.
    ChannelData { channel: u32, data: Vec<u8> },
    /// CHANNEL_FIN from remoted: the local client went away; abandon the channel.
    ChannelClosed { channel: u32 },
}

/// Session state kept across connections (§5.2).
#[derive(Debug)]
pub struct Session {
    magic: Vec<u8>,
    monitor: Option<String>,
    resumable: bool,
    alias: Option<String>,
    mode: Mode,
    /// A handshake message went out on the current connection and no answer came yet.
    handshake_sent: bool,
    /// We sent MASTER_RES (so MASTER_OK is legal) rather than MASTER_NEW.
    resuming: bool,
    seq: SeqState,
    channels: BTreeMap<u32, ()>,
    closed: VecDeque<u32>,
    closed_set: HashSet<u32>,
    /// Source-name counter `<alias>_<k>`, kept for the life of the remote entry.
    next_k: u64,
    decoder: FrameDecoder,
    out: Vec<u8>,
}

impl Session {
    /// `magic` is scamper's random session identifier (8 bytes).
    pub fn new(monitor: Option<String>, magic: Vec<u8>) -> Self {
        Session {
            magic,
            monitor,
            resumable: false,
            alias: None,
            mode: Mode::Connect,
            handshake_sent: false,
            resuming: false,
            seq: SeqState::new(),
            channels: BTreeMap::new(),
            closed: VecDeque::new(),
            closed_set: HashSet::new(),
            next_k: 0,
            decoder: FrameDecoder::new(),
            out: Vec::new(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn is_resumable(&self) -> bool {
        self.resumable
    }

    pub fn alias(&self) -> Option<&str> {
        self.alias.as_deref()
    }

    pub fn magic(&self) -> &[u8] {
        &self.magic
    }

    pub fn channels(&self) -> impl Iterator<Item = u32> + '_ {
        self.channels.keys().copied()
    }

    pub fn seq(&self) -> &SeqState {
        &self.seq
    }

    /// A new magic after a reject (§5.3).
    pub fn set_magic(&mut self, magic: Vec<u8>) {
        self.magic = magic;
    }

    /// A fresh transport is up: queue MASTER_RES (resumable session) or MASTER_NEW.
    pub fn connected(&mut self) {
        self.mode = Mode::Connect;
        self.decoder = FrameDecoder::new();
        self.out.clear();
        self.resuming = self.resumable;
        let msg = if self.resumable {
            Control::MasterRes {
                magic: self.magic.clone(),
                rcv_nxt: self.seq.rcv_nxt,
                snd_una: self.seq.snd_una(),
                snd_nxt: self.seq.snd_nxt,
            }
        } else {
            Control::MasterNew {
                magic: self.magic.clone(),
                name: self.monitor.clone(),
            }
        };
        // MASTER_RES and MASTER_NEW always carry sequence 0.
        self.emit(&Frame {
            seq: 0,
            channel: 0,
            payload: msg.encode(),
        });
        self.handshake_sent = true;
    }

    /// The transport broke: keep channels and retained messages if resumable (§5.2).
    pub fn disconnected(&mut self) {
        self.mode = Mode::Connect;
        self.handshake_sent = false;
        self.out.clear();
        self.decoder = FrameDecoder::new();
    }

    /// Bytes waiting to be written on the current connection.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// KEEPALIVE (GO mode only).
    pub fn keepalive(&mut self) {
        if self.mode == Mode::Go {
            let f = self.seq.unreliable(&Control::Keepalive);
            self.emit(&f);
        }
    }

    /// Engine output for a channel, split into data messages. Output for a channel that is
    /// gone (remoted closed it) is dropped, as nobody would read it.
    pub fn send_data(&mut self, channel: u32, data: &[u8]) {
        if !self.channels.contains_key(&channel) {
            return;
        }
        for piece in wire::chunks(data, DATA_CHUNK) {
            self.reliable(channel, piece.to_vec());
        }
    }

    /// The engine finished with a channel: CHANNEL_FIN after everything already queued.
    pub fn close_channel(&mut self, channel: u32) {
        if self.channels.remove(&channel).is_some() {
            self.remember_closed(channel);
            self.reliable(0, Control::ChannelFin { channel }.encode());
        }
    }

    /// Feeds received bytes. An error means the connection must be dropped (and a reconnect
    /// scheduled); the session itself stays consistent for a later resume.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Vec<Event>, WireError> {
        self.decoder.push(bytes);
        let mut events = Vec::new();
        while let Some(f) = self.decoder.next_frame()? {
            self.handle(f, &mut events)?;
        }
        Ok(events)
    }

    fn handle(&mut self, f: Frame, events: &mut Vec<Event>) -> Result<(), WireError> {
        if f.channel != 0 {
            if self.mode != Mode::Go {
                return Err(WireError::Unexpected("channel data before GO"));
            }
            self.seq.check_rx(f.seq)?;
            let known = self.channels.contains_key(&f.channel);
            if !known && !self.closed_set.contains(&f.channel) {
                return Err(WireError::Channel(f.channel, "data for unknown channel"));
            }
            let ack = self.seq.accept_reliable(f.seq);
            self.emit(&ack);
            if known {
                events.push(Event::ChannelData {
                    channel: f.channel,
                    data: f.payload,
                });
            }
            return Ok(());
        }
        let msg = Control::parse(&f.payload)?;
        match self.mode {
            Mode::Connect => self.handle_connect(f.seq, msg, events),
            Mode::Go => self.handle_go(f.seq, msg, events),
        }
    }

    fn handle_connect(
        &mut self,
        seq: u32,
        msg: Control,
        events: &mut Vec<Event>,
    ) -> Result<(), WireError> {
        if !self.handshake_sent || seq != 0 {
            return Err(WireError::Unexpected(msg.name()));
        }
        match msg {
            Control::MasterId { id } if !self.resuming => {
                self.handshake_sent = false;
                self.mode = Mode::Go;
                self.resumable = true;
                self.alias = Some(id.clone());
                self.retransmit();
                events.push(Event::Established { alias: id });
                Ok(())
            }
            Control::MasterOk { rcv_nxt } if self.resuming => {
                // remoted's rcv_nxt must lie within what we have sent and not yet seen acked.
                if !wire::seq_le(self.seq.snd_una(), rcv_nxt)
                    || !wire::seq_le(rcv_nxt, self.seq.snd_nxt)
                {
                    return Err(WireError::Unexpected("MASTER_OK outside the send window"));
                }
                self.handshake_sent = false;
                self.seq.drop_acked_before(rcv_nxt);
                self.mode = Mode::Go;
                self.retransmit();
                events.push(Event::Resumed);
                Ok(())
            }
            Control::MasterRej => {
                let channels: Vec<u32> = self.channels.keys().copied().collect();
                self.reset_session();
                events.push(Event::Rejected { channels });
                Ok(())
            }
            other => Err(WireError::Unexpected(other.name())),
        }
    }

    fn handle_go(
        &mut self,
        seq: u32,
        msg: Control,
        events: &mut Vec<Event>,
    ) -> Result<(), WireError> {
        self.seq.check_rx(seq)?;
        match msg {
            Control::ChannelNew { channel } => {
                if channel == 0 || self.channels.contains_key(&channel) {
                    return Err(WireError::Channel(
                        channel,
                        "CHANNEL_NEW for a channel in use",
                    ));
                }
                let ack = self.seq.accept_reliable(seq);
                self.emit(&ack);
                self.forget_closed(channel);
                self.channels.insert(channel, ());
                let alias = self.alias.as_deref().unwrap_or("remote");
                let name = format!("{alias}_{}", self.next_k);
                self.next_k += 1;
                events.push(Event::ChannelOpened { channel, name });
                Ok(())
            }
            Control::ChannelFin { channel } => {
                let ack = self.seq.accept_reliable(seq);
                self.emit(&ack);
                // A FIN for a channel we already closed crosses ours on the wire: tolerated.
                if self.channels.remove(&channel).is_some() {
                    self.remember_closed(channel);
                    events.push(Event::ChannelClosed { channel });
                }
                Ok(())
            }
            Control::Keepalive => Ok(()),
            Control::Ack { seq } => self.seq.on_ack(seq),
            other => Err(WireError::Unexpected(other.name())),
        }
    }

    /// Forgets the session after MASTER_REJ (§5.3); the caller supplies a new magic.
    fn reset_session(&mut self) {
        self.resumable = false;
        self.resuming = false;
        self.handshake_sent = false;
        self.alias = None;
        self.mode = Mode::Connect;
        self.seq.reset();
        self.channels.clear();
        self.closed.clear();
        self.closed_set.clear();
        self.out.clear();
    }

    fn reliable(&mut self, channel: u32, payload: Vec<u8>) {
        let f = self.seq.reliable(channel, payload);
        if self.mode == Mode::Go {
            self.emit(&f);
        }
    }

    /// (Re)sends every retained message in order once GO mode is reached.
    fn retransmit(&mut self) {
        let mut buf = std::mem::take(&mut self.out);
        for f in self.seq.retained() {
            f.encode_into(&mut buf);
        }
        self.out = buf;
    }

    fn emit(&mut self, f: &Frame) {
        f.encode_into(&mut self.out);
    }

    fn remember_closed(&mut self, channel: u32) {
        if self.closed_set.insert(channel) {
            self.closed.push_back(channel);
            if self.closed.len() > RECENTLY_CLOSED {
                if let Some(old) = self.closed.pop_front() {
                    self.closed_set.remove(&old);
                }
            }
        }
    }

    fn forget_closed(&mut self, channel: u32) {
        if self.closed_set.remove(&channel) {
            self.closed.retain(|c| *c != channel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::wire::{ctype, FrameDecoder};

    const MAGIC: [u8; 8] = [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8];

    fn frames(bytes: &[u8]) -> Vec<Frame> {
        let mut d = FrameDecoder::new();
        d.push(bytes);
        let mut v = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            v.push(f);
        }
        assert_eq!(d.pending(), 0);
        v
    }

    fn ctl(seq: u32, c: Control) -> Vec<u8> {
        Frame {
            seq,
            channel: 0,
            payload: c.encode(),
        }
        .encode()
    }

    fn data(seq: u32, channel: u32, d: &[u8]) -> Vec<u8> {
        Frame {
            seq,
            channel,
            payload: d.to_vec(),
        }
        .encode()
    }

    /// Session in GO mode with alias "198.51.100.55:1025"; handshake output consumed.
    fn established() -> Session {
        let mut s = Session::new(Some("vp1".into()), MAGIC.to_vec());
        s.connected();
        let out = frames(&s.take_output());
        assert_eq!(out.len(), 1);
        assert_eq!(
            Control::parse(&out[0].payload).unwrap(),
            Control::MasterNew {
                magic: MAGIC.to_vec(),
                name: Some("vp1".into())
            }
        );
        let ev = s
            .receive(&ctl(
                0,
                Control::MasterId {
                    id: "198.51.100.55:1025".into(),
                },
            ))
            .unwrap();
        assert_eq!(
            ev,
            vec![Event::Established {
                alias: "198.51.100.55:1025".into()
            }]
        );
        assert_eq!(s.mode(), Mode::Go);
        s
    }

    #[test]
    fn worked_example_conversation() {
        let mut s = established();
        // CHANNEL_NEW(1), remoted's first reliable message.
        let ev = s
            .receive(&ctl(0, Control::ChannelNew { channel: 1 }))
            .unwrap();
        assert_eq!(
            ev,
            vec![Event::ChannelOpened {
                channel: 1,
                name: "198.51.100.55:1025_0".into()
            }]
        );
        // scamper ACKs it with its snd_nxt still 0: 00000000 00000000 0005 | 05 00000000
        assert_eq!(s.take_output(), ctl(0, Control::Ack { seq: 0 }));
        let ev = s.receive(&data(1, 1, b"ping 192.0.2.1\n")).unwrap();
        assert_eq!(
            ev,
            vec![Event::ChannelData {
                channel: 1,
                data: b"ping 192.0.2.1\n".to_vec()
            }]
        );
        assert_eq!(s.take_output(), ctl(0, Control::Ack { seq: 1 }));
        s.send_data(1, b"MORE\n");
        assert_eq!(s.take_output(), data(0, 1, b"MORE\n"));
        // remoted acks with its snd_nxt 2.
        assert!(s
            .receive(&ctl(2, Control::Ack { seq: 0 }))
            .unwrap()
            .is_empty());
        assert_eq!(s.seq().retained_len(), 0);
        assert!(s.receive(&ctl(2, Control::Keepalive)).unwrap().is_empty());
        s.keepalive();
        assert_eq!(s.take_output(), ctl(1, Control::Keepalive));
    }

    #[test]
    fn sequence_violations_are_errors() {
        let mut s = established();
        assert!(matches!(
            s.receive(&ctl(5, Control::Keepalive)),
            Err(WireError::OutOfOrder { got: 5, want: 0 })
        ));
        let mut s = established();
        assert!(s.receive(&data(0, 7, b"x")).is_err(), "unknown channel");
        let mut s = established();
        assert!(
            s.receive(&ctl(0, Control::Ack { seq: 0 })).is_err(),
            "nothing retained"
        );
        let mut s = established();
        assert!(s
            .receive(&ctl(0, Control::MasterId { id: "x".into() }))
            .is_err());
        let mut s = established();
        assert!(s
            .receive(&ctl(0, Control::ChannelNew { channel: 0 }))
            .is_err());
    }

    #[test]
    fn connect_mode_rules() {
        let mut s = Session::new(None, MAGIC.to_vec());
        // Nothing sent yet: anything is unexpected.
        assert!(s.receive(&ctl(0, Control::MasterRej)).is_err());
        s.connected();
        assert!(s.receive(&data(0, 1, b"x")).is_err());
        let mut s = Session::new(None, MAGIC.to_vec());
        s.connected();
        assert!(s
            .receive(&ctl(0, Control::MasterOk { rcv_nxt: 0 }))
            .is_err());
        let mut s = Session::new(None, MAGIC.to_vec());
        s.connected();
        assert!(s
            .receive(&ctl(1, Control::MasterId { id: "a".into() }))
            .is_err());
        // No monitor name: name_len 0.
        let mut s = Session::new(None, MAGIC.to_vec());
        s.connected();
        let out = s.take_output();
        assert_eq!(
            &out[10..],
            &[
                ctype::MASTER_NEW,
                8,
                0xa1,
                0xa2,
                0xa3,
                0xa4,
                0xa5,
                0xa6,
                0xa7,
                0xa8,
                0
            ]
        );
    }

    #[test]
    fn resume_after_break_retransmits_unacked() {
        let mut s = established();
        s.receive(&ctl(0, Control::ChannelNew { channel: 1 }))
            .unwrap();
        s.take_output();
        s.send_data(1, b"OK id-1\n"); // seq 0
        s.send_data(1, b"MORE\n"); // seq 1
        s.take_output();
        s.receive(&ctl(1, Control::Ack { seq: 0 })).unwrap();
        s.disconnected();
        // Written while disconnected: queued, numbered, not transmitted.
        s.send_data(1, b"DATA 10\n"); // seq 2
        assert!(s.output().is_empty());
        s.connected();
        let hello = frames(&s.take_output());
        assert_eq!(
            Control::parse(&hello[0].payload).unwrap(),
            Control::MasterRes {
                magic: MAGIC.to_vec(),
                rcv_nxt: 1,
                snd_una: 1,
                snd_nxt: 3
            }
        );
        // remoted had already received seq 1 (its ack was lost).
        let ev = s
            .receive(&ctl(0, Control::MasterOk { rcv_nxt: 2 }))
            .unwrap();
        assert_eq!(ev, vec![Event::Resumed]);
        let re = frames(&s.take_output());
        assert_eq!(re.len(), 1);
        assert_eq!((re[0].seq, re[0].channel), (2, 1));
        assert_eq!(re[0].payload, b"DATA 10\n");
        // remoted now retransmits its own retained data with the original sequence.
        let ev = s.receive(&data(1, 1, b"done\n")).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(s.take_output(), ctl(3, Control::Ack { seq: 1 }));
        assert_eq!(s.channels().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn master_ok_outside_window_is_error() {
        let mut s = established();
        s.disconnected();
        s.connected();
        s.take_output();
        assert!(s
            .receive(&ctl(0, Control::MasterOk { rcv_nxt: 1 }))
            .is_err());
    }

    #[test]
    fn reject_forgets_everything() {
        let mut s = established();
        s.receive(&ctl(0, Control::ChannelNew { channel: 4 }))
            .unwrap();
        s.send_data(4, b"MORE\n");
        s.disconnected();
        s.connected();
        s.take_output();
        let ev = s.receive(&ctl(0, Control::MasterRej)).unwrap();
        assert_eq!(ev, vec![Event::Rejected { channels: vec![4] }]);
        assert!(!s.is_resumable());
        assert_eq!(s.seq().snd_nxt, 0);
        assert_eq!(s.seq().rcv_nxt, 0);
        s.set_magic(vec![9; 8]);
        s.connected();
        let hello = frames(&s.take_output());
        assert!(matches!(
            Control::parse(&hello[0].payload).unwrap(),
            Control::MasterNew { .. }
        ));
    }

    #[test]
    fn channel_close_both_ways() {
        let mut s = established();
        s.receive(&ctl(0, Control::ChannelNew { channel: 1 }))
            .unwrap();
        s.receive(&ctl(1, Control::ChannelNew { channel: 2 }))
            .unwrap();
        s.take_output();
        // remoted closes 1.
        let ev = s
            .receive(&ctl(2, Control::ChannelFin { channel: 1 }))
            .unwrap();
        assert_eq!(ev, vec![Event::ChannelClosed { channel: 1 }]);
        s.take_output();
        // Output for it is dropped; in-flight data for it is acked and ignored.
        s.send_data(1, b"late\n");
        assert!(s.output().is_empty());
        assert!(s.receive(&data(3, 1, b"x\n")).unwrap().is_empty());
        s.take_output();
        // Engine closes 2: FIN is reliable (seq 0).
        s.close_channel(2);
        let f = frames(&s.take_output());
        assert_eq!(f[0].seq, 0);
        assert_eq!(
            Control::parse(&f[0].payload).unwrap(),
            Control::ChannelFin { channel: 2 }
        );
        // A crossing FIN from remoted is tolerated.
        assert!(s
            .receive(&ctl(4, Control::ChannelFin { channel: 2 }))
            .unwrap()
            .is_empty());
        // Names keep counting.
        let ev = s
            .receive(&ctl(5, Control::ChannelNew { channel: 3 }))
            .unwrap();
        assert_eq!(
            ev,
            vec![Event::ChannelOpened {
                channel: 3,
                name: "198.51.100.55:1025_2".into()
            }]
        );
    }

    #[test]
    fn large_output_is_chunked() {
        let mut s = established();
        s.receive(&ctl(0, Control::ChannelNew { channel: 1 }))
            .unwrap();
        s.take_output();
        s.send_data(1, &vec![b'a'; DATA_CHUNK * 2 + 1]);
        let f = frames(&s.take_output());
        assert_eq!(
            f.iter().map(|f| f.payload.len()).collect::<Vec<_>>(),
            vec![DATA_CHUNK, DATA_CHUNK, 1]
        );
        assert_eq!(f.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![0, 1, 2]);
    }
}
