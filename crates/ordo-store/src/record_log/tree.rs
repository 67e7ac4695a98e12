//! The record log in the state machine tree: each record under
//! `keys::record_key(topic, offset)`, its value the record's encoding, in
//! the same tree as the decided state. ordo's on-disk layout since the
//! start, on sled or the simulated disk alike. The only module that uses
//! record keys: one topic's records are one offset-ordered key range, so
//! every read is a range scan.

use std::ops::Range;

use ordo_core::{Offset, Record, TopicName};

use super::Encoded;
use crate::error::StoreError;
use crate::keys;
use crate::kv::{Batch, Disk, Tree};

/// Records as keys of the state machine tree.
#[derive(Clone)]
pub(crate) struct TreeLog {
    tree: Tree,
}

impl TreeLog {
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn open(disk: &Disk) -> Result<TreeLog, StoreError> {
        let tree = disk.open_tree(keys::STATE_MACHINE_TREE)?;
        Ok(TreeLog { tree })
    }

    pub(super) fn stage_append(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        records: &[Record],
    ) -> Result<(), StoreError> {
        for record in records {
            let key = keys::record_key(topic, record.offset);
            batch.insert(&self.tree, &key, crate::record_codec::encode(record)?);
        }
        Ok(())
    }

    pub(super) fn stage_remove(&self, batch: &mut Batch, topic: &TopicName, offset: Offset) {
        batch.remove(&self.tree, &keys::record_key(topic, offset));
    }

    pub(super) fn stage_truncate(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        offset: Offset,
    ) -> Result<(), StoreError> {
        let front = keys::record_key(topic, Offset(0))..keys::record_key(topic, offset);
        for key in self.tree.range(front).keys() {
            batch.remove(&self.tree, &key?);
        }
        Ok(())
    }

    pub(super) fn stage_drop(&self, batch: &mut Batch, topic: &TopicName, offsets: Range<Offset>) {
        // By offset, not by scanning the tree: records appended earlier in
        // this same batch are not in it yet. One removal per offset, so
        // dropping a huge topic makes a huge batch.
        for offset in offsets.start.0..offsets.end.0 {
            self.stage_remove(batch, topic, Offset(offset));
        }
    }

    pub(super) fn stage_import(
        &self,
        batch: &mut Batch,
        topic: &TopicName,
        offset: Offset,
        encoded: Vec<u8>,
    ) {
        batch.insert(&self.tree, &keys::record_key(topic, offset), encoded);
    }

    pub(super) fn stage_clear(&self, batch: &mut Batch) -> Result<(), StoreError> {
        for key in self.tree.range(keys::RECORDS_FROM..).keys() {
            batch.remove(&self.tree, &key?);
        }
        Ok(())
    }

    pub(super) fn encoded(&self, topic: &TopicName, range: Range<Offset>) -> Encoded {
        // An empty or inverted range is an empty key range: no read at all.
        let keys = keys::record_key(topic, range.start)..keys::record_key(topic, range.end);
        Box::new(self.tree.range(keys).values())
    }

    #[cfg(test)]
    pub(super) fn held(
        &self,
    ) -> Result<std::collections::BTreeMap<TopicName, Vec<Offset>>, StoreError> {
        let mut held = std::collections::BTreeMap::<_, Vec<_>>::new();
        for key in self.tree.range(keys::RECORDS_FROM..).keys() {
            let (topic, offset) = keys::from_record_key(&key?)?;
            held.entry(topic).or_default().push(offset);
        }
        Ok(held)
    }
}
