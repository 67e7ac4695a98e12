//! The mailbox: `message_sent` events appended once by an idempotent
//! producer, and two views built from them by two consumer groups at their
//! own positions, `inbox` and `unread`; the inbox consumer is stopped in the
//! middle and resumed from its committed position, and the views agree.
//!
//! ```sh
//! make cluster                                   # in another terminal
//! cargo run --example mailbox
//! ```

#[path = "common/mailbox.rs"]
mod mailbox;

use clap::Parser;
use mailbox::{agree, consume, reset, send, Inbox, MessageSent, UnreadCount};
use ordo_client::{Client, Producer};
use ordo_core::ProducerId;

const USERS: [&str; 3] = ["alice", "bob", "carol"];

#[derive(Parser)]
#[command(about = "Two views of one log, built by two consumer groups at their own positions")]
struct Args {
    /// Nodes to talk to, comma-separated.
    #[arg(long, default_value = "127.0.0.1:7001", value_delimiter = ',')]
    addr: Vec<String>,
    /// How many messages to send.
    #[arg(long, default_value_t = 12)]
    messages: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Client::new(args.addr.clone())?;
    // A producer id of its own per run: the cluster remembers each id's
    // last seq, and a new id starts at seq 0.
    let run_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let id = ProducerId::new(format!("mailbox-{}", run_ms.as_millis()))?;
    let mut producer = Producer::new(client.clone(), id);
    for i in 0..args.messages {
        let message = MessageSent {
            from: USERS[i % USERS.len()].into(),
            // Never to the sender: one or two places on, alternately.
            to: USERS[(i + 1 + (i / USERS.len()) % 2) % USERS.len()].into(),
            text: format!("message {i}"),
        };
        send(&mut producer, &message).await?;
    }
    println!("sent {} messages", args.messages);

    // The views start empty here, so their groups start at offset 0.
    let (mut inbox, mut unread) = (Inbox::new(), UnreadCount::new());
    reset(&client, "inbox").await?;
    reset(&client, "unread").await?;

    let stop_after = (args.messages / 2) as u64;
    let at = consume(&client, "inbox", &mut inbox, Some(stop_after)).await?;
    println!("inbox consumer stopped at offset {} (committed)", at.0);
    // A new consumer (the restart) resumes from the group's committed
    // position; the view itself is kept, as a database would keep it.
    let at = consume(&client, "inbox", &mut inbox, None).await?;
    println!("inbox consumer resumed and reached offset {}", at.0);
    let at = consume(&client, "unread", &mut unread, None).await?;
    println!("unread consumer reached offset {}", at.0);

    println!("inbox:");
    for (user, messages) in &inbox {
        let lines: Vec<String> = messages
            .iter()
            .map(|(offset, from, text)| format!("{} from {from}: {text}", offset.0))
            .collect();
        println!("  {user}: {}", lines.join("; "));
    }
    println!("unread_count:");
    for (user, count) in &unread {
        println!("  {user}: {count}");
    }
    if agree(&inbox, &unread) {
        println!("the views agree");
    } else {
        println!("the views DISAGREE");
    }
    Ok(())
}
