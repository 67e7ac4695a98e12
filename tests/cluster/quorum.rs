//! A node that cannot reach a quorum says so (issue 12): `/readyz` answers
//! 503 with why, `GET /v1/cluster` shows `quorum: false` and `ready: false`,
//! and its 503s say, in words, how many voters it reaches against how many
//! a quorum needs. Once a majority is back, all of that recovers.
//!
//! Raw `reqwest` and untyped JSON, as a load balancer or an operator with
//! `curl` sees them.

use std::time::Duration;

use ordo_core::NodeId;
use serde_json::{json, Value};

use crate::support::{eventually, http, TestCluster, LEADER_TIMEOUT};

/// How soon a node cut off from its quorum must say so: the quorum
/// timeout is 400 ms; the rest is slack for a loaded machine.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(5);

/// Status and body of node `id`'s `/readyz`.
async fn readyz(cluster: &TestCluster, id: NodeId) -> Result<(u16, String), String> {
    let response = http()
        .get(format!("{}/readyz", cluster.base_url(id)))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    Ok((status, response.text().await.map_err(|e| e.to_string())?))
}

/// Node `id`'s `GET /v1/cluster`, untyped.
async fn cluster_status(cluster: &TestCluster, id: NodeId) -> Value {
    http()
        .get(format!("{}/v1/cluster", cluster.base_url(id)))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("node {id}'s /v1/cluster: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("node {id}'s /v1/cluster is not JSON: {e}"))
}

/// Waits until node `id` is not ready, and answers its `/readyz` message.
async fn wait_not_ready(cluster: &TestCluster, id: NodeId) -> String {
    eventually(
        &format!("node {id}'s /readyz answers 503"),
        NOTICE_TIMEOUT,
        || async {
            match readyz(cluster, id).await? {
                (503, body) => Ok(body),
                (status, body) => Err(format!("{status}: {body}")),
            }
        },
    )
    .await;
    let (_, body) = readyz(cluster, id).await.expect("a second look at /readyz");
    let body: Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("node {id}'s 503 /readyz is not a JSON error ({e}): {body}"));
    assert_eq!(body["error"]["code"], "not_ready", "{body}");
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until node `id` answers `/readyz` with 200 and says it has a quorum.
async fn wait_ready(cluster: &TestCluster, id: NodeId) {
    eventually(
        &format!("node {id} is ready and has a quorum"),
        LEADER_TIMEOUT,
        || async {
            let (status, body) = readyz(cluster, id).await?;
            let view = cluster_status(cluster, id).await;
            if status == 200 && view["quorum"] == true && view["ready"] == true {
                assert_eq!(view["health"], "ok", "{view}");
                Ok(())
            } else {
                Err(format!("/readyz {status} {body}; /v1/cluster {view}"))
            }
        },
    )
    .await
}

/// The answer of an append and of a linearizable read through node `id`,
/// each `(status, error message)`.
async fn refusals(cluster: &TestCluster, id: NodeId) -> Vec<(&'static str, u16, String)> {
    let base = cluster.base_url(id);
    let http = http();
    let append = http
        .post(format!("{base}/v1/topics/quorum/records"))
        .json(&json!({"records": [{"value": 1}]}));
    let read = http.get(format!(
        "{base}/v1/topics/quorum/records?from=0&consistency=linearizable"
    ));
    let mut answers = Vec::new();
    for (what, request) in [("an append", append), ("a linearizable read", read)] {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what} through node {id}: {e}"));
        let status = response.status().as_u16();
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{what} through node {id}: not JSON: {e}"));
        let message = body["error"]["message"].as_str().unwrap_or_default();
        answers.push((what, status, message.to_string()));
    }
    answers
}

/// `message` is written for a person: no Rust debug output of openraft's
/// types, and it names the quorum it lacks.
fn assert_names_the_quorum_in_words(what: &str, message: &str) {
    for internal in ["BasicNode", "{", "Some(", "None"] {
        assert!(
            !message.contains(internal),
            "{what}: {internal:?} in {message:?}"
        );
    }
    assert!(
        message.contains("of 3 voters") || message.contains("of the 3 voters"),
        "{what} names the voters: {message:?}"
    );
    assert!(
        message.contains("2 needed for a quorum") || message.contains("needs 2 of the 3"),
        "{what} names what a quorum needs: {message:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_without_its_quorum_is_not_ready_and_says_so_until_a_majority_is_back() {
    let mut cluster = TestCluster::start().await;
    let survivor = cluster.leader;
    wait_ready(&cluster, survivor).await;
    let followers = cluster.followers();
    for &id in &followers {
        cluster.kill(id);
    }

    let why = wait_not_ready(&cluster, survivor).await;
    assert_names_the_quorum_in_words("/readyz", &why);
    assert!(why.contains("reaches 1 of 3 voters"), "{why}");
    let view = cluster_status(&cluster, survivor).await;
    assert_eq!(view["quorum"], false, "{view}");
    assert_eq!(view["ready"], false, "{view}");
    // The same words, but for the age at the end, which has moved on.
    let lost = why.split(';').next().unwrap_or_default();
    let health = view["health"].as_str().unwrap_or_default();
    assert!(
        health.starts_with(lost),
        "/v1/cluster says {health:?}, /readyz {why:?}"
    );
    assert!(
        view["quorum_contact_age_ms"]
            .as_u64()
            .is_none_or(|ms| ms > 400),
        "{view}"
    );
    for (what, status, message) in refusals(&cluster, survivor).await {
        assert_eq!(status, 503, "{what}: {message}");
        assert_names_the_quorum_in_words(what, &message);
        assert!(
            message.contains("reaches 1 of 3 voters"),
            "{what}: {message}"
        );
    }

    let back = followers[0];
    cluster
        .nodes
        .start_node(back)
        .unwrap_or_else(|e| panic!("restarting node {back}: {e}"));
    cluster.wait_for_leader().await;
    for id in [survivor, back] {
        wait_ready(&cluster, id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_without_a_leader_is_not_ready_and_says_what_an_election_needs() {
    let mut cluster = TestCluster::start().await;
    let survivor = cluster.followers()[0];
    wait_ready(&cluster, survivor).await;
    for id in cluster.ids().into_iter().filter(|&id| id != survivor) {
        cluster.kill(id);
    }

    let why = wait_not_ready(&cluster, survivor).await;
    assert_names_the_quorum_in_words("/readyz", &why);
    assert_eq!(cluster_status(&cluster, survivor).await["quorum"], false);
    for (what, status, message) in refusals(&cluster, survivor).await {
        assert_eq!(status, 503, "{what}: {message}");
        assert_names_the_quorum_in_words(what, &message);
    }
}
