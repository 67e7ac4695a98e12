//! Work queues on the `Node` (DESIGN.md §3c): make, configure, show and
//! delete a queue; claim jobs (long-polling while there is nothing to
//! hand out), ack, nack and extend them. Every change is a queue command
//! through the Raft log, stamped with the leader's clock; what a claim
//! hands out is read back from this node's store once it has applied it.

use std::time::Duration;

use ordo_api::{Consistency, QueueInfo, QueueSettings};
use ordo_core::queue::{Claimed, DeadLettered, QueueState};
use ordo_core::{
    Command, CommandResult, GroupName, HeldJob, LogIndex, Offset, QueueAnswer, QueueCommand,
    QueueConfig, QueueOp, Record, Rejection, TopicName,
};
use ordo_store::QueueView;
use tokio::time::Instant;

use crate::error::NodeError;
use crate::node::Node;

/// How long a claim waits for its own entry to be applied here before it
/// reads the jobs' records (the leader applied it; this node follows).
const APPLY_WAIT: Duration = Duration::from_secs(5);

/// The jobs one claim handed out, each with its record.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJobs {
    pub jobs: Vec<(Claimed, Record)>,
    /// The claim's entry; `None` when the long-poll ended with nothing
    /// proposed since the last empty claim.
    pub log_index: Option<LogIndex>,
}

impl Node {
    /// Makes the queue, or sets an existing one's config; answers with the
    /// queue as this node sees it once it applied the change.
    pub async fn put_queue(
        &self,
        group: GroupName,
        topic: TopicName,
        config: QueueConfig,
    ) -> Result<QueueView, NodeError> {
        let log_index = self
            .queue_command(&group, &topic, QueueOp::Put { config })
            .await?
            .0;
        self.wait_applied(log_index, APPLY_WAIT).await?;
        self.local_queue(&group, &topic)
    }

    /// Forgets the queue and where its jobs stand (the topic stays).
    pub async fn delete_queue(
        &self,
        group: GroupName,
        topic: TopicName,
    ) -> Result<LogIndex, NodeError> {
        Ok(self.queue_command(&group, &topic, QueueOp::Delete).await?.0)
    }

    /// One queue, as fresh as `consistency` asks.
    pub async fn queue(
        &self,
        group: &GroupName,
        topic: &TopicName,
        consistency: Consistency,
    ) -> Result<QueueView, NodeError> {
        self.read_barrier(consistency).await?;
        self.local_queue(group, topic)
    }

    /// Every queue, as fresh as `consistency` asks.
    pub async fn queues(&self, consistency: Consistency) -> Result<Vec<QueueView>, NodeError> {
        self.read_barrier(consistency).await?;
        self.state_machine().queues().map_err(NodeError::internal)
    }

    /// Hands out up to `max` jobs under leases of `lease_ms` (the queue's
    /// own if `None`). With none to hand out, waits up to `wait` for one:
    /// a new job, a job given back, or a lease that ends. An idle wait
    /// proposes nothing: it claims again only once this node's state shows
    /// something changed or came due.
    pub async fn claim(
        &self,
        group: GroupName,
        topic: TopicName,
        max: u32,
        lease_ms: Option<u64>,
        wait: Duration,
    ) -> Result<ClaimedJobs, NodeError> {
        let deadline = Instant::now() + wait;
        let mut applied = self.state_machine().applied_watch();
        loop {
            let op = QueueOp::Claim { max, lease_ms };
            let (log_index, answer) = self.queue_command(&group, &topic, op).await?;
            let QueueAnswer::Claimed { jobs, .. } = answer else {
                return Err(NodeError::unexpected_answer("a claim", &answer));
            };
            if !jobs.is_empty() || Instant::now() >= deadline {
                return self.with_records(&topic, jobs, log_index).await;
            }
            // Nothing to hand out. Where things stand once this claim is
            // applied here; then wait for the jobs or the topic to change
            // (another worker's empty claim changes neither), or for a
            // lease or delay to come due.
            self.wait_applied(log_index, APPLY_WAIT).await?;
            applied.borrow_and_update();
            let claimed = self.local_queue(&group, &topic)?;
            // Due after the time the empty claim was decided at (the
            // queue's clock), not after this node's now: a lease that ended
            // in between is due at once.
            let due = claimed
                .queue
                .jobs
                .next_due_ms(claimed.queue.clock_ms)
                .map(|due_ms| self.instant_at(due_ms));
            let seen = (claimed.queue.jobs, claimed.end_offset);
            loop {
                let until = due.map_or(deadline, |due| due.min(deadline));
                match tokio::time::timeout_at(until, applied.changed()).await {
                    Ok(Ok(())) if self.waiting_on(&group, &topic)? == seen => continue,
                    Ok(Ok(())) => break,
                    Ok(Err(_)) => {
                        return Err(NodeError::Unavailable {
                            reason: "this node is shutting down".into(),
                        })
                    }
                    Err(_) if Instant::now() >= deadline => {
                        return Ok(ClaimedJobs {
                            jobs: Vec::new(),
                            log_index: Some(log_index),
                        })
                    }
                    Err(_) => break,
                }
            }
        }
    }

    /// The jobs are done.
    pub async fn ack(
        &self,
        group: GroupName,
        topic: TopicName,
        jobs: Vec<HeldJob>,
    ) -> Result<LogIndex, NodeError> {
        let op = QueueOp::Ack { jobs };
        Ok(self.queue_command(&group, &topic, op).await?.0)
    }

