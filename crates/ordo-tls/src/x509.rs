//! What this crate reads out of a certificate (with x509-parser): the
//! subject common name, the validity period, the extended key usages, and
//! the SHA-256 fingerprint of its DER.

use sha2::{Digest, Sha256};

/// The facts about one certificate that loading checks and logs report.
#[derive(Debug, Clone)]
pub(crate) struct CertFacts {
    /// Seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// Whether the certificate may serve TLS / authenticate a TLS client: a
    /// certificate without an ExtendedKeyUsage extension may do both.
    pub server_auth: bool,
    pub client_auth: bool,
}

/// Parses `der`; the error is x509-parser's description (certificates are
/// public, so it cannot leak anything secret).
pub(crate) fn inspect(der: &[u8]) -> Result<CertFacts, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let eku = cert
        .extended_key_usage()
        .map_err(|e| format!("bad ExtendedKeyUsage: {e}"))?;
    let (server_auth, client_auth) = match eku {
        None => (true, true),
        Some(ext) => (
            ext.value.any || ext.value.server_auth,
            ext.value.any || ext.value.client_auth,
        ),
    };
    Ok(CertFacts {
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        server_auth,
        client_auth,
    })
}

/// The subject common name of `der`, if it parses and has one.
pub(crate) fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    first_common_name(&cert)
}

fn first_common_name(cert: &x509_parser::certificate::X509Certificate<'_>) -> Option<String> {
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}

/// SHA-256 of `bytes`, lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `unix_seconds` as RFC 3339 UTC ("2026-05-01T12:00:00Z").
pub(crate) fn format_time(unix_seconds: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix_seconds) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        // Outside time's range (years beyond ±9999): say so rather than fail.
        Err(_) => format!("{unix_seconds} seconds after 1970"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_767_225_600), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn hashes_to_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
