//! How a node or a client sends one HTTP request to a node, and what it may
//! conclude when no answer comes back. One seam, [`Transport`], for every
//! caller: the client's calls, a node's forwarded requests and Raft messages
//! that do not go on a stream, and the simulation (which implements it once
//! over turmoil's network).
//!
//! Map: `request` (what is sent and what comes back, whatever its status),
//! `error` (the one classification of a request with no answer:
//! [`TransportError`], certainly not sent or maybe taken, and the words for
//! why), `http` (the production transport over reqwest, and the one reqwest
//! set-up whose keep-alive derives from the server's limits).

pub mod error;
pub mod http;
pub mod request;

use std::future::Future;
use std::pin::Pin;

pub use error::{root_cause, TransportError};
pub use http::{HttpTransport, SetupError, POOL_IDLE_TIMEOUT};
pub use request::{ContentType, Credential, Method, Request, Response};

/// A boxed, sendable future, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one request and returns the answer without interpreting its
/// status: a 503 is an answer. The only judgement a transport makes is,
/// when no answer came, whether the request certainly never reached the
/// server ([`TransportError::not_sent`]): that decides whether an append may
/// be sent again.
pub trait Transport: Send + Sync + 'static {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>>;
}
