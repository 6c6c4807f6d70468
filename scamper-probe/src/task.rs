//! The contract between the engine and every measurement.
//!
//! A measurement is a sans-IO state machine: the engine asks it what to do next ([`Task::poll`]),
//! sends the probes it returns through the sockets the root helper handed over, and feeds it the
//! parsed replies that match its keys ([`Task::on_response`]) with their receive times. Nothing in
//! a measurement touches a socket or a clock, so its logic is tested by feeding it packets and
//! times directly.

use scamper_packet::Rx;
use scamper_warts::{Cycle, List};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Wall-clock time as seconds and nanoseconds since the Unix epoch; warts records timevals.
pub type Time = Duration;

/// IP protocol numbers used in match keys.
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMP6: u8 = 58;

/// How the engine finds the task a reply belongs to: the far address the probe went to, the
/// probe's transport protocol, and the local identifier the probe carried (the ICMP echo id for
/// ICMP probes, the source port for UDP and TCP probes). Replies carry these either directly
/// (echo replies, TCP/UDP replies) or in the quotation of an ICMP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MatchKey {
    pub peer: IpAddr,
    pub proto: u8,
    pub local_id: u16,
}

/// A probe ready to leave: a complete IP packet (IPv4 or IPv6 header included), sent on the
/// header-included raw socket of its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub dst: IpAddr,
    pub packet: Vec<u8>,
    /// Replies to this probe are delivered to the task under this key.
    pub key: MatchKey,
}

/// What a task wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this probe now; the engine calls [`Task::on_sent`] with the transmit time and then
    /// polls again.
    Send(Probe),
    /// Nothing to send until this time (or until a response arrives).
    WaitUntil(Time),
    /// The measurement is complete; the engine calls [`Task::finish`].
    Done,
}

/// A measurement result ready for the output files.
pub use scamper_warts::Record;

/// Where the engine runs a task from: source address for the probes and the identifiers the task
/// may use. Filled in by the engine when the task starts.
#[derive(Debug, Clone)]
pub struct TaskEnv {
    /// Source address for the destination (from `-S` or the kernel's route).
    pub src: IpAddr,
    /// Default source port / ICMP id: `(pid & 0xffff) | 0x8000` as scamper derives it.
    pub default_sport: u16,
    /// The time the task was started.
    pub start: Time,
    /// List and cycle this task belongs to (the record refers to them).
    pub list: Arc<List>,
    pub cycle: Arc<Cycle>,
    /// The address the kernel would use as source towards the destination; differs from `src`
    /// when `-S` names another (possibly spoofed) address.
    pub real_src: IpAddr,
    /// The MTU of the route towards the destination, as the kernel knows it (IPv4 only: IP_MTU
    /// on a connected socket), for path-MTU discovery.
    pub route_mtu: Option<u16>,
    /// Doubletree's stop sets, shared by every task of this scamper.
    pub stop_sets: Arc<Mutex<StopSets>>,
    /// Interface names for [`Rx::ifindex`] (replies record where they arrived).
    pub ifnames: Arc<crate::engine::net::IfNames>,
}

/// Doubletree stop sets: the global stop set (addresses any trace may stop at going forward,
/// `-z` entries and what traces learn) and named local stop sets (`-Z`, for backwards
/// probing), cleared by the control socket's `lss-clear <name>`.
#[derive(Debug, Default)]
pub struct StopSets {
    pub global: HashSet<IpAddr>,
    pub local: HashMap<String, HashSet<IpAddr>>,
}

/// One measurement in progress.
pub trait Task: Send {
    /// The destination (for do-not-probe checks and logs).
    fn dst(&self) -> IpAddr;
    /// Next action at time `now`. Called when the task starts, after each send, when its timer
    /// expires, and after each response.
    fn poll(&mut self, now: Time) -> Action;
    /// The probe last returned by `poll` left at `tx` (kernel or user-space timestamp).
    fn on_sent(&mut self, tx: Time);
    /// Right after [`Task::on_sent`]: `Some(t)` if a poll at `now` would only answer
    /// `WaitUntil(t)`, which a task can often tell for much less than a poll costs; `None`
    /// (the default) makes the engine poll.
    fn wait_after_send(&mut self, _now: Time) -> Option<Time> {
        None
    }
    /// The sent probe's packet buffer, handed back before [`Task::on_sent`] so that a task
    /// can build its next probe in it instead of allocating one; by default it is dropped.
    fn recycle(&mut self, _packet: Vec<u8>) {}
    /// A parsed packet that matched one of this task's keys, received at `rx`.
    fn on_response(&mut self, pkt: &Rx, rx: Time);
    /// The same, with the packet's bytes as received (the IP header included), for tasks
    /// that must quote a reply (ping `-M` answers with a packet-too-big carrying its start).
    /// The engine calls this; by default it forwards to [`Task::on_response`].
    fn on_response_raw(&mut self, pkt: &Rx, _raw: &[u8], rx: Time) {
        self.on_response(pkt, rx)
    }
    /// An in-progress copy of the result (`-y stream`), asked for after each probe is sent;
    /// `None` unless the measurement wants one reported now.
    fn snapshot(&mut self, _now: Time) -> Option<Record> {
        None
    }
    /// The result record; called once, after `poll` returned `Done` or when the engine halts the
    /// task.
    fn finish(self: Box<Self>, now: Time) -> Record;
}
