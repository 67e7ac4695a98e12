//! Reading as records arrive (DESIGN §3 Read with `wait_ms`, Tail): a
//! long-poll answers when a record arrives and empty at its deadline; a
//! `local` read with `min_log_index` sees the write it names; the NDJSON and
//! SSE streams deliver new records in order, resume after `Last-Event-ID`,
//! end when their node shuts down and hold back rather than buffer for a
//! consumer that does not read; `ordo tail` works in a pipe and, with a
//! group, resumes after a crash without losing a record.

use std::process::Stdio;
use std::time::Duration;

use ordo_api::{Consistency, ReadQuery};
use ordo_core::{NodeId, Offset, ProducerId, Record};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::support::{
    eventually, record, rss_bytes, wait_for_position, TestCluster, CATCH_UP_TIMEOUT,
};

/// A generous bound for "promptly": far below the long-polls' 30 s waits,
/// far above what a loaded machine needs.
const PROMPTLY: Duration = Duration::from_secs(15);
/// Longest any one step of a stream or a CLI run may take here.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP client without a total deadline, for streams; each read is
/// bounded by the test instead.
fn stream_http() -> reqwest::Client {
    reqwest::Client::builder().build().expect("an HTTP client")
}

async fn open_stream(
    cluster: &TestCluster,
    id: NodeId,
    topic: &str,
    query: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let url = format!("{}/v1/topics/{topic}/stream{query}", cluster.base_url(id));
    let mut request = stream_http().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tokio::time::timeout(STEP_TIMEOUT, request.send())
        .await
        .expect("the stream's headers in time")
        .expect("opening the stream");
    assert_eq!(response.status(), 200, "opening the stream");
    response
}

/// Reads NDJSON records (skipping keep-alive empty lines) until `count`.
async fn ndjson_records(
    response: &mut reqwest::Response,
    buffer: &mut Vec<u8>,
    count: usize,
) -> Vec<Record> {
    let mut records = Vec::new();
    while records.len() < count {
        if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            if line.len() > 1 {
                records.push(serde_json::from_slice(&line).expect("a record per line"));
            }
            continue;
        }
        let chunk = tokio::time::timeout(STEP_TIMEOUT, response.chunk())
            .await
            .expect("the next chunk in time")
            .expect("reading the stream")
            .expect("the stream does not end");
        buffer.extend_from_slice(&chunk);
    }
    records
}

