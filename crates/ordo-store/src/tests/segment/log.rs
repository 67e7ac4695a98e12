//! A segment log reads back exactly what was appended, across segments and
//! reopens, on both media; and truncation, purge, reset, time seeks,
//! sealed segments and replacement keep it a log of contiguous items.

use std::path::Path;

use super::support::{append, item, items, read_all, small, Medium, DIR};
use crate::segment::{Files, Item, ItemRef, SegmentLog, SegmentOptions};
use crate::{MemDisk, StoreError};

#[test]
fn appended_items_read_back_across_segments_and_after_a_clean_reopen() {
    for medium in Medium::both() {
        let (mut log, recovery) = medium.open(&small());
        assert!(recovery.actions.is_empty());
        assert_eq!((log.first_seq(), log.next_seq()), (0, 0));
        append(&mut log, 0..200);
        // Unsynced appends are readable at once.
        assert_eq!(read_all(&log, 0), items(0..200), "{}", medium.name());
        assert_eq!(log.sync().expect("sync"), Some(199));
        assert!(log.sealed_segments().len() > 5, "{}", medium.name());
        log.close().expect("close");

        let (log, recovery) = medium.open(&small());
        assert_eq!(recovery.actions, vec![], "{}", medium.name());
        assert_eq!((log.first_seq(), log.next_seq()), (0, 200));
        assert_eq!(read_all(&log, 0), items(0..200), "{}", medium.name());
        assert_eq!(read_all(&log, 137), items(137..200));
        assert_eq!(log.read(50, 3, usize::MAX).expect("read"), items(50..53));
        // Payload bytes stop a read before the item that would pass them…
        let budget = item(50).payload.len() + item(51).payload.len();
        assert_eq!(log.read(50, 10, budget).expect("read"), items(50..52));
        // …but a read always returns one item if there is one.
        assert_eq!(log.read(50, 10, 0).expect("read"), items(50..51));
        assert_eq!(read_all(&log, 200), vec![]);
    }
}

#[test]
fn one_sync_makes_every_append_before_it_durable() {
    let disk = MemDisk::new();
    let medium = Medium::Memory(disk.clone());
    let (mut log, _) = medium.open(&small());
    append(&mut log, 0..150);
    assert_eq!(log.sync().expect("one sync for all"), Some(149));
    append(&mut log, 150..170);
    drop(log);

    disk.crash(0);

    // Every synced append, and (a roll syncs the segment it seals) maybe
    // some after: a prefix of the appends.
    let (log, _) = medium.open(&small());
    let survived = log.next_seq();
    assert!((150..=170).contains(&survived), "{survived}");
    assert_eq!(read_all(&log, 0), items(0..survived));
}

#[test]
fn readers_may_share_the_log_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<SegmentLog>();
}

#[test]
fn a_batch_of_appends_is_taken_whole_or_refused_whole() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&small());
        let batch = items(0..30);
        log.append_batch(batch.iter().map(Item::as_ref))
            .expect("append batch");
        let gap = [item(30), item(32)];
        let refused = log.append_batch(gap.iter().map(Item::as_ref));
        assert!(
            matches!(
                refused,
                Err(StoreError::OutOfSequence {
                    expected: 31,
                    found: 32,
                    ..
                })
            ),
            "{refused:?}"
        );
        let too_large = ItemRef {
            seq: 30,
            timestamp_ms: 0,
            payload: &vec![0; 64 * 1024 * 1024],
        };
        assert!(matches!(
            log.append_batch([too_large]),
            Err(StoreError::ItemTooLarge { .. })
        ));
        assert_eq!(log.next_seq(), 30);
        assert_eq!(log.sync().expect("sync"), Some(29));
        assert_eq!(read_all(&log, 0), items(0..30), "{}", medium.name());
    }
}

#[test]
fn truncate_after_drops_later_items_across_segments_and_appends_follow_on() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&small());
        append(&mut log, 0..200);
        log.sync().expect("sync");
        let segments = log.sealed_segments().len();

        log.truncate_after(37).expect("truncate");
        assert_eq!(log.next_seq(), 38);
        assert!(log.sealed_segments().len() < segments);
        assert_eq!(read_all(&log, 0), items(0..38), "{}", medium.name());
        // Items after the cut are new ones.
        let replacement = Item {
            payload: b"new".to_vec(),
            ..item(38)
        };
        log.append(38, replacement.timestamp_ms, &replacement.payload)
            .expect("append after the cut");
        append(&mut log, 39..60);
        log.sync().expect("sync");
        drop(log);

        let (mut log, _) = medium.open(&small());
        let mut expected = items(0..38);
        expected.push(replacement);
        expected.extend(items(39..60));
        assert_eq!(read_all(&log, 0), expected, "{}", medium.name());

        // Down to nothing, and nothing below the first item.
        log.truncate_after(59).expect("a no-op");
        log.purge_before(30).expect("purge");
        let first = log.first_seq();
        assert!(matches!(
            log.truncate_after(first - 2),
            Err(StoreError::Purged { .. })
        ));
        log.truncate_after(first - 1).expect("truncate everything");
        assert_eq!((log.first_seq(), log.next_seq()), (first, first));
        assert_eq!(read_all(&log, first), vec![]);
    }
}

