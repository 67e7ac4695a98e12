//! One compiled-in file and how it is answered: its content type, the
//! security headers every console answer carries, and an ETag derived from
//! its bytes at compile time, so a browser revalidates with a 304 of no
//! body instead of downloading it again.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY as CSP, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// What a console page may load and do: its own script, stylesheet and
/// icon, requests to its own origin (the API), nothing inline, no other
/// origin, no `<base>`, no form posted anywhere by the browser (the script
/// sends them), no framing by another page, and no HTML parsed from a
/// string (`require-trusted-types-for`: assigning a string to `innerHTML`
/// throws), so that no record shown can become markup.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; \
    trusted-types 'none'";

/// A file of the console, compiled in.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    content_type: &'static str,
    body: &'static [u8],
    /// FNV-1a of `body`: changes whenever the file does.
    hash: u64,
}

impl Asset {
    pub const fn new(content_type: &'static str, body: &'static [u8]) -> Asset {
        Asset {
            content_type,
            body,
            hash: fnv1a(body),
        }
    }

    pub fn body(&self) -> &'static [u8] {
        self.body
    }

    /// The entity tag of this version of the file, quoted.
    pub fn etag(&self) -> String {
        format!("\"{:016x}\"", self.hash)
    }

    /// The file, or `304 Not Modified` when the request's `If-None-Match`
    /// names this version; with the same headers either way.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        let etag = self.etag();
        let headers = [
            (CONTENT_TYPE, self.content_type),
            (CSP, CONTENT_SECURITY_POLICY),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (REFERRER_POLICY, "no-referrer"),
            // Kept, but asked about on every use: the paths do not change
            // with the contents.
            (CACHE_CONTROL, "no-cache"),
            (ETAG, etag.as_str()),
        ]
        .map(|(name, value)| {
            (
                name,
                HeaderValue::from_str(value).expect("ASCII header values"),
            )
        });
        if names(request, &etag) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        (headers, self.body).into_response()
    }
}

/// Whether `If-None-Match` lists `etag` (or is `*`).
fn names(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// 64-bit FNV-1a: a fingerprint of a file, computed at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}
