//! `ClientError`: every way a call can fail, each variant saying what the
//! caller may conclude about the request's effect.

use ordo_core::NodeId;

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server gave a definite answer refusing the request (a 4xx, or a
    /// 5xx that is not safe to retry). Never retried: asking again would get
    /// the same answer. For an append, nothing was appended.
    #[error("server refused the request ({status} {code}): {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        /// The leader the answering node knew of, if it said.
        leader: Option<NodeId>,
        /// For a conflict (409), what the server found instead: see
        /// `ordo_api::ErrorDetail::current`.
        current: Option<serde_json::Value>,
    },
    /// Every attempt failed in a way that was safe to retry, and the retry
    /// budget (attempts or time) ran out. For an append, nothing was appended.
    #[error("{}", unavailable_text(*attempts, *elapsed_ms, answer.as_deref(), last_error))]
    Unavailable {
        attempts: u32,
        elapsed_ms: u64,
        /// The last answer a node gave saying it could not serve (e.g.
        /// `127.0.0.1:7001 answered 503 no_leader: …`), if any did.
        answer: Option<String>,
        /// The nodes of the last sweep that gave no answer, and why
        /// (`could not reach 127.0.0.1:7009 (connection refused)`).
        last_error: String,
    },
    /// An append (or another request that must not take effect twice: a
    /// compare-and-set, a claim, an ack) reached a server (or may have) and
    /// no answer came back: it may or may not have been applied. Never
    /// retried by the call itself, since a retry could append the records
    /// twice.
    #[error(
        "outcome unknown: the request sent to {} may or may not have been applied ({reason})",
        crate::call::display_addr(addr)
    )]
    OutcomeUnknown { addr: String, reason: String },
    /// A node address that is not `host:port` or an `http(s)://host:port` URL.
    #[error("invalid node address {addr:?}: {reason}")]
    InvalidAddr { addr: String, reason: String },
    /// A success answer whose body is not the expected JSON.
    #[error("could not decode the answer from {addr}: {reason}")]
    Decode { addr: String, reason: String },
    /// The HTTP stack could not be set up (for example, no TLS roots).
    #[error("could not set up the HTTP client: {reason}")]
    Setup { reason: String },
}

impl ClientError {
    /// The HTTP status of an [`ClientError::Api`] error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What a refused compare found instead (an [`ClientError::Api`] 409).
    pub fn current(&self) -> Option<&serde_json::Value> {
        match self {
            ClientError::Api { current, .. } => current.as_ref(),
            _ => None,
        }
    }

    /// The machine-readable code of an [`ClientError::Api`] error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The cluster's own reason first (a node that answered knows why it could
/// not serve), else why no node answered; then what was tried.
fn unavailable_text(
    attempts: u32,
    elapsed_ms: u64,
    answer: Option<&str>,
    unreachable: &str,
) -> String {
    let tried = format!("gave up after {attempts} attempt(s) in {elapsed_ms} ms");
    match answer {
        Some(answer) => format!("the cluster could not serve the request: {answer} ({tried})"),
        None => format!("no node answered: {unreachable} ({tried})"),
    }
}

/// An error and its causes as one line (`outer: cause: root cause`).
pub use ordo_transport::http::error_chain;

impl From<ordo_transport::SetupError> for ClientError {
    fn from(error: ordo_transport::SetupError) -> Self {
        ClientError::Setup {
            reason: error.reason,
        }
    }
}
