//! `-R name:port`: scamper connects out to sc_remoted and serves the channels the controller
//! opens as pre-attached control clients (remote.md).
//!
//! Layout: [`wire`] is the frame codec shared with sc_remoted, [`session`] the sans-IO session
//! state machine; this file is the tokio driver: connect (TCP, then TLS), run the session,
//! bridge each channel to a [`ClientConn`] through an in-memory duplex pipe, keepalives,
//! rx-abort and reconnect with resume.

pub mod session;
pub mod wire;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::control::ClientConn;
use session::{Event, Session};

/// Timer values (remote.md §7.1). Tests shorten them.
#[derive(Debug, Clone)]
pub struct RemoteTimers {
    /// KEEPALIVE this long after the last successful write.
    pub keepalive: Duration,
    /// Drop the connection (and reconnect at once) after this long without a successful read.
    pub rx_abort: Duration,
    /// Reconnect delay after a failure: `reconnect_base + random(0..reconnect_jitter)`.
    pub reconnect_base: Duration,
    pub reconnect_jitter: Duration,
    /// Bound on one TCP connect attempt (scamper's connect is blocking; ours must not hang).
    pub connect_timeout: Duration,
}

impl Default for RemoteTimers {
    fn default() -> Self {
        RemoteTimers {
            keepalive: Duration::from_secs(30),
            rx_abort: Duration::from_secs(60),
            reconnect_base: Duration::from_secs(30),
            reconnect_jitter: Duration::from_secs(31),
            connect_timeout: Duration::from_secs(60),
        }
    }
}

/// TLS material, read before the prober is confined (it is chrooted and cannot open files).
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// Trust anchors (DER): the `-O cafile=` bundle, or the system roots.
    pub roots_der: Vec<Vec<u8>>,
    /// `-O client-certfile=` contents (PEM chain).
    pub client_cert_pem: Option<Vec<u8>>,
    /// `-O client-privfile=` contents (PEM key).
    pub client_key_pem: Option<Vec<u8>>,
}

