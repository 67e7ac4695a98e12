//! Each mutant breaks exactly the promise it is meant to break, so a checker
//! that misses it is the checker's fault, not the mutant's.
//!
//! The switches are process-wide: every test here holds [`MutantsOn`] for
//! its whole run, which serialises them and turns every switch off at the
//! end, even when the test fails.

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::type_config::alias::VoteOf;
use openraft::RaftLogReader;
use tokio::sync::{Mutex, MutexGuard};

use super::support::{blank, open_on, TestConfig};
use crate::{mutants, MemDisk};

// An async lock: it is held across awaits, and a failed test does not
// poison it (its switches were reset on drop).
static MUTANT_TESTS: Mutex<()> = Mutex::const_new(());

/// Exclusive use of the mutant switches for one test.
struct MutantsOn {
    _exclusive: MutexGuard<'static, ()>,
}

impl MutantsOn {
    async fn take() -> MutantsOn {
        let exclusive = MUTANT_TESTS.lock().await;
        mutants::reset();
        MutantsOn {
            _exclusive: exclusive,
        }
    }
}

impl Drop for MutantsOn {
    fn drop(&mut self) {
        mutants::reset();
    }
}

#[tokio::test]
async fn with_ack_before_flush_acknowledged_entries_are_lost_in_a_crash() {
    let _mutants = MutantsOn::take().await;
    mutants::set_ack_before_flush(true);
    let disk = MemDisk::new();
    let (mut log, _sm) = open_on(&disk);
    log.blocking_append([blank(1, 1), blank(1, 2)])
        .await
        .expect("append reports the entries flushed");
    assert_eq!(
        disk.unflushed_batches(),
        1,
        "the entries were never flushed"
    );

    disk.crash(0);

    let (mut log, _sm) = open_on(&disk);
    assert_eq!(
        log.get_log_state().await.expect("log state").last_log_id,
        None
    );
}

#[tokio::test]
async fn with_ack_before_flush_off_acknowledged_entries_survive_a_crash() {
    let _mutants = MutantsOn::take().await;
    let disk = MemDisk::new();
    let (mut log, _sm) = open_on(&disk);
    log.blocking_append([blank(1, 1)]).await.expect("append");

    disk.crash(0);

    let (mut log, _sm) = open_on(&disk);
    assert!(log
        .get_log_state()
        .await
        .expect("log state")
        .last_log_id
        .is_some());
}

#[tokio::test]
async fn with_skip_vote_persist_a_saved_vote_is_gone_after_a_crash() {
    let _mutants = MutantsOn::take().await;
    mutants::set_skip_vote_persist(true);
    let disk = MemDisk::new();
    let (mut log, _sm) = open_on(&disk);
    let vote = VoteOf::<TestConfig>::new(3, 2);
    log.save_vote(&vote).await.expect("save vote");
    // The running node still sees its vote, through any clone.
    let mut reader = log.get_log_reader().await;
    assert_eq!(reader.read_vote().await.expect("read vote"), Some(vote));

    // Even a crash that keeps every unflushed write loses it: never written.
    disk.crash(disk.unflushed_batches());

    let (mut log, _sm) = open_on(&disk);
    assert_eq!(log.read_vote().await.expect("read vote"), None);
}
