//! `ordo work` and `ordo queues` as a user runs them (docs/cli.md, "Work
//! queues"): a command run per job with the value on stdin and the job in
//! the environment, acked on exit 0 and nacked otherwise until the job's
//! last delivery sends it to the dead-letter topic; at SIGTERM the running
//! commands are stopped and their jobs given back at once; a command that
//! cannot be found is refused before any job is claimed.

use std::collections::BTreeMap;
use std::process::{Output, Stdio};
use std::time::Duration;

use ordo_api::Consistency;
use ordo_core::NewRecord;
use tokio::process::{Child, Command};

use crate::support::{eventually, read_all, TestCluster};

/// Longest a CLI run or a wait for the queue may take here.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// The queue's group in these tests.
const GROUP: &str = "workers";

/// `ordo` with the cluster's addresses in the environment.
fn ordo(cluster: &TestCluster) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ordo"));
    command
        .env("ORDO_ADDR", cluster.nodes.addrs().join(","))
        .kill_on_drop(true);
    command
}

async fn run(command: &mut Command) -> Output {
    let output = tokio::time::timeout(STEP_TIMEOUT, command.output())
        .await
        .expect("the command ends in time")
        .expect("running ordo");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Sends SIGTERM to `child` and waits for it to end; answers its output.
async fn terminate(child: Child) -> Output {
    let pid = child.id().expect("still running") as i32;
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is our
    // child's, not yet waited for.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    tokio::time::timeout(STEP_TIMEOUT, child.wait_with_output())
        .await
        .expect("ordo work ends after SIGTERM")
        .expect("waiting for ordo work")
}

fn keyed(key: &str, value: &str) -> NewRecord {
    NewRecord {
        key: Some(key.to_string()),
        value: serde_json::Value::from(value).into(),
        headers: Default::default(),
    }
}

/// Waits until the queue over `topic` has `acked` and `dead_lettered`
/// jobs, and none pending or in flight.
async fn wait_until_done(cluster: &TestCluster, topic: &str, acked: u64, dead_lettered: u64) {
    let client = cluster.client();
    eventually("every job acked or dead-lettered", STEP_TIMEOUT, || {
        let client = client.clone();
        async move {
            let queue = client
                .queue(GROUP, topic)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no queue")?;
            let counts = (
                queue.acked,
                queue.dead_lettered,
                queue.pending,
                queue.in_flight,
            );
            match counts == (acked, dead_lettered, 0, 0) {
                true => Ok(()),
                false => Err(format!("{queue:?}")),
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordo_work_acks_what_succeeds_and_dead_letters_what_keeps_failing() {
    let cluster = TestCluster::start().await;
    let values: Vec<String> = (0..12)
        .map(|i| match i % 4 {
            3 => format!("bad-{i}"),
            _ => format!("good-{i}"),
        })
        .collect();
    let records = values
        .iter()
        .enumerate()
        .map(|(i, value)| keyed(&format!("k{i}"), value))
        .collect();
    cluster
        .client()
        .append("jobs", records)
        .await
        .expect("appending the jobs");
    run(ordo(&cluster).args(["queues", "put", GROUP, "jobs", "--max-deliveries", "2"])).await;

    let dir = tempfile::tempdir().expect("a temporary dir");
    let runs = dir.path().join("runs");
    // One line per run: offset, delivery, key, topic, group, value; fails
    // for the bad values.
    let script = r#"value=$(cat)
echo "$ORDO_OFFSET $ORDO_DELIVERY $ORDO_KEY $ORDO_TOPIC $ORDO_GROUP $value" >> "$RUNS"
case "$value" in bad-*) exit 3 ;; esac"#;
    let worker = ordo(&cluster)
        .args([
            "work",
            "jobs",
            "--group",
            GROUP,
            "-c",
            "3",
            "--nack-delay-ms",
            "100",
        ])
        .args(["--", "sh", "-c", script])
        .env("RUNS", &runs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting ordo work");
    let bad: Vec<&String> = values.iter().filter(|v| v.starts_with("bad")).collect();
    wait_until_done(
        &cluster,
        "jobs",
        (values.len() - bad.len()) as u64,
        bad.len() as u64,
    )
    .await;
    let output = terminate(worker).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ordo work exits 0 at SIGTERM: {stderr}"
    );

    // Each good value ran once; each bad one once per delivery, twice.
    let log = std::fs::read_to_string(&runs).expect("the runs file");
    let mut deliveries: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for line in log.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [offset, delivery, key, topic, group, value] = fields[..] else {
            panic!("a run's line: {line:?}");
        };
        assert_eq!(
            (key, topic, group),
            (&*format!("k{offset}"), "jobs", GROUP),
            "{line}"
        );
        assert_eq!(value, values[offset.parse::<usize>().unwrap()], "{line}");
        deliveries
            .entry(value.to_string())
            .or_default()
            .push(delivery.parse().unwrap());
    }
    for value in &values {
        let mut runs = deliveries.remove(value).unwrap_or_default();
        runs.sort_unstable();
        let expected = match value.starts_with("bad") {
            true => vec![1, 2],
            false => vec![1],
        };
        assert_eq!(runs, expected, "deliveries of {value}");
    }

    let dead = read_all(&cluster.client(), "jobs.dlq", Consistency::Linearizable)
        .await
        .expect("reading the dead-letter topic");
    let mut found: Vec<String> = dead.iter().map(|r| r.value.parse().unwrap()).collect();
    found.sort();
    let mut expected: Vec<String> = bad.iter().map(|v| v.to_string()).collect();
    expected.sort();
    assert_eq!(found, expected, "exactly the bad values are dead letters");
    for letter in &dead {
        assert_eq!(letter.headers["ordo-dead-letter-deliveries"], "2");
        assert_eq!(letter.headers["ordo-dead-letter-group"], GROUP);
    }
    for value in &bad {
        let offset = values.iter().position(|v| v == *value).unwrap();
        assert!(
            stderr.contains(&format!(
                "job at offset {offset} (delivery 2) was its last: sent to jobs.dlq"
            )),
            "ordo work tells where {value} went: {stderr}"
        );
    }

    let table = run(ordo(&cluster).arg("queues")).await;
    let table = String::from_utf8_lossy(&table.stdout);
    let row: Vec<&str> = table
        .lines()
        .find(|line| line.starts_with(GROUP))
        .unwrap_or_else(|| panic!("a row for the queue: {table}"))
        .split_whitespace()
        .collect();
    assert_eq!(row, [GROUP, "jobs", "0", "0", "9", "3", "-"], "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordo_work_refuses_a_missing_command_and_gives_running_jobs_back_at_sigterm() {
    let cluster = TestCluster::start().await;
    let client = cluster.client();
    client
        .append("slow", vec![keyed("k", "sleep")])
        .await
        .expect("appending the job");

    // No such command: refused before the queue is even made.
    let missing = ordo(&cluster)
        .args([
            "work",
            "slow",
            "--group",
            GROUP,
            "--",
            "no-such-command-here",
        ])
        .output();
    let missing = tokio::time::timeout(STEP_TIMEOUT, missing)
        .await
        .expect("ends at once")
        .expect("running ordo work");
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("not found in PATH"), "{stderr}");
    assert_eq!(
        client.queue(GROUP, "slow").await.unwrap(),
        None,
        "no queue made"
    );

    // A command that would run for a minute: the queue is made with the
    // defaults, the job is held while it runs; at SIGTERM the command is
    // stopped and the job is pending again at once.
    let dir = tempfile::tempdir().expect("a temporary dir");
    let started = dir.path().join("started");
    let worker = ordo(&cluster)
        .args(["work", "slow", "--group", GROUP, "--"])
        .args(["sh", "-c", r#"touch "$STARTED"; sleep 60"#])
        .env("STARTED", &started)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting ordo work");
    eventually("the command started", STEP_TIMEOUT, || async {
        match started.exists() {
            true => Ok(()),
            false => Err("not yet".to_string()),
        }
    })
    .await;
    let held = client
        .queue(GROUP, "slow")
        .await
        .unwrap()
        .expect("the queue was made");
    assert_eq!(
        (held.in_flight, held.config.max_deliveries),
        (1, 5),
        "{held:?}"
    );

    let output = terminate(worker).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit 0 at SIGTERM: {stderr}");
    assert!(stderr.contains("goes again at once"), "{stderr}");
    let after = client
        .queue(GROUP, "slow")
        .await
        .unwrap()
        .expect("the queue");
    assert_eq!(
        (after.pending, after.in_flight, after.acked),
        (1, 0, 0),
        "{after:?}"
    );
}
