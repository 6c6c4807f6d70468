//! The engine's I/O loop: it takes commands from its sources (the command line or list file,
//! and attached control clients) within the window, drives [`core::Core`] with the clock and
//! received packets, writes finished records to each source's sink, and acts on the helper's
//! reload and exit notices.

mod clients;
pub mod core;
pub mod datalink;
pub mod dispatch;
pub mod net;
pub mod netlink;
mod receive;
mod routes;
pub mod sink;
pub mod sources;
mod wakeup;

use crate::command::{self, Command, DefaultCommand};
use crate::config_file::Config;
use crate::control::server::{self, ClientEvent};
use crate::control::ClientConn;
use crate::dnp::DoNotProbe;
use crate::helper_link::{self, Notice, Privileged};
use crate::input::{self, InputKind, InputReader};
use crate::options::{Mode, RunOptions};
use crate::task::{Task, TaskEnv, Time};
use crate::{log, reload};
use net::{RxKind, RxSocket, TxSockets};
use receive::{Receiver, WakePolicy};
use scamper_proto::{Family, ReopenFile, Request};
use scamper_warts::{Cycle, List, Record, RecordWriter};
use sink::Sink;
use sources::{Feed, LineFeed, Queued, Source, SourceId, Sources};
use std::collections::HashMap;
use std::io::BufRead;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// Wall-clock time now. Read as a timespec and made a `Duration` directly: taken for every
/// probe sent, and `SystemTime::duration_since` costs more than the clock read itself. Zero
/// before 1970, as `duration_since(UNIX_EPOCH)` gave (std's `SystemTime::now` reads the same
/// clock and treats a failed read as impossible, so there is nothing to fall back to).
pub fn now() -> Time {
    let Ok(t) = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME) else {
        return Duration::ZERO;
    };
    match (u64::try_from(t.tv_sec()), u32::try_from(t.tv_nsec())) {
        (Ok(sec), Ok(nsec)) if nsec < 1_000_000_000 => Duration::new(sec, nsec),
        _ => Duration::ZERO,
    }
}

/// Where commands come from.
pub enum Input {
    /// `-f` naming a regular file, read lazily.
    RegularFile(Box<dyn BufRead + Send>),
    /// `-f -` or a pipe, read lazily by a thread.
    Stream(Box<dyn BufRead + Send>),
    /// `-i` / `-I`: the positional arguments.
    Args,
    /// Control sockets only.
    None,
}

/// Everything the prober needs, prepared before the fork.
pub struct EngineParams {
    pub opts: RunOptions,
    pub link: OwnedFd,
    pub output: Box<dyn std::io::Write + Send>,
    pub input: Input,
    pub config: Config,
    pub dnp: DoNotProbe,
    pub default_sport: u16,
    /// The nameserver for `-O ptr` (`-n`, else the first in /etc/resolv.conf).
    pub nameserver: Option<std::net::SocketAddr>,
    /// `-R`: the controller to connect out to, prepared before confinement.
    pub remote: Option<crate::remote::RemoteConfig>,
    /// What the sandbox reported (logged once the engine runs).
    pub sandbox_note: String,
}

/// How long `-O ptr` waits for names before writing a trace without them.
const PTR_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes of output buffered before a write.
const OUTPUT_BUFFER: usize = 1 << 16;

/// A wait at least this long counts as idle: buffered output is pushed out first.
const IDLE: Duration = Duration::from_millis(100);

/// Lines read ahead of the tasks that use them: memory follows this, not the list's length.
const READ_AHEAD: usize = 256;

/// The lines of the command line or list file. Stdin and pipes are read by a thread into a
/// bounded channel, so a slow producer blocks that thread, never the engine; `wake` is poked
/// after each line. Regular files and the positional arguments are read in place.
fn line_feed(p: &mut EngineParams, wake: Arc<Notify>) -> Result<Option<LineFeed>, String> {
    let kind = InputKind::from_options(&p.opts);
    let reader = match std::mem::replace(&mut p.input, Input::None) {
        Input::None => return Ok(None),
        // The entry point already refused commands that do not parse (start-up error).
        Input::Args => {
            let lines = input::positional_lines(&p.opts).into_iter().map(Ok);
            return Ok(Some(LineFeed::Direct(Box::new(lines))));
        }
        Input::RegularFile(reader) => {
            let lines = InputReader::new(reader, kind).map(|r| r.map_err(|e| e.to_string()));
            return Ok(Some(LineFeed::Direct(Box::new(lines))));
        }
        Input::Stream(reader) => reader,
    };
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || {
            for item in InputReader::new(reader, kind) {
                if tx.blocking_send(item.map_err(|e| e.to_string())).is_err() {
                    return;
                }
                wake.notify_one();
            }
            drop(tx);
            wake.notify_one();
        })
        .map_err(|e| format!("could not start the input reader: {e}"))?;
    Ok(Some(LineFeed::Channel(rx)))
}

