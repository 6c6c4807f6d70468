//! The sans-IO heart of the engine: tasks, their timers, the packets-per-second budget, the
//! probe-signature hold time and reply dispatch. The I/O loop feeds it times and packets and
//! sends what it returns; tests drive it with fake tasks and a fake clock.

use crate::task::{Action, MatchKey, Probe, Record, Task, Time};
use scamper_packet::Rx;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

pub type TaskId = u64;

/// A hash map for the engine's per-task tables. SipHash showed up in profiles at 10,000 tasks a
/// second; these keys are task ids and probe signatures the engine made itself, hashed with a
/// multiply-rotate function under a per-process random seed.
pub type FastMap<K, V> = HashMap<K, V, FastHash>;

/// The [`FastMap`] hasher's builder: a random seed per process.
#[derive(Clone, Copy, Debug)]
pub struct FastHash(u64);

impl Default for FastHash {
    fn default() -> Self {
        // RandomState is seeded from the OS once per thread; one SipHash of nothing gives 64
        // random-enough bits without another dependency.
        FastHash(std::collections::hash_map::RandomState::new().hash_one(()) | 1)
    }
}

impl BuildHasher for FastHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0)
    }
}

/// Multiply-rotate hashing of whole words (the FxHash construction).
pub struct FastHasher(u64);

const FAST_K: u64 = 0xf135_7aea_2e62_a9c5;

impl FastHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(26) ^ w).wrapping_mul(FAST_K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 59));
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // hashbrown takes its control bits from the top 7 bits: fold the high-entropy bits in.
        self.0.rotate_left(20)
    }
}

/// Task timers in millisecond buckets. Nearly every timer is "now + a fixed wait", so it lands
/// in the newest bucket, and a run takes a whole bucket at a time: cheaper than a binary heap
/// of thousands of entries, whose pops showed up in profiles. A timer fires in the first run
/// at or after the end of its millisecond; the loop sleeps at least a millisecond and tokio's
/// timers round to one, so this costs no precision.
///
/// Buckets whose ticks arrive in increasing order (the common case) form a queue; a timer due
/// before the newest bucket (a shorter wait than the ones set before it) goes to an ordered
/// map instead. Both are searched for the earliest bucket.
#[derive(Default)]
struct Timers {
    /// (tick (ms), [(task, timer generation)]), ticks strictly increasing.
    queue: VecDeque<(u64, Vec<(TaskId, u64)>)>,
    /// Buckets of ticks that came out of order.
    other: BTreeMap<u64, Vec<(TaskId, u64)>>,
    /// Emptied buckets, kept for reuse.
    spare: Vec<Vec<(TaskId, u64)>>,
}

const TICK_NS: u64 = 1_000_000;

impl Timers {
    fn push(&mut self, at_ns: u64, id: TaskId, gen: u64) {
        let tick = at_ns.div_ceil(TICK_NS);
        match self.queue.back_mut() {
            Some((last, bucket)) if *last == tick => bucket.push((id, gen)),
            Some((last, _)) if *last > tick => {
                let spare = &mut self.spare;
                self.other
                    .entry(tick)
                    .or_insert_with(|| spare.pop().unwrap_or_default())
                    .push((id, gen));
            }
            _ => {
                // A new bucket starts with room for a few timers: growing from empty takes the
                // slow path of Vec's growth, once per millisecond.
                let mut bucket = self.spare.pop().unwrap_or_else(|| Vec::with_capacity(8));
                bucket.push((id, gen));
                self.queue.push_back((tick, bucket));
            }
        }
    }

    /// The earliest tick, and whether it is the queue's (else the map's).
    fn first(&self) -> Option<(u64, bool)> {
        let q = self.queue.front().map(|(t, _)| *t);
        let o = self.other.first_key_value().map(|(t, _)| *t);
        match (q, o) {
            (Some(q), Some(o)) if o < q => Some((o, false)),
            (Some(q), _) => Some((q, true)),
            (None, Some(o)) => Some((o, false)),
            (None, None) => None,
        }
    }

    /// When the earliest bucket is due.
    fn next(&self) -> Option<Time> {
        self.first()
            .map(|(t, _)| Duration::from_nanos(t.saturating_mul(TICK_NS)))
    }

