//! The datalink path of measurements that ask for it: ping `-O dl` (datalink timestamps of
//! probes and replies), `-O dltx` (probes sent as frames), `-O sockrx` (replies from the ICMP
//! sockets even so), `-r` (frames to a chosen router's link-layer address), `-O tbt` (the
//! first fragments of replies, which only the datalink shows), and trace `-O dl` / `-r`.
//!
//! One cooked AF_PACKET socket (from the root helper, every interface) carries it all: it
//! sends frames to the next hop's link-layer address, and while such a measurement runs its
//! filter lets through inbound ICMP, TCP and UDP, our own outbound IP packets (their datalink
//! transmit timestamps) and ARP / neighbour advertisements. Which measurements use it, and
//! which of them send frames, follows scamper 20260420 on Linux (see [`needs`]).
//!
//! An idle packet socket is not free: every packet the host sends is cloned for it (unless it
//! ignores outgoing packets) and every packet received runs its filter, and closing one waits
//! for an RCU grace period (10-20 ms at exit). So the socket is asked of the helper only when
//! the first datalink measurement starts (runs without one never have it), and between
//! datalink measurements it ignores outgoing packets besides closing its filter.
//!
//! A measurement that uses the datalink runs inside [`LinkTask`], which waits for the next
//! hop to be known before the first probe, tells the engine which probe keys go out as frames,
//! and keeps to one copy of each reply: the datalink's, or with `-O sockrx` the ICMP socket's.
//! The next hop comes from the kernel (route and neighbour tables over netlink); a neighbour
//! the kernel does not know is asked for with ARP or a neighbour solicitation, as scamper does.

pub mod neighbour;
pub mod netlink;

use super::core::Core;
use super::dispatch;
use crate::command::Command;
use crate::helper_link::Privileged;
use crate::log;
use crate::task::{Action, MatchKey, Probe, Task, Time, PROTO_ICMP, PROTO_ICMP6};
use crate::task::{PROTO_TCP, PROTO_UDP};
use neighbour::{ETH_P_ARP, ETH_P_IP, ETH_P_IPV6};
use netlink::{NlError, RouteSocket};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
use scamper_packet::{IcmpKind, Rx, RxTransport};
use scamper_proto::Request;
use scamper_warts::Record;
use std::collections::HashMap;
use std::io::IoSliceMut;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

/// How long a neighbour solicitation waits for its answer (scamper: one attempt, 0.5 s).
const RESOLVE_WAIT: Duration = Duration::from_millis(500);
/// How often a task waiting for its next hop looks again.
const RESOLVE_POLL: Duration = Duration::from_millis(5);
/// How long a task waits for the helper to hand over the datalink socket (it answers at
/// once unless it is gone).
const OPEN_WAIT: Duration = Duration::from_secs(5);

/// What a measurement wants of the datalink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Probes leave as frames (see [`needs`] for which).
    pub tx: bool,
    /// The next hop's link-layer address must be found before the first probe, even if no
    /// frame is sent (trace `-O dl`, `-M`: scamper builds the frame header anyway, and stops
    /// with its error when the next hop does not answer).
    pub resolve: bool,
    /// The router whose link-layer address frames go to (`-r`); else the route's next hop.
    pub rtr: Option<IpAddr>,
    /// ICMP replies are taken from the ICMP sockets, not the datalink (ping `-O sockrx`).
    pub sockrx: bool,
}

/// Does this command use the datalink, and how? As scamper 20260420 on Linux decides it:
/// ping in scamper_ping_do.c (ping_dltx, ping_state_alloc, ping_handle_rt, do_ping_probe),
/// trace in scamper_trace_do.c (trace_state_alloc, trace_handle_rt, trace_probe).
pub fn needs(cmd: &Command) -> Option<Needs> {
    match cmd {
        Command::Ping(p) => p.uses_datalink().then(|| {
            let tx = p.sends_frames();
            Needs {
                tx,
                // ping builds a frame header only for what it sends as frames.
                resolve: tx,
                rtr: p.rtr,
                sockrx: p.flags & scamper_warts::ping::flags::SOCKRX != 0,
            }
        }),
        Command::Trace(t) => {
            use scamper_warts::trace::flags;
            let opens = trace_uses_datalink(t);
            let tcp = t.method.is_tcp();
            let raw_tcp = tcp && t.flags & flags::RAW != 0;
            // Frames: -r, -o, TCP without -O raw, and UDP-paris with a constant payload on
            // IPv6 (its checksum cannot be chosen through a socket) once a datalink is open.
            let tx = t.rtr.is_some()
                || t.offset != 0
                || (tcp && !raw_tcp)
                || (t.method == scamper_warts::trace::TraceMethod::UDP_PARIS
                    && t.flags & flags::CONSTPAYLOAD != 0
                    && t.dst.is_ipv6());
            opens.then_some(Needs {
                tx,
                // -O dl and -M build the frame header too, without sending frames in the
                // trace itself (PMTUD probes would be: see the module notes).
                resolve: tx || t.flags & (flags::DL | flags::PMTUD) != 0,
                rtr: t.rtr,
                sockrx: false,
            })
        }
    }
}

/// Does this trace open a datalink? scamper does (trace_state_alloc, trace_handle_rt) for
/// `-O dl`, `-M`, TCP methods, `-o` and `-r`; its replies then carry datalink receive times,
/// its probes sent by sockets datalink transmit times, and UDP and TCP replies are only seen
/// through it.
pub fn trace_uses_datalink(t: &crate::trace::TraceOptions) -> bool {
    use scamper_warts::trace::flags;
    t.flags & (flags::DL | flags::PMTUD) != 0
        || t.method.is_tcp()
        || t.offset != 0
        || t.rtr.is_some()
}

/// Where a task's frames go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub ifindex: u32,
    /// Link-layer destination and its length (0 on interfaces without addresses); `None` if
    /// the task only receives through the datalink.
    pub dst: Option<([u8; 6], u8)>,
}

/// Progress of finding a task's next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ticket {
    /// The socket has been asked for; the look-up starts when it comes.
    Opening {
        dst: IpAddr,
        needs: Needs,
        deadline: Time,
    },
    Pending {
        ifindex: u32,
        hop: IpAddr,
        deadline: Time,
    },
    Ready(Plan),
    /// The error text scamper records, and its error number (0 if none).
    Failed(String, i32),
}

/// Which socket the packet being delivered came from.
const FROM_SOCKET: u8 = 0;
const FROM_LINK_IN: u8 = 1;
const FROM_LINK_OUT: u8 = 2;

/// State shared between the engine and its [`LinkTask`]s (all on the engine's thread; the
/// lock only satisfies `Task: Send`).
#[derive(Debug, Default)]
pub struct Shared {
    inner: Mutex<SharedInner>,
    from: AtomicU8,
}

