//! Both file media keep the seam's contract, and the memory disk crashes
//! its files as a real disk does: what was synced survives, of the rest a
//! chosen prefix per file (a torn write), names only once their directory
//! was synced, and nothing from before a crash can touch the disk again.
//! Both list a directory's subdirectories and remove one whole, durably.

use std::path::Path;

use super::support::Medium;
use crate::kv::Disk;
use crate::segment::Files;
use crate::{MemDisk, StoreError};

fn contents(files: &Files, path: &Path) -> Vec<u8> {
    let file = files.open(path).expect("open");
    let mut bytes = vec![0; file.len().expect("len") as usize];
    file.read_exact_at(0, &mut bytes).expect("read");
    bytes
}

#[test]
fn both_media_write_read_truncate_preallocate_rename_and_link() {
    for medium in Medium::both() {
        let files = medium.files();
        let dir = Path::new("d");
        files.create_dir_all(dir).expect("create dir");
        let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));

        let file = files.create(&a).expect("create");
        assert!(file.path().ends_with("d/a"), "{}", medium.name());
        file.write_at(0, b"hello").expect("write");
        file.write_at(5, b" world").expect("write");
        let mut buf = [0; 5];
        file.read_exact_at(6, &mut buf).expect("read");
        assert_eq!(&buf, b"world", "{}", medium.name());
        assert!(file.read_exact_at(8, &mut buf).is_err(), "past the end");

        file.preallocate(64).expect("preallocate");
        assert_eq!(file.len().expect("len"), 64, "{}", medium.name());
        let mut tail = [1; 4];
        file.read_exact_at(60, &mut tail)
            .expect("read the preallocated tail");
        assert_eq!(tail, [0; 4]);
        file.set_len(5).expect("truncate");
        file.sync_data().expect("sync");
        assert_eq!(contents(&files, &a), b"hello");

        files
            .create(&b)
            .expect("create")
            .write_at(0, b"old")
            .expect("write");
        files.rename(&a, &b).expect("rename over");
        files.hard_link(&b, &c).expect("link");
        assert!(files.hard_link(&b, &c).is_err(), "the link's name is taken");
        files.sync_dir(dir).expect("sync dir");
        assert_eq!(files.list_dir(dir).expect("list"), vec!["b", "c"]);
        assert_eq!(contents(&files, &c), b"hello", "{}", medium.name());

        files.remove(&b).expect("remove");
        assert_eq!(
            contents(&files, &c),
            b"hello",
            "a link outlives the other name"
        );
        let missing = files.open(&a).map(|_| ());
        assert!(
            matches!(&missing, Err(StoreError::File { path, .. }) if path.ends_with("d/a")),
            "{}: {missing:?}",
            medium.name()
        );
    }
}

#[test]
fn a_crash_keeps_what_was_synced_and_the_chosen_prefix_of_the_rest() {
    let disk = MemDisk::new();
    let files = Files::open_memory(&disk);
    let dir = Path::new("d");
    let path = dir.join("f");
    let file = files.create(&path).expect("create");
    files.sync_dir(dir).expect("sync dir");
    file.write_at(0, b"synced").expect("write");
    file.sync_data().expect("sync");
    file.write_at(6, b" and not").expect("write");
    assert_eq!(disk.unsynced_file_bytes()[&path], 8);

    disk.crash_with(0, |crashed, unsynced| {
        assert_eq!((crashed, unsynced), (path.as_path(), 8));
        4
    });

    assert_eq!(contents(&Files::open_memory(&disk), &path), b"synced and");
}

#[test]
fn a_plain_crash_keeps_no_unsynced_file_bytes() {
    let disk = MemDisk::new();
    let files = Files::open_memory(&disk);
    let dir = Path::new("d");
    let file = files.create(&dir.join("f")).expect("create");
    files.sync_dir(dir).expect("sync dir");
    file.write_at(0, b"lost").expect("write");

    disk.crash(usize::MAX);

    assert_eq!(contents(&Files::open_memory(&disk), &dir.join("f")), b"");
}

#[test]
fn names_survive_a_crash_only_once_their_directory_was_synced() {
    let disk = MemDisk::new();
    let files = Files::open_memory(&disk);
    let dir = Path::new("d");
    let (kept, renamed, unsynced) = (dir.join("kept"), dir.join("renamed"), dir.join("new"));
    let file = files.create(&kept).expect("create");
    file.write_at(0, b"data").expect("write");
    file.sync_data().expect("sync");
    files.sync_dir(dir).expect("sync dir");
    files.rename(&kept, &renamed).expect("rename");
    let new = files.create(&unsynced).expect("create");
    new.write_at(0, b"synced data, unsynced name")
        .expect("write");
    new.sync_data().expect("sync");

    disk.crash_with(0, |_, unsynced| unsynced);

    let files = Files::open_memory(&disk);
    assert_eq!(files.list_dir(dir).expect("list"), vec!["kept"]);
    assert_eq!(contents(&files, &kept), b"data");
}

#[tokio::test]
async fn one_crash_takes_down_the_trees_and_the_files_and_fences_both() {
    let disk = MemDisk::new();
    // One incarnation for both, as a store opened on the disk has.
    let trees = Disk::open_memory(&disk);
    let Disk::Memory(incarnation) = &trees else {
        unreachable!("a memory disk")
    };
    let files = Files::Memory(incarnation.clone());
    let tree = trees.open_tree("t").expect("open tree");
    let dir = Path::new("d");
    let file = files.create(&dir.join("f")).expect("create");
    files.sync_dir(dir).expect("sync dir");
    tree.insert(b"k", b"v".to_vec()).expect("insert");
    file.write_at(0, b"x").expect("write");

    disk.crash(0);

    let fenced = |result: Result<(), StoreError>| matches!(result, Err(StoreError::Fenced));
    assert!(fenced(file.write_at(1, b"y")));
    assert!(fenced(file.sync_data()));
    assert!(fenced(files.sync_dir(dir)));
    assert!(fenced(files.create(&dir.join("g")).map(|_| ())));
    assert!(fenced(tree.insert(b"k", b"w".to_vec())));
    let tree = Disk::open_memory(&disk).open_tree("t").expect("open tree");
    assert!(tree.get(b"k").expect("get").is_none());
    assert_eq!(contents(&Files::open_memory(&disk), &dir.join("f")), b"");
}

#[test]
fn both_media_list_subdirectories_and_remove_one_whole_durably() {
    for medium in Medium::both() {
        let files = medium.files();
        let root = Path::new("records");
        for dir in ["a@0", "b@1"] {
            let dir = root.join(dir);
            files.create_dir_all(&dir).expect("create dir");
            for name in ["x", "y"] {
                files.create(&dir.join(name)).expect("create");
            }
            files.sync_dir(&dir).expect("sync dir");
        }
        files.create(&root.join("plain")).expect("create");
        let subdirs = files.list_subdirs(root).expect("list");
        assert_eq!(subdirs, vec!["a@0", "b@1"], "{}", medium.name());

        files.remove_dir_all(&root.join("a@0")).expect("remove");
        files
            .remove_dir_all(&root.join("gone"))
            .expect("nothing to do");
        assert_eq!(files.list_subdirs(root).expect("list"), vec!["b@1"]);
        if let Medium::Memory(disk) = &medium {
            disk.crash(0);
            let files = medium.files();
            assert_eq!(files.list_subdirs(root).expect("list"), vec!["b@1"]);
        }
    }
}
