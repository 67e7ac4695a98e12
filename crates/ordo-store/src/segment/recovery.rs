//! Opening a segment log's directory, after a clean close or a crash: finds
//! the segments, checks that they join up, brings each index in line with
//! its log, and cuts a torn write off the newest segment. Reports what it
//! did ([`Recovery`]) so the node can log it, and refuses, naming the file,
//! anything a crash cannot explain: it never serves a wrong item.
//!
//! What a crash can leave, given how `log` writes (a segment is synced
//! whole before the next one is created; indexes are synced only when their
//! segment is sealed), and what is done about it:
//! - the newest segment ends in a torn frame, or in zeros (preallocated
//!   space): cut back to the last whole frame;
//! - an index behind its log: the missing points are added from the log;
//!   an index ahead of its log (points past what survived): cut;
//! - an index missing, or not matching its log: rebuilt from the log;
//! - a compaction's unfinished rewrite, or an index without its log:
//!   removed (and the segment's index rebuilt).
//!
//! Only the newest segment is scanned from its last index point to its
//! end; an older one only from its last point, to check that it ends where
//! the next begins. A bad frame earlier in a segment is found by the read
//! that meets it, which fails rather than serve it. Walking a segment's
//! items, checked, is `walk`'s.

mod walk;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use super::file::File;
use super::files::Files;
use super::frame::Stop;
use super::index::{valid_prefix, SegmentIndex, ENTRY_BYTES};
use super::log::SegmentOptions;
use super::segment_file::{parse_name, segment_path, FileKind, Segment};
use crate::error::StoreError;
use walk::{walk, walk_all};

/// What opening a segment log had to repair. Empty after a clean close.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Recovery {
    pub actions: Vec<RecoveryAction>,
}

/// One repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecoveryAction {
    /// The newest segment ended in a write a crash cut short: the file was
    /// cut back to its last whole frame.
    CutTornTail {
        path: PathBuf,
        from_len: u64,
        to_len: u64,
    },
    /// Index points past what survived of the log were cut.
    CutIndex {
        path: PathBuf,
        kept: usize,
        dropped: usize,
    },
    /// A missing index, or one that did not match its log, was rebuilt.
    RebuiltIndex { path: PathBuf, points: usize },
    /// An unfinished rewrite, or an index without its log, was removed.
    RemovedLeftover { path: PathBuf },
}

impl fmt::Display for RecoveryAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryAction::CutTornTail {
                path,
                from_len,
                to_len,
            } => write!(
                f,
                "cut a torn write off {}: {from_len} bytes to {to_len}",
                path.display()
            ),
            RecoveryAction::CutIndex {
                path,
                kept,
                dropped,
            } => write!(
                f,
                "cut {dropped} entries past the log from {}, kept {kept}",
                path.display()
            ),
            RecoveryAction::RebuiltIndex { path, points } => {
                write!(
                    f,
                    "rebuilt {} from its log: {points} entries",
                    path.display()
                )
            }
            RecoveryAction::RemovedLeftover { path } => {
                write!(f, "removed leftover {}", path.display())
            }
        }
    }
}

/// The segments found, oldest first, and the one appends go to.
pub(crate) struct Recovered {
    pub sealed: Vec<Segment>,
    pub active: Segment,
}

/// Opens the log in `dir` (creating it empty, from seq 0, if it has no
/// segment), repairing what a crash left; see the module's list.
pub(crate) fn recover(
    files: &Files,
    dir: &Path,
    options: &SegmentOptions,
) -> Result<(Recovered, Recovery), StoreError> {
    files.create_dir_all(dir)?;
    let mut recovery = Recovery::default();
    let layout = Layout::read(files, dir)?;
    for path in &layout.leftovers {
        files.remove(path)?;
        let path = files.full_path(path);
        recovery
            .actions
            .push(RecoveryAction::RemovedLeftover { path });
    }
    let Some((&newest, older)) = layout.logs.split_last() else {
        let active = Segment::create(files, dir, 0, options.segment_bytes)?;
        files.sync_dir(dir)?;
        return Ok((
            Recovered {
                sealed: Vec::new(),
                active,
            },
            recovery,
        ));
    };
    let mut opener = SegmentOpener {
        files,
        dir,
        options,
        layout: &layout,
        recovery: &mut recovery,
    };
    let mut sealed = Vec::with_capacity(older.len());
    for (i, &base_seq) in older.iter().enumerate() {
        let next_base = layout.logs[i + 1];
        sealed.push(opener.sealed(base_seq, next_base)?);
    }
    let active = opener.newest(newest)?;
    if !layout.leftovers.is_empty() || !layout.missing_indexes.is_empty() {
        // Removed leftovers found again after a crash are removed again,
        // and a lost index file rebuilt again: one sync at the end will do.
        files.sync_dir(dir)?;
    }
    Ok((Recovered { sealed, active }, recovery))
}

