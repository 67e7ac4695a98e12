//! TLS for clients and peers (DESIGN.md §3b): a cluster whose nodes serve
//! HTTPS only elects, replicates and serves linearizable reads through
//! every node; plain HTTP and garbage on its port are cut off without
//! harm; a client or a node trusted by another CA gets nowhere (and the
//! node cannot disturb the cluster); a client certificate is not a peer's;
//! a certificate rotated on disk is served within seconds while appends
//! go on, losing none.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ordo_api::{AddNodeRequest, Consistency};
use ordo_core::NodeId;
use ordo_tls::rustls::pki_types::pem::PemObject;
use ordo_tls::rustls::pki_types::{CertificateDer, ServerName};
use ordo_tls::rustls::ClientConfig;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::history::{assert_history_matches_log, spawn_writer, History, Outcome, WriterBounds};
use crate::support::{
    assert_all_healthy, eventually, http, https, read_all, record, scrape, wait_for_local_log,
    TestCluster, LEADER_TIMEOUT,
};

/// The hosts the launcher's node certificates are for.
const NODE_HOSTS: [&str; 2] = ["127.0.0.1", "localhost"];

async fn start_tls(env: &[(&str, &str)]) -> TestCluster {
    TestCluster::start_with_config(|config| {
        config.tls = true;
        config
            .env
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    })
    .await
}

/// Every node's (term, leader), each asked directly.
async fn terms_and_leaders(cluster: &TestCluster) -> BTreeMap<NodeId, (u64, Option<NodeId>)> {
    let mut seen = BTreeMap::new();
    for id in cluster.ids() {
        let status = cluster
            .client_for(id)
            .cluster_status()
            .await
            .unwrap_or_else(|e| panic!("node {id}'s status: {e}"));
        seen.insert(id, (status.term, status.leader));
    }
    seen
}

/// A new CA in a temporary dir: someone else's.
fn other_ca() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ordo-other-ca-")
        .tempdir()
        .expect("a temporary dir");
    ordo_tls::certs::create_ca(dir.path()).expect("another CA");
    dir
}

