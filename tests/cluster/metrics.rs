//! `/metrics`: every metric `docs/operations.md`'s table lists is scraped
//! from a real cluster with a value that fits what the test did: appends
//! counted by topic on the node that acknowledged them, Raft term, leader
//! and indexes on every node, follower lag on the leader, consumer lag,
//! latency histograms, and snapshots built and (on a wiped follower)
//! installed.

use ordo_core::{LogIndex, NodeId, Offset};
use serde_json::json;

use crate::support::{
    crash_and_wipe, eventually, record, restart_and_catch_up, scrape, Scrape, TestCluster,
    CATCH_UP_TIMEOUT,
};

/// Appends to topic `a` through the leader, two records each.
const APPENDS_TO_A: u64 = 15;
/// Appends to topic `b` through a follower, one record each.
const APPENDS_TO_B: u64 = 5;
/// Few enough entries between snapshots that the test's appends build one.
const SNAPSHOT_EVERY: &str = "10";

/// Scrapes node `id` until `ready` holds for the page, for a bounded time.
async fn scrape_until(
    cluster: &TestCluster,
    id: NodeId,
    what: &str,
    ready: impl Fn(&Scrape) -> bool,
) -> Scrape {
    eventually(what, CATCH_UP_TIMEOUT, || async {
        let page = scrape(cluster, id).await;
        if ready(&page) {
            Ok(page)
        } else {
            Err(page.text)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_appends_raft_state_lag_latency_and_snapshots() {
    let mut cluster =
        TestCluster::start_with_env(&[("ORDO_SNAPSHOT_EVERY_ENTRIES", SNAPSHOT_EVERY)]).await;
    let leader = cluster.leader;
    let followers = cluster.followers();
    let (through, wiped) = (followers[0], followers[1]);

    let mut bytes_to_a = 0;
    let mut last_index = LogIndex(0);
    for i in 0..APPENDS_TO_A {
        let records = vec![record(json!(i)), record(json!({"n": i}))];
        bytes_to_a += records.iter().map(|r| r.size()).sum::<u64>();
        let appended = cluster
            .client_for(leader)
            .append("a", records)
            .await
            .expect("an append to a through the leader");
        last_index = appended.log_index;
    }
    for i in 0..APPENDS_TO_B {
        let appended = cluster
            .client_for(through)
            .append("b", vec![record(json!(i))])
            .await
            .expect("an append to b through a follower");
        last_index = appended.log_index;
    }
    // The group's position is the last entry the test writes.
    let committed = cluster
        .client()
        .commit_offset("billing", "a", Offset(10), None)
        .await
        .expect("a consumer position");
    assert!(committed.log_index > last_index);
    let last = committed.log_index.0 as f64;

    // Snapshots are built, and the log purged behind them, in the
    // background: wait for the leader's first. openraft's metrics learn of
    // an apply after the state machine has answered its client, so the
    // applied index is waited for too.
    let on_leader = scrape_until(&cluster, leader, "the leader built a snapshot", |page| {
        page.get("ordo_raft_applied_index").unwrap_or(0.0) >= last
            && page.get("ordo_snapshots_built_total").unwrap_or(0.0) >= 1.0
            && page.get("ordo_snapshot_size_bytes").unwrap_or(0.0) > 0.0
            && page.get("ordo_raft_purged_index").unwrap_or(-1.0) >= 1.0
    })
    .await;
    on_leader.assert_described(&[
        "ordo_append_seconds",
        "ordo_appends_total",
        "ordo_appended_records_total",
        "ordo_appended_bytes_total",
        "ordo_raft_term",
        "ordo_raft_leader_id",
        "ordo_raft_is_leader",
        "ordo_raft_leader_changes_total",
        "ordo_raft_last_log_index",
        "ordo_raft_commit_index",
        "ordo_raft_applied_index",
        "ordo_raft_snapshot_index",
        "ordo_raft_purged_index",
        "ordo_raft_follower_lag_entries",
        "ordo_storage_flush_seconds",
        "ordo_snapshots_built_total",
        "ordo_snapshots_installed_total",
        "ordo_snapshot_size_bytes",
        "ordo_http_requests_total",
        "ordo_http_request_seconds",
        "ordo_consumer_lag_records",
    ]);

    // Appends count on the node that acknowledged them: a's on the leader.
    let a = APPENDS_TO_A as f64;
    assert_eq!(on_leader.value(r#"ordo_appends_total{topic="a"}"#), a);
    assert_eq!(
        on_leader.value(r#"ordo_appended_records_total{topic="a"}"#),
        2.0 * a
    );
    assert_eq!(
        on_leader.value(r#"ordo_appended_bytes_total{topic="a"}"#),
        bytes_to_a as f64
    );
    assert_eq!(on_leader.get(r#"ordo_appends_total{topic="b"}"#), None);
    assert!(on_leader.value("ordo_append_seconds_count") >= a);
    assert!(on_leader.value("ordo_append_seconds_sum") > 0.0);
    assert!(on_leader.value("ordo_storage_flush_seconds_count") > 0.0);
    assert!(
        on_leader
            .value(r#"ordo_http_requests_total{route="/v1/topics/{topic}/records",status="200"}"#)
            >= a
    );
    assert!(
        on_leader.value(r#"ordo_http_request_seconds_count{route="/v1/topics/{topic}/records"}"#)
            >= a
    );

    // Raft state, as the leader sees it.
    assert_eq!(on_leader.value("ordo_raft_is_leader"), 1.0);
    assert_eq!(on_leader.value("ordo_raft_leader_id"), leader as f64);
    assert!(on_leader.value("ordo_raft_term") >= 1.0);
    assert!(on_leader.value("ordo_raft_leader_changes_total") >= 1.0);
    assert!(on_leader.value("ordo_raft_commit_index") >= last);
    assert!(on_leader.value("ordo_raft_applied_index") >= last);
    assert!(on_leader.value("ordo_raft_last_log_index") >= last);
    assert!(on_leader.value("ordo_raft_snapshot_index") >= 1.0);
    for follower in &followers {
        let lag = on_leader.value(&format!(
            r#"ordo_raft_follower_lag_entries{{follower="{follower}"}}"#
        ));
        assert!((0.0..=last).contains(&lag), "follower {follower} lag {lag}");
    }
    // 30 records in a, the group at 10.
    assert_eq!(
        on_leader.value(r#"ordo_consumer_lag_records{group="billing",topic="a"}"#),
        2.0 * a - 10.0
    );

    // A follower: b's appends went through it; it applies everything,
    // builds its own snapshots, and reports no follower lag.
    let on_follower = scrape_until(
        &cluster,
        through,
        "the follower applied the last append and built a snapshot",
        |page| {
            page.get("ordo_raft_applied_index").unwrap_or(-1.0) >= last
                && page.get("ordo_snapshots_built_total").unwrap_or(0.0) >= 1.0
        },
    )
    .await;
    let b = APPENDS_TO_B as f64;
    assert_eq!(on_follower.value(r#"ordo_appends_total{topic="b"}"#), b);
    assert_eq!(
        on_follower.value(r#"ordo_appended_records_total{topic="b"}"#),
        b
    );
    assert_eq!(on_follower.get(r#"ordo_appends_total{topic="a"}"#), None);
    assert!(on_follower.value("ordo_append_seconds_count") >= b);
    assert_eq!(on_follower.value("ordo_raft_is_leader"), 0.0);
    assert_eq!(on_follower.value("ordo_raft_leader_id"), leader as f64);
    assert_eq!(
        on_follower.value("ordo_raft_term"),
        on_leader.value("ordo_raft_term")
    );
    assert!(on_follower.value("ordo_raft_commit_index") >= last);
    assert!(on_follower.value("ordo_storage_flush_seconds_count") > 0.0);
    assert!(
        !on_follower.text.contains("ordo_raft_follower_lag_entries{"),
        "only the leader reports follower lag:\n{}",
        on_follower.text
    );
    assert_eq!(
        on_follower.value(r#"ordo_consumer_lag_records{group="billing",topic="a"}"#),
        2.0 * a - 10.0
    );

    // A wiped follower can only be rebuilt from a snapshot: the leader has
    // purged its log behind one (waited for above).
    crash_and_wipe(&mut cluster, wiped);
    restart_and_catch_up(&mut cluster, wiped, "a").await;
    // Caught up with a's log, it may still be applying b's last appends.
    let rebuilt = scrape_until(
        &cluster,
        wiped,
        "the wiped follower installed a snapshot and applied the last append",
        |page| {
            page.get("ordo_snapshots_installed_total").unwrap_or(0.0) >= 1.0
                && page.get("ordo_raft_applied_index").unwrap_or(-1.0) >= last
        },
    )
    .await;
    assert!(rebuilt.value("ordo_snapshot_size_bytes") > 0.0);
}