/// The segment files in a log's directory.
struct Layout {
    /// Base seqs with a log file, in order.
    logs: Vec<u64>,
    /// Bases whose index must be rebuilt from the log: a file is missing,
    /// or a rewrite was left unfinished (the log may be the new one).
    rebuild: BTreeSet<u64>,
    /// Bases with an index file missing (created empty on open).
    missing_indexes: BTreeSet<u64>,
    /// Files to remove.
    leftovers: Vec<PathBuf>,
}

impl Layout {
    fn read(files: &Files, dir: &Path) -> Result<Layout, StoreError> {
        let mut found: BTreeMap<u64, BTreeSet<FileKind>> = BTreeMap::new();
        let mut rebuild = BTreeSet::new();
        let mut leftovers = Vec::new();
        for name in files.list_dir(dir)? {
            match parse_name(&name) {
                Some((base_seq, kind, false)) => {
                    found.entry(base_seq).or_default().insert(kind);
                }
                Some((base_seq, _, true)) => {
                    rebuild.insert(base_seq);
                    leftovers.push(dir.join(&name));
                }
                None => {}
            }
        }
        let mut logs = Vec::new();
        let mut missing_indexes = BTreeSet::new();
        for (base_seq, kinds) in found {
            if !kinds.contains(&FileKind::Log) {
                leftovers.extend(kinds.iter().map(|kind| segment_path(dir, base_seq, *kind)));
                continue;
            }
            logs.push(base_seq);
            if kinds.len() < FileKind::ALL.len() {
                missing_indexes.insert(base_seq);
                rebuild.insert(base_seq);
            }
        }
        Ok(Layout {
            logs,
            rebuild,
            missing_indexes,
            leftovers,
        })
    }
}

/// Opens and checks one segment at a time.
struct SegmentOpener<'a> {
    files: &'a Files,
    dir: &'a Path,
    options: &'a SegmentOptions,
    layout: &'a Layout,
    recovery: &'a mut Recovery,
}

