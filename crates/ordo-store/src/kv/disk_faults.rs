//! Injected I/O errors of a simulated disk ([`crate::MemDisk`]): which of
//! its writes and syncs are made to fail, with which error ([`DiskError`]:
//! `ENOSPC` or `EIO`), and the record of every error it was made to return
//! ([`InjectedError`]), so the simulation can tell a failure it caused from
//! one the store made up. Pure: no I/O, no clocks, no randomness; the
//! simulation decides when a fault starts and ends.
//!
//! What a fault does to the data is the disk's business (`kv::mem_disk`,
//! `segment::mem_files`): a refused write writes nothing, and a failed sync
//! loses what it was to make durable (fsyncgate: the kernel drops the dirty
//! pages it could not write, and a later sync that succeeds does not bring
//! them back).

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::raft_log_segments::RAFT_LOG_DIR;
use crate::record_log::RECORDS_DIR;

/// An I/O error the simulated disk can be made to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskError {
    /// `ENOSPC`: the disk is full (`io::ErrorKind::StorageFull`).
    NoSpace,
    /// `EIO`: the device failed the operation.
    Io,
}

impl DiskError {
    /// The errno the operation fails with.
    pub fn raw_os_error(self) -> i32 {
        match self {
            DiskError::NoSpace => libc::ENOSPC,
            DiskError::Io => libc::EIO,
        }
    }

    pub(crate) fn to_io_error(self) -> io::Error {
        io::Error::from_raw_os_error(self.raw_os_error())
    }
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiskError::NoSpace => "ENOSPC",
            DiskError::Io => "EIO",
        })
    }
}

/// Which part of a node's disk a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskArea {
    /// The Raft log's segment files.
    RaftLog,
    /// The topics' record segment files.
    Records,
    /// Every file, and the flushes of the trees.
    Anywhere,
}

impl DiskArea {
    fn holds(self, place: Place<'_>) -> bool {
        match (self, place) {
            (DiskArea::Anywhere, _) => true,
            (DiskArea::RaftLog, Place::File(Some(path))) => path.starts_with(RAFT_LOG_DIR),
            (DiskArea::Records, Place::File(Some(path))) => path.starts_with(RECORDS_DIR),
            (DiskArea::RaftLog | DiskArea::Records, Place::File(None) | Place::Trees) => false,
        }
    }
}

/// What a faulty operation was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskOp {
    Write,
    Preallocate,
    /// An fdatasync, or the sync half of a durable write.
    Sync,
    /// A flush of the trees (sled's fsync).
    TreeFlush,
}

impl fmt::Display for DiskOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiskOp::Write => "write",
            DiskOp::Preallocate => "preallocation",
            DiskOp::Sync => "sync",
            DiskOp::TreeFlush => "flush",
        })
    }
}

/// Where an operation lands: a file (by its name, if it still has one), or
/// the trees.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Place<'a> {
    File(Option<&'a Path>),
    Trees,
}

/// One error the disk was made to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedError {
    pub op: DiskOp,
    /// The file, or `None` for the trees (or a file with no name left).
    pub path: Option<PathBuf>,
    pub error: DiskError,
}

impl fmt::Display for InjectedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{} on {} of {}", self.error, self.op, path.display()),
            None => write!(f, "{} on {} of the trees", self.error, self.op),
        }
    }
}

/// The faults armed on one disk, and the errors they made it return.
#[derive(Debug, Default)]
pub(crate) struct DiskFaults {
    /// While set, every write and preallocation in the area fails (and, for
    /// [`DiskArea::Anywhere`], every flush of the trees, which writes).
    failing_writes: Option<(DiskArea, DiskError)>,
    /// Each fails the first sync in its area from now on, oldest first.
    failing_syncs: VecDeque<(DiskArea, DiskError)>,
    /// What was returned since the disk's current incarnation began.
    injected: Vec<InjectedError>,
}

impl DiskFaults {
    /// Whether any fault could fire: when none can, callers need not look
    /// up where an operation lands.
    pub(crate) fn armed(&self) -> bool {
        self.failing_writes.is_some() || !self.failing_syncs.is_empty()
    }

    pub(crate) fn fail_writes(&mut self, area: DiskArea, error: DiskError) {
        self.failing_writes = Some((area, error));
    }

    pub(crate) fn stop_failing_writes(&mut self) {
        self.failing_writes = None;
    }

    pub(crate) fn fail_next_sync(&mut self, area: DiskArea, error: DiskError) {
        self.failing_syncs.push_back((area, error));
    }

    /// Disarms every fault (what they made the disk return stays recorded).
    pub(crate) fn clear(&mut self) {
        self.failing_writes = None;
        self.failing_syncs.clear();
    }

