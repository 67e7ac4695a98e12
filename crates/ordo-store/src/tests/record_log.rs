//! The record log's promises, written against `RecordLog` alone (topics,
//! offsets, timestamps, records; never a key), so that every implementation
//! runs the same tests: one line per implementation at the bottom. Each
//! test runs on the simulated disk and on sled in a temporary directory:
//! appends read back in pages, seeks by offset and by time over gaps, a
//! cleanup sweep, retention's truncation, a dropped topic, a snapshot's
//! export and import, a restart, and compaction and retention through the
//! store's cleanup path.
//!
//! The subject drives a record log as the store does: `write_out` before
//! each commit, `after_commit` after it, `sync` before each flush of the
//! tree, and, for the segment files, `reconcile` after each reopen (with
//! the ends the tree's own bookkeeping gives, there being no decided state
//! here).

use std::collections::BTreeMap;
use std::ops::Range;

use ordo_core::cleanup::{StoredRecord, Visit};
use ordo_core::{Cleanup, Offset, Record, TopicConfig};
use serde_json::{json, Value};

use super::support::{at, clean, entries, keyed, put, topic, Home, TestConfig};
use crate::kv::{Batch, Disk};
use crate::record_log::{RecordLog, RecordSegmentOptions};
use crate::segment::Files;
use crate::snapshot_file::SnapshotHome;
use crate::{MemDisk, StateMachineStore, StoreError};

/// How an implementation opens its record log on a node's disk, whose
/// files (the same medium and incarnation) are `Files`.
type Open = fn(&Disk, Files) -> Result<RecordLog, StoreError>;

/// The tree's record log.
fn open_tree(disk: &Disk, _files: Files) -> Result<RecordLog, StoreError> {
    RecordLog::open_in_tree(disk)
}

/// Segment files of 4 KiB, so that the tests roll segments, reconciled
/// with the ends the tree's bookkeeping gives.
fn open_segments(disk: &Disk, files: Files) -> Result<RecordLog, StoreError> {
    let options = RecordSegmentOptions {
        segment_bytes: 4 * 1024,
    };
    let log = RecordLog::open_in_segments(disk, files, &options)?;
    log.reconcile(&log.bookkept_ends()?)?;
    Ok(log)
}

const ALL: usize = usize::MAX;
const EVERY_OFFSET: Range<Offset> = Offset(0)..Offset(u64::MAX);

#[derive(Clone, Copy)]
enum Medium {
    Memory,
    Sled,
}

/// A record log under test, on a disk of its own.
struct Subject {
    open: Open,
    home: Home,
    disk: Disk,
    log: RecordLog,
}

impl Subject {
    fn new(open: Open, medium: Medium) -> Subject {
        let home = match medium {
            Medium::Memory => Home::Memory(MemDisk::new()),
            Medium::Sled => Home::Sled(tempfile::tempdir().expect("create temp dir")),
        };
        Subject::open_in(open, home)
    }

    fn open_in(open: Open, home: Home) -> Subject {
        let (disk, files) = home.open();
        let log = open(&disk, files).expect("open the record log");
        Subject {
            open,
            home,
            disk,
            log,
        }
    }

    /// The node's next life: after a crash that loses every unflushed write
    /// (memory), or after it closed its directory (sled). Every store opened
    /// on it must be dropped first.
    fn restart(self) -> Subject {
        let Subject {
            open,
            home,
            disk,
            log,
        } = self;
        drop((log, disk));
        if let Home::Memory(disk) = &home {
            disk.crash(0);
        }
        Subject::open_in(open, home)
    }

    /// Stages in one batch whatever `stage` stages, and commits it.
    fn commit(&self, stage: impl FnOnce(&RecordLog, &mut Batch)) {
        let mut batch = Batch::default();
        stage(&self.log, &mut batch);
        self.log.commit(&self.disk, batch).expect("commit");
    }

    /// Commits an append of `records` to `topic_name`.
    fn append(&self, topic_name: &str, records: &[Record]) {
        self.commit(|log, batch| {
            log.stage_append(batch, &topic(topic_name), records)
                .expect("stage append")
        });
    }

