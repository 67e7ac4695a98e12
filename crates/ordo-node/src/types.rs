//! The openraft type configuration, declared once for the whole system.

use ordo_core::{Command, CommandResult};

openraft::declare_raft_types!(
    /// ordo's Raft types: commands in, command results out; everything else
    /// is openraft's default (u64 node ids and terms, `BasicNode` addresses),
    /// except the runtime, whose randomness the simulation seeds.
    pub TypeConfig:
        D = Command,
        R = CommandResult,
        AsyncRuntime = crate::runtime::OrdoRuntime,
);

pub type StateMachine = ordo_store::StateMachineStore<TypeConfig>;
pub type LogStore = ordo_store::LogStore<TypeConfig>;
pub type Raft = openraft::Raft<TypeConfig, StateMachine>;
pub type SnapshotData = ordo_store::SnapshotData;
