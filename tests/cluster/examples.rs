//! The runnable examples in `examples/`, checked against a real cluster
//! through the same code they run (their shared modules in
//! `examples/common/`).

use ordo_core::api::Consistency;

use crate::support::{read_all, wait_for_local_log, TestCluster};

#[path = "../../examples/common/usernames.rs"]
mod usernames;

/// Concurrent registrations of one name, as the example makes by default.
const REGISTRATIONS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_example_of_concurrent_registrations_exactly_one_wins() {
    let cluster = TestCluster::start().await;
    let ids = cluster.ids();
    let tasks: Vec<_> = (0..REGISTRATIONS)
        .map(|i| {
            let client = cluster.client_for(ids[i % ids.len()]);
            tokio::spawn(
                async move { usernames::register(&client, "jane", &format!("user-{i}")).await },
            )
        })
        .collect();
    let (mut won, mut taken) = (Vec::new(), 0);
    for task in tasks {
        match task.await.expect("a registration task panicked") {
            Ok(registered) => won.push(registered.offset),
            Err(usernames::Taken::Taken) => taken += 1,
            Err(usernames::Taken::Failed(e)) => panic!("a registration failed: {e}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one ok: {won:?}");
    assert_eq!(taken, REGISTRATIONS - 1, "every other one is taken");

    let log = read_all(
        &cluster.client(),
        usernames::TOPIC,
        Consistency::Linearizable,
    )
    .await
    .expect("reading the usernames topic");
    assert_eq!(log.len(), 1, "one record: {log:?}");
    assert_eq!(log[0].offset, won[0], "the winner's record");
    for id in ids {
        wait_for_local_log(&cluster, id, usernames::TOPIC, &log).await;
    }
}
