//! `ordo bench`: a closed-loop append load against a running cluster, the
//! load generator users point at their own nodes. `--concurrency` clients
//! each send one append of `--batch` records of `--record-bytes` bytes, wait
//! for the acknowledgement, and send the next, for `--seconds` after a
//! `--warmup-secs` warm-up that is not counted. A progress line on stderr
//! every second; at the end throughput and latency percentiles, as a line
//! of text or (`--json`) one JSON object in the shape of
//! `../shared/peers`' results, so the two can be compared.
//!
//! `--records N` stops the appends once N records are acknowledged (or at
//! `--seconds`, whichever comes first). `--tail pages|stream` measures the
//! other direction instead: one consumer reading the topic back
//! (`bench_tail`). `--queue` measures a work queue: `--concurrency`
//! workers claiming and acking jobs (`bench_queue`), reported in the same
//! shape.
//!
//! The statistics ([`Summary`]) are pure and unit-tested; the rest is the
//! loop around the one `ordo_client::Client`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ordo_api::limits::MAX_RECORDS_PER_APPEND;
use ordo_core::NewRecord;
use serde::Serialize;

use crate::bench_queue;
use crate::bench_tail::{self, TailPlan, TailVia};
use crate::connect::ConnectArgs;
use crate::output::outln;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The topic appended to (created on first append).
    #[arg(long, default_value = "bench")]
    pub topic: String,
    /// Clients, each with one append in flight at a time.
    #[arg(long, short = 'c', default_value_t = 16)]
    pub concurrency: usize,
    /// Bytes of each record's value (a string of this many characters).
    #[arg(long, default_value_t = 100)]
    pub record_bytes: usize,
    /// Records per append request (with --queue: most jobs per claim, and
    /// so per ack).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// How long to run before measuring (appends then are not counted).
    #[arg(long, default_value_t = 1)]
    pub warmup_secs: u64,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Appending: stop once this many records are acknowledged. Tailing:
    /// read this many (default: up to the topic's end at the start). With
    /// --queue: the jobs appended before the workers start (default
    /// 20000); the run stops when all are acked.
    #[arg(long)]
    pub records: Option<u64>,
    /// Work a queue instead of appending: --records jobs are appended to a
    /// new topic (TOPIC-queue-<unix ms>), then --concurrency workers claim
    /// (--batch at a time) and ack them as fast as they can.
    #[arg(long, conflicts_with = "tail")]
    pub queue: bool,
    /// Read the topic back instead of appending: page after page of
    /// `local` reads, or the NDJSON stream. `--seconds` bounds the read.
    #[arg(long, value_enum)]
    pub tail: Option<TailVia>,
    /// Tailing: the offset to read from.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// What a run loads the cluster with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Load {
    /// Appends of `batch` records.
    Append,
    /// Workers claiming up to `batch` jobs and acking them.
    Queue,
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub load: Load,
    pub concurrency: usize,
    pub batch: usize,
    pub record_bytes: usize,
    pub seconds: f64,
    /// Acknowledged appends (requests) per second; for a queue, claims
    /// whose jobs were acked, each with its ack.
    pub ops_per_s: f64,
    /// Acknowledged records per second (`ops_per_s` × `batch`); for a
    /// queue, jobs claimed and acked per second.
    pub records_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Appends that failed (each is also counted out of the throughput).
    pub errors: u64,
}

impl Summary {
    /// Summarizes the latencies (in microseconds) of the appends that were
    /// acknowledged within `elapsed`.
    pub fn new(
        args: &BenchArgs,
        latencies_us: Vec<u64>,
        errors: u64,
        elapsed: Duration,
    ) -> Summary {
        let records = latencies_us.len() as u64 * args.batch as u64;
        Summary::measured(Load::Append, args, latencies_us, records, errors, elapsed)
    }

    /// Summarizes `load`'s operations, one latency (in microseconds) each,
    /// which together moved `records` within `elapsed`.
    pub fn measured(
        load: Load,
        args: &BenchArgs,
        mut latencies_us: Vec<u64>,
        records: u64,
        errors: u64,
        elapsed: Duration,
    ) -> Summary {
        latencies_us.sort_unstable();
        let seconds = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        let ops_per_s = latencies_us.len() as f64 / seconds;
        let at = |q: f64| percentile_ms(&latencies_us, q);
        Summary {
            load,
            concurrency: args.concurrency,
            batch: args.batch,
            record_bytes: args.record_bytes,
            seconds,
            ops_per_s,
            records_per_s: records as f64 / seconds,
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
            errors,
        }
    }
}

