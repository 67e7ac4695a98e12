//! `Producer`: an idempotent producer (DESIGN §4.5). It owns a producer id
//! and the next seq, and resends an append whose outcome is unknown (a
//! timeout, a leader lost mid-write) with the same id and seq, which the
//! cluster answers with the original offsets if the first try was applied.
//! This is what makes retrying a timed-out append safe.
//!
//! The server remembers each producer's last applied append only, so a
//! producer has one append in flight at a time (`&mut self`), and a seq is
//! never given to other records until the append that holds it is settled.

use std::time::Duration;

use ordo_api::{AppendRequest, AppendResponse};
use ordo_core::{Condition, NewRecord, ProducerId};

use crate::client::Client;
use crate::error::ClientError;

/// Most sends of one append (the first and its retries with the same seq).
pub const MAX_PRODUCER_ATTEMPTS: u32 = 5;
/// Pause before resending an append whose outcome is unknown: long enough
/// for a leader election to get under way.
pub const PRODUCER_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// An idempotent producer over a [`Client`].
pub struct Producer {
    client: Client,
    id: ProducerId,
    next_seq: u64,
    /// An append whose outcome stayed unknown after every attempt: it holds
    /// `next_seq`, and is settled before anything else is sent.
    unsettled: Option<(String, AppendRequest)>,
}

impl Producer {
    /// A new producer: its first append is seq 0.
    pub fn new(client: Client, id: ProducerId) -> Producer {
        Producer::resume(client, id, 0)
    }

    /// A producer that continues an earlier life of `id` (whose last
    /// acknowledged append had seq `next_seq - 1`).
    pub fn resume(client: Client, id: ProducerId, next_seq: u64) -> Producer {
        Producer {
            client,
            id,
            next_seq,
            unsettled: None,
        }
    }

    pub fn id(&self) -> &ProducerId {
        &self.id
    }

    /// The seq the next new append will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends `records` to `topic` exactly once, however often it has to be
    /// sent. The answer's `duplicate` says that a resend found the first try
    /// applied (its offsets are the original ones).
    pub async fn append(
        &mut self,
        topic: &str,
        records: Vec<NewRecord>,
    ) -> Result<AppendResponse, ClientError> {
        self.append_if(topic, records, None).await
    }

    /// As [`Producer::append`], only if `condition` holds. A refused append
    /// (failed condition, bad input) uses up no seq.
    ///
    /// If the outcome stays unknown after [`MAX_PRODUCER_ATTEMPTS`] sends,
    /// the error is [`ClientError::OutcomeUnknown`] and the producer keeps
    /// that append: the next call sends it again first (same seq), so it
    /// lands at most once, and its records never share a seq with others.
    pub async fn append_if(
        &mut self,
        topic: &str,
        records: Vec<NewRecord>,
        condition: Option<Condition>,
    ) -> Result<AppendResponse, ClientError> {
        if let Some((topic, request)) = self.unsettled.clone() {
            match self.send(&topic, request, true).await {
                // Settled either way: applied, or certainly not.
                Ok(_) | Err(ClientError::Api { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let request = AppendRequest {
            records,
            producer: Some(ordo_core::Producer::new(self.id.clone(), self.next_seq)),
            condition,
        };
        self.send(topic, request, false).await
    }

    /// Sends `request` (which carries `next_seq`) until its fate is known.
    /// `uncertain`: an earlier send of it may have been applied.
    async fn send(
        &mut self,
        topic: &str,
        request: AppendRequest,
        mut uncertain: bool,
    ) -> Result<AppendResponse, ClientError> {
        self.unsettled = None;
        let mut last_error = None;
        for attempt in 1..=MAX_PRODUCER_ATTEMPTS {
            match self.client.append_with(topic, &request).await {
                Ok(ack) => {
                    self.next_seq += 1;
                    return Ok(ack);
                }
                // The seq is checked before anything else, so a refusal of a
                // resend means no earlier send was applied: the seq is free.
                Err(e @ ClientError::Api { .. }) => return Err(e),
                Err(e @ ClientError::OutcomeUnknown { .. }) => {
                    uncertain = true;
                    last_error = Some(e);
                }
                // Certainly not applied now; an earlier send may have been.
                Err(e) if uncertain => last_error = Some(e),
                Err(e) => return Err(e),
            }
            tracing::debug!(
                producer = %self.id,
                seq = self.next_seq,
                attempt,
                "append outcome unknown; resending with the same seq"
            );
            if attempt < MAX_PRODUCER_ATTEMPTS {
                tokio::time::sleep(PRODUCER_RETRY_PAUSE).await;
            }
        }
        self.unsettled = Some((topic.to_owned(), request));
        Err(match last_error {
            Some(e @ ClientError::OutcomeUnknown { .. }) => e,
            other => ClientError::OutcomeUnknown {
                addr: String::new(),
                reason: format!(
                    "an earlier send may have been applied; the last one failed: {}",
                    other.map_or_else(String::new, |e| e.to_string())
                ),
            },
        })
    }
}