    fn flush(&self) {
        self.log.flush(&self.disk).expect("flush");
    }

    /// A state machine on this disk, keeping its records in the subject's
    /// record log (a clone: they share the topics' files).
    fn store(&self) -> StateMachineStore<TestConfig> {
        let snapshots = match &self.home {
            Home::Memory(_) => SnapshotHome::Tree,
            Home::Sled(dir) => SnapshotHome::files(dir.path()).expect("snapshot directory"),
        };
        let records = self.log.clone();
        StateMachineStore::open(&self.disk, snapshots, records).expect("open the state machine")
    }

    fn page(&self, topic_name: &str, range: Range<Offset>) -> Vec<Record> {
        self.log
            .read_page(&topic(topic_name), range, ALL, ALL)
            .expect("read a page")
    }

    fn held(&self) -> BTreeMap<String, Vec<u64>> {
        let held = self.log.held().expect("list the records held");
        held.into_iter()
            .map(|(topic, offsets)| (topic.to_string(), offsets.iter().map(|o| o.0).collect()))
            .collect()
    }
}

/// A record as an append places it.
fn record(offset: u64, timestamp_ms: u64, key: Option<&str>, value: Value) -> Record {
    Record {
        offset: Offset(offset),
        key: key.map(str::to_owned),
        value: value.into(),
        headers: Default::default(),
        timestamp_ms,
    }
}

/// Keyless records at `offsets`, each stamped `timestamp_ms` and holding its offset.
fn records(offsets: Range<u64>, timestamp_ms: u64) -> Vec<Record> {
    offsets
        .map(|offset| record(offset, timestamp_ms, None, json!(offset)))
        .collect()
}

fn offsets(records: &[Record]) -> Vec<u64> {
    records.iter().map(|record| record.offset.0).collect()
}

fn held(entries: &[(&str, Vec<u64>)]) -> BTreeMap<String, Vec<u64>> {
    entries
        .iter()
        .map(|(name, offsets)| ((*name).to_owned(), offsets.clone()))
        .collect()
}

async fn appended_records_read_back_in_pages_bounded_by_count_and_bytes(subject: Subject) {
    let sizes = [10, 1_000, 10, 10, 10];
    let placed: Vec<Record> = sizes
        .iter()
        .zip(0..)
        .map(|(size, offset)| record(offset, 7, Some("k"), json!("x".repeat(*size))))
        .collect();
    subject.append("t", &placed);
    assert_eq!(subject.page("t", Offset(0)..Offset(5)), placed);
    assert_eq!(
        subject.page("t", Offset(1)..Offset(3)),
        placed[1..3].to_vec()
    );

    let t = topic("t");
    let page = |range, limit, max_bytes| {
        let page = subject.log.read_page(&t, range, limit, max_bytes);
        offsets(&page.expect("read a page"))
    };
    let encoded_bytes = |offset: usize| {
        crate::record_codec::encode(&placed[offset])
            .expect("encode")
            .len()
    };
    assert_eq!(page(Offset(0)..Offset(5), 2, ALL), vec![0, 1]);
    assert_eq!(page(Offset(0)..Offset(5), 0, ALL), Vec::<u64>::new());
    let two_small = encoded_bytes(2) + encoded_bytes(3);
    assert_eq!(page(Offset(2)..Offset(5), ALL, two_small), vec![2, 3]);
    assert_eq!(
        page(Offset(1)..Offset(5), ALL, 1),
        vec![1],
        "the first record comes however large"
    );
    assert_eq!(page(Offset(5)..Offset(5), ALL, ALL), Vec::<u64>::new());
}

async fn one_topics_records_never_show_in_anothers(subject: Subject) {
    for (name, count) in [("a", 3), ("a.b", 2), ("a-b", 1), ("b", 2)] {
        subject.append(name, &records(0..count, 1));
    }
    assert_eq!(offsets(&subject.page("a", EVERY_OFFSET)), vec![0, 1, 2]);
    assert_eq!(offsets(&subject.page("a.b", EVERY_OFFSET)), vec![0, 1]);
    assert_eq!(offsets(&subject.page("a-b", EVERY_OFFSET)), vec![0]);
    assert_eq!(subject.page("c", EVERY_OFFSET), Vec::new());
    assert_eq!(
        subject.held(),
        held(&[
            ("a", vec![0, 1, 2]),
            ("a-b", vec![0]),
            ("a.b", vec![0, 1]),
            ("b", vec![0, 1]),
        ])
    );
}

