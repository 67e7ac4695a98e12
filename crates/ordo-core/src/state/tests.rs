use super::*;
use crate::testing::{
    append as append_records, append_n as append, commit, from_producer, keyed, only_if, record,
};
use serde_json::json;

#[test]
fn offsets_start_at_zero_and_are_contiguous_per_topic() {
    let mut state = State::default();
    let a = apply(&mut state, LogIndex(1), &append("a", 3)).result;
    let b = apply(&mut state, LogIndex(2), &append("a", 2)).result;
    assert_eq!(a.offsets(), vec![Offset(0), Offset(1), Offset(2)]);
    assert_eq!(b.offsets(), vec![Offset(3), Offset(4)]);
    assert_eq!(
        state.topics[&TopicName::new("a").unwrap()].end_offset,
        Offset(5)
    );
}

#[test]
fn topics_have_independent_offsets() {
    let mut state = State::default();
    apply(&mut state, LogIndex(1), &append("a", 2));
    let b = apply(&mut state, LogIndex(2), &append("b", 1)).result;
    let a = apply(&mut state, LogIndex(3), &append("a", 1)).result;
    assert_eq!(b.offsets(), vec![Offset(0)]);
    assert_eq!(a.offsets(), vec![Offset(2)]);
}

#[test]
fn noops_advance_the_applied_index_but_no_offsets() {
    let mut state = State::default();
    apply_noop(&mut state, LogIndex(1));
    let r = apply(&mut state, LogIndex(2), &append("a", 1)).result;
    assert_eq!(r.offsets(), vec![Offset(0)]);
    assert_eq!(state.last_applied, Some(LogIndex(2)));
}

#[test]
fn a_new_producer_id_answers_its_own_index_and_changes_nothing_else() {
    let mut state = State::default();
    apply(&mut state, LogIndex(1), &append("a", 1));
    let before = state.clone();
    let outcome = apply(&mut state, LogIndex(2), &Command::NewProducerId);
    assert_eq!(
        outcome,
        Outcome::from(CommandResult::Noop {
            log_index: LogIndex(2)
        })
    );
    assert_eq!(state.last_applied, Some(LogIndex(2)));
    state.last_applied = before.last_applied;
    assert_eq!(state, before);
}

#[test]
fn the_same_commands_give_the_same_state_and_results_on_every_replica() {
    // Every kind of command, accepted and rejected, interleaved.
    let cmds: Vec<_> = (0..60u64)
        .map(|i| match i % 6 {
            0 => append(["a", "b", "c"][(i / 6 % 3) as usize], (i % 4) as usize),
            1 => from_producer(append("a", 1), ["p", "q"][(i / 6 % 2) as usize], i / 24),
            2 => only_if(
                keyed("k", &format!("key{}", i % 5), json!(i)),
                Condition::KeyAbsent,
            ),
            3 => keyed("k", &format!("key{}", i % 7), json!(null)),
            4 => commit("g", ["a", "b", "nope"][(i / 6 % 3) as usize], i % 5, None),
            _ => commit("g", "a", i % 4, Some(Some(Offset(i % 3)))),
        })
        .collect();
    let run = || {
        let mut s = State::default();
        let results: Vec<_> = cmds
            .iter()
            .enumerate()
            .map(|(i, c)| apply(&mut s, LogIndex(i as u64 + 1), c).result)
            .collect();
        (s, results)
    };
    let (state, results) = run();
    assert_eq!((state.clone(), results.clone()), run());
    let rejected = results.iter().filter(|r| r.rejection().is_some()).count();
    assert!(
        rejected > 0 && rejected < results.len(),
        "both kinds exercised"
    );
    assert!(!state.producers.is_empty() && !state.positions.is_empty());
}

fn stamped(topic_name: &str, timestamp_ms: u64) -> Command {
    let mut command = append(topic_name, 1);
    if let Command::Append {
        timestamp_ms: t, ..
    } = &mut command
    {
        *t = timestamp_ms;
    }
    command
}

