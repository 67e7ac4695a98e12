//! The seam between the client's retry logic and the network: one request
//! out, one answer (or a classified failure) back. Production uses
//! [`crate::http::ReqwestTransport`]; a simulation can supply its own.
//!
//! The one judgement a transport must make is whether a failed request
//! certainly never reached a server: that is what decides whether an append
//! may be retried.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ordo_api::secret::Secret;
use ordo_core::NodeId;

/// A boxed, sendable future, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The HTTP methods the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

/// One HTTP request to one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    pub method: Method,
    /// Full URL: the node's base URL, path and query.
    pub url: String,
    /// A JSON body, if any.
    pub body: Option<Vec<u8>>,
    /// Deadline for the whole exchange, connect to last body byte.
    pub timeout: Duration,
    /// Sent as `Authorization: Bearer <token>`, when the cluster needs one.
    pub api_token: Option<Secret>,
}

/// A node's answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    /// The `ordo-leader` header, when present and a valid node id.
    pub leader: Option<NodeId>,
    /// The `Retry-After` header, in whole seconds, when present.
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A request that got no answer, classified by what it may have done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The request certainly never reached a server (connection refused,
    /// no route, connect failed): safe to retry anything.
    #[error("not delivered: {reason}")]
    NotDelivered { reason: String },
    /// The request may have reached a server (timed out, or the connection
    /// dropped after sending): its effect is unknown.
    #[error("no answer: {reason}")]
    Indeterminate { reason: String },
}

/// Sends one request and returns the answer without interpreting its status.
pub trait Transport: Send + Sync + 'static {
    fn send(&self, request: RawRequest) -> BoxFuture<'_, Result<RawResponse, TransportError>>;
}
