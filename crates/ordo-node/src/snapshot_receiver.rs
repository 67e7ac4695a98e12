//! Receiving a snapshot from the leader, one chunk at a time (see
//! [`crate::rpc`]): each chunk is appended to a file (on the simulation's
//! memory disk, to memory) until the last arrives, which hands back the
//! complete snapshot for openraft to install.

use std::io::Write;
use std::sync::Weak;
use std::time::Duration;

use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf};
use tokio::sync::Mutex;

use crate::rpc::SnapshotHeader;
use crate::types::{StateMachine, TypeConfig};
use ordo_store::SnapshotWriter;

/// The one snapshot being received (a node has one leader at a time; a
/// first chunk from anyone starts over).
#[derive(Default)]
pub(crate) struct SnapshotReceiver {
    incoming: Mutex<Option<Incoming>>,
}

struct Incoming {
    meta: SnapshotMetaOf<TypeConfig>,
    writer: SnapshotWriter,
    /// When its last chunk came.
    last_chunk: tokio::time::Instant,
}

/// A snapshot half received with no chunk for this long was abandoned by
/// its sender (a leader that lost its leadership, or moved on): it is
/// dropped, and its file with it. Far longer than a chunk takes.
pub(crate) const ABANDONED_AFTER: Duration = Duration::from_secs(30);

/// Drops a snapshot half received once [`ABANDONED_AFTER`] passed without
/// a chunk; looks every tenth of that; ends with the node.
pub(crate) async fn drop_abandoned(node: Weak<crate::node::Node>) {
    loop {
        tokio::time::sleep(ABANDONED_AFTER / 10).await;
        let Some(node) = node.upgrade() else { return };
        node.snapshots().drop_idle(ABANDONED_AFTER);
    }
}

impl SnapshotReceiver {
    /// Drops a snapshot half received: its leader has moved on to sending
    /// entries (it abandoned the transfer, or sent it again from the start
    /// and it is in). Until a first chunk of another one came, such a
    /// leftover file held its disk space for good (hundreds of MiB on a
    /// node that had just been short of it).
    pub(crate) fn abandon(&self) {
        self.drop_if(|_| true, || "the leader sends entries instead".to_string());
    }

    /// Drops a snapshot half received whose last chunk came more than
    /// `idle` ago.
    pub(crate) fn drop_idle(&self, idle: Duration) {
        self.drop_if(
            |left| left.last_chunk.elapsed() > idle,
            || format!("no chunk came for {} s", idle.as_secs()),
        );
    }

    fn drop_if(&self, stale: impl Fn(&Incoming) -> bool, why: impl Fn() -> String) {
        if let Ok(mut incoming) = self.incoming.try_lock() {
            if incoming.as_ref().is_some_and(stale) {
                if let Some(left) = incoming.take() {
                    tracing::info!(
                        snapshot = %left.meta,
                        received_bytes = left.writer.len(),
                        "dropped a snapshot half received: {}",
                        why()
                    );
                }
            }
        }
    }

