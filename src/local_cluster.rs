//! `ordo local-cluster` (what `make cluster` runs): a local cluster of
//! `ordo serve` processes in the foreground, through the one launcher
//! (`ordo_launcher`). It waits for a leader, shows a first append and read,
//! prints how to use the cluster (its nodes, the console at `/ui`, commands
//! to try), and on Ctrl-C or SIGTERM stops every node gracefully. Run again
//! on the same data dir, the cluster re-forms from it.
//!
//! A node that dies (or is killed to try a failure) is reported with the
//! command that starts it again on its own, `ordo local-cluster --node N`
//! (`make node N=2`), which runs that one node in the foreground with the
//! same port, data dir and peers; the cluster keeps running meanwhile, even
//! with every node down.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail};
use ordo_api::{Consistency, ReadParams};
use ordo_core::NewRecord;
use ordo_core::NodeId;
use ordo_launcher::args::{machine_cores, node_specs, peers_arg, serve_args, worker_threads_arg};
use ordo_launcher::config::{ca_file, tls_settings};
use ordo_launcher::{KafkaListeners, LauncherConfig, LocalCluster, NodeOutput};
use ordo_node::storage_fault::EXIT_STORAGE_FAILED;

// The CLI's default `--addr`: examples omit `--addr` when node 1 has it.
use crate::connect::DEFAULT_ADDR;
use crate::output::{outln, print};
use crate::secrets::{self, SecretSetting, API_TOKEN_ENV, CLUSTER_SECRET_ENV};
use serde_json::Value;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The topic and value of the first append, the "it works" moment.
const DEMO_TOPIC: &str = "demo";
const DEMO_VALUE: &str = "hello, ordo";
/// How often the foreground loop checks that the nodes are still up.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// What `make cluster` passes; `make node N=…` is offered only then.
const MAKE_DEFAULTS: (usize, u16, &str) = (3, 7001, "./data");
/// Node 1's Kafka listener, the port Kafka clients try first.
const DEFAULT_KAFKA_BASE_PORT: u16 = 9092;

#[derive(clap::Args, Debug)]
pub struct LocalClusterArgs {
    /// How many nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Node 1 listens here, node 2 on the next port, and so on.
    #[arg(long, default_value_t = 7001)]
    pub base_port: u16,
    /// Node 1's Kafka listener (`ordo serve --kafka-listen`) listens here,
    /// node 2's on the next port, and so on; 0: no Kafka listeners.
    #[arg(long, default_value_t = DEFAULT_KAFKA_BASE_PORT)]
    pub kafka_base_port: u16,
    /// Holds each node's data dir (n1/, n2/, …) and pid file.
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Write each node's output to DATA_DIR/n{id}.log instead of this
    /// terminal (where each line is prefixed with [n{id}]).
    #[arg(long)]
    pub log_files: bool,
    /// How long the nodes get to elect a leader, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub leader_timeout_ms: u64,
    /// Start every node with the cluster secret in this file (or set
    /// ORDO_CLUSTER_SECRET): /raft/* then requires it.
    #[arg(long, env = "ORDO_CLUSTER_SECRET_FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// Start every node with the API token in this file (or set
    /// ORDO_API_TOKEN): /v1/* then requires it, and so does the CLI.
    #[arg(long, env = "ORDO_API_TOKEN_FILE")]
    pub api_token_file: Option<PathBuf>,
    /// Every node serves HTTPS (clients and peers alike) with certificates
    /// made under DATA_DIR/certs: a development CA, kept across launches,
    /// and one certificate per node (`make cluster TLS=1`).
    #[arg(long)]
    pub tls: bool,
    /// Start only node ID of this cluster, in the foreground, with its port,
    /// data dir and peers: brings back one node of a running local cluster
    /// that was stopped or killed (`make node N=ID`).
    #[arg(long, value_name = "ID")]
    pub node: Option<NodeId>,
}