/// Run the prober until its work is done or the helper says exit. Returns the exit status,
/// with which the caller ends the process at once: everything the engine holds is left to the
/// kernel to release (output is flushed and files finished before this returns).
pub fn run(p: EngineParams) -> i32 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log::error(&format!("could not start the runtime: {e}"));
            return 1;
        }
    };
    let code = rt.block_on(async move {
        match Engine::start(p).await {
            Ok(mut engine) => {
                let code = engine.main_loop().await;
                // The process exits next (the caller's promise, see above): the kernel closes
                // the sockets and frees the memory at once, so the engine's destructors (and
                // the code pages they would fault in) are skipped.
                std::mem::forget(engine);
                code
            }
            Err(e) => {
                log::error(&e);
                1
            }
        }
    });
    // Likewise the runtime and its drivers.
    std::mem::forget(rt);
    code
}

/// The tag the core carries for a task: its source and its id within the source.
fn tag(source: SourceId, id: u32) -> u64 {
    (u64::from(source) << 32) | u64::from(id)
}

fn untag(tag: u64) -> (SourceId, u32) {
    ((tag >> 32) as SourceId, tag as u32)
}

struct Engine {
    opts: RunOptions,
    helper: Privileged,
    notices: mpsc::UnboundedReceiver<Notice>,
    tx: TxSockets,
    rx: Receiver,
    /// Whether replies wake the loop or wait for its next deadline.
    wake_policy: WakePolicy,
    sources: Sources,
    /// Poked when a source may have new work (a line read, a client command).
    wake: Arc<Notify>,
    config: Config,
    dnp: Arc<DoNotProbe>,
    core: core::Core,
    default_sport: u16,
    hostname: Option<String>,
    failed: bool,
    /// The `-f` file name, for `source list`.
    input_file: Option<String>,
    /// Tasks in the core, by tag, so a client can halt one and an abandoned source's tasks can
    /// be dropped.
    running: core::FastMap<u64, core::TaskId>,
    /// Finished records being written (kept to reuse its allocation).
    finished: Vec<core::Finished>,
    clients: HashMap<u64, clients::Client>,
    next_client: u64,
    client_events_tx: mpsc::Sender<(u64, ClientEvent)>,
    client_events: mpsc::Receiver<(u64, ClientEvent)>,
    new_clients: mpsc::Receiver<ClientConn>,
    /// `shutdown done`: exit once every source is finished.
    exit_when_done: bool,
    /// `shutdown now`.
    exit_now: bool,
    sources_of: net::SourceFinder,
    /// Receive buffer of the datalink measurements' socket: empty until one is used, as most
    /// runs never need it.
    rx_buf: Vec<u8>,
    /// When buffered file output is next pushed out.
    next_flush: Time,
    stop_sets: Arc<std::sync::Mutex<crate::task::StopSets>>,
    ifnames: Arc<net::IfNames>,
    /// The nameserver for `-O ptr` look-ups (`-n`, else resolv.conf), found before confinement.
    nameserver: Option<std::net::SocketAddr>,
    /// Records whose names are being looked up, and where they come back.
    naming: usize,
    named_tx: mpsc::UnboundedSender<core::Finished>,
    named: mpsc::UnboundedReceiver<core::Finished>,
    /// Connections to controllers (`-R`, `remote add`), so `remote delete` can end one.
    remotes: Vec<Remote>,
    /// For connections added at run time.
    new_clients_tx: mpsc::Sender<ClientConn>,
    /// Datalink measurements (ping -O dl / dltx / -r, trace -O dl / -r).
    link: datalink::Datalink,
    /// The loop's sleep until its next deadline.
    wakeup: wakeup::Wakeup,
}

/// One outbound connection to a controller.
struct Remote {
    host: String,
    port: u16,
    task: tokio::task::AbortHandle,
}

