//! ordo's domain: the types every layer shares and the pure state machine.
//!
//! This crate owns *meaning*, not I/O: names are validated here, offsets are
//! assigned here (and nowhere else), and every decision about a command
//! (producer dedupe, conditions, consumer positions) is made here. The HTTP
//! contract (wire types, header names, OpenAPI schemas) is `ordo-api`'s. No
//! tokio, no sled, no HTTP: everything is plain data and plain functions,
//! tested without a runtime.
//!
//! Map: `state` (the state and `apply`), `topic_state` (what it knows about
//! one topic), `command` (what the log carries and what applying answers),
//! `rejection` (why a command was refused), `append` (an append as the node
//! takes and answers it), one module per rule it consults
//! (`producer`, `condition`, `consumer`, `topic_config`, `cleanup`,
//! `queue`),
//! `validate` (the checks at the edge), and the plain types (`ids`, `name`,
//! `topic`, `record`, `record_value`, `value_field` (how JSON holds a
//! value: `value` or `value_b64`), `limits`).
//!
//! Dependencies run one way: `state` uses the rules, the rules use
//! `topic_state`, `rejection` and the plain types, and none of those uses
//! `state` or `command`.

pub mod append;
pub mod cleanup;
pub mod command;
pub mod condition;
pub mod consumer;
pub mod ids;
pub mod limits;
pub mod name;
pub mod producer;
pub mod queue;
pub mod record;
pub mod record_value;
pub mod rejection;
pub mod state;
pub mod topic;
pub mod topic_config;
pub mod topic_state;
pub mod validate;
pub mod value_field;

#[cfg(test)]
mod testing;

pub use append::{Append, Appended};
pub use command::{Command, CommandResult, HeldJob, QueueAnswer, QueueCommand, QueueOp};
pub use condition::{single_key, Condition, Current, KeyIndex, KeyState};
pub use consumer::{GroupName, Positions};
pub use ids::{LogIndex, NodeId, Offset, Term};
pub use name::{NameError, NameKind};
pub use producer::{
    Numbering, Producer, ProducerAppend, ProducerId, ProducerIdError, ProducerState,
    PRODUCER_RETRY_WINDOW,
};
pub use queue::{LeaseId, QueueConfig};
pub use record::{NewRecord, Record};
pub use record_value::{RecordValue, Rendering};
pub use rejection::Rejection;
pub use state::{apply, apply_with, Outcome, Placed, Queue, Queues, State};
pub use topic::{TopicName, TopicNameError};
pub use topic_config::{Cleanup, TopicConfig, TopicConfigError, DEFAULT_TOMBSTONE_RETENTION_MS};
pub use topic_state::TopicState;
pub use validate::{validate_append, AppendError};
