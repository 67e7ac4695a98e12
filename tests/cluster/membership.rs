//! Membership changes (DESIGN §3 cluster): nodes started with `--join` are
//! added as learners and promoted once caught up, voters (the leader too)
//! are removed, leadership is handed over; all while writers append, with
//! nothing acknowledged lost or moved. A change that would leave fewer than
//! 3 voters is refused unless forced, and a refused change changes nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ordo_api::{AddNodeRequest, ClusterStatus, Consistency, MembershipResponse};
use ordo_core::{NodeId, Offset};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::history::{
    assert_history_matches_log, spawn_writer, wait_for_acks, History, WriterBounds,
};
use crate::support::{eventually, http, read_all, record, wait_for_local_log, TestCluster};

const TOPIC: &str = "membership";
const WRITERS: usize = 3;
/// Acknowledged appends wanted between two membership changes.
const ACKS_PER_STEP: usize = 20;
/// Bounds each writer even if the test never tells it to stop.
const BOUNDS: WriterBounds = WriterBounds {
    max_appends: 20_000,
    deadline: Duration::from_secs(180),
};
/// How long a new node gets to catch up before the add gives up.
const CATCH_UP_TIMEOUT_MS: u64 = 30_000;

/// Waits for `ACKS_PER_STEP` more acknowledged appends than now.
async fn wait_for_more_acks(history: &History, what: &str) {
    let since = Instant::now();
    wait_for_acks(history, since, ACKS_PER_STEP, Duration::from_secs(30), what).await
}

/// (voters, learners) of a membership answer, each sorted.
fn voters_and_learners(membership: &MembershipResponse) -> (Vec<NodeId>, Vec<NodeId>) {
    let voters = membership
        .members
        .iter()
        .filter(|m| m.voter)
        .map(|m| m.id)
        .collect();
    let learners = membership
        .members
        .iter()
        .filter(|m| !m.voter)
        .map(|m| m.id)
        .collect();
    (voters, learners)
}

fn status_voters(status: &ClusterStatus) -> Vec<NodeId> {
    status
        .members
        .iter()
        .filter(|m| m.voter)
        .map(|m| m.id)
        .collect()
}

async fn add(cluster: &TestCluster, via: NodeId, id: NodeId) -> MembershipResponse {
    let request = AddNodeRequest {
        id,
        addr: cluster.nodes.addr(id).expect("a started node").to_string(),
        force: false,
        catch_up_timeout_ms: Some(CATCH_UP_TIMEOUT_MS),
    };
    cluster
        .client_for(via)
        .add_node(&request)
        .await
        .unwrap_or_else(|e| panic!("adding node {id} through node {via}: {e}"))
}

