//! What the store requires of the Raft type configuration, as one trait.
//!
//! openraft's `RaftEntry` exposes an entry's membership but not its payload,
//! so a generic store cannot see the `Command` inside. [`StoreTypeConfig`]
//! adds exactly that, and its blanket impl covers every type config whose
//! entries are openraft's own `Entry` type (the default), such as
//! `declare_raft_types!(pub TypeConfig: D = Command, R = CommandResult)`.
//! Nothing here depends on the async runtime, so it can be replaced.

use openraft::impls::leader_id_adv;
use openraft::type_config::alias::LogIdOf;
use openraft::{BasicNode, EntryPayload, RaftTypeConfig};
use ordo_core::{Command, CommandResult, NodeId};

/// The payload of an ordo log entry.
pub type OrdoPayload = EntryPayload<Command, NodeId, BasicNode>;

/// Who led the term an entry was written in (openraft's default leader id:
/// a term and a node), which the log stores beside each entry in binary.
pub type EntryLeaderId = leader_id_adv::LeaderId<u64, NodeId>;

/// A Raft type configuration the store can persist: ordo's commands and
/// results, `u64` node ids and terms, openraft's default leader ids,
/// `BasicNode` addresses, and entries that can be taken apart into log id
/// and payload and put together again.
pub trait StoreTypeConfig:
    RaftTypeConfig<
    D = Command,
    R = CommandResult,
    NodeId = NodeId,
    Node = BasicNode,
    Term = u64,
    LeaderId = EntryLeaderId,
>
{
    /// Takes an entry apart into its log id and its payload.
    fn into_parts(entry: Self::Entry) -> (LogIdOf<Self>, OrdoPayload);

    /// Puts an entry together from its log id and its payload.
    fn from_parts(log_id: LogIdOf<Self>, payload: OrdoPayload) -> Self::Entry;
}

impl<C> StoreTypeConfig for C
where
    C: RaftTypeConfig<
        D = Command,
        R = CommandResult,
        NodeId = NodeId,
        Node = BasicNode,
        Term = u64,
        LeaderId = EntryLeaderId,
    >,
    C::Entry: Into<openraft::Entry<EntryLeaderId, OrdoPayload>>
        + From<openraft::Entry<EntryLeaderId, OrdoPayload>>,
{
    fn into_parts(entry: C::Entry) -> (LogIdOf<C>, OrdoPayload) {
        let entry = entry.into();
        (entry.log_id, entry.payload)
    }

    fn from_parts(log_id: LogIdOf<C>, payload: OrdoPayload) -> C::Entry {
        openraft::Entry { log_id, payload }.into()
    }
}
