//! Getting a [`SegmentLog`]'s appends to disk: its write buffer written
//! out, and syncs, whole ([`SegmentLog::sync`]) or in two halves
//! ([`SegmentLog::begin_sync`], then [`PendingSync::sync`] without the
//! log), by fdatasync or by direct, synchronous writes (see the parent
//! module's documentation on durability).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{block_start, File, SegmentLog, StoreError};

impl SegmentLog {
    /// Writes every buffered append to its file, without syncing it: a
    /// process crash (not a power loss) keeps them from now on.
    pub(crate) fn write_out(&mut self) -> Result<(), StoreError> {
        self.check_usable()?;
        let result = self.write_buffer();
        self.fail_on_error(result)
    }

    /// Makes every item appended so far durable, and returns the last one's
    /// seq (`None` if the log holds none).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn sync(&mut self) -> Result<Option<u64>, StoreError> {
        self.check_usable()?;
        let result = self.write_and_sync();
        self.fail_on_error(result)?;
        Ok(self.last_seq())
    }

    /// The first half of a sync that does not hold the log while the disk
    /// works: writes out what is buffered (and syncs the directory, if a
    /// segment was created since) and returns the newest segment's file to
    /// sync, or with [`super::SegmentOptions::direct_sync`] a copy of the buffer
    /// to write. [`PendingSync::sync`] does the rest, and the log takes
    /// note of a direct write with [`SegmentLog::synced`]; appends, reads
    /// and rolls may go on meanwhile (a roll syncs the segment it seals,
    /// and a pending write skips itself once a roll or a reshape has
    /// written). Removing the segment while it is pending is the caller's
    /// to prevent. A failed sync marks the log failed.
    pub(crate) fn begin_sync(&mut self) -> Result<PendingSync, StoreError> {
        self.check_usable()?;
        let result = self.begin_sync_unchecked();
        self.fail_on_error(result)
    }

    pub(super) fn begin_sync_unchecked(&mut self) -> Result<PendingSync, StoreError> {
        let write = if !self.options.direct_sync {
            self.write_buffer()?;
            SyncWrite::Fdatasync
        } else if self.buffer_start + self.buffer.len() as u64 > self.written {
            SyncWrite::Direct(DirectWrite {
                position: self.buffer_start,
                bytes: self.buffer.clone(),
                after_writes: *lock(&self.direct_writes),
                writes: Arc::clone(&self.direct_writes),
            })
        } else {
            // Every direct write was durable when it returned.
            SyncWrite::Nothing
        };
        self.active.index.write_pending()?;
        if self.dir_unsynced {
            self.files.sync_dir(&self.dir)?;
            self.dir_unsynced = false;
        }
        Ok(PendingSync {
            file: self.active.log.try_clone()?,
            write,
            log_failed: Arc::clone(&self.failed),
        })
    }

    /// Takes note of a sync's direct write, once [`PendingSync::sync`] has
    /// returned it: the bytes it wrote are in the file, and the buffer
    /// drops the blocks before the one that holds their end. Nothing to do
    /// for a sync that wrote nothing, or whose bytes a later write of the
    /// log has written since.
    pub(crate) fn synced(&mut self, synced: Synced) {
        let Some((after_writes, end)) = synced.direct else {
            return;
        };
        if *lock(&self.direct_writes) == after_writes && end > self.written {
            self.written_through(end);
        }
    }

    /// Writes the buffer out: with [`super::SegmentOptions::direct_sync`] durably,
    /// keeping the block that holds the end; otherwise not synced, emptying it.
    pub(super) fn write_buffer(&mut self) -> Result<(), StoreError> {
        let end = self.buffer_start + self.buffer.len() as u64;
        if end == self.written {
            return Ok(());
        }
        if self.options.direct_sync {
            let mut writes = lock(&self.direct_writes);
            self.active
                .log
                .write_durably_at(self.buffer_start, &self.buffer)?;
            *writes += 1;
        } else {
            self.active.log.write_at(self.written, &self.buffer)?;
        }
        debug_assert_eq!(end, self.active.tail.data_len);
        self.written_through(end);
        Ok(())
    }

    /// The file holds the buffer's bytes up to `end`: the buffer drops
    /// them, or with [`super::SegmentOptions::direct_sync`] those before the block
    /// that holds `end`.
    pub(super) fn written_through(&mut self, end: u64) {
        self.written = end;
        let keep_from = if self.options.direct_sync {
            block_start(end)
        } else {
            end
        };
        self.buffer
            .drain(..(keep_from - self.buffer_start) as usize);
        self.buffer_start = keep_from;
    }

    /// Makes any [`PendingSync`] begun before skip its write: the newest
    /// segment is about to change other than by appends.
    pub(super) fn fence_pending(&self) {
        *lock(&self.direct_writes) += 1;
    }

    /// With [`super::SegmentOptions::direct_sync`], moves the buffer's start back
    /// to the block that holds `written`, reading that block's written
    /// bytes back from the file, so the next write rewrites it whole; the
    /// buffer must hold nothing unwritten. Otherwise nothing to do.
    pub(super) fn keep_written_block(&mut self) -> Result<(), StoreError> {
        debug_assert_eq!(self.buffer_start + self.buffer.len() as u64, self.written);
        if !self.options.direct_sync {
            return Ok(());
        }
        let start = block_start(self.written);
        if start == self.buffer_start {
            return Ok(());
        }
        let mut block = vec![0; (self.written - start) as usize];
        self.active.log.read_exact_at(start, &mut block)?;
        self.buffer = block;
        self.buffer_start = start;
        Ok(())
    }

    /// Forgets the buffer, which must hold nothing unwritten, so that reads
    /// go to the file, and fences off any pending sync: before the newest
    /// segment changes other than by appends.
    pub(super) fn drop_buffer(&mut self) {
        debug_assert_eq!(self.buffer_start + self.buffer.len() as u64, self.written);
        self.buffer.clear();
        self.buffer_start = self.written;
        self.fence_pending();
    }

    /// The file now holds `len` bytes of the newest segment, and the
    /// buffer nothing more.
    pub(super) fn written_to(&mut self, len: u64) -> Result<(), StoreError> {
        self.buffer.clear();
        self.buffer_start = len;
        self.written = len;
        self.keep_written_block()
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn write_and_sync(&mut self) -> Result<(), StoreError> {
        let synced = self.begin_sync_unchecked()?.sync()?;
        self.synced(synced);
        Ok(())
    }
}

