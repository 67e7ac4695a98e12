//! Walking a segment's log: its items read from an index point (or the
//! file's start) with their order checked, and the index points appends
//! would have placed, which recovery checks an index against or rebuilds
//! it from.

use super::super::file::File;
use super::super::frame::{self, Scanner, Stop};
use super::super::index::{IndexPoint, SegmentTail};
use super::super::item;
use super::super::log::SegmentOptions;
use crate::error::StoreError;

/// What walking a segment's log found.
pub(super) struct Walk {
    /// Points for the items walked that get one (not the starting point).
    pub(super) points: Vec<IndexPoint>,
    pub(super) last_seq: Option<u64>,
    /// Where the items walked end.
    pub(super) tail: SegmentTail,
    /// Why they end there.
    pub(super) stop: Stop,
}

/// Walks the items of a segment's `log` from index point `start` (or the
/// file's start) up to `limit`, checking their order and placing index
/// points as appends did. `None` if `start` does not name the item at its
/// position (an index ahead of, or stale against, its log).
pub(super) fn walk(
    log: &File,
    base_seq: u64,
    start: Option<IndexPoint>,
    limit: u64,
    options: &SegmentOptions,
) -> Result<Option<Walk>, StoreError> {
    let mut tail = start.map_or_else(SegmentTail::default, SegmentTail::at);
    let mut scanner = Scanner::new(log, tail.data_len, limit);
    let mut points = Vec::new();
    let mut last_seq = None;
    while let Some((position, payload)) = scanner.next_frame()? {
        let item = item::decode(payload);
        let item = match (item, last_seq, start) {
            (item, None, Some(start)) if item.is_none_or(|item| item.seq != start.seq) => {
                return Ok(None);
            }
            (Some(item), None, _) if item.seq >= base_seq => item,
            (Some(item), Some(last), _) if item.seq > last => item,
            (item, last, _) => {
                let detail = match (item, last) {
                    (None, _) => "a frame too short for an item".to_owned(),
                    (Some(item), Some(last)) => format!("seq {} after seq {last}", item.seq),
                    (Some(item), None) => {
                        format!("seq {} before the segment's base {base_seq}", item.seq)
                    }
                };
                return Err(StoreError::CorruptSegment {
                    path: log.path().to_path_buf(),
                    at: position,
                    detail,
                });
            }
        };
        let frame_len = frame::frame_len(payload.len()) as u64;
        let interval = options.index_interval_bytes;
        points.extend(tail.advance(item.seq, item.timestamp_ms, frame_len, interval));
        last_seq = Some(item.seq);
    }
    if start.is_some() && last_seq.is_none() {
        return Ok(None);
    }
    let end = scanner.end().expect("the scan ended");
    debug_assert_eq!(end.valid_len, tail.data_len, "frames are contiguous");
    Ok(Some(Walk {
        points,
        last_seq,
        tail,
        stop: end.stop,
    }))
}

/// Walks a segment's whole log, to rebuild its index.
pub(super) fn walk_all(
    log: &File,
    base_seq: u64,
    limit: u64,
    options: &SegmentOptions,
) -> Result<Walk, StoreError> {
    let walked = walk(log, base_seq, None, limit, options)?;
    Ok(walked.expect("a walk from the file's start has nothing to disagree with"))
}
