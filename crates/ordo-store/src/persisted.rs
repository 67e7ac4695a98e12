//! The decided state on disk: which entries of `ordo_core::State` one apply
//! call changed ([`Changes`]), writing exactly those into its batch (and
//! handing the records it placed or dropped to the record log), copying
//! exactly those to the published state, writing a whole state (snapshot
//! install) and reading it back ([`load_state`]).
//!
//! Every part of `State` is here (topic metadata and config, key index, producer
//! table, consumer positions, work queues), each under its own key prefix from `keys`,
//! so a restarted node or one that installed a snapshot decides exactly as
//! the others do.

use std::collections::{BTreeMap, BTreeSet};

use ordo_core::{
    Command, CommandResult, GroupName, LogIndex, Outcome, ProducerId, QueueCommand, QueueOp, State,
    TopicName,
};
use serde::Serialize;

use crate::codec::{decode, encode};
use crate::error::StoreError;
use crate::keys;
use crate::kv::{Batch, Tree};
use crate::record_log::RecordLog;

/// What one `apply` call changed besides records and the last applied id.
#[derive(Default)]
pub(crate) struct Changes {
    topics: BTreeSet<TopicName>,
    keys: BTreeSet<(TopicName, String)>,
    producers: BTreeSet<ProducerId>,
    positions: BTreeSet<(GroupName, TopicName)>,
    queues: BTreeSet<(TopicName, GroupName)>,
    /// Topics deleted in this call (some may have been made again since):
    /// their key index entries and positions on disk are removed by `write`.
    deleted: BTreeSet<TopicName>,
    pub(crate) membership: bool,
}

impl Changes {
    /// Notes what `command` changed, as its `outcome` tells, and stages the
    /// records it placed (or removed) in the record log.
    pub(crate) fn stage(
        &mut self,
        batch: &mut Batch,
        records: &RecordLog,
        command: Command,
        outcome: &Outcome,
    ) -> Result<(), StoreError> {
        // A queue command that applied changed its queue (and may have
        // placed dead letters, below); a refused one changed nothing.
        if let (
            Command::Queue(QueueCommand {
                group, topic, op, ..
            }),
            CommandResult::Queue { .. },
        ) = (&command, &outcome.result)
        {
            self.queues.insert((topic.clone(), group.clone()));
            if let QueueOp::Put { config } = op {
                // Its dead-letter topic is made with it.
                self.topics.insert(config.dead_letter_topic.clone());
            }
        }
        // Only a fresh append or a dead letter places records; a duplicate
        // or a rejection changes nothing but the applied index.
        if let Some(placed) = &outcome.placed {
            records.stage_append(batch, &placed.topic, &placed.records)?;
            for key in placed
                .records
                .iter()
                .filter_map(|record| record.key.as_ref())
            {
                self.keys.insert((placed.topic.clone(), key.clone()));
            }
            if let Command::Append {
                producer: Some(producer),
                ..
            } = command
            {
                self.producers.insert(producer.id);
            }
            self.topics.insert(placed.topic.clone());
            return Ok(());
        }
        match (command, &outcome.result) {
            (Command::CommitOffset { group, topic, .. }, CommandResult::OffsetCommitted { .. }) => {
                self.positions.insert((group, topic));
            }
            (Command::PutTopic { topic, .. }, CommandResult::TopicPut { .. }) => {
                self.topics.insert(topic);
            }
            (
                Command::DeleteTopic { topic },
                CommandResult::TopicDeleted {
                    start_offset,
                    end_offset,
                    ..
                },
            ) => {
                records.stage_drop(batch, &topic, *start_offset..*end_offset)?;
                self.deleted.insert(topic.clone());
                self.topics.insert(topic);
            }
            // The record log staged its removals as cleanup swept and
            // truncated it, and forgotten keys came through `key_changed`;
            // the topic's start and counters changed.
            (Command::CleanTopic { topic, .. }, CommandResult::TopicCleaned { .. }) => {
                self.topics.insert(topic);
            }
            _ => {}
        }
        Ok(())
    }

    /// Notes that `key`'s entry in `topic`'s key index changed (or went).
    pub(crate) fn key_changed(&mut self, topic: &TopicName, key: &str) {
        self.keys.insert((topic.clone(), key.to_owned()));
    }

    /// Adds the changed entries' new values (or removals) to the batch.
    pub(crate) fn write(
        &self,
        batch: &mut Batch,
        tree: &Tree,
        state: &State,
    ) -> Result<(), StoreError> {
        // First what the disk holds of deleted topics; then the entries this
        // call changed, which include any made again after the delete.
        for topic in &self.deleted {
            for item in tree.scan_prefix(&keys::key_index_topic_prefix(topic)) {
                batch.remove(tree, &item?.0);
            }
            for item in tree.scan_prefix(&keys::position_prefix()) {
                let (key, _) = item?;
                if keys::from_position_key(&key)?.1 == *topic {
                    batch.remove(tree, &key);
                }
            }
            for item in tree.scan_prefix(&keys::queue_topic_prefix(topic)) {
                batch.remove(tree, &item?.0);
            }
        }
        for topic in &self.topics {
            let key = keys::topic_meta_key(topic);
            put(batch, tree, &key, "topic metadata", state.topics.get(topic))?;
        }
        for (topic, record_key) in &self.keys {
            let key = keys::key_index_key(topic, record_key);
            let value = state
                .keys
                .get(topic)
                .and_then(|index| index.get(record_key));
            put(batch, tree, &key, "key index entry", value)?;
        }
        for id in &self.producers {
            let key = keys::producer_key(id);
            put(batch, tree, &key, "producer", state.producers.get(id))?;
        }
        for (group, topic) in &self.positions {
            let key = keys::position_key(group, topic);
            put(
                batch,
                tree,
                &key,
                "position",
                state.position(group, topic).as_ref(),
            )?;
        }
        for (topic, group) in &self.queues {
            let key = keys::queue_key(topic, group);
            put(batch, tree, &key, "queue", state.queue_of(group, topic))?;
        }
        Ok(())
    }

