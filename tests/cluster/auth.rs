//! The cluster secret and the API token (`docs/operations.md`, "Security"): nodes that
//! share a secret form, elect and replicate; a Raft message without it is
//! refused before it can change anything; with an API token, `/v1/*` needs
//! it while the health checks stay open, and the CLI sends it.

use std::time::Duration;

use ordo_api::secret::{Secret, CLUSTER_SECRET_HEADER};
use ordo_api::Consistency;
use ordo_core::NodeId;
use ordo_node::raft_stream::{PROTOCOL, STREAM_PATH};
use reqwest::header::{AUTHORIZATION, CONNECTION, UPGRADE, WWW_AUTHENTICATE};
use serde_json::{json, Value};

use crate::support::{
    eventually, http, read_all, record, scrape, wait_for_local_log, TestCluster, LEADER_TIMEOUT,
};

const CLUSTER_SECRET: &str = "test-cluster-secret-5d41402abc4b2a76";
const API_TOKEN: &str = "test-api-token-7d793037a0760186";

async fn start_with_secrets(cluster_secret: bool, api_token: bool) -> TestCluster {
    TestCluster::start_with_config(|config| {
        config.cluster_secret = cluster_secret.then(|| Secret::new(CLUSTER_SECRET).unwrap());
        config.api_token = api_token.then(|| Secret::new(API_TOKEN).unwrap());
    })
    .await
}

