//! What the log store reports persisted is there after the store is
//! dropped and reopened from the same directory.

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::type_config::alias::VoteOf;
use openraft::{LogState, RaftLogReader};
use serde_json::json;

use super::support::{append, blank, log_id, membership, normal, open_temp, reopen};
use crate::log_store::COMMITTED_WRITE_STRIDE;

#[tokio::test]
async fn appended_entries_vote_and_committed_survive_reopen() {
    let (dir, mut log, sm) = open_temp();
    let entries = vec![
        blank(1, 1),
        membership(1, 2, &[1, 2, 3]),
        normal(1, 3, append("orders", [json!({"id": 1}), json!("two")])),
    ];
    let vote = VoteOf::<super::support::TestConfig>::new(1, 1);
    log.blocking_append(entries.clone()).await.expect("append");
    log.save_vote(&vote).await.expect("save vote");
    log.save_committed(Some(log_id(1, 2)))
        .await
        .expect("save committed");
    drop((log, sm));

    let (mut log, _sm) = reopen(&dir);
    assert_eq!(
        log.get_log_state().await.expect("log state"),
        LogState {
            last_purged_log_id: None,
            last_log_id: Some(log_id(1, 3)),
        }
    );
    let mut reader = log.get_log_reader().await;
    assert_eq!(
        reader.try_get_log_entries(1..4).await.expect("read"),
        entries
    );
    assert_eq!(reader.read_vote().await.expect("read vote"), Some(vote));
    assert_eq!(
        log.read_committed().await.expect("read committed"),
        Some(log_id(1, 2))
    );
}

#[tokio::test]
async fn the_committed_id_reads_back_whole_and_is_written_to_the_tree_every_stride() {
    let (dir, mut log, sm) = open_temp();
    let last = COMMITTED_WRITE_STRIDE + 500;
    log.blocking_append((1..=last).map(|index| blank(1, index)))
        .await
        .expect("append");
    for index in 1..=last {
        log.save_committed(Some(log_id(1, index)))
            .await
            .expect("save committed");
    }
    assert_eq!(
        log.read_committed().await.expect("read committed"),
        Some(log_id(1, last)),
        "this process reads back the id it saved last"
    );
    drop((log, sm));

    let (mut log, _sm) = reopen(&dir);
    assert_eq!(
        log.read_committed().await.expect("read committed"),
        Some(log_id(1, 1 + COMMITTED_WRITE_STRIDE)),
        "the tree holds the first id saved, then one every stride"
    );
}

#[tokio::test]
async fn purge_and_truncation_survive_reopen() {
    let (dir, mut log, sm) = open_temp();
    let entries: Vec<_> = (1..=10).map(|index| blank(1, index)).collect();
    log.blocking_append(entries.clone()).await.expect("append");
    log.purge(log_id(1, 3)).await.expect("purge");
    log.truncate_after(Some(log_id(1, 8)))
        .await
        .expect("truncate");
    drop((log, sm));

    let (mut log, _sm) = reopen(&dir);
    assert_eq!(
        log.get_log_state().await.expect("log state"),
        LogState {
            last_purged_log_id: Some(log_id(1, 3)),
            last_log_id: Some(log_id(1, 8)),
        }
    );
    let remaining = log
        .get_log_reader()
        .await
        .try_get_log_entries(..)
        .await
        .expect("read");
    assert_eq!(remaining, entries[3..8].to_vec());
}

#[tokio::test]
async fn a_fully_purged_log_reports_the_purge_point_as_its_last_log_id() {
    let (dir, mut log, sm) = open_temp();
    log.blocking_append((1..=4).map(|index| blank(2, index)))
        .await
        .expect("append");
    log.purge(log_id(2, 4)).await.expect("purge");
    drop((log, sm));

    let (mut log, _sm) = reopen(&dir);
    assert_eq!(
        log.get_log_state().await.expect("log state"),
        LogState {
            last_purged_log_id: Some(log_id(2, 4)),
            last_log_id: Some(log_id(2, 4)),
        }
    );
}

#[tokio::test]
async fn a_large_purge_hides_its_entries_at_once_and_appends_go_on() {
    let (_dir, mut log, _sm) = open_temp();
    let total = 5_000;
    log.blocking_append((1..=total).map(|index| blank(1, index)))
        .await
        .expect("append");
    log.purge(log_id(1, 4_000)).await.expect("purge");
    let state = log.get_log_state().await.expect("log state");
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 4_000)));
    assert_eq!(state.last_log_id, Some(log_id(1, total)));
    log.blocking_append([blank(1, total + 1)])
        .await
        .expect("an append after the purge");
    // Nothing at or below the purge point is read (whole segments are
    // removed; what is left of one is never served), everything after is.
    let mut reader = log.get_log_reader().await;
    let purged = reader.try_get_log_entries(..=4_000).await.expect("read");
    assert!(purged.is_empty(), "{} purged entries read", purged.len());
    let kept = reader.try_get_log_entries(4_001..).await.expect("read");
    assert_eq!(kept.len() as u64, total + 1 - 4_000);
    assert_eq!(kept.first().map(|e| e.log_id.index), Some(4_001));
}

#[tokio::test]
async fn entries_stream_reads_a_long_range_in_chunks_in_order_and_stops_where_the_log_ends() {
    use futures::StreamExt;
    use openraft::entry::RaftEntry;
    let (_dir, mut log, _sm) = open_temp();
    log.blocking_append((1..=150).map(|index| blank(1, index)))
        .await
        .expect("append");
    let indexes = |entries: Vec<Result<super::support::Entry, std::io::Error>>| -> Vec<u64> {
        entries
            .into_iter()
            .map(|entry| entry.expect("entry").index())
            .collect()
    };
    let streamed = log.entries_stream(10..150).await.collect::<Vec<_>>().await;
    assert_eq!(indexes(streamed), (10..150).collect::<Vec<_>>());
    // Past the end: what the log holds, then the end of the stream.
    let streamed = log
        .entries_stream(100..=400)
        .await
        .collect::<Vec<_>>()
        .await;
    assert_eq!(indexes(streamed), (100..=150).collect::<Vec<_>>());
    let streamed = log.entries_stream(151..).await.collect::<Vec<_>>().await;
    assert!(streamed.is_empty());
}
