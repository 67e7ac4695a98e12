//! The free-space reserve: a node stops taking new data while its data
//! dir's volume has less free space than the reserve, instead of running
//! into `No space left on device` in the middle of a write (which stops
//! its Raft core: `storage_fault`).
//!
//! Below the reserve a leader refuses appends, position commits and topic
//! changes (507 `insufficient_storage`, with the free and reserved bytes)
//! and, as it falls below, hands leadership to another voter. A follower
//! refuses new log entries and snapshots from its leader (which retries)
//! once below half the reserve: between half and all of it, it still
//! takes what its leader accepted before the leader stopped, and the
//! deletes and cleanups that free space, which must commit on a majority.
//! Deleting topics, compaction, retention and the purge behind snapshots
//! go on, since they free space. The node is not ready meanwhile. Everything resumes by itself once space returns: [`watch`]
//! samples the volume every [`SAMPLE_EVERY`], logs the crossing each way
//! once (and a reminder every [`REMINDER_EVERY`] while below), and keeps
//! the gauges in `/metrics` and the status current.
//!
//! The reserve must hold what a node may still write after it stops
//! taking data (the next segments of its Raft log and of a topic, each
//! preallocated whole, the state machine's metadata, a snapshot of hard
//! links), so the default is 5 % of the volume, at least two segments
//! (`--segment-mb`: 128 MiB by default) and at most
//! [`MAX_DEFAULT_RESERVE_BYTES`] (never more than half the volume).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;

use crate::node::Node;
use ordo_api::{EventDetail, EventKind};

/// How often [`watch`] samples the volume (for the log and the gauges).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(500);
/// How old a sample a write may be judged on: an append or a message of
/// entries older than this samples the volume again first (statvfs takes
/// a microsecond or two), so a burst of writes cannot run through the
/// reserve between two of [`watch`]'s samples (at 60 MB/s, half a second
/// took a 40 MiB volume from its 12 MiB reserve to full).
pub const FRESH_FOR: Duration = Duration::from_millis(10);
/// How often a node below its reserve says so again.
pub const REMINDER_EVERY: Duration = Duration::from_secs(60);
/// The default reserve's ceiling.
pub const MAX_DEFAULT_RESERVE_BYTES: u64 = 1024 * 1024 * 1024;

/// Where a node keeps its data and how much free space it keeps there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceConfig {
    /// The data dir whose volume is watched; `None` watches nothing (an
    /// in-memory store, the simulation): never below the reserve.
    pub dir: Option<PathBuf>,
    /// The reserve in bytes (`--min-free-bytes`); `None`: the default
    /// share of the volume ([`default_reserve`]). Zero turns it off.
    pub reserve_bytes: Option<u64>,
    /// The size of one segment file (`--segment-mb`), of which the default
    /// reserve holds two.
    pub segment_bytes: u64,
}

