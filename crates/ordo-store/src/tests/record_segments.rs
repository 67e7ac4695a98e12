//! The segment record log's own promises, beyond those every record log
//! keeps (`record_log`): compaction rewrites a segment it mostly emptied and
//! its tombstones go; a topic dropped and created again starts empty, in
//! the same batch, after a reopen, and when a crash lost the batch;
//! reconciling at open removes a topic the decided state lacks, cuts
//! records past a topic's end, purges segments below its start and reports
//! files that end before the tree says; a snapshot's records, with gaps,
//! import and reopen as they were; readers on other threads read while
//! all of this goes on. Each on the simulated disk and on sled
//! with real files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ordo_core::{Offset, Record, TopicName};
use serde_json::json;

use super::support::{topic, Home};
use crate::keys;
use crate::kv::{Batch, Disk};
use crate::record_log::{Reconciled, RecordLog, RecordSegmentOptions};
use crate::segment::Files;
use crate::MemDisk;

const EVERY_OFFSET: std::ops::Range<Offset> = Offset(0)..Offset(u64::MAX);

/// A segment record log in 4 KiB segments, driven as the store drives it.
struct Node {
    home: Home,
    disk: Disk,
    files: Files,
    log: RecordLog,
}

impl Node {
    fn both() -> [Node; 2] {
        [
            Node::open(Home::Memory(MemDisk::new())),
            Node::open(Home::Sled(tempfile::tempdir().expect("temp dir"))),
        ]
    }

    /// Opens the log, without reconciling it.
    fn open(home: Home) -> Node {
        let (disk, files) = home.open();
        let options = RecordSegmentOptions {
            segment_bytes: 4 * 1024,
        };
        let log = RecordLog::open_in_segments(&disk, files.clone(), &options).expect("open");
        Node {
            home,
            disk,
            files,
            log,
        }
    }

    fn medium(&self) -> &'static str {
        match self.home {
            Home::Memory(_) => "memory disk",
            Home::Sled(_) => "sled and real files",
        }
    }

    /// The next life: after a power loss keeping `keep_batches` unflushed
    /// batches of the tree and no unsynced file bytes (memory), or after a
    /// process exit (sled).
    fn restart(self, keep_batches: usize) -> Node {
        let Node {
            home,
            disk,
            files,
            log,
        } = self;
        drop((log, files, disk));
        if let Home::Memory(disk) = &home {
            disk.crash(keep_batches);
        }
        Node::open(home)
    }

    fn commit(&self, stage: impl FnOnce(&RecordLog, &mut Batch)) {
        let mut batch = Batch::default();
        stage(&self.log, &mut batch);
        self.log.commit(&self.disk, batch).expect("commit");
    }

    fn append(&self, name: &str, records: &[Record]) {
        self.commit(|log, batch| {
            log.stage_append(batch, &topic(name), records)
                .expect("stage append")
        });
    }

    fn remove(&self, name: &str, offsets: impl IntoIterator<Item = u64>) {
        self.commit(|log, batch| {
            for offset in offsets {
                log.stage_remove(batch, &topic(name), Offset(offset))
                    .expect("stage remove");
            }
        });
    }

    fn flush(&self) {
        self.log.flush(&self.disk).expect("flush");
    }

    fn offsets(&self, name: &str) -> Vec<u64> {
        let page = self
            .log
            .read_page(&topic(name), EVERY_OFFSET, usize::MAX, usize::MAX);
        page.expect("read").iter().map(|r| r.offset.0).collect()
    }

    fn reconcile(&self, ends: &[(&str, u64, u64)]) -> Reconciled {
        let ends: BTreeMap<TopicName, (Offset, Offset)> = ends
            .iter()
            .map(|(name, start, end)| (topic(name), (Offset(*start), Offset(*end))))
            .collect();
        self.log.reconcile(&ends).expect("reconcile")
    }

    /// The topics' directories under `records/`.
    fn dirs(&self) -> Vec<String> {
        self.files
            .list_subdirs(Path::new("records"))
            .expect("list records")
    }

    /// `name`'s one directory.
    fn dir(&self, name: &str) -> PathBuf {
        let prefix = format!("{name}@");
        let dirs: Vec<String> = self
            .dirs()
            .into_iter()
            .filter(|dir| dir.starts_with(&prefix))
            .collect();
        assert_eq!(dirs.len(), 1, "{name}'s directories: {dirs:?}");
        Path::new("records").join(&dirs[0])
    }

    /// The base offsets of `name`'s segments, and each one's log length.
    fn segments(&self, name: &str) -> Vec<(u64, u64)> {
        let dir = self.dir(name);
        let names = self.files.list_dir(&dir).expect("list segments");
        names
            .iter()
            .filter_map(|file| file.strip_suffix(".log"))
            .map(|base| {
                let file = self.files.open(&dir.join(format!("{base}.log")));
                let len = file
                    .and_then(|file| file.len())
                    .expect("a segment's length");
                (base.parse().expect("a base offset"), len)
            })
            .collect()
    }

    fn tombstones(&self) -> usize {
        let tree = self.disk.open_tree(keys::STATE_MACHINE_TREE).expect("tree");
        tree.scan_prefix(&keys::tombstone_prefix()).count()
    }
}

