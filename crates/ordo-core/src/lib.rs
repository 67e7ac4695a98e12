//! ordo's domain: the types every layer shares and the pure state machine.
//!
//! This crate owns *meaning*, not I/O: names are validated here, offsets are
//! assigned here (and nowhere else), every decision about a command (producer
//! dedupe, conditions, consumer positions) is made here, and the wire types
//! of the HTTP API live here so the server and the client cannot drift
//! apart. No tokio, no sled, no HTTP: everything is plain data and plain
//! functions, tested without a runtime.
//!
//! Map: `state` (the state and `apply`), `topic_state` (what it knows about
//! one topic), `command` (what the log carries and what applying answers),
//! `rejection` (why a command was refused), one module per rule it consults
//! (`producer`, `condition`, `consumer`, `topic_config`, `cleanup`),
//! `validate` (the checks at the edge), and the plain types (`ids`, `name`,
//! `topic`, `record`, `record_value`, `limits`, `api`, `secret`).
//!
//! Dependencies run one way: `state` uses the rules, the rules use
//! `topic_state`, `rejection` and the plain types, and none of those uses
//! `state` or `command`.

pub mod api;
pub mod cleanup;
pub mod command;
pub mod condition;
pub mod consumer;
pub mod ids;
pub mod limits;
pub mod name;
#[cfg(feature = "openapi")]
mod openapi;
pub mod producer;
pub mod record;
pub mod record_value;
pub mod rejection;
pub mod secret;
pub mod state;
pub mod topic;
pub mod topic_config;
pub mod topic_state;
pub mod validate;

#[cfg(test)]
mod testing;

pub use command::{Command, CommandResult};
pub use condition::{single_key, Condition, Current, KeyIndex, KeyState};
pub use consumer::{GroupName, Positions};
pub use ids::{LogIndex, NodeId, Offset};
pub use name::{NameError, NameKind};
pub use producer::{Producer, ProducerId, ProducerIdError, ProducerState};
pub use record::{NewRecord, Record};
pub use record_value::RecordValue;
pub use rejection::Rejection;
pub use state::{apply, apply_with, Outcome, Placed, State};
pub use topic::{TopicName, TopicNameError};
pub use topic_config::{Cleanup, TopicConfig, TopicConfigError, DEFAULT_TOMBSTONE_RETENTION_MS};
pub use topic_state::TopicState;
pub use validate::{validate_append, AppendError};
