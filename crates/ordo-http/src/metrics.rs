//! Every Prometheus metric `/metrics` shows, in one place: the HTTP
//! request metrics recorded here, the node's and the store's (described
//! through [`ordo_node::metrics`]), and the state gauges rendered at each
//! scrape from the node's status.
//!
//! The state gauges (Raft term, leader, indexes, follower lag, consumer lag,
//! work queues' depth and age)
//! are read from the node when `/metrics` is scraped and written straight
//! into the page, not kept in the recorder: a series then exists exactly
//! while what it measures does, so a removed follower, a node that stepped
//! down or a deleted topic or group leaves no stale value behind.
//!
//! Group and topic names come from users: at most
//! [`MAX_CONSUMER_LAG_SERIES`] group/topic pairs get a series of their own
//! (in name order); the largest lag among the rest is shown under
//! [`OTHER_LABEL`]. Topic labels of the append counters are capped by
//! [`ordo_node::metrics::MAX_TOPIC_LABELS`].

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram, Counter, Histogram};
use ordo_api::{ClusterStatus, QueueInfo};
pub use ordo_node::metrics::OTHER_LABEL;

/// Counter by `route` (the matched path pattern, `unmatched` for none) and
/// `status`: HTTP requests answered.
pub const HTTP_REQUESTS_TOTAL: &str = "ordo_http_requests_total";
/// Histogram by `route`: time to answer (for a stream, its whole life).
pub const HTTP_REQUEST_SECONDS: &str = "ordo_http_request_seconds";

/// Gauges rendered at scrape time (see the module doc). An unknown value
/// (no leader known, nothing in the log yet) is -1.
pub const RAFT_TERM: &str = "ordo_raft_term";
pub const RAFT_LEADER_ID: &str = "ordo_raft_leader_id";
pub const RAFT_IS_LEADER: &str = "ordo_raft_is_leader";
/// 1 while the node is in touch with a quorum (`ClusterStatus::quorum`).
pub const RAFT_QUORUM: &str = "ordo_raft_quorum";
pub const RAFT_LAST_LOG_INDEX: &str = "ordo_raft_last_log_index";
pub const RAFT_COMMIT_INDEX: &str = "ordo_raft_commit_index";
pub const RAFT_APPLIED_INDEX: &str = "ordo_raft_applied_index";
pub const RAFT_SNAPSHOT_INDEX: &str = "ordo_raft_snapshot_index";
pub const RAFT_PURGED_INDEX: &str = "ordo_raft_purged_index";
/// By `follower`, on the leader only.
pub const RAFT_FOLLOWER_LAG_ENTRIES: &str = "ordo_raft_follower_lag_entries";
/// By `group` and `topic`.
pub const CONSUMER_LAG_RECORDS: &str = "ordo_consumer_lag_records";

/// By `group` and `topic`, one series per work queue (at most
/// `ordo_core::limits::MAX_QUEUES`): jobs neither done nor held, jobs held
/// under a lease, jobs acked and dead-lettered since the queue was made,
/// and the age of the oldest pending job in milliseconds (0: none).
pub const QUEUE_PENDING_JOBS: &str = "ordo_queue_pending_jobs";
pub const QUEUE_IN_FLIGHT_JOBS: &str = "ordo_queue_in_flight_jobs";
pub const QUEUE_ACKED_JOBS: &str = "ordo_queue_acked_jobs";
pub const QUEUE_DEAD_LETTERED_JOBS: &str = "ordo_queue_dead_lettered_jobs";
pub const QUEUE_OLDEST_PENDING_AGE_MS: &str = "ordo_queue_oldest_pending_age_ms";

/// Group/topic pairs with a consumer lag series of their own.
pub const MAX_CONSUMER_LAG_SERIES: usize = 1_000;

/// Histogram bucket bounds for every `_seconds` histogram: 0.5 ms to 10 s,
/// which spans a flush on a fast disk to an append that times out.
pub const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One route's request series: its histogram, and a counter per status it
/// answered with.
struct RouteSeries {
    seconds: Histogram,
    answered: Vec<(u16, Counter)>,
}

