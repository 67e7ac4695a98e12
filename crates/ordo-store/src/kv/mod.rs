//! The storage-medium seam: the few key-value operations the store performs
//! on its named trees, over one of two media. `sled_disk` is production's
//! (real files); `mem_disk` is the deterministic simulation's ([`MemDisk`]),
//! into which the simulation can inject I/O errors (`disk_faults`).
//! Every other module reaches the medium only through [`Disk`], [`Tree`] and
//! [`Batch`], so the simulation runs the store's own code.
//!
//! The contract both media keep, and the store's durability rules rely on:
//! - a write (an insert, a remove, a committed [`Batch`]) is readable once
//!   it returns (on sled a batch's writes become readable one by one while
//!   it commits: readers of the tree never need a batch's writes together,
//!   they read what a published state bounds);
//! - it is durable only once a later [`Disk::flush_blocking`] has returned;
//! - a crash keeps a prefix, in write order, of the writes not yet flushed,
//!   and a batch (even one spanning several trees) is in it whole or not at
//!   all (on sled, once reopened: `sled_disk` completes a cut batch);
//! - a flush that fails may have lost the writes it was to make durable,
//!   and a later flush that succeeds does not bring them back;
//! - keys iterate in byte order.

mod disk_faults;
mod mem_disk;
mod sled_disk;

use std::collections::HashSet;
use std::ops::{Bound, Deref, RangeBounds};
use std::path::Path;
use std::sync::Arc;

pub use disk_faults::{DiskArea, DiskError, DiskOp, InjectedError};
pub(crate) use disk_faults::{DiskFaults, Place};
pub use mem_disk::MemDisk;
pub(crate) use mem_disk::MemHandle;
pub use sled_disk::CACHE_CAPACITY_BYTES;
use sled_disk::{kv_error, SledDisk};

use crate::error::StoreError;
use mem_disk::MemIter;

/// One node's disk, as a store opened on it sees it. Cheap to clone.
#[derive(Clone)]
pub(crate) enum Disk {
    Sled(Arc<SledDisk>),
    /// One incarnation's handle on a [`MemDisk`].
    Memory(MemHandle),
}

impl Disk {
    /// Opens (or creates) the sled database in `dir`, with a page cache of
    /// `cache_capacity` bytes.
    pub(crate) fn open_sled(dir: &Path, cache_capacity: u64) -> Result<Disk, StoreError> {
        sled_disk::open(dir, cache_capacity).map(|disk| Disk::Sled(Arc::new(disk)))
    }

    /// Starts a new incarnation on `disk`, fencing off every earlier one.
    #[cfg(test)]
    pub(crate) fn open_memory(disk: &MemDisk) -> Disk {
        Disk::Memory(disk.open_incarnation())
    }

    pub(crate) fn open_tree(&self, name: &'static str) -> Result<Tree, StoreError> {
        let medium = match self {
            Disk::Sled(disk) => Medium::Sled(disk.db.open_tree(name).map_err(kv_error)?),
            Disk::Memory(handle) => Medium::Memory(handle.clone()),
        };
        Ok(Tree { name, medium })
    }

    /// Writes every write of `batch` as one atomic unit.
    pub(crate) fn commit(&self, mut batch: Batch) -> Result<(), StoreError> {
        if batch.writes.is_empty() {
            return Ok(());
        }
        batch.coalesce();
        match self {
            Disk::Sled(disk) => sled_disk::commit(disk, batch.writes),
            Disk::Memory(handle) => handle.commit(batch.writes),
        }
    }

    /// Runs `work` (long, synchronous store work: building or installing a
    /// snapshot) where it cannot hold up the async runtime: on tokio's
    /// blocking pool for sled, so Raft's heartbeats and the network keep
    /// running on the 2 worker threads of a 2-core node; inline on a memory
    /// disk, whose simulation must stay on its one deterministic thread.
    pub(crate) async fn run_blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce() -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        match self {
            Disk::Sled(_) => tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| StoreError::Blocking(e.to_string()))?,
            Disk::Memory(_) => work(),
        }
    }

    /// Makes every write made so far through any tree of this disk durable.
    /// Blocks (on sled): call it from the flusher's thread or the blocking
    /// pool, never from a runtime worker.
    pub(crate) fn flush_blocking(&self) -> Result<(), StoreError> {
        match self {
            Disk::Sled(disk) => {
                disk.db.flush().map_err(kv_error)?;
                Ok(())
            }
            Disk::Memory(handle) => handle.flush(),
        }
    }
}

