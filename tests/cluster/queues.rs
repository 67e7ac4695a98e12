//! Work queues (DESIGN §3c, issue 17) through real nodes: workers on
//! different nodes settle every job once or dead-letter it while the
//! leader is SIGKILLed, and no job is ever held under two live leases; a
//! job not acked goes again after its lease, and the old lease is lost;
//! `ordered_by_key` runs a key's jobs one at a time in offset order; a
//! queue's state survives restarts of the whole cluster and a follower
//! rebuilt from a snapshot; bad requests are refused and change nothing.
//!
//! The workers and the checks over what they saw are in `queue_workers`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ordo_api::{ClaimRequest, Consistency, Job, JobLease, PutQueueRequest, QueueInfo};
use ordo_client::queues::lost_offsets;
use ordo_client::Client;
use ordo_core::{NewRecord, Offset, Record, RecordValue};
use reqwest::Method;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::bad_input::{assert_refused, Case};
use crate::queue_workers::{
    assert_leases_never_overlap, assert_nothing_unexpected,
    assert_one_job_per_key_at_a_time_in_offset_order, fates, spawn_worker, worker_client, Ending,
    Event, Journal, WorkerPlan,
};
use crate::support::{crash_and_wipe, eventually, read_all, record, TestCluster, CATCH_UP_TIMEOUT};

/// The consumer group every queue here belongs to.
const GROUP: &str = "workers";
/// Workers in the tests that run several, each through a node of its own
/// (the first node twice).
const WORKERS: usize = 4;
/// How long a test waits for its workers to finish every job.
const QUEUE_DONE_TIMEOUT: Duration = Duration::from_secs(40);
/// How long a stopped worker may take to return: a claim's wait, then an
/// ack's tries against a node that may be dead.
const WORKER_STOP_TIMEOUT: Duration = Duration::from_secs(45);
/// Slack for comparing the leader's clock with this process's: the same
/// machine's clock, read at millisecond resolution.
const CLOCK_SLACK_MS: u64 = 5;

/// Jobs in the crash test, and its queue's settings: short leases, so that
/// a job whose holder's node died goes again soon.
const CRASH_JOBS: u64 = 2_000;
const CRASH_LEASE_MS: u64 = 2_000;
const CRASH_MAX_DELIVERIES: u32 = 3;

/// A job of the crash test whose value ends in 07 always fails: its worker
/// nacks it until it is dead-lettered.
fn is_poison(value: &RecordValue) -> bool {
    value.parse::<u64>().is_ok_and(|n| n % 100 == 7)
}

