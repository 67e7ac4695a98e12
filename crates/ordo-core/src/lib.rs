//! ordo's domain: the types every layer shares and the pure state machine.
//!
//! This crate owns *meaning*, not I/O: topic names are validated here, offsets
//! are assigned here (and nowhere else), and the wire types of the HTTP API live
//! here so the server and the client cannot drift apart. No tokio, no sled, no
//! HTTP: everything is plain data and plain functions, tested without a runtime.

pub mod api;
pub mod command;
pub mod ids;
pub mod limits;
pub mod record;
pub mod state;
pub mod topic;

pub use command::{Command, CommandResult};
pub use ids::{LogIndex, NodeId, Offset};
pub use record::{NewRecord, Record};
pub use state::{apply, State, TopicState};
pub use topic::{TopicName, TopicNameError};
