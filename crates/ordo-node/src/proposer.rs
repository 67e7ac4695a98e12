//! How a leader's writes reach openraft's core: gathered. Each
//! `client_write` is a message of its own to the core, which wakes for it
//! and, run next by the runtime, finds that one message: a turn of its
//! loop (metrics, engine commands, a log append, a flusher hand-off) per
//! write. The [`Proposer`] task takes every proposal waiting and submits
//! them as one message with `Raft::client_write_many`; each proposal's
//! result goes back to its caller, in order. When the batch before held
//! more than one proposal (the leader is busy), it first yields to the
//! runtime a few times, so that requests already runnable add theirs, as
//! replication's gathering does (`replication_gather`); after a lone
//! proposal it does not, so a lone client's write is not held back (the
//! flush linger's rule, `StoreOptions::flush_linger`).

use futures::stream::BoxStream;
use futures::StreamExt;
use openraft::errors::{ClientWriteError, Fatal, RaftError};
use openraft::raft::WriteResult;
use ordo_core::{Command, CommandResult};
use tokio::sync::{mpsc, oneshot};

use crate::types::{Raft, TypeConfig};

/// What a proposal comes to: the command's result once applied, or why not.
pub(crate) type Outcome =
    Result<CommandResult, RaftError<TypeConfig, ClientWriteError<TypeConfig>>>;

/// Yields before a batch is taken, after a batch of more than one. Measured
/// with `gobench` (`docs/performance.md`): always 8 yields cost 4-10 % at 16
/// clients; none, or 8 after a busy batch, gained at both 16 and 64.
const GATHER_YIELDS: usize = 8;

type Proposal = (Command, oneshot::Sender<Outcome>);

/// The handle a node's writes go through; its task stops once the handle
/// is dropped and the proposals already taken are answered.
pub(crate) struct Proposer {
    proposals: mpsc::UnboundedSender<Proposal>,
}

impl Proposer {
    pub(crate) fn start(raft: Raft) -> Self {
        let (proposals, waiting) = mpsc::unbounded_channel();
        tokio::spawn(gather(raft, waiting));
        Proposer { proposals }
    }

    /// Proposes `command` and waits for its outcome: what `client_write`
    /// would have answered.
    pub(crate) async fn propose(&self, command: Command) -> Outcome {
        let (answer, outcome) = oneshot::channel();
        if self.proposals.send((command, answer)).is_err() {
            return Err(RaftError::Fatal(Fatal::Stopped));
        }
        outcome
            .await
            .unwrap_or(Err(RaftError::Fatal(Fatal::Stopped)))
    }
}

async fn gather(raft: Raft, mut waiting: mpsc::UnboundedReceiver<Proposal>) {
    let mut last_batch = 0;
    while let Some(first) = waiting.recv().await {
        if last_batch > 1 {
            for _ in 0..GATHER_YIELDS {
                tokio::task::yield_now().await;
            }
        }
        let mut batch = vec![first];
        while let Ok(next) = waiting.try_recv() {
            batch.push(next);
        }
        last_batch = batch.len();
        let (commands, answers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match raft.client_write_many(commands).await {
            Ok(results) => {
                tokio::spawn(answer_each(results, answers));
            }
            Err(fatal) => {
                for answer in answers {
                    let _ = answer.send(Err(RaftError::Fatal(fatal.clone())));
                }
            }
        }
    }
}

/// Hands each result of a batch to its proposal's caller, in order. A
/// caller that stopped waiting (its timeout) is skipped.
async fn answer_each(
    mut results: BoxStream<'static, Result<WriteResult<TypeConfig>, Fatal<TypeConfig>>>,
    answers: Vec<oneshot::Sender<Outcome>>,
) {
    for answer in answers {
        let outcome = match results.next().await {
            Some(Ok(Ok(written))) => Ok(written.response),
            Some(Ok(Err(refused))) => Err(RaftError::APIError(refused)),
            Some(Err(fatal)) => Err(RaftError::Fatal(fatal)),
            None => Err(RaftError::Fatal(Fatal::Stopped)),
        };
        let _ = answer.send(outcome);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ordo_core::Append;
    use ordo_core::{NewRecord, TopicName};

    use crate::testing::leading_alone;

    /// Many appends at once share batches, and each caller hears the
    /// offsets of its own records: the record at each answered offset is
    /// the one that caller sent.
    #[tokio::test]
    async fn concurrent_appends_each_get_their_own_offsets() {
        let node = leading_alone().await;
        let topic = TopicName::new("gathered").expect("a valid name");
        let appends = (0..64).map(|caller| {
            let (node, topic) = (Arc::clone(&node), topic.clone());
            tokio::spawn(async move {
                let records = (0..1 + caller % 3)
                    .map(|n| NewRecord {
                        key: None,
                        value: serde_json::json!(format!("{caller}-{n}")).into(),
                        headers: Default::default(),
                    })
                    .collect::<Vec<_>>();
                let append = Append {
                    records,
                    producer: None,
                    condition: None,
                };
                let answer = node.append(topic, append).await.expect("appended");
                (caller, answer.offsets())
            })
        });
        let answers = futures::future::join_all(appends).await;
        let mut all_offsets = Vec::new();
        for answer in answers {
            let (caller, offsets) = answer.expect("the task ran");
            assert_eq!(offsets.len(), 1 + caller % 3);
            for (n, offset) in offsets.into_iter().enumerate() {
                let page = node
                    .state_machine()
                    .read_records(&topic, offset, 1, usize::MAX)
                    .expect("readable")
                    .expect("the topic exists");
                assert_eq!(page.records[0].offset, offset);
                assert_eq!(
                    page.records[0].value,
                    serde_json::json!(format!("{caller}-{n}"))
                );
                all_offsets.push(offset.0);
            }
        }
        all_offsets.sort_unstable();
        let expected: Vec<u64> = (0..all_offsets.len() as u64).collect();
        assert_eq!(all_offsets, expected, "every offset once, none missing");
    }
}
