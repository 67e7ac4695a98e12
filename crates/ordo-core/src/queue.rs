//! Work queues (DESIGN.md §3c, issue 17): one consumer group taking a
//! topic job by job, each job handed to one worker at a time under a lease,
//! acknowledged once done, handed out again when its lease expires or the
//! worker gives it back, dead-lettered after too many deliveries.
//!
//! Pure rules over plain data, no I/O and no clock: every operation takes
//! `now_ms`, the time the leader stamped into the command that carries it,
//! so every replica applying the same commands reaches the same state
//! (expiry included). The state machine applies these rules to each
//! queue command (`state/queues.rs`).
//!
//! The state is bounded by what is unfinished: a floor offset below which
//! every job is done, and one entry per job above it that was delivered at
//! least once and is not yet done (in flight, or waiting to go again).
//! Jobs above the floor with no entry are pending, never delivered.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{Offset, TopicName};

/// Most jobs one claim hands out.
pub const MAX_CLAIM_JOBS: usize = 1_000;
/// Most offsets one claim looks at past the floor: a claim costs at most
/// this many look-ups, however far the unfinished jobs spread.
pub const MAX_CLAIM_SCAN: u64 = 10_000;

/// A queue's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    /// How long a claim holds a job unless extended.
    pub lease_ms: u64,
    /// Deliveries before a job is dead-lettered instead of handed out again.
    pub max_deliveries: u32,
    /// Where a job goes after its last delivery; never the queue's topic.
    pub dead_letter_topic: TopicName,
    /// Handing out a job waits for every earlier job with its key to be done.
    pub ordered_by_key: bool,
}

/// Identifies one delivery of one job: an ack, nack or extend must name
/// the delivery it is about, so one of a lease that moved on changes
/// nothing. Unique within a queue for its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LeaseId(pub u64);

/// A job above the floor that was delivered and is not done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Job {
    /// Held by a worker until `expires_ms`.
    InFlight {
        lease: LeaseId,
        delivery: u32,
        expires_ms: u64,
    },
    /// Given back or expired: may go again from `available_ms`.
    Waiting { delivery: u32, available_ms: u64 },
}

/// What the rules need to know of the queue's topic. Asked about offsets
/// in increasing order within one claim.
pub trait JobSource {
    /// Reading the topic's records failed (the store's error).
    type Error;
    /// The offset the next appended record will get.
    fn end_offset(&self) -> Offset;
    /// The job at `offset`, if the topic still holds a record there (one
    /// compaction or retention removed is no job), with its key.
    fn job_key(&mut self, offset: Offset) -> Result<Option<Option<String>>, Self::Error>;
}

/// One job handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimed {
    pub offset: Offset,
    /// 1 for a first delivery.
    pub delivery: u32,
    pub lease: LeaseId,
    pub expires_ms: u64,
}

/// A job retired because it was delivered `max_deliveries` times without an
/// ack: the command that retires it appends it to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLettered {
    pub offset: Offset,
    pub deliveries: u32,
}

/// An ack, nack or extend of a delivery that is no longer the job's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the lease on the job at offset {} is no longer held: it expired and moved on, or the job is done", offset.0)]
pub struct LeaseLost {
    pub offset: Offset,
}

/// One queue's state: the floor and the unfinished jobs above it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueState {
    /// Every job below it is done (acked or dead-lettered).
    floor: Offset,
    /// Delivered jobs above the floor that are not done.
    jobs: BTreeMap<Offset, Job>,
    /// Jobs above the floor that are done, kept until the floor passes.
    done: BTreeSet<Offset>,
    next_lease: u64,
    /// Jobs acked, and jobs dead-lettered, since the queue was made.
    acked: u64,
    dead_lettered: u64,
}

impl QueueState {
    /// Every job below this offset is done.
    pub fn floor(&self) -> Offset {
        self.floor
    }

    /// Jobs held by a worker now (leases expire only as commands apply).
    pub fn in_flight(&self) -> usize {
        self.jobs
            .values()
            .filter(|job| matches!(job, Job::InFlight { .. }))
            .count()
    }

