//! The loop's sleep until its next deadline.
//!
//! A tokio `sleep` per loop turn made tokio's time driver wake its own poller every turn: a
//! timer earlier than every registered one (and after the last one fired there are none) makes
//! it write its eventfd in case the thread is parked, so each turn paid that write, an extra
//! `epoll_wait` returning at once and an extra pass of the scheduler. A timerfd in tokio's
//! poller costs one `timerfd_settime` a turn instead. Where timerfd is refused, tokio's timer
//! is used as before.

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;
use tokio::io::unix::AsyncFd;

pub enum Wakeup {
    Fd {
        timer: TimerFd,
        /// The same timer (a duplicate descriptor), registered with tokio.
        ready: AsyncFd<OwnedFd>,
    },
    Tokio,
}

/// Monotonic time now (the timerfd's clock).
fn monotonic() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(Duration::from)
        .unwrap_or_default()
}

/// When tokio's timer would have woken the loop for a sleep of `d` from `now`: it counts in
/// whole milliseconds, the deadline rounded up and the present rounded down, so a sleep lasts
/// up to a millisecond longer than asked (the loop's pacing, and how many turns it takes,
/// stay as they were).
fn tokio_like(now: Duration, d: Duration) -> Duration {
    let ms = |t: Duration| u64::try_from(t.as_nanos() / 1_000_000).unwrap_or(u64::MAX);
    let up = ms(now + d) + u64::from(!(now + d).subsec_nanos().is_multiple_of(1_000_000));
    now + Duration::from_millis(up.saturating_sub(ms(now)))
}

impl Wakeup {
    /// Must run inside the tokio runtime.
    pub fn new() -> Wakeup {
        let timerfd = || -> std::io::Result<Wakeup> {
            let timer = TimerFd::new(
                ClockId::CLOCK_MONOTONIC,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )?;
            let dup = timer.as_fd().try_clone_to_owned()?;
            let ready = scamper_sys::async_fd(dup)?;
            Ok(Wakeup::Fd { timer, ready })
        };
        timerfd().unwrap_or(Wakeup::Tokio)
    }

    /// Sleep for `d` (more than zero).
    pub async fn sleep(&mut self, d: Duration) {
        let Wakeup::Fd { timer, ready } = self else {
            return tokio::time::sleep(d).await;
        };
        let now = monotonic();
        let deadline = tokio_like(now, d);
        let at = Expiration::OneShot(TimeSpec::from_duration(deadline));
        if timer.set(at, TimerSetTimeFlags::TFD_TIMER_ABSTIME).is_err() {
            return tokio::time::sleep(d).await;
        }
        // Re-arming resets the timer, but tokio may still hold readiness from an expiry
        // that came while the loop was busy: the clock, not the readiness, says whether this
        // deadline has passed.
        loop {
            let Ok(mut guard) = ready.readable().await else {
                return tokio::time::sleep(d).await;
            };
            guard.clear_ready();
            if monotonic() >= deadline {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn deadlines_round_as_tokio_did() {
        // 10.3 ms + 1 ms: tick 12 from tick 10, two milliseconds.
        assert_eq!(tokio_like(us(10_300), us(1_000)), us(12_300));
        // On a millisecond boundary nothing is added.
        assert_eq!(tokio_like(us(10_000), us(1_000)), us(11_000));
        // Late in a millisecond the present still counts from its start.
        assert_eq!(tokio_like(us(10_999), us(1)), us(11_999));
        assert_eq!(tokio_like(us(10_999), us(2)), us(12_999));
    }

    #[tokio::test]
    async fn sleeps_at_least_as_long_as_asked_and_again_after_an_unused_one() {
        let mut w = Wakeup::new();
        assert!(matches!(w, Wakeup::Fd { .. }), "timerfd refused here");
        // A sleep abandoned before its deadline leaves the timer armed: the next one must
        // still last its own time.
        let _ =
            tokio::time::timeout(Duration::from_millis(1), w.sleep(Duration::from_millis(2))).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        for ms in [1u64, 3, 10] {
            let t = std::time::Instant::now();
            w.sleep(Duration::from_millis(ms)).await;
            assert!(
                t.elapsed() >= Duration::from_millis(ms),
                "{ms} ms: {:?}",
                t.elapsed()
            );
            assert!(
                t.elapsed() < Duration::from_millis(ms + 500),
                "{ms} ms: {:?}",
                t.elapsed()
            );
        }
    }
}
