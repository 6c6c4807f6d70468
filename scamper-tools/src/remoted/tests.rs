//! In-process integration tests: this sc_remoted hub and scamper_probe's `-R` client on
//! 127.0.0.1, TLS with a throwaway CA, a fake engine that answers every line with `OK id-N`,
//! local clients on the per-VP unix socket and the mux socket. A TCP relay between the two
//! lets a test break the VP's connection.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use scamper_probe::control::ClientConn;
use scamper_probe::remote::{self, RemoteConfig, RemoteError, RemoteTimers, TlsSettings};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout};

use super::hub::{self, Config, Handle, Timers, TlsServer};
use super::meta::Metadata;
use super::mux;

/// Upper bound for any single wait in these tests.
const WAIT: Duration = Duration::from_secs(15);

struct Pki {
    ca_pem: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki(client_name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf = |name: &str, eku: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
        p.extended_key_usages = vec![eku];
        let cert = p.signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) = leaf(client_name, ExtendedKeyUsagePurpose::ClientAuth);
    Pki {
        ca_pem: ca.pem(),
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

fn tempdir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "scrs-remoted-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fast_timers() -> Timers {
    Timers {
        initial_rx: Duration::from_secs(3),
        rx_abort: Duration::from_secs(3),
        keepalive: Duration::from_millis(300),
        zombie: Duration::from_secs(30),
        tick: Duration::from_millis(50),
    }
}

async fn start_remoted(dir: &Path, pki: &Pki, port: u16) -> Handle {
    let cfg = hub::tls_server_config(
        pki.server_cert.as_bytes(),
        pki.server_key.as_bytes(),
        Some(pki.ca_pem.as_bytes()),
    )
    .unwrap();
    let tls = TlsServer {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(cfg)),
        client_ca: true,
        skip_name_verification: false,
    };
    let meta = Metadata::parse("vp1 cc NZ\nvp1 shortname hlz\n").unwrap();
    let l = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    hub::start(
        Config {
            unix_dir: Some(dir.join("vps")),
            mux_path: Some(dir.join("mux")),
            socket_mode: 0o700,
            tls: Some(tls),
            meta,
            timers: fast_timers(),
            debug: false,
            times: false,
        },
        vec![l],
    )
    .unwrap()
}

