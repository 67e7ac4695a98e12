use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::BasicNode;
use tokio::time::Instant;

use super::*;
use crate::testing::{leading_alone_with, InProcessPeers};
use crate::NodeConfig;
use ordo_api::{EventDetail, EventKind, FollowerProgress};

fn member(id: NodeId, voter: bool) -> Member {
    Member {
        id,
        addr: format!("node-{id}:1"),
        voter,
    }
}

fn view(id: NodeId, role: &str, term: u64, followers: Vec<FollowerProgress>) -> OwnView {
    OwnView {
        node_id: id,
        role: role.to_string(),
        leader: Some(1),
        term,
        members: Vec::new(),
        last_log_index: Some(10),
        commit_index: Some(10),
        last_applied_index: Some(9),
        snapshot_index: None,
        purged_index: None,
        followers,
        quorum: true,
        quorum_contact_age_ms: Some(0),
        ready: true,
        health: "ok".into(),
    }
}

fn lagging(id: NodeId, lag_entries: u64) -> FollowerProgress {
    FollowerProgress {
        id,
        matched_index: Some(10 - lag_entries),
        lag_entries: Some(lag_entries),
    }
}

#[test]
fn each_member_shows_its_own_answer_and_the_leaders_lag_for_it() {
    let members = [member(3, false), member(1, true), member(2, true)];
    let answers = BTreeMap::from([
        (
            1,
            Ok(view(1, "leader", 4, vec![lagging(2, 0), lagging(3, 7)])),
        ),
        (2, Ok(view(2, "follower", 4, Vec::new()))),
        (3, Err("no answer within 500ms".to_string())),
    ]);
    let views = node_views(&members, &answers, Some(1));
    assert_eq!(views.iter().map(|v| v.id).collect::<Vec<_>>(), [1, 2, 3]);
    let [leader, follower, silent] = &views[..] else {
        panic!("three views: {views:?}")
    };
    assert_eq!(leader.role.as_deref(), Some("leader"));
    assert_eq!(leader.lag_entries, Some(0));
    assert_eq!(follower.role.as_deref(), Some("follower"));
    assert_eq!(follower.last_applied_index, Some(9));
    assert_eq!((follower.reachable, &follower.error), (true, &None));
    assert_eq!(follower.lag_entries, Some(0));
    // Silent, yet the leader knows how far behind it is.
    assert!(!silent.reachable && !silent.voter);
    assert_eq!(silent.error.as_deref(), Some("no answer within 500ms"));
    assert_eq!((silent.role.as_deref(), silent.term), (None, None));
    assert_eq!(silent.lag_entries, Some(7));
}

#[test]
fn lag_comes_from_the_leader_of_the_highest_term_or_is_unknown() {
    let members = [member(1, true), member(2, true)];
    // Node 1 still thinks it leads term 3; node 2 leads term 4.
    let answers = BTreeMap::from([
        (1, Ok(view(1, "leader", 3, vec![lagging(2, 5)]))),
        (2, Ok(view(2, "leader", 4, vec![lagging(1, 2)]))),
    ]);
    let lags = |believed| -> Vec<_> {
        node_views(&members, &answers, believed)
            .iter()
            .map(|v| v.lag_entries)
            .collect()
    };
    assert_eq!(lags(Some(1)), [Some(2), Some(0)]);
    // Two leaders of one term (as in-process nodes leading clusters of
    // their own): the one the asking node believes in.
    let mut tied = answers.clone();
    tied.insert(1, Ok(view(1, "leader", 4, vec![lagging(2, 5)])));
    let tied_lags = |believed| -> Vec<_> {
        node_views(&members, &tied, believed)
            .iter()
            .map(|v| v.lag_entries)
            .collect()
    };
    assert_eq!(tied_lags(Some(1)), [Some(0), Some(5)]);
    assert_eq!(tied_lags(Some(2)), [Some(2), Some(0)]);

    let leaderless = BTreeMap::from([(1, Ok(view(1, "candidate", 5, Vec::new())))]);
    let views = node_views(&members, &leaderless, None);
    assert!(views.iter().all(|v| v.lag_entries.is_none()));
    assert_eq!(views[1].error.as_deref(), Some("not asked"));
}

/// Three in-process nodes, each leading a cluster of its own, with `b`
/// and `c` (and `d`, whose address answers nothing) learners in `a`'s
/// membership; `a` reaches them over `peers`.
async fn three_nodes() -> (Arc<InProcessPeers>, [Arc<Node>; 3]) {
    let peers = Arc::new(InProcessPeers::carrying(&[
        RpcKind::NodeStatus,
        RpcKind::Events,
    ]));
    let start = |id: NodeId| {
        let peers = peers.clone();
        leading_alone_with(
            move |config| {
                let addr = format!("node-{id}:1");
                NodeConfig {
                    id,
                    advertise_addr: addr.clone(),
                    ..config
                }
                .with_peers(BTreeMap::from([(id, addr)]))
            },
            peers,
        )
    };
    let a = start(1).await;
    let (b, c) = (start(2).await, start(3).await);
    peers.register(BTreeMap::from([
        ("node-2:1".to_string(), b.clone()),
        ("node-3:1".to_string(), c.clone()),
    ]));
    for id in [2, 3, 4] {
        a.raft()
            .add_learner(id, BasicNode::new(format!("node-{id}:1")), false)
            .await
            .expect("a learner is added");
    }
    (peers, [a, b, c])
}

