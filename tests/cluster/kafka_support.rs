//! What the Kafka tests share: a cluster whose nodes run Kafka listeners,
//! the real clients as subprocesses (kcat, and the Python scripts in
//! `tests/kafka/` over confluent-kafka or kafka-python, which print one JSON
//! event a line), and raw HTTP reads and appends that show a record's
//! `value` / `value_b64` as the server sends them. A client that is not
//! installed fails the test with how to install it: CI installs them, and a
//! skipped test would pass for nothing.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ordo_core::NodeId;
use ordo_launcher::KafkaListeners;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::support::TestCluster;

/// How long one client command may take, at most, before the test fails.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);
/// Records one whole-topic HTTP read may take pages for (1,000 a page).
const MAX_HTTP_PAGES: usize = 100;

/// Starts a 3-node cluster whose nodes also run Kafka listeners, on free
/// ports, and waits for its leader.
pub async fn start_kafka_cluster() -> TestCluster {
    TestCluster::start_with_config(|config| config.kafka = KafkaListeners::FreePorts).await
}

/// `127.0.0.1:port` of node `id`'s Kafka listener.
pub fn kafka_addr(cluster: &TestCluster, id: NodeId) -> String {
    cluster
        .nodes
        .kafka_addr(id)
        .expect("node ids come from the cluster")
        .expect("the cluster runs Kafka listeners")
        .to_string()
}

/// Fails the test, saying how to install it, unless `kcat` runs.
pub fn require_kcat() {
    let runs = std::process::Command::new("kcat")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        runs,
        "kcat is not installed: `apt-get install -y kcat` (Debian, Ubuntu; `.ci/run` does it)"
    );
}

/// `kcat ARGS…` with `stdin` as its input, within [`CLIENT_TIMEOUT`]; fails
/// the test unless it exits 0. Returns its stdout.
pub async fn kcat(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let output = kcat_output(args, stdin).await;
    assert!(
        output.status.success(),
        "kcat {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// `kcat ARGS…` with `stdin` as its input, within [`CLIENT_TIMEOUT`],
/// however it ends.
pub async fn kcat_output(args: &[&str], stdin: &[u8]) -> std::process::Output {
    require_kcat();
    let mut child = Command::new("kcat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting kcat");
    let mut input = child.stdin.take().expect("kcat's stdin");
    let stdin = stdin.to_vec();
    let feed = tokio::spawn(async move {
        // kcat may exit before it reads everything; its status says why.
        let _ = input.write_all(&stdin).await;
    });
    let output = tokio::time::timeout(CLIENT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("kcat {args:?} did not finish within {CLIENT_TIMEOUT:?}"))
        .expect("waiting for kcat");
    feed.await.expect("feeding kcat");
    output
}

/// A Kafka client library for Python, driven through its script in
/// `tests/kafka/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyClient {
    /// confluent-kafka (librdkafka underneath).
    Confluent,
    /// kafka-python (the protocol in pure Python).
    KafkaPython,
}

impl PyClient {
    fn module(self) -> &'static str {
        match self {
            PyClient::Confluent => "confluent_kafka",
            PyClient::KafkaPython => "kafka",
        }
    }

    fn package(self) -> &'static str {
        match self {
            PyClient::Confluent => "confluent-kafka",
            PyClient::KafkaPython => "kafka-python",
        }
    }

    fn script(self) -> PathBuf {
        let name = match self {
            PyClient::Confluent => "confluent_client.py",
            PyClient::KafkaPython => "kafka_python_client.py",
        };
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/kafka")
            .join(name)
    }

    /// Fails the test, saying how to install it, unless `python3` imports
    /// this client.
    pub fn require(self) {
        let imports = std::process::Command::new("python3")
            .args(["-c", &format!("import {}", self.module())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        assert!(
            imports,
            "python3 cannot import {}: `python3 -m pip install {}` (`.ci/run` does it)",
            self.module(),
            self.package()
        );
    }

    /// Starts `python3 <script> ARGS…` (a command of `tests/kafka/common.py`).
    pub fn start(self, args: &[&str]) -> Script {
        self.require();
        let mut child = Command::new("python3")
            .arg(self.script())
            .args(args)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Straight into the test's output, where a failure shows it.
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting python3 for {self:?}: {e}"));
        let stdout = child.stdout.take().expect("the script's stdout");
        Script {
            what: format!("{self:?} {}", args.first().copied().unwrap_or("")),
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// Runs a command of the script to its end within [`CLIENT_TIMEOUT`];
    /// fails the test unless it exits 0. Returns its events.
    pub async fn run(self, args: &[&str]) -> Vec<Value> {
        self.start(args).finish(CLIENT_TIMEOUT).await
    }
}

/// A running client script and the events it printed.
pub struct Script {
    what: String,
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Script {
    /// The next event, or `None` once the script closed its stdout; fails
    /// the test at `deadline`.
    pub async fn next_event(&mut self, deadline: Instant) -> Option<Value> {
        tokio::time::timeout_at(deadline, self.read_event())
            .await
            .unwrap_or_else(|_| panic!("{}: no event in time", self.what))
    }

    /// The next event, however long it takes; `None` at the end.
    async fn read_event(&mut self) -> Option<Value> {
        let line = self
            .lines
            .next_line()
            .await
            .unwrap_or_else(|e| panic!("{}: reading its output: {e}", self.what))?;
        Some(
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{}: not a JSON event: {line:?}: {e}", self.what)),
        )
    }

    /// Reads events until `stop` says so of one, within `timeout`; returns
    /// every event read, the last being the one `stop` chose.
    pub async fn read_until(
        &mut self,
        timeout: Duration,
        mut stop: impl FnMut(&Value) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut events = Vec::new();
        loop {
            let event = self
                .next_event(deadline)
                .await
                .unwrap_or_else(|| panic!("{}: ended before the awaited event", self.what));
            let done = stop(&event);
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// Every remaining event, once the script exited 0 within `timeout`.
    pub async fn finish(mut self, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut events = Vec::new();
        while let Some(event) = self.next_event(deadline).await {
            events.push(event);
        }
        let status = tokio::time::timeout_at(deadline, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{}: did not exit in time", self.what))
            .expect("waiting for the script");
        assert!(status.success(), "{} failed ({status})", self.what);
        events
    }

    /// SIGKILLs the script (a consumer that crashes) and reaps it.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("killing a client script");
    }
}

/// Scripts running side by side (the members of a consumer group), their
/// events merged into one stream tagged with the member's index. Dropping
/// it kills every member still running.
pub struct Members {
    events: mpsc::UnboundedReceiver<(usize, Value)>,
    kills: Vec<Option<oneshot::Sender<()>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Members {
    pub fn new(scripts: Vec<Script>) -> Members {
        let (events_tx, events) = mpsc::unbounded_channel();
        let mut kills = Vec::new();
        let mut tasks = Vec::new();
        for (index, mut script) in scripts.into_iter().enumerate() {
            let (kill_tx, mut kill_rx) = oneshot::channel::<()>();
            let events_tx = events_tx.clone();
            kills.push(Some(kill_tx));
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = &mut kill_rx => {
                            script.kill().await;
                            return;
                        }
                        event = script.read_event() => match event {
                            Some(event) => {
                                let _ = events_tx.send((index, event));
                            }
                            None => return,
                        },
                    }
                }
            }));
        }
        Members {
            events,
            kills,
            tasks,
        }
    }

    /// Events until `stop` says so of one (given the member's index),
    /// within `timeout`; the last is the one `stop` chose.
    pub async fn read_until(
        &mut self,
        timeout: Duration,
        mut stop: impl FnMut(usize, &Value) -> bool,
    ) -> Vec<(usize, Value)> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let next = tokio::time::timeout_at(deadline, self.events.recv()).await;
            let (member, event) = match next {
                Ok(Some(tagged)) => tagged,
                Ok(None) => panic!("every member ended before the awaited event: {seen:?}"),
                Err(_) => panic!(
                    "the awaited event did not come within {timeout:?}; the last events: {:?}",
                    &seen[seen.len().saturating_sub(20)..]
                ),
            };
            let done = stop(member, &event);
            seen.push((member, event));
            if done {
                return seen;
            }
        }
    }

    /// SIGKILLs member `index`: a consumer that crashes, leaving its group
    /// without a word.
    pub async fn kill(&mut self, index: usize) {
        let kill = self.kills[index].take().expect("a member is killed once");
        let _ = kill.send(());
        // Its task ends once the process is reaped.
        let task = std::mem::replace(&mut self.tasks[index], tokio::spawn(async {}));
        tokio::time::timeout(CLIENT_TIMEOUT, task)
            .await
            .expect("a killed member is reaped in time")
            .expect("a member's task");
    }
}

