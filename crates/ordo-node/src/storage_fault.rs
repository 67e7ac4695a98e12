//! Whether this node's storage failed, and what the node does then.
//!
//! A failed write or fsync is final for the data it covered (ordo-store's
//! flusher never retries one: a failed fsync may have dropped the pages it
//! was to write), so openraft's core stops with `Fatal::StorageError` and
//! nothing in this process can make that data durable again. From then on
//! the node is out of the way: `/readyz` answers 503 with the cause, its
//! status says `storage failed: <cause>` (never `leader`), every `/v1`
//! request but the status is answered 503 with `Retry-After`, and the
//! failure is logged once, then [`REMINDER_EVERY`] until the process ends.
//! `ordo serve` exits with [`EXIT_STORAGE_FAILED`] after its grace period
//! (`--storage-failure-exit-after-ms`), for a supervisor to start it again;
//! the new process recovers from its last durable state (its Raft log on
//! disk; its peers send the rest).
//!
//! [`StorageFault`] holds the cause, set once; [`watch`] notices the core's
//! stop (openraft's server metrics change when its role becomes
//! `Shutdown`, and a slow tick catches anything else) and logs.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::Fatal;
use tokio::sync::Notify;

use crate::node::Node;
use crate::types::TypeConfig;
use ordo_api::{EventDetail, EventKind};

/// The exit status of `ordo serve` whose storage failed (BSD's
/// `EX_TEMPFAIL`: try again later): the supervisor should start it again.
/// Also the status of a start whose store could not be opened.
pub const EXIT_STORAGE_FAILED: u8 = 75;

/// How often a failed node says again that it failed, until it exits.
pub const REMINDER_EVERY: Duration = Duration::from_secs(10);

/// How often [`watch`] looks at the Raft core besides when its role changes.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Why this node's storage failed, once it has.
#[derive(Debug, Default)]
pub struct StorageFault {
    cause: OnceLock<String>,
    failed: Notify,
}

impl StorageFault {
    /// The cause, once storage failed.
    pub fn cause(&self) -> Option<&str> {
        self.cause.get().map(String::as_str)
    }

    /// Records the failure; the first cause is the one kept and logged.
    /// True if this call set it.
    pub fn fail(&self, cause: String) -> bool {
        let first = self.cause.set(cause).is_ok();
        if first {
            // Wakes every `failed()` whose `notified()` was made before the
            // cause was set; one made after sees the cause itself.
            self.failed.notify_waiters();
        }
        first
    }

    /// Waits until storage has failed; returns its cause.
    pub async fn failed(&self) -> String {
        loop {
            let notified = self.failed.notified();
            if let Some(cause) = self.cause() {
                return cause.to_string();
            }
            notified.await;
        }
    }
}

/// The cause of a stopped Raft core's stop, if it is a failure (not the
/// stop `Node::shutdown` asked for).
pub(crate) fn failure_of(running: &Result<(), Fatal<TypeConfig>>) -> Option<String> {
    match running {
        Ok(()) | Err(Fatal::Stopped) => None,
        Err(Fatal::StorageError(e)) => Some(match std::error::Error::source(e) {
            Some(source) => in_words(&source.to_string()),
            None => e.to_string(),
        }),
        Err(Fatal::Panicked) => Some("the Raft core panicked".to_string()),
    }
}

/// What the store said, without the Rust type name and the repeated cause
/// that openraft's error carrier adds: `std::io::error::Error: cannot
/// preallocate …: No space left on device (os error 28); source: No space
/// left on device (os error 28)` is `cannot preallocate …: No space left on
/// device (os error 28)`.
fn in_words(text: &str) -> String {
    let text = text.split("; source: ").next().unwrap_or(text);
    let text = match text.split_once(": ") {
        Some((type_name, rest)) if type_name.contains("::") && !type_name.contains(' ') => rest,
        _ => text,
    };
    text.to_string()
}

