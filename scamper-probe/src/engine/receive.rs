//! Reading replies from the receive sockets, and when the loop should wake for them.
//!
//! The sockets sit in an epoll instance of their own (level-triggered), not in tokio's. While the
//! loop has a send or timer due within [`BUSY_HORIZON`] anyway, an arriving reply does not wake
//! it: the loop sleeps to its deadline and then reads everything queued, several packets per
//! system call. The kernel's receive timestamps keep the round-trip times exact, and waking once
//! per deadline instead of once per reply saves a context switch per reply at high rates. When
//! the loop would sleep longer, a duplicate of the epoll descriptor is registered with tokio, so a
//! reply wakes it as soon as it arrives (trace sends its next probe after a reply; a quiet run
//! must never poll).

use super::core::Core;
use super::dispatch;
use super::net::RxSocket;
use crate::log;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use scamper_sys::recv_batch::RecvBatch;
use std::os::fd::{AsFd, OwnedFd};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::unix::AsyncFd;

/// A loop due to wake within this long anyway reads replies when it wakes, not as they come.
pub const BUSY_HORIZON: Duration = Duration::from_millis(2);

/// Busy decisions in a row before packets stop waking the loop: a rate that hovers around the
/// horizon does not register and deregister with tokio every turn.
const SETTLE: u32 = 4;

/// Datagrams read per system call, and each one's largest size (an IPv4 packet's maximum, as a
/// reply can be as large as the probe). The batch is allocated zeroed, as fresh pages for a block
/// this large, so only the pages the kernel writes to take memory (measured: the prober's
/// anonymous memory is unchanged).
const BATCH: usize = 16;
const SLOT: usize = 65536;

/// Batches per socket per drain, so one flooded socket cannot starve the timers and the others.
const BATCHES_PER_SOCKET: usize = 16;

/// Rounds of "which sockets are readable" per drain before the loop gets a turn.
const ROUNDS: usize = 4;

/// Decides, once per loop turn, whether arriving packets should wake the loop.
#[derive(Debug, Default)]
pub struct WakePolicy {
    busy_turns: u32,
}

impl WakePolicy {
    /// `sleep`: how long the loop is about to sleep until its next send or timer.
    pub fn wake_on_packets(&mut self, sleep: Duration) -> bool {
        if sleep > BUSY_HORIZON {
            self.busy_turns = 0;
            return true;
        }
        self.busy_turns = self.busy_turns.saturating_add(1);
        self.busy_turns < SETTLE
    }
}

/// The receive sockets, the epoll instance that watches them, and the batch they are read into.
pub struct Receiver {
    socks: Vec<RxSocket>,
    poller: Epoll,
    /// Registered with tokio (a duplicate of the poller's descriptor) while packets should wake
    /// the loop.
    watch: Option<AsyncFd<OwnedFd>>,
    events: [EpollEvent; 4],
    batch: RecvBatch,
    /// The last drain stopped at its bounds with packets still queued.
    backlog: bool,
    /// [`BATCHES_PER_SOCKET`] and [`ROUNDS`] (smaller in tests).
    batches_per_socket: usize,
    rounds: usize,
}

impl Receiver {
    /// Watch `socks`; packets wake the loop until told otherwise.
    pub fn new(socks: Vec<RxSocket>) -> std::io::Result<Receiver> {
        Self::with_bounds(socks, BATCH, BATCHES_PER_SOCKET, ROUNDS)
    }

