//! `Flusher`: group commit for the Raft log. `LogStore::append` writes its
//! entries (readable at once) and hands its `IOFlushed` callback here; with
//! a pipelined flush it then returns, so openraft sends the entries to
//! followers while the leader's own flush runs, and otherwise it waits for
//! a [`Flusher::barrier`]. One flusher makes everything written so far durable with
//! one flush and completes every callback that was waiting, oldest first:
//! concurrent appends share a flush, and a callback is never completed
//! before a flush that began after its entries were written has returned.
//! A flush syncs the log's segments (one fdatasync); when a barrier is in
//! the group it then also syncs the records' files and flushes the tree,
//! for the vote, the purge point and the state machine's writes.
//!
//! Where it runs: on real files, a thread of its own (a flush blocks; on a
//! tokio worker it would stall the runtime of a 2-core node), woken once per
//! group, which waits `StoreOptions::flush_linger` before a flush whenever
//! the flush before it served more than one waiter, so a busy log syncs
//! once for a larger group while a lone client's appends never wait; on a
//! simulated disk, a task of the simulated node's runtime, so the
//! deterministic simulation runs the same hand-off (append returns, the
//! flush comes later) on one thread.
//!
//! A failed flush is never retried (a failed fsync may have dropped the
//! pages it was to write, and a retry that succeeds proves nothing): every
//! callback of the group, and every one after it, is completed with the
//! error, and the log refuses appends from then on. (Only the `mutants`
//! feature's `ignore-fsync-error` switch breaks this rule, on purpose.)

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use openraft::storage::IOFlushed;
use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::kv::Disk;
use crate::raft_log_segments::RaftLogSegments;
use crate::record_log::RecordLog;
use crate::slow_sync::SlowSyncs;
use crate::type_config::StoreTypeConfig;

/// What a flush makes durable: the log's segments and, for a barrier, the
/// records' files and then the tree.
struct Target {
    disk: Disk,
    segments: Arc<RaftLogSegments>,
    records: RecordLog,
}

/// Something waiting for the next flush, with what to flush: the flusher
/// holds the disk and the segments only while it has work, so once the
/// last store handle is dropped and the last flush is done, nothing keeps
/// them (and sled's lock on its directory) open.
struct Queued<C: StoreTypeConfig> {
    target: Arc<Target>,
    waiter: Waiter<C>,
}

enum Waiter<C: StoreTypeConfig> {
    /// An append's callback, completed once its entries are durable.
    Append(IOFlushed<C>),
    /// A caller awaiting every write made before it (a vote, a truncation,
    /// a purge point), and every earlier append's completion.
    Barrier(oneshot::Sender<Result<(), StoreError>>),
}

/// The group-commit flusher of one log store. Started on first use (from
/// an async context, where a simulated disk's task can be spawned); stops
/// when the last [`crate::LogStore`] clone holding it is dropped.
pub(crate) struct Flusher<C: StoreTypeConfig> {
    target: Arc<Target>,
    started: OnceLock<mpsc::UnboundedSender<Queued<C>>>,
    /// Why the log failed, once a flush has failed.
    failed: Arc<Mutex<Option<String>>>,
    /// See `StoreOptions::flush_linger`.
    linger: Duration,
}

impl<C: StoreTypeConfig> Flusher<C> {
    pub(crate) fn new(
        disk: &Disk,
        segments: Arc<RaftLogSegments>,
        records: RecordLog,
        linger: Duration,
    ) -> Flusher<C> {
        Flusher {
            target: Arc::new(Target {
                disk: disk.clone(),
                segments,
                records,
            }),
            started: OnceLock::new(),
            failed: Arc::default(),
            linger,
        }
    }

    /// Why the log refuses writes, if a flush has failed.
    pub(crate) fn failure(&self) -> Option<StoreError> {
        failure(&self.failed)
    }

    /// Completes `callback` once everything written so far is durable.
    pub(crate) fn complete_when_durable(&self, callback: IOFlushed<C>) {
        if let Err(mpsc::error::SendError(Queued {
            waiter: Waiter::Append(callback),
            ..
        })) = self.send(Waiter::Append(callback))
        {
            callback.io_completed(Err(std::io::Error::other(StoreError::Stopped.to_string())));
        }
    }

