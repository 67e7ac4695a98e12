//! Sending emails from a work queue, shared by `examples/emails.rs` and its
//! test (`tests/cluster/examples.rs`): "send email" jobs appended to a
//! topic, worked by three `ordo_client::Worker`s, one of which crashes in
//! the middle of a job, after sending the email and before acking it. Its
//! lease runs out, and the job goes to another worker: the email is sent
//! again (at least once: once per delivery), and acked once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ordo_api::{Job, PutQueueRequest, QueueInfo};
use ordo_client::worker::{Action, Settlement, WorkerEvent};
use ordo_client::{Client, ClientError, Handler, Worker};
use ordo_core::{NewRecord, Offset};
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// The group whose queue the mail workers work.
pub const GROUP: &str = "mailers";
/// The lease on each job: short, so the crashed worker's job goes again
/// soon.
pub const LEASE: Duration = Duration::from_secs(2);
/// How long sending one email takes.
pub const SEND_TIME: Duration = Duration::from_millis(150);
/// The workers; the second one crashes.
pub const WORKERS: [&str; 3] = ["worker-1", "worker-2", "worker-3"];
const CRASHING: usize = 1;
/// The longest a run may take: every email sent and acked, the crashed
/// job's lease run out.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const RECIPIENTS: [&str; 3] = ["alice", "bob", "carol"];

/// One "send email" job, the value of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
}

/// A topic no earlier run used: `emails-<unix ms>`.
pub fn fresh_topic() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("emails-{ms}")
}

/// Appends `count` emails to `topic` and makes its queue for [`GROUP`] with
/// a [`LEASE`]; answers the emails' offsets.
pub async fn enqueue(
    client: &Client,
    topic: &str,
    count: usize,
) -> Result<Vec<Offset>, ClientError> {
    let records = (0..count)
        .map(|i| NewRecord {
            key: None,
            value: serde_json::to_value(Email {
                to: format!("{}@example.com", RECIPIENTS[i % RECIPIENTS.len()]),
                subject: format!("order {i} shipped"),
            })
            .expect("an Email serializes")
            .into(),
            headers: Default::default(),
        })
        .collect();
    let appended = client.append(topic, records).await?;
    let config = PutQueueRequest {
        lease_ms: Some(LEASE.as_millis() as u64),
        ..PutQueueRequest::default()
    };
    client.put_queue(GROUP, topic, &config).await?;
    Ok(appended.offsets)
}

/// One email sent: by whom, which job and delivery, when (since the run
/// started).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub worker: &'static str,
    pub offset: Offset,
    pub delivery: u32,
    pub at: Duration,
}

/// What a run saw.
#[derive(Debug)]
pub struct Outcome {
    pub emails: Vec<Offset>,
    pub sent: Vec<Sent>,
    /// The workers that acked each job.
    pub acked: BTreeMap<Offset, Vec<&'static str>>,
    /// Acks and nacks that did not simply take effect (each a problem in
    /// this run, which has no failures to ride out).
    pub unsure: Vec<String>,
    /// The job the crashed worker held.
    pub crashed: Option<Offset>,
    /// The queue at the end.
    pub queue: Option<QueueInfo>,
}

/// What the workers record, shared.
#[derive(Default)]
struct Record {
    sent: Vec<Sent>,
    acked: BTreeMap<Offset, Vec<&'static str>>,
    unsure: Vec<String>,
}

type Shared = Arc<Mutex<Record>>;
/// Tells a step of the run.
type Say = Arc<dyn Fn(String) + Send + Sync>;

fn lock(record: &Shared) -> std::sync::MutexGuard<'_, Record> {
    record
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Works `topic`'s queue with the three [`WORKERS`], the i-th through
/// `clients[i % clients.len()]`, until every email in `emails` is acked;
/// the crashing worker stops (its task aborted, as a killed process stops)
/// holding its first job. `say` tells each step as it happens.
pub async fn run(
    clients: &[Client],
    topic: &str,
    emails: Vec<Offset>,
    say: impl Fn(String) + Send + Sync + 'static,
) -> Outcome {
    let say: Say = Arc::new(say);
    let record = Shared::default();
    let started = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let start_worker = |i: usize, crash: Option<oneshot::Sender<Offset>>| {
        let client = clients[i % clients.len()].clone();
        let handler = Mailer {
            worker: WORKERS[i],
            record: record.clone(),
            say: say.clone(),
            started,
            crash: Mutex::new(crash),
        };
        let worker = Worker::new(client, GROUP, topic)
            .claim_wait(Duration::from_secs(1))
            .on_event(listen(WORKERS[i], record.clone(), say.clone()));
        let mut stopped = stopped.clone();
        tokio::spawn(worker.run(handler, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }))
    };

    // The crashing worker first, so it surely has a job to crash on.
    let (crash_tx, crash_rx) = oneshot::channel();
    let crashing = start_worker(CRASHING, Some(crash_tx));
    let crashed = tokio::time::timeout(RUN_TIMEOUT, crash_rx)
        .await
        .ok()
        .and_then(Result::ok);
    let others: Vec<_> = (0..WORKERS.len())
        .filter(|&i| i != CRASHING)
        .map(|i| start_worker(i, None))
        .collect();
    crashing.abort();
    if let Some(offset) = crashed {
        say(format!(
            "{} crashed before acking the job at offset {offset}",
            WORKERS[CRASHING]
        ));
    }

    let deadline = Instant::now() + RUN_TIMEOUT;
    while Instant::now() < deadline && !emails.iter().all(|e| lock(&record).acked.contains_key(e)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    for worker in others {
        match worker.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => lock(&record).unsure.push(format!("a worker stopped: {e}")),
            Err(e) => lock(&record).unsure.push(format!("a worker panicked: {e}")),
        }
    }
    let queue = clients[0].queue(GROUP, topic).await.ok().flatten();
    let Record {
        sent,
        acked,
        unsure,
    } = std::mem::take(&mut *lock(&record));
    Outcome {
        emails,
        sent,
        acked,
        unsure,
        crashed,
        queue,
    }
}

