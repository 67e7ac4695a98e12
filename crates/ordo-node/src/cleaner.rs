//! The background cleaner: while this node leads, every `cleanup_interval`
//! it cleans each topic with something to remove (`Node::clean_topic`)
//! (superseded records or an expired tombstone in a `compact` topic, old or
//! excess records in a `delete` topic). The passes travel through the Raft
//! log, so every replica removes the same records at the same log index;
//! followers do nothing here but apply them.

use std::sync::Weak;

use crate::error::NodeError;
use crate::node::Node;

/// Runs until the node is gone or shut down.
pub(crate) async fn run(node: Weak<Node>) {
    let Some(interval) = node.upgrade().map(|node| node.config().cleanup_interval) else {
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
    let now_ms = (node.config().clock)();
    let due = match node.state_machine().topics_due_for_cleanup(now_ms) {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "listing topics due for cleanup");
            return;
        }
    };
    for topic in due {
        // The same passes as `POST /v1/topics/{topic}/compact`: back to
        // back while one stops at the cap, up to its bound per tick.
        match node.clean_topic(topic.clone()).await {
            Ok(cleaned) => tracing::debug!(
                %topic,
                removed_records = cleaned.removed_records,
                start_offset = %cleaned.topic.start_offset,
                log_index = %cleaned.log_index,
                "cleanup passes"
            ),
            Err(NodeError::Rejected { rejection }) => {
                tracing::debug!(%topic, %rejection, "cleanup pass refused")
            }
            // Leadership moved or the node is stopping: the next leader's
            // cleaner takes over.
            Err(e) => {
                tracing::info!(%topic, error = %e, "cleanup pass not applied");
                return;
            }
        }
    }
}
