//! List and cycle objects (warts types 1-4).

use std::sync::Arc;

/// A list of measurements (`-L` id, `-l` name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct List {
    /// List id assigned by the user.
    pub id: u32,
    pub name: String,
    pub descr: Option<String>,
    pub monitor: Option<String>,
}

/// A cycle over a list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cycle {
    pub list: Arc<List>,
    /// Cycle id assigned by the user.
    pub id: u32,
    /// Seconds since the epoch.
    pub start_time: u32,
    /// Seconds since the epoch; 0 while the cycle is running.
    pub stop_time: u32,
    pub hostname: Option<String>,
}

impl Cycle {
    /// Equality used to decide whether a cycle was already written to a file: the stop time
    /// is not part of a cycle's identity.
    pub fn same_cycle(&self, other: &Cycle) -> bool {
        self.list == other.list
            && self.id == other.id
            && self.start_time == other.start_time
            && self.hostname == other.hostname
    }
}