fn values(records: &[Record]) -> Vec<serde_json::Value> {
    records.iter().map(|r| r.value.to_json()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_answers_when_a_record_arrives_and_empty_at_its_deadline() {
    let cluster = TestCluster::start().await;
    let client = cluster.client();
    client
        .append("events", vec![record(json!("first"))])
        .await
        .expect("the first record");
    let follower = cluster.client_for(cluster.followers()[0]);

    let started = Instant::now();
    let empty = follower
        .read_wait(
            "events",
            &ReadQuery {
                from: Offset(1),
                wait_ms: Some(500),
                ..ReadQuery::default()
            },
        )
        .await
        .expect("a long-poll that times out");
    assert!(empty.records.is_empty(), "{empty:?}");
    assert_eq!(empty.next_offset, Offset(1));
    assert!(started.elapsed() >= Duration::from_millis(500));

    // A record appended while the poll waits (and a topic that does not
    // exist yet) ends the wait long before its 30 s.
    for (topic, from) in [("events", 1), ("created-later", 0)] {
        let poll = tokio::spawn({
            let follower = follower.clone();
            async move {
                let started = Instant::now();
                let page = follower
                    .read_wait(
                        topic,
                        &ReadQuery {
                            from: Offset(from),
                            wait_ms: Some(30_000),
                            ..ReadQuery::default()
                        },
                    )
                    .await;
                (page, started.elapsed())
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        client
            .append(topic, vec![record(json!("second"))])
            .await
            .expect("the record the poll waits for");
        let (page, waited) = poll.await.expect("the poll task");
        let page = page.expect("the long-poll's answer");
        assert_eq!(values(&page.records), vec![json!("second")], "{topic}");
        assert_eq!(page.records[0].offset, Offset(from));
        assert!(waited < PROMPTLY, "{topic}: answered after {waited:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_read_with_min_log_index_on_a_follower_sees_the_write() {
    let cluster = TestCluster::start().await;
    let leader = cluster.client_for(cluster.leader);
    let follower = cluster.client_for(cluster.followers()[0]);
    for i in 0..20u64 {
        let appended = leader
            .append("profile", vec![record(json!(i))])
            .await
            .expect("an append");
        let page = follower
            .read_wait(
                "profile",
                &ReadQuery {
                    from: appended.offsets[0],
                    consistency: Consistency::Local,
                    min_log_index: Some(appended.log_index),
                    ..ReadQuery::default()
                },
            )
            .await
            .expect("a read-your-writes read");
        assert_eq!(values(&page.records), vec![json!(i)]);
    }
    // An index the cluster has not reached: the node says it lags, 503
    // with Retry-After, rather than answering stale.
    let url = format!(
        "{}/v1/topics/profile/records?consistency=local&min_log_index=1000000",
        cluster.base_url(cluster.followers()[0])
    );
    let response = stream_http()
        .get(url)
        .send()
        .await
        .expect("a read past the applied index");
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ndjson_stream_delivers_records_appended_after_it_started_in_order() {
    let cluster = TestCluster::start().await;
    let client = cluster.client();
    client
        .append("feed", (0..5).map(|i| record(json!(i))).collect())
        .await
        .expect("records before the stream");
    let mut stream = open_stream(&cluster, cluster.followers()[0], "feed", "?from=2", &[]).await;
    assert_eq!(
        stream.headers()["content-type"],
        "application/x-ndjson",
        "NDJSON by default"
    );
    let mut buffer = Vec::new();
    let before = ndjson_records(&mut stream, &mut buffer, 3).await;
    assert_eq!(values(&before), vec![json!(2), json!(3), json!(4)]);
    for batch in 0..3 {
        client
            .append(
                "feed",
                (0..10).map(|i| record(json!(5 + batch * 10 + i))).collect(),
            )
            .await
            .expect("records after the stream started");
    }
    let after = ndjson_records(&mut stream, &mut buffer, 30).await;
    let offsets: Vec<u64> = after.iter().map(|r| r.offset.0).collect();
    assert_eq!(offsets, (5..35).collect::<Vec<_>>());
    assert_eq!(
        values(&after),
        (5..35).map(|i| json!(i)).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_stream_resumes_exactly_after_last_event_id() {
    let cluster = TestCluster::start().await;
    let client = cluster.client();
    client
        .append("feed", (0..10).map(|i| record(json!(i))).collect())
        .await
        .expect("ten records");
    let mut stream = open_stream(
        &cluster,
        cluster.followers()[1],
        "feed",
        "?from=0",
        &[("accept", "text/event-stream"), ("last-event-id", "4")],
    )
    .await;
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let mut events: Vec<(u64, Record)> = Vec::new();
    while events.len() < 5 {
        if let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.parse::<u64>().expect("a numeric id"));
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str::<Record>(v).expect("a record"));
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                events.push((id, data));
            }
            continue;
        }
        let chunk = tokio::time::timeout(STEP_TIMEOUT, stream.chunk())
            .await
            .expect("the next event in time")
            .expect("reading the stream")
            .expect("the stream does not end");
        text.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
    }
    let ids: Vec<u64> = events.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![5, 6, 7, 8, 9], "resumes after Last-Event-ID 4");
    for (id, record) in &events {
        assert_eq!(record.offset.0, *id);
        assert_eq!(record.value, json!(*id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_when_its_node_shuts_down() {
    let mut cluster = TestCluster::start().await;
    cluster
        .client()
        .append("feed", vec![record(json!("only"))])
        .await
        .expect("a record");
    let id = cluster.followers()[0];
    let mut stream = open_stream(&cluster, id, "feed", "", &[]).await;
    let mut buffer = Vec::new();
    ndjson_records(&mut stream, &mut buffer, 1).await;
    let drain = async move {
        loop {
            match stream.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(()),
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    let (stopped, ended) = tokio::join!(
        cluster.nodes.stop(id),
        tokio::time::timeout(STEP_TIMEOUT, drain)
    );
    let exit = stopped
        .expect("stopping the node")
        .expect("the node was running");
    assert!(!exit.forced, "the node needed SIGKILL: a stream held it up");
    assert!(exit.status.success(), "{:?}", exit.status);
    assert_eq!(
        ended.expect("the stream ended rather than hanging"),
        Ok(()),
        "the stream ended cleanly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_consumer_that_stops_reading_holds_the_server_back_rather_than_its_memory() {
    const BATCHES: u64 = 24;
    const PER_BATCH: u64 = 1000;
    // 24 MiB of values: a server that read ahead of its consumer would
    // hold far more than the bound below.
    const GROWTH_BOUND_BYTES: u64 = 16 * 1024 * 1024;
    let cluster = TestCluster::start().await;
    // An idempotent producer: on a loaded machine an election can leave a
    // 1 MiB batch's outcome unknown, and the resend must not add it twice.
    let mut producer = ordo_client::Producer::new(
        cluster.client(),
        ProducerId::new("big-loader").expect("a valid producer id"),
    );
    let filler = "x".repeat(1024);
    for batch in 0..BATCHES {
        producer
            .append(
                "big",
                (0..PER_BATCH)
                    .map(|i| record(json!(format!("{}:{filler}", batch * PER_BATCH + i))))
                    .collect(),
            )
            .await
            .expect("a batch of large records");
    }
    let id = cluster.followers()[0];
    let total = BATCHES * PER_BATCH;
    eventually(
        "the follower applied every record",
        CATCH_UP_TIMEOUT,
        || {
            let follower = cluster.client_for(id);
            async move {
                let page = follower
                    .read_wait(
                        "big",
                        &ReadQuery {
                            from: Offset(total - 1),
                            consistency: Consistency::Local,
                            ..ReadQuery::default()
                        },
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                (page.end_offset == Offset(total))
                    .then_some(())
                    .ok_or(format!("end {}", page.end_offset))
            }
        },
    )
    .await;
    let before = rss_bytes(&cluster, id);
    let mut stream = open_stream(&cluster, id, "big", "?from=0", &[]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_bytes(&cluster, id);
    eprintln!("node RSS before the stream {before} B, after 3 s of not reading {after} B");
    assert!(
        after.saturating_sub(before) < GROWTH_BOUND_BYTES,
        "the node grew by {} B for a consumer that read nothing",
        after - before
    );
    // The stalled stream then delivers everything, in order.
    let mut buffer = Vec::new();
    let records = ndjson_records(&mut stream, &mut buffer, total as usize).await;
    assert!(records.iter().map(|r| r.offset.0).eq(0..total));
}

/// `ordo` with the cluster's addresses.
fn ordo(cluster: &TestCluster) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ordo"));
    command
        .env("ORDO_ADDR", cluster.nodes.addrs().join(","))
        .kill_on_drop(true);
    command
}

async fn append_lines(cluster: &TestCluster, topic: &str, lines: std::ops::RangeInclusive<u64>) {
    let mut append = ordo(cluster)
        .args(["append", topic])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("starting ordo append");
    let text: String = lines.map(|i| format!("{i}\n")).collect();
    let mut stdin = append.stdin.take().expect("ordo append's stdin");
    stdin
        .write_all(text.as_bytes())
        .await
        .expect("feeding stdin");
    drop(stdin);
    let status = tokio::time::timeout(STEP_TIMEOUT, append.wait())
        .await
        .expect("ordo append in time")
        .expect("ordo append ran");
    assert!(status.success(), "ordo append: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordo_tail_into_head_prints_the_first_lines_and_exits_zero() {
    let cluster = TestCluster::start().await;
    append_lines(&cluster, "nums", 1..=2000).await;
    let output = Command::new("bash")
        .args([
            "-c",
            r#"set -o pipefail; "$0" tail nums --from 0 | head -5"#,
            env!("CARGO_BIN_EXE_ordo"),
        ])
        .env("ORDO_ADDR", cluster.nodes.addrs().join(","))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(STEP_TIMEOUT, output)
        .await
        .expect("ordo tail | head ends")
        .expect("running ordo tail | head");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "1\n2\n3\n4\n5\n");
    assert!(
        output.status.success(),
        "ordo tail | head: {} ({})",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn tail_group(cluster: &TestCluster) -> Child {
    ordo(cluster)
        .args(["tail", "jobs", "--group", "workers"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting ordo tail --group")
}

async fn lines(tail: &mut Child, count: usize) -> Vec<String> {
    let stdout = tail.stdout.as_mut().expect("ordo tail's stdout");
    let mut reader = BufReader::new(stdout);
    let mut lines = Vec::new();
    while lines.len() < count {
        let mut line = String::new();
        let read = tokio::time::timeout(STEP_TIMEOUT, reader.read_line(&mut line))
            .await
            .expect("a line in time")
            .expect("reading ordo tail");
        assert!(read > 0, "ordo tail ended after {lines:?}");
        lines.push(line.trim_end().to_string());
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordo_tail_with_a_group_resumes_after_a_crash_without_losing_a_record() {
    let cluster = TestCluster::start().await;
    let client = cluster.client();
    append_lines(&cluster, "jobs", 1..=50).await;
    let mut first = tail_group(&cluster);
    let seen = lines(&mut first, 50).await;
    assert_eq!(seen, (1..=50).map(|i| i.to_string()).collect::<Vec<_>>());
    // Not required for at-least-once; waiting for the commit makes the
    // resumption point exact.
    wait_for_position(&client, "workers", "jobs", Offset(50)).await;
    first.kill().await.expect("SIGKILL ordo tail");

    append_lines(&cluster, "jobs", 51..=100).await;
    let mut second = tail_group(&cluster);
    let resumed = lines(&mut second, 50).await;
    assert_eq!(
        resumed,
        (51..=100).map(|i| i.to_string()).collect::<Vec<_>>(),
        "the restarted tail resumes at the committed position"
    );
    // Ctrl-C ends a tail cleanly, even while it waits on an idle topic.
    let pid = second.id().expect("a running ordo tail").to_string();
    let interrupted = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("running kill");
    assert!(interrupted.success());
    let status = tokio::time::timeout(STEP_TIMEOUT, second.wait())
        .await
        .expect("ordo tail ends on SIGINT")
        .expect("waiting for ordo tail");
    assert!(status.success(), "ordo tail after SIGINT: {status}");
}