/// A worker's handler: "sends" the email (records it), which takes
/// [`SEND_TIME`]; one given `crash` then hangs on its first job, never
/// acking it, and says which job that is.
struct Mailer {
    worker: &'static str,
    record: Shared,
    say: Say,
    started: Instant,
    crash: Mutex<Option<oneshot::Sender<Offset>>>,
}

impl Handler for Mailer {
    type Error = String;

    async fn handle(&self, job: Job) -> Result<(), String> {
        let email: Email = job
            .value
            .parse()
            .map_err(|e| format!("not an email: {e}"))?;
        tokio::time::sleep(SEND_TIME).await;
        (self.say)(format!(
            "{} sent email {} to {} (delivery {})",
            self.worker, job.offset, email.to, job.delivery
        ));
        lock(&self.record).sent.push(Sent {
            worker: self.worker,
            offset: job.offset,
            delivery: job.delivery,
            at: self.started.elapsed(),
        });
        let crash = self
            .crash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(crash) = crash {
            let _ = crash.send(job.offset);
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

/// Records acks, and anything that is not a plain ack.
fn listen(
    worker: &'static str,
    record: Shared,
    say: Say,
) -> impl Fn(&WorkerEvent) + Send + Sync + 'static {
    move |event| match event {
        WorkerEvent::Settled {
            job,
            action: Action::Ack,
            settlement: Settlement::Done(_),
        } => {
            say(format!("{worker} acked email {}", job.offset));
            lock(&record)
                .acked
                .entry(job.offset)
                .or_default()
                .push(worker);
        }
        WorkerEvent::Settled {
            job, settlement, ..
        } => lock(&record)
            .unsure
            .push(format!("{worker}: email {}: {settlement:?}", job.offset)),
        WorkerEvent::Failed { job, error } => lock(&record)
            .unsure
            .push(format!("{worker}: email {} failed: {error}", job.offset)),
        _ => {}
    }
}

/// What is wrong with a run, if anything: every email is sent once per
/// delivery and acked once; the crashed worker's email went again, to
/// another worker, only after its lease; the queue ends empty.
pub fn problems(outcome: &Outcome) -> Vec<String> {
    let mut problems = outcome.unsure.clone();
    for email in &outcome.emails {
        let acks = outcome.acked.get(email).map_or(0, Vec::len);
        if acks != 1 {
            problems.push(format!("email {email} acked {acks} times"));
        }
        let mut deliveries: Vec<u32> = outcome
            .sent
            .iter()
            .filter(|s| s.offset == *email)
            .map(|s| s.delivery)
            .collect();
        deliveries.sort_unstable();
        let once_each: Vec<u32> = (1..=deliveries.len() as u32).collect();
        if deliveries.is_empty() || deliveries != once_each {
            problems.push(format!(
                "email {email} was not sent once per delivery: deliveries {deliveries:?}"
            ));
        }
    }
    match outcome.crashed {
        None => problems.push(format!("{} never crashed holding a job", WORKERS[CRASHING])),
        Some(crashed) => problems.extend(redelivery_problem(outcome, crashed)),
    }
    match &outcome.queue {
        Some(q) if q.acked == outcome.emails.len() as u64 && q.pending == 0 && q.in_flight == 0 => {
        }
        other => problems.push(format!(
            "the queue did not end with every job acked: {other:?}"
        )),
    }
    problems
}

impl Outcome {
    /// The crashed job's first two sends: by the crashed worker, and by
    /// the worker it went to next.
    pub fn crashed_sends(&self) -> Option<(&Sent, &Sent)> {
        let crashed = self.crashed?;
        let mut sends = self.sent.iter().filter(|s| s.offset == crashed);
        Some((sends.next()?, sends.next()?))
    }
}

fn redelivery_problem(outcome: &Outcome, crashed: Offset) -> Option<String> {
    let Some((first, again)) = outcome.crashed_sends() else {
        return Some(format!("the crashed job at {crashed} was not sent again"));
    };
    // The lease started when the claim was answered, just before the
    // first send began: allow for the send time and a little clock slack.
    let waited = again.at.saturating_sub(first.at);
    let at_least = LEASE.saturating_sub(SEND_TIME * 2);
    if again.worker == WORKERS[CRASHING] || waited < at_least {
        return Some(format!(
            "the crashed job at {crashed} went again {waited:?} after the crash, to {}",
            again.worker
        ));
    }
    None
}