/// Watches `node`'s Raft core for a stop on a storage error, records it
/// (and an event), and logs it once, then every [`REMINDER_EVERY`]; ends
/// with the node.
pub(crate) async fn watch(node: Weak<Node>) {
    let Some(mut server_metrics) = node.upgrade().map(|n| n.raft().server_metrics()) else {
        return;
    };
    let cause = loop {
        let Some(node) = node.upgrade() else { return };
        if let Some(cause) = node.storage_failure() {
            break cause;
        }
        drop(node);
        tokio::select! {
            biased;
            changed = server_metrics.changed() => if changed.is_err() {
                // The core is gone; one last look at why.
                tokio::time::sleep(CHECK_EVERY).await;
            },
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
    };
    let Some(id) = node.upgrade().map(|n| {
        n.record_event(
            EventKind::StorageFailed,
            format!("storage failed: {cause}; the node stops serving and exits to be restarted"),
            EventDetail {
                error: Some(cause.clone()),
                ..EventDetail::default()
            },
        );
        n.id()
    }) else {
        return;
    };
    tracing::error!(
        node = id,
        cause = %cause,
        "storage failed: this node stops serving (readyz 503) and exits with status \
         {EXIT_STORAGE_FAILED} after its grace period, for its supervisor to start it again"
    );
    loop {
        tokio::time::sleep(REMINDER_EVERY).await;
        if node.strong_count() == 0 {
            return;
        }
        tracing::error!(node = id, cause = %cause, "storage failed; still waiting to exit");
    }
}

impl Node {
    /// Why this node's storage failed, once it has (see the module doc).
    pub fn storage_failure(&self) -> Option<String> {
        if let Some(cause) = self.storage_fault().cause() {
            return Some(cause.to_string());
        }
        let running = self.raft().metrics().borrow_watched().running_state.clone();
        self.storage_failure_in(&running)
    }

    /// [`Node::storage_failure`] from the core's state in metrics the
    /// caller already holds: borrowing openraft's metrics again while
    /// holding them deadlocks once the core waits to publish new ones.
    pub(crate) fn storage_failure_in(
        &self,
        running: &Result<(), Fatal<TypeConfig>>,
    ) -> Option<String> {
        if let Some(cause) = self.storage_fault().cause() {
            return Some(cause.to_string());
        }
        self.storage_fault().fail(failure_of(running)?);
        self.storage_fault().cause().map(str::to_string)
    }

    /// Waits until this node's storage has failed; returns the cause.
    pub async fn storage_failed(self: &Arc<Self>) -> String {
        self.storage_fault().failed().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_cause_is_kept_and_wakes_every_waiter() {
        let fault = Arc::new(StorageFault::default());
        assert_eq!(fault.cause(), None);
        let waiter = tokio::spawn({
            let fault = fault.clone();
            async move { fault.failed().await }
        });
        tokio::task::yield_now().await;
        assert!(fault.fail("No space left on device".to_string()));
        assert!(!fault.fail("a later error".to_string()));
        assert_eq!(fault.cause(), Some("No space left on device"));
        assert_eq!(waiter.await.unwrap(), "No space left on device");
        // A waiter that comes after the failure returns at once.
        assert_eq!(fault.failed().await, "No space left on device");
    }

    #[test]
    fn the_cause_is_the_store_s_own_words() {
        assert_eq!(
            in_words(
                "std::io::error::Error: cannot preallocate /d/x.log: No space left on device \
                 (os error 28); source: No space left on device (os error 28)"
            ),
            "cannot preallocate /d/x.log: No space left on device (os error 28)"
        );
        assert_eq!(
            in_words("flushing the log: Input/output error (os error 5)"),
            "flushing the log: Input/output error (os error 5)"
        );
    }

    #[test]
    fn a_requested_stop_is_not_a_failure() {
        assert_eq!(failure_of(&Ok(())), None);
        assert_eq!(failure_of(&Err(Fatal::Stopped)), None);
        assert_eq!(
            failure_of(&Err(Fatal::Panicked)).as_deref(),
            Some("the Raft core panicked")
        );
    }
}
