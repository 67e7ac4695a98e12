//! The runnable examples in `examples/`, checked against a real cluster
//! through the same code they run (their shared modules in
//! `examples/common/`).

use ordo_api::Consistency;

use crate::support::{read_all, record, wait_for_local_log, TestCluster};

#[path = "../../examples/common/emails.rs"]
mod emails;
#[path = "../../examples/common/mailbox.rs"]
mod mailbox;
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
    let topic = usernames::fresh_topic();
    let tasks: Vec<_> = (0..REGISTRATIONS)
        .map(|i| {
            let client = cluster.client_for(ids[i % ids.len()]);
            let topic = topic.clone();
            tokio::spawn(async move {
                usernames::register(&client, &topic, "jane", &format!("user-{i}")).await
            })
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

    let log = read_all(&cluster.client(), &topic, Consistency::Linearizable)
        .await
        .expect("reading the usernames topic");
    assert_eq!(log.len(), 1, "one record: {log:?}");
    assert_eq!(log[0].offset, won[0], "the winner's record");
    for id in ids {
        wait_for_local_log(&cluster, id, &topic, &log).await;
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
        for word in search::words(&r.value.to_json()) {
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

/// Messages the mailbox test sends: several consumer pages.
const MESSAGES: usize = 23;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_example_views_agree_after_a_consumer_restarts_midway() {
    use mailbox::{Inbox, MessageSent, UnreadCount};

    let cluster = TestCluster::start().await;
    let ids = cluster.ids();
    let id = ordo_core::ProducerId::new("mailbox-test").expect("a valid producer id");
    let mut producer = ordo_client::Producer::new(cluster.client(), id);
    let users = ["alice", "bob", "carol"];
    let mut sent = Vec::new();
    for i in 0..MESSAGES {
        let message = MessageSent {
            from: users[i % 3].into(),
            to: users[(i + 1) % 3].into(),
            text: format!("message {i}"),
        };
        let offset = mailbox::send(&mut producer, &message)
            .await
            .expect("sending a message");
        sent.push((offset, message));
    }

    // As the example: empty views, their groups from offset 0. The inbox
    // consumer stops in the middle (through node 1) and a new one resumes
    // from the committed position (through node 2).
    let (mut inbox, mut unread) = (Inbox::new(), UnreadCount::new());
    for group in ["inbox", "unread"] {
        mailbox::reset(&cluster.client(), group)
            .await
            .expect("starting a group at 0");
    }
    let stopped = mailbox::consume(&cluster.client_for(ids[0]), "inbox", &mut inbox, Some(7))
        .await
        .expect("the first inbox consumer");
    assert!(
        stopped.0 > 0 && stopped.0 < MESSAGES as u64,
        "stopped midway: {stopped:?}"
    );
    let committed = cluster
        .client()
        .consumer_offset("inbox", mailbox::TOPIC, Consistency::Linearizable)
        .await
        .expect("reading the inbox group's position");
    assert_eq!(committed, Some(stopped), "the stop point is committed");
    let resumed = mailbox::consume(&cluster.client_for(ids[1]), "inbox", &mut inbox, None)
        .await
        .expect("the resumed inbox consumer");
    let unread_at = mailbox::consume(&cluster.client_for(ids[2]), "unread", &mut unread, None)
        .await
        .expect("the unread consumer");
    assert_eq!((resumed.0, unread_at.0), (MESSAGES as u64, MESSAGES as u64));

    assert!(mailbox::agree(&inbox, &unread), "{inbox:?} vs {unread:?}");
    let mut expected = Inbox::new();
    for (offset, m) in &sent {
        let entry = (*offset, m.from.clone(), m.text.clone());
        expected.entry(m.to.clone()).or_default().push(entry);
    }
    assert_eq!(
        inbox, expected,
        "every message once, in order, in its inbox"
    );
}

/// Emails the queue test sends: more jobs than workers, several rounds.
const EMAILS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_example_sends_each_email_once_per_delivery_and_acks_it_once_despite_a_crash() {
    let cluster = TestCluster::start().await;
    // One worker through each node.
    let clients: Vec<_> = cluster
        .ids()
        .into_iter()
        .map(|id| cluster.client_for(id))
        .collect();
    let topic = emails::fresh_topic();
    let jobs = emails::enqueue(&cluster.client(), &topic, EMAILS)
        .await
        .expect("enqueueing the emails");
    assert_eq!(jobs.len(), EMAILS);

    let outcome = emails::run(&clients, &topic, jobs, |line| eprintln!("{line}")).await;

    assert_eq!(
        emails::problems(&outcome),
        Vec::<String>::new(),
        "{outcome:#?}"
    );
    let (crashed, again) = outcome.crashed_sends().expect("the crashed job went again");
    assert_eq!(
        (crashed.delivery, again.delivery),
        (1, 2),
        "the crashed job's second send is its second delivery"
    );
}