#[tokio::test]
async fn every_member_answers_for_itself_and_a_stopped_one_costs_one_timeout() {
    let (peers, [a, _b, _c]) = three_nodes().await;

    let views = a.cluster_nodes().await;
    assert_eq!(views.iter().map(|v| v.id).collect::<Vec<_>>(), [1, 2, 3, 4]);
    for view in &views[..3] {
        assert!(view.reachable, "{view:?}");
        // Each leads its own cluster of one: its own answer, not a's.
        assert_eq!(view.role.as_deref(), Some("leader"), "{view:?}");
        assert_eq!(view.leader, Some(view.id), "{view:?}");
        assert_eq!(view.ready, Some(true), "{view:?}");
    }
    assert_eq!(views[0].lag_entries, Some(0), "a leads");
    assert!(views[1].lag_entries.is_some(), "a's progress for b");
    let nowhere = &views[3];
    assert!(!nowhere.reachable && !nowhere.voter);
    assert!(nowhere
        .error
        .as_deref()
        .unwrap()
        .contains("connection refused"));

    // Two members hang: both asked at once, so one timeout, not two.
    peers.stop("node-2:1");
    peers.stop("node-3:1");
    let asked = Instant::now();
    let views = a.cluster_nodes().await;
    let took = asked.elapsed();
    assert!(took >= MEMBER_ANSWER_TIMEOUT, "{took:?}");
    assert!(took < MEMBER_ANSWER_TIMEOUT * 2, "{took:?}");
    for view in &views[1..3] {
        assert!(!view.reachable, "{view:?}");
        assert!(view.role.is_none() && view.term.is_none(), "{view:?}");
        assert!(
            view.error.as_deref().unwrap().contains("no answer"),
            "{view:?}"
        );
    }
    assert!(views[0].reachable);
}

fn note(node: &Node, message: &str) {
    node.record_event(
        EventKind::Compaction,
        message.to_string(),
        EventDetail::default(),
    );
}

/// The events `a` gathers that the test recorded, as `(node, message)`.
async fn noted(a: &Node, limit: usize, after: Option<u64>) -> Vec<(NodeId, String)> {
    a.cluster_events(limit, after)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Compaction)
        .map(|e| (e.node_id, e.message))
        .collect()
}

#[tokio::test]
async fn every_members_events_are_merged_by_time_and_a_stopped_ones_left_out() {
    let (peers, [a, b, c]) = three_nodes().await;
    let tick = || tokio::time::sleep(std::time::Duration::from_millis(3));
    for (node, message) in [(&b, "b1"), (&a, "a1"), (&c, "c1"), (&a, "a2"), (&b, "b2")] {
        note(node, message);
        tick().await;
    }
    let all = noted(&a, 100, None).await;
    let expected = [(2, "b1"), (1, "a1"), (3, "c1"), (1, "a2"), (2, "b2")]
        .map(|(id, message)| (id, message.to_string()));
    assert_eq!(all, expected);
    assert_eq!(noted(&a, 1000, None).await.len(), 5, "each event once");
    let newest: Vec<_> = a.cluster_events(2, None).await;
    assert_eq!(newest.len(), 2);
    assert_eq!(newest[1].message, "b2");

    // `after` is a's own seq: it hides a's earlier events only.
    let a1 = a
        .events()
        .recent(1000, None)
        .into_iter()
        .find(|e| e.message == "a1")
        .expect("a1 is kept");
    let after_a1 = noted(&a, 100, Some(a1.seq)).await;
    assert_eq!(
        after_a1,
        [(2, "b1"), (3, "c1"), (1, "a2"), (2, "b2")].map(|(id, m)| (id, m.to_string()))
    );

    peers.stop("node-3:1");
    let asked = Instant::now();
    let without_c = noted(&a, 100, None).await;
    assert!(asked.elapsed() < MEMBER_ANSWER_TIMEOUT * 2);
    assert_eq!(
        without_c,
        [(2, "b1"), (1, "a1"), (1, "a2"), (2, "b2")].map(|(id, m)| (id, m.to_string()))
    );
}

#[tokio::test]
async fn adding_learners_is_a_membership_event_in_words_and_in_full() {
    let (_peers, [a, _b, _c]) = three_nodes().await;
    let kinds = |events: &[Event]| events.iter().map(|e| e.kind).collect::<Vec<_>>();
    // The watch looks at the metrics as they change: bounded wait.
    let mut events = Vec::new();
    for _ in 0..100 {
        events = a.events().recent(1000, None);
        if kinds(&events).contains(&EventKind::MembershipChanged)
            && events
                .iter()
                .any(|e| e.detail.members.as_ref().is_some_and(|m| m.len() == 4))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let with_learners = events
        .iter()
        .find(|e| e.detail.members.as_ref().is_some_and(|m| m.len() == 4))
        .unwrap_or_else(|| panic!("no membership with the three learners: {events:?}"));
    assert_eq!(
        with_learners.message,
        "the membership is now voter 1 and learners 2, 3, 4"
    );
    assert!(events.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    assert!(events.iter().all(|e| e.node_id == 1 && e.term >= 1));
}
