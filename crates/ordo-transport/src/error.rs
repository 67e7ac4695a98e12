//! [`TransportError`]: the one answer to "was a request that got no answer
//! certainly not sent, or maybe taken?", and the words for why, for the
//! messages of every caller (the client's errors, a node's view of its
//! peers).

use std::time::Duration;

/// Why a request got no answer. The split matters for safety: after
/// [`TransportError::Unreachable`] the request certainly did not reach the
/// node, so even an append may be sent again; after `Timeout` or `Broken` it
/// may have been acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made (refused, no route, connect timed out).
    #[error("peer {addr} unreachable: {reason}")]
    Unreachable { addr: String, reason: String },
    /// No answer within the request's deadline.
    #[error("call to {addr} timed out after {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    /// The exchange failed after the request may have been sent (a reset, a
    /// truncated or oversized answer).
    #[error("call to {addr} failed after it was sent: {reason}")]
    Broken { addr: String, reason: String },
}

impl TransportError {
    /// True if the request certainly never reached the node.
    pub fn not_sent(&self) -> bool {
        matches!(self, TransportError::Unreachable { .. })
    }

    /// The node the request went to.
    pub fn addr(&self) -> &str {
        match self {
            TransportError::Unreachable { addr, .. }
            | TransportError::Timeout { addr, .. }
            | TransportError::Broken { addr, .. } => addr,
        }
    }

    /// Why, in words and without the address: the end of a sentence about
    /// the node ("connection refused", "no answer within 2s").
    pub fn cause(&self) -> String {
        match self {
            TransportError::Unreachable { reason, .. } | TransportError::Broken { reason, .. } => {
                reason.clone()
            }
            TransportError::Timeout { timeout, .. } => format!("no answer within {timeout:?}"),
        }
    }
}

/// What actually went wrong, in words: the I/O error at the root of `error`
/// ("connection refused"), where an HTTP stack's own message says only
/// "error sending request for url (…)" and the OS's adds "(os error 111)".
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    loop {
        if let Some(io) = innermost.downcast_ref::<std::io::Error>() {
            return io_words(io);
        }
        match innermost.source() {
            Some(source) => innermost = source,
            None => return plain_words(&innermost.to_string()),
        }
    }
}

/// An I/O error as a person says it.
fn io_words(error: &std::io::Error) -> String {
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
        _ => plain_words(&error.to_string()),
    }
}

/// `Connection refused (os error 111)` → `connection refused`: an error
/// message as the middle of a sentence.
pub(crate) fn plain_words(message: &str) -> String {
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
        let timeout = TransportError::Timeout {
            addr: "127.0.0.1:7002".into(),
            timeout: Duration::from_micros(37_500),
        };
        assert_eq!(timeout.cause(), "no answer within 37.5ms");
        assert!(!timeout.not_sent());
        let refused = TransportError::Unreachable {
            addr: "127.0.0.1:7002".into(),
            reason: "connection refused".into(),
        };
        assert!(refused.not_sent());
        assert_eq!(refused.addr(), "127.0.0.1:7002");
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
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(root_cause(&reset), "connection reset");
        let other = std::io::Error::other("Disk on fire (os error 5)");
        assert_eq!(root_cause(&other), "disk on fire");
    }
}
