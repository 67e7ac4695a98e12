//! Every claim a history makes about what sits at a (topic, offset): an ack
//! claims its values at its offsets, a successful read shows its records, a
//! queue's claim shows the jobs it handed out (records of the queue's
//! topic), a final log holds its records. C1, C2 and C4 compare these
//! claims.
//!
//! Pure: gathers references into the history, copies nothing. A run's reads
//! repeat the same records many times over, so claims are streamed, never
//! collected, and only the disputed ones are grouped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::history::{History, NodeId, Op, OpKind, Outcome};

/// Who made a claim.
#[derive(Debug, Clone, Copy)]
pub(super) enum Source<'h> {
    Ack(&'h Op),
    Read(&'h Op),
    /// A queue's claim, handing out jobs.
    Claim(&'h Op),
    FinalLog(NodeId),
}

impl<'h> Source<'h> {
    pub(super) fn op(self) -> Option<&'h Op> {
        match self {
            Source::Ack(op) | Source::Read(op) | Source::Claim(op) => Some(op),
            Source::FinalLog(_) => None,
        }
    }
}

impl fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Ack(op) => write!(f, "ack of op {}", op.id),
            Source::Read(op) => write!(f, "read op {}", op.id),
            Source::Claim(op) => write!(f, "job claim op {}", op.id),
            Source::FinalLog(node) => write!(f, "final log of node {node}"),
        }
    }
}

/// "value `value` is at (`topic`, `offset`)", according to `source`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Observation<'h> {
    pub topic: &'h str,
    pub offset: u64,
    pub value: &'h str,
    pub source: Source<'h>,
}

/// Acks first, then reads, then jobs claimed, then final logs, each in
/// history order.
pub(super) fn observations(history: &History) -> impl Iterator<Item = Observation<'_>> {
    let acks = history.acked_appends().flat_map(|ack| {
        ack.offsets
            .iter()
            .zip(ack.values)
            .map(move |(offset, value)| Observation {
                topic: ack.topic,
                offset: *offset,
                value,
                source: Source::Ack(ack.op),
            })
    });
    let reads = history.successful_reads().flat_map(|read| {
        read.records.iter().map(move |(offset, value)| Observation {
            topic: read.topic,
            offset: *offset,
            value,
            source: Source::Read(read.op),
        })
    });
    let claims = history
        .ops
        .iter()
        .filter_map(|op| match (&op.kind, &op.outcome) {
            (OpKind::Queue { queue, .. }, Outcome::Claimed { jobs, .. }) => Some((op, queue, jobs)),
            _ => None,
        })
        .flat_map(|(op, queue, jobs)| {
            jobs.iter().map(move |job| Observation {
                topic: &queue.topic,
                offset: job.offset,
                value: &job.value,
                source: Source::Claim(op),
            })
        });
    acks.chain(reads)
        .chain(claims)
        .chain(final_log_observations(history))
}

/// Where claims disagree: for each `key` on which `attribute` takes more than
/// one value, each of those values with who claimed it. Keys everyone agrees
/// on are left out.
pub(super) fn disagreements<'h, K: Ord + Copy, A: Ord + Copy>(
    history: &'h History,
    key: impl Fn(&Observation<'h>) -> K,
    attribute: impl Fn(&Observation<'h>) -> A,
) -> BTreeMap<K, BTreeMap<A, Vec<Source<'h>>>> {
    let mut first_seen: BTreeMap<K, A> = BTreeMap::new();
    let mut disputed: BTreeSet<K> = BTreeSet::new();
    for seen in observations(history) {
        let attribute = attribute(&seen);
        let first = *first_seen.entry(key(&seen)).or_insert(attribute);
        if first != attribute {
            disputed.insert(key(&seen));
        }
    }
    let mut claims: BTreeMap<K, BTreeMap<A, Vec<Source>>> = BTreeMap::new();
    if disputed.is_empty() {
        return claims;
    }
    for seen in observations(history).filter(|seen| disputed.contains(&key(seen))) {
        claims
            .entry(key(&seen))
            .or_default()
            .entry(attribute(&seen))
            .or_default()
            .push(seen.source);
    }
    claims
}

/// What reads and final logs show, leaving out what acks claim.
pub(super) fn shown_records(history: &History) -> impl Iterator<Item = Observation<'_>> {
    observations(history).filter(|seen| !matches!(seen.source, Source::Ack(_)))
}

fn final_log_observations(history: &History) -> impl Iterator<Item = Observation<'_>> {
    history.final_logs.iter().flat_map(|(node, topics)| {
        topics.iter().flat_map(move |(topic, records)| {
            records.iter().map(move |(offset, value)| Observation {
                topic,
                offset: *offset,
                value,
                source: Source::FinalLog(*node),
            })
        })
    })
}