#[test]
fn purge_before_removes_only_whole_sealed_segments() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&small());
        append(&mut log, 0..200);
        log.sync().expect("sync");
        let sealed = log.sealed_segments();
        let middle = &sealed[sealed.len() / 2];
        let inside = (middle.base_seq + middle.end_seq) / 2;

        let removed = log.purge_before(inside).expect("purge");

        assert_eq!(removed, sealed.len() / 2);
        assert_eq!(log.first_seq(), middle.base_seq, "{}", medium.name());
        assert_eq!(read_all(&log, middle.base_seq), items(middle.base_seq..200));
        assert!(matches!(
            log.read(middle.base_seq - 1, 1, usize::MAX),
            Err(StoreError::Purged { .. })
        ));
        // The segment appends go to is never purged.
        log.purge_before(u64::MAX).expect("purge");
        assert_eq!(log.sealed_segments(), vec![]);
        let newest = log.first_seq();
        drop(log);

        let (log, _) = medium.open(&small());
        assert_eq!(log.first_seq(), newest);
        assert_eq!(read_all(&log, newest), items(newest..200));
    }
}

#[test]
fn reset_empties_the_log_to_start_again_at_any_seq() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&small());
        append(&mut log, 0..100);
        log.reset(1000).expect("reset");
        assert_eq!((log.first_seq(), log.next_seq()), (1000, 1000));
        assert_eq!(log.sync().expect("sync"), None);
        append(&mut log, 1000..1050);
        log.sync().expect("sync");
        drop(log);

        let (log, _) = medium.open(&small());
        assert_eq!(log.first_seq(), 1000, "{}", medium.name());
        assert_eq!(read_all(&log, 1000), items(1000..1050));
    }
}

#[test]
fn seek_time_finds_the_first_item_at_or_after_a_time() {
    // Timestamps mostly rise, with dips (a new leader's clock behind).
    let timestamp = |seq: u64| seq * 10 - if seq % 17 == 3 { 95 } else { 0 };
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&small());
        log.reset(10).expect("start at 10");
        for seq in 10..300 {
            let item = item(seq);
            log.append(seq, timestamp(seq), &item.payload)
                .expect("append");
        }
        log.sync().expect("sync");
        let expected = |t: u64| (10..300).find(|seq| timestamp(*seq) >= t);
        let check = |log: &SegmentLog| {
            for t in (0..3100).step_by(7) {
                let found = log.seek_time(t).expect("seek");
                assert_eq!(found, expected(t), "{} at {t}", medium.name());
            }
        };
        check(&log);
        log.close().expect("close");
        let (log, _) = medium.open(&small());
        check(&log);
    }
}

#[test]
fn a_replaced_segment_reads_back_its_survivors_and_must_keep_its_last_item() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&small());
        append(&mut log, 0..200);
        log.sync().expect("sync");
        let target = log.sealed_segments()[2].clone();
        let last = target.end_seq - 1;
        let survivors = |seq: &u64| seq % 3 == 1 || *seq == last;
        let kept: Vec<Item> = (target.base_seq..target.end_seq)
            .filter(survivors)
            .map(item)
            .collect();

        let without_last = kept[..kept.len() - 1].to_vec();
        let refused = log.replace_segment(target.base_seq, without_last);
        assert!(matches!(refused, Err(StoreError::BadReplacement { .. })));
        log.replace_segment(target.base_seq, kept.clone())
            .expect("replace");

        let expected: Vec<Item> = (0..200)
            .filter(|seq| !(target.base_seq..target.end_seq).contains(seq) || survivors(seq))
            .map(item)
            .collect();
        assert_eq!(read_all(&log, 0), expected, "{}", medium.name());
        // A read from a seq compacted away starts at the next survivor.
        let from = target.base_seq + 1;
        let next_survivor = kept.iter().find(|item| item.seq >= from);
        assert_eq!(read_all(&log, from).first(), next_survivor);
        drop(log);

        let (log, recovery) = medium.open(&small());
        assert_eq!(recovery.actions, vec![], "{}", medium.name());
        assert_eq!(read_all(&log, 0), expected, "{}", medium.name());
    }
}

