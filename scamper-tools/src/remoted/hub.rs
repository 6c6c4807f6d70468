//! sc_remoted's tokio driver. One hub task owns every master, local client and mux client and
//! reacts to events from small I/O tasks (acceptors, readers, writers), so the protocol state is
//! never shared between tasks. Writers get bytes over unbounded queues, like sc_remoted's
//! unbounded retained queues; readers feed the hub through one bounded queue (backpressure).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::TlsAcceptor;

use super::master::{MEvent, Master, Mode};
use super::meta::Metadata;
use super::mux::{self, MuxDecoder, MuxIn, VpInfo};

/// Timer values of remote.md §7.2; tests shorten them.
#[derive(Debug, Clone)]
pub struct Timers {
    /// Silence allowed right after accept (also bounds the TLS handshake).
    pub initial_rx: Duration,
    pub rx_abort: Duration,
    pub keepalive: Duration,
    /// `-Z`; zero disables zombies.
    pub zombie: Duration,
    /// Granularity of timer checks.
    pub tick: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            initial_rx: Duration::from_secs(30),
            rx_abort: Duration::from_secs(60),
            keepalive: Duration::from_secs(30),
            zombie: Duration::from_secs(900),
            tick: Duration::from_millis(500),
        }
    }
}

/// Server-side TLS: every connection is TLS when present (no negotiation, §3).
#[derive(Clone)]
pub struct TlsServer {
    pub acceptor: TlsAcceptor,
    /// `-C` given: a verified client certificate is required, and (unless
    /// `skip_name_verification`) the MASTER_NEW monitor name must match it.
    pub client_ca: bool,
    pub skip_name_verification: bool,
}

/// Builds the TLS server configuration from PEM contents (`-c`, `-p`, `-C`).
pub fn tls_server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    ca_pem: Option<&[u8]>,
) -> Result<rustls::ServerConfig, String> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    if chain.is_empty() {
        return Err("certificate: none found".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        format!("private key: {e} (encrypted keys are not supported; decrypt it first)")
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let builder = match ca_pem {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca) {
                let c = c.map_err(|e| format!("CA file: {e}"))?;
                roots.add(c).map_err(|e| format!("CA file: {e}"))?;
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| format!("CA file: {e}"))?;
            builder.with_client_cert_verifier(v)
        }
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("certificate/key: {e}"))
}

/// Whether a (verified) client certificate names `name` (DNS subjectAltName, `*.` wildcards).
pub fn cert_matches_name(cert_der: &[u8], name: &str) -> bool {
    let der = CertificateDer::from(cert_der);
    let Ok(ee) = webpki::EndEntityCert::try_from(&der) else {
        return false;
    };
    let Ok(sn) = ServerName::try_from(name) else {
        return false;
    };
    ee.verify_is_valid_for_subject_name(&sn).is_ok()
}

pub struct Config {
    pub unix_dir: Option<PathBuf>,
    pub mux_path: Option<PathBuf>,
    /// Mode of created unix sockets: 0700 plus `-O allowgroup` / `allowother`.
    pub socket_mode: u32,
    pub tls: Option<TlsServer>,
    pub meta: Metadata,
    pub timers: Timers,
    pub debug: bool,
    pub times: bool,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

enum Ev {
    VpConn {
        io: Box<dyn Io>,
        peer: SocketAddr,
        cert: Option<Vec<u8>>,
    },
    VpRead {
        conn: u64,
        data: Vec<u8>,
    },
    VpGone {
        conn: u64,
        why: String,
    },
    LocalConn {
        master: u64,
        stream: UnixStream,
    },
    LocalRead {
        local: u64,
        data: Vec<u8>,
    },
    LocalGone {
        local: u64,
    },
    MuxConn {
        stream: UnixStream,
    },
    MuxRead {
        mux: u64,
        data: Vec<u8>,
    },
    MuxGone {
        mux: u64,
    },
    Reload {
        meta: Option<Metadata>,
        tls: Option<TlsServer>,
    },
    Shutdown,
}

/// A control handle on a running sc_remoted.
pub struct Handle {
    tx: mpsc::Sender<Ev>,
    task: JoinHandle<()>,
    acceptors: Vec<JoinHandle<()>>,
    pub local_addrs: Vec<SocketAddr>,
}

impl Handle {
    /// SIGHUP: new metadata and/or TLS credentials (existing sessions keep theirs).
    pub async fn reload(&self, meta: Option<Metadata>, tls: Option<TlsServer>) {
        let _ = self.tx.send(Ev::Reload { meta, tls }).await;
    }