async fn seeking_by_offset_finds_the_first_record_at_or_after_it_across_gaps(subject: Subject) {
    subject.append("t", &records(0..6, 1));
    subject.commit(|log, batch| {
        for offset in [1, 2, 4] {
            log.stage_remove(batch, &topic("t"), Offset(offset))
                .expect("stage remove");
        }
    });
    let first = |from, end| {
        let first = subject.log.first(&topic("t"), Offset(from)..Offset(end));
        first.expect("seek").map(|record| record.offset.0)
    };
    assert_eq!(first(0, 6), Some(0));
    assert_eq!(first(1, 6), Some(3));
    assert_eq!(first(4, 6), Some(5));
    assert_eq!(first(4, 5), None, "nothing stored in the range");
    assert_eq!(first(6, 6), None);
    assert_eq!(
        offsets(&subject.page("t", Offset(1)..Offset(6))),
        vec![3, 5]
    );
}

async fn seeking_by_time_finds_the_first_record_stamped_at_or_after_it(subject: Subject) {
    let stamps = [100, 100, 200, 200, 200, 300, 400];
    let placed: Vec<Record> = stamps
        .iter()
        .zip(0..)
        .map(|(stamp, offset)| record(offset, *stamp, None, json!(offset)))
        .collect();
    subject.append("t", &placed);
    // A gap where the first record stamped 200 was, and one at the end.
    subject.commit(|log, batch| {
        for offset in [2, 6] {
            log.stage_remove(batch, &topic("t"), Offset(offset))
                .expect("stage remove");
        }
    });
    let t = topic("t");
    let stored = Offset(0)..Offset(7);
    // What a reader that seeks and then reads gets first: at a gap the
    // answer may be a removed offset, and the first record after it is meant.
    let first_read = |timestamp_ms| {
        let from = subject.log.seek_time(&t, stored.clone(), timestamp_ms);
        let from = from.expect("seek by time");
        let first = subject.log.first(&t, from..stored.end).expect("seek");
        (from, first.map(|record| record.offset.0))
    };
    assert_eq!(first_read(0), (Offset(0), Some(0)));
    assert_eq!(first_read(100).1, Some(0));
    assert_eq!(first_read(101).1, Some(3), "over the gap at 2");
    assert_eq!(first_read(200).1, Some(3));
    assert_eq!(first_read(201), (Offset(5), Some(5)));
    let (from, first) = first_read(301);
    assert_eq!(first, None, "only the removed 400 was later");
    assert!(from > Offset(5), "{from}");
    let within = subject.log.seek_time(&t, Offset(3)..Offset(5), 0);
    assert_eq!(
        within.expect("seek by time"),
        Offset(3),
        "never below the range"
    );
}

async fn a_sweep_shows_each_record_as_cleanup_sees_it_and_removes_what_it_is_told(
    subject: Subject,
) {
    let placed = vec![
        record(0, 10, Some("a"), json!(1)),
        record(1, 20, Some("bb"), json!("two")),
        record(2, 30, None, json!([3, 3])),
        record(3, 40, Some("d"), json!(null)),
        record(4, 50, Some("e"), json!(5)),
    ];
    subject.append("t", &placed);
    let mut seen = Vec::new();
    subject.commit(|log, batch| {
        let mut visit = |record: &StoredRecord| {
            seen.push(*record);
            match record.offset.0 {
                2 => Visit::Remove,
                3 => Visit::Stop,
                _ => Visit::Keep,
            }
        };
        log.sweep(batch, &topic("t"), Offset(1)..Offset(5), &mut visit)
            .expect("sweep");
    });
    let as_cleanup_sees = |record: &Record| StoredRecord {
        offset: record.offset,
        timestamp_ms: record.timestamp_ms,
        size: record.size(),
    };
    let expected: Vec<_> = placed[1..4].iter().map(as_cleanup_sees).collect();
    assert_eq!(seen, expected, "from the range's start, up to the stop");
    assert_eq!(subject.held(), held(&[("t", vec![0, 1, 3, 4])]));
}

