//! Deterministic network simulation of an ordo cluster. The harness, fault schedules and history checker land with the simulation issue.

pub mod checker;
pub mod history;
