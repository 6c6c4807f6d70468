//! The engine's I/O loop: it reads commands from the input source, starts tasks within the
//! window, drives [`core::Core`] with the clock and received packets, writes finished records,
//! and acts on the helper's reload and exit notices.

pub mod core;
pub mod dispatch;
pub mod net;

use crate::command::{self, Command};
use crate::config_file::Config;
use crate::dnp::DoNotProbe;
use crate::helper_link::{self, Notice, Privileged};
use crate::input::{self, InputKind, InputLine, InputReader};
use crate::options::RunOptions;
use crate::task::{Task, TaskEnv, Time};
use crate::{log, reload};
use net::{RxKind, RxSocket, TxSockets};
use scamper_proto::{Family, ReopenFile, Request};
use scamper_warts::{Cycle, List, Record, RecordWriter};
use std::io::BufRead;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Wall-clock time now.
pub fn now() -> Time {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Where commands come from.
pub enum Input {
    /// `-f`: a list file (or stdin), read lazily.
    File(Box<dyn BufRead + Send>),
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
    /// What the sandbox reported (logged once the engine runs).
    pub sandbox_note: String,
}

/// Commands from the input source, one line each, through a bounded channel: a reader thread
/// blocks on the file or stdin, never the engine, and memory follows the channel's capacity,
/// not the list's length.
type Commands = mpsc::Receiver<Result<InputLine, String>>;

/// Lines read ahead of the tasks that use them.
const READ_AHEAD: usize = 256;

/// Run the prober until its work is done or the helper says exit. Returns the exit status.
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
    rt.block_on(async move {
        match Engine::start(p).await {
            Ok(engine) => engine.main_loop().await,
            Err(e) => {
                log::error(&e);
                1
            }
        }
    })
}

fn commands_from(p: &mut EngineParams) -> Result<Commands, String> {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    match std::mem::replace(&mut p.input, Input::None) {
        Input::File(reader) => {
            let kind = InputKind::from_options(&p.opts);
            std::thread::Builder::new()
                .name("input".into())
                .spawn(move || {
                    for item in InputReader::new(reader, kind) {
                        let fatal = item
                            .as_ref()
                            .map(|_| false)
                            .unwrap_or_else(|e| e.is_fatal());
                        if tx.blocking_send(item.map_err(|e| e.to_string())).is_err() || fatal {
                            return;
                        }
                    }
                })
                .map_err(|e| format!("could not start the input reader: {e}"))?;
        }
        Input::Args => {
            // The entry point already refused commands that do not parse (start-up error).
            let cmds = input::positional_commands(&p.opts).unwrap_or_default();
            std::thread::Builder::new()
                .name("input".into())
                .spawn(move || {
                    for (i, command) in cmds.into_iter().enumerate() {
                        let line = InputLine {
                            line: i as u64 + 1,
                            command,
                        };
                        if tx.blocking_send(Ok(line)).is_err() {
                            return;
                        }
                    }
                })
                .map_err(|e| format!("could not start the input reader: {e}"))?;
        }
        Input::None => {}
    }
    Ok(rx)
}

struct Engine {
    opts: RunOptions,
    helper: Privileged,
    notices: tokio::sync::mpsc::UnboundedReceiver<Notice>,
    tx: TxSockets,
    rx: Vec<RxSocket>,
    out: RecordWriter,
    commands: Commands,
    input_done: bool,
    config: Config,
    dnp: Arc<DoNotProbe>,
    core: core::Core,
    default_sport: u16,
    list: Arc<List>,
    cycle: Arc<Cycle>,
    failed: bool,
}