impl RouteSeries {
    fn new(route: &str) -> Self {
        RouteSeries {
            seconds: histogram!(HTTP_REQUEST_SECONDS, "route" => route.to_owned()),
            answered: Vec::new(),
        }
    }

    /// Counts a request to `route` (this series' route) answered with
    /// `status` after `took`, registering the status's counter on first use.
    fn record(&mut self, route: &str, status: u16, took: Duration) {
        self.seconds.record(took.as_secs_f64());
        if let Some((_, answered)) = self.answered.iter().find(|(s, _)| *s == status) {
            answered.increment(1);
            return;
        }
        let answered = counter!(
            HTTP_REQUESTS_TOTAL,
            "route" => route.to_owned(),
            "status" => status.to_string()
        );
        answered.increment(1);
        self.answered.push((status, answered));
    }
}

/// The request series by route, registered on first use: a labelled
/// `counter!` builds and hashes its key in the recorder's registry on every
/// call, a few per cent of a busy leader's CPU. Routes are the router's
/// patterns and statuses are few, so this stays small.
static ROUTE_SERIES: LazyLock<Mutex<HashMap<String, RouteSeries>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Counts a request to `route` answered with `status` after `took`.
pub(crate) fn request_answered(route: &str, status: u16, took: Duration) {
    // A map only ever added to: consistent even if poisoned.
    let mut series = ROUTE_SERIES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(route_series) = series.get_mut(route) {
        route_series.record(route, status, took);
        return;
    }
    let mut route_series = RouteSeries::new(route);
    route_series.record(route, status, took);
    series.insert(route.to_owned(), route_series);
}

/// Gives every recorded metric (HTTP, node, store) its HELP text; call once
/// after installing the recorder.
pub fn describe() {
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by route pattern and status code"
    );
    describe_histogram!(
        HTTP_REQUEST_SECONDS,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by route pattern (a stream: its whole life)"
    );
    ordo_node::metrics::describe();
}

/// The state gauges of `status`, in Prometheus text format.
pub fn render_state(status: &ClusterStatus) -> String {
    let mut page = String::new();
    let mut single = |name: &str, help: &str, value: Option<u64>| {
        family(&mut page, name, help);
        sample(&mut page, name, &[], value);
    };
    single(RAFT_TERM, "Raft term this node is in", Some(status.term));
    single(
        RAFT_LEADER_ID,
        "Node id of the leader this node knows of (-1: none)",
        status.leader,
    );
    single(
        RAFT_IS_LEADER,
        "1 if this node is the leader, else 0",
        Some(u64::from(status.role == "leader")),
    );
    single(
        RAFT_QUORUM,
        "1 while this node is in touch with a quorum (the leader: a majority acknowledged it \
         lately; others: the leader reached them lately), else 0",
        Some(u64::from(status.quorum)),
    );
    single(
        RAFT_LAST_LOG_INDEX,
        "Index of the last entry in this node's Raft log (-1: none)",
        status.last_log_index,
    );
    single(
        RAFT_COMMIT_INDEX,
        "Highest log index this node knows to be committed (-1: none)",
        status.commit_index,
    );
    single(
        RAFT_APPLIED_INDEX,
        "Highest log index this node has applied to its state machine (-1: none)",
        status.last_applied_index,
    );
    single(
        RAFT_SNAPSHOT_INDEX,
        "Last log index in this node's current snapshot (-1: none)",
        status.snapshot_index,
    );
    single(
        RAFT_PURGED_INDEX,
        "Highest log index purged from this node's log behind a snapshot (-1: none)",
        status.purged_index,
    );

    if !status.followers.is_empty() {
        family(
            &mut page,
            RAFT_FOLLOWER_LAG_ENTRIES,
            "Entries each follower is behind the leader's log (leader only; -1: unknown)",
        );
        for follower in &status.followers {
            let id = follower.id.to_string();
            let labels = [("follower", id.as_str())];
            sample(
                &mut page,
                RAFT_FOLLOWER_LAG_ENTRIES,
                &labels,
                follower.lag_entries,
            );
        }
    }

    let pairs = status
        .consumers
        .iter()
        .flat_map(|(group, topics)| topics.iter().map(move |(topic, p)| (group, topic, p)));
    let mut rest: Option<u64> = None;
    for (n, (group, topic, position)) in pairs.enumerate() {
        if n == 0 {
            family(
                &mut page,
                CONSUMER_LAG_RECORDS,
                "Records appended to a topic that a consumer group has not read (end offset minus its position)",
            );
        }
        if n < MAX_CONSUMER_LAG_SERIES {
            let labels = [("group", group.as_str()), ("topic", topic.as_str())];
            sample(
                &mut page,
                CONSUMER_LAG_RECORDS,
                &labels,
                Some(position.lag_records),
            );
        } else {
            rest = rest.max(Some(position.lag_records));
        }
    }
    if rest.is_some() {
        let labels = [("group", OTHER_LABEL), ("topic", OTHER_LABEL)];
        sample(&mut page, CONSUMER_LAG_RECORDS, &labels, rest);
    }
    render_queues(&mut page, status);
    page
}