    /// Copies the changed entries from `from` to `to`.
    pub(crate) fn copy(&self, from: &State, to: &mut State) {
        for topic in &self.deleted {
            to.keys.remove(topic);
            to.queues.remove(topic);
            to.positions.retain(|_, positions| {
                positions.remove(topic);
                !positions.is_empty()
            });
        }
        for topic in &self.topics {
            copy_entry(&from.topics, &mut to.topics, topic);
        }
        for (topic, record_key) in &self.keys {
            match from.keys.get(topic).and_then(|index| index.get(record_key)) {
                Some(key_state) => {
                    let index = to.keys.entry(topic.clone()).or_default();
                    index.insert(record_key.clone(), *key_state);
                }
                None => remove_nested(&mut to.keys, topic, record_key),
            }
        }
        for id in &self.producers {
            copy_entry(&from.producers, &mut to.producers, id);
        }
        for (group, topic) in &self.positions {
            match from.position(group, topic) {
                Some(offset) => {
                    let positions = to.positions.entry(group.clone()).or_default();
                    positions.insert(topic.clone(), offset);
                }
                None => remove_nested(&mut to.positions, group, topic),
            }
        }
        for (topic, group) in &self.queues {
            match from.queue_of(group, topic) {
                Some(queue) => {
                    let queues = to.queues.entry(topic.clone()).or_default();
                    queues.insert(group.clone(), queue.clone());
                }
                None => remove_nested(&mut to.queues, topic, group),
            }
        }
    }
}

/// Adds every entry of `state` to the batch (for a tree emptied first).
pub(crate) fn write_all(batch: &mut Batch, tree: &Tree, state: &State) -> Result<(), StoreError> {
    for (topic, topic_state) in &state.topics {
        let value = encode("topic metadata", topic_state)?;
        batch.insert(tree, &keys::topic_meta_key(topic), value);
    }
    for (topic, index) in &state.keys {
        for (record_key, key_state) in index {
            let value = encode("key index entry", key_state)?;
            batch.insert(tree, &keys::key_index_key(topic, record_key), value);
        }
    }
    for (id, producer) in &state.producers {
        batch.insert(tree, &keys::producer_key(id), encode("producer", producer)?);
    }
    for (group, positions) in &state.positions {
        for (topic, offset) in positions {
            let value = encode("position", offset)?;
            batch.insert(tree, &keys::position_key(group, topic), value);
        }
    }
    for (topic, group, queue) in state.all_queues() {
        let value = encode("queue", queue)?;
        batch.insert(tree, &keys::queue_key(topic, group), value);
    }
    Ok(())
}

/// Reads the decided state back from the state machine tree.
pub(crate) fn load_state(tree: &Tree, last_applied: Option<LogIndex>) -> Result<State, StoreError> {
    let mut state = State {
        last_applied,
        ..State::default()
    };
    for item in tree.scan_prefix(&keys::topic_meta_prefix()) {
        let (key, value) = item?;
        let topic = keys::topic_from_meta_key(&key)?;
        state
            .topics
            .insert(topic, decode("topic metadata", &value)?);
    }
    for item in tree.scan_prefix(&keys::key_index_prefix()) {
        let (key, value) = item?;
        let (topic, record_key) = keys::from_key_index_key(&key)?;
        let index = state.keys.entry(topic).or_default();
        index.insert(record_key, decode("key index entry", &value)?);
    }
    for item in tree.scan_prefix(&keys::producer_prefix()) {
        let (key, value) = item?;
        let id = keys::producer_from_key(&key)?;
        state.producers.insert(id, decode("producer", &value)?);
    }
    for item in tree.scan_prefix(&keys::position_prefix()) {
        let (key, value) = item?;
        let (group, topic) = keys::from_position_key(&key)?;
        let positions = state.positions.entry(group).or_default();
        positions.insert(topic, decode("position", &value)?);
    }
    for item in tree.scan_prefix(&keys::queue_prefix()) {
        let (key, value) = item?;
        let (topic, group) = keys::from_queue_key(&key)?;
        let queues = state.queues.entry(topic).or_default();
        queues.insert(group, decode("queue", &value)?);
    }
    Ok(state)
}

/// Writes `value` under `key`, or removes the key if there is none.
fn put<T: Serialize>(
    batch: &mut Batch,
    tree: &Tree,
    key: &[u8],
    what: &'static str,
    value: Option<&T>,
) -> Result<(), StoreError> {
    match value {
        Some(value) => batch.insert(tree, key, encode(what, value)?),
        None => batch.remove(tree, key),
    }
    Ok(())
}

fn copy_entry<K: Ord + Clone, V: Clone>(from: &BTreeMap<K, V>, to: &mut BTreeMap<K, V>, key: &K) {
    match from.get(key) {
        Some(value) => to.insert(key.clone(), value.clone()),
        None => to.remove(key),
    };
}

/// Removes `inner` under `outer`, and `outer` too once it holds nothing
/// (`State` keeps no empty maps).
fn remove_nested<A: Ord, B: Ord, V>(map: &mut BTreeMap<A, BTreeMap<B, V>>, outer: &A, inner: &B) {
    if let Some(nested) = map.get_mut(outer) {
        nested.remove(inner);
        if nested.is_empty() {
            map.remove(outer);
        }
    }
}
