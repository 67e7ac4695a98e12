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
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    pub pid_path: PathBuf,
}

/// One spec per port; node ids are 1-based, in port order.
pub fn node_specs(base_dir: &Path, ports: &[u16]) -> Vec<NodeSpec> {
    ports
        .iter()
        .zip(1..)
        .map(|(port, id): (&u16, NodeId)| node_spec(base_dir, id, *port))
        .collect()
}

/// Node `id` on `port`, with its paths under `base_dir`.
pub fn node_spec(base_dir: &Path, id: NodeId, port: u16) -> NodeSpec {
    NodeSpec {
        id,
        addr: format!("{LOOPBACK_HOST}:{port}"),
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

/// `serve --node-id … --listen … --data-dir … --peers …`. Every node gets
/// all peers, so the nodes form the cluster by themselves.
pub fn serve_args(spec: &NodeSpec, peers: &str) -> Vec<OsString> {
    vec![
        "serve".into(),
        "--node-id".into(),
        spec.id.to_string().into(),
        "--listen".into(),
        spec.addr.clone().into(),
        "--data-dir".into(),
        spec.data_dir.clone().into_os_string(),
        "--peers".into(),
        peers.into(),
    ]
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
        let specs = node_specs(Path::new("/tmp/c"), &[7001, 7002, 7003]);
        assert_eq!(specs.len(), 3);
        assert_eq!(
            specs[1],
            NodeSpec {
                id: 2,
                addr: "127.0.0.1:7002".into(),
                data_dir: "/tmp/c/n2".into(),
                log_path: "/tmp/c/n2.log".into(),
                pid_path: "/tmp/c/n2.pid".into(),
            }
        );
    }

    #[test]
    fn peers_list_every_node_by_id() {
        let specs = node_specs(Path::new("d"), &[7001, 7002, 7003]);
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
        let specs = node_specs(Path::new("data"), &[7001, 7002]);
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
}
