//! What the queue tests do through the client and check of a queue: make
//! one, append numbered jobs, claim, settle, read a queue's standing (on
//! every node), and read its dead-letter topic checked against the jobs.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ordo_api::{ClaimRequest, Consistency, Job, JobLease, PutQueueRequest, QueueInfo};
use ordo_client::Client;
use ordo_core::{NewRecord, Offset, Record};
use serde_json::json;

use crate::support::{eventually, read_all, record, TestCluster, CATCH_UP_TIMEOUT};

/// The consumer group every queue of the tests belongs to.
pub const GROUP: &str = "workers";
/// How long a test waits for its workers to finish every job.
pub const QUEUE_DONE_TIMEOUT: Duration = Duration::from_secs(40);

/// Makes `GROUP`'s queue over `topic` (its dead-letter topic `<topic>.dlq`).
pub async fn put_queue(
    client: &Client,
    topic: &str,
    lease_ms: u64,
    max_deliveries: u32,
    ordered_by_key: bool,
) -> QueueInfo {
    let config = PutQueueRequest {
        lease_ms: Some(lease_ms),
        max_deliveries: Some(max_deliveries),
        dead_letter_topic: None,
        ordered_by_key,
    };
    client
        .put_queue(GROUP, topic, &config)
        .await
        .unwrap_or_else(|e| panic!("making the queue over {topic}: {e}"))
}

/// Appends the numbers `values` to `topic`, one record each, in one append.
pub async fn append_values(client: &Client, topic: &str, values: std::ops::Range<u64>) {
    let first = values.start;
    let records: Vec<NewRecord> = values.map(|n| record(json!(n))).collect();
    let ack = client
        .append(topic, records)
        .await
        .unwrap_or_else(|e| panic!("appending jobs to {topic}: {e}"));
    assert_eq!(
        ack.offsets.first(),
        Some(&Offset(first)),
        "jobs are at their numbers"
    );
}

/// Claims up to `max` jobs of `GROUP`'s queue over `topic`.
pub async fn claim(client: &Client, topic: &str, max: u32, wait_ms: u64) -> Vec<Job> {
    let request = ClaimRequest {
        max,
        lease_ms: None,
        wait_ms,
    };
    client
        .claim(GROUP, topic, &request)
        .await
        .unwrap_or_else(|e| panic!("claiming jobs of {topic}: {e}"))
        .jobs
}

/// The one job a claim handed out, which must be `offset` on `delivery`.
pub fn only_job(jobs: &[Job], offset: Offset, delivery: u32) -> &Job {
    match jobs {
        [job] if job.offset == offset && job.delivery == delivery => job,
        _ => panic!("wanted offset {offset} on delivery {delivery}, got {jobs:#?}"),
    }
}

/// A job as an ack, nack or extend names it.
pub fn lease_of(job: &Job) -> JobLease {
    JobLease {
        offset: job.offset,
        lease: job.lease,
    }
}

pub fn leases(jobs: &[Job]) -> Vec<JobLease> {
    jobs.iter().map(lease_of).collect()
}

/// How [`settle_ok`] settles jobs.
pub enum Settle {
    Ack,
    /// Give back, to go again after this many ms.
    Nack(u64),
}

/// Acks or nacks `jobs`, which must succeed.
pub async fn settle_ok(client: &Client, topic: &str, jobs: &[Job], how: Settle) {
    let leases = leases(jobs);
    let answer = match how {
        Settle::Ack => client.ack(GROUP, topic, &leases).await,
        Settle::Nack(delay_ms) => client.nack(GROUP, topic, &leases, delay_ms).await,
    };
    answer.unwrap_or_else(|e| panic!("settling {leases:?}: {e}"));
}

/// `GROUP`'s queue over `topic`, read linearizably.
pub async fn queue_info(client: &Client, topic: &str) -> QueueInfo {
    client
        .queue(GROUP, topic)
        .await
        .unwrap_or_else(|e| panic!("reading the queue over {topic}: {e}"))
        .unwrap_or_else(|| panic!("no queue over {topic}"))
}

