//! Fixtures for the segment engine's tests: both media, small segments, and
//! items whose contents follow from their seq.

use std::path::Path;

use tempfile::TempDir;

use crate::segment::{Files, Item, Recovery, SegmentLog, SegmentOptions};
use crate::MemDisk;

/// The log's directory under the medium's root.
pub const DIR: &str = "log";

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

    /// Opens the log in [`DIR`] with `options`.
    pub fn open(&self, options: &SegmentOptions) -> (SegmentLog, Recovery) {
        SegmentLog::open(self.files(), Path::new(DIR), options.clone())
            .unwrap_or_else(|e| panic!("open on {}: {e}", self.name()))
    }
}

/// Segments of about 1 KiB, an index point every 128 bytes.
pub fn small() -> SegmentOptions {
    SegmentOptions {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        ..SegmentOptions::default()
    }
}

/// The item with `seq`: a payload of 1 to 60 bytes that says which it is,
/// and a timestamp of ten times its seq.
pub fn item(seq: u64) -> Item {
    let len = 1 + (seq * 7 % 60) as usize;
    Item {
        seq,
        timestamp_ms: seq * 10,
        payload: (0..len).map(|i| (seq as usize + i) as u8).collect(),
    }
}

/// Appends [`item`]s `seqs`, one at a time.
pub fn append(log: &mut SegmentLog, seqs: std::ops::Range<u64>) {
    for seq in seqs {
        let item = item(seq);
        log.append(item.seq, item.timestamp_ms, &item.payload)
            .unwrap_or_else(|e| panic!("append {seq}: {e}"));
    }
}

/// Every item from `from` on.
pub fn read_all(log: &SegmentLog, from: u64) -> Vec<Item> {
    log.read(from, usize::MAX, usize::MAX).expect("read")
}

/// [`item`]s `seqs`.
pub fn items(seqs: std::ops::Range<u64>) -> Vec<Item> {
    seqs.map(item).collect()
}
