//! The small transport trait nodes talk to each other through: one request,
//! one response, bytes in and out. Production uses [`HttpTransport`]
//! (reqwest over TCP); the simulation supplies its own over `turmoil::net`.
//! Everything above it (Raft RPCs, forwarding) is written once.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ordo_core::secret::{Secret, CLUSTER_SECRET_HEADER};
use reqwest::header::HeaderValue;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a call failed. The split matters for safety: after `Unreachable` the
/// request certainly did not reach the peer; after `Timeout` or `Broken` it
/// may have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("peer {addr} unreachable: {reason}")]
    Unreachable { addr: String, reason: String },
    #[error("call to {addr} timed out after {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("call to {addr} failed after it was sent: {reason}")]
    Broken { addr: String, reason: String },
    #[error("peer {addr} answered {status}: {body}")]
    Status {
        addr: String,
        status: u16,
        body: String,
    },
}

impl TransportError {
    /// True if the request certainly never reached the peer.
    pub fn not_sent(&self) -> bool {
        matches!(self, TransportError::Unreachable { .. })
    }
}

pub trait Transport: Send + Sync + 'static {
    /// POSTs `body` to `path` on the node at `addr` and returns the response
    /// body of a 2xx answer.
    fn call<'a>(
        &'a self,
        addr: &'a str,
        path: &'static str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Vec<u8>, TransportError>>;
}

/// Connect timeout between nodes: a peer on a LAN answers a SYN in well under
/// this, so a longer wait only delays failover.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

/// The production transport: HTTP/1.1 with keep-alive, via reqwest.
#[derive(Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    /// Sent in [`CLUSTER_SECRET_HEADER`] on every call, when the cluster
    /// has a secret.
    cluster_secret: Option<HeaderValue>,
}

impl HttpTransport {
    pub fn new() -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| TransportError::Broken {
                addr: String::new(),
                reason: format!("building HTTP client: {e}"),
            })?;
        Ok(HttpTransport {
            client,
            cluster_secret: None,
        })
    }

    /// Every call carries `secret` (Raft RPCs and forwarded requests alike:
    /// they all go to `/raft/*`).
    pub fn with_cluster_secret(mut self, secret: &Secret) -> Self {
        let mut value = HeaderValue::from_str(secret.expose())
            .expect("a Secret is printable ASCII, which is a valid header value");
        // Kept out of reqwest's and hyper's debug output.
        value.set_sensitive(true);
        self.cluster_secret = Some(value);
        self
    }
}

impl Transport for HttpTransport {
    fn call<'a>(
        &'a self,
        addr: &'a str,
        path: &'static str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Vec<u8>, TransportError>> {
        Box::pin(async move {
            let url = format!("http://{addr}{path}");
            let classify = |e: reqwest::Error| {
                if e.is_connect() {
                    TransportError::Unreachable {
                        addr: addr.to_string(),
                        reason: e.to_string(),
                    }
                } else if e.is_timeout() {
                    TransportError::Timeout {
                        addr: addr.to_string(),
                        timeout,
                    }
                } else {
                    TransportError::Broken {
                        addr: addr.to_string(),
                        reason: e.to_string(),
                    }
                }
            };
            let mut request = self
                .client
                .post(url)
                .timeout(timeout)
                .header("content-type", "application/octet-stream");
            if let Some(secret) = &self.cluster_secret {
                request = request.header(CLUSTER_SECRET_HEADER, secret.clone());
            }
            let response = request.body(body).send().await.map_err(classify)?;
            let status = response.status();
            let bytes = response.bytes().await.map_err(classify)?;
            if !status.is_success() {
                return Err(TransportError::Status {
                    addr: addr.to_string(),
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                });
            }
            Ok(bytes.to_vec())
        })
    }
}