/// A queue gauge: its name, its help, and its value for one queue.
type QueueGauge = (&'static str, &'static str, fn(&QueueInfo) -> u64);

/// One series per queue and gauge, from the status's queues.
fn render_queues(page: &mut String, status: &ClusterStatus) {
    if status.queues.is_empty() {
        return;
    }
    let gauges: [QueueGauge; 5] = [
        (
            QUEUE_PENDING_JOBS,
            "Jobs of a work queue neither done nor held by a worker",
            |queue| queue.pending,
        ),
        (
            QUEUE_IN_FLIGHT_JOBS,
            "Jobs of a work queue held by a worker under a lease",
            |queue| queue.in_flight,
        ),
        (
            QUEUE_ACKED_JOBS,
            "Jobs of a work queue acked since it was made",
            |queue| queue.acked,
        ),
        (
            QUEUE_DEAD_LETTERED_JOBS,
            "Jobs of a work queue sent to its dead-letter topic since it was made",
            |queue| queue.dead_lettered,
        ),
        (
            QUEUE_OLDEST_PENDING_AGE_MS,
            "Age in milliseconds of a work queue's oldest pending job (0: none)",
            |queue| queue.oldest_pending_age_ms,
        ),
    ];
    for (name, help, value) in gauges {
        family(page, name, help);
        for queue in &status.queues {
            let labels = [
                ("group", queue.group.as_str()),
                ("topic", queue.topic.as_str()),
            ];
            sample(page, name, &labels, Some(value(queue)));
        }
    }
}

fn family(page: &mut String, name: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(page, "# HELP {name} {help}");
    let _ = writeln!(page, "# TYPE {name} gauge");
}

fn sample(page: &mut String, name: &str, labels: &[(&str, &str)], value: Option<u64>) {
    page.push_str(name);
    if !labels.is_empty() {
        page.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                page.push(',');
            }
            let _ = write!(page, "{key}=\"{}\"", escape(value));
        }
        page.push('}');
    }
    match value {
        Some(value) => {
            let _ = writeln!(page, " {value}");
        }
        None => page.push_str(" -1\n"),
    }
}

