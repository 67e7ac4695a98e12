//! `ordo work TOPIC --group G -- COMMAND ARGS…`: works a queue's jobs by
//! running COMMAND once per job, through `ordo_client::Worker`: the job's
//! value on stdin (as `ordo read` prints it: a string as its text, any
//! other value as its JSON; then a newline), its offset, key, delivery,
//! topic and group in the environment; ack on exit status 0, nack on any
//! other (the job goes again after `--nack-delay-ms`, or to the
//! dead-letter topic after its last delivery). The worker extends the
//! lease while the command runs. The command's stdout and stderr are
//! ordo work's own; ordo work's messages go to stderr.
//!
//! Each command runs in a process group of its own, so that a signal
//! reaches what it started as well (`sh -c 'a | b'`). Ctrl-C or SIGTERM:
//! no more claims; each running command's group gets SIGTERM and
//! `--grace-ms` to exit (a non-zero exit then goes again at once; a group
//! still running after that gets SIGKILL and its job goes again at once);
//! then exit 0.
//!
//! A queue that does not exist is made with the defaults (and
//! `--lease-ms`), and said so; an existing queue's config is never
//! changed here (that is `ordo queues put`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use ordo_api::{Job, PutQueueRequest};
use ordo_client::worker::{Action, Settlement, Stopping, WorkerEvent, WorkerReport};
use ordo_client::{Client, Handler, Worker};
use ordo_core::{GroupName, TopicName};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

use crate::connect::{ConnectArgs, Explain};
use crate::output::value_text;
use crate::serve::shutdown_signal;

#[derive(clap::Args, Debug)]
pub struct WorkArgs {
    /// The topic whose records are the jobs.
    pub topic: TopicName,
    /// The consumer group whose queue over TOPIC to work (made with the
    /// defaults if it does not exist).
    #[arg(long)]
    pub group: GroupName,
    /// Commands run at once, one per job.
    #[arg(long, short = 'c', default_value_t = 1)]
    pub concurrency: usize,
    /// The lease on each job, extended while its command runs (default:
    /// the queue's).
    #[arg(long, value_name = "MS")]
    pub lease_ms: Option<u64>,
    /// How long a job whose command failed waits before it goes again.
    #[arg(long, value_name = "MS", default_value_t = 1_000)]
    pub nack_delay_ms: u64,
    /// After Ctrl-C or SIGTERM, how long running commands get to exit
    /// after their SIGTERM before they are killed.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub grace_ms: u64,
    /// The command to run per job, and its arguments (after `--`).
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub async fn run(args: WorkArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let (program, program_args) = args
        .command
        .split_first()
        .context("name the command to run per job after `--`")?;
    find_program(Path::new(program))?;
    let client = args.connect.client()?;
    let dead_letter_topic = ensure_queue(&client, &args).await?;
    let mut worker = Worker::new(client, args.group.as_str(), args.topic.as_str())
        .concurrency(args.concurrency)
        .nack_delay(Duration::from_millis(args.nack_delay_ms))
        .shutdown_grace(Duration::from_millis(args.grace_ms))
        .on_event(move |event| {
            if let Some(line) = describe(event, &dead_letter_topic) {
                eprintln!("ordo work: {line}");
            }
        });
    if let Some(ms) = args.lease_ms {
        worker = worker.lease(Duration::from_millis(ms));
    }
    let handler = RunCommand {
        program: program.clone(),
        args: program_args.to_vec(),
        topic: args.topic.to_string(),
        group: args.group.to_string(),
        stopping: worker.stopping(),
    };
    eprintln!(
        "ordo work: working the queue of group {} over topic {}, {} job(s) at once (Ctrl-C stops)",
        args.group, args.topic, args.concurrency
    );
    let report = worker.run(handler, shutdown_signal()).await?;
    eprintln!("ordo work: stopped: {}", summary(&report));
    Ok(())
}

/// Makes the queue if it does not exist; answers its dead-letter topic.
async fn ensure_queue(client: &Client, args: &WorkArgs) -> anyhow::Result<TopicName> {
    let (group, topic) = (args.group.as_str(), args.topic.as_str());
    let found = client.queue(group, topic).await.explained(&args.connect)?;
    let queue = match found {
        Some(queue) => queue,
        None => {
            let config = PutQueueRequest {
                lease_ms: args.lease_ms,
                ..PutQueueRequest::default()
            };
            let made = client
                .put_queue(group, topic, &config)
                .await
                .explained(&args.connect)
                .with_context(|| format!("making the queue of group {group} over topic {topic}"))?;
            eprintln!(
                "ordo work: made the queue of group {group} over topic {topic}: lease {} ms, {} deliveries, \
                 then to {}",
                made.config.lease_ms, made.config.max_deliveries, made.config.dead_letter_topic
            );
            made
        }
    };
    Ok(queue.config.dead_letter_topic)
}

/// The job's command: one process per job.
struct RunCommand {
    program: OsString,
    args: Vec<OsString>,
    topic: String,
    group: String,
    /// Turns at Ctrl-C or SIGTERM, once the worker claims no more.
    stopping: Stopping,
}

impl Handler for RunCommand {
    type Error = String;

