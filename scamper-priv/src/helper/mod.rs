//! The root helper: a single-threaded loop that serves the prober's requests and relays
//! signals. It reads only IPC frames from the prober (typed and size-limited by scamper-proto)
//! and never any network data.

pub mod policy;
pub mod sockets;

use crate::ids::Identity;
use crate::log;
use crate::notify::Notifier;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use policy::{ChannelState, Policy};
use scamper_proto::{
    decode_request, encode_from_helper, FrameBuf, FromHelper, Refusal, Request, MAX_REQUEST_FRAME,
    PROTO_VERSION,
};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How long the prober has to flush and exit after SIGTERM before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(30);

/// Self-pipes written by signal handlers (signal-hook), read by the loop.
pub struct SignalPipes {
    pub hup: UnixStream,
    pub term: UnixStream,
    /// SIGCHLD: lets [`Helper::reap`] sleep until the prober has exited instead of polling.
    pub chld: UnixStream,
}

impl SignalPipes {
    pub fn install() -> std::io::Result<SignalPipes> {
        let (hup_r, hup_w) = UnixStream::pair()?;
        let (term_r, term_w) = UnixStream::pair()?;
        let (chld_r, chld_w) = UnixStream::pair()?;
        hup_r.set_nonblocking(true)?;
        term_r.set_nonblocking(true)?;
        chld_r.set_nonblocking(true)?;
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGHUP, hup_w)?;
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGTERM, term_w.try_clone()?)?;
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGINT, term_w)?;
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, chld_w)?;
        Ok(SignalPipes {
            hup: hup_r,
            term: term_r,
            chld: chld_r,
        })
    }
}

fn drain(s: &mut UnixStream) -> bool {
    let mut buf = [0u8; 64];
    let mut any = false;
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        any = true;
    }
    any
}

/// How the helper's loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The prober exited with this status code.
    ProberExited(i32),
    /// The prober was killed by a signal.
    ProberKilled(Signal),
    /// The prober broke the protocol; the helper stopped serving it.
    ProtocolViolation(String),
}

pub struct Helper {
    pub id: Identity,
    pub policy: Policy,
    pub link: UnixStream,
    pub prober: Pid,
    pub signals: SignalPipes,
    pub notify: Notifier,
    state: ChannelState,
    frames: FrameBuf,
    /// When the prober was told to exit, if it was.
    exit_sent: Option<Instant>,
}

impl Helper {
    pub fn new(
        id: Identity,
        policy: Policy,
        link: UnixStream,
        prober: Pid,
        signals: SignalPipes,
        notify: Notifier,
    ) -> Helper {
        Helper {
            id,
            policy,
            link,
            prober,
            signals,
            notify,
            state: ChannelState::default(),
            frames: FrameBuf::new(MAX_REQUEST_FRAME),
            exit_sent: None,
        }
    }

    fn send(&mut self, msg: &FromHelper, fd: Option<OwnedFd>) -> std::io::Result<()> {
        let frame = encode_from_helper(msg);
        let mut sent = 0;
        let mut fd = fd;
        while sent < frame.len() {
            // The descriptor rides on the first byte of the frame only.
            let n = scamper_sys::send_with_fd(
                self.link.as_fd(),
                &frame[sent..],
                fd.as_ref().map(|f| f.as_fd()),
            )?;
            fd = None;
            sent += n;
        }
        Ok(())
    }

    /// Serve until the prober is gone. Returns how it ended.
    pub fn run(mut self) -> Ending {
        let ending = self.serve();
        if let Ending::ProtocolViolation(why) = &ending {
            log::error(&format!("prober broke the helper protocol: {why}"));
            // Stop serving it: closing the link makes the prober exit; make sure it does.
            let _ = self.link.shutdown(std::net::Shutdown::Both);
            return match self.reap(Duration::from_secs(5)) {
                Ending::ProberExited(_) | Ending::ProberKilled(_) => ending,
                other => other,
            };
        }
        ending
    }