/// A label value as the text format wants it. Names are validated to
/// `[A-Za-z0-9._-]`, so this is only a safeguard.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_api::{FollowerProgress, TopicPosition};
    use ordo_core::{GroupName, Offset, TopicName};
    use std::collections::BTreeMap;

    fn status() -> ClusterStatus {
        ClusterStatus {
            node_id: 1,
            role: "leader".into(),
            leader: Some(1),
            term: 4,
            members: Vec::new(),
            last_log_index: Some(30),
            commit_index: Some(30),
            last_applied_index: Some(29),
            snapshot_index: None,
            purged_index: None,
            followers: vec![FollowerProgress {
                id: 2,
                matched_index: Some(27),
                lag_entries: Some(3),
            }],
            quorum: true,
            quorum_contact_age_ms: Some(12),
            ready: true,
            health: "ok".into(),
            consumers: BTreeMap::new(),
            queues: Vec::new(),
            storage: Default::default(),
            protections: Default::default(),
        }
    }

    fn position(lag: u64) -> TopicPosition {
        TopicPosition {
            offset: Offset(0),
            end_offset: Offset(lag),
            lag_records: lag,
        }
    }

    #[test]
    fn state_gauges_say_what_the_status_says_and_unknown_is_minus_one() {
        let mut status = status();
        let topics = BTreeMap::from([(TopicName::new("orders").unwrap(), position(7))]);
        status
            .consumers
            .insert(GroupName::new("billing").unwrap(), topics);
        let page = render_state(&status);
        for line in [
            "# TYPE ordo_raft_term gauge",
            "ordo_raft_term 4",
            "ordo_raft_is_leader 1",
            "ordo_raft_quorum 1",
            "ordo_raft_applied_index 29",
            "ordo_raft_snapshot_index -1",
            "ordo_raft_follower_lag_entries{follower=\"2\"} 3",
            "ordo_consumer_lag_records{group=\"billing\",topic=\"orders\"} 7",
        ] {
            assert!(page.lines().any(|l| l == line), "{line:?} in\n{page}");
        }
        // Every family has its HELP and TYPE once.
        assert_eq!(page.matches("# TYPE ").count(), 11, "{page}");
    }

    #[test]
    fn each_queue_has_its_depth_counts_and_age() {
        let mut status = status();
        status.queues.push(QueueInfo {
            group: GroupName::new("mailers").unwrap(),
            topic: TopicName::new("mail").unwrap(),
            config: ordo_api::QueueSettings {
                lease_ms: 30_000,
                max_deliveries: 5,
                dead_letter_topic: TopicName::new("mail.dlq").unwrap(),
                ordered_by_key: false,
            },
            floor_offset: Offset(10),
            end_offset: Offset(20),
            pending: 6,
            in_flight: 4,
            acked: 9,
            dead_lettered: 1,
            oldest_pending_age_ms: 1_500,
        });
        let page = render_state(&status);
        for line in [
            "ordo_queue_pending_jobs{group=\"mailers\",topic=\"mail\"} 6",
            "ordo_queue_in_flight_jobs{group=\"mailers\",topic=\"mail\"} 4",
            "ordo_queue_acked_jobs{group=\"mailers\",topic=\"mail\"} 9",
            "ordo_queue_dead_lettered_jobs{group=\"mailers\",topic=\"mail\"} 1",
            "ordo_queue_oldest_pending_age_ms{group=\"mailers\",topic=\"mail\"} 1500",
        ] {
            assert!(page.lines().any(|l| l == line), "{line:?} in\n{page}");
        }
    }

    #[test]
    fn a_follower_shows_no_follower_lag_and_no_consumers_no_consumer_lag() {
        let mut status = status();
        status.role = "follower".into();
        status.followers.clear();
        let page = render_state(&status);
        assert!(page.contains("ordo_raft_is_leader 0"));
        assert!(!page.contains(RAFT_FOLLOWER_LAG_ENTRIES), "{page}");
        assert!(!page.contains(CONSUMER_LAG_RECORDS), "{page}");
    }

    #[test]
    fn consumer_lag_past_the_cap_is_one_series_with_the_largest_lag() {
        let mut status = status();
        let group = GroupName::new("g").unwrap();
        let topics = (0..MAX_CONSUMER_LAG_SERIES + 3)
            .map(|i| {
                (
                    TopicName::new(format!("t{i:05}")).unwrap(),
                    position(i as u64),
                )
            })
            .collect();
        status.consumers.insert(group, topics);
        let page = render_state(&status);
        let series = page
            .lines()
            .filter(|l| l.starts_with(CONSUMER_LAG_RECORDS))
            .count();
        assert_eq!(series, MAX_CONSUMER_LAG_SERIES + 1);
        let other = format!(
            "{CONSUMER_LAG_RECORDS}{{group=\"{OTHER_LABEL}\",topic=\"{OTHER_LABEL}\"}} {}",
            MAX_CONSUMER_LAG_SERIES + 2
        );
        assert!(page.lines().any(|l| l == other), "{other:?} missing");
    }
}
