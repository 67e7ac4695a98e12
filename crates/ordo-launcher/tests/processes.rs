//! The launcher's process handling, with small shell scripts standing in for
//! `ordo serve`: pid files, log files, graceful and forced stops, restarts
//! with the same arguments, early deaths reported, and no child outliving
//! the cluster.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ordo_launcher::{LauncherConfig, LauncherError, LocalCluster};

/// Writes an executable `sh` script standing in for the `ordo` binary.
fn fake_binary(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Starts a cluster of fake nodes. Another test's fork may briefly hold
/// a just-written script open for writing, and exec then fails with
/// ETXTBSY; that is a property of writing executables in a multi-threaded
/// test binary, not of the launcher, so it is retried here.
fn start(config: LauncherConfig) -> LocalCluster {
    for _ in 0..100 {
        match LocalCluster::start(config.clone()) {
            Err(LauncherError::Spawn { source, .. })
                if source.raw_os_error() == Some(libc::ETXTBSY) =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other.unwrap(),
        }
    }
    panic!("the fake binary stayed busy");
}

/// True if a process with this pid exists (signal 0 checks, sends nothing).
fn alive(pid: u32) -> bool {
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// Records its arguments in its data dir (argument 7), then sleeps.
const RECORD_ARGS_AND_SLEEP: &str =
    r#"printf '%s\n' "$*" >> "$7/args"; echo "node up"; exec sleep 60"#;

#[test]
fn nodes_get_pid_files_and_log_files_and_die_with_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let binary = fake_binary(dir.path(), "ordo", RECORD_ARGS_AND_SLEEP);
    let base = dir.path().join("cluster");
    let cluster = start(LauncherConfig::new(binary, 3, &base));

    let pids: Vec<u32> = cluster
        .ids()
        .into_iter()
        .map(|id| cluster.pid(id).unwrap().unwrap())
        .collect();
    for (id, pid) in (1..=3).zip(&pids) {
        let pid_file = std::fs::read_to_string(base.join(format!("n{id}.pid"))).unwrap();
        assert_eq!(pid_file.trim(), pid.to_string());
    }
    wait_until(|| {
        std::fs::read_to_string(base.join("n2.log")).is_ok_and(|l| l.contains("node up"))
    });
    let args = std::fs::read_to_string(base.join("n2/args")).unwrap();
    let peers = cluster
        .ids()
        .into_iter()
        .map(|id| format!("{id}={}", cluster.addr(id).unwrap()))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        args.trim(),
        format!(
            "serve --node-id 2 --listen {} --data-dir {} --peers {peers} --worker-threads {}",
            cluster.addr(2).unwrap(),
            base.join("n2").display(),
            // Each of the 3 nodes gets its share of this machine's cores.
            ordo_launcher::args::worker_threads_arg(ordo_launcher::args::machine_cores(), 3)[1]
                .to_string_lossy()
        )
    );

    drop(cluster);
    assert!(
        pids.iter().all(|&pid| !alive(pid)),
        "no node outlives the cluster"
    );
    assert!(
        !base.join("n1.pid").exists(),
        "pid files of reaped nodes are removed"
    );
}

#[tokio::test]
async fn stop_is_graceful_for_a_node_that_exits_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let binary = fake_binary(dir.path(), "ordo", "exec sleep 60");
    let mut cluster = start(LauncherConfig::new(binary, 1, dir.path()));

    let exit = cluster.stop(1).await.unwrap().expect("it was running");
    assert!(!exit.forced);
    assert!(!cluster.is_running(1).unwrap());
    assert_eq!(
        cluster.stop(1).await.unwrap(),
        None,
        "stopping twice is a no-op"
    );
}

#[tokio::test]
async fn stop_kills_a_node_that_ignores_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let binary = fake_binary(
        dir.path(),
        "ordo",
        "trap '' TERM\ntouch \"$7/deaf\"\nexec sleep 60",
    );
    let config = LauncherConfig {
        stop_grace: Duration::from_millis(300),
        ..LauncherConfig::new(binary, 2, dir.path())
    };
    let mut cluster = start(config);
    // SIGTERM must not arrive before the script has started ignoring it.
    for id in cluster.ids() {
        let marker = cluster.data_dir(id).unwrap().join("deaf");
        wait_until(|| marker.exists());
    }

    let exits = cluster.stop_all().await.unwrap();
    assert_eq!(exits.len(), 2);
    assert!(exits.iter().all(|(_, exit)| exit.forced));
}

#[tokio::test]
async fn restart_runs_the_same_command_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let binary = fake_binary(dir.path(), "ordo", RECORD_ARGS_AND_SLEEP);
    let mut cluster = start(LauncherConfig::new(binary, 2, dir.path()));
    let args_file = cluster.data_dir(2).unwrap().join("args");
    wait_until(|| std::fs::read_to_string(&args_file).is_ok_and(|a| a.lines().count() == 1));
    let first_pid = cluster.pid(2).unwrap().unwrap();

    assert!(cluster.kill(2).unwrap().is_some());
    assert_eq!(
        cluster.kill(2).unwrap(),
        None,
        "killing a dead node is a no-op"
    );
    assert!(!alive(first_pid));
    cluster.restart(2).await.unwrap();

    wait_until(|| std::fs::read_to_string(&args_file).is_ok_and(|a| a.lines().count() == 2));
    let runs: Vec<String> = std::fs::read_to_string(&args_file)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert_ne!(cluster.pid(2).unwrap(), Some(first_pid));
    assert!(matches!(
        cluster.start_node(2),
        Err(LauncherError::AlreadyRunning(2))
    ));
}

#[tokio::test]
async fn a_node_that_dies_at_start_is_reported_while_waiting_for_a_leader() {
    let dir = tempfile::tempdir().unwrap();
    let binary = fake_binary(dir.path(), "ordo", "echo 'address in use' >&2; exit 3");
    let mut cluster = start(LauncherConfig::new(binary, 3, dir.path()));

    let error = cluster
        .wait_for_leader(Duration::from_secs(10))
        .await
        .unwrap_err();
    match error {
        LauncherError::NodeExited { status, hint, .. } => {
            assert_eq!(status.code(), Some(3));
            assert!(hint.contains(".log"), "{hint}");
        }
        other => panic!("expected NodeExited, got {other}"),
    }
}

#[tokio::test]
async fn waiting_for_a_leader_gives_up_with_what_it_saw() {
    let dir = tempfile::tempdir().unwrap();
    let binary = fake_binary(dir.path(), "ordo", "exec sleep 60");
    let mut cluster = start(LauncherConfig::new(binary, 2, dir.path()));

    let error = cluster
        .wait_for_leader(Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LauncherError::NoLeader { last_seen, .. } if last_seen.contains("node 1")),
        "{error}"
    );
}

#[test]
fn a_missing_binary_and_bad_sizes_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-ordo");
    assert!(matches!(
        LocalCluster::start(LauncherConfig::new(&missing, 3, dir.path())),
        Err(LauncherError::Spawn { .. })
    ));
    assert!(matches!(
        LocalCluster::start(LauncherConfig::new(&missing, 0, dir.path())),
        Err(LauncherError::NodeCount(0))
    ));
    let config = LauncherConfig {
        ports: Some(vec![7001]),
        ..LauncherConfig::new(&missing, 3, dir.path())
    };
    assert!(matches!(
        LocalCluster::start(config),
        Err(LauncherError::PortCount { given: 1, nodes: 3 })
    ));
}

fn wait_until(mut condition: impl FnMut() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("condition not met within 5 s");
}