    async fn handle(&self, job: Job) -> Result<(), String> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env("ORDO_OFFSET", job.offset.to_string())
            .env("ORDO_DELIVERY", job.delivery.to_string())
            .env("ORDO_TOPIC", &self.topic)
            .env("ORDO_GROUP", &self.group)
            .env_remove("ORDO_KEY")
            .stdin(Stdio::piped())
            .process_group(0);
        if let Some(key) = &job.key {
            command.env("ORDO_KEY", key);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", self.program.to_string_lossy()))?;
        let mut group = ProcessGroup::of(&child);
        if let Some(mut stdin) = child.stdin.take() {
            let input = format!("{}\n", value_text(&job.value));
            // A command that exits without reading its stdin is its
            // business (its exit status says how the job went).
            tokio::spawn(async move {
                let _ = stdin.write_all(input.as_bytes()).await;
            });
        }
        let mut stopping = self.stopping.clone();
        let status = tokio::select! {
            status = child.wait() => status,
            () = stopping.wait() => {
                group.signal(libc::SIGTERM);
                child.wait().await
            }
        };
        group.reaped();
        match status {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(exit_text(status)),
            Err(e) => Err(format!("waiting for the command: {e}")),
        }
    }
}

/// A command's process group: signalled as a whole, and killed if the job
/// lets go of it before the command ended (the worker gave up on it at the
/// end of the grace), so nothing is left running unsupervised.
struct ProcessGroup {
    /// The command's pid, which is its group's id; `None` once the command
    /// was waited for (the id may then be reused).
    id: Option<i32>,
}

impl ProcessGroup {
    fn of(child: &Child) -> ProcessGroup {
        ProcessGroup {
            id: child.id().and_then(|pid| i32::try_from(pid).ok()),
        }
    }

    fn signal(&self, signal: libc::c_int) {
        if let Some(id) = self.id {
            // SAFETY: kill(2) has no memory-safety preconditions. The group
            // is our own child's, which is not yet waited for, so its id
            // names no other group.
            unsafe {
                libc::kill(-id, signal);
            }
        }
    }

