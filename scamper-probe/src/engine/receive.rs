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
/// reply can be as large as the probe). The slots are fresh zero pages: only the bytes the
/// kernel writes take memory.
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
}

impl Receiver {
    /// Watch `socks`; packets wake the loop until told otherwise.
    pub fn new(socks: Vec<RxSocket>) -> std::io::Result<Receiver> {
        let poller = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        for (i, s) in socks.iter().enumerate() {
            poller.add(&s.fd, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))?;
        }
        let mut r = Receiver {
            socks,
            poller,
            watch: None,
            events: [EpollEvent::empty(); 4],
            batch: RecvBatch::new(BATCH, SLOT, RxSocket::cmsg_space()),
            backlog: false,
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
    pub fn drain(&mut self, core: &mut Core) {
        if !self.backlog {
            if let Some(w) = &self.watch {
                // Nothing to read unless tokio saw the poller become readable. The readiness is
                // cleared before reading, so a packet arriving during the drain raises it again.
                let mut cx = Context::from_waker(Waker::noop());
                match w.poll_read_ready(&mut cx) {
                    Poll::Ready(Ok(mut guard)) => guard.clear_ready(),
                    _ => return,
                }
            }
        }
        self.backlog = false;
        for _ in 0..ROUNDS {
            let n = match self.poller.wait(&mut self.events, EpollTimeout::ZERO) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    log::warn(&format!("receive poll error: {e}"));
                    return;
                }
            };
            let mut full = false;
            for k in 0..n {
                let i = self.events[k].data() as usize;
                full |= self.drain_socket(i, core);
            }
            // Every readable socket was emptied: what arrives from now on makes the poller
            // readable again, so asking it once more now would only cost a system call.
            if !full {
                return;
            }
        }
        // Still readable after the rounds: the loop comes straight back.
        self.backlog = true;
    }

    /// Read socket `i` until a batch comes back short; true if it stopped at its bound with
    /// packets possibly left.
    fn drain_socket(&mut self, i: usize, core: &mut Core) -> bool {
        let Some(sock) = self.socks.get(i) else {
            return false;
        };
        for _ in 0..BATCHES_PER_SOCKET {
            let n = match self.batch.recv(sock.fd.as_fd()) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn(&format!("receive error: {e}"));
                    return false;
                }
            };
            for j in 0..n {
                let Some(r) = self.batch.get(j) else { break };
                if let Some((pkt, t)) = sock.decode(&r) {
                    if let Some(key) = dispatch::reply_key(&pkt) {
                        core.deliver(&key, &pkt, r.data, t);
                    }
                }
            }
            // A short batch emptied the queue (what arrives later makes the socket readable).
            if n < self.batch.slots() {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
