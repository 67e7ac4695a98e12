//! Test support (this crate's tests, and others' with the `testing`
//! feature): one in-memory node that leads a cluster of itself (no
//! process, no disk, no port).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::{Node, NodeConfig, Peers, RequestPeers, TypeConfig};

/// A started node of a cluster of one, once it leads and is ready to serve.
pub async fn leading_alone() -> Arc<Node> {
    let transport = Arc::new(RequestPeers::http().expect("an HTTP client builds"));
    leading_alone_with(|config| config, transport).await
}

/// [`leading_alone`], its config changed by `configure`, reaching any peer
/// it is given later through `transport`.
pub async fn leading_alone_with(
    configure: impl FnOnce(NodeConfig) -> NodeConfig,
    transport: Arc<dyn Peers>,
) -> Arc<Node> {
    let (log_store, state_machine) =
        ordo_store::open_memory::<TypeConfig>(&ordo_store::MemDisk::new())
            .expect("a fresh memory disk opens");
    // Never dialled: a cluster of one has no one to call.
    let addr = "127.0.0.1:1";
    let config = NodeConfig::new(1, addr).with_peers(BTreeMap::from([(1, addr.to_string())]));
    let node = Node::start(configure(config), log_store, state_machine, transport)
        .await
        .expect("the node starts");
    for _ in 0..200 {
        if node.current_leader() == Some(1) && node.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        node.current_leader(),
        Some(1),
        "a cluster of one elects itself"
    );
    assert!(node.is_ready(), "a cluster of one is ready once it leads");
    node
}
