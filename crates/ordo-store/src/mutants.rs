//! Deliberate durability bugs, compiled only with the `mutants` feature (the
//! production binary never enables it): switches the simulation turns on to
//! prove that its checker catches what each bug breaks.
//!
//! The switches are process-wide, since every simulated node runs in one
//! process and all of them should run the same buggy code. All are off
//! until set; [`reset`] turns them all off again.

use std::sync::atomic::{AtomicBool, Ordering};

use ordo_core::{Command, QueueCommand};

use crate::state_machine::StateMachineStore;
use crate::type_config::StoreTypeConfig;

static ACK_BEFORE_FLUSH: AtomicBool = AtomicBool::new(false);
static SKIP_VOTE_PERSIST: AtomicBool = AtomicBool::new(false);
static SKIP_CRC_CHECK: AtomicBool = AtomicBool::new(false);
static IGNORE_FSYNC_ERROR: AtomicBool = AtomicBool::new(false);
static UNSTAMPED_QUEUE_TIME: AtomicBool = AtomicBool::new(false);

/// Mutant (a), ack before flush: `append` reports its entries persisted
/// (`IOFlushed`) without flushing them; they stay volatile until some later
/// flush for another reason. Models a log that acknowledges from the page
/// cache (a missing fsync). A leader then counts a follower's ack towards a
/// quorum for entries that follower can lose in a crash, so the checker
/// should see an acknowledged write vanish, or two nodes commit different
/// entries at one index, after crashes that drop unflushed writes.
pub fn set_ack_before_flush(on: bool) {
    ACK_BEFORE_FLUSH.store(on, Ordering::SeqCst);
}

pub fn ack_before_flush() -> bool {
    ACK_BEFORE_FLUSH.load(Ordering::SeqCst)
}

/// Mutant (d), skip persisting the vote: `save_vote` keeps the vote in
/// memory only, so the running node behaves normally but forgets, across a
/// crash, whom it voted for in which term. Models a store that never writes
/// (or never flushes) its hard state. A restarted node can then vote twice
/// in one term and elect two leaders for it, so the checker should see
/// diverging committed histories (lost or conflicting acknowledged writes).
pub fn set_skip_vote_persist(on: bool) {
    SKIP_VOTE_PERSIST.store(on, Ordering::SeqCst);
}

pub fn skip_vote_persist() -> bool {
    SKIP_VOTE_PERSIST.load(Ordering::SeqCst)
}

/// Mutant (e), skip the CRC check: the segment files' frame scanner accepts
/// a frame whose checksum does not match its payload, as if the checksum
/// were never checked, instead of stopping there (a torn write, or
/// corruption). Models a store that trusts a frame's length alone. After a
/// crash that tears the last frame of a segment (its length written, its
/// payload partly zeros), recovery keeps that frame instead of cutting it,
/// so the node serves, or fails to decode, an entry or a record that was
/// never written that way; the checker should see the node's storage report
/// corrupt data, or a record that was never sent.
pub fn set_skip_crc_check(on: bool) {
    SKIP_CRC_CHECK.store(on, Ordering::SeqCst);
}

pub fn skip_crc_check() -> bool {
    SKIP_CRC_CHECK.load(Ordering::SeqCst)
}

/// Mutant (f), ignore an fsync error: the Raft log's flusher treats a
/// failed flush (its fdatasync, a records file's, or the tree's) as a
/// success: it completes every callback of the group with `Ok` and goes on
/// flushing, instead of failing them and refusing writes from then on.
/// Models PostgreSQL before fsyncgate, which retried a failed fsync and
/// trusted the retry, though the kernel had dropped the pages it could not
/// write. The entries the failed flush was to make durable are acknowledged
/// to Raft, counted towards a quorum, and lost when the node restarts (the
/// segment log still refuses appends after its failed sync, so the node
/// stops at its next one, and a supervisor restarts it); the checker should
/// see acknowledged writes vanish once the nodes that lost them outvote the
/// one that kept them.
pub fn set_ignore_fsync_error(on: bool) {
    IGNORE_FSYNC_ERROR.store(on, Ordering::SeqCst);
}

pub fn ignore_fsync_error() -> bool {
    IGNORE_FSYNC_ERROR.load(Ordering::SeqCst)
}

/// Mutant (g), unstamped queue time: every node applies a queue command
/// (claim, ack, nack, extend, put) at its own clock, read when it applies
/// the command, instead of the time the leader stamped into it. Models a
/// state machine that forgets the stamp and asks the local clock, which
/// looks right on a single node. Replicas then decide lease expiry
/// differently: a follower applies later, a restarted node replays old
/// claims long after they were made, and clocks differ between nodes; so
/// each replica hands out, expires and dead-letters different jobs, and
/// the leader after a failover hands out a job whose lease is still live by
/// the old leader's answers, or one already acked. The node's clock comes
/// from [`StateMachineStore::set_node_clock`]; without one, the stamp
/// stays.
pub fn set_unstamped_queue_time(on: bool) {
    UNSTAMPED_QUEUE_TIME.store(on, Ordering::SeqCst);
}

pub fn unstamped_queue_time() -> bool {
    UNSTAMPED_QUEUE_TIME.load(Ordering::SeqCst)
}

/// Mutant (g): `command` as this node applies it: a queue command's stamp
/// replaced by the node's clock now.
pub(crate) fn restamp_queue_command(
    mut command: Command,
    node_clock: Option<&fn() -> u64>,
) -> Command {
    if let (true, Command::Queue(QueueCommand { timestamp_ms, .. }), Some(clock)) =
        (unstamped_queue_time(), &mut command, node_clock)
    {
        *timestamp_ms = clock();
    }
    command
}

impl<C: StoreTypeConfig> StateMachineStore<C> {
    /// Names the clock of the node this store belongs to (for mutant (g));
    /// the first one named stays for the store's life.
    pub fn set_node_clock(&self, clock: fn() -> u64) {
        let _ = self.shared.node_clock.set(clock);
    }
}

/// Turns every mutant off.
pub fn reset() {
    set_ack_before_flush(false);
    set_skip_vote_persist(false);
    set_skip_crc_check(false);
    set_ignore_fsync_error(false);
    set_unstamped_queue_time(false);
}