/// A sync begun by [`SegmentLog::begin_sync`], to finish without the log.
pub(crate) struct PendingSync {
    file: File,
    write: SyncWrite,
    log_failed: Arc<AtomicBool>,
}

/// What a pending sync does to the disk.
enum SyncWrite {
    /// Without [`super::SegmentOptions::direct_sync`]: what it wrote out.
    Fdatasync,
    /// With it: the buffer's bytes not yet written.
    Direct(DirectWrite),
    /// With it, when every byte is written, and so durable.
    Nothing,
}

/// A sync's direct write: the buffer as it began, from its start.
struct DirectWrite {
    position: u64,
    bytes: Vec<u8>,
    /// The log's count of writes when the sync began.
    after_writes: u64,
    writes: Arc<Mutex<u64>>,
}

/// What a finished sync made durable, for [`SegmentLog::synced`].
#[must_use = "the log takes note of a direct write with `SegmentLog::synced`"]
pub(crate) struct Synced {
    /// A direct write's count of writes before it, and where it ended.
    direct: Option<(u64, u64)>,
}

impl Synced {
    /// Whether the sync made a direct write, of which the log must take
    /// note ([`SegmentLog::synced`]); nothing is lost by not telling it of
    /// any other.
    pub(crate) fn wrote_directly(&self) -> bool {
        self.direct.is_some()
    }
}

impl PendingSync {
    /// Makes every item appended before the sync began durable. A failure
    /// marks the log failed (see the module's documentation).
    pub(crate) fn sync(self) -> Result<Synced, StoreError> {
        let result = match &self.write {
            SyncWrite::Fdatasync => self.file.sync_data().map(|()| None),
            SyncWrite::Nothing => Ok(None),
            SyncWrite::Direct(write) => {
                let writes = lock(&write.writes);
                if *writes == write.after_writes {
                    let end = write.position + write.bytes.len() as u64;
                    self.file
                        .write_durably_at(write.position, &write.bytes)
                        .map(|()| Some((write.after_writes, end)))
                } else {
                    // A write of the log since wrote these bytes, durably.
                    Ok(None)
                }
            }
        };
        let direct = result.inspect_err(|_| self.log_failed.store(true, Ordering::SeqCst))?;
        Ok(Synced { direct })
    }
}

fn lock(writes: &Mutex<u64>) -> std::sync::MutexGuard<'_, u64> {
    writes.lock().unwrap_or_else(PoisonError::into_inner)
}
