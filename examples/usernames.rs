//! Unique usernames on a replicated log: N concurrent registrations of one
//! name, each through a different node; exactly one prints `ok`. Each run
//! claims in a topic of its own (`usernames-<unix ms>`, or `--topic`).
//!
//! ```sh
//! make cluster                                   # in another terminal
//! cargo run --example usernames -- jane --addr 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003
//! ```

#[path = "common/usernames.rs"]
mod usernames;

use clap::Parser;
use ordo_client::Client;
use usernames::{fresh_topic, register, Taken};

#[derive(Parser)]
#[command(about = "Concurrent registrations of one username; exactly one wins")]
struct Args {
    /// The username every registration claims.
    name: String,
    /// Nodes to send the registrations through, comma-separated; the i-th
    /// registration goes to node i mod their number.
    #[arg(long, default_value = "127.0.0.1:7001", value_delimiter = ',')]
    addr: Vec<String>,
    /// How many concurrent registrations.
    #[arg(long, default_value_t = 8)]
    count: usize,
    /// The topic to claim in. Default: a new one, `usernames-<unix ms>`, so
    /// every name is free; give an earlier run's topic to see it taken.
    #[arg(long)]
    topic: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let topic = args.topic.clone().unwrap_or_else(fresh_topic);
    println!("claiming {} in topic {topic}", args.name);
    let clients = args
        .addr
        .iter()
        .map(|addr| Client::new(vec![addr.clone()]))
        .collect::<Result<Vec<_>, _>>()?;
    let tasks: Vec<_> = (0..args.count)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            let (topic, name) = (topic.clone(), args.name.clone());
            tokio::spawn(
                async move { register(&client, &topic, &name, &format!("user-{i}")).await },
            )
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let via = &args.addr[i % args.addr.len()];
        match task.await? {
            Ok(won) => println!("user-{i} via {via}: ok (offset {})", won.offset.0),
            Err(Taken::Taken) => println!("user-{i} via {via}: {} is taken", args.name),
            Err(Taken::Failed(e)) => println!("user-{i} via {via}: failed: {e}"),
        }
    }
    Ok(())
}
