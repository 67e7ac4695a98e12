//! Pure checks over a queue workers' journal (`queue_workers`): what
//! became of each job, errors no fault explains, no two live leases on one
//! job, and per-key order. Each is tested here on hand-made journals: the
//! bad histories it exists for must be caught.

use std::collections::{BTreeMap, BTreeSet};

use ordo_api::LeaseToken;
use ordo_core::{LogIndex, Offset};

use crate::queue_workers::{Delivery, Ending, Event};

/// What the journal says became of each offset's jobs.
#[derive(Debug, Clone, Default)]
pub struct JobFate {
    /// Acks the server answered with success.
    pub acked: usize,
    /// Acks that may have taken effect.
    pub maybe_acked: usize,
    /// Nacks answered with the job named dead-lettered.
    pub dead_lettered_by_nack: usize,
}

/// Each offset's fate by the journal.
pub fn fates(events: &[Event]) -> BTreeMap<Offset, JobFate> {
    let mut fates: BTreeMap<Offset, JobFate> = BTreeMap::new();
    for event in events {
        if let Event::Settled {
            offset,
            acking,
            ending,
            ..
        } = event
        {
            let fate = fates.entry(*offset).or_default();
            match ending {
                Ending::Acked(_) => fate.acked += 1,
                Ending::Nacked {
                    dead_lettered: true,
                    ..
                } => fate.dead_lettered_by_nack += 1,
                ending if *acking && ending.maybe_took_effect() => fate.maybe_acked += 1,
                _ => {}
            }
        }
    }
    fates
}

/// No worker hit an error that no fault explains.
pub fn assert_nothing_unexpected(events: &[Event]) {
    let unexpected: Vec<&String> = events
        .iter()
        .filter_map(|event| match event {
            Event::Unexpected(what) => Some(what),
            _ => None,
        })
        .collect();
    assert!(unexpected.is_empty(), "unexpected errors: {unexpected:#?}");
}

/// No job was held by two workers at once, and a job acked was never
/// handed out again: for each offset, in the order of its deliveries, each
/// lease begins (by the leader's clock) no sooner than the one before it
/// ends, unless that one was given back by a nack the log applied before
/// the claim that handed the job out again (a nack whose outcome is unknown
/// may have given it back at any time, so it proves nothing either way).
pub fn assert_leases_never_overlap(events: &[Event]) {
    let mut endings: BTreeMap<LeaseToken, (bool, Ending)> = BTreeMap::new();
    let mut by_offset: BTreeMap<Offset, Vec<&Delivery>> = BTreeMap::new();
    for event in events {
        match event {
            Event::Delivered(delivery) => {
                by_offset.entry(delivery.offset).or_default().push(delivery)
            }
            Event::Settled {
                lease,
                acking,
                ending,
                ..
            } => {
                endings.insert(*lease, (*acking, ending.clone()));
            }
            _ => {}
        }
    }
    let mut leases = BTreeSet::new();
    for (offset, mut deliveries) in by_offset {
        deliveries.sort_by_key(|d| d.delivery);
        for d in &deliveries {
            assert!(leases.insert(d.lease), "lease {} handed out twice", d.lease);
        }
        for pair in deliveries.windows(2) {
            let (before, after) = (pair[0], pair[1]);
            let what = format!("offset {offset}: delivery {before:?} then {after:?}");
            assert!(
                after.delivery > before.delivery,
                "{what}: one delivery number twice"
            );
            let handed_back = match endings.get(&before.lease) {
                Some((_, Ending::Acked(at))) => panic!(
                    "{what}: the first was acked (at {at:?}), so no later delivery may exist: \
                     an ack under a lease that had moved on, or a job handed out after its ack"
                ),
                Some((_, Ending::Nacked { log_index, .. })) => {
                    after.claim_index.is_some_and(|claim| claim > *log_index)
                }
                Some((false, ending)) => ending.maybe_took_effect(),
                _ => false,
            };
            assert!(
                handed_back || after.lease_start_ms >= before.lease_expires_ms,
                "{what}: two live leases at once (the second began {} ms before the first \
                 ended, and the first was not given back before it)",
                before.lease_expires_ms.saturating_sub(after.lease_start_ms)
            );
        }
    }
}

/// A key's jobs ran one at a time and in offset order: none was handed out
/// while the worker holding the key's previous job had not finished it,
/// and the claim that handed it out came after that job's ack in the log.
/// Answers the most keys that were in flight at once.
pub fn assert_one_job_per_key_at_a_time_in_offset_order(events: &[Event]) -> usize {
    let acked_at: BTreeMap<LeaseToken, LogIndex> = events
        .iter()
        .filter_map(|event| match event {
            Event::Settled {
                lease,
                ending: Ending::Acked(at),
                ..
            } => Some((*lease, *at)),
            _ => None,
        })
        .collect();
    let mut key_of: BTreeMap<LeaseToken, String> = BTreeMap::new();
    let mut in_flight: BTreeMap<String, Offset> = BTreeMap::new();
    let mut last_started: BTreeMap<String, &Delivery> = BTreeMap::new();
    let mut most_keys = 0;
    for event in events {
        match event {
            Event::Delivered(d) => {
                let Some(key) = &d.key else { continue };
                key_of.insert(d.lease, key.clone());
                if let Some(held) = in_flight.insert(key.clone(), d.offset) {
                    panic!(
                        "key {key}: offset {} handed out to worker {} while offset {held} was \
                         in flight",
                        d.offset, d.worker
                    );
                }
                if let Some(before) = last_started.insert(key.clone(), d) {
                    assert!(
                        d.offset > before.offset,
                        "key {key}: offset {} ran after offset {}",
                        d.offset,
                        before.offset
                    );
                    let acked = acked_at.get(&before.lease);
                    assert!(
                        d.claim_index
                            .zip(acked)
                            .is_some_and(|(claimed, acked)| claimed > *acked),
                        "key {key}: offset {} claimed at {:?}, not after the ack of offset {} \
                         at {acked:?}",
                        d.offset,
                        d.claim_index,
                        before.offset
                    );
                }
                most_keys = most_keys.max(in_flight.len());
            }
            Event::Finishing { lease } => {
                if let Some(key) = key_of.get(lease) {
                    in_flight.remove(key);
                }
            }
            _ => {}
        }
    }
    most_keys
}

