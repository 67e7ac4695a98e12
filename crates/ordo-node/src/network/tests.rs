//! The stale-replication check of a peer client.

use openraft::storage::RaftLogStorage;
use openraft::type_config::alias::LogIdOf;
use openraft::vote::RaftLeaderId;
use openraft::{EntryPayload, LogId};

use super::*;
use crate::peers::{PeerAnswer, PeerCall};

/// A transport no test message should reach.
struct Unused;

impl Peers for Unused {
    fn call<'a>(&'a self, _call: PeerCall<'a>) -> PeerAnswer<'a> {
        panic!("no message is sent in these tests")
    }
}

fn log_id(index: u64) -> LogIdOf<TypeConfig> {
    LogId::new(RaftLeaderId::new(1, 1), index)
}

fn request(prev: Option<u64>, entries: u64) -> AppendEntriesRequest<TypeConfig> {
    let first = prev.map_or(1, |p| p + 1);
    AppendEntriesRequest {
        vote: openraft::Vote::new_committed(1, 1),
        prev_log_id: prev.map(log_id),
        entries: (first..first + entries)
            .map(|index| openraft::Entry {
                log_id: log_id(index),
                payload: EntryPayload::Blank,
            })
            .collect(),
        leader_commit: None,
    }
}

#[tokio::test]
async fn replication_that_would_resume_behind_the_purge_is_refused() {
    let disk = ordo_store::MemDisk::new();
    let (mut log_store, _state_machine) =
        ordo_store::open_memory::<TypeConfig>(&disk).expect("a memory store opens");
    let client = |log_store: &LogStore, purpose| PeerClient {
        id: 1,
        target: 2,
        addr: "127.0.0.1:1".to_string(),
        transport: Arc::new(Unused),
        peer_log: Arc::default(),
        log_store: log_store.clone(),
        purpose,
    };
    // Nothing purged yet: every message goes.
    let stream = client(&log_store, Purpose::Replication);
    assert!(stream.stale_replication(&request(None, 0)).is_none());
    assert!(stream.stale_replication(&request(Some(3), 0)).is_none());

    log_store.purge(log_id(5)).await.expect("purge through 5");
    let stale = |client: &PeerClient, prev, entries| {
        client.stale_replication(&request(prev, entries)).is_some()
    };
    // No entries, after a purged one (or the start): refused.
    assert!(stale(&stream, Some(4), 0));
    assert!(stale(&stream, None, 0));
    // After the last purged entry, or later: goes.
    assert!(!stale(&stream, Some(5), 0));
    assert!(!stale(&stream, Some(9), 0));
    // Entries carried, or a client that is not the replication
    // stream's (a heartbeat's, or one not yet streaming): never refused.
    assert!(!stale(&stream, Some(4), 2));
    assert!(!stale(&client(&log_store, Purpose::Messages), Some(4), 0));
    assert!(!stale(&client(&log_store, Purpose::Heartbeats), Some(4), 0));
}
