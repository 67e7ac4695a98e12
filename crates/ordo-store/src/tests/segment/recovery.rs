//! Opening a segment log repairs what a crash can leave (a torn last frame,
//! a preallocated tail of zeros, an index missing, behind or ahead of its
//! log) and reports it; corruption that no crash leaves is refused with an
//! error naming the file, and never read back as an item.

use std::path::{Path, PathBuf};

use super::support::{append, item, items, read_all, small, Medium, DIR};
use crate::segment::{Files, RecoveryAction, SegmentLog, SegmentOptions};
use crate::{MemDisk, StoreError};

/// The path of a segment's file, relative to the medium's root.
fn segment_file(base_seq: u64, extension: &str) -> PathBuf {
    Path::new(DIR).join(format!("{base_seq:020}.{extension}"))
}

/// The bytes of item `seq`'s frame.
fn frame_len(seq: u64) -> u64 {
    24 + item(seq).payload.len() as u64
}

/// The bytes of the frames of items `seqs`.
fn frames_len(seqs: std::ops::Range<u64>) -> u64 {
    seqs.map(frame_len).sum()
}

/// Appends from 0 until the newest segment holds at least `items` items,
/// closes the log, and returns the newest segment's base and the log's end.
fn fill_newest_segment(medium: &Medium, items: u64) -> (u64, u64) {
    let (mut log, _) = medium.open(&small());
    loop {
        let newest = log.sealed_segments().last().map(|sealed| sealed.end_seq);
        if let Some(newest) = newest.filter(|newest| log.next_seq() - newest >= items) {
            let end = log.next_seq();
            log.close().expect("close");
            return (newest, end);
        }
        let next = log.next_seq();
        append(&mut log, next..next + 1);
    }
}

fn flip_byte(files: &Files, path: &Path, at: u64) {
    let file = files.open(path).expect("open");
    let mut byte = [0];
    file.read_exact_at(at, &mut byte).expect("read");
    file.write_at(at, &[byte[0] ^ 0x10]).expect("write");
    file.sync_data().expect("sync");
}

#[test]
fn a_crash_that_tears_the_last_frame_leaves_the_log_at_the_last_whole_one() {
    // Appends written at once, unsynced; one segment, preallocated.
    let options = SegmentOptions {
        segment_bytes: 64 * 1024,
        write_buffer_bytes: 0,
        ..small()
    };
    let newest = segment_file(0, "log");
    for torn_bytes in [1, 7, 8, 20, frame_len(21) - 1] {
        let disk = MemDisk::new();
        let medium = Medium::Memory(disk.clone());
        let (mut log, _) = medium.open(&options);
        append(&mut log, 0..20);
        log.sync().expect("sync");
        append(&mut log, 20..25);
        drop(log);
        // Item 20 survives whole, item 21 torn.
        let keep = frame_len(20) + torn_bytes;
        disk.crash_with(0, |path, _| if path == newest { keep } else { 0 });

        let (log, recovery) = medium.open(&options);

        assert_eq!(log.next_seq(), 21, "torn after {torn_bytes}");
        assert_eq!(read_all(&log, 0), items(0..21));
        let expected = RecoveryAction::CutTornTail {
            path: newest.clone(),
            from_len: 64 * 1024,
            to_len: frames_len(0..21),
        };
        assert_eq!(recovery.actions, vec![expected], "torn after {torn_bytes}");
    }
}

#[test]
fn a_torn_frame_at_the_end_of_a_real_file_is_cut_off() {
    let medium = Medium::Real(tempfile::tempdir().expect("temp dir"));
    let (newest, end) = fill_newest_segment(&medium, 3);
    let path = segment_file(newest, "log");
    let mut frame = Vec::new();
    item(end).as_ref().encode(&mut frame);
    let files = medium.files();
    let file = files.open(&path).expect("open");
    let len = file.len().expect("len");
    file.write_at(len, &frame[..frame.len() / 2])
        .expect("half a frame");

    let (log, recovery) = medium.open(&small());

    assert_eq!(log.next_seq(), end);
    assert_eq!(read_all(&log, 0), items(0..end));
    assert!(
        matches!(
            recovery.actions.as_slice(),
            [RecoveryAction::CutTornTail { path: cut, to_len, .. }] if cut.ends_with(&path) && *to_len == len
        ),
        "{:?}",
        recovery.actions
    );
}

#[test]
fn zeros_of_a_preallocated_tail_after_a_crash_are_the_end_of_the_data() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&small());
        append(&mut log, 0..100);
        log.sync().expect("sync");
        let newest = log.sealed_segments().last().expect("sealed").end_seq;
        // No close: the newest segment keeps its preallocated tail.
        drop(log);
        if let Medium::Memory(disk) = &medium {
            disk.crash(0);
        }
        let len = medium
            .files()
            .open(&segment_file(newest, "log"))
            .expect("open")
            .len();
        assert_eq!(len.expect("len"), 1024, "{}", medium.name());

        let (mut log, recovery) = medium.open(&small());
        assert_eq!(recovery.actions, vec![], "{}", medium.name());
        assert_eq!(read_all(&log, 0), items(0..100), "{}", medium.name());
        append(&mut log, 100..120);
        log.sync().expect("sync");
        drop(log);
        let (log, _) = medium.open(&small());
        assert_eq!(read_all(&log, 0), items(0..120), "{}", medium.name());
    }
}

