//! Leader failover time of a real 3-node ordo cluster on loopback, measured
//! the way `../shared/peers/failover.py` measures etcd and NATS JetStream:
//!
//! 1. one client appends 100-byte values in a closed loop, with a
//!    `--timeout-ms` (500) per-request timeout and no retries, through a node
//!    that is NOT the leader; after a fast error it pauses 10 ms;
//! 2. after `--warm-s` (2), the leader is SIGKILLed while a write is in flight;
//! 3. failover = kill -> completion of the first successful append *sent
//!    after* the kill; errors = failed appends that ended after the kill;
//! 4. the killed node is restarted and the cluster waits until every node has
//!    applied the same index, then settles 1 s.
//!
//! `--reps` (10) repetitions; one JSON line each, then a summary with the
//! median and max, and the number of elections (term changes) beyond one per
//! kill, which counts needless elections under load.
//!
//!     cargo build --release --bin ordo
//!     cargo run --release -p ordo-launcher --example failover -- --reps 10

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use ordo_client::{Client, RetryPolicy};
use ordo_core::NewRecord;
use ordo_launcher::{LauncherConfig, LocalCluster};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10)]
    reps: usize,
    #[arg(long, default_value_t = 500)]
    timeout_ms: u64,
    #[arg(long, default_value_t = 2.0)]
    warm_s: f64,
    /// Give up on a repetition after this long without a successful write.
    #[arg(long, default_value_t = 40)]
    max_wait_s: u64,
    #[arg(long, default_value = "target/release/ordo")]
    binary: String,
}

/// One append attempt: when it was sent and ended, relative to the run's start.
struct Attempt {
    sent: Instant,
    ended: Instant,
    ok: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let base = std::env::temp_dir().join(format!("ordo-failover-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let mut cluster = LocalCluster::start(LauncherConfig::new(&args.binary, 3, &base))?;
    cluster.wait_for_leader(Duration::from_secs(10)).await?;
    let term_at_start = max_term(&cluster).await;
    let mut failovers = Vec::new();
    for rep in 1..=args.reps {
        let leader = cluster.wait_for_leader(Duration::from_secs(10)).await?;
        let via = cluster
            .ids()
            .into_iter()
            .find(|id| *id != leader)
            .expect("3 nodes");
        let client = Client::builder(vec![cluster.addr(via)?.to_string()])
            .timeout(Duration::from_millis(args.timeout_ms))
            .retry(RetryPolicy::no_retries())
            .build()?;
        let attempts = Arc::new(Mutex::new(Vec::<Attempt>::new()));
        let writer = tokio::spawn(write_loop(client, attempts.clone()));
        tokio::time::sleep(Duration::from_secs_f64(args.warm_s)).await;
        let killed_at = Instant::now();
        cluster.kill(leader)?;
        let deadline = killed_at + Duration::from_secs(args.max_wait_s);
        let first_ok = loop {
            let found = attempts
                .lock()
                .expect("writer never panics holding the lock")
                .iter()
                .find(|a| a.ok && a.sent >= killed_at)
                .map(|a| a.ended);
            if found.is_some() || Instant::now() > deadline {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        writer.abort();
        let errors = attempts
            .lock()
            .expect("writer stopped")
            .iter()
            .filter(|a| !a.ok && a.ended >= killed_at)
            .count();
        let failover_ms = first_ok.map(|t| (t - killed_at).as_secs_f64() * 1000.0);
        let new_leader = cluster.wait_for_leader(Duration::from_secs(10)).await?;
        cluster.start_node(leader)?;
        wait_caught_up(&cluster, Duration::from_secs(60)).await?;
        println!(
            "{{\"system\":\"ordo\",\"rep\":{rep},\"killed\":\"n{leader}\",\"client_via\":\"n{via}\",\"failover_ms\":{},\"errors\":{errors},\"new_leader\":\"n{new_leader}\"}}",
            failover_ms.map(|v| format!("{v:.1}")).unwrap_or_else(|| "null".into())
        );
        if let Some(ms) = failover_ms {
            failovers.push(ms);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let elections = max_term(&cluster).await.saturating_sub(term_at_start);
    failovers.sort_by(f64::total_cmp);
    let median = failovers.get(failovers.len() / 2).copied();
    let max = failovers.last().copied();
    println!(
        "{{\"system\":\"ordo\",\"summary\":true,\"failover_ms\":{:?},\"median_ms\":{},\"max_ms\":{},\"no_recovery\":{},\"elections\":{elections},\"kills\":{}}}",
        failovers.iter().map(|v| (v * 10.0).round() / 10.0).collect::<Vec<_>>(),
        median.map(|v| format!("{v:.1}")).unwrap_or_else(|| "null".into()),
        max.map(|v| format!("{v:.1}")).unwrap_or_else(|| "null".into()),
        args.reps - failovers.len(),
        args.reps,
    );
    cluster.stop_all().await?;
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}

async fn write_loop(client: Client, attempts: Arc<Mutex<Vec<Attempt>>>) {
    let value = serde_json::Value::String("x".repeat(100));
    loop {
        let sent = Instant::now();
        let record = NewRecord {
            key: None,
            value: value.clone().into(),
            headers: Default::default(),
        };
        let ok = client.append("failover", vec![record]).await.is_ok();
        let ended = Instant::now();
        attempts
            .lock()
            .expect("only this task writes")
            .push(Attempt { sent, ended, ok });
        if !ok && ended - sent < Duration::from_millis(100) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn max_term(cluster: &LocalCluster) -> u64 {
    let mut term = 0;
    for id in cluster.ids() {
        if let Ok(status) = cluster
            .client_for(id)
            .expect("known id")
            .cluster_status()
            .await
        {
            term = term.max(status.term);
        }
    }
    term
}

/// Until every node reports the same applied index as the leader (bounded).
async fn wait_caught_up(
    cluster: &LocalCluster,
    timeout: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let mut applied = Vec::new();
        for id in cluster.ids() {
            let client = cluster.client_for(id)?;
            match client.cluster_status().await {
                Ok(s) if s.leader.is_some() => applied.push(s.last_applied_index),
                _ => break,
            }
        }
        if applied.len() == cluster.ids().len() && applied.windows(2).all(|w| w[0] == w[1]) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("restarted node did not catch up within the timeout".into())
}
