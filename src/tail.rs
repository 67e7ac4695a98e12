//! `ordo tail TOPIC [--from N] [--group G]`: prints one record per line and
//! follows new records forever, through `ordo_client::Tail` (long-polled
//! linearizable reads, so it follows failover).
//!
//! With a group it starts from the group's committed position and commits
//! the position after the last record its reader took (`delivery.rs`): at
//! once for a terminal or a file, and for a pipe only once the reader has
//! read the line and is still there a second later. At-least-once: a
//! restart may print again what came after the last commit, and never skips
//! a record, even when the reader quits early (`| head -5`).
//!
//! It ends quietly with status 0 on Ctrl-C or SIGTERM, and within a moment
//! of its reader going away, even while the topic is idle (as coreutils
//! `tail -f` does).

use std::time::{Duration, Instant};

use ordo_api::Consistency;
use ordo_client::{Client, ClientError, Tail};
use ordo_core::{GroupName, Offset, TopicName};

use crate::connect::{explain, ConnectArgs, Explain};
use crate::delivery::Delivery;
use crate::output::{self, format_record, ReadFormat};
use crate::serve::shutdown_signal;
use crate::stdout_watch::{stdout_closed, StdoutKind};

/// Pause before asking again after the cluster could not be reached.
const UNAVAILABLE_PAUSE: Duration = Duration::from_secs(1);
/// How often the tail looks at its reader (gone? took more?) while it waits.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);
/// How long a pipe's reader must outlive taking a line before the line's
/// position is committed: longer than `head` takes to exit after reading.
const PIPE_SETTLE: Duration = Duration::from_secs(1);

#[derive(clap::Args, Debug)]
pub struct TailArgs {
    /// The topic to follow (it may not exist yet: the tail waits for it).
    pub topic: TopicName,
    /// First offset to print (with --group: only if the group has no
    /// committed position yet).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Consumer group: start from its committed position and commit the
    /// position of each record the reader took (at-least-once).
    #[arg(long)]
    pub group: Option<GroupName>,
    /// What to print of each record.
    #[arg(long, value_enum, default_value = "value")]
    pub format: ReadFormat,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub async fn run(args: TailArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    let topic = args.topic.as_str();
    let from = Offset(args.from);
    let mut tail = match &args.group {
        Some(group) => Tail::for_group(client.clone(), topic, group.as_str(), from)
            .await
            .explained(&args.connect)?,
        None => Tail::new(client.clone(), topic, from),
    };
    say_if_topic_is_missing(&client, &args.topic).await;
    let kind = StdoutKind::detect();
    let settle = match kind {
        StdoutKind::Terminal | StdoutKind::File => Duration::ZERO,
        StdoutKind::Pipe | StdoutKind::Other => PIPE_SETTLE,
    };
    let mut commits = args.group.as_ref().map(|group| Committer {
        client,
        group: group.clone(),
        topic: args.topic.clone(),
        delivery: Delivery::new(settle, tail.committed()),
        kind,
        connect: args.connect.clone(),
        warned: false,
    });
    // Made once, so a signal that lands while printing is not missed.
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut watch = tokio::time::interval(WATCH_INTERVAL);
    loop {
        let asked_from = tail.position();
        let page = {
            let fetch = tail.next_page();
            tokio::pin!(fetch);
            loop {
                tokio::select! {
                    page = &mut fetch => break page,
                    () = &mut stop => {
                        if let Some(commits) = &mut commits {
                            commits.commit_due().await;
                        }
                        return Ok(());
                    }
                    _ = watch.tick() => {
                        // The reader went away: end without committing
                        // what it may not have read.
                        if stdout_closed() {
                            return Ok(());
                        }
                        if let Some(commits) = &mut commits {
                            commits.commit_due().await;
                        }
                    }
                }
            }
        };
        let records = match page {
            Ok(records) => records,
            // Nothing is lost by waiting: the position has not moved.
            Err(e @ ClientError::Unavailable { .. }) => {
                eprintln!("ordo tail: {}; retrying", explain(&e, &args.connect));
                tokio::time::sleep(UNAVAILABLE_PAUSE).await;
                continue;
            }
            Err(e) => return Err(e).explained(&args.connect),
        };
        let mut text = String::new();
        let mut lines = Vec::with_capacity(records.len() + 1);
        for record in &records {
            text.push_str(&format_record(record, args.format));
            text.push('\n');
            lines.push((text.len() as u64, Offset(record.offset.0 + 1)));
        }
        // A page may end past its last record (a compacted gap, or no
        // record at all): that position is delivered with what came before.
        let after_lines = lines.last().map_or(asked_from, |&(_, position)| position);
        if tail.position() > after_lines {
            lines.push((text.len() as u64, tail.position()));
        }
        // A closed stdout took only part of the page at best: end without
        // committing it, so a group delivers it again next time.
        output::print(&text)?;
        if let Some(commits) = &mut commits {
            let mut counted = 0;
            for (end, position) in lines {
                commits.delivery.printed(end - counted, position);
                counted = end;
            }
            commits.commit_due().await;
        }
    }
}

/// Says once, on stderr, that the topic is not there yet, so that a tail
/// that prints nothing is not mistaken for a hung one.
async fn say_if_topic_is_missing(client: &Client, topic: &TopicName) {
    if let Ok(None) = client.topic(topic.as_str(), Consistency::Local).await {
        eprintln!(
            "ordo tail: topic {topic} does not exist yet; waiting for its first record (Ctrl-C to stop)"
        );
    }
}

/// Commits a group's position as records are delivered (`delivery.rs`).
struct Committer {
    client: Client,
    group: GroupName,
    topic: TopicName,
    delivery: Delivery,
    kind: StdoutKind,
    connect: ConnectArgs,
    /// A failed commit was reported; the next success says nothing.
    warned: bool,
}

impl Committer {
    /// Commits the furthest delivered position, if stdout's reader is still
    /// there. A failure is reported once: the next commit covers it.
    async fn commit_due(&mut self) {
        if !self.delivery.is_pending() {
            return;
        }
        self.delivery
            .observe(self.kind.unread_bytes(), Instant::now());
        let Some(position) = self.delivery.due(Instant::now()) else {
            return;
        };
        if stdout_closed() {
            return;
        }
        match self
            .client
            .commit_offset(self.group.as_str(), self.topic.as_str(), position, None)
            .await
        {
            Ok(_) => {
                self.delivery.committed(position);
                self.warned = false;
            }
            Err(e) if !self.warned => {
                self.warned = true;
                eprintln!(
                    "ordo tail: could not commit position {position}: {}; will try again",
                    explain(&e, &self.connect)
                );
            }
            Err(_) => {}
        }
    }
}
