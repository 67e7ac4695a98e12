//! A client-side history of appends made while faults run, shared by the
//! tests that check it against the log: writers append unique values one at
//! a time and record what became of each (acknowledged at an offset, outcome
//! unknown, certainly not appended); afterwards the log must hold every
//! acknowledged value once at its offset, nothing reported not appended,
//! nothing twice, nothing never sent, and no gaps.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ordo_client::{Client, ClientError};
use ordo_core::{Offset, Record};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::support::{eventually, offsets, record};

/// What became of one append.
#[derive(Debug, Clone)]
pub enum Outcome {
    Acked {
        offset: Offset,
        at: Instant,
    },
    /// It may or may not have been appended.
    Unknown(String),
    /// Certainly not appended (a refusal, or the cluster was unavailable).
    NotAppended(String),
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub value: String,
    pub sent_at: Instant,
    pub outcome: Outcome,
}

/// Every writer's attempts, in the order they completed.
#[derive(Clone, Default)]
pub struct History(Arc<Mutex<Vec<Attempt>>>);

impl History {
    pub fn attempts(&self) -> Vec<Attempt> {
        self.0.lock().expect("a writer panicked").clone()
    }

    fn push(&self, attempt: Attempt) {
        self.0.lock().expect("a writer panicked").push(attempt);
    }

    /// Acknowledgement times of the appends sent after `since`.
    pub fn acks_sent_after(&self, since: Instant) -> Vec<Instant> {
        self.attempts()
            .iter()
            .filter(|a| a.sent_at > since)
            .filter_map(|a| match a.outcome {
                Outcome::Acked { at, .. } => Some(at),
                _ => None,
            })
            .collect()
    }
}

/// How long and how much each writer may write, even if never stopped.
#[derive(Clone, Copy)]
pub struct WriterBounds {
    pub max_appends: usize,
    pub deadline: Duration,
}

/// Appends `"w{w}-{i}"` to `topic`, one at a time, through `client` until
/// `stop` (or its bounds).
pub fn spawn_writer(
    w: usize,
    topic: &'static str,
    client: Client,
    history: History,
    stop: Arc<AtomicBool>,
    bounds: WriterBounds,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        for i in 0..bounds.max_appends {
            if stop.load(Ordering::Relaxed) || started.elapsed() > bounds.deadline {
                return;
            }
            let value = format!("w{w}-{i}");
            let sent_at = Instant::now();
            let outcome = match client.append(topic, vec![record(value.clone())]).await {
                Ok(ack) => Outcome::Acked {
                    offset: ack.offsets[0],
                    at: Instant::now(),
                },
                Err(e @ ClientError::OutcomeUnknown { .. }) => Outcome::Unknown(e.to_string()),
                Err(e) => Outcome::NotAppended(e.to_string()),
            };
            let failed = !matches!(outcome, Outcome::Acked { .. });
            history.push(Attempt {
                value,
                sent_at,
                outcome,
            });
            if failed {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    })
}

/// Waits until `history` has `count` acknowledged appends sent after `since`.
pub async fn wait_for_acks(
    history: &History,
    since: Instant,
    count: usize,
    timeout: Duration,
    what: &str,
) {
    eventually(what, timeout, || async {
        let acked = history.acks_sent_after(since).len();
        if acked >= count {
            Ok(())
        } else {
            Err(format!("{acked} acknowledged, waiting for {count}"))
        }
    })
    .await
}

/// The history against the log: every acknowledged value once, at its
/// offset; nothing reported not appended; nothing twice; nothing unsent; no
/// gaps.
pub fn assert_history_matches_log(attempts: &[Attempt], log: &[Record]) {
    assert_eq!(
        log.iter().map(|r| r.offset).collect::<Vec<_>>(),
        offsets(0..log.len() as u64),
        "the log has no gaps"
    );
    let mut found: BTreeMap<String, Vec<Offset>> = BTreeMap::new();
    for r in log {
        let value: String = r.value.parse().expect("every value is a string");
        found.entry(value).or_default().push(r.offset);
    }
    for attempt in attempts {
        let at = found
            .get(attempt.value.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        match &attempt.outcome {
            Outcome::Acked { offset, .. } => assert_eq!(
                at,
                [*offset],
                "acknowledged {} must be in the log once, at offset {offset}",
                attempt.value
            ),
            Outcome::Unknown(why) => {
                eprintln!("{} may or may not be in the log: {why}", attempt.value)
            }
            Outcome::NotAppended(why) => assert!(
                at.is_empty(),
                "{} was reported not appended ({why}) but is at {at:?}",
                attempt.value
            ),
        }
    }
    // Each value was sent once, so none may be in the log twice, whatever
    // its outcome.
    for (value, at) in &found {
        assert_eq!(
            at.len(),
            1,
            "{value} is in the log {} times: {at:?}",
            at.len()
        );
        assert!(
            attempts.iter().any(|a| a.value == *value),
            "{value} is in the log but was never sent"
        );
    }
}