/// The `q` quantile (nearest rank) of sorted microsecond latencies, in ms.
fn percentile_ms(sorted_us: &[u64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us[index] as f64 / 1000.0
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (load, ops, records) = match self.load {
            Load::Append => ("", "appends/s", "records/s"),
            Load::Queue => ("queue ", "claim+acks/s", "jobs/s claimed and acked"),
        };
        write!(
            f,
            "{load}c={} batch={} {} B: {:.0} {ops}, {:.0} {records}; latency ms p50 {:.2} p90 {:.2} \
             p99 {:.2} max {:.2}; {} errors; {:.1} s",
            self.concurrency,
            self.batch,
            self.record_bytes,
            self.ops_per_s,
            self.records_per_s,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms,
            self.errors,
            self.seconds
        )
    }
}

/// What the clients share: counters for the progress line, and the
/// measured latencies.
#[derive(Default)]
pub(crate) struct Tally {
    /// Appends acknowledged, or jobs acked.
    pub acknowledged: AtomicU64,
    pub errors: AtomicU64,
    pub latencies_us: Mutex<Vec<u64>>,
}

impl Tally {
    /// Adds one client's measured latencies.
    pub fn add_latencies(&self, mine: Vec<u64>) {
        self.latencies_us
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(mine);
    }

