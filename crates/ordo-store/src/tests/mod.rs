//! The store's promises, one file per promise: openraft's own storage suite,
//! durability across reopen, the state machine's apply and reads, snapshots.

mod durability;
mod snapshot;
mod state_machine;
mod suite;
mod support;
