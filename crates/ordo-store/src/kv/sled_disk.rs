//! The production medium: sled, on real files. The only module that opens
//! a sled database or commits to one; reads go to sled directly from `kv`.
//!
//! sled flushes in write order and recovers a prefix of unflushed writes:
//! the contract `kv` states. A batch is atomic through a redo journal, not
//! sled's own batches: a sled batch or transaction writes its log buffer
//! out before and after it (`sync_file_range` each time, on sled's I/O
//! threads, all of which wake for each), which cost ordo about 15 % of its
//! appends per second. Instead [`commit`] writes the whole batch as one
//! value under the journal key (one insert, atomic, replacing the batch
//! before it), then each write on its own; [`open`] applies the writes of
//! the entry it finds again. A crash keeps a prefix of sled's writes, so it
//! keeps none of a batch's writes (nor its journal entry), or the entry
//! and some of them (the replay writes the rest), or all of them (the
//! replay writes them again: the same values, which nothing wrote since).
//! The entry stays until a commit that does not go through the journal (a
//! single write, or a batch too large for it) removes it first, since a
//! replay would otherwise undo that commit. That holds as long as commits
//! go one at a time (a lock) and no write outside a commit touches a key a
//! commit writes (only the Raft log's vote and committed and purged ids are
//! written outside one). A batch too large for one value (over
//! [`MAX_JOURNALED_BYTES`], a snapshot's install) goes as a sled batch or
//! transaction.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use sled::Transactional;

use super::Write;
use crate::error::{KvError, StoreError};

/// The tree and key of the last batch committed through the journal.
const JOURNAL_TREE: &str = "ordo-commit-journal";
const JOURNAL_KEY: &[u8] = b"last";

/// Batches larger than this when journaled go as sled batches: sled keeps a
/// value over a quarter of its segment as a blob file, and 0.34 leaks those.
pub(super) const MAX_JOURNALED_BYTES: usize = 1024 * 1024;

/// An open sled database and what commits to it share.
pub(crate) struct SledDisk {
    pub(super) db: sled::Db,
    journal: sled::Tree,
    /// Held for a whole commit: one batch at a time.
    committing: Mutex<Committer>,
}

/// What commits keep between them, under [`SledDisk::committing`].
#[derive(Default)]
struct Committer {
    /// The journal holds the last journaled batch (see the module doc).
    journal_held: bool,
    /// The trees commits wrote to, by name: sled's `open_tree` takes a
    /// lock and looks the name up each time.
    trees: HashMap<&'static str, sled::Tree>,
}

impl Committer {
    /// One of a commit's writes, on its own.
    fn write(&mut self, db: &sled::Db, write: &Write) -> Result<(), StoreError> {
        let tree = match self.trees.entry(write.tree) {
            Entry::Occupied(tree) => tree.into_mut(),
            Entry::Vacant(slot) => slot.insert(db.open_tree(write.tree).map_err(kv_error)?),
        };
        write_one(tree, &write.key, write.value.as_deref())
    }

    /// Removes the journal entry, if one is held: before a commit that does
    /// not replace it.
    fn drop_journal(&mut self, journal: &sled::Tree) -> Result<(), StoreError> {
        if self.journal_held {
            journal.remove(JOURNAL_KEY).map_err(kv_error)?;
            self.journal_held = false;
        }
        Ok(())
    }
}

/// sled's page cache limit, by default. sled's own default (1 GiB) is far
/// more than a node should pin in memory per process; records are read back
/// from disk. sled counts pages at their on-disk size, so the memory it
/// uses is a multiple of this (see `docs/operations.md`, "Memory and disk").
pub const CACHE_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

/// sled's log segment size. sled stores a tree page larger than a quarter
/// of a segment as a separate blob file, and sled 0.34 does not reliably
/// delete blob files it no longer needs (spacejam/sled#786): with the
/// default 512 KiB segments, pages of a few large Raft log entries became
/// blobs and a leader's disk grew by about a quarter of everything appended
/// even though its log was purged and its topics compacted. With 8 MiB
/// segments only values over 2 MiB become blobs.
pub const SEGMENT_SIZE_BYTES: usize = 8 * 1024 * 1024;