/// Records `offsets` of about 200 bytes each: some 15 to a 4 KiB segment.
fn records(offsets: impl IntoIterator<Item = u64>) -> Vec<Record> {
    offsets
        .into_iter()
        .map(|offset| Record {
            offset: Offset(offset),
            key: None,
            value: json!(format!("{offset}:{}", "x".repeat(180))).into(),
            headers: Default::default(),
            timestamp_ms: 1_000 + offset,
        })
        .collect()
}

#[test]
fn compaction_rewrites_a_mostly_tombstoned_segment_and_its_tombstones_go() {
    for node in Node::both() {
        node.append("t", &records(0..100));
        let segments = node.segments("t");
        assert!(segments.len() > 3, "{}: {segments:?}", node.medium());
        let (first, first_len) = segments[0];
        let second = segments[1].0;
        let last = second - 1;
        // All but one of the first segment's records, its last included;
        // one of the second's.
        let removed: Vec<u64> = (first..second).filter(|&o| o != first + 2).collect();
        node.remove("t", removed.iter().copied().chain([second + 1]));

        let expected: Vec<u64> = (0..100)
            .filter(|o| !removed.contains(o) && *o != second + 1)
            .collect();
        assert_eq!(node.offsets("t"), expected, "{}", node.medium());
        let after = node.segments("t");
        assert_eq!(after.len(), segments.len());
        assert!(
            after[0].1 < first_len / 4,
            "{}: rewritten {after:?}",
            node.medium()
        );
        assert_eq!(after[1], segments[1], "a segment barely touched stays");
        // Left: the kept last record's, and the second segment's.
        assert_eq!(node.tombstones(), 2, "{}", node.medium());

        node.flush();
        let node = node.restart(0);
        node.reconcile(&[("t", 0, 100)]);
        assert_eq!(
            node.offsets("t"),
            expected,
            "{} after a restart",
            node.medium()
        );
        assert!(!node.offsets("t").contains(&last));
    }
}

#[test]
fn a_topic_dropped_and_created_again_starts_empty() {
    for node in Node::both() {
        node.append("t", &records(0..40));
        node.remove("t", [3]);
        node.commit(|log, batch| {
            let t = topic("t");
            log.stage_drop(batch, &t, Offset(0)..Offset(40))
                .expect("stage drop");
            log.stage_append(batch, &t, &records(0..2))
                .expect("stage append");
        });
        assert_eq!(node.offsets("t"), vec![0, 1], "{}", node.medium());
        assert_eq!(node.dirs().len(), 1, "{}: {:?}", node.medium(), node.dirs());
        assert_eq!(node.tombstones(), 0, "the old generation's went with it");
        // Again, committed apart.
        node.commit(|log, batch| {
            log.stage_drop(batch, &topic("t"), Offset(0)..Offset(2))
                .expect("stage drop")
        });
        assert_eq!(node.offsets("t"), Vec::<u64>::new());
        assert_eq!(node.dirs(), Vec::<String>::new());
        node.append("t", &records(0..3));
        node.flush();

        let node = node.restart(0);
        node.reconcile(&[("t", 0, 3)]);
        assert_eq!(node.offsets("t"), vec![0, 1, 2], "{}", node.medium());
    }
}

#[test]
fn a_drop_whose_batch_a_crash_lost_leaves_the_topic_as_it_was() {
    for node in Node::both() {
        node.append("t", &records(0..20));
        node.flush();
        let mut batch = Batch::default();
        let t = topic("t");
        node.log
            .stage_drop(&mut batch, &t, Offset(0)..Offset(20))
            .expect("stage drop");
        node.log
            .stage_append(&mut batch, &t, &records(0..5))
            .expect("stage append");
        node.log.write_out().expect("write out");
        node.log.sync().expect("sync");
        // The process dies before the commit.
        drop(batch);
        let node = node.restart(0);
        assert_eq!(node.dirs().len(), 1, "{}: {:?}", node.medium(), node.dirs());
        let reconciled = node.reconcile(&[("t", 0, 20)]);
        assert_eq!(reconciled, Reconciled::default());
        assert_eq!(node.offsets("t"), (0..20).collect::<Vec<_>>());
    }
}

#[test]
fn reconciling_removes_a_topic_the_decided_state_lacks() {
    for node in Node::both() {
        node.append("gone", &records(0..3));
        node.append("kept", &records(0..3));
        node.flush();
        let node = node.restart(0);
        let reconciled = node.reconcile(&[("kept", 0, 3)]);
        assert_eq!(reconciled.removed, vec![topic("gone")], "{}", node.medium());
        assert_eq!(node.dirs().len(), 1);
        assert_eq!(node.offsets("gone"), Vec::<u64>::new());
        // Its name starts again at offset 0.
        node.append("gone", &records(0..1));
        assert_eq!(node.offsets("gone"), vec![0]);
    }
}

