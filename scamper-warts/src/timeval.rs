//! Seconds + microseconds timestamps and durations, as warts stores them (u32 each).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A `struct timeval` with the 32-bit seconds warts keeps. Used both for absolute times
/// (seconds since the Unix epoch) and for durations (RTTs, timeouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timeval {
    pub sec: u32,
    pub usec: u32,
}

impl Timeval {
    pub const fn new(sec: u32, usec: u32) -> Self {
        Timeval { sec, usec }
    }

    pub fn is_zero(&self) -> bool {
        self.sec == 0 && self.usec == 0
    }

    /// The warts "rtt" encoding: microseconds in a wrapping u32.
    #[inline]
    pub fn as_usec32(&self) -> u32 {
        self.sec.wrapping_mul(1_000_000).wrapping_add(self.usec)
    }

    pub fn from_usec32(v: u32) -> Self {
        Timeval {
            sec: v / 1_000_000,
            usec: v % 1_000_000,
        }
    }

    /// `self + d`, normalising microseconds (seconds wrap like the 32-bit on-disk value).
    pub fn add(&self, d: &Timeval) -> Timeval {
        let us = u64::from(self.usec) + u64::from(d.usec);
        let carry = (us / 1_000_000) as u32;
        Timeval {
            sec: self.sec.wrapping_add(d.sec).wrapping_add(carry),
            usec: (us % 1_000_000) as u32,
        }
    }

    /// `self - earlier` as a timeval (like `timeval_diff_tv`).
    pub fn sub(&self, earlier: &Timeval) -> Timeval {
        let a = i64::from(self.sec) * 1_000_000 + i64::from(self.usec);
        let b = i64::from(earlier.sec) * 1_000_000 + i64::from(earlier.usec);
        let d = a - b;
        let sec = d.div_euclid(1_000_000);
        Timeval {
            sec: sec as u32,
            usec: d.rem_euclid(1_000_000) as u32,
        }
    }

    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }
}

impl From<SystemTime> for Timeval {
    fn from(t: SystemTime) -> Self {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        Timeval {
            sec: d.as_secs() as u32,
            usec: d.subsec_micros(),
        }
    }
}

impl From<Duration> for Timeval {
    #[inline]
    fn from(d: Duration) -> Self {
        Timeval {
            sec: d.as_secs() as u32,
            usec: d.subsec_micros(),
        }
    }
}

impl From<Timeval> for Duration {
    fn from(t: Timeval) -> Self {
        Duration::from_secs(u64::from(t.sec)) + Duration::from_micros(u64::from(t.usec))
    }
}
