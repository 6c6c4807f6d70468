//! Sources of measurement commands — the command line or list file, and each attached control
//! client — and the weighted round-robin that mixes them by priority.

use super::sink::Sink;
use crate::command::DefaultCommand;
use crate::input::InputLine;
use crate::task::Task;
use scamper_warts::{Cycle, List};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::mpsc;

pub type SourceId = u32;

/// Scale of the stride scheduler: a source of priority p advances its pass by STRIDE / p each
/// time it is served, so over time it is served in proportion to p.
const STRIDE: u64 = 1 << 20;

/// Something waiting in a source's queue.
pub enum Queued {
    /// Taken first from a control source: its list and cycle-start records go out.
    CycleStart,
    /// A parsed command with its per-source task id.
    Task { id: u32, task: Box<dyn Task> },
}

/// Lines of the command line or a list file.
pub enum LineFeed {
    /// From the reader thread (stdin or a pipe, which may block).
    Channel(mpsc::Receiver<Result<InputLine, String>>),
    /// Read on the engine's own thread: the positional arguments, or a regular file, which
    /// never blocks for long; this saves a thread hand-off per line.
    Direct(Box<dyn Iterator<Item = Result<InputLine, String>> + Send>),
}

/// Where the source's commands come from.
pub enum Feed {
    /// `-i`, `-I`, `-f`: lines parsed when taken.
    Lines {
        lines: LineFeed,
        peeked: Option<Result<InputLine, String>>,
        closed: bool,
        /// The default command of address lines, parsed once per family.
        defaults: DefaultCommand,
    },
    /// An attached client: commands parsed on arrival (the client is told OK id-N at once).
    Client { client: u64 },
}

pub struct Source {
    pub id: SourceId,
    pub name: String,
    pub list: Arc<List>,
    pub cycle: Arc<Cycle>,
    pub priority: u32,
    pub feed: Feed,
    pub queue: VecDeque<Queued>,
    /// Tasks of this source in progress.
    pub active: usize,
    /// No more commands will arrive (input exhausted, or the client said `done`).
    pub done: bool,
    pub sink: Sink,
    /// Next task id handed to a client (1.., wrapping to 1, never 0).
    next_task_id: u32,
    pass: u64,
}

impl Source {
    pub fn new(
        name: String,
        list: Arc<List>,
        cycle: Arc<Cycle>,
        priority: u32,
        feed: Feed,
        sink: Sink,
    ) -> Source {
        Source {
            id: 0,
            name,
            list,
            cycle,
            priority: priority.max(1),
            feed,
            queue: VecDeque::new(),
            active: 0,
            done: false,
            sink,
            next_task_id: 1,
            pass: 0,
        }
    }

    pub fn next_task_id(&mut self) -> u32 {
        let id = self.next_task_id;
        self.next_task_id = if id == u32::MAX { 1 } else { id + 1 };
        id
    }

    /// Is a command (or marker) ready to be taken now?
    pub fn has_work(&mut self) -> bool {
        if !self.queue.is_empty() {
            return true;
        }
        if let Feed::Lines {
            lines,
            peeked,
            closed,
            ..
        } = &mut self.feed
        {
            if peeked.is_some() {
                return true;
            }
            if *closed {
                return false;
            }
            let next = match lines {
                LineFeed::Channel(rx) => match rx.try_recv() {
                    Ok(item) => Some(item),
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                    Err(mpsc::error::TryRecvError::Empty) => return false,
                },
                LineFeed::Direct(it) => it.next(),
            };
            match next {
                Some(item) => {
                    *peeked = Some(item);
                    return true;
                }
                None => {
                    *closed = true;
                    self.done = true;
                }
            }
        }
        false
    }

    /// Every command taken and every task finished.
    pub fn finished(&self) -> bool {
        self.done && self.queue.is_empty() && self.active == 0 && !self.has_peeked()
    }

    fn has_peeked(&self) -> bool {
        matches!(
            &self.feed,
            Feed::Lines {
                peeked: Some(_),
                ..
            }
        )
    }
}

/// Every source, and the scheduler that picks which one to serve next.
#[derive(Default)]
pub struct Sources {
    map: BTreeMap<SourceId, Source>,
    next_id: SourceId,
    /// Pass of the source served last: the scheduler's clock. A source that was idle (or is
    /// new) starts from here, so it cannot claim a burst of turns for the time it had no work.
    vtime: u64,
}

impl Sources {
    pub fn add(&mut self, mut s: Source) -> SourceId {
        self.next_id += 1;
        s.id = self.next_id;
        s.pass = self.vtime;
        self.map.insert(s.id, s);
        self.next_id
    }

    pub fn get(&mut self, id: SourceId) -> Option<&mut Source> {
        self.map.get_mut(&id)
    }

    pub fn remove(&mut self, id: SourceId) -> Option<Source> {
        self.map.remove(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Source> {
        self.map.values()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Source> {
        self.map.values_mut()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The source with work whose turn it is (lowest pass), charged for one command.
    pub fn pick(&mut self) -> Option<SourceId> {
        let mut best: Option<(u64, SourceId)> = None;
        for s in self.map.values_mut() {
            let pass = s.pass.max(self.vtime);
            if s.has_work() && best.is_none_or(|(p, _)| pass < p) {
                best = Some((pass, s.id));
            }
        }
        let (pass, id) = best?;
        let s = self.map.get_mut(&id).expect("picked");
        s.pass = pass + STRIDE / s.priority as u64;
        self.vtime = pass;
        Some(id)
    }

    /// True if any source may still produce commands or has tasks running.
    pub fn any_unfinished(&self) -> bool {
        self.map.values().any(|s| !s.finished())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(priority: u32) -> Source {
        let list = Arc::new(List::default());
        let cycle = Arc::new(Cycle {
            list: list.clone(),
            ..Default::default()
        });
        let mut s = Source::new(
            "s".into(),
            list,
            cycle,
            priority,
            Feed::Client { client: 0 },
            Sink::Discard,
        );
        for _ in 0..1000 {
            s.queue.push_back(Queued::CycleStart);
        }
        s
    }

    #[test]
    fn sources_are_served_in_proportion_to_priority() {
        let mut all = Sources::default();
        let a = all.add(source(1));
        let b = all.add(source(3));
        let mut counts = [0, 0];
        for _ in 0..400 {
            let id = all.pick().unwrap();
            all.get(id).unwrap().queue.pop_front();
            counts[usize::from(id == b)] += 1;
        }
        assert_eq!(counts, [100, 300], "a={a} b={b}");
    }

    #[test]
    fn an_idle_source_is_skipped_and_a_newcomer_does_not_starve_others() {
        let mut all = Sources::default();
        let a = all.add(source(1));
        let mut idle = source(5);
        idle.queue.clear();
        all.add(idle);
        for _ in 0..50 {
            assert_eq!(all.pick(), Some(a));
        }
        let c = all.add(source(1));
        let picks: Vec<_> = (0..10).map(|_| all.pick().unwrap()).collect();
        assert_eq!(picks.iter().filter(|&&p| p == c).count(), 5, "{picks:?}");
    }

    #[test]
    fn task_ids_wrap_to_one() {
        let mut s = source(1);
        s.next_task_id = u32::MAX;
        assert_eq!(s.next_task_id(), u32::MAX);
        assert_eq!(s.next_task_id(), 1);
    }
}
