//! Restoring a backup (`GET /v1/admin/snapshot`, `ordo backup`) into a new
//! node's empty data dir (`ordo restore`): the store is seeded as if the
//! node had installed the backup as a snapshot (see `ordo_store::backup`),
//! optionally with the backup's membership replaced by new peers, so that
//! nodes restored from the same backup with the same peers form a cluster
//! that goes on from the backup's last log index.

use std::collections::BTreeMap;
use std::path::Path;

use openraft::{BasicNode, Membership, StoredMembership};
use ordo_core::NodeId;
use ordo_store::{SnapshotData, StoreError, StoreOptions};

use crate::types::TypeConfig;

/// What a restore put in place.
#[derive(Debug)]
pub struct Restored {
    /// The backup's last log index and term: the new cluster goes on after it.
    pub last_log_index: u64,
    pub term: u64,
    /// The voters of the restored membership and their addresses.
    pub members: BTreeMap<NodeId, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the backup holds no applied state (an empty cluster's backup)")]
    EmptyBackup,
    #[error("--peers must list this node's id {0}")]
    NotAPeer(NodeId),
    #[error("the new membership is not valid: {0}")]
    BadMembership(String),
}

/// Seeds the store in `store_dir` (which must not hold a node's state yet)
/// from the backup at `backup`, for node `node_id`; with `peers`, the
/// restored cluster's voters are those nodes at those addresses instead of
/// the backup's.
pub async fn restore(
    store_dir: &Path,
    options: &StoreOptions,
    backup: &Path,
    node_id: NodeId,
    peers: Option<&BTreeMap<NodeId, String>>,
) -> Result<Restored, RestoreError> {
    let data = SnapshotData::from_file(backup)?;
    let meta = ordo_store::backup_meta::<TypeConfig>(&data)?;
    let last = meta.last_log_id.ok_or(RestoreError::EmptyBackup)?;
    let membership = match peers {
        Some(peers) => {
            if !peers.contains_key(&node_id) {
                return Err(RestoreError::NotAPeer(node_id));
            }
            let nodes: BTreeMap<NodeId, BasicNode> = peers
                .iter()
                .map(|(id, addr)| (*id, BasicNode::new(addr)))
                .collect();
            let config = Membership::new(vec![nodes.keys().copied().collect()], nodes)
                .map_err(|e| RestoreError::BadMembership(e.to_string()))?;
            Some(StoredMembership::new(
                *meta.last_membership.log_id(),
                config,
            ))
        }
        None => None,
    };
    let (log_store, mut state_machine) = ordo_store::open_with::<TypeConfig>(store_dir, options)?;
    let restored = state_machine.restore_backup(&data, membership).await?;
    let term = last.committed_leader_id().term;
    log_store
        .seed_restored(last, openraft::Vote::new(term, node_id))
        .await?;
    Ok(Restored {
        last_log_index: last.index,
        term,
        members: restored
            .last_membership
            .voter_ids()
            .filter_map(|id| {
                restored
                    .last_membership
                    .membership()
                    .get_node(&id)
                    .map(|node| (id, node.addr.clone()))
            })
            .collect(),
    })
}