/// A TCP relay whose live connections can be cut, to break the VP's master connection.
struct Relay {
    addr: SocketAddr,
    pairs: Arc<Mutex<Vec<JoinHandle<()>>>>,
    task: JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let pairs: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let p2 = pairs.clone();
        let task = tokio::spawn(async move {
            // Runs until aborted when the Relay is dropped.
            loop {
                let Ok((mut down, _)) = l.accept().await else {
                    return;
                };
                let h = tokio::spawn(async move {
                    if let Ok(mut up) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                p2.lock().unwrap().push(h);
            }
        });
        Relay { addr, pairs, task }
    }

    /// Drops every relayed connection: both ends see the connection die.
    fn cut(&self) {
        for h in self.pairs.lock().unwrap().drain(..) {
            h.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

/// What the fake engine observed.
#[derive(Default)]
struct EngineLog {
    names: Vec<String>,
    all_pre_attached: bool,
    eofs: usize,
}

/// A stand-in for the engine: every channel is served by a task that answers each line with
/// `OK id-<n>` (`done` gets `OK` and closes the channel, as a finished source would).
fn fake_engine(mut rx: mpsc::Receiver<ClientConn>) -> Arc<Mutex<EngineLog>> {
    let log = Arc::new(Mutex::new(EngineLog {
        all_pre_attached: true,
        ..Default::default()
    }));
    let l2 = log.clone();
    tokio::spawn(async move {
        while let Some(c) = rx.recv().await {
            {
                let mut g = l2.lock().unwrap();
                g.names.push(c.name_hint.clone());
                g.all_pre_attached &= c.pre_attached;
            }
            let l3 = l2.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(c.reader).lines();
                let mut w = c.writer;
                let mut n = 0;
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "done" {
                        let _ = w.write_all(b"OK\n").await;
                        let _ = w.shutdown().await;
                        return;
                    }
                    n += 1;
                    if w.write_all(format!("OK id-{n}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                l3.lock().unwrap().eofs += 1;
            });
        }
    });
    log
}

fn vp_config(pki: &Pki, relay: SocketAddr, monitor: &str) -> RemoteConfig {
    let mut cfg = RemoteConfig::new("localhost", relay.port());
    cfg.addrs = vec![relay];
    cfg.monitor_name = Some(monitor.into());
    cfg.tls = Some(
        TlsSettings::from_pem(
            Some(pki.ca_pem.as_bytes()),
            Some(pki.client_cert.as_bytes()),
            Some(pki.client_key.as_bytes()),
        )
        .unwrap(),
    );
    cfg.timers = RemoteTimers {
        keepalive: Duration::from_millis(300),
        rx_abort: Duration::from_secs(3),
        reconnect_base: Duration::from_millis(200),
        reconnect_jitter: Duration::from_millis(100),
        connect_timeout: Duration::from_secs(2),
    };
    cfg
}

/// Waits until `dir` holds exactly one entry other than `except`; returns its path.
async fn wait_socket(dir: &Path, except: Option<&Path>) -> PathBuf {
    timeout(WAIT, async {
        // Bounded by the timeout around it.
        loop {
            if let Ok(rd) = std::fs::read_dir(dir) {
                let v: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| Some(p.as_path()) != except)
                    .collect();
                if v.len() == 1 {
                    return v[0].clone();
                }
            }
            sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("per-VP socket did not appear")
}

async fn read_line(r: &mut BufReader<tokio::net::unix::OwnedReadHalf>) -> String {
    let mut s = String::new();
    timeout(WAIT, r.read_line(&mut s))
        .await
        .expect("no reply")
        .unwrap();
    s
}

async fn read_mux_frame(s: &mut UnixStream) -> (u32, Vec<u8>) {
    timeout(WAIT, async {
        let mut h = [0u8; 8];
        s.read_exact(&mut h).await.unwrap();
        let ch = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let mut p = vec![0u8; len];
        s.read_exact(&mut p).await.unwrap();
        (ch, p)
    })
    .await
    .expect("no mux frame")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_channels_resume_mux_and_controller_restart() {
    let dir = tempdir("full");
    std::fs::create_dir(dir.join("vps")).unwrap();
    let pki = pki("vp1");
    let remoted = start_remoted(&dir, &pki, 0).await;
    let rport = remoted.local_addrs[0].port();
    let relay = Relay::start(remoted.local_addrs[0]).await;
    let (ctx, crx) = mpsc::channel(16);
    let engine = fake_engine(crx);
    let vp = tokio::spawn(remote::run(vp_config(&pki, relay.addr, "vp1"), ctx));

    // Per-VP socket named <monitor>-<addr:port>; bytes flow both ways.
    let sock = wait_socket(&dir.join("vps"), None).await;
    let fname = sock.file_name().unwrap().to_str().unwrap().to_string();
    assert!(fname.starts_with("vp1-127.0.0.1:"), "{fname}");
    let (r, mut w) = UnixStream::connect(&sock).await.unwrap().into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"ping 192.0.2.1\n").await.unwrap();
    assert_eq!(read_line(&mut r).await, "OK id-1\n");
    {
        let g = engine.lock().unwrap();
        let alias = fname.strip_prefix("vp1-").unwrap();
        assert_eq!(g.names, vec![format!("{alias}_0")]);
        assert!(g.all_pre_attached);
    }

    // Break the VP's connection; a line written meanwhile is queued and delivered after
    // the VP reconnects and resumes. The local connection survives; the socket is renamed.
    relay.cut();
    w.write_all(b"ping 192.0.2.2\n").await.unwrap();
    assert_eq!(read_line(&mut r).await, "OK id-2\n");
    let sock2 = wait_socket(&dir.join("vps"), None).await;
    assert_ne!(sock2, sock, "new source port after reconnecting");
    assert_eq!(
        engine.lock().unwrap().names.len(),
        1,
        "resumed, not a new session"
    );

    // Several breaks in a row, traffic in between.
    for i in 3..6 {
        relay.cut();
        sleep(Duration::from_millis(50)).await;
        w.write_all(format!("ping 192.0.2.{i}\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(read_line(&mut r).await, format!("OK id-{i}\n"));
    }

    // Keepalives keep an idle session up past both rx-abort timers (3 s).
    let before = wait_socket(&dir.join("vps"), None).await;
    sleep(Duration::from_millis(3500)).await;
    assert_eq!(wait_socket(&dir.join("vps"), None).await, before);
    w.write_all(b"ping 192.0.2.6\n").await.unwrap();
    assert_eq!(read_line(&mut r).await, "OK id-6\n");

    // Mux: VP_UPDATE (with metadata) then GO; open a channel, talk, engine finishes it.
    let mut m = UnixStream::connect(dir.join("mux")).await.unwrap();
    let (ch, upd) = read_mux_frame(&mut m).await;
    assert_eq!(ch, 0);
    assert_eq!(&upd[..6], &[0, 0, 0, 0, 0, 1], "VP_UPDATE for vp 1");
    let text = String::from_utf8_lossy(&upd[6..]).into_owned();
    for needle in ["vp1\0", "127.0.0.1\0", "NZ\0", "hlz\0"] {
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
    assert_eq!(read_mux_frame(&mut m).await, (0, vec![0, 2]), "GO");
    let mut open = 3u16.to_be_bytes().to_vec();
    open.extend_from_slice(&1u32.to_be_bytes());
    open.extend_from_slice(&7u32.to_be_bytes());
    m.write_all(&mux::frame(0, &open)).await.unwrap();
    m.write_all(&mux::frame(7, b"ping 192.0.2.9\n"))
        .await
        .unwrap();
    assert_eq!(read_mux_frame(&mut m).await, (7, b"OK id-1\n".to_vec()));
    m.write_all(&mux::frame(7, b"done\n")).await.unwrap();
    assert_eq!(read_mux_frame(&mut m).await, (7, b"OK\n".to_vec()));
    assert_eq!(
        read_mux_frame(&mut m).await,
        (0, mux::channel_close(7)[8..].to_vec())
    );
    assert_eq!(engine.lock().unwrap().names.len(), 2);

    // The local client goes away: the engine's channel sees EOF (source abandoned).
    drop(w);
    drop(r);
    timeout(WAIT, async {
        while engine.lock().unwrap().eofs < 1 {
            sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("engine saw no EOF");

    // Kill the controller: the mux client sees EOF, the VP keeps retrying; a new controller
    // on the same port rejects the resume, and the VP starts a new session.
    let (uc, ux) = UnixStream::connect(&wait_socket(&dir.join("vps"), None).await)
        .await
        .unwrap()
        .into_split();
    // The channel reaches the engine and stays open while the controller dies.
    timeout(WAIT, async {
        while engine.lock().unwrap().names.len() < 3 {
            sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("third channel never reached the engine");
    remoted.shutdown().await;
    let mut rest = Vec::new();
    let n = timeout(WAIT, m.read_to_end(&mut rest))
        .await
        .expect("mux EOF")
        .unwrap();
    assert_eq!(n, 0);
    assert!(!dir.join("mux").exists(), "mux socket removed at exit");
    sleep(Duration::from_millis(700)).await;
    assert!(!vp.is_finished(), "VP keeps retrying");
    drop((uc, ux));
    let dir2 = tempdir("restart");
    std::fs::create_dir(dir2.join("vps")).unwrap();
    let remoted2 = start_remoted(&dir2, &pki, rport).await;
    let sock3 = wait_socket(&dir2.join("vps"), None).await;
    let (r, mut w) = UnixStream::connect(&sock3).await.unwrap().into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"ping 192.0.2.10\n").await.unwrap();
    assert_eq!(read_line(&mut r).await, "OK id-1\n");
    let names = engine.lock().unwrap().names.clone();
    let alias = sock3
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .strip_prefix("vp1-")
        .unwrap()
        .to_string();
    // New alias after the reject; the `_k` counter lives as long as the remote entry.
    assert_eq!(
        names.last().unwrap(),
        &format!("{alias}_{}", names.len() - 1),
        "{names:?}"
    );
    assert!(
        engine.lock().unwrap().eofs >= 2,
        "rejected session's channels were dropped"
    );

    vp.abort();
    remoted2.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&dir2);
}

#[tokio::test]
async fn monitor_name_must_match_client_certificate() {
    let dir = tempdir("name");
    std::fs::create_dir(dir.join("vps")).unwrap();
    let pki = pki("vp1");
    let remoted = start_remoted(&dir, &pki, 0).await;
    let (ctx, _crx) = mpsc::channel(4);
    let mut cfg = vp_config(&pki, remoted.local_addrs[0], "vp2");
    cfg.max_failures = Some(2);
    let r = timeout(WAIT, remote::run(cfg, ctx))
        .await
        .expect("VP gave up in time");
    assert!(
        matches!(r, Err(RemoteError::GaveUp { failures: 2, .. })),
        "{r:?}"
    );
    assert_eq!(std::fs::read_dir(dir.join("vps")).unwrap().count(), 0);
    remoted.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn vp_without_ca_trust_fails_tls() {
    let dir = tempdir("trust");
    std::fs::create_dir(dir.join("vps")).unwrap();
    let pki = pki("vp1");
    let other = self::pki("vp1");
    let remoted = start_remoted(&dir, &pki, 0).await;
    let (ctx, _crx) = mpsc::channel(4);
    let mut cfg = vp_config(&pki, remoted.local_addrs[0], "vp1");
    // Trusts a different CA: the server certificate does not verify.
    cfg.tls = Some(
        TlsSettings::from_pem(
            Some(other.ca_pem.as_bytes()),
            Some(pki.client_cert.as_bytes()),
            Some(pki.client_key.as_bytes()),
        )
        .unwrap(),
    );
    cfg.max_failures = Some(1);
    let r = timeout(WAIT, remote::run(cfg, ctx))
        .await
        .expect("VP gave up in time");
    assert!(matches!(r, Err(RemoteError::GaveUp { .. })), "{r:?}");
    assert_eq!(std::fs::read_dir(dir.join("vps")).unwrap().count(), 0);
    remoted.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn plain_tcp_hostile_peers_and_zombie_expiry() {
    let dir = tempdir("plain");
    std::fs::create_dir(dir.join("vps")).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let remoted = hub::start(
        Config {
            unix_dir: Some(dir.join("vps")),
            mux_path: Some(dir.join("mux")),
            socket_mode: 0o700,
            tls: None,
            meta: Metadata::default(),
            timers: Timers {
                initial_rx: Duration::from_millis(500),
                zombie: Duration::from_secs(1),
                ..fast_timers()
            },
            debug: false,
            times: false,
        },
        vec![l],
    )
    .unwrap();
    let addr = remoted.local_addrs[0];
    let mut mux_conn = UnixStream::connect(dir.join("mux")).await.unwrap();
    assert_eq!(
        read_mux_frame(&mut mux_conn).await,
        (0, vec![0, 2]),
        "GO, no VPs yet"
    );

    // A zero-length message is a protocol error: remoted drops the connection.
    let mut bad = TcpStream::connect(addr).await.unwrap();
    bad.write_all(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0])
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = timeout(WAIT, bad.read(&mut buf)).await.expect("not closed");
    assert!(matches!(n, Ok(0) | Err(_)));
    // A peer that says nothing is dropped after the initial rx timer.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let n = timeout(WAIT, silent.read(&mut buf))
        .await
        .expect("not closed");
    assert!(matches!(n, Ok(0) | Err(_)));
    // A MASTER_RES nobody knows gets MASTER_REJ.
    let mut res = TcpStream::connect(addr).await.unwrap();
    let mut msg = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 22, 6, 8];
    msg.extend_from_slice(&[9; 8]);
    msg.extend_from_slice(&[0; 12]);
    res.write_all(&msg).await.unwrap();
    let mut rej = Vec::new();
    timeout(WAIT, res.read_to_end(&mut rej))
        .await
        .expect("not closed")
        .unwrap();
    assert_eq!(rej, vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7]);

    // A VP without monitor name and without TLS (IP literal): socket named by address.
    let (ctx, crx) = mpsc::channel(4);
    let engine = fake_engine(crx);
    let mut cfg = RemoteConfig::new("127.0.0.1", addr.port());
    cfg.addrs = remote::resolve("127.0.0.1", addr.port()).unwrap();
    cfg.tls = Some(TlsSettings::from_pem(Some(pki("x").ca_pem.as_bytes()), None, None).unwrap());
    let vp = tokio::spawn(remote::run(cfg, ctx));
    let sock = wait_socket(&dir.join("vps"), None).await;
    let fname = sock.file_name().unwrap().to_str().unwrap().to_string();
    assert!(fname.starts_with("127.0.0.1:"), "{fname}");
    let (ch, upd) = read_mux_frame(&mut mux_conn).await;
    assert_eq!(
        (ch, &upd[..6]),
        (0, &[0u8, 0, 0, 0, 0, 1][..]),
        "VP_UPDATE on arrival"
    );
    let (r, mut w) = UnixStream::connect(&sock).await.unwrap().into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"ping 192.0.2.1\n").await.unwrap();
    assert_eq!(read_line(&mut r).await, "OK id-1\n");
    assert_eq!(engine.lock().unwrap().names, vec![format!("{fname}_0")]);

    // A mux client reusing a channel id is a fatal mux error: its channels are FINed (the
    // engine sees EOF) and the mux connection is closed.
    let mut m2 = UnixStream::connect(dir.join("mux")).await.unwrap();
    let (_, upd2) = read_mux_frame(&mut m2).await;
    assert_eq!(&upd2[..6], &[0, 0, 0, 0, 0, 1]);
    assert_eq!(read_mux_frame(&mut m2).await, (0, vec![0, 2]));
    let mut open = 3u16.to_be_bytes().to_vec();
    open.extend_from_slice(&1u32.to_be_bytes());
    open.extend_from_slice(&1u32.to_be_bytes());
    m2.write_all(&mux::frame(0, &open)).await.unwrap();
    m2.write_all(&mux::frame(1, b"ping 192.0.2.7\n"))
        .await
        .unwrap();
    assert_eq!(read_mux_frame(&mut m2).await, (1, b"OK id-1\n".to_vec()));
    m2.write_all(&mux::frame(0, &open)).await.unwrap();
    let mut rest = Vec::new();
    timeout(WAIT, m2.read_to_end(&mut rest))
        .await
        .expect("mux not closed")
        .unwrap();
    timeout(WAIT, async {
        while engine.lock().unwrap().eofs < 1 {
            sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("engine saw no EOF for the mux channel");

    // The VP disappears for good: zombie (socket gone), then freed after -Z: local clients
    // closed, mux clients get VP_DEPART.
    vp.abort();
    let mut rest = String::new();
    timeout(WAIT, r.read_to_string(&mut rest))
        .await
        .expect("local client not closed")
        .unwrap();
    assert!(!sock.exists());
    assert_eq!(
        read_mux_frame(&mut mux_conn).await,
        (0, mux::vp_depart(1)[8..].to_vec())
    );
    remoted.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