    /// The error a write or preallocation (`op`) at `place` must fail
    /// with, if any, noted as returned.
    pub(crate) fn on_write(&mut self, op: DiskOp, place: Place<'_>) -> Option<io::Error> {
        let (area, error) = self.failing_writes?;
        area.holds(place).then(|| self.inject(op, place, error))
    }

    /// The error a sync (`op`: a file's, or the trees' flush) at `place`
    /// must fail with, if any, noted as returned: the first armed sync
    /// failure of its area, used up; or, for a flush of the trees on a full
    /// disk, the write failure.
    pub(crate) fn on_sync(&mut self, op: DiskOp, place: Place<'_>) -> Option<io::Error> {
        if let Some(i) = self
            .failing_syncs
            .iter()
            .position(|(area, _)| area.holds(place))
        {
            let (_, error) = self.failing_syncs.remove(i)?;
            return Some(self.inject(op, place, error));
        }
        match place {
            Place::Trees => self.on_write(op, place),
            Place::File(_) => None,
        }
    }

    /// The errors returned since the current incarnation began.
    pub(crate) fn injected(&self) -> &[InjectedError] {
        &self.injected
    }

    /// A new incarnation begins (an open, or a crash): what earlier ones
    /// were told is theirs.
    pub(crate) fn new_incarnation(&mut self) {
        self.injected.clear();
    }

    fn inject(&mut self, op: DiskOp, place: Place<'_>, error: DiskError) -> io::Error {
        let path = match place {
            Place::File(path) => path.map(Path::to_path_buf),
            Place::Trees => None,
        };
        self.injected.push(InjectedError { op, path, error });
        error.to_io_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_file() -> PathBuf {
        Path::new(RAFT_LOG_DIR).join("00000000000000000000.log")
    }

    fn record_file() -> PathBuf {
        Path::new(RECORDS_DIR).join("t0@0/00000000000000000000.log")
    }

    #[test]
    fn injected_errors_are_enospc_and_eio() {
        let full = DiskError::NoSpace.to_io_error();
        assert_eq!(full.raw_os_error(), Some(28));
        assert_eq!(full.kind(), io::ErrorKind::StorageFull);
        assert_eq!(DiskError::Io.to_io_error().raw_os_error(), Some(5));
    }

    #[test]
    fn a_full_area_refuses_writes_there_only_until_space_returns() {
        let mut faults = DiskFaults::default();
        let (log, records) = (log_file(), record_file());
        faults.fail_writes(DiskArea::Records, DiskError::NoSpace);
        assert!(faults
            .on_write(DiskOp::Write, Place::File(Some(&log)))
            .is_none());
        assert!(faults
            .on_write(DiskOp::Preallocate, Place::File(Some(&records)))
            .is_some());
        assert!(faults.on_sync(DiskOp::TreeFlush, Place::Trees).is_none());
        faults.stop_failing_writes();
        assert!(faults
            .on_write(DiskOp::Write, Place::File(Some(&records)))
            .is_none());
        assert_eq!(
            faults
                .injected()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![format!("ENOSPC on preallocation of {}", records.display())]
        );
    }

    #[test]
    fn a_disk_full_anywhere_fails_the_trees_flush_too() {
        let mut faults = DiskFaults::default();
        faults.fail_writes(DiskArea::Anywhere, DiskError::NoSpace);
        let error = faults.on_sync(DiskOp::TreeFlush, Place::Trees);
        assert_eq!(error.and_then(|e| e.raw_os_error()), Some(28));
        assert!(faults
            .on_sync(DiskOp::Sync, Place::File(Some(&log_file())))
            .is_none());
    }

    #[test]
    fn an_armed_sync_failure_fires_once_in_its_area() {
        let mut faults = DiskFaults::default();
        let (log, records) = (log_file(), record_file());
        faults.fail_next_sync(DiskArea::RaftLog, DiskError::Io);
        assert!(faults.armed());
        assert!(faults.on_sync(DiskOp::TreeFlush, Place::Trees).is_none());
        assert!(faults
            .on_sync(DiskOp::Sync, Place::File(Some(&records)))
            .is_none());
        let error = faults.on_sync(DiskOp::Sync, Place::File(Some(&log)));
        assert_eq!(error.and_then(|e| e.raw_os_error()), Some(5));
        assert!(!faults.armed());
        assert!(faults
            .on_sync(DiskOp::Sync, Place::File(Some(&log)))
            .is_none());
        assert_eq!(faults.injected().len(), 1);
        faults.new_incarnation();
        assert_eq!(faults.injected(), &[]);
    }
}
