//! The events a node keeps for `GET /v1/events` (pure: no I/O, no clock):
//! its own in a bounded ring, numbered from 1 by `seq`, and the merge of
//! several nodes' lists into one by time. What records them is
//! `event_watch` (Raft's metrics) and the hooks beside the work they
//! describe (cleanup passes, snapshot installs, disk space, storage
//! faults); the members' lists are gathered in `cluster_view`.

use std::collections::VecDeque;

use ordo_api::limits::MAX_EVENTS_LIMIT;
use ordo_api::{Event, EventDetail, EventKind};
use ordo_core::NodeId;

/// How many of its own events a node keeps: the oldest goes when one more
/// comes. As many as one `GET /v1/events` may ask for.
pub const EVENTS_KEPT: usize = MAX_EVENTS_LIMIT;

/// One node's newest events, oldest first.
#[derive(Debug)]
pub struct EventLog {
    node_id: NodeId,
    capacity: usize,
    /// The `seq` of the next event; 1 for the first.
    next_seq: u64,
    kept: VecDeque<Event>,
}

impl EventLog {
    pub fn new(node_id: NodeId) -> Self {
        EventLog::with_capacity(node_id, EVENTS_KEPT)
    }

    fn with_capacity(node_id: NodeId, capacity: usize) -> Self {
        assert!(capacity > 0, "an event log keeps at least one event");
        EventLog {
            node_id,
            capacity,
            next_seq: 1,
            kept: VecDeque::with_capacity(capacity),
        }
    }

    /// Keeps a new event, dropping the oldest if full; returns it.
    pub fn record(
        &mut self,
        at_ms: u64,
        term: u64,
        kind: EventKind,
        message: String,
        detail: EventDetail,
    ) -> Event {
        let event = Event {
            node_id: self.node_id,
            seq: self.next_seq,
            at_ms,
            kind,
            term,
            message,
            detail,
        };
        self.next_seq += 1;
        if self.kept.len() == self.capacity {
            self.kept.pop_front();
        }
        self.kept.push_back(event.clone());
        event
    }

    /// The newest `limit` events with a `seq` above `after`, oldest first.
    pub fn recent(&self, limit: usize, after: Option<u64>) -> Vec<Event> {
        let after = after.unwrap_or(0);
        let newer = self.kept.iter().filter(|e| e.seq > after);
        let skip = newer.clone().count().saturating_sub(limit);
        newer.skip(skip).cloned().collect()
    }
}

/// Several nodes' events as one list by time (ties by node, then `seq`),
/// each event once, the newest `limit` of them, oldest first. Clocks of
/// different nodes differ a little: two nodes' events close in time may
/// show in either order; one node's keep theirs.
pub fn merge(lists: impl IntoIterator<Item = Vec<Event>>, limit: usize) -> Vec<Event> {
    let mut all: Vec<Event> = lists.into_iter().flatten().collect();
    all.sort_by_key(|e| (e.at_ms, e.node_id, e.seq));
    all.dedup_by_key(|e| (e.node_id, e.seq));
    let skip = all.len().saturating_sub(limit);
    all.drain(..skip);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(log: &mut EventLog, at_ms: u64) -> Event {
        log.record(
            at_ms,
            1,
            EventKind::LeaderElected,
            format!("at {at_ms}"),
            EventDetail::default(),
        )
    }

    fn seqs(events: &[Event]) -> Vec<u64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn a_full_log_drops_its_oldest_and_numbering_goes_on() {
        let mut log = EventLog::with_capacity(7, 3);
        for at in 0..5 {
            record(&mut log, at);
        }
        let kept = log.recent(10, None);
        assert_eq!(seqs(&kept), vec![3, 4, 5]);
        assert!(kept.iter().all(|e| e.node_id == 7));
        assert_eq!(record(&mut log, 5).seq, 6);
    }

    #[test]
    fn recent_gives_the_newest_within_the_limit_after_a_seq() {
        let mut log = EventLog::new(1);
        for at in 0..10 {
            record(&mut log, at);
        }
        assert_eq!(seqs(&log.recent(3, None)), vec![8, 9, 10]);
        assert_eq!(seqs(&log.recent(3, Some(5))), vec![8, 9, 10]);
        assert_eq!(seqs(&log.recent(10, Some(7))), vec![8, 9, 10]);
        assert!(log.recent(10, Some(10)).is_empty());
        assert!(log.recent(0, None).is_empty());
    }

    #[test]
    fn merged_events_are_in_time_order_once_each_and_the_newest_kept() {
        let (mut one, mut two) = (EventLog::new(1), EventLog::new(2));
        let a = record(&mut one, 10);
        let b = record(&mut two, 5);
        let c = record(&mut two, 10);
        let d = record(&mut one, 20);
        let lists = vec![
            vec![a.clone(), d.clone()],
            vec![b.clone(), c.clone()],
            // The answering node's own, asked twice.
            vec![a.clone()],
        ];
        assert_eq!(
            merge(lists.clone(), 10),
            vec![b, a.clone(), c.clone(), d.clone()]
        );
        assert_eq!(merge(lists, 3), vec![a, c, d]);
    }
}
