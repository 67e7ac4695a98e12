//! Raft's own messages over one connection per peer, kept open: the
//! stream, both ends of it.
//!
//! A message sent as an HTTP request of its own costs both nodes a pass
//! through the HTTP stack (headers written and parsed, routing, the edge
//! layers' span and metrics, and on the sender a hand-off to the client's
//! connection task and back). The stream skips all of it: the sender opens
//! a connection with an HTTP upgrade on the node's one port
//! (`GET /raft/stream`, `Upgrade: ordo-raft/1`, the cluster secret checked
//! before the switch like any `/raft/*` request), then sends a message as
//! one frame and waits for the answer's frame, one exchange at a time per
//! connection.
//!
//! A frame is the length of what follows (u32, big-endian), a code byte,
//! and the body. A request's code is its [`RpcKind::code`] and its body
//! what the kind's endpoint takes; an answer's code is [`REPLY_OK`] with
//! what the endpoint answers, or [`REPLY_REFUSED`] with why, in words.
//! Both ends read a stream through a buffer and write a frame with one
//! vectored write, so a message costs each side one write and, most of
//! the time, one read, not a system call per field.
//!
//! Only [`RpcKind::streamed`] kinds use it, all safe to send twice, so an
//! exchange on an idle connection the peer had already closed is tried
//! once more on a new one. A peer that does not take the upgrade (an older
//! node) gets requests of their own through the fallback transport, and
//! is asked again after [`FALLBACK_FOR`].

use std::collections::BTreeMap;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::header::{HeaderValue, CONNECTION, HOST, UPGRADE};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::Instant;

use crate::node::Node;
use crate::rpc::RpcKind;
use crate::transport::{root_cause, BoxFuture, Transport, TransportError};
use ordo_api::secret::{Secret, CLUSTER_SECRET_HEADER};

/// The path a stream is opened on.
pub const STREAM_PATH: &str = "/raft/stream";
/// The protocol named in the upgrade.
pub const PROTOCOL: &str = "ordo-raft/1";
/// An answer's code: the endpoint's answer follows.
pub const REPLY_OK: u8 = 0;
/// An answer's code: the message was refused; why follows, in words.
pub const REPLY_REFUSED: u8 = 1;
/// How long a peer that refused the upgrade gets requests of their own
/// before it is asked again.
pub const FALLBACK_FOR: Duration = Duration::from_secs(60);
/// A connection idle this long is not used again: the peer may be about
/// to close it ([`SERVER_IDLE`]).
pub const CLIENT_IDLE: Duration = Duration::from_secs(20);
/// A stream with no message for this long is closed by the node answering
/// it. A leader's heartbeats keep its streams busy.
pub const SERVER_IDLE: Duration = Duration::from_secs(60);
/// Idle connections kept per peer (more are opened while messages to it
/// overlap, and closed after).
const MAX_IDLE_PER_PEER: usize = 4;

/// The most a frame's body reserves before its bytes arrive: room for
/// nearly every message at once (an AppendEntries of a few hundred
/// records), while a length alone reserves no more than this.
const INITIAL_BODY_CAPACITY: usize = 1024 * 1024;

/// Bytes read from a stream at a time: a frame's header and, most of the
/// time, its whole body in one read.
const READ_BUFFER: usize = 64 * 1024;

/// A frame's length, code and body.
fn frame_header(code: u8, body_len: usize) -> io::Result<[u8; 5]> {
    let len = u32::try_from(body_len + 1)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame over 4 GiB"))?;
    let mut header = [0; 5];
    header[..4].copy_from_slice(&len.to_be_bytes());
    header[4] = code;
    Ok(header)
}

/// Writes one frame, header and body in one vectored write when the
/// writer takes it whole, and flushes it.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    code: u8,
    body: &[u8],
) -> io::Result<()> {
    let header = frame_header(code, body.len())?;
    let written = writer
        .write_vectored(&[IoSlice::new(&header), IoSlice::new(body)])
        .await?;
    // Whatever that first write left, in order.
    if written < header.len() {
        writer.write_all(&header[written..]).await?;
    }
    writer
        .write_all(&body[written.saturating_sub(header.len())..])
        .await?;
    writer.flush().await
}

