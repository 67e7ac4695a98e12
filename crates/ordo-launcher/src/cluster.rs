//! `LocalCluster`: a cluster of real `ordo serve` processes on loopback,
//! driven the way an operator (or a fault) would: start, wait for a leader,
//! kill, stop, restart. Every child is killed when the cluster is dropped.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::time::Instant;

use ordo_client::{Client, RetryPolicy};
use ordo_core::NodeId;

use crate::args::{
    join_args, kafka_bootstrap, machine_cores, node_spec, node_specs, peers_arg, serve_args,
    worker_threads_arg, NodeSpec,
};
use crate::config::{
    ca_file, KafkaListeners, LauncherConfig, NodeOutput, LOOPBACK_HOST, MAX_NODES, POLL_INTERVAL,
    PROBE_TIMEOUT,
};
use crate::error::LauncherError;
use crate::ports::{ensure_free, pick_free_ports};
use crate::process::NodeProcess;

/// How a node ended after [`LocalCluster::stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeExit {
    pub status: ExitStatus,
    /// True if it ignored SIGTERM for the stop grace and was SIGKILLed.
    pub forced: bool,
}

struct Node {
    spec: NodeSpec,
    /// `None` while the node is stopped.
    process: Option<NodeProcess>,
    /// Started with `--join` (see [`LocalCluster::start_joining_node`]).
    joining: bool,
}

/// A running local cluster. Node ids are `1..=nodes`.
pub struct LocalCluster {
    config: LauncherConfig,
    peers: String,
    nodes: Vec<Node>,
    /// Short timeout, no retries: for probing one node at a time.
    probe: Client,
}

impl LocalCluster {
    /// Spawns every node. Returns once they are spawned, not once they
    /// serve: call [`LocalCluster::wait_for_leader`] next.
    pub fn start(config: LauncherConfig) -> Result<LocalCluster, LauncherError> {
        if config.nodes == 0 || config.nodes > MAX_NODES {
            return Err(LauncherError::NodeCount(config.nodes));
        }
        let ports = match &config.ports {
            Some(ports) => given_ports(ports, config.nodes)?,
            None => pick_free_ports(config.nodes)?,
        };
        let kafka_ports = match &config.kafka {
            KafkaListeners::Off => None,
            KafkaListeners::FreePorts => Some(pick_free_ports(config.nodes)?),
            KafkaListeners::Ports(ports) => Some(given_ports(ports, config.nodes)?),
        };
        let specs = node_specs(&config.base_dir, &ports, kafka_ports.as_deref());
        for spec in &specs {
            fs::create_dir_all(&spec.data_dir).map_err(|e| {
                LauncherError::io(format!("creating {}", spec.data_dir.display()), e)
            })?;
        }
        if config.tls {
            make_certificates(&config, &specs)?;
        }
        let probe = client_builder(&config, specs.iter().map(|s| s.addr.clone()).collect())?
            .timeout(PROBE_TIMEOUT)
            .retry(RetryPolicy::no_retries())
            .build()?;
        let mut cluster = LocalCluster {
            peers: peers_arg(&specs),
            nodes: specs
                .into_iter()
                .map(|spec| Node {
                    spec,
                    process: None,
                    joining: false,
                })
                .collect(),
            config,
            probe,
        };
        // On an error part-way, dropping `cluster` kills the nodes already up.
        for id in cluster.ids() {
            cluster.start_node(id)?;
        }
        Ok(cluster)
    }