    fn with_bounds(
        socks: Vec<RxSocket>,
        batch: usize,
        batches_per_socket: usize,
        rounds: usize,
    ) -> std::io::Result<Receiver> {
        let poller = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        for (i, s) in socks.iter().enumerate() {
            poller.add(&s.fd, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))?;
        }
        let mut r = Receiver {
            socks,
            poller,
            watch: None,
            events: [EpollEvent::empty(); 4],
            batch: RecvBatch::new(batch, SLOT, RxSocket::cmsg_space()),
            backlog: false,
            batches_per_socket,
            rounds,
        };
        r.set_wake_on_packets(true)?;
        Ok(r)
    }

    /// Should an arriving packet wake the loop? Costs system calls only when the answer changes.
    pub fn set_wake_on_packets(&mut self, on: bool) -> std::io::Result<()> {
        match (on, self.watch.is_some()) {
            (true, false) if !self.socks.is_empty() => {
                let dup = self.poller.0.try_clone()?;
                self.watch = Some(scamper_sys::async_fd(dup)?);
            }
            (false, true) => self.watch = None,
            _ => {}
        }
        Ok(())
    }

    /// Packets are queued that the last drain left for the next turn.
    pub fn has_backlog(&self) -> bool {
        self.backlog
    }

    /// Wait until a packet arrives (forever while packets do not wake the loop).
    pub async fn readable(&self) {
        match &self.watch {
            // drain() clears the readiness before it reads.
            Some(w) => drop(w.readable().await),
            None => std::future::pending().await,
        }
    }

    /// Read what the sockets hold and deliver each packet to the core, straight from the batch.
    /// Returns the number of datagrams read.
    pub fn drain(&mut self, core: &mut Core) -> usize {
        let mut read = 0;
        if !self.backlog {
            if let Some(w) = &self.watch {
                // Nothing to read unless tokio saw the poller become readable. The readiness is
                // cleared before reading, so a packet arriving during the drain raises it again.
                let mut cx = Context::from_waker(Waker::noop());
                match w.poll_read_ready(&mut cx) {
                    Poll::Ready(Ok(mut guard)) => guard.clear_ready(),
                    _ => return 0,
                }
            }
        }
        self.backlog = false;
        for _ in 0..self.rounds {
            let n = match self.poller.wait(&mut self.events, EpollTimeout::ZERO) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    log::warn(&format!("receive poll error: {e}"));
                    return read;
                }
            };
            let mut full = false;
            for k in 0..n {
                let i = self.events[k].data() as usize;
                let (n, stopped) = self.drain_socket(i, core);
                read += n;
                full |= stopped;
            }
            // Every readable socket was emptied: what arrives from now on makes the poller
            // readable again, so asking it once more now would only cost a system call.
            if !full {
                return read;
            }
        }
        // Still readable after the rounds: the loop comes straight back.
        self.backlog = true;
        read
    }

    /// Read socket `i` until a batch comes back short. Returns the datagrams read, and true if
    /// it stopped at its bound with packets possibly left.
    fn drain_socket(&mut self, i: usize, core: &mut Core) -> (usize, bool) {
        let mut read = 0;
        let Some(sock) = self.socks.get(i) else {
            return (0, false);
        };
        for _ in 0..self.batches_per_socket {
            let n = match self.batch.recv(sock.fd.as_fd()) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return (read, false),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn(&format!("receive error: {e}"));
                    return (read, false);
                }
            };
            read += n;
            for j in 0..n {
                let Some(r) = self.batch.get(j) else { break };
                sock.decode_with(&r, |pkt, t| {
                    if let Some(key) = dispatch::reply_key(pkt) {
                        core.deliver(&key, pkt, r.data, t);
                    }
                });
            }
            // A short batch emptied the queue (what arrives later makes the socket readable).
            if n < self.batch.slots() {
                return (read, false);
            }
        }
        (read, true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::net::RxKind;
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, UdpSocket};

    /// A receive socket of kind `kind` that is really a UDP socket on loopback: what is sent to
    /// it arrives as if it were a raw socket's packet.
    fn fake_raw_socket(kind: RxKind) -> (RxSocket, UdpSocket, std::net::SocketAddr) {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let sock = RxSocket::new(kind, OwnedFd::from(rx)).unwrap();
        (sock, UdpSocket::bind("127.0.0.1:0").unwrap(), to)
    }

    /// A complete IPv4 packet, as a raw ICMP socket would deliver it.
    fn ipv4_packet(payload: &[u8]) -> Vec<u8> {
        let ip = scamper_packet::IpParams::new(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        );
        scamper_packet::build_udp(&ip, 33434, 53, payload).unwrap()
    }

    #[test]
    fn decode_keeps_the_kernel_timestamp_and_the_arrival_interface() {
        let (sock, tx, to) = fake_raw_socket(RxKind::Icmp4);
        let pkt = ipv4_packet(b"hello");
        let before = super::super::now();
        for _ in 0..3 {
            tx.send_to(&pkt, to).unwrap();
        }
        let mut batch = RecvBatch::new(BATCH, SLOT, RxSocket::cmsg_space());
        assert_eq!(batch.recv(sock.fd.as_fd()).unwrap(), 3);
        let after = super::super::now();
        let lo = nix::net::if_::if_nametoindex("lo").unwrap();
        for i in 0..3 {
            let got = batch.get(i).unwrap();
            let (rx, t) = sock.decode(&got).unwrap();
            assert_eq!(rx.src, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
            assert_eq!(rx.udp().map(|u| u.payload.clone()), Some(b"hello".to_vec()));
            assert_eq!(rx.ifindex, lo);
            assert!(before <= t && t <= after, "{before:?} {t:?} {after:?}");
        }
    }

    /// Does `r.readable()` finish within a moment? (Only "yes" is waited for in earnest; a
    /// "no" that should be "yes" would show up as a failure, never as a hang.)
    async fn wakes(r: &Receiver, within: Duration) -> bool {
        tokio::time::timeout(within, r.readable()).await.is_ok()
    }

    #[tokio::test]
    async fn idle_wakes_per_packet_busy_waits_for_the_drain() {
        let (sock, tx, to) = fake_raw_socket(RxKind::Icmp4);
        let mut r = Receiver::new(vec![sock]).unwrap();
        let mut core = Core::new(0, Duration::from_secs(1), super::super::now());
        let pkt = ipv4_packet(b"p");
        let long = Duration::from_secs(10);
        let moment = Duration::from_millis(50);

        // Idle: a packet wakes the loop; after the drain the readiness is gone (no spinning).
        tx.send_to(&pkt, to).unwrap();
        assert!(wakes(&r, long).await);
        assert_eq!(r.drain(&mut core), 1);
        assert!(!wakes(&r, moment).await);
        assert_eq!(r.drain(&mut core), 0);

        // Busy: packets do not wake it, and the drain at the deadline reads them all.
        r.set_wake_on_packets(false).unwrap();
        for _ in 0..40 {
            tx.send_to(&pkt, to).unwrap();
        }
        assert!(!wakes(&r, moment).await);
        assert_eq!(r.drain(&mut core), 40);
        assert!(!r.has_backlog());
        assert_eq!(r.drain(&mut core), 0);

        // Back to idle with packets already queued: they wake the loop at once.
        tx.send_to(&pkt, to).unwrap();
        r.set_wake_on_packets(true).unwrap();
        assert!(wakes(&r, long).await);
        assert_eq!(r.drain(&mut core), 1);
        assert!(!wakes(&r, moment).await);
    }

    #[tokio::test]
    async fn a_flood_is_read_in_bounded_drains() {
        let (sock, tx, to) = fake_raw_socket(RxKind::Icmp4);
        // Small bounds, so the flood fits any receive buffer.
        let (batch, batches, rounds) = (4, 3, 2);
        let mut r = Receiver::with_bounds(vec![sock], batch, batches, rounds).unwrap();
        r.set_wake_on_packets(false).unwrap();
        let mut core = Core::new(0, Duration::from_secs(1), super::super::now());
        let bound = rounds * batches * batch;
        let pkt = ipv4_packet(b"f");
        for _ in 0..bound + 10 {
            tx.send_to(&pkt, to).unwrap();
        }
        assert_eq!(r.drain(&mut core), bound);
        assert!(r.has_backlog());
        assert_eq!(r.drain(&mut core), 10);
        assert!(!r.has_backlog());
    }

    #[test]
    fn long_sleeps_always_wake_on_packets() {
        let mut p = WakePolicy::default();
        for _ in 0..100 {
            assert!(p.wake_on_packets(Duration::from_millis(3)));
            assert!(p.wake_on_packets(Duration::from_secs(1)));
        }
    }

    #[test]
    fn short_sleeps_stop_waking_after_settling() {
        let mut p = WakePolicy::default();
        let busy = Duration::from_millis(1);
        let got: Vec<bool> = (0..6).map(|_| p.wake_on_packets(busy)).collect();
        assert_eq!(got, [true, true, true, false, false, false]);
        assert!(!p.wake_on_packets(BUSY_HORIZON));
        assert!(!p.wake_on_packets(Duration::ZERO));
    }

    #[test]
    fn one_long_sleep_wakes_at_once_and_restarts_settling() {
        let mut p = WakePolicy::default();
        let busy = Duration::from_millis(1);
        for _ in 0..10 {
            p.wake_on_packets(busy);
        }
        assert!(!p.wake_on_packets(busy));
        // The tail of a run: waiting for replies, nothing to send soon.
        assert!(p.wake_on_packets(Duration::from_millis(500)));
        let got: Vec<bool> = (0..4).map(|_| p.wake_on_packets(busy)).collect();
        assert_eq!(got, [true, true, true, false]);
    }
}