fn spawn_remote(cfg: crate::remote::RemoteConfig, clients: mpsc::Sender<ClientConn>) -> Remote {
    let (host, port) = (cfg.host.clone(), cfg.port);
    let task = tokio::spawn(async move {
        if let Err(e) = crate::remote::run(cfg, clients).await {
            log::error(&format!("remote {e}"));
        }
    });
    Remote {
        host,
        port,
        task: task.abort_handle(),
    }
}

impl Engine {
    async fn start(mut p: EngineParams) -> Result<Engine, String> {
        let (helper, notices) = helper_link::start(p.link.try_clone().map_err(|e| e.to_string())?)
            .await
            .map_err(|e| format!("helper: {e}"))?;
        log::info(&format!("prober confined; {}", p.sandbox_note));

        // The helper's sockets are asked for all at once (one round trip instead of five);
        // the helper answers in order.
        let open = |family, icmp| {
            helper.open(if icmp {
                Request::OpenIcmp { family }
            } else {
                Request::OpenRawIp { family }
            })
        };
        let (raw4, icmp4, raw6, icmp6, link) = tokio::join!(
            open(Family::Inet, false),
            open(Family::Inet, true),
            open(Family::Inet6, false),
            open(Family::Inet6, true),
            datalink::Datalink::open(&helper),
        );
        let mut tx = TxSockets::default();
        let mut rx = Vec::new();
        for (family, kind, raw, icmp) in [
            (Family::Inet, RxKind::Icmp4, raw4, icmp4),
            (Family::Inet6, RxKind::Icmp6, raw6, icmp6),
        ] {
            match raw {
                Ok(fd) => match family {
                    Family::Inet => tx.v4 = Some(fd),
                    Family::Inet6 => tx.v6 = Some(fd),
                },
                Err(e) => log::warn(&format!("no {family:?} raw socket: {e}")),
            }
            match icmp {
                Ok(fd) => rx.push(RxSocket::new(kind, fd).map_err(|e| e.to_string())?),
                Err(e) => log::warn(&format!("no {family:?} ICMP socket: {e}")),
            }
        }
        // TCP and UDP replies count only when read through a datalink, as in scamper; the
        // measurements that want them open theirs through `datalink::Datalink`.
        if tx.v4.is_none() && tx.v6.is_none() {
            return Err("could not open any raw socket: scamper must be started as root".into());
        }
        let rx = Receiver::new(rx).map_err(|e| format!("receive sockets: {e}"))?;

        let start = now();
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok());
        let wake = Arc::new(Notify::new());
        let mut sources = Sources::default();
        // Buffered here whatever the entry point passed (stdout is only line-buffered, which
        // for text and JSON is a write per record, and for warts a write per 0x0a byte). The
        // loop flushes it at least once a second, when it goes idle, and at exit.
        let output: Box<dyn std::io::Write + Send> = Box::new(std::io::BufWriter::with_capacity(
            OUTPUT_BUFFER,
            std::mem::replace(&mut p.output, Box::new(std::io::sink())),
        ));
        if let Some(lines) = line_feed(&mut p, wake.clone())? {
            let format = scamper_warts::OutputFormat::from_name(p.opts.output_format.name())
                .ok_or_else(|| {
                    format!("output format {} unavailable", p.opts.output_format.name())
                })?;
            let writer = RecordWriter::new(format, output).map_err(|e| e.to_string())?;
            let list = Arc::new(List {
                id: p.opts.list_id,
                name: p.opts.list_name.clone(),
                descr: Some("default".into()),
                monitor: p.opts.monitor_name.clone(),
            });
            let cycle = new_cycle(&list, p.opts.cycle_id, start, &hostname);
            let feed = Feed::Lines {
                lines,
                peeked: None,
                closed: false,
                defaults: DefaultCommand::default(),
            };
            let mut source =
                Source::new(list.name.clone(), list, cycle, 1, feed, Sink::file(writer));
            source.queue.push_back(Queued::CycleStart);
            sources.add(source);
        }

