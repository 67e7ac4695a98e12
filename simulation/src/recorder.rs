//! What a run observes, recorded as it happens: client operations, injected
//! faults, each node's Raft role and term as it changes, each failure of a
//! node's storage, the final logs. The hosts and the driver share one
//! `Recorder` (a simulation is one thread).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use crate::history::{
    FaultEvent, FaultKind, History, LivenessCheck, NodeId, Op, QueueName, QueueView,
    StorageFailure, StorageStage, TopicLog,
};

/// A node's Raft view, as its metrics last showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub role: String,
    pub term: u64,
    pub leader: Option<NodeId>,
}

/// One change of a node's Raft view, for the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftEvent {
    pub at: Duration,
    pub node: NodeId,
    pub view: NodeView,
}

#[derive(Debug, Default)]
pub struct Recorder {
    pub ops: Vec<Op>,
    pub faults: Vec<FaultEvent>,
    pub raft_events: Vec<RaftEvent>,
    pub views: BTreeMap<NodeId, NodeView>,
    pub final_logs: BTreeMap<NodeId, BTreeMap<String, TopicLog>>,
    pub liveness: Option<LivenessCheck>,
    pub storage_failures: Vec<StorageFailure>,
    /// Nodes that failed to open their store or to start on it, and serve
    /// nothing until their next restart: the final client leaves them out.
    pub failed_to_start: BTreeSet<NodeId>,
    /// Nodes whose process exited since the driver last looked, because
    /// their storage failed: the driver crashes them and, as a supervisor
    /// would, starts them again after a grace period.
    pub exited: BTreeSet<NodeId>,
    /// See `History::compacted_at_end`.
    pub compacted_at_end: bool,
    /// See `History::final_queues`.
    pub final_queues: BTreeMap<NodeId, BTreeMap<QueueName, QueueView>>,
    /// Each node's clock offset from simulated time, in ms, as each of its
    /// lives started: (when, node, offset).
    pub clock_offsets: Vec<(Duration, NodeId, i64)>,
    /// Workload clients still sending; the final reads wait for zero, so no
    /// request lands between two nodes' final reads.
    pub active_clients: u32,
    next_op_id: u64,
}

pub type SharedRecorder = Rc<RefCell<Recorder>>;

/// Simulated time since the run started.
pub fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

impl Recorder {
    pub fn new(active_clients: u32) -> Recorder {
        Recorder {
            active_clients,
            ..Recorder::default()
        }
    }

    pub fn next_op_id(&mut self) -> u64 {
        self.next_op_id += 1;
        self.next_op_id
    }

    /// Records a fault at `at`: the driver fires faults from outside every
    /// simulated host, where only the `Sim` knows the time.
    pub fn fault(&mut self, at: Duration, kind: FaultKind) {
        self.faults.push(FaultEvent { at, kind });
    }

    /// Records, at the current simulated time, that `node`'s storage failed
    /// (after the I/O errors `injected` into its disk in this life), and
    /// that its process exits.
    pub fn storage_failure(
        &mut self,
        node: NodeId,
        stage: StorageStage,
        error: String,
        injected: Vec<String>,
    ) {
        self.storage_failures.push(StorageFailure {
            at: now(),
            node,
            stage,
            error,
            injected,
        });
        self.exited.insert(node);
    }

    pub fn view(&mut self, node: NodeId, view: NodeView) {
        if self.views.get(&node) != Some(&view) {
            self.raft_events.push(RaftEvent {
                at: now(),
                node,
                view: view.clone(),
            });
            self.views.insert(node, view);
        }
    }

    pub fn history(&self) -> History {
        History {
            ops: self.ops.clone(),
            faults: self.faults.clone(),
            final_logs: self.final_logs.clone(),
            liveness: self.liveness.clone(),
            compacted_topics: crate::workload::COMPACTED_TOPICS
                .iter()
                .map(|topic| topic.to_string())
                .collect(),
            compacted_at_end: self.compacted_at_end,
            storage_failures: self.storage_failures.clone(),
            queues: crate::workload::QUEUES
                .iter()
                .map(|queue| queue.spec())
                .collect(),
            final_queues: self.final_queues.clone(),
        }
    }
}
