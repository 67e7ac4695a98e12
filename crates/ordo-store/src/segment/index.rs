//! A segment's two sparse indexes, kept in step: the offset index
//! (`<base>.index`, entries `(seq u64 LE, position u64 LE)`) and the time
//! index (`<base>.timeindex`, entries `(max_timestamp_ms u64 LE, seq u64
//! LE)`). Entry `i` of both files is one [`IndexPoint`].
//!
//! An item gets a point if it is its segment's first, or starts at least
//! the index interval after the item of the previous point; appends,
//! recovery and rewrites all place points through [`SegmentTail`], so a
//! rebuilt index is the index that was lost. The time index's timestamp is the greatest of
//! the items *before* the point's item, so it never decreases along the
//! file, and the first item with a timestamp at or after `t` lies at or
//! after the last point whose timestamp is below `t`.
//!
//! Both are derived data: never synced on their own except when a segment
//! is sealed, and checked against the log by recovery.

use super::file::File;
use crate::error::StoreError;

/// Bytes of one entry of either index file.
pub(crate) const ENTRY_BYTES: u64 = 16;

/// One point of a segment's index: an item, where it starts, and the
/// greatest timestamp of the items before it in its segment (0 if none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexPoint {
    pub seq: u64,
    pub position: u64,
    pub max_timestamp_before_ms: u64,
}

/// The end of a segment's items, as the next item to go there sees it:
/// where it starts, the last index point before it, and the greatest
/// timestamp so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SegmentTail {
    /// Bytes of whole frames so far; the file may be longer (preallocated).
    pub data_len: u64,
    pub last_point: Option<IndexPoint>,
    /// The greatest timestamp of the items so far; `None` if there are none.
    pub max_timestamp_ms: Option<u64>,
}

impl SegmentTail {
    /// The tail just before `point`'s item (which is already indexed).
    pub(crate) fn at(point: IndexPoint) -> SegmentTail {
        SegmentTail {
            data_len: point.position,
            last_point: Some(point),
            max_timestamp_ms: Some(point.max_timestamp_before_ms),
        }
    }

    /// Moves past an item with `seq` and `timestamp_ms` whose frame is
    /// `frame_len` bytes, and returns the index point it gets, if any.
    pub(crate) fn advance(
        &mut self,
        seq: u64,
        timestamp_ms: u64,
        frame_len: u64,
        interval_bytes: u64,
    ) -> Option<IndexPoint> {
        let position = self.data_len;
        let point =
            wants_point(self.last_point.as_ref(), position, interval_bytes).then_some(IndexPoint {
                seq,
                position,
                max_timestamp_before_ms: self.max_timestamp_ms.unwrap_or(0),
            });
        self.last_point = point.or(self.last_point);
        self.data_len += frame_len;
        self.max_timestamp_ms = self.max_timestamp_ms.max(Some(timestamp_ms));
        point
    }
}

/// Whether the item starting at `position` gets an index point, after the
/// segment's `last` one (the item of `last` itself never does).
fn wants_point(last: Option<&IndexPoint>, position: u64, interval_bytes: u64) -> bool {
    last.is_none_or(|last| position > last.position && position - last.position >= interval_bytes)
}

/// How many of `points` form a valid index of a segment from `base_seq`
/// whose data is `data_len` bytes: the longest prefix whose seqs and
/// positions strictly increase inside the segment and whose timestamps
/// never decrease.
pub(crate) fn valid_prefix(points: &[IndexPoint], base_seq: u64, data_len: u64) -> usize {
    let mut previous: Option<&IndexPoint> = None;
    points
        .iter()
        .take_while(|point| {
            let in_segment = point.seq >= base_seq && point.position < data_len;
            let ordered = previous.is_none_or(|previous| {
                point.seq > previous.seq
                    && point.position > previous.position
                    && point.max_timestamp_before_ms >= previous.max_timestamp_before_ms
            });
            previous = Some(point);
            in_segment && ordered
        })
        .count()
}

/// The index files of one segment.
pub(crate) struct SegmentIndex {
    offsets: File,
    times: File,
    /// Points written to both files.
    on_disk: usize,
    /// Every point, for the segment being appended to (those past `on_disk`
    /// not yet written). `None` for a sealed segment: its points are read
    /// from the files, so an old segment costs no memory.
    loaded: Option<Vec<IndexPoint>>,
}

impl SegmentIndex {
    /// A segment's index files, none of their entries trusted yet.
    pub(crate) fn new(offsets: File, times: File) -> SegmentIndex {
        SegmentIndex {
            offsets,
            times,
            on_disk: 0,
            loaded: None,
        }
    }

    /// Trusts the first `count` entries of the files and reads points from
    /// them: a sealed segment's index.
    pub(crate) fn trust(&mut self, count: usize) {
        self.on_disk = count;
        self.loaded = None;
    }