        let (new_clients_tx, new_clients) = mpsc::channel(64);
        if let Mode::Control(ctl) = &p.opts.mode {
            if let Some(path) = &ctl.unix {
                let fd = helper
                    .open(Request::BindControlUnix)
                    .await
                    .map_err(|e| format!("-U {}: {e}", path.display()))?;
                let std_listener = std::os::unix::net::UnixListener::from(fd);
                std_listener
                    .set_nonblocking(true)
                    .map_err(|e| e.to_string())?;
                let listener =
                    tokio::net::UnixListener::from_std(std_listener).map_err(|e| e.to_string())?;
                let name = path.display().to_string();
                tokio::spawn(server::accept_unix(listener, name, new_clients_tx.clone()));
            }
            if let Some(inet) = &ctl.inet {
                let fd = helper
                    .open(Request::BindControlTcp)
                    .await
                    .map_err(|e| format!("-P {}: {e}", inet.socket_addr()))?;
                let std_listener = std::net::TcpListener::from(fd);
                std_listener
                    .set_nonblocking(true)
                    .map_err(|e| e.to_string())?;
                let listener =
                    tokio::net::TcpListener::from_std(std_listener).map_err(|e| e.to_string())?;
                tokio::spawn(server::accept_tcp(listener, new_clients_tx.clone()));
            }
        }
        let mut remotes = Vec::new();
        if let Some(cfg) = p.remote.take() {
            remotes.push(spawn_remote(cfg, new_clients_tx.clone()));
        }
        let input_file = match &p.opts.mode {
            Mode::File(crate::options::InputFile::Path(f)) => Some(f.display().to_string()),
            Mode::File(crate::options::InputFile::Stdin) => Some("-".into()),
            _ => None,
        };