#[test]
fn timestamps_never_go_back_within_a_topic_even_if_a_leaders_clock_does() {
    let mut state = State::default();
    let t = TopicName::new("t").unwrap();
    apply(&mut state, LogIndex(1), &stamped("t", 1_000));
    assert_eq!(state.topics[&t].max_timestamp_ms, 1_000);
    // A new leader whose clock is behind: the record gets 1_000 again.
    apply(&mut state, LogIndex(2), &stamped("t", 900));
    assert_eq!(state.topics[&t].max_timestamp_ms, 1_000);
    apply(&mut state, LogIndex(3), &stamped("t", 1_200));
    assert_eq!(state.topics[&t].max_timestamp_ms, 1_200);
    // Another topic keeps its own clock.
    apply(&mut state, LogIndex(4), &stamped("u", 5));
    assert_eq!(
        state.topics[&TopicName::new("u").unwrap()].max_timestamp_ms,
        5
    );
}

#[test]
fn an_append_places_its_records_at_their_offsets_stamped_with_the_topics_clock() {
    let mut state = State::default();
    let t = TopicName::new("t").unwrap();
    apply(&mut state, LogIndex(1), &stamped("t", 1_000));
    // A leader whose clock is behind: its records get the topic's 1_000.
    let mut command = append_records(
        "t",
        vec![record(Some("k"), json!("v")), record(None, json!(null))],
    );
    if let Command::Append { timestamp_ms, .. } = &mut command {
        *timestamp_ms = 900;
    }
    let outcome = apply(&mut state, LogIndex(2), &command);
    let placed = outcome.placed.expect("a fresh append places records");
    assert_eq!(placed.topic, t);
    let Command::Append { records, .. } = command else {
        unreachable!("built as an append")
    };
    let expected: Vec<Record> = records
        .iter()
        .zip([Offset(1), Offset(2)])
        .map(|(record, offset)| record.clone().at(offset, 1_000))
        .collect();
    assert_eq!(placed.records, expected);
    assert_eq!(
        outcome.result.offsets(),
        vec![Offset(1), Offset(2)],
        "the result names the offsets the records were placed at"
    );
}

#[test]
fn only_a_fresh_append_places_records() {
    let mut state = State::default();
    let first = from_producer(append("t", 1), "p", 0);
    assert!(apply(&mut state, LogIndex(1), &first).placed.is_some());
    // A producer's retry, a rejected append, and commands without records.
    let nothing_placed = [
        first,
        only_if(append("t", 1), Condition::KeyAbsent),
        commit("g", "t", 1, None),
        put("t", TopicConfig::default()),
        delete("t"),
    ];
    for (command, index) in nothing_placed.iter().zip(2..) {
        let outcome = apply(&mut state, LogIndex(index), command);
        assert_eq!(outcome.placed, None, "{command:?} gave {}", outcome.result);
    }
}

fn put(topic_name: &str, config: TopicConfig) -> Command {
    Command::PutTopic {
        topic: TopicName::new(topic_name).unwrap(),
        config,
    }
}

fn delete(topic_name: &str) -> Command {
    Command::DeleteTopic {
        topic: TopicName::new(topic_name).unwrap(),
    }
}

#[test]
fn put_topic_creates_an_empty_topic_or_changes_only_the_config() {
    let mut state = State::default();
    let t = TopicName::new("t").unwrap();
    let compact = TopicConfig::new(crate::Cleanup::Compact, None, None).unwrap();
    let r = apply(&mut state, LogIndex(1), &put("t", compact)).result;
    assert_eq!(
        r,
        CommandResult::TopicPut {
            log_index: LogIndex(1)
        }
    );
    assert_eq!(state.topics[&t].config, compact);
    assert_eq!(state.topics[&t].end_offset, Offset(0));

    apply(
        &mut state,
        LogIndex(2),
        &keyed("t", "k", serde_json::json!(1)),
    );
    apply(
        &mut state,
        LogIndex(3),
        &keyed("t", "k", serde_json::json!(2)),
    );
    apply(
        &mut state,
        LogIndex(4),
        &keyed("t", "j", serde_json::json!(1)),
    );
    apply(&mut state, LogIndex(5), &put("t", TopicConfig::default()));
    assert_eq!(state.topics[&t].config, TopicConfig::default());
    assert_eq!(state.topics[&t].end_offset, Offset(3), "records stay");
}

