//! Applying committed entries: offsets come out contiguous per topic, reads
//! page correctly, and everything applied survives a reopen.

use openraft::storage::RaftStateMachine;
use ordo_core::{CommandResult, LogIndex, Offset, TopicState};
use serde_json::json;

use super::support::{
    append, apply_via_openraft, blank, log_id, membership, normal, open_temp, reopen, topic,
};

const NO_BYTE_LIMIT: usize = usize::MAX;

#[tokio::test]
async fn offsets_start_at_zero_and_are_contiguous_per_topic() {
    let (_dir, _log, sm) = open_temp();
    let results = sm
        .apply_entries(vec![
            blank(1, 1),
            normal(1, 2, append("a", [json!(0), json!(1), json!(2)])),
            normal(1, 3, append("b", [json!("b0")])),
            normal(1, 4, append("a", [json!(3), json!(4)])),
        ])
        .expect("apply");

    assert_eq!(
        results,
        vec![
            CommandResult::Noop {
                log_index: LogIndex(1)
            },
            CommandResult::Appended {
                first_offset: Offset(0),
                count: 3,
                log_index: LogIndex(2),
                duplicate: false,
            },
            CommandResult::Appended {
                first_offset: Offset(0),
                count: 1,
                log_index: LogIndex(3),
                duplicate: false,
            },
            CommandResult::Appended {
                first_offset: Offset(3),
                count: 2,
                log_index: LogIndex(4),
                duplicate: false,
            },
        ]
    );
    let page = sm
        .read_records(&topic("a"), Offset(0), 100, NO_BYTE_LIMIT)
        .expect("read")
        .expect("topic a exists");
    let offsets: Vec<_> = page.records.iter().map(|r| r.offset).collect();
    let values: Vec<_> = page.records.iter().map(|r| r.value.clone()).collect();
    assert_eq!(offsets, (0..5).map(Offset).collect::<Vec<_>>());
    assert_eq!(values, (0..5).map(|i| json!(i)).collect::<Vec<_>>());
    assert_eq!((page.start_offset, page.end_offset), (Offset(0), Offset(5)));
    assert_eq!(sm.last_applied(), Some(LogIndex(4)));
}

#[tokio::test]
async fn reads_page_by_from_limit_and_max_bytes() {
    let (_dir, _log, sm) = open_temp();
    let values: Vec<_> = (0..10).map(|i| json!(format!("value-{i}"))).collect();
    sm.apply_entries(vec![normal(1, 1, append("t", values))])
        .expect("apply");
    let t = topic("t");

    let page = sm
        .read_records(&t, Offset(4), 3, NO_BYTE_LIMIT)
        .expect("read")
        .expect("exists");
    assert_eq!(
        page.records.iter().map(|r| r.offset.0).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
    assert_eq!(page.next_offset(), Offset(7));
    assert_eq!(page.end_offset, Offset(10));

    let at_end = sm
        .read_records(&t, Offset(10), 3, NO_BYTE_LIMIT)
        .expect("read")
        .expect("exists");
    assert!(at_end.records.is_empty());
    assert_eq!(at_end.next_offset(), Offset(10));

    // One record's encoded size, to express byte limits in records.
    let one = sm
        .read_records(&t, Offset(0), 1, NO_BYTE_LIMIT)
        .expect("read")
        .expect("exists");
    let record_bytes = crate::record_codec::encode(&one.records[0])
        .expect("encode")
        .len();
    let two_and_a_half = record_bytes * 5 / 2;
    let by_bytes = sm
        .read_records(&t, Offset(0), 100, two_and_a_half)
        .expect("read")
        .expect("exists");
    assert_eq!(by_bytes.records.len(), 2);

    let tiny_budget = sm
        .read_records(&t, Offset(0), 100, 1)
        .expect("read")
        .expect("exists");
    assert_eq!(
        tiny_budget.records.len(),
        1,
        "the first record is returned however large"
    );
}

#[tokio::test]
async fn reading_an_unknown_topic_answers_none() {
    let (_dir, _log, sm) = open_temp();
    sm.apply_entries(vec![normal(1, 1, append("known", [json!(1)]))])
        .expect("apply");
    assert_eq!(
        sm.read_records(&topic("unknown"), Offset(0), 10, NO_BYTE_LIMIT)
            .expect("read"),
        None
    );
    assert_eq!(sm.topic(&topic("unknown")), None);
    assert_eq!(
        sm.topic(&topic("known")),
        Some(TopicState {
            start_offset: Offset(0),
            end_offset: Offset(1),
            max_timestamp_ms: 1_700_000_000_000,
            stored_records: 1,
            stored_bytes: 1,
            ..TopicState::default()
        })
    );
}

#[tokio::test]
async fn applied_records_membership_and_last_applied_survive_reopen() {
    let (dir, log, mut sm) = open_temp();
    apply_via_openraft(
        &mut sm,
        vec![
            membership(1, 1, &[1, 2, 3]),
            normal(1, 2, append("a", [json!({"k": "v"}), json!(null)])),
        ],
    )
    .await;
    apply_via_openraft(&mut sm, vec![normal(1, 3, append("b", [json!(true)]))]).await;
    let topics_before = sm.topics();
    let page_before = sm
        .read_records(&topic("a"), Offset(0), 10, NO_BYTE_LIMIT)
        .expect("read");
    let applied_before = sm.applied_state().await.expect("applied state");
    drop((log, sm));

    let (_log, mut sm) = reopen(&dir);
    assert_eq!(sm.topics(), topics_before);
    assert_eq!(
        sm.read_records(&topic("a"), Offset(0), 10, NO_BYTE_LIMIT)
            .expect("read"),
        page_before
    );
    assert_eq!(
        sm.applied_state().await.expect("applied state"),
        applied_before
    );
    assert_eq!(applied_before.0, Some(log_id(1, 3)));
    assert_eq!(applied_before.1.log_id(), &Some(log_id(1, 1)));
    assert_eq!(sm.last_applied(), Some(LogIndex(3)));

    // Offsets continue where they stopped: never reused after a restart.
    let results = sm
        .apply_entries(vec![normal(2, 4, append("a", [json!(2)]))])
        .expect("apply");
    assert_eq!(results[0].offsets(), vec![Offset(2)]);
}

#[tokio::test]
async fn the_applied_watch_follows_every_batch() {
    let (_dir, _log, mut sm) = open_temp();
    let mut watch = sm.applied_watch();
    assert_eq!(*watch.borrow_and_update(), None);

    apply_via_openraft(
        &mut sm,
        vec![blank(1, 1), normal(1, 2, append("a", [json!(1)]))],
    )
    .await;
    assert!(watch.has_changed().expect("sender alive"));
    assert_eq!(*watch.borrow_and_update(), Some(LogIndex(2)));

    apply_via_openraft(&mut sm, vec![membership(1, 3, &[1])]).await;
    assert_eq!(*watch.borrow_and_update(), Some(LogIndex(3)));
}
