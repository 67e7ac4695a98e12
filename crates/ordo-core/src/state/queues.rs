//! The state machine's work queues: applying a [`QueueCommand`] with the
//! rules of `queue`, reading the jobs' records from the store (what a
//! claim may hand out, what a dead letter copies), and appending dead
//! letters in the same command that retires them, so a job is never lost
//! between the two topics and never in both.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::State;
use crate::cleanup::RecordStore;
use crate::command::{CommandResult, HeldJob, QueueAnswer, QueueCommand, QueueOp};
use crate::consumer::GroupName;
use crate::ids::{LogIndex, Offset};
use crate::limits::MAX_QUEUES;
use crate::queue::{DeadLettered, JobSource, LeaseId, QueueConfig, QueueState, MAX_CLAIM_JOBS};
use crate::record::{NewRecord, Record};
use crate::rejection::Rejection;
use crate::state::Outcome;
use crate::topic::TopicName;

/// Every queue, by topic then group.
pub type Queues = BTreeMap<TopicName, BTreeMap<GroupName, Queue>>;

/// The headers a dead letter carries besides its job's own.
pub const DEAD_LETTER_TOPIC_HEADER: &str = "ordo-dead-letter-topic";
pub const DEAD_LETTER_OFFSET_HEADER: &str = "ordo-dead-letter-offset";
pub const DEAD_LETTER_GROUP_HEADER: &str = "ordo-dead-letter-group";
pub const DEAD_LETTER_DELIVERIES_HEADER: &str = "ordo-dead-letter-deliveries";

/// Records a claim reads from the store at a time while it looks for jobs:
/// its first page is about as many as it may hand out, and each page after
/// twice the one before, up to this.
const MAX_JOB_PAGE: usize = 256;

/// Lease numbers each log index has: more than a claim hands out.
const LEASES_PER_INDEX: u64 = 1024;
const _: () = assert!(MAX_CLAIM_JOBS as u64 <= LEASES_PER_INDEX);

/// One queue: its config, where its jobs stand, and its clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub config: QueueConfig,
    pub jobs: QueueState,
    /// The latest time a command of this queue was stamped with: leases
    /// are measured by it, and it never goes back, even when a new leader's
    /// clock is behind the old one's.
    pub clock_ms: u64,
}

impl State {
    /// The queue `group` keeps over `topic`, if one was made.
    pub fn queue_of(&self, group: &GroupName, topic: &TopicName) -> Option<&Queue> {
        self.queues.get(topic)?.get(group)
    }

    /// Every queue, by topic then group.
    pub fn all_queues(&self) -> impl Iterator<Item = (&TopicName, &GroupName, &Queue)> {
        self.queues.iter().flat_map(|(topic, groups)| {
            groups
                .iter()
                .map(move |(group, queue)| (topic, group, queue))
        })
    }

