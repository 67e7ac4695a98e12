//! [`NodeTls`]: a node's certificate, key and CA, loaded from [`TlsFiles`],
//! and the two rustls configurations built on them once. Both configs read
//! the identity in use at each handshake, so a reload (reload.rs) reaches
//! every acceptor and client built from them.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ServerConfig};

use crate::identity::{CurrentIdentity, Identity, Sources};
use crate::{client, server, ClientAuth, TlsError};

/// Where a node's TLS files are. All PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The node's certificate, then any intermediates.
    pub cert: PathBuf,
    /// The certificate's private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key: PathBuf,
    /// The CA bundle that vouches for peers and clients (and for this node).
    pub ca: PathBuf,
}

/// A node's TLS: its certificate and key, and the CA that vouches for its
/// peers and clients; re-read from disk when the files change
/// ([`NodeTls::reload`], [`NodeTls::watch`]). Cheap to clone.
#[derive(Clone)]
pub struct NodeTls {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub files: TlsFiles,
    pub client_auth: ClientAuth,
    pub provider: Arc<CryptoProvider>,
    pub current: Arc<CurrentIdentity>,
    pub server_config: Arc<ServerConfig>,
    pub peer_client_config: Arc<ClientConfig>,
}

impl NodeTls {
    /// Reads and checks `files` (see [`TlsError`] for what is refused) and
    /// builds the server and peer-client configurations.
    pub fn load(files: TlsFiles, client_auth: ClientAuth) -> Result<NodeTls, TlsError> {
        let provider = crate::provider();
        let sources = Sources::read(&files)?;
        let identity = Identity::load(&files, client_auth, &sources, &provider)?;
        let current = Arc::new(CurrentIdentity::new(identity));
        let server_config = server::node_server_config(current.clone(), provider.clone())?;
        let peer_client_config = client::peer_client_config(current.clone(), provider.clone())?;
        Ok(NodeTls {
            inner: Arc::new(Inner {
                files,
                client_auth,
                provider,
                current,
                server_config: Arc::new(server_config),
                peer_client_config: Arc::new(peer_client_config),
            }),
        })
    }

    /// The files this node reads.
    pub fn files(&self) -> &TlsFiles {
        &self.inner.files
    }

    /// Whether clients must present a certificate.
    pub fn client_auth(&self) -> ClientAuth {
        self.inner.client_auth
    }

    /// SHA-256 of the DER of the leaf certificate currently served,
    /// lowercase hex (for logs and tests).
    pub fn certificate_sha256(&self) -> String {
        self.inner.current.get().leaf_sha256.clone()
    }

    /// When the certificate currently served expires, RFC 3339 UTC.
    pub fn certificate_not_after(&self) -> String {
        self.inner.current.get().not_after.clone()
    }
}

impl std::fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeTls")
            .field("files", &self.inner.files)
            .field("client_auth", &self.inner.client_auth)
            .field("certificate_sha256", &self.certificate_sha256())
            .finish()
    }
}
