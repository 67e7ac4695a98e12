//! The store's Prometheus metrics: their names, their descriptions, and the
//! one place each is recorded from. With no recorder installed (the
//! simulation, unit tests) every call here does nothing.

use std::sync::LazyLock;
use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Histogram,
};

/// Histogram: how long each flush of the Raft log store took (every append
/// waits for one before it is reported persisted).
pub const STORAGE_FLUSH_SECONDS: &str = "ordo_storage_flush_seconds";
/// Counter: snapshots this node built from its state machine.
pub const SNAPSHOTS_BUILT_TOTAL: &str = "ordo_snapshots_built_total";
/// Counter: snapshots this node installed from its leader.
pub const SNAPSHOTS_INSTALLED_TOTAL: &str = "ordo_snapshots_installed_total";
/// Gauge: bytes of the last snapshot this node built or installed.
pub const SNAPSHOT_SIZE_BYTES: &str = "ordo_snapshot_size_bytes";

/// Gives every metric above its HELP text, and starts the counters at 0 so
/// they are scraped (and `rate()` works) before the first event.
pub fn describe() {
    describe_histogram!(
        STORAGE_FLUSH_SECONDS,
        metrics::Unit::Seconds,
        "Time each flush of the Raft log store to disk took"
    );
    describe_counter!(
        SNAPSHOTS_BUILT_TOTAL,
        "Snapshots this node built from its state machine"
    );
    describe_counter!(
        SNAPSHOTS_INSTALLED_TOTAL,
        "Snapshots this node installed from its leader"
    );
    describe_gauge!(
        SNAPSHOT_SIZE_BYTES,
        metrics::Unit::Bytes,
        "Size of the last snapshot this node built or installed (or found at start-up)"
    );
    counter!(SNAPSHOTS_BUILT_TOTAL).absolute(0);
    counter!(SNAPSHOTS_INSTALLED_TOTAL).absolute(0);
}

/// Registered at the first flush, which comes after the binary installs
/// its recorder: `histogram!` looks the series up in the recorder's
/// registry on every call, a thousand times a second under load.
static STORAGE_FLUSH_HISTOGRAM: LazyLock<Histogram> =
    LazyLock::new(|| histogram!(STORAGE_FLUSH_SECONDS));

pub(crate) fn flushed(took: Duration) {
    STORAGE_FLUSH_HISTOGRAM.record(took.as_secs_f64());
}

pub(crate) fn snapshot_built(size_bytes: u64) {
    counter!(SNAPSHOTS_BUILT_TOTAL).increment(1);
    current_snapshot(size_bytes);
}

pub(crate) fn snapshot_installed(size_bytes: u64) {
    counter!(SNAPSHOTS_INSTALLED_TOTAL).increment(1);
    current_snapshot(size_bytes);
}

pub(crate) fn current_snapshot(size_bytes: u64) {
    gauge!(SNAPSHOT_SIZE_BYTES).set(size_bytes as f64);
}
