//! An append as the node takes and answers it, apart from its wire form
//! (`api::AppendRequest`, `api::AppendResponse`): the records with what
//! makes them idempotent or conditional, and where they landed. The node
//! turns an [`Append`] into a [`Command::Append`](crate::Command::Append),
//! and the applied [`CommandResult::Appended`](crate::CommandResult::Appended)
//! into an [`Appended`].

use crate::condition::Condition;
use crate::ids::{LogIndex, Offset};
use crate::producer::Producer;
use crate::record::NewRecord;

/// Records to append to a topic, in order, atomically and at contiguous
/// offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct Append {
    pub records: Vec<NewRecord>,
    /// Makes the append idempotent: see `producer`.
    pub producer: Option<Producer>,
    /// Makes the append conditional: see `condition`.
    pub condition: Option<Condition>,
}

/// An acknowledged append: its records are at offsets `first_offset ..
/// first_offset + count`, in the entry at `log_index`. With `duplicate`,
/// it was a producer's retry: nothing was appended, and the offsets and log
/// index are the original's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first_offset: Offset,
    pub count: u64,
    pub log_index: LogIndex,
    pub duplicate: bool,
}

impl Appended {
    /// The offset of each record, in order.
    pub fn offsets(&self) -> Vec<Offset> {
        (self.first_offset.0..self.first_offset.0 + self.count)
            .map(Offset)
            .collect()
    }
}