/// The checks catch the histories they exist for, and pass the ones a
/// correct queue may produce.
mod catches {
    use super::*;
    use ordo_core::LeaseId;

    /// Delivery `delivery` of `offset` under lease `lease`, claimed at log
    /// index `claimed_at`, held over `[start_ms, start_ms + 1000)`.
    fn delivered(offset: u64, delivery: u32, lease: u64, claimed_at: u64, start_ms: u64) -> Event {
        Event::Delivered(Delivery {
            worker: 0,
            offset: Offset(offset),
            delivery,
            lease: LeaseToken(LeaseId(lease)),
            lease_start_ms: start_ms,
            lease_expires_ms: start_ms + 1_000,
            key: Some(format!("k{}", offset % 2)),
            claim_index: Some(LogIndex(claimed_at)),
        })
    }

    fn settled(offset: u64, lease: u64, acking: bool, ending: Ending) -> Event {
        Event::Settled {
            offset: Offset(offset),
            lease: LeaseToken(LeaseId(lease)),
            acking,
            ending,
        }
    }

    fn finishing(lease: u64) -> Event {
        Event::Finishing {
            lease: LeaseToken(LeaseId(lease)),
        }
    }

    #[test]
    fn a_redelivery_after_the_lease_or_after_a_nack_is_no_overlap() {
        let nacked = Ending::Nacked {
            log_index: LogIndex(5),
            dead_lettered: false,
        };
        assert_leases_never_overlap(&[
            delivered(0, 1, 1, 1, 0),
            settled(0, 1, true, Ending::Lost),
            delivered(0, 2, 2, 3, 1_000),
            settled(0, 2, false, nacked),
            delivered(0, 3, 3, 6, 1_200),
        ]);
    }

    #[test]
    #[should_panic(expected = "two live leases at once")]
    fn two_live_leases_on_one_job_are_caught() {
        assert_leases_never_overlap(&[delivered(0, 1, 1, 1, 0), delivered(0, 2, 2, 3, 999)]);
    }

    #[test]
    #[should_panic(expected = "two live leases at once")]
    fn a_claim_the_log_applied_before_the_nack_is_caught() {
        let nacked = Ending::Nacked {
            log_index: LogIndex(5),
            dead_lettered: false,
        };
        assert_leases_never_overlap(&[
            delivered(0, 1, 1, 1, 0),
            delivered(0, 2, 2, 4, 500),
            settled(0, 1, false, nacked),
        ]);
    }

    #[test]
    #[should_panic(expected = "so no later delivery may exist")]
    fn a_job_handed_out_again_after_its_ack_is_caught() {
        assert_leases_never_overlap(&[
            delivered(0, 1, 1, 1, 0),
            settled(0, 1, true, Ending::Acked(LogIndex(2))),
            delivered(0, 2, 2, 3, 5_000),
        ]);
    }

    #[test]
    fn one_job_per_key_at_a_time_in_offset_order_passes() {
        let most_keys = assert_one_job_per_key_at_a_time_in_offset_order(&[
            delivered(0, 1, 1, 1, 0),
            delivered(1, 1, 2, 1, 0),
            finishing(1),
            settled(0, 1, true, Ending::Acked(LogIndex(2))),
            delivered(2, 1, 3, 3, 0),
        ]);
        assert_eq!(most_keys, 2);
    }

    #[test]
    #[should_panic(expected = "while offset 0 was in flight")]
    fn a_second_job_of_a_key_in_flight_is_caught() {
        assert_one_job_per_key_at_a_time_in_offset_order(&[
            delivered(0, 1, 1, 1, 0),
            delivered(2, 1, 2, 2, 0),
        ]);
    }

    #[test]
    #[should_panic(expected = "not after the ack")]
    fn a_key_claimed_before_its_previous_ack_applied_is_caught() {
        assert_one_job_per_key_at_a_time_in_offset_order(&[
            delivered(0, 1, 1, 1, 0),
            finishing(1),
            delivered(2, 1, 2, 2, 0),
            settled(0, 1, true, Ending::Acked(LogIndex(3))),
        ]);
    }

    #[test]
    #[should_panic(expected = "ran after offset 2")]
    fn a_key_run_out_of_offset_order_is_caught() {
        assert_one_job_per_key_at_a_time_in_offset_order(&[
            delivered(2, 1, 1, 1, 0),
            finishing(1),
            settled(2, 1, true, Ending::Acked(LogIndex(2))),
            delivered(0, 1, 2, 3, 0),
        ]);
    }
}
