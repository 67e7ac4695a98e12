//! The production transport: reqwest over TCP (rustls for `https`).

use std::time::Duration;

use ordo_api::LEADER_HEADER;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};

use crate::error::{error_chain, ClientError};
use crate::transport::{BoxFuture, Method, RawRequest, RawResponse, Transport, TransportError};

/// How long to wait for a TCP connection: a dead node should be skipped
/// quickly, and a connect failure is always safe to retry elsewhere.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Idle pooled connections are dropped before the server's own idle cutoff
/// (hyper's 30 s header-read timeout), so the client never sends on a
/// connection the server is closing: that race would turn an append into an
/// unknown outcome for no reason.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest response body the client accepts; a read answer is bounded by
/// `MAX_READ_BYTES` on the server, so this leaves ample room.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// [`Transport`] over a pooled reqwest client.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    http: reqwest::Client,
}

impl ReqwestTransport {
    pub fn new() -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // Nodes are addressed directly; a system proxy in between would
            // hide which node answered and break loopback clusters.
            .no_proxy()
            .build()
            .map_err(|e| ClientError::Setup {
                reason: e.to_string(),
            })?;
        Ok(ReqwestTransport { http })
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: RawRequest) -> BoxFuture<'_, Result<RawResponse, TransportError>> {
        Box::pin(async move {
            let builder = match request.method {
                Method::Get => self.http.get(&request.url),
                Method::Post => self.http.post(&request.url),
                Method::Put => self.http.put(&request.url),
                Method::Delete => self.http.delete(&request.url),
            };
            let mut builder = builder.timeout(request.timeout);
            if let Some(token) = &request.api_token {
                builder = builder.bearer_auth(token.expose());
            }
            if let Some(body) = request.body {
                builder = builder.header(CONTENT_TYPE, "application/json").body(body);
            }
            let mut response = builder.send().await.map_err(classify)?;
            let status = response.status().as_u16();
            let leader = header_u64(response.headers(), LEADER_HEADER);
            let retry_after =
                header_u64(response.headers(), RETRY_AFTER.as_str()).map(Duration::from_secs);
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(classify)? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(TransportError::Indeterminate {
                        reason: format!("response body exceeds {MAX_RESPONSE_BYTES} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(RawResponse {
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
fn classify(error: reqwest::Error) -> TransportError {
    let reason = short_reason(&error);
    if error.is_connect() {
        TransportError::NotDelivered { reason }
    } else {
        TransportError::Indeterminate { reason }
    }
}

/// Why an exchange failed, in the words a person needs (`connection
/// refused`, `no answer within 500 ms`), from the root I/O error when there
/// is one; reqwest's own chain ("error sending request for url (…): client
/// error (Connect): tcp connect error: …") is kept for debug logs.
fn short_reason(error: &reqwest::Error) -> String {
    tracing::debug!(error = %error_chain(error), "HTTP exchange failed");
    if error.is_timeout() {
        return "no answer in time".to_string();
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io_reason(io);
        }
        source = cause.source();
    }
    if error.is_connect() {
        return "could not connect".to_string();
    }
    error_chain(error)
}

fn io_reason(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::ConnectionReset => "connection reset".into(),
        ErrorKind::ConnectionAborted => "connection aborted".into(),
        ErrorKind::TimedOut => "no answer in time".into(),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => "no route to host".into(),
        ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe => {
            "the connection closed before an answer".into()
        }
        _ => error.to_string(),
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}