    /// Holds `points` in memory, the first `on_disk` of them already in the
    /// files: the index of the segment being appended to.
    pub(crate) fn hold(&mut self, points: Vec<IndexPoint>, on_disk: usize) {
        self.on_disk = on_disk;
        self.loaded = Some(points);
    }

    pub(crate) fn offsets_file(&self) -> &File {
        &self.offsets
    }

    /// The lengths of the two files in bytes, as found.
    pub(crate) fn file_lens(&self) -> Result<(u64, u64), StoreError> {
        Ok((self.offsets.len()?, self.times.len()?))
    }

    /// The points both files hold, up to the first entry where they
    /// disagree.
    pub(crate) fn read_all(&self) -> Result<Vec<IndexPoint>, StoreError> {
        let (offsets, times) = self.file_lens()?;
        let count = (offsets.min(times) / ENTRY_BYTES) as usize;
        let read = |file: &File| -> Result<Vec<(u64, u64)>, StoreError> {
            let mut bytes = vec![0; count * ENTRY_BYTES as usize];
            file.read_exact_at(0, &mut bytes)?;
            Ok(bytes
                .chunks_exact(ENTRY_BYTES as usize)
                .map(decode_entry)
                .collect())
        };
        Ok(read(&self.offsets)?
            .into_iter()
            .zip(read(&self.times)?)
            .map_while(|((seq, position), (max_timestamp_before_ms, time_seq))| {
                (seq == time_seq).then_some(IndexPoint {
                    seq,
                    position,
                    max_timestamp_before_ms,
                })
            })
            .collect())
    }

    /// The number of points.
    pub(crate) fn len(&self) -> usize {
        self.loaded.as_ref().map_or(self.on_disk, Vec::len)
    }

    pub(crate) fn last(&self) -> Result<Option<IndexPoint>, StoreError> {
        match self.len() {
            0 => Ok(None),
            len => self.point(len - 1).map(Some),
        }
    }

    /// How many points are at or before `seq`.
    pub(crate) fn count_at_or_before(&self, seq: u64) -> Result<usize, StoreError> {
        self.count_where(|point| point.seq <= seq)
    }

    /// The last point at or before `seq`.
    pub(crate) fn at_or_before(&self, seq: u64) -> Result<Option<IndexPoint>, StoreError> {
        self.last_where(|point| point.seq <= seq)
    }

    /// The last point whose items before it are all older than
    /// `timestamp_ms`.
    // The time index's lookup: `RecordLog::seek_time` still bisects.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn last_older_than(
        &self,
        timestamp_ms: u64,
    ) -> Result<Option<IndexPoint>, StoreError> {
        self.last_where(|point| point.max_timestamp_before_ms < timestamp_ms)
    }

    /// Adds a point after the last (the segment must be in memory).
    pub(crate) fn push(&mut self, point: IndexPoint) {
        self.loaded
            .as_mut()
            .expect("points are added only to the segment being appended to")
            .push(point);
    }

    /// Writes the points not yet in the files (one write per file).
    pub(crate) fn write_pending(&mut self) -> Result<(), StoreError> {
        let Some(points) = &self.loaded else {
            return Ok(());
        };
        let pending = &points[self.on_disk..];
        if pending.is_empty() {
            return Ok(());
        }
        let at = self.on_disk as u64 * ENTRY_BYTES;
        let (offsets, times) = encode(pending);
        self.offsets.write_at(at, &offsets)?;
        self.times.write_at(at, &times)?;
        self.on_disk = points.len();
        Ok(())
    }

    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        self.offsets.sync_data()?;
        self.times.sync_data()
    }

    /// Writes every point, syncs, and keeps them on disk only: the segment
    /// is sealed.
    pub(crate) fn seal(&mut self) -> Result<(), StoreError> {
        self.write_pending()?;
        self.sync()?;
        self.loaded = None;
        Ok(())
    }

    /// Reads every point into memory: the segment is appended to again.
    pub(crate) fn load(&mut self) -> Result<(), StoreError> {
        if self.loaded.is_none() {
            let mut points = self.read_all()?;
            points.truncate(self.on_disk);
            self.loaded = Some(points);
        }
        Ok(())
    }

    /// Keeps the first `count` points, in memory and in the files.
    pub(crate) fn cut_to(&mut self, count: usize) -> Result<(), StoreError> {
        let len = count as u64 * ENTRY_BYTES;
        self.offsets.set_len(len)?;
        self.times.set_len(len)?;
        if let Some(points) = &mut self.loaded {
            points.truncate(count);
        }
        self.on_disk = self.on_disk.min(count);
        Ok(())
    }

    /// Replaces both files' contents with `points`, synced.
    pub(crate) fn rewrite(&mut self, points: &[IndexPoint]) -> Result<(), StoreError> {
        self.cut_to(0)?;
        let (offsets, times) = encode(points);
        self.offsets.write_at(0, &offsets)?;
        self.times.write_at(0, &times)?;
        self.sync()?;
        self.on_disk = points.len();
        if self.loaded.is_some() {
            self.loaded = Some(points.to_vec());
        }
        Ok(())
    }

    fn point(&self, i: usize) -> Result<IndexPoint, StoreError> {
        if let Some(points) = &self.loaded {
            return Ok(points[i]);
        }
        let read = |file: &File| -> Result<(u64, u64), StoreError> {
            let mut bytes = [0; ENTRY_BYTES as usize];
            file.read_exact_at(i as u64 * ENTRY_BYTES, &mut bytes)?;
            Ok(decode_entry(&bytes))
        };
        let (seq, position) = read(&self.offsets)?;
        let (max_timestamp_before_ms, time_seq) = read(&self.times)?;
        if time_seq != seq {
            return Err(StoreError::CorruptSegment {
                path: self.times.path().to_path_buf(),
                at: i as u64 * ENTRY_BYTES,
                detail: format!("time index entry for seq {time_seq}, offset index for {seq}"),
            });
        }
        Ok(IndexPoint {
            seq,
            position,
            max_timestamp_before_ms,
        })
    }

    /// The last point for which `holds` is true, where it holds for a
    /// prefix of the points.
    fn last_where(
        &self,
        holds: impl Fn(&IndexPoint) -> bool,
    ) -> Result<Option<IndexPoint>, StoreError> {
        match self.count_where(holds)? {
            0 => Ok(None),
            count => self.point(count - 1).map(Some),
        }
    }

    /// How many points `holds` is true for, where it holds for a prefix of
    /// the points (binary search).
    fn count_where(&self, holds: impl Fn(&IndexPoint) -> bool) -> Result<usize, StoreError> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if holds(&self.point(middle)?) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        Ok(low)
    }
}

