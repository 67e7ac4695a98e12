//! The runnable examples in `examples/`, checked against a real cluster
//! through the same code they run (their shared modules in
//! `examples/common/`).

use ordo_core::api::Consistency;

use crate::support::{read_all, record, wait_for_local_log, TestCluster};

#[path = "../../examples/common/search.rs"]
mod search;
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

/// Records the search index test appends: more than one read page (1,000).
const ARTICLES: u64 = 2_500;
/// Records per append in that test.
const ARTICLE_BATCH: u64 = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_index_example_replay_from_zero_indexes_every_record() {
    let cluster = TestCluster::start().await;
    let client = cluster.client();
    for batch in 0..ARTICLES / ARTICLE_BATCH {
        let records = (batch * ARTICLE_BATCH..(batch + 1) * ARTICLE_BATCH)
            .map(|i| {
                record(format!(
                    "article {i} about {}",
                    ["raft", "logs"][i as usize % 2]
                ))
            })
            .collect();
        client
            .append("articles", records)
            .await
            .expect("appending articles");
    }

    let mut pages = Vec::new();
    let index = search::rebuild(
        &cluster.client_for(cluster.followers()[0]),
        "articles",
        |next, end| pages.push((next.0, end.0)),
    )
    .await
    .expect("replaying the topic");

    assert_eq!(index.records, ARTICLES);
    assert_eq!(
        pages.last(),
        Some(&(ARTICLES, ARTICLES)),
        "progress reaches the end: {pages:?}"
    );
    assert!(pages.len() > 1, "more than one page: {pages:?}");
    let log = read_all(&client, "articles", Consistency::Linearizable)
        .await
        .expect("reading the articles");
    for r in &log {
        for word in search::words(&r.value) {
            assert!(
                index.words[&word].contains(&r.offset),
                "{word:?} of offset {} is in the index",
                r.offset
            );
        }
    }
    assert_eq!(index.words["article"].len() as u64, ARTICLES);
    assert_eq!(index.words["raft"].len() as u64, ARTICLES / 2);
}