async fn truncating_drops_the_front_and_nothing_else(subject: Subject) {
    subject.append("t", &records(0..5, 1));
    subject.append("t.x", &records(0..2, 1));
    subject.commit(|log, batch| {
        log.stage_remove(batch, &topic("t"), Offset(3))
            .expect("stage remove");
    });
    let truncate = |offset| {
        subject.commit(|log, batch| {
            log.stage_truncate(batch, &topic("t"), Offset(offset))
                .expect("stage truncate")
        })
    };
    truncate(2);
    assert_eq!(
        subject.held(),
        held(&[("t", vec![2, 4]), ("t.x", vec![0, 1])])
    );
    truncate(2);
    truncate(1);
    assert_eq!(offsets(&subject.page("t", EVERY_OFFSET)), vec![2, 4]);
    truncate(5);
    assert_eq!(subject.held(), held(&[("t.x", vec![0, 1])]));
}

async fn dropping_a_topic_drops_its_records_even_those_staged_in_the_same_batch(subject: Subject) {
    subject.append("t", &records(0..3, 1));
    subject.append("t.x", &records(0..1, 1));
    subject.commit(|log, batch| {
        let t = topic("t");
        log.stage_append(batch, &t, &records(3..5, 2))
            .expect("stage append");
        log.stage_drop(batch, &t, Offset(0)..Offset(5))
            .expect("stage drop");
    });
    assert_eq!(subject.held(), held(&[("t.x", vec![0])]));
    // The name starts again at offset 0.
    subject.append("t", &records(0..1, 3));
    assert_eq!(subject.page("t", EVERY_OFFSET), records(0..1, 3));
}

async fn exported_records_import_into_a_cleared_log_as_they_were(subject: Subject) {
    subject.append("t", &records(0..5, 1));
    subject.append("u", &records(0..2, 2));
    subject.commit(|log, batch| {
        log.stage_remove(batch, &topic("t"), Offset(1))
            .expect("stage remove")
    });
    let before = (
        subject.page("t", EVERY_OFFSET),
        subject.page("u", EVERY_OFFSET),
    );
    let exported: Vec<(&str, Vec<Vec<u8>>)> = ["t", "u"]
        .into_iter()
        .map(|name| {
            let encoded = subject.log.encoded(&topic(name), EVERY_OFFSET);
            (
                name,
                encoded
                    .map(|bytes| bytes.expect("export").to_vec())
                    .collect(),
            )
        })
        .collect();

    // As a snapshot install does: clear, then import each record at the
    // offset it decodes to, in one batch.
    subject.commit(|log, batch| {
        log.stage_clear(batch).expect("stage clear");
        for (name, encoded) in exported {
            for bytes in encoded {
                let record = crate::record_codec::decode(&bytes).expect("decode");
                log.stage_import(batch, &topic(name), record.offset, bytes)
                    .expect("stage import");
            }
        }
    });
    assert_eq!(
        (
            subject.page("t", EVERY_OFFSET),
            subject.page("u", EVERY_OFFSET)
        ),
        before
    );
    subject.commit(|log, batch| log.stage_clear(batch).expect("stage clear"));
    assert_eq!(subject.held(), BTreeMap::new());
}

async fn flushed_records_survive_a_restart_and_an_unflushed_batch_comes_back_whole_or_not_at_all(
    subject: Subject,
) {
    subject.append("t", &records(0..3, 1));
    subject.flush();
    subject.commit(|log, batch| {
        log.stage_append(batch, &topic("t"), &records(3..5, 2))
            .expect("stage append");
        log.stage_append(batch, &topic("u"), &records(0..1, 2))
            .expect("stage append");
    });

    let subject = subject.restart();
    let after = subject.held();
    let without = held(&[("t", vec![0, 1, 2])]);
    let with = held(&[("t", vec![0, 1, 2, 3, 4]), ("u", vec![0])]);
    assert!(after == without || after == with, "{after:?}");
    assert_eq!(subject.page("t", Offset(0)..Offset(3)), records(0..3, 1));
}

