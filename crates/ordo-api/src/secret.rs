//! Shared secrets: the cluster secret nodes show each other on `/raft/*`,
//! and the API token clients show on `/v1/*`. Pure: what a valid secret
//! is, how a presented one is compared (in constant time) and how a bearer
//! token is found in an `Authorization` header. Where a secret comes from
//! (a file, the environment) is the binary's job.

use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;

/// The header a node sends the cluster secret in on every `/raft/*` call.
/// Not `Authorization`: that one carries the client API token, and a proxy
/// or client library that adds or strips it must not touch Raft traffic.
pub const CLUSTER_SECRET_HEADER: &str = "ordo-cluster-secret";
/// Longest secret accepted, in bytes: a secret travels in a header on every
/// request, and no real secret needs more.
pub const MAX_SECRET_BYTES: usize = 1024;

/// A secret, trimmed and validated: 1 to [`MAX_SECRET_BYTES`] printable
/// ASCII characters without spaces, so it fits in an HTTP header unchanged
/// (`openssl rand -base64 32`, `-hex 32` and UUIDs all qualify). Its `Debug`
/// never shows it; comparing it takes the same time wherever a guess differs.
#[derive(Clone)]
pub struct Secret(Arc<str>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("is empty")]
    Empty,
    #[error("is {len} bytes long; at most {MAX_SECRET_BYTES} are allowed")]
    TooLong { len: usize },
    #[error("contains a character other than printable ASCII without spaces (at byte {at})")]
    BadCharacter { at: usize },
}

impl Secret {
    /// Parses `text` as it comes from a file or an environment variable:
    /// surrounding whitespace (a file's trailing newline) is dropped.
    pub fn new(text: &str) -> Result<Secret, SecretError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SecretError::Empty);
        }
        if text.len() > MAX_SECRET_BYTES {
            return Err(SecretError::TooLong { len: text.len() });
        }
        if let Some(at) = text.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(SecretError::BadCharacter { at });
        }
        Ok(Secret(text.into()))
    }

    /// The secret itself, to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True if `presented` is exactly this secret. The time taken depends
    /// on the lengths only, never on where the first differing byte is, so
    /// timing cannot reveal a secret byte by byte.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// In constant time, like [`Secret::matches`].
impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.matches(other.expose().as_bytes())
    }
}

impl Eq for Secret {}

/// The token of an `Authorization: Bearer <token>` header value (the scheme
/// is case-insensitive, RFC 7235), or `None` for any other scheme.
pub fn bearer_token(authorization: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer ";
    if authorization.len() < SCHEME.len()
        || !authorization[..SCHEME.len()].eq_ignore_ascii_case(SCHEME)
    {
        return None;
    }
    Some(authorization[SCHEME.len()..].trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_secret_matches() {
        let secret = Secret::new("s3cret-Token+/=").unwrap();
        assert!(secret.matches(b"s3cret-Token+/="));
        assert!(!secret.matches(b"s3cret-Token+/"), "a prefix");
        assert!(!secret.matches(b"s3cret-Token+/=x"), "an extension");
        assert!(!secret.matches(b"S3cret-Token+/="), "another case");
        assert!(!secret.matches(b"x3cret-Token+/="), "first byte differs");
        assert!(!secret.matches(b""), "nothing");
    }

    #[test]
    fn a_secret_is_trimmed_and_must_be_printable_ascii() {
        let secret = Secret::new("  abc123\n").unwrap();
        assert_eq!(secret.expose(), "abc123");
        assert_eq!(Secret::new(""), Err(SecretError::Empty));
        assert_eq!(Secret::new(" \n\t"), Err(SecretError::Empty));
        assert_eq!(
            Secret::new("two words"),
            Err(SecretError::BadCharacter { at: 3 })
        );
        assert_eq!(
            Secret::new("caf\u{e9}"),
            Err(SecretError::BadCharacter { at: 3 })
        );
        assert!(Secret::new(&"x".repeat(MAX_SECRET_BYTES)).is_ok());
        assert_eq!(
            Secret::new(&"x".repeat(MAX_SECRET_BYTES + 1)),
            Err(SecretError::TooLong {
                len: MAX_SECRET_BYTES + 1
            })
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::new("hunter2").unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{:?}", Some(secret)).contains("hunter2"));
    }

    #[test]
    fn a_bearer_token_is_found_whatever_the_scheme_case() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"BEARER abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"Basic YWxhZGRpbjpvcGVu"), None);
        assert_eq!(bearer_token(b"Bearer"), None);
        assert_eq!(bearer_token(b"Bearerabc"), None);
    }
}
