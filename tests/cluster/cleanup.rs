//! Compaction and retention (DESIGN §3): passes go through the Raft log, so
//! every node removes exactly the same records. A compacted topic keeps the
//! latest record of each key (and its tombstone for the grace) at unchanged
//! offsets, and reads skip the gaps; a retained topic drops its oldest
//! records and answers a read below its start with a 410 naming the start;
//! the leader's background cleaner does both on its own; and a follower
//! that lost its disk is rebuilt from a snapshot of the compacted state.

use std::collections::BTreeMap;
use std::time::Duration;

use ordo_api::{Consistency, ErrorBody, TopicInfo};
use ordo_core::{Cleanup, NewRecord, Offset, Record, TopicConfig};
use serde_json::{json, Value};

use crate::support::{
    crash_and_wipe, eventually, http, read_all, record, restart_and_catch_up, TestCluster,
};

/// The background cleaner stays out of the way of tests that count what an
/// on-demand pass removes.
const NO_BACKGROUND_CLEANUP: (&str, &str) = ("ORDO_CLEANUP_INTERVAL_MS", "3600000");
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(20);

fn keyed(key: &str, value: Value) -> NewRecord {
    NewRecord {
        key: Some(key.to_owned()),
        value: value.into(),
        headers: Default::default(),
    }
}

fn compacted(tombstone_retention_ms: u64) -> TopicConfig {
    TopicConfig::new(Cleanup::Compact, None, None)
        .and_then(|config| config.with_tombstone_retention_ms(tombstone_retention_ms))
        .expect("a valid config")
}

/// `(offset, key, value)` of each record, for comparing logs.
fn summary(records: &[Record]) -> Vec<(Offset, Option<String>, Value)> {
    records
        .iter()
        .map(|r| (r.offset, r.key.clone(), r.value.to_json()))
        .collect()
}

