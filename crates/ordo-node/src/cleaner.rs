//! The background cleaner: while this node leads, every `cleanup_interval`
//! it proposes one `CleanTopic` for each topic with something to remove
//! (superseded records or an expired tombstone in a `compact` topic, old or
//! excess records in a `delete` topic). The passes travel through the Raft
//! log, so every replica removes the same records at the same log index;
//! followers do nothing here but apply them.

use std::sync::Weak;

use ordo_core::cleanup::MAX_REMOVED_PER_PASS;
use ordo_core::{Command, CommandResult};

/// Most passes over one topic in one tick (a million records removed); the
/// next tick goes on.
const MAX_PASSES_PER_TICK: usize = 100;

use crate::node::Node;

/// Runs until the node is gone or shut down.
pub(crate) async fn run(node: Weak<Node>) {
    let Some(interval) = node.upgrade().map(|node| node.config.cleanup_interval) else {
        return;
    };
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(node) = node.upgrade() else { return };
        if node.is_shut_down() {
            return;
        }
        if node.current_leader() == Some(node.id()) {
            clean_due_topics(&node).await;
        }
    }
}

async fn clean_due_topics(node: &Node) {
    let now_ms = (node.config.clock)();
    let due = match node.state_machine().topics_due_for_cleanup(now_ms) {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "listing topics due for cleanup");
            return;
        }
    };
    for topic in due {
        // A pass that stopped at the cap is followed by the next at once.
        for _ in 0..MAX_PASSES_PER_TICK {
            let command = Command::CleanTopic {
                topic: topic.clone(),
                timestamp_ms: now_ms,
            };
            match node.propose_local(command).await {
                Ok(CommandResult::TopicCleaned {
                    removed_records,
                    start_offset,
                    log_index,
                    ..
                }) => {
                    tracing::debug!(
                        %topic, removed_records, %start_offset, %log_index, "cleanup pass"
                    );
                    if removed_records < MAX_REMOVED_PER_PASS {
                        break;
                    }
                }
                Ok(other) => {
                    tracing::debug!(%topic, result = %other, "cleanup pass refused");
                    break;
                }
                // Leadership moved or the node is stopping: the next
                // leader's cleaner takes over.
                Err(e) => {
                    tracing::info!(%topic, error = %e, "cleanup pass not applied");
                    return;
                }
            }
        }
    }
}
