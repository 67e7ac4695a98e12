//! Tests of the health rule (`judge`) on observations made up by hand.

use super::*;

const TIMEOUT: Duration = Duration::from_millis(400);

fn ms(ms: u64) -> Option<Duration> {
    Some(Duration::from_millis(ms))
}

/// Node 1 of three voters, leading, acknowledged 10 ms ago, caught up.
fn healthy_leader() -> Observation {
    Observation {
        state: ServerState::Leader,
        leader: Some(1),
        quorum: QuorumCount {
            node: 1,
            reached: Some(3),
            voters: 3,
        },
        self_quorum: false,
        quorum_acked_ago: ms(10),
        leader_contact_ago: None,
        applied: Some(LogIndex(7)),
        committed: Some(LogIndex(7)),
        storage_failure: None,
        below_reserve: None,
    }
}

fn follower_of(leader: NodeId, contact_ago: Option<Duration>) -> Observation {
    Observation {
        state: ServerState::Follower,
        leader: Some(leader),
        quorum: QuorumCount {
            node: 2,
            reached: None,
            voters: 3,
        },
        quorum_acked_ago: None,
        leader_contact_ago: contact_ago,
        ..healthy_leader()
    }
}

#[test]
fn a_leader_acknowledged_by_a_quorum_within_the_timeout_is_ready() {
    let health = judge(&healthy_leader(), TIMEOUT);
    assert!(health.quorum && health.is_ready(), "{health:?}");
    assert_eq!(health.summary(), "ok");
    assert_eq!(health.quorum_contact_age, ms(10));
}

#[test]
fn a_leader_that_lost_its_quorum_is_not_ready_and_says_how_many_voters_it_reaches() {
    let lost = Observation {
        quorum: QuorumCount {
            node: 1,
            reached: Some(1),
            voters: 3,
        },
        quorum_acked_ago: ms(5240),
        ..healthy_leader()
    };
    let health = judge(&lost, TIMEOUT);
    assert!(!health.quorum && !health.is_ready());
    assert_eq!(
        health.summary(),
        "no quorum: node 1 reaches 1 of 3 voters, 2 needed for a quorum; \
         a quorum last acknowledged this leader 5.2 s ago"
    );
    let never = Observation {
        quorum_acked_ago: None,
        ..lost
    };
    assert!(judge(&never, TIMEOUT)
        .summary()
        .ends_with("none has acknowledged this leader yet"));
}

#[test]
fn the_only_voter_always_has_its_quorum() {
    let alone = Observation {
        self_quorum: true,
        quorum_acked_ago: ms(60_000),
        ..healthy_leader()
    };
    let health = judge(&alone, TIMEOUT);
    assert!(health.quorum && health.is_ready(), "{health:?}");
    assert_eq!(health.quorum_contact_age, Some(Duration::ZERO));
}

#[test]
fn a_follower_is_ready_only_while_the_leader_reaches_it() {
    assert!(judge(&follower_of(1, ms(30)), TIMEOUT).is_ready());
    let silent = judge(&follower_of(1, ms(1200)), TIMEOUT);
    assert!(!silent.quorum);
    assert_eq!(
        silent.summary(),
        "no quorum: leader 1 last reached this node 1.2 s ago (more than 400 ms); a leader \
         election needs 2 of the 3 voters running and in reach of each other"
    );
    let never = judge(&follower_of(1, None), TIMEOUT);
    assert!(never
        .summary()
        .starts_with("no quorum: leader 1 has not reached this node since it started; "));
}

#[test]
fn no_leader_known_is_not_ready_and_says_what_an_election_needs() {
    let orphan = Observation {
        state: ServerState::Candidate,
        leader: None,
        ..follower_of(1, ms(30))
    };
    let health = judge(&orphan, TIMEOUT);
    assert!(!health.quorum);
    assert_eq!(
        health.summary(),
        "no leader: none is known to this node; a leader election needs 2 of the 3 \
         voters running and in reach of each other"
    );
}

#[test]
fn a_node_in_touch_with_its_quorum_is_not_ready_until_it_applied_what_is_committed() {
    let behind = Observation {
        applied: Some(LogIndex(5)),
        committed: Some(LogIndex(9)),
        ..follower_of(1, ms(30))
    };
    let health = judge(&behind, TIMEOUT);
    assert!(health.quorum && !health.is_ready());
    assert_eq!(
        health.summary(),
        "catching up: applied log index 5 of 9 committed"
    );
}

#[test]
fn a_node_outside_any_membership_or_shutting_down_is_not_ready() {
    let joining = Observation {
        leader: None,
        quorum: QuorumCount {
            node: 4,
            reached: None,
            voters: 0,
        },
        ..follower_of(1, None)
    };
    assert_eq!(
        judge(&joining, TIMEOUT).not_ready,
        Some(NotReady::NoMembership)
    );
    let stopping = Observation {
        state: ServerState::Shutdown,
        ..healthy_leader()
    };
    assert_eq!(
        judge(&stopping, TIMEOUT).not_ready,
        Some(NotReady::ShuttingDown)
    );
}

#[test]
fn a_node_below_its_disk_reserve_is_in_touch_but_not_ready() {
    let low = Observation {
        below_reserve: Some("1.0 MiB free of 64.0 MiB, below the reserve of 8.0 MiB".into()),
        ..healthy_leader()
    };
    let health = judge(&low, TIMEOUT);
    assert!(health.quorum);
    assert!(health.summary().starts_with("disk space low: 1.0 MiB free"));
}

#[test]
fn a_new_leader_below_its_disk_reserve_names_the_disk_before_its_quorum() {
    let low = "1.0 MiB free of 64.0 MiB, below the reserve of 8.0 MiB".to_string();
    let new_leader = Observation {
        below_reserve: Some(low.clone()),
        quorum_acked_ago: None,
        ..healthy_leader()
    };
    assert_eq!(
        judge(&new_leader, TIMEOUT).not_ready,
        Some(NotReady::BelowReserve { space: low })
    );
    let stopping = Observation {
        state: ServerState::Shutdown,
        ..new_leader
    };
    assert_eq!(
        judge(&stopping, TIMEOUT).not_ready,
        Some(NotReady::ShuttingDown)
    );
}

#[test]
fn a_node_whose_storage_failed_is_not_ready_whatever_its_role_says() {
    let failed = Observation {
        storage_failure: Some("No space left on device".to_string()),
        ..healthy_leader()
    };
    let health = judge(&failed, TIMEOUT);
    assert!(!health.quorum);
    assert_eq!(
        health.not_ready,
        Some(NotReady::StorageFailed {
            cause: "No space left on device".to_string()
        })
    );
    assert!(health
        .summary()
        .starts_with("storage failed: No space left on device;"));
}
