//! Backups: the applied state exported as a snapshot stream (the same format
//! a follower is sent), and an empty store seeded from one.
//!
//! A restored store holds the backup's state machine as its current
//! snapshot and an empty Raft log whose purged point, committed point and
//! vote sit at the snapshot's last log id and term: to openraft it looks
//! exactly like a node that installed that snapshot, so a cluster of nodes
//! restored from the same backup elects a leader and goes on from there.

use openraft::storage::RaftStateMachine;
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, StoredMembershipOf, VoteOf};

use crate::error::StoreError;
use crate::snapshot;
use crate::snapshot_file::{SnapshotData, EXPORT};
use crate::{LogStore, StateMachineStore, StoreTypeConfig};

/// A backup made by [`StateMachineStore::export_snapshot`].
#[derive(Debug)]
pub struct ExportedSnapshot<C: StoreTypeConfig> {
    /// Its last log id and membership, as its header gives them.
    pub meta: SnapshotMetaOf<C>,
    /// The snapshot stream.
    pub data: SnapshotData,
}

impl<C: StoreTypeConfig> StateMachineStore<C> {
    /// The applied state as it is now, as a complete snapshot: a consistent
    /// backup at its metadata's last log id. It is not kept as the current
    /// snapshot; its file is gone from the directory as soon as it is
    /// written, readable only through the handle returned.
    pub async fn export_snapshot(&self) -> Result<ExportedSnapshot<C>, StoreError> {
        let store = self.clone();
        self.shared
            .disk
            .run_blocking(move || {
                let (meta, data) = snapshot::dump(&store, EXPORT)?;
                store.shared.snapshots.discard(&data)?;
                Ok(ExportedSnapshot { meta, data })
            })
            .await
    }

    /// Seeds this store, which must hold nothing yet, with a backup, with
    /// its membership replaced by `membership` if given.
    pub async fn restore_backup(
        &mut self,
        backup: &SnapshotData,
        membership: Option<StoredMembershipOf<C>>,
    ) -> Result<SnapshotMetaOf<C>, StoreError> {
        if self.last_applied().is_some() || snapshot::current(self)?.is_some() {
            return Err(StoreError::NotEmpty(
                "its state machine holds applied entries".into(),
            ));
        }
        let data = match membership {
            Some(membership) => {
                let (backup, writer) = (backup.clone(), self.snapshot_writer()?);
                self.shared
                    .disk
                    .run_blocking(move || {
                        snapshot::copy_with_membership::<C>(&backup, membership, writer)
                    })
                    .await?
            }
            None => backup.clone(),
        };
        let meta = snapshot::read_meta::<C>(&data)?;
        self.install_snapshot(&meta, data)
            .await
            .map_err(|e| StoreError::BadSnapshot(format!("the backup does not install: {e}")))?;
        Ok(meta)
    }
}

/// The metadata in a backup's header (last log id and membership).
pub fn backup_meta<C: StoreTypeConfig>(
    backup: &SnapshotData,
) -> Result<SnapshotMetaOf<C>, StoreError> {
    snapshot::read_meta::<C>(backup)
}

impl<C: StoreTypeConfig> LogStore<C> {
    /// After [`StateMachineStore::restore_backup`]: an empty log whose
    /// purged and committed points are the backup's last log id, and
    /// `vote` (the caller's own, in the backup's last term, so the next
    /// election starts a later term than any entry in it). Refused unless
    /// the log holds nothing and no vote.
    pub async fn seed_restored(&self, last: LogIdOf<C>, vote: VoteOf<C>) -> Result<(), StoreError> {
        self.seed(last, vote).await
    }
}