#[test]
fn reconciling_cuts_records_at_or_after_a_topics_end() {
    for node in Node::both() {
        node.append("t", &records(0..50));
        node.flush();
        let node = node.restart(0);
        // The decided state lost the batch that placed 30..50.
        let reconciled = node.reconcile(&[("t", 0, 30)]);
        assert_eq!(reconciled.truncated, vec![topic("t")], "{}", node.medium());
        assert_eq!(node.offsets("t"), (0..30).collect::<Vec<_>>());
        // Applied again, they follow on.
        node.append("t", &records(30..35));
        assert_eq!(node.offsets("t"), (0..35).collect::<Vec<_>>());
    }
}

#[test]
fn reconciling_purges_whole_segments_below_a_topics_start() {
    for node in Node::both() {
        node.append("t", &records(0..100));
        node.flush();
        let before = node.segments("t");
        let node = node.restart(0);
        let reconciled = node.reconcile(&[("t", 60, 100)]);
        // Those whose successor starts at or before 60.
        let purged = before.windows(2).filter(|pair| pair[1].0 <= 60).count();
        assert_eq!(
            reconciled.purged,
            vec![(topic("t"), purged)],
            "{}",
            node.medium()
        );
        let first = node.segments("t")[0].0;
        assert!(first <= 60, "{}: {first}", node.medium());
        assert_eq!(node.offsets("t"), (first..100).collect::<Vec<_>>());
    }
}

#[test]
fn reconciling_reports_files_that_end_before_the_tree_says() {
    // The tree flushed, the files' last appends never synced: a power loss.
    let node = Node::open(Home::Memory(MemDisk::new()));
    node.append("t", &records(0..3));
    node.flush();
    node.append("t", &records(3..5));
    node.disk.flush_blocking().expect("flush the tree alone");
    let node = node.restart(0);
    let reconciled = node.reconcile(&[("t", 0, 5)]);
    let behind = BTreeMap::from([(topic("t"), (Offset(3), Offset(5)))]);
    assert_eq!(reconciled.behind, behind);

    // Files lost whole (here removed by hand), on either medium.
    for node in Node::both() {
        node.append("t", &records(0..4));
        node.flush();
        let dir = node.dir("t");
        node.files.remove_dir_all(&dir).expect("remove");
        let node = node.restart(0);
        let reconciled = node.reconcile(&[("t", 0, 4)]);
        let behind = BTreeMap::from([(topic("t"), (Offset(0), Offset(4)))]);
        assert_eq!(reconciled.behind, behind, "{}", node.medium());
    }
}

#[test]
fn a_snapshots_records_import_with_their_gaps_and_reopen_as_they_were() {
    for node in Node::both() {
        node.append("old", &records(0..10));
        let imported: Vec<u64> = [0, 3, 7, 8]
            .into_iter()
            .chain((20..90).step_by(3))
            .collect();
        node.commit(|log, batch| {
            log.stage_clear(batch).expect("stage clear");
            for record in records(imported.iter().copied()) {
                let encoded = crate::record_codec::encode(&record).expect("encode");
                log.stage_import(batch, &topic("t"), record.offset, encoded)
                    .expect("stage import");
            }
        });
        assert_eq!(node.offsets("t"), imported, "{}", node.medium());
        assert_eq!(node.offsets("old"), Vec::<u64>::new());
        assert!(node.segments("t").len() > 1);
        node.flush();

        let node = node.restart(0);
        assert_eq!(node.dirs().len(), 1, "{}: {:?}", node.medium(), node.dirs());
        // The snapshot's topic ends past its last record: not behind.
        let reconciled = node.reconcile(&[("t", 0, 100)]);
        assert_eq!(reconciled, Reconciled::default(), "{}", node.medium());
        assert_eq!(node.offsets("t"), imported);
        node.append("t", &records(100..102));
        assert_eq!(node.offsets("t").len(), imported.len() + 2);
    }
}

#[test]
fn readers_on_other_threads_read_while_records_are_appended_removed_and_rewritten() {
    for node in Node::both() {
        node.append("t", &records(0..40));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (log, stop) = (node.log.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut reads = 0;
                    while !stop.load(Ordering::SeqCst) || reads == 0 {
                        let range = Offset(0)..Offset(40);
                        let page = log.read_page(&topic("t"), range, usize::MAX, usize::MAX);
                        let page = page.expect("read while the log changes");
                        let offsets: Vec<u64> = page.iter().map(|r| r.offset.0).collect();
                        assert!(offsets.windows(2).all(|pair| pair[0] < pair[1]));
                        assert!(offsets.iter().all(|&offset| offset < 40));
                        assert!(offsets.contains(&39), "the last is never removed");
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        for round in 0..20 {
            let from = 40 + round * 10;
            node.append("t", &records(from..from + 10));
            // Most of what came before, a little at a time: segments get
            // more than half tombstoned, and rewritten.
            node.remove("t", (round * 2..round * 2 + 2).filter(|&o| o < 39));
        }
        stop.store(true, Ordering::SeqCst);
        for reader in readers {
            assert!(reader.join().expect("a reader") > 0);
        }
        let expected: Vec<u64> = (39..240).collect();
        assert_eq!(node.offsets("t"), expected, "{}", node.medium());
        assert!(node.tombstones() < 39, "some segment was rewritten");
    }
}