    fn reaped(&mut self) {
        self.id = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

fn exit_text(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("the command exited with status {code}"),
        (None, Some(signal)) => format!("the command was killed by signal {signal}"),
        (None, None) => format!("the command ended: {status}"),
    }
}

/// Fails at once, before any job is claimed, if the command cannot be
/// found: otherwise every job would fail and go to the dead-letter topic.
fn find_program(program: &Path) -> anyhow::Result<PathBuf> {
    let runnable = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.components().count() > 1 || program.is_absolute() {
        return match runnable(program) {
            true => Ok(program.to_path_buf()),
            false => bail!("{} is not a file that can be run", program.display()),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| runnable(candidate))
        .with_context(|| format!("command {} not found in PATH", program.display()))
}

/// One stderr line for an event worth telling, if it is.
fn describe(event: &WorkerEvent, dead_letter_topic: &TopicName) -> Option<String> {
    let at = |job: &ordo_client::worker::JobRef| {
        format!("job at offset {} (delivery {})", job.offset, job.delivery)
    };
    Some(match event {
        WorkerEvent::Claimed { .. } => return None,
        WorkerEvent::Failed { job, error } => format!("{} failed: {error}", at(job)),
        WorkerEvent::Abandoned { job } => {
            format!("{}: still running at the end of the grace; killed", at(job))
        }
        WorkerEvent::LeaseLost { job } => format!(
            "{}: its lease ran out while the command ran; the job went back to the queue",
            at(job)
        ),
        WorkerEvent::ExtendFailed { job, error } => {
            format!("{}: could not extend its lease: {error}", at(job))
        }
        WorkerEvent::ClaimFailed { error } => format!("could not claim: {error}; trying again"),
        WorkerEvent::Settled {
            job,
            action,
            settlement,
        } => {
            let verb = match action {
                Action::Ack => "ack",
                Action::Nack { .. } => "nack",
            };
            match (action, settlement) {
                (Action::Ack, Settlement::Done(_)) => return None,
                (Action::Nack { .. }, Settlement::Done(done))
                    if done.dead_lettered.contains(&job.offset) =>
                {
                    format!("{} was its last: sent to {dead_letter_topic}", at(job))
                }
                (Action::Nack { delay_ms: 0 }, Settlement::Done(_)) => {
                    format!("{} goes again at once", at(job))
                }
                (Action::Nack { delay_ms }, Settlement::Done(_)) => {
                    format!("{} goes again in {delay_ms} ms", at(job))
                }
                (_, Settlement::SettledOrLost) => format!(
                    "{}: the {verb}'s answer was lost and its resend found the lease gone: \
                     the {verb} took effect, or the lease had run out",
                    at(job)
                ),
                (_, Settlement::Lost) => format!(
                    "{}: its lease ran out before the {verb}; the job went back to the queue",
                    at(job)
                ),
                (_, Settlement::Failed(error)) => format!(
                    "{}: could not {verb} ({error}); it goes again when its lease runs out",
                    at(job)
                ),
            }
        }
    })
}

fn summary(report: &WorkerReport) -> String {
    let mut text = format!(
        "{} job(s) acked, {} nacked ({} of them sent to the dead-letter topic)",
        report.acked, report.nacked, report.dead_lettered
    );
    let others = [
        (report.settled_or_lost, "settled or lost"),
        (report.lost, "lost their lease"),
        (report.unsettled, "not settled"),
    ];
    for (count, what) in others {
        if count > 0 {
            text.push_str(&format!(", {count} {what}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_api::JobsDone;
    use ordo_client::worker::JobRef;
    use ordo_core::{LogIndex, Offset};

    const JOB: JobRef = JobRef {
        offset: Offset(7),
        delivery: 2,
    };

    fn settled(action: Action, dead: &[u64]) -> WorkerEvent {
        WorkerEvent::Settled {
            job: JOB,
            action,
            settlement: Settlement::Done(JobsDone {
                log_index: LogIndex(1),
                dead_lettered: dead.iter().copied().map(Offset).collect(),
            }),
        }
    }

    #[test]
    fn failures_and_their_fate_are_told_and_successes_are_quiet() {
        let dlq = TopicName::new("emails.dlq").unwrap();
        let tell = |event: &WorkerEvent| describe(event, &dlq);
        assert_eq!(tell(&WorkerEvent::Claimed { job: JOB }), None);
        assert_eq!(tell(&settled(Action::Ack, &[])), None);
        assert_eq!(
            tell(&settled(Action::Nack { delay_ms: 500 }, &[])).unwrap(),
            "job at offset 7 (delivery 2) goes again in 500 ms"
        );
        assert_eq!(
            tell(&settled(Action::Nack { delay_ms: 500 }, &[7])).unwrap(),
            "job at offset 7 (delivery 2) was its last: sent to emails.dlq"
        );
        let lost = WorkerEvent::Settled {
            job: JOB,
            action: Action::Ack,
            settlement: Settlement::SettledOrLost,
        };
        assert!(tell(&lost).unwrap().contains("the ack took effect, or"));
    }

    #[test]
    fn a_command_is_looked_up_as_the_shell_would() {
        assert!(find_program(Path::new("sh")).is_ok());
        assert!(find_program(Path::new("/bin/sh")).is_ok());
        let missing = find_program(Path::new("no-such-command-here")).unwrap_err();
        assert!(
            missing.to_string().contains("not found in PATH"),
            "{missing}"
        );
        assert!(find_program(Path::new("./no/such/file")).is_err());
    }

    #[test]
    fn the_summary_names_only_what_happened() {
        let report = WorkerReport {
            acked: 3,
            nacked: 2,
            dead_lettered: 1,
            lost: 1,
            ..WorkerReport::default()
        };
        assert_eq!(
            summary(&report),
            "3 job(s) acked, 2 nacked (1 of them sent to the dead-letter topic), 1 lost their lease"
        );
    }
}
