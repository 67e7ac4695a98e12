//! Loading and writing files: what is refused, with which message, and
//! what the development certificates look like on disk.

mod common;

use std::path::Path;

use common::{shown, Pki};
use ordo_tls::certs;
use ordo_tls::{ClientAuth, NodeTls, TlsError};

fn load_error(files: ordo_tls::TlsFiles) -> String {
    NodeTls::load(files, ClientAuth::None)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_missing_or_empty_file_is_named() {
    let pki = Pki::new();
    let mut files = pki.node(1, &["127.0.0.1"]);
    let real_cert = files.cert.clone();
    files.cert = pki.dir.path().join("absent.crt");
    assert!(load_error(files.clone()).starts_with(&format!("cannot read {}", shown(&files.cert))));

    std::fs::write(&files.cert, "").unwrap();
    assert_eq!(
        load_error(files.clone()),
        format!("no certificate in {}", shown(&files.cert))
    );

    files.cert = real_cert;
    files.key = files.cert.clone();
    assert!(load_error(files.clone()).starts_with(&format!(
        "no private key (PKCS#8, PKCS#1 or SEC1 PEM) in {}",
        shown(&files.key)
    )));

    files.ca = pki.dir.path().join("empty-ca.crt");
    std::fs::write(&files.ca, "").unwrap();
    files.key = pki.certs_dir().join("node-1.key");
    assert_eq!(
        load_error(files.clone()),
        format!("no certificate in {}", shown(&files.ca))
    );
}

#[test]
fn an_expired_certificate_is_refused() {
    let pki = Pki::new();
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(pki.ca_dir().join("ca.key")).unwrap())
            .unwrap();
    let ca =
        rcgen::Issuer::from_ca_cert_pem(&std::fs::read_to_string(pki.ca_cert()).unwrap(), ca_key)
            .unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let dir = pki.dir.path();
    std::fs::write(dir.join("old.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("old.key"), key.serialize_pem()).unwrap();
    let files = ordo_tls::TlsFiles {
        cert: dir.join("old.crt"),
        key: dir.join("old.key"),
        ca: pki.ca_cert(),
    };
    assert_eq!(
        load_error(files.clone()),
        format!(
            "the certificate in {} expired on 2021-01-01T00:00:00Z",
            shown(&files.cert)
        )
    );
}

#[test]
fn a_client_certificate_cannot_serve_a_node() {
    let pki = Pki::new();
    let alice = pki.client("alice");
    let files = ordo_tls::TlsFiles {
        cert: alice.cert.clone(),
        key: alice.key,
        ca: pki.ca_cert(),
    };
    let error = load_error(files);
    assert!(
        error.starts_with(&format!(
            "the certificate in {} is not for TLS servers",
            shown(&alice.cert)
        )),
        "{error}"
    );
}

#[test]
fn create_ca_never_overwrites() {
    let pki = Pki::new();
    let before = std::fs::read(pki.ca_cert()).unwrap();
    let error = certs::create_ca(&pki.ca_dir()).unwrap_err();
    assert!(matches!(error, TlsError::WouldOverwrite { .. }));
    let message = error.to_string();
    assert!(
        message.contains(&shown(&pki.ca_cert())) && message.contains("ca.key"),
        "{message}"
    );
    assert_eq!(std::fs::read(pki.ca_cert()).unwrap(), before);
}

#[test]
fn node_and_client_certificates_are_replaced_only_when_asked() {
    let pki = Pki::new();
    let hosts = vec!["127.0.0.1".to_owned()];
    let (ca, dir) = (pki.ca_dir(), pki.certs_dir());
    let first = certs::create_node(&ca, &dir, 7, &hosts, false).unwrap();
    assert_eq!(first.cert, dir.join("node-7.crt"));
    assert_eq!(first.key, dir.join("node-7.key"));
    let error = certs::create_node(&ca, &dir, 7, &hosts, false).unwrap_err();
    assert!(
        matches!(error, TlsError::WouldOverwrite { ref paths } if paths.len() == 2),
        "{error}"
    );
    let before = std::fs::read(&first.cert).unwrap();
    certs::create_node(&ca, &dir, 7, &hosts, true).unwrap();
    assert_ne!(std::fs::read(&first.cert).unwrap(), before);

    certs::create_client(&ca, &dir, "alice", false).unwrap();
    assert!(certs::create_client(&ca, &dir, "alice", false).is_err());
    certs::create_client(&ca, &dir, "alice", true).unwrap();
    let error = certs::create_client(&ca, &ca, "ca", true).unwrap_err();
    assert!(
        matches!(error, TlsError::WouldOverwrite { .. }),
        "a client must not replace the CA: {error}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 4, "no temporary files left: {leftovers:?}");
}

#[cfg(unix)]
#[test]
fn keys_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let pki = Pki::new();
    let node = pki.node(1, &["node1.test"]);
    let alice = pki.client("alice");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    for key in [pki.ca_dir().join("ca.key"), node.key, alice.key] {
        assert_eq!(mode(&key), 0o600, "{}", key.display());
    }
    assert_eq!(
        mode(&node.cert) & 0o600,
        0o600,
        "certificates stay readable"
    );
}

#[test]
fn bad_names_and_hosts_are_refused() {
    let pki = Pki::new();
    let (ca, dir) = (pki.ca_dir(), pki.certs_dir());
    for name in ["", "a/b", "../x", "x y", "é", &"a".repeat(65)] {
        let error = certs::create_client(&ca, &dir, name, false).unwrap_err();
        assert!(
            matches!(error, TlsError::InvalidCommonName(_)),
            "{name:?}: {error}"
        );
    }
    let error = certs::create_node(&ca, &dir, 1, &[], false).unwrap_err();
    assert!(matches!(error, TlsError::NoHosts));
    let error = certs::create_node(&ca, &dir, 1, &["bad host".to_owned()], false).unwrap_err();
    assert!(matches!(error, TlsError::InvalidHost(_)), "{error}");
    let ipv6 = certs::create_node(&ca, &dir, 2, &["[::1]".to_owned(), "::2".to_owned()], false);
    assert!(ipv6.is_ok(), "{ipv6:?}");
}

#[test]
fn client_config_pairs_the_key_with_its_certificate() {
    let pki = Pki::new();
    let alice = pki.client("alice");
    let bob = pki.client("bob");
    let error =
        ordo_tls::client_config(Some(&pki.ca_cert()), Some((&alice.cert, &bob.key))).unwrap_err();
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
    assert!(
        ordo_tls::client_config(None, Some((&alice.cert, &alice.key))).is_ok(),
        "web roots"
    );
}