impl Default for SpaceConfig {
    fn default() -> Self {
        SpaceConfig {
            dir: None,
            reserve_bytes: None,
            segment_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A volume's size and free space, as statvfs reports them to this
/// (unprivileged) process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeSpace {
    pub free_bytes: u64,
    pub total_bytes: u64,
}

/// The default reserve of a volume of `total_bytes` for segments of
/// `segment_bytes`: 5 %, at least two segments and at most
/// [`MAX_DEFAULT_RESERVE_BYTES`] (or two segments, if more), and at most
/// half the volume.
pub fn default_reserve(total_bytes: u64, segment_bytes: u64) -> u64 {
    let floor = segment_bytes.saturating_mul(2);
    (total_bytes / 20)
        .clamp(floor, MAX_DEFAULT_RESERVE_BYTES.max(floor))
        .min(total_bytes / 2)
}

/// The volume holding `dir`.
// statvfs's fields are u64 on 64-bit Linux, narrower elsewhere.
#[allow(clippy::useless_conversion)]
pub fn volume_space(dir: &Path) -> std::io::Result<VolumeSpace> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stat` points to a
    // statvfs that the call fills on success (and only then is read).
    let stat = unsafe {
        if libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        stat.assume_init()
    };
    let block = u64::from(stat.f_frsize);
    Ok(VolumeSpace {
        free_bytes: u64::from(stat.f_bavail).saturating_mul(block),
        total_bytes: u64::from(stat.f_blocks).saturating_mul(block),
    })
}

/// What the node last saw of its volume; all zero and not below until a
/// first sample (and always, with no dir).
#[derive(Debug, Default)]
pub struct DiskSpace {
    config: SpaceConfig,
    free_bytes: AtomicU64,
    total_bytes: AtomicU64,
    reserve_bytes: AtomicU64,
    sampled: AtomicBool,
    /// When the last sample was taken, in microseconds since [`epoch`].
    sampled_at_us: AtomicU64,
    below: AtomicBool,
}

/// The instant sample times are counted from.
fn epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

fn micros_since_epoch() -> u64 {
    u64::try_from(epoch().elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// One look at the reserve, for an answer or the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceReading {
    pub free_bytes: u64,
    pub total_bytes: u64,
    pub reserve_bytes: u64,
    pub below_reserve: bool,
}

impl DiskSpace {
    pub fn new(config: SpaceConfig) -> Self {
        DiskSpace {
            config,
            ..DiskSpace::default()
        }
    }

    /// The last sample; `None` before the first one, or with no dir.
    pub fn reading(&self) -> Option<SpaceReading> {
        self.sampled.load(Ordering::Acquire).then(|| SpaceReading {
            free_bytes: self.free_bytes.load(Ordering::Relaxed),
            total_bytes: self.total_bytes.load(Ordering::Relaxed),
            reserve_bytes: self.reserve_bytes.load(Ordering::Relaxed),
            below_reserve: self.below.load(Ordering::Relaxed),
        })
    }

    /// The free space, if it is below half the reserve: where a follower
    /// refuses its leader's entries (see the module doc).
    pub fn below_follower_floor(&self) -> Option<SpaceReading> {
        self.below_reserve()
            .filter(|space| space.free_bytes < space.reserve_bytes / 2)
    }

    /// The free space, if it is below the reserve: what a refusal says.
    /// Samples the volume again first if the last sample is older than
    /// [`FRESH_FOR`] (a failed sample leaves the last one standing).
    pub fn below_reserve(&self) -> Option<SpaceReading> {
        let age_us =
            micros_since_epoch().saturating_sub(self.sampled_at_us.load(Ordering::Relaxed));
        if u128::from(age_us) > FRESH_FOR.as_micros() {
            let _ = self.sample();
        }
        if !self.below.load(Ordering::Relaxed) {
            return None;
        }
        self.reading()
    }

    /// Samples the volume now. Returns the reading, or the error statvfs
    /// gave (the last reading stands).
    pub fn sample(&self) -> Option<std::io::Result<SpaceReading>> {
        let dir = self.config.dir.as_deref()?;
        Some(volume_space(dir).map(|space| self.record(space)))
    }

    fn record(&self, space: VolumeSpace) -> SpaceReading {
        let reserve_bytes = self
            .config
            .reserve_bytes
            .unwrap_or_else(|| default_reserve(space.total_bytes, self.config.segment_bytes));
        let reading = SpaceReading {
            free_bytes: space.free_bytes,
            total_bytes: space.total_bytes,
            reserve_bytes,
            below_reserve: space.free_bytes < reserve_bytes,
        };
        self.free_bytes.store(reading.free_bytes, Ordering::Relaxed);
        self.total_bytes
            .store(reading.total_bytes, Ordering::Relaxed);
        self.reserve_bytes.store(reserve_bytes, Ordering::Relaxed);
        self.below.store(reading.below_reserve, Ordering::Relaxed);
        self.sampled_at_us
            .store(micros_since_epoch(), Ordering::Relaxed);
        self.sampled.store(true, Ordering::Release);
        crate::metrics::disk_space(&reading);
        reading
    }
}

impl std::fmt::Display for SpaceReading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} free of {}, below the reserve of {} (--min-free-bytes)",
            mib(self.free_bytes),
            mib(self.total_bytes),
            mib(self.reserve_bytes)
        )
    }
}

/// Bytes as MiB with one decimal, for people.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A leader that just fell below its reserve hands leadership to the most
/// caught-up other voter (in the background), so the cluster takes appends
/// again under a node with space; a node that leads while already below
/// keeps leading and answers 507, so two full nodes never pass leadership
/// back and forth.
fn hand_over_leadership(node: &Weak<Node>) {
    let Some(node) = node.upgrade() else { return };
    if node.current_leader() != Some(node.id()) {
        return;
    }
    tokio::spawn(async move {
        match node.transfer_leader(None).await {
            Ok(response) => tracing::info!(
                node = node.id(),
                leader = ?response.leader,
                "disk space low: handed leadership over"
            ),
            Err(e) => tracing::warn!(
                node = node.id(),
                error = %e,
                "disk space low: could not hand leadership over; refusing appends with 507"
            ),
        }
    });
}

/// Records crossing the reserve, either way, as an event (the watch logs
/// it).
fn record_crossing(node: &Weak<Node>, kind: EventKind, reading: &SpaceReading) {
    let Some(node) = node.upgrade() else { return };
    let message = match kind {
        EventKind::DiskBelowReserve => format!("disk space low: {reading}: refusing new data"),
        _ => format!("disk space is above the reserve again: {reading}"),
    };
    let detail = EventDetail {
        free_bytes: Some(reading.free_bytes),
        reserve_bytes: Some(reading.reserve_bytes),
        ..EventDetail::default()
    };
    node.record_event(kind, message, detail);
}

/// Samples `node`'s volume every [`SAMPLE_EVERY`], records the gauges, and
/// logs crossing the reserve (an event too; and a reminder while below);
/// ends with the node, or at once if it watches no dir.
pub(crate) async fn watch(node: Weak<Node>) {
    let mut below_since: Option<tokio::time::Instant> = None;
    let mut last_said = tokio::time::Instant::now();
    let mut sample_error_said = false;
    loop {
        let Some(strong) = node.upgrade() else { return };
        let id = strong.id();
        let Some(sampled) = strong.disk_space().sample() else {
            return;
        };
        drop(strong);
        match sampled {
            Err(e) => {
                if !sample_error_said {
                    tracing::warn!(node = id, error = %e, "cannot read the data dir's free space");
                    sample_error_said = true;
                }
            }
            Ok(reading) => {
                sample_error_said = false;
                let now = tokio::time::Instant::now();
                match (reading.below_reserve, below_since) {
                    (true, None) => {
                        tracing::warn!(
                            node = id,
                            free_bytes = reading.free_bytes,
                            reserve_bytes = reading.reserve_bytes,
                            "disk space: {reading}: refusing appends (as leader; and new \
                             entries as follower, below half of it) until space returns"
                        );
                        below_since = Some(now);
                        last_said = now;
                        record_crossing(&node, EventKind::DiskBelowReserve, &reading);
                        hand_over_leadership(&node);
                    }
                    (true, Some(_)) if now.duration_since(last_said) >= REMINDER_EVERY => {
                        tracing::warn!(node = id, "disk space still low: {reading}");
                        last_said = now;
                    }
                    (false, Some(since)) => {
                        tracing::info!(
                            node = id,
                            free_bytes = reading.free_bytes,
                            reserve_bytes = reading.reserve_bytes,
                            "disk space is above the reserve again after {:.1} s: taking \
                             appends and entries again",
                            now.duration_since(since).as_secs_f64()
                        );
                        below_since = None;
                        record_crossing(&node, EventKind::DiskRecovered, &reading);
                    }
                    _ => {}
                }
            }
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * MIB;

    #[test]
    fn the_default_reserve_is_5_percent_within_its_bounds_and_at_most_half() {
        let segment = 64 * MIB;
        assert_eq!(default_reserve(10 * GIB, segment), 512 * MIB);
        assert_eq!(default_reserve(100 * GIB, segment), GIB);
        assert_eq!(default_reserve(GIB, segment), 128 * MIB);
        assert_eq!(default_reserve(200 * MIB, segment), 100 * MIB);
        // Small segments for a small volume: two of them at least.
        assert_eq!(default_reserve(100 * MIB, 4 * MIB), 8 * MIB);
        assert_eq!(default_reserve(GIB, 4 * MIB), 1024 * MIB / 20);
        // Huge segments: two of them, even past the ceiling.
        assert_eq!(default_reserve(100 * GIB, GIB), 2 * GIB);
    }

    #[test]
    fn below_the_reserve_only_while_free_space_is_under_it() {
        let space = DiskSpace::new(SpaceConfig {
            reserve_bytes: Some(100 * MIB),
            ..SpaceConfig::default()
        });
        assert_eq!(space.reading(), None);
        assert_eq!(space.below_reserve(), None);
        let volume = |free| VolumeSpace {
            free_bytes: free,
            total_bytes: GIB,
        };
        assert!(!space.record(volume(100 * MIB)).below_reserve);
        assert_eq!(space.below_reserve(), None);
        let low = space.record(volume(99 * MIB));
        assert!(low.below_reserve);
        assert_eq!(space.below_reserve(), Some(low));
        // A follower still takes entries down to half the reserve.
        assert_eq!(space.below_follower_floor(), None);
        let very_low = space.record(volume(49 * MIB));
        assert_eq!(space.below_follower_floor(), Some(very_low));
        assert_eq!(
            low.to_string(),
            "99.0 MiB free of 1024.0 MiB, below the reserve of 100.0 MiB (--min-free-bytes)"
        );
        assert!(!space.record(volume(500 * MIB)).below_reserve);
        // A reserve of zero is never crossed.
        let off = DiskSpace::new(SpaceConfig {
            reserve_bytes: Some(0),
            ..SpaceConfig::default()
        });
        assert!(!off.record(volume(0)).below_reserve);
    }

    #[test]
    fn a_real_volume_has_a_size_and_no_dir_is_never_sampled() {
        let dir = std::env::temp_dir();
        let space = volume_space(&dir).expect("statvfs of the temp dir");
        assert!(space.total_bytes > 0 && space.free_bytes <= space.total_bytes);
        assert!(DiskSpace::new(SpaceConfig::default()).sample().is_none());
    }
}
