//! C14, every job is done exactly once (DESIGN §3c): each record of a work
//! queue's topic is a job that ends acked or dead-lettered, once.
//! - No job is acked by two answered acks (an ack with an unknown outcome
//!   may or may not have taken effect: it counts as either).
//! - A job acked, or dead-lettered by a nack (its answer says so), is never
//!   handed out again by a claim applied after that (by log index).
//! - The claims that hand a job out count its deliveries up, in log order,
//!   to at most the queue's `max_deliveries`.
//! - In the final logs, the dead-letter topic holds each dead-lettered job
//!   once and nothing but the queue's jobs; no job is both acked and
//!   dead-lettered; a nack's answer that a job was dead-lettered puts it
//!   there; and once the queue shows nothing left, every job is acked (or
//!   may be, by an unknown ack) or dead-lettered.
//! - After the final client drained the queue, every live node shows it
//!   with nothing pending or in flight, its floor at its topic's end (the
//!   length of the node's final log of the topic), as many dead-lettered as
//!   the node's dead-letter topic holds, as many acked as the answered acks
//!   prove (plus at most the unknown ones), and every node the same.
//!
//! The final logs are the lowest node's (C9 compares the others with them);
//! each node's view is checked against its own. Pure.

use std::collections::{BTreeMap, BTreeSet};

use super::queue_jobs::{queue_jobs, Effect, QueueJobs, SettleKind};
use super::{list_some, Property, Violation};
use crate::history::{History, NodeId, Op, QueueView, TopicLog};

pub fn check_jobs_done_once(history: &History) -> Vec<Violation> {
    let mut violations = Vec::new();
    for jobs in queue_jobs(history) {
        acked_once(&jobs, &mut violations);
        never_handed_out_once_done(&jobs, &mut violations);
        deliveries_count_up(&jobs, &mut violations);
        if let Some(logs) = history.final_logs.values().next() {
            done_once_in_final_logs(history, &jobs, logs, &mut violations);
        }
        final_views(history, &jobs, &mut violations);
    }
    violations
}

fn violation<'h>(message: String, ops: impl IntoIterator<Item = &'h Op>) -> Violation {
    Violation::new(Property::C14, message, ops)
}

fn acked_once(jobs: &QueueJobs, violations: &mut Vec<Violation>) {
    for (offset, settles) in &jobs.settles {
        let acks: Vec<&Op> = settles
            .iter()
            .filter(|s| s.kind == SettleKind::Ack && s.applied_at().is_some())
            .map(|s| s.op)
            .collect();
        if acks.len() > 1 {
            let message = format!(
                "job {offset} of queue {} was acked by {} answered acks: ops {}",
                jobs.spec.name,
                acks.len(),
                list_some(acks.iter().map(|op| op.id.to_string()))
            );
            violations.push(violation(message, acks));
        }
    }
}

fn never_handed_out_once_done(jobs: &QueueJobs, violations: &mut Vec<Violation>) {
    for (offset, settles) in &jobs.settles {
        let done = settles
            .iter()
            .filter(|s| s.kind == SettleKind::Ack || s.dead_lettered)
            .filter_map(|s| Some((s.applied_at()?, s)))
            .min_by_key(|(index, _)| *index);
        let Some((done_at, settle)) = done else {
            continue;
        };
        let how = if settle.dead_lettered {
            "dead-lettered"
        } else {
            "acked"
        };
        for lease in jobs
            .leases_of(*offset)
            .iter()
            .filter(|l| l.log_index > done_at)
        {
            let message = format!(
                "job {offset} of queue {} was {how} by op {} at log index {done_at}, then \
                 handed out again by op {} at log index {} (delivery {})",
                jobs.spec.name, settle.op.id, lease.op.id, lease.log_index, lease.job.delivery
            );
            violations.push(violation(message, [settle.op, lease.op]));
        }
    }
}

fn deliveries_count_up(jobs: &QueueJobs, violations: &mut Vec<Violation>) {
    let max = jobs.spec.max_deliveries;
    for (offset, leases) in &jobs.leases {
        for lease in leases.iter().filter(|l| l.job.delivery > max) {
            let message = format!(
                "job {offset} of queue {} was handed out by op {} as delivery {}, past the \
                 queue's max_deliveries {max}",
                jobs.spec.name, lease.op.id, lease.job.delivery
            );
            violations.push(violation(message, [lease.op]));
        }
        for pair in leases.windows(2) {
            let (earlier, later) = (&pair[0], &pair[1]);
            if later.job.delivery <= earlier.job.delivery {
                let message = format!(
                    "job {offset} of queue {} was handed out as delivery {} by op {} (log index \
                     {}) and then as delivery {} by op {} (log index {})",
                    jobs.spec.name,
                    earlier.job.delivery,
                    earlier.op.id,
                    earlier.log_index,
                    later.job.delivery,
                    later.op.id,
                    later.log_index
                );
                violations.push(violation(message, [earlier.op, later.op]));
            }
        }
    }
}

