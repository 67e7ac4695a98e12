//! The one local cluster launcher: real `ordo serve` processes on
//! 127.0.0.1, used by `make cluster` (through `ordo local-cluster`), the
//! black-box tests in `tests/` and the bench.
//!
//! - `cluster`: [`LocalCluster`], start / wait for a leader / kill / stop /
//!   restart; dropping it kills every node.
//! - `process`: one child process; the only place that sends signals.
//! - `args`: pure: node ids, addresses, paths and `ordo serve` arguments.
//! - `output`: log files, inherited or `[n{id}]`-prefixed output.
//! - `ports`: free loopback ports.
//! - `config`: [`LauncherConfig`] and the launcher's limits and timings.
//! - `error`: [`LauncherError`].

pub mod args;
pub mod cluster;
pub mod config;
pub mod error;
mod output;
pub mod ports;
mod process;

pub use cluster::{LocalCluster, NodeExit};
pub use config::{KafkaListeners, LauncherConfig, NodeOutput};
pub use error::LauncherError;
