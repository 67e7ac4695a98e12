//! TLS for ordo on rustls with the ring provider (no OpenSSL, no aws-lc).
//!
//! A node loads its certificate chain, key and CA bundle once
//! ([`NodeTls::load`]) and gets two rustls configurations that follow its
//! files as they are rotated: the server one behind [`NodeTls::acceptor`] /
//! [`NodeTls::accept`] (which also names the client by its certificate's
//! common name) and the one it reaches its peers with
//! ([`NodeTls::peer_client_config`]). Command-line clients build theirs
//! with [`client_config`]; [`certs`] makes development certificates.
//!
//! Modules:
//! - `files.rs`: reading PEM certificates, keys and CA bundles into rustls
//!   types with errors naming the file; atomic writes.
//! - `x509.rs`: what is read out of a certificate (common name, validity,
//!   key usages, fingerprint).
//! - `identity.rs`: one loaded identity, checked whole (key matches, signed
//!   by the CA, valid now, usable both ways), and the slot holding the one
//!   in use.
//! - `node.rs`: [`NodeTls`] and [`TlsFiles`].
//! - `server.rs`: the server configuration and [`NodeTls::accept`].
//! - `client.rs`: the peer client configuration and [`client_config`].
//! - `reload.rs`: [`NodeTls::reload`] and [`NodeTls::watch`].
//! - `certs.rs`: development certificates (rcgen).
//! - `client_auth.rs`: [`ClientAuth`] (`--tls-client-auth`).
//! - `error.rs`: [`TlsError`].
//!
//! Every configuration is built with an explicit ring provider, never the
//! process default, so nothing depends on which crypto backend another
//! crate installed.

use std::sync::Arc;

pub mod certs;
mod client;
mod client_auth;
mod error;
mod files;
mod identity;
mod node;
mod reload;
mod server;
mod x509;

pub use client::client_config;
pub use client_auth::{ClientAuth, ParseClientAuthError};
pub use error::TlsError;
pub use node::{NodeTls, TlsFiles};
pub use server::ClientIdentity;

/// Re-exported so that users name the exact versions this crate built on.
pub use rustls;
pub use tokio_rustls;

/// The crypto provider every configuration of this crate is built with.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