/// Writes `versions` versions of each of `keys` keys to `topic`, one append
/// each, round-robin through the nodes `via`, and then a tombstone for the
/// last key; answers each key's latest `(offset, value)`.
async fn write_versions(
    cluster: &TestCluster,
    via: &[u64],
    topic: &str,
    keys: usize,
    versions: usize,
) -> BTreeMap<String, (Offset, Value)> {
    let mut latest = BTreeMap::new();
    let mut writes: Vec<(String, Value)> = (0..versions)
        .flat_map(|v| (0..keys).map(move |k| (format!("user-{k}"), json!({"version": v}))))
        .collect();
    writes.push((format!("user-{}", keys - 1), Value::Null));
    for (i, (key, value)) in writes.into_iter().enumerate() {
        let id = via[i % via.len()];
        let ack = cluster
            .client_for(id)
            .append(topic, vec![keyed(&key, value.clone())])
            .await
            .unwrap_or_else(|e| panic!("append {i} ({key}) through node {id}: {e}"));
        latest.insert(key, (ack.offsets[0], value));
    }
    latest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_exactly_the_latest_value_per_key_on_every_node() {
    let cluster = TestCluster::start_with_env(&[NO_BACKGROUND_CLEANUP]).await;
    let topic = "profiles";
    let client = cluster.client();
    client
        .put_topic(topic, &compacted(3_600_000))
        .await
        .expect("a compacted topic");
    let (keys, versions) = (6, 8);
    let latest = write_versions(&cluster, &cluster.ids(), topic, keys, versions).await;
    let written = (keys * versions + 1) as u64;

    // One pass, asked of a follower (forwarded to the leader, applied by all).
    let follower = cluster.followers()[0];
    let pass = cluster
        .client_for(follower)
        .compact_topic(topic)
        .await
        .expect("a compaction pass");
    assert_eq!(pass.removed_records, written - keys as u64);
    assert_eq!(
        (pass.topic.start_offset, pass.topic.end_offset),
        (Offset(0), Offset(written)),
        "offsets never move"
    );
    assert_eq!(pass.topic.records, keys as u64);

    let mut expected: Vec<_> = latest
        .iter()
        .map(|(key, (offset, value))| (*offset, Some(key.clone()), value.clone()))
        .collect();
    expected.sort_by_key(|(offset, ..)| *offset);
    let mut logs = Vec::new();
    for id in cluster.ids() {
        let log = read_all(&cluster.client_for(id), topic, Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("node {id}: {e}"));
        assert_eq!(summary(&log), expected, "node {id}: the latest of each key");
        logs.push(log);
    }
    assert!(
        logs.windows(2).all(|pair| pair[0] == pair[1]),
        "every node holds the same records, timestamps included"
    );

    // The log goes on from its end; a key's latest is what conditions see.
    let next = client
        .append(topic, vec![keyed("user-0", json!({"version": versions}))])
        .await
        .expect("an append after compaction");
    assert_eq!(next.offsets, vec![Offset(written)]);

    // Once its grace is over, a tombstone goes too, with its key.
    client
        .put_topic(topic, &compacted(1))
        .await
        .expect("a shorter tombstone grace");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let pass = client.compact_topic(topic).await.expect("a second pass");
    assert_eq!(
        pass.removed_records, 2,
        "user-0's old record, the tombstone"
    );
    for id in cluster.ids() {
        let log = read_all(&cluster.client_for(id), topic, Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("node {id}: {e}"));
        let keys_left: Vec<_> = log.iter().filter_map(|r| r.key.clone()).collect();
        assert_eq!(
            keys_left,
            (1..keys - 1)
                .map(|k| format!("user-{k}"))
                .chain(["user-0".to_owned()])
                .collect::<Vec<_>>(),
            "node {id}"
        );
    }

    // A compacted topic needs keys: a keyless record is refused.
    let refused = client
        .append(topic, vec![record(json!("no key"))])
        .await
        .expect_err("a keyless record in a compacted topic");
    assert!(refused.to_string().contains("needs a key"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_the_oldest_records_and_a_read_below_the_start_is_410() {
    let cluster = TestCluster::start_with_env(&[NO_BACKGROUND_CLEANUP]).await;
    let topic = "events";
    let client = cluster.client();
    // Each value is a 12-byte JSON string: 10 records fit in 120 bytes.
    let config = TopicConfig::new(Cleanup::Delete, None, Some(120)).expect("valid");
    client.put_topic(topic, &config).await.expect("a topic");
    for i in 0..30 {
        client
            .append(topic, vec![record(json!(format!("event-{i:04}")))])
            .await
            .expect("append");
    }
    let pass = client.compact_topic(topic).await.expect("a retention pass");
    assert_eq!(pass.removed_records, 20);
    assert_eq!(
        (pass.topic.start_offset, pass.topic.records),
        (Offset(20), 10)
    );
    assert_eq!(pass.topic.bytes, 120);

    let http = http();
    for id in cluster.ids() {
        let base = cluster.base_url(id);
        for path in [
            format!("/v1/topics/{topic}/records?from=0"),
            format!("/v1/topics/{topic}/records?from=19&consistency=local"),
            format!("/v1/topics/{topic}/stream?from=5"),
        ] {
            let response = http
                .get(format!("{base}{path}"))
                .send()
                .await
                .expect("a response");
            assert_eq!(response.status(), 410, "node {id}: {path}");
            let body: ErrorBody = response.json().await.expect("a JSON error body");
            assert_eq!(body.error.code, "offset_gone", "node {id}: {path}");
            assert_eq!(
                body.error.current,
                Some(json!({"start_offset": 20})),
                "node {id}: {path}"
            );
            assert!(body.error.message.contains("starts at 20"), "{body:?}");
        }
        let from_start = http
            .get(format!("{base}/v1/topics/{topic}/records?from=20"))
            .send()
            .await
            .expect("a response");
        assert_eq!(from_start.status(), 200, "node {id}");
        let page: ordo_api::ReadResponse = from_start.json().await.expect("a page");
        let values: Vec<_> = page.records.iter().map(|r| r.value.clone()).collect();
        let kept: Vec<_> = (20..30).map(|i| json!(format!("event-{i:04}"))).collect();
        assert_eq!(values, kept, "node {id}: the newest records stay");
    }
}

/// Node `id`'s view of `topic`, from its own state.
async fn local_topic(cluster: &TestCluster, id: u64, topic: &str) -> Result<TopicInfo, String> {
    cluster
        .client_for(id)
        .topic(topic, Consistency::Local)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("node {id} does not know {topic}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_cleaner_expires_and_compacts_on_every_node() {
    let cluster = TestCluster::start_with_env(&[("ORDO_CLEANUP_INTERVAL_MS", "100")]).await;
    let client = cluster.client();
    let expiring = TopicConfig::new(Cleanup::Delete, Some(500), None).expect("valid");
    client
        .put_topic("short-lived", &expiring)
        .await
        .expect("topic");
    for i in 0..5 {
        client
            .append("short-lived", vec![record(json!(i))])
            .await
            .expect("append");
    }
    // Written first and made compact after, so the first pass finds every
    // superseded record at once (passes only run once at least half of a
    // topic's records are superseded, so one during the writes could leave
    // a few behind, by design).
    write_versions(&cluster, &cluster.ids(), "latest", 3, 10).await;
    client
        .put_topic("latest", &compacted(3_600_000))
        .await
        .expect("topic");

    for id in cluster.ids() {
        eventually(
            &format!("node {id} expired every record of short-lived"),
            CLEANUP_TIMEOUT,
            || async {
                let info = local_topic(&cluster, id, "short-lived").await?;
                match (info.start_offset, info.records) {
                    (Offset(5), 0) => Ok(()),
                    other => Err(format!("start and records {other:?}")),
                }
            },
        )
        .await;
        eventually(
            &format!("node {id} compacted latest to one record per key"),
            CLEANUP_TIMEOUT,
            || async {
                let info = local_topic(&cluster, id, "latest").await?;
                match info.records {
                    3 => Ok(()),
                    records => Err(format!("{records} records")),
                }
            },
        )
        .await;
    }
    // An expired topic goes on from its end.
    let next = client
        .append("short-lived", vec![record(json!("after"))])
        .await
        .expect("append");
    assert_eq!(next.offsets, vec![Offset(5)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_follower_is_rebuilt_from_a_snapshot_of_the_compacted_topic() {
    let mut cluster = TestCluster::start_with_env(&[
        NO_BACKGROUND_CLEANUP,
        ("ORDO_SNAPSHOT_EVERY_ENTRIES", "20"),
    ])
    .await;
    let topic = "accounts";
    let follower = *cluster.followers().last().expect("two followers");
    cluster
        .client()
        .put_topic(topic, &compacted(3_600_000))
        .await
        .expect("topic");
    write_versions(&cluster, &cluster.ids(), topic, 5, 6).await;
    crash_and_wipe(&mut cluster, follower);
    cluster
        .client()
        .compact_topic(topic)
        .await
        .expect("a pass while the follower is down");
    // More than a snapshot's worth of entries after the pass, so the log
    // that held the pass is purged and the follower needs the snapshot.
    let running: Vec<_> = cluster
        .ids()
        .into_iter()
        .filter(|&id| id != follower)
        .collect();
    write_versions(&cluster, &running, topic, 5, 6).await;
    cluster
        .client()
        .compact_topic(topic)
        .await
        .expect("a second pass");

    let leaders_log = restart_and_catch_up(&mut cluster, follower, topic).await;
    assert_eq!(leaders_log.len(), 5, "one record per key");
    let status = cluster
        .client_for(follower)
        .cluster_status()
        .await
        .expect("the follower's status");
    assert!(status.snapshot_index.is_some(), "{status:?}");
}
