//! The small transport trait nodes talk to each other through: one request,
//! one response, bytes in and out. Production uses [`HttpTransport`]
//! (reqwest over TCP); the simulation supplies its own over `turmoil::net`.
//! Everything above it (Raft RPCs, forwarding) is written once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ordo_api::secret::{Secret, CLUSTER_SECRET_HEADER};
use reqwest::header::HeaderValue;

use crate::raft_stream::{StreamingTransport, TcpDial};

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

/// The most of an error answer's body a [`TransportError::cause`] quotes.
const MAX_QUOTED_BODY_CHARS: usize = 200;

impl TransportError {
    /// True if the request certainly never reached the peer.
    pub fn not_sent(&self) -> bool {
        matches!(self, TransportError::Unreachable { .. })
    }

    /// Why the call failed, in words and without the address: the end of
    /// a sentence about the peer ("connection refused").
    pub fn cause(&self) -> String {
        match self {
            TransportError::Unreachable { reason, .. } => reason.clone(),
            TransportError::Timeout { timeout, .. } => format!("no answer within {timeout:?}"),
            TransportError::Broken { reason, .. } => {
                format!("the call broke off after it was sent: {reason}")
            }
            TransportError::Status { status, body, .. } => {
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
        self.cluster_secret = Some(secret_header(secret));
        self
    }
}

/// What a node reaches its peers through: Raft's own messages on kept-open
/// streams ([`crate::raft_stream`]), everything else as requests of their
/// own over [`HttpTransport`]; every call carries `cluster_secret`, if set.
pub fn node_transport(
    cluster_secret: Option<&Secret>,
) -> Result<StreamingTransport<TcpDial>, TransportError> {
    let mut requests = HttpTransport::new()?;
    let dial = TcpDial {
        connect_timeout: CONNECT_TIMEOUT,
    };
    Ok(match cluster_secret {
        Some(secret) => {
            requests = requests.with_cluster_secret(secret);
            StreamingTransport::new(dial, Arc::new(requests)).with_cluster_secret(secret)
        }
        None => StreamingTransport::new(dial, Arc::new(requests)),
    })
}

/// `secret` as the value of [`CLUSTER_SECRET_HEADER`].
pub(crate) fn secret_header(secret: &Secret) -> HeaderValue {
    let mut value = HeaderValue::from_str(secret.expose())
        .expect("a Secret is printable ASCII, which is a valid header value");
    // Kept out of reqwest's and hyper's debug output.
    value.set_sensitive(true);
    value
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
                        reason: root_cause(&e),
                    }
                } else if e.is_timeout() {
                    TransportError::Timeout {
                        addr: addr.to_string(),
                        timeout,
                    }
                } else {
                    TransportError::Broken {
                        addr: addr.to_string(),
                        reason: root_cause(&e),
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

/// What actually went wrong, in words: the innermost cause of `error`
/// ("connection refused"), where reqwest's own message says only "error
/// sending request for url (…)" and the OS's adds "(os error 111)".
pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    plain_words(&innermost.to_string())
}

/// `Connection refused (os error 111)` → `connection refused`: an error
/// message as the middle of a sentence.
fn plain_words(message: &str) -> String {
    let message = match message.rfind(" (os error ") {
        Some(at) if message.ends_with(')') => &message[..at],
        _ => message,
    };
    let mut chars = message.chars();
    match chars.next() {
        // Only a capital followed by a lower-case letter: keep "HTTP …".
        Some(first) if chars.next().is_some_and(char::is_lowercase) => first
            .to_lowercase()
            .chain(message[first.len_utf8()..].chars())
            .collect(),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_is_one_short_line_without_the_address() {
        let addr = "127.0.0.1:7002".to_string();
        let timeout = TransportError::Timeout {
            addr: addr.clone(),
            timeout: Duration::from_micros(37_500),
        };
        assert_eq!(timeout.cause(), "no answer within 37.5ms");
        let refused = TransportError::Status {
            addr,
            status: 401,
            body: format!("{}\nsecond line", "x".repeat(1000)),
        };
        let cause = refused.cause();
        assert!(cause.starts_with("it answered 401: xxx"), "{cause}");
        assert!(cause.len() < 250 && !cause.contains('\n'), "{cause}");
    }

    #[test]
    fn os_errors_read_as_plain_words() {
        assert_eq!(
            plain_words("Connection refused (os error 111)"),
            "connection refused"
        );
        assert_eq!(plain_words("operation timed out"), "operation timed out");
        assert_eq!(plain_words("HTTP/1.1 parse error"), "HTTP/1.1 parse error");
        assert_eq!(plain_words(""), "");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_because_the_connection_is_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let error = HttpTransport::new()
            .unwrap()
            .call(&addr, "/raft/append", Vec::new(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            TransportError::Unreachable {
                addr: addr.clone(),
                reason: "connection refused".into()
            }
        );
        assert_eq!(
            error.to_string(),
            format!("peer {addr} unreachable: connection refused")
        );
    }
}