impl Engine {
    async fn start(mut p: EngineParams) -> Result<Engine, String> {
        let commands = commands_from(&mut p)?;
        let (helper, notices) = helper_link::start(p.link.try_clone().map_err(|e| e.to_string())?)
            .await
            .map_err(|e| format!("helper: {e}"))?;
        drop(p.link);
        log::info(&format!("prober confined; {}", p.sandbox_note));

        let mut tx = TxSockets::default();
        let mut rx = Vec::new();
        for (family, kind) in [
            (Family::Inet, RxKind::Icmp4),
            (Family::Inet6, RxKind::Icmp6),
        ] {
            match helper.open(Request::OpenRawIp { family }).await {
                Ok(fd) => match family {
                    Family::Inet => tx.v4 = Some(fd),
                    Family::Inet6 => tx.v6 = Some(fd),
                },
                Err(e) => log::warn(&format!("no {family:?} raw socket: {e}")),
            }
            match helper.open(Request::OpenIcmp { family }).await {
                Ok(fd) => rx.push(RxSocket::new(kind, fd).map_err(|e| e.to_string())?),
                Err(e) => log::warn(&format!("no {family:?} ICMP socket: {e}")),
            }
        }
        match helper.open(Request::OpenDatalink { ifindex: 0 }).await {
            Ok(fd) => rx.push(RxSocket::new(RxKind::Datalink, fd).map_err(|e| e.to_string())?),
            Err(e) => log::warn(&format!("no datalink socket (TCP/UDP replies unseen): {e}")),
        }
        if tx.v4.is_none() && tx.v6.is_none() {
            return Err("could not open any raw socket: scamper must be started as root".into());
        }

        let format = scamper_warts::OutputFormat::from_name(p.opts.output_format.name())
            .ok_or_else(|| format!("output format {} unavailable", p.opts.output_format.name()))?;
        let mut out = RecordWriter::new(format, p.output).map_err(|e| e.to_string())?;
        let start = now();
        let list = Arc::new(List {
            id: p.opts.list_id,
            name: p.opts.list_name.clone(),
            descr: Some("default".into()),
            monitor: p.opts.monitor_name.clone(),
        });
        let cycle = Arc::new(Cycle {
            list: list.clone(),
            id: p.opts.cycle_id,
            start_time: start.as_secs() as u32,
            stop_time: 0,
            hostname: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok()),
        });
        out.write(&Record::List(list.clone()))
            .map_err(|e| e.to_string())?;
        out.write(&Record::CycleStart(cycle.clone()))
            .map_err(|e| e.to_string())?;

