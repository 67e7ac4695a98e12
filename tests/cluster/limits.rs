//! Limits and hostile clients (`docs/api.md`, "Limits"): a slowloris is cut off
//! while the node serves everyone else; a trickled body gets 408; topics
//! past the cluster's limit are refused everywhere and create nothing; the
//! stream and in-flight caps answer the excess with 503 `overloaded` and
//! `Retry-After` while the rest is served; a value nested as deep as a page
//! of records can hold is read back as sent, one level more is refused; no
//! node panics or answers 5xx for any of it (a 503 is the promise that
//! nothing happened).
//!
//! The caps and timeouts are node settings, lowered here (through their
//! environment variables) so each test takes seconds; the topics limit is a
//! constant every replica shares, so that test fills it for real.

use std::time::Duration;

use futures::stream::{self, StreamExt};
use ordo_api::limits::{MAX_TOPICS, MAX_VALUE_NESTING};
use ordo_api::{Consistency, ErrorBody};
use ordo_core::TopicConfig;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::support::{
    assert_all_healthy, eventually, http, read_all, record, TestCluster, HTTP_TIMEOUT,
    POLL_INTERVAL,
};

/// Asserts that a response is a JSON error with `code` and status `status`,
/// and answers it (for its headers).
async fn assert_error(response: reqwest::Response, status: u16, code: &str, what: &str) {
    let got = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(got, status, "{what}: status; body {text:.300}");
    let body: ErrorBody = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: not a JSON error ({e}): {text:.300}"));
    assert_eq!(body.error.code, code, "{what}: {text:.300}");
    if status == 503 {
        assert!(retry_after.is_some(), "{what}: a 503 without Retry-After");
    }
}

const HEADER_READ_TIMEOUT_MS: u64 = 2_000;
const REQUEST_TIMEOUT_MS: u64 = 3_000;

