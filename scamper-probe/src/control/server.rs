//! The tokio side of control clients: accepting connections on the `-U`/`-P` listeners, and one
//! reader and one writer task per client. The engine sees each client as a stream of
//! [`ClientEvent`]s and answers by queueing bytes in its [`ClientShared`] output queue.

use super::protocol::{LineError, LineReader, OutputQueue};
use super::ClientConn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

/// What the engine and a client's writer task share.
#[derive(Default)]
pub struct ClientShared {
    out: Mutex<OutputQueue>,
    wake: Notify,
    /// Close once everything queued is written.
    closing: AtomicBool,
    /// Close now, dropping what is queued (a client that stopped reading).
    dropped: AtomicBool,
}

impl ClientShared {
    fn queue(&self) -> std::sync::MutexGuard<'_, OutputQueue> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue output with `f` and wake the writer. Returns the bytes now queued.
    pub fn push(&self, f: impl FnOnce(&mut OutputQueue)) -> usize {
        let n = {
            let mut q = self.queue();
            f(&mut q);
            q.queued_bytes()
        };
        self.wake.notify_one();
        n
    }

    pub fn close_after_flush(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    pub fn drop_now(&self) {
        self.dropped.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// What a client's reader task reports.
#[derive(Debug)]
pub enum ClientEvent {
    Line(String),
    /// A line the protocol refuses (unprintable, too long); the reader stops after it.
    BadLine(LineError),
    /// The peer closed (or half-closed) its side.
    Eof,
}

/// Start the reader and writer tasks of a connection. Events arrive on `events` tagged `id`;
/// the reader waits when the engine is behind, so a flooding client is slowed, not buffered.
pub fn spawn_client(
    conn: ClientConn,
    id: u64,
    events: mpsc::Sender<(u64, ClientEvent)>,
) -> Arc<ClientShared> {
    let shared = Arc::new(ClientShared::default());
    let mut reader = conn.reader;
    tokio::spawn(async move {
        let mut lines = LineReader::new();
        let mut buf = vec![0u8; 8192];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = events.send((id, ClientEvent::Eof)).await;
                    return;
                }
                Ok(n) => n,
            };
            lines.push(&buf[..n]);
            while let Some(line) = lines.next_line() {
                let (ev, stop) = match line {
                    Ok(l) => (ClientEvent::Line(l), false),
                    Err(e) => (ClientEvent::BadLine(e), true),
                };
                if events.send((id, ev)).await.is_err() || stop {
                    return;
                }
            }
        }
    });
    let mut writer = conn.writer;
    let out = shared.clone();
    tokio::spawn(async move {
        loop {
            if out.dropped.load(Ordering::SeqCst) {
                break;
            }
            let chunk = out.queue().next_chunk().map(<[u8]>::to_vec);
            match chunk {
                Some(bytes) => match writer.write(&bytes).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.queue().consume(n),
                },
                None if out.closing.load(Ordering::SeqCst) => break,
                None => {
                    let _ = writer.flush().await;
                    out.wake.notified().await;
                }
            }
        }
        let _ = writer.shutdown().await;
    });
    shared
}

/// Accept clients on the `-U` listener. Each gets the name `<path>:<n>`, n counting
/// connections from 0, as its default source name.
pub async fn accept_unix(
    listener: tokio::net::UnixListener,
    path: String,
    clients: mpsc::Sender<ClientConn>,
) {
    let mut n = 0u64;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors or similar: back off instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let (r, w) = stream.into_split();
        let conn = ClientConn {
            reader: Box::new(r),
            writer: Box::new(w),
            pre_attached: false,
            name_hint: format!("{path}:{n}"),
        };
        n += 1;
        if clients.send(conn).await.is_err() {
            return;
        }
    }
}

/// Accept clients on the `-P` listener; the default source name is `<ip>:<port>` of the peer
/// (`<ip6>.<port>` for IPv6).
pub async fn accept_tcp(listener: tokio::net::TcpListener, clients: mpsc::Sender<ClientConn>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let name_hint = match peer {
            std::net::SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
            std::net::SocketAddr::V6(a) => format!("{}.{}", a.ip(), a.port()),
        };
        let (r, w) = stream.into_split();
        let conn = ClientConn {
            reader: Box::new(r),
            writer: Box::new(w),
            pre_attached: false,
            name_hint,
        };
        if clients.send(conn).await.is_err() {
            return;
        }
    }
}