/// How reading a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection ended cleanly before a frame began.
    #[error("the connection was closed")]
    Closed,
    /// A frame longer than the reader takes.
    #[error("a frame of {len} bytes is over the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("the frame has no code byte")]
    Empty,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads one frame of at most `max` bytes after its length.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<(u8, Vec<u8>), FrameError> {
    let mut len = [0; 4];
    let first = reader.read(&mut len).await?;
    if first == 0 {
        return Err(FrameError::Closed);
    }
    reader.read_exact(&mut len[first..]).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(FrameError::TooLong { len, max });
    }
    let Some(body_len) = len.checked_sub(1) else {
        return Err(FrameError::Empty);
    };
    let code = reader.read_u8().await?;
    // Grown as the bytes arrive, so a length alone reserves no memory.
    let mut body = Vec::with_capacity(body_len.min(INITIAL_BODY_CAPACITY));
    (&mut *reader)
        .take(body_len as u64)
        .read_to_end(&mut body)
        .await?;
    if body.len() < body_len {
        return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    Ok((code, body))
}

/// Answers the messages that come on one upgraded connection until the
/// peer closes it, it idles past [`SERVER_IDLE`], a frame is malformed, or
/// `end` says the server is shutting down.
pub async fn serve<Io>(
    node: Arc<Node>,
    io: Io,
    max_frame: usize,
    mut end: tokio::sync::watch::Receiver<bool>,
) where
    Io: AsyncRead + AsyncWrite + Unpin,
{
    let mut io = BufReader::with_capacity(READ_BUFFER, io);
    loop {
        let frame = tokio::select! {
            frame = tokio::time::timeout(SERVER_IDLE, read_frame(&mut io, max_frame)) => frame,
            () = async { drop(end.wait_for(|ended| *ended).await) } => return,
        };
        let (code, body) = match frame {
            Ok(Ok(frame)) => frame,
            Ok(Err(FrameError::Closed)) | Err(_) => return,
            Ok(Err(e)) => {
                // Refused in words, then closed: the stream's framing is
                // lost past a bad frame.
                let _ = write_frame(&mut io, REPLY_REFUSED, e.to_string().as_bytes()).await;
                return;
            }
        };
        let reply = match RpcKind::from_code(code) {
            Some(kind) => node
                .handle_rpc(kind, &body)
                .await
                .map_err(|e| e.to_string()),
            None => Err(format!("unknown message code {code}")),
        };
        let written = match reply {
            Ok(reply) => write_frame(&mut io, REPLY_OK, &reply).await,
            Err(reason) => write_frame(&mut io, REPLY_REFUSED, reason.as_bytes()).await,
        };
        if written.is_err() {
            return;
        }
    }
}

/// How a transport reaches a peer's port: TCP in production, turmoil's
/// network in the simulation.
pub trait Dial: Send + Sync + 'static {
    type Io: AsyncRead + AsyncWrite + Send + Unpin + 'static;

    fn dial<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Self::Io>>;
}

/// An open stream to a peer, read through a buffer.
type Stream = BufReader<TokioIo<hyper::upgrade::Upgraded>>;

/// Streams kept for one peer.
#[derive(Default)]
struct Peer {
    idle: Vec<(Stream, Instant)>,
    /// It refused the upgrade: requests of their own until then.
    fallback_until: Option<Instant>,
}

/// Why a stream could not be opened.
enum OpenError {
    /// No connection: nothing was sent.
    Unreachable(String),
    /// The peer answered the upgrade request with something else.
    Refused(StatusCode),
}

/// How an exchange on a stream failed.
enum ExchangeError {
    /// The peer closed the connection before answering, without reading
    /// anything of the message that could be told apart: it was idle and
    /// closed, or the peer went away.
    ClosedBeforeAnswer(String),
    Broken(String),
    /// No answer by the message's deadline.
    TimedOut,
}

