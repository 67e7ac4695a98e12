//! The worker against a scripted stub node: what it acks, nacks and extends,
//! an ack resent after an unknown outcome, and shutdown with a handler that
//! does not finish.

mod stub;

use std::time::Duration;

use ordo_api::Job;
use ordo_client::worker::{Action, Settlement, WorkerEvent, WorkerReport};
use ordo_client::{Client, Handler, Worker};
use serde_json::json;
use tokio::sync::mpsc;

use stub::{Reply, Stub};

const QUEUE: &str = "/v1/queues/mailers/emails";
/// Bound on every wait for the worker in these tests.
const PATIENCE: Duration = Duration::from_secs(10);

/// Hands out job 7 to the first claim and nothing to later ones (after a
/// short long-poll); answers every other request with `other`.
fn one_job_then(
    other: impl Fn(&str, usize) -> Reply + Send + Sync + 'static,
) -> impl Fn(&str, &str, usize) -> Reply + Send + Sync + 'static {
    move |_, path, n| {
        if path.ends_with("/claim") {
            match n {
                0 => Reply::json(
                    200,
                    json!({"jobs": [{"offset": 7, "delivery": 1, "lease": "l1",
                                     "lease_expires_ms": 1, "value": "hi", "timestamp_ms": 1}]}),
                ),
                _ => Reply::json(200, json!({"jobs": []})).delay(Duration::from_millis(50)),
            }
        } else {
            other(path, n)
        }
    }
}

fn done() -> Reply {
    Reply::json(200, json!({"log_index": 3}))
}

/// Runs a worker with the handler `handler` makes for it until `until`
/// says an event is the last one wanted, then shuts it down; returns the
/// events and the report.
async fn work<H: Handler>(
    node: &Stub,
    worker: impl FnOnce(Client) -> Worker,
    handler: impl FnOnce(&Worker) -> H,
    until: impl Fn(&WorkerEvent) -> bool,
) -> (Vec<WorkerEvent>, WorkerReport) {
    let client = Client::builder(vec![node.url()])
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let worker = worker(client)
        .claim_wait(Duration::from_millis(50))
        .on_event(move |event| {
            let _ = tx.send(event.clone());
        });
    let handler = handler(&worker);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(handler, async {
        let _ = stopped.await;
    }));
    let mut events = Vec::new();
    let collect = async {
        while let Some(event) = rx.recv().await {
            let last = until(&event);
            events.push(event);
            if last {
                break;
            }
        }
    };
    tokio::time::timeout(PATIENCE, collect)
        .await
        .unwrap_or_else(|_| panic!("the awaited event never came: {events:?}"));
    stop.send(()).unwrap();
    let report = tokio::time::timeout(PATIENCE, running)
        .await
        .expect("the worker stops")
        .unwrap()
        .unwrap();
    (events, report)
}

fn is_settled(event: &WorkerEvent) -> bool {
    matches!(event, WorkerEvent::Settled { .. })
}

#[tokio::test]
async fn an_ack_with_an_unknown_outcome_is_resent_and_a_lost_lease_then_is_settled_or_lost() {
    let node = Stub::start(one_job_then(|path, n| match (path.ends_with("/ack"), n) {
        (true, 0) => done().delay(Duration::from_secs(2)),
        (true, _) => Reply::json(
            409,
            json!({"error": {"code": "lease_lost", "message": "gone",
                             "current": {"offsets": [7]}}}),
        ),
        _ => done(),
    }))
    .await;

    let (events, report) = work(
        &node,
        |client| Worker::new(client, "mailers", "emails").lease(Duration::from_secs(30)),
        |_| |_| async { Ok::<(), String>(()) },
        is_settled,
    )
    .await;

    let settled = events.iter().find(|e| is_settled(e)).unwrap();
    assert!(
        matches!(
            settled,
            WorkerEvent::Settled {
                action: Action::Ack,
                settlement: Settlement::SettledOrLost,
                ..
            }
        ),
        "{events:?}"
    );
    assert_eq!((report.claimed, report.settled_or_lost), (1, 1));
    assert_eq!(node.count("POST", &format!("{QUEUE}/ack")), 2);
}

#[tokio::test]
async fn a_failing_handler_is_nacked_with_the_delay_and_its_lease_extended_while_it_runs() {
    let node = Stub::start(one_job_then(|_, _| done())).await;

    let (_, report) = work(
        &node,
        |client| {
            Worker::new(client, "mailers", "emails")
                .lease(Duration::from_millis(300))
                .nack_delay(Duration::from_millis(1_500))
        },
        |_| {
            |job: Job| async move {
                tokio::time::sleep(Duration::from_millis(350)).await;
                Err(format!("could not send {}", job.value))
            }
        },
        is_settled,
    )
    .await;

    assert_eq!((report.failed, report.nacked), (1, 1), "{report:?}");
    let lease = json!([{"offset": 7, "lease": "l1"}]);
    assert_eq!(
        node.bodies("POST", &format!("{QUEUE}/nack")),
        vec![json!({"jobs": lease, "delay_ms": 1_500})]
    );
    let extends = node.bodies("POST", &format!("{QUEUE}/extend"));
    assert!(
        (1..=4).contains(&extends.len()),
        "every 100 ms for 350 ms (fewer on a slow machine): {extends:?}"
    );
    assert_eq!(extends[0], json!({"jobs": lease, "lease_ms": 300}));
}

#[tokio::test]
async fn at_shutdown_a_handler_that_does_not_finish_is_dropped_and_its_job_goes_again_at_once() {
    let node = Stub::start(one_job_then(|_, _| done())).await;

    let (_, report) = work(
        &node,
        |client| {
            Worker::new(client, "mailers", "emails")
                .lease(Duration::from_secs(30))
                .shutdown_grace(Duration::from_millis(100))
        },
        |_| |_| std::future::pending::<Result<(), String>>(),
        |event| matches!(event, WorkerEvent::Claimed { .. }),
    )
    .await;

    assert_eq!((report.abandoned, report.nacked), (1, 1), "{report:?}");
    assert_eq!(
        node.bodies("POST", &format!("{QUEUE}/nack")),
        vec![json!({"jobs": [{"offset": 7, "lease": "l1"}], "delay_ms": 0})]
    );
}

#[tokio::test]
async fn a_worker_of_a_queue_nobody_made_says_so() {
    let node = Stub::start(|_, _, _| Reply::error(404, "queue_not_found")).await;
    let client = Client::new(vec![node.url()]).unwrap();

    let error = Worker::new(client, "mailers", "emails")
        .run(|_| async { Ok::<(), String>(()) }, std::future::pending())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no queue"), "{error}");
}

#[tokio::test]
async fn a_handler_that_winds_down_at_shutdown_has_its_job_go_again_at_once() {
    let node = Stub::start(one_job_then(|_, _| done())).await;

    let (_, report) = work(
        &node,
        |client| {
            Worker::new(client, "mailers", "emails")
                .lease(Duration::from_secs(30))
                .nack_delay(Duration::from_secs(5))
        },
        |worker| {
            let stopping = worker.stopping();
            move |_| {
                let mut stopping = stopping.clone();
                async move {
                    stopping.wait().await;
                    Err::<(), _>("stopped by the shutdown")
                }
            }
        },
        |event| matches!(event, WorkerEvent::Claimed { .. }),
    )
    .await;

    assert_eq!((report.failed, report.nacked), (1, 1), "{report:?}");
    assert_eq!(
        node.bodies("POST", &format!("{QUEUE}/nack")),
        vec![json!({"jobs": [{"offset": 7, "lease": "l1"}], "delay_ms": 0})]
    );
}
