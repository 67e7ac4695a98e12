//! `ordo bench --queue`: how fast a work queue hands out and retires jobs.
//! `--records` jobs (default 20,000) of `--record-bytes` are appended to a
//! new topic, `TOPIC-queue-<unix ms>`, and its queue made for group
//! `bench`; then `--concurrency` workers each claim up to `--batch` jobs,
//! ack them in one request, and claim again, until every job is acked or
//! `--seconds` is over. Measured after the warm-up, like the append bench:
//! jobs claimed and acked per second, and the latency of each claim and its
//! ack together. The topic (and with it the queue) and its dead-letter
//! topic are deleted at the end.
//!
//! Each job costs two commands in the log (its claim and its ack, shared
//! with the batch's other jobs), against one for an append.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use ordo_api::{ClaimRequest, JobLease, PutQueueRequest};
use ordo_client::worker::claim_failure_is_fatal;
use ordo_client::Client;
use ordo_core::queue::MAX_CLAIM_JOBS;

use crate::bench::{filler, report_progress, BenchArgs, Load, Summary, Tally, Window};

/// Jobs appended before the workers start, unless `--records` says.
pub const DEFAULT_JOBS: u64 = 20_000;
/// The group whose queue the workers work.
const GROUP: &str = "bench";
/// How long a claim waits when every pending job is held by another
/// worker: short, since the run ends once they are acked.
const CLAIM_WAIT_MS: u64 = 100;
/// Pause after a failed claim or ack (an election, a node down).
const ERROR_PAUSE: Duration = Duration::from_millis(50);
/// Most bytes of job values in one of the appends that fill the topic.
const FILL_APPEND_BYTES: usize = 512 * 1024;

pub async fn run(client: &Client, args: &BenchArgs) -> anyhow::Result<Summary> {
    if args.batch == 0 || args.batch > MAX_CLAIM_JOBS {
        bail!("--batch (jobs per claim) must be 1 to {MAX_CLAIM_JOBS} with --queue");
    }
    let jobs = args.records.unwrap_or(DEFAULT_JOBS);
    if jobs == 0 {
        bail!("--records (the jobs) must be at least 1");
    }
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let topic = format!("{}-queue-{}", args.topic, since_epoch.as_millis());
    fill(client, &topic, jobs, args.record_bytes).await?;
    let queue = client
        .put_queue(GROUP, &topic, &PutQueueRequest::default())
        .await
        .with_context(|| format!("making group {GROUP}'s queue over {topic}"))?;
    eprintln!(
        "appended {jobs} jobs to {topic}; {} workers",
        args.concurrency
    );

    let tally = Arc::new(Tally::default());
    let plan = Arc::new(Plan {
        client: client.clone(),
        topic: topic.clone(),
        batch: u32::try_from(args.batch).expect("at most MAX_CLAIM_JOBS"),
        jobs,
        window: Window::starting_now(args),
        acked: AtomicU64::new(0),
    });
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(work(Arc::clone(&plan), Arc::clone(&tally))))
        .collect();
    let progress = tokio::spawn(report_progress(Arc::clone(&tally), plan.window, "jobs"));
    let mut failed = None;
    for worker in workers {
        if let Err(e) = worker.await.context("a bench worker")? {
            failed.get_or_insert(e);
        }
    }
    progress.abort();
    eprintln!();
    // The queue goes with its topic; its dead-letter topic was made with it.
    for made in [topic.as_str(), queue.config.dead_letter_topic.as_str()] {
        if let Err(e) = client.delete_topic(made).await {
            eprintln!("could not delete topic {made}: {e}");
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(Summary::measured(
        Load::Queue,
        args,
        tally.take_latencies(),
        tally.acknowledged.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
        plan.window.measured(),
    ))
}

/// What the workers share.
struct Plan {
    client: Client,
    topic: String,
    batch: u32,
    jobs: u64,
    window: Window,
    /// Jobs acked, the warm-up's too: the run ends when all are.
    acked: AtomicU64,
}

/// Appends `jobs` filler records to `topic`, as few appends as fit.
async fn fill(client: &Client, topic: &str, jobs: u64, record_bytes: usize) -> anyhow::Result<()> {
    let per_append = (FILL_APPEND_BYTES / record_bytes.max(1)).clamp(1, 1_000) as u64;
    let mut appended = 0;
    while appended < jobs {
        let count = per_append.min(jobs - appended);
        let records = vec![filler(record_bytes); count as usize];
        client
            .append(topic, records)
            .await
            .with_context(|| format!("appending the jobs to {topic}"))?;
        appended += count;
    }
    Ok(())
}

/// One worker: claim, ack, again, until every job is acked or time is up.
async fn work(plan: Arc<Plan>, tally: Arc<Tally>) -> anyhow::Result<()> {
    let Window {
        measure_from,
        stop_at,
    } = plan.window;
    let claim = ClaimRequest {
        max: plan.batch,
        lease_ms: None,
        wait_ms: CLAIM_WAIT_MS,
    };
    let (client, topic) = (&plan.client, plan.topic.as_str());
    let mut mine = Vec::new();
    while Instant::now() < stop_at && plan.acked.load(Ordering::Relaxed) < plan.jobs {
        let sent = Instant::now();
        let measured = sent >= measure_from;
        let claimed = match client.claim(GROUP, topic, &claim).await {
            Ok(claimed) => claimed.jobs,
            Err(e) if claim_failure_is_fatal(&e) => {
                return Err(e).context(format!("claiming from group {GROUP}'s queue"));
            }
            Err(_) => {
                tally
                    .errors
                    .fetch_add(u64::from(measured), Ordering::Relaxed);
                tokio::time::sleep(ERROR_PAUSE).await;
                continue;
            }
        };
        if claimed.is_empty() {
            continue; // the rest are held by other workers, or done
        }
        let leases: Vec<JobLease> = claimed
            .iter()
            .map(|job| JobLease {
                offset: job.offset,
                lease: job.lease,
            })
            .collect();
        let count = leases.len() as u64;
        match client.ack(GROUP, topic, &leases).await {
            Ok(_) => {
                plan.acked.fetch_add(count, Ordering::Relaxed);
                if measured {
                    mine.push(sent.elapsed().as_micros() as u64);
                    tally.acknowledged.fetch_add(count, Ordering::Relaxed);
                }
            }
            // Unacked jobs go again when their lease runs out.
            Err(_) => {
                tally
                    .errors
                    .fetch_add(u64::from(measured), Ordering::Relaxed);
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
    tally.add_latencies(mine);
    Ok(())
}
