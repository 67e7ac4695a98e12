//! A work queue of "send email" jobs, worked by three workers
//! (`ordo_client::Worker`), one of which crashes after sending an email and
//! before acking it: its job goes to another worker once its 2 s lease runs
//! out. Every email is sent once per delivery and acked once; the example
//! checks that, and exits with status 1 if not. Each run uses a topic of
//! its own (`emails-<unix ms>`, or `--topic`).
//!
//! ```sh
//! make cluster                                   # in another terminal
//! cargo run --example emails -- --addr 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003
//! ```

#[path = "common/emails.rs"]
mod emails;

use std::process::ExitCode;

use clap::Parser;
use ordo_client::Client;

#[derive(Parser)]
#[command(about = "Three workers send emails from a work queue; one crashes mid-job")]
struct Args {
    /// Nodes to talk to, comma-separated; the i-th worker goes through
    /// node i mod their number.
    #[arg(long, default_value = "127.0.0.1:7001", value_delimiter = ',')]
    addr: Vec<String>,
    /// How many emails to send.
    #[arg(long, default_value_t = 9)]
    emails: usize,
    /// The topic of the jobs. Default: a new one, `emails-<unix ms>`.
    #[arg(long)]
    topic: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let topic = args.topic.clone().unwrap_or_else(emails::fresh_topic);
    let clients = args
        .addr
        .iter()
        .map(|addr| Client::new(vec![addr.clone()]))
        .collect::<Result<Vec<_>, _>>()?;
    let jobs = emails::enqueue(&clients[0], &topic, args.emails).await?;
    println!(
        "appended {} emails to {topic}; the queue of group {} hands them out under {} ms leases",
        jobs.len(),
        emails::GROUP,
        emails::LEASE.as_millis()
    );

    let outcome = emails::run(&clients, &topic, jobs, |line| println!("{line}")).await;
    let problems = emails::problems(&outcome);
    if !problems.is_empty() {
        for problem in &problems {
            println!("WRONG: {problem}");
        }
        return Ok(ExitCode::FAILURE);
    }
    let (crashed, again) = outcome
        .crashed_sends()
        .expect("no problems: the crashed job went again");
    println!(
        "every email was sent once per delivery and acked once: {} sends of {} emails; \
         email {} went again {:.1} s after {} sent it, once its lease ran out",
        outcome.sent.len(),
        outcome.emails.len(),
        crashed.offset,
        again.at.saturating_sub(crashed.at).as_secs_f64(),
        crashed.worker
    );
    Ok(ExitCode::SUCCESS)
}