    /// Clean exit: sockets removed, connections closed.
    pub async fn shutdown(self) {
        let _ = self.tx.send(Ev::Shutdown).await;
        let _ = self.task.await;
        for a in &self.acceptors {
            a.abort();
        }
    }
}

/// Starts serving on already-bound TCP listeners.
pub fn start(cfg: Config, listeners: Vec<TcpListener>) -> io::Result<Handle> {
    let (tx, rx) = mpsc::channel::<Ev>(1024);
    let (tls_tx, tls_rx) = watch::channel(cfg.tls.clone());
    let mut acceptors = Vec::new();
    let mut local_addrs = Vec::new();
    let initial_rx = cfg.timers.initial_rx;
    for l in listeners {
        local_addrs.push(l.local_addr()?);
        acceptors.push(tokio::spawn(accept_vps(
            l,
            tx.clone(),
            tls_rx.clone(),
            initial_rx,
        )));
    }
    let mux_listener = match &cfg.mux_path {
        Some(p) => {
            let l = bind_unix(p, cfg.socket_mode)?;
            let tx = tx.clone();
            acceptors.push(tokio::spawn(async move {
                // Runs until aborted at shutdown.
                loop {
                    match l.accept().await {
                        Ok((stream, _)) => {
                            if tx.send(Ev::MuxConn { stream }).await.is_err() {
                                return;
                            }
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            }));
            true
        }
        None => false,
    };
    let hub = Hub {
        cfg,
        tx: tx.clone(),
        tls_tx,
        next_id: 1,
        next_vp_id: 1,
        masters: HashMap::new(),
        conns: HashMap::new(),
        locals: HashMap::new(),
        muxes: HashMap::new(),
        mux_listener,
    };
    let task = tokio::spawn(hub.run(rx));
    Ok(Handle {
        tx,
        task,
        acceptors,
        local_addrs,
    })
}

/// Binds a unix stream socket with the configured permissions; a stale file is an error.
fn bind_unix(path: &Path, mode: u32) -> io::Result<UnixListener> {
    let l = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    l.set_nonblocking(true)?;
    UnixListener::from_std(l)
}

async fn accept_vps(
    l: TcpListener,
    tx: mpsc::Sender<Ev>,
    tls: watch::Receiver<Option<TlsServer>>,
    handshake_limit: Duration,
) {
    // Runs until aborted at shutdown.
    loop {
        let (tcp, peer) = match l.accept().await {
            Ok(x) => x,
            Err(_) => {
                // EMFILE and friends: pause instead of spinning.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let tls = tls.borrow().clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let ev = match tls {
                None => Ev::VpConn {
                    io: Box::new(tcp),
                    peer,
                    cert: None,
                },
                Some(t) => match timeout(handshake_limit, t.acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => {
                        let cert = s
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| c.to_vec());
                        if t.client_ca && cert.is_none() {
                            return;
                        }
                        Ev::VpConn {
                            io: Box::new(s),
                            peer,
                            cert,
                        }
                    }
                    _ => return,
                },
            };
            let _ = tx.send(ev).await;
        });
    }
}

/// How remoted names a peer: `a.b.c.d:port`, or `v6addr.port`.
pub fn peer_string(peer: SocketAddr) -> String {
    match peer.ip() {
        IpAddr::V4(a) => format!("{a}:{}", peer.port()),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => format!("{v4}:{}", peer.port()),
            None => format!("{a}.{}", peer.port()),
        },
    }
}

struct Conn {
    id: u64,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    reader: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // The writer task finishes what is queued (e.g. MASTER_REJ) and then closes.
        self.reader.abort();
    }
}

#[derive(Clone, Copy)]
enum Owner {
    Local(u64),
    Mux { mux: u64, cid: u32 },
}

struct VpSocket {
    path: PathBuf,
    task: JoinHandle<()>,
}

impl Drop for VpSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

struct MasterRec {
    m: Master,
    /// 0 until MASTER_NEW was accepted.
    vp_id: u32,
    magic: Vec<u8>,
    name: Option<String>,
    peer: SocketAddr,
    cert: Option<Vec<u8>>,
    arrival: SystemTime,
    conn: Option<Conn>,
    socket: Option<VpSocket>,
    rx_deadline: Instant,
    ka_deadline: Instant,
    zombie_until: Option<Instant>,
    owners: HashMap<u32, Owner>,
}