impl SegmentOpener<'_> {
    /// An older segment: it must end in a whole frame, with the item just
    /// before `next_base`.
    fn sealed(&mut self, base_seq: u64, next_base: u64) -> Result<Segment, StoreError> {
        let (log, mut index) = self.open_files(base_seq)?;
        let file_len = log.len()?;
        let (offsets_len, times_len) = index.file_lens()?;
        let whole = offsets_len == times_len && offsets_len % ENTRY_BYTES == 0;
        let trusted = whole && !self.layout.rebuild.contains(&base_seq);
        index.trust(if trusted {
            (offsets_len / ENTRY_BYTES) as usize
        } else {
            0
        });
        let last = match index.last() {
            Ok(Some(point)) if point.seq < next_base => {
                (valid_prefix(&[point], base_seq, file_len) == 1).then_some(point)
            }
            _ => None,
        };
        let walk = match last {
            Some(point) => walk(&log, base_seq, Some(point), file_len, self.options)?,
            None => None,
        };
        let walk = match walk {
            Some(walk) => walk,
            None => {
                let walk = walk_all(&log, base_seq, file_len, self.options)?;
                index.trust(0);
                index.rewrite(&walk.points)?;
                self.rebuilt(&index, walk.points.len());
                walk
            }
        };
        if walk.stop != Stop::Clean {
            return Err(StoreError::CorruptSegment {
                path: log.path().to_path_buf(),
                at: walk.tail.data_len,
                detail: "an older segment must end in a whole frame".to_owned(),
            });
        }
        let end_seq = walk.last_seq.map_or(base_seq, |seq| seq + 1);
        let joins = if self.options.allow_gaps {
            end_seq <= next_base
        } else {
            end_seq == next_base
        };
        if !joins {
            return Err(StoreError::SegmentGap {
                path: self.files_path(next_base),
                expected: end_seq,
                found: next_base,
            });
        }
        Ok(Segment {
            base_seq,
            end_seq,
            log,
            index,
            tail: walk.tail,
        })
    }

    /// The newest segment, the one appends go to: its torn tail cut, its
    /// index caught up with its log and held in memory, its log
    /// preallocated again.
    fn newest(&mut self, base_seq: u64) -> Result<Segment, StoreError> {
        let (log, mut index) = self.open_files(base_seq)?;
        let file_len = log.len()?;
        let rebuild = self.layout.rebuild.contains(&base_seq);
        let found = if rebuild {
            Vec::new()
        } else {
            index.read_all()?
        };
        let (offsets_len, times_len) = index.file_lens()?;
        // Walk back from the last plausible point to one that names its item.
        let mut kept = valid_prefix(&found, base_seq, file_len);
        let walk = loop {
            let start = kept.checked_sub(1).map(|last| found[last]);
            if let Some(walk) = walk(&log, base_seq, start, file_len, self.options)? {
                break walk;
            }
            kept -= 1;
        };
        let mut points = found[..kept].to_vec();
        points.extend_from_slice(&walk.points);
        if rebuild {
            index.rewrite(&points)?;
            self.rebuilt(&index, points.len());
        } else if offsets_len.max(times_len) > kept as u64 * ENTRY_BYTES {
            // Cut for good: points past the log must not come back and
            // meet new items at their positions.
            index.cut_to(kept)?;
            index.sync()?;
            let found = (offsets_len.max(times_len) / ENTRY_BYTES) as usize;
            if found > kept {
                self.recovery.actions.push(RecoveryAction::CutIndex {
                    path: index.offsets_file().path().to_path_buf(),
                    kept,
                    dropped: found - kept,
                });
            }
        }
        let on_disk = if rebuild { points.len() } else { kept };
        index.hold(points, on_disk);
        index.write_pending()?;

        let data_len = walk.tail.data_len;
        match walk.stop {
            Stop::Clean => {}
            Stop::Torn => {
                log.set_len(data_len)?;
                log.sync_data()?;
                self.recovery.actions.push(RecoveryAction::CutTornTail {
                    path: log.path().to_path_buf(),
                    from_len: file_len,
                    to_len: data_len,
                });
            }
            Stop::Corrupt { at } => {
                return Err(StoreError::CorruptSegment {
                    path: log.path().to_path_buf(),
                    at,
                    detail: "a bad frame with data after it, which no crash leaves".to_owned(),
                });
            }
        }
        log.preallocate(self.options.segment_bytes)?;
        Ok(Segment {
            base_seq,
            end_seq: walk.last_seq.map_or(base_seq, |seq| seq + 1),
            log,
            index,
            tail: walk.tail,
        })
    }

    /// A segment's log and index files, creating missing index files.
    fn open_files(&self, base_seq: u64) -> Result<(File, SegmentIndex), StoreError> {
        let log = self
            .files
            .open(&segment_path(self.dir, base_seq, FileKind::Log))?;
        let open_index = |kind| {
            let path = segment_path(self.dir, base_seq, kind);
            if self.layout.missing_indexes.contains(&base_seq) {
                self.files.create(&path)
            } else {
                self.files.open(&path)
            }
        };
        let offsets = open_index(FileKind::Index)?;
        let times = open_index(FileKind::TimeIndex)?;
        for file in [&log, &offsets, &times] {
            file.forget_cached();
        }
        Ok((log, SegmentIndex::new(offsets, times)))
    }

    fn rebuilt(&mut self, index: &SegmentIndex, points: usize) {
        self.recovery.actions.push(RecoveryAction::RebuiltIndex {
            path: index.offsets_file().path().to_path_buf(),
            points,
        });
    }

    fn files_path(&self, base_seq: u64) -> PathBuf {
        self.files
            .full_path(&segment_path(self.dir, base_seq, FileKind::Log))
    }
}