    /// Applies one queue command (see `QueueOp`).
    pub(super) fn queue<S: RecordStore>(
        &mut self,
        index: LogIndex,
        command: &QueueCommand,
        records: &mut S,
    ) -> Result<Result<Outcome, Rejection>, S::Error> {
        let QueueCommand {
            group,
            topic,
            timestamp_ms,
            op,
        } = command;
        let answered = |answer| {
            Outcome::from(CommandResult::Queue {
                log_index: index,
                answer,
            })
        };
        match op {
            QueueOp::Put { config } => {
                return Ok(self
                    .put_queue(group, topic, config, *timestamp_ms)
                    .map(|()| answered(QueueAnswer::Put)))
            }
            QueueOp::Delete => {
                return Ok(self
                    .delete_queue(group, topic)
                    .map(|()| answered(QueueAnswer::Deleted)))
            }
            _ => {}
        }
        let State { topics, queues, .. } = self;
        let Some(queue) = queues
            .get_mut(topic)
            .and_then(|groups| groups.get_mut(group))
        else {
            return Ok(Err(Rejection::QueueNotFound {
                group: group.clone(),
                topic: topic.clone(),
            }));
        };
        let Queue {
            config,
            jobs,
            clock_ms,
        } = queue;
        let now_ms = (*clock_ms).max(*timestamp_ms);
        let answer = match op {
            QueueOp::Put { .. } | QueueOp::Delete => unreachable!("answered above"),
            QueueOp::Claim { max, lease_ms } => {
                // Numbered from the claim's log index: a lease is never
                // handed out twice, even by a queue deleted and made again.
                jobs.number_leases_from(LeaseId(index.0.saturating_mul(LEASES_PER_INDEX)));
                let dead_lettered = jobs.expire(config, now_ms);
                let (start, end) = topics.get(topic).map_or((Offset(0), Offset(0)), |state| {
                    (state.start_offset, state.end_offset)
                });
                let mut source = StoredJobs {
                    topic,
                    start,
                    end,
                    store: &mut *records,
                    page: VecDeque::new(),
                    read_to: start,
                    page_size: (*max as usize).saturating_add(8).min(MAX_JOB_PAGE),
                };
                let lease_ms = lease_ms.unwrap_or(config.lease_ms);
                let claimed = jobs.claim(config, &mut source, *max as usize, lease_ms, now_ms)?;
                QueueAnswer::Claimed {
                    jobs: claimed,
                    dead_lettered,
                }
            }
            QueueOp::Ack { jobs: named } => {
                if let Err(rejection) = check_held(jobs, named) {
                    return Ok(Err(rejection));
                }
                for job in named {
                    jobs.ack(job.offset, job.lease)
                        .expect("every lease was checked above");
                }
                QueueAnswer::Acked
            }
            QueueOp::Nack {
                jobs: named,
                delay_ms,
            } => {
                if let Err(rejection) = check_held(jobs, named) {
                    return Ok(Err(rejection));
                }
                let mut dead_lettered = Vec::new();
                for job in named {
                    let retired = jobs
                        .nack(config, job.offset, job.lease, *delay_ms, now_ms)
                        .expect("every lease was checked above");
                    dead_lettered.extend(retired);
                }
                QueueAnswer::Nacked { dead_lettered }
            }
            QueueOp::Extend {
                jobs: named,
                lease_ms,
            } => {
                if let Err(rejection) = check_held(jobs, named) {
                    return Ok(Err(rejection));
                }
                let lease_ms = lease_ms.unwrap_or(config.lease_ms);
                let expires_ms = named
                    .iter()
                    .map(|job| {
                        jobs.extend(job.offset, job.lease, lease_ms, now_ms)
                            .expect("every lease was checked above")
                    })
                    .collect();
                QueueAnswer::Extended { expires_ms }
            }
        };
        // Applied (a refusal above changed nothing, its time included).
        *clock_ms = now_ms;
        let dead_letter_topic = config.dead_letter_topic.clone();
        let placed = match &answer {
            QueueAnswer::Claimed { dead_lettered, .. } | QueueAnswer::Nacked { dead_lettered } => {
                let letters = dead_letters(group, topic, dead_lettered, records)?;
                (!letters.is_empty()).then(|| self.place(&dead_letter_topic, &letters, now_ms).1)
            }
            _ => None,
        };
        Ok(Ok(Outcome {
            result: CommandResult::Queue {
                log_index: index,
                answer,
            },
            placed,
        }))
    }

    /// Makes the queue, or sets an existing one's config. Makes its
    /// dead-letter topic too, so that a dead letter never finds the
    /// cluster out of room for it.
    fn put_queue(
        &mut self,
        group: &GroupName,
        topic: &TopicName,
        config: &QueueConfig,
        timestamp_ms: u64,
    ) -> Result<(), Rejection> {
        if config.dead_letter_topic == *topic {
            return Err(Rejection::DeadLetterIsSource {
                topic: topic.clone(),
            });
        }
        let count: usize = self.queues.values().map(BTreeMap::len).sum();
        if count >= MAX_QUEUES && self.queue_of(group, topic).is_none() {
            return Err(Rejection::TooManyQueues {
                limit: MAX_QUEUES as u64,
            });
        }
        self.check_room_for(&config.dead_letter_topic)?;
        self.topics
            .entry(config.dead_letter_topic.clone())
            .or_default();
        let queue = self
            .queues
            .entry(topic.clone())
            .or_default()
            .entry(group.clone())
            .or_insert_with(|| Queue {
                config: config.clone(),
                jobs: QueueState::default(),
                clock_ms: timestamp_ms,
            });
        queue.config = config.clone();
        queue.clock_ms = queue.clock_ms.max(timestamp_ms);
        // Jobs retention or a deletion already removed are no jobs.
        if let Some(state) = self.topics.get(topic) {
            queue.jobs.skip_to(state.start_offset);
        }
        Ok(())
    }

