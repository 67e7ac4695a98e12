//! What a node reaches its peers through: [`Peers`], one call (a Raft
//! message, a forwarded request) to a peer and the body of its success
//! answer, or a [`PeerError`] saying whether the call certainly never
//! arrived, may have, or was answered with an error.
//!
//! [`RequestPeers`] makes each call a request of its own over any
//! [`ordo_transport::Transport`]: reqwest in production, turmoil's network in
//! the simulation. [`node_transport`] puts Raft's own messages on kept-open
//! streams ([`crate::raft_stream`]) and the rest on a [`RequestPeers`];
//! everything above (Raft RPCs, forwarding) is written once.

use std::sync::Arc;
use std::time::Duration;

use ordo_api::secret::Secret;
use ordo_transport::{
    ContentType, Credential, HttpTransport, Method, Request, SetupError, Transport,
};

pub use ordo_transport::{BoxFuture, TransportError};

use crate::raft_stream::{Dial, StreamingTransport, TcpDial, TlsDial};

/// Why a call to a peer brought no success answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// No answer came: see [`TransportError`] for what that proves.
    #[error(transparent)]
    NoAnswer(#[from] TransportError),
    /// The peer answered with an error status.
    #[error("peer {addr} answered {status}: {body}")]
    Status {
        addr: String,
        status: u16,
        body: String,
    },
}

/// The most of an error answer's body a [`PeerError::cause`] quotes.
const MAX_QUOTED_BODY_CHARS: usize = 200;

impl PeerError {
    /// True if the request certainly never reached the peer.
    pub fn not_sent(&self) -> bool {
        matches!(self, PeerError::NoAnswer(error) if error.not_sent())
    }

    /// Why the call failed, in words and without the address: the end of
    /// a sentence about the peer ("connection refused").
    pub fn cause(&self) -> String {
        match self {
            PeerError::NoAnswer(TransportError::Broken { reason, .. }) => {
                format!("the call broke off after it was sent: {reason}")
            }
            PeerError::NoAnswer(error) => error.cause(),
            PeerError::Status { status, body, .. } => {
                let quoted: String = body
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(MAX_QUOTED_BODY_CHARS)
                    .collect();
                format!("it answered {status}: {quoted}")
            }
        }
    }
}

/// One call to a peer: `body` POSTed to `path` on the node at `addr`,
/// answered within `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCall<'a> {
    pub addr: &'a str,
    pub path: &'static str,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

/// The body of a peer's success answer, or why there was none.
pub type PeerAnswer<'a> = BoxFuture<'a, Result<Vec<u8>, PeerError>>;

/// Makes [`PeerCall`]s.
pub trait Peers: Send + Sync + 'static {
    fn call<'a>(&'a self, call: PeerCall<'a>) -> PeerAnswer<'a>;
}

/// Connect timeout between nodes: a peer on a LAN answers a SYN in well under
/// this, so a longer wait only delays failover.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

/// [`Peers`] as a request of its own per call, over `transport`.
#[derive(Clone)]
pub struct RequestPeers {
    transport: Arc<dyn Transport>,
    /// Shown on every call, when the cluster has a secret.
    cluster_secret: Option<Secret>,
    /// `http`, or `https` in a TLS cluster.
    scheme: &'static str,
}

impl RequestPeers {
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        RequestPeers {
            transport,
            cluster_secret: None,
            scheme: "http",
        }
    }

    /// Over HTTP, reqwest's (production).
    pub fn http() -> Result<Self, SetupError> {
        Ok(RequestPeers::new(Arc::new(HttpTransport::new(
            CONNECT_TIMEOUT,
        )?)))
    }

    /// Over HTTPS, verifying peers and showing them this node's
    /// certificate as `tls` says.
    pub fn https(tls: rustls::ClientConfig) -> Result<Self, SetupError> {
        let transport = HttpTransport::with_tls(CONNECT_TIMEOUT, tls)?;
        Ok(RequestPeers {
            scheme: "https",
            ..RequestPeers::new(Arc::new(transport))
        })
    }

    /// Every call carries `secret` (Raft RPCs and forwarded requests alike:
    /// they all go to `/raft/*`).
    pub fn with_cluster_secret(mut self, secret: &Secret) -> Self {
        self.cluster_secret = Some(secret.clone());
        self
    }
}

impl Peers for RequestPeers {
    fn call<'a>(&'a self, call: PeerCall<'a>) -> PeerAnswer<'a> {
        Box::pin(async move {
            let PeerCall {
                addr,
                path,
                body,
                timeout,
            } = call;
            let request = Request {
                body: Some(body),
                content_type: ContentType::OctetStream,
                credential: self.cluster_secret.clone().map(Credential::ClusterSecret),
                ..Request::new(
                    Method::Post,
                    format!("{}://{addr}{path}", self.scheme),
                    timeout,
                )
            };
            let response = self.transport.send(request).await?;
            if !response.is_success() {
                return Err(PeerError::Status {
                    addr: addr.to_string(),
                    status: response.status,
                    body: String::from_utf8_lossy(&response.body).into_owned(),
                });
            }
            Ok(response.body)
        })
    }
}

/// What a node reaches its peers through in production: Raft's own
/// messages on kept-open streams ([`crate::raft_stream`]), everything else
/// as requests of their own over HTTP, or HTTPS as `tls` says (the peer
/// config of the node's TLS: its CA, its certificate); every call carries
/// `cluster_secret`, if set.
pub fn node_transport(
    cluster_secret: Option<&Secret>,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Arc<dyn Peers>, SetupError> {
    let tcp = TcpDial {
        connect_timeout: CONNECT_TIMEOUT,
    };
    match tls {
        Some(tls) => {
            let requests = RequestPeers::https(tls.as_ref().clone())?;
            Ok(streaming(TlsDial::new(tcp, tls), requests, cluster_secret))
        }
        None => Ok(streaming(tcp, RequestPeers::http()?, cluster_secret)),
    }
}

fn streaming<D: Dial>(
    dial: D,
    requests: RequestPeers,
    cluster_secret: Option<&Secret>,
) -> Arc<dyn Peers> {
    match cluster_secret {
        Some(secret) => Arc::new(
            StreamingTransport::new(dial, Arc::new(requests.with_cluster_secret(secret)))
                .with_cluster_secret(secret),
        ),
        None => Arc::new(StreamingTransport::new(dial, Arc::new(requests))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_is_one_short_line_without_the_address() {
        let addr = "127.0.0.1:7002".to_string();
        let timeout = PeerError::from(TransportError::Timeout {
            addr: addr.clone(),
            timeout: Duration::from_micros(37_500),
        });
        assert_eq!(timeout.cause(), "no answer within 37.5ms");
        let refused = PeerError::Status {
            addr,
            status: 401,
            body: format!("{}\nsecond line", "x".repeat(1000)),
        };
        let cause = refused.cause();
        assert!(cause.starts_with("it answered 401: xxx"), "{cause}");
        assert!(cause.len() < 250 && !cause.contains('\n'), "{cause}");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_because_the_connection_is_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let error = RequestPeers::http()
            .unwrap()
            .call(PeerCall {
                addr: &addr,
                path: "/raft/append",
                body: Vec::new(),
                timeout: Duration::from_secs(5),
            })
            .await
            .unwrap_err();
        assert!(error.not_sent(), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!("peer {addr} unreachable: connection refused")
        );
    }
}
