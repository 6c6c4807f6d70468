//! Doubletree (Donnet et al.) for the trace task: `-z`, `-Z`, `-O dtree-noback`.
//!
//! A doubletree trace starts at `-f firsthop` somewhere mid-path. Probing forward stops with
//! stop reason GSS at the first router address in the global stop set (the part of the path
//! beyond it is already known). Probing then goes backwards from `firsthop - 1` towards the
//! vantage point and stops at the first address in the local stop set named by `-Z` (the part
//! of the path nearer the vantage point is already known). Every trace adds what it saw: the
//! routers found going forward to the global set, those found going backwards to its local set.
//!
//! The sets live in [`StopSets`] shared by every task of the process; each access takes the
//! lock only for the lookup or insertion, so the control socket's `lss-clear` takes effect
//! between two hops of a running trace.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use scamper_warts::trace::TraceDtree;
use scamper_warts::Addr;

use super::options::TraceOptions;
use crate::task::StopSets;

/// `TraceDtree::flags` bit: no backwards probing (`-O dtree-noback`).
pub const DTREE_FLAG_NOBACK: u8 = 0x01;

/// The IP address of a record address (link-layer addresses have none).
pub fn ip_of(a: &Addr) -> Option<IpAddr> {
    match *a {
        Addr::V4(v4) => Some(IpAddr::V4(v4)),
        Addr::V6(v6) => Some(IpAddr::V6(v6)),
        Addr::Ethernet(_) | Addr::Firewire(_) => None,
    }
}

/// What backwards probing does after a hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Back {
    /// Probe the next lower TTL.
    Continue,
    /// Backwards probing is over.
    Stop,
}

/// Doubletree state of one trace.
#[derive(Debug)]
pub struct Dtree {
    sets: Arc<Mutex<StopSets>>,
    lss_name: Option<String>,
    noback: bool,
    /// `-f` as given; the trace's own firsthop moves down while probing backwards.
    firsthop: u8,
    gss_stop: Option<IpAddr>,
    lss_stop: Option<IpAddr>,
    /// Addresses this trace met probing backwards: meeting one again is a loop in this path,
    /// not knowledge from an earlier trace, so it must not stop backwards probing.
    back_seen: HashSet<IpAddr>,
}

impl Dtree {
    /// The doubletree state for `opts`, or `None` when the trace does not use doubletree. The
    /// `-z` entry joins the global stop set here, so that it holds for later traces too.
    pub fn new(opts: &TraceOptions, sets: Arc<Mutex<StopSets>>) -> Option<Dtree> {
        if opts.gss_entry.is_none() && opts.lss_name.is_none() && !opts.dtree_noback {
            return None;
        }
        let d = Dtree {
            sets,
            lss_name: opts.lss_name.clone(),
            noback: opts.dtree_noback,
            firsthop: opts.firsthop,
            gss_stop: None,
            lss_stop: None,
            back_seen: HashSet::new(),
        };
        if let Some(a) = opts.gss_entry {
            d.lock().global.insert(a);
        }
        Some(d)
    }

    /// The sets; a task that panicked while holding the lock left them consistent (every
    /// change is a single insertion), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, StopSets> {
        self.sets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `-O dtree-noback`: no probing backwards after the forward phase.
    pub fn noback(&self) -> bool {
        self.noback
    }

    /// The first of these router addresses (replies of one forward hop) that is in the global
    /// stop set; it is recorded as the GSS stop address.
    pub fn forward_hit(&mut self, routers: &[IpAddr]) -> Option<IpAddr> {
        let hit = {
            let sets = self.lock();
            routers.iter().copied().find(|a| sets.global.contains(a))
        };
        if hit.is_some() {
            self.gss_stop = hit;
        }
        hit
    }

    /// A backwards hop at `ttl` ended with these reply addresses (empty if it was silent).
    pub fn back_hop(&mut self, ttl: u8, addrs: &[IpAddr]) -> Back {
        if let Some(name) = &self.lss_name {
            let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
            let lss = sets.local.entry(name.clone()).or_default();
            let hit = addrs
                .iter()
                .copied()
                .find(|a| lss.contains(a) && !self.back_seen.contains(a));
            if hit.is_none() {
                lss.extend(addrs.iter().copied());
            }
            drop(sets);
            if hit.is_some() {
                self.lss_stop = hit;
                return Back::Stop;
            }
        }
        self.back_seen.extend(addrs.iter().copied());
        if ttl <= 1 {
            Back::Stop
        } else {
            Back::Continue
        }
    }

    /// Adds the routers this trace found probing forward to the global stop set. Called once,
    /// when the trace ends, so that a trace never stops at its own earlier hops (a loop).
    pub fn learn_forward(&self, routers: impl IntoIterator<Item = IpAddr>) {
        self.lock().global.extend(routers);
    }

    /// The record's doubletree attribute.
    pub fn record(&self) -> TraceDtree {
        TraceDtree {
            firsthop: self.firsthop,
            lss_stop: self.lss_stop.map(Addr::from),
            gss_stop: self.gss_stop.map(Addr::from),
            lss_name: self.lss_name.clone(),
            flags: if self.noback { DTREE_FLAG_NOBACK } else { 0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn opts(cmd: &str) -> TraceOptions {
        let w: Vec<&str> = cmd.split_whitespace().collect();
        TraceOptions::parse(&w).unwrap()
    }

    #[test]
    fn only_doubletree_traces_get_state_and_gss_entries_persist() {
        let sets: Arc<Mutex<StopSets>> = Default::default();
        assert!(Dtree::new(&opts("-f 3 192.0.2.1"), sets.clone()).is_none());
        let d = Dtree::new(&opts("-f 3 -z 198.51.100.7 192.0.2.1"), sets.clone()).unwrap();
        assert!(sets.lock().unwrap().global.contains(&ip("198.51.100.7")));
        assert!(!d.noback());
        let d = Dtree::new(&opts("-O dtree-noback -f 3 192.0.2.1"), sets).unwrap();
        assert!(d.noback());
        assert_eq!(d.record().flags, DTREE_FLAG_NOBACK);
    }

    #[test]
    fn backwards_probing_stops_at_the_local_stop_set_but_not_at_its_own_loop() {
        let sets: Arc<Mutex<StopSets>> = Default::default();
        let mut d = Dtree::new(&opts("-f 5 -Z vp 192.0.2.1"), sets.clone()).unwrap();
        let (a, b) = (ip("198.51.100.4"), ip("198.51.100.3"));
        assert_eq!(d.back_hop(4, &[a]), Back::Continue);
        // a loop within this trace goes on
        assert_eq!(d.back_hop(3, &[a]), Back::Continue);
        assert_eq!(d.back_hop(2, &[]), Back::Continue);
        assert_eq!(d.back_hop(1, &[b]), Back::Stop);
        assert_eq!(d.record().lss_stop, None);
        assert_eq!(sets.lock().unwrap().local["vp"], HashSet::from([a, b]));
        // the next trace with the same set stops where it meets a
        let mut d = Dtree::new(&opts("-f 5 -Z vp 192.0.2.2"), sets.clone()).unwrap();
        assert_eq!(d.back_hop(4, &[ip("198.51.100.9")]), Back::Continue);
        assert_eq!(d.back_hop(3, &[a]), Back::Stop);
        assert_eq!(d.record().lss_stop, Some(Addr::from(a)));
        assert_eq!(d.record().lss_name.as_deref(), Some("vp"));
    }
}