/// Every node's (term, leader), each asked directly.
async fn terms_and_leaders(cluster: &TestCluster) -> Vec<(NodeId, u64, Option<NodeId>)> {
    let mut seen = Vec::new();
    for id in cluster.ids() {
        let status = cluster
            .client_for(id)
            .cluster_status()
            .await
            .unwrap_or_else(|e| panic!("node {id}'s status: {e}"));
        seen.push((id, status.term, status.leader));
    }
    seen
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("a JSON error body");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_sharing_a_secret_forms_elects_and_replicates() {
    // `start` returns once all three nodes agree on a leader: they voted
    // and heartbeat with the secret.
    let mut cluster = start_with_secrets(true, false).await;
    // Through a follower: the append is forwarded to the leader over /raft/*.
    let follower = cluster.followers()[0];
    cluster
        .client_for(follower)
        .append("secret", vec![record("before failover")])
        .await
        .expect("an append through a follower");

    // Raft's messages went over streams opened with the secret, not as
    // requests of their own.
    for id in cluster.ids() {
        let page = scrape(&cluster, id).await;
        let requests = |route: &str, status: &str| {
            let series =
                format!("ordo_http_requests_total{{route=\"{route}\",status=\"{status}\"}}");
            page.get(&series).unwrap_or(0.0)
        };
        if id != cluster.leader {
            assert!(
                requests("/raft/stream", "101") >= 1.0,
                "follower {id} took a stream from the leader:\n{}",
                page.text
            );
        }
        assert_eq!(requests("/raft/append", "200"), 0.0, "node {id}");
    }

    let old_leader = cluster.leader;
    cluster.kill(old_leader);
    let new_leader = cluster.wait_for_leader().await;
    assert_ne!(new_leader, old_leader, "the survivors elected a new leader");
    cluster
        .client()
        .append("secret", vec![record("after failover")])
        .await
        .expect("an append to the new leader");

    let log = read_all(&cluster.client(), "secret", Consistency::Linearizable)
        .await
        .expect("the log");
    let values: Vec<Value> = log.iter().map(|r| r.value.to_json()).collect();
    assert_eq!(values, [json!("before failover"), json!("after failover")]);
    cluster
        .nodes
        .start_node(old_leader)
        .expect("restarting the old leader");
    // The restarted node catches up from the others, with the secret.
    wait_for_local_log(&cluster, old_leader, "secret", &log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_messages_without_the_right_secret_are_refused_and_change_nothing() {
    let cluster = start_with_secrets(true, false).await;
    let before = terms_and_leaders(&cluster).await;
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
    let http = http();
    for id in cluster.ids() {
        let base = cluster.base_url(id);
        for (path, body) in [("/raft/append", &append), ("/raft/vote", &vote)] {
            let url = format!("{base}{path}");
            let body = serde_json::to_vec(body).unwrap();
            let attempts = [
                ("no secret", http.post(&url)),
                (
                    "a wrong secret",
                    http.post(&url)
                        .header(CLUSTER_SECRET_HEADER, "not-the-secret"),
                ),
                (
                    "a prefix of the secret",
                    http.post(&url)
                        .header(CLUSTER_SECRET_HEADER, &CLUSTER_SECRET[..10]),
                ),
                (
                    "the secret in the wrong header",
                    http.post(&url)
                        .header(AUTHORIZATION, format!("Bearer {CLUSTER_SECRET}")),
                ),
            ];
            for (what, request) in attempts {
                let response = request.body(body.clone()).send().await.expect("a POST");
                assert_eq!(response.status(), 401, "{path} on node {id} with {what}");
                assert_eq!(error_code(response).await, "unauthorized");
            }
        }
        // Nor does a Raft stream open without it.
        let stream = format!("{base}{STREAM_PATH}");
        for (what, secret) in [
            ("no secret", None),
            ("a wrong secret", Some("not-the-secret")),
        ] {
            let mut request = http
                .get(&stream)
                .header(CONNECTION, "upgrade")
                .header(UPGRADE, PROTOCOL);
            if let Some(secret) = secret {
                request = request.header(CLUSTER_SECRET_HEADER, secret);
            }
            let response = request.send().await.expect("a GET");
            assert_eq!(response.status(), 401, "a stream on node {id} with {what}");
            assert_eq!(error_code(response).await, "unauthorized");
        }
        // The right secret gets past the check to the RPC decoder (an
        // empty body, so a real message cannot disturb the cluster).
        let response = http
            .post(format!("{base}/raft/vote"))
            .header(CLUSTER_SECRET_HEADER, CLUSTER_SECRET)
            .send()
            .await
            .expect("a POST");
        assert_eq!(response.status(), 400, "node {id} with the secret");
        assert_eq!(error_code(response).await, "invalid_rpc");
    }
    // Longer than an election timeout, so a disturbed node would show it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        terms_and_leaders(&cluster).await,
        before,
        "every node keeps its term and its leader"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_token_guards_v1_and_leaves_the_health_checks_open() {
    let cluster = start_with_secrets(false, true).await;
    let http = http();
    let base = cluster.base_url(cluster.followers()[0]);

    let append = || {
        http.post(format!("{base}/v1/topics/guarded/records"))
            .json(&json!({"records": [{"value": "x"}]}))
    };
    let missing = append().send().await.expect("an append");
    assert_eq!(missing.status(), 401, "an append without a token");
    let challenge = missing.headers()[WWW_AUTHENTICATE].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert_eq!(error_code(missing).await, "unauthorized");
    let wrong = append()
        .bearer_auth("not-the-token")
        .send()
        .await
        .expect("an append");
    assert_eq!(wrong.status(), 401, "an append with a wrong token");
    let challenge = wrong.headers()[WWW_AUTHENTICATE].to_str().unwrap();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let basic = append()
        .header(AUTHORIZATION, format!("Basic {API_TOKEN}"))
        .send()
        .await
        .expect("an append");
    assert_eq!(basic.status(), 401, "the token under another scheme");
    let listed = http
        .get(format!("{base}/v1/topics"))
        .send()
        .await
        .expect("a topic list");
    assert_eq!(listed.status(), 401, "a read without a token");

    // The refused appends appended nothing; the client sends the token.
    let client = cluster.client();
    let topic = client
        .topic("guarded", Consistency::Linearizable)
        .await
        .expect("a topic lookup with the token");
    assert_eq!(topic, None, "nothing was appended without the token");
    let with_token = append()
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .expect("an append");
    assert_eq!(with_token.status(), 200, "an append with the token");
    let log = read_all(&client, "guarded", Consistency::Linearizable)
        .await
        .expect("the log");
    assert_eq!(log.len(), 1);

    for path in ["/healthz", "/readyz", "/metrics"] {
        let url = format!("{base}{path}");
        eventually(
            &format!("{path} answers 200 without a token"),
            LEADER_TIMEOUT,
            || async {
                match http.get(&url).send().await {
                    Ok(r) if r.status() == 200 => Ok(()),
                    Ok(r) => Err(r.status().to_string()),
                    Err(e) => Err(e.to_string()),
                }
            },
        )
        .await;
    }
}

/// Runs `ordo ARGS` against `cluster` with `token` (if any) in
/// `ORDO_API_TOKEN`; answers (success, stdout, stderr).
async fn ordo(cluster: &TestCluster, args: &[&str], token: Option<&str>) -> (bool, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ordo"));
    command
        .args(args)
        .env("ORDO_ADDR", cluster.nodes.addrs().join(","))
        .env_remove("ORDO_API_TOKEN")
        .env_remove("ORDO_API_TOKEN_FILE")
        .kill_on_drop(true);
    if let Some(token) = token {
        command.env("ORDO_API_TOKEN", token);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("ordo in time")
        .expect("ordo ran");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sends_the_api_token_from_the_environment_or_a_file() {
    let cluster = start_with_secrets(true, true).await;

    let (ok, _, stderr) = ordo(&cluster, &["append", "cli", "refused"], None).await;
    assert!(!ok, "an append without the token fails");
    assert!(stderr.contains("401"), "{stderr}");

    let (ok, _, stderr) = ordo(&cluster, &["append", "cli", "one"], Some(API_TOKEN)).await;
    assert!(ok, "an append with ORDO_API_TOKEN: {stderr}");
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{API_TOKEN}\n")).unwrap();
    let token_file = token_file.to_str().unwrap();
    let (ok, _, stderr) = ordo(
        &cluster,
        &["append", "cli", "two", "--api-token-file", token_file],
        None,
    )
    .await;
    assert!(ok, "an append with --api-token-file: {stderr}");

    let (ok, stdout, stderr) =
        ordo(&cluster, &["read", "cli", "--from", "0"], Some(API_TOKEN)).await;
    assert!(ok, "a read with the token: {stderr}");
    assert_eq!(stdout.lines().collect::<Vec<_>>(), ["one", "two"]);
    for args in [&["topics"][..], &["cluster", "status"][..]] {
        let (ok, _, stderr) = ordo(&cluster, args, Some(API_TOKEN)).await;
        assert!(ok, "ordo {args:?} with the token: {stderr}");
    }
    let (ok, _, stderr) = ordo(
        &cluster,
        &[
            "bench",
            "--topic",
            "cli-bench",
            "-c",
            "1",
            "--seconds",
            "1",
            "--warmup-secs",
            "0",
        ],
        Some(API_TOKEN),
    )
    .await;
    assert!(ok, "ordo bench with the token: {stderr}");
}
