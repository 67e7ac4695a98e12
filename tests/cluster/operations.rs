//! What operators and clients rely on from every node (DESIGN §3): the
//! `ordo-leader` header on every response, `/readyz` once the cluster has
//! formed, and `ordo bench` against it.

use std::time::Duration;

use crate::support::{eventually, http, leader_header, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_names_the_leader_success_or_error() {
    let cluster = TestCluster::start().await;
    let http = http();
    for id in cluster.ids() {
        let base = cluster.base_url(id);
        let success = http
            .post(format!("{base}/v1/topics/headers/records"))
            .json(&serde_json::json!({"records": [{"value": id}]}))
            .send()
            .await
            .expect("an append");
        assert_eq!(success.status(), 200, "an append through node {id}");
        assert_eq!(
            leader_header(&success),
            Some(cluster.leader),
            "node {id}'s success response names the leader"
        );

        let error = http
            .get(format!("{base}/v1/topics/no-such-topic/records"))
            .send()
            .await
            .expect("a read of an unknown topic");
        assert_eq!(error.status(), 404, "an unknown topic on node {id}");
        assert_eq!(
            leader_header(&error),
            Some(cluster.leader),
            "node {id}'s error response names the leader"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_is_ready_once_the_cluster_has_formed() {
    let cluster = TestCluster::start().await;
    let http = http();
    for id in cluster.ids() {
        let url = format!("{}/readyz", cluster.base_url(id));
        // Formed means a leader is agreed on; a node may still be applying
        // the last committed entries for a moment.
        eventually(
            &format!("node {id} answers /readyz with 200"),
            Duration::from_secs(10),
            || async {
                match http.get(&url).send().await {
                    Ok(r) if r.status() == 200 => Ok(()),
                    Ok(r) => Err(format!("{}: {:?}", r.status(), r.text().await)),
                    Err(e) => Err(e.to_string()),
                }
            },
        )
        .await;
    }
}

/// `ordo bench` runs against a cluster and reports what it measured (a
/// smoke test: it asserts that the load ran and was counted, never a speed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordo_bench_runs_and_reports_as_json() {
    let cluster = TestCluster::start().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["bench", "--topic", "smoke", "-c", "2", "--batch", "3"])
        .args(["--seconds", "1", "--warmup-secs", "0", "--json"])
        .env("ORDO_ADDR", cluster.nodes.addrs().join(","))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("ordo bench in time")
        .expect("ordo bench ran");
    assert!(output.status.success(), "{output:?}");
    let summary: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object on stdout");
    assert_eq!(summary["errors"], 0, "{summary}");
    assert_eq!(
        (summary["concurrency"].as_u64(), summary["batch"].as_u64()),
        (Some(2), Some(3))
    );
    let rate = summary["ops_per_s"].as_f64().expect("ops_per_s");
    let acknowledged = (rate * summary["seconds"].as_f64().expect("seconds")).round();
    assert!(acknowledged > 0.0, "appends were acknowledged: {summary}");
    // Every acknowledged append is in the topic: 3 records each, plus the
    // first append bench sends before measuring.
    let topic = cluster
        .client()
        .topic("smoke", ordo_api::Consistency::Linearizable)
        .await
        .expect("the topic")
        .expect("it exists");
    assert!(
        topic.end_offset.0 >= 3 + 3 * acknowledged as u64,
        "{topic:?} {summary}"
    );
    assert_eq!(topic.end_offset.0 % 3, 0, "whole batches only: {topic:?}");
}

/// Every JSON answer, success or error, ends with a newline, so `curl`
/// output ends its line on a terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_answer_ends_with_a_newline() {
    let cluster = TestCluster::start().await;
    let http = http();
    let base = cluster.base_url(cluster.followers()[0]);
    let records = format!("{base}/v1/topics/lines/records");
    let requests = [
        (
            "an append",
            http.post(&records)
                .json(&serde_json::json!({"records": [{"value": 1}]})),
        ),
        ("a read", http.get(format!("{records}?from=0"))),
        (
            "an error",
            http.get(format!("{base}/v1/topics/no-such-topic/records")),
        ),
        ("an unknown route", http.get(format!("{base}/v1/nowhere"))),
        ("the cluster status", http.get(format!("{base}/v1/cluster"))),
    ];
    for (what, request) in requests {
        let response = request.send().await.expect(what);
        let content_type = response.headers()["content-type"].clone();
        assert_eq!(content_type, "application/json", "{what}");
        let body = response.text().await.expect(what);
        assert!(
            body.ends_with("}\n"),
            "{what} ends with a newline: {body:?}"
        );
        serde_json::from_str::<serde_json::Value>(&body).expect(what);
    }
}
