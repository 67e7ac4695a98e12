//! Switchable bugs, compiled only with the `mutants` feature, which only the
//! simulation enables: each models a real mistake, and the simulation's
//! checker must catch every one (`make sim-mutants`). Process-wide switches:
//! all simulated nodes share a process and all run the buggy code.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::error::NodeError;
use crate::node::Node;
use ordo_core::{Command, CommandResult, LogIndex, NodeId, Offset, TopicName};

static STALE_LINEARIZABLE_READ: AtomicBool = AtomicBool::new(false);
static EARLY_OFFSETS: AtomicBool = AtomicBool::new(false);

/// Mutant (b): a `linearizable` read is served from local state without a
/// read index, so a deposed leader or a lagging follower answers stale data.
/// Caught by C7 (a linearizable read misses an acknowledged append).
pub fn set_stale_linearizable_read(on: bool) {
    STALE_LINEARIZABLE_READ.store(on, Ordering::SeqCst);
}

/// Mutant (c): the leader assigns offsets when it proposes (from its own
/// view of the topic's end plus what it has in flight) and acknowledges
/// before the entry is committed. Entries lost in a leader change leave
/// acknowledged appends that never happened, or offsets handed out twice.
/// Caught by C1/C3.
pub fn set_early_offsets(on: bool) {
    EARLY_OFFSETS.store(on, Ordering::SeqCst);
}

pub(crate) fn stale_linearizable_read() -> bool {
    STALE_LINEARIZABLE_READ.load(Ordering::SeqCst)
}

pub(crate) fn early_offsets() -> bool {
    EARLY_OFFSETS.load(Ordering::SeqCst)
}

/// The next offset each (node, topic) has speculatively handed out.
static SPECULATIVE_END: Mutex<BTreeMap<(NodeId, TopicName), u64>> = Mutex::new(BTreeMap::new());

impl Node {
    /// Mutant (c): propose without waiting, answer with guessed offsets.
    pub(crate) async fn propose_speculatively(
        &self,
        command: Command,
    ) -> Result<CommandResult, NodeError> {
        let Command::Append { topic, records, .. } = &command else {
            return Err(NodeError::internal(
                "only appends are proposed speculatively",
            ));
        };
        let count = records.len() as u64;
        let first = {
            let mut ends = SPECULATIVE_END.lock().map_err(NodeError::internal)?;
            let applied_end = self
                .state_machine()
                .topic(topic)
                .map(|t| t.end_offset.0)
                .unwrap_or(0);
            let end = ends.entry((self.id(), topic.clone())).or_insert(0);
            let first = (*end).max(applied_end);
            *end = first + count;
            first
        };
        self.raft()
            .client_write_ff(command, None)
            .await
            .map_err(NodeError::internal)?;
        Ok(CommandResult::Appended {
            first_offset: Offset(first),
            count,
            log_index: LogIndex(0),
            duplicate: false,
        })
    }
}