/// Opens (or creates) the database in `dir` with a page cache of
/// `cache_capacity` bytes. sled locks the directory: a second open fails
/// while any handle from the first is alive.
pub(super) fn open(dir: &Path, cache_capacity: u64) -> Result<SledDisk, StoreError> {
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(cache_capacity)
        .segment_size(SEGMENT_SIZE_BYTES)
        // Flushed only when the store says (after the records' files are
        // synced), never on a timer: the tree must never become durable
        // ahead of the segment files it points into.
        .flush_every_ms(None)
        .open()
        .map_err(|source| StoreError::Open {
            path: dir.to_path_buf(),
            source: KvError::from_sled(source),
        })?;
    let journal = db.open_tree(JOURNAL_TREE).map_err(kv_error)?;
    let disk = SledDisk {
        db,
        journal,
        committing: Mutex::new(Committer::default()),
    };
    replay(&disk)?;
    Ok(disk)
}

/// Applies the journaled batch again (see the module doc), then drops it.
fn replay(disk: &SledDisk) -> Result<(), StoreError> {
    let Some(entry) = disk.journal.get(JOURNAL_KEY).map_err(kv_error)? else {
        return Ok(());
    };
    for write in Journal::decode(&entry)? {
        apply(&disk.db, write.tree, write.key, write.value)?;
    }
    disk.journal.remove(JOURNAL_KEY).map_err(kv_error)?;
    Ok(())
}

/// Commits `writes` atomically, one commit at a time: alone if there is
/// one, through the journal if they fit it, else as one sled batch (one
/// tree) or transaction.
pub(super) fn commit(disk: &SledDisk, writes: Vec<Write>) -> Result<(), StoreError> {
    let mut committer = disk
        .committing
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let [write] = writes.as_slice() {
        committer.drop_journal(&disk.journal)?;
        return committer.write(&disk.db, write);
    }
    let journal = Journal::encode(&writes);
    if journal.len() > MAX_JOURNALED_BYTES {
        committer.drop_journal(&disk.journal)?;
        return commit_in_sled_batches(&disk.db, writes);
    }
    disk.journal
        .insert(JOURNAL_KEY, journal)
        .map_err(kv_error)?;
    committer.journal_held = true;
    writes
        .iter()
        .try_for_each(|write| committer.write(&disk.db, write))
}

/// One write on its own: `value` into `key` of `tree`, or the key's
/// removal.
fn apply(db: &sled::Db, tree: &[u8], key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
    write_one(&db.open_tree(tree).map_err(kv_error)?, key, value)
}

/// [`apply`] to a tree already open.
fn write_one(tree: &sled::Tree, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
    match value {
        Some(value) => tree.insert(key, value).map_err(kv_error)?,
        None => tree.remove(key).map_err(kv_error)?,
    };
    Ok(())
}

fn commit_in_sled_batches(db: &sled::Db, writes: Vec<Write>) -> Result<(), StoreError> {
    let mut batches: BTreeMap<&'static str, sled::Batch> = BTreeMap::new();
    for write in writes {
        let batch = batches.entry(write.tree).or_default();
        match write.value {
            Some(value) => batch.insert(write.key, value),
            None => batch.remove(write.key),
        }
    }
    let mut trees = Vec::with_capacity(batches.len());
    let mut tree_batches = Vec::with_capacity(batches.len());
    for (name, batch) in batches {
        trees.push(db.open_tree(name).map_err(kv_error)?);
        tree_batches.push(batch);
    }
    if let ([tree], [_]) = (trees.as_slice(), tree_batches.as_slice()) {
        let batch = tree_batches.pop().expect("one batch for one tree");
        tree.apply_batch(batch).map_err(kv_error)?;
        return Ok(());
    }
    trees
        .as_slice()
        .transaction(
            |views| -> sled::transaction::ConflictableTransactionResult<(), StoreError> {
                for (view, batch) in views.iter().zip(&tree_batches) {
                    view.apply_batch(batch)?;
                }
                Ok(())
            },
        )
        .map_err(|e| match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => kv_error(e),
        })
}