/// A few jobs' first worker stalls past the lease, and their second holds
/// them a while: the first one's late ack comes while the second holds the
/// job, and must be refused.
fn stall_past_the_lease(job: &Job) -> Duration {
    let stalls = job.value.parse::<u64>().is_ok_and(|n| n % 400 == 123);
    match job.delivery {
        1 if stalls => Duration::from_millis(CRASH_LEASE_MS + 300),
        2 if stalls => Duration::from_millis(CRASH_LEASE_MS / 2),
        _ => Duration::ZERO,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_is_acked_once_or_dead_lettered_by_four_workers_across_a_leader_crash() {
    let started = Instant::now();
    let mut cluster = TestCluster::start().await;
    let topic = "emails";
    let client = cluster.client();
    put_queue(&client, topic, CRASH_LEASE_MS, CRASH_MAX_DELIVERIES, false).await;
    append_values(&client, topic, 0..CRASH_JOBS / 2).await;

    let plan = WorkerPlan {
        group: GROUP,
        topic,
        max: 5,
        lease_ms: CRASH_LEASE_MS,
        wait_ms: 1_000,
        poison: |job: &Job| is_poison(&job.value),
        work_ms: 3,
        stall: stall_past_the_lease,
        max_claims: 5_000,
        deadline: Duration::from_secs(90),
    };
    let (journal, stop, workers) = start_workers(&cluster, plan);
    // The rest of the jobs arrive while the workers run.
    append_values(&client, topic, CRASH_JOBS / 2..CRASH_JOBS).await;

    wait_for_acks(
        &journal,
        CRASH_JOBS as usize / 3,
        "a third of the jobs acked",
    )
    .await;
    let old_leader = cluster.leader;
    cluster.kill(old_leader);
    let killed_at = Instant::now();
    wait_for_acks(
        &journal,
        2 * CRASH_JOBS as usize / 3,
        "two thirds of the jobs acked, under the new leader",
    )
    .await;
    let failover = killed_at.elapsed();
    cluster
        .nodes
        .start_node(old_leader)
        .expect("restarting the old leader");
    cluster.wait_for_leader().await;
    let done = wait_for_queue(&client, topic, "every job settled", |queue| {
        queue.acked + queue.dead_lettered == CRASH_JOBS && queue.in_flight == 0
    })
    .await;
    stop_workers(&stop, workers).await;

    let events = journal.events();
    report(&events, started, failover);
    assert_nothing_unexpected(&events);
    assert_eq!(
        (
            done.floor_offset,
            done.end_offset,
            done.pending,
            done.in_flight
        ),
        (Offset(CRASH_JOBS), Offset(CRASH_JOBS), 0, 0),
        "every job is done: {done:?}"
    );
    let jobs = read_all(&client, topic, Consistency::Linearizable)
        .await
        .expect("reading the jobs");
    let dead = dead_letters(&client, topic, &jobs, CRASH_MAX_DELIVERIES).await;
    assert_eq!(
        dead.len() as u64,
        done.dead_lettered,
        "the dead-letter topic holds each job the queue counts dead-lettered, once"
    );
    let fates = fates(&events);
    for job in &jobs {
        let fate = fates.get(&job.offset).cloned().unwrap_or_default();
        let offset = job.offset;
        let dead_lettered = dead.contains_key(&offset);
        assert!(
            fate.acked <= 1,
            "offset {offset} was acked successfully {} times",
            fate.acked
        );
        assert!(
            !(dead_lettered && fate.acked > 0),
            "offset {offset} was acked and dead-lettered"
        );
        assert!(
            dead_lettered || fate.acked == 1 || fate.maybe_acked > 0,
            "offset {offset} is done, but no worker's ack can have done it: {fate:?}"
        );
        assert!(
            dead_lettered || (fate.dead_lettered_by_nack == 0 && !is_poison(&job.value)),
            "offset {offset} was dead-lettered ({fate:?}, poison: {}), but is not in the \
             dead-letter topic",
            is_poison(&job.value)
        );
    }
    assert_leases_never_overlap(&events);
    let refused_late = events
        .iter()
        .filter(|event| {
            matches!(
                event,
                Event::Settled {
                    acking: true,
                    ending: Ending::Lost,
                    ..
                }
            )
        })
        .count();
    assert!(
        refused_late > 0,
        "no ack was refused, though workers acked jobs they held past their leases"
    );
    // Every node holds the same state of the queue.
    assert_every_node_shows(&cluster, topic, &done).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_not_acked_goes_again_after_its_lease_and_its_old_lease_is_lost() {
    const LEASE_MS: u64 = 1_000;
    const EARLY_CLAIM_EVERY_MS: u64 = 50;
    let cluster = TestCluster::start().await;
    let topic = "reports";
    let ids = cluster.ids();
    // Two workers on two nodes; the first stops without acking.
    let (stopping, other) = (cluster.client_for(ids[1]), cluster.client_for(ids[2]));
    put_queue(&cluster.client(), topic, LEASE_MS, 2, false).await;
    append_values(&cluster.client(), topic, 0..2).await;

    let sent_ms = now_ms();
    let first = claim(&stopping, topic, 1, 0).await;
    let received_ms = now_ms();
    let held = only_job(&first, Offset(0), 1);
    assert!(
        sent_ms + LEASE_MS <= held.lease_expires_ms + CLOCK_SLACK_MS
            && held.lease_expires_ms <= received_ms + LEASE_MS + CLOCK_SLACK_MS,
        "a lease of {LEASE_MS} ms from the claim's time: sent at {sent_ms}, answered at \
         {received_ms}, expires at {}",
        held.lease_expires_ms
    );
    // While the lease holds, the job goes to nobody else.
    let next = claim(&other, topic, 1, 0).await;
    let next = only_job(&next, Offset(1), 1);
    other
        .ack(GROUP, topic, &[lease_of(next)])
        .await
        .expect("acking the second job");

    // Claims that do not wait, up to just before the lease ends, find
    // nothing; then a claim that waits gets the job once it ends.
    let mut again = Vec::new();
    for _ in 0..LEASE_MS / EARLY_CLAIM_EVERY_MS {
        if !again.is_empty() || now_ms() + EARLY_CLAIM_EVERY_MS >= held.lease_expires_ms {
            break;
        }
        again = claim(&other, topic, 1, 0).await;
        tokio::time::sleep(Duration::from_millis(EARLY_CLAIM_EVERY_MS)).await;
    }
    let waited_from = Instant::now();
    if again.is_empty() {
        again = claim(&other, topic, 1, 5_000).await;
    }
    let again_ms = now_ms();
    let waited = waited_from.elapsed();
    let redelivered = only_job(&again, Offset(0), 2);
    assert!(
        again_ms + CLOCK_SLACK_MS >= held.lease_expires_ms
            && redelivered.lease_expires_ms - LEASE_MS >= held.lease_expires_ms,
        "the job went again at {again_ms} (its new lease from {}), before its lease ended at {}",
        redelivered.lease_expires_ms - LEASE_MS,
        held.lease_expires_ms
    );
    assert!(
        waited < Duration::from_millis(LEASE_MS + 2_000),
        "a waiting claim got the job {waited:?} after asking: it should wake when the lease ends"
    );
    assert_ne!(
        redelivered.lease, held.lease,
        "a new delivery has a new lease"
    );

    // The stopped worker comes back: its lease is gone, whatever it asks.
    let old = [lease_of(held)];
    let lost = [
        stopping.ack(GROUP, topic, &old).await.map(|_| ()),
        stopping.nack(GROUP, topic, &old, 0).await.map(|_| ()),
        stopping.extend(GROUP, topic, &old, None).await.map(|_| ()),
    ];
    for (what, answer) in ["ack", "nack", "extend"].iter().zip(lost) {
        let error = answer.expect_err(&format!("an {what} with the old lease"));
        assert_eq!(error.status(), Some(409), "{what}: {error}");
        assert_eq!(
            lost_offsets(&error),
            Some(vec![Offset(0)]),
            "{what}: {error}"
        );
    }
    let queue = queue_info(&cluster.client(), topic).await;
    assert_eq!(
        (
            queue.floor_offset,
            queue.in_flight,
            queue.acked,
            queue.pending
        ),
        (Offset(0), 1, 1, 0),
        "the old lease's refusals changed nothing: {queue:?}"
    );

    // Its second delivery is its last: when that lease ends too, the next
    // claim sends it to the dead-letter topic.
    let dead_after_ms = redelivered.lease_expires_ms + CLOCK_SLACK_MS;
    tokio::time::sleep(Duration::from_millis(
        dead_after_ms.saturating_sub(now_ms()),
    ))
    .await;
    let none = claim(&stopping, topic, 1, 0).await;
    assert!(none.is_empty(), "nothing is left to hand out: {none:?}");
    let queue = queue_info(&cluster.client(), topic).await;
    assert_eq!(
        (
            queue.floor_offset,
            queue.in_flight,
            queue.acked,
            queue.dead_lettered
        ),
        (Offset(2), 0, 1, 1),
        "the job's last lease expired into the dead-letter topic: {queue:?}"
    );
    let jobs = read_all(&cluster.client(), topic, Consistency::Linearizable)
        .await
        .expect("reading the jobs");
    let dead = dead_letters(&cluster.client(), topic, &jobs, 2).await;
    assert_eq!(dead.keys().copied().collect::<Vec<_>>(), [Offset(0)]);
    let late = other
        .ack(GROUP, topic, &[lease_of(redelivered)])
        .await
        .expect_err("an ack of a dead-lettered job");
    assert_eq!(lost_offsets(&late), Some(vec![Offset(0)]), "{late}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_by_key_runs_each_keys_jobs_one_at_a_time_in_offset_order() {
    const KEYS: usize = 4;
    const JOBS: usize = 200;
    let cluster = TestCluster::start().await;
    let topic = "orders";
    let client = cluster.client();
    put_queue(&client, topic, 30_000, 5, true).await;
    // The keys interleave at random.
    let mut rng = crate::support::Rng::from_env_or_clock();
    let keyed: Vec<NewRecord> = (0..JOBS)
        .map(|i| NewRecord {
            key: Some(format!("customer-{}", rng.below(KEYS))),
            ..record(json!(i))
        })
        .collect();
    let ack = client
        .append(topic, keyed)
        .await
        .expect("appending the jobs");
    assert_eq!(ack.offsets.len(), JOBS);

    let plan = WorkerPlan {
        group: GROUP,
        topic,
        max: 2,
        lease_ms: 30_000,
        wait_ms: 1_000,
        poison: |_| false,
        work_ms: 5,
        stall: |_| Duration::ZERO,
        max_claims: 2_000,
        deadline: Duration::from_secs(60),
    };
    let (journal, stop, workers) = start_workers(&cluster, plan);
    let done = wait_for_queue(&client, topic, "every job acked", |queue| {
        queue.acked == JOBS as u64
    })
    .await;
    stop_workers(&stop, workers).await;

    let events = journal.events();
    assert_nothing_unexpected(&events);
    assert_eq!(
        (done.floor_offset, done.in_flight, done.dead_lettered),
        (Offset(JOBS as u64), 0, 0)
    );
    let deliveries = journal.deliveries();
    assert_eq!(
        deliveries.len(),
        JOBS,
        "each job delivered once (no lease could expire): {deliveries:#?}"
    );
    for event in &events {
        if let Event::Settled { offset, ending, .. } = event {
            assert!(
                matches!(ending, Ending::Acked(_)),
                "offset {offset}: {ending:?}"
            );
        }
    }
    let most_keys = assert_one_job_per_key_at_a_time_in_offset_order(&events);
    assert!(
        most_keys >= 2,
        "jobs of different keys run in parallel, but at most {most_keys} key was ever in flight"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_state_survives_full_restarts_and_a_follower_rebuilt_from_a_snapshot() {
    const LONG_MS: u64 = 600_000;
    // Snapshots every few entries: a restart loads the queue from one, and
    // the leader purges its log behind it.
    let mut cluster = TestCluster::start_with_env(&[("ORDO_SNAPSHOT_EVERY_ENTRIES", "10")]).await;
    let topic = "invoices";
    let client = cluster.client();
    put_queue(&client, topic, LONG_MS, 2, false).await;
    append_values(&client, topic, 0..30).await;

    // Jobs in every state: acked (0..5, 13, 14), in flight (5..10 first
    // time, 11 second time), dead-lettered (10), waiting out a nack's delay
    // (12), never delivered (15..30).
    let first = claim(&client, topic, 10, 0).await;
    settle_ok(&client, topic, &first[..5], Settle::Ack).await;
    let second = claim(&client, topic, 5, 0).await;
    settle_ok(&client, topic, &second[..2], Settle::Nack(0)).await;
    settle_ok(&client, topic, &second[2..3], Settle::Nack(LONG_MS)).await;
    settle_ok(&client, topic, &second[3..], Settle::Ack).await;
    let again = claim(&client, topic, 2, 0).await;
    assert_eq!(
        again
            .iter()
            .map(|j| (j.offset.0, j.delivery))
            .collect::<Vec<_>>(),
        [(10, 2), (11, 2)]
    );
    settle_ok(&client, topic, &again[..1], Settle::Nack(0)).await;
    let before = queue_info(&client, topic).await;
    assert_eq!(
        (
            before.floor_offset,
            before.in_flight,
            before.pending,
            before.acked,
            before.dead_lettered
        ),
        (Offset(5), 6, 16, 7, 1),
        "{before:?}"
    );

    // SIGTERM to every node, then SIGKILL to every node.
    let ids = cluster.ids();
    let stopped = cluster.nodes.stop_all().await.expect("stopping every node");
    assert!(stopped.iter().all(|(_, exit)| !exit.forced), "{stopped:?}");
    start_all(&mut cluster).await;
    assert_every_node_shows(&cluster, topic, &before).await;
    for &id in &ids {
        cluster.kill(id);
    }
    start_all(&mut cluster).await;
    assert_every_node_shows(&cluster, topic, &before).await;
    // A follower that lost its disk is rebuilt from a snapshot.
    let follower = cluster.followers()[0];
    crash_and_wipe(&mut cluster, follower);
    cluster
        .nodes
        .start_node(follower)
        .expect("restarting the wiped follower");
    cluster.wait_for_leader().await;
    assert_every_node_shows(&cluster, topic, &before).await;

    // The leases handed out before still hold, and no new lease repeats one.
    let held: Vec<Job> = first[5..].iter().chain(&again[1..]).cloned().collect();
    client
        .extend(GROUP, topic, &leases(&held), None)
        .await
        .expect("extending the leases handed out before the restarts");
    settle_ok(&client, topic, &first[5..], Settle::Ack).await;
    // 11's second delivery was its last: a nack dead-letters it.
    let done = client
        .nack(GROUP, topic, &leases(&again[1..]), 0)
        .await
        .expect("nacking offset 11");
    assert_eq!(done.dead_lettered, [Offset(11)]);
    // 12 still waits out its delay; 15 is next.
    let next = claim(&client, topic, 1, 0).await;
    let next = only_job(&next, Offset(15), 1);
    let earlier: BTreeSet<_> = first
        .iter()
        .chain(&second)
        .chain(&again)
        .map(|j| j.lease)
        .collect();
    assert!(
        !earlier.contains(&next.lease),
        "lease {} handed out twice",
        next.lease
    );

    let after = queue_info(&client, topic).await;
    assert_eq!(
        (
            after.floor_offset,
            after.in_flight,
            after.pending,
            after.acked,
            after.dead_lettered
        ),
        (Offset(12), 1, 15, 12, 2),
        "{after:?}"
    );
    let jobs = read_all(&client, topic, Consistency::Linearizable)
        .await
        .expect("reading the jobs");
    let dead = dead_letters(&client, topic, &jobs, 2).await;
    assert_eq!(
        dead.keys().copied().collect::<Vec<_>>(),
        [Offset(10), Offset(11)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queue_requests_are_refused_with_a_clear_error_and_change_nothing() {
    let cluster = TestCluster::start().await;
    let topic = "tasks";
    let client = cluster.client();
    put_queue(&client, topic, 30_000, 5, false).await;
    append_values(&client, topic, 0..3).await;
    let held = claim(&client, topic, 1, 0).await;
    let lease = held[0].lease.to_string();
    let before = standing(&queue_info(&client, topic).await);
    let queues_before = client.queues().await.expect("listing the queues");
    let topics_before = topic_names(&client).await;

    let queue = format!("/v1/queues/{GROUP}/{topic}");
    let job = |lease: &str| json!({"offset": 0, "lease": lease});
    let post = |what: &str, action: &str, body: serde_json::Value, status, code| {
        let body = serde_json::to_vec(&body).expect("JSON");
        let path = format!("{queue}/{action}");
        Case::new(
            what,
            Method::POST,
            path,
            Some(("application/json", body)),
            status,
            code,
        )
    };
    let put = |what: &str, path: &str, body: serde_json::Value| {
        let body = serde_json::to_vec(&body).expect("JSON");
        let body = Some(("application/json", body));
        Case::new(what, Method::PUT, path, body, 400, "invalid_body")
    };
    let claim_of = |what, body| post(what, "claim", body, 400, "invalid_body");
    let many: Vec<_> = (0..1_001)
        .map(|i| json!({"offset": i, "lease": lease}))
        .collect();
    let cases = [
        claim_of("a claim of no jobs", json!({"max": 0})),
        claim_of("a claim of 1001 jobs", json!({"max": 1_001})),
        claim_of("a 5 ms lease", json!({"lease_ms": 5})),
        claim_of("a lease over 12 h", json!({"lease_ms": 43_200_001})),
        claim_of("a 60 s wait", json!({"wait_ms": 60_000})),
        claim_of("an unknown field", json!({"maxx": 1})),
        post(
            "an ack of no jobs",
            "ack",
            json!({"jobs": []}),
            400,
            "invalid_body",
        ),
        post(
            "a lease not in the server's form",
            "ack",
            json!({"jobs": [job("zz")]}),
            400,
            "invalid_body",
        ),
        post(
            "a lease of no digits",
            "ack",
            json!({"jobs": [job("l")]}),
            400,
            "invalid_body",
        ),
        post(
            "a lease as a number",
            "ack",
            json!({"jobs": [{"offset": 0, "lease": 7}]}),
            400,
            "invalid_body",
        ),
        post(
            "a job named twice",
            "ack",
            json!({"jobs": [job(&lease), job(&lease)]}),
            400,
            "invalid_body",
        ),
        post(
            "an ack of 1001 jobs",
            "ack",
            json!({"jobs": many}),
            400,
            "invalid_body",
        ),
        post(
            "a nack of no jobs",
            "nack",
            json!({"jobs": []}),
            400,
            "invalid_body",
        ),
        post(
            "a nack delay over 12 h",
            "nack",
            json!({"jobs": [job(&lease)], "delay_ms": 43_200_001u64}),
            400,
            "invalid_body",
        ),
        post(
            "an extend by 5 ms",
            "extend",
            json!({"jobs": [job(&lease)], "lease_ms": 5}),
            400,
            "invalid_body",
        ),
        put(
            "the queue's topic as its dead-letter topic",
            &queue,
            json!({"dead_letter_topic": topic}),
        ),
        put(
            "a new queue dead-lettering into its topic",
            "/v1/queues/other/tasks",
            json!({"dead_letter_topic": topic}),
        ),
        put("a 5 ms lease", &queue, json!({"lease_ms": 5})),
        put("no deliveries", &queue, json!({"max_deliveries": 0})),
        put("1001 deliveries", &queue, json!({"max_deliveries": 1_001})),
        put(
            "a dead-letter topic that is no topic name",
            &queue,
            json!({"dead_letter_topic": "no/such name"}),
        ),
        Case::new(
            "an unknown queue",
            Method::GET,
            "/v1/queues/nobody/tasks",
            None,
            404,
            "queue_not_found",
        ),
        Case::new(
            "a queue over no topic",
            Method::GET,
            "/v1/queues/nobody/nothing",
            None,
            404,
            "queue_not_found",
        ),
        Case::new(
            "deleting an unknown queue",
            Method::DELETE,
            "/v1/queues/nobody/tasks",
            None,
            404,
            "queue_not_found",
        ),
        unknown_queue("claim", json!({"max": 1, "wait_ms": 1_000})),
        unknown_queue("ack", json!({"jobs": [job(&lease)]})),
        unknown_queue("nack", json!({"jobs": [job(&lease)]})),
        unknown_queue("extend", json!({"jobs": [job(&lease)]})),
    ];
    let http = cluster.http();
    let ids = cluster.ids();
    for (i, case) in cases.iter().enumerate() {
        assert_refused(&cluster, &http, ids[i % ids.len()], case).await;
    }
    // A lease in the right form that this job is not under: 409, naming it.
    let stranger = [JobLease {
        offset: Offset(0),
        lease: "lfffff".parse().expect("a well-formed lease"),
    }];
    let error = client
        .ack(GROUP, topic, &stranger)
        .await
        .expect_err("an ack under a lease never handed out");
    assert_eq!(lost_offsets(&error), Some(vec![Offset(0)]), "{error}");

    assert_eq!(standing(&queue_info(&client, topic).await), before);
    assert_eq!(
        client
            .queues()
            .await
            .expect("listing the queues")
            .queues
            .len(),
        queues_before.queues.len()
    );
    assert_eq!(
        topic_names(&client).await,
        topics_before,
        "no topic was made"
    );
    // The job's lease was never touched: it still acks.
    settle_ok(&client, topic, &held, Settle::Ack).await;
}

/// A request about a queue nobody made: 404 `queue_not_found`.
fn unknown_queue(action: &str, body: serde_json::Value) -> Case {
    let body = serde_json::to_vec(&body).expect("JSON");
    Case::new(
        format!("a {action} of an unknown queue"),
        Method::POST,
        format!("/v1/queues/nobody/tasks/{action}"),
        Some(("application/json", body)),
        404,
        "queue_not_found",
    )
}

/// Makes `GROUP`'s queue over `topic` (its dead-letter topic `<topic>.dlq`).
async fn put_queue(
    client: &Client,
    topic: &str,
    lease_ms: u64,
    max_deliveries: u32,
    ordered_by_key: bool,
) -> QueueInfo {
    let config = PutQueueRequest {
        lease_ms: Some(lease_ms),
        max_deliveries: Some(max_deliveries),
        dead_letter_topic: None,
        ordered_by_key,
    };
    client
        .put_queue(GROUP, topic, &config)
        .await
        .unwrap_or_else(|e| panic!("making the queue over {topic}: {e}"))
}

/// Appends the numbers `values` to `topic`, one record each, in one append.
async fn append_values(client: &Client, topic: &str, values: std::ops::Range<u64>) {
    let first = values.start;
    let records: Vec<NewRecord> = values.map(|n| record(json!(n))).collect();
    let ack = client
        .append(topic, records)
        .await
        .unwrap_or_else(|e| panic!("appending jobs to {topic}: {e}"));
    assert_eq!(
        ack.offsets.first(),
        Some(&Offset(first)),
        "jobs are at their numbers"
    );
}

/// Claims up to `max` jobs of `GROUP`'s queue over `topic`.
async fn claim(client: &Client, topic: &str, max: u32, wait_ms: u64) -> Vec<Job> {
    let request = ClaimRequest {
        max,
        lease_ms: None,
        wait_ms,
    };
    client
        .claim(GROUP, topic, &request)
        .await
        .unwrap_or_else(|e| panic!("claiming jobs of {topic}: {e}"))
        .jobs
}

/// The one job a claim handed out, which must be `offset` on `delivery`.
fn only_job(jobs: &[Job], offset: Offset, delivery: u32) -> &Job {
    match jobs {
        [job] if job.offset == offset && job.delivery == delivery => job,
        _ => panic!("wanted offset {offset} on delivery {delivery}, got {jobs:#?}"),
    }
}

fn lease_of(job: &Job) -> JobLease {
    JobLease {
        offset: job.offset,
        lease: job.lease,
    }
}

fn leases(jobs: &[Job]) -> Vec<JobLease> {
    jobs.iter().map(lease_of).collect()
}

enum Settle {
    Ack,
    /// Give back, to go again after this many ms.
    Nack(u64),
}

/// Acks or nacks `jobs`, which must succeed.
async fn settle_ok(client: &Client, topic: &str, jobs: &[Job], how: Settle) {
    let leases = leases(jobs);
    let answer = match how {
        Settle::Ack => client.ack(GROUP, topic, &leases).await,
        Settle::Nack(delay_ms) => client.nack(GROUP, topic, &leases, delay_ms).await,
    };
    answer.unwrap_or_else(|e| panic!("settling {leases:?}: {e}"));
}

/// `GROUP`'s queue over `topic`, read linearizably.
async fn queue_info(client: &Client, topic: &str) -> QueueInfo {
    client
        .queue(GROUP, topic)
        .await
        .unwrap_or_else(|e| panic!("reading the queue over {topic}: {e}"))
        .unwrap_or_else(|| panic!("no queue over {topic}"))
}

/// A queue as it stands, without the age of its oldest pending job (which
/// grows by itself).
fn standing(queue: &QueueInfo) -> QueueInfo {
    QueueInfo {
        oldest_pending_age_ms: 0,
        ..queue.clone()
    }
}

async fn topic_names(client: &Client) -> Vec<String> {
    let list = client
        .topics(Consistency::Linearizable)
        .await
        .expect("listing the topics");
    list.topics.iter().map(|t| t.topic.to_string()).collect()
}

/// Waits until `GROUP`'s queue over `topic` is `what` by `done`.
async fn wait_for_queue(
    client: &Client,
    topic: &str,
    what: &str,
    done: impl Fn(&QueueInfo) -> bool,
) -> QueueInfo {
    eventually(what, QUEUE_DONE_TIMEOUT, || async {
        match client.queue(GROUP, topic).await {
            Ok(Some(queue)) if done(&queue) => Ok(queue),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// Waits until the workers' acks number at least `count`.
async fn wait_for_acks(journal: &Journal, count: usize, what: &str) {
    eventually(what, QUEUE_DONE_TIMEOUT, || async {
        let acked = journal.acked();
        if acked >= count {
            Ok(())
        } else {
            Err(format!("{acked} acked"))
        }
    })
    .await
}

/// Every node, from its own applied state, shows the queue as `expected`
/// (but for the age of its oldest pending job).
async fn assert_every_node_shows(cluster: &TestCluster, topic: &str, expected: &QueueInfo) {
    let http = cluster.http();
    let expected = standing(expected);
    for id in cluster.ids() {
        let url = format!(
            "{}/v1/queues/{GROUP}/{topic}?consistency=local",
            cluster.base_url(id)
        );
        eventually(
            &format!("node {id} shows the queue over {topic} as {expected:?}"),
            CATCH_UP_TIMEOUT,
            || async {
                let response = http.get(&url).send().await.map_err(|e| e.to_string())?;
                let text = response.text().await.map_err(|e| e.to_string())?;
                match serde_json::from_str::<QueueInfo>(&text) {
                    Ok(shown) if standing(&shown) == expected => Ok(()),
                    _ => Err(text),
                }
            },
        )
        .await;
    }
}

/// Starts every node again and waits for a leader.
async fn start_all(cluster: &mut TestCluster) {
    for id in cluster.ids() {
        cluster
            .nodes
            .start_node(id)
            .unwrap_or_else(|e| panic!("starting node {id} again: {e}"));
    }
    cluster.wait_for_leader().await;
}

/// `<topic>.dlq`'s records by the offset of the job each came from, each
/// checked against that job: the same key and value, and headers naming
/// the topic, the group and `deliveries`. None comes from a job twice.
async fn dead_letters(
    client: &Client,
    topic: &str,
    jobs: &[Record],
    deliveries: u32,
) -> BTreeMap<Offset, Record> {
    let letters = read_all(client, &format!("{topic}.dlq"), Consistency::Linearizable)
        .await
        .expect("reading the dead-letter topic");
    let mut by_job = BTreeMap::new();
    for letter in letters {
        let header = |name: &str| {
            letter
                .headers
                .get(name)
                .cloned()
                .unwrap_or_else(|| panic!("no {name} header in {letter:?}"))
        };
        let offset = Offset(
            header("ordo-dead-letter-offset")
                .parse()
                .expect("an offset in ordo-dead-letter-offset"),
        );
        assert_eq!(header("ordo-dead-letter-topic"), topic, "{letter:?}");
        assert_eq!(header("ordo-dead-letter-group"), GROUP, "{letter:?}");
        assert_eq!(
            header("ordo-dead-letter-deliveries"),
            deliveries.to_string(),
            "{letter:?}"
        );
        let job = jobs
            .iter()
            .find(|job| job.offset == offset)
            .unwrap_or_else(|| panic!("a dead letter of no job: {letter:?}"));
        assert_eq!(
            (&letter.key, &letter.value),
            (&job.key, &job.value),
            "a dead letter carries its job"
        );
        if let Some(twice) = by_job.insert(offset, letter) {
            panic!("offset {offset} dead-lettered twice: {twice:?}");
        }
    }
    by_job
}

/// Starts `WORKERS` workers with `plan`, each through a node of its own.
fn start_workers(
    cluster: &TestCluster,
    plan: WorkerPlan,
) -> (Journal, Arc<AtomicBool>, Vec<JoinHandle<()>>) {
    let journal = Journal::default();
    let stop = Arc::new(AtomicBool::new(false));
    let ids = cluster.ids();
    let workers = (0..WORKERS)
        .map(|w| {
            let client = worker_client(cluster, ids[w % ids.len()]);
            spawn_worker(w, client, plan, journal.clone(), stop.clone())
        })
        .collect();
    (journal, stop, workers)
}

async fn stop_workers(stop: &AtomicBool, workers: Vec<JoinHandle<()>>) {
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        tokio::time::timeout(WORKER_STOP_TIMEOUT, worker)
            .await
            .expect("a worker stops within a claim's wait and an ack's tries")
            .expect("a worker task failed");
    }
}

/// What the workers went through, for the test's output.
fn report(events: &[Event], started: Instant, failover: Duration) {
    let mut endings: BTreeMap<String, usize> = BTreeMap::new();
    let mut deliveries = 0;
    let mut redeliveries = 0;
    for event in events {
        match event {
            Event::Delivered(d) => {
                deliveries += 1;
                redeliveries += usize::from(d.delivery > 1);
            }
            Event::Settled { ending, .. } => {
                let kind = format!("{ending:?}");
                let kind = kind.split(['(', ' ']).next().unwrap_or_default().to_owned();
                *endings.entry(kind).or_default() += 1;
            }
            _ => {}
        }
    }
    eprintln!(
        "{deliveries} deliveries ({redeliveries} redeliveries), endings {endings:?}; two thirds \
         acked {failover:?} after the kill; {:?} in all",
        started.elapsed()
    );
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as u64
}
