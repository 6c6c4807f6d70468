//! `trace -c`: probing each hop until every interface that answers for it has most likely been
//! seen, at 95 % or 99 % confidence.
//!
//! The rule is the stopping rule of the multipath detection algorithm: when a hop has shown
//! `m` distinct interfaces so far, it is probed until it has had enough probes to rule out
//! `m + 1` interfaces sharing the traffic evenly, that is until the chance that `m + 1` equally
//! likely interfaces would still have left one of them unseen is no more than 5 % (or 1 %).
//! A hop that has shown no interface, or one, is probed as if to rule out a second one. Every
//! probe sent at the hop counts, answered or not, and every reply to a probe of the hop
//! counts towards the interfaces, whatever kind of reply it is. A new interface raises the
//! number of probes the hop needs; probing goes on until the newest probe has been answered
//! or has timed out with the hop's probe count at the number the rule gives.
//!
//! The table covers up to [`MAX_INTERFACES`] interfaces at one hop; a reply that shows more
//! ends the hop. Probing that has no interfaces to enumerate (last-ditch probes and path-MTU
//! discovery after a trace with `-c`) gets the table's first entry as its number of attempts,
//! instead of `-q`.

/// Confidence level of `-c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `-c 95`.
    P95,
    /// `-c 99`.
    P99,
}

impl Level {
    /// The level `-c percent` asks for (95 or 99); `None` for any other value, which includes
    /// 0, the record's value for a trace without `-c`.
    pub fn from_percent(percent: u8) -> Option<Level> {
        match percent {
            95 => Some(Level::P95),
            99 => Some(Level::P99),
            _ => None,
        }
    }

    /// The value the record keeps.
    pub fn percent(self) -> u8 {
        match self {
            Level::P95 => 95,
            Level::P99 => 99,
        }
    }

    /// Chance of missing an interface this level tolerates.
    pub fn miss_tolerated(self) -> f64 {
        match self {
            Level::P95 => 0.05,
            Level::P99 => 0.01,
        }
    }
}

/// Most interfaces at one hop the rule has a probe count for.
pub const MAX_INTERFACES: usize = 24;

/// `PROBES[i]` = (95 %, 99 %) number of probes that rule out `i + 2` interfaces: the least `k`
/// for which `k` probes spread evenly over `i + 2` interfaces miss at least one of them with a
/// probability no greater than 5 % (1 %). The unit test `table_follows_from_the_rule`
/// recomputes every entry.
const PROBES: [(u8, u8); MAX_INTERFACES] = [
    (6, 8),
    (11, 15),
    (16, 21),
    (21, 28),
    (27, 36),
    (33, 43),
    (38, 51),
    (44, 58),
    (51, 66),
    (57, 74),
    (63, 82),
    (70, 90),
    (76, 98),
    (83, 106),
    (90, 115),
    (96, 123),
    (103, 132),
    (110, 140),
    (117, 149),
    (124, 157),
    (131, 166),
    (138, 175),
    (145, 183),
    (152, 192),
];

/// Probes a hop needs in all, given the distinct interfaces it has shown so far. `None` once
/// it has shown more than [`MAX_INTERFACES`]: the table ends there, and so does the hop.
pub fn probes_needed(level: Level, interfaces: usize) -> Option<u8> {
    // With m interfaces seen the rule is to rule out m + 1; none seen counts as one.
    let (p95, p99) = *PROBES.get(interfaces.max(1) - 1)?;
    Some(match level {
        Level::P95 => p95,
        Level::P99 => p99,
    })
}

/// Attempts for probing that enumerates no interfaces (last-ditch, path-MTU discovery).
pub fn plain_attempts(level: Level) -> u8 {
    probes_needed(level, 0).unwrap_or(u8::MAX)
}

/// Whether a hop is over: `sent` probes so far, `interfaces` distinct addresses among their
/// replies, `newest_settled` when the newest probe has been answered or has timed out.
/// Replies to older probes never end a hop before its newest probe settles, unless they show
/// more interfaces than the table covers.
pub fn hop_over(level: Level, sent: usize, interfaces: usize, newest_settled: bool) -> bool {
    match probes_needed(level, interfaces) {
        Some(k) => newest_settled && sent >= usize::from(k),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probability that `k` probes, each going to one of `n` equally likely interfaces, do not
    /// reach all `n` (inclusion-exclusion over the interfaces left out).
    fn miss(n: u32, k: u32) -> f64 {
        let mut p = 0.0;
        let mut binom = 1.0;
        for j in 1..n {
            binom = binom * f64::from(n - j + 1) / f64::from(j);
            let term = binom * (f64::from(n - j) / f64::from(n)).powi(k as i32);
            p += if j % 2 == 1 { term } else { -term };
        }
        p
    }

    fn least_probes(n: u32, level: Level) -> u32 {
        (1..)
            .find(|&k| miss(n, k) <= level.miss_tolerated())
            .unwrap()
    }

    #[test]
    fn table_follows_from_the_rule() {
        for (i, &(p95, p99)) in PROBES.iter().enumerate() {
            let n = i as u32 + 2;
            assert_eq!(u32::from(p95), least_probes(n, Level::P95), "95%, n={n}");
            assert_eq!(u32::from(p99), least_probes(n, Level::P99), "99%, n={n}");
        }
    }

    #[test]
    fn probes_grow_with_interfaces_and_level() {
        assert_eq!(probes_needed(Level::P95, 0), Some(6));
        assert_eq!(probes_needed(Level::P95, 1), Some(6));
        assert_eq!(probes_needed(Level::P95, 2), Some(11));
        assert_eq!(probes_needed(Level::P95, 3), Some(16));
        assert_eq!(probes_needed(Level::P99, 1), Some(8));
        assert_eq!(probes_needed(Level::P99, 2), Some(15));
        assert_eq!(probes_needed(Level::P99, 3), Some(21));
        assert_eq!(probes_needed(Level::P99, MAX_INTERFACES), Some(192));
        assert_eq!(probes_needed(Level::P95, MAX_INTERFACES + 1), None);
        assert_eq!(plain_attempts(Level::P95), 6);
        assert_eq!(plain_attempts(Level::P99), 8);
        for level in [Level::P95, Level::P99] {
            let ks: Vec<u8> = (1..=MAX_INTERFACES)
                .map(|m| probes_needed(level, m).unwrap())
                .collect();
            assert!(ks.windows(2).all(|w| w[0] < w[1]), "{level:?}: {ks:?}");
        }
        for m in 1..=MAX_INTERFACES {
            assert!(probes_needed(Level::P99, m) > probes_needed(Level::P95, m));
        }
    }

    #[test]
    fn a_hop_ends_when_its_newest_probe_settles_with_enough_probes() {
        let l = Level::P95;
        assert!(!hop_over(l, 5, 1, true));
        assert!(!hop_over(l, 6, 1, false));
        assert!(hop_over(l, 6, 1, true));
        assert!(hop_over(l, 6, 0, true));
        // A second interface raises the count to 11.
        assert!(!hop_over(l, 6, 2, true));
        assert!(hop_over(l, 11, 2, true));
        // Beyond the table: over at once.
        assert!(hop_over(l, 30, MAX_INTERFACES + 1, false));
    }

    #[test]
    fn levels_from_the_record_value() {
        assert_eq!(Level::from_percent(95), Some(Level::P95));
        assert_eq!(Level::from_percent(99), Some(Level::P99));
        assert_eq!(Level::from_percent(0), None);
        assert_eq!(Level::from_percent(90), None);
        assert_eq!(Level::P99.percent(), 99);
    }
}
