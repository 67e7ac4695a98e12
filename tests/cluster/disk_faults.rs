//! Disk faults (DESIGN §4, issue 14): one node's data dir on a small tmpfs
//! this test mounts itself, filled by a load of large appends while
//! writers append small values through the cluster.
//!
//! - A follower's disk fills: it is unready within 2 s with the cause, the
//!   cluster serves throughout, the node exits with status 75 and, once the
//!   tmpfs is remounted larger, comes back ready with the leader's log.
//! - The leader's disk fills: a new leader takes over, the old one reports
//!   its failure, never `leader`, and comes back as a follower.
//! - With every node on a small disk and a free-space reserve, the first
//!   leader to fall below it hands leadership over; a leader below it
//!   refuses appends with 507 before any disk is full; deleting the topic
//!   that filled them still commits, and the cluster takes appends again,
//!   nothing restarted.
//!
//! The test is the nodes' supervisor: a node that exits with status 75 is
//! started again, as systemd or Docker would. Mounting needs root (or
//! CAP_SYS_ADMIN): where it cannot mount, each test says so and passes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ordo_api::{ClusterStatus, Consistency, ReadParams};
use ordo_client::Client;
use ordo_core::{NodeId, Offset};
use ordo_node::disk_space::volume_space;
use ordo_node::storage_fault::EXIT_STORAGE_FAILED;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::history::{assert_history_matches_log, spawn_writer, History, WriterBounds};
use crate::support::{http, read_all, record, TestCluster, POLL_INTERVAL};

/// The small disk: a few segments of [`SEGMENT_MB`] and sled's files.
const SMALL_DISK_MIB: u64 = 40;
/// The disk once space is given back.
const LARGE_DISK_MIB: u64 = 400;
const SEGMENT_MB: &str = "4";
/// How long a failed node waits before it exits (`ordo serve` default 10 s).
const EXIT_AFTER_MS: &str = "1500";
/// The most a node may take to say it is not ready once its disk failed.
const MAX_UNREADY_AFTER_FAILURE: Duration = Duration::from_secs(2);
/// How long a node given space gets to be ready and equal to the leader.
const MAX_RECOVERY: Duration = Duration::from_secs(30);
/// How long the load gets to fill the small disk.
const FILL_TIMEOUT: Duration = Duration::from_secs(90);
/// One fill append: this many records of this many bytes.
const FILL_RECORDS: usize = 50;
const FILL_VALUE_BYTES: usize = 4_000;
const WRITERS: usize = 2;
/// Small appends acknowledged after a node failed that show the others
/// serve.
const ACKS_WANTED: usize = 20;
/// ERROR lines a node whose disk filled may log, starts that fail on the
/// full disk included: openraft's own at the failure, ordo's one line,
/// its exit; the heartbeats and entries sent to it meanwhile log none.
const MAX_ERROR_LINES: usize = 30;
const BOUNDS: WriterBounds = WriterBounds {
    max_appends: 20_000,
    deadline: Duration::from_secs(240),
};