/// A named, ordered key-value tree on a [`Disk`]. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Tree {
    name: &'static str,
    medium: Medium,
}

#[derive(Clone)]
enum Medium {
    Sled(sled::Tree),
    Memory(MemHandle),
}

impl Tree {
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        match &self.medium {
            Medium::Sled(tree) => Ok(tree.get(key).map_err(kv_error)?.map(Bytes::Sled)),
            Medium::Memory(handle) => Ok(handle.get(self.name, key)?.map(Bytes::Memory)),
        }
    }

    /// Inserts one key; atomic on its own, like a batch of one.
    pub(crate) fn insert(&self, key: &[u8], value: Vec<u8>) -> Result<(), StoreError> {
        match &self.medium {
            Medium::Sled(tree) => {
                tree.insert(key, value).map_err(kv_error)?;
                Ok(())
            }
            Medium::Memory(handle) => handle.commit(vec![Write::insert(self.name, key, value)]),
        }
    }

    /// Removes one key; atomic on its own, like a batch of one.
    pub(crate) fn remove(&self, key: &[u8]) -> Result<(), StoreError> {
        match &self.medium {
            Medium::Sled(tree) => {
                tree.remove(key).map_err(kv_error)?;
                Ok(())
            }
            Medium::Memory(handle) => handle.commit(vec![Write::remove(self.name, key)]),
        }
    }

    /// The entry with the greatest key.
    #[cfg(test)]
    pub(crate) fn last(&self) -> Result<Option<(Bytes, Bytes)>, StoreError> {
        match &self.medium {
            Medium::Sled(tree) => Ok(tree
                .last()
                .map_err(kv_error)?
                .map(|(key, value)| (Bytes::Sled(key), Bytes::Sled(value)))),
            Medium::Memory(handle) => Ok(handle
                .last(self.name)?
                .map(|(key, value)| (Bytes::Memory(key), Bytes::Memory(value)))),
        }
    }

    /// The entries whose keys lie in `range`, in key order. An empty or
    /// inverted range yields nothing (neither medium is asked for it).
    pub(crate) fn range<K: AsRef<[u8]>>(&self, range: impl RangeBounds<K>) -> Iter {
        let lower = range.start_bound().map(|key| key.as_ref().to_vec());
        let upper = range.end_bound().map(|key| key.as_ref().to_vec());
        if bounds_are_empty(&lower, &upper) {
            return Iter::Empty;
        }
        match &self.medium {
            Medium::Sled(tree) => Iter::Sled(tree.range((lower, upper))),
            Medium::Memory(handle) => Iter::Memory(handle.range(self.name, lower, upper)),
        }
    }

    /// Every entry, in key order.
    pub(crate) fn iter(&self) -> Iter {
        self.range::<&[u8]>(..)
    }

    /// The entries whose keys start with `prefix`, in key order.
    pub(crate) fn scan_prefix(&self, prefix: &[u8]) -> Iter {
        match prefix_successor(prefix) {
            Some(end) => self.range(prefix.to_vec()..end),
            None => self.range(prefix.to_vec()..),
        }
    }
}

/// The smallest key greater than every key starting with `prefix`, if any
/// (there is none when `prefix` is all `0xFF`).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// True if no key lies between the bounds.
fn bounds_are_empty(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(start), Bound::Included(end)) => start > end,
        (Bound::Included(start) | Bound::Excluded(start), Bound::Excluded(end))
        | (Bound::Excluded(start), Bound::Included(end)) => start >= end,
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
    }
}

/// Bytes read from a tree, without copying them out of the medium.
#[derive(Debug, Clone)]
pub(crate) enum Bytes {
    Sled(sled::IVec),
    Memory(Arc<[u8]>),
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Sled(bytes) => bytes,
            Bytes::Memory(bytes) => bytes,
        }
    }
}

/// Entries of a tree in key order, read lazily.
pub(crate) enum Iter {
    Empty,
    Sled(sled::Iter),
    Memory(MemIter),
}

impl Iterator for Iter {
    type Item = Result<(Bytes, Bytes), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Empty => None,
            Iter::Sled(iter) => Some(
                iter.next()?
                    .map(|(key, value)| (Bytes::Sled(key), Bytes::Sled(value)))
                    .map_err(kv_error),
            ),
            Iter::Memory(iter) => Some(
                iter.next()?
                    .map(|(key, value)| (Bytes::Memory(key), Bytes::Memory(value))),
            ),
        }
    }
}