    /// Every latency measured, leaving none.
    pub fn take_latencies(&self) -> Vec<u64> {
        std::mem::take(
            &mut *self
                .latencies_us
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// When a run measures: from the end of the warm-up for `--seconds`.
#[derive(Clone, Copy)]
pub(crate) struct Window {
    pub measure_from: Instant,
    pub stop_at: Instant,
}

impl Window {
    pub fn starting_now(args: &BenchArgs) -> Window {
        let measure_from = Instant::now() + Duration::from_secs(args.warmup_secs);
        Window {
            measure_from,
            stop_at: measure_from + Duration::from_secs(args.seconds),
        }
    }

    /// How long was measured, for a run whose clients all ended now.
    pub fn measured(&self) -> Duration {
        Instant::now()
            .min(self.stop_at)
            .saturating_duration_since(self.measure_from)
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(via) = args.tail {
        return tail(via, &args).await;
    }
    if args.concurrency == 0 || args.seconds == 0 {
        bail!("--concurrency and --seconds must be at least 1");
    }
    if args.batch == 0 || args.batch > MAX_RECORDS_PER_APPEND {
        bail!("--batch must be 1 to {MAX_RECORDS_PER_APPEND}");
    }
    // The client's own retries (of requests that certainly did nothing,
    // e.g. during an election) stay on; an append that still fails counts
    // as an error.
    let client = args.connect.builder(args.connect.addr.clone())?.build()?;
    if args.queue {
        let summary = bench_queue::run(&client, &args).await?;
        return print_summary(&summary, args.json);
    }
    let records = vec![filler(args.record_bytes); args.batch];
    client
        .append(&args.topic, records.clone())
        .await
        .context("the first append")?;

    let tally = Arc::new(Tally::default());
    let window = Window::starting_now(&args);
    let Window {
        measure_from,
        stop_at,
    } = window;
    let enough_acks = args
        .records
        .map_or(u64::MAX, |records| records.div_ceil(args.batch as u64));
    let clients: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (client, records, tally) = (client.clone(), records.clone(), tally.clone());
            let topic = args.topic.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while Instant::now() < stop_at
                    && tally.acknowledged.load(Ordering::Relaxed) < enough_acks
                {
                    let sent = Instant::now();
                    let acked = client.append(&topic, records.clone()).await;
                    let done = Instant::now();
                    if sent < measure_from {
                        continue;
                    }
                    match acked {
                        Ok(_) => {
                            mine.push((done - sent).as_micros() as u64);
                            tally.acknowledged.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                tally.add_latencies(mine);
            })
        })
        .collect();
    let progress = tokio::spawn(report_progress(tally.clone(), window, "appends"));
    for client in clients {
        client.await.context("a bench client")?;
    }
    progress.abort();
    eprintln!();
    let errors = tally.errors.load(Ordering::Relaxed);
    let summary = Summary::new(&args, tally.take_latencies(), errors, window.measured());
    print_summary(&summary, args.json)
}

/// A record whose value is a string of `bytes` characters.
pub(crate) fn filler(bytes: usize) -> NewRecord {
    NewRecord {
        key: None,
        value: serde_json::Value::String("x".repeat(bytes)).into(),
        headers: Default::default(),
    }
}

/// One line: the summary for people, or as JSON with `--json`.
fn print_summary(
    summary: &(impl serde::Serialize + std::fmt::Display),
    json: bool,
) -> anyhow::Result<()> {
    match json {
        true => outln!("{}", serde_json::to_string(summary)?),
        false => outln!("{summary}"),
    }
}

async fn tail(via: TailVia, args: &BenchArgs) -> anyhow::Result<()> {
    let addr = args
        .connect
        .addr
        .first()
        .context("--addr names the node to read from")?;
    let api_token = args.connect.api_token()?;
    let client = args.connect.builder(vec![addr.clone()])?.build()?;
    let stream_http = match args.connect.tls()? {
        Some(tls) => reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()?,
        None => reqwest::Client::new(),
    };
    let plan = TailPlan {
        client: &client,
        stream_http: &stream_http,
        api_token: api_token.as_ref(),
        addr: &ordo_client::addr::normalize_addr(addr)?,
        topic: &args.topic,
        from: args.from,
        records: args.records,
        deadline: Duration::from_secs(args.seconds),
    };
    let summary = bench_tail::run(via, plan).await?;
    print_summary(&summary, args.json)
}

/// Rewrites one stderr line every second: `unit`s (appends, jobs) per
/// second over the last second.
pub(crate) async fn report_progress(tally: Arc<Tally>, window: Window, unit: &str) {
    let Window {
        measure_from,
        stop_at,
    } = window;
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    let mut last = 0;
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let acknowledged = tally.acknowledged.load(Ordering::Relaxed);
        let phase = if now < measure_from {
            "warming up".to_owned()
        } else {
            format!(
                "{:.0} s left",
                stop_at.saturating_duration_since(now).as_secs_f64()
            )
        };
        eprint!(
            "\r{} {unit}/s, {} errors ({phase})   ",
            acknowledged - last,
            tally.errors.load(Ordering::Relaxed)
        );
        last = acknowledged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn args(extra: &[&str]) -> BenchArgs {
        let argv = std::iter::once("bench").chain(extra.iter().copied());
        Wrapper::parse_from(argv).bench
    }

    #[test]
    fn percentiles_are_nearest_rank_over_sorted_latencies() {
        let latencies: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&latencies, 0.50), 50.0);
        assert_eq!(percentile_ms(&latencies, 0.99), 99.0);
        assert_eq!(percentile_ms(&latencies, 1.0), 100.0);
        assert_eq!(percentile_ms(&[7_000], 0.5), 7.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn a_summary_counts_records_per_batch_and_reports_unsorted_input_sorted() {
        let bench = args(&["--batch", "10", "-c", "2"]);
        let summary = Summary::new(
            &bench,
            vec![3_000, 1_000, 2_000, 4_000],
            1,
            Duration::from_secs(2),
        );
        assert_eq!(summary.ops_per_s, 2.0);
        assert_eq!(summary.records_per_s, 20.0);
        assert_eq!((summary.p50_ms, summary.max_ms), (2.0, 4.0));
        assert_eq!((summary.errors, summary.concurrency), (1, 2));
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["ops_per_s"], 2.0);
        assert!(summary.to_string().contains("2 appends/s, 20 records/s"));
    }

    #[test]
    fn a_queue_summary_counts_jobs_not_claims_times_batch() {
        let bench = args(&["--queue", "--batch", "10"]);
        // Two claims of up to 10 took 15 jobs.
        let summary = Summary::measured(
            Load::Queue,
            &bench,
            vec![1_000, 3_000],
            15,
            0,
            Duration::from_secs(1),
        );
        assert_eq!((summary.ops_per_s, summary.records_per_s), (2.0, 15.0));
        assert!(
            summary.to_string().starts_with(
                "queue c=16 batch=10 100 B: 2 claim+acks/s, 15 jobs/s claimed and acked;"
            ),
            "{summary}"
        );
        assert_eq!(serde_json::to_value(&summary).unwrap()["load"], "queue");
    }
}
