//! Work queues (DESIGN §3c, issue 17) through real nodes: workers on
//! different nodes settle every job once or dead-letter it while the
//! leader is SIGKILLed, and no job is ever held under two live leases; a
//! job not acked goes again after its lease, and the old lease is lost;
//! `ordered_by_key` runs a key's jobs one at a time in offset order; a
//! queue's state survives restarts of the whole cluster and a follower
//! rebuilt from a snapshot. Bad queue requests are in `queues_bad_input`.
//!
//! The workers are in `queue_workers`, the checks over what they saw in
//! `queue_checks`, the single calls and the reads of a queue in
//! `queue_support`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ordo_api::{Consistency, Job};
use ordo_client::queues::lost_offsets;
use ordo_core::{NewRecord, Offset, RecordValue};
use serde_json::json;
use tokio::time::Instant;

use crate::queue_checks::{
    assert_leases_never_overlap, assert_nothing_unexpected,
    assert_one_job_per_key_at_a_time_in_offset_order, fates,
};
use crate::queue_support::{
    append_values, assert_every_node_shows, claim, dead_letters, lease_of, leases, now_ms,
    only_job, put_queue, queue_info, settle_ok, standing, wait_for_queue, Settle, GROUP,
};
use crate::queue_workers::{start_workers, stop_workers, wait_for_acks, Ending, Event, WorkerPlan};
use crate::support::{crash_and_wipe, read_all, record, TestCluster};

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
    // Two workers on the two followers (whose long-polls must wake for a
    // lease the leader's log holds); the first stops without acking.
    let followers = cluster.followers();
    let (stopping, other) = (
        cluster.client_for(followers[0]),
        cluster.client_for(followers[1]),
    );
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

/// A claim that starts waiting just before a lease ends (proposed while
/// the lease holds, applied after it ended) must still wake when it ends,
/// not sleep out its whole wait. Tried at several margins before the end,
/// since the window is a propose-to-apply latency wide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_starts_waiting_as_a_lease_ends_gets_the_job_when_it_ends() {
    const LEASE_MS: u64 = 500;
    const WAIT_MS: u64 = 3_000;
    const MARGINS_MS: [u64; 8] = [1, 2, 3, 5, 8, 12, 20, 30];
    let cluster = TestCluster::start().await;
    let topic = "late-waits";
    let followers = cluster.followers();
    let (stopping, waiting) = (
        cluster.client_for(followers[0]),
        cluster.client_for(followers[1]),
    );
    put_queue(&cluster.client(), topic, LEASE_MS, 1_000, false).await;
    for (i, margin_ms) in MARGINS_MS.into_iter().enumerate() {
        let offset = Offset(i as u64);
        append_values(&cluster.client(), topic, i as u64..i as u64 + 1).await;
        let held = claim(&stopping, topic, 1, 0).await;
        let held = only_job(&held, offset, 1);
        let start_ms = held.lease_expires_ms.saturating_sub(margin_ms);
        tokio::time::sleep(Duration::from_millis(start_ms.saturating_sub(now_ms()))).await;
        let again = claim(&waiting, topic, 1, WAIT_MS).await;
        let answered_ms = now_ms();
        assert!(
            again.iter().any(|job| job.offset == offset),
            "a claim that began waiting {margin_ms} ms before the lease on offset {offset} \
             ended got {again:?} after {} ms: it slept past the lease's end",
            answered_ms.saturating_sub(start_ms)
        );
        assert!(
            answered_ms < held.lease_expires_ms + WAIT_MS / 2,
            "margin {margin_ms} ms: offset {offset} came {} ms after its lease ended",
            answered_ms - held.lease_expires_ms
        );
        settle_ok(&waiting, topic, &again, Settle::Ack).await;
    }
}

/// A queue deleted and made again is a new queue: a worker still holding
/// a job of the old one must not ack the job the new one handed to
/// someone else (fails on main: each queue numbers its leases from 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_from_before_the_queue_was_made_again_is_lost() {
    let cluster = TestCluster::start().await;
    let topic = "remade";
    let client = cluster.client();
    put_queue(&client, topic, 30_000, 5, false).await;
    append_values(&client, topic, 0..1).await;
    let old = claim(&client, topic, 1, 0).await;
    assert!(client
        .delete_queue(GROUP, topic)
        .await
        .expect("deleting the queue"));
    put_queue(&client, topic, 30_000, 5, false).await;
    let new = claim(&client, topic, 1, 0).await;
    let held = only_job(&new, Offset(0), 1);
    let stale = client.ack(GROUP, topic, &leases(&old)).await;
    assert_eq!(
        stale.as_ref().map_err(lost_offsets),
        Err(Some(vec![Offset(0)])),
        "an ack under lease {} of the deleted queue, while the new queue's lease {} holds \
         the job",
        old[0].lease,
        held.lease
    );
    settle_ok(&client, topic, &new, Settle::Ack).await;
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
    let listed = client.queues().await.expect("listing the queues");
    assert_eq!(
        listed.queues.iter().map(standing).collect::<Vec<_>>(),
        [standing(&before)],
        "the list of queues after the restart"
    );
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
