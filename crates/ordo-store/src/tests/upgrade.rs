//! A store an earlier ordo wrote, with its records in the state machine
//! tree, opens with them in segment files: the same topics, records and
//! decided state, none of them left in the tree; and a move a crash
//! interrupted after its copy was made durable only finishes the removal.

use serde_json::json;

use super::support::{
    append, apply_via_openraft, decided, keyed, membership, normal, open_on, topic, TestConfig,
};
use crate::keys;
use crate::kv::{Batch, Disk};
use crate::record_log::RecordLog;
use crate::snapshot_file::SnapshotHome;
use crate::{MemDisk, StateMachineStore};

const ALL: usize = usize::MAX;

/// Applies a little history to a state machine whose records are in the
/// tree (ordo's layout before the segment files), flushed.
async fn write_old_layout(disk: &MemDisk) -> (ordo_core::State, Vec<ordo_core::Record>) {
    let on_disk = Disk::open_memory(disk);
    let records = RecordLog::open_in_tree(&on_disk).expect("tree record log");
    let mut sm =
        StateMachineStore::<TestConfig>::open(&on_disk, SnapshotHome::Tree, records).expect("open");
    apply_via_openraft(
        &mut sm,
        vec![
            membership(1, 1, &[1]),
            normal(1, 2, append("orders", (0..2500).map(|n| json!(n)))),
            normal(1, 3, keyed("users", "ann", json!("a"))),
        ],
    )
    .await;
    on_disk.flush_blocking().expect("flush");
    let orders = orders_in(&sm);
    (decided(&sm), orders)
}

/// Every record of topic "orders".
fn orders_in(sm: &StateMachineStore<TestConfig>) -> Vec<ordo_core::Record> {
    sm.read_records(&topic("orders"), ordo_core::Offset(0), ALL, ALL)
        .expect("read")
        .expect("topic")
        .records
}

fn tree_records(disk: &MemDisk) -> usize {
    let tree = Disk::open_memory(disk)
        .open_tree(keys::STATE_MACHINE_TREE)
        .expect("tree");
    tree.range(keys::RECORDS_FROM..).count()
}

#[tokio::test]
async fn records_kept_in_the_tree_move_into_segment_files_on_open() {
    let disk = MemDisk::new();
    let (state, orders) = write_old_layout(&disk).await;
    assert_eq!(tree_records(&disk), 2501);

    let (_log, sm) = open_on(&disk);
    assert_eq!(decided(&sm), state);
    let read = orders_in(&sm);
    assert_eq!(read, orders);
    drop(sm);
    assert_eq!(tree_records(&disk), 0, "none left in the tree");

    // Durable: a power loss now loses nothing of it.
    disk.crash(0);
    let (_log, sm) = open_on(&disk);
    assert_eq!(decided(&sm), state);
}

#[tokio::test]
async fn a_move_interrupted_after_its_copy_only_finishes_the_removal() {
    let disk = MemDisk::new();
    let (state, orders) = write_old_layout(&disk).await;
    let (_log, sm) = open_on(&disk);
    drop(sm);
    // As a crash part-way through the removal leaves it: the copy durable
    // and marked, some of the tree's records still there.
    let on_disk = Disk::open_memory(&disk);
    let tree = on_disk.open_tree(keys::STATE_MACHINE_TREE).expect("tree");
    let mut batch = Batch::default();
    for (offset, record) in orders.iter().enumerate().skip(1000) {
        let key = keys::record_key(&topic("orders"), ordo_core::Offset(offset as u64));
        batch.insert(
            &tree,
            &key,
            crate::codec::encode("record", record).expect("encode"),
        );
    }
    batch.insert(&tree, keys::RECORDS_MOVED_KEY, Vec::new());
    on_disk.commit(batch).expect("commit");
    on_disk.flush_blocking().expect("flush");

    let (_log, sm) = open_on(&disk);
    assert_eq!(decided(&sm), state);
    let read = orders_in(&sm);
    assert_eq!(read, orders, "copied once, not again from what was left");
    drop(sm);
    assert_eq!(tree_records(&disk), 0);
}
