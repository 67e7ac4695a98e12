//! Pure: each node's identity, address, paths and `ordo serve` arguments.
//! The command line here is the contract of DESIGN.md §3a.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use ordo_core::NodeId;

use crate::config::LOOPBACK_HOST;

/// Everything fixed about one node across restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    pub id: NodeId,
    /// `127.0.0.1:port`: what it listens on and what peers dial.
    pub addr: String,
    /// `127.0.0.1:port` of its Kafka listener (`--kafka-listen`), if it
    /// runs one; Kafka clients are told this address too.
    pub kafka_addr: Option<String>,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    pub pid_path: PathBuf,
}

/// One spec per port; node ids are 1-based, in port order. With
/// `kafka_ports` (one per node, in the same order) each node also runs a
/// Kafka listener.
pub fn node_specs(base_dir: &Path, ports: &[u16], kafka_ports: Option<&[u16]>) -> Vec<NodeSpec> {
    ports
        .iter()
        .enumerate()
        .map(|(index, port)| {
            let id = NodeId::try_from(index + 1).expect("a local cluster has few nodes");
            let kafka_port = kafka_ports.and_then(|ports| ports.get(index).copied());
            node_spec(base_dir, id, *port, kafka_port)
        })
        .collect()
}

/// Node `id` on `port` (and its Kafka listener on `kafka_port`, if any),
/// with its paths under `base_dir`.
pub fn node_spec(base_dir: &Path, id: NodeId, port: u16, kafka_port: Option<u16>) -> NodeSpec {
    NodeSpec {
        id,
        addr: format!("{LOOPBACK_HOST}:{port}"),
        kafka_addr: kafka_port.map(|port| format!("{LOOPBACK_HOST}:{port}")),
        data_dir: base_dir.join(format!("n{id}")),
        log_path: base_dir.join(format!("n{id}.log")),
        pid_path: base_dir.join(format!("n{id}.pid")),
    }
}

/// The `--peers` value: `1=127.0.0.1:7001,2=127.0.0.1:7002,…`.
pub fn peers_arg(specs: &[NodeSpec]) -> String {
    specs
        .iter()
        .map(|spec| format!("{}={}", spec.id, spec.addr))
        .collect::<Vec<_>>()
        .join(",")
}

/// `serve --node-id … --listen … --data-dir … --peers … [--kafka-listen …]`.
/// Every node gets all peers, so the nodes form the cluster by themselves.
pub fn serve_args(spec: &NodeSpec, peers: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "serve".into(),
        "--node-id".into(),
        spec.id.to_string().into(),
        "--listen".into(),
        spec.addr.clone().into(),
        "--data-dir".into(),
        spec.data_dir.clone().into_os_string(),
        "--peers".into(),
        peers.into(),
    ];
    if let Some(kafka_addr) = &spec.kafka_addr {
        // Advertised as it is: a loopback address clients reach.
        args.extend(["--kafka-listen".into(), kafka_addr.into()]);
    }
    args
}

/// The Kafka bootstrap list of `specs` (`127.0.0.1:9092,127.0.0.1:9093,…`),
/// `None` if no node runs a Kafka listener.
pub fn kafka_bootstrap(specs: &[NodeSpec]) -> Option<String> {
    let addrs: Vec<&str> = specs
        .iter()
        .filter_map(|spec| spec.kafka_addr.as_deref())
        .collect();
    (!addrs.is_empty()).then(|| addrs.join(","))
}

/// `--worker-threads` for one of `nodes` nodes sharing a machine of
/// `cores` cores: its share, at least one. On a machine the nodes share,
/// a runtime per node with a worker per core puts several threads per
/// core to wake and switch between: on 2 cores, a 3-node cluster with one
/// worker per node appended 15-17 % more at 16 and 64 clients for 15-20 %
/// less CPU per append (`docs/performance.md`).
pub fn worker_threads_arg(cores: usize, nodes: usize) -> [OsString; 2] {
    let share = (cores / nodes.max(1)).max(1);
    ["--worker-threads".into(), share.to_string().into()]
}

/// The machine's cores, as the runtime counts them (1 if unknown).
pub fn machine_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}

/// `serve … --peers … --join`: a node that joins the running cluster of
/// `peers` (which need not list it) and waits to be added to it.
pub fn join_args(spec: &NodeSpec, peers: &str) -> Vec<OsString> {
    let mut args = serve_args(spec, peers);
    args.push("--join".into());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_numbered_from_one_with_their_own_paths() {
        let specs = node_specs(Path::new("/tmp/c"), &[7001, 7002, 7003], None);
        assert_eq!(specs.len(), 3);
        assert_eq!(
            specs[1],
            NodeSpec {
                id: 2,
                addr: "127.0.0.1:7002".into(),
                kafka_addr: None,
                data_dir: "/tmp/c/n2".into(),
                log_path: "/tmp/c/n2.log".into(),
                pid_path: "/tmp/c/n2.pid".into(),
            }
        );
    }

    #[test]
    fn peers_list_every_node_by_id() {
        let specs = node_specs(Path::new("d"), &[7001, 7002, 7003], None);
        assert_eq!(
            peers_arg(&specs),
            "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003"
        );
    }

    #[test]
    fn nodes_sharing_a_machine_get_their_share_of_its_cores() {
        let threads = |cores, nodes| worker_threads_arg(cores, nodes)[1].clone();
        assert_eq!(worker_threads_arg(8, 3)[0], "--worker-threads");
        assert_eq!(threads(8, 3), "2");
        assert_eq!(threads(2, 3), "1");
        assert_eq!(threads(16, 4), "4");
        assert_eq!(threads(1, 0), "1");
    }

    #[test]
    fn serve_args_follow_the_cli_contract() {
        let specs = node_specs(Path::new("data"), &[7001, 7002], None);
        let peers = peers_arg(&specs);
        let args: Vec<String> = serve_args(&specs[0], &peers)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "serve",
                "--node-id",
                "1",
                "--listen",
                "127.0.0.1:7001",
                "--data-dir",
                "data/n1",
                "--peers",
                "1=127.0.0.1:7001,2=127.0.0.1:7002",
            ]
        );
    }

    #[test]
    fn nodes_with_kafka_listeners_listen_on_their_port_and_make_the_bootstrap_list() {
        let specs = node_specs(
            Path::new("data"),
            &[7001, 7002, 7003],
            Some(&[9092, 9093, 9094]),
        );
        assert_eq!(specs[2].kafka_addr.as_deref(), Some("127.0.0.1:9094"));
        let args: Vec<String> = serve_args(&specs[0], &peers_arg(&specs))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(args[args.len() - 2..], ["--kafka-listen", "127.0.0.1:9092"]);
        assert_eq!(
            kafka_bootstrap(&specs).as_deref(),
            Some("127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094")
        );
        let without = node_specs(Path::new("data"), &[7001, 7002], None);
        assert_eq!(kafka_bootstrap(&without), None);
        assert!(!serve_args(&without[0], "1=a")
            .iter()
            .any(|arg| arg == "--kafka-listen"));
    }
}