    /// Stores one chunk. Returns the complete snapshot with the last chunk,
    /// `None` before it, or why the sender must start over.
    pub(crate) async fn receive(
        &self,
        state_machine: &StateMachine,
        header: SnapshotHeader,
        chunk: &[u8],
    ) -> Result<Option<SnapshotOf<TypeConfig, ordo_store::SnapshotData>>, String> {
        let mut incoming = self.incoming.lock().await;
        if header.offset == 0 {
            let writer = state_machine.snapshot_writer().map_err(|e| e.to_string())?;
            *incoming = Some(Incoming {
                meta: header.meta.clone(),
                writer,
                last_chunk: tokio::time::Instant::now(),
            });
        }
        let current = match incoming.as_mut() {
            Some(current)
                if current.meta == header.meta && current.writer.len() == header.offset =>
            {
                current
            }
            other => {
                let had = other.as_ref().map(|c| (c.meta.to_string(), c.writer.len()));
                // A gap in the snapshot being received spoils it; a stray
                // chunk of another one (from a leader that lost its
                // leadership mid-transfer) must not spoil the transfer of
                // the leader that replaced it, or two leaders' transfers
                // restart each other without end.
                if other.as_ref().is_none_or(|c| c.meta == header.meta) {
                    *incoming = None;
                }
                return Err(format!(
                    "a chunk of snapshot {} at byte {} does not continue {had:?}",
                    header.meta, header.offset
                ));
            }
        };
        current.last_chunk = tokio::time::Instant::now();
        // A few MiB into the page cache; the sync happens in `finish`.
        if let Err(e) = current.writer.write_all(chunk) {
            *incoming = None;
            return Err(format!("cannot store a snapshot chunk: {e}"));
        }
        if current.writer.len() < header.total {
            return Ok(None);
        }
        let Some(done) = incoming.take() else {
            return Ok(None);
        };
        if done.writer.len() > header.total {
            return Err(format!(
                "snapshot {} is longer than the {} bytes announced",
                header.meta, header.total
            ));
        }
        let data = state_machine
            .finish_snapshot(done.writer)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Some(openraft::Snapshot {
            meta: done.meta,
            snapshot: data,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TypeConfig;
    use openraft::SnapshotMeta;

    fn header(offset: u64, total: u64, last_index: Option<u64>) -> SnapshotHeader {
        let meta = SnapshotMeta {
            last_log_id: last_index.map(|index| {
                use openraft::vote::RaftLeaderIdExt;
                let leader =
                    <TypeConfig as openraft::RaftTypeConfig>::LeaderId::new_committed(1, 1);
                openraft::type_config::alias::LogIdOf::<TypeConfig>::new(leader, index)
            }),
            ..Default::default()
        };
        SnapshotHeader {
            vote: openraft::Vote::new(1, 1),
            meta,
            offset,
            total,
        }
    }

    #[tokio::test]
    async fn chunks_in_order_make_the_snapshot_and_a_gap_or_a_stranger_starts_over() {
        let disk = ordo_store::MemDisk::new();
        let (_log, state_machine) =
            ordo_store::open_memory::<TypeConfig>(&disk).expect("open memory store");
        let receiver = SnapshotReceiver::default();
        // The first chunk of snapshot 5 is taken, and it asks for more.
        let start = || async {
            let first = receiver
                .receive(&state_machine, header(0, 6, Some(5)), b"abc")
                .await;
            assert!(matches!(first, Ok(None)), "{first:?}");
        };

        start().await;
        // A chunk that skips bytes is refused, and the snapshot so far is
        // dropped: the next chunk must be a first one.
        assert!(receiver
            .receive(&state_machine, header(4, 6, Some(5)), b"ef")
            .await
            .is_err());
        assert!(receiver
            .receive(&state_machine, header(3, 6, Some(5)), b"def")
            .await
            .is_err());

        start().await;
        // A stray chunk of another snapshot is refused, and the one being
        // received goes on.
        assert!(receiver
            .receive(&state_machine, header(3, 6, Some(7)), b"def")
            .await
            .is_err());
        assert!(matches!(
            receiver
                .receive(&state_machine, header(3, 6, Some(5)), b"def")
                .await,
            Ok(Some(_))
        ));

        start().await;
        // Idle for less than the bound: kept; for longer: dropped.
        receiver.drop_idle(Duration::from_secs(3600));
        assert!(receiver
            .receive(&state_machine, header(3, 6, Some(5)), b"def")
            .await
            .is_ok());
        start().await;
        receiver.drop_idle(Duration::ZERO);
        assert!(receiver
            .receive(&state_machine, header(3, 6, Some(5)), b"def")
            .await
            .is_err());

        start().await;
        // Entries from the leader drop a snapshot half received: the next
        // chunk must be a first one.
        receiver.abandon();
        assert!(receiver
            .receive(&state_machine, header(3, 6, Some(5)), b"def")
            .await
            .is_err());

        start().await;
        let done = receiver
            .receive(&state_machine, header(3, 6, Some(5)), b"def")
            .await
            .expect("last chunk")
            .expect("complete");
        assert_eq!(done.snapshot.to_vec().expect("read"), b"abcdef");
        assert_eq!(done.meta, header(0, 6, Some(5)).meta);
    }
}