impl Iter {
    pub(crate) fn keys(self) -> impl Iterator<Item = Result<Bytes, StoreError>> {
        self.map(|item| item.map(|(key, _)| key))
    }

    pub(crate) fn values(self) -> impl Iterator<Item = Result<Bytes, StoreError>> {
        self.map(|item| item.map(|(_, value)| value))
    }
}

/// Writes to one or more trees of one disk, committed atomically by
/// [`Disk::commit`]. Applied in order, so a later write to a key wins.
#[derive(Default)]
pub(crate) struct Batch {
    writes: Vec<Write>,
}

impl Batch {
    pub(crate) fn insert(&mut self, tree: &Tree, key: &[u8], value: Vec<u8>) {
        self.writes.push(Write::insert(tree.name, key, value));
    }

    pub(crate) fn remove(&mut self, tree: &Tree, key: &[u8]) {
        self.writes.push(Write::remove(tree.name, key));
    }

    /// Drops every write that a later one to the same key replaces, keeping
    /// the others in order. A batch commits whole, so no reader or crash
    /// sees the dropped ones: the batch means the same with fewer writes.
    /// An apply of many appends to one topic writes that topic's files key
    /// once per append; on sled each write left in is an insert of its own.
    fn coalesce(&mut self) {
        if self.writes.len() < 2 {
            return;
        }
        // Whether to keep each write, last write first: popped from the end,
        // they come back in the writes' order.
        let mut later: HashSet<(&str, &[u8])> = HashSet::with_capacity(self.writes.len());
        let mut keep: Vec<bool> = self
            .writes
            .iter()
            .rev()
            .map(|write| later.insert((write.tree, write.key.as_slice())))
            .collect();
        self.writes.retain(|_| keep.pop().unwrap_or(true));
    }
}

/// One write of a batch; `value` is `None` for a removal.
pub(crate) struct Write {
    tree: &'static str,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
}

impl Write {
    fn insert(tree: &'static str, key: &[u8], value: Vec<u8>) -> Write {
        Write {
            tree,
            key: key.to_vec(),
            value: Some(value),
        }
    }

    fn remove(tree: &'static str, key: &[u8]) -> Write {
        Write {
            tree,
            key: key.to_vec(),
            value: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write as (tree, key, value or none for a removal).
    type Described<'a> = (&'a str, &'a [u8], Option<&'a [u8]>);

    fn described(batch: &Batch) -> Vec<Described<'_>> {
        batch
            .writes
            .iter()
            .map(|write| (write.tree, write.key.as_slice(), write.value.as_deref()))
            .collect()
    }

    #[test]
    fn a_coalesced_batch_keeps_the_last_write_to_each_key_in_order() {
        let disk = Disk::open_memory(&MemDisk::new());
        let (a, b) = (disk.open_tree("a").unwrap(), disk.open_tree("b").unwrap());
        let mut batch = Batch::default();
        batch.insert(&a, b"k1", b"1".to_vec());
        batch.insert(&a, b"k2", b"2".to_vec());
        batch.insert(&b, b"k1", b"other tree".to_vec());
        batch.remove(&a, b"k1");
        batch.insert(&a, b"k2", b"3".to_vec());
        batch.insert(&a, b"k3", b"4".to_vec());
        batch.coalesce();
        assert_eq!(
            described(&batch),
            vec![
                ("b", &b"k1"[..], Some(&b"other tree"[..])),
                ("a", &b"k1"[..], None),
                ("a", &b"k2"[..], Some(&b"3"[..])),
                ("a", &b"k3"[..], Some(&b"4"[..])),
            ]
        );
    }

    #[test]
    fn prefix_successor_bounds_exactly_the_keys_with_the_prefix() {
        assert_eq!(prefix_successor(&[0x02]), Some(vec![0x03]));
        assert_eq!(prefix_successor(&[0x02, 0xFF]), Some(vec![0x03]));
        assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
    }

    #[test]
    fn empty_and_inverted_bounds_are_recognised() {
        let key = |byte: u8| vec![byte];
        assert!(bounds_are_empty(
            &Bound::Included(key(2)),
            &Bound::Excluded(key(2))
        ));
        assert!(bounds_are_empty(
            &Bound::Included(key(3)),
            &Bound::Included(key(2))
        ));
        assert!(!bounds_are_empty(
            &Bound::Included(key(2)),
            &Bound::Included(key(2))
        ));
        assert!(!bounds_are_empty(
            &Bound::Excluded(key(2)),
            &Bound::Unbounded
        ));
    }
}