/// A sled failure as the store reports it ([`StoreError::Kv`]).
pub(super) fn kv_error(error: sled::Error) -> StoreError {
    StoreError::Kv(KvError::from_sled(error))
}

impl KvError {
    /// sled's error in the store's form: its I/O error kept, any other
    /// failure as sled words it.
    fn from_sled(error: sled::Error) -> KvError {
        match error {
            sled::Error::Io(error) => KvError::io(error),
            other => KvError::other(other.to_string()),
        }
    }
}

/// A batch's writes as one journal value: per write, the tree's name (u16
/// length), the key (u32 length), and 0 for a removal or 1 and the value
/// (u32 length); lengths little-endian.
struct Journal;

/// One write read back from the journal.
struct JournaledWrite<'a> {
    tree: &'a [u8],
    key: &'a [u8],
    value: Option<&'a [u8]>,
}

impl Journal {
    fn encode(writes: &[Write]) -> Vec<u8> {
        let len = writes
            .iter()
            .map(|w| 11 + w.tree.len() + w.key.len() + w.value.as_ref().map_or(0, Vec::len))
            .sum();
        let mut out = Vec::with_capacity(len);
        for write in writes {
            out.extend_from_slice(&(write.tree.len() as u16).to_le_bytes());
            out.extend_from_slice(write.tree.as_bytes());
            out.extend_from_slice(&(write.key.len() as u32).to_le_bytes());
            out.extend_from_slice(&write.key);
            match &write.value {
                None => out.push(0),
                Some(value) => {
                    out.push(1);
                    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
                    out.extend_from_slice(value);
                }
            }
        }
        out
    }