/// A [`Transport`] that sends [`RpcKind::streamed`] messages over kept-open
/// streams and everything else through `fallback`.
pub struct StreamingTransport<D: Dial> {
    dial: D,
    fallback: Arc<dyn Transport>,
    cluster_secret: Option<HeaderValue>,
    /// Ordered, so that dropping the transport (a node stopping, or
    /// crashing in the simulation) closes its streams in the same order
    /// every time: a `HashMap`'s order differs from process to process,
    /// and the simulation's runs with it.
    peers: Mutex<BTreeMap<String, Peer>>,
}

impl<D: Dial> StreamingTransport<D> {
    pub fn new(dial: D, fallback: Arc<dyn Transport>) -> Self {
        StreamingTransport {
            dial,
            fallback,
            cluster_secret: None,
            peers: Mutex::new(BTreeMap::new()),
        }
    }

    /// Every upgrade request carries `secret` (see [`CLUSTER_SECRET_HEADER`]).
    pub fn with_cluster_secret(mut self, secret: &Secret) -> Self {
        self.cluster_secret = Some(crate::transport::secret_header(secret));
        self
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Peer>> {
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn falls_back(&self, addr: &str) -> bool {
        let now = Instant::now();
        self.peers()
            .get(addr)
            .and_then(|peer| peer.fallback_until)
            .is_some_and(|until| now < until)
    }

    /// An idle stream to `addr` used within [`CLIENT_IDLE`], if any.
    fn take_idle(&self, addr: &str) -> Option<Stream> {
        let now = Instant::now();
        let mut peers = self.peers();
        let peer = peers.get_mut(addr)?;
        peer.idle
            .retain(|(_, since)| now.duration_since(*since) < CLIENT_IDLE);
        peer.idle.pop().map(|(stream, _)| stream)
    }

    fn put_idle(&self, addr: &str, stream: Stream) {
        let mut peers = self.peers();
        let peer = peers.entry(addr.to_string()).or_default();
        if peer.idle.len() < MAX_IDLE_PER_PEER {
            peer.idle.push((stream, Instant::now()));
        }
    }

    fn fall_back(&self, addr: &str) {
        let until = Instant::now() + FALLBACK_FOR;
        let mut peers = self.peers();
        let peer = peers.entry(addr.to_string()).or_default();
        peer.idle.clear();
        peer.fallback_until = Some(until);
    }

    /// Connects to `addr` and upgrades the connection to a stream.
    async fn open(&self, addr: &str) -> Result<Stream, OpenError> {
        // In the words peer_log uses for every transport: "connection refused".
        let unreachable =
            |e: &(dyn std::error::Error + 'static)| OpenError::Unreachable(root_cause(e));
        let io = self.dial.dial(addr).await.map_err(|e| unreachable(&e))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(io))
                .await
                .map_err(|e| unreachable(&e))?;
        // Drives the connection until it is handed over by the upgrade.
        tokio::spawn(connection.with_upgrades());
        let mut request = hyper::Request::get(STREAM_PATH)
            .header(HOST, addr)
            .header(CONNECTION, "upgrade")
            .header(UPGRADE, PROTOCOL);
        if let Some(secret) = &self.cluster_secret {
            request = request.header(CLUSTER_SECRET_HEADER, secret.clone());
        }
        let request = request.body(Empty::new()).map_err(|e| unreachable(&e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| unreachable(&e))?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(OpenError::Refused(response.status()));
        }
        let upgraded = hyper::upgrade::on(response)
            .await
            .map_err(|e| unreachable(&e))?;
        Ok(BufReader::with_capacity(
            READ_BUFFER,
            TokioIo::new(upgraded),
        ))
    }

    /// Sends one message on `stream` and reads its answer.
    async fn exchange(
        stream: &mut Stream,
        kind: RpcKind,
        body: &[u8],
    ) -> Result<(u8, Vec<u8>), ExchangeError> {
        if let Err(e) = write_frame(stream, kind.code(), body).await {
            return Err(ExchangeError::ClosedBeforeAnswer(root_cause(&e)));
        }
        match read_frame(stream, usize::MAX).await {
            Ok(answer) => Ok(answer),
            Err(FrameError::Closed) => Err(ExchangeError::ClosedBeforeAnswer(
                "the connection was closed before an answer".to_string(),
            )),
            Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                Err(ExchangeError::ClosedBeforeAnswer(root_cause(&e)))
            }
            Err(e) => Err(ExchangeError::Broken(root_cause(&e))),
        }
    }

    /// One exchange on `stream` by `deadline`. A stream that answered goes
    /// back to the idle ones; any other is dropped.
    async fn exchange_by(
        &self,
        addr: &str,
        mut stream: Stream,
        kind: RpcKind,
        body: &[u8],
        deadline: Instant,
    ) -> Result<Result<Vec<u8>, TransportError>, ExchangeError> {
        let exchange = Self::exchange(&mut stream, kind, body);
        let answer = tokio::time::timeout_at(deadline, exchange)
            .await
            .map_err(|_| ExchangeError::TimedOut)??;
        self.put_idle(addr, stream);
        Ok(Self::answer(addr, answer))
    }

    async fn call_streamed(
        &self,
        addr: &str,
        kind: RpcKind,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        let deadline = Instant::now() + timeout;
        let failed = |e: ExchangeError| match e {
            ExchangeError::TimedOut => TransportError::Timeout {
                addr: addr.to_string(),
                timeout,
            },
            ExchangeError::Broken(reason) | ExchangeError::ClosedBeforeAnswer(reason) => {
                TransportError::Broken {
                    addr: addr.to_string(),
                    reason,
                }
            }
        };
        // A kept stream the peer closed while it idled fails before any
        // answer; the message is then sent once more on a new one.
        if let Some(stream) = self.take_idle(addr) {
            match self.exchange_by(addr, stream, kind, &body, deadline).await {
                Ok(answer) => return answer,
                Err(ExchangeError::ClosedBeforeAnswer(_)) => {}
                Err(e) => return Err(failed(e)),
            }
        }
        let stream = match tokio::time::timeout_at(deadline, self.open(addr)).await {
            Err(_) => {
                return Err(TransportError::Unreachable {
                    addr: addr.to_string(),
                    reason: format!("no stream opened within {timeout:?}"),
                })
            }
            Ok(Err(OpenError::Unreachable(reason))) => {
                return Err(TransportError::Unreachable {
                    addr: addr.to_string(),
                    reason,
                })
            }
            Ok(Err(OpenError::Refused(status))) => {
                tracing::info!(
                    peer = addr,
                    %status,
                    "the peer did not take a Raft stream; sending it requests of their own"
                );
                self.fall_back(addr);
                let left = deadline.saturating_duration_since(Instant::now());
                return self.fallback.call(addr, kind.path(), body, left).await;
            }
            Ok(Ok(stream)) => stream,
        };
        self.exchange_by(addr, stream, kind, &body, deadline)
            .await
            .unwrap_or_else(|e| Err(failed(e)))
    }

    /// An answer's frame as the caller takes it.
    fn answer(addr: &str, (code, body): (u8, Vec<u8>)) -> Result<Vec<u8>, TransportError> {
        match code {
            REPLY_OK => Ok(body),
            _ => Err(TransportError::Status {
                addr: addr.to_string(),
                status: StatusCode::BAD_REQUEST.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
            }),
        }
    }
}

impl<D: Dial> Transport for StreamingTransport<D> {
    fn call<'a>(
        &'a self,
        addr: &'a str,
        path: &'static str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Vec<u8>, TransportError>> {
        match RpcKind::from_path(path) {
            Some(kind) if kind.streamed() && !self.falls_back(addr) => {
                Box::pin(self.call_streamed(addr, kind, body, timeout))
            }
            _ => self.fallback.call(addr, path, body, timeout),
        }
    }
}