/// The whole error chain, for messages that say why a request failed.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_appends_and_reads_linearizably_through_every_node() {
    let cluster = start_tls(&[]).await;
    let mut acked = BTreeMap::new();
    for id in cluster.ids() {
        let ack = cluster
            .client_for(id)
            .append("tls", vec![record(format!("via node {id}"))])
            .await
            .unwrap_or_else(|e| panic!("an append through node {id}: {e}"));
        acked.insert(ack.offsets[0], json!(format!("via node {id}")));
    }
    let expected: Vec<Value> = acked.into_values().collect();
    for id in cluster.ids() {
        let log = read_all(&cluster.client_for(id), "tls", Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("a linearizable read through node {id}: {e}"));
        let values: Vec<Value> = log.iter().map(|r| r.value.to_json()).collect();
        assert_eq!(
            values, expected,
            "node {id} serves every acknowledged append"
        );

        let status = cluster
            .client_for(id)
            .cluster_status()
            .await
            .unwrap_or_else(|e| panic!("node {id}'s status: {e}"));
        let protections = &status.protections;
        assert!(protections.tls, "node {id}: {protections:?}");
        assert!(protections.peer_certificates, "node {id}: {protections:?}");
        assert_eq!(protections.client_auth.as_deref(), Some("none"));
        assert!(!protections.insecure, "node {id}: {protections:?}");

        // Raw HTTPS with the cluster's CA works too, at the https URL.
        let url = cluster.base_url(id);
        assert!(url.starts_with("https://"), "{url}");
        let raw = cluster
            .http()
            .get(format!("{url}/v1/cluster"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("raw HTTPS to node {id}: {e}"));
        assert_eq!(raw.status(), 200);
    }
    // Raft went over TLS streams: each follower took one from the leader.
    for id in cluster.followers() {
        let page = scrape(&cluster, id).await;
        let streams = page
            .get("ordo_http_requests_total{route=\"/raft/stream\",status=\"101\"}")
            .unwrap_or(0.0);
        assert!(streams >= 1.0, "follower {id}:\n{}", page.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_tls_port_fails_cleanly_and_the_node_stays_up() {
    // A short header-read timeout bounds the stalled handshake below.
    const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
    let mut cluster = start_tls(&[("ORDO_HEADER_READ_TIMEOUT_MS", "2000")]).await;
    let plain = http();
    // A TLS record header announcing a 512-byte ClientHello that never
    // comes, on every node at once.
    let mut stalled = Vec::new();
    for id in cluster.ids() {
        let addr = cluster.nodes.addr(id).expect("an address").to_owned();
        let mut tcp = TcpStream::connect(&addr).await.expect("a TCP connection");
        tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
            .await
            .expect("a partial TLS record");
        let opened = Instant::now();
        // How long until the node closes it (`None`: not within 10 s).
        let held = tokio::spawn(async move {
            let mut sink = Vec::new();
            tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut sink))
                .await
                .ok()
                .map(|_| opened.elapsed())
        });
        stalled.push((id, held));
    }
    for id in cluster.ids() {
        let addr = cluster.nodes.addr(id).expect("an address").to_owned();
        for (method, path) in [
            (reqwest::Method::GET, "/v1/cluster"),
            (reqwest::Method::POST, "/v1/topics/plain/records"),
            (reqwest::Method::GET, "/healthz"),
        ] {
            let sent = plain
                .request(method.clone(), format!("http://{addr}{path}"))
                .json(&json!({"records": [{"value": "over plain HTTP"}]}))
                .send()
                .await;
            match sent {
                Err(_) => {}
                Ok(response) => assert!(
                    response.status().is_client_error(),
                    "plain {method} {path} on node {id} was served: {}",
                    response.status()
                ),
            }
        }
        // Bytes that are neither TLS nor HTTP: the connection is closed.
        let mut tcp = TcpStream::connect(&addr).await.expect("a TCP connection");
        let _ = tcp
            .write_all(b"\xff\x00\x13garbage that is no TLS record\r\n\r\n\x00\x00")
            .await;
        let mut sink = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut sink))
            .await
            .is_ok();
        assert!(closed, "node {id} kept a garbage connection open");
        // HTTPS is served meanwhile.
        cluster
            .client_for(id)
            .cluster_status()
            .await
            .unwrap_or_else(|e| panic!("node {id} over HTTPS after the garbage: {e}"));
    }
    // The stalled handshakes are cut off at the timeout.
    for (id, held) in stalled {
        let held = held
            .await
            .expect("a stalled connection's task")
            .unwrap_or_else(|| panic!("node {id} kept a stalled handshake open"));
        assert!(
            held < HANDSHAKE_TIMEOUT + Duration::from_secs(3),
            "node {id} held a stalled handshake for {held:?}"
        );
    }
    let plain_topic = cluster
        .client()
        .topic("plain", Consistency::Linearizable)
        .await
        .expect("a topic lookup");
    assert_eq!(plain_topic, None, "nothing came in over plain HTTP");
    cluster
        .client()
        .append("after-garbage", vec![record("still appending")])
        .await
        .expect("an append after the garbage");
    assert_all_healthy(&mut cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trusting_another_ca_is_refused() {
    let cluster = start_tls(&[]).await;
    let other = other_ca();
    let other_ca_cert = other.path().join("ca.crt");
    let trusting_other = ordo_tls::client_config(Some(&other_ca_cert), None)
        .expect("a client config trusting another CA");
    let trusting_the_web = ordo_tls::client_config(None, None).expect("a web-roots config");
    for (what, tls) in [
        ("another CA", trusting_other),
        ("the web's roots", trusting_the_web),
    ] {
        let client = https(tls);
        for id in cluster.ids() {
            let url = format!("{}/v1/cluster", cluster.base_url(id));
            match client.get(&url).send().await {
                Ok(response) => panic!(
                    "a client trusting {what} got an answer from node {id}: {}",
                    response.status()
                ),
                Err(e) => {
                    let chain = error_chain(&e);
                    assert!(
                        chain.to_lowercase().contains("certificate"),
                        "node {id}, a client trusting {what}: {chain}"
                    );
                }
            }
        }
    }
    // The CLI says why.
    let base = cluster.base_url(cluster.leader);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args([
            "cluster",
            "status",
            "--timeout-ms",
            "3000",
            "--addr",
            &base,
            "--ca",
        ])
        .arg(&other_ca_cert)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("ordo cluster status in time")
        .expect("ordo ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the CLI trusting another CA got through"
    );
    assert!(
        stderr.to_lowercase().contains("certificate"),
        "the CLI's error says it is the certificate: {stderr}"
    );
    // The right CA, for contrast.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args([
            "cluster",
            "status",
            "--timeout-ms",
            "3000",
            "--addr",
            &base,
            "--ca",
        ])
        .arg(cluster.certs_dir().join("ca.crt"))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("ordo cluster status in time")
        .expect("ordo ran");
    assert!(
        output.status.success(),
        "the CLI with the cluster's CA: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An `ordo serve` outside the launcher, with certificates of another CA;
/// SIGKILLed and reaped when dropped, however the test ends.
struct StrangerNode {
    child: Child,
    addr: String,
    ca_cert: PathBuf,
    log_path: PathBuf,
    _dir: TempDir,
}

impl StrangerNode {
    /// Node `id` on a free port with a CA of its own, listing `peers` (and
    /// itself) as its peers.
    fn start(id: NodeId, peers: &BTreeMap<NodeId, String>) -> StrangerNode {
        let dir = other_ca();
        let hosts: Vec<String> = NODE_HOSTS.iter().map(|h| h.to_string()).collect();
        let node = ordo_tls::certs::create_node(dir.path(), dir.path(), id, &hosts, false)
            .expect("a node certificate from the other CA");
        let port = ordo_launcher::ports::pick_free_ports(1).expect("a free port")[0];
        let addr = format!("127.0.0.1:{port}");
        let mut all = peers.clone();
        all.insert(id, addr.clone());
        let peers_arg = all
            .iter()
            .map(|(id, addr)| format!("{id}={addr}"))
            .collect::<Vec<_>>()
            .join(",");
        let log_path = dir.path().join(format!("n{id}.log"));
        let log = std::fs::File::create(&log_path).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ordo"))
            .args(["serve", "--node-id", &id.to_string(), "--listen", &addr])
            .arg("--data-dir")
            .arg(dir.path().join(format!("n{id}")))
            .args(["--peers", &peers_arg, "--worker-threads", "1"])
            .env("ORDO_TLS_CERT", &node.cert)
            .env("ORDO_TLS_KEY", &node.key)
            .env("ORDO_TLS_CA", dir.path().join("ca.crt"))
            .env("NO_COLOR", "1")
            .env_remove("ORDO_API_TOKEN")
            .env_remove("ORDO_CLUSTER_SECRET")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log file handle"))
            .stderr(log)
            .spawn()
            .expect("spawning the stranger node");
        StrangerNode {
            child,
            addr,
            ca_cert: dir.path().join("ca.crt"),
            log_path,
            _dir: dir,
        }
    }

    /// A raw client that trusts the stranger's CA.
    fn http(&self) -> reqwest::Client {
        https(ordo_tls::client_config(Some(&self.ca_cert), None).expect("a client config"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for StrangerNode {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("===== the stranger node's log =====\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_certificate_from_another_ca_cannot_join_or_disturb_the_cluster() {
    const STRANGER: NodeId = 4;
    const WATCH: Duration = Duration::from_secs(10);
    let cluster = start_tls(&[]).await;
    let stranger = StrangerNode::start(STRANGER, &cluster.nodes.members());
    let stranger_http = stranger.http();
    let stranger_url = format!("https://{}", stranger.addr);
    eventually("the stranger serves HTTPS", LEADER_TIMEOUT, || async {
        match stranger_http
            .get(format!("{stranger_url}/healthz"))
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => Ok(()),
            Ok(r) => Err(r.status().to_string()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    // The stranger believes it is one of four voters: it campaigns, asking
    // the cluster's nodes for their votes at ever higher terms.
    let mut members: BTreeMap<String, String> = cluster
        .nodes
        .members()
        .into_iter()
        .map(|(id, addr)| (id.to_string(), addr))
        .collect();
    members.insert(STRANGER.to_string(), stranger.addr.clone());
    let init = stranger_http
        .post(format!("{stranger_url}/v1/cluster/init"))
        .json(&json!({ "members": members }))
        .send()
        .await
        .expect("an init on the stranger");
    eprintln!("the stranger's init: {}", init.status());
    let before = terms_and_leaders(&cluster).await;

    // Nor can the cluster take it in: the leader cannot reach it.
    let add = AddNodeRequest {
        id: STRANGER,
        addr: stranger.addr.clone(),
        force: false,
        catch_up_timeout_ms: Some(3_000),
    };
    let added = tokio::time::timeout(Duration::from_secs(30), cluster.client().add_node(&add))
        .await
        .expect("the add answers in time");
    eprintln!("adding the stranger: {added:?}");
    if let Ok(membership) = &added {
        assert!(
            !membership
                .members
                .iter()
                .any(|m| m.id == STRANGER && m.voter),
            "the stranger became a voter: {membership:?}"
        );
    }

    let started = Instant::now();
    let mut appended = 0;
    while started.elapsed() < WATCH {
        cluster
            .client()
            .append("undisturbed", vec![record(appended)])
            .await
            .expect("an append while the stranger campaigns");
        appended += 1;
        assert_eq!(
            terms_and_leaders(&cluster).await,
            before,
            "every node keeps its term and leader"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let log = read_all(&cluster.client(), "undisturbed", Consistency::Linearizable)
        .await
        .expect("the log");
    assert_eq!(log.len(), appended as usize);
    let status = cluster.client().cluster_status().await.expect("a status");
    assert!(
        !status.members.iter().any(|m| m.id == STRANGER && m.voter),
        "the stranger is no voter: {:?}",
        status.members
    );
    let stranger_status: Value = stranger_http
        .get(format!("{stranger_url}/v1/cluster"))
        .send()
        .await
        .expect("the stranger's status")
        .json()
        .await
        .expect("a JSON status");
    eprintln!(
        "the stranger ends at term {} (the cluster at {:?})",
        stranger_status["term"], before
    );
    assert_ne!(
        stranger_status["role"], "leader",
        "the stranger leads nobody"
    );
    // It did try: its Raft messages found no peer that would take them.
    eventually(
        "the stranger reports the cluster's nodes unreachable",
        Duration::from_secs(15),
        || async {
            let log = stranger.log();
            let unreachable = cluster
                .ids()
                .into_iter()
                .filter(|id| log.contains(&format!("peer {id} at ")))
                .count();
            if unreachable == cluster.ids().len() {
                Ok(())
            } else {
                Err(format!("{unreachable} peers reported"))
            }
        },
    )
    .await;
    // A learner left by the add goes again.
    if status.members.iter().any(|m| m.id == STRANGER) {
        cluster
            .client()
            .remove_node(STRANGER, false)
            .await
            .expect("removing the stranger's learner");
    }
}

/// Waits until `count` appends sent after `since` are acknowledged.
async fn wait_for_acks(history: &History, since: Instant, count: usize, what: &str) {
    eventually(what, Duration::from_secs(15), || async {
        let acked = history.acks_sent_after(since).len();
        if acked >= count {
            Ok(())
        } else {
            Err(format!("{acked} acknowledged, waiting for {count}"))
        }
    })
    .await
}

/// The leaf certificate node `addr` serves to a new TLS connection.
async fn served_certificate(
    tls: &ClientConfig,
    addr: &str,
) -> Result<CertificateDer<'static>, String> {
    let connector = ordo_tls::tokio_rustls::TlsConnector::from(Arc::new(tls.clone()));
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let name = ServerName::try_from(NODE_HOSTS[0]).expect("an IP address is a server name");
    let stream = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .map_err(|_| format!("no handshake with {addr} within 5 s"))?
        .map_err(|e| format!("a handshake with {addr}: {e}"))?;
    stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| leaf.clone().into_owned())
        .ok_or_else(|| format!("{addr} showed no certificate"))
}

fn certificate_on_disk(path: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_is_served_within_seconds_and_no_acknowledged_append_is_lost() {
    const ROTATED: NodeId = 2;
    const ROTATION_DEADLINE: Duration = Duration::from_secs(5);
    const BOUNDS: WriterBounds = WriterBounds {
        max_appends: 5_000,
        deadline: Duration::from_secs(40),
    };
    let cluster = start_tls(&[]).await;
    let certs = cluster.certs_dir();
    let cert_path = certs.join(format!("node-{ROTATED}.crt"));
    let addr = cluster.nodes.addr(ROTATED).expect("an address").to_owned();
    let tls = cluster.tls_client_config().expect("a TLS cluster");
    let old = certificate_on_disk(&cert_path);
    let served = served_certificate(&tls, &addr).await.expect("a handshake");
    assert_eq!(served, old, "node {ROTATED} serves its certificate");

    // Appends through the node being rotated (which forwards them to the
    // leader over its peer connections).
    let history = History::default();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let producer = spawn_writer(
        0,
        "rotation",
        cluster.client_for(ROTATED),
        history.clone(),
        stop.clone(),
        BOUNDS,
    );
    wait_for_acks(&history, started, 20, "appends").await;

    let hosts: Vec<String> = NODE_HOSTS.iter().map(|h| h.to_string()).collect();
    ordo_tls::certs::create_node(&certs, &certs, ROTATED, &hosts, true)
        .expect("a new certificate for the node");
    let rotated_at = Instant::now();
    let new = certificate_on_disk(&cert_path);
    assert_ne!(new, old, "the rotation wrote a new certificate");
    eventually(
        &format!("node {ROTATED} serves its new certificate"),
        ROTATION_DEADLINE,
        || async {
            match served_certificate(&tls, &addr).await {
                Ok(served) if served == new => Ok(()),
                Ok(_) => Err("the old certificate".to_string()),
                Err(e) => Err(e),
            }
        },
    )
    .await;
    assert!(
        cluster.log(ROTATED).contains("TLS certificate reloaded"),
        "node {ROTATED} logs the reload"
    );
    // A client that never connected before gets through too.
    let fresh = cluster.client_as(None, None);
    fresh
        .append("rotation-fresh", vec![record("after the rotation")])
        .await
        .expect("an append through a fresh client after the rotation");
    wait_for_acks(&history, rotated_at, 20, "appends after the rotation").await;
    stop.store(true, Ordering::Relaxed);
    tokio::time::timeout(Duration::from_secs(30), producer)
        .await
        .expect("the producer stops within one append's retry budget")
        .expect("the producer task failed");

    let attempts = history.attempts();
    let acked: Vec<_> = attempts
        .iter()
        .filter_map(|a| match a.outcome {
            Outcome::Acked { offset, .. } => Some(offset),
            _ => None,
        })
        .collect();
    assert!(
        acked.windows(2).all(|pair| pair[0] < pair[1]),
        "one writer's acknowledged appends are in order: {acked:?}"
    );
    let log = read_all(&cluster.client(), "rotation", Consistency::Linearizable)
        .await
        .expect("the log");
    eprintln!(
        "{} appends sent, {} acknowledged, {} records",
        attempts.len(),
        acked.len(),
        log.len()
    );
    assert_history_matches_log(&attempts, &log);
    for id in cluster.ids() {
        wait_for_local_log(&cluster, id, "rotation", &log).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_not_a_peer_certificate() {
    let cluster = start_tls(&[]).await;
    let certs = cluster.certs_dir();
    let ca = certs.join("ca.crt");
    let client_dir = tempfile::tempdir().expect("a dir for a client certificate");
    let billing = ordo_tls::certs::create_client(&certs, client_dir.path(), "billing", false)
        .expect("a client certificate from the cluster's CA");
    let as_billing = https(
        ordo_tls::client_config(Some(&ca), Some((&billing.cert, &billing.key)))
            .expect("a client config with the client certificate"),
    );
    let as_node = https(
        ordo_tls::client_config(
            Some(&ca),
            Some((&certs.join("node-1.crt"), &certs.join("node-1.key"))),
        )
        .expect("a client config with node 1's certificate"),
    );
    let before = terms_and_leaders(&cluster).await;
    let error_code = |body: &str| -> String {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    for id in cluster.ids() {
        let url = format!("{}/raft/vote", cluster.base_url(id));
        // An empty body: past the peer check it is an invalid RPC, which
        // cannot disturb anything.
        let node = as_node.post(&url).send().await.expect("a POST");
        let status = node.status();
        let body = node.text().await.unwrap_or_default();
        assert_eq!(
            (status.as_u16(), error_code(&body).as_str()),
            (400, "invalid_rpc"),
            "node {id} takes Raft messages from a node's certificate: {body}"
        );
        let nobody = cluster.http().post(&url).send().await.expect("a POST");
        assert_eq!(nobody.status(), 401, "node {id} without a certificate");

        let client = as_billing.post(&url).send().await.expect("a POST");
        let status = client.status();
        let body = client.text().await.unwrap_or_default();
        // PRODUCT BUG (if this fails): `auth::peer_refusal` lets any
        // certificate the CA signed through to /raft/*, client certificates
        // (`ordo certs create-client`, extended key usage clientAuth only,
        // CN of a principal) included, so any principal given a client
        // certificate can send votes and entries as a peer, whatever its
        // rights (unless a cluster secret is also set).
        assert_eq!(
            status.as_u16(),
            401,
            "node {id} took a Raft message from a client certificate: {body}"
        );
    }
    // From a would-be leader 9 at a far higher term: if either reached
    // openraft, the node would move to term 1000 (and follow node 9).
    let append = json!({
        "vote": {"leader_id": {"term": 1000, "node_id": 9}, "committed": true},
        "prev_log_id": null, "entries": [], "leader_commit": null,
    });
    let vote = json!({
        "vote": {"leader_id": {"term": 1000, "node_id": 9}, "committed": false},
        "last_log_id": null, "leadership_transfer": false,
    });
    for id in cluster.ids() {
        for (path, body) in [("/raft/append", &append), ("/raft/vote", &vote)] {
            let url = format!("{}{path}", cluster.base_url(id));
            let response = as_billing
                .post(&url)
                .json(body)
                .send()
                .await
                .expect("a POST");
            assert_eq!(response.status(), 401, "{path} with a client certificate");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        terms_and_leaders(&cluster).await,
        before,
        "every node keeps its term and its leader"
    );
}