        helper
            .request(Request::Ready)
            .await
            .map_err(|e| format!("helper: {e}"))?;
        let hold = Duration::from_secs(p.opts.holdtime as u64);
        Ok(Engine {
            core: core::Core::new(p.opts.pps, hold, start),
            opts: p.opts,
            helper,
            notices,
            tx,
            rx,
            out,
            commands,
            input_done: false,
            config: p.config,
            dnp: Arc::new(p.dnp),
            default_sport: p.default_sport,
            list,
            cycle,
            failed: false,
        })
    }

    /// May another task start now?
    fn may_admit(&mut self, t: Time) -> bool {
        if self.input_done {
            return false;
        }
        if self.opts.window > 0 {
            return self.core.active() < self.opts.window as usize;
        }
        self.core.has_capacity(t)
    }

    /// Start tasks from lines already read while the window allows.
    fn admit(&mut self, t: Time) {
        // Bounded per call so a long run of bad lines cannot starve the loop.
        for _ in 0..1024 {
            if !self.may_admit(t) {
                return;
            }
            match self.commands.try_recv() {
                Ok(item) => self.start_line(item, t),
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.input_done = true;
                    return;
                }
            }
        }
    }

    fn start_line(&mut self, item: Result<InputLine, String>, t: Time) {
        match item {
            Err(e) => log::error(&e),
            Ok(line) => match self.make_task(&line.command, t) {
                Ok(task) => {
                    self.core.add(task, line.line, t);
                }
                Err(e) => log::error(&format!("line {}: {e}", line.line)),
            },
        }
    }

    fn make_task(&self, text: &str, t: Time) -> Result<Box<dyn Task>, String> {
        let cmd = command::parse(text).map_err(|e| format!("{text}: {e}"))?;
        if !self.config.method_enabled(cmd.name()) {
            return Err(format!("{text}: {} disabled", cmd.name()));
        }
        let dsts = cmd.dsts();
        if dsts.iter().any(|d| self.dnp.contains(*d)) {
            return Err(format!("{text}: destination in do-not-probe list"));
        }
        let dst = *dsts.first().ok_or("command without a destination")?;
        let src = match cmd.src() {
            Some(src) => src,
            None => net::source_for(dst).map_err(|e| format!("{text}: no route to {dst}: {e}"))?,
        };
        let env = TaskEnv {
            src,
            default_sport: self.default_sport,
            start: t,
            list: self.list.clone(),
            cycle: self.cycle.clone(),
        };
        match cmd {
            Command::Ping(opts) => Ok(crate::ping::new_task(opts, env)),
        }
    }

    fn write_finished(&mut self) {
        for f in self.core.take_finished() {
            if let Err(e) = self.out.write(&f.record) {
                log::error(&format!("could not write a result: {e}"));
                self.failed = true;
            }
        }
    }

    /// Read what socket `i` has queued (a bounded batch, so one busy socket cannot starve the
    /// timers and the others) and deliver it.
    async fn drain_socket(&mut self, i: usize) {
        let mut buf = vec![0u8; 65536];
        let mut batch = Vec::new();
        let sock = &self.rx[i];
        while batch.len() < 256 {
            let Ok(mut guard) = sock.fd.readable().await else {
                return;
            };
            match guard.try_io(|_| sock.recv_one(&mut buf)) {
                Ok(Ok(Some(pkt))) => batch.push(pkt),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    log::warn(&format!("receive error: {e}"));
                    break;
                }
                Err(_would_block) => break,
            }
        }
        for (pkt, t) in batch {
            if let Some(key) = dispatch::reply_key(&pkt) {
                self.core.deliver(&key, &pkt, t);
            }
        }
    }

    async fn reload(&mut self) -> bool {
        let mut config = Config::default();
        if self.opts.config_file.is_some() {
            match self
                .read_reopened(ReopenFile::Config)
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
            match self.read_reopened(ReopenFile::DoNotProbe(i as u16)).await {
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

    async fn read_reopened(&self, file: ReopenFile) -> Result<Vec<u8>, String> {
        use std::io::Read;
        let fd = self
            .helper
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

    async fn main_loop(mut self) -> i32 {
        let mut exit = false;
        loop {
            let t = now();
            self.admit(t);
            let tx = &self.tx;
            self.core
                .run(t, &mut |probe| tx.send(probe.dst, &probe.packet));
            self.write_finished();
            self.core.expire_holds(t);
            if exit || (self.input_done && self.core.active() == 0 && self.opts.exits_when_idle()) {
                break;
            }
            let wake = self
                .core
                .next_deadline()
                .unwrap_or(t + Duration::from_secs(1));
            let sleep = wake.saturating_sub(now()).min(Duration::from_secs(1));
            let want_input = self.may_admit(now());
            let which = tokio::select! {
                biased;
                n = self.notices.recv() => Event::Notice(n.unwrap_or(Notice::Exit)),
                line = self.commands.recv(), if want_input => Event::Line(line),
                r = readable(&self.rx) => Event::Readable(r),
                _ = tokio::time::sleep(sleep) => Event::Timer,
            };
            match which {
                Event::Notice(Notice::Exit) => exit = true,
                Event::Notice(Notice::Reload) => {
                    let ok = self.reload().await;
                    let _ = self.helper.request(Request::Reloaded { ok }).await;
                }
                Event::Readable(Some(i)) => self.drain_socket(i).await,
                Event::Line(Some(item)) => self.start_line(item, now()),
                Event::Line(None) => self.input_done = true,
                Event::Readable(None) | Event::Timer => {}
            }
        }
        // Shutdown: records of tasks still running are written as they stand.
        let t = now();
        self.core.halt_all(t);
        self.write_finished();
        let mut stopped = (*self.cycle).clone();
        stopped.stop_time = t.as_secs() as u32;
        let _ = self.out.write(&Record::CycleStop(Arc::new(stopped)));
        match self.out.finish() {
            Ok(mut w) => {
                if let Err(e) = w.flush() {
                    log::error(&format!("could not flush output: {e}"));
                    self.failed = true;
                }
            }
            Err(e) => {
                log::error(&format!("could not finish output: {e}"));
                self.failed = true;
            }
        }
        i32::from(self.failed)
    }
}

enum Event {
    Notice(Notice),
    Line(Option<Result<InputLine, String>>),
    Readable(Option<usize>),
    Timer,
}

/// Wait until one of the receive sockets is readable; returns its index.
async fn readable(socks: &[RxSocket]) -> Option<usize> {
    if socks.is_empty() {
        std::future::pending::<()>().await;
    }
    let futs = socks.iter().enumerate().map(|(i, s)| {
        Box::pin(async move {
            // Readiness is cleared by drain_socket when a read would block.
            s.fd.readable().await.ok().map(|_| i)
        })
    });
    futures_select_all(futs).await
}

/// The first of several futures to finish (a tiny select_all, to avoid a dependency).
async fn futures_select_all<F>(futs: impl Iterator<Item = std::pin::Pin<Box<F>>>) -> F::Output
where
    F: std::future::Future,
{
    let mut futs: Vec<_> = futs.collect();
    std::future::poll_fn(move |cx| {
        for f in futs.iter_mut() {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                return std::task::Poll::Ready(v);
            }
        }
        std::task::Poll::Pending
    })
    .await
}