/// TCP, with Nagle's algorithm off: a message goes as soon as it is
/// written.
pub struct TcpDial {
    pub connect_timeout: Duration,
}

impl Dial for TcpDial {
    type Io = tokio::net::TcpStream;

    fn dial<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Self::Io>> {
        Box::pin(async move {
            let stream =
                tokio::time::timeout(self.connect_timeout, tokio::net::TcpStream::connect(addr))
                    .await
                    .map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("no connection within {:?}", self.connect_timeout),
                        )
                    })??;
            stream.set_nodelay(true)?;
            Ok(stream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// How the fake peer behaves.
    #[derive(Clone, Copy)]
    enum Peer {
        /// Takes the upgrade and echoes every message, refusing an empty one.
        Echo,
        /// Takes the upgrade, answers one message, and closes.
        OneAnswerThenClose,
        /// An older node: no such path.
        NoStreams,
    }

    /// A peer on loopback; counts the connections made to it.
    async fn fake_peer(behaviour: Peer) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut io, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    // The upgrade request: up to its blank line.
                    let mut head = Vec::new();
                    while !head.ends_with(b"\r\n\r\n") {
                        match io.read_u8().await {
                            Ok(byte) => head.push(byte),
                            Err(_) => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_lowercase();
                    assert!(head.starts_with("get /raft/stream http/1.1"), "{head}");
                    assert!(head.contains("upgrade: ordo-raft/1"), "{head}");
                    if let Peer::NoStreams = behaviour {
                        let refusal = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
                        let _ = io.write_all(refusal.as_bytes()).await;
                        return;
                    }
                    let switch = "HTTP/1.1 101 Switching Protocols\r\n\
                                  connection: upgrade\r\nupgrade: ordo-raft/1\r\n\r\n";
                    io.write_all(switch.as_bytes()).await.expect("switch");
                    while let Ok((code, body)) = read_frame(&mut io, 1024).await {
                        assert!(RpcKind::from_code(code).is_some_and(RpcKind::streamed));
                        let (code, answer) = match body.is_empty() {
                            true => (REPLY_REFUSED, b"empty".to_vec()),
                            false => (REPLY_OK, body),
                        };
                        write_frame(&mut io, code, &answer).await.expect("answer");
                        if let Peer::OneAnswerThenClose = behaviour {
                            return;
                        }
                    }
                });
            }
        });
        (addr, connections)
    }

    /// The requests of their own a [`StreamingTransport`] falls back to:
    /// answers `fallback:<path>`.
    #[derive(Default)]
    struct Requests {
        calls: AtomicUsize,
    }

    impl Transport for Requests {
        fn call<'a>(
            &'a self,
            _addr: &'a str,
            path: &'static str,
            _body: Vec<u8>,
            _timeout: Duration,
        ) -> BoxFuture<'a, Result<Vec<u8>, TransportError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { Ok(format!("fallback:{path}").into_bytes()) })
        }
    }

    fn transport() -> (StreamingTransport<TcpDial>, Arc<Requests>) {
        let requests = Arc::new(Requests::default());
        let dial = TcpDial {
            connect_timeout: Duration::from_secs(1),
        };
        (StreamingTransport::new(dial, requests.clone()), requests)
    }

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn raft_messages_share_one_stream_and_the_rest_go_as_requests() {
        let (addr, connections) = fake_peer(Peer::Echo).await;
        let (transport, requests) = transport();
        for (n, kind) in RpcKind::ALL
            .into_iter()
            .filter(|k| k.streamed())
            .enumerate()
        {
            let body = format!("message {n}").into_bytes();
            let answer = transport
                .call(&addr, kind.path(), body.clone(), TIMEOUT)
                .await;
            assert_eq!(answer, Ok(body));
        }
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        let forward = RpcKind::Forward.path();
        let answer = transport.call(&addr, forward, b"x".to_vec(), TIMEOUT).await;
        assert_eq!(answer, Ok(b"fallback:/raft/forward".to_vec()));
        assert_eq!(requests.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refused_message_is_an_error_answer_and_the_stream_goes_on() {
        let (addr, connections) = fake_peer(Peer::Echo).await;
        let (transport, _) = transport();
        let path = RpcKind::AppendEntries.path();
        let refused = transport.call(&addr, path, Vec::new(), TIMEOUT).await;
        match refused {
            Err(TransportError::Status { status, body, .. }) => {
                assert_eq!((status, body.as_str()), (400, "empty"));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let answer = transport.call(&addr, path, b"next".to_vec(), TIMEOUT).await;
        assert_eq!(answer, Ok(b"next".to_vec()));
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_stream_the_peer_closed_while_idle_is_replaced_unnoticed() {
        let (addr, connections) = fake_peer(Peer::OneAnswerThenClose).await;
        let (transport, requests) = transport();
        let path = RpcKind::Vote.path();
        for n in 0..3 {
            let body = format!("vote {n}").into_bytes();
            assert_eq!(
                transport.call(&addr, path, body.clone(), TIMEOUT).await,
                Ok(body)
            );
        }
        assert_eq!(connections.load(Ordering::SeqCst), 3);
        assert_eq!(requests.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_peer_without_streams_gets_requests_of_their_own() {
        let (addr, connections) = fake_peer(Peer::NoStreams).await;
        let (transport, requests) = transport();
        let path = RpcKind::AppendEntries.path();
        for _ in 0..3 {
            let answer = transport.call(&addr, path, b"x".to_vec(), TIMEOUT).await;
            assert_eq!(answer, Ok(b"fallback:/raft/append".to_vec()));
        }
        // Asked once; then left alone for `FALLBACK_FOR`.
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        assert_eq!(requests.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_peer_not_listening_is_unreachable() {
        let addr = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").to_string()
        };
        let (transport, requests) = transport();
        let path = RpcKind::AppendEntries.path();
        let answer = transport.call(&addr, path, b"x".to_vec(), TIMEOUT).await;
        assert!(
            matches!(&answer, Err(e) if e.not_sent()),
            "expected unreachable, got {answer:?}"
        );
        assert_eq!(requests.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn frames_round_trip_and_bad_ones_are_refused() {
        let mut buffer = Vec::new();
        write_frame(&mut buffer, 7, b"hello").await.expect("write");
        write_frame(&mut buffer, 0, b"").await.expect("write");
        let mut reader = &buffer[..];
        assert_eq!(
            read_frame(&mut reader, 64).await.expect("first"),
            (7, b"hello".to_vec())
        );
        assert_eq!(
            read_frame(&mut reader, 64).await.expect("second"),
            (0, vec![])
        );
        assert!(matches!(
            read_frame(&mut reader, 64).await,
            Err(FrameError::Closed)
        ));
        // Over the limit, empty, and cut short.
        assert!(matches!(
            read_frame(&mut &buffer[..], 3).await,
            Err(FrameError::TooLong { len: 6, max: 3 })
        ));
        assert!(matches!(
            read_frame(&mut &[0u8, 0, 0, 0][..], 64).await,
            Err(FrameError::Empty)
        ));
        for cut in 1..10 {
            let result = read_frame(&mut &buffer[..cut], 64).await;
            assert!(matches!(result, Err(FrameError::Io(_))), "cut at {cut}");
        }
    }

    /// A writer that takes at most `at_most` bytes per write, of the first
    /// buffer only, as a socket with a full send buffer may.
    struct Trickle {
        written: Vec<u8>,
        at_most: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            let taken = buf.len().min(self.at_most);
            self.written.extend_from_slice(&buf[..taken]);
            std::task::Poll::Ready(Ok(taken))
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_frame_written_in_pieces_reads_back_whole() {
        let body: Vec<u8> = (0..=255).cycle().take(1000).collect();
        for at_most in [1, 3, 5, 6, 7, 999, 1005, 4096] {
            let mut writer = Trickle {
                written: Vec::new(),
                at_most,
            };
            write_frame(&mut writer, 9, &body).await.expect("write");
            write_frame(&mut writer, 4, b"").await.expect("write");
            let mut reader = BufReader::with_capacity(16, &writer.written[..]);
            assert_eq!(
                read_frame(&mut reader, 2000).await.expect("first"),
                (9, body.clone()),
                "at most {at_most} bytes a write"
            );
            assert_eq!(
                read_frame(&mut reader, 2000).await.expect("second"),
                (4, vec![])
            );
        }
    }

    #[test]
    fn every_kind_has_its_own_code_and_path() {
        for kind in RpcKind::ALL {
            assert_eq!(RpcKind::from_code(kind.code()), Some(kind));
            assert_eq!(RpcKind::from_path(kind.path()), Some(kind));
        }
        assert_eq!(RpcKind::from_code(0), None);
        assert_eq!(RpcKind::from_path(STREAM_PATH), None);
    }
}
