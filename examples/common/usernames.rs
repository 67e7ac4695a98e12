//! Registering a unique username, shared by `examples/usernames.rs` and the
//! test that runs it (`tests/cluster/examples.rs`), so both go through the
//! same calls. A registration is one conditional append: the log's order
//! decides which of concurrent claims comes first, and every node applies
//! that order, so every node agrees on the one winner.

use std::time::{SystemTime, UNIX_EPOCH};

use ordo_api::AppendRequest;
use ordo_client::{Client, ClientError};
use ordo_core::{Condition, NewRecord, Offset};

/// What the topics that hold the claims, keyed by username, are named after.
pub const TOPIC_PREFIX: &str = "usernames";

/// A topic no earlier run has claimed in: `usernames-<unix ms>`. Each run of
/// the example starts with every name free, so a name claimed before (by an
/// earlier run, or by hand in the README's `usernames` topic) decides nothing.
pub fn fresh_topic() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("{TOPIC_PREFIX}-{ms}")
}

/// A claim that won: the name is now owned by whoever made it.
#[derive(Debug)]
pub struct Registered {
    pub offset: Offset,
}

/// Why a claim did not win.
#[derive(Debug)]
pub enum Taken {
    /// The name already has a live record: someone else's claim was first.
    Taken,
    /// Any other failure (no leader, outcome unknown, ...): nothing decided
    /// here, the caller may try again.
    Failed(ClientError),
}

/// Claims `name` for `owner` in `topic`: appends a record keyed `name` only
/// if the key has no live record there yet (`key_absent`).
pub async fn register(
    client: &Client,
    topic: &str,
    name: &str,
    owner: &str,
) -> Result<Registered, Taken> {
    let request = AppendRequest {
        records: vec![NewRecord {
            key: Some(name.to_string()),
            value: serde_json::json!({ "owner": owner }).into(),
            headers: Default::default(),
        }],
        producer: None,
        condition: Some(Condition::KeyAbsent),
    };
    match client.append_with(topic, &request).await {
        Ok(ack) => Ok(Registered {
            offset: ack.offsets[0],
        }),
        Err(e) if e.code() == Some("condition_failed") => Err(Taken::Taken),
        Err(e) => Err(Taken::Failed(e)),
    }
}
