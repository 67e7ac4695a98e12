//! Fixtures for the segment engine's tests: both media.

use tempfile::TempDir;

use crate::segment::Files;
use crate::MemDisk;

/// One medium to run a test on: real files in a temporary directory, or a
/// simulated disk.
pub enum Medium {
    Real(TempDir),
    Memory(MemDisk),
}

impl Medium {
    /// A fresh medium of each kind.
    pub fn both() -> [Medium; 2] {
        [
            Medium::Real(tempfile::tempdir().expect("temp dir")),
            Medium::Memory(MemDisk::new()),
        ]
    }

    /// The medium's files: on a memory disk, a new incarnation, which
    /// fences off every earlier one (like a restarted process).
    pub fn files(&self) -> Files {
        match self {
            Medium::Real(dir) => Files::real(dir.path()),
            Medium::Memory(disk) => Files::open_memory(disk),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Medium::Real(_) => "real files",
            Medium::Memory(_) => "memory disk",
        }
    }
}