    /// Jobs acked since the queue was made.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Jobs dead-lettered since the queue was made.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered
    }

    /// Jobs below `end` that are neither done nor in flight (records
    /// compaction removed count until a claim passes them).
    pub fn pending(&self, end: Offset) -> u64 {
        let above = end.0.saturating_sub(self.floor.0);
        let done = self.done.range(..end).count() as u64;
        let in_flight = self
            .jobs
            .range(..end)
            .filter(|(_, job)| matches!(job, Job::InFlight { .. }))
            .count() as u64;
        above.saturating_sub(done + in_flight)
    }

    /// Numbers the next leases from `first` on, unless they are past it
    /// already: leases stay unique however the caller numbers them.
    pub fn number_leases_from(&mut self, first: LeaseId) {
        self.next_lease = self.next_lease.max(first.0);
    }

    /// The earliest time after `after_ms` that a lease ends or a
    /// given-back job may go again: when a claim that found nothing might
    /// find something, besides new jobs and acks.
    pub fn next_due_ms(&self, after_ms: u64) -> Option<u64> {
        self.jobs
            .values()
            .map(|job| match job {
                Job::InFlight { expires_ms, .. } => *expires_ms,
                Job::Waiting { available_ms, .. } => *available_ms,
            })
            .filter(|due_ms| *due_ms > after_ms)
            .min()
    }

    /// The first job below `end` that is neither done nor in flight.
    pub fn first_pending(&self, end: Offset) -> Option<Offset> {
        (self.floor.0..end.0).map(Offset).find(|offset| {
            !self.done.contains(offset)
                && !matches!(self.jobs.get(offset), Some(Job::InFlight { .. }))
        })
    }

    /// Expires the leases due at `now_ms`: each job goes back to waiting,
    /// or, delivered `max_deliveries` times, is dead-lettered.
    pub fn expire(&mut self, config: &QueueConfig, now_ms: u64) -> Vec<DeadLettered> {
        let due: Vec<(Offset, u32)> = self
            .jobs
            .iter()
            .filter_map(|(offset, job)| match job {
                Job::InFlight {
                    delivery,
                    expires_ms,
                    ..
                } if *expires_ms <= now_ms => Some((*offset, *delivery)),
                _ => None,
            })
            .collect();
        let mut dead = Vec::new();
        for (offset, delivery) in due {
            if let Some(retired) = self.give_back(config, offset, delivery, now_ms) {
                dead.push(retired);
            }
        }
        dead
    }

    /// Hands out up to `max` jobs in offset order at `now_ms`, each under a
    /// lease of `lease_ms`: first-time jobs and waiting ones whose time has
    /// come; with `ordered_by_key`, none while an earlier job of its key is
    /// not done. Expire leases first ([`QueueState::expire`]).
    pub fn claim<S: JobSource>(
        &mut self,
        config: &QueueConfig,
        source: &mut S,
        max: usize,
        lease_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<Claimed>, S::Error> {
        let max = max.min(MAX_CLAIM_JOBS);
        let end = source
            .end_offset()
            .0
            .min(self.floor.0.saturating_add(MAX_CLAIM_SCAN));
        let mut claimed = Vec::new();
        // Keys with an earlier job not done: their later jobs wait.
        let mut held_keys = BTreeSet::new();
        for at in self.floor.0..end {
            if claimed.len() >= max {
                break;
            }
            let offset = Offset(at);
            if self.done.contains(&offset) {
                continue;
            }
            let (ready, delivery) = match self.jobs.get(&offset) {
                None => (true, 0),
                Some(Job::InFlight { .. }) => (false, 0),
                Some(Job::Waiting {
                    delivery,
                    available_ms,
                }) => (*available_ms <= now_ms, *delivery),
            };
            // Only a job that may go now, or whose key may hold later ones
            // back, needs its record looked at.
            if !ready && !config.ordered_by_key {
                continue;
            }
            let Some(key) = source.job_key(offset)? else {
                // Compaction or retention removed it: no job, so done.
                self.jobs.remove(&offset);
                self.finish(offset);
                continue;
            };
            if config.ordered_by_key {
                if let Some(key) = key {
                    if !held_keys.insert(key) {
                        continue;
                    }
                }
            }
            if !ready {
                continue;
            }
            let lease = LeaseId(self.next_lease);
            self.next_lease += 1;
            let expires_ms = now_ms.saturating_add(lease_ms);
            let delivery = delivery + 1;
            self.jobs.insert(
                offset,
                Job::InFlight {
                    lease,
                    delivery,
                    expires_ms,
                },
            );
            claimed.push(Claimed {
                offset,
                delivery,
                lease,
                expires_ms,
            });
        }
        Ok(claimed)
    }

    /// The job at `offset` is done by the worker holding `lease`.
    pub fn ack(&mut self, offset: Offset, lease: LeaseId) -> Result<(), LeaseLost> {
        self.held(offset, lease)?;
        self.jobs.remove(&offset);
        self.finish(offset);
        self.acked += 1;
        Ok(())
    }

    /// The worker holding `lease` gives the job back: it may go again after
    /// `delay_ms`, unless that was its last delivery (then it is
    /// dead-lettered).
    pub fn nack(
        &mut self,
        config: &QueueConfig,
        offset: Offset,
        lease: LeaseId,
        delay_ms: u64,
        now_ms: u64,
    ) -> Result<Option<DeadLettered>, LeaseLost> {
        let delivery = self.held(offset, lease)?;
        Ok(self.give_back(config, offset, delivery, now_ms.saturating_add(delay_ms)))
    }

    /// The worker holding `lease` keeps the job `lease_ms` from `now_ms`.
    pub fn extend(
        &mut self,
        offset: Offset,
        lease: LeaseId,
        lease_ms: u64,
        now_ms: u64,
    ) -> Result<u64, LeaseLost> {
        self.held(offset, lease)?;
        let expires = now_ms.saturating_add(lease_ms);
        if let Some(Job::InFlight { expires_ms, .. }) = self.jobs.get_mut(&offset) {
            *expires_ms = expires;
        }
        Ok(expires)
    }

    /// The delivery `lease` names, if it is the job's current one. A lease
    /// past its expiry still holds until an expiry applies: nothing else
    /// was handed the job meanwhile.
    pub fn held(&self, offset: Offset, lease: LeaseId) -> Result<u32, LeaseLost> {
        match self.jobs.get(&offset) {
            Some(Job::InFlight {
                lease: current,
                delivery,
                ..
            }) if *current == lease => Ok(*delivery),
            _ => Err(LeaseLost { offset }),
        }
    }

    /// The job at `offset`, delivered `delivery` times, goes back to wait
    /// until `available_ms`, or is dead-lettered after its last delivery.
    fn give_back(
        &mut self,
        config: &QueueConfig,
        offset: Offset,
        delivery: u32,
        available_ms: u64,
    ) -> Option<DeadLettered> {
        if delivery >= config.max_deliveries {
            self.jobs.remove(&offset);
            self.finish(offset);
            self.dead_lettered += 1;
            return Some(DeadLettered {
                offset,
                deliveries: delivery,
            });
        }
        self.jobs.insert(
            offset,
            Job::Waiting {
                delivery,
                available_ms,
            },
        );
        None
    }

    /// Marks `offset` done and moves the floor past every done job.
    fn finish(&mut self, offset: Offset) {
        self.done.insert(offset);
        while self.done.remove(&self.floor) {
            self.floor = Offset(self.floor.0 + 1);
        }
    }

    /// Moves the floor past offsets the topic no longer holds (compaction,
    /// retention) and past `start` (the topic's first readable offset),
    /// dropping any state below it.
    pub fn skip_to(&mut self, start: Offset) {
        if start > self.floor {
            self.floor = start;
            self.jobs = self.jobs.split_off(&start);
            self.done = self.done.split_off(&start);
            while self.done.remove(&self.floor) {
                self.floor = Offset(self.floor.0 + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests;
