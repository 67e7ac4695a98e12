//! C13, storage integrity: a node's storage fails only where the schedule
//! made its disk fail. The simulated disk returns an I/O error only where
//! one is injected (`ENOSPC`, `EIO`), never damages what was synced, and a
//! crash loses only what was not synced yet (a torn last write at worst,
//! and what a failed sync was to make durable), which the store's recovery
//! must cut back cleanly. So a store fails to open, a node fails to start on
//! it, or a Raft core stops on a storage error, only in a life of the node
//! (since its store was opened) in which its disk returned an injected
//! error; the node then stops, and its next life must recover from what is
//! durable. Each other failure the harness saw is a violation naming the
//! node, what it was doing, its last crash before, and the error. No request
//! is ever answered with an internal error (a 500, what ordo answers when
//! its store reports corrupt or undecodable data), injected faults or not:
//! those requests are one more violation, citing them.
//!
//! Pure.

use std::collections::BTreeSet;

use super::{list_some, Property, Violation};
use crate::history::{FaultKind, History, Op};

pub fn check_storage_integrity(history: &History) -> Vec<Violation> {
    let mut violations: Vec<Violation> = history
        .storage_failures
        .iter()
        .filter(|failure| failure.injected.is_empty())
        .map(|failure| {
            let last_crash = history
                .faults
                .iter()
                .filter(|fault| fault.at <= failure.at)
                .filter(|fault| fault.kind == FaultKind::Crash(failure.node))
                .map(|fault| fault.at)
                .next_back();
            let after = match last_crash {
                Some(at) => format!("after its crash at {:.3}s", at.as_secs_f64()),
                None => "without a crash before".to_string(),
            };
            let message = format!(
                "node {} at {:.3}s ({after}): {}: {}",
                failure.node,
                failure.at.as_secs_f64(),
                failure.stage,
                failure.error
            );
            Violation::new(Property::C13, message, [])
        })
        .collect();
    let internal: Vec<(&Op, String)> = history
        .ops
        .iter()
        .filter_map(|op| Some((op, error_message(op.outcome.internal_error()?))))
        .collect();
    if let Some((first, _)) = internal.first() {
        let errors: BTreeSet<&str> = internal.iter().map(|(_, error)| error.as_str()).collect();
        let message = format!(
            "{} request(s) answered with an internal error (500), the first at {:.3}s by \
             node {}: {}",
            internal.len(),
            first.completed_at.as_secs_f64(),
            first.node,
            list_some(errors.into_iter().map(|error| format!("{error:?}")))
        );
        violations.push(Violation::new(
            Property::C13,
            message,
            internal.iter().map(|(op, _)| *op),
        ));
    }
    violations
}

