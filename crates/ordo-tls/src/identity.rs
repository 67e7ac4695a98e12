//! One loaded node identity: the certificate chain and its key, the CA,
//! and the verifiers built from the CA; checked whole before it is used,
//! and swapped whole by a reload ([`CurrentIdentity`]).

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::UnixTime;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::CertificateError;
use sha2::{Digest, Sha256};

use crate::{files, x509, ClientAuth, TlsError, TlsFiles};

/// The bytes of a node's three files, read at one moment.
pub(crate) struct Sources {
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Vec<u8>,
}

impl Sources {
    pub(crate) fn read(files: &TlsFiles) -> Result<Sources, TlsError> {
        Ok(Sources {
            cert: files::read(&files.cert)?,
            key: files::read(&files.key)?,
            ca: files::read(&files.ca)?,
        })
    }

    /// Tells whether any file changed since an identity was loaded. A digest
    /// rather than the bytes, so no second copy of the key stays in memory.
    pub(crate) fn digest(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        for part in [&self.cert, &self.key, &self.ca] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        hash.finalize().into()
    }
}

/// A usable identity: everything the server and the peer client need.
pub(crate) struct Identity {
    pub certified_key: Arc<CertifiedKey>,
    /// Verifies client certificates against the CA (server side).
    pub client_verifier: Arc<dyn ClientCertVerifier>,
    /// Verifies peers' server certificates against the CA (client side).
    pub server_verifier: Arc<WebPkiServerVerifier>,
    pub leaf_sha256: String,
    pub not_after: String,
    pub source_digest: [u8; 32],
}

impl Identity {
    /// Builds the identity in `sources` (read from `files`), refusing one that
    /// could not serve: a key not matching the certificate, a certificate
    /// not signed by the CA, expired or not yet valid, or one that cannot
    /// serve TLS or present itself to peers as a client.
    pub(crate) fn load(
        files: &TlsFiles,
        client_auth: ClientAuth,
        sources: &Sources,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Identity, TlsError> {
        let certified_key = files::certified_key(
            &files.cert,
            &sources.cert,
            &files.key,
            &sources.key,
            provider,
        )?;
        let roots = Arc::new(files::parse_roots(&files.ca, &sources.ca)?);
        let (leaf, intermediates) = certified_key
            .cert
            .split_first()
            .expect("parse_certs returns at least one certificate");
        let facts = x509::inspect(leaf).map_err(|reason| TlsError::BadCertificate {
            path: files.cert.clone(),
            reason,
        })?;
        check_facts(&files.cert, &facts)?;

        let mut client_verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
        if client_auth != ClientAuth::Required {
            client_verifier = client_verifier.allow_unauthenticated();
        }
        let client_verifier = client_verifier.build().map_err(config_error)?;
        // Peers verify this certificate as a client one against the same CA;
        // checking that now names the problem instead of failing handshakes.
        client_verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map_err(|e| chain_error(files, &facts, e))?;
        let server_verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(config_error)?;

        Ok(Identity {
            leaf_sha256: x509::sha256_hex(leaf),
            not_after: x509::format_time(facts.not_after),
            source_digest: sources.digest(),
            certified_key: Arc::new(certified_key),
            client_verifier,
            server_verifier,
        })
    }
}

/// Validity and purpose, checked here for messages that say which.
fn check_facts(cert: &Path, facts: &x509::CertFacts) -> Result<(), TlsError> {
    let now = UnixTime::now().as_secs() as i64;
    if now < facts.not_before {
        return Err(TlsError::NotYetValid {
            path: cert.to_owned(),
            not_before: x509::format_time(facts.not_before),
        });
    }
    if now > facts.not_after {
        return Err(TlsError::Expired {
            path: cert.to_owned(),
            not_after: x509::format_time(facts.not_after),
        });
    }
    let missing = if !facts.server_auth {
        Some("TLS servers (serverAuth)")
    } else if !facts.client_auth {
        Some("TLS clients (clientAuth), which a node is to its peers")
    } else {
        None
    };
    match missing {
        Some(purpose) => Err(TlsError::WrongPurpose {
            path: cert.to_owned(),
            purpose,
        }),
        None => Ok(()),
    }
}

fn chain_error(files: &TlsFiles, facts: &x509::CertFacts, error: rustls::Error) -> TlsError {
    let cert = files.cert.clone();
    let rustls::Error::InvalidCertificate(error) = error else {
        return TlsError::BadCertificate {
            path: cert,
            reason: error.to_string(),
        };
    };
    match error {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            TlsError::NotSignedByCa {
                cert,
                ca: files.ca.clone(),
            }
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsError::Expired {
            path: cert,
            not_after: x509::format_time(facts.not_after),
        },
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            TlsError::NotYetValid {
                path: cert,
                not_before: x509::format_time(facts.not_before),
            }
        }
        other => TlsError::BadCertificate {
            path: cert,
            reason: other.to_string(),
        },
    }
}

pub(crate) fn config_error(e: impl std::fmt::Display) -> TlsError {
    TlsError::Config(e.to_string())
}

/// The identity in use; a reload replaces it whole, so a handshake sees the
/// old identity or the new one, never a mix.
pub(crate) struct CurrentIdentity(RwLock<Arc<Identity>>);

impl CurrentIdentity {
    pub(crate) fn new(identity: Identity) -> CurrentIdentity {
        CurrentIdentity(RwLock::new(Arc::new(identity)))
    }

    pub(crate) fn get(&self) -> Arc<Identity> {
        // The lock only guards a pointer swap, which cannot leave it
        // half-done, so a poisoned lock is as good as a healthy one.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set(&self, identity: Identity) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(identity);
    }
}

impl std::fmt::Debug for CurrentIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentIdentity")
            .field("leaf_sha256", &self.get().leaf_sha256)
            .finish()
    }
}
