//! The client side: the configuration a node reaches its peers with (the
//! node's current certificate, the current CA and nothing else), and
//! [`client_config`] for command-line clients.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::identity::{config_error, CurrentIdentity};
use crate::{files, NodeTls, TlsError};

impl NodeTls {
    /// What this node reaches its peers with: trusts only the CA (not the
    /// web roots) and presents this node's certificate as a client
    /// certificate. Built once; it reads the identity in use at each
    /// handshake, so a reload reaches every client built from it: a
    /// `tokio_rustls::TlsConnector::from(config)`, and reqwest, which takes
    /// the config by value (`use_preconfigured_tls((*config).clone())`; a
    /// clone shares the resolver and verifier, so it follows too). Peers are
    /// dialed by a name or address their certificate lists. ALPN
    /// "http/1.1"; no session resumption.
    pub fn peer_client_config(&self) -> Arc<ClientConfig> {
        self.inner.peer_client_config.clone()
    }
}

pub(crate) fn peer_client_config(
    current: Arc<CurrentIdentity>,
    provider: Arc<CryptoProvider>,
) -> Result<ClientConfig, TlsError> {
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(CurrentCaVerifier(current.clone())))
        .with_client_cert_resolver(Arc::new(CurrentClientCertificate(current)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // A resumed session skips verification against the current CA (see
    // server.rs); the servers give no tickets anyway.
    config.resumption = Resumption::disabled();
    Ok(config)
}

/// For command-line clients: trusts the CA bundle at `ca` if given, else the
/// web roots (webpki-roots); presents the client certificate `identity`
/// (certificate chain, key) if given. ALPN "http/1.1".
pub fn client_config(
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> Result<ClientConfig, TlsError> {
    let provider = crate::provider();
    let roots = match ca {
        Some(ca) => files::parse_roots(ca, &files::read(ca)?)?,
        None => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => {
            let certified = files::load_certified_key(cert, key, &provider)?;
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified)))
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Presents the node's current certificate.
#[derive(Debug)]
struct CurrentClientCertificate(Arc<CurrentIdentity>);

impl ResolvesClientCert for CurrentClientCertificate {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.get().certified_key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Verifies peers' certificates (and their names) with the current CA.
#[derive(Debug)]
struct CurrentCaVerifier(Arc<CurrentIdentity>);

impl ServerCertVerifier for CurrentCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0.get().server_verifier.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .get()
            .server_verifier
            .verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .get()
            .server_verifier
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.get().server_verifier.supported_verify_schemes()
    }
}