/// How the lowest node's final logs end each job.
fn done_once_in_final_logs(
    history: &History,
    jobs: &QueueJobs,
    logs: &BTreeMap<String, TopicLog>,
    violations: &mut Vec<Violation>,
) {
    let (topic, dead_letter_topic) = (&jobs.spec.name.topic, &jobs.spec.dead_letter_topic);
    let no_records = TopicLog::new();
    let topic_log = logs.get(topic.as_str()).unwrap_or(&no_records);
    let letters = logs.get(dead_letter_topic.as_str()).unwrap_or(&no_records);
    // value → its offsets in the dead-letter topic.
    let mut dead: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (offset, value) in letters {
        dead.entry(value).or_default().push(*offset);
    }
    let job_values: BTreeSet<&str> = topic_log.iter().map(|(_, v)| v.as_str()).collect();
    for (value, offsets) in &dead {
        if !job_values.contains(value) {
            let message = format!(
                "{dead_letter_topic:?} holds {value:?} (offsets {offsets:?}), which is no job \
                 of topic {topic:?}"
            );
            violations.push(violation(message, []));
        } else if offsets.len() > 1 {
            let message = format!(
                "job {value:?} of queue {} was dead-lettered {} times: {dead_letter_topic:?} \
                 offsets {offsets:?}",
                jobs.spec.name,
                offsets.len()
            );
            violations.push(violation(message, []));
        }
    }
    let drained = drained(history, jobs);
    for (offset, value) in topic_log {
        let settles = jobs.settles_of(*offset);
        let acks = || settles.iter().filter(|s| s.kind == SettleKind::Ack);
        let acked = acks().find(|s| s.applied_at().is_some());
        let maybe_acked = acks().any(|s| s.effect == Effect::Maybe);
        let letter = dead.get(value.as_str());
        let said_dead = settles.iter().find(|s| s.dead_lettered);
        let problem = match (acked, letter, said_dead) {
            (Some(ack), Some(at), _) => format!(
                "was acked by op {} and is in {dead_letter_topic:?} at {at:?}",
                ack.op.id
            ),
            (_, None, Some(nack)) => format!(
                "was dead-lettered by op {} (its answer says), but {dead_letter_topic:?} lacks it",
                nack.op.id
            ),
            (None, None, None) if drained && !maybe_acked => {
                "was neither acked nor dead-lettered, though the queue shows every job done"
                    .to_string()
            }
            _ => continue,
        };
        let message = format!(
            "job {offset} ({value:?}) of queue {} {problem}",
            jobs.spec.name
        );
        let ops = settles
            .iter()
            .map(|s| s.op)
            .chain(jobs.leases_of(*offset).iter().map(|l| l.op));
        violations.push(violation(message, ops));
    }
}

/// Every node that showed the queue at the end shows nothing left in it.
fn drained(history: &History, jobs: &QueueJobs) -> bool {
    let mut views = history
        .final_queues
        .values()
        .filter_map(|queues| queues.get(&jobs.spec.name))
        .peekable();
    views.peek().is_some() && views.all(is_drained)
}

fn is_drained(view: &QueueView) -> bool {
    view.pending == 0 && view.in_flight == 0 && view.floor == view.end
}

