//! The `ordo` CLI as a user meets it: in pipes that close early, against
//! addresses where nothing listens, with the conventions of etcdctl and nats
//! (connection flags before the command), and `ordo local-cluster` (what
//! `make cluster` runs) with a node killed and started again on its own.
//! Each claim of `docs/cli.md` that has behaviour is checked here
//! on real processes.

use std::process::{Output, Stdio};
use std::time::Duration;

use ordo_api::Consistency;
use ordo_core::Offset;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::time::Instant;

use crate::support::{eventually, wait_for_position, TestCluster};

/// Longest any one CLI run may take here; the claims below are far shorter.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// "At once": how long a failure that needs no waiting may take, with room
/// for a loaded machine.
const AT_ONCE: Duration = Duration::from_secs(2);

/// `ordo` with the cluster's addresses in the environment, a backtrace
/// requested as users often have it set, and plain output.
fn ordo(cluster: &TestCluster) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ordo"));
    command
        .env("ORDO_ADDR", cluster.nodes.addrs().join(","))
        .env("RUST_BACKTRACE", "1")
        .kill_on_drop(true);
    command
}

/// Runs `script` under bash with `$ORDO` as the binary and the cluster's
/// addresses in `ORDO_ADDR`; answers its output and how long it took.
async fn shell(cluster: &TestCluster, script: &str) -> (Output, Duration) {
    let started = Instant::now();
    let output = Command::new("bash")
        .args(["-c", script])
        .env("ORDO", env!("CARGO_BIN_EXE_ordo"))
        .env("ORDO_ADDR", cluster.nodes.addrs().join(","))
        .env("RUST_BACKTRACE", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(STEP_TIMEOUT, output)
        .await
        .unwrap_or_else(|_| panic!("`{script}` did not end within {STEP_TIMEOUT:?}"))
        .expect("running bash");
    (output, started.elapsed())
}

async fn run(command: &mut Command) -> (Output, Duration) {
    let started = Instant::now();
    let output = tokio::time::timeout(STEP_TIMEOUT, command.output())
        .await
        .expect("the command ends in time")
        .expect("running ordo");
    (output, started.elapsed())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn append_numbers(cluster: &TestCluster, topic: &str, count: u64) {
    let lines: String = (0..count).map(|i| format!("{i}\n")).collect();
    let mut append = ordo(cluster)
        .args(["append", topic])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting ordo append");
    let mut stdin = append.stdin.take().expect("stdin");
    stdin.write_all(lines.as_bytes()).await.expect("feeding");
    drop(stdin);
    let output = tokio::time::timeout(STEP_TIMEOUT, append.wait_with_output())
        .await
        .expect("ordo append in time")
        .expect("ordo append ran");
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// A free TCP port: bound, then released, so nothing listens there.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_group_tail_into_head_never_skips_a_record_and_exits_by_itself() {
    let cluster = TestCluster::start().await;
    append_numbers(&cluster, "jobs", 1000).await;
    let client = cluster.client();
    let script = r#"set -o pipefail; "$ORDO" tail jobs --group g | head -5"#;

    // Where the group stands, and so where the next run starts.
    let mut start = 0;
    for run in 1..=2 {
        let (output, took) = shell(&cluster, script).await;
        assert!(
            output.status.success(),
            "run {run}: {}",
            text(&output.stderr)
        );
        assert!(
            took < Duration::from_secs(5),
            "run {run} ended {took:?} after head left"
        );
        let lines: Vec<u64> = text(&output.stdout)
            .lines()
            .map(|l| l.parse().expect("a number"))
            .collect();
        let committed = client
            .consumer_offset("g", "jobs", Consistency::Linearizable)
            .await
            .expect("reading the group's position");
        // At-least-once: the run started where the group was, and the
        // group never moved past what head printed.
        assert_eq!(lines, (start..start + 5).collect::<Vec<_>>(), "run {run}");
        let committed = committed.map_or(0, |o| o.0);
        assert!(
            (start..=start + 5).contains(&committed),
            "run {run}: the group committed {committed} after printing {lines:?}"
        );
        start = committed;
    }

    // A reader that stays takes what it reads: committed promptly.
    let mut follower = ordo(&cluster)
        .args(["tail", "jobs", "--group", "g"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting ordo tail");
    let mut reader = BufReader::new(follower.stdout.take().expect("stdout")).lines();
    let mut last = 0;
    while last != 999 {
        let line = tokio::time::timeout(STEP_TIMEOUT, reader.next_line())
            .await
            .expect("a line in time")
            .expect("reading")
            .expect("the tail runs on");
        last = line.parse().expect("a number");
    }
    wait_for_position(&client, "g", "jobs", Offset(1000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_ends_quietly_when_its_reader_goes_away() {
    let cluster = TestCluster::start().await;
    append_numbers(&cluster, "pipe", 3000).await;
    let commands = [
        "cluster status",
        "cluster status --json",
        "topics",
        "topics list",
        "topics ls --json",
        "topics show pipe",
        "topics put pipe-2",
        "read pipe",
        "read pipe --format json",
        "append pipe one-more",
        "bench --topic pipe-bench -c 1 --seconds 1 --warmup-secs 0",
        "bench --topic pipe --tail pages --seconds 2",
    ];
    for command in commands {
        // `true` leaves at once: ordo's first write finds the pipe closed.
        let script = format!(r#""$ORDO" {command} | true; echo "status ${{PIPESTATUS[0]}}""#);
        let (output, _) = shell(&cluster, &script).await;
        let stdout = text(&output.stdout);
        let stderr = text(&output.stderr);
        assert!(
            stdout.trim() == "status 0" || stdout.trim() == "status 141",
            "ordo {command} | true: {stdout} {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "ordo {command} | true: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_that_need_no_waiting_are_reported_at_once_in_one_line() {
    let cluster = TestCluster::start().await;
    let dead = format!("127.0.0.1:{}", dead_port());

    // Nothing listens: one line naming the address and the cause, no
    // backtrace though RUST_BACKTRACE is set, well under a second or two.
    let (output, took) = run(ordo(&cluster).args(["--addr", &dead, "read", "t"])).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(took < AT_ONCE, "a refused connection took {took:?}");
    assert!(
        stderr.contains(&dead) && stderr.contains("connection refused"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");

    // Something accepts but never answers: --timeout-ms bounds the command.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    let silent_addr = silent.local_addr().expect("its address").to_string();
    let (output, took) = run(ordo(&cluster).args([
        "--addr",
        &silent_addr,
        "--timeout-ms",
        "500",
        "cluster",
        "status",
    ]))
    .await;
    assert!(!output.status.success());
    assert!(took < AT_ONCE, "--timeout-ms 500 took {took:?}");
    drop(silent);

    // Adding a node where nothing listens: refused before the leader
    // would wait a minute for it to catch up.
    let (output, took) =
        run(ordo(&cluster).args(["cluster", "add", "--id", "4", "--node-addr", &dead])).await;
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(took < AT_ONCE, "cluster add took {took:?}: {stderr}");
    assert!(stderr.contains("nothing listens"), "{stderr}");
    let members = cluster.client().cluster_status().await.expect("status");
    assert_eq!(members.members.len(), 3, "the membership is unchanged");

    // Names that can never be a topic are refused before any request.
    for (args, name) in [
        (["append", ".", "x"], "."),
        (["read", "..", "--from"], ".."),
    ] {
        let (output, _) = run(ordo(&cluster).args(args).arg("0")).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{name}'")),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_takes_flags_before_the_command_and_sums_up_an_import() {
    let cluster = TestCluster::start().await;
    let node_2 = cluster.nodes.addr(2).expect("node 2").to_string();

    // Connection flags before the command, as etcdctl and nats take them;
    // the environment's addresses are overridden by them.
    let (output, _) = run(ordo(&cluster)
        .env("ORDO_ADDR", format!("127.0.0.1:{}", dead_port()))
        .args(["--addr", &node_2, "append", "conv", "first"]))
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));

    // A piped import prints one summary, not a line per request.
    let mut append = ordo(&cluster)
        .args(["--addr", &node_2, "append", "conv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting ordo append");
    let mut stdin = append.stdin.take().expect("stdin");
    let lines: String = (0..1200).map(|i| format!("line {i}\n")).collect();
    stdin.write_all(lines.as_bytes()).await.expect("feeding");
    drop(stdin);
    let output = append.wait_with_output().await.expect("ordo append");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("appended 1200 records to conv at offsets 1-1200 ")
            && stdout.contains("in 3 requests")
            && stdout.contains("records/s"),
        "{stdout}"
    );

    // A line too large for any request stops the import there, and says
    // which line and what was appended before it.
    let mut append = ordo(&cluster)
        .args(["append", "big"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting ordo append");
    let mut stdin = append.stdin.take().expect("stdin");
    let huge = "x".repeat(5 * 1024 * 1024);
    let input = format!("a\nb\n{huge}\nc\n");
    let feed = tokio::spawn(async move {
        // The import stops reading at the huge line: the rest may not fit.
        let _ = stdin.write_all(input.as_bytes()).await;
    });
    let output = tokio::time::timeout(STEP_TIMEOUT, append.wait_with_output())
        .await
        .expect("in time")
        .expect("ordo append");
    feed.abort();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 3 is") && stderr.contains("lines 1-2 were appended"),
        "{stderr}"
    );
    let (output, _) = run(ordo(&cluster).args(["read", "big"])).await;
    assert_eq!(text(&output.stdout), "a\nb\n");

    // `topics list` and `ls` are the table `ordo topics` prints.
    let (plain, _) = run(ordo(&cluster).args(["topics"])).await;
    for alias in ["list", "ls"] {
        let (output, _) = run(ordo(&cluster).args(["topics", alias])).await;
        assert_eq!(text(&output.stdout), text(&plain.stdout), "topics {alias}");
    }
    assert!(text(&plain.stdout).starts_with("TOPIC "));

    // A tail of a topic that does not exist yet says so once, and waits.
    let mut tail = ordo(&cluster)
        .args(["tail", "not-yet"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting ordo tail");
    let mut stderr = BufReader::new(tail.stderr.take().expect("stderr")).lines();
    let said = tokio::time::timeout(STEP_TIMEOUT, stderr.next_line())
        .await
        .expect("a notice in time")
        .expect("reading stderr")
        .expect("a line");
    assert!(said.contains("topic not-yet does not exist yet"), "{said}");
    tail.kill().await.expect("stopping the tail");
}

/// Six consecutive free ports, for `ordo local-cluster --base-port` and
/// `--kafka-base-port` (three past it).
fn free_port_run() -> u16 {
    for _ in 0..100 {
        let base = dead_port();
        let all_free = (0..6).all(|i| {
            base.checked_add(i)
                .is_some_and(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        });
        if all_free {
            return base;
        }
    }
    panic!("no six consecutive free ports");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_cluster_keeps_running_with_its_nodes_down_and_one_comes_back_on_its_own() {
    let dir = tempfile::tempdir().expect("a temporary dir");
    let base_port = free_port_run();
    let base = base_port.to_string();
    let kafka_base = (base_port + 3).to_string();
    let data = dir.path().to_str().expect("a UTF-8 path").to_string();
    let cluster_args = [
        "--nodes",
        "3",
        "--base-port",
        &base,
        "--data-dir",
        &data,
        "--kafka-base-port",
        &kafka_base,
    ];
    let mut local = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .arg("local-cluster")
        .args(cluster_args)
        .arg("--log-files")
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting ordo local-cluster");
    let mut stdout = BufReader::new(local.stdout.take().expect("stdout")).lines();
    let mut stderr = BufReader::new(local.stderr.take().expect("stderr")).lines();
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut usage = String::new();
    loop {
        let line = tokio::time::timeout_at(deadline, stdout.next_line())
            .await
            .expect("the local cluster comes up in time")
            .expect("reading its output")
            .expect("it runs on");
        usage.push_str(&line);
        usage.push('\n');
        if line.contains("Ctrl-C stops all 3 nodes") {
            break;
        }
    }
    let console = format!("http://127.0.0.1:{base_port}/ui");
    assert!(
        usage.contains(&format!("console: {console}\n")),
        "the console's address: {usage}"
    );
    let page = crate::support::http()
        .get(&console)
        .send()
        .await
        .expect("GET the console");
    assert_eq!(page.status(), 200, "GET {console}");
    let kafka_ports: Vec<String> = (3..6)
        .map(|i| format!("127.0.0.1:{}", base_port + i))
        .collect();
    let bootstrap = kafka_ports.join(",");
    assert!(
        usage.contains(&format!("kafka: {bootstrap}\n")),
        "the Kafka bootstrap list: {usage}"
    );
    assert!(
        usage.contains(&format!("kcat -L -b {bootstrap}")),
        "{usage}"
    );
    for addr in &kafka_ports {
        assert!(
            std::net::TcpStream::connect(addr).is_ok(),
            "a Kafka listener at {addr}"
        );
    }

    for id in 1..=3 {
        let pid =
            std::fs::read_to_string(dir.path().join(format!("n{id}.pid"))).expect("a pid file");
        let killed = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .await
            .expect("running kill");
        assert!(killed.success());
    }
    let mut said = String::new();
    while !said.contains("every node this command started has exited") {
        let line = tokio::time::timeout_at(deadline, stderr.next_line())
            .await
            .expect("the deaths reported in time")
            .expect("reading its errors")
            .expect("it runs on");
        said.push_str(&line);
        said.push('\n');
    }
    assert!(said.contains("--node 2"), "{said}");
    assert!(
        said.contains(&format!("--kafka-base-port {kafka_base}")),
        "{said}"
    );
    assert!(!said.contains("backtrace"), "{said}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        local.try_wait().expect("checking it").is_none(),
        "the local cluster keeps running with every node down"
    );

    // The command it printed starts node 2 alone, in the foreground.
    let mut node_2 = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .arg("local-cluster")
        .args(cluster_args)
        .args(["--node", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting node 2 again");
    let port: u16 = base.parse::<u16>().expect("a port") + 1;
    let http = reqwest::Client::new();
    eventually("node 2 answers again", STEP_TIMEOUT, || async {
        match http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    node_2.kill().await.expect("stopping node 2");

    let pid = local.id().expect("running").to_string();
    Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("running kill");
    let status = tokio::time::timeout(STEP_TIMEOUT, local.wait())
        .await
        .expect("Ctrl-C ends it in time")
        .expect("waiting for it");
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quorum_the_cli_gives_the_cluster_s_reason_not_an_address_it_was_not_given() {
    let mut cluster = TestCluster::start().await;
    let survivor = cluster.leader;
    for id in cluster.followers() {
        cluster.kill(id);
    }
    let survivor_addr = cluster
        .nodes
        .addr(survivor)
        .expect("the survivor")
        .to_string();
    let others: Vec<String> = cluster
        .ids()
        .into_iter()
        .filter(|&id| id != survivor)
        .map(|id| cluster.nodes.addr(id).expect("a node").to_string())
        .collect();
    // Once the survivor knows it has lost its quorum (an append proposed
    // before that has an unknown outcome, honestly reported as such).
    let http = reqwest::Client::new();
    eventually(
        "the survivor knows it has no quorum",
        STEP_TIMEOUT,
        || async {
            match http
                .get(format!("http://{survivor_addr}/readyz"))
                .send()
                .await
            {
                Ok(response) if response.status() == 503 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;

    for args in [&["append", "t", "x"][..], &["read", "t"]] {
        let (output, took) = run(ordo(&cluster)
            .env_remove("ORDO_ADDR")
            .args(["--addr", &survivor_addr, "--timeout-ms", "3000"])
            .args(args))
        .await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
        assert!(
            stderr.contains(&format!("{survivor_addr} answered 503")),
            "{args:?}: the survivor's own answer: {stderr}"
        );
        for other in &others {
            assert!(!stderr.contains(other.as_str()), "{args:?}: {stderr}");
        }
        for internal in ["BasicNode", "Some(", "{voters"] {
            assert!(!stderr.contains(internal), "{args:?}: {stderr}");
        }
    }
}
