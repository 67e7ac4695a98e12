//! The pipelined flush (`StoreOptions::pipelined_flush`): `append` returns
//! with its entries readable but not yet durable, and its callback is
//! completed only once a flush has made them so.

use std::time::Duration;

use futures::FutureExt;
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::type_config::TypeConfigExt;
use openraft::RaftLogReader;

use super::support::{blank, log_id, TestConfig};
use crate::{open_memory_with, LogStore, MemDisk, StoreOptions};

fn open_pipelined(disk: &MemDisk) -> LogStore<TestConfig> {
    let options = StoreOptions {
        pipelined_flush: true,
        ..StoreOptions::default()
    };
    let (log, _sm) = open_memory_with::<TestConfig>(disk, &options).expect("open");
    log
}

#[tokio::test]
async fn an_append_is_readable_at_once_and_durable_only_when_its_callback_says_so() {
    let disk = MemDisk::new();
    // Long enough that the flush cannot have run when we look.
    disk.set_flush_latency(Duration::from_secs(3600));
    let mut log = open_pipelined(&disk);
    let (done, flushed) = TestConfig::oneshot();
    let mut flushed = Box::pin(flushed);
    log.append([blank(1, 1), blank(1, 2)], IOFlushed::signal(done))
        .await
        .expect("append");

    let mut reader = log.get_log_reader().await;
    assert_eq!(
        reader.try_get_log_entries(1..3).await.expect("read").len(),
        2,
        "readable as soon as append returns"
    );
    assert!(
        (&mut flushed).now_or_never().is_none(),
        "reported persisted before any flush"
    );

    // Power loss before the flush: the entries are gone, as they may be.
    disk.crash(0);
    let mut log = open_pipelined(&disk);
    assert_eq!(log.get_log_state().await.expect("state").last_log_id, None);
}

#[tokio::test]
async fn what_the_callback_reported_persisted_survives_a_crash_and_callbacks_come_in_order() {
    let disk = MemDisk::new();
    disk.set_flush_latency(Duration::from_millis(5));
    let mut log = open_pipelined(&disk);
    let mut waiting = Vec::new();
    for index in 1..=5 {
        let (done, flushed) = TestConfig::oneshot();
        log.append([blank(1, index)], IOFlushed::signal(done))
            .await
            .expect("append");
        waiting.push(Box::pin(flushed));
    }
    let last = waiting.pop().expect("five callbacks");
    last.await.expect("completed").expect("flushed");
    for earlier in waiting {
        // Completed before the last one: in order.
        assert!(matches!(earlier.now_or_never(), Some(Ok(Ok(())))));
    }

    disk.crash(0);
    let mut log = open_pipelined(&disk);
    assert_eq!(
        log.get_log_state().await.expect("state").last_log_id,
        Some(log_id(1, 5))
    );
}
