//! Where record timestamps come from: the leader stamps each append once,
//! when it proposes it. Production reads the wall clock; the simulation
//! supplies its simulated clock so a seed replays to the same timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub type Clock = fn() -> u64;

pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
