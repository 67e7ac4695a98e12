use super::*;

const SESSION: Duration = Duration::from_secs(10);

fn join(member_id: &str, client: &str) -> Join {
    Join {
        group: "g".into(),
        member_id: member_id.into(),
        client_id: client.into(),
        client_host: "/127.0.0.1".into(),
        session_timeout: SESSION,
        rebalance_timeout: Duration::from_secs(30),
        protocol_type: "consumer".into(),
        protocols: vec![
            ("range".into(), Bytes::from(format!("{client}-range"))),
            ("roundrobin".into(), Bytes::from(format!("{client}-rr"))),
        ],
    }
}

fn joined(delivery: &Delivery<u32>) -> (u32, i32, String, String, usize) {
    match delivery {
        Delivery::Join(
            waiter,
            JoinAnswer::Joined {
                generation,
                leader,
                member_id,
                members,
                ..
            },
        ) => (
            *waiter,
            *generation,
            leader.clone(),
            member_id.clone(),
            members.len(),
        ),
        other => panic!("not a join answer: {other:?}"),
    }
}

/// Three members join a new group within its initial delay; the leader's
/// assignment reaches each of them.
fn stable_group_of_three(now: Instant) -> (Coordinator<u32>, Vec<String>, i32) {
    let mut c = Coordinator::new(CoordinatorConfig::default(), "t1");
    assert!(
        c.join(join("", "a"), 1, now).is_empty(),
        "waits for more members"
    );
    assert!(c.join(join("", "b"), 2, now).is_empty());
    assert!(c.join(join("", "c"), 3, now).is_empty());
    let delay = CoordinatorConfig::default().initial_rebalance_delay;
    let answers = c.tick(now + delay);
    assert_eq!(answers.len(), 3);
    let answers: Vec<_> = answers.iter().map(joined).collect();
    let generation = answers[0].1;
    assert_eq!(generation, 1);
    let leader = answers[0].2.clone();
    assert!(answers.iter().all(|a| a.2 == leader && a.1 == generation));
    assert_eq!(
        answers.iter().filter(|a| a.4 == 3).count(),
        1,
        "only the leader is given the members"
    );
    let ids: Vec<String> = answers.iter().map(|a| a.3.clone()).collect();
    let later = now + delay;
    let followers: Vec<&String> = ids.iter().filter(|id| **id != leader).collect();
    assert!(c
        .sync("g", followers[0], generation, vec![], 10, later)
        .is_empty());
    assert!(c
        .sync("g", followers[1], generation, vec![], 11, later)
        .is_empty());
    let assignments = ids
        .iter()
        .map(|id| (id.clone(), Bytes::from(format!("for {id}"))))
        .collect();
    let synced = c.sync("g", &leader, generation, assignments, 12, later);
    assert_eq!(synced.len(), 3);
    for delivery in synced {
        let Delivery::Sync(
            _,
            SyncAnswer::Assigned {
                assignment,
                protocol,
                ..
            },
        ) = delivery
        else {
            panic!("not assigned: {delivery:?}");
        };
        assert_eq!(
            protocol, "range",
            "the leader's first choice, which all support"
        );
        assert!(ids.iter().any(|id| assignment == format!("for {id}")));
    }
    assert_eq!(c.describe("g").unwrap().state, GroupState::Stable);
    (c, ids, generation)
}

#[test]
fn members_join_and_the_leader_assigns() {
    stable_group_of_three(Instant::now());
}

#[test]
fn a_member_that_stops_heartbeating_is_removed_and_the_rest_rebalance() {
    let start = Instant::now();
    let (mut c, ids, generation) = stable_group_of_three(start);
    let mut now = start + Duration::from_secs(1);
    // Two keep heartbeating; the third went away.
    for _ in 0..12 {
        now += Duration::from_secs(1);
        for id in &ids[..2] {
            let beat = c.heartbeat("g", id, generation, now);
            if beat == Err(ResponseError::RebalanceInProgress) {
                continue;
            }
            assert_eq!(beat, Ok(()));
        }
        assert!(c.tick(now).is_empty(), "nobody waits on a join yet");
    }
    assert_eq!(
        c.heartbeat("g", &ids[0], generation, now),
        Err(ResponseError::RebalanceInProgress)
    );
    assert_eq!(
        c.heartbeat("g", &ids[2], generation, now),
        Err(ResponseError::UnknownMemberId)
    );
    assert!(
        c.join(join(&ids[0], "a"), 20, now).is_empty(),
        "waits for the other member"
    );
    let answers = c.join(join(&ids[1], "b"), 21, now);
    assert_eq!(
        answers.len(),
        2,
        "both rejoined: the rebalance completes at once"
    );
    assert!(answers.iter().map(joined).all(|a| a.1 == generation + 1));
    assert_eq!(
        c.check_commit("g", &ids[0], generation),
        Err(ResponseError::IllegalGeneration),
        "a commit from the old generation is refused"
    );
}

