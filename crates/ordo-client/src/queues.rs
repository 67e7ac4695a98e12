//! Work queues (DESIGN.md §3c): make, show, list and delete a queue; claim
//! jobs under leases, and ack, nack or extend them by the lease each was
//! handed out under. The loop that does this for a worker is
//! [`crate::Worker`]; these are the single calls it and the CLI make.
//!
//! What is resent after an unknown outcome: reads, and a queue's config
//! (setting it twice is setting it once), and a delete (a second one finds
//! nothing to delete, which [`Client::delete_queue`] reports as such).
//! Claims, acks, nacks and extends are commands that change who holds what,
//! so they go again only when they certainly did not happen
//! ([`ClientError::OutcomeUnknown`] otherwise). An unknown claim costs at
//! most a lease's wait: a job it may have taken goes back when its lease
//! expires. An unknown ack or nack may be sent again by its caller: a
//! second one that finds the job gone is `409 lease_lost`, which then
//! means "settled by the first, or lost" ([`lost_offsets`]).

use std::time::Duration;

use ordo_api::{
    AckRequest, ClaimRequest, ClaimResponse, ExtendRequest, ExtendResponse, JobLease, JobsDone,
    NackRequest, PutQueueRequest, QueueInfo, QueueList,
};
use ordo_core::Offset;
use ordo_transport::Method;

use crate::addr::encode_path_segment;
use crate::call::Safety;
use crate::client::Client;
use crate::error::ClientError;
use crate::exchange::Call;

/// The code of the 404 for a queue nobody made.
pub const QUEUE_NOT_FOUND: &str = "queue_not_found";
/// The code of the 409 for an ack, nack or extend whose lease is no longer
/// held; nothing in that request took effect.
pub const LEASE_LOST: &str = "lease_lost";

impl Client {
    /// Creates the queue of `group` over `topic`, or sets its config (its
    /// jobs stay as they are); answers with the queue as it now stands.
    pub async fn put_queue(
        &self,
        group: &str,
        topic: &str,
        config: &PutQueueRequest,
    ) -> Result<QueueInfo, ClientError> {
        let path = queue_path(group, topic);
        self.send(Call::put(&path, config, Safety::Idempotent))
            .await?
            .json()
    }

    /// The queue of `group` over `topic`; `None` if there is none.
    pub async fn queue(&self, group: &str, topic: &str) -> Result<Option<QueueInfo>, ClientError> {
        let path = queue_path(group, topic);
        match self.send(Call::get(&path)).await.and_then(|a| a.json()) {
            Ok(info) => Ok(Some(info)),
            Err(e) if e.code() == Some(QUEUE_NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every queue, by topic then group.
    pub async fn queues(&self) -> Result<QueueList, ClientError> {
        self.send(Call::get("/v1/queues")).await?.json()
    }

    /// Deletes the queue (its leases and counts; the topic's records stay).
    /// `Ok(false)`: there was no such queue, perhaps because an earlier
    /// attempt of this same call deleted it before its answer was lost.
    pub async fn delete_queue(&self, group: &str, topic: &str) -> Result<bool, ClientError> {
        let path = queue_path(group, topic);
        match self
            .send(Call::bare(Method::Delete, &path, Safety::Idempotent))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some(QUEUE_NOT_FOUND) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Claims up to `request.max` jobs. With `wait_ms`, waits that long for
    /// a job when none is ready (the exchange's deadline is the client's
    /// timeout plus the wait, as for a long-polled read) and answers with
    /// no jobs at the deadline. Resent only when it certainly did not
    /// happen.
    pub async fn claim(
        &self,
        group: &str,
        topic: &str,
        request: &ClaimRequest,
    ) -> Result<ClaimResponse, ClientError> {
        let path = format!("{}/claim", queue_path(group, topic));
        let call = Call::post(&path, request, Safety::AppendOnce)
            .waiting(Duration::from_millis(request.wait_ms));
        self.send(call).await?.json()
    }

    /// The jobs are done. All or nothing: `409 lease_lost` (see
    /// [`lost_offsets`]) if any lease is no longer held.
    pub async fn ack(
        &self,
        group: &str,
        topic: &str,
        jobs: &[JobLease],
    ) -> Result<JobsDone, ClientError> {
        let request = AckRequest {
            jobs: jobs.to_vec(),
        };
        self.queue_command(group, topic, "ack", &request).await
    }

    /// Gives the jobs back, to go again after `delay_ms` (those on their
    /// last delivery go to the dead-letter topic instead, named in the
    /// answer's `dead_lettered`). All or nothing, like [`Client::ack`].
    pub async fn nack(
        &self,
        group: &str,
        topic: &str,
        jobs: &[JobLease],
        delay_ms: u64,
    ) -> Result<JobsDone, ClientError> {
        let request = NackRequest {
            jobs: jobs.to_vec(),
            delay_ms,
        };
        self.queue_command(group, topic, "nack", &request).await
    }

    /// Keeps the jobs for `lease_ms` from now (the queue's lease if
    /// `None`). All or nothing, like [`Client::ack`].
    pub async fn extend(
        &self,
        group: &str,
        topic: &str,
        jobs: &[JobLease],
        lease_ms: Option<u64>,
    ) -> Result<ExtendResponse, ClientError> {
        let request = ExtendRequest {
            jobs: jobs.to_vec(),
            lease_ms,
        };
        self.queue_command(group, topic, "extend", &request).await
    }

    async fn queue_command<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        group: &str,
        topic: &str,
        action: &str,
        request: &B,
    ) -> Result<T, ClientError> {
        let path = format!("{}/{action}", queue_path(group, topic));
        self.send(Call::post(&path, request, Safety::AppendOnce))
            .await?
            .json()
    }
}

/// The offsets whose leases a `409 lease_lost` names; `None` for any other
/// error. An empty list: the server said the lease was lost but not which.
pub fn lost_offsets(error: &ClientError) -> Option<Vec<Offset>> {
    if error.code() != Some(LEASE_LOST) {
        return None;
    }
    let offsets = error
        .current()
        .and_then(|current| current.get("offsets"))
        .and_then(|offsets| serde_json::from_value(offsets.clone()).ok())
        .unwrap_or_default();
    Some(offsets)
}

fn queue_path(group: &str, topic: &str) -> String {
    format!(
        "/v1/queues/{}/{}",
        encode_path_segment(group),
        encode_path_segment(topic)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: &str, current: Option<serde_json::Value>) -> ClientError {
        ClientError::Api {
            status: 409,
            code: code.into(),
            message: String::new(),
            leader: None,
            current,
        }
    }

    #[test]
    fn a_lease_lost_names_its_offsets_and_nothing_else_does() {
        let lost = api_error(LEASE_LOST, Some(serde_json::json!({"offsets": [3, 9]})));
        assert_eq!(lost_offsets(&lost), Some(vec![Offset(3), Offset(9)]));
        assert_eq!(lost_offsets(&api_error(LEASE_LOST, None)), Some(vec![]));
        let conflict = api_error("position_conflict", Some(serde_json::json!({"offset": 3})));
        assert_eq!(lost_offsets(&conflict), None);
    }

    #[test]
    fn queue_paths_encode_group_and_topic() {
        assert_eq!(
            queue_path("mail ers", "jobs.v1"),
            "/v1/queues/mail%20ers/jobs.v1"
        );
    }
}