#[test]
fn a_topic_made_by_its_first_append_has_the_default_config() {
    let mut state = State::default();
    apply(&mut state, LogIndex(1), &append("t", 1));
    let t = TopicName::new("t").unwrap();
    assert_eq!(state.topics[&t].config, TopicConfig::default());
}

#[test]
fn delete_topic_forgets_offsets_keys_and_positions_and_the_name_starts_again_at_zero() {
    let mut state = State::default();
    apply(&mut state, LogIndex(1), &keyed("t", "k", json!(1)));
    apply(&mut state, LogIndex(2), &append("t", 2));
    apply(&mut state, LogIndex(3), &append("other", 1));
    apply(&mut state, LogIndex(4), &commit("g", "t", 2, None));
    apply(&mut state, LogIndex(5), &commit("g", "other", 1, None));
    let r = apply(&mut state, LogIndex(6), &delete("t")).result;
    assert_eq!(
        r,
        CommandResult::TopicDeleted {
            log_index: LogIndex(6),
            start_offset: Offset(0),
            end_offset: Offset(3),
        }
    );
    let t = TopicName::new("t").unwrap();
    assert!(!state.topics.contains_key(&t) && !state.keys.contains_key(&t));
    let g = GroupName::new("g").unwrap();
    assert_eq!(state.position(&g, &t), None);
    assert_eq!(
        state.position(&g, &TopicName::new("other").unwrap()),
        Some(Offset(1))
    );

    let again = apply(&mut state, LogIndex(7), &append("t", 1)).result;
    assert_eq!(again.offsets(), vec![Offset(0)]);
}

#[test]
fn deleting_an_unknown_topic_is_rejected_and_changes_nothing() {
    let mut state = State::default();
    apply(&mut state, LogIndex(1), &append("a", 1));
    let before = state.clone();
    let r = apply(&mut state, LogIndex(2), &delete("nope")).result;
    assert!(matches!(
        r.rejection(),
        Some(Rejection::TopicNotFound { .. })
    ));
    assert_eq!(state.topics, before.topics);
}

#[test]
fn no_command_creates_a_topic_past_the_limit_and_existing_topics_carry_on() {
    let mut state = State::default();
    for i in 0..MAX_TOPICS {
        let topic = TopicName::new(format!("t{i}")).unwrap();
        state.topics.insert(topic, TopicState::default());
    }
    state.last_applied = Some(LogIndex(1));
    let before = state.clone();
    for (i, command) in [
        append("one-too-many", 1),
        put("one-too-many", TopicConfig::default()),
    ]
    .iter()
    .enumerate()
    {
        let r = apply(&mut state, LogIndex(2 + i as u64), command).result;
        assert!(
            matches!(r.rejection(), Some(Rejection::TooManyTopics { limit, .. }) if *limit == MAX_TOPICS as u64),
            "{r}"
        );
    }
    assert_eq!(state.topics, before.topics, "nothing was created");
    // Existing topics still take appends and configs; a delete makes room.
    assert_eq!(
        apply(&mut state, LogIndex(4), &append("t0", 1))
            .result
            .offsets(),
        vec![Offset(0)]
    );
    assert!(
        apply(&mut state, LogIndex(5), &put("t1", TopicConfig::default()))
            .result
            .rejection()
            .is_none()
    );
    apply(&mut state, LogIndex(6), &delete("t2"));
    let r = apply(&mut state, LogIndex(7), &append("one-too-many", 1)).result;
    assert_eq!(r.offsets(), vec![Offset(0)]);
    assert_eq!(state.topics.len(), MAX_TOPICS);
}

#[test]
fn a_result_reports_the_index_it_was_applied_at() {
    let mut state = State::default();
    let r = apply(&mut state, LogIndex(7), &append("a", 1)).result;
    assert_eq!(r.log_index(), LogIndex(7));
}