#[test]
fn a_sealed_segment_hard_linked_elsewhere_outlives_its_purge() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&small());
        append(&mut log, 0..100);
        log.sync().expect("sync");
        let first = log.sealed_segments()[0].clone();
        let files = medium.files();
        let snapshot = Path::new("snapshot");
        files.create_dir_all(snapshot).expect("create dir");
        for path in [&first.log, &first.index, &first.time_index] {
            let name = path.file_name().expect("a file name");
            files.hard_link(path, &snapshot.join(name)).expect("link");
        }
        files.sync_dir(snapshot).expect("sync dir");
        drop(log);

        let (mut log, _) = medium.open(&small());
        log.purge_before(first.end_seq).expect("purge");
        assert_eq!(log.first_seq(), first.end_seq);
        let (linked, _) = SegmentLog::open(medium.files(), snapshot, small()).expect("open");
        assert_eq!(
            read_all(&linked, 0),
            items(first.base_seq..first.end_seq),
            "{}",
            medium.name()
        );
    }
}

#[test]
fn a_log_from_before_a_crash_can_never_touch_the_disk_again() {
    let medium = Medium::Memory(MemDisk::new());
    let (mut old, _) = medium.open(&small());
    append(&mut old, 0..10);
    old.sync().expect("sync");
    let Medium::Memory(disk) = &medium else {
        unreachable!()
    };
    disk.crash(0);

    let (new, _) = medium.open(&small());
    assert!(matches!(
        old.append(10, 0, b"leak"),
        Ok(()) | Err(StoreError::Fenced)
    ));
    assert!(matches!(old.sync(), Err(StoreError::Fenced)));
    assert!(matches!(
        old.read(0, 1, usize::MAX),
        Err(StoreError::Fenced)
    ));
    assert_eq!(read_all(&new, 0), items(0..10));
}

#[test]
fn default_options_are_64_mib_segments_with_a_point_every_4_kib() {
    let options = SegmentOptions::default();
    assert_eq!(options.segment_bytes, 64 * 1024 * 1024);
    assert_eq!(options.index_interval_bytes, 4 * 1024);
    // A real segment is preallocated to its size, trimmed on close.
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut log, _) =
        SegmentLog::open(Files::real(dir.path()), Path::new(DIR), options).expect("open");
    append(&mut log, 0..3);
    log.sync().expect("sync");
    let path = dir.path().join(DIR).join(format!("{:020}.log", 0));
    let len = || std::fs::metadata(&path).expect("metadata").len();
    assert_eq!(len(), 64 * 1024 * 1024);
    log.close().expect("close");
    let data: u64 = items(0..3)
        .iter()
        .map(|item| 24 + item.payload.len() as u64)
        .sum();
    assert_eq!(len(), data);
}

/// Direct writes rewrite the block the last one ended in: every sync's
/// items read back, across blocks, rolls during a sync under way, a
/// truncation and a reopen (after a power loss, on the memory disk).
#[test]
fn direct_syncs_keep_every_item_across_blocks_rolls_truncation_and_reopen() {
    let options = SegmentOptions {
        segment_bytes: 16 * 1024,
        index_interval_bytes: 512,
        direct_sync: true,
        ..SegmentOptions::default()
    };
    for medium in Medium::both() {
        let name = medium.name();
        let (mut log, _) = medium.open(&options);
        for start in (0..600).step_by(37) {
            let end = (start + 37).min(600);
            append(&mut log, start..end);
            assert_eq!(log.sync().expect("sync"), Some(end - 1), "{name}");
            assert_eq!(read_all(&log, start), items(start..end), "{name}");
        }
        // Appends roll the segment a sync under way writes.
        let pending = log.begin_sync().expect("begin sync");
        append(&mut log, 600..1500);
        assert!(log.sealed_segments().len() >= 3, "{name}");
        log.synced(pending.sync().expect("pending sync"));
        log.sync().expect("sync");
        assert_eq!(read_all(&log, 0), items(0..1500), "{name}");

        log.truncate_after(1234).expect("truncate");
        append(&mut log, 1235..1300);
        log.sync().expect("sync");
        append(&mut log, 1300..1310);
        drop(log);
        if let Medium::Memory(disk) = &medium {
            disk.crash(0);
        }

        let (log, _) = medium.open(&options);
        let survived = log.next_seq();
        assert!((1300..=1310).contains(&survived), "{name}: {survived}");
        assert_eq!(read_all(&log, 0), items(0..survived), "{name}");
    }
}