/// A tmpfs mounted by the test; unmounted (lazily: a node may still hold
/// files in it) and its mount point removed when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size_mib: u64) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        run_mount(&[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size_mib}m"),
            "tmpfs",
            &path.to_string_lossy(),
        ])?;
        Ok(Tmpfs {
            path: path.to_owned(),
        })
    }

    /// Gives the mounted tmpfs a new size, its files kept: what growing a
    /// volume and its file system is.
    fn resize(&self, size_mib: u64) {
        run_mount(&[
            "-o",
            &format!("remount,size={size_mib}m"),
            &self.path.to_string_lossy(),
        ])
        .unwrap_or_else(|e| panic!("resizing {}: {e}", self.path.display()));
    }

    fn free_bytes(&self) -> u64 {
        volume_space(&self.path).map_or(0, |space| space.free_bytes)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn run_mount(args: &[&str]) -> Result<(), String> {
    let output = Command::new("mount")
        .args(args)
        .output()
        .map_err(|e| format!("running mount: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// A 3-node cluster with the data dirs of `small` nodes on tmpfs's of
/// [`SMALL_DISK_MIB`], and `leader` leading; `None` (the test passes with a
/// message) where this process cannot mount a tmpfs.
struct SmallDiskCluster {
    cluster: TestCluster,
    /// The small disks, the first one's node's as [`SmallDiskCluster::small`].
    tmpfs: Vec<Tmpfs>,
    small: NodeId,
    /// Statuses of the nodes this test restarted, as they exited.
    exits: Vec<(NodeId, Option<i32>)>,
}

impl SmallDiskCluster {
    async fn start(small: &[NodeId], leader: NodeId, env: &[(&str, &str)]) -> Option<Self> {
        let probe = std::env::temp_dir().join(format!("ordo-tmpfs-probe-{}", std::process::id()));
        if let Err(e) = Tmpfs::mount(&probe, 1) {
            eprintln!(
                "skipped: this test cannot mount a tmpfs ({e}); it needs root or CAP_SYS_ADMIN"
            );
            return None;
        }
        let mut tmpfs = Vec::new();
        let mut cluster = TestCluster::start_with_config(|config| {
            config.env.extend(
                [
                    ("ORDO_SEGMENT_MB", SEGMENT_MB),
                    ("ORDO_STORAGE_FAILURE_EXIT_AFTER_MS", EXIT_AFTER_MS),
                ]
                .iter()
                .chain(env)
                .map(|(k, v)| (k.to_string(), v.to_string())),
            );
            for id in small {
                let path = config.base_dir.join(format!("n{id}"));
                tmpfs.push(
                    Tmpfs::mount(&path, SMALL_DISK_MIB)
                        .unwrap_or_else(|e| panic!("mounting node {id}'s tmpfs: {e}")),
                );
            }
        })
        .await;
        if cluster.leader != leader {
            cluster
                .client()
                .transfer_leader(Some(leader))
                .await
                .unwrap_or_else(|e| panic!("handing leadership to node {leader}: {e}"));
            assert_eq!(cluster.wait_for_leader().await, leader);
        }
        Some(SmallDiskCluster {
            cluster,
            tmpfs,
            small: small[0],
            exits: Vec::new(),
        })
    }

    /// Starts again every node that exited with status 75, as a supervisor
    /// does; any other exit fails the test.
    fn supervise(&mut self) {
        let exited = self
            .cluster
            .nodes
            .reap_exited()
            .unwrap_or_else(|e| panic!("looking for exited nodes: {e}"));
        for (id, status) in exited {
            self.exits.push((id, status.code()));
            assert_eq!(
                status.code(),
                Some(i32::from(EXIT_STORAGE_FAILED)),
                "node {id} exited with {status}, not the storage failure's status"
            );
            self.cluster
                .nodes
                .start_node(id)
                .unwrap_or_else(|e| panic!("starting node {id} again: {e}"));
        }
    }

    /// Polls `probe` (and supervises) until it returns `Ok`, for at most
    /// `timeout`.
    async fn until<T, F, Fut>(&mut self, what: &str, timeout: Duration, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            self.supervise();
            let last = match probe().await {
                Ok(value) => return value,
                Err(last) => last,
            };
            assert!(
                Instant::now() < deadline,
                "{what}: not within {timeout:?}; last seen: {last}"
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until node `small` has exited with the storage failure's
    /// status (and been started again) at least once.
    async fn wait_for_exit(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.exits.iter().any(|(id, _)| *id == self.small) {
            assert!(
                Instant::now() < deadline,
                "node {} did not exit within {timeout:?}",
                self.small
            );
            tokio::time::sleep(POLL_INTERVAL).await;
            self.supervise();
        }
    }

    /// Waits (and supervises) until [`ACKS_WANTED`] small appends sent
    /// after `since` were acknowledged.
    async fn wait_for_acks(&mut self, load: &Load, since: Instant, what: &str) {
        self.until(what, Duration::from_secs(20), || {
            let acked = load.acks_since(since);
            async move {
                match acked >= ACKS_WANTED {
                    true => Ok(()),
                    false => Err(format!("{acked} acknowledged")),
                }
            }
        })
        .await
    }

    fn url(&self, id: NodeId) -> String {
        self.cluster.base_url(id)
    }
}

/// A node's `/readyz`: its status code and body.
async fn readyz(url: &str) -> Result<(u16, String), String> {
    let response = http()
        .get(format!("{url}/readyz"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let code = response.status().as_u16();
    Ok((code, response.text().await.map_err(|e| e.to_string())?))
}

/// POSTs `body` to `topic`'s records on the node at `url`: the raw answer.
async fn post_records(url: &str, topic: &str, body: &Value) -> Result<reqwest::Response, String> {
    http()
        .post(format!("{url}/v1/topics/{topic}/records"))
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())
}

async fn status(url: &str) -> Result<ClusterStatus, String> {
    let response = http()
        .get(format!("{url}/v1/cluster"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    response.json().await.map_err(|e| e.to_string())
}

/// Appends of large values to `fill` through `client`, until `stop`; the
/// acknowledged ones' first offsets.
fn spawn_filler(client: Client, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Offset>> {
    tokio::spawn(async move {
        let padding = "x".repeat(FILL_VALUE_BYTES);
        let mut acked = Vec::new();
        let started = Instant::now();
        for n in 0.. {
            if stop.load(Ordering::Relaxed) || started.elapsed() > BOUNDS.deadline {
                break;
            }
            let records = (0..FILL_RECORDS)
                .map(|j| record(format!("f{n}-{j}-{padding}")))
                .collect();
            match client.append("fill", records).await {
                Ok(ack) => acked.push(ack.offsets[0]),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        acked
    })
}

/// Seconds since midnight UTC of a log line's timestamp
/// (`2026-12-06T10:27:16.940707Z …`), or of now.
fn seconds_of_day(line: Option<&str>) -> f64 {
    match line {
        Some(line) => {
            let time = line.get(11..26).unwrap_or_default();
            let part = |range: std::ops::Range<usize>| -> f64 {
                time.get(range).and_then(|s| s.parse().ok()).unwrap_or(0.0)
            };
            part(0..2) * 3600.0 + part(3..5) * 60.0 + part(6..15)
        }
        None => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            now.as_secs_f64() % 86_400.0
        }
    }
}

/// Waits for node `small`'s storage to fail under the fill, and checks
/// what it shows meanwhile: unready within 2 s of the first error it
/// logged, its status `failed` with the cause and no leader, its `/v1`
/// answers 503 with `Retry-After`.
async fn wait_for_failure(disk: &mut SmallDiskCluster) -> ClusterStatus {
    let url = disk.url(disk.small);
    let unready_seen = Arc::new(Mutex::new(None));
    let failed = disk
        .until(
            "the small disk fills and the node reports its storage failed",
            FILL_TIMEOUT,
            || {
                let url = url.clone();
                let unready_seen = unready_seen.clone();
                async move {
                    if let Ok((503, body)) = readyz(&url).await {
                        if body.contains("storage failed") {
                            unready_seen
                                .lock()
                                .unwrap()
                                .get_or_insert(seconds_of_day(None));
                        }
                    }
                    match status(&url).await {
                        Ok(status) if status.storage.failure.is_some() => Ok(status),
                        Ok(status) => Err(format!("role {}, {}", status.role, status.health)),
                        Err(e) => Err(e),
                    }
                }
            },
        )
        .await;
    let cause = failed.storage.failure.clone().unwrap_or_default();
    assert!(cause.contains("No space left on device"), "{cause}");
    assert_eq!(failed.role, "failed");
    assert_eq!(failed.leader, None);
    assert!(!failed.ready);
    assert!(
        failed.health.starts_with("storage failed: "),
        "{}",
        failed.health
    );

    // Within the grace period the node answers, and refuses.
    let refused = post_records(
        &url,
        "t",
        &json!({"records": [{"value": "to a failed node"}]}),
    )
    .await
    .expect("the failed node answers within its grace period");
    assert_eq!(refused.status().as_u16(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.expect("a JSON error");
    assert_eq!(body["error"]["code"], "storage_failed");

    let (code, _) = readyz(&url).await.expect("readyz answers");
    assert_eq!(code, 503);
    let seen = unready_seen
        .lock()
        .unwrap()
        .unwrap_or_else(|| seconds_of_day(None));
    let log = disk.cluster.log(disk.small);
    let first_error = log.lines().find(|line| line.contains(" ERROR "));
    let after = (seen - seconds_of_day(first_error)).rem_euclid(86_400.0);
    assert!(
        after <= MAX_UNREADY_AFTER_FAILURE.as_secs_f64(),
        "unready {after:.2} s after its first error ({first_error:?})"
    );
    failed
}

/// Gives the small disk space and waits until its node is ready, not
/// failed, and serves the leader's logs of `t` and `fill`.
async fn give_space_and_catch_up(disk: &mut SmallDiskCluster) -> ClusterStatus {
    disk.tmpfs[0].resize(LARGE_DISK_MIB);
    let given_at = Instant::now();
    let small = disk.small;
    let url = disk.url(small);
    let others: Vec<String> = disk
        .cluster
        .ids()
        .into_iter()
        .filter(|&id| id != small)
        .map(|id| disk.url(id))
        .collect();
    let small_client = disk.cluster.client_for(small);
    let status = disk
        .until(
            "the node given space is ready and equal to the leader",
            MAX_RECOVERY,
            || {
                let (url, others, client) = (url.clone(), others.clone(), small_client.clone());
                async move {
                    let (code, body) = readyz(&url).await?;
                    if code != 200 {
                        return Err(format!("readyz {code}: {body}"));
                    }
                    let mine = status(&url).await?;
                    let leader = mine.leader.ok_or("no leader known")?;
                    let leader_url = others
                        .iter()
                        .find(|u| u.ends_with(&leader_port(&mine, leader)))
                        .ok_or("the leader is not one of the others")?;
                    let leaders = status(leader_url).await?;
                    if mine.last_applied_index < leaders.commit_index {
                        return Err(format!(
                            "applied {:?} of the leader's {:?}",
                            mine.last_applied_index, leaders.commit_index
                        ));
                    }
                    let end = |client: Client| async move {
                        let page = client
                            .read(
                                "fill",
                                &ReadParams {
                                    from: Offset(0),
                                    limit: Some(1),
                                    consistency: Consistency::Local,
                                },
                            )
                            .await
                            .map_err(|e| e.to_string())?;
                        Ok::<_, String>(page.end_offset)
                    };
                    let leader_client =
                        Client::new(vec![leader_url.clone()]).map_err(|e| e.to_string())?;
                    let (mine_end, leaders_end) = (end(client).await?, end(leader_client).await?);
                    if mine_end != leaders_end {
                        return Err(format!(
                            "fill ends at {mine_end} here, {leaders_end} on the leader"
                        ));
                    }
                    Ok(mine)
                }
            },
        )
        .await;
    eprintln!(
        "node {small} ready and caught up {:.1} s after it was given space",
        given_at.elapsed().as_secs_f64()
    );
    assert!(status.storage.failure.is_none());
    status
}

/// The `:port` of member `id` in `status`.
fn leader_port(status: &ClusterStatus, id: NodeId) -> String {
    status
        .members
        .iter()
        .find(|m| m.id == id)
        .map(|m| format!(":{}", m.addr.rsplit(':').next().unwrap_or_default()))
        .unwrap_or_default()
}

/// Writers of small values through every node, and the fill through `via`.
struct Load {
    history: History,
    stop_writers: Arc<AtomicBool>,
    writers: Vec<JoinHandle<()>>,
    stop_fill: Arc<AtomicBool>,
    filler: JoinHandle<Vec<Offset>>,
}

impl Load {
    fn start(cluster: &TestCluster, fill_via: Client) -> Load {
        let history = History::default();
        let stop_writers = Arc::new(AtomicBool::new(false));
        let writers = (0..WRITERS)
            .map(|w| {
                spawn_writer(
                    w,
                    "t",
                    cluster.client(),
                    history.clone(),
                    stop_writers.clone(),
                    BOUNDS,
                )
            })
            .collect();
        let stop_fill = Arc::new(AtomicBool::new(false));
        let filler = spawn_filler(fill_via, stop_fill.clone());
        Load {
            history,
            stop_writers,
            writers,
            stop_fill,
            filler,
        }
    }

    /// Acknowledged small appends sent after `since`.
    fn acks_since(&self, since: Instant) -> usize {
        self.history.acks_sent_after(since).len()
    }

    /// Stops everything; checks the history of `t` against the leader's
    /// log and that every acknowledged fill is below the end of `fill`.
    async fn stop_and_check(self, cluster: &mut TestCluster) {
        self.stop_fill.store(true, Ordering::Relaxed);
        self.stop_writers.store(true, Ordering::Relaxed);
        let fills = self.filler.await.expect("the filler ran");
        for writer in self.writers {
            writer.await.expect("a writer ran");
        }
        let leader = cluster.wait_for_leader().await;
        let client = cluster.client_for(leader);
        let log = read_all(&client, "t", Consistency::Linearizable)
            .await
            .expect("the leader's log of t");
        assert_history_matches_log(&self.history.attempts(), &log);
        let end = client
            .read(
                "fill",
                &ReadParams {
                    from: Offset(0),
                    limit: Some(1),
                    consistency: Consistency::Linearizable,
                },
            )
            .await
            .expect("the end of fill")
            .end_offset;
        assert!(!fills.is_empty(), "no fill append was acknowledged");
        for first in &fills {
            assert!(
                first.0 + FILL_RECORDS as u64 <= end.0,
                "fill at {first} past the end {end}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_whose_disk_fills_gets_out_of_the_way_and_comes_back_whole() {
    let Some(mut disk) = SmallDiskCluster::start(&[3], 1, &[("ORDO_MIN_FREE_BYTES", "0")]).await
    else {
        return;
    };
    let load = Load::start(&disk.cluster, disk.cluster.client_for(1));
    wait_for_failure(&mut disk).await;
    let failed_at = Instant::now();
    // The others serve throughout.
    disk.wait_for_acks(
        &load,
        failed_at,
        "appends are acknowledged while the follower is out",
    )
    .await;
    // Out after its grace period, with the storage failure's status; its
    // restarts fail while the disk is still full.
    disk.wait_for_exit(Duration::from_secs(20)).await;
    load.stop_fill.store(true, Ordering::Relaxed);
    give_space_and_catch_up(&mut disk).await;
    // Said once per failure (and per start that fails), never a flood:
    // each message the leader sent the stopped core was an ERROR line.
    let log = disk.cluster.log(3);
    let errors = log.lines().filter(|line| line.contains(" ERROR ")).count();
    assert!(errors <= MAX_ERROR_LINES, "{errors} ERROR lines:\n{log}");
    load.stop_and_check(&mut disk.cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_disk_fills_hands_over_and_comes_back_as_a_follower() {
    let Some(mut disk) = SmallDiskCluster::start(&[1], 1, &[("ORDO_MIN_FREE_BYTES", "0")]).await
    else {
        return;
    };
    let load = Load::start(&disk.cluster, disk.cluster.client());
    wait_for_failure(&mut disk).await;
    let failed_at = Instant::now();
    // Another node leads, and the writers' appends go on through it.
    let others: Vec<String> = [2, 3].iter().map(|&id| disk.url(id)).collect();
    let new_leader = disk
        .until("another node leads", Duration::from_secs(20), || {
            let others = others.clone();
            async move {
                for url in &others {
                    if let Ok(status) = status(url).await {
                        if let Some(leader) = status.leader.filter(|&l| l != 1 && status.ready) {
                            return Ok(leader);
                        }
                    }
                }
                Err("no ready node names a new leader".to_string())
            }
        })
        .await;
    disk.wait_for_acks(
        &load,
        failed_at,
        "appends are acknowledged under the new leader",
    )
    .await;
    // The old leader never names itself leader again while it is failed.
    let old = status(&disk.url(1)).await;
    if let Ok(old) = old {
        assert_ne!(old.role, "leader");
        assert_ne!(old.leader, Some(1));
    }
    disk.wait_for_exit(Duration::from_secs(20)).await;
    load.stop_fill.store(true, Ordering::Relaxed);
    let back = give_space_and_catch_up(&mut disk).await;
    assert_eq!(back.role, "follower", "node 1 came back as {back:?}");
    assert_eq!(back.leader, Some(new_leader));
    load.stop_and_check(&mut disk.cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reserve_refuses_appends_with_507_before_the_disk_is_full() {
    const RESERVE: u64 = 12 << 20;
    let reserve = RESERVE.to_string();
    let Some(mut disk) =
        SmallDiskCluster::start(&[1, 2, 3], 1, &[("ORDO_MIN_FREE_BYTES", reserve.as_str())]).await
    else {
        return;
    };
    let urls: Vec<String> = disk
        .cluster
        .ids()
        .into_iter()
        .map(|id| disk.url(id))
        .collect();
    let url = disk.url(1);
    let padding = "x".repeat(FILL_VALUE_BYTES);
    let records: Vec<Value> = (0..FILL_RECORDS)
        .map(|j| json!({"value": format!("{j}-{padding}")}))
        .collect();
    let body = json!({ "records": records });
    let refusal = disk
        .until(
            "a leader below its reserve refuses an append with 507",
            FILL_TIMEOUT,
            || {
                let (url, body) = (url.clone(), body.clone());
                async move {
                    let response = post_records(&url, "fill", &body).await?;
                    match response.status().as_u16() {
                        507 => response.json::<Value>().await.map_err(|e| e.to_string()),
                        200 => Err("appended".to_string()),
                        other => Err(format!("answered {other}")),
                    }
                }
            },
        )
        .await;
    assert_eq!(
        refusal["error"]["code"], "insufficient_storage",
        "{refusal}"
    );
    let free = refusal["error"]["current"]["free_bytes"]
        .as_u64()
        .expect("free_bytes");
    assert_eq!(refusal["error"]["current"]["reserve_bytes"], RESERVE);
    assert!(free < RESERVE, "{refusal}");
    // Refused before any disk is full, and without a storage failure: the
    // leader that refused is below its reserve, unready, and says why.
    for tmpfs in &disk.tmpfs {
        let free = tmpfs.free_bytes();
        assert!(
            free > RESERVE / 2,
            "{} has {free} bytes free",
            tmpfs.path.display()
        );
    }
    let mut refused_by = None;
    for (id, url) in disk.cluster.ids().into_iter().zip(&urls) {
        let node = status(url).await.expect("the status");
        assert!(node.storage.failure.is_none(), "{:?}", node.storage);
        assert_eq!(node.storage.reserve_bytes, Some(RESERVE));
        if node.role == "leader" {
            assert!(node.storage.below_reserve, "{:?}", node.storage);
            let (code, why) = readyz(url).await.expect("readyz");
            assert_eq!(code, 503);
            assert!(why.contains("disk space low"), "{why}");
            refused_by = Some(id);
        }
    }
    let leader = refused_by.expect("a leader below its reserve");
    let metrics = crate::support::scrape(&disk.cluster, leader).await;
    assert_eq!(metrics.value("ordo_disk_below_reserve"), 1.0);
    assert_eq!(metrics.value("ordo_disk_reserve_bytes"), RESERVE as f64);
    // Node 1, the first leader, begins handing leadership over once its
    // watch sees it below (to another node that may be as full).
    let log_1 = disk
        .cluster
        .nodes
        .log_path(1)
        .expect("node 1's log")
        .to_owned();
    disk.until(
        "node 1 tries to hand leadership over",
        Duration::from_secs(5),
        || {
            let log = std::fs::read_to_string(&log_1).unwrap_or_default();
            async move {
                match log.contains("handing over leadership") {
                    true => Ok(()),
                    false => Err("not in its log".to_string()),
                }
            }
        },
    )
    .await;

    // Deleting the topic that filled the disks still commits (deletes free
    // space) and gives the space back: appends are taken again, nothing
    // restarted and no disk grown.
    let client = disk.cluster.client();
    disk.until("the full topic is deleted", Duration::from_secs(20), || {
        let client = client.clone();
        async move { client.delete_topic("fill").await.map_err(|e| e.to_string()) }
    })
    .await;
    disk.until(
        "the cluster takes appends again",
        Duration::from_secs(20),
        || {
            let (url, body) = (url.clone(), body.clone());
            async move {
                match post_records(&url, "after", &body).await?.status().as_u16() {
                    200 => Ok(()),
                    other => Err(format!("answered {other}")),
                }
            }
        },
    )
    .await;
    assert!(disk.exits.is_empty(), "{:?}", disk.exits);
    for url in &urls {
        disk.until("every node is ready again", Duration::from_secs(20), || {
            let url = url.clone();
            async move {
                match readyz(&url).await? {
                    (200, _) => Ok(()),
                    (code, why) => Err(format!("{code}: {why}")),
                }
            }
        })
        .await;
    }
}
