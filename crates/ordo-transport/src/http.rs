//! The production [`Transport`]: HTTP/1.1 over a pooled reqwest client
//! (rustls for `https`), set up in one place for clients and nodes alike.

use std::time::Duration;

use ordo_api::limits::DEFAULT_HEADER_READ_TIMEOUT_MS;
use ordo_api::secret::{Secret, CLUSTER_SECRET_HEADER};
use ordo_api::LEADER_HEADER;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};

use crate::error::{root_cause, TransportError};
use crate::request::{Credential, Method, Request, Response};
use crate::{BoxFuture, Transport};

/// Idle pooled connections are dropped at half the server's idle cutoff (a
/// node closes a connection that sends no request within its header-read
/// timeout, `DEFAULT_HEADER_READ_TIMEOUT_MS`), so a caller never sends on a
/// connection the server is closing: that race would turn an append into an
/// unknown outcome for no reason.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_millis(DEFAULT_HEADER_READ_TIMEOUT_MS / 2);
/// Largest answer accepted: a page of records is bounded by
/// `MAX_READ_BYTES` (4 MiB) on the server, and a snapshot chunk or a
/// forwarded answer by the request body limit, so this leaves ample room.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// The HTTP stack could not be set up (for example, no TLS roots).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not set up the HTTP client: {reason}")]
pub struct SetupError {
    pub reason: String,
}

/// [`Transport`] over a pooled reqwest client.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    http: reqwest::Client,
}

impl HttpTransport {
    /// A transport that gives up connecting after `connect_timeout`: a
    /// client skips a dead node after it, a node its dead peer.
    pub fn new(connect_timeout: Duration) -> Result<Self, SetupError> {
        Self::build(reqwest::Client::builder(), connect_timeout)
    }

    /// [`HttpTransport::new`] for `https://` addresses verified and, with
    /// a client certificate, answered as `tls` says (the CA a cluster's
    /// nodes are signed by, rather than the web's roots).
    pub fn with_tls(
        connect_timeout: Duration,
        tls: rustls::ClientConfig,
    ) -> Result<Self, SetupError> {
        Self::build(
            reqwest::Client::builder().use_preconfigured_tls(tls),
            connect_timeout,
        )
    }

    fn build(
        builder: reqwest::ClientBuilder,
        connect_timeout: Duration,
    ) -> Result<Self, SetupError> {
        let http = builder
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .tcp_nodelay(true)
            // Nodes are addressed directly; a system proxy in between would
            // hide which node answered and break loopback clusters.
            .no_proxy()
            .build()
            .map_err(|e| SetupError {
                reason: e.to_string(),
            })?;
        Ok(HttpTransport { http })
    }
}

impl Transport for HttpTransport {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(async move {
            let addr = request.addr().to_string();
            let timeout = request.timeout;
            let classify = |error: reqwest::Error| classify(error, &addr, timeout);
            let builder = match request.method {
                Method::Get => self.http.get(&request.url),
                Method::Post => self.http.post(&request.url),
                Method::Put => self.http.put(&request.url),
                Method::Delete => self.http.delete(&request.url),
            };
            let mut builder = builder.timeout(timeout);
            match &request.credential {
                Some(Credential::ApiToken(token)) => {
                    builder = builder.header(AUTHORIZATION, bearer_header(token));
                }
                Some(Credential::ClusterSecret(secret)) => {
                    builder = builder.header(CLUSTER_SECRET_HEADER, secret_header(secret));
                }
                None => {}
            }
            if let Some(body) = request.body {
                builder = builder
                    .header(CONTENT_TYPE, request.content_type.as_str())
                    .body(body);
            }
            let mut response = builder.send().await.map_err(classify)?;
            let status = response.status().as_u16();
            let leader = header_u64(response.headers(), LEADER_HEADER);
            let retry_after =
                header_u64(response.headers(), RETRY_AFTER.as_str()).map(Duration::from_secs);
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(classify)? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(TransportError::Broken {
                        addr,
                        reason: format!("the answer exceeds {MAX_RESPONSE_BYTES} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Response {
                status,
                leader,
                retry_after,
                body,
            })
        })
    }
}

/// Only a failure to connect proves the request never left: every other
/// error (timeout, reset, truncated body) may come after the server acted.
fn classify(error: reqwest::Error, addr: &str, timeout: Duration) -> TransportError {
    tracing::debug!(error = %error_chain(&error), addr, "HTTP exchange failed");
    let addr = addr.to_string();
    if error.is_connect() {
        TransportError::Unreachable {
            addr,
            reason: root_cause(&error),
        }
    } else if error.is_timeout() {
        TransportError::Timeout { addr, timeout }
    } else {
        TransportError::Broken {
            addr,
            reason: root_cause(&error),
        }
    }
}

/// An error and its causes as one line, `outer: cause: root cause`, for
/// debug logs: reqwest's top-level message is terse ("error sending
/// request"); the chain says what actually happened.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A secret as a header value, kept out of reqwest's and hyper's debug
/// output.
fn sensitive(value: String) -> HeaderValue {
    let mut value = HeaderValue::from_str(&value)
        .expect("a Secret is printable ASCII, which is a valid header value");
    value.set_sensitive(true);
    value
}

/// `secret` as the value of [`CLUSTER_SECRET_HEADER`].
pub fn secret_header(secret: &Secret) -> HeaderValue {
    sensitive(secret.expose().to_string())
}

/// `token` as the value of `Authorization`.
fn bearer_header(token: &Secret) -> HeaderValue {
    sensitive(format!("Bearer {}", token.expose()))
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_unreachable_because_the_connection_is_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let request = Request::new(
            Method::Get,
            format!("http://{addr}/v1/cluster"),
            Duration::from_secs(5),
        );
        let error = HttpTransport::new(Duration::from_secs(2))
            .unwrap()
            .send(request)
            .await
            .unwrap_err();
        assert_eq!(
            error,
            TransportError::Unreachable {
                addr: addr.clone(),
                reason: "connection refused".into()
            }
        );
        assert!(error.not_sent());
        assert_eq!(
            error.to_string(),
            format!("peer {addr} unreachable: connection refused")
        );
    }

    #[test]
    fn idle_connections_are_dropped_before_the_server_drops_them() {
        assert!(POOL_IDLE_TIMEOUT < Duration::from_millis(DEFAULT_HEADER_READ_TIMEOUT_MS));
    }
}
