//! `ordo tail TOPIC [--from N] [--group G]`: prints one record per line and
//! follows new records forever, through `ordo_client::Tail` (long-polled
//! linearizable reads, so it follows failover). With a group it starts from
//! the group's committed position and commits after each page it printed:
//! at-least-once, a restart may print again what came after the last commit.
//! A closed stdout (`| head`), Ctrl-C or SIGTERM ends it quietly with
//! status 0.

use std::time::Duration;

use anyhow::anyhow;
use ordo_client::{ClientError, Tail};
use ordo_core::Offset;

use crate::cli::{explain, format_record, write_or_closed, ConnectArgs, ReadFormat};
use crate::serve::shutdown_signal;

/// Pause before asking again after the cluster could not be reached.
const UNAVAILABLE_PAUSE: Duration = Duration::from_secs(1);

#[derive(clap::Args, Debug)]
pub struct TailArgs {
    pub topic: String,
    /// First offset to print (with --group: only if the group has no
    /// committed position yet).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Consumer group: start from its committed position and commit the
    /// position after each page printed.
    #[arg(long)]
    pub group: Option<String>,
    #[arg(long, value_enum, default_value = "value")]
    pub format: ReadFormat,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub async fn run(args: TailArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    let explained = |e: ClientError| anyhow!("{}", explain(&e, &args.connect));
    let from = Offset(args.from);
    let mut tail = match &args.group {
        Some(group) => Tail::for_group(client, &args.topic, group, from)
            .await
            .map_err(explained)?,
        None => Tail::new(client, &args.topic, from),
    };
    let mut out = std::io::stdout().lock();
    // Made once, so a signal that lands while printing is not missed.
    let stop = shutdown_signal();
    tokio::pin!(stop);
    // An idle topic gives nothing to write, so a reader that went away
    // (`| head`) is noticed here rather than at the next record.
    let closed = stdout_closed();
    tokio::pin!(closed);
    loop {
        let page = tokio::select! {
            page = tail.next_page() => page,
            () = &mut stop => return Ok(()),
            () = &mut closed => return Ok(()),
        };
        let records = match page {
            Ok(records) => records,
            // Nothing is lost by waiting: the position has not moved.
            Err(e @ ClientError::Unavailable { .. }) => {
                eprintln!("ordo tail: {}; retrying", explain(&e, &args.connect));
                tokio::time::sleep(UNAVAILABLE_PAUSE).await;
                continue;
            }
            Err(e) => return Err(explained(e)),
        };
        if records.is_empty() {
            continue;
        }
        let mut text = String::new();
        for record in &records {
            text.push_str(&format_record(record, args.format));
            text.push('\n');
        }
        // A closed stdout took only part of the page at best: end without
        // committing it, so a group delivers it again next time.
        if !write_or_closed(&mut out, &text)? {
            return Ok(());
        }
        let position = tail.position();
        if let Err(e) = tail.commit(position).await {
            // The next page's commit covers this one.
            eprintln!(
                "ordo tail: could not commit position {position}: {}",
                explain(&e, &args.connect)
            );
        }
    }
}

/// Completes when stdout is a pipe or socket whose reader has gone away
/// (epoll reports an error on the write end); never for a terminal or a
/// file, whose writes say so themselves.
async fn stdout_closed() {
    #[cfg(unix)]
    {
        use tokio::io::unix::AsyncFd;
        use tokio::io::Interest;
        // SAFETY: fd 1 stays open for the life of the process and nothing
        // here closes or replaces it while the registration lives.
        let registered =
            unsafe { AsyncFd::register_with_interest(std::io::stdout(), Interest::ERROR) };
        if let Ok(fd) = registered {
            if fd.ready(Interest::ERROR).await.is_ok() {
                return;
            }
        }
    }
    std::future::pending::<()>().await
}
