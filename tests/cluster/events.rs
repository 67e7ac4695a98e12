//! The console's view of the whole cluster through one node: after the
//! leader is killed, a survivor's `GET /v1/events` shows a surviving node
//! seeing a new leader elected in a higher term, and its
//! `GET /v1/cluster/nodes` shows the dead node unreachable (within the
//! members' answer timeout) and the others as they see themselves.

use std::time::{Duration, Instant};

use ordo_api::{EventKind, EventsParams, NodeView};
use ordo_core::NodeId;

use crate::support::{eventually, TestCluster, LEADER_TIMEOUT};

/// The members' answer timeout (500 ms), with room for a loaded machine.
const NODES_ANSWER_WITHIN: Duration = Duration::from_secs(3);

async fn nodes(cluster: &TestCluster, through: NodeId) -> Result<Vec<NodeView>, String> {
    cluster
        .client_for(through)
        .cluster_nodes()
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_show_a_new_leader_elected_and_nodes_show_the_dead_leader_unreachable() {
    let mut cluster = TestCluster::start().await;
    let old_leader = cluster.leader;
    let survivor = cluster.followers()[0];

    let before = eventually("every member reachable", LEADER_TIMEOUT, || async {
        let nodes = nodes(&cluster, survivor).await?;
        let all_in = nodes.len() == 3 && nodes.iter().all(|n| n.reachable && n.voter);
        let leads = nodes
            .iter()
            .any(|n| n.id == old_leader && n.role.as_deref() == Some("leader"));
        if all_in && leads {
            Ok(nodes)
        } else {
            Err(format!("{nodes:?}"))
        }
    })
    .await;
    let old_term = before
        .iter()
        .find(|n| n.id == old_leader)
        .and_then(|n| n.term)
        .expect("the leader says its term");
    assert_eq!(
        before.iter().map(|n| n.id).collect::<Vec<_>>(),
        cluster.ids(),
        "by id"
    );
    assert!(before.iter().all(|n| n.lag_entries.is_some()), "{before:?}");

    cluster.kill(old_leader);
    let new_leader = cluster.wait_for_leader().await;

    let params = EventsParams {
        limit: Some(1000),
        after: None,
    };
    let elected = eventually(
        "a survivor's leader_elected event for a higher term",
        LEADER_TIMEOUT,
        || async {
            let events = cluster
                .client_for(survivor)
                .events(&params)
                .await
                .map_err(|e| e.to_string())?
                .events;
            assert!(
                events.windows(2).all(|w| w[0].at_ms <= w[1].at_ms),
                "oldest first: {events:?}"
            );
            events
                .iter()
                .find(|e| {
                    e.kind == EventKind::LeaderElected
                        && e.node_id != old_leader
                        && e.term > old_term
                        && e.detail.leader == Some(new_leader)
                })
                .cloned()
                .ok_or_else(|| format!("{events:?}"))
        },
    )
    .await;
    assert!(
        elected.message.contains(&format!("node {new_leader}")),
        "{elected:?}"
    );

    let after = eventually("the dead leader unreachable", LEADER_TIMEOUT, || async {
        let asked = Instant::now();
        let nodes = nodes(&cluster, survivor).await?;
        let took = asked.elapsed();
        assert!(
            took < NODES_ANSWER_WITHIN,
            "one dead member costs one timeout: {took:?}"
        );
        let dead = nodes.iter().find(|n| n.id == old_leader);
        let leads = nodes
            .iter()
            .any(|n| n.id == new_leader && n.reachable && n.role.as_deref() == Some("leader"));
        match dead {
            Some(dead) if !dead.reachable && leads => Ok(nodes),
            _ => Err(format!("{nodes:?}")),
        }
    })
    .await;
    let dead = after.iter().find(|n| n.id == old_leader).expect("listed");
    assert!(
        dead.error.as_deref().is_some_and(|e| !e.is_empty()),
        "{dead:?}"
    );
    assert_eq!((dead.role.as_deref(), dead.term), (None, None), "{dead:?}");
    for alive in after.iter().filter(|n| n.id != old_leader) {
        assert!(alive.reachable && alive.error.is_none(), "{alive:?}");
        assert!(alive.term.is_some_and(|t| t > old_term), "{alive:?}");
        assert_eq!(alive.leader, Some(new_leader), "{alive:?}");
    }
}
