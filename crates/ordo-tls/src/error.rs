//! [`TlsError`]: what went wrong with which file.
//!
//! Every message names the file and what is wrong with it, so an operator
//! can fix it without a debugger. No message ever carries key material: PEM
//! and parser errors are reduced to fixed descriptions before they get here
//! (see `files::describe_pem_error`).

use std::path::PathBuf;

/// A certificate, key or CA file that cannot be used, or a development
/// certificate that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot write {}: {cause}", path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{} is not valid PEM: {reason}", path.display())]
    Pem { path: PathBuf, reason: &'static str },
    #[error("no certificate in {}", path.display())]
    NoCertificate { path: PathBuf },
    #[error("the certificate in {} cannot be used: {reason}", path.display())]
    BadCertificate { path: PathBuf, reason: String },
    #[error("no private key (PKCS#8, PKCS#1 or SEC1 PEM) in {}", path.display())]
    NoKey { path: PathBuf },
    #[error("the key in {} cannot be used: {reason}", path.display())]
    BadKey { path: PathBuf, reason: String },
    #[error("the key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error("the certificate in {} is not signed by the CA in {}", cert.display(), ca.display())]
    NotSignedByCa { cert: PathBuf, ca: PathBuf },
    #[error("the certificate in {} expired on {not_after}", path.display())]
    Expired { path: PathBuf, not_after: String },
    #[error("the certificate in {} is not valid before {not_before}", path.display())]
    NotYetValid { path: PathBuf, not_before: String },
    #[error("the certificate in {} is not for {purpose} (its ExtendedKeyUsage lacks it)", path.display())]
    WrongPurpose {
        path: PathBuf,
        purpose: &'static str,
    },
    #[error("refusing to overwrite {}", list_paths(paths))]
    WouldOverwrite { paths: Vec<PathBuf> },
    #[error("{0:?} is not a valid common name: use 1 to 64 of A-Z a-z 0-9 . _ -")]
    InvalidCommonName(String),
    #[error("{0:?} is not a valid host name or IP address for a certificate")]
    InvalidHost(String),
    #[error("a node certificate needs at least one host (a DNS name or an IP address)")]
    NoHosts,
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
    #[error("cannot build the TLS configuration: {0}")]
    Config(String),
}

fn list_paths(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(" and ")
}