/// Writes `prefix`, then one more byte every `every` until the server
/// closes the connection (or `give_up` passes); answers how long the
/// connection lasted and what the server sent.
async fn trickle(
    addr: &str,
    prefix: &[u8],
    byte: u8,
    every: Duration,
    give_up: Duration,
) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connecting to the node");
    stream.write_all(prefix).await.expect("the first bytes");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while started.elapsed() < give_up {
        match tokio::time::timeout(every, stream.read(&mut buffer)).await {
            // Closed (or reset): the server let go of this client.
            Ok(Ok(0)) | Ok(Err(_)) => return (started.elapsed(), answer),
            Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
            Err(_) => {
                if stream.write_all(&[byte]).await.is_err() {
                    return (started.elapsed(), answer);
                }
            }
        }
    }
    panic!(
        "the server still held a trickling client after {give_up:?}; it sent {:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_is_disconnected_and_the_node_serves_others_meanwhile() {
    let mut cluster = TestCluster::start_with_env(&[
        (
            "ORDO_HEADER_READ_TIMEOUT_MS",
            &HEADER_READ_TIMEOUT_MS.to_string(),
        ),
        ("ORDO_REQUEST_TIMEOUT_MS", &REQUEST_TIMEOUT_MS.to_string()),
    ])
    .await;
    let id = cluster.followers()[0];
    let addr = cluster.nodes.addr(id).expect("an address").to_string();
    let give_up = Duration::from_secs(15);
    let every = Duration::from_millis(700);

    // Headers a byte at a time, on a few connections at once, while the
    // node takes appends and answers reads from an ordinary client.
    let slowlorises = (0..4).map(|_| {
        trickle(
            &addr,
            b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ",
            b'a',
            every,
            give_up,
        )
    });
    let client = cluster.client_for(id);
    let served = async {
        let mut acks = 0;
        let deadline = Instant::now() + Duration::from_millis(HEADER_READ_TIMEOUT_MS);
        while Instant::now() < deadline {
            client
                .append("meanwhile", vec![record(json!(acks))])
                .await
                .expect("an append while slow clients hold connections");
            acks += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        acks
    };
    let (held, acks) = tokio::join!(futures::future::join_all(slowlorises), served);
    for (lasted, answer) in &held {
        eprintln!(
            "slowloris held {lasted:?}; the server sent {:?}",
            String::from_utf8_lossy(answer)
        );
        assert!(
            *lasted >= Duration::from_millis(HEADER_READ_TIMEOUT_MS / 2),
            "cut off before the header-read timeout: {lasted:?}"
        );
        assert!(
            *lasted < Duration::from_millis(HEADER_READ_TIMEOUT_MS) + Duration::from_secs(3),
            "held well past the header-read timeout: {lasted:?}"
        );
        assert!(!answer.starts_with(b"HTTP/1.1 5"), "a 5xx to a slowloris");
    }
    assert!(acks >= 5, "only {acks} appends went through meanwhile");

    // A body trickled after complete headers: 408 once the request
    // timeout passes, and nothing appended.
    let body_prefix = b"POST /v1/topics/trickled/records HTTP/1.1\r\nhost: x\r\n\
        content-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"records\":[{\"value\":\"";
    let (lasted, answer) = trickle(&addr, body_prefix, b'x', every, give_up).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a trickled body: {answer:.300}"
    );
    assert!(answer.contains("body_timeout"), "{answer:.300}");
    assert!(
        lasted < Duration::from_millis(REQUEST_TIMEOUT_MS) + Duration::from_secs(3),
        "a trickled body held {lasted:?}"
    );
    let missing = cluster
        .client()
        .read("trickled", &Default::default())
        .await
        .expect_err("the trickled append created nothing");
    assert_eq!(missing.code(), Some("topic_not_found"), "{missing}");

    let log = read_all(&cluster.client(), "meanwhile", Consistency::Linearizable)
        .await
        .expect("reading back the appends");
    assert_eq!(log.len(), acks);
    assert_all_healthy(&mut cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_past_the_clusters_limit_is_refused_and_creates_nothing() {
    let mut cluster = TestCluster::start().await;
    let started = Instant::now();
    let client = cluster.client();
    let failures: Vec<String> = stream::iter(0..MAX_TOPICS)
        .map(|i| {
            let client = client.clone();
            async move {
                client
                    .put_topic(&format!("t{i}"), &TopicConfig::default())
                    .await
                    .err()
                    .map(|e| format!("t{i}: {e}"))
            }
        })
        .buffer_unordered(64)
        .filter_map(|failure| async move { failure })
        .collect()
        .await;
    assert!(failures.is_empty(), "creating topics: {failures:?}");
    eprintln!("{MAX_TOPICS} topics created in {:?}", started.elapsed());

    let http = http();
    for (i, id) in cluster.ids().into_iter().enumerate() {
        let base = cluster.base_url(id);
        let what = format!("one topic too many, through node {id}");
        let response = if i % 2 == 0 {
            http.post(format!("{base}/v1/topics/one-too-many/records"))
                .json(&json!({"records": [{"value": 1}]}))
                .send()
                .await
        } else {
            http.put(format!("{base}/v1/topics/one-too-many"))
                .json(&json!({}))
                .send()
                .await
        }
        .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        assert_error(response, 409, "too_many_topics", &what).await;
    }
    // Every node holds exactly the limit, and not the refused topic.
    for id in cluster.ids() {
        let topics = cluster
            .client_for(id)
            .topics(Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("listing topics on node {id}: {e}"));
        assert_eq!(topics.topics.len(), MAX_TOPICS, "node {id}");
        assert!(topics
            .topics
            .iter()
            .all(|t| t.topic.as_str() != "one-too-many"));
    }
    // Existing topics still take appends, and a delete makes room.
    client
        .append("t0", vec![record(json!("still open"))])
        .await
        .expect("an append to an existing topic at the limit");
    client.delete_topic("t1").await.expect("deleting a topic");
    let ack = client
        .append("one-too-many", vec![record(json!("now it fits"))])
        .await
        .expect("a new topic once one was deleted");
    assert_eq!(ack.offsets[0].0, 0);
    assert_all_healthy(&mut cluster).await;
}

const MAX_STREAMS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_long_polls_past_the_cap_get_503_and_the_rest_are_served() {
    let mut cluster =
        TestCluster::start_with_env(&[("ORDO_MAX_STREAMS", &MAX_STREAMS.to_string())]).await;
    let id = cluster.followers()[0];
    let base = cluster.base_url(id);
    let topic = "capped";
    let client = cluster.client_for(id);
    client
        .append(topic, vec![record(json!(0))])
        .await
        .expect("the first record");
    // The follower must hold it before the long-poll below asks for what
    // comes after it: from=1 past the follower's end is an error at once,
    // which would leave the last slot free.
    let http = http();
    eventually(
        "the follower applied the first record",
        Duration::from_secs(5),
        || async {
            let response = http
                .get(format!("{base}/v1/topics/{topic}/records?from=0"))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
            match body["records"].as_array().map(Vec::len) {
                Some(1) => Ok(()),
                _ => Err(body.to_string()),
            }
        },
    )
    .await;
    // Streams without a client-side timeout: they stay open.
    let streaming = reqwest::Client::new();
    let stream_url = format!("{base}/v1/topics/{topic}/stream?from=0");
    let mut streams = Vec::new();
    for i in 0..MAX_STREAMS - 1 {
        let response = streaming
            .get(&stream_url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("stream {i}: {e}"));
        assert_eq!(response.status(), 200, "stream {i}");
        streams.push(response);
    }
    // The last slot goes to a long-poll, waiting for offset 1.
    let spawn_long_poll = || {
        let http = http.clone();
        let url = format!("{base}/v1/topics/{topic}/records?from=1&wait_ms=8000");
        tokio::spawn(async move { http.get(url).send().await })
    };
    let mut long_poll = spawn_long_poll();
    // Probe with long-polls that end at once, so a probe that gets in
    // takes no slot for long. A probe can still win the last slot from the
    // long-poll, which then ends at once refused: send it again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if long_poll.is_finished() {
            long_poll = spawn_long_poll();
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        let probe = http
            .get(format!("{base}/v1/topics/{topic}/records?from=1&wait_ms=1"))
            .send()
            .await
            .expect("an answer to a probe");
        if probe.status() == 503 && !long_poll.is_finished() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the long-poll never held the last slot; last probe: {}",
            probe.status()
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    let refused = http.get(&stream_url).send().await.expect("an answer");
    assert_error(refused, 503, "overloaded", "a stream past the cap").await;
    let refused = http
        .get(format!(
            "{base}/v1/topics/{topic}/records?from=1&wait_ms=1000"
        ))
        .send()
        .await
        .expect("an answer");
    assert_error(refused, 503, "overloaded", "a long-poll past the cap").await;

    // Everything else is served: plain reads, appends, operations.
    let page = client
        .read(topic, &Default::default())
        .await
        .expect("a plain read while the stream cap is full");
    assert_eq!(page.records.len(), 1);
    client
        .append(topic, vec![record(json!(1))])
        .await
        .expect("an append while the stream cap is full");
    // The held streams and the long-poll all get it.
    let polled = long_poll
        .await
        .expect("the long-poll task")
        .expect("the long-poll's answer");
    assert_eq!(polled.status(), 200);
    let page: serde_json::Value = polled.json().await.expect("a JSON page");
    assert_eq!(page["records"][0]["value"], json!(1));
    for (i, response) in streams.iter_mut().enumerate() {
        let mut seen = String::new();
        while seen.lines().filter(|l| !l.trim().is_empty()).count() < 2 {
            let chunk = tokio::time::timeout(HTTP_TIMEOUT, response.chunk())
                .await
                .unwrap_or_else(|_| panic!("stream {i} stalled after {seen:?}"))
                .unwrap_or_else(|e| panic!("stream {i}: {e}"))
                .unwrap_or_else(|| panic!("stream {i} ended after {seen:?}"));
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    // A closed stream gives its slot back (once the node writes to it).
    drop(streams.pop());
    client
        .append(topic, vec![record(json!(2))])
        .await
        .expect("an append that the closed stream fails to send");
    eventually(
        "a stream slot is free again",
        Duration::from_secs(15),
        || async {
            let response = http
                .get(format!("{base}/v1/topics/{topic}/records?from=3&wait_ms=1"))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            match response.status().as_u16() {
                200 => Ok(()),
                status => Err(format!("status {status}")),
            }
        },
    )
    .await;
    assert_all_healthy(&mut cluster).await;
}

const MAX_INFLIGHT: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_inflight_cap_get_503_overloaded_and_nothing_happens() {
    let mut cluster =
        TestCluster::start_with_env(&[("ORDO_MAX_INFLIGHT_REQUESTS", &MAX_INFLIGHT.to_string())])
            .await;
    let id = cluster.followers()[0];
    let base = cluster.base_url(id);
    let http = http();

    // Reads that wait (5 s) for an index the cluster never reaches hold
    // every in-flight slot. A holder that finds the slots full (a probe
    // below took one for a moment) tries again.
    let holders: Vec<_> = (0..MAX_INFLIGHT)
        .map(|_| {
            let http = http.clone();
            let url =
                format!("{base}/v1/topics/any/records?consistency=local&min_log_index=1000000000");
            tokio::spawn(async move {
                loop {
                    let response = http.get(&url).send().await?;
                    let status = response.status().as_u16();
                    let text = response.text().await?;
                    if !text.contains("\"overloaded\"") {
                        return Ok::<_, reqwest::Error>((status, text));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let append_url = format!("{base}/v1/topics/burst/records");
    let probe_url = format!("{base}/v1/topics/probe/records");
    let refused = eventually(
        "an append past the in-flight cap is refused",
        Duration::from_secs(4),
        || async {
            let response = http
                .post(&probe_url)
                .json(&json!({"records": [{"value": "refused"}]}))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            match response.status().as_u16() {
                503 => Ok(response),
                status => Err(format!("status {status}")),
            }
        },
    )
    .await;
    assert_error(refused, 503, "overloaded", "an append past the cap").await;
    // Operations and the Raft traffic are not capped: the node is healthy,
    // and the cluster takes appends through the other nodes.
    let health = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("/readyz");
    assert_eq!(health.status(), 200, "/readyz while the cap is full");
    let other = cluster.client_for(cluster.leader);
    other
        .append("elsewhere", vec![record(json!(1))])
        .await
        .expect("an append through the leader meanwhile");
    for holder in holders {
        let (status, text) = holder.await.expect("a holder task").expect("an answer");
        assert_eq!(status, 503, "a read of an index never reached: {text}");
        assert!(text.contains("\"unavailable\""), "{text}");
    }

    // A burst of appends: each is appended (200) or refused (503
    // overloaded), nothing else, and exactly the accepted ones are there.
    let statuses: Vec<u16> = stream::iter(0..64)
        .map(|i| {
            let http = http.clone();
            let url = append_url.clone();
            async move {
                let response = http
                    .post(url)
                    .json(&json!({"records": [{"value": i}]}))
                    .send()
                    .await
                    .expect("an answer to an append in the burst");
                let status = response.status().as_u16();
                if status != 200 {
                    assert_error(response, 503, "overloaded", "an append in the burst").await;
                }
                status
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let accepted = statuses.iter().filter(|s| **s == 200).count();
    eprintln!(
        "burst of 64 appends: {accepted} accepted, {} refused",
        64 - accepted
    );
    assert!(accepted > 0, "some appends of the burst get through");
    let log = read_all(&cluster.client(), "burst", Consistency::Linearizable)
        .await
        .expect("reading the burst topic");
    assert_eq!(
        log.len(),
        accepted,
        "exactly the accepted appends are there"
    );
    assert_all_healthy(&mut cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_read_back_as_sent_up_to_the_nesting_limit_and_refused_past_it() {
    let mut cluster = TestCluster::start().await;
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // Spacing and a number's form are kept: a value is its text.
    let as_sent = [
        r#"{ "b" : 1.0,  "a": [1, 2e3] }"#.to_owned(),
        deep(MAX_VALUE_NESTING),
    ];
    let http = http();
    let leader_id = cluster.wait_for_leader().await;
    let leader = cluster.base_url(leader_id);
    let body = |value: &str| format!(r#"{{"records":[{{"value":{value}}}]}}"#);
    for value in &as_sent {
        let response = http
            .post(format!("{leader}/v1/topics/as-sent/records"))
            .header("content-type", "application/json")
            .body(body(value))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 200, "{:.60}", value);
    }
    let response = http
        .post(format!("{leader}/v1/topics/as-sent/records"))
        .header("content-type", "application/json")
        .body(body(&deep(MAX_VALUE_NESTING + 1)))
        .send()
        .await
        .expect("an answer");
    assert_error(response, 400, "invalid_record", "a value nested too deep").await;

    // ordo's own client (serde_json, with its nesting limit) reads every
    // value back, byte for byte, from every node.
    for id in cluster.ids() {
        let client = cluster.client_for(id);
        let log = read_all(&client, "as-sent", Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("reading through node {id}: {e}"));
        let texts: Vec<&str> = log.iter().filter_map(|r| r.value.json_text()).collect();
        assert_eq!(texts, as_sent, "through node {id}");
    }
}