    fn serve(&mut self) -> Ending {
        loop {
            let mut fds = [
                PollFd::new(self.link.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.signals.hup.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.signals.term.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::from(1000u16)) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Ending::ProtocolViolation(format!("poll: {e}")),
            }
            // A prober that does not finish within the grace period after being told to exit
            // is ended, so a service stop cannot hang.
            if self.exit_sent.is_some_and(|t| t.elapsed() > EXIT_GRACE) {
                log::error("prober did not exit after the exit notice; killing it");
                let _ = kill(self.prober, Signal::SIGKILL);
                return self.reap(Duration::from_secs(5));
            }
            let link_ready = fds[0].any().unwrap_or(false);
            let hup = fds[1].any().unwrap_or(false);
            let term = fds[2].any().unwrap_or(false);
            if hup && drain(&mut self.signals.hup) {
                self.on_hup();
            }
            if term && drain(&mut self.signals.term) {
                self.on_term();
            }
            if link_ready {
                let mut buf = [0u8; 4096];
                match scamper_sys::recv_with_fds(self.link.as_fd(), &mut buf) {
                    Ok((0, _)) => return self.reap(Duration::from_secs(30)),
                    // The prober never has a reason to send descriptors; any it sends are
                    // closed when `_fds` drops.
                    Ok((n, _fds)) => self.frames.push(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(_) => return self.reap(Duration::from_secs(30)),
                }
                loop {
                    let body = match self.frames.next_frame() {
                        Ok(Some(b)) => b,
                        Ok(None) => break,
                        Err(e) => return Ending::ProtocolViolation(e.to_string()),
                    };
                    let req = match decode_request(&body) {
                        Ok(r) => r,
                        Err(e) => return Ending::ProtocolViolation(e.to_string()),
                    };
                    if let Err(why) = self.handle(req) {
                        return why;
                    }
                }
            }
        }
    }

    fn on_hup(&mut self) {
        if !self.state.ready {
            return;
        }
        log::info("SIGHUP: asking the prober to reload");
        self.notify.reloading();
        self.state.reload_pending = true;
        let _ = self.send(&FromHelper::Reload, None);
    }

    fn on_term(&mut self) {
        if self.exit_sent.is_some() {
            return;
        }
        log::info("shutting down on signal");
        self.notify.stopping();
        self.exit_sent = Some(Instant::now());
        if self.send(&FromHelper::Exit, None).is_err() {
            // The prober is already gone or wedged; it must not outlive us.
            let _ = kill(self.prober, Signal::SIGTERM);
        }
    }

    /// Answer one request. A request outside policy is refused and logged; only a broken
    /// protocol ends the loop.
    fn handle(&mut self, req: Request) -> Result<(), Ending> {
        let check = self
            .policy
            .check(&req, &self.state, &policy::interface_exists);
        let result: Result<Option<OwnedFd>, Refusal> = match check {
            Err(refusal) => {
                log::warn(&format!("refused {}: {refusal}", req.name()));
                if !self.state.greeted {
                    return Err(Ending::ProtocolViolation(refusal.to_string()));
                }
                Err(refusal)
            }
            Ok(()) => self.act(&req),
        };
        let send = match result {
            Ok(_) if matches!(req, Request::Hello { .. }) => self.send(
                &FromHelper::Hello {
                    version: PROTO_VERSION,
                },
                None,
            ),
            Ok(fd) => self.send(&FromHelper::Done, fd),
            Err(refusal) => self.send(&FromHelper::Refused(refusal), None),
        };
        send.map_err(|e| Ending::ProtocolViolation(format!("reply failed: {e}")))
    }

    fn act(&mut self, req: &Request) -> Result<Option<OwnedFd>, Refusal> {
        use sockets::*;
        let fd = match req {
            Request::Hello { .. } => {
                self.state.greeted = true;
                return Ok(None);
            }
            Request::OpenIcmp { family } => open_icmp(*family)?,
            Request::OpenRawIp { family } => open_raw_ip(*family)?,
            Request::OpenDatalink { ifindex } => open_datalink(*ifindex)?,
            Request::OpenRouteSocket => open_route_socket()?,
            Request::BindControlUnix => {
                let path = self.policy.control_unix.clone().expect("checked by policy");
                let fd = bind_unix(&self.id, &path)?;
                self.state.unix_bound = true;
                fd
            }
            Request::BindControlTcp => {
                let addr = self.policy.control_tcp.expect("checked by policy");
                let fd = bind_tcp(addr)?;
                self.state.tcp_bound = true;
                fd
            }
            Request::Reopen { file } => {
                let path = self.policy.reopen_path(*file)?;
                open_user_file(&self.id, &path)?
            }
            // PF and IPFW exist only on the BSDs; Linux has no firewall support in scamper.
            Request::FirewallAdd { .. } | Request::FirewallDelete { .. } => {
                return Err(Refusal::Unsupported)
            }
            Request::Ready => {
                self.state.ready = true;
                self.notify.ready();
                return Ok(None);
            }
            Request::Reloaded { ok } => {
                self.state.reload_pending = false;
                if *ok {
                    log::info("reload complete");
                } else {
                    log::warn("reload failed; the previous configuration stays in force");
                }
                self.notify.ready();
                return Ok(None);
            }
        };
        Ok(Some(fd))
    }

    /// Wait for the prober to exit, at most `limit`; kill it if it does not.
    fn reap(&mut self, limit: Duration) -> Ending {
        let deadline = Instant::now() + limit;
        loop {
            match waitpid(self.prober, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => return Ending::ProberExited(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => return Ending::ProberKilled(sig),
                Ok(_) => {}
                Err(e) => return Ending::ProtocolViolation(format!("waitpid: {e}")),
            }
            if Instant::now() >= deadline {
                log::error("prober did not exit in time; killing it");
                let _ = kill(self.prober, Signal::SIGKILL);
                return match waitpid(self.prober, None) {
                    Ok(WaitStatus::Signaled(_, sig, _)) => Ending::ProberKilled(sig),
                    Ok(WaitStatus::Exited(_, code)) => Ending::ProberExited(code),
                    _ => Ending::ProberKilled(Signal::SIGKILL),
                };
            }
            // Sleep until SIGCHLD (the prober usually exits a few milliseconds after closing
            // the link, and the caller's exit waits on this) or a signal to relay.
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = u16::try_from(left.as_millis().clamp(1, 1000)).unwrap_or(1000);
            let mut fds = [
                PollFd::new(self.signals.chld.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.signals.term.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Ending::ProtocolViolation(format!("poll: {e}")),
            }
            drain(&mut self.signals.chld);
            if drain(&mut self.signals.term) {
                self.on_term();
            }
        }
    }
}
