//! Rotation: a node takes new files when they are good, keeps its identity
//! when they are not, and the configurations built before a rotation follow
//! it; a CA bundle holding the old and the new CA trusts both.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{handshake, shown, Pki};
use ordo_tls::rustls::pki_types::ServerName;
use ordo_tls::rustls::ClientConfig;
use ordo_tls::tokio_rustls::TlsConnector;
use ordo_tls::{ClientAuth, NodeTls};

const LOCAL_HOSTS: &[&str] = &["127.0.0.1", "localhost"];

/// The SHA-256 of the client certificate a client with `config` presents
/// to `server`.
async fn presented_client_certificate(server: &NodeTls, config: Arc<ClientConfig>) -> String {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let connector = TlsConnector::from(config);
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let (accepted, connected) = tokio::join!(
        server.acceptor().accept(server_io),
        connector.connect(name, client_io)
    );
    connected.unwrap();
    let stream = accepted.unwrap();
    let chain = stream
        .get_ref()
        .1
        .peer_certificates()
        .expect("a client certificate");
    common::sha256_hex(&chain[0])
}

#[tokio::test]
async fn a_rotated_certificate_is_served_and_presented_by_configs_built_before() {
    let pki = Pki::new();
    let node1 = NodeTls::load(pki.node(1, LOCAL_HOSTS), ClientAuth::Required).unwrap();
    let node2 = pki.load_node(2, ClientAuth::Required);
    let peer_config = node1.peer_client_config();
    // What reqwest's use_preconfigured_tls is given: a clone, by value.
    let cloned_config = Arc::new((*peer_config).clone());
    let before = node1.certificate_sha256();
    assert_eq!(
        presented_client_certificate(&node2, peer_config.clone()).await,
        before
    );
    assert!(matches!(node1.reload(), Ok(false)), "nothing changed yet");

    pki.rotate_node(1, LOCAL_HOSTS);
    assert!(matches!(node1.reload(), Ok(true)), "a new identity");
    let after = node1.certificate_sha256();
    assert_ne!(after, before);
    assert!(matches!(node1.reload(), Ok(false)), "taken once");

    let outcome = handshake(&node1, pki.client_config(None), "localhost").await;
    assert_eq!(
        outcome.client.unwrap(),
        after,
        "a new handshake sees the new certificate"
    );
    assert!(
        Arc::ptr_eq(&peer_config, &node1.peer_client_config()),
        "the same config, not a rebuilt one"
    );
    for config in [peer_config, cloned_config] {
        assert_eq!(presented_client_certificate(&node2, config).await, after);
    }
}

#[tokio::test]
async fn a_truncated_key_is_refused_and_the_old_identity_kept() {
    let pki = Pki::new();
    let files = pki.node(1, LOCAL_HOSTS);
    let node = NodeTls::load(files.clone(), ClientAuth::None).unwrap();
    let before = node.certificate_sha256();
    let key = std::fs::read(&files.key).unwrap();
    std::fs::write(&files.key, &key[..key.len() / 2]).unwrap();

    let error = node.reload().unwrap_err().to_string();
    assert!(error.contains(&shown(&files.key)), "{error}");
    assert!(
        !error.contains("PRIVATE KEY") && !error.contains("MIG"),
        "no key material: {error}"
    );
    assert_eq!(node.certificate_sha256(), before);
    let outcome = handshake(&node, pki.client_config(None), "127.0.0.1").await;
    assert_eq!(
        outcome.client.unwrap(),
        before,
        "the old certificate is still served"
    );
}

#[tokio::test]
async fn a_key_that_does_not_match_the_certificate_is_refused() {
    let pki = Pki::new();
    let files = pki.node(1, LOCAL_HOSTS);
    let node = NodeTls::load(files.clone(), ClientAuth::None).unwrap();
    let before = node.certificate_sha256();
    let other = pki.node(2, LOCAL_HOSTS);
    std::fs::copy(&other.key, &files.key).unwrap();

    let error = node.reload().unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "the key in {} does not match the certificate in {}",
            shown(&files.key),
            shown(&files.cert)
        )
    );
    assert_eq!(node.certificate_sha256(), before);
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let (pki, other) = (Pki::new(), Pki::new());
    let mut files = other.node(1, LOCAL_HOSTS);
    files.ca = pki.ca_cert();
    let error = NodeTls::load(files.clone(), ClientAuth::None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "the certificate in {} is not signed by the CA in {}",
            shown(&files.cert),
            shown(&files.ca)
        )
    );
}

#[tokio::test]
async fn watch_takes_a_rotation_without_being_asked() {
    let pki = Pki::new();
    let node = NodeTls::load(pki.node(1, LOCAL_HOSTS), ClientAuth::None).unwrap();
    let before = node.certificate_sha256();
    let watcher = node.watch(Duration::from_millis(20));
    pki.rotate_node(1, LOCAL_HOSTS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while node.certificate_sha256() == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rotation was not taken"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watcher.abort();
}

#[tokio::test]
async fn a_ca_bundle_trusts_each_of_its_cas() {
    let (old, new) = (Pki::new(), Pki::new());
    let bundle = old.dir.path().join("bundle.crt");
    let mut both = std::fs::read(old.ca_cert()).unwrap();
    both.extend(std::fs::read(new.ca_cert()).unwrap());
    std::fs::write(&bundle, both).unwrap();
    let mut files = old.node(1, LOCAL_HOSTS);
    files.ca = bundle;
    let node = NodeTls::load(files, ClientAuth::Required).unwrap();
    for (pki, name) in [(&old, "alice"), (&new, "bob")] {
        let client = pki.client(name);
        let outcome = handshake(&node, old.client_config(Some(&client)), "127.0.0.1").await;
        assert_eq!(
            outcome.server.unwrap().unwrap().common_name.as_deref(),
            Some(name)
        );
    }
}