/// Both files' entries for `points`.
fn encode(points: &[IndexPoint]) -> (Vec<u8>, Vec<u8>) {
    let mut offsets = Vec::with_capacity(points.len() * ENTRY_BYTES as usize);
    let mut times = Vec::with_capacity(points.len() * ENTRY_BYTES as usize);
    for point in points {
        offsets.extend_from_slice(&point.seq.to_le_bytes());
        offsets.extend_from_slice(&point.position.to_le_bytes());
        times.extend_from_slice(&point.max_timestamp_before_ms.to_le_bytes());
        times.extend_from_slice(&point.seq.to_le_bytes());
    }
    (offsets, times)
}

fn decode_entry(bytes: &[u8]) -> (u64, u64) {
    let (first, second) = bytes.split_at(8);
    (
        u64::from_le_bytes(first.try_into().expect("8 bytes")),
        u64::from_le_bytes(second.try_into().expect("8 bytes")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(seq: u64, position: u64, max_timestamp_before_ms: u64) -> IndexPoint {
        IndexPoint {
            seq,
            position,
            max_timestamp_before_ms,
        }
    }

    #[test]
    fn a_point_every_interval_starting_with_the_first_item() {
        let mut tail = SegmentTail::default();
        let points: Vec<Option<IndexPoint>> = [(10, 5, 3000), (11, 9, 1000), (12, 2, 100)]
            .into_iter()
            .map(|(seq, timestamp_ms, frame_len)| tail.advance(seq, timestamp_ms, frame_len, 4000))
            .collect();
        assert_eq!(
            points,
            vec![Some(point(10, 0, 0)), None, Some(point(12, 4000, 9))]
        );
        assert_eq!(tail.data_len, 4100);
        assert_eq!(tail.max_timestamp_ms, Some(9));
        // Resumed at a point, its own item gets no second point.
        let mut resumed = SegmentTail::at(point(12, 4000, 9));
        assert_eq!(resumed.advance(12, 2, 100, 1), None);
        assert_eq!(resumed, tail);
    }

    #[test]
    fn the_valid_prefix_stops_at_the_first_point_out_of_place() {
        let points = [point(10, 0, 0), point(20, 100, 5), point(30, 200, 5)];
        assert_eq!(valid_prefix(&points, 10, 300), 3);
        assert_eq!(valid_prefix(&points, 10, 200), 2, "past the data");
        assert_eq!(valid_prefix(&points, 11, 300), 0, "before the base");
        let backwards = [point(10, 0, 0), point(20, 100, 5), point(15, 200, 5)];
        assert_eq!(valid_prefix(&backwards, 10, 300), 2);
        let older = [point(10, 0, 7), point(20, 100, 5)];
        assert_eq!(valid_prefix(&older, 10, 300), 1);
    }
}