    /// The jobs go back, to go again after `delay_ms`; those on their last
    /// delivery go to the dead-letter topic (and are answered).
    pub async fn nack(
        &self,
        group: GroupName,
        topic: TopicName,
        jobs: Vec<HeldJob>,
        delay_ms: u64,
    ) -> Result<(LogIndex, Vec<DeadLettered>), NodeError> {
        let op = QueueOp::Nack { jobs, delay_ms };
        match self.queue_command(&group, &topic, op).await? {
            (log_index, QueueAnswer::Nacked { dead_lettered }) => Ok((log_index, dead_lettered)),
            (_, other) => Err(NodeError::unexpected_answer("a nack", &other)),
        }
    }

    /// The jobs stay held `lease_ms` from now (the queue's own if `None`);
    /// answers each one's new expiry.
    pub async fn extend(
        &self,
        group: GroupName,
        topic: TopicName,
        jobs: Vec<HeldJob>,
        lease_ms: Option<u64>,
    ) -> Result<(LogIndex, Vec<u64>), NodeError> {
        let op = QueueOp::Extend { jobs, lease_ms };
        match self.queue_command(&group, &topic, op).await? {
            (log_index, QueueAnswer::Extended { expires_ms }) => Ok((log_index, expires_ms)),
            (_, other) => Err(NodeError::unexpected_answer("an extend", &other)),
        }
    }

    /// Proposes one queue command (the leader stamps its time).
    async fn queue_command(
        &self,
        group: &GroupName,
        topic: &TopicName,
        op: QueueOp,
    ) -> Result<(LogIndex, QueueAnswer), NodeError> {
        let command = Command::Queue(QueueCommand {
            group: group.clone(),
            topic: topic.clone(),
            timestamp_ms: 0, // stamped by the leader in `propose_local`
            op,
        });
        match self.propose(command).await? {
            CommandResult::Queue { log_index, answer } => Ok((log_index, answer)),
            other => Err(NodeError::unexpected_answer("a queue command", &other)),
        }
    }

    /// The claimed jobs with their records, read here once this node has
    /// applied the claim. A job whose record compaction removed since is
    /// left out: its lease ends unused and the next claim passes it.
    async fn with_records(
        &self,
        topic: &TopicName,
        claimed: Vec<Claimed>,
        log_index: LogIndex,
    ) -> Result<ClaimedJobs, NodeError> {
        if claimed.is_empty() {
            return Ok(ClaimedJobs {
                jobs: Vec::new(),
                log_index: Some(log_index),
            });
        }
        self.wait_applied(log_index, APPLY_WAIT).await?;
        let offsets: Vec<_> = claimed.iter().map(|job| job.offset).collect();
        let mut records = self
            .state_machine()
            .jobs(topic, &offsets)
            .map_err(NodeError::internal)?
            .into_iter()
            .peekable();
        let mut jobs = Vec::with_capacity(claimed.len());
        for job in claimed {
            while records.peek().is_some_and(|r| r.offset < job.offset) {
                records.next();
            }
            if let Some(record) = records.next_if(|r| r.offset == job.offset) {
                jobs.push((job, record));
            }
        }
        Ok(ClaimedJobs {
            jobs,
            log_index: Some(log_index),
        })
    }

    /// What a waiting claim watches: the queue's jobs and its topic's end.
    fn waiting_on(
        &self,
        group: &GroupName,
        topic: &TopicName,
    ) -> Result<(QueueState, Offset), NodeError> {
        self.state_machine()
            .queue_jobs(group, topic)
            .ok_or_else(|| queue_not_found(group, topic))
    }

    /// A queue as the API shows it, its oldest pending job's age by this
    /// node's clock.
    pub fn queue_info(&self, view: &QueueView) -> QueueInfo {
        queue_info(view, (self.config().clock)())
    }

    /// Every queue as the API shows it, from this node's applied state (a
    /// storage error shows none: the status reports the failure itself).
    pub(crate) fn queue_infos(&self) -> Vec<QueueInfo> {
        let now_ms = (self.config().clock)();
        self.state_machine()
            .queues()
            .unwrap_or_default()
            .iter()
            .map(|view| queue_info(view, now_ms))
            .collect()
    }

    /// The queue from this node's applied state.
    fn local_queue(&self, group: &GroupName, topic: &TopicName) -> Result<QueueView, NodeError> {
        self.state_machine()
            .queue(group, topic)
            .map_err(NodeError::internal)?
            .ok_or_else(|| queue_not_found(group, topic))
    }

    /// The instant this node's clock reads `ms` (since the epoch), or now
    /// if that has passed.
    fn instant_at(&self, ms: u64) -> Instant {
        let now_ms = (self.config().clock)();
        Instant::now() + Duration::from_millis(ms.saturating_sub(now_ms))
    }
}

/// A queue as the API shows it, its oldest pending job's age by `now_ms`.
fn queue_not_found(group: &GroupName, topic: &TopicName) -> NodeError {
    NodeError::Rejected {
        rejection: Rejection::QueueNotFound {
            group: group.clone(),
            topic: topic.clone(),
        },
    }
}

fn queue_info(view: &QueueView, now_ms: u64) -> QueueInfo {
    let jobs = &view.queue.jobs;
    let config = &view.queue.config;
    QueueInfo {
        group: view.group.clone(),
        topic: view.topic.clone(),
        config: QueueSettings {
            lease_ms: config.lease_ms,
            max_deliveries: config.max_deliveries,
            dead_letter_topic: config.dead_letter_topic.clone(),
            ordered_by_key: config.ordered_by_key,
        },
        floor_offset: jobs.floor(),
        end_offset: view.end_offset,
        pending: jobs.pending(view.end_offset),
        in_flight: jobs.in_flight() as u64,
        acked: jobs.acked(),
        dead_lettered: jobs.dead_lettered(),
        oldest_pending_age_ms: view
            .oldest_pending_ms
            .map_or(0, |timestamp_ms| now_ms.saturating_sub(timestamp_ms)),
    }
}