enum LocalOut {
    Data(Vec<u8>),
    Close,
}

struct Local {
    master: u64,
    channel: u32,
    tx: mpsc::UnboundedSender<LocalOut>,
    reader: JoinHandle<()>,
}

impl Drop for Local {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

struct MuxClient {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    reader: JoinHandle<()>,
    dec: MuxDecoder,
    chans: HashMap<u32, (u64, u32)>,
}

impl Drop for MuxClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

struct Hub {
    cfg: Config,
    tx: mpsc::Sender<Ev>,
    tls_tx: watch::Sender<Option<TlsServer>>,
    next_id: u64,
    next_vp_id: u32,
    masters: HashMap<u64, MasterRec>,
    conns: HashMap<u64, u64>,
    locals: HashMap<u64, Local>,
    muxes: HashMap<u64, MuxClient>,
    mux_listener: bool,
}

/// Spawns a task that copies reads into hub events; it ends at EOF/error or when aborted.
fn spawn_reader<R, F, G>(mut r: R, tx: mpsc::Sender<Ev>, data: F, gone: G) -> JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    F: Fn(Vec<u8>) -> Ev + Send + 'static,
    G: FnOnce(String) -> Ev + Send + 'static,
{
    tokio::spawn(async move {
        // sc_remoted reads local sockets 4096 bytes at a time.
        let mut buf = vec![0u8; 4096];
        let why = loop {
            match r.read(&mut buf).await {
                Ok(0) => break "EOF".to_string(),
                Ok(n) => {
                    if tx.send(data(buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
                Err(e) => break e.to_string(),
            }
        };
        let _ = tx.send(gone(why)).await;
    })
}

impl Hub {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn debug(&self, msg: &str) {
        if !self.cfg.debug {
            return;
        }
        if self.cfg.times {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let s = t.as_secs() % 86400;
            eprintln!(
                "[{:02}:{:02}:{:02}:{:03}] {msg}",
                s / 3600,
                (s / 60) % 60,
                s % 60,
                t.subsec_millis()
            );
        } else {
            eprintln!("{msg}");
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Ev>) {
        let mut tick = tokio::time::interval(self.cfg.timers.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Ends on Shutdown (or when every sender is gone, which Handle prevents until then).
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    None | Some(Ev::Shutdown) => break,
                    Some(ev) => self.handle(ev),
                },
                _ = tick.tick() => self.timers(),
            }
        }
        self.cleanup();
    }

    fn cleanup(&mut self) {
        // Dropping the records removes the per-VP socket files and closes connections.
        self.masters.clear();
        self.conns.clear();
        self.locals.clear();
        self.muxes.clear();
        if let (true, Some(p)) = (self.mux_listener, &self.cfg.mux_path) {
            let _ = std::fs::remove_file(p);
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::VpConn { io, peer, cert } => self.vp_conn(io, peer, cert),
            Ev::VpRead { conn, data } => self.vp_read(conn, &data),
            Ev::VpGone { conn, why } => {
                if let Some(&key) = self.conns.get(&conn) {
                    self.debug(&format!("{}: {why}", peer_string(self.masters[&key].peer)));
                    self.lost(key);
                }
            }
            Ev::LocalConn { master, stream } => self.local_conn(master, stream),
            Ev::LocalRead { local, data } => {
                if let Some(l) = self.locals.get(&local) {
                    let (key, ch) = (l.master, l.channel);
                    if let Some(rec) = self.masters.get_mut(&key) {
                        rec.m.send_data(ch, &data);
                    }
                    self.flush(key);
                }
            }
            Ev::LocalGone { local } => {
                if let Some(l) = self.locals.remove(&local) {
                    self.close_master_channel(l.master, l.channel);
                }
            }
            Ev::MuxConn { stream } => self.mux_conn(stream),
            Ev::MuxRead { mux, data } => self.mux_read(mux, &data),
            Ev::MuxGone { mux } => self.mux_gone(mux),
            Ev::Reload { meta, tls } => {
                if let Some(m) = meta {
                    self.cfg.meta = m;
                }
                if let Some(t) = tls {
                    let _ = self.tls_tx.send(Some(t));
                }
            }
            Ev::Shutdown => {}
        }
    }

    fn vp_conn(&mut self, io: Box<dyn Io>, peer: SocketAddr, cert: Option<Vec<u8>>) {
        let key = self.id();
        let conn_id = self.id();
        let (r, mut w) = tokio::io::split(io);
        let tx = self.tx.clone();
        let reader = spawn_reader(
            r,
            tx.clone(),
            move |data| Ev::VpRead {
                conn: conn_id,
                data,
            },
            move |why| Ev::VpGone { conn: conn_id, why },
        );
        let (wtx, mut wrx) = mpsc::unbounded_channel::<Vec<u8>>();
        // Ends when the Conn is dropped (queue closed) or on a write error.
        tokio::spawn(async move {
            while let Some(b) = wrx.recv().await {
                let r = async {
                    w.write_all(&b).await?;
                    w.flush().await
                }
                .await;
                if let Err(e) = r {
                    let _ = tx
                        .send(Ev::VpGone {
                            conn: conn_id,
                            why: format!("write: {e}"),
                        })
                        .await;
                    return;
                }
            }
            let _ = w.shutdown().await;
        });
        let now = Instant::now();
        self.debug(&format!("{}: connected", peer_string(peer)));
        self.masters.insert(
            key,
            MasterRec {
                m: Master::new(),
                vp_id: 0,
                magic: Vec::new(),
                name: None,
                peer,
                cert,
                arrival: SystemTime::now(),
                conn: Some(Conn {
                    id: conn_id,
                    tx: wtx,
                    reader,
                }),
                socket: None,
                rx_deadline: now + self.cfg.timers.initial_rx,
                ka_deadline: now + self.cfg.timers.initial_rx,
                zombie_until: None,
                owners: HashMap::new(),
            },
        );
        self.conns.insert(conn_id, key);
    }

    fn vp_read(&mut self, conn: u64, data: &[u8]) {
        let Some(&key) = self.conns.get(&conn) else {
            return;
        };
        let rx_abort = self.cfg.timers.rx_abort;
        let Some(rec) = self.masters.get_mut(&key) else {
            return;
        };
        rec.rx_deadline = Instant::now() + rx_abort;
        let events = match rec.m.receive(data) {
            Ok(e) => e,
            Err(e) => {
                let p = peer_string(rec.peer);
                self.debug(&format!("{p}: protocol error: {e}"));
                self.free(key);
                return;
            }
        };
        for ev in events {
            if !self.masters.contains_key(&key) {
                return;
            }
            match ev {
                MEvent::New { magic, name } => {
                    if let Err(why) = self.master_new(key, magic, name) {
                        self.debug(&format!("{}: {why}", peer_string(self.masters[&key].peer)));
                        self.free(key);
                        return;
                    }
                }
                MEvent::Resume {
                    magic,
                    rcv_nxt,
                    snd_una,
                    snd_nxt,
                } => {
                    self.master_res(key, magic, rcv_nxt, snd_una, snd_nxt);
                    // The temporary master is gone either way.
                    return;
                }
                MEvent::Data { channel, data } => self.deliver(key, channel, data),
                MEvent::Fin { channel } => self.fin_from_vp(key, channel),
            }
        }
        self.flush(key);
    }

    fn socket_name(rec: &MasterRec) -> String {
        match &rec.name {
            Some(n) => format!("{n}-{}", peer_string(rec.peer)),
            None => peer_string(rec.peer),
        }
    }

    /// (Re)creates the per-VP unix socket of a master.
    fn make_socket(&mut self, key: u64) -> io::Result<()> {
        let Some(dir) = self.cfg.unix_dir.clone() else {
            return Ok(());
        };
        let rec = self.masters.get_mut(&key).ok_or(io::ErrorKind::NotFound)?;
        rec.socket = None;
        let path = dir.join(Self::socket_name(rec));
        let l = bind_unix(&path, self.cfg.socket_mode)?;
        let tx = self.tx.clone();
        let task = tokio::spawn(async move {
            // Runs until aborted (zombie, resume, free).
            loop {
                match l.accept().await {
                    Ok((stream, _)) => {
                        if tx
                            .send(Ev::LocalConn {
                                master: key,
                                stream,
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        rec.socket = Some(VpSocket { path, task });
        Ok(())
    }

    fn master_new(&mut self, key: u64, magic: Vec<u8>, name: Option<String>) -> Result<(), String> {
        if self
            .masters
            .iter()
            .any(|(k, r)| *k != key && r.magic == magic)
        {
            return Err("MASTER_NEW with a magic already in use".into());
        }
        if let Some(t) = &self.cfg.tls {
            if t.client_ca && !t.skip_name_verification {
                let rec = &self.masters[&key];
                let ok = match (&name, &rec.cert) {
                    (Some(n), Some(c)) => cert_matches_name(c, n),
                    _ => false,
                };
                if !ok {
                    return Err("monitor name does not match the client certificate".into());
                }
            }
        }
        {
            let rec = self.masters.get_mut(&key).ok_or("gone")?;
            rec.magic = magic;
            rec.name = name;
        }
        self.make_socket(key)
            .map_err(|e| format!("could not create unix socket: {e}"))?;
        let vp_id = self.next_vp_id;
        self.next_vp_id = self.next_vp_id.wrapping_add(1).max(1);
        let rec = self.masters.get_mut(&key).ok_or("gone")?;
        rec.vp_id = vp_id;
        rec.arrival = SystemTime::now();
        let id = peer_string(rec.peer);
        rec.m.accept_new(&id);
        self.debug(&format!("{id}: new session, vp {vp_id}"));
        if let Some(u) = self.vp_update(key) {
            for m in self.muxes.values() {
                let _ = m.tx.send(u.clone());
            }
        }
        Ok(())
    }

    fn master_res(&mut self, tmp: u64, magic: Vec<u8>, rcv_nxt: u32, snd_una: u32, snd_nxt: u32) {
        let found = self
            .masters
            .iter()
            .find(|(k, r)| **k != tmp && r.vp_id != 0 && r.magic == magic)
            .map(|(k, _)| *k)
            .filter(|k| self.masters[k].m.can_resume(rcv_nxt, snd_una, snd_nxt));
        let Some(key) = found else {
            let Some(mut t) = self.masters.remove(&tmp) else {
                return;
            };
            self.debug(&format!("{}: resume rejected", peer_string(t.peer)));
            t.m.reject();
            if let Some(c) = &t.conn {
                let _ = c.tx.send(t.m.take_output());
                self.conns.remove(&c.id);
            }
            // Dropping t closes the connection after the queued MASTER_REJ is written.
            return;
        };
        let Some(mut t) = self.masters.remove(&tmp) else {
            return;
        };
        let conn = t.conn.take();
        let now = Instant::now();
        let rec = self.masters.get_mut(&key).expect("found above");
        if let Some(old) = rec.conn.take() {
            self.conns.remove(&old.id);
        }
        rec.m.resume(rcv_nxt);
        rec.peer = t.peer;
        rec.zombie_until = None;
        rec.rx_deadline = now + self.cfg.timers.rx_abort;
        if let Some(c) = &conn {
            self.conns.insert(c.id, key);
        }
        rec.conn = conn;
        let p = peer_string(rec.peer);
        self.debug(&format!("{p}: session resumed"));
        if let Err(e) = self.make_socket(key) {
            self.debug(&format!("could not create unix socket: {e}"));
            self.lost(key);
            return;
        }
        self.flush(key);
    }

    fn vp_update(&self, key: u64) -> Option<Vec<u8>> {
        let rec = self.masters.get(&key)?;
        let t = rec.arrival.duration_since(UNIX_EPOCH).unwrap_or_default();
        let ip = match rec.peer.ip() {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
            v4 => v4,
        };
        mux::vp_update(&VpInfo {
            vp_id: rec.vp_id,
            name: rec.name.as_deref(),
            arrival: format!("{}.{:06}", t.as_secs(), t.subsec_micros()),
            peer: ip,
            meta: rec.name.as_deref().and_then(|n| self.cfg.meta.get(n)),
        })
    }

    fn deliver(&mut self, key: u64, channel: u32, data: Vec<u8>) {
        let Some(owner) = self
            .masters
            .get(&key)
            .and_then(|r| r.owners.get(&channel))
            .copied()
        else {
            return;
        };
        match owner {
            Owner::Local(l) => {
                if let Some(l) = self.locals.get(&l) {
                    let _ = l.tx.send(LocalOut::Data(data));
                }
            }
            Owner::Mux { mux, cid } => {
                if let Some(m) = self.muxes.get(&mux) {
                    let _ = m.tx.send(mux::frame(cid, &data));
                }
            }
        }
    }

    fn fin_from_vp(&mut self, key: u64, channel: u32) {
        let Some(owner) = self
            .masters
            .get_mut(&key)
            .and_then(|r| r.owners.remove(&channel))
        else {
            return;
        };
        match owner {
            Owner::Local(l) => {
                // Stop reading, write what is pending, then close.
                if let Some(l) = self.locals.remove(&l) {
                    let _ = l.tx.send(LocalOut::Close);
                }
            }
            Owner::Mux { mux, cid } => {
                if let Some(m) = self.muxes.get_mut(&mux) {
                    m.chans.remove(&cid);
                    let _ = m.tx.send(mux::channel_close(cid));
                }
            }
        }
    }

    fn close_master_channel(&mut self, key: u64, channel: u32) {
        if let Some(rec) = self.masters.get_mut(&key) {
            rec.owners.remove(&channel);
            rec.m.close_channel(channel);
        }
        self.flush(key);
    }

    /// Sends what a master produced; resets its keepalive timer.
    fn flush(&mut self, key: u64) {
        let ka = self.cfg.timers.keepalive;
        let Some(rec) = self.masters.get_mut(&key) else {
            return;
        };
        let out = rec.m.take_output();
        if out.is_empty() {
            return;
        }
        if let Some(c) = &rec.conn {
            let _ = c.tx.send(out);
            rec.ka_deadline = Instant::now() + ka;
        }
    }

    /// Read/write error, EOF or silence: zombie if the master had a session, else freed.
    fn lost(&mut self, key: u64) {
        let zombie = self.cfg.timers.zombie;
        let Some(rec) = self.masters.get_mut(&key) else {
            return;
        };
        if rec.vp_id == 0 || zombie.is_zero() || rec.m.mode() == Mode::Flush {
            self.free(key);
            return;
        }
        if let Some(c) = rec.conn.take() {
            self.conns.remove(&c.id);
        }
        rec.socket = None;
        rec.m.zombify();
        rec.zombie_until = Some(Instant::now() + zombie);
        let p = peer_string(rec.peer);
        self.debug(&format!("{p}: zombie"));
    }

    /// Discards a master: local connections closed, mux clients told.
    fn free(&mut self, key: u64) {
        let Some(mut rec) = self.masters.remove(&key) else {
            return;
        };
        if let Some(c) = rec.conn.take() {
            self.conns.remove(&c.id);
        }
        for (_, owner) in rec.owners.drain() {
            match owner {
                Owner::Local(l) => {
                    self.locals.remove(&l);
                }
                Owner::Mux { mux, cid } => {
                    // sc_remoted 20260420 sends no CHANNEL_CLOSE here; we do, so that mux
                    // clients see EOF on the channel instead of waiting forever.
                    if let Some(m) = self.muxes.get_mut(&mux) {
                        m.chans.remove(&cid);
                        let _ = m.tx.send(mux::channel_close(cid));
                    }
                }
            }
        }
        if rec.vp_id != 0 {
            self.debug(&format!(
                "{}: vp {} freed",
                peer_string(rec.peer),
                rec.vp_id
            ));
            let d = mux::vp_depart(rec.vp_id);
            for m in self.muxes.values() {
                let _ = m.tx.send(d.clone());
            }
        }
    }

    fn timers(&mut self) {
        let now = Instant::now();
        let keys: Vec<u64> = self.masters.keys().copied().collect();
        for key in keys {
            let Some(rec) = self.masters.get_mut(&key) else {
                continue;
            };
            if let Some(z) = rec.zombie_until {
                if now >= z {
                    self.free(key);
                }
                continue;
            }
            if rec.conn.is_some() && now >= rec.rx_deadline {
                let p = peer_string(rec.peer);
                self.debug(&format!("{p}: nothing received"));
                self.lost(key);
                continue;
            }
            if rec.m.mode() == Mode::Go && now >= rec.ka_deadline {
                rec.m.keepalive();
                self.flush(key);
            }
        }
    }

    fn local_conn(&mut self, key: u64, stream: UnixStream) {
        let lid = self.id();
        let Some(rec) = self.masters.get_mut(&key) else {
            return;
        };
        let ch = rec.m.open_channel();
        rec.owners.insert(ch, Owner::Local(lid));
        let (r, mut w) = stream.into_split();
        let reader = spawn_reader(
            r,
            self.tx.clone(),
            move |data| Ev::LocalRead { local: lid, data },
            move |_| Ev::LocalGone { local: lid },
        );
        let (tx, mut rx) = mpsc::unbounded_channel::<LocalOut>();
        // Ends at Close, when the Local is dropped, or on a write error.
        tokio::spawn(async move {
            while let Some(o) = rx.recv().await {
                match o {
                    LocalOut::Data(d) => {
                        if w.write_all(&d).await.is_err() {
                            return;
                        }
                    }
                    LocalOut::Close => break,
                }
            }
            let _ = w.shutdown().await;
        });
        self.locals.insert(
            lid,
            Local {
                master: key,
                channel: ch,
                tx,
                reader,
            },
        );
        self.flush(key);
    }

    fn mux_conn(&mut self, stream: UnixStream) {
        let id = self.id();
        let (r, mut w) = stream.into_split();
        let reader = spawn_reader(
            r,
            self.tx.clone(),
            move |data| Ev::MuxRead { mux: id, data },
            move |_| Ev::MuxGone { mux: id },
        );
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        // Ends when the client record is dropped or on a write error.
        tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if w.write_all(&b).await.is_err() {
                    return;
                }
            }
            let _ = w.shutdown().await;
        });
        // Every VP currently connected (not zombies), then GO.
        let mut keys: Vec<(u32, u64)> = self
            .masters
            .iter()
            .filter(|(_, r)| r.vp_id != 0 && r.conn.is_some() && r.m.mode() == Mode::Go)
            .map(|(k, r)| (r.vp_id, *k))
            .collect();
        keys.sort_unstable();
        for (_, k) in keys {
            if let Some(u) = self.vp_update(k) {
                let _ = tx.send(u);
            }
        }
        let _ = tx.send(mux::go());
        self.muxes.insert(
            id,
            MuxClient {
                tx,
                reader,
                dec: MuxDecoder::new(),
                chans: HashMap::new(),
            },
        );
    }

    fn mux_read(&mut self, id: u64, data: &[u8]) {
        let Some(m) = self.muxes.get_mut(&id) else {
            return;
        };
        m.dec.push(data);
        // Bounded by the bytes just pushed: every message consumes some of them.
        loop {
            let Some(m) = self.muxes.get_mut(&id) else {
                return;
            };
            let msg = match m.dec.next_msg() {
                Ok(Some(msg)) => msg,
                Ok(None) => return,
                Err(e) => {
                    self.debug(&format!("mux client: {e}"));
                    self.mux_gone(id);
                    return;
                }
            };
            match msg {
                MuxIn::Open { vp_id, channel } => {
                    let key = self
                        .masters
                        .iter()
                        .find(|(_, r)| r.vp_id == vp_id && vp_id != 0)
                        .map(|(k, _)| *k);
                    let in_use = m.chans.contains_key(&channel);
                    let Some(key) = key.filter(|_| !in_use) else {
                        self.debug("mux client: bad CHANNEL_OPEN");
                        self.mux_gone(id);
                        return;
                    };
                    let rec = self.masters.get_mut(&key).expect("found above");
                    let mch = rec.m.open_channel();
                    rec.owners.insert(
                        mch,
                        Owner::Mux {
                            mux: id,
                            cid: channel,
                        },
                    );
                    if let Some(m) = self.muxes.get_mut(&id) {
                        m.chans.insert(channel, (key, mch));
                    }
                    self.flush(key);
                }
                MuxIn::Data { channel, data } => {
                    if let Some(&(key, mch)) = m.chans.get(&channel) {
                        if let Some(rec) = self.masters.get_mut(&key) {
                            rec.m.send_data(mch, &data);
                        }
                        self.flush(key);
                    }
                }
                MuxIn::Close { channel } => {
                    // Newer clients may close a channel themselves; treat it like a local
                    // client going away.
                    if let Some((key, mch)) = m.chans.remove(&channel) {
                        self.close_master_channel(key, mch);
                    }
                }
                MuxIn::Ignored { .. } => {}
            }
        }
    }

    fn mux_gone(&mut self, id: u64) {
        let Some(m) = self.muxes.remove(&id) else {
            return;
        };
        for (_, (key, mch)) in m.chans.iter() {
            self.close_master_channel(*key, *mch);
        }
    }
}
