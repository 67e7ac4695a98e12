//! Real handshakes between a node and clients, with certificates made by
//! `ordo_tls::certs`: who gets in, who is refused, and who the node is told
//! it is talking to.

mod common;

use std::time::Duration;

use common::{handshake, Pki};
use ordo_tls::rustls::pki_types::ServerName;
use ordo_tls::tokio_rustls::TlsConnector;
use ordo_tls::ClientAuth;
use tokio::io::AsyncWriteExt;

/// Whether `error` is a refusal of a certificate from another CA: every
/// development CA has the same name, so the verifier finds the wrong one and
/// reports a bad signature rather than an unknown issuer.
fn refused_as_unknown(error: &std::io::Error) -> bool {
    let error = error.to_string();
    error.contains("BadSignature") || error.contains("UnknownIssuer")
}

#[tokio::test]
async fn a_node_certificate_is_accepted_for_its_ip_and_dns_names_only() {
    let pki = Pki::new();
    let node = ordo_tls::NodeTls::load(pki.node(1, &["127.0.0.1", "node1.test"]), ClientAuth::None)
        .unwrap();
    for name in ["127.0.0.1", "node1.test"] {
        let outcome = handshake(&node, pki.client_config(None), name).await;
        assert_eq!(
            outcome.client.unwrap(),
            node.certificate_sha256(),
            "dialing {name}"
        );
        assert_eq!(outcome.server.unwrap(), None, "an anonymous client");
    }
    for name in ["127.0.0.2", "node2.test"] {
        let outcome = handshake(&node, pki.client_config(None), name).await;
        let error = outcome.client.unwrap_err().to_string();
        assert!(
            error.contains("not valid for name"),
            "dialing {name}: {error}"
        );
        assert!(outcome.server.is_err());
    }
}

#[tokio::test]
async fn a_client_trusting_another_ca_refuses_the_node() {
    let (pki, other) = (Pki::new(), Pki::new());
    let node = pki.load_node(1, ClientAuth::None);
    let outcome = handshake(&node, other.client_config(None), "127.0.0.1").await;
    assert!(refused_as_unknown(&outcome.client.unwrap_err()));
    assert!(outcome.server.is_err());
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused_whatever_the_mode() {
    let (pki, other) = (Pki::new(), Pki::new());
    let stranger = other.client("mallory");
    for mode in [ClientAuth::None, ClientAuth::Optional, ClientAuth::Required] {
        let node = pki.load_node(1, mode);
        let outcome = handshake(&node, pki.client_config(Some(&stranger)), "127.0.0.1").await;
        assert!(refused_as_unknown(&outcome.server.unwrap_err()), "{mode}");
    }
}

#[tokio::test]
async fn required_refuses_a_client_without_a_certificate() {
    let pki = Pki::new();
    let node = pki.load_node(1, ClientAuth::Required);
    let outcome = handshake(&node, pki.client_config(None), "127.0.0.1").await;
    let error = outcome.server.unwrap_err().to_string();
    assert!(error.contains("peer sent no certificates"), "{error}");
}

#[tokio::test]
async fn none_and_optional_let_a_client_without_a_certificate_in_anonymously() {
    let pki = Pki::new();
    for mode in [ClientAuth::None, ClientAuth::Optional] {
        let node = pki.load_node(1, mode);
        let outcome = handshake(&node, pki.client_config(None), "localhost").await;
        assert!(outcome.client.is_ok(), "{mode}");
        assert_eq!(outcome.server.unwrap(), None, "{mode}");
    }
}

#[tokio::test]
async fn a_client_certificate_names_its_principal() {
    let pki = Pki::new();
    let alice = pki.client("alice");
    for mode in [ClientAuth::None, ClientAuth::Optional, ClientAuth::Required] {
        let node = pki.load_node(1, mode);
        let outcome = handshake(&node, pki.client_config(Some(&alice)), "127.0.0.1").await;
        let identity = outcome.server.unwrap().expect("a verified client");
        assert_eq!(identity.common_name.as_deref(), Some("alice"), "{mode}");
        assert!(!identity.node, "a client certificate is no node's");
    }
}

#[tokio::test]
async fn a_peer_presents_its_node_certificate_and_trusts_only_the_ca() {
    let (pki, other) = (Pki::new(), Pki::new());
    let node1 = pki.load_node(1, ClientAuth::Required);
    let node2 = pki.load_node(2, ClientAuth::Required);
    let outcome = handshake(&node1, node2.peer_client_config(), "127.0.0.1").await;
    assert_eq!(outcome.client.unwrap(), node1.certificate_sha256());
    let peer = outcome.server.unwrap().unwrap();
    assert_eq!(peer.common_name.as_deref(), Some("ordo-node-2"));
    assert!(peer.node, "a node certificate is a node's");

    let stranger = other.load_node(3, ClientAuth::None);
    let outcome = handshake(&stranger, node2.peer_client_config(), "127.0.0.1").await;
    assert!(
        outcome.client.is_err(),
        "a peer certificate from another CA"
    );
}

#[tokio::test]
async fn the_node_and_its_clients_agree_on_http_1_1() {
    let pki = Pki::new();
    let node = pki.load_node(1, ClientAuth::None);
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let connector = TlsConnector::from(node.peer_client_config());
    let (accepted, connected) =
        tokio::join!(node.accept(server_io), connector.connect(name, client_io));
    let (server, _) = accepted.unwrap();
    assert_eq!(server.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(
        connected.unwrap().get_ref().1.alpn_protocol(),
        Some(&b"http/1.1"[..])
    );
}

#[tokio::test]
async fn a_plain_text_client_is_refused_not_waited_for() {
    let pki = Pki::new();
    let node = pki.load_node(1, ClientAuth::None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let client = tokio::spawn(async move {
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        socket.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        // Kept open: the refusal must come from what was sent, not an EOF.
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(socket);
    });
    let (socket, _) = listener.accept().await.unwrap();
    let accepted = tokio::time::timeout(common::HANDSHAKE_TIMEOUT, node.accept(socket)).await;
    let Err(error) = accepted.expect("accept ends") else {
        panic!("a plain-text client was let in");
    };
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
    client.abort();
}
