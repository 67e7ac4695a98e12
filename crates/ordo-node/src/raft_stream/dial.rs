//! The sending side of a stream: [`StreamingTransport`] opens a stream to a
//! peer with an HTTP upgrade, keeps a few idle ones per peer, sends each
//! [`RpcKind::streamed`] message as one exchange on one of them, and falls
//! back to requests of their own for a peer that does not take the upgrade.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::header::{HeaderValue, CONNECTION, HOST, UPGRADE};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::time::Instant;

use super::frame::{read_frame, write_frame, FrameError};
use super::{CLIENT_IDLE, FALLBACK_FOR, PROTOCOL, READ_BUFFER, REPLY_OK, STREAM_PATH};
use crate::peers::{BoxFuture, PeerAnswer, PeerCall, PeerError, Peers, TransportError};
use crate::rpc::RpcKind;
use ordo_api::secret::{Secret, CLUSTER_SECRET_HEADER};
use ordo_transport::root_cause;

/// Idle connections kept per peer (more are opened while messages to it
/// overlap, and closed after).
const MAX_IDLE_PER_PEER: usize = 4;

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

/// A [`Peers`] that sends [`RpcKind::streamed`] messages over kept-open
/// streams and everything else through `fallback`.
pub struct StreamingTransport<D: Dial> {
    dial: D,
    fallback: Arc<dyn Peers>,
    cluster_secret: Option<HeaderValue>,
    /// Ordered, so that dropping the transport (a node stopping, or
    /// crashing in the simulation) closes its streams in the same order
    /// every time: a `HashMap`'s order differs from process to process,
    /// and the simulation's runs with it.
    peers: Mutex<BTreeMap<String, Peer>>,
}

impl<D: Dial> StreamingTransport<D> {
    pub fn new(dial: D, fallback: Arc<dyn Peers>) -> Self {
        StreamingTransport {
            dial,
            fallback,
            cluster_secret: None,
            peers: Mutex::new(BTreeMap::new()),
        }
    }

    /// Every upgrade request carries `secret` (see [`CLUSTER_SECRET_HEADER`]).
    pub fn with_cluster_secret(mut self, secret: &Secret) -> Self {
        self.cluster_secret = Some(ordo_transport::http::secret_header(secret));
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
    ) -> Result<Result<Vec<u8>, PeerError>, ExchangeError> {
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
    ) -> Result<Vec<u8>, PeerError> {
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
                Err(e) => return Err(failed(e).into()),
            }
        }
        let stream = match tokio::time::timeout_at(deadline, self.open(addr)).await {
            Err(_) => {
                return Err(TransportError::Unreachable {
                    addr: addr.to_string(),
                    reason: format!("no stream opened within {timeout:?}"),
                }
                .into())
            }
            Ok(Err(OpenError::Unreachable(reason))) => {
                return Err(TransportError::Unreachable {
                    addr: addr.to_string(),
                    reason,
                }
                .into())
            }
            Ok(Err(OpenError::Refused(status))) => {
                tracing::info!(
                    peer = addr,
                    %status,
                    "the peer did not take a Raft stream; sending it requests of their own"
                );
                self.fall_back(addr);
                let left = deadline.saturating_duration_since(Instant::now());
                let call = PeerCall {
                    addr,
                    path: kind.path(),
                    body,
                    timeout: left,
                };
                return self.fallback.call(call).await;
            }
            Ok(Ok(stream)) => stream,
        };
        self.exchange_by(addr, stream, kind, &body, deadline)
            .await
            .unwrap_or_else(|e| Err(failed(e).into()))
    }

    /// An answer's frame as the caller takes it.
    fn answer(addr: &str, (code, body): (u8, Vec<u8>)) -> Result<Vec<u8>, PeerError> {
        match code {
            REPLY_OK => Ok(body),
            _ => Err(PeerError::Status {
                addr: addr.to_string(),
                status: StatusCode::BAD_REQUEST.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
            }),
        }
    }
}

impl<D: Dial> Peers for StreamingTransport<D> {
    fn call<'a>(&'a self, call: PeerCall<'a>) -> PeerAnswer<'a> {
        match RpcKind::from_path(call.path) {
            Some(kind) if kind.streamed() && !self.falls_back(call.addr) => {
                Box::pin(self.call_streamed(call.addr, kind, call.body, call.timeout))
            }
            _ => self.fallback.call(call),
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

/// TLS over [`TcpDial`]: the peer verified and this node's certificate
/// shown as `config` says (a TLS cluster's peer config).
pub struct TlsDial {
    tcp: TcpDial,
    connector: tokio_rustls::TlsConnector,
}

impl TlsDial {
    pub fn new(tcp: TcpDial, config: Arc<rustls::ClientConfig>) -> Self {
        TlsDial {
            tcp,
            connector: tokio_rustls::TlsConnector::from(config),
        }
    }
}

impl Dial for TlsDial {
    type Io = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

    fn dial<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, io::Result<Self::Io>> {
        Box::pin(async move {
            let name = server_name(addr)?;
            let tcp = self.tcp.dial(addr).await?;
            // The handshake is part of connecting, and bounded as it is.
            tokio::time::timeout(self.tcp.connect_timeout, self.connector.connect(name, tcp))
                .await
                .map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no TLS handshake within {:?}", self.tcp.connect_timeout),
                    )
                })?
        })
    }
}

/// The name a peer at `addr` (`host:port`, `[v6]:port`) must have in its
/// certificate.
fn server_name(addr: &str) -> io::Result<rustls::pki_types::ServerName<'static>> {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{host:?} is not a name a certificate can have: {e}"),
        )
    })
}
