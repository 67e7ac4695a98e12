//! Test support: the whole API of one in-memory node, for handler tests
//! that need a real node behind the router (no process, no disk, no port).

use std::time::Duration;

use crate::AppState;

/// The whole API of one in-memory node that leads a cluster of itself.
pub async fn single_node_router() -> axum::Router {
    let node = ordo_node::testing::leading_alone().await;
    for _ in 0..200 {
        if node.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(node.is_ready(), "a cluster of one elects itself");
    crate::router(AppState::new(node, None, crate::Auth::default()))
}
