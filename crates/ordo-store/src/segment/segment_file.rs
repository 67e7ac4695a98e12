//! One segment: its three files (`<base>.log`, `<base>.index`,
//! `<base>.timeindex`, the base seq in 20 digits so names sort in seq
//! order), the seq range it covers, and reading its items back through its
//! index, checked frame by frame. Knows nothing of the other segments.

use std::path::{Path, PathBuf};

use super::file::File;
use super::files::Files;
use super::frame::{ByteSource, Scanner, Stop};
use super::index::{IndexPoint, SegmentIndex, SegmentTail};
use super::item::{self, ItemRef};
use crate::error::StoreError;

/// What a file of a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FileKind {
    Log,
    Index,
    TimeIndex,
}

/// The suffix of a file being written to replace a segment's file; the
/// rename over the old one is the replacement's commit point.
pub(crate) const REWRITE_SUFFIX: &str = ".rewrite";

impl FileKind {
    pub(crate) const ALL: [FileKind; 3] = [FileKind::Log, FileKind::Index, FileKind::TimeIndex];

    fn extension(self) -> &'static str {
        match self {
            FileKind::Log => "log",
            FileKind::Index => "index",
            FileKind::TimeIndex => "timeindex",
        }
    }
}

/// The path of a segment's file of `kind`.
pub(crate) fn segment_path(dir: &Path, base_seq: u64, kind: FileKind) -> PathBuf {
    dir.join(format!("{base_seq:020}.{}", kind.extension()))
}

/// The path a replacement of that file is written at first.
pub(crate) fn rewrite_path(dir: &Path, base_seq: u64, kind: FileKind) -> PathBuf {
    let mut path = segment_path(dir, base_seq, kind).into_os_string();
    path.push(REWRITE_SUFFIX);
    path.into()
}

/// A file name of a segment: its base seq, kind, and whether it is a
/// rewrite in progress. `None` for names the engine does not own.
pub(crate) fn parse_name(name: &str) -> Option<(u64, FileKind, bool)> {
    let (name, rewrite) = match name.strip_suffix(REWRITE_SUFFIX) {
        Some(name) => (name, true),
        None => (name, false),
    };
    let (digits, extension) = name.split_once('.')?;
    if digits.len() != 20 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let kind = FileKind::ALL
        .into_iter()
        .find(|kind| kind.extension() == extension)?;
    Some((digits.parse().ok()?, kind, rewrite))
}

/// One segment of a log.
pub(crate) struct Segment {
    pub base_seq: u64,
    /// One past its last item: the next segment's base.
    pub end_seq: u64,
    pub log: File,
    pub index: SegmentIndex,
    /// Where its items end.
    pub tail: SegmentTail,
}

impl Segment {
    /// Creates an empty segment's files at `base_seq` (emptying any there),
    /// the log preallocated to `preallocate_bytes`. The caller syncs `dir`.
    pub(crate) fn create(
        files: &Files,
        dir: &Path,
        base_seq: u64,
        preallocate_bytes: u64,
    ) -> Result<Segment, StoreError> {
        let log = files.create(&segment_path(dir, base_seq, FileKind::Log))?;
        let offsets = files.create(&segment_path(dir, base_seq, FileKind::Index))?;
        let times = files.create(&segment_path(dir, base_seq, FileKind::TimeIndex))?;
        log.preallocate(preallocate_bytes)?;
        let mut index = SegmentIndex::new(offsets, times);
        index.hold(Vec::new(), 0);
        Ok(Segment {
            base_seq,
            end_seq: base_seq,
            log,
            index,
            tail: SegmentTail::default(),
        })
    }

    /// Removes the segment's files. The caller syncs `dir`.
    pub(crate) fn remove(self, files: &Files, dir: &Path) -> Result<(), StoreError> {
        for kind in FileKind::ALL {
            files.remove(&segment_path(dir, self.base_seq, kind))?;
        }
        Ok(())
    }

    /// Calls `visit` with each item (and its position) from index point
    /// `start` (or the segment's start), in order, while it returns true.
    /// `source` holds the segment's bytes (its log, with the write buffer
    /// after it for the segment being appended to). Every frame is checked:
    /// a bad one, an item out of order, or an index point that does not
    /// name the item it points at is an error, never an item.
    pub(crate) fn visit_from<S: ByteSource + ?Sized>(
        &self,
        source: &S,
        start: Option<IndexPoint>,
        mut visit: impl FnMut(u64, ItemRef<'_>) -> bool,
    ) -> Result<(), StoreError> {
        let from = start.map_or(0, |point| point.position);
        let mut scanner = Scanner::new(source, from, self.tail.data_len);
        let mut previous: Option<u64> = None;
        while let Some((position, payload)) = scanner.next_frame()? {
            let corrupt = |detail: String| StoreError::CorruptSegment {
                path: self.log.path().to_path_buf(),
                at: position,
                detail,
            };
            let item = item::decode(payload)
                .ok_or_else(|| corrupt("a frame too short for an item".to_owned()))?;
            match (previous, start) {
                (None, Some(point)) if item.seq != point.seq => {
                    return Err(corrupt(format!(
                        "holds seq {}, but {} has seq {} here (a stale index)",
                        item.seq,
                        self.index.offsets_file().path().display(),
                        point.seq,
                    )));
                }
                (Some(previous), _) if item.seq <= previous => {
                    return Err(corrupt(format!("seq {} after seq {previous}", item.seq)));
                }
                _ if !(self.base_seq..self.end_seq).contains(&item.seq) => {
                    return Err(corrupt(format!(
                        "seq {} outside the segment's {}..{}",
                        item.seq, self.base_seq, self.end_seq
                    )));
                }
                _ => {}
            }
            previous = Some(item.seq);
            if !visit(position, item) {
                return Ok(());
            }
        }
        match scanner.end() {
            Some(end) if end.valid_len == self.tail.data_len && end.stop == Stop::Clean => Ok(()),
            end => Err(StoreError::CorruptSegment {
                path: self.log.path().to_path_buf(),
                at: end.map_or(0, |end| end.valid_len),
                detail: "a bad frame among the segment's items".to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_in_seq_order_and_parse_back() {
        let dir = Path::new("log");
        let path = segment_path(dir, 42, FileKind::TimeIndex);
        assert_eq!(path, dir.join("00000000000000000042.timeindex"));
        assert_eq!(
            parse_name("00000000000000000042.timeindex"),
            Some((42, FileKind::TimeIndex, false))
        );
        let rewrite = rewrite_path(dir, u64::MAX, FileKind::Log);
        let name = rewrite
            .file_name()
            .and_then(|name| name.to_str())
            .expect("a name");
        assert_eq!(parse_name(name), Some((u64::MAX, FileKind::Log, true)));
        for foreign in [
            "42.log",
            "0000000000000000004x.log",
            "00000000000000000042.txt",
        ] {
            assert_eq!(parse_name(foreign), None, "{foreign}");
        }
    }
}
