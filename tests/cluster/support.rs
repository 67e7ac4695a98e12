//! The harness every cluster test shares: a 3-node cluster of real `ordo
//! serve` processes started by the one launcher in a temporary dir, bounded
//! waits, whole-log reads, the `ordo-leader` header, a seeded random source,
//! `/metrics` scrapes, and each node's log printed when a test fails. What ordo promises is
//! checked in the test files, not here.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use ordo_api::secret::Secret;
use ordo_api::{Consistency, ReadParams, LEADER_HEADER};
use ordo_client::{Client, ClientError};
use ordo_core::{NewRecord, NodeId, Offset, Record};
use ordo_launcher::{LauncherConfig, LocalCluster};
use tempfile::TempDir;
use tokio::time::Instant;

/// Nodes per test cluster: the smallest cluster that survives a crash.
pub const NODES: usize = 3;
/// How long a cluster gets to agree on a leader after a start or restart.
pub const LEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a node gets to catch up with the rest of the cluster.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause between two looks at something the test waits for.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Pages one whole-log read may take; the tests write far fewer records.
const MAX_PAGES: usize = 100;
/// Deadline for one raw HTTP exchange.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of each node's log printed when a test fails.
const LOG_TAIL_LINES: usize = 150;

/// A running 3-node cluster in its own temporary dir. Dropping it kills
/// every node; dropping it during a panic first prints each node's log.
pub struct TestCluster {
    pub nodes: LocalCluster,
    /// The leader every running node agreed on at the last wait.
    pub leader: NodeId,
    /// Declared after `nodes`, so it is deleted after the nodes are dead.
    dir: TempDir,
}

impl TestCluster {
    /// Starts three nodes from the `ordo` binary under test, on free ports,
    /// and waits until they agree on a leader.
    pub async fn start() -> TestCluster {
        TestCluster::start_with_env(&[]).await
    }

    /// As [`TestCluster::start`], with extra environment for every node
    /// (e.g. `ORDO_SNAPSHOT_EVERY_ENTRIES`).
    pub async fn start_with_env(env: &[(&str, &str)]) -> TestCluster {
        TestCluster::start_with_config(|config| {
            config
                .env
                .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        })
        .await
    }

    /// As [`TestCluster::start`], with the launcher's config changed by
    /// `configure` first (e.g. a cluster secret or an API token, which the
    /// launcher's own probes and clients then use too).
    pub async fn start_with_config(configure: impl FnOnce(&mut LauncherConfig)) -> TestCluster {
        let dir = tempfile::Builder::new()
            .prefix("ordo-cluster-")
            .tempdir()
            .expect("creating a temporary dir");
        let mut config = LauncherConfig::new(env!("CARGO_BIN_EXE_ordo"), NODES, dir.path());
        config.env = vec![
            // Plain logs, and a backtrace in them if a node ever panics.
            ("NO_COLOR".into(), "1".into()),
            ("RUST_BACKTRACE".into(), "1".into()),
        ];
        configure(&mut config);
        let nodes = LocalCluster::start(config).expect("starting the cluster's nodes");
        let mut cluster = TestCluster {
            nodes,
            leader: 0,
            dir,
        };
        cluster.wait_for_leader().await;
        cluster
    }

    /// Waits until every running node names the same running leader.
    pub async fn wait_for_leader(&mut self) -> NodeId {
        self.leader = self
            .nodes
            .wait_for_leader(LEADER_TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("the cluster agreed on no leader: {e}"));
        self.leader
    }

    pub fn ids(&self) -> Vec<NodeId> {
        self.nodes.ids()
    }

    /// Every node but the last agreed leader.
    pub fn followers(&self) -> Vec<NodeId> {
        self.ids()
            .into_iter()
            .filter(|&id| id != self.leader)
            .collect()
    }

    /// A client over every node that follows the leader and fails over.
    pub fn client(&self) -> Client {
        self.nodes.client().expect("a client for the cluster")
    }

    /// A client that talks to node `id` only (which forwards to the leader).
    pub fn client_for(&self, id: NodeId) -> Client {
        self.nodes
            .client_for(id)
            .unwrap_or_else(|e| panic!("a client for node {id}: {e}"))
    }

    /// `http://127.0.0.1:port` of node `id` (`https://` in a TLS
    /// cluster), for raw HTTP requests.
    pub fn base_url(&self, id: NodeId) -> String {
        self.nodes.url(id).expect("node ids come from the cluster")
    }

    /// A raw HTTP client for this cluster's nodes: [`http`], trusting the
    /// cluster's CA in a TLS cluster.
    pub fn http(&self) -> reqwest::Client {
        match self.tls_client_config() {
            Some(tls) => https(tls),
            None => http(),
        }
    }

    /// What a client needs to trust this cluster's nodes, in a TLS cluster.
    pub fn tls_client_config(&self) -> Option<ordo_tls::rustls::ClientConfig> {
        self.nodes
            .tls_client_config()
            .expect("the cluster's CA certificate is readable")
    }

