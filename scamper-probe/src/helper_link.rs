//! The prober's end of the channel to the root helper. One tokio task owns the socket; the rest
//! of the engine asks for descriptors through a cloneable [`Privileged`] handle, and unsolicited
//! notices (reload, exit) come out of a channel of their own.

use scamper_proto::{
    decode_from_helper, encode_request, FrameBuf, FromHelper, Refusal, Request, MAX_HELPER_FRAME,
    PROTO_VERSION,
};
use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};

/// Errors from a request to the helper.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{0}")]
    Refused(Refusal),
    #[error("the root helper is gone")]
    Gone,
    #[error("protocol error with the root helper: {0}")]
    Protocol(String),
}

/// A notice the helper sent without being asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Reload,
    Exit,
}

type Reply = Result<Option<OwnedFd>, LinkError>;

/// Cloneable handle for making requests.
#[derive(Clone)]
pub struct Privileged {
    tx: mpsc::UnboundedSender<(Request, oneshot::Sender<Reply>)>,
}

impl Privileged {
    /// Make a request; returns the descriptor for requests that carry one.
    pub async fn request(&self, req: Request) -> Reply {
        let (tx, rx) = oneshot::channel();
        self.tx.send((req, tx)).map_err(|_| LinkError::Gone)?;
        rx.await.map_err(|_| LinkError::Gone)?
    }

    /// A request whose reply must carry a descriptor.
    pub async fn open(&self, req: Request) -> Result<OwnedFd, LinkError> {
        self.request(req)
            .await?
            .ok_or_else(|| LinkError::Protocol("reply without a descriptor".into()))
    }
}

/// Start the link task on `sock` (the prober's end of the socketpair): performs the version
/// handshake, then serves requests. Notices go to the returned receiver; when the helper goes
/// away the receiver yields `Notice::Exit`.
pub async fn start(
    sock: OwnedFd,
) -> Result<(Privileged, mpsc::UnboundedReceiver<Notice>), LinkError> {
    let mut link = Link::new(sock)?;
    link.send(&Request::Hello {
        version: PROTO_VERSION,
    })
    .await?;
    match link.next().await? {
        (FromHelper::Hello { version }, _) if version == PROTO_VERSION => {}
        (other, _) => {
            return Err(LinkError::Protocol(format!(
                "bad handshake reply {other:?}"
            )))
        }
    }
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (notice_tx, notice_rx) = mpsc::unbounded_channel();
    tokio::spawn(link.serve(req_rx, notice_tx));
    Ok((Privileged { tx: req_tx }, notice_rx))
}

/// Requests sent and not yet answered, at most: the helper reads at most a few frames per
/// poll, and the start-up batch is smaller than this.
const MAX_IN_FLIGHT: usize = 8;

struct Link {
    fd: AsyncFd<OwnedFd>,
    frames: FrameBuf,
    fds: VecDeque<OwnedFd>,
}

impl Link {
    fn new(sock: OwnedFd) -> Result<Link, LinkError> {
        nix::fcntl::fcntl(
            &sock,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(|e| LinkError::Protocol(e.to_string()))?;
        Ok(Link {
            fd: scamper_sys::async_fd(sock).map_err(|e| LinkError::Protocol(e.to_string()))?,
            frames: FrameBuf::new(MAX_HELPER_FRAME),
            fds: VecDeque::new(),
        })
    }

    async fn send(&mut self, req: &Request) -> Result<(), LinkError> {
        let frame = encode_request(req);
        let mut sent = 0;
        while sent < frame.len() {
            let mut guard = self.fd.writable().await.map_err(|_| LinkError::Gone)?;
            match guard
                .try_io(|fd| scamper_sys::send_with_fd(fd.get_ref().as_fd(), &frame[sent..], None))
            {
                Ok(Ok(n)) => sent += n,
                Ok(Err(_)) => return Err(LinkError::Gone),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// The next message and, for a `Done`, the next received descriptor if any.
    async fn next(&mut self) -> Result<(FromHelper, Option<OwnedFd>), LinkError> {
        loop {
            if let Some(body) = self
                .frames
                .next_frame()
                .map_err(|e| LinkError::Protocol(e.to_string()))?
            {
                let msg =
                    decode_from_helper(&body).map_err(|e| LinkError::Protocol(e.to_string()))?;
                let fd = if msg == FromHelper::Done {
                    self.fds.pop_front()
                } else {
                    None
                };
                return Ok((msg, fd));
            }
            let mut guard = self.fd.readable().await.map_err(|_| LinkError::Gone)?;
            let mut buf = [0u8; 4096];
            match guard.try_io(|fd| scamper_sys::recv_with_fds(fd.get_ref().as_fd(), &mut buf)) {
                Ok(Ok((0, _))) => return Err(LinkError::Gone),
                Ok(Ok((n, fds))) => {
                    self.frames.push(&buf[..n]);
                    self.fds.extend(fds);
                }
                Ok(Err(e)) => return Err(LinkError::Protocol(e.to_string())),
                Err(_would_block) => continue,
            }
        }
    }

    async fn serve(
        mut self,
        mut requests: mpsc::UnboundedReceiver<(Request, oneshot::Sender<Reply>)>,
        notices: mpsc::UnboundedSender<Notice>,
    ) {
        // Requests may be pipelined (start-up sends several at once, saving a round trip
        // each); the helper answers in order, so a reply always answers the oldest waiter.
        let mut waiting: VecDeque<(Request, oneshot::Sender<Reply>)> = VecDeque::new();
        loop {
            tokio::select! {
                req = requests.recv(), if waiting.len() < MAX_IN_FLIGHT => {
                    let Some((req, reply)) = req else { return };
                    if self.send(&req).await.is_err() {
                        let _ = reply.send(Err(LinkError::Gone));
                        let _ = notices.send(Notice::Exit);
                        return;
                    }
                    waiting.push_back((req, reply));
                }
                msg = self.next() => {
                    let (msg, fd) = match msg {
                        Ok(m) => m,
                        Err(e) => {
                            for (_, reply) in waiting.drain(..) {
                                let _ = reply.send(Err(match &e {
                                    LinkError::Protocol(why) => LinkError::Protocol(why.clone()),
                                    _ => LinkError::Gone,
                                }));
                            }
                            let _ = notices.send(Notice::Exit);
                            return;
                        }
                    };
                    match msg {
                        FromHelper::Reload => { let _ = notices.send(Notice::Reload); }
                        FromHelper::Exit => { let _ = notices.send(Notice::Exit); }
                        FromHelper::Hello { .. } => {
                            let _ = notices.send(Notice::Exit);
                            return;
                        }
                        FromHelper::Done | FromHelper::Refused(_) => {
                            let Some((req, reply)) = waiting.pop_front() else {
                                let _ = notices.send(Notice::Exit);
                                return;
                            };
                            let result = match msg {
                                FromHelper::Refused(r) => Err(LinkError::Refused(r)),
                                _ if req.replies_with_fd() && fd.is_none() => {
                                    Err(LinkError::Protocol("descriptor missing".into()))
                                }
                                _ => Ok(fd),
                            };
                            let _ = reply.send(result);
                        }
                    }
                }
            }
        }
    }
}