    /// Returns once everything written so far is durable and every append
    /// submitted before it has been completed.
    pub(crate) async fn barrier(&self) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.send(Waiter::Barrier(done))
            .map_err(|_| StoreError::Stopped)?;
        wait.await.map_err(|_| StoreError::Stopped)?
    }

    fn send(&self, waiter: Waiter<C>) -> Result<(), mpsc::error::SendError<Queued<C>>> {
        self.sender().send(Queued {
            target: Arc::clone(&self.target),
            waiter,
        })
    }

    fn sender(&self) -> &mpsc::UnboundedSender<Queued<C>> {
        self.started.get_or_init(|| {
            let (sender, waiters) = mpsc::unbounded_channel();
            let group = Group {
                failed: Arc::clone(&self.failed),
                linger: self.linger,
                slow_syncs: SlowSyncs::new(Instant::now()),
            };
            match &self.target.disk {
                Disk::Sled(_) => {
                    let spawned = std::thread::Builder::new()
                        .name("ordo-log-flush".into())
                        .spawn(move || group.run_on_thread(waiters));
                    if let Err(e) = spawned {
                        // Without a flusher nothing can be acknowledged:
                        // refuse every write, saying why.
                        *lock(&self.failed) = Some(format!("cannot start the flush thread: {e}"));
                    }
                }
                Disk::Memory(_) => {
                    tokio::spawn(group.run_as_task(waiters));
                }
            }
            sender
        })
    }
}

/// The flusher's side: flushes a group and completes its waiters.
struct Group {
    failed: Arc<Mutex<Option<String>>>,
    linger: Duration,
    slow_syncs: SlowSyncs,
}

impl Group {
    fn run_on_thread<C: StoreTypeConfig>(
        mut self,
        mut waiters: mpsc::UnboundedReceiver<Queued<C>>,
    ) {
        let mut last_group = 0;
        while let Some(first) = waiters.blocking_recv() {
            if last_group > 1 && !self.linger.is_zero() {
                std::thread::sleep(self.linger);
            }
            let group = drain(first, &mut waiters);
            last_group = group.len();
            self.flush_and_complete(group);
        }
    }

    async fn run_as_task<C: StoreTypeConfig>(
        mut self,
        mut waiters: mpsc::UnboundedReceiver<Queued<C>>,
    ) {
        while let Some(first) = waiters.recv().await {
            // The simulated disk's flush takes time, as a real one does:
            // appends made meanwhile are written and not yet durable.
            if let Disk::Memory(handle) = &first.target.disk {
                let latency = handle.flush_latency();
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
            }
            let group = drain(first, &mut waiters);
            self.flush_and_complete(group);
        }
    }

    fn flush_and_complete<C: StoreTypeConfig>(&mut self, group: Vec<Queued<C>>) {
        let with_tree = group
            .iter()
            .any(|queued| matches!(queued.waiter, Waiter::Barrier(_)));
        let flushed = match (failure(&self.failed), group.first()) {
            (Some(e), _) => Err(e.to_string()),
            (None, Some(first)) => self
                .flush(&first.target, with_tree)
                .map_err(|e| e.to_string()),
            (None, None) => Ok(()),
        };
        // Let go of the disk before anyone learns the flush is done.
        let waiters: Vec<Waiter<C>> = group.into_iter().map(|queued| queued.waiter).collect();
        for waiter in waiters {
            let flushed = flushed.clone();
            match waiter {
                Waiter::Append(callback) => {
                    callback.io_completed(flushed.map_err(std::io::Error::other))
                }
                Waiter::Barrier(done) => {
                    let _ = done.send(flushed.map_err(StoreError::Failed));
                }
            }
        }
    }

    fn flush(&mut self, target: &Target, with_tree: bool) -> Result<(), StoreError> {
        let started = Instant::now();
        let flushed = target.segments.sync().and_then(|()| {
            if with_tree {
                target.records.flush(&target.disk)
            } else {
                Ok(())
            }
        });
        let ended = Instant::now();
        let took = ended.saturating_duration_since(started);
        crate::metrics::flushed(took);
        if let Some(slow) = self.slow_syncs.record(took, ended) {
            tracing::warn!(
                flushes = slow.flushes,
                slow = slow.slow,
                slowest_ms = u64::try_from(slow.slowest.as_millis()).unwrap_or(u64::MAX),
                "{slow}"
            );
        }
        if let Err(e) = &flushed {
            #[cfg(feature = "mutants")]
            if crate::mutants::ignore_fsync_error() {
                tracing::warn!(error = %e, "flushing the Raft log failed; mutant: counted as done");
                return Ok(());
            }
            tracing::error!(error = %e, "flushing the Raft log failed; the log refuses writes from now on");
            *lock(&self.failed) = Some(e.to_string());
        }
        flushed
    }
}

/// `first` and every waiter already queued behind it: one flush serves them all.
fn drain<C: StoreTypeConfig>(
    first: Queued<C>,
    waiters: &mut mpsc::UnboundedReceiver<Queued<C>>,
) -> Vec<Queued<C>> {
    let mut group = vec![first];
    while let Ok(next) = waiters.try_recv() {
        group.push(next);
    }
    group
}

fn failure(failed: &Mutex<Option<String>>) -> Option<StoreError> {
    lock(failed).clone().map(StoreError::Failed)
}

// Holds only an `Option<String>`, replaced whole: a poisoned lock still
// guards a consistent value.
fn lock(failed: &Mutex<Option<String>>) -> std::sync::MutexGuard<'_, Option<String>> {
    failed.lock().unwrap_or_else(PoisonError::into_inner)
}