pub async fn run(args: LocalClusterArgs) -> anyhow::Result<()> {
    if let Some(id) = args.node {
        return run_one_node(&args, id);
    }
    // Handlers first: from here on, Ctrl-C and SIGTERM stop the nodes
    // instead of killing this process and orphaning them.
    let mut shutdown = Shutdown::listen()?;
    let ports = ports(args.base_port, args.nodes)?;
    let kafka = match kafka_ports(&args)? {
        Some(ports) => KafkaListeners::Ports(ports),
        None => KafkaListeners::Off,
    };
    let binary =
        std::env::current_exe().map_err(|e| anyhow!("finding the ordo executable: {e}"))?;
    let output = if args.log_files {
        NodeOutput::LogFiles
    } else {
        NodeOutput::Prefixed
    };
    let config = LauncherConfig {
        ports: Some(ports.clone()),
        output,
        cluster_secret: SecretSetting {
            flag: "--cluster-secret-file",
            env: CLUSTER_SECRET_ENV,
            file: args.cluster_secret_file.as_deref(),
            value: secrets::from_env(CLUSTER_SECRET_ENV)?,
            config_file: None,
        }
        .resolve()?,
        api_token: SecretSetting {
            flag: "--api-token-file",
            env: API_TOKEN_ENV,
            file: args.api_token_file.as_deref(),
            value: secrets::from_env(API_TOKEN_ENV)?,
            config_file: None,
        }
        .resolve()?,
        tls: args.tls,
        kafka,
        ..LauncherConfig::new(&binary, args.nodes, &args.data_dir)
    };
    let protected = config.api_token.is_some();
    outln!(
        "starting {} ordo nodes on 127.0.0.1:{}-{} (data in {}{})",
        args.nodes,
        ports[0],
        ports[ports.len() - 1],
        args.data_dir.display(),
        if args.log_files {
            ", node logs in n{id}.log there"
        } else {
            ""
        },
    )?;
    let mut cluster = LocalCluster::start(config).map_err(|e| one_line(&e))?;

    let timeout = Duration::from_millis(args.leader_timeout_ms);
    let waited = tokio::select! {
        result = cluster.wait_for_leader(timeout) => Some(result),
        signal = shutdown.next() => { outln!("{signal}: stopping before a leader was elected")?; None }
    };
    let leader = match waited {
        None => return stop(&mut cluster).await,
        Some(Ok(leader)) => leader,
        Some(Err(error)) => {
            let _ = cluster.stop_all().await;
            bail!("the cluster did not form: {}", one_line(&error));
        }
    };
    outln!("cluster is up: node {leader} leads")?;

    if let Err(error) = first_append_and_read(&cluster).await {
        let _ = cluster.stop_all().await;
        return Err(error);
    }
    print(&usage(&cluster, &binary, &args))?;
    if protected {
        outln!("the API requires the token: export {API_TOKEN_ENV} for the CLI, and add -H \"Authorization: Bearer $TOKEN\" to curl")?;
    }

    let mut watch = tokio::time::interval(WATCH_INTERVAL);
    let mut all_down_said = false;
    loop {
        tokio::select! {
            signal = shutdown.next() => {
                outln!("{signal}: stopping the nodes this command started")?;
                return stop(&mut cluster).await;
            }
            _ = watch.tick() => {
                let exited = cluster.reap_exited().map_err(|e| one_line(&e))?;
                let any_running = cluster.ids().into_iter().any(|id| matches!(cluster.is_running(id), Ok(true)));
                for (id, status) in exited {
                    // A node whose storage failed asks to be started again
                    // (`ordo_node::storage_fault`): this command is its
                    // supervisor, checking once a WATCH_INTERVAL.
                    if status.code() == Some(EXIT_STORAGE_FAILED.into()) {
                        eprintln!("node {id} exited ({status}): its storage failed; starting it again");
                        cluster.start_node(id).map_err(|e| one_line(&e))?;
                        continue;
                    }
                    let others = if any_running { "; the others keep running" } else { "" };
                    eprintln!(
                        "node {id} exited ({status}){others}. Start it again from another terminal: {}",
                        restart_hint(&binary, &args, id)
                    );
                }
                if !any_running && !all_down_said {
                    all_down_said = true;
                    eprintln!("every node this command started has exited; start them again as above, or press Ctrl-C to leave");
                }
                all_down_said &= !any_running;
            }
        }
    }
}

/// `ordo local-cluster --node ID`: this cluster's node ID alone, in the
/// foreground. The process becomes `ordo serve` with the arguments the
/// launcher gives that node, so signals and the exit status are the node's.
fn run_one_node(args: &LocalClusterArgs, id: NodeId) -> anyhow::Result<()> {
    let ports = ports(args.base_port, args.nodes)?;
    let kafka_ports = kafka_ports(args)?;
    let specs = node_specs(&args.data_dir, &ports, kafka_ports.as_deref());
    let spec = specs
        .iter()
        .find(|spec| spec.id == id)
        .ok_or_else(|| anyhow!("--node {id}: this cluster's nodes are 1-{}", args.nodes))?;
    let mut serve = serve_args(spec, &peers_arg(&specs));
    serve.extend(worker_threads_arg(machine_cores(), args.nodes));
    if let Some(file) = &args.cluster_secret_file {
        serve.extend([
            "--cluster-secret-file".into(),
            file.clone().into_os_string(),
        ]);
    }
    if let Some(file) = &args.api_token_file {
        serve.extend(["--api-token-file".into(), file.clone().into_os_string()]);
    }
    if args.tls {
        // The certificates the whole cluster was started with.
        for (flag, _, file) in tls_settings(&args.data_dir, id) {
            serve.extend([flag.into(), file.into_os_string()]);
        }
    }
    let binary =
        std::env::current_exe().map_err(|e| anyhow!("finding the ordo executable: {e}"))?;
    eprintln!(
        "starting node {id} of the local cluster on {} (data in {}); Ctrl-C stops it",
        spec.addr,
        spec.data_dir.display()
    );
    use std::os::unix::process::CommandExt;
    let error = std::process::Command::new(&binary).args(serve).exec();
    bail!("starting {}: {error}", binary.display())
}

