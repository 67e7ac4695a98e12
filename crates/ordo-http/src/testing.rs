//! Test support: the whole API of one in-memory node, for handler tests
//! that need a real node behind the router (no process, no disk, no port).

use crate::AppState;

/// The whole API of one in-memory node that leads a cluster of itself.
pub async fn single_node_router() -> axum::Router {
    let node = ordo_node::testing::leading_alone().await;
    crate::router(AppState::new(node, None, crate::Auth::default()))
}
