//! A one-paragraph summary of a history, counting its operations by kind and
//! outcome, its faults and its final logs, for the report of a run.
//!
//! Pure.

use std::collections::BTreeMap;

use crate::history::{Consistency, FaultKind, History, OpKind, Outcome, QueueRequest};

pub fn summary(history: &History) -> String {
    // kind → [ok, failed, unknown]
    let mut counts: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for op in &history.ops {
        let kind = match &op.kind {
            OpKind::Append {
                key_absent: true, ..
            } => "claims",
            OpKind::Append {
                producer: Some(_), ..
            } => "producer appends",
            OpKind::Append { topic, .. } if history.is_compacted(topic) => "keyed writes",
            OpKind::Append { .. } => "appends",
            OpKind::Read {
                consistency: Consistency::Linearizable,
                ..
            } => "linearizable reads",
            OpKind::Read {
                consistency: Consistency::Local,
                ..
            } => "local reads",
            OpKind::Queue { request, .. } => match request {
                QueueRequest::Claim { .. } => "job claims",
                QueueRequest::Ack { .. } => "job acks",
                QueueRequest::Nack { .. } => "job nacks",
                QueueRequest::Extend { .. } => "job extends",
            },
        };
        let outcome = match op.outcome {
            Outcome::AppendOk { .. }
            | Outcome::ReadOk { .. }
            | Outcome::Claimed { .. }
            | Outcome::Settled { .. }
            | Outcome::Extended { .. } => 0,
            Outcome::Failed { .. } | Outcome::Rejected { .. } => 1,
            Outcome::Unknown { .. } => 2,
        };
        counts.entry(kind).or_default()[outcome] += 1;
    }
    let ops = counts
        .iter()
        .map(|(kind, [ok, failed, unknown])| {
            format!("{kind}: {ok} ok, {failed} failed, {unknown} unknown")
        })
        .collect::<Vec<_>>()
        .join("; ");
    let refusals = |wanted: &str| {
        history
            .ops
            .iter()
            .filter(|op| matches!(&op.outcome, Outcome::Rejected { code, .. } if code == wanted))
            .count()
    };
    let duplicates = history
        .ops
        .iter()
        .filter(|op| {
            matches!(
                op.outcome,
                Outcome::AppendOk {
                    duplicate: true,
                    ..
                }
            )
        })
        .count();
    let (taken, out_of_order) = (
        refusals("condition_failed"),
        refusals("sequence_out_of_order"),
    );
    let ops = if taken + out_of_order + duplicates > 0 {
        format!(
            "{ops}; {taken} condition_failed, {out_of_order} sequence_out_of_order, \
             {duplicates} duplicate acks"
        )
    } else {
        ops
    };
    let ops = match (refusals("lease_lost"), jobs_handed_out(history)) {
        (0, 0) => ops,
        (lost, handed) => format!(
            "{ops}; {handed} jobs handed out, {lost} lease_lost, {} dead letters",
            dead_letters(history)
        ),
    };
    let crashes = history
        .faults
        .iter()
        .filter(|f| matches!(f.kind, FaultKind::Crash(_)))
        .count();
    let partitions = history
        .faults
        .iter()
        .filter(|f| matches!(f.kind, FaultKind::Partition { .. }))
        .count();
    let records: Vec<String> = history
        .final_logs
        .iter()
        .map(|(node, topics)| {
            let total: usize = topics.values().map(Vec::len).sum();
            format!("node {node} {total}")
        })
        .collect();
    let final_pass = if history.compacted_topics.is_empty() {
        ""
    } else if history.compacted_at_end {
        " (compacted topics after a final pass)"
    } else {
        " (no final compaction pass)"
    };
    format!(
        "{} ops ({}); {} faults ({crashes} crashes, {partitions} partitions); \
         final records: {}{final_pass}",
        history.ops.len(),
        if ops.is_empty() { "none" } else { &ops },
        history.faults.len(),
        if records.is_empty() {
            "not recorded".to_string()
        } else {
            records.join(", ")
        }
    )
}

/// Records in the dead-letter topics of the lowest node's final logs.
fn dead_letters(history: &History) -> usize {
    let Some(logs) = history.final_logs.values().next() else {
        return 0;
    };
    history
        .queues
        .iter()
        .filter_map(|queue| logs.get(&queue.dead_letter_topic))
        .map(Vec::len)
        .sum()
}

/// Jobs handed out by claims that were answered, counting each delivery.
fn jobs_handed_out(history: &History) -> usize {
    history
        .ops
        .iter()
        .map(|op| match &op.outcome {
            Outcome::Claimed { jobs, .. } => jobs.len(),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::history::HistoryBuilder;

    #[test]
    fn summary_counts_ops_by_kind_and_outcome() {
        let mut h = HistoryBuilder::new();
        h.append(1, 1, ms(0)..ms(10), "t", &["a"], Outcome::ack(&[0], 1));
        h.append(1, 1, ms(10)..ms(20), "t", &["b"], Outcome::failed("503"));
        h.read_local(2, 2, ms(20)..ms(30), "t", 0, Outcome::unknown("timeout"));
        h.crash(ms(40), 2).restart(ms(50), 2);
        h.final_log(1, "t", &[(0, "a")]);
        assert_eq!(
            summary(&h.build()),
            "3 ops (appends: 1 ok, 1 failed, 0 unknown; local reads: 0 ok, 0 failed, 1 unknown); \
             2 faults (1 crashes, 0 partitions); final records: node 1 1"
        );
    }
}
