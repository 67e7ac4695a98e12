//! Each mutant breaks exactly the promise it is meant to break, so a checker
//! that misses it is the checker's fault, not the mutant's.
//!
//! The switches are process-wide: every test here holds [`MutantsOn`] for
//! its whole run, which serialises them and turns every switch off at the
//! end, even when the test fails.

use std::path::Path;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::type_config::alias::VoteOf;
use openraft::RaftLogReader;
use tokio::sync::{Mutex, MutexGuard};

use super::support::{blank, open_on, TestConfig};
use crate::segment::{Files, RecoveryAction, SegmentLog, SegmentOptions};
use crate::{mutants, DiskArea, DiskError, MemDisk};

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

    // The entries are in the Raft log's segment files (not in a tree batch)
    // and were never synced: a crash that keeps no unsynced bytes loses them.
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

/// A store whose Raft log holds entry 1 durably, with the next sync of its
/// Raft log armed to fail with `EIO`.
async fn a_log_whose_next_sync_fails(disk: &MemDisk) -> crate::LogStore<TestConfig> {
    let (mut log, _sm) = open_on(disk);
    log.blocking_append([blank(1, 1)]).await.expect("append");
    disk.fail_next_sync(DiskArea::RaftLog, DiskError::Io);
    log
}

async fn last_index_after_a_crash(disk: &MemDisk) -> Option<u64> {
    disk.crash(disk.unflushed_batches());
    let (mut log, _sm) = open_on(disk);
    let state = log.get_log_state().await.expect("log state");
    state.last_log_id.map(|log_id| log_id.index)
}

#[tokio::test]
async fn with_ignore_fsync_error_an_entry_whose_flush_failed_is_acknowledged_and_lost() {
    let _mutants = MutantsOn::take().await;
    mutants::set_ignore_fsync_error(true);
    let disk = MemDisk::new();
    let mut log = a_log_whose_next_sync_fails(&disk).await;

    log.blocking_append([blank(1, 2)])
        .await
        .expect("the failed flush is reported as done");

    assert_eq!(disk.injected_errors().len(), 1);
    assert_eq!(last_index_after_a_crash(&disk).await, Some(1));
}

#[tokio::test]
async fn with_ignore_fsync_error_off_a_failed_flush_fails_the_append_and_every_later_one() {
    let _mutants = MutantsOn::take().await;
    let disk = MemDisk::new();
    let mut log = a_log_whose_next_sync_fails(&disk).await;

    let failed = log.blocking_append([blank(1, 2)]).await;
    assert!(failed.is_err(), "{failed:?}");
    let refused = log.blocking_append([blank(1, 3)]).await;
    assert!(
        refused.is_err(),
        "no retry after a failed flush: {refused:?}"
    );

    assert_eq!(last_index_after_a_crash(&disk).await, Some(1));
}

/// The segment log of the skip-crc tests: one segment, preallocated, each
/// append written out at once.
const SEGMENT_DIR: &str = "log";
const SEGMENT_BYTES: u64 = 64 * 1024;

fn segment_options() -> SegmentOptions {
    SegmentOptions {
        segment_bytes: SEGMENT_BYTES,
        write_buffer_bytes: 0,
        ..SegmentOptions::default()
    }
}

fn open_segment_log(disk: &MemDisk) -> Result<(SegmentLog, Vec<RecoveryAction>), String> {
    SegmentLog::open(
        Files::open_memory(disk),
        Path::new(SEGMENT_DIR),
        segment_options(),
    )
    .map(|(log, recovery)| (log, recovery.actions))
    .map_err(|e| e.to_string())
}

/// Item `seq`'s payload: 40 bytes, none of them zero.
fn payload(seq: u64) -> Vec<u8> {
    (0..40)
        .map(|i| 1 + (seq as u8).wrapping_add(i) % 200)
        .collect()
}

/// Bytes of a frame's header and an item's header, before the payload.
const FRAME_AND_ITEM_HEADER_BYTES: u64 = 8 + 16;
/// Bytes of item 3's payload the crash keeps.
const TORN_PAYLOAD_BYTES: u64 = 10;

/// A memory disk holding a segment log whose last frame a crash tore: items
/// 0..3 synced, item 3 written after them, of which the crash kept the
/// headers and the first bytes of the payload. The rest of its payload
/// reads as the preallocated zeros, so its checksum does not match.
fn a_log_with_a_torn_last_frame() -> MemDisk {
    let disk = MemDisk::new();
    let (mut log, _) = open_segment_log(&disk).expect("open");
    for seq in 0..3 {
        log.append(seq, seq * 10, &payload(seq)).expect("append");
    }
    log.sync().expect("sync");
    log.append(3, 30, &payload(3)).expect("append");
    drop(log);
    let newest = Path::new(SEGMENT_DIR).join(format!("{:020}.log", 0));
    let keep = FRAME_AND_ITEM_HEADER_BYTES + TORN_PAYLOAD_BYTES;
    disk.crash_with(0, |path, _| if path == newest { keep } else { 0 });
    disk
}

#[tokio::test]
async fn with_skip_crc_a_torn_last_frame_is_kept_and_read_back() {
    let _mutants = MutantsOn::take().await;
    mutants::set_skip_crc_check(true);
    let disk = a_log_with_a_torn_last_frame();

    let (log, recovery) = open_segment_log(&disk).expect("open");

    assert_eq!(log.next_seq(), 4, "the torn item 3 was kept");
    assert_eq!(recovery, vec![], "nothing was cut");
    let items = log.read(3, usize::MAX, usize::MAX).expect("read");
    let mut torn = payload(3);
    torn[TORN_PAYLOAD_BYTES as usize..].fill(0);
    assert_eq!(items.len(), 1);
    assert_eq!((items[0].seq, &items[0].payload), (3, &torn));
    assert_ne!(items[0].payload, payload(3), "not what was appended");
}

#[tokio::test]
async fn with_skip_crc_off_a_torn_last_frame_is_cut() {
    let _mutants = MutantsOn::take().await;
    let disk = a_log_with_a_torn_last_frame();

    let (log, recovery) = open_segment_log(&disk).expect("open");

    assert_eq!(log.next_seq(), 3, "the torn item 3 was cut");
    assert!(
        matches!(
            recovery.as_slice(),
            [RecoveryAction::CutTornTail {
                from_len: SEGMENT_BYTES,
                ..
            }]
        ),
        "{recovery:?}"
    );
    let items = log.read(0, usize::MAX, usize::MAX).expect("read");
    let seqs: Vec<u64> = items.iter().map(|item| item.seq).collect();
    assert_eq!(seqs, vec![0, 1, 2]);
    assert!(items.iter().all(|item| item.payload == payload(item.seq)));
}