#[test]
fn a_rebalance_completes_at_its_deadline_without_members_that_did_not_rejoin() {
    let start = Instant::now();
    let (mut c, ids, generation) = stable_group_of_three(start);
    let now = start + Duration::from_secs(1);
    let (outcomes, _) = c.leave("g", &[ids[2].clone()], now);
    assert_eq!(outcomes, [Ok(())]);
    assert!(c.join(join(&ids[0], "a"), 30, now).is_empty());
    // ids[1] keeps heartbeating but never rejoins.
    let deadline = now + Duration::from_secs(30);
    assert_eq!(
        c.heartbeat("g", &ids[1], generation, deadline - Duration::from_secs(5)),
        Err(ResponseError::RebalanceInProgress)
    );
    let answers = c.tick(deadline);
    assert_eq!(answers.len(), 1);
    let (waiter, new_generation, leader, member, members) = joined(&answers[0]);
    assert_eq!((waiter, new_generation, members), (30, generation + 1, 1));
    assert_eq!(leader, member);
    assert_eq!(
        c.heartbeat("g", &ids[1], new_generation, deadline),
        Err(ResponseError::UnknownMemberId)
    );
}

#[test]
fn commits_are_checked_against_membership_and_generation() {
    let now = Instant::now();
    let mut c: Coordinator<u32> = Coordinator::new(CoordinatorConfig::default(), "t1");
    assert_eq!(
        c.check_commit("solo", "", -1),
        Ok(()),
        "a consumer that assigns itself"
    );
    assert_eq!(
        c.check_commit("solo", "someone", 3),
        Err(ResponseError::UnknownMemberId)
    );
    let (mut c2, ids, generation) = stable_group_of_three(now);
    assert_eq!(c2.check_commit("g", &ids[1], generation), Ok(()));
    assert_eq!(
        c2.check_commit("g", "", -1),
        Err(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        c2.check_commit("g", "stranger", generation),
        Err(ResponseError::UnknownMemberId)
    );
    assert!(c.join(join("", "z"), 1, now).is_empty());
    let cleared = c.clear();
    assert_eq!(
        cleared,
        vec![Delivery::Join(
            1,
            JoinAnswer::Refused(ResponseError::NotCoordinator)
        )]
    );
    assert!(c.list().is_empty());
    c2.leave("g", &ids, now);
    assert!(
        c2.describe("g").is_none(),
        "a group without members is forgotten"
    );
}

#[test]
fn bad_joins_are_refused_at_once() {
    let now = Instant::now();
    let mut c: Coordinator<u32> = Coordinator::new(CoordinatorConfig::default(), "t1");
    let refused = |d: Vec<Delivery<u32>>| match d.as_slice() {
        [Delivery::Join(_, JoinAnswer::Refused(e))] => *e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(c.join(join("ghost", "a"), 1, now)),
        ResponseError::UnknownMemberId
    );
    let short = Join {
        session_timeout: Duration::from_millis(10),
        ..join("", "a")
    };
    assert_eq!(
        refused(c.join(short, 2, now)),
        ResponseError::InvalidSessionTimeout
    );
    assert!(c.join(join("", "a"), 3, now).is_empty());
    let other_type = Join {
        protocol_type: "connect".into(),
        ..join("", "b")
    };
    assert_eq!(
        refused(c.join(other_type, 4, now)),
        ResponseError::InconsistentGroupProtocol
    );
    let no_common = Join {
        protocols: vec![("sticky".into(), Bytes::new())],
        ..join("", "c")
    };
    assert_eq!(
        refused(c.join(no_common, 5, now)),
        ResponseError::InconsistentGroupProtocol
    );
    let no_group = Join {
        group: String::new(),
        ..join("", "d")
    };
    assert_eq!(
        refused(c.join(no_group, 6, now)),
        ResponseError::InvalidGroupId
    );
}
