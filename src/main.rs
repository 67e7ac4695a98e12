//! The `ordo` binary: `ordo serve` runs a node; the other subcommands are the
//! CLI, talking HTTP to any node. `anyhow` lives here, at the edge, only.

mod append;
mod backup;
mod bench;
mod bench_queue;
mod bench_tail;
mod certs;
mod cluster;
mod connect;
mod delivery;
mod local_cluster;
mod logging;
mod output;
mod probe;
mod queues;
mod read;
mod secrets;
mod serve;
mod stdout_watch;
mod tail;
mod topics;
mod work;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Subcommand};

/// mimalloc, not glibc's malloc: a node allocates and frees many small
/// buffers per append (HTTP bodies, JSON, sled pages), and glibc's malloc
/// spent about a fifth of a loaded leader's CPU growing and trimming its heap
/// (`perf`: `sysmalloc` → page faults → `clear_page_erms`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(clap::Parser)]
#[command(
    name = "ordo",
    version,
    about = "A Raft-replicated, totally ordered, durable log"
)]
struct Cli {
    #[command(flatten)]
    connect: connect::GlobalConnect,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node.
    Serve(Box<serve::ServeSettings>),
    /// Append records to a topic: VALUE, or one record per stdin line.
    Append(append::AppendArgs),
    /// Read records from a topic.
    Read(read::ReadArgs),
    /// Print a topic's records, one per line, and follow new ones forever.
    Tail(tail::TailArgs),
    /// List topics (a table), or show, put (create or configure) or delete one.
    Topics(topics::TopicsArgs),
    /// List work queues (a table), or show, put (create or configure) or delete one.
    #[command(visible_alias = "queue")]
    Queues(queues::QueuesArgs),
    /// Run a command once per job of a work queue: the job's value on stdin; ack on exit 0, nack otherwise.
    Work(work::WorkArgs),
    /// Cluster administration.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Load a cluster with appends (or work a queue) and report throughput and latency.
    Bench(bench::BenchArgs),
    /// Run a local cluster of `ordo serve` processes in the foreground (what `make cluster` runs).
    LocalCluster(local_cluster::LocalClusterArgs),
    /// Write a node's applied state to a file (GET /v1/admin/snapshot).
    Backup(backup::BackupArgs),
    /// Seed a new node's data dir from a backup.
    Restore(backup::RestoreArgs),
    /// GET a node's /readyz (or --path): exit 0 on a 2xx, 1 otherwise (a container health check).
    Probe(probe::ProbeArgs),
    /// Development certificates for a TLS cluster: a CA, node and client certificates.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
}

impl Command {
    /// The command's name and its connection flags, if it talks to a cluster.
    fn connect_mut(&mut self) -> (&'static str, Option<&mut connect::ConnectArgs>) {
        match self {
            Command::Serve(_) => ("serve", None),
            Command::LocalCluster(_) => ("local-cluster", None),
            Command::Restore(_) => ("restore", None),
            Command::Probe(_) => ("probe", None),
            Command::Certs(_) => ("certs", None),
            Command::Append(args) => ("append", Some(&mut args.connect)),
            Command::Read(args) => ("read", Some(&mut args.connect)),
            Command::Tail(args) => ("tail", Some(&mut args.connect)),
            Command::Topics(args) => ("topics", Some(args.connect_mut())),
            Command::Queues(args) => ("queues", Some(args.connect_mut())),
            Command::Work(args) => ("work", Some(&mut args.connect)),
            Command::Cluster(command) => ("cluster", Some(command.connect_mut())),
            Command::Bench(args) => ("bench", Some(&mut args.connect)),
            Command::Backup(args) => ("backup", Some(&mut args.connect)),
        }
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our stdout went away: a normal end of a pipe.
        Err(error) if output::is_stdout_closed(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, `what failed: why`, and never a backtrace: anyhow's
            // `Debug` (what `main() -> Result` prints) adds one whenever
            // RUST_BACKTRACE is set, which users set for other programs.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            // A node whose storage failed asks its supervisor to start it
            // again (`ordo_node::storage_fault`).
            if error.is::<serve::StorageFailed>() {
                ExitCode::from(ordo_node::storage_fault::EXIT_STORAGE_FAILED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(mut cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let (name, connect) = cli.command.connect_mut();
    cli.connect.apply(name, connect, matches)?;
    // A node builds its runtime once its settings are read.
    let command = match cli.command {
        Command::Serve(args) => return serve::run(*args),
        Command::Certs(command) => return certs::run(command),
        command => command,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Command::Serve(_) | Command::Certs(_) => {
                unreachable!("run before the runtime is built")
            }
            Command::Append(args) => append::run(args).await,
            Command::Read(args) => read::run(args).await,
            Command::Tail(args) => tail::run(args).await,
            Command::Topics(args) => topics::run(args).await,
            Command::Queues(args) => queues::run(args).await,
            Command::Work(args) => work::run(args).await,
            Command::Cluster(cmd) => cluster::run(cmd).await,
            Command::LocalCluster(args) => local_cluster::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Probe(args) => probe::run(args).await,
            Command::Backup(args) => backup::backup(args).await,
            Command::Restore(args) => backup::restore(args).await,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every argument, flag and command says what it is for in `--help`.
    #[test]
    fn every_argument_and_command_has_help_text() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && !arg.is_hide_set() && arg.get_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(sub_path.clone());
                }
                walk(sub, &sub_path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "ordo", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }
}