    fn delete_queue(&mut self, group: &GroupName, topic: &TopicName) -> Result<(), Rejection> {
        let not_found = || Rejection::QueueNotFound {
            group: group.clone(),
            topic: topic.clone(),
        };
        let groups = self.queues.get_mut(topic).ok_or_else(not_found)?;
        groups.remove(group).ok_or_else(not_found)?;
        if groups.is_empty() {
            self.queues.remove(topic);
        }
        Ok(())
    }
}

/// Every named job is held by the delivery named with it, and none is
/// named twice; otherwise the command changes nothing.
fn check_held(jobs: &QueueState, named: &[HeldJob]) -> Result<(), Rejection> {
    let mut seen = BTreeSet::new();
    let mut lost = Vec::new();
    for job in named {
        if !seen.insert(job.offset) {
            return Err(Rejection::JobNamedTwice { offset: job.offset });
        }
        if jobs.held(job.offset, job.lease).is_err() {
            lost.push(job.offset);
        }
    }
    if lost.is_empty() {
        Ok(())
    } else {
        Err(Rejection::LeaseLost { offsets: lost })
    }
}

/// The records the dead-lettered jobs go to the dead-letter topic as: each
/// job's key, value and headers, and headers naming where it came from.
/// A job whose record compaction removed meanwhile has nothing to copy.
fn dead_letters<S: RecordStore>(
    group: &GroupName,
    topic: &TopicName,
    dead: &[DeadLettered],
    records: &mut S,
) -> Result<Vec<NewRecord>, S::Error> {
    let mut letters = Vec::with_capacity(dead.len());
    for job in dead {
        let Some(record) = records
            .read(topic, job.offset..Offset(job.offset.0 + 1), 1)?
            .into_iter()
            .next()
        else {
            continue;
        };
        let Record {
            key,
            value,
            mut headers,
            ..
        } = record;
        for (name, value) in [
            (DEAD_LETTER_TOPIC_HEADER, topic.to_string()),
            (DEAD_LETTER_OFFSET_HEADER, job.offset.to_string()),
            (DEAD_LETTER_GROUP_HEADER, group.to_string()),
            (DEAD_LETTER_DELIVERIES_HEADER, job.deliveries.to_string()),
        ] {
            headers.insert(name.to_owned(), value);
        }
        letters.push(NewRecord {
            key,
            value,
            headers,
        });
    }
    Ok(letters)
}

/// A queue's topic as a claim sees it: the offsets it has, and the
/// records the store holds there, read a page at a time in offset order.
struct StoredJobs<'a, S> {
    topic: &'a TopicName,
    start: Offset,
    end: Offset,
    store: &'a mut S,
    /// Records read from the store, from `page`'s front up to `read_to`.
    page: VecDeque<Record>,
    read_to: Offset,
    /// How many records the next read asks for.
    page_size: usize,
}

impl<S: RecordStore> JobSource for StoredJobs<'_, S> {
    type Error = S::Error;

    fn end_offset(&self) -> Offset {
        self.end
    }

    fn job_key(&mut self, offset: Offset) -> Result<Option<Option<String>>, S::Error> {
        if offset < self.start || offset >= self.end {
            return Ok(None);
        }
        if offset >= self.read_to {
            let page = self
                .store
                .read(self.topic, offset..self.end, self.page_size)?;
            self.read_to = match page.last() {
                Some(last) if page.len() == self.page_size => Offset(last.offset.0 + 1),
                _ => self.end,
            };
            self.page = page.into();
            self.page_size = (self.page_size * 2).min(MAX_JOB_PAGE);
        }
        while self
            .page
            .front()
            .is_some_and(|record| record.offset < offset)
        {
            self.page.pop_front();
        }
        Ok(self
            .page
            .front()
            .filter(|record| record.offset == offset)
            .map(|record| record.key.clone()))
    }
}

#[cfg(test)]
mod tests;
