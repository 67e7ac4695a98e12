//! Fault schedules: a plain data value generated from the run's seed and
//! printed with it. Faults name their target by role where it matters
//! ("the leader"); the harness resolves roles when the fault fires, which is
//! deterministic because the whole run is.

use std::fmt;
use std::time::Duration;

use ordo_store::{DiskArea, DiskError};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::history::NodeId;

pub const NODES: [NodeId; 3] = [1, 2, 3];
/// Faults start after the cluster has formed and taken some writes.
const FAULTS_FROM: Duration = Duration::from_millis(1000);
/// Everything is healed (links, latency, loss, crashed nodes restarted) here.
pub const HEAL_AT: Duration = Duration::from_secs(8);
/// No fault starts later than this before `HEAL_AT`, so each has time to
/// bite before everything heals (short flaps go on until 300 ms before).
const LAST_FAULT_BEFORE_HEAL: Duration = Duration::from_millis(500);

/// Who a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Node(NodeId),
    Leader,
    /// Some node that is not the leader (the lowest id that is not).
    Follower,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Cut every link between the target and the other nodes (clients still
    /// reach it: a client on the minority side).
    Isolate(Target),
    /// Restore every cut link between nodes.
    HealLinks,
    /// Stop the target's process; it loses `lose_fraction` of what it had
    /// not flushed (1.0: everything unflushed is gone).
    Crash { target: Target, lose_fraction: f64 },
    /// Crash a majority at once (a power failure), same loss rule.
    CrashMany {
        targets: Vec<NodeId>,
        lose_fraction: f64,
    },
    /// Start every crashed node again from its disk (except one kept down
    /// for good).
    RestartCrashed,
    /// Message loss: the probability a link fails per message.
    Loss(f64),
    /// Maximum one-way message latency.
    Latency(Duration),
    /// The target's disk is full: every write and preallocation of its
    /// files in `area` fails with `ENOSPC` (with `DiskArea::Anywhere`, every
    /// flush of its trees too) until `DiskSpaceFreed`.
    DiskFull { target: Target, area: DiskArea },
    /// Space returns on every disk.
    DiskSpaceFreed,
    /// The next sync in `area` of each target's disk fails with `error`,
    /// once; what it was to make durable is lost (fsyncgate).
    FailNextSync {
        targets: Vec<Target>,
        area: DiskArea,
        error: DiskError,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFault {
    pub at: Duration,
    pub action: FaultAction,
}

/// The scenario a seed exercises; every seed also gets random extras.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    FollowerPartition,
    LeaderIsolated,
    CrashRestart,
    LossAndLatency,
    FlappingPartitions,
    MinorityDown,
    DiskFull,
    FailedFsync,
}

const SCENARIOS: [Scenario; 8] = [
    Scenario::FollowerPartition,
    Scenario::LeaderIsolated,
    Scenario::CrashRestart,
    Scenario::LossAndLatency,
    Scenario::FlappingPartitions,
    Scenario::MinorityDown,
    Scenario::DiskFull,
    Scenario::FailedFsync,
];

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub seed: u64,
    pub scenario: Scenario,
    pub faults: Vec<PlannedFault>,
    /// A node crashed for good (never restarted, excluded from convergence).
    pub down_for_good: Option<NodeId>,
    pub heal_at: Duration,
    /// How long every node's Raft log flush takes: appends are written and
    /// replicated while their flush is pending, so crashes drop them and
    /// elections find them unflushed. Zero in a quarter of the runs.
    pub flush_latency: Duration,
    /// Whether the Raft log's `append` returns before its flush (see
    /// `ordo_store::StoreOptions::pipelined_flush`): half the runs each way.
    pub pipelined_flush: bool,
}

impl Schedule {
    /// The scenario `seed` exercises. Consecutive seeds cycle through the
    /// scenarios, so any 8 seeds cover them all.
    pub fn scenario_of(seed: u64) -> Scenario {
        SCENARIOS[(seed % SCENARIOS.len() as u64) as usize]
    }

