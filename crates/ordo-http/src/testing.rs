//! Test support: the whole API of one in-memory node, for handler tests
//! that need a real node behind the router (no process, no disk, no port).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ordo_node::{HttpTransport, Node, NodeConfig, TypeConfig};

use crate::AppState;

/// The whole API of one in-memory node that leads a cluster of itself.
pub async fn single_node_router() -> axum::Router {
    let (log_store, state_machine) =
        ordo_store::open_memory::<TypeConfig>(&ordo_store::MemDisk::new())
            .expect("a fresh memory disk opens");
    // Never dialled: a cluster of one has no one to call.
    let addr = "127.0.0.1:1";
    let config = NodeConfig::new(1, addr).with_peers(BTreeMap::from([(1, addr.to_string())]));
    let transport = Arc::new(HttpTransport::new().expect("an HTTP client builds"));
    let node = Node::start(config, log_store, state_machine, transport)
        .await
        .expect("the node starts");
    for _ in 0..200 {
        if node.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(node.is_ready(), "a cluster of one elects itself");
    crate::router(AppState::new(node, None, crate::Auth::default()))
}