impl TlsSettings {
    /// From PEM contents; `ca_pem == None` means the system trust store (loaded now).
    pub fn from_pem(
        ca_pem: Option<&[u8]>,
        client_cert_pem: Option<&[u8]>,
        client_key_pem: Option<&[u8]>,
    ) -> Result<TlsSettings, RemoteError> {
        if client_cert_pem.is_some() != client_key_pem.is_some() {
            return Err(RemoteError::Tls(
                "client-certfile and client-privfile go together".into(),
            ));
        }
        let roots_der = match ca_pem {
            Some(pem) => {
                let certs = CertificateDer::pem_slice_iter(pem)
                    .map(|c| c.map(|c| c.to_vec()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| RemoteError::Tls(format!("cafile: {e}")))?;
                if certs.is_empty() {
                    return Err(RemoteError::Tls("cafile: no certificates".into()));
                }
                certs
            }
            None => rustls_native_certs::load_native_certs()
                .certs
                .into_iter()
                .map(|c| c.to_vec())
                .collect(),
        };
        let s = TlsSettings {
            roots_der,
            client_cert_pem: client_cert_pem.map(<[u8]>::to_vec),
            client_key_pem: client_key_pem.map(<[u8]>::to_vec),
        };
        // Parse everything once now so that configuration errors show at start-up.
        s.client_config()?;
        Ok(s)
    }

    /// Reads `-O cafile=`, `client-certfile=`, `client-privfile=` (call before confinement).
    pub fn load(
        cafile: Option<&Path>,
        client_certfile: Option<&Path>,
        client_privfile: Option<&Path>,
    ) -> Result<TlsSettings, RemoteError> {
        let read = |p: Option<&Path>| -> Result<Option<Vec<u8>>, RemoteError> {
            p.map(|p| {
                std::fs::read(p).map_err(|e| RemoteError::Tls(format!("{}: {e}", p.display())))
            })
            .transpose()
        };
        let ca = read(cafile)?;
        let cert = read(client_certfile)?;
        let key = read(client_privfile)?;
        Self::from_pem(ca.as_deref(), cert.as_deref(), key.as_deref())
    }

    /// TLS ≥ 1.2 client configuration, no SNI (remote.md §2).
    pub fn client_config(&self) -> Result<rustls::ClientConfig, RemoteError> {
        let tls = |e: rustls::Error| RemoteError::Tls(e.to_string());
        let mut roots = rustls::RootCertStore::empty();
        for der in &self.roots_der {
            // A system store may hold certificates webpki cannot use; skip those.
            let _ = roots.add(CertificateDer::from(der.clone()));
        }
        if roots.is_empty() {
            return Err(RemoteError::Tls("no usable trust anchors".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(tls)?
            .with_root_certificates(roots);
        let mut cfg = match (&self.client_cert_pem, &self.client_key_pem) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| RemoteError::Tls(format!("client-certfile: {e}")))?;
                if chain.is_empty() {
                    return Err(RemoteError::Tls("client-certfile: no certificates".into()));
                }
                let key = PrivateKeyDer::from_pem_slice(key)
                    .map_err(|e| RemoteError::Tls(format!("client-privfile: {e}")))?;
                builder.with_client_auth_cert(chain, key).map_err(tls)?
            }
            _ => builder.with_no_client_auth(),
        };
        cfg.enable_sni = false;
        Ok(cfg)
    }
}

/// Everything `run` needs; build it before the prober is confined.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// As given to `-R` (brackets around an IPv6 literal allowed).
    pub host: String,
    pub port: u16,
    /// Addresses from [`resolve`] (done before the chroot). Empty: resolve at each attempt.
    pub addrs: Vec<SocketAddr>,
    /// `-M`; sent in MASTER_NEW.
    pub monitor_name: Option<String>,
    /// `None` for `-O notls` / `notls-remote`. Never used when `host` is an IP literal.
    pub tls: Option<TlsSettings>,
    pub timers: RemoteTimers,
    /// Give up (return [`RemoteError::GaveUp`]) after this many consecutive failed attempts;
    /// `None` retries for as long as the engine runs, as scamper does.
    pub max_failures: Option<u32>,
}

impl RemoteConfig {
    /// Defaults for everything but the endpoint.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        RemoteConfig {
            host: host.into(),
            port,
            addrs: Vec::new(),
            monitor_name: None,
            tls: None,
            timers: RemoteTimers::default(),
            max_failures: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("invalid monitor name for -R: must be 1..254 characters of [A-Za-z0-9.-]")]
    InvalidMonitorName,
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("giving up on {host}:{port} after {failures} failed attempts")]
    GaveUp {
        host: String,
        port: u16,
        failures: u32,
    },
}

/// `host` without IPv6 brackets, as an address if it is a literal.
fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Resolves `-R`'s host before confinement. IP literals resolve to themselves; names give their
/// IPv4 addresses (scamper asks for A records only), or IPv6 ones if a name has no IPv4 address.
pub fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Some(ip) = ip_literal(host) {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let all: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let v4: Vec<SocketAddr> = all.iter().copied().filter(SocketAddr::is_ipv4).collect();
    let out = if v4.is_empty() { all } else { v4 };
    if out.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no address for {host}"),
        ));
    }
    Ok(out)
}

/// Random bytes from the TLS provider's system RNG (getrandom; works inside the chroot).
fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    let rng = rustls::crypto::ring::default_provider().secure_random;
    if rng.fill(&mut v).is_err() {
        // Only uniqueness among a controller's sessions matters; fall back to the clock.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_be_bytes();
        for (i, b) in v.iter_mut().enumerate() {
            *b = t[i % t.len()] ^ (std::process::id() as u8).wrapping_add(i as u8);
        }
    }
    v
}

