//! The memory disk keeps sled's promises and no more: what was flushed
//! survives a crash, a crash keeps exactly the prefix of unflushed batches it
//! is told to, each batch whole, and a store from before a crash can never
//! touch the disk again.

use crate::kv::{Batch, Disk, Tree};
use crate::{MemDisk, StoreError};

const A: &str = "a";
const B: &str = "b";

/// A fresh incarnation on `disk` and its trees `a` and `b`.
fn incarnation(disk: &MemDisk) -> (Disk, Tree, Tree) {
    let opened = Disk::open_memory(disk);
    let a = opened.open_tree(A).expect("open tree a");
    let b = opened.open_tree(B).expect("open tree b");
    (opened, a, b)
}

fn read(tree: &Tree, key: &[u8]) -> Option<Vec<u8>> {
    tree.get(key).expect("read").map(|bytes| bytes.to_vec())
}

fn keys(tree: &Tree) -> Vec<Vec<u8>> {
    tree.iter()
        .keys()
        .map(|key| key.expect("scan").to_vec())
        .collect()
}

#[tokio::test]
async fn flushed_writes_survive_a_crash_and_unflushed_ones_are_lost() {
    let disk = MemDisk::new();
    let (opened, a, _) = incarnation(&disk);
    a.insert(b"flushed", b"1".to_vec()).expect("insert");
    opened.flush_blocking().expect("flush");
    a.insert(b"unflushed", b"2".to_vec()).expect("insert");
    a.remove(b"flushed").expect("remove");
    // Reads see the volatile layer over the durable one.
    assert_eq!(read(&a, b"unflushed"), Some(b"2".to_vec()));
    assert_eq!(read(&a, b"flushed"), None);
    assert_eq!(disk.unflushed_batches(), 2);

    disk.crash(0);

    let (_, a, _) = incarnation(&disk);
    assert_eq!(read(&a, b"flushed"), Some(b"1".to_vec()));
    assert_eq!(read(&a, b"unflushed"), None);
    assert_eq!(disk.unflushed_batches(), 0);
}

#[tokio::test]
async fn a_crash_keeps_exactly_the_first_k_unflushed_batches() {
    const WRITES: u8 = 4;
    for keep in 0..=usize::from(WRITES) + 1 {
        let disk = MemDisk::new();
        let (_, a, _) = incarnation(&disk);
        for i in 0..WRITES {
            a.insert(&[i], vec![i]).expect("insert");
        }
        assert_eq!(disk.unflushed_batches(), usize::from(WRITES));

        // Asking for more than there are keeps them all.
        disk.crash(keep);

        let (_, a, _) = incarnation(&disk);
        let expected: Vec<Vec<u8>> = (0..WRITES).take(keep).map(|i| vec![i]).collect();
        assert_eq!(keys(&a), expected, "keep {keep}");
    }
}

#[tokio::test]
async fn a_batch_over_two_trees_survives_a_crash_whole_or_not_at_all() {
    for keep in 0..=2 {
        let disk = MemDisk::new();
        let (opened, a, b) = incarnation(&disk);
        a.insert(b"before", b"0".to_vec()).expect("insert");
        let mut batch = Batch::default();
        batch.insert(&a, b"x", b"1".to_vec());
        batch.remove(&a, b"before");
        batch.insert(&b, b"y", b"2".to_vec());
        opened.commit(batch).expect("commit");
        assert_eq!(disk.unflushed_batches(), 2);

        disk.crash(keep);

        let (_, a, b) = incarnation(&disk);
        let (expected_a, expected_b): (Vec<&[u8]>, Vec<&[u8]>) = match keep {
            0 => (vec![], vec![]),
            1 => (vec![b"before"], vec![]),
            _ => (vec![b"x"], vec![b"y"]),
        };
        assert_eq!(keys(&a), expected_a, "keep {keep}");
        assert_eq!(keys(&b), expected_b, "keep {keep}");
    }
}

#[tokio::test]
async fn a_store_from_before_a_crash_can_never_touch_the_disk_again() {
    let disk = MemDisk::new();
    let (old, old_a, _) = incarnation(&disk);
    old_a.insert(b"kept", b"1".to_vec()).expect("insert");
    old.flush_blocking().expect("flush");

    disk.crash(0);
    let (_, new_a, _) = incarnation(&disk);

    let fenced = |result: Result<(), StoreError>| matches!(result, Err(StoreError::Fenced));
    assert!(fenced(old_a.insert(b"leak", b"2".to_vec())));
    assert!(fenced(old_a.remove(b"kept")));
    let mut batch = Batch::default();
    batch.insert(&old_a, b"leak", b"3".to_vec());
    assert!(fenced(old.commit(batch)));
    assert!(fenced(old.flush_blocking()));
    assert!(matches!(old_a.get(b"kept"), Err(StoreError::Fenced)));
    assert!(old_a.iter().any(|item| item.is_err()));

    assert_eq!(keys(&new_a), vec![b"kept".to_vec()]);
    assert_eq!(disk.unflushed_batches(), 0);
}

#[tokio::test]
async fn opening_a_new_store_fences_off_the_previous_one() {
    let disk = MemDisk::new();
    let (_, old_a, _) = incarnation(&disk);
    let (_, new_a, _) = incarnation(&disk);
    assert!(matches!(
        old_a.insert(b"leak", b"1".to_vec()),
        Err(StoreError::Fenced)
    ));
    new_a.insert(b"live", b"2".to_vec()).expect("insert");
    assert_eq!(keys(&new_a), vec![b"live".to_vec()]);
}

#[test]
fn both_media_scan_ranges_and_prefixes_in_key_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sled_disk = Disk::open_sled(dir.path(), crate::CACHE_CAPACITY_BYTES).expect("open sled");
    let memory = MemDisk::new();
    for disk in [sled_disk, Disk::open_memory(&memory)] {
        let tree = disk.open_tree(A).expect("open tree");
        for key in [&[0x02, 0xFF][..], &[0x01], &[0x03], &[0x02], &[0x02, 0x00]] {
            tree.insert(key, key.to_vec()).expect("insert");
        }
        let scanned = |iter: crate::kv::Iter| -> Vec<Vec<u8>> {
            iter.keys().map(|key| key.expect("scan").to_vec()).collect()
        };
        assert_eq!(
            scanned(tree.scan_prefix(&[0x02])),
            vec![vec![0x02], vec![0x02, 0x00], vec![0x02, 0xFF]]
        );
        assert_eq!(
            scanned(tree.range(vec![0x01]..vec![0x02, 0x00])),
            vec![vec![0x01], vec![0x02]]
        );
        assert_eq!(
            scanned(tree.range(vec![0x03]..vec![0x01])),
            Vec::<Vec<u8>>::new()
        );
        let last = tree.last().expect("last").map(|(key, _)| key.to_vec());
        assert_eq!(last, Some(vec![0x03]));
    }
}
