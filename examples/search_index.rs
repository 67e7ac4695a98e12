//! A search index rebuilt from the log: replay a topic from offset 0 into an
//! in-memory index (word → offsets), with a progress line and the rate.
//!
//! ```sh
//! make cluster                                   # in another terminal
//! cargo run --example search_index -- --seed 20000 --query fox
//! ```

#[path = "common/search.rs"]
mod search;

use std::io::Write;
use std::time::Instant;

use clap::Parser;
use ordo_client::Client;
use ordo_core::NewRecord;

/// Records per append when seeding: one request, one Raft entry.
const SEED_BATCH: usize = 1000;
/// Sentences the seeded records are made from.
const SENTENCES: [&str; 4] = [
    "the quick brown fox jumps over the lazy dog",
    "a log is the source of truth and an index is a view of it",
    "replay from offset zero rebuilds any view",
    "every replica applies the same records in the same order",
];

#[derive(Parser)]
#[command(about = "Rebuild an in-memory search index by replaying a topic from offset 0")]
struct Args {
    /// The topic to index.
    #[arg(long, default_value = "articles")]
    topic: String,
    /// Nodes to read from, comma-separated.
    #[arg(long, default_value = "127.0.0.1:7001", value_delimiter = ',')]
    addr: Vec<String>,
    /// First append this many generated records to the topic.
    #[arg(long, default_value_t = 0)]
    seed: usize,
    /// A word to look up in the rebuilt index.
    #[arg(long)]
    query: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Client::new(args.addr.clone())?;
    let mut seeded = 0;
    while seeded < args.seed {
        let batch = (seeded..args.seed.min(seeded + SEED_BATCH))
            .map(|i| NewRecord {
                key: None,
                value: serde_json::Value::from(format!("{} #{i}", SENTENCES[i % SENTENCES.len()]))
                    .into(),
                headers: Default::default(),
            })
            .collect::<Vec<_>>();
        seeded += batch.len();
        client.append(&args.topic, batch).await?;
    }
    if args.seed > 0 {
        println!("appended {seeded} records to {}", args.topic);
    }

    let started = Instant::now();
    let index = search::rebuild(&client, &args.topic, |next, end| {
        print!("\rreplayed {} / {} records", next.0, end.0);
        let _ = std::io::stdout().flush();
    })
    .await?;
    let elapsed = started.elapsed();
    println!();
    println!(
        "indexed {} records, {} distinct words, in {} ms: {:.0} records/s",
        index.records,
        index.words.len(),
        elapsed.as_millis(),
        index.records as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
    );
    if let Some(word) = args.query {
        let hits = index.words.get(&word.to_lowercase());
        let offsets: Vec<u64> = hits.into_iter().flatten().map(|o| o.0).collect();
        let shown: Vec<String> = offsets.iter().take(10).map(u64::to_string).collect();
        println!(
            "{word}: {} records, at offsets {}{}",
            offsets.len(),
            shown.join(", "),
            if offsets.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        );
    }
    Ok(())
}
