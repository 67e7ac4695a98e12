//! Tests of the membership rules: which changes are allowed, refused, or
//! allowed with a warning.

use super::*;

fn view(voters: &[NodeId], learners: &[NodeId]) -> MembershipView {
    let nodes = voters
        .iter()
        .chain(learners)
        .map(|&id| (id, format!("127.0.0.1:700{id}")))
        .collect();
    MembershipView {
        voters: voters.iter().copied().collect(),
        nodes,
        changing: false,
    }
}

#[test]
fn growing_three_to_five_one_at_a_time_needs_no_force() {
    let three = view(&[1, 2, 3], &[]);
    assert_eq!(
        plan_add(&three, 4, "127.0.0.1:7004", false, None),
        Ok(AddPlan::NewLearner)
    );
    let four = view(&[1, 2, 3, 4], &[]);
    assert_eq!(
        plan_add(&four, 5, "127.0.0.1:7005", false, None),
        Ok(AddPlan::NewLearner)
    );
    assert!(voter_count_warning(4).is_some());
    assert_eq!(voter_count_warning(5), None);
}

#[test]
fn shrinking_below_three_voters_is_refused_unless_forced() {
    let three = view(&[1, 2, 3], &[]);
    assert_eq!(
        check_remove(&three, 2, false),
        Err(MembershipError::Fragile {
            voters_before: 3,
            voters_after: 2
        })
    );
    assert_eq!(check_remove(&three, 2, true), Ok(()));
    assert_eq!(check_remove(&view(&[1, 2, 3, 4], &[]), 4, false), Ok(()));
    assert_eq!(check_remove(&view(&[1, 2, 3, 4, 5], &[]), 1, false), Ok(()));
}

#[test]
fn the_last_voter_cannot_be_removed_even_by_force() {
    assert_eq!(
        check_remove(&view(&[1], &[]), 1, true),
        Err(MembershipError::LastVoter { id: 1 })
    );
}

#[test]
fn a_second_voter_is_refused_unless_forced() {
    let one = view(&[1], &[]);
    assert!(matches!(
        plan_add(&one, 2, "h:1", false, None),
        Err(MembershipError::Fragile {
            voters_after: 2,
            ..
        })
    ));
    assert_eq!(
        plan_add(&one, 2, "h:1", true, None),
        Ok(AddPlan::NewLearner)
    );
}

#[test]
fn learners_come_and_go_without_touching_the_voter_count() {
    let v = view(&[1, 2, 3], &[4]);
    assert_eq!(check_remove(&v, 4, false), Ok(()));
    // An add that timed out left a learner: the same add resumes it.
    assert_eq!(
        plan_add(&v, 4, "127.0.0.1:7004", false, None),
        Ok(AddPlan::ResumeLearner)
    );
}

#[test]
fn members_unknown_ids_and_bad_input_are_refused() {
    let v = view(&[1, 2, 3], &[4]);
    assert!(matches!(
        plan_add(&v, 2, "127.0.0.1:7002", false, None),
        Err(MembershipError::AlreadyMember { id: 2, .. })
    ));
    assert!(matches!(
        plan_add(&v, 4, "127.0.0.1:9999", false, None),
        Err(MembershipError::AlreadyMember { id: 4, .. })
    ));
    assert_eq!(
        check_remove(&v, 9, true),
        Err(MembershipError::NodeNotFound { id: 9 })
    );
    for (id, addr) in [
        (0, "h:1"),
        (5, ""),
        (5, "h"),
        (5, ":1"),
        (5, "h:0"),
        (5, "h:x"),
        (5, "http://h:1"),
    ] {
        assert!(
            matches!(
                plan_add(&v, id, addr, true, None),
                Err(MembershipError::Invalid { .. })
            ),
            "{id} {addr:?}"
        );
    }
    assert!(matches!(
        plan_add(&v, 5, "h:1", false, Some(MAX_CATCH_UP_TIMEOUT_MS + 1)),
        Err(MembershipError::Invalid { .. })
    ));
}

#[test]
fn nothing_changes_while_a_change_is_under_way() {
    let mut v = view(&[1, 2, 3], &[]);
    v.changing = true;
    assert_eq!(
        plan_add(&v, 4, "h:1", false, None),
        Err(MembershipError::ChangeInProgress)
    );
    assert_eq!(
        check_remove(&v, 3, false),
        Err(MembershipError::ChangeInProgress)
    );
}

#[test]
fn leadership_goes_to_the_named_voter_or_the_most_caught_up_one() {
    let v = view(&[1, 2, 3], &[4]);
    let matched = BTreeMap::from([(2, Some(10)), (3, Some(12)), (4, Some(20))]);
    assert_eq!(transfer_target(&v, 1, Some(2), &matched), Ok(2));
    assert_eq!(transfer_target(&v, 1, None, &matched), Ok(3));
    let tied = BTreeMap::from([(2, Some(12)), (3, Some(12))]);
    assert_eq!(transfer_target(&v, 1, None, &tied), Ok(2));
    assert_eq!(
        transfer_target(&v, 1, Some(4), &matched),
        Err(MembershipError::NotAVoter { id: 4 })
    );
    assert_eq!(
        transfer_target(&v, 1, Some(7), &matched),
        Err(MembershipError::NodeNotFound { id: 7 })
    );
    assert_eq!(
        transfer_target(&view(&[1], &[]), 1, None, &matched),
        Err(MembershipError::NoTransferTarget)
    );
}

#[test]
fn a_catch_up_timeout_says_how_far_the_node_got_and_what_to_do_in_words() {
    let timeout = |matched| MembershipError::CatchUpTimeout {
        id: 4,
        addr: "127.0.0.1:7004".into(),
        timeout_ms: 60_000,
        matched,
        last_log_index: Some(32277),
    };
    assert_eq!(
        timeout(None).to_string(),
        "node 4 at 127.0.0.1:7004 has not caught up within 60 s: it has replicated nothing \
         of the leader's 32277 log entries (is it running and reachable from the leader?). \
         It stays a learner: send the same add again to keep waiting, or remove it \
         (DELETE /v1/cluster/nodes/4)"
    );
    let partway = timeout(Some(300)).to_string();
    assert!(
        partway.contains("it has replicated 300 of the leader's 32277 log entries"),
        "{partway}"
    );
    for message in [timeout(None).to_string(), partway] {
        for internal in ["Some(", "None", "{", "BasicNode"] {
            assert!(!message.contains(internal), "{internal} in {message}");
        }
    }
}

#[test]
fn a_learner_is_caught_up_once_it_has_its_own_entry_and_is_close_behind() {
    assert!(!caught_up(None, Some(10), 5));
    assert!(!caught_up(Some(4), Some(10), 5));
    assert!(caught_up(Some(5), Some(10), 5));
    assert!(!caught_up(Some(5), Some(6 + MAX_PROMOTION_LAG_ENTRIES), 5));
}