    pub fn generate(seed: u64) -> Schedule {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed_fa17_0f0f_0001);
        let scenario = Schedule::scenario_of(seed);
        let mut faults = Vec::new();
        let mut down_for_good = None;
        let window = HEAL_AT - FAULTS_FROM - LAST_FAULT_BEFORE_HEAL;
        let at = |rng: &mut SmallRng, from: Duration, span: Duration| {
            from + Duration::from_millis(rng.random_range(0..span.as_millis().max(1) as u64))
        };
        match scenario {
            Scenario::FollowerPartition | Scenario::LeaderIsolated => {
                let target = if scenario == Scenario::LeaderIsolated {
                    Target::Leader
                } else {
                    Target::Follower
                };
                let mut t = at(&mut rng, FAULTS_FROM, Duration::from_secs(1));
                while t + LAST_FAULT_BEFORE_HEAL < HEAL_AT {
                    faults.push(PlannedFault {
                        at: t,
                        action: FaultAction::Isolate(target),
                    });
                    t = (t + Duration::from_millis(rng.random_range(500..2500))).min(HEAL_AT);
                    faults.push(PlannedFault {
                        at: t,
                        action: FaultAction::HealLinks,
                    });
                    t += Duration::from_millis(rng.random_range(300..1500));
                }
            }
            Scenario::CrashRestart => {
                let mut t = at(&mut rng, FAULTS_FROM, Duration::from_secs(1));
                while t + LAST_FAULT_BEFORE_HEAL < HEAL_AT {
                    let lose_fraction = lose_fraction(&mut rng);
                    let action = match rng.random_range(0..10) {
                        0..=5 => FaultAction::Crash {
                            target: if rng.random_bool(0.5) {
                                Target::Leader
                            } else {
                                Target::Node(rng.random_range(1..=3))
                            },
                            lose_fraction,
                        },
                        6..=8 => {
                            let spared = rng.random_range(1..=3);
                            FaultAction::CrashMany {
                                targets: NODES.iter().copied().filter(|n| *n != spared).collect(),
                                lose_fraction,
                            }
                        }
                        _ => FaultAction::CrashMany {
                            targets: NODES.to_vec(),
                            lose_fraction,
                        },
                    };
                    faults.push(PlannedFault { at: t, action });
                    t = (t + Duration::from_millis(rng.random_range(50..800))).min(HEAL_AT);
                    faults.push(PlannedFault {
                        at: t,
                        action: FaultAction::RestartCrashed,
                    });
                    t += Duration::from_millis(rng.random_range(100..800));
                }
            }
            Scenario::LossAndLatency => {
                let t = at(&mut rng, FAULTS_FROM, Duration::from_secs(1));
                faults.push(PlannedFault {
                    at: t,
                    action: FaultAction::Latency(Duration::from_millis(rng.random_range(15..40))),
                });
                faults.push(PlannedFault {
                    at: t,
                    action: FaultAction::Loss(rng.random_range(0.001..0.02)),
                });
            }
            Scenario::FlappingPartitions => {
                let mut t = at(&mut rng, FAULTS_FROM, Duration::from_millis(500));
                while t + Duration::from_millis(300) < HEAL_AT {
                    let target = Target::Node(rng.random_range(1..=3));
                    faults.push(PlannedFault {
                        at: t,
                        action: FaultAction::Isolate(target),
                    });
                    t = (t + Duration::from_millis(rng.random_range(100..600))).min(HEAL_AT);
                    faults.push(PlannedFault {
                        at: t,
                        action: FaultAction::HealLinks,
                    });
                    t += Duration::from_millis(rng.random_range(50..400));
                }
            }
            Scenario::MinorityDown => {
                let node = rng.random_range(1..=3);
                down_for_good = Some(node);
                let t = at(&mut rng, FAULTS_FROM, window);
                faults.push(PlannedFault {
                    at: t,
                    action: FaultAction::Crash {
                        target: Target::Node(node),
                        lose_fraction: 1.0,
                    },
                });
            }
            Scenario::DiskFull => disk_full(&mut rng, &mut faults),
            Scenario::FailedFsync => failed_fsync(&mut rng, &mut faults),
        }
        // Extras on top: a crash and restart of some node, sometimes.
        if scenario != Scenario::CrashRestart && rng.random_bool(0.4) {
            let t = at(&mut rng, FAULTS_FROM, window);
            let target = match down_for_good {
                // Never crash a second node while one is down for good.
                Some(_) => None,
                None => Some(Target::Node(rng.random_range(1..=3))),
            };
            if let Some(target) = target {
                faults.push(PlannedFault {
                    at: t,
                    action: FaultAction::Crash {
                        target,
                        lose_fraction: lose_fraction(&mut rng),
                    },
                });
                let back = t + Duration::from_millis(rng.random_range(200..1500));
                faults.push(PlannedFault {
                    at: back.min(HEAL_AT),
                    action: FaultAction::RestartCrashed,
                });
            }
        }
        faults.sort_by_key(|f| f.at);
        let (flush_latency, pipelined_flush) = flushes(seed);
        Schedule {
            seed,
            scenario,
            faults,
            down_for_good,
            heal_at: HEAL_AT,
            flush_latency,
            pipelined_flush,
        }
    }
}

/// How much of what a crashing node had not flushed it loses: all of it
/// half the time, otherwise a uniform share.
pub fn lose_fraction(rng: &mut SmallRng) -> f64 {
    if rng.random_bool(0.5) {
        1.0
    } else {
        rng.random_range(0.0..1.0)
    }
}

fn random_node(rng: &mut SmallRng) -> NodeId {
    rng.random_range(1..=NODES.len() as NodeId)
}