fn reconnect_delay(t: &RemoteTimers) -> Duration {
    let jitter_ms = t.reconnect_jitter.as_millis() as u64;
    let r = random_bytes(8);
    let r = u64::from_be_bytes(r.try_into().unwrap_or([0; 8]));
    let extra = if jitter_ms == 0 { 0 } else { r % jitter_ms };
    t.reconnect_base + Duration::from_millis(extra)
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Engine-side happenings on a channel, from the per-channel reader tasks.
enum EngineEvent {
    Data {
        channel: u32,
        token: u64,
        data: Vec<u8>,
    },
    Eof {
        channel: u32,
        token: u64,
    },
}

/// Our ends of one channel's pipe to the engine.
struct ChanIo {
    token: u64,
    /// Controller bytes for the engine; dropping it closes the engine's reader (EOF).
    to_engine: mpsc::UnboundedSender<Vec<u8>>,
    /// Bytes handed to `to_engine` and not yet written into the pipe.
    pending: Arc<AtomicUsize>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
    /// Wakes the driver if it paused input because of this channel's backlog.
    drained: Arc<Notify>,
}

impl Drop for ChanIo {
    fn drop(&mut self) {
        // Dropping both halves of our pipe end gives the engine EOF even if it stopped
        // reading; undelivered input is moot once the channel is gone.
        self.reader.abort();
        self.writer.abort();
        self.drained.notify_one();
    }
}

/// Size of each channel's in-memory pipe to the engine.
const PIPE_CAPACITY: usize = 64 * 1024;
/// Stop reading the master connection while this much controller data awaits the engine.
const INPUT_HIGH_WATER: usize = 1024 * 1024;
/// Stop pulling engine output while this much is unwritten on the socket...
const OUTPUT_HIGH_WATER: usize = 256 * 1024;
/// ...or this much is retained unacknowledged (e.g. while disconnected).
const RETAINED_HIGH_WATER: usize = 64 * 1024 * 1024;

/// State that survives reconnects.
struct Driver {
    cfg: RemoteConfig,
    clients: mpsc::Sender<ClientConn>,
    connector: Option<tokio_rustls::TlsConnector>,
    session: Session,
    chans: HashMap<u32, ChanIo>,
    next_token: u64,
    eng_tx: mpsc::Sender<EngineEvent>,
    eng_rx: mpsc::Receiver<EngineEvent>,
    drained: Arc<Notify>,
}

/// How one connection ended.
enum Ended {
    /// rx-abort: reconnect at once.
    Silent,
    /// EOF, I/O or protocol error, REJ: back off.
    Failed(String),
    /// The engine stopped taking clients: stop.
    EngineGone,
}

/// Connects to sc_remoted and serves its channels until the engine drops `clients` (then
/// `Ok(())`) or `max_failures` consecutive attempts failed.
pub async fn run(cfg: RemoteConfig, clients: mpsc::Sender<ClientConn>) -> Result<(), RemoteError> {
    if let Some(n) = &cfg.monitor_name {
        if !wire::valid_monitor_name(n) {
            return Err(RemoteError::InvalidMonitorName);
        }
    }
    // TLS is never attempted to an IP literal (remote.md §2).
    let connector = match (&cfg.tls, ip_literal(&cfg.host)) {
        (Some(t), None) => Some(tokio_rustls::TlsConnector::from(Arc::new(
            t.client_config()?,
        ))),
        _ => None,
    };
    let (eng_tx, eng_rx) = mpsc::channel(64);
    let mut d = Driver {
        session: Session::new(cfg.monitor_name.clone(), random_bytes(wire::MAGIC_LEN)),
        cfg,
        clients,
        connector,
        chans: HashMap::new(),
        next_token: 0,
        eng_tx,
        eng_rx,
        drained: Arc::new(Notify::new()),
    };
    d.run().await
}

impl Driver {
    async fn run(&mut self) -> Result<(), RemoteError> {
        let mut failures: u32 = 0;
        loop {
            if self.clients.is_closed() {
                return Ok(());
            }
            let ended = match self.connect().await {
                Ok(stream) => {
                    let e = self.serve(stream).await;
                    self.session.disconnected();
                    e
                }
                Err(e) => Ended::Failed(e),
            };
            let wait = match ended {
                Ended::EngineGone => return Ok(()),
                Ended::Silent => {
                    crate::log::warn(&format!(
                        "remote {}:{}: nothing received, reconnecting",
                        self.cfg.host, self.cfg.port
                    ));
                    failures = 0;
                    continue;
                }
                Ended::Failed(why) => {
                    failures = failures.saturating_add(1);
                    crate::log::warn(&format!(
                        "remote {}:{}: {why}",
                        self.cfg.host, self.cfg.port
                    ));
                    if self.cfg.max_failures.is_some_and(|m| failures >= m) {
                        return Err(RemoteError::GaveUp {
                            host: self.cfg.host.clone(),
                            port: self.cfg.port,
                            failures,
                        });
                    }
                    reconnect_delay(&self.cfg.timers)
                }
            };
            // The engine may shut down while we wait.
            tokio::select! {
                _ = sleep(wait) => {}
                _ = self.clients.closed() => return Ok(()),
            }
        }
    }

    async fn connect(&mut self) -> Result<Box<dyn Io>, String> {
        let addrs = if self.cfg.addrs.is_empty() {
            let (h, p) = (self.cfg.host.clone(), self.cfg.port);
            tokio::task::spawn_blocking(move || resolve(&h, p))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("could not resolve {}: {e}", self.cfg.host))?
        } else {
            self.cfg.addrs.clone()
        };
        let mut last = String::from("no addresses");
        let mut tcp = None;
        for a in addrs {
            match timeout(self.cfg.timers.connect_timeout, TcpStream::connect(a)).await {
                Ok(Ok(s)) => {
                    tcp = Some(s);
                    break;
                }
                Ok(Err(e)) => last = format!("connect {a}: {e}"),
                Err(_) => last = format!("connect {a}: timed out"),
            }
        }
        let tcp = tcp.ok_or(last)?;
        let _ = tcp.set_nodelay(true);
        let Some(conn) = &self.connector else {
            return Ok(Box::new(tcp));
        };
        let name = ServerName::try_from(self.cfg.host.clone())
            .map_err(|e| format!("TLS server name {}: {e}", self.cfg.host))?;
        // rx-abort is the only timer during the handshake (remote.md §7.1).
        match timeout(self.cfg.timers.rx_abort, conn.connect(name, tcp)).await {
            Ok(Ok(s)) => Ok(Box::new(s)),
            Ok(Err(e)) => Err(format!("TLS handshake: {e}")),
            Err(_) => Err("TLS handshake timed out".into()),
        }
    }

    /// Runs one connection until it breaks.
    async fn serve(&mut self, stream: Box<dyn Io>) -> Ended {
        let t = self.cfg.timers.clone();
        let (mut rd, mut wr) = tokio::io::split(stream);
        self.session.connected();
        let mut wbuf: Vec<u8> = Vec::new();
        let mut need_flush = false;
        let mut rbuf = vec![0u8; 16 * 1024];
        let mut rx_deadline = Instant::now() + t.rx_abort;
        let mut ka_deadline = Instant::now() + t.keepalive;
        loop {
            wbuf.extend_from_slice(&self.session.take_output());
            let paused = self.input_pending() > INPUT_HIGH_WATER;
            if paused {
                // Data is waiting in the socket; silence is ours, not the controller's.
                rx_deadline = Instant::now() + t.rx_abort;
            }
            let pull = wbuf.len() < OUTPUT_HIGH_WATER
                && self.session.seq().retained_bytes() < RETAINED_HIGH_WATER
                && self.session.mode() == session::Mode::Go;
            let drained = self.drained.clone();
            tokio::select! {
                r = rd.read(&mut rbuf), if !paused => {
                    let n = match r {
                        Ok(0) => return Ended::Failed("connection closed by remoted".into()),
                        Ok(n) => n,
                        Err(e) => return Ended::Failed(format!("read: {e}")),
                    };
                    rx_deadline = Instant::now() + t.rx_abort;
                    match self.session.receive(&rbuf[..n]) {
                        Ok(events) => {
                            if let Some(end) = self.handle_events(events).await {
                                return end;
                            }
                        }
                        Err(e) => return Ended::Failed(format!("protocol error: {e}")),
                    }
                }
                // One branch for both, as both need `wr`; flushing matters for TLS.
                r = async {
                    if wbuf.is_empty() {
                        wr.flush().await.map(|()| None)
                    } else {
                        wr.write(&wbuf).await.map(Some)
                    }
                }, if !wbuf.is_empty() || need_flush => match r {
                    Ok(Some(0)) => return Ended::Failed("write: connection closed".into()),
                    Ok(Some(n)) => {
                        wbuf.drain(..n);
                        need_flush = true;
                        ka_deadline = Instant::now() + t.keepalive;
                    }
                    Ok(None) => need_flush = false,
                    Err(e) => return Ended::Failed(format!("write: {e}")),
                },
                ev = self.eng_rx.recv(), if pull => {
                    // eng_tx is held by self, so recv never yields None.
                    if let Some(ev) = ev {
                        self.engine_event(ev);
                    }
                }
                _ = drained.notified(), if paused => {}
                _ = sleep_until(ka_deadline) => {
                    self.session.keepalive();
                    ka_deadline = Instant::now() + t.keepalive;
                }
                _ = sleep_until(rx_deadline) => return Ended::Silent,
                _ = self.clients.closed() => return Ended::EngineGone,
            }
        }
    }

    /// Controller bytes not yet taken by the engine, over all channels.
    fn input_pending(&self) -> usize {
        self.chans
            .values()
            .map(|c| c.pending.load(Ordering::Relaxed))
            .sum()
    }

    fn engine_event(&mut self, ev: EngineEvent) {
        match ev {
            EngineEvent::Data {
                channel,
                token,
                data,
            } => {
                if self.chans.get(&channel).is_some_and(|c| c.token == token) {
                    self.session.send_data(channel, &data);
                }
            }
            EngineEvent::Eof { channel, token } => {
                if self.chans.get(&channel).is_some_and(|c| c.token == token) {
                    self.chans.remove(&channel);
                    self.session.close_channel(channel);
                }
            }
        }
    }

    /// Returns how the connection ends if an event ends it.
    async fn handle_events(&mut self, events: Vec<Event>) -> Option<Ended> {
        for ev in events {
            match ev {
                Event::Established { alias } => {
                    crate::log::info(&format!(
                        "remote {}:{}: connected as {alias}",
                        self.cfg.host, self.cfg.port
                    ));
                }
                Event::Resumed => {
                    crate::log::info(&format!(
                        "remote {}:{}: session resumed",
                        self.cfg.host, self.cfg.port
                    ));
                }
                Event::Rejected { .. } => {
                    // Dropping the pipes gives every engine client EOF: it abandons them.
                    self.chans.clear();
                    self.session.set_magic(random_bytes(wire::MAGIC_LEN));
                    return Some(Ended::Failed("session rejected by remoted".into()));
                }
                Event::ChannelOpened { channel, name } => {
                    let conn = self.open_channel(channel, name);
                    if self.clients.send(conn).await.is_err() {
                        return Some(Ended::EngineGone);
                    }
                }
                Event::ChannelData { channel, data } => {
                    if let Some(c) = self.chans.get(&channel) {
                        let n = data.len();
                        c.pending.fetch_add(n, Ordering::Relaxed);
                        if c.to_engine.send(data).is_err() {
                            // The writer task is gone: the engine closed its reader.
                            c.pending.fetch_sub(n, Ordering::Relaxed);
                        }
                    }
                }
                Event::ChannelClosed { channel } => {
                    self.chans.remove(&channel);
                }
            }
        }
        None
    }

    /// Builds the engine's side of a new channel and starts the pumps on ours.
    fn open_channel(&mut self, channel: u32, name: String) -> ClientConn {
        let (ours, theirs) = tokio::io::duplex(PIPE_CAPACITY);
        let (their_r, their_w) = tokio::io::split(theirs);
        let (mut our_r, mut our_w) = tokio::io::split(ours);
        let token = self.next_token;
        self.next_token += 1;

        let (to_engine, mut from_ctl) = mpsc::unbounded_channel::<Vec<u8>>();
        let pending = Arc::new(AtomicUsize::new(0));
        let pending2 = pending.clone();
        let drained = self.drained.clone();
        // Ends when the channel is dropped (sender gone / aborted) or the engine stops reading.
        let writer = tokio::spawn(async move {
            while let Some(buf) = from_ctl.recv().await {
                let r = our_w.write_all(&buf).await;
                pending2.fetch_sub(buf.len(), Ordering::Relaxed);
                drained.notify_one();
                if r.is_err() {
                    // Refuse further input and discount what is still queued.
                    from_ctl.close();
                    while let Some(b) = from_ctl.recv().await {
                        pending2.fetch_sub(b.len(), Ordering::Relaxed);
                    }
                    drained.notify_one();
                    return;
                }
            }
            let _ = our_w.shutdown().await;
        });

        let eng_tx = self.eng_tx.clone();
        // Ends at the engine's EOF, a pipe error, or when aborted (channel closed by remoted).
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; session::DATA_CHUNK];
            loop {
                match our_r.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = eng_tx.send(EngineEvent::Eof { channel, token }).await;
                        return;
                    }
                    Ok(n) => {
                        let ev = EngineEvent::Data {
                            channel,
                            token,
                            data: buf[..n].to_vec(),
                        };
                        if eng_tx.send(ev).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        self.chans.insert(
            channel,
            ChanIo {
                token,
                to_engine,
                pending,
                reader,
                writer,
                drained: self.drained.clone(),
            },
        );
        ClientConn {
            reader: Box::new(their_r),
            writer: Box::new(their_w),
            pre_attached: true,
            name_hint: name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_literals() {
        assert_eq!(
            resolve("192.0.2.1", 31337).unwrap(),
            vec!["192.0.2.1:31337".parse().unwrap()]
        );
        assert_eq!(
            resolve("[2001:db8::1]", 5).unwrap(),
            vec!["[2001:db8::1]:5".parse().unwrap()]
        );
        assert_eq!(
            resolve("127.0.0.1", 1).unwrap()[0].ip(),
            IpAddr::from([127, 0, 0, 1])
        );
    }

    #[test]
    fn tls_settings_validation() {
        assert!(matches!(
            TlsSettings::from_pem(Some(b"not pem"), None, None),
            Err(RemoteError::Tls(_))
        ));
        assert!(matches!(
            TlsSettings::from_pem(Some(b""), Some(b"x"), None),
            Err(RemoteError::Tls(_))
        ));
    }

    #[test]
    fn reconnect_delay_within_spec() {
        let t = RemoteTimers::default();
        for _ in 0..50 {
            let d = reconnect_delay(&t);
            assert!(
                d >= Duration::from_secs(30) && d < Duration::from_secs(61),
                "{d:?}"
            );
        }
    }

    #[tokio::test]
    async fn invalid_monitor_name_refused() {
        let (tx, _rx) = mpsc::channel(1);
        let mut cfg = RemoteConfig::new("127.0.0.1", 1);
        cfg.monitor_name = Some("bad_name".into());
        assert!(matches!(
            run(cfg, tx).await,
            Err(RemoteError::InvalidMonitorName)
        ));
    }

    #[tokio::test]
    async fn gives_up_after_max_failures() {
        // Port 1 on loopback: connection refused at once.
        let (tx, _rx) = mpsc::channel(1);
        let mut cfg = RemoteConfig::new("127.0.0.1", 1);
        cfg.timers.reconnect_base = Duration::from_millis(1);
        cfg.timers.reconnect_jitter = Duration::from_millis(2);
        cfg.max_failures = Some(3);
        assert!(matches!(
            run(cfg, tx).await,
            Err(RemoteError::GaveUp { failures: 3, .. })
        ));
    }

    /// A fake controller on loopback: garbage on the first connection makes the VP reconnect
    /// (with MASTER_NEW, as no session was established); the second one opens a channel.
    #[tokio::test]
    async fn driver_recovers_from_hostile_controller() {
        use wire::{Control, Frame, FrameDecoder};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let mut cfg = RemoteConfig::new("127.0.0.1", addr.port());
        cfg.addrs = vec![addr];
        cfg.monitor_name = Some("vp1".into());
        cfg.timers.reconnect_base = Duration::from_millis(10);
        cfg.timers.reconnect_jitter = Duration::from_millis(10);
        cfg.timers.keepalive = Duration::from_millis(100);
        let vp = tokio::spawn(run(cfg, tx));
        let limit = Duration::from_secs(10);

        async fn next(s: &mut TcpStream, d: &mut FrameDecoder) -> Frame {
            let mut buf = [0u8; 512];
            loop {
                if let Some(f) = d.next_frame().unwrap() {
                    return f;
                }
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "VP closed");
                d.push(&buf[..n]);
            }
        }
        let ctl = |seq, c: Control| {
            Frame {
                seq,
                channel: 0,
                payload: c.encode(),
            }
            .encode()
        };

        let (mut s, _) = timeout(limit, l.accept()).await.unwrap().unwrap();
        let mut d = FrameDecoder::new();
        let hello = timeout(limit, next(&mut s, &mut d)).await.unwrap();
        assert!(matches!(
            Control::parse(&hello.payload),
            Ok(Control::MasterNew { .. })
        ));
        // msglen 0: protocol error at the VP.
        s.write_all(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).await.unwrap();

        let (mut s, _) = timeout(limit, l.accept()).await.unwrap().unwrap();
        let mut d = FrameDecoder::new();
        let hello = timeout(limit, next(&mut s, &mut d)).await.unwrap();
        assert!(matches!(
            Control::parse(&hello.payload),
            Ok(Control::MasterNew { name: Some(n), .. }) if n == "vp1"
        ));
        let mut msg = ctl(
            0,
            Control::MasterId {
                id: "127.0.0.1:9".into(),
            },
        );
        msg.extend(ctl(0, Control::ChannelNew { channel: 5 }));
        msg.extend(
            Frame {
                seq: 1,
                channel: 5,
                payload: b"ping 192.0.2.1\n".to_vec(),
            }
            .encode(),
        );
        s.write_all(&msg).await.unwrap();
        let mut conn = timeout(limit, rx.recv()).await.unwrap().unwrap();
        assert!(conn.pre_attached);
        assert_eq!(conn.name_hint, "127.0.0.1:9_0");
        let mut line = [0u8; 15];
        conn.reader.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"ping 192.0.2.1\n");
        conn.writer.write_all(b"MORE\n").await.unwrap();
        // Two ACKs, then our data, with keepalives allowed in between.
        let mut acks = Vec::new();
        let data = timeout(limit, async {
            loop {
                let f = next(&mut s, &mut d).await;
                if f.channel != 0 {
                    return f;
                }
                if let Ok(Control::Ack { seq }) = Control::parse(&f.payload) {
                    acks.push(seq);
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(acks, vec![0, 1]);
        assert_eq!(
            (data.seq, data.channel, &data.payload[..]),
            (0, 5, &b"MORE\n"[..])
        );
        // Idle: the VP sends KEEPALIVE.
        let ka = timeout(limit, next(&mut s, &mut d)).await.unwrap();
        assert_eq!(Control::parse(&ka.payload), Ok(Control::Keepalive));
        assert_eq!(ka.seq, 1);
        // The engine finishes the channel: CHANNEL_FIN (reliable, seq 1).
        drop(conn);
        let fin = timeout(limit, async {
            loop {
                let f = next(&mut s, &mut d).await;
                if let Ok(Control::ChannelFin { channel }) = Control::parse(&f.payload) {
                    return (f.seq, channel);
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(fin, (1, 5));
        // The engine goes away: run() returns.
        drop(rx);
        assert!(timeout(limit, vp).await.unwrap().unwrap().is_ok());
    }
}
