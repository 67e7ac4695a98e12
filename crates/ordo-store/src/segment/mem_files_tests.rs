//! Tests of the simulated file system's crash model: what a crash keeps, when
//! names are durable, failed syncs and writes, preallocation.

use super::*;
use crate::kv::{DiskArea, DiskError};

fn contents(fs: &MemFileSystem, id: FileId) -> Vec<u8> {
    let mut buf = vec![0; fs.len(id).expect("len") as usize];
    fs.read_exact_at(id, 0, &mut buf).expect("read");
    buf
}

#[test]
fn a_crash_keeps_synced_bytes_and_the_chosen_prefix_of_the_rest() {
    for keep in 0..=6 {
        let mut fs = MemFileSystem::default();
        let dir = Path::new("d");
        let path = dir.join("f");
        let id = fs.create(&path);
        fs.sync_dir(dir);
        fs.write_at(id, 0, b"ab").expect("write");
        fs.sync_data(id).expect("sync");
        fs.write_at(id, 2, b"cde").expect("write");
        fs.set_len(id, 4).expect("truncate");
        assert_eq!(fs.unsynced_bytes()[&path], 4);

        fs.crash(|_, _| keep);

        let id = fs.open(&path).expect("survives");
        let expected: &[u8] = match keep {
            0 => b"ab",
            1 => b"abc",
            2 => b"abcd",
            3 => b"abcde",
            _ => b"abcd",
        };
        assert_eq!(contents(&fs, id), expected, "keep {keep}");
    }
}

#[test]
fn names_are_durable_only_once_their_directory_is_synced() {
    let mut fs = MemFileSystem::default();
    let dir = Path::new("d");
    let (kept, renamed, unsynced) = (dir.join("kept"), dir.join("renamed"), dir.join("new"));
    let id = fs.create(&kept);
    fs.write_at(id, 0, b"x").expect("write");
    fs.sync_data(id).expect("sync");
    fs.sync_dir(dir);
    fs.rename(&kept, &renamed).expect("rename");
    fs.create(&unsynced);

    fs.crash(|_, _| u64::MAX);

    assert_eq!(fs.list_dir(dir), vec!["kept".to_owned()]);
    assert_eq!(contents(&fs, fs.open(&kept).expect("open")), b"x");
}

#[test]
fn a_failed_sync_loses_its_changes_even_after_a_later_sync_succeeds() {
    let mut fs = MemFileSystem::default();
    let dir = Path::new("raft-log");
    let path = dir.join("f");
    let id = fs.create(&path);
    fs.sync_dir(dir);
    fs.write_at(id, 0, b"ab").expect("write");
    fs.sync_data(id).expect("sync");
    fs.write_at(id, 2, b"cd").expect("write");
    fs.faults.fail_next_sync(DiskArea::RaftLog, DiskError::Io);

    let failed = fs.sync_data(id).expect_err("the armed sync fails");
    assert_eq!(failed.raw_os_error(), Some(5));
    assert_eq!(contents(&fs, id), b"abcd", "the page cache still has them");
    fs.write_at(id, 4, b"ef").expect("write");
    fs.sync_data(id).expect("the next sync succeeds");
    fs.crash(|_, _| u64::MAX);

    let id = fs.open(&path).expect("survives");
    assert_eq!(contents(&fs, id), b"ab\0\0ef");
}

#[test]
fn a_write_refused_for_a_full_disk_changes_nothing() {
    let mut fs = MemFileSystem::default();
    let records = fs.create(Path::new("records/t@0/0.log"));
    let log = fs.create(Path::new("raft-log/0.log"));
    fs.faults.fail_writes(DiskArea::Records, DiskError::NoSpace);

    let refused = fs.write_at(records, 0, b"x").expect_err("disk full");
    assert_eq!(refused.kind(), io::ErrorKind::StorageFull);
    assert!(fs.allocate(records, 4096).is_err());
    assert_eq!(fs.len(records).expect("len"), 0);
    fs.write_at(log, 0, b"y").expect("another area has room");
    fs.faults.stop_failing_writes();
    fs.write_at(records, 0, b"x").expect("space returned");
    assert_eq!(contents(&fs, records), b"x");
}

#[test]
fn a_preallocated_tail_reads_as_zeros_and_takes_no_memory() {
    let mut fs = MemFileSystem::default();
    let id = fs.create(Path::new("f"));
    fs.allocate(id, 1 << 30).expect("allocate");
    fs.write_at(id, 1, b"x").expect("write");
    assert_eq!(fs.len(id).expect("len"), 1 << 30);
    assert_eq!(fs.files[&id].current.bytes.len(), 2);
    let mut tail = [7; 3];
    fs.read_exact_at(id, 0, &mut tail).expect("read");
    assert_eq!(tail, [0, b'x', 0]);
}
