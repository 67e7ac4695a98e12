//! Node addresses: parsing `host:port` or `http(s)://host:port` into the base
//! URL every request is built on, and encoding topic names into paths.

use crate::error::ClientError;

/// Turns a user-given node address into a base URL without a trailing slash,
/// e.g. `127.0.0.1:7001` into `http://127.0.0.1:7001`.
pub fn normalize_addr(addr: &str) -> Result<String, ClientError> {
    normalize_addr_as(addr, "http")
}

/// [`normalize_addr`], with `scheme` for an address that names none.
pub fn normalize_addr_as(addr: &str, scheme: &str) -> Result<String, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidAddr {
        addr: addr.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = addr.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty"));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("{scheme}://{trimmed}")
    };
    let url = reqwest::Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only http and https are supported"));
    }
    let host = url.host_str().ok_or_else(|| invalid("no host"))?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("expected host:port with no path"));
    }
    // `Url` drops the port when it is the scheme's default (and keeps IPv6
    // brackets in `host_str`), so this form is canonical: the same node
    // always has the same string.
    Ok(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// Percent-encodes one path segment. Valid topic names need no encoding;
/// invalid ones are passed through encoded so the server, which owns the
/// rules, answers with its own 400 instead of the client inventing one.
pub fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    // "." and ".." are path navigation to URL parsers; encode them too.
    if out == "." || out == ".." {
        return out.replace('.', "%2E");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_host_port_gets_http_scheme() {
        assert_eq!(
            normalize_addr("127.0.0.1:7001").unwrap(),
            "http://127.0.0.1:7001"
        );
        assert_eq!(
            normalize_addr(" http://localhost:7002/ ").unwrap(),
            "http://localhost:7002"
        );
        assert_eq!(
            normalize_addr("https://node-1.example:443").unwrap(),
            "https://node-1.example"
        );
        assert_eq!(normalize_addr("[::1]:7001").unwrap(), "http://[::1]:7001");
    }

    #[test]
    fn rejects_what_is_not_a_node_address() {
        for bad in [
            "",
            "   ",
            "ftp://x:1",
            "http://x:1/v1",
            "http://x:1?a=b",
            "::::",
        ] {
            assert!(
                matches!(normalize_addr(bad), Err(ClientError::InvalidAddr { .. })),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn topic_segments_are_encoded_only_when_needed() {
        assert_eq!(encode_path_segment("orders.v2_x-1"), "orders.v2_x-1");
        assert_eq!(encode_path_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(encode_path_segment(".."), "%2E%2E");
        assert_eq!(encode_path_segment("é"), "%C3%A9");
    }
}