    fn decode(mut bytes: &[u8]) -> Result<Vec<JournaledWrite<'_>>, StoreError> {
        fn take<'a>(bytes: &mut &'a [u8], len: usize) -> Result<&'a [u8], StoreError> {
            let (taken, rest) = bytes
                .split_at_checked(len)
                .ok_or_else(|| StoreError::BadKey {
                    tree: JOURNAL_TREE,
                    detail: "the commit journal ends inside a write".into(),
                })?;
            *bytes = rest;
            Ok(taken)
        }
        let len = |bytes: &[u8]| u32::from_le_bytes(bytes.try_into().expect("4 bytes")) as usize;
        let mut writes = Vec::new();
        while !bytes.is_empty() {
            let tree_len = u16::from_le_bytes(take(&mut bytes, 2)?.try_into().expect("2 bytes"));
            let tree = take(&mut bytes, tree_len as usize)?;
            let key_len = len(take(&mut bytes, 4)?);
            let key = take(&mut bytes, key_len)?;
            let value = match take(&mut bytes, 1)? {
                [0] => None,
                _ => {
                    let value_len = len(take(&mut bytes, 4)?);
                    Some(take(&mut bytes, value_len)?)
                }
            };
            writes.push(JournaledWrite { tree, key, value });
        }
        Ok(writes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(tree: &'static str, key: &str, value: Option<&str>) -> Write {
        Write {
            tree,
            key: key.as_bytes().to_vec(),
            value: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    #[test]
    fn a_journal_round_trips_and_a_cut_one_is_refused() {
        let writes = vec![
            write("a", "k1", Some("v1")),
            write("bb", "", None),
            write("a", "k2", Some("")),
        ];
        let bytes = Journal::encode(&writes);
        let decoded = Journal::decode(&bytes).expect("decode");
        type Seen<'a> = (&'a [u8], &'a [u8], Option<&'a [u8]>);
        let seen: Vec<Seen> = decoded.iter().map(|w| (w.tree, w.key, w.value)).collect();
        assert_eq!(
            seen,
            vec![
                (&b"a"[..], &b"k1"[..], Some(&b"v1"[..])),
                (&b"bb"[..], &b""[..], None),
                (&b"a"[..], &b"k2"[..], Some(&b""[..])),
            ]
        );
        // Only a cut between writes decodes (to fewer writes).
        let between: Vec<usize> = (1..writes.len())
            .map(|n| Journal::encode(&writes[..n]).len())
            .collect();
        for cut in 1..bytes.len() {
            let decoded = Journal::decode(&bytes[..cut]);
            assert_eq!(decoded.is_ok(), between.contains(&cut), "cut at {cut}");
        }
    }

    /// Reads `key` of `tree` as text.
    fn get(disk: &SledDisk, tree: &str, key: &str) -> Option<String> {
        disk.db
            .open_tree(tree)
            .expect("tree")
            .get(key)
            .expect("get")
            .map(|v| String::from_utf8(v.to_vec()).expect("utf-8"))
    }

    fn reopen(dir: &Path) -> SledDisk {
        crate::tests::support::retry_while_locked(|| open(dir, CACHE_CAPACITY_BYTES))
    }

    #[test]
    fn a_journaled_batch_stays_until_a_commit_outside_the_journal_replaces_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let disk = open(dir.path(), CACHE_CAPACITY_BYTES).expect("open");
            let first = vec![write("t", "a", Some("1")), write("t", "b", Some("1"))];
            commit(&disk, first).expect("first batch");
            let second = vec![write("t", "a", Some("2")), write("u", "c", Some("2"))];
            let journaled = Journal::encode(&second);
            commit(&disk, second).expect("second batch");
            // The journal holds the last batch, not removed after it.
            let held = disk.journal.get(JOURNAL_KEY).expect("get").expect("held");
            assert_eq!(&held[..], &journaled[..]);
            // A single write goes outside the journal, so the entry goes
            // first: a replay of the second batch would undo it.
            commit(&disk, vec![write("t", "a", Some("3"))]).expect("single write");
            assert!(disk.journal.get(JOURNAL_KEY).expect("get").is_none());
            disk.db.flush().expect("flush");
        }
        let disk = reopen(dir.path());
        assert_eq!(get(&disk, "t", "a").as_deref(), Some("3"));
        assert_eq!(get(&disk, "t", "b").as_deref(), Some("1"));
        assert_eq!(get(&disk, "u", "c").as_deref(), Some("2"));
    }

    #[test]
    fn a_batch_too_large_for_the_journal_removes_the_entry_before_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let disk = open(dir.path(), CACHE_CAPACITY_BYTES).expect("open");
            let small = vec![write("t", "a", Some("1")), write("t", "b", Some("1"))];
            commit(&disk, small).expect("small batch");
            let big_value = "x".repeat(MAX_JOURNALED_BYTES);
            let big = vec![
                write("t", "a", Some(&big_value)),
                write("t", "c", Some("2")),
            ];
            commit(&disk, big).expect("large batch");
            assert!(disk.journal.get(JOURNAL_KEY).expect("get").is_none());
            disk.db.flush().expect("flush");
        }
        let disk = reopen(dir.path());
        assert_eq!(
            get(&disk, "t", "a").map(|v| v.len()),
            Some(MAX_JOURNALED_BYTES)
        );
        assert_eq!(get(&disk, "t", "c").as_deref(), Some("2"));
    }

    #[test]
    fn a_batch_cut_short_after_its_journal_entry_is_completed_at_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let disk = open(dir.path(), CACHE_CAPACITY_BYTES).expect("open");
            commit(
                &disk,
                vec![write("t", "old", Some("x")), write("u", "gone", Some("y"))],
            )
            .expect("commit");
            // A crash after the journal entry and the first write of the
            // next batch: sled kept that prefix of its writes.
            let next = vec![
                write("t", "k", Some("new")),
                write("u", "gone", None),
                write("u", "k2", Some("v2")),
            ];
            disk.journal
                .insert(JOURNAL_KEY, Journal::encode(&next))
                .expect("journal");
            apply(&disk.db, b"t", b"k", Some(b"new")).expect("first write");
            disk.db.flush().expect("flush");
        }
        let disk = reopen(dir.path());
        assert_eq!(get(&disk, "t", "old").as_deref(), Some("x"));
        assert_eq!(get(&disk, "t", "k").as_deref(), Some("new"));
        assert_eq!(get(&disk, "u", "gone"), None);
        assert_eq!(get(&disk, "u", "k2").as_deref(), Some("v2"));
        assert!(disk.journal.get(JOURNAL_KEY).expect("get").is_none());
    }
}