/// Each node's view of the queue after the drain, against its own final
/// logs, the acks' answers, and the other nodes' views.
fn final_views(history: &History, jobs: &QueueJobs, violations: &mut Vec<Violation>) {
    let name = &jobs.spec.name;
    let views: BTreeMap<NodeId, &QueueView> = history
        .final_queues
        .iter()
        .filter_map(|(node, queues)| Some((*node, queues.get(name)?)))
        .collect();
    // Jobs an answered ack proves acked, and those only an unknown one may have.
    let (mut acked, mut maybe) = (0, 0);
    for settles in jobs.settles.values() {
        let acks = || settles.iter().filter(|s| s.kind == SettleKind::Ack);
        if acks().any(|s| s.applied_at().is_some()) {
            acked += 1;
        } else if acks().any(|s| s.effect == Effect::Maybe) {
            maybe += 1;
        }
    }
    for (node, view) in &views {
        let log_len = |topic: &str| {
            history
                .final_logs
                .get(node)
                .and_then(|logs| logs.get(topic))
                .map(|log| log.len() as u64)
        };
        let mut problems = Vec::new();
        if !is_drained(view) {
            problems.push("is not drained".to_string());
        }
        if let Some(len) = log_len(&name.topic).filter(|len| *len != view.end) {
            problems.push(format!(
                "ends at {} but its final log holds {len} jobs",
                view.end
            ));
        }
        if let Some(len) =
            log_len(&jobs.spec.dead_letter_topic).filter(|l| *l != view.dead_lettered)
        {
            problems.push(format!(
                "counts {} dead-lettered but {:?} holds {len}",
                view.dead_lettered, jobs.spec.dead_letter_topic
            ));
        }
        if !(acked..=acked + maybe).contains(&view.acked) {
            problems.push(format!(
                "counts {} acked but answered acks prove {acked} (and unknown ones may add {maybe})",
                view.acked
            ));
        }
        if !problems.is_empty() {
            let message = format!(
                "node {node} shows queue {name} as {view}: it {}",
                problems.join("; ")
            );
            violations.push(violation(message, []));
        }
    }
    let distinct: BTreeSet<String> = views.values().map(ToString::to_string).collect();
    if distinct.len() > 1 {
        let shown = views
            .iter()
            .map(|(node, view)| format!("node {node}: {view}"))
            .collect::<Vec<_>>()
            .join("; ");
        violations.push(violation(
            format!("the nodes disagree on queue {name}: {shown}"),
            [],
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::check_all;
    use super::super::test_support::*;
    use super::*;
    use crate::history::{ClaimedJob, HistoryBuilder, Outcome, QueueRequest};

    /// Queue `q` (2 deliveries) over jobs "a" at 0 and "b" at 1, every
    /// node's final logs holding them and `dead` in `q.dlq`.
    fn two_jobs(dead: &[(u64, &str)]) -> HistoryBuilder {
        let mut h = HistoryBuilder::new();
        h.queue(QUEUE, 2, false);
        h.append(
            1,
            1,
            ms(0)..ms(5),
            QUEUE,
            &["a", "b"],
            Outcome::ack(&[0, 1], 1),
        );
        for node in 1..=3 {
            h.final_log(node, QUEUE, &[(0, "a"), (1, "b")])
                .final_log(node, "q.dlq", dead);
        }
        h
    }

    fn job(offset: u64, delivery: u32, lease: &str, expires_ms: u64) -> ClaimedJob {
        let value = ["a", "b"][offset as usize];
        ClaimedJob::new(offset, delivery, lease, expires_ms, value)
    }

    #[test]
    fn one_job_acked_and_one_dead_lettered_after_its_last_delivery_passes() {
        let mut h = two_jobs(&[(0, "b")]);
        claim_jobs(
            &mut h,
            10,
            100,
            &[job(0, 1, "l0", 110), job(1, 1, "l1", 110)],
            10,
        );
        job_op(
            &mut h,
            20,
            QueueRequest::ack(&[(0, "l0")]),
            Outcome::settled(11, &[]),
        );
        // Job 1's lease ran out; handed out again, then given back for good.
        claim_jobs(&mut h, 200, 100, &[job(1, 2, "l2", 300)], 20);
        let nack = QueueRequest::nack(&[(1, "l2")]);
        job_op(&mut h, 210, nack, Outcome::settled(21, &[1]));
        show_drained(&mut h, 2, 1, 1);
        assert_eq!(check_all(&h.build()), vec![]);
    }

    #[test]
    fn an_unknown_ack_may_be_the_one_that_acked_the_job() {
        let mut h = two_jobs(&[]);
        claim_jobs(
            &mut h,
            10,
            100,
            &[job(0, 1, "l0", 110), job(1, 1, "l1", 110)],
            10,
        );
        job_op(
            &mut h,
            20,
            QueueRequest::ack(&[(0, "l0")]),
            Outcome::unknown("504"),
        );
        job_op(
            &mut h,
            30,
            QueueRequest::ack(&[(1, "l1")]),
            Outcome::settled(12, &[]),
        );
        show_drained(&mut h, 2, 2, 0);
        assert_eq!(check_jobs_done_once(&h.build()), vec![]);
    }

    #[test]
    fn two_answered_acks_of_one_job_are_reported() {
        let mut h = two_jobs(&[]);
        claim_jobs(&mut h, 10, 100, &[job(0, 1, "l0", 110)], 10);
        let first = job_op(
            &mut h,
            20,
            QueueRequest::ack(&[(0, "l0")]),
            Outcome::settled(11, &[]),
        );
        claim_jobs(&mut h, 30, 100, &[job(0, 2, "l1", 130)], 12);
        let second = job_op(
            &mut h,
            40,
            QueueRequest::ack(&[(0, "l1")]),
            Outcome::settled(13, &[]),
        );
        let violations = check_jobs_done_once(&h.build());
        assert_eq!(properties(&violations), vec![Property::C14, Property::C14]);
        assert_eq!(violations[0].ops, vec![first, second]);
        assert!(violations[0].message.contains("acked by 2 answered acks"));
        assert!(violations[1]
            .message
            .contains("then handed out again by op"));
    }

    #[test]
    fn deliveries_that_do_not_count_up_or_pass_the_maximum_are_reported() {
        let mut h = two_jobs(&[]);
        claim_jobs(&mut h, 10, 100, &[job(0, 2, "l0", 110)], 10);
        claim_jobs(&mut h, 200, 100, &[job(0, 2, "l1", 300)], 20);
        claim_jobs(&mut h, 400, 100, &[job(0, 3, "l2", 500)], 30);
        let violations = check_jobs_done_once(&h.build());
        assert_eq!(properties(&violations), vec![Property::C14, Property::C14]);
        assert!(violations[0]
            .message
            .contains("past the queue's max_deliveries 2"));
        assert!(violations[1].message.contains("as delivery 2 by op 2"));
    }

    #[test]
    fn a_job_acked_and_dead_lettered_or_dead_lettered_twice_is_reported() {
        let mut h = two_jobs(&[(0, "a"), (1, "b"), (2, "b")]);
        claim_jobs(&mut h, 10, 100, &[job(0, 1, "l0", 110)], 10);
        job_op(
            &mut h,
            20,
            QueueRequest::ack(&[(0, "l0")]),
            Outcome::settled(11, &[]),
        );
        let violations = check_jobs_done_once(&h.build());
        assert_eq!(properties(&violations), vec![Property::C14, Property::C14]);
        assert!(violations[0].message.contains("dead-lettered 2 times"));
        assert!(violations[1]
            .message
            .contains("was acked by op 3 and is in \"q.dlq\""));
    }

    #[test]
    fn a_job_neither_acked_nor_dead_lettered_in_a_drained_queue_is_reported() {
        let mut h = two_jobs(&[]);
        claim_jobs(
            &mut h,
            10,
            100,
            &[job(0, 1, "l0", 110), job(1, 1, "l1", 110)],
            10,
        );
        job_op(
            &mut h,
            20,
            QueueRequest::ack(&[(0, "l0")]),
            Outcome::settled(11, &[]),
        );
        job_op(
            &mut h,
            30,
            QueueRequest::ack(&[(1, "l1")]),
            Outcome::failed("503"),
        );
        show_drained(&mut h, 2, 2, 0);
        let violations = check_jobs_done_once(&h.build());
        assert_eq!(properties(&violations), vec![Property::C14; 4]);
        assert!(violations[0]
            .message
            .contains("job 1 (\"b\") of queue g/q was neither acked nor dead-lettered"));
        // Each node counts 2 acked, where one answered ack proves 1.
        for (node, violation) in (1..=3).zip(&violations[1..]) {
            assert!(violation
                .message
                .starts_with(&format!("node {node} shows queue g/q")));
            assert!(violation.message.contains("counts 2 acked"));
        }
    }

    #[test]
    fn a_node_left_with_jobs_in_flight_or_disagreeing_with_the_others_is_reported() {
        let mut h = two_jobs(&[]);
        claim_jobs(
            &mut h,
            10,
            100,
            &[job(0, 1, "l0", 110), job(1, 1, "l1", 110)],
            10,
        );
        let ack = QueueRequest::ack(&[(0, "l0"), (1, "l1")]);
        job_op(&mut h, 20, ack, Outcome::settled(11, &[]));
        show_drained(&mut h, 2, 2, 0);
        let stuck = QueueView {
            floor: 1,
            end: 2,
            pending: 0,
            in_flight: 1,
            acked: 1,
            dead_lettered: 0,
        };
        h.final_queue(3, QUEUE, stuck);
        let violations = check_jobs_done_once(&h.build());
        assert_eq!(properties(&violations), vec![Property::C14, Property::C14]);
        assert_eq!(
            violations[0].message,
            "node 3 shows queue g/q as floor 1 end 2 pending 0 in flight 1 acked 1 \
             dead-lettered 0: it is not drained; counts 1 acked but answered acks prove 2 \
             (and unknown ones may add 0)"
        );
        assert!(violations[1]
            .message
            .starts_with("the nodes disagree on queue g/q"));
    }
}