/// One or two spells of a full disk on one node (the leader when the spell
/// starts, or a node chosen now), in its Raft log, its records or
/// everywhere, each of 0.5-3 s, after which space returns.
fn disk_full(rng: &mut SmallRng, faults: &mut Vec<PlannedFault>) {
    let mut t = FAULTS_FROM + Duration::from_millis(rng.random_range(0..2000));
    for _ in 0..rng.random_range(1..=2) {
        if t + LAST_FAULT_BEFORE_HEAL >= HEAL_AT {
            break;
        }
        let target = if rng.random_bool(0.5) {
            Target::Leader
        } else {
            Target::Node(random_node(rng))
        };
        let area =
            [DiskArea::RaftLog, DiskArea::Records, DiskArea::Anywhere][rng.random_range(0..3)];
        faults.push(PlannedFault {
            at: t,
            action: FaultAction::DiskFull { target, area },
        });
        t = (t + Duration::from_millis(rng.random_range(500..3000))).min(HEAL_AT);
        faults.push(PlannedFault {
            at: t,
            action: FaultAction::DiskSpaceFreed,
        });
        t += Duration::from_millis(rng.random_range(300..1500));
    }
}

/// A failed fsync. Half the time one node's (the leader's, or a node
/// chosen now), of its Raft log or of anything (a records file's, the
/// trees' flush): `EIO` mostly, sometimes `ENOSPC` (delayed allocation).
/// Otherwise the Raft log's of two nodes at once while the third is cut off
/// from them, for 3-4.5 s: entries both failed to sync are then nowhere
/// else, so a node that acknowledged them anyway loses writes the cluster
/// acknowledged, once the two restart and elect one of them.
fn failed_fsync(rng: &mut SmallRng, faults: &mut Vec<PlannedFault>) {
    let t = FAULTS_FROM + Duration::from_millis(rng.random_range(0..4000));
    if rng.random_bool(0.5) {
        let target = if rng.random_bool(0.5) {
            Target::Leader
        } else {
            Target::Node(random_node(rng))
        };
        let area = if rng.random_bool(0.5) {
            DiskArea::RaftLog
        } else {
            DiskArea::Anywhere
        };
        let error = if rng.random_bool(0.75) {
            DiskError::Io
        } else {
            DiskError::NoSpace
        };
        faults.push(PlannedFault {
            at: t,
            action: FaultAction::FailNextSync {
                targets: vec![target],
                area,
                error,
            },
        });
        return;
    }
    let outsider = random_node(rng);
    faults.push(PlannedFault {
        at: t,
        action: FaultAction::Isolate(Target::Node(outsider)),
    });
    faults.push(PlannedFault {
        at: t + Duration::from_millis(rng.random_range(200..600)),
        action: FaultAction::FailNextSync {
            targets: NODES
                .iter()
                .filter(|n| **n != outsider)
                .map(|n| Target::Node(*n))
                .collect(),
            area: DiskArea::RaftLog,
            error: DiskError::Io,
        },
    });
    faults.push(PlannedFault {
        at: (t + Duration::from_millis(rng.random_range(3000..4500))).min(HEAL_AT),
        action: FaultAction::HealLinks,
    });
}

/// How the nodes' Raft logs flush: drawn from a stream of its own, so the
/// faults a seed plans do not depend on it.
fn flushes(seed: u64) -> (Duration, bool) {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0xf105_41a7_e000_0002);
    let latency = Duration::from_millis([0, 1, 2, 5][rng.random_range(0..4)]);
    (latency, rng.random_bool(0.5))
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scenario {:?}, heal at {:?}, flushes take {:?}{}{}",
            self.scenario,
            self.heal_at,
            self.flush_latency,
            if self.pipelined_flush {
                " (pipelined)"
            } else {
                ""
            },
            self.down_for_good
                .map(|n| format!(", node {n} down for good"))
                .unwrap_or_default()
        )?;
        for fault in &self.faults {
            writeln!(f, "  {:>6} ms  {:?}", fault.at.as_millis(), fault.action)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        for seed in 0..50 {
            assert_eq!(Schedule::generate(seed), Schedule::generate(seed));
        }
    }

    #[test]
    fn consecutive_seeds_cover_every_scenario() {
        let count = SCENARIOS.len() as u64;
        let scenarios: Vec<_> = (100..100 + count)
            .map(|s| Schedule::generate(s).scenario)
            .collect();
        for scenario in SCENARIOS {
            assert!(scenarios.contains(&scenario), "{scenario:?} missing");
        }
    }

    #[test]
    fn every_fault_happens_before_the_heal_and_in_order() {
        for seed in 0..200 {
            let s = Schedule::generate(seed);
            assert!(
                s.faults
                    .iter()
                    .all(|f| f.at <= s.heal_at && f.at >= FAULTS_FROM),
                "{s}"
            );
            assert!(s.faults.windows(2).all(|w| w[0].at <= w[1].at), "{s}");
        }
    }

    #[test]
    fn every_full_disk_gets_its_space_back() {
        for seed in 0..200 {
            let s = Schedule::generate(seed);
            let mut full = false;
            for fault in &s.faults {
                match fault.action {
                    FaultAction::DiskFull { .. } => full = true,
                    FaultAction::DiskSpaceFreed => full = false,
                    _ => {}
                }
            }
            assert!(!full, "{s}");
        }
    }
}