        helper
            .request(Request::Ready)
            .await
            .map_err(|e| format!("helper: {e}"))?;
        let (client_events_tx, client_events) = mpsc::channel(256);
        let (named_tx, named) = mpsc::unbounded_channel();
        let hold = Duration::from_secs(p.opts.holdtime as u64);
        Ok(Engine {
            core: core::Core::new(p.opts.pps, hold, start),
            opts: p.opts,
            helper,
            notices,
            tx,
            rx,
            wake_policy: WakePolicy::default(),
            sources,
            wake,
            config: p.config,
            dnp: Arc::new(p.dnp),
            default_sport: p.default_sport,
            hostname,
            failed: false,
            input_file,
            running: core::FastMap::default(),
            finished: Vec::new(),
            clients: HashMap::new(),
            next_client: 0,
            client_events_tx,
            client_events,
            new_clients,
            exit_when_done: false,
            exit_now: false,
            sources_of: net::SourceFinder::new(),
            rx_buf: Vec::new(),
            next_flush: start,
            stop_sets: Default::default(),
            ifnames: Default::default(),
            remotes,
            new_clients_tx,
            nameserver: p.nameserver,
            naming: 0,
            named_tx,
            named,
            link,
            wakeup: wakeup::Wakeup::new(),
        })
    }

    /// May another task start now?
    fn window_allows(&mut self, t: Time) -> bool {
        if self.opts.window > 0 {
            return self.core.active() < self.opts.window as usize;
        }
        self.core.has_capacity(t)
    }

    /// Start tasks from the sources, in priority-weighted turns, while the window allows.
    fn admit(&mut self, t: Time) {
        // Bounded per call so a long run of bad lines cannot starve the loop.
        for _ in 0..1024 {
            if !self.window_allows(t) {
                return;
            }
            let Some(sid) = self.sources.pick() else {
                return;
            };
            self.take_from(sid, t);
        }
    }

    /// Take one command (or the cycle-start marker) from source `sid`.
    fn take_from(&mut self, sid: SourceId, t: Time) {
        let Some(src) = self.sources.get(sid) else {
            return;
        };
        if let Some(item) = src.queue.pop_front() {
            match item {
                Queued::CycleStart => {
                    let (list, cycle) = (src.list.clone(), src.cycle.clone());
                    self.write(sid, &Record::List(list), None);
                    self.write(sid, &Record::CycleStart(cycle), None);
                }
                Queued::Task { id, task } => {
                    src.active += 1;
                    let task = self.core.add(task, tag(sid, id), t);
                    self.running.insert(tag(sid, id), task);
                }
            }
            self.maybe_more(sid);
            return;
        }
        let Feed::Lines {
            peeked, defaults, ..
        } = &mut src.feed
        else {
            return;
        };
        let Some(item) = peeked.take() else { return };
        match item {
            Err(e) => log::error(&e),
            Ok(line) => match match line.dst {
                Some(dst) => defaults.parse(&line.command, dst),
                None => command::parse(&line.command),
            }
            .map_err(|e| e.to_string())
            .and_then(|cmd| self.start_task(cmd, sid, t))
            {
                Ok(task) => {
                    let src = self.sources.get(sid).expect("present");
                    src.active += 1;
                    let g = tag(sid, line.line as u32);
                    let task = self.core.add(task, g, t);
                    self.running.insert(g, task);
                }
                Err(e) => log::error(&format!("line {}: {}: {e}", line.line, line.command)),
            },
        }
    }

    /// Parse a command and allocate its task; the error is the reason alone (the control
    /// socket sends it as `ERR command not accepted: <reason>`).
    fn make_task(&mut self, text: &str, sid: SourceId, t: Time) -> Result<Box<dyn Task>, String> {
        let cmd = command::parse(text).map_err(|e| e.to_string())?;
        self.start_task(cmd, sid, t)
    }

    /// Check a parsed command against this prober (method enabled, do-not-probe list, a route
    /// to its destination) and allocate its task.
    fn start_task(
        &mut self,
        cmd: Command,
        sid: SourceId,
        t: Time,
    ) -> Result<Box<dyn Task>, String> {
        if !self.config.method_enabled(cmd.name()) {
            return Err(format!("{} disabled", cmd.name()));
        }
        let dsts = cmd.dsts();
        if dsts.iter().any(|d| self.dnp.contains(*d)) {
            return Err("destination in do-not-probe list".into());
        }
        let dst = *dsts.first().ok_or("invalid destination address")?;
        let real_src = self
            .sources_of
            .source_for(dst)
            .map_err(|e| format!("no route to {dst}: {e}"))?;
        // Only path-MTU discovery uses it, and it costs a look-up of its own.
        let route_mtu = match &cmd {
            Command::Trace(t) if t.flags & scamper_warts::trace::flags::PMTUD != 0 => {
                self.sources_of.route_mtu(dst)
            }
            _ => None,
        };
        let src_addr = cmd.src().unwrap_or(real_src);
        let source = self.sources.get(sid).ok_or("source gone")?;
        let env = TaskEnv {
            src: src_addr,
            default_sport: self.default_sport,
            start: t,
            list: source.list.clone(),
            cycle: source.cycle.clone(),
            real_src,
            route_mtu,
            stop_sets: self.stop_sets.clone(),
            ifnames: self.ifnames.clone(),
        };
        let link = datalink::needs(&cmd);
        let task = match cmd {
            Command::Ping(opts) => crate::ping::new_task(opts, env),
            Command::Trace(opts) => crate::trace::new_task(opts, env),
        };
        Ok(match link {
            Some(needs) => self.link.wrap(task, needs, t),
            None => task,
        })
    }

    fn write(&mut self, sid: SourceId, rec: &Record, id: Option<u32>) {
        let Some(src) = self.sources.get(sid) else {
            return;
        };
        match src.sink.write(rec, id) {
            Ok(queued) => self.check_backlog(sid, queued),
            Err(e) => {
                log::error(&format!("could not write a result: {e}"));
                self.failed = true;
            }
        }
    }

    fn send_due(&mut self, t: Time) {
        let (tx, link) = (&self.tx, &self.link);
        self.core.run(t, &mut |probe| {
            link.send(probe, |p| tx.send(p.dst, &p.packet))
        });
    }

    /// Hand finished records to their sources, and close sources with nothing left to do.
    fn write_finished(&mut self) {
        if self.core.has_snapshots() {
            for f in self.core.take_snapshots() {
                let (sid, id) = untag(f.tag);
                if let Some(src) = self.sources.get(sid) {
                    if let Err(e) = src.sink.write_inprog(&f.record, id) {
                        log::error(&format!("could not write a result: {e}"));
                        self.failed = true;
                    }
                }
            }
        }
        let mut finished = std::mem::take(&mut self.finished);
        self.core.take_finished_into(&mut finished);
        for f in finished.drain(..) {
            self.running.remove(&f.tag);
            if !self.resolve_names(&f) {
                self.write_result(f);
            }
        }
        self.finished = finished;
        let done: Vec<SourceId> = self
            .sources
            .iter_mut()
            .filter_map(|s| {
                s.has_work();
                s.finished().then_some(s.id)
            })
            .collect();
        for sid in done {
            self.close_source(sid, now());
        }
    }

    /// A finished task's record goes to its source; the source has one task fewer running.
    fn write_result(&mut self, f: core::Finished) {
        let (sid, id) = untag(f.tag);
        if let Some(src) = self.sources.get(sid) {
            src.active = src.active.saturating_sub(1);
            self.write(sid, &f.record, Some(id));
        }
    }

    /// `trace -O ptr`: look up the names of the record's addresses before it is written. The
    /// task stays counted as running until then, so its source does not close early. Returns
    /// false if the record needs no names (or there is no nameserver to ask).
    fn resolve_names(&mut self, f: &core::Finished) -> bool {
        let Some(ns) = self.nameserver else {
            return false;
        };
        let want = crate::dns::ptr_wanted(&f.record);
        if want.is_empty() {
            return false;
        }
        self.naming += 1;
        let tx = self.named_tx.clone();
        let (record, tag) = (f.record.clone(), f.tag);
        tokio::spawn(async move {
            let names = crate::dns::resolve_ptrs(ns, &want, PTR_TIMEOUT).await;
            let mut record = record;
            crate::dns::apply_names(&mut record, &names);
            let _ = tx.send(core::Finished { record, tag });
        });
        true
    }

    /// Write the cycle-stop record and finish the source's sink.
    fn close_source(&mut self, sid: SourceId, t: Time) {
        let Some(src) = self.sources.remove(sid) else {
            return;
        };
        let mut stopped = (*src.cycle).clone();
        stopped.stop_time = t.as_secs() as u32;
        let mut sink = src.sink;
        let result = sink
            .write(&Record::CycleStop(Arc::new(stopped)), None)
            .and_then(|_| sink.finish());
        if let Err(e) = result {
            log::error(&format!("could not finish output: {e}"));
            self.failed = true;
        }
        if let Feed::Client { client } = src.feed {
            self.source_closed(client);
        }
    }

    async fn reload(&mut self) -> bool {
        let mut config = Config::default();
        if self.opts.config_file.is_some() {
            match Self::read_reopened(&self.helper, ReopenFile::Config)
                .await
                .and_then(|b| reload::parse_config(&b))
            {
                Ok(c) => config = c,
                Err(e) => {
                    log::error(&format!("reload: config file: {e}"));
                    return false;
                }
            }
        }
        let mut files = Vec::new();
        for (i, path) in self.opts.extra.dnp_files.clone().iter().enumerate() {
            match Self::read_reopened(&self.helper, ReopenFile::DoNotProbe(i as u16)).await {
                Ok(b) => files.push((path.display().to_string(), b)),
                Err(e) => {
                    log::error(&format!("reload: {}: {e}", path.display()));
                    return false;
                }
            }
        }
        match reload::parse_dnp(&files) {
            Ok(dnp) => {
                self.config = config;
                self.dnp = Arc::new(dnp);
                log::info(&format!(
                    "reloaded: {} do-not-probe prefixes",
                    self.dnp.len()
                ));
                true
            }
            Err(e) => {
                log::error(&format!("reload: {e}"));
                false
            }
        }
    }

    async fn read_reopened(helper: &Privileged, file: ReopenFile) -> Result<Vec<u8>, String> {
        use std::io::Read;
        let fd = helper
            .open(Request::Reopen { file })
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        // The files are small configuration files; cap them anyway.
        std::fs::File::from(fd)
            .take(512 << 20)
            .read_to_end(&mut buf)
            .map_err(|e| e.to_string())?;
        Ok(buf)
    }

    async fn main_loop(&mut self) -> i32 {
        let mut exit = false;
        loop {
            // Replies that arrived while the loop slept.
            self.rx.drain(&mut self.core);
            let t = now();
            // Due follow-up probes of running tasks go first, then new tasks fill what the
            // rate leaves, then their first probes go out.
            self.send_due(t);
            self.admit(t);
            self.send_due(t);
            self.write_finished();
            self.core.expire_holds(t);
            if t >= self.next_flush {
                self.next_flush = t + Duration::from_secs(1);
                for s in self.sources.iter_mut() {
                    s.sink.flush();
                }
            }
            let idle = self.sources.is_empty() && self.core.active() == 0 && self.naming == 0;
            if exit
                || self.exit_now
                || (idle && (self.opts.exits_when_idle() || self.exit_when_done))
            {
                break;
            }
            let mut wake = self
                .core
                .next_deadline()
                .unwrap_or(t + Duration::from_secs(1));
            // Commands are waiting for the rate (not the window): wake when it allows one.
            let window_full =
                self.opts.window > 0 && self.core.active() >= self.opts.window as usize;
            if !window_full && self.sources.iter_mut().any(|s| s.has_work()) {
                wake = wake.min(self.core.next_token());
            }
            // At least a millisecond: the token bucket holds 10 ms of probes, so waking per
            // millisecond keeps the rate while sparing a wake-up per probe at high rates.
            let mut sleep = wake
                .saturating_sub(now())
                .clamp(Duration::from_millis(1), Duration::from_secs(1));
            let backlog = self.rx.has_backlog();
            if backlog {
                sleep = Duration::ZERO;
            }
            let wake_on_packets = self.wake_policy.wake_on_packets(sleep);
            if let Err(e) = self.rx.set_wake_on_packets(wake_on_packets) {
                // Replies are then read at each deadline, which the loop always has (<= 1 s).
                log::warn(&format!("receive sockets: {e}"));
            }
            if sleep >= IDLE {
                // Nothing to do for a while: results so far reach the file now, not at the
                // next periodic flush.
                for s in self.sources.iter_mut() {
                    s.sink.flush();
                }
            }
            let want_input = self.window_allows(now());
            // Channels that nothing can be sending on are not polled: every poll of a branch
            // costs, twice a loop turn (names come only while look-ups run, clients only in
            // control mode).
            let naming = self.naming > 0;
            let control = matches!(self.opts.mode, Mode::Control(_));
            let which = tokio::select! {
                biased;
                n = self.notices.recv() => Event::Notice(n.unwrap_or(Notice::Exit)),
                _ = self.wake.notified(), if want_input => Event::Work,
                Some(f) = self.named.recv(), if naming => Event::Named(f),
                Some(conn) = self.new_clients.recv(), if control => Event::NewClient(conn),
                Some((id, ev)) = self.client_events.recv(), if control => Event::Client(id, ev),
                _ = self.rx.readable() => Event::Readable,
                _ = self.link.readable() => Event::Link,
                _ = std::future::ready(()), if backlog => Event::Timer,
                _ = self.wakeup.sleep(sleep) => Event::Timer,
            };
            match which {
                Event::Notice(Notice::Exit) => exit = true,
                Event::Notice(Notice::Reload) => {
                    let ok = self.reload().await;
                    let _ = self.helper.request(Request::Reloaded { ok }).await;
                }
                Event::Link => {
                    if self.rx_buf.is_empty() {
                        self.rx_buf = vec![0u8; 65536];
                    }
                    self.link.drain(&mut self.core, &mut self.rx_buf).await
                }
                Event::Named(f) => {
                    self.naming -= 1;
                    self.write_result(f);
                }
                Event::NewClient(conn) => self.add_client(conn),
                Event::Client(id, ev) => self.on_client_event(id, ev),
                // Packets are read at the top of the loop.
                Event::Readable | Event::Work | Event::Timer => {}
            }
        }
        // Shutdown: records of tasks still running are written as they stand, then every
        // source's cycle is closed.
        let t = now();
        self.core.halt_all(t);
        for f in self.core.take_finished() {
            self.write_result(f);
        }
        // Records waiting for names: each look-up ends within PTR_TIMEOUT.
        let deadline = tokio::time::Instant::now() + PTR_TIMEOUT + Duration::from_secs(1);
        while self.naming > 0 {
            match tokio::time::timeout_at(deadline, self.named.recv()).await {
                Ok(Some(f)) => {
                    self.naming -= 1;
                    self.write_result(f);
                }
                _ => break,
            }
        }
        let ids: Vec<SourceId> = self.sources.iter().map(|s| s.id).collect();
        for sid in ids {
            self.close_source(sid, t);
        }
        i32::from(self.failed)
    }
}

fn new_cycle(list: &Arc<List>, id: u32, start: Time, hostname: &Option<String>) -> Arc<Cycle> {
    Arc::new(Cycle {
        list: list.clone(),
        id,
        start_time: start.as_secs() as u32,
        stop_time: 0,
        hostname: hostname.clone(),
    })
}

enum Event {
    Notice(Notice),
    Work,
    Named(core::Finished),
    NewClient(ClientConn),
    Client(u64, ClientEvent),
    Readable,
    Link,
    Timer,
}
