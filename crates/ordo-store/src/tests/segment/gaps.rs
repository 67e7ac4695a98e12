//! A log with [`SegmentOptions::allow_gaps`] (a topic's records, by offset):
//! appends may skip seqs but never go back, reads and seeks step over the
//! gaps, and a reopen accepts a segment that starts after the one before it
//! ends; a log without it still refuses both. And `write_out` hands
//! buffered appends to the files without a sync.

use std::path::Path;

use super::support::{item, read_all, small, Medium, DIR};
use crate::segment::{Item, SegmentLog, SegmentOptions};
use crate::StoreError;

fn gappy() -> SegmentOptions {
    SegmentOptions {
        allow_gaps: true,
        ..small()
    }
}

/// Every third seq from 0 to `end`, skipping the others.
fn every_third(end: u64) -> Vec<Item> {
    (0..end).step_by(3).map(item).collect()
}

fn append_items(log: &mut SegmentLog, items: &[Item]) -> Result<(), StoreError> {
    log.append_batch(items.iter().map(Item::as_ref))
}

#[test]
fn appends_may_skip_seqs_but_never_go_back() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&gappy());
        append_items(&mut log, &[item(5), item(7)]).expect("append with gaps");
        assert_eq!(log.next_seq(), 8);
        for (seqs, why) in [([7, 9], "behind next_seq"), ([9, 9], "not increasing")] {
            let refused = append_items(&mut log, &seqs.map(item));
            assert!(
                matches!(refused, Err(StoreError::OutOfSequence { .. })),
                "{why}: {refused:?}"
            );
        }
        assert_eq!(log.next_seq(), 8, "a refused batch is refused whole");
        assert_eq!(read_all(&log, 0), vec![item(5), item(7)]);
        assert_eq!(read_all(&log, 6), vec![item(7)], "from inside a gap");
        assert_eq!(log.seek_time(item(6).timestamp_ms).expect("seek"), Some(7));
    }
}

#[test]
fn a_log_without_gaps_still_refuses_a_skipped_seq() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&small());
        let refused = log.append(1, 0, b"x");
        assert!(matches!(
            refused,
            Err(StoreError::OutOfSequence {
                expected: 0,
                found: 1,
                ..
            })
        ));
    }
}

#[test]
fn gaps_across_segment_boundaries_survive_a_reopen_and_a_crash() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&gappy());
        let written = every_third(600);
        append_items(&mut log, &written).expect("append");
        log.sync().expect("sync");
        assert!(log.sealed_segments().len() > 2, "{}", medium.name());
        // Cut into the gap after the second segment's first item (at
        // base + 2), then append an item too large to share a segment: the
        // segment rolled to starts where the cut ended (base + 4), after the
        // last item kept.
        let base = log.sealed_segments()[1].base_seq;
        log.truncate_after(base + 3).expect("truncate into a gap");
        let large = Item {
            seq: base + 10,
            timestamp_ms: item(base + 10).timestamp_ms,
            payload: vec![7; 1000],
        };
        let mut later = vec![large];
        later.extend((base + 20..base + 400).step_by(5).map(item));
        append_items(&mut log, &later).expect("append after the cut");
        log.sync().expect("sync");
        drop(log);
        if let Medium::Memory(disk) = &medium {
            disk.crash(0);
        }

        let (log, _) = medium.open(&gappy());
        let kept = written.into_iter().filter(|i| i.seq <= base + 3);
        let expected: Vec<Item> = kept.chain(later).collect();
        assert_eq!(read_all(&log, 0), expected, "{}", medium.name());
        let last = expected.last().map_or(0, |i| i.seq);
        assert_eq!(log.next_seq(), last + 1);
        let sealed = log.sealed_segments();
        assert!(
            sealed
                .windows(2)
                .any(|pair| pair[0].end_seq < pair[1].base_seq),
            "some segment starts after the one before it ends: {sealed:?}"
        );
        drop(log);

        // Without gaps allowed, the same files are refused.
        let refused = SegmentLog::open(medium.files(), Path::new(DIR), small());
        assert!(
            matches!(refused, Err(StoreError::SegmentGap { .. })),
            "{}",
            medium.name()
        );
    }
}

#[test]
fn a_replaced_segment_of_a_gappy_log_keeps_its_bounds() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&gappy());
        append_items(&mut log, &every_third(300)).expect("append");
        let first = log.sealed_segments()[0].clone();
        let survivors: Vec<Item> = read_all(&log, first.base_seq)
            .into_iter()
            .filter(|i| i.seq < first.end_seq && (i.seq % 2 == 0 || i.seq + 1 == first.end_seq))
            .collect();
        log.replace_segment(first.base_seq, survivors.clone())
            .expect("replace");
        log.sync().expect("sync");
        drop(log);
        let (log, _) = medium.open(&gappy());
        let read: Vec<Item> = read_all(&log, 0)
            .into_iter()
            .take_while(|i| i.seq < first.end_seq)
            .collect();
        assert_eq!(read, survivors, "{}", medium.name());
    }
}

#[test]
fn written_out_appends_outlive_the_process_but_buffered_ones_do_not() {
    for medium in Medium::both() {
        let (mut log, _) = medium.open(&gappy());
        append_items(&mut log, &[item(1), item(4)]).expect("append");
        log.write_out().expect("write out");
        append_items(&mut log, &[item(6)]).expect("append, buffered");
        // The process dies: no sync, no close, the buffer is gone.
        drop(log);
        let (log, _) = medium.open(&gappy());
        assert_eq!(
            read_all(&log, 0),
            vec![item(1), item(4)],
            "{}",
            medium.name()
        );
    }
}
