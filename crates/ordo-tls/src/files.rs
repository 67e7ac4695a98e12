//! PEM files: reading certificates, keys and CA bundles into rustls types
//! with errors that name the file, and writing them atomically.
//!
//! Errors never quote file contents: a PEM error is reduced to a fixed
//! description, since the file may be a private key.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::{InconsistentKeys, RootCertStore};

use crate::TlsError;

/// The whole of the file at `path`.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|cause| TlsError::Read {
        path: path.to_owned(),
        cause,
    })
}

/// Every certificate in `pem` (read from `path`), in file order; other PEM
/// sections are skipped. At least one.
pub(crate) fn parse_certs(
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, &e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in `pem`, read from `path`.
pub(crate) fn parse_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_owned(),
        },
        other => pem_error(path, &other),
    })
}

/// A certificate chain and the key it certifies, checked to belong
/// together. The first certificate of `cert_pem` is the leaf.
pub(crate) fn certified_key(
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = parse_certs(cert_path, cert_pem)?;
    let key = parse_key(key_path, key_pem)?;
    let signing_key =
        provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsError::BadKey {
                path: key_path.to_owned(),
                reason: e.to_string(),
            })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::KeyMismatch {
                key: key_path.to_owned(),
                cert: cert_path.to_owned(),
            })
        }
        // The ring provider's keys all know their public key; a key type
        // that does not cannot be checked, and the handshake will tell.
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(certified),
        Err(e) => Err(TlsError::BadCertificate {
            path: cert_path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Reads `cert_path` and `key_path` and pairs them (see [`certified_key`]).
pub(crate) fn load_certified_key(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let cert_pem = read(cert_path)?;
    let key_pem = read(key_path)?;
    certified_key(cert_path, &cert_pem, key_path, &key_pem, provider)
}

/// The CA bundle in `pem` (read from `path`) as trust anchors.
pub(crate) fn parse_roots(path: &Path, pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(path, pem)? {
        roots.add(cert).map_err(|e| TlsError::BadCertificate {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// Who may read a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// A certificate: world-readable (0644 before the umask).
    Public,
    /// A private key: the owner only (0600).
    OwnerOnly,
}

/// Writes `bytes` to `path` through a temporary file in the same directory,
/// so that a reader sees the old file or the new one, never half of one.
/// Without `overwrite`, an existing `path` is left alone and refused.
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    access: Access,
    overwrite: bool,
) -> Result<(), TlsError> {
    let write_error = |cause| TlsError::Write {
        path: path.to_owned(),
        cause,
    };
    let temp = temp_path(path);
    let result = write_new(&temp, bytes, access).and_then(|()| {
        if overwrite {
            fs::rename(&temp, path)
        } else {
            // A hard link, unlike rename, fails if `path` exists.
            fs::hard_link(&temp, path).and_then(|()| fs::remove_file(&temp))
        }
    });
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(match e.kind() {
            std::io::ErrorKind::AlreadyExists => TlsError::WouldOverwrite {
                paths: vec![path.to_owned()],
            },
            _ => write_error(e),
        });
    }
    // Make the rename durable; failing to is not worth failing the write.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8], access: Access) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(match access {
            Access::Public => 0o644,
            Access::OwnerOnly => 0o600,
        });
    }
    #[cfg(not(unix))]
    let _ = access;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// `<dir>/.<name>.<pid>.<n>.tmp`: unique within the machine, hidden, and in
/// the same directory (a rename across file systems is not atomic).
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

fn pem_error(path: &Path, e: &pem::Error) -> TlsError {
    TlsError::Pem {
        path: path.to_owned(),
        reason: describe_pem_error(e),
    }
}

/// A fixed description of `e`: pem::Error's own display may quote a line
/// of the file, and the file may hold a key.
fn describe_pem_error(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line (truncated?)",
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a section is not valid base64",
        pem::Error::Io(_) => "it could not be read",
        pem::Error::NoItemsFound => "it has no PEM section of the expected kind",
        pem::Error::SectionTooLarge => "a section is larger than 256 MB",
        _ => "it cannot be parsed",
    }
}