/// Removes `id` through `via`, then stops it, as an operator would.
async fn remove_and_stop(cluster: &mut TestCluster, via: NodeId, id: NodeId) -> MembershipResponse {
    let membership = cluster
        .client_for(via)
        .remove_node(id, false)
        .await
        .unwrap_or_else(|e| panic!("removing node {id} through node {via}: {e}"));
    cluster
        .nodes
        .stop(id)
        .await
        .unwrap_or_else(|e| panic!("stopping removed node {id}: {e}"));
    membership
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growing_to_five_and_shrinking_to_three_under_load_loses_nothing() {
    let mut cluster = TestCluster::start().await;
    let history = History::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let client = cluster.client();
            spawn_writer(w, TOPIC, client, history.clone(), stop.clone(), BOUNDS)
        })
        .collect();
    wait_for_more_acks(&history, "appends before any change").await;

    // A node started to join forms no cluster of its own: it waits.
    let four = cluster.start_joining_node();
    let view = eventually(
        "the joining node answers",
        Duration::from_secs(20),
        || async {
            cluster
                .client_for(four)
                .cluster_status()
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let view = cluster
        .client_for(four)
        .cluster_status()
        .await
        .unwrap_or(view);
    assert_eq!(
        (view.leader, view.members.len()),
        (None, 0),
        "a joining node waits: {view:?}"
    );

    // Grow 3 -> 4 -> 5, each add sent to a follower, which forwards it.
    let follower = cluster.followers()[0];
    let membership = add(&cluster, follower, four).await;
    assert_eq!(voters_and_learners(&membership), (vec![1, 2, 3, 4], vec![]));
    assert!(
        membership.warning.is_some(),
        "4 voters come with a warning: {membership:?}"
    );
    wait_for_more_acks(&history, "appends with 4 voters").await;

    let five = cluster.start_joining_node();
    let membership = add(&cluster, four, five).await;
    assert_eq!(
        voters_and_learners(&membership),
        (vec![1, 2, 3, 4, 5], vec![])
    );
    assert_eq!(membership.warning, None);
    wait_for_more_acks(&history, "appends with 5 voters").await;
    let leader = cluster.wait_for_leader().await;
    let five_voters = cluster
        .client_for(five)
        .cluster_status()
        .await
        .expect("node 5's status");
    assert_eq!(status_voters(&five_voters), vec![1, 2, 3, 4, 5]);

    // Shrink 5 -> 4 by removing the leader itself (through node 5), then
    // 4 -> 3 by removing a follower.
    let via = if leader == five { four } else { five };
    let membership = remove_and_stop(&mut cluster, via, leader).await;
    let (voters, learners) = voters_and_learners(&membership);
    assert_eq!((voters.len(), learners.len()), (4, 0), "{membership:?}");
    assert!(!voters.contains(&leader));
    assert_ne!(
        membership.leader,
        Some(leader),
        "the answer does not name the removed node as leader"
    );
    let new_leader = cluster.wait_for_leader().await;
    assert_ne!(new_leader, leader, "a removed leader steps down");
    wait_for_more_acks(&history, "appends after the leader's removal").await;

    let gone = cluster
        .followers()
        .into_iter()
        .find(|&id| id != leader && cluster.nodes.pid(id).ok().flatten().is_some())
        .expect("a running follower");
    let via = *voters
        .iter()
        .find(|&&id| id != gone)
        .expect("another voter");
    let membership = remove_and_stop(&mut cluster, via, gone).await;
    let (voters, _) = voters_and_learners(&membership);
    assert_eq!(voters.len(), 3, "{membership:?}");
    assert_eq!(membership.warning, None);
    wait_for_more_acks(&history, "appends with 3 voters again").await;

    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("a writer stops within one append's retry budget")
            .expect("a writer task failed");
    }
    let leader = cluster.wait_for_leader().await;
    let log = read_all(
        &cluster.client_for(leader),
        TOPIC,
        Consistency::Linearizable,
    )
    .await
    .expect("a linearizable read from the leader");
    let attempts = history.attempts();
    eprintln!(
        "{} appends sent, {} records in the log",
        attempts.len(),
        log.len()
    );
    assert_history_matches_log(&attempts, &log);
    for id in &voters {
        wait_for_local_log(&cluster, *id, TOPIC, &log).await;
        let status = cluster
            .client_for(*id)
            .cluster_status()
            .await
            .expect("a status");
        assert_eq!(
            status_voters(&status),
            voters,
            "node {id}'s view of the voters"
        );
    }
}