    /// Node ids, ascending.
    pub fn ids(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|n| n.spec.id).collect()
    }

    /// `127.0.0.1:port` of node `id`.
    pub fn addr(&self, id: NodeId) -> Result<&str, LauncherError> {
        Ok(&self.node(id)?.spec.addr)
    }

    /// `127.0.0.1:port` of node `id`'s Kafka listener, if it runs one.
    pub fn kafka_addr(&self, id: NodeId) -> Result<Option<&str>, LauncherError> {
        Ok(self.node(id)?.spec.kafka_addr.as_deref())
    }

    /// Every Kafka listener, comma-separated in id order, as Kafka clients
    /// take a bootstrap list; `None` without Kafka listeners.
    pub fn kafka_bootstrap(&self) -> Option<String> {
        let specs: Vec<NodeSpec> = self.nodes.iter().map(|n| n.spec.clone()).collect();
        kafka_bootstrap(&specs)
    }

    /// Every node's address, in id order.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.spec.addr.clone()).collect()
    }

    /// Node id to address, for every node.
    pub fn members(&self) -> BTreeMap<NodeId, String> {
        self.nodes
            .iter()
            .map(|n| (n.spec.id, n.spec.addr.clone()))
            .collect()
    }

    pub fn data_dir(&self, id: NodeId) -> Result<&Path, LauncherError> {
        Ok(&self.node(id)?.spec.data_dir)
    }

    /// Where node `id`'s output goes with [`NodeOutput::LogFiles`].
    pub fn log_path(&self, id: NodeId) -> Result<&Path, LauncherError> {
        Ok(&self.node(id)?.spec.log_path)
    }

    /// The pid of node `id`, while it runs.
    pub fn pid(&self, id: NodeId) -> Result<Option<u32>, LauncherError> {
        Ok(self.node(id)?.process.as_ref().map(NodeProcess::pid))
    }

    /// A client over every node, with their ids known up front.
    pub fn client(&self) -> Result<Client, LauncherError> {
        Ok(client_builder(&self.config, self.addrs())?
            .members(self.members())
            .build()?)
    }

    /// Node `id`'s base URL: `http://host:port`, or `https://` with TLS.
    pub fn url(&self, id: NodeId) -> Result<String, LauncherError> {
        Ok(format!("{}://{}", self.config.scheme(), self.addr(id)?))
    }

    /// What a client needs to reach these nodes over TLS (their CA), when
    /// they serve it.
    pub fn tls_client_config(
        &self,
    ) -> Result<Option<ordo_tls::rustls::ClientConfig>, LauncherError> {
        if !self.config.tls {
            return Ok(None);
        }
        let ca = ca_file(&self.config.base_dir);
        Ok(Some(ordo_tls::client_config(Some(&ca), None)?))
    }

    /// A client pinned to node `id` (no failover, no forwarding by the
    /// client), for checks against one node's view.
    pub fn client_for(&self, id: NodeId) -> Result<Client, LauncherError> {
        let addr = self.addr(id)?.to_string();
        Ok(self.client()?.for_node(&addr)?)
    }

    /// True while node `id`'s process runs (reaps it if it has exited).
    pub fn is_running(&mut self, id: NodeId) -> Result<bool, LauncherError> {
        let node = self.node_mut(id)?;
        match &mut node.process {
            Some(process) => Ok(process.try_exit()?.is_none()),
            None => Ok(false),
        }
    }

    /// Nodes that exited on their own since the last look, now marked
    /// stopped. A launcher in the foreground calls this to report deaths.
    pub fn reap_exited(&mut self) -> Result<Vec<(NodeId, ExitStatus)>, LauncherError> {
        let mut exited = Vec::new();
        for node in &mut self.nodes {
            if let Some(process) = &mut node.process {
                if let Some(status) = process.try_exit()? {
                    exited.push((node.spec.id, status));
                    node.process = None;
                }
            }
        }
        Ok(exited)
    }

    /// Polls every running node's `/v1/cluster` until all of them name the
    /// same leader, itself running; returns its id. Fails early if a node
    /// dies on its own, and after `timeout` with what was last seen.
    pub async fn wait_for_leader(&mut self, timeout: Duration) -> Result<NodeId, LauncherError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((id, status)) = self.reap_exited()?.into_iter().next() {
                return Err(self.exited_error(id, status));
            }
            let last_seen = match self.poll_leader().await? {
                Ok(leader) => return Ok(leader),
                Err(last_seen) => last_seen,
            };
            if Instant::now() + POLL_INTERVAL > deadline {
                return Err(LauncherError::NoLeader {
                    timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                    last_seen,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The leader all running nodes agree on right now, if they do.
    pub async fn leader(&mut self) -> Result<Option<NodeId>, LauncherError> {
        Ok(self.poll_leader().await?.ok())
    }

    /// SIGKILLs node `id` and reaps it: a crash. `None` if it was not
    /// running.
    pub fn kill(&mut self, id: NodeId) -> Result<Option<ExitStatus>, LauncherError> {
        match self.node_mut(id)?.process.take() {
            Some(mut process) => process.kill().map(Some),
            None => Ok(None),
        }
    }

    /// SIGTERMs node `id`, waits up to the config's `stop_grace`, then
    /// SIGKILLs it.
    /// `None` if it was not running.
    pub async fn stop(&mut self, id: NodeId) -> Result<Option<NodeExit>, LauncherError> {
        let exits = self.stop_nodes(&[id]).await?;
        Ok(exits.into_iter().next().map(|(_, exit)| exit))
    }

    /// Stops every running node as [`LocalCluster::stop`] does, all at once.
    pub async fn stop_all(&mut self) -> Result<Vec<(NodeId, NodeExit)>, LauncherError> {
        let ids = self.ids();
        self.stop_nodes(&ids).await
    }

    /// Starts stopped node `id` again with the same arguments and data dir.
    pub fn start_node(&mut self, id: NodeId) -> Result<(), LauncherError> {
        if self.is_running(id)? {
            return Err(LauncherError::AlreadyRunning(id));
        }
        let node = self.node(id)?;
        let mut args = if node.joining {
            join_args(&node.spec, &self.peers)
        } else {
            serve_args(&node.spec, &self.peers)
        };
        // Every node of the cluster runs on this machine.
        args.extend(worker_threads_arg(machine_cores(), self.nodes.len()));
        let index = self.index(id)?;
        let process = NodeProcess::spawn(&self.config, &self.nodes[index].spec, args)?;
        self.nodes[index].process = Some(process);
        Ok(())
    }

    /// Spawns one more node, with the next id, on a free port, started with
    /// `--join`: it forms no cluster and waits to be added (`POST
    /// /v1/cluster/nodes`). Restarts of it join the same way. Returns its id.
    pub fn start_joining_node(&mut self) -> Result<NodeId, LauncherError> {
        let id = self.ids().into_iter().max().unwrap_or(0) + 1;
        if self.nodes.len() >= MAX_NODES {
            return Err(LauncherError::NodeCount(self.nodes.len() + 1));
        }
        let port = pick_free_ports(1)?[0];
        let kafka_port = match self.config.kafka {
            KafkaListeners::Off => None,
            KafkaListeners::FreePorts | KafkaListeners::Ports(_) => Some(pick_free_ports(1)?[0]),
        };
        let spec = node_spec(&self.config.base_dir, id, port, kafka_port);
        fs::create_dir_all(&spec.data_dir)
            .map_err(|e| LauncherError::io(format!("creating {}", spec.data_dir.display()), e))?;
        self.nodes.push(Node {
            spec,
            process: None,
            joining: true,
        });
        self.start_node(id)?;
        Ok(id)
    }

    /// Stops node `id` gracefully if it runs, then starts it again.
    pub async fn restart(&mut self, id: NodeId) -> Result<(), LauncherError> {
        if self.is_running(id)? {
            self.stop(id).await?;
        }
        self.start_node(id)
    }

    async fn stop_nodes(
        &mut self,
        ids: &[NodeId],
    ) -> Result<Vec<(NodeId, NodeExit)>, LauncherError> {
        let mut stopping = Vec::new();
        for &id in ids {
            let index = self.index(id)?;
            if let Some(mut process) = self.nodes[index].process.take() {
                process.terminate()?;
                stopping.push((id, process));
            }
        }
        let deadline = Instant::now() + self.config.stop_grace;
        let mut exits = Vec::with_capacity(stopping.len());
        while !stopping.is_empty() {
            let mut still_running = Vec::new();
            for (id, mut process) in stopping {
                match process.try_exit()? {
                    Some(status) => exits.push((
                        id,
                        NodeExit {
                            status,
                            forced: false,
                        },
                    )),
                    None if Instant::now() >= deadline => {
                        tracing::warn!(node = id, "node ignored SIGTERM; killing it");
                        let status = process.kill()?;
                        exits.push((
                            id,
                            NodeExit {
                                status,
                                forced: true,
                            },
                        ));
                    }
                    None => still_running.push((id, process)),
                }
            }
            stopping = still_running;
            if !stopping.is_empty() {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        exits.sort_by_key(|(id, _)| *id);
        Ok(exits)
    }

    /// One round of status probes: `Ok(leader)` if every running node
    /// names the same running leader, else `Err(what each node said)`.
    async fn poll_leader(&mut self) -> Result<Result<NodeId, String>, LauncherError> {
        let mut running = Vec::new();
        for id in self.ids() {
            if self.is_running(id)? {
                running.push(id);
            }
        }
        if running.is_empty() {
            return Err(LauncherError::NoRunningNodes);
        }
        let mut views = Vec::with_capacity(running.len());
        for &id in &running {
            let node = self.probe.for_node(self.addr(id)?)?;
            // The node at our address must be our node, not an impostor.
            let view = node.cluster_status().await.map(|s| {
                if s.node_id == id {
                    Ok(s.leader)
                } else {
                    Err(s.node_id)
                }
            });
            views.push((id, view));
        }
        let first = match &views[0].1 {
            Ok(Ok(leader)) => *leader,
            _ => None,
        };
        let agreed = views
            .iter()
            .all(|(_, view)| matches!(view, Ok(Ok(Some(l))) if Some(*l) == first));
        match first {
            Some(leader) if agreed && running.contains(&leader) => Ok(Ok(leader)),
            _ => Ok(Err(describe_views(&views))),
        }
    }

    fn exited_error(&self, id: NodeId, status: ExitStatus) -> LauncherError {
        let hint = match (self.config.output, self.log_path(id)) {
            (NodeOutput::LogFiles, Ok(path)) => format!(" (see {})", path.display()),
            _ => String::new(),
        };
        LauncherError::NodeExited { id, status, hint }
    }

    fn index(&self, id: NodeId) -> Result<usize, LauncherError> {
        self.nodes
            .iter()
            .position(|n| n.spec.id == id)
            .ok_or(LauncherError::UnknownNode(id))
    }

    fn node(&self, id: NodeId) -> Result<&Node, LauncherError> {
        Ok(&self.nodes[self.index(id)?])
    }

    fn node_mut(&mut self, id: NodeId) -> Result<&mut Node, LauncherError> {
        let index = self.index(id)?;
        Ok(&mut self.nodes[index])
    }
}

/// `ports`, which must be one per node and free.
fn given_ports(ports: &[u16], nodes: usize) -> Result<Vec<u16>, LauncherError> {
    if ports.len() != nodes {
        return Err(LauncherError::PortCount {
            given: ports.len(),
            nodes,
        });
    }
    ensure_free(ports)?;
    Ok(ports.to_vec())
}

/// What one node said: the leader it names, or the id of whatever node
/// answered at its address instead of it.
type View = Result<Result<Option<NodeId>, NodeId>, ordo_client::ClientError>;

fn describe_views(views: &[(NodeId, View)]) -> String {
    views
        .iter()
        .map(|(id, view)| match view {
            Ok(Ok(Some(leader))) => format!("node {id} follows {leader}"),
            Ok(Ok(None)) => format!("node {id} knows no leader"),
            Ok(Err(other)) => format!("node {other} answered at node {id}'s address"),
            Err(error) => format!("node {id}: {error}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A client builder for `addrs` with the launcher's token and, with TLS,
/// `https://` seeds and the development CA.
fn client_builder(
    config: &LauncherConfig,
    addrs: Vec<String>,
) -> Result<ordo_client::ClientBuilder, LauncherError> {
    let seeds = addrs
        .iter()
        .map(|addr| format!("{}://{addr}", config.scheme()))
        .collect();
    let mut builder = Client::builder(seeds).api_token(config.api_token.clone());
    if config.tls {
        let ca = ca_file(&config.base_dir);
        builder = builder.tls(ordo_tls::client_config(Some(&ca), None)?);
    }
    Ok(builder)
}

/// The development CA (made once, kept across launches) and a fresh
/// certificate for each node, for 127.0.0.1 and localhost.
fn make_certificates(config: &LauncherConfig, specs: &[NodeSpec]) -> Result<(), LauncherError> {
    let dir = config.certs_dir();
    if !dir.join("ca.crt").exists() {
        ordo_tls::certs::create_ca(&dir)?;
    }
    let hosts = [LOOPBACK_HOST.to_string(), "localhost".to_string()];
    for spec in specs {
        ordo_tls::certs::create_node(&dir, &dir, spec.id, &hosts, true)?;
    }
    Ok(())
}