/// Keys a..c written over at times 100..600, then a cleanup at 700.
async fn compaction_through_the_store_keeps_the_latest_record_of_each_key(subject: Subject) {
    let config = TopicConfig::new(Cleanup::Compact, None, None).expect("valid config");
    let mut commands = vec![put("t", config)];
    for (key, value, time) in [
        ("a", 1, 100),
        ("b", 1, 200),
        ("a", 2, 300),
        ("c", 1, 400),
        ("b", 2, 500),
        ("a", 3, 600),
    ] {
        commands.push(at(keyed("t", key, json!(value)), time));
    }
    commands.push(clean("t", 700));
    let sm = subject.store();
    sm.apply_entries(entries(commands)).expect("apply");
    let latest = vec![
        record(3, 400, Some("c"), json!(1)),
        record(4, 500, Some("b"), json!(2)),
        record(5, 600, Some("a"), json!(3)),
    ];
    assert_eq!(subject.page("t", EVERY_OFFSET), latest);
    let page = sm.read_records(&topic("t"), Offset(0), ALL, ALL);
    assert_eq!(page.expect("read").expect("topic exists").records, latest);

    subject.flush();
    drop(sm);
    let subject = subject.restart();
    assert_eq!(subject.page("t", EVERY_OFFSET), latest);
    let page = subject
        .store()
        .read_records(&topic("t"), Offset(0), ALL, ALL);
    assert_eq!(page.expect("read").expect("topic exists").records, latest);
}

async fn retention_through_the_store_drops_the_front(subject: Subject) {
    let config = TopicConfig::new(Cleanup::Delete, Some(1_000), None).expect("valid config");
    let mut commands = vec![put("t", config)];
    for time in [100, 200, 300, 400] {
        commands.push(at(keyed("t", &format!("k{time}"), json!(time)), time));
    }
    commands.push(clean("t", 1_250));
    let sm = subject.store();
    sm.apply_entries(entries(commands)).expect("apply");
    assert_eq!(subject.held(), held(&[("t", vec![2, 3])]));
    let page = sm.read_records(&topic("t"), Offset(0), ALL, ALL);
    let page = page.expect("read").expect("topic exists");
    assert_eq!(
        (page.start_offset, offsets(&page.records)),
        (Offset(2), vec![2, 3])
    );
}

/// Every test above, for the record log `$open` opens, on each medium.
macro_rules! record_log_tests {
    ($implementation:ident => $open:expr) => {
        on_each_medium!(
            $implementation => $open;
            appended_records_read_back_in_pages_bounded_by_count_and_bytes,
            one_topics_records_never_show_in_anothers,
            seeking_by_offset_finds_the_first_record_at_or_after_it_across_gaps,
            seeking_by_time_finds_the_first_record_stamped_at_or_after_it,
            a_sweep_shows_each_record_as_cleanup_sees_it_and_removes_what_it_is_told,
            truncating_drops_the_front_and_nothing_else,
            dropping_a_topic_drops_its_records_even_those_staged_in_the_same_batch,
            exported_records_import_into_a_cleared_log_as_they_were,
            flushed_records_survive_a_restart_and_an_unflushed_batch_comes_back_whole_or_not_at_all,
            compaction_through_the_store_keeps_the_latest_record_of_each_key,
            retention_through_the_store_drops_the_front,
        );
    };
}

macro_rules! on_each_medium {
    ($implementation:ident => $open:expr; $($test:ident),* $(,)?) => {
        mod $implementation {
            use super::{Medium, Subject};

            $(
                #[tokio::test]
                async fn $test() {
                    for medium in [Medium::Memory, Medium::Sled] {
                        super::$test(Subject::new($open, medium)).await;
                    }
                }
            )*
        }
    };
}

record_log_tests!(tree => super::open_tree);
record_log_tests!(segments => super::open_segments);
