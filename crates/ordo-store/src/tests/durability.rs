//! What the log store reports persisted is there after the store is
//! dropped and reopened from the same directory.

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::type_config::alias::VoteOf;
use openraft::{LogState, RaftLogReader};
use serde_json::json;

use super::support::{append, blank, log_id, membership, normal, open_temp, reopen};

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
