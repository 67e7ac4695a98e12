//! Shared by the integration tests: a development PKI in a temporary
//! directory, and a TLS handshake between a node and a client over an
//! in-memory pipe.

#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ordo_tls::certs::{self, CreatedFiles};
use ordo_tls::rustls::pki_types::ServerName;
use ordo_tls::rustls::ClientConfig;
use ordo_tls::tokio_rustls::TlsConnector;
use ordo_tls::{ClientAuth, ClientIdentity, NodeTls, TlsFiles};
use sha2::{Digest, Sha256};

/// A handshake that takes longer than this has hung.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A CA and the certificates it signed, in a temporary directory.
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        certs::create_ca(&pki.ca_dir()).expect("a CA");
        pki
    }

    pub fn ca_dir(&self) -> PathBuf {
        self.dir.path().join("ca")
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.ca_dir().join("ca.crt")
    }

    pub fn certs_dir(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// Node `id`'s files, its certificate made for `hosts`.
    pub fn node(&self, id: u64, hosts: &[&str]) -> TlsFiles {
        let created = self.rotate_node(id, hosts);
        TlsFiles {
            cert: created.cert,
            key: created.key,
            ca: self.ca_cert(),
        }
    }

    /// A new certificate and key for node `id`, replacing any.
    pub fn rotate_node(&self, id: u64, hosts: &[&str]) -> CreatedFiles {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        certs::create_node(&self.ca_dir(), &self.certs_dir(), id, &hosts, true)
            .expect("a node certificate")
    }

    pub fn load_node(&self, id: u64, client_auth: ClientAuth) -> NodeTls {
        NodeTls::load(self.node(id, &["127.0.0.1", "localhost"]), client_auth)
            .expect("the node's files load")
    }

    pub fn client(&self, common_name: &str) -> CreatedFiles {
        certs::create_client(&self.ca_dir(), &self.certs_dir(), common_name, false)
            .expect("a client certificate")
    }

    /// A command-line client trusting this CA, presenting `identity`.
    pub fn client_config(&self, identity: Option<&CreatedFiles>) -> Arc<ClientConfig> {
        let identity = identity.map(|c| (c.cert.as_path(), c.key.as_path()));
        Arc::new(ordo_tls::client_config(Some(&self.ca_cert()), identity).expect("a client config"))
    }
}

/// What each side of a handshake made of it.
pub struct Outcome {
    /// The client identity `NodeTls::accept` reported, or its error.
    pub server: std::io::Result<Option<ClientIdentity>>,
    /// The SHA-256 of the certificate the server presented, or the
    /// client's error.
    pub client: std::io::Result<String>,
}

/// A handshake between `server` and a client with `config` dialing
/// `server_name`, over an in-memory pipe.
pub async fn handshake(server: &NodeTls, config: Arc<ClientConfig>, server_name: &str) -> Outcome {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let name = ServerName::try_from(server_name.to_owned()).expect("a valid server name");
    let accepting = async {
        let (_stream, identity) = server.accept(server_io).await?;
        Ok(identity)
    };
    let connecting = async {
        let stream = TlsConnector::from(config).connect(name, client_io).await?;
        let leaf = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .expect("a server certificate after a handshake");
        Ok(sha256_hex(leaf))
    };
    let both = async { tokio::join!(accepting, connecting) };
    let (server, client) = tokio::time::timeout(HANDSHAKE_TIMEOUT, both)
        .await
        .expect("the handshake ends");
    Outcome { server, client }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `path`'s display form, which error messages use.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}