    /// The launcher's certificates dir (`ca.crt`, `ca.key`, `node-N.crt`,
    /// `node-N.key`) in a TLS cluster.
    pub fn certs_dir(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// A client over every node that sends `token` (if any) and speaks TLS
    /// with `tls` (else, in a TLS cluster, with the cluster's CA only).
    pub fn client_as(
        &self,
        token: Option<&str>,
        tls: Option<ordo_tls::rustls::ClientConfig>,
    ) -> Client {
        let urls = self.ids().into_iter().map(|id| self.base_url(id)).collect();
        let token = token.map(|t| Secret::new(t).expect("a valid test token"));
        let mut builder = Client::builder(urls)
            .members(self.nodes.members())
            .api_token(token);
        if let Some(tls) = tls.or_else(|| self.tls_client_config()) {
            builder = builder.tls(tls);
        }
        builder.build().expect("a client for the cluster")
    }

    /// Starts one more node, with the next id, to join the cluster: it
    /// forms no cluster and waits to be added. Returns its id.
    pub fn start_joining_node(&mut self) -> NodeId {
        self.nodes
            .start_joining_node()
            .unwrap_or_else(|e| panic!("starting a joining node: {e}"))
    }

    /// SIGKILLs node `id`, which must be running.
    pub fn kill(&mut self, id: NodeId) {
        self.nodes
            .kill(id)
            .unwrap_or_else(|e| panic!("SIGKILLing node {id}: {e}"))
            .unwrap_or_else(|| panic!("node {id} was not running"));
    }

    /// Node `id`'s output so far.
    pub fn log(&self, id: NodeId) -> String {
        let path = self
            .nodes
            .log_path(id)
            .expect("node ids come from the cluster");
        std::fs::read(path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|e| format!("(could not read {}: {e})", path.display()))
    }

    fn print_logs(&self) {
        eprintln!("cluster dir: {}", self.dir.path().display());
        for id in self.ids() {
            let log = self.log(id);
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            eprintln!(
                "===== node {id}: last {} of {} log lines =====",
                tail.len(),
                lines.len()
            );
            for line in tail {
                eprintln!("[n{id}] {line}");
            }
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
    }
}

/// SIGKILLs node `id` and empties its data dir: a node that lost its disk.
pub fn crash_and_wipe(cluster: &mut TestCluster, id: NodeId) {
    cluster.kill(id);
    let data_dir = cluster.nodes.data_dir(id).expect("a data dir").to_owned();
    std::fs::remove_dir_all(&data_dir).expect("wiping the node's data dir");
    std::fs::create_dir_all(&data_dir).expect("recreating an empty data dir");
}

/// Starts node `id` again, waits for the cluster to agree on a leader and
/// for `id` to serve exactly the leader's log of `topic` (read locally on
/// the leader), and answers that log.
pub async fn restart_and_catch_up(
    cluster: &mut TestCluster,
    id: NodeId,
    topic: &str,
) -> Vec<Record> {
    cluster
        .nodes
        .start_node(id)
        .unwrap_or_else(|e| panic!("restarting node {id}: {e}"));
    let leader = cluster.wait_for_leader().await;
    let leaders_log = read_all(&cluster.client_for(leader), topic, Consistency::Local)
        .await
        .unwrap_or_else(|e| panic!("the leader's local read of {topic}: {e}"));
    wait_for_local_log(cluster, id, topic, &leaders_log).await;
    leaders_log
}

/// Resident memory of node `id`, in bytes, from /proc.
pub fn rss_bytes(cluster: &TestCluster, id: NodeId) -> u64 {
    let pid = cluster
        .nodes
        .pid(id)
        .expect("a node of the cluster")
        .expect("a running node");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status");
    kib * 1024
}

/// A plain HTTP client, for requests the ordo client would not send.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .build()
        .expect("an HTTP client")
}

/// A raw HTTPS client that speaks TLS with `tls`, for requests the ordo
/// client would not send to a TLS cluster.
pub fn https(tls: ordo_tls::rustls::ClientConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .use_preconfigured_tls(tls)
        .build()
        .expect("an HTTPS client")
}

/// The node id a response names in its `ordo-leader` header, if any.
pub fn leader_header(response: &reqwest::Response) -> Option<NodeId> {
    response
        .headers()
        .get(LEADER_HEADER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A record with only a value.
pub fn record(value: impl Into<serde_json::Value>) -> NewRecord {
    NewRecord {
        key: None,
        value: Into::<serde_json::Value>::into(value).into(),
        headers: Default::default(),
    }
}

/// Every record of `topic`, from offset 0 to the end, in pages as large as
/// the server allows.
pub async fn read_all(
    client: &Client,
    topic: &str,
    consistency: Consistency,
) -> Result<Vec<Record>, ClientError> {
    read_all_in_pages(client, topic, consistency, None).await
}

/// Every record of `topic`, from offset 0 to the end, `limit` at a time,
/// following each page's `next_offset`.
pub async fn read_all_in_pages(
    client: &Client,
    topic: &str,
    consistency: Consistency,
    limit: Option<usize>,
) -> Result<Vec<Record>, ClientError> {
    let mut records = Vec::new();
    let mut from = Offset(0);
    for _ in 0..MAX_PAGES {
        let params = ReadParams {
            from,
            limit,
            consistency,
        };
        let page = client.read(topic, &params).await?;
        let done = page.next_offset >= page.end_offset;
        assert!(
            done || page.next_offset > from,
            "a read of {topic} from {from} made no progress: {page:?}"
        );
        let next = page.next_offset;
        records.extend(page.records);
        if done {
            return Ok(records);
        }
        from = next;
    }
    panic!("{topic} did not end within {MAX_PAGES} pages");
}

/// The offsets `0..n`, for comparing with what a log or an append returned.
pub fn offsets(range: std::ops::Range<u64>) -> Vec<Offset> {
    range.map(Offset).collect()
}

/// Polls `probe` until it returns `Ok`, for at most `timeout`; panics with
/// `what` and the last `Err` it saw if it never does.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last_seen = match probe().await {
            Ok(value) => return value,
            Err(last_seen) => last_seen,
        };
        if Instant::now() + POLL_INTERVAL > deadline {
            panic!("{what}: not within {timeout:?}; last seen: {last_seen}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Waits until node `id`'s `local` read of `topic` is exactly `expected`.
pub async fn wait_for_local_log(
    cluster: &TestCluster,
    id: NodeId,
    topic: &str,
    expected: &[Record],
) {
    let client = cluster.client_for(id);
    eventually(
        &format!(
            "node {id} serves all {} records of {topic} locally",
            expected.len()
        ),
        CATCH_UP_TIMEOUT,
        || async {
            match read_all(&client, topic, Consistency::Local).await {
                Ok(records) if records == expected => Ok(()),
                Ok(records) => Err(format!(
                    "{} records, first difference at index {:?}",
                    records.len(),
                    records.iter().zip(expected).position(|(a, b)| a != b)
                )),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await
}

/// A small seeded random source (xorshift64*), so a failing run of a
/// randomized test can be repeated with `ORDO_TEST_SEED`.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `ORDO_TEST_SEED`, else from the clock; prints the seed.
    pub fn from_env_or_clock() -> Rng {
        let seed = std::env::var("ORDO_TEST_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("random seed {seed}; repeat with ORDO_TEST_SEED={seed}");
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// Every node is still running, never panicked, and answers `/healthz`.
pub async fn assert_all_healthy(cluster: &mut TestCluster) {
    let http = cluster.http();
    for id in cluster.ids() {
        assert!(
            cluster.nodes.is_running(id).expect("checking a node"),
            "node {id} died"
        );
        let health = http
            .get(format!("{}/healthz", cluster.base_url(id)))
            .send()
            .await
            .unwrap_or_else(|e| panic!("node {id} does not answer /healthz: {e}"));
        assert_eq!(health.status(), 200, "node {id}'s /healthz");
        assert!(
            !cluster.log(id).contains("panicked"),
            "node {id} panicked (see its log)"
        );
    }
}

/// Waits until `group`'s committed position in `topic` is `position`.
pub async fn wait_for_position(client: &Client, group: &str, topic: &str, position: Offset) {
    let what = format!("group {group} at position {position} in {topic}");
    eventually(&what, CATCH_UP_TIMEOUT, || async {
        match client
            .consumer_offset(group, topic, Consistency::Linearizable)
            .await
        {
            Ok(Some(found)) if found == position => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
}

/// One scrape: each sample line's series (`name{labels}`) and its value,
/// and the names that have a HELP line.
pub struct Scrape {
    samples: BTreeMap<String, f64>,
    described: Vec<String>,
    pub text: String,
}

impl Scrape {
    fn parse(text: String) -> Scrape {
        let mut samples = BTreeMap::new();
        let mut described = Vec::new();
        for line in text.lines() {
            if let Some(help) = line.strip_prefix("# HELP ") {
                described.extend(help.split(' ').next().map(str::to_owned));
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let (series, value) = line.rsplit_once(' ').expect("`series value`");
                let value = value.parse().unwrap_or_else(|_| panic!("{line:?}"));
                samples.insert(series.to_owned(), value);
            }
        }
        Scrape {
            samples,
            described,
            text,
        }
    }

    /// The value of one series, which must be there.
    pub fn value(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in\n{}", self.text))
    }

    /// The value of one series, if it is there.
    pub fn get(&self, series: &str) -> Option<f64> {
        self.samples.get(series).copied()
    }

    pub fn assert_described(&self, names: &[&str]) {
        for name in names {
            assert!(
                self.described.iter().any(|d| d == name),
                "no HELP line for {name} in\n{}",
                self.text
            );
        }
    }
}

/// Node `id`'s `/metrics` page.
pub async fn scrape(cluster: &TestCluster, id: NodeId) -> Scrape {
    let response = cluster
        .http()
        .get(format!("{}/metrics", cluster.base_url(id)))
        .send()
        .await
        .unwrap_or_else(|e| panic!("scraping node {id}: {e}"));
    assert_eq!(response.status(), 200, "scraping node {id}");
    Scrape::parse(response.text().await.expect("a metrics page"))
}