/// A queue as it stands, without the age of its oldest pending job (which
/// grows by itself).
pub fn standing(queue: &QueueInfo) -> QueueInfo {
    QueueInfo {
        oldest_pending_age_ms: 0,
        ..queue.clone()
    }
}

/// The names of every topic, read linearizably.
pub async fn topic_names(client: &Client) -> Vec<String> {
    let list = client
        .topics(Consistency::Linearizable)
        .await
        .expect("listing the topics");
    list.topics.iter().map(|t| t.topic.to_string()).collect()
}

/// Waits until `GROUP`'s queue over `topic` is `what` by `done`.
pub async fn wait_for_queue(
    client: &Client,
    topic: &str,
    what: &str,
    done: impl Fn(&QueueInfo) -> bool,
) -> QueueInfo {
    eventually(what, QUEUE_DONE_TIMEOUT, || async {
        match client.queue(GROUP, topic).await {
            Ok(Some(queue)) if done(&queue) => Ok(queue),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// Every node, from its own applied state, shows the queue as `expected`
/// (but for the age of its oldest pending job).
pub async fn assert_every_node_shows(cluster: &TestCluster, topic: &str, expected: &QueueInfo) {
    let http = cluster.http();
    let expected = standing(expected);
    for id in cluster.ids() {
        let url = format!(
            "{}/v1/queues/{GROUP}/{topic}?consistency=local",
            cluster.base_url(id)
        );
        eventually(
            &format!("node {id} shows the queue over {topic} as {expected:?}"),
            CATCH_UP_TIMEOUT,
            || async {
                let response = http.get(&url).send().await.map_err(|e| e.to_string())?;
                let text = response.text().await.map_err(|e| e.to_string())?;
                match serde_json::from_str::<QueueInfo>(&text) {
                    Ok(shown) if standing(&shown) == expected => Ok(()),
                    _ => Err(text),
                }
            },
        )
        .await;
    }
}

/// `<topic>.dlq`'s records by the offset of the job each came from, each
/// checked against that job: the same key and value, and headers naming
/// the topic, the group and `deliveries`. None comes from a job twice.
pub async fn dead_letters(
    client: &Client,
    topic: &str,
    jobs: &[Record],
    deliveries: u32,
) -> BTreeMap<Offset, Record> {
    let letters = read_all(client, &format!("{topic}.dlq"), Consistency::Linearizable)
        .await
        .expect("reading the dead-letter topic");
    let mut by_job = BTreeMap::new();
    for letter in letters {
        let header = |name: &str| {
            letter
                .headers
                .get(name)
                .cloned()
                .unwrap_or_else(|| panic!("no {name} header in {letter:?}"))
        };
        let offset = Offset(
            header("ordo-dead-letter-offset")
                .parse()
                .expect("an offset in ordo-dead-letter-offset"),
        );
        assert_eq!(header("ordo-dead-letter-topic"), topic, "{letter:?}");
        assert_eq!(header("ordo-dead-letter-group"), GROUP, "{letter:?}");
        assert_eq!(
            header("ordo-dead-letter-deliveries"),
            deliveries.to_string(),
            "{letter:?}"
        );
        let job = jobs
            .iter()
            .find(|job| job.offset == offset)
            .unwrap_or_else(|| panic!("a dead letter of no job: {letter:?}"));
        assert_eq!(
            (&letter.key, &letter.value),
            (&job.key, &job.value),
            "a dead letter carries its job"
        );
        if let Some(twice) = by_job.insert(offset, letter) {
            panic!("offset {offset} dead-lettered twice: {twice:?}");
        }
    }
    by_job
}

/// This machine's clock in ms since the epoch: the leaders' clock too,
/// since every node runs here.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as u64
}