impl Drop for Members {
    fn drop(&mut self) {
        // Each task owns its script, which kills its process when dropped.
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The events of `kind` among `events`.
pub fn events_of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// A number field of an event.
pub fn field_u64(event: &Value, name: &str) -> u64 {
    event[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no number {name:?} in {event}"))
}

/// `bytes` as the hex a script's `produce-hex` takes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a base64 field of an event (`None` for JSON null).
pub fn base64_field(event: &Value, name: &str) -> Option<Vec<u8>> {
    let text = event[name].as_str()?;
    Some(
        BASE64
            .decode(text)
            .unwrap_or_else(|e| panic!("{name:?} is not base64 in {event}: {e}")),
    )
}

/// Every record of `topic` as the HTTP API shows it (JSON objects with
/// `offset`, `key`, `value` or `value_b64`, `headers`, `timestamp_ms`),
/// read from node `id` page by page.
pub async fn http_records(cluster: &TestCluster, id: NodeId, topic: &str) -> Vec<Value> {
    let http = cluster.http();
    let mut records = Vec::new();
    let mut from = 0;
    for _ in 0..MAX_HTTP_PAGES {
        let url = format!(
            "{}/v1/topics/{topic}/records?from={from}&limit=1000",
            cluster.base_url(id)
        );
        let response = http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status();
        let page: Value = response.json().await.expect("a JSON page");
        assert_eq!(status, 200, "GET {url}: {page}");
        let next = page["next_offset"].as_u64().expect("next_offset");
        let end = page["end_offset"].as_u64().expect("end_offset");
        records.extend(page["records"].as_array().expect("records").iter().cloned());
        if next >= end {
            return records;
        }
        assert!(
            next > from,
            "a read of {topic} from {from} made no progress"
        );
        from = next;
    }
    panic!("{topic} did not end within {MAX_HTTP_PAGES} pages");
}

/// Appends `records` (the HTTP API's record objects) to `topic` through
/// node `id`; returns their offsets.
pub async fn http_append(
    cluster: &TestCluster,
    id: NodeId,
    topic: &str,
    records: Value,
) -> Vec<u64> {
    let url = format!("{}/v1/topics/{topic}/records", cluster.base_url(id));
    let response = cluster
        .http()
        .post(&url)
        .json(&serde_json::json!({ "records": records }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON answer");
    assert_eq!(status, 200, "POST {url}: {body}");
    body["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .map(|o| o.as_u64().expect("an offset"))
        .collect()
}

/// Wall-clock milliseconds since the epoch, as record timestamps count.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}