/// How to start node `id` of this cluster again: `make node N=2` for the
/// cluster `make cluster` runs, the `ordo local-cluster --node` command
/// otherwise.
fn restart_hint(binary: &Path, args: &LocalClusterArgs, id: NodeId) -> String {
    let is_make_cluster = (args.nodes, args.base_port, args.data_dir.as_path())
        == (MAKE_DEFAULTS.0, MAKE_DEFAULTS.1, Path::new(MAKE_DEFAULTS.2));
    let tls = if args.tls { " --tls" } else { "" };
    let kafka = match args.kafka_base_port {
        DEFAULT_KAFKA_BASE_PORT => String::new(),
        port => format!(" --kafka-base-port {port}"),
    };
    let command = format!(
        "{} local-cluster --nodes {} --base-port {} --data-dir {} --node {id}{tls}{kafka}",
        display_binary(binary),
        args.nodes,
        args.base_port,
        args.data_dir.display()
    );
    let make_tls = if args.tls { " TLS=1" } else { "" };
    match is_make_cluster && kafka.is_empty() {
        true => format!("make node N={id}{make_tls} (or {command})"),
        false => command,
    }
}

/// Ports `base..base+nodes`, or a clear error if they run past 65535.
fn ports(base_port: u16, nodes: usize) -> anyhow::Result<Vec<u16>> {
    (0..nodes)
        .map(|i| {
            u16::try_from(i)
                .ok()
                .and_then(|i| base_port.checked_add(i))
                .ok_or_else(|| anyhow!("{nodes} nodes from port {base_port} run past port 65535"))
        })
        .collect()
}

/// The Kafka listeners' ports from `--kafka-base-port`, `None` if it is 0.
fn kafka_ports(args: &LocalClusterArgs) -> anyhow::Result<Option<Vec<u16>>> {
    match args.kafka_base_port {
        0 => Ok(None),
        base => ports(base, args.nodes).map(Some),
    }
}

async fn first_append_and_read(cluster: &LocalCluster) -> anyhow::Result<()> {
    let client = cluster.client().map_err(|e| one_line(&e))?;
    let record = NewRecord {
        key: None,
        value: Value::String(DEMO_VALUE.into()).into(),
        headers: Default::default(),
    };
    let appended = client
        .append(DEMO_TOPIC, vec![record])
        .await
        .map_err(|e| anyhow!("first append: {e}"))?;
    let offset = *appended
        .offsets
        .first()
        .ok_or_else(|| anyhow!("the first append returned no offset"))?;
    outln!(
        "appended {DEMO_VALUE:?} to topic {DEMO_TOPIC} at offset {offset} (log index {})",
        appended.log_index
    )?;
    let params = ReadParams {
        from: offset,
        limit: Some(1),
        consistency: Consistency::Linearizable,
    };
    let page = client
        .read(DEMO_TOPIC, &params)
        .await
        .map_err(|e| anyhow!("first read: {e}"))?;
    let record = page
        .records
        .first()
        .ok_or_else(|| anyhow!("reading offset {offset} back returned nothing"))?;
    outln!("read back: offset {}: {}", record.offset, record.value)
}