/// The message of an ordo error body (`{"error": {"message": …}}`), or the
/// body as it is.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::history::{HistoryBuilder, Outcome, StorageStage};

    #[test]
    fn a_run_without_storage_failures_passes() {
        let mut h = HistoryBuilder::new();
        h.crash(ms(100), 2).restart(ms(300), 2);
        // Faults the nodes were built to survive: 503, 504, refused.
        h.read_local(1, 2, ms(110)..ms(120), "t", 0, Outcome::failed("503 {}"));
        h.append(
            1,
            1,
            ms(130)..ms(140),
            "t",
            &["a"],
            Outcome::unknown("504 {}"),
        );
        h.read_local(1, 2, ms(150)..ms(160), "t", 0, Outcome::failed("refused"));
        assert_eq!(check_storage_integrity(&h.build()), vec![]);
    }

    #[test]
    fn a_store_that_fails_to_open_after_a_crash_is_reported() {
        let mut h = HistoryBuilder::new();
        h.crash(ms(100), 1)
            .crash(ms(200), 2)
            .restart(ms(300), 2)
            .crash(ms(400), 2)
            .restart(ms(500), 2)
            .storage_failure(
                ms(500),
                2,
                StorageStage::Open,
                "corrupt segment file t0/0.log at byte 551: seq 0 after seq 12",
            );
        let violations = check_storage_integrity(&h.build());
        assert_eq!(properties(&violations), vec![Property::C13]);
        assert_eq!(
            violations[0].message,
            "node 2 at 0.500s (after its crash at 0.400s): its store failed to open: \
             corrupt segment file t0/0.log at byte 551: seq 0 after seq 12"
        );
        assert_eq!(violations[0].ops, Vec::<u64>::new());
    }

    #[test]
    fn each_failure_is_reported_whatever_the_node_was_doing() {
        let mut h = HistoryBuilder::new();
        h.storage_failure(ms(50), 3, StorageStage::Running, "bad log entry")
            .crash(ms(100), 1)
            .restart(ms(200), 1)
            .storage_failure(ms(200), 1, StorageStage::Start, "corrupt record");
        let violations = check_storage_integrity(&h.build());
        assert_eq!(properties(&violations), vec![Property::C13, Property::C13]);
        assert_eq!(
            violations[0].message,
            "node 3 at 0.050s (without a crash before): \
             its Raft core stopped on a storage error: bad log entry"
        );
        assert!(violations[1].message.starts_with(
            "node 1 at 0.200s (after its crash at 0.100s): it failed to start on its store"
        ));
    }

    #[test]
    fn a_failure_after_an_injected_error_in_the_same_life_is_allowed() {
        let mut h = HistoryBuilder::new();
        h.storage_failure(
            ms(300),
            2,
            StorageStage::Running,
            "the Raft log failed to flush: cannot sync raft-log/0.log: Input/output error",
        )
        .after_injected("EIO on sync of raft-log/0.log")
        .crash(ms(300), 2)
        .restart(ms(1300), 2)
        .storage_failure(
            ms(1300),
            2,
            StorageStage::Open,
            "cannot preallocate raft-log/1.log: No space left on device (os error 28)",
        )
        .after_injected("ENOSPC on preallocation of raft-log/1.log");
        assert_eq!(check_storage_integrity(&h.build()), vec![]);
    }

    #[test]
    fn a_failure_in_a_later_life_without_an_injected_error_is_reported() {
        let mut h = HistoryBuilder::new();
        h.storage_failure(ms(300), 2, StorageStage::Running, "cannot sync")
            .after_injected("EIO on sync of raft-log/0.log")
            .crash(ms(300), 2)
            .restart(ms(1300), 2)
            .storage_failure(ms(1300), 2, StorageStage::Open, "corrupt segment file");
        let violations = check_storage_integrity(&h.build());
        assert_eq!(properties(&violations), vec![Property::C13]);
        assert!(violations[0]
            .message
            .starts_with("node 2 at 1.300s (after its crash at 0.300s): its store failed to open"));
    }

    #[test]
    fn requests_answered_with_an_internal_error_are_reported_together() {
        let corrupt = r#"500 {"error":{"code":"internal","message":"corrupt record value"}}"#;
        let mut h = HistoryBuilder::new();
        h.read_local(1, 2, ms(0)..ms(5), "t", 0, Outcome::read_ok(&[], 0));
        let read = h.read_local(1, 1, ms(10)..ms(15), "t", 0, Outcome::failed(corrupt));
        let again = h.read_linearizable(2, 3, ms(20)..ms(30), "t", 0, Outcome::failed(corrupt));
        let append = h.append(
            3,
            1,
            ms(40)..ms(50),
            "t",
            &["a"],
            Outcome::unknown("500 internal error\n"),
        );
        let violations = check_storage_integrity(&h.build());
        assert_eq!(properties(&violations), vec![Property::C13]);
        assert_eq!(violations[0].ops, vec![read, again, append]);
        assert_eq!(
            violations[0].message,
            "3 request(s) answered with an internal error (500), the first at 0.015s by \
             node 1: \"corrupt record value\", \"internal error\""
        );
    }
}