    /// The earliest bucket, if due at `now_ns`.
    fn pop_due(&mut self, now_ns: u64) -> Option<Vec<(TaskId, u64)>> {
        let (tick, in_queue) = self.first()?;
        if tick.saturating_mul(TICK_NS) > now_ns {
            return None;
        }
        if in_queue {
            self.queue.pop_front().map(|(_, v)| v)
        } else {
            self.other.pop_first().map(|(_, v)| v)
        }
    }

    fn recycle(&mut self, mut v: Vec<(TaskId, u64)>) {
        if self.spare.len() < 64 && v.capacity() <= 4096 {
            v.clear();
            self.spare.push(v);
        }
    }
}

/// The probe signatures a task has used: nearly always one, so the first lives inline and a
/// task needs no allocation for it.
#[derive(Default)]
struct Keys {
    first: Option<MatchKey>,
    more: Vec<MatchKey>,
}

impl Keys {
    fn contains(&self, k: &MatchKey) -> bool {
        self.first.as_ref() == Some(k) || self.more.contains(k)
    }

    fn push(&mut self, k: MatchKey) {
        if self.first.is_none() {
            self.first = Some(k);
        } else {
            self.more.push(k);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &MatchKey> {
        self.first.iter().chain(self.more.iter())
    }
}

/// Packets-per-second budget as a token bucket. The burst is capped at 10 ms worth of probes so
/// a wake-up that came late cannot flood the link, while one wake-up per millisecond still
/// reaches rates far beyond what one timer per probe could.
#[derive(Debug)]
pub struct TokenBucket {
    pps: u32,
    tokens: f64,
    burst: f64,
    last: Time,
}

impl TokenBucket {
    /// `pps` 0 means no limit.
    pub fn new(pps: u32, now: Time) -> Self {
        let burst = if pps == 0 {
            f64::INFINITY
        } else {
            (pps as f64 / 100.0).max(1.0)
        };
        TokenBucket {
            pps,
            tokens: 1.0f64.min(burst),
            burst,
            last: now,
        }
    }

    pub fn set_pps(&mut self, pps: u32, now: Time) {
        *self = TokenBucket::new(pps, now);
    }

    fn refill(&mut self, now: Time) {
        if self.pps == 0 {
            return;
        }
        if now > self.last {
            let dt = (now - self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.pps as f64).min(self.burst);
            self.last = now;
        }
    }

    /// Take one token if one is available.
    pub fn take(&mut self, now: Time) -> bool {
        if self.pps == 0 {
            return true;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How many probes the bucket would allow now (infinite when unlimited).
    pub fn count(&mut self, now: Time) -> f64 {
        self.refill(now);
        if self.pps == 0 {
            f64::INFINITY
        } else {
            self.tokens
        }
    }

    /// Whether a token is available now, without taking it.
    pub fn available(&mut self, now: Time) -> bool {
        self.refill(now);
        self.pps == 0 || self.tokens >= 1.0
    }

    /// When the next token will be available.
    pub fn next_token(&self) -> Time {
        if self.pps == 0 || self.tokens >= 1.0 {
            return self.last;
        }
        let wait = (1.0 - self.tokens) / self.pps as f64;
        self.last + Duration::from_secs_f64(wait)
    }
}

struct Slot {
    task: Box<dyn Task>,
    /// A probe the task returned that still waits for a token or for its signature to be free.
    /// Boxed: it is there only briefly, and inline it would double the size of every slot
    /// (thousands are live at high rates).
    pending: Option<Box<Probe>>,
    keys: Keys,
    /// Timer generation; stale heap entries carry an older one.
    gen: u64,
    /// Opaque tag from whoever submitted the task (e.g. the control-socket client).
    tag: u64,
}

/// Who holds a probe signature, packed into 8 bytes (an enum of a task id and a `Duration`
/// takes 16): the map keeps every finished task's signatures for the hold time, tens of
/// thousands of them at high rates. The top bit marks a release time in nanoseconds. Two
/// halves, so that with the 20-byte key an entry takes 28 bytes, not 32.
#[derive(Debug, Clone, Copy)]
struct Holder([u32; 2]);

/// What a [`Holder`] says.
enum Held {
    Task(TaskId),
    /// Released by a finished task; free again at this time.
    Until(Time),
}

const RELEASED: u64 = 1 << 63;

impl Holder {
    fn new(v: u64) -> Holder {
        Holder([(v >> 32) as u32, v as u32])
    }

    fn task(id: TaskId) -> Holder {
        debug_assert!(id < RELEASED);
        Holder::new(id)
    }

    fn until(t: Time) -> Holder {
        Holder::new(RELEASED | nanos(t).min(!RELEASED))
    }

    fn get(self) -> Held {
        let v = (u64::from(self.0[0]) << 32) | u64::from(self.0[1]);
        if v & RELEASED == 0 {
            Held::Task(v)
        } else {
            Held::Until(Duration::from_nanos(v & !RELEASED))
        }
    }
}

/// A time as nanoseconds (saturating, in the year 2554), for the compact timer and hold
/// entries.
fn nanos(t: Time) -> u64 {
    u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)
}

/// A finished task's record and the tag it was submitted with.
pub struct Finished {
    pub record: Record,
    pub tag: u64,
}

pub struct Core {
    /// Boxed slots: with tasks starting and finishing all the time, tombstones make the table
    /// grow to about 3 buckets per task in progress (32,768 for the 10,000 of -p 10000), so a
    /// bucket of 16 bytes rather than 72 matters.
    slots: FastMap<TaskId, Box<Slot>>,
    keys: FastMap<MatchKey, Holder>,
    /// (task, timer generation) by due millisecond; an entry whose generation is no longer the
    /// task's is stale and skipped.
    timers: Timers,
    /// Tasks that received a reply, with their timer generation: polled at the next `run`
    /// without a trip through the heap (a task that already waits there for its timeout would
    /// otherwise leave two entries in it).
    woken: Vec<(TaskId, u64)>,
    /// Tasks with a pending probe, in the order they became ready: served first-come so that no
    /// source starves another.
    ready: VecDeque<TaskId>,
    bucket: TokenBucket,
    hold: Duration,
    next_id: TaskId,
    finished: Vec<Finished>,
    /// In-progress copies of results (`-y stream`).
    snapshots: Vec<Finished>,
    sent: u64,
    next_sweep: Time,
    /// Boxes of sent probes, for the next pending ones (an allocation less per probe): the
    /// boxes themselves are what is kept.
    #[allow(clippy::vec_box)]
    spare_probes: Vec<Box<Probe>>,
}

/// Spare probe boxes kept at most: one per task whose probe waits at the same time would be
/// the most that is ever needed at once, a few suffice for the common pattern.
const SPARE_PROBES: usize = 32;

/// How long to recheck a probe whose signature another live task holds.
const CONFLICT_RETRY: Duration = Duration::from_millis(100);

impl Core {
    pub fn new(pps: u32, hold: Duration, now: Time) -> Core {
        Core {
            slots: FastMap::default(),
            keys: FastMap::default(),
            timers: Timers::default(),
            woken: Vec::new(),
            ready: VecDeque::new(),
            bucket: TokenBucket::new(pps, now),
            hold,
            next_id: 1,
            finished: Vec::new(),
            snapshots: Vec::new(),
            sent: 0,
            next_sweep: now,
            spare_probes: Vec::new(),
        }
    }

    pub fn set_pps(&mut self, pps: u32, now: Time) {
        self.bucket.set_pps(pps, now);
    }

    /// Number of tasks in progress.
    pub fn active(&self) -> usize {
        self.slots.len()
    }

    /// Probes sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// True if the engine could send another probe now: the bucket holds more tokens than
    /// probes are queued for them. Used to admit new tasks lazily when the window is
    /// unlimited, so tasks start as fast as the rate allows and no faster (a task admitted
    /// early only waits, holding memory and delaying the follow-up probes of others).
    pub fn has_capacity(&mut self, now: Time) -> bool {
        self.bucket.count(now) >= self.ready.len() as f64 + 1.0
    }

    /// Start a task; it is polled at the next `run`.
    pub fn add(&mut self, task: Box<dyn Task>, tag: u64, now: Time) -> TaskId {
        let id = self.next_id;
        self.next_id += 1;
        let slot = Box::new(Slot {
            task,
            pending: None,
            keys: Keys::default(),
            gen: 0,
            tag,
        });
        self.slots.insert(id, slot);
        // Polled at once: its first probe joins the ready queue now, which is what
        // `has_capacity` counts.
        self.poll_task(id, now);
        id
    }

    /// When `run` next has something to do.
    /// When the rate next allows a probe.
    pub fn next_token(&self) -> Time {
        self.bucket.next_token()
    }

    pub fn next_deadline(&self) -> Option<Time> {
        if !self.woken.is_empty() {
            return Some(Duration::ZERO);
        }
        let timer = self.timers.next();
        let token = if self.ready.is_empty() {
            None
        } else {
            Some(self.bucket.next_token())
        };
        match (timer, token) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Deliver a received packet to the task holding `key`.
    pub fn deliver(&mut self, key: &MatchKey, pkt: &Rx, raw: &[u8], rx: Time) {
        if let Some(Held::Task(id)) = self.keys.get(key).map(|h| h.get()) {
            if let Some(slot) = self.slots.get_mut(&id) {
                slot.task.on_response_raw(pkt, raw, rx);
                // Let the task react (e.g. stop early) at the next run; the new generation
                // makes its pending timer stale.
                if slot.pending.is_none() {
                    slot.gen += 1;
                    self.woken.push((id, slot.gen));
                }
            }
        }
    }

    /// Can `id` use a signature held by `holder` now? If not, when should it try again?
    fn key_free(holder: Option<Holder>, id: TaskId, now: Time) -> Result<(), Time> {
        match holder.map(Holder::get) {
            None => Ok(()),
            Some(Held::Task(t)) if t == id => Ok(()),
            Some(Held::Task(_)) => Err(now + CONFLICT_RETRY),
            Some(Held::Until(t)) if t <= now => Ok(()),
            Some(Held::Until(t)) => Err(t),
        }
    }

    /// Do everything due at `now`: poll tasks whose timers expired and send probes while the
    /// budget allows. `send` transmits one probe and returns its transmit time.
    pub fn run(&mut self, now: Time, send: &mut dyn FnMut(&Probe) -> std::io::Result<Time>) {
        let now_ns = nanos(now);
        let mut woken = std::mem::take(&mut self.woken);
        for (id, gen) in woken.drain(..) {
            if self.slots.get(&id).map(|s| s.gen) == Some(gen) {
                self.poll_task(id, now);
            }
        }
        // Keep the allocation for the next batch.
        if self.woken.is_empty() {
            self.woken = woken;
        }
        while let Some(mut due) = self.timers.pop_due(now_ns) {
            // A stale entry (the task was rescheduled since) is skipped; a current one either
            // polls the task or, if it holds a parked probe, puts it back in the ready queue.
            for (id, gen) in due.drain(..) {
                if self.slots.get(&id).map(|s| s.gen) == Some(gen) {
                    self.poll_task(id, now);
                }
            }
            self.timers.recycle(due);
        }
        while let Some(&id) = self.ready.front() {
            if !self.bucket.available(now) {
                break;
            }
            self.ready.pop_front();
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            let Some(probe) = slot.pending.take() else {
                continue;
            };
            // One signature-map operation both checks the signature and claims it.
            let entry = self.keys.entry(probe.key);
            let holder = match &entry {
                Entry::Occupied(o) => Some(*o.get()),
                Entry::Vacant(_) => None,
            };
            if let Err(retry) = Self::key_free(holder, id, now) {
                // Parked: the timer's poll sees the pending probe and queues it again.
                slot.pending = Some(probe);
                slot.gen += 1;
                self.timers.push(nanos(retry), id, slot.gen);
                continue;
            }
            self.bucket.take(now);
            let tx = match send(&probe) {
                Ok(tx) => tx,
                Err(e) => {
                    crate::log::warn(&format!("could not send probe to {}: {e}", probe.dst));
                    now
                }
            };
            self.sent += 1;
            match entry {
                Entry::Occupied(mut o) => {
                    o.insert(Holder::task(id));
                }
                Entry::Vacant(v) => {
                    v.insert(Holder::task(id));
                }
            }
            if !slot.keys.contains(&probe.key) {
                slot.keys.push(probe.key);
            }
            let mut probe = probe;
            slot.task.recycle(std::mem::take(&mut probe.packet));
            if self.spare_probes.len() < SPARE_PROBES {
                self.spare_probes.push(probe);
            }
            slot.task.on_sent(tx);
            if let Some(record) = slot.task.snapshot(tx) {
                self.snapshots.push(Finished {
                    record,
                    tag: slot.tag,
                });
            }
            // What the poll after a send nearly always says (wait for the reply or the
            // timeout), when the task can tell without one.
            if let Some(t) = slot.task.wait_after_send(now) {
                slot.gen += 1;
                self.timers.push(nanos(t.max(now)), id, slot.gen);
            } else if Self::poll_slot(
                slot,
                id,
                now,
                &mut self.ready,
                &mut self.timers,
                &mut self.spare_probes,
            ) {
                self.complete(id, now);
            }
        }
    }

    fn poll_task(&mut self, id: TaskId, now: Time) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if Self::poll_slot(
            slot,
            id,
            now,
            &mut self.ready,
            &mut self.timers,
            &mut self.spare_probes,
        ) {
            self.complete(id, now);
        }
    }

    /// Poll the task in `slot` (already looked up: no second map operation) and queue its
    /// probe or set its timer. True if the task is done (the caller completes it).
    #[allow(clippy::vec_box)] // see `spare_probes`
    fn poll_slot(
        slot: &mut Slot,
        id: TaskId,
        now: Time,
        ready: &mut VecDeque<TaskId>,
        timers: &mut Timers,
        spare: &mut Vec<Box<Probe>>,
    ) -> bool {
        if slot.pending.is_some() {
            ready.push_back(id);
            return false;
        }
        match slot.task.poll(now) {
            Action::Send(probe) => {
                slot.pending = Some(match spare.pop() {
                    Some(mut b) => {
                        *b = probe;
                        b
                    }
                    None => Box::new(probe),
                });
                ready.push_back(id);
                false
            }
            Action::WaitUntil(t) => {
                slot.gen += 1;
                timers.push(nanos(t.max(now)), id, slot.gen);
                false
            }
            Action::Done => true,
        }
    }

    /// Release a finished task's probe signatures: at once, or after the hold time.
    fn release_keys(&mut self, keys: &Keys, now: Time) {
        for key in keys.iter() {
            if self.hold.is_zero() {
                self.keys.remove(key);
            } else {
                self.keys.insert(*key, Holder::until(now + self.hold));
            }
        }
    }

    fn complete(&mut self, id: TaskId, now: Time) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        self.release_keys(&slot.keys, now);
        let record = slot.task.finish(now);
        self.finished.push(Finished {
            record,
            tag: slot.tag,
        });
    }

    /// Stop a task now; its record is still produced.
    pub fn halt(&mut self, id: TaskId, now: Time) {
        self.ready.retain(|&t| t != id);
        self.complete(id, now);
    }

    /// Drop a task without producing its record (its client went away). Its probe signatures
    /// are still held, so late replies cannot reach a new task.
    pub fn discard(&mut self, id: TaskId, now: Time) {
        self.ready.retain(|&t| t != id);
        if let Some(slot) = self.slots.remove(&id) {
            self.release_keys(&slot.keys, now);
        }
    }

    /// Stop every task (shutdown): records of tasks in progress are produced as they stand.
    pub fn halt_all(&mut self, now: Time) {
        let ids: Vec<TaskId> = self.slots.keys().copied().collect();
        for id in ids {
            self.halt(id, now);
        }
    }

    /// In-progress records produced since the last call.
    pub fn take_snapshots(&mut self) -> Vec<Finished> {
        std::mem::take(&mut self.snapshots)
    }

    /// Records of tasks finished since the last call.
    pub fn take_finished(&mut self) -> Vec<Finished> {
        std::mem::take(&mut self.finished)
    }

    /// Records of tasks finished since the last call, appended to `out` (whose allocation the
    /// core keeps using when it is empty, so the loop allocates nothing per turn).
    pub fn take_finished_into(&mut self, out: &mut Vec<Finished>) {
        if out.is_empty() {
            std::mem::swap(out, &mut self.finished);
        } else {
            out.append(&mut self.finished);
        }
    }

    /// True if in-progress records are waiting (`-y`).
    pub fn has_snapshots(&self) -> bool {
        !self.snapshots.is_empty()
    }

    /// Forget held signatures whose hold time has passed (bounded memory on long runs). The
    /// sweep walks every key, so it runs at most once a second, not on every loop turn.
    pub fn expire_holds(&mut self, now: Time) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + Duration::from_secs(1);
        self.keys
            .retain(|_, h| !matches!(h.get(), Held::Until(t) if t <= now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::PROTO_ICMP;
    use scamper_packet::{IpParams, Rx};
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::{Arc, Mutex};

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    fn t(ms: u64) -> Time {
        Duration::from_millis(ms)
    }

    #[derive(Default)]
    struct Log {
        sent: Vec<(u32, Time)>,
        responses: Vec<(u32, Time)>,
    }

    /// Sends `count` probes `gap` apart under one key, then waits `linger`.
    struct Fake {
        n: u32,
        dst: IpAddr,
        id: u16,
        count: u32,
        gap: Duration,
        linger: Duration,
        next: Time,
        sent: u32,
        last_tx: Time,
        log: Arc<Mutex<Log>>,
    }

    impl Task for Fake {
        fn dst(&self) -> IpAddr {
            self.dst
        }
        fn poll(&mut self, now: Time) -> Action {
            if self.sent < self.count {
                if now >= self.next {
                    let ip = IpParams::new(SRC, self.dst);
                    let packet =
                        scamper_packet::build_icmp_echo(&ip, self.id, self.sent as u16, &[])
                            .expect("valid echo");
                    return Action::Send(Probe {
                        dst: self.dst,
                        packet,
                        key: MatchKey {
                            peer: self.dst,
                            proto: PROTO_ICMP,
                            local_id: self.id,
                        },
                    });
                }
                return Action::WaitUntil(self.next);
            }
            if now >= self.last_tx + self.linger {
                Action::Done
            } else {
                Action::WaitUntil(self.last_tx + self.linger)
            }
        }
        fn on_sent(&mut self, tx: Time) {
            self.log.lock().unwrap().sent.push((self.n, tx));
            self.sent += 1;
            self.last_tx = tx;
            self.next = tx + self.gap;
        }
        fn on_response(&mut self, _pkt: &Rx, rx: Time) {
            self.log.lock().unwrap().responses.push((self.n, rx));
        }
        fn finish(self: Box<Self>, _now: Time) -> Record {
            Record::List(Arc::new(scamper_warts::List {
                id: self.n,
                ..Default::default()
            }))
        }
    }

    fn fake(n: u32, dst: [u8; 4], id: u16, count: u32, log: &Arc<Mutex<Log>>) -> Box<Fake> {
        Box::new(Fake {
            n,
            dst: IpAddr::V4(Ipv4Addr::from(dst)),
            id,
            count,
            gap: Duration::from_secs(1),
            linger: Duration::from_secs(1),
            next: Duration::ZERO,
            sent: 0,
            last_tx: Duration::ZERO,
            log: log.clone(),
        })
    }

    /// Run the core on a fake clock in 1 ms steps until `end`.
    fn drive(core: &mut Core, from: u64, end: u64) -> Vec<Finished> {
        let mut done = Vec::new();
        for ms in from..=end {
            core.run(t(ms), &mut |_| Ok(t(ms)));
            done.extend(core.take_finished());
        }
        done
    }

    #[test]
    fn token_bucket_holds_the_rate() {
        let mut b = TokenBucket::new(1000, t(0));
        let mut n = 0;
        for us in 0..1_000_000u64 {
            if b.take(Duration::from_micros(us)) {
                n += 1;
            }
        }
        assert!(
            (999..=1001).contains(&n),
            "{n} tokens in one second at 1000 pps"
        );
    }

    #[test]
    fn pps_budget_spaces_probes_across_tasks() {
        let log = Arc::new(Mutex::new(Log::default()));
        let mut core = Core::new(10, Duration::ZERO, t(0));
        for n in 0..20u32 {
            core.add(fake(n, [198, 51, 100, n as u8 + 1], 100, 1, &log), 0, t(0));
        }
        drive(&mut core, 0, 1000);
        let sent = &log.lock().unwrap().sent;
        // 10 pps: one probe at start (the bucket starts with one token), then one every 100 ms.
        assert_eq!(sent.len(), 11, "{sent:?}");
        for w in sent.windows(2) {
            assert!(w[1].1 - w[0].1 >= t(99), "{:?} then {:?}", w[0], w[1]);
        }
        // First come, first served.
        let order: Vec<u32> = sent.iter().map(|s| s.0).collect();
        assert_eq!(order, (0..11).collect::<Vec<_>>());
    }

    #[test]
    fn replies_reach_the_task_holding_the_key() {
        let log = Arc::new(Mutex::new(Log::default()));
        let mut core = Core::new(0, Duration::ZERO, t(0));
        core.add(fake(1, [198, 51, 100, 1], 7, 1, &log), 0, t(0));
        core.add(fake(2, [198, 51, 100, 2], 7, 1, &log), 0, t(0));
        drive(&mut core, 0, 5);
        let rx = scamper_packet::parse_ip(
            &scamper_packet::build_icmp_echo(&IpParams::new(SRC, SRC), 7, 0, &[]).unwrap(),
        )
        .unwrap();
        let key = MatchKey {
            peer: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
            proto: PROTO_ICMP,
            local_id: 7,
        };
        core.deliver(&key, &rx, &[], t(6));
        let unknown = MatchKey { local_id: 8, ..key };
        core.deliver(&unknown, &rx, &[], t(7));
        assert_eq!(log.lock().unwrap().responses, vec![(2, t(6))]);
    }

    #[test]
    fn hold_time_delays_a_second_task_with_the_same_signature() {
        let log = Arc::new(Mutex::new(Log::default()));
        let mut core = Core::new(0, Duration::from_secs(2), t(0));
        core.add(fake(1, [198, 51, 100, 1], 9, 1, &log), 0, t(0));
        core.add(fake(2, [198, 51, 100, 1], 9, 1, &log), 0, t(0));
        let done = drive(&mut core, 0, 6000);
        assert_eq!(done.len(), 2);
        let sent = &log.lock().unwrap().sent;
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0], (1, t(0)));
        // Task 1 finishes at 1 s (linger), its signature is held for 2 s more.
        assert_eq!(sent[1].0, 2);
        assert!(sent[1].1 >= t(3000), "second probe at {:?}", sent[1].1);
    }

    #[test]
    fn timers_fire_in_order_never_early() {
        let mut tm = Timers::default();
        tm.push(nanos(Duration::from_micros(2_500)), 1, 1);
        tm.push(nanos(t(1)), 2, 1);
        tm.push(nanos(Duration::from_micros(2_100)), 3, 1);
        assert_eq!(tm.next(), Some(t(1)));
        assert_eq!(tm.pop_due(nanos(Duration::from_micros(999))), None);
        assert_eq!(tm.pop_due(nanos(t(1))), Some(vec![(2, 1)]));
        // 2.1 ms and 2.5 ms share the bucket that ends at 3 ms.
        assert_eq!(tm.pop_due(nanos(Duration::from_micros(2_600))), None);
        let due = tm.pop_due(nanos(t(3))).unwrap();
        assert_eq!(due, vec![(1, 1), (3, 1)]);
        tm.recycle(due);
        assert_eq!(tm.next(), None);
    }

    #[test]
    fn timers_out_of_order_fire_in_tick_order() {
        let mut tm = Timers::default();
        // In order, then two earlier ones (one sharing a queued tick), then a later one.
        for (ms, id) in [(5, 1), (9, 2), (3, 3), (5, 4), (12, 5)] {
            tm.push(nanos(t(ms)), id, 1);
        }
        let mut fired = Vec::new();
        for ms in 0..=12 {
            while let Some(due) = tm.pop_due(nanos(t(ms))) {
                assert!(!due.is_empty());
                fired.extend(due.iter().map(|&(id, _)| (ms, id)));
                tm.recycle(due);
            }
        }
        fired.sort();
        assert_eq!(fired, vec![(3, 3), (5, 1), (5, 4), (9, 2), (12, 5)]);
        assert_eq!(tm.next(), None);
    }

    #[test]
    fn fast_hasher_spreads_nearby_keys() {
        let b = FastHash::default();
        let hashes: std::collections::HashSet<u64> = (0..10_000u64)
            .map(|i| {
                let k = MatchKey {
                    peer: IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i as u32)),
                    proto: PROTO_ICMP,
                    local_id: 7,
                };
                b.hash_one(k) >> 57
            })
            .collect();
        // hashbrown uses the top 7 bits as a tag: all 128 values occur.
        assert_eq!(hashes.len(), 128);
    }

    #[test]
    fn holder_packs_ids_and_times_exactly() {
        for id in [1, u64::from(u32::MAX) + 7, RELEASED - 1] {
            assert!(matches!(Holder::task(id).get(), Held::Task(t) if t == id));
        }
        for at in [t(0), Duration::new(1_795_000_000, 123_456_789)] {
            assert!(matches!(Holder::until(at).get(), Held::Until(u) if u == at));
        }
    }

    #[test]
    fn halt_all_produces_every_record() {
        let log = Arc::new(Mutex::new(Log::default()));
        let mut core = Core::new(0, Duration::ZERO, t(0));
        for n in 0..5u32 {
            core.add(fake(n, [198, 51, 100, n as u8 + 1], 1, 10, &log), 0, t(0));
        }
        drive(&mut core, 0, 10);
        core.halt_all(t(11));
        assert_eq!(core.take_finished().len(), 5);
        assert_eq!(core.active(), 0);
    }
}