/// How to use the running cluster, with its real addresses.
fn usage(cluster: &LocalCluster, binary: &Path, args: &LocalClusterArgs) -> String {
    let addrs = cluster.addrs();
    let first = &addrs[0];
    let last = &addrs[addrs.len() - 1];
    let ordo = display_binary(binary);
    let (scheme, curl, addr_flag) = if args.tls {
        // The CLI and curl need the development CA, and https addresses.
        let ca = ca_file(&args.data_dir);
        let urls: Vec<String> = addrs.iter().map(|addr| format!("https://{addr}")).collect();
        let flags = format!(" --addr {} --ca {}", urls.join(","), ca.display());
        ("https", format!("curl -s --cacert {}", ca.display()), flags)
    } else if first == DEFAULT_ADDR {
        ("http", "curl -s".to_string(), String::new())
    } else {
        // Any node accepts any request; listing them all adds failover.
        (
            "http",
            "curl -s".to_string(),
            format!(" --addr {}", addrs.join(",")),
        )
    };
    let mut text = String::from("\nnodes:\n");
    for (id, addr) in cluster.members() {
        text.push_str(&format!("  node {id}  {scheme}://{addr}\n"));
    }
    // Every node serves it; the first is as good as any.
    text.push_str(&format!("console: {scheme}://{first}/ui\n"));
    let kafka = cluster.kafka_bootstrap();
    if let Some(bootstrap) = &kafka {
        text.push_str(&format!("kafka: {bootstrap}\n"));
    }
    text.push_str(&format!(
        "\ntry it:\n\
         \x20 {curl} -X POST {scheme}://{first}/v1/topics/{DEMO_TOPIC}/records -H 'content-type: application/json' -d '{{\"records\":[{{\"value\":\"hi\"}}]}}'\n\
         \x20 {curl} '{scheme}://{last}/v1/topics/{DEMO_TOPIC}/records?from=0'\n\
         \x20 {curl} {scheme}://{last}/v1/cluster\n\
         \x20 {ordo} append {DEMO_TOPIC} 'hello again'{addr_flag}\n\
         \x20 seq 1 1000 | {ordo} append numbers{addr_flag}\n\
         \x20 {ordo} read {DEMO_TOPIC} --from 0{addr_flag}\n\
         \x20 {ordo} cluster status{addr_flag}\n\
         {kafka_try}\
         \nto try a failure, kill a node (kill $(cat {data_dir}/n2.pid)); start it again with {restart}\n\
         Ctrl-C stops all {} nodes; the data stays in {data_dir} and the cluster re-forms from it next time.\n",
        addrs.len(),
        kafka_try = kafka.as_deref().map_or(String::new(), |bootstrap| kafka_usage(bootstrap, args)),
        data_dir = args.data_dir.display(),
        restart = restart_hint(binary, args, 2),
    ));
    text
}

/// The kcat lines of the usage, against this cluster's Kafka listeners
/// (over TLS with the development CA when the nodes serve TLS).
fn kafka_usage(bootstrap: &str, args: &LocalClusterArgs) -> String {
    let tls = if args.tls {
        format!(
            " -X security.protocol=ssl -X ssl.ca.location={}",
            ca_file(&args.data_dir).display()
        )
    } else {
        String::new()
    };
    format!(
        "\x20 seq 1 10000 | kcat -P -b {bootstrap} -t nums{tls}\n\
         \x20 kcat -C -b {bootstrap} -t nums -o beginning -e{tls}\n\
         \x20 kcat -L -b {bootstrap}{tls}\n"
    )
}

/// The executable as the user can type it: relative to the current
/// directory when it lies below it.
fn display_binary(binary: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| binary.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .map(|relative| format!("./{}", relative.display()))
        .unwrap_or_else(|| binary.display().to_string())
}

async fn stop(cluster: &mut LocalCluster) -> anyhow::Result<()> {
    for (id, exit) in cluster.stop_all().await.map_err(|e| one_line(&e))? {
        if exit.forced {
            eprintln!("node {id} ignored SIGTERM and was killed");
        } else {
            outln!("node {id} stopped ({})", exit.status)?;
        }
    }
    Ok(())
}

/// Ctrl-C and SIGTERM, registered once, up front.
struct Shutdown {
    interrupt: Signal,
    terminate: Signal,
}

impl Shutdown {
    fn listen() -> anyhow::Result<Shutdown> {
        Ok(Shutdown {
            interrupt: signal(SignalKind::interrupt())
                .map_err(|e| anyhow!("listening for Ctrl-C: {e}"))?,
            terminate: signal(SignalKind::terminate())
                .map_err(|e| anyhow!("listening for SIGTERM: {e}"))?,
        })
    }

    /// Waits for the next signal and names it.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "Ctrl-C",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// An error and its causes as one line, `outer: cause: root cause`, for
/// errors whose chain `anyhow` would otherwise print over several lines.
fn one_line(error: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    anyhow!(ordo_client::error::error_chain(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_the_base_port_and_stay_in_range() {
        assert_eq!(ports(7001, 3).unwrap(), vec![7001, 7002, 7003]);
        assert!(ports(65535, 2).is_err());
    }
}
