//! The `ordo` binary: `ordo serve` runs a node; the other subcommands are the
//! CLI, talking HTTP to any node. `anyhow` lives here, at the edge, only.

mod backup;
mod bench;
mod bench_tail;
mod cli;
mod local_cluster;
mod logging;
mod membership;
mod probe;
mod secrets;
mod serve;
mod tail;
mod topics;

use clap::{Parser, Subcommand};

/// mimalloc, not glibc's malloc: a node allocates and frees many small
/// buffers per append (HTTP bodies, JSON, sled pages), and glibc's malloc
/// spent about a fifth of a loaded leader's CPU growing and trimming its heap
/// (`perf`: `sysmalloc` → page faults → `clear_page_erms`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ordo",
    version,
    about = "A Raft-replicated, totally ordered, durable log"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node.
    Serve(serve::ServeArgs),
    /// Append records to a topic: VALUE, or one record per stdin line.
    Append(cli::AppendArgs),
    /// Read records from a topic.
    Read(cli::ReadArgs),
    /// Print a topic's records, one per line, and follow new ones forever.
    Tail(tail::TailArgs),
    /// List topics (a table), or show, put (create or configure) or delete one.
    Topics(topics::TopicsArgs),
    /// Cluster administration.
    #[command(subcommand)]
    Cluster(cli::ClusterCommand),
    /// Load a cluster with appends and report throughput and latency.
    Bench(bench::BenchArgs),
    /// Run a local cluster of `ordo serve` processes in the foreground (what `make cluster` runs).
    LocalCluster(local_cluster::LocalClusterArgs),
    /// Write a node's applied state to a file (GET /v1/admin/snapshot).
    Backup(backup::BackupArgs),
    /// Seed a new node's data dir from a backup.
    Restore(backup::RestoreArgs),
    /// GET a node's /readyz (or --path): exit 0 on a 2xx, 1 otherwise (a container health check).
    Probe(probe::ProbeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Append(args) => cli::append(args).await,
            Command::Read(args) => cli::read(args).await,
            Command::Tail(args) => tail::run(args).await,
            Command::Topics(args) => topics::run(args).await,
            Command::Cluster(cmd) => cli::cluster(cmd).await,
            Command::LocalCluster(args) => local_cluster::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Probe(args) => probe::run(args).await,
            Command::Backup(args) => backup::backup(args).await,
            Command::Restore(args) => backup::restore(args).await,
        }
    })
}