/// A raw request and its JSON answer.
async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragile_or_nonsensical_membership_changes_are_refused_and_change_nothing() {
    let cluster = TestCluster::start().await;
    let follower = cluster.followers()[0];
    let other = cluster.followers()[1];
    let base = cluster.base_url(follower);
    let client = http();
    let before = cluster
        .client_for(cluster.leader)
        .cluster_status()
        .await
        .expect("status");
    // A node may know the leader before it has the membership (a heartbeat
    // comes first): "nothing changed" below needs every node to start from
    // the leader's.
    for id in cluster.ids() {
        let node = cluster.client_for(id);
        eventually(
            &format!("node {id} holding the leader's members"),
            Duration::from_secs(10),
            || async {
                let members = node
                    .cluster_status()
                    .await
                    .map_err(|e| e.to_string())?
                    .members;
                if members == before.members {
                    Ok(())
                } else {
                    Err(format!("{members:?}"))
                }
            },
        )
        .await;
    }

    let (status, body) = send(client.delete(format!("{base}/v1/cluster/nodes/{other}"))).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("fragile_membership")),
        "{body}"
    );
    let (status, body) = send(client.delete(format!("{base}/v1/cluster/nodes/9"))).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("node_not_found")),
        "{body}"
    );
    let taken = json!({"id": other, "addr": cluster.nodes.addr(other).unwrap()});
    let (status, body) = send(client.post(format!("{base}/v1/cluster/nodes")).json(&taken)).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("already_member")),
        "{body}"
    );
    for bad in [
        json!({"id": 4}),
        json!({"id": 4, "addr": "nowhere"}),
        json!({"id": "x", "addr": "h:1"}),
    ] {
        let (status, body) = send(client.post(format!("{base}/v1/cluster/nodes")).json(&bad)).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &json!("invalid_body")),
            "{bad}: {body}"
        );
    }
    let (status, body) = send(
        client
            .post(format!("{base}/v1/cluster/leader"))
            .json(&json!({"id": 9})),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("node_not_found")),
        "{body}"
    );

    // Nothing changed: the same three voters, on every node.
    for id in cluster.ids() {
        let after = cluster
            .client_for(id)
            .cluster_status()
            .await
            .expect("status");
        assert_eq!(after.members, before.members, "node {id}'s members");
    }
    cluster
        .client()
        .append("after-refusals", vec![record("still writable")])
        .await
        .expect("the cluster still takes appends");

    // Forced, the same removal happens, with a warning.
    let (status, body) =
        send(client.delete(format!("{base}/v1/cluster/nodes/{other}?force=true"))).await;
    assert_eq!(status, 200, "{body}");
    let membership: MembershipResponse = serde_json::from_value(body).expect("a membership");
    assert_eq!(voters_and_learners(&membership).0.len(), 2);
    assert!(membership.warning.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transferring_leadership_moves_the_leader_to_the_named_node() {
    let mut cluster = TestCluster::start().await;
    let old_leader = cluster.leader;
    let followers = cluster.followers();
    let (to, via) = (followers[0], followers[1]);

    let membership = cluster
        .client_for(via)
        .transfer_leader(Some(to))
        .await
        .expect("a transfer through a follower");
    assert_eq!(membership.leader, Some(to));
    assert_eq!(
        cluster.wait_for_leader().await,
        to,
        "every node follows node {to}"
    );
    let ack = cluster
        .client_for(old_leader)
        .append("after-transfer", vec![record("x")])
        .await
        .expect("appends go on through the old leader");
    assert_eq!(ack.offsets, vec![Offset(0)]);

    // Without a target, leadership moves to some other voter.
    let membership = cluster
        .client()
        .transfer_leader(None)
        .await
        .expect("a transfer");
    let new_leader = membership.leader.expect("a leader after the transfer");
    assert_ne!(new_leader, to);
    assert_eq!(cluster.wait_for_leader().await, new_leader);
}

/// Adding a node nothing answers for times out when the request says, with
/// a message for a person (which node, how far it got, what to do) and no
/// debug output; as it says, the node stays a learner until removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_add_that_cannot_catch_up_says_so_in_words_within_its_timeout() {
    let cluster = TestCluster::start().await;
    let via = cluster.followers()[0];
    let port = ordo_launcher::ports::pick_free_ports(1).expect("a free port")[0];
    let addr = format!("127.0.0.1:{port}");
    let client = http();
    let add = client
        .post(format!("{}/v1/cluster/nodes", cluster.base_url(via)))
        .json(&json!({"id": 4, "addr": addr, "catch_up_timeout_ms": 2000}));
    let started = Instant::now();
    let (status, body) = send(add).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    assert_eq!(
        (status, &body["error"]["code"]),
        (504, &json!("catch_up_timeout")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().expect("a message");
    for words in [
        format!("node 4 at {addr} has not caught up within 2 s"),
        "it has replicated nothing of the leader's".to_string(),
        "It stays a learner".to_string(),
        "DELETE /v1/cluster/nodes/4".to_string(),
    ] {
        assert!(message.contains(&words), "{words:?} in {message:?}");
    }
    for internal in ["Some(", "None", "{", "BasicNode"] {
        assert!(!message.contains(internal), "{internal:?} in {message:?}");
    }

    let status = cluster
        .client_for(cluster.leader)
        .cluster_status()
        .await
        .expect("status");
    let learner = status.members.iter().find(|m| m.id == 4);
    assert!(
        learner.is_some_and(|m| !m.voter && m.addr == addr),
        "node 4 stays a learner: {:?}",
        status.members
    );
    let (status, body) =
        send(client.delete(format!("{}/v1/cluster/nodes/4", cluster.base_url(via)))).await;
    assert_eq!(
        status, 200,
        "removing the learner as the message says: {body}"
    );
    let membership: MembershipResponse = serde_json::from_value(body).expect("a membership");
    assert_eq!(voters_and_learners(&membership), (cluster.ids(), vec![]));
}
