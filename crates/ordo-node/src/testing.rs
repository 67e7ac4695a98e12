//! Test support (this crate's tests, and others' with the `testing`
//! feature): one in-memory node that leads a cluster of itself (no
//! process, no disk, no port), and peers reached in-process.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::peers::{PeerAnswer, PeerCall, PeerError, TransportError};
use crate::rpc::RpcKind;
use crate::{Node, NodeConfig, Peers, RequestPeers, TypeConfig};

/// Peers reached in-process: a call to an address registered with
/// [`InProcessPeers::register`] is answered by its node if it asks one of
/// the questions this transport carries (Raft's replication to such
/// nodes goes unanswered); a call to any other address, or to any while
/// [`InProcessPeers::refuse_all`] is on, is refused at once; one to a
/// [`InProcessPeers::stop`]ped node gets no answer until its timeout.
pub struct InProcessPeers {
    nodes: OnceLock<BTreeMap<String, Arc<Node>>>,
    carried: Vec<RpcKind>,
    refusing: AtomicBool,
    stopped: Mutex<BTreeSet<String>>,
}

impl InProcessPeers {
    /// Carries only the `carried` questions.
    pub fn carrying(carried: &[RpcKind]) -> Self {
        InProcessPeers {
            nodes: OnceLock::new(),
            carried: carried.to_vec(),
            refusing: AtomicBool::new(false),
            stopped: Mutex::new(BTreeSet::new()),
        }
    }

    /// The nodes that answer, by address; once.
    pub fn register(&self, nodes: BTreeMap<String, Arc<Node>>) {
        assert!(self.nodes.set(nodes).is_ok(), "nodes are registered once");
    }

    pub fn refuse_all(&self) {
        self.refusing.store(true, Ordering::SeqCst);
    }

    /// The node at `addr` stops answering, as a hung process would.
    pub fn stop(&self, addr: &str) {
        self.stopped.lock().unwrap().insert(addr.to_string());
    }
}

impl Peers for InProcessPeers {
    fn call<'a>(&'a self, call: PeerCall<'a>) -> PeerAnswer<'a> {
        Box::pin(async move {
            let refused = || {
                PeerError::NoAnswer(TransportError::Unreachable {
                    addr: call.addr.to_string(),
                    reason: "connection refused".into(),
                })
            };
            if self.stopped.lock().unwrap().contains(call.addr) {
                tokio::time::sleep(call.timeout).await;
                return Err(PeerError::NoAnswer(TransportError::Timeout {
                    addr: call.addr.to_string(),
                    timeout: call.timeout,
                }));
            }
            let node = self
                .nodes
                .get()
                .and_then(|nodes| nodes.get(call.addr))
                .filter(|_| !self.refusing.load(Ordering::SeqCst))
                .ok_or_else(refused)?;
            let kind = RpcKind::from_path(call.path)
                .filter(|kind| self.carried.contains(kind))
                .ok_or_else(refused)?;
            node.handle_rpc(kind, &call.body)
                .await
                .map_err(|e| PeerError::Status {
                    addr: call.addr.to_string(),
                    status: 400,
                    body: e.to_string(),
                })
        })
    }
}

/// A started node of a cluster of one, once it leads and is ready to serve.
pub async fn leading_alone() -> Arc<Node> {
    let transport = Arc::new(RequestPeers::http().expect("an HTTP client builds"));
    leading_alone_with(|config| config, transport).await
}

/// [`leading_alone`], its config changed by `configure` (a node of
/// another id must name itself its one peer), reaching any peer it is
/// given later through `transport`.
pub async fn leading_alone_with(
    configure: impl FnOnce(NodeConfig) -> NodeConfig,
    transport: Arc<dyn Peers>,
) -> Arc<Node> {
    let (log_store, state_machine) =
        ordo_store::open_memory::<TypeConfig>(&ordo_store::MemDisk::new())
            .expect("a fresh memory disk opens");
    // Never dialled: a cluster of one has no one to call.
    let addr = "127.0.0.1:1";
    let config =
        configure(NodeConfig::new(1, addr).with_peers(BTreeMap::from([(1, addr.to_string())])));
    let id = config.id;
    let node = Node::start(config, log_store, state_machine, transport)
        .await
        .expect("the node starts");
    for _ in 0..200 {
        if node.current_leader() == Some(id) && node.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        node.current_leader(),
        Some(id),
        "a cluster of one elects itself"
    );
    assert!(node.is_ready(), "a cluster of one is ready once it leads");
    node
}