#[derive(Debug, Default)]
struct SharedInner {
    /// Keys of probes sent by datalink tasks, with the frame destination when they are
    /// transmitted as frames.
    keys: HashMap<MatchKey, KeyUse>,
    tickets: HashMap<u64, Ticket>,
    /// Datalink tasks alive.
    active: usize,
    /// Interfaces whose packets datalink tasks see, with the number of tasks on each.
    /// scamper opens its datalink on the route's interface (ping_handle_rt,
    /// trace_handle_rt): a reply arriving on another interface is not seen, unless another
    /// task opened that one.
    ifaces: HashMap<u32, u32>,
}

impl SharedInner {
    fn listens_on(&self, ifindex: u32) -> bool {
        self.ifaces.contains_key(&ifindex)
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, SharedInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Datalink tasks sending under one probe key: two commands may share a key (same
/// destination, protocol and port), and the first to finish must not take it from the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyUse {
    tasks: u32,
    /// Where the frames go, if probes under this key leave as frames.
    plan: Option<Plan>,
}

/// A measurement that uses the datalink; see the module documentation.
pub struct LinkTask {
    inner: Box<dyn Task>,
    shared: Arc<Shared>,
    ticket: u64,
    plan: Option<Plan>,
    failed: Option<(String, i32)>,
    sockrx: bool,
    /// Its probes leave as frames (else the next hop may be resolved but not used).
    frames: bool,
    keys: Vec<MatchKey>,
}

impl LinkTask {
    /// Is the next hop known? Sets `plan` or `failed`; `Err` says when to look again.
    fn ready(&mut self, now: Time) -> Result<(), Time> {
        if self.plan.is_some() || self.failed.is_some() {
            return Ok(());
        }
        let mut sh = self.shared.lock();
        match sh.tickets.get(&self.ticket).cloned() {
            Some(Ticket::Ready(p)) => {
                *sh.ifaces.entry(p.ifindex).or_insert(0) += 1;
                self.plan = Some(p);
            }
            Some(Ticket::Failed(m, e)) => self.failed = Some((m, e)),
            Some(Ticket::Opening { deadline, .. }) => {
                if now < deadline {
                    return Err(deadline.min(now + RESOLVE_POLL));
                }
                self.failed = Some(("could not open datalink".into(), 0));
            }
            Some(Ticket::Pending { hop, deadline, .. }) => {
                if now < deadline {
                    return Err(deadline.min(now + RESOLVE_POLL));
                }
                self.failed = Some((format!("dlhdr_ethcb: did not get mac address for {hop}"), 0));
            }
            None => self.failed = Some(("datalink: lost next-hop look-up".into(), 0)),
        }
        sh.tickets.remove(&self.ticket);
        Ok(())
    }
}

impl Task for LinkTask {
    fn dst(&self) -> IpAddr {
        self.inner.dst()
    }

    fn poll(&mut self, now: Time) -> Action {
        if let Err(again) = self.ready(now) {
            return Action::WaitUntil(again);
        }
        if self.failed.is_some() {
            return Action::Done;
        }
        let action = self.inner.poll(now);
        if let Action::Send(p) = &action {
            let plan = self.plan.filter(|p| self.frames && p.dst.is_some());
            let mut sh = self.shared.lock();
            let new = !self.keys.contains(&p.key);
            let u = sh.keys.entry(p.key).or_insert(KeyUse { tasks: 0, plan });
            u.plan = plan;
            if new {
                u.tasks += 1;
                self.keys.push(p.key);
            }
        }
        action
    }

    fn on_sent(&mut self, tx: Time) {
        self.inner.on_sent(tx)
    }

    fn recycle(&mut self, packet: Vec<u8>) {
        self.inner.recycle(packet)
    }

    fn on_response(&mut self, pkt: &Rx, rx: Time) {
        if self.wanted(pkt) {
            self.inner.on_response(pkt, rx)
        }
    }

    fn on_response_raw(&mut self, pkt: &Rx, raw: &[u8], rx: Time) {
        if self.wanted(pkt) {
            self.inner.on_response_raw(pkt, raw, rx)
        }
    }

    fn snapshot(&mut self, now: Time) -> Option<Record> {
        self.inner.snapshot(now)
    }

    fn finish(self: Box<Self>, now: Time) -> Record {
        {
            let mut sh = self.shared.lock();
            for k in &self.keys {
                if let Some(u) = sh.keys.get_mut(k) {
                    u.tasks = u.tasks.saturating_sub(1);
                    if u.tasks == 0 {
                        sh.keys.remove(k);
                    }
                }
            }
            sh.tickets.remove(&self.ticket);
            sh.active = sh.active.saturating_sub(1);
            if let Some(p) = self.plan {
                if let Some(n) = sh.ifaces.get_mut(&p.ifindex) {
                    *n -= 1;
                    if *n == 0 {
                        sh.ifaces.remove(&p.ifindex);
                    }
                }
            }
        }
        let mut rec = self.inner.finish(now);
        if let Some((msg, err)) = self.failed {
            mark_error(&mut rec, msg, err);
        }
        rec
    }
}

impl LinkTask {
    /// Each reply arrives twice. ICMP ones on the ICMP socket and on the datalink: keep the
    /// datalink's copy, or with `-O sockrx` the socket's (scamper's do_ping_handle_icmp /
    /// do_ping_handle_dl). TCP and UDP ones on the engine's datalink socket and on ours: keep
    /// ours, read in order with the probes' outbound copies (`-O sockrx` is about ICMP only).
    fn wanted(&self, pkt: &Rx) -> bool {
        let from = self.shared.from.load(Ordering::Relaxed);
        if !matches!(pkt.transport, RxTransport::Icmp(_)) {
            return from != FROM_SOCKET;
        }
        match from {
            FROM_SOCKET => self.sockrx,
            FROM_LINK_IN => !self.sockrx,
            _ => true,
        }
    }
}

/// A measurement that could not find its next hop stops with an error, as scamper's do.
fn mark_error(rec: &mut Record, msg: String, err: i32) {
    match rec {
        Record::Ping(p) => {
            p.stop_reason = scamper_warts::ping::PingStop::ERROR;
            p.stop_data = err as u8;
            p.errmsg = Some(msg);
        }
        Record::Trace(t) => {
            t.stop_reason = scamper_warts::trace::TraceStop::ERROR;
            t.stop_data = err as u8;
            t.errmsg = Some(msg);
        }
        _ => {}
    }
}

/// The key an outbound packet of ours was sent under (the probe's key).
fn outbound_key(rx: &Rx) -> Option<MatchKey> {
    if rx.frag_offset != 0 {
        return None;
    }
    let (proto, local_id) = match &rx.transport {
        RxTransport::Icmp(i) => match i.kind {
            IcmpKind::EchoRequest { id, .. } => {
                (if i.is_ipv6 { PROTO_ICMP6 } else { PROTO_ICMP }, id)
            }
            _ => return None,
        },
        RxTransport::Udp(u) => (PROTO_UDP, u.sport),
        RxTransport::Tcp(t) => (PROTO_TCP, t.sport),
        RxTransport::Other { .. } => return None,
    };
    Some(MatchKey {
        peer: rx.dst,
        proto,
        local_id,
    })
}

/// Kernel filter of the datalink socket while no datalink task runs: nothing.
fn filter_closed() -> Vec<socket2::SockFilter> {
    vec![socket2::SockFilter::new(0x06, 0, 0, 0)]
}

/// Kernel filter while datalink tasks run: ARP; every outbound packet (our probes' datalink
/// transmit times); inbound ICMP, TCP and UDP, and IPv6 fragments. TCP and UDP replies also
/// come on the engine's other datalink socket, but only this socket has them in order with
/// the outbound copies of the probes they answer, as scamper's one datalink socket does.
/// (code, jump if true, jump if false, k), classic BPF.
const OPEN_PROGRAM: [(u16, u8, u8, u32); 18] = {
    const LD_W_ABS: u16 = 0x20;
    const LDB_ABS: u16 = 0x30;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    // SKF_AD_OFF + SKF_AD_PROTOCOL / SKF_AD_PKTTYPE
    const PROTOCOL: u32 = 0xffff_f000;
    const PKTTYPE: u32 = 0xffff_f004;
    [
        (LD_W_ABS, 0, 0, PROTOCOL),                   // 0: EtherType
        (JEQ_K, 14, 0, ETH_P_ARP as u32),             // 1: ARP -> accept
        (LD_W_ABS, 0, 0, PKTTYPE),                    // 2
        (JEQ_K, 12, 0, libc::PACKET_OUTGOING as u32), // 3: outbound -> accept
        (LD_W_ABS, 0, 0, PROTOCOL),                   // 4
        (JEQ_K, 0, 4, ETH_P_IP as u32),               // 5: IPv4 -> 6, else 10
        (LDB_ABS, 0, 0, 9),                           // 6: IPv4 protocol
        (JEQ_K, 8, 0, 1),                             // 7: ICMP -> accept
        (JEQ_K, 7, 0, 6),                             // 8: TCP -> accept
        (JEQ_K, 6, 7, 17),                            // 9: UDP -> accept, else drop
        (JEQ_K, 0, 6, ETH_P_IPV6 as u32),             // 10: IPv6 -> 11, else drop
        (LDB_ABS, 0, 0, 6),                           // 11: next header
        (JEQ_K, 3, 0, 58),                            // 12: ICMPv6 -> accept
        (JEQ_K, 2, 0, 44),                            // 13: fragment -> accept
        (JEQ_K, 1, 0, 6),                             // 14: TCP -> accept
        (JEQ_K, 0, 1, 17),                            // 15: UDP -> accept, else drop
        (RET_K, 0, 0, 0x40000),                       // 16: accept
        (RET_K, 0, 0, 0),                             // 17: drop
    ]
};

fn filter_open() -> Vec<socket2::SockFilter> {
    OPEN_PROGRAM
        .iter()
        .map(|&(code, jt, jf, k)| socket2::SockFilter::new(code, jt, jf, k))
        .collect()
}

/// The engine's datalink: the socket, the route socket, and what its tasks share.
pub struct Datalink {
    sock: Option<AsyncFd<OwnedFd>>,
    /// Where the socket comes from: it is asked for when the first datalink task starts.
    source: SockSource,
    route: Option<RouteSocket>,
    shared: Arc<Shared>,
    next_ticket: u64,
    /// The socket's filter is open (and it takes outgoing packets).
    open: bool,
    /// Link-layer addresses learned from our own ARP / neighbour discovery, by interface.
    learned: HashMap<(u32, IpAddr), [u8; 6]>,
}

/// Where the datalink socket is in its life.
enum SockSource {
    /// Not asked for yet; the handle to ask the helper with.
    Unasked(Privileged),
    /// Asked for; the answer lands in here.
    Asked(Arc<Answer>),
    /// Answered (the socket, if any, is in `Datalink::sock`): never asked again.
    Settled,
}

/// The helper's answer to the request for the socket, from the task that waits for it.
#[derive(Default)]
struct Answer {
    fd: Mutex<Option<Result<OwnedFd, String>>>,
    /// Told once the answer is in, which wakes the engine's `readable`.
    ready: Notify,
}

impl Datalink {
    /// Open the route socket. The datalink socket is asked of the helper only when the first
    /// datalink task starts; without the sockets datalink measurements stop with an error.
    pub async fn open(helper: &Privileged) -> Datalink {
        let route = match helper.open(Request::OpenRouteSocket).await {
            Ok(fd) => RouteSocket::new(fd)
                .map_err(|e| log::warn(&format!("route socket: {e}")))
                .ok(),
            Err(e) => {
                log::warn(&format!("no route socket for -O dl / -r: {e}"));
                None
            }
        };
        Datalink {
            sock: None,
            source: SockSource::Unasked(helper.clone()),
            route,
            shared: Arc::default(),
            next_ticket: 1,
            open: false,
            learned: HashMap::new(),
        }
    }

    fn prepare(fd: OwnedFd) -> std::io::Result<AsyncFd<OwnedFd>> {
        use nix::sys::socket::{setsockopt, sockopt};
        socket2::SockRef::from(&fd).attach_filter(&filter_closed())?;
        ignore_outgoing(&fd, true);
        socket2::SockRef::from(&fd).set_nonblocking(true)?;
        setsockopt(&fd, sockopt::ReceiveTimestampns, &true)?;
        let _ = setsockopt(&fd, sockopt::RcvBuf, &(4 << 20));
        scamper_sys::async_fd(fd)
    }

    /// Run `task` through the datalink: find its next hop (now, or by neighbour discovery
    /// that the task waits for).
    pub fn wrap(&mut self, task: Box<dyn Task>, needs: Needs, now: Time) -> Box<dyn Task> {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.take_answer(now);
        // The filter opens first: an answer to neighbour discovery may come at once.
        self.shared.lock().active += 1;
        self.sync_filter();
        let state = if self.sock.is_none() && self.ask() {
            Ticket::Opening {
                dst: task.dst(),
                needs,
                deadline: now + OPEN_WAIT,
            }
        } else {
            self.plan(task.dst(), needs, now)
        };
        self.shared.lock().tickets.insert(ticket, state);
        Box::new(LinkTask {
            inner: task,
            shared: self.shared.clone(),
            ticket,
            plan: None,
            failed: None,
            sockrx: needs.sockrx,
            frames: needs.tx,
            keys: Vec::new(),
        })
    }

    /// Ask the helper for the socket unless that was done. True while the answer is awaited.
    fn ask(&mut self) -> bool {
        match &self.source {
            SockSource::Unasked(helper) => {
                let helper = helper.clone();
                let answer = Arc::new(Answer::default());
                let to = answer.clone();
                tokio::spawn(async move {
                    let got = helper
                        .open(Request::OpenDatalink { ifindex: 0 })
                        .await
                        .map_err(|e| e.to_string());
                    *to.fd.lock().unwrap_or_else(|p| p.into_inner()) = Some(got);
                    to.ready.notify_one();
                });
                self.source = SockSource::Asked(answer);
                true
            }
            SockSource::Asked(_) => true,
            SockSource::Settled => false,
        }
    }

    /// If the helper has answered, take the socket and start the look-ups of the tasks that
    /// waited for it (they fail now if there is no socket). True if it did.
    fn take_answer(&mut self, now: Time) -> bool {
        let SockSource::Asked(answer) = &self.source else {
            return false;
        };
        let Some(got) = answer.fd.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return false;
        };
        self.source = SockSource::Settled;
        self.open = false;
        self.sock = match got.and_then(|fd| Self::prepare(fd).map_err(|e| e.to_string())) {
            Ok(s) => Some(s),
            Err(e) => {
                log::warn(&format!("no datalink socket for -O dl / -r: {e}"));
                None
            }
        };
        self.sync_filter();
        let waiting: Vec<(u64, IpAddr, Needs)> = self
            .shared
            .lock()
            .tickets
            .iter()
            .filter_map(|(&id, t)| match *t {
                Ticket::Opening { dst, needs, .. } => Some((id, dst, needs)),
                _ => None,
            })
            .collect();
        for (id, dst, needs) in waiting {
            let state = self.plan(dst, needs, now);
            self.shared.lock().tickets.insert(id, state);
        }
        true
    }

    fn plan(&mut self, dst: IpAddr, needs: Needs, now: Time) -> Ticket {
        let (Some(_), Some(rs)) = (&self.sock, &mut self.route) else {
            return Ticket::Failed("could not open datalink".into(), 0);
        };
        let target = needs.rtr.unwrap_or(dst);
        let route = match rs.route(target) {
            Ok(r) if r.ifindex != 0 => r,
            Ok(_) => return Ticket::Failed("handle_rt: could not get ifindex".into(), 0),
            Err(e) => {
                let code = if let NlError::Kernel(c) = e { c } else { 0 };
                return Ticket::Failed(format!("rtsock_parsemsg: {e}"), code);
            }
        };
        if !needs.tx && !needs.resolve {
            return Ticket::Ready(Plan {
                ifindex: route.ifindex,
                dst: None,
            });
        }
        let hop = route.gateway.unwrap_or(target);
        let ready = |mac: [u8; 6], len: u8| {
            Ticket::Ready(Plan {
                ifindex: route.ifindex,
                dst: Some((mac, len)),
            })
        };
        // Interfaces without link-layer addresses (tunnels) or with an all-zero one
        // (loopback) need no neighbour.
        let own = match rs.link_mac(route.ifindex) {
            Ok(Some(m)) if m != [0; 6] => m,
            Ok(Some(m)) => return ready(m, 6),
            Ok(None) => return ready([0; 6], 0),
            Err(e) => return Ticket::Failed(format!("could not get mac address: {e}"), 0),
        };
        if let Some(mac) = self.learned.get(&(route.ifindex, hop)) {
            return ready(*mac, 6);
        }
        match rs.neighbours(hop.is_ipv6()) {
            Ok(list) => {
                if let Some(mac) = list
                    .iter()
                    .find(|n| n.ifindex == route.ifindex && n.addr == hop)
                    .and_then(|n| n.usable_mac())
                {
                    return ready(mac, 6);
                }
            }
            Err(e) => log::warn(&format!("neighbour table: {e}")),
        }
        // Ask the link ourselves, from the address the route would use.
        let src = route.prefsrc;
        let sent = match (hop, src) {
            (IpAddr::V4(h), Some(IpAddr::V4(s))) => self.send_raw(
                route.ifindex,
                ETH_P_ARP,
                &neighbour::arp_request(own, s, h),
                neighbour::BROADCAST,
            ),
            (IpAddr::V6(h), Some(IpAddr::V6(s))) => {
                let (pkt, mac) = neighbour::neighbour_solicitation(own, s, h);
                self.send_raw(route.ifindex, ETH_P_IPV6, &pkt, mac)
            }
            _ => Err(std::io::Error::other("no source address on the interface")),
        };
        if let Err(e) = sent {
            log::warn(&format!("neighbour discovery for {hop}: {e}"));
        }
        Ticket::Pending {
            ifindex: route.ifindex,
            hop,
            deadline: now + RESOLVE_WAIT,
        }
    }

    fn send_raw(&self, ifindex: u32, proto: u16, pkt: &[u8], mac: [u8; 6]) -> std::io::Result<()> {
        let sock = self
            .sock
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no datalink"))?;
        scamper_sys::send_link_frame(sock.get_ref().as_fd(), pkt, ifindex, proto, &mac)?;
        Ok(())
    }

    /// Send a probe: as a frame if its task asked for that, else with `other` (the raw
    /// sockets). Returns the user-space transmit time.
    pub fn send(
        &self,
        probe: &Probe,
        other: impl FnOnce(&Probe) -> std::io::Result<Time>,
    ) -> std::io::Result<Time> {
        let plan = {
            let sh = self.shared.lock();
            if sh.keys.is_empty() {
                None
            } else {
                sh.keys.get(&probe.key).and_then(|u| u.plan)
            }
        };
        let Some(Plan {
            ifindex,
            dst: Some((mac, len)),
        }) = plan
        else {
            return other(probe);
        };
        let proto = if probe.dst.is_ipv4() {
            ETH_P_IP
        } else {
            ETH_P_IPV6
        };
        let sock = self
            .sock
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no datalink"))?;
        let t = super::now();
        scamper_sys::send_link_frame(
            sock.get_ref().as_fd(),
            &probe.packet,
            ifindex,
            proto,
            &mac[..usize::from(len)],
        )?;
        Ok(t)
    }

    /// Open the filter while datalink tasks run, close it when none do.
    fn sync_filter(&mut self) {
        let want = self.shared.lock().active > 0;
        if want == self.open {
            return;
        }
        let Some(sock) = &self.sock else { return };
        let fd = sock.get_ref();
        // Outgoing copies are taken before the filter passes them, and turned away after it
        // stops passing them: between datalink tasks our probes are not cloned for it.
        if want {
            ignore_outgoing(fd, false);
        }
        let prog = if want { filter_open() } else { filter_closed() };
        match socket2::SockRef::from(fd).attach_filter(&prog) {
            Ok(()) => self.open = want,
            Err(e) => log::warn(&format!("datalink filter: {e}")),
        }
        if !self.open {
            ignore_outgoing(fd, true);
        }
    }

    /// Wait until the datalink socket has something to read.
    /// Or until the helper's answer to the request for it is in.
    pub async fn readable(&self) {
        match (&self.sock, &self.source) {
            // drain() reads until a read would block, which clears the readiness.
            (Some(s), _) => drop(s.readable().await),
            (None, SockSource::Asked(answer)) => answer.ready.notified().await,
            (None, _) => std::future::pending().await,
        }
    }

    /// Read what the socket holds (a bounded batch) and hand datalink tasks their packets.
    pub async fn drain(&mut self, core: &mut Core, buf: &mut [u8]) {
        if self.take_answer(super::now()) {
            // Woken by the helper's answer, not by the socket: nothing to read yet (and
            // waiting for readiness here would stall the engine).
            return;
        }
        for _ in 0..256 {
            let frame = {
                let Some(sock) = &self.sock else { return };
                let Ok(mut guard) = sock.readable().await else {
                    return;
                };
                match guard.try_io(|s| recv_frame(s, buf)) {
                    Ok(Ok(Some(f))) => f,
                    Ok(Ok(None)) => continue,
                    Ok(Err(e)) => {
                        log::warn(&format!("datalink receive error: {e}"));
                        break;
                    }
                    Err(_would_block) => break,
                }
            };
            self.on_frame(core, &buf[..frame.len.min(buf.len())], &frame);
        }
        self.sync_filter();
    }

    fn on_frame(&mut self, core: &mut Core, data: &[u8], f: &Frame) {
        if f.protocol == ETH_P_ARP {
            if !f.outbound {
                if let Some((ip, mac)) = neighbour::parse_arp_reply(data) {
                    self.learn(f.ifindex, IpAddr::V4(ip), mac);
                }
            }
            return;
        }
        if f.protocol != ETH_P_IP && f.protocol != ETH_P_IPV6 {
            return;
        }
        if !f.outbound && f.protocol == ETH_P_IPV6 {
            if let Some((ip, mac)) = neighbour::parse_neighbour_advert(data) {
                self.learn(f.ifindex, IpAddr::V6(ip), mac);
                return;
            }
        }
        let Ok(mut rx) = scamper_packet::parse_ip(data) else {
            return;
        };
        rx.ifindex = f.ifindex;
        let key = if f.outbound {
            outbound_key(&rx)
        } else {
            dispatch::reply_key(&rx)
        };
        let Some(key) = key else { return };
        {
            let sh = self.shared.lock();
            if !sh.keys.contains_key(&key) || !sh.listens_on(f.ifindex) {
                return;
            }
        }
        let from = if f.outbound {
            FROM_LINK_OUT
        } else {
            FROM_LINK_IN
        };
        self.shared.from.store(from, Ordering::Relaxed);
        core.deliver(&key, &rx, data, f.time);
        self.shared.from.store(FROM_SOCKET, Ordering::Relaxed);
    }

    fn learn(&mut self, ifindex: u32, ip: IpAddr, mac: [u8; 6]) {
        let mut sh = self.shared.lock();
        let mut used = false;
        for t in sh.tickets.values_mut() {
            if let Ticket::Pending {
                ifindex: i, hop, ..
            } = *t
            {
                if i == ifindex && hop == ip {
                    *t = Ticket::Ready(Plan {
                        ifindex,
                        dst: Some((mac, 6)),
                    });
                    used = true;
                }
            }
        }
        if used {
            self.learned.insert((ifindex, ip), mac);
        }
    }
}

/// Turn the host's outgoing packets away from the socket, or take them again. Kernels before
/// 4.20 lack the option: there the closed filter alone drops them.
fn ignore_outgoing(fd: &OwnedFd, ignore: bool) {
    if let Err(e) = scamper_sys::packet_outgoing::set_ignore_outgoing(fd.as_fd(), ignore) {
        if e.raw_os_error() != Some(libc::ENOPROTOOPT) {
            log::warn(&format!("datalink PACKET_IGNORE_OUTGOING: {e}"));
        }
    }
}

/// What the socket said about a received frame.
struct Frame {
    len: usize,
    time: Time,
    ifindex: u32,
    protocol: u16,
    outbound: bool,
}

fn recv_frame(sock: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> std::io::Result<Option<Frame>> {
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(
        sock.get_ref().as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    )?;
    let mut time = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(t) = c {
                time = Some(Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32));
            }
        }
    }
    let Some(link) = msg.address.as_ref().and_then(|a| a.as_link_addr()) else {
        return Ok(None);
    };
    Ok(Some(Frame {
        len: msg.bytes,
        time: time.unwrap_or_else(super::now),
        ifindex: u32::try_from(link.ifindex()).unwrap_or(0),
        // nix hands sll_protocol over as stored: network byte order.
        protocol: u16::from_be(link.protocol()),
        outbound: link.pkttype() == libc::PACKET_OUTGOING,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scamper_packet::{build_icmp_echo, build_udp, IpParams};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn outbound_probes_map_to_their_keys() {
        let p = IpParams::new(ip("192.0.2.1"), ip("198.51.100.1"));
        let echo =
            scamper_packet::parse_ip(&build_icmp_echo(&p, 0x8123, 5, &[0; 8]).unwrap()).unwrap();
        assert_eq!(
            outbound_key(&echo),
            Some(MatchKey {
                peer: ip("198.51.100.1"),
                proto: PROTO_ICMP,
                local_id: 0x8123
            })
        );
        let udp = scamper_packet::parse_ip(&build_udp(&p, 40000, 33435, &[0; 4]).unwrap()).unwrap();
        assert_eq!(
            outbound_key(&udp).map(|k| (k.proto, k.local_id)),
            Some((PROTO_UDP, 40000))
        );
        let p6 = IpParams::new(ip("2001:db8::1"), ip("2001:db8:1::1"));
        let echo6 = scamper_packet::parse_ip(&build_icmp_echo(&p6, 7, 0, &[]).unwrap()).unwrap();
        assert_eq!(outbound_key(&echo6).map(|k| k.proto), Some(PROTO_ICMP6));
    }

    /// Run [`OPEN_PROGRAM`] as the kernel would on a cooked packet (only the instructions it
    /// uses); returns whether the packet is accepted.
    fn run_filter(protocol: u16, outbound: bool, pkt: &[u8]) -> bool {
        let mut a: u32 = 0;
        let mut pc = 0usize;
        loop {
            let (code, jt, jf, k) = OPEN_PROGRAM[pc];
            pc += 1;
            match code {
                0x20 if k == 0xffff_f000 => a = u32::from(protocol),
                0x20 if k == 0xffff_f004 => {
                    a = if outbound {
                        libc::PACKET_OUTGOING as u32
                    } else {
                        0
                    }
                }
                0x30 => match pkt.get(k as usize) {
                    Some(b) => a = u32::from(*b),
                    None => return false,
                },
                0x15 => pc += usize::from(if a == k { jt } else { jf }),
                0x06 => return k != 0,
                _ => panic!("unexpected instruction {code:#x}"),
            }
        }
    }

    #[test]
    fn filter_passes_what_datalink_tasks_need() {
        let mut v4 = vec![0x45u8; 40];
        let mut v6 = vec![0x60u8; 60];
        for (proto, want) in [(1u8, true), (6, true), (17, true), (47, false)] {
            v4[9] = proto;
            assert_eq!(
                run_filter(ETH_P_IP, false, &v4),
                want,
                "inbound v4 proto {proto}"
            );
            assert!(run_filter(ETH_P_IP, true, &v4), "outbound v4 proto {proto}");
        }
        for (nh, want) in [(58u8, true), (44, true), (6, true), (17, true), (0, false)] {
            v6[6] = nh;
            assert_eq!(
                run_filter(ETH_P_IPV6, false, &v6),
                want,
                "inbound v6 next header {nh}"
            );
        }
        assert!(run_filter(ETH_P_ARP, false, &[0; 28]));
        assert!(!run_filter(0x88cc, false, &[0; 60]));
        // Every jump lands inside the program.
        for (i, &(code, jt, jf, _)) in OPEN_PROGRAM.iter().enumerate() {
            if code == 0x15 {
                assert!(i + 1 + usize::from(jt.max(jf)) < OPEN_PROGRAM.len());
            }
        }
    }

    const T0: Duration = Duration::new(1_795_402_741, 0);

    /// A ping task in a [`LinkTask`] whose next-hop look-up is in state `ticket`.
    fn link_ping(args: &str, ticket: Ticket) -> (LinkTask, Arc<Shared>) {
        link_ping_in(Arc::new(Shared::default()), 1, args, ticket)
    }

    /// The same, with the engine's shared state `shared` and ticket number `n`.
    fn link_ping_in(
        shared: Arc<Shared>,
        n: u64,
        args: &str,
        ticket: Ticket,
    ) -> (LinkTask, Arc<Shared>) {
        let (inner, sockrx, frames) = new_ping(args);
        shared.lock().tickets.insert(n, ticket);
        shared.lock().active += 1;
        let t = LinkTask {
            inner,
            shared: shared.clone(),
            ticket: n,
            plan: None,
            failed: None,
            sockrx,
            frames,
            keys: Vec::new(),
        };
        (t, shared)
    }

    /// A ping task, whether it reads ICMP replies from the socket, and whether it sends frames.
    fn new_ping(args: &str) -> (Box<dyn Task>, bool, bool) {
        let Command::Ping(opts) = crate::command::parse(&format!("ping {args}")).unwrap() else {
            panic!("not a ping")
        };
        let sockrx = opts.flags & scamper_warts::ping::flags::SOCKRX != 0;
        let frames = opts.sends_frames();
        let list = Arc::new(scamper_warts::List::default());
        let env = crate::task::TaskEnv {
            src: ip("192.0.2.1"),
            real_src: ip("192.0.2.1"),
            default_sport: 40000,
            start: T0,
            cycle: Arc::new(scamper_warts::Cycle {
                list: list.clone(),
                ..Default::default()
            }),
            list,
            route_mtu: None,
            stop_sets: Default::default(),
            ifnames: Default::default(),
        };
        (crate::ping::new_task(opts, env), sockrx, frames)
    }

    fn ping_of(r: Record) -> scamper_warts::ping::Ping {
        match r {
            Record::Ping(p) => *p,
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn unresolved_next_hop_ends_the_task_with_scamper_error() {
        let pending = Ticket::Pending {
            ifindex: 2,
            hop: ip("192.0.2.6"),
            deadline: T0 + RESOLVE_WAIT,
        };
        let (mut t, shared) = link_ping("-r 192.0.2.6 198.51.100.1", pending);
        // Waiting: polled again soon, nothing sent.
        assert_eq!(t.poll(T0), Action::WaitUntil(T0 + RESOLVE_POLL));
        assert_eq!(t.poll(T0 + RESOLVE_WAIT), Action::Done);
        let p = ping_of(Box::new(t).finish(T0 + RESOLVE_WAIT));
        assert_eq!(p.stop_reason, scamper_warts::ping::PingStop::ERROR);
        assert_eq!(
            p.errmsg.as_deref(),
            Some("dlhdr_ethcb: did not get mac address for 192.0.2.6")
        );
        assert_eq!(p.ping_sent, 0);
        let sh = shared.lock();
        assert_eq!((sh.active, sh.tickets.len(), sh.keys.len()), (0, 0, 0));
    }

    #[test]
    fn route_errors_keep_their_error_number() {
        let failed = Ticket::Failed(
            "rtsock_parsemsg: got nlerr: Unknown error -101".into(),
            -101,
        );
        let (mut t, _) = link_ping("-r 192.0.2.200 198.51.100.1", failed);
        assert_eq!(t.poll(T0), Action::Done);
        let p = ping_of(Box::new(t).finish(T0));
        assert_eq!((p.stop_reason.0, p.stop_data), (2, 155));
    }

    #[test]
    fn probes_of_frame_tasks_are_sent_as_frames() {
        let plan = Plan {
            ifindex: 2,
            dst: Some(([2, 0, 0, 0, 0, 2], 6)),
        };
        let (mut t, shared) = link_ping("-c 1 -O dltx 198.51.100.1", Ticket::Ready(plan));
        let Action::Send(p) = t.poll(T0) else {
            panic!("no probe")
        };
        assert_eq!(
            shared.lock().keys.get(&p.key).map(|u| u.plan),
            Some(Some(plan))
        );
        // A receive-only task registers its keys without a frame destination.
        let rx_only = Plan {
            ifindex: 2,
            dst: None,
        };
        let (mut t, shared) = link_ping("-c 1 -O dl 198.51.100.1", Ticket::Ready(rx_only));
        let Action::Send(p) = t.poll(T0) else {
            panic!("no probe")
        };
        assert_eq!(shared.lock().keys.get(&p.key).map(|u| u.plan), Some(None));
    }

    #[test]
    fn one_copy_of_each_icmp_reply_is_kept() {
        let plan = Plan {
            ifindex: 2,
            dst: None,
        };
        for (args, from_socket, from_link) in [
            ("-c 1 -O dl 198.51.100.1", false, true),
            ("-c 1 -O dl -O sockrx 198.51.100.1", true, false),
        ] {
            let (mut t, shared) = link_ping(args, Ticket::Ready(plan));
            let Action::Send(p) = t.poll(T0) else {
                panic!("no probe")
            };
            t.on_sent(T0);
            let mut reply = scamper_packet::parse_ip(&p.packet).unwrap();
            std::mem::swap(&mut reply.src, &mut reply.dst);
            let RxTransport::Icmp(i) = &mut reply.transport else {
                panic!("not icmp")
            };
            let IcmpKind::EchoRequest { id, seq } = i.kind else {
                panic!("not an echo")
            };
            i.kind = IcmpKind::EchoReply { id, seq };
            i.icmp_type = 0;
            assert_eq!(t.wanted(&reply), from_socket, "{args}: socket copy");
            shared.from.store(FROM_LINK_IN, Ordering::Relaxed);
            assert_eq!(t.wanted(&reply), from_link, "{args}: datalink copy");
            // Our own probe going out is always the datalink's.
            shared.from.store(FROM_LINK_OUT, Ordering::Relaxed);
            assert!(t.wanted(&scamper_packet::parse_ip(&p.packet).unwrap()));
        }
    }

    #[test]
    fn a_key_shared_by_two_tasks_outlives_the_first_to_finish() {
        let plan = Plan {
            ifindex: 2,
            dst: Some(([2, 0, 0, 0, 0, 2], 6)),
        };
        let shared = Arc::new(Shared::default());
        let args = "-c 2 -P tcp-syn -F 40007 198.51.100.1";
        let (mut a, _) = link_ping_in(shared.clone(), 1, args, Ticket::Ready(plan));
        let (mut b, _) = link_ping_in(shared.clone(), 2, args, Ticket::Ready(plan));
        let Action::Send(p) = a.poll(T0) else {
            panic!("no probe")
        };
        assert!(matches!(b.poll(T0), Action::Send(_)));
        Box::new(a).finish(T0);
        assert_eq!(
            shared.lock().keys.get(&p.key),
            Some(&KeyUse {
                tasks: 1,
                plan: Some(plan)
            })
        );
        Box::new(b).finish(T0);
        assert!(shared.lock().keys.is_empty());
    }

    #[test]
    fn packets_are_seen_on_the_interfaces_of_running_tasks_only() {
        let on = |i| Plan {
            ifindex: i,
            dst: None,
        };
        let shared = Arc::new(Shared::default());
        let args = "-c 1 -O dl 198.51.100.1";
        let (mut a, _) = link_ping_in(shared.clone(), 1, args, Ticket::Ready(on(2)));
        let (mut b, _) = link_ping_in(shared.clone(), 2, args, Ticket::Ready(on(3)));
        let (mut c, _) = link_ping_in(shared.clone(), 3, args, Ticket::Ready(on(2)));
        // Not before the task knows its route.
        assert!(!shared.lock().listens_on(2));
        for t in [&mut a, &mut b, &mut c] {
            assert!(matches!(t.poll(T0), Action::Send(_)));
        }
        let listening = |sh: &Arc<Shared>| (1..5).filter(|&i| sh.lock().listens_on(i)).count();
        assert!(shared.lock().listens_on(2) && shared.lock().listens_on(3));
        assert_eq!(listening(&shared), 2);
        Box::new(b).finish(T0);
        assert!(!shared.lock().listens_on(3));
        Box::new(a).finish(T0);
        assert!(shared.lock().listens_on(2), "c still runs there");
        Box::new(c).finish(T0);
        assert_eq!(listening(&shared), 0);
    }

    #[test]
    fn tcp_replies_are_taken_from_this_socket_only() {
        let plan = Plan {
            ifindex: 2,
            dst: None,
        };
        for args in [
            "-c 1 -P tcp-syn -O raw 198.51.100.1",
            "-c 1 -P tcp-syn -O dl -O sockrx 198.51.100.1",
        ] {
            let (mut t, shared) = link_ping(args, Ticket::Ready(plan));
            let Action::Send(p) = t.poll(T0) else {
                panic!("no probe")
            };
            let mut reply = scamper_packet::parse_ip(&p.packet).unwrap();
            std::mem::swap(&mut reply.src, &mut reply.dst);
            // The engine's datalink socket saw it too: that copy is not used.
            shared.from.store(FROM_SOCKET, Ordering::Relaxed);
            assert!(!t.wanted(&reply), "{args}");
            shared.from.store(FROM_LINK_IN, Ordering::Relaxed);
            assert!(t.wanted(&reply), "{args}");
        }
    }

    fn needs_of(line: &str) -> Option<Needs> {
        needs(&crate::command::parse(line).unwrap())
    }

    /// (tx, resolve, sockrx) of a command that uses the datalink.
    fn how(line: &str) -> (bool, bool, bool) {
        let n = needs_of(line).unwrap_or_else(|| panic!("{line}: no datalink"));
        (n.tx, n.resolve, n.sockrx)
    }

    #[test]
    fn which_commands_use_the_datalink() {
        // Not at all: plain ICMP and UDP pings and traces, -O sockrx alone.
        for line in [
            "ping 192.0.2.1",
            "ping -O sockrx 192.0.2.1",
            "ping -P udp 192.0.2.1",
            "ping -P icmp-time 192.0.2.1",
            "trace 192.0.2.1",
            "trace -P icmp-paris 2001:db8::1",
            "trace -P udp-paris -O const-payload 2001:db8::1",
        ] {
            assert_eq!(needs_of(line), None, "{line}");
        }
        // scamper_ping_do.c: -O dl opens the datalink only to read (route look-up, no frame
        // header); ping_dltx (-r, -M, -O dltx, -O spoof) and TCP methods without -O raw send
        // frames, whose header needs the next hop's address.
        let ping = [
            ("ping -O dl 192.0.2.1", (false, false, false)),
            ("ping -O dl -O sockrx 192.0.2.1", (false, false, true)),
            ("ping -P udp -O dl 192.0.2.1", (false, false, false)),
            ("ping -O dltx 192.0.2.1", (true, true, false)),
            ("ping -r 192.0.2.2 192.0.2.1", (true, true, false)),
            ("ping -s 1300 -M 1280 192.0.2.1", (true, true, false)),
            (
                "ping -O tbt -M 1280 -s 1300 2001:db8::1",
                (true, true, false),
            ),
            ("ping -O spoof -S 192.0.2.9 192.0.2.1", (true, true, false)),
            ("ping -P tcp-syn 192.0.2.1", (true, true, false)),
            ("ping -P tcp-ack-sport 2001:db8::1", (true, true, false)),
            ("ping -P tcp-syn -O raw 192.0.2.1", (false, false, false)),
        ];
        // scamper_trace_do.c: -O dl and -M resolve the next hop without sending frames;
        // -r, -o and TCP without -O raw send frames; TCP with -O raw only reads.
        let trace = [
            ("trace -O dl 192.0.2.1", (false, true, false)),
            ("trace -M 192.0.2.1", (false, true, false)),
            ("trace -r 192.0.2.2 192.0.2.1", (true, true, false)),
            ("trace -o 8 -P icmp 2001:db8::1", (true, true, false)),
            ("trace -P tcp 192.0.2.1", (true, true, false)),
            ("trace -P tcp-ack 2001:db8::1", (true, true, false)),
            ("trace -P tcp -O raw 192.0.2.1", (false, false, false)),
            (
                "trace -O dl -P udp-paris -O const-payload 2001:db8::1",
                (true, true, false),
            ),
            (
                "trace -O dl -P udp-paris -O const-payload 192.0.2.1",
                (false, true, false),
            ),
        ];
        for (line, want) in ping.into_iter().chain(trace) {
            assert_eq!(how(line), want, "{line}");
        }
        assert_eq!(
            needs_of("ping -r 192.0.2.2 192.0.2.1").and_then(|n| n.rtr),
            Some(ip("192.0.2.2"))
        );
    }

    #[test]
    fn a_resolved_next_hop_is_used_only_by_frame_tasks() {
        let plan = Plan {
            ifindex: 2,
            dst: Some(([2, 0, 0, 0, 0, 2], 6)),
        };
        // As trace -O dl: the next hop is known, but probes still leave by socket.
        let (mut t, shared) = link_ping("-c 1 -O dl 198.51.100.1", Ticket::Ready(plan));
        let Action::Send(p) = t.poll(T0) else {
            panic!("no probe")
        };
        assert_eq!(shared.lock().keys.get(&p.key).map(|u| u.plan), Some(None));
        let (mut t, shared) = link_ping("-c 1 -P tcp-syn 198.51.100.1", Ticket::Ready(plan));
        let Action::Send(p) = t.poll(T0) else {
            panic!("no probe")
        };
        assert_eq!(
            shared.lock().keys.get(&p.key).map(|u| u.plan),
            Some(Some(plan))
        );
    }

    /// A datalink whose socket has been asked for and not handed over yet.
    fn awaiting_datalink() -> (Datalink, Arc<Answer>) {
        let answer = Arc::new(Answer::default());
        let d = Datalink {
            sock: None,
            source: SockSource::Asked(answer.clone()),
            route: None,
            shared: Arc::default(),
            next_ticket: 1,
            open: false,
            learned: HashMap::new(),
        };
        (d, answer)
    }

    fn answer_with(answer: &Answer, got: Result<OwnedFd, String>) {
        *answer.fd.lock().unwrap() = Some(got);
        answer.ready.notify_one();
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn wrap_ping(d: &mut Datalink, args: &str, now: Time) -> Box<dyn Task> {
        let line = format!("ping {args}");
        let needs = needs_of(&line).expect("a datalink ping");
        d.wrap(new_ping(args).0, needs, now)
    }

    #[test]
    fn tasks_wait_for_the_socket_and_stop_without_it() {
        let rt = runtime();
        let _in_rt = rt.enter();
        let (mut d, answer) = awaiting_datalink();
        let mut t = wrap_ping(&mut d, "-c 1 -O dl 198.51.100.1", T0);
        assert_eq!(t.poll(T0), Action::WaitUntil(T0 + RESOLVE_POLL));
        answer_with(&answer, Err("refused".into()));
        // The answer wakes the engine, whose drain takes it.
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), d.readable())
                .await
                .expect("the answer makes the datalink readable")
        });
        assert!(d.take_answer(T0));
        assert!(!d.take_answer(T0), "taken once");
        assert!(d.sock.is_none());
        assert_eq!(t.poll(T0 + RESOLVE_POLL), Action::Done);
        let p = ping_of(t.finish(T0 + RESOLVE_POLL));
        assert_eq!(p.errmsg.as_deref(), Some("could not open datalink"));
        // Not asked again: later tasks stop at once.
        let mut t = wrap_ping(&mut d, "-c 1 -O dl 198.51.100.1", T0);
        assert_eq!(t.poll(T0), Action::Done);
        assert!(matches!(d.source, SockSource::Settled));
    }

    #[test]
    fn a_socket_that_never_comes_stops_the_task_after_a_while() {
        let rt = runtime();
        let _in_rt = rt.enter();
        let (mut d, _answer) = awaiting_datalink();
        let mut t = wrap_ping(&mut d, "-c 1 -r 192.0.2.6 198.51.100.1", T0);
        assert_eq!(
            t.poll(T0 + OPEN_WAIT / 2),
            Action::WaitUntil(T0 + OPEN_WAIT / 2 + RESOLVE_POLL)
        );
        assert_eq!(t.poll(T0 + OPEN_WAIT), Action::Done);
        let p = ping_of(t.finish(T0 + OPEN_WAIT));
        assert_eq!(p.errmsg.as_deref(), Some("could not open datalink"));
        assert_eq!(d.shared.lock().active, 0);
    }

    /// Needs CAP_NET_RAW (the lab tests' root); skipped without it. The socket has protocol
    /// 0, so it is on no packet path while the test runs.
    #[test]
    fn the_socket_takes_outgoing_packets_only_while_datalink_tasks_run() {
        use scamper_sys::packet_outgoing::ignores_outgoing;
        let sock = match socket2::Socket::new(
            socket2::Domain::PACKET,
            socket2::Type::DGRAM.cloexec(),
            None,
        ) {
            Ok(s) => OwnedFd::from(s),
            Err(e) => {
                eprintln!("skipped: no packet socket ({e})");
                return;
            }
        };
        let rt = runtime();
        let _in_rt = rt.enter();
        let (mut d, answer) = awaiting_datalink();
        let ignoring =
            |d: &Datalink| ignores_outgoing(d.sock.as_ref().unwrap().get_ref().as_fd()).unwrap();
        let t = wrap_ping(&mut d, "-c 1 -O dl 198.51.100.1", T0);
        answer_with(&answer, Ok(sock));
        // The engine's drain takes the answer and returns: the new socket has nothing to
        // read, and waiting for it to have something would stall the engine.
        let mut core = Core::new(100, Duration::ZERO, T0);
        let mut buf = [0u8; 2048];
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), d.drain(&mut core, &mut buf))
                .await
                .expect("drain returns once the answer is taken")
        });
        assert!(d.sock.is_some());
        assert!(d.open, "a datalink task runs: filter open");
        assert!(!ignoring(&d), "and outbound copies taken");
        drop(t.finish(T0));
        d.sync_filter();
        assert!(!d.open);
        assert!(ignoring(&d), "idle: outbound packets pass the socket by");
        // The next datalink task, after a time without any, gets the copies again.
        let t = wrap_ping(&mut d, "-c 1 -O dl 198.51.100.1", T0);
        assert!(d.open && !ignoring(&d));
        drop(t.finish(T0));
        d.sync_filter();
        assert!(!d.open && ignoring(&d));
    }
}
