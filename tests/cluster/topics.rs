//! Topics (DESIGN §3): a topic's config goes through the log, so one put
//! through any node is seen by every node and survives a leader crash; a
//! delete drops the records and positions and the name starts again at 0;
//! the search by time finds the first record at or after a time; bad input
//! is a JSON 4xx.

use std::time::Duration;

use ordo_api::{Consistency, ErrorBody};
use ordo_core::{Cleanup, Offset, TopicConfig};
use reqwest::Method;
use serde_json::json;

use crate::support::{http, read_all, record, TestCluster};

fn delete_after_a_day() -> TopicConfig {
    TopicConfig::new(Cleanup::Delete, Some(86_400_000), None).expect("a valid config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_configs_are_seen_by_every_node_and_survive_a_leader_crash() {
    let mut cluster = TestCluster::start().await;
    let followers = cluster.followers();

    // Made explicitly through one follower, and by a first append.
    let made = cluster
        .client_for(followers[0])
        .put_topic("audit", &delete_after_a_day())
        .await
        .expect("put a new topic");
    assert_eq!(made.config, delete_after_a_day());
    assert_eq!((made.start_offset, made.end_offset), (Offset(0), Offset(0)));
    let client = cluster.client();
    client
        .append("orders", (0..3).map(|i| record(json!(i))).collect())
        .await
        .expect("append");
    let compact = TopicConfig::new(Cleanup::Compact, None, None).expect("valid");
    let changed = cluster
        .client_for(followers[1])
        .put_topic("orders", &compact)
        .await
        .expect("configure an existing topic");
    assert_eq!((changed.config, changed.end_offset), (compact, Offset(3)));

    let old_leader = cluster.leader;
    cluster.kill(old_leader);
    for id in &followers {
        let list = cluster
            .client_for(*id)
            .topics(Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("node {id}: {e}"));
        let shown: Vec<_> = list
            .topics
            .iter()
            .map(|t| (t.topic.to_string(), t.config, t.end_offset))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("audit".to_owned(), delete_after_a_day(), Offset(0)),
                ("orders".to_owned(), compact, Offset(3)),
            ],
            "node {id} after the leader crash"
        );
    }

    // A delete drops the records and positions; the name starts again at 0.
    client
        .commit_offset("billing", "orders", Offset(2), None)
        .await
        .expect("a position");
    cluster
        .client_for(followers[0])
        .delete_topic("orders")
        .await
        .expect("delete");
    for id in &followers {
        let node = cluster.client_for(*id);
        let gone = node.topic("orders", Consistency::Linearizable).await;
        assert_eq!(gone.expect("show"), None, "node {id}");
        let position = node
            .consumer_offset("billing", "orders", Consistency::Linearizable)
            .await
            .expect("position");
        assert_eq!(position, None, "node {id}");
    }
    let again = client
        .append("orders", vec![record(json!("new"))])
        .await
        .expect("append after the delete");
    assert_eq!(again.offsets, vec![Offset(0)]);
    let records = read_all(&client, "orders", Consistency::Linearizable)
        .await
        .expect("read");
    assert_eq!(records.len(), 1);
    assert_eq!(
        client
            .topic("orders", Consistency::Linearizable)
            .await
            .expect("show")
            .map(|t| t.config),
        Some(TopicConfig::default()),
        "a topic made again by an append has the default config"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_by_time_finds_the_first_record_of_the_second_burst() {
    let cluster = TestCluster::start().await;
    let client = cluster.client();
    for i in 0..5 {
        client
            .append("events", vec![record(json!(i))])
            .await
            .expect("first burst");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 5..10 {
        client
            .append("events", vec![record(json!(i))])
            .await
            .expect("second burst");
    }
    // The server's stamps, as a reader sees them.
    let stamps: Vec<u64> = read_all(&client, "events", Consistency::Linearizable)
        .await
        .expect("read")
        .iter()
        .map(|r| r.timestamp_ms)
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
    let second_burst = stamps[5];
    let first = stamps
        .iter()
        .position(|&t| t >= second_burst)
        .expect("the second burst's first record") as u64;
    assert!(
        stamps[4] < second_burst,
        "the pause separates the bursts: {stamps:?}"
    );

    for id in cluster.ids() {
        let node = cluster.client_for(id);
        for (time, expected) in [
            (0, 0),
            (stamps[0], 0),
            (second_burst, first),
            (stamps[9] + 1, 10),
        ] {
            let found = node
                .offset_for_timestamp("events", time, Consistency::Linearizable)
                .await
                .unwrap_or_else(|e| panic!("node {id}, time {time}: {e}"));
            assert_eq!(found, Offset(expected), "node {id}, time {time}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_topic_requests_are_refused_with_a_json_error() {
    let cluster = TestCluster::start().await;
    cluster
        .client()
        .append("known", vec![record(json!(1))])
        .await
        .expect("append");
    let http = http();
    let base = cluster.base_url(cluster.followers()[0]);
    for (method, path, body, status, code) in [
        (
            Method::GET,
            "/v1/topics/unknown",
            None,
            404,
            "topic_not_found",
        ),
        (
            Method::DELETE,
            "/v1/topics/unknown",
            None,
            404,
            "topic_not_found",
        ),
        (
            Method::GET,
            "/v1/topics/bad%20name",
            None,
            400,
            "invalid_topic",
        ),
        (
            Method::GET,
            "/v1/topics?consistency=eventual",
            None,
            400,
            "invalid_query",
        ),
        (
            Method::PUT,
            "/v1/topics/known",
            Some(r#"{"cleanup":"delete"}"#),
            400,
            "invalid_body",
        ),
        (
            Method::PUT,
            "/v1/topics/known",
            Some(r#"{"cleanup":"shred"}"#),
            400,
            "invalid_body",
        ),
        (
            Method::PUT,
            "/v1/topics/known",
            Some(r#"{"cleanup":"none","retention_ms":5}"#),
            400,
            "invalid_body",
        ),
        (
            Method::GET,
            "/v1/topics/known/offsets",
            None,
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/topics/known/offsets?timestamp_ms=-1",
            None,
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/topics/known/offsets?timestamp_ms=x",
            None,
            400,
            "invalid_query",
        ),
        (
            Method::GET,
            "/v1/topics/unknown/offsets?timestamp_ms=0",
            None,
            404,
            "topic_not_found",
        ),
    ] {
        let mut request = http.request(method.clone(), format!("{base}{path}"));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("an answer");
        let got = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(got, status, "{method} {path}: {text}");
        let error: ErrorBody = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not a JSON error ({e}): {text}"));
        assert_eq!(error.error.code, code, "{method} {path}: {text}");
    }
    let known = cluster
        .client()
        .topic("known", Consistency::Linearizable)
        .await
        .expect("show")
        .expect("still there");
    assert_eq!(
        (known.config, known.end_offset),
        (TopicConfig::default(), Offset(1))
    );
}