#[test]
fn a_missing_index_is_rebuilt_and_reads_are_the_same() {
    for medium in Medium::both() {
        let (newest, end) = fill_newest_segment(&medium, 5);
        let files = medium.files();
        for path in [segment_file(0, "index"), segment_file(newest, "timeindex")] {
            files.remove(&path).expect("remove");
        }
        files.sync_dir(Path::new(DIR)).expect("sync dir");

        let (log, recovery) = medium.open(&small());

        let rebuilt: Vec<&Path> = recovery
            .actions
            .iter()
            .map(|action| match action {
                RecoveryAction::RebuiltIndex { path, points } if *points > 0 => path.as_path(),
                other => panic!("{}: {other}", medium.name()),
            })
            .collect();
        assert_eq!(rebuilt.len(), 2, "{}", medium.name());
        assert!(rebuilt[0].ends_with(segment_file(0, "index")));
        assert!(rebuilt[1].ends_with(segment_file(newest, "index")));
        assert_eq!(read_all(&log, 0), items(0..end), "{}", medium.name());
        for from in [3, newest / 2, newest + 2, end - 1] {
            assert_eq!(read_all(&log, from), items(from..end));
        }
        log.close().expect("close");
        let (_, recovery) = medium.open(&small());
        assert_eq!(recovery.actions, vec![], "{}", medium.name());
    }
}

#[test]
fn an_index_ahead_of_its_log_is_cut() {
    for medium in Medium::both() {
        let (newest, _) = fill_newest_segment(&medium, 8);
        // The log lost its last items but the index kept their points (a
        // crash that kept the index's writes and not the log's).
        let kept = frames_len(newest..newest + 2);
        let file = medium
            .files()
            .open(&segment_file(newest, "log"))
            .expect("open");
        file.set_len(kept).expect("cut");
        file.sync_data().expect("sync");

        let (log, recovery) = medium.open(&small());

        assert!(
            matches!(
                recovery.actions.as_slice(),
                [RecoveryAction::CutIndex { kept: 1, dropped, .. }] if *dropped >= 1
            ),
            "{}: {:?}",
            medium.name(),
            recovery.actions
        );
        assert_eq!(log.next_seq(), newest + 2);
        assert_eq!(read_all(&log, 0), items(0..newest + 2));
    }
}

#[test]
fn a_flipped_byte_in_the_middle_of_the_newest_segment_is_refused_naming_the_file() {
    // One index point per segment, so opening scans all of the newest one.
    let options = SegmentOptions {
        index_interval_bytes: 1 << 20,
        ..small()
    };
    let path = segment_file(0, "log");
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&options);
        append(&mut log, 0..10);
        log.close().expect("close");
        flip_byte(&medium.files(), &path, frame_len(0) + 20);

        let refused = SegmentLog::open(medium.files(), Path::new(DIR), options.clone());

        match refused.map(|_| ()) {
            Err(StoreError::CorruptSegment {
                path: named, at, ..
            }) => {
                assert!(named.ends_with(&path), "{}: {named:?}", medium.name());
                assert_eq!(at, frame_len(0));
            }
            other => panic!("{}: {other:?}", medium.name()),
        }
    }
}

#[test]
fn a_flipped_byte_in_an_older_segment_fails_the_read_that_meets_it() {
    let path = segment_file(0, "log");
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&small());
        append(&mut log, 0..100);
        log.close().expect("close");
        flip_byte(&medium.files(), &path, frames_len(0..2) + 12);

        let (log, _) = medium.open(&small());

        assert_eq!(
            log.read(0, 2, usize::MAX).expect("before the flip"),
            items(0..2)
        );
        match log.read(0, 3, usize::MAX) {
            Err(StoreError::CorruptSegment { path: named, .. }) => {
                assert!(named.ends_with(&path), "{}: {named:?}", medium.name());
            }
            other => panic!("{}: {other:?}", medium.name()),
        }
    }
}

#[test]
fn an_unfinished_replacement_is_removed_and_the_segment_reads_whole() {
    for medium in Medium::both() {
        let (newest, end) = fill_newest_segment(&medium, 1);
        assert!(newest > 0);
        let files = medium.files();
        let leftover = Path::new(DIR).join(format!("{:020}.log.rewrite", 0));
        files
            .create(&leftover)
            .expect("create")
            .write_at(0, b"half")
            .expect("write");
        files.sync_dir(Path::new(DIR)).expect("sync dir");

        let (log, recovery) = medium.open(&small());

        assert!(
            matches!(
                recovery.actions.as_slice(),
                [RecoveryAction::RemovedLeftover { path }, RecoveryAction::RebuiltIndex { .. }]
                    if path.ends_with(&leftover)
            ),
            "{}: {:?}",
            medium.name(),
            recovery.actions
        );
        assert_eq!(read_all(&log, 0), items(0..end));
    }
}
