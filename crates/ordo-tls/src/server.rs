//! The server side of a node: the rustls `ServerConfig` that serves the
//! current certificate and verifies client certificates against the
//! current CA, and [`NodeTls::accept`], which also names the client.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, NoServerSessionStorage, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::identity::{config_error, CurrentIdentity};
use crate::{x509, NodeTls, TlsError};

/// The client behind a connection, from its verified certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate's subject common name, if it has one: the principal
    /// the HTTP layer looks up (a node's is `ordo-node-<id>`).
    pub common_name: Option<String>,
    /// The certificate may serve TLS as well as authenticate a client
    /// (extended key usages serverAuth and clientAuth, or none at all):
    /// what a node's certificate is, and a client's (clientAuth only, as
    /// [`crate::certs::create_client`] makes them) is not. Only a node
    /// may be a peer.
    pub node: bool,
}

impl NodeTls {
    /// The server side for the files in use at each handshake. Whenever a CA
    /// is configured (always, for a node) the server asks for a client
    /// certificate and verifies one against the CA; with
    /// [`ClientAuth::Required`](crate::ClientAuth::Required) a client without
    /// one is refused in the handshake, otherwise it is let in. ALPN
    /// "http/1.1".
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.inner.server_config.clone())
    }

    /// The TLS handshake on `io`, and who the verified client certificate
    /// names, if the client presented one (rustls keeps only certificates
    /// that passed verification). Bound it with a timeout: a client that
    /// stops mid-handshake is waited for.
    pub async fn accept<IO>(
        &self,
        io: IO,
    ) -> std::io::Result<(TlsStream<IO>, Option<ClientIdentity>)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let stream = self.acceptor().accept(io).await?;
        let identity = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| ClientIdentity {
                common_name: x509::common_name(leaf),
                // Verified certificates parse; one that did not would be
                // no node.
                node: x509::inspect(leaf).is_ok_and(|facts| facts.server_auth && facts.client_auth),
            });
        Ok((stream, identity))
    }
}

pub(crate) fn node_server_config(
    current: Arc<CurrentIdentity>,
    provider: Arc<CryptoProvider>,
) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_client_cert_verifier(Arc::new(CurrentClientVerifier(current.clone())))
        .with_cert_resolver(Arc::new(CurrentCertificate(current)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // A resumed session skips certificate verification: after the CA is
    // replaced, a client vouched for by the old one could resume. Every
    // connection makes a full handshake instead.
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// Serves the current certificate.
#[derive(Debug)]
struct CurrentCertificate(Arc<CurrentIdentity>);

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.get().certified_key.clone())
    }
}

/// Verifies client certificates with the current CA.
#[derive(Debug)]
struct CurrentClientVerifier(Arc<CurrentIdentity>);

impl ClientCertVerifier for CurrentClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.0.get().client_verifier.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.0.get().client_verifier.client_auth_mandatory()
    }

    /// No hints: they would have to borrow from an identity a reload may
    /// drop, and an empty list tells clients to send whatever certificate
    /// they have, which is what ours do.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .get()
            .client_verifier
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .get()
            .client_verifier
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
            .client_verifier
            .verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.get().client_verifier.supported_verify_schemes()
    }
}
