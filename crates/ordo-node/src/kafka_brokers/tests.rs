use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::BasicNode;

use super::*;
use crate::peers::Peers;
use crate::testing::{leading_alone_with, InProcessPeers};
use crate::{NodeConfig, RequestPeers};

#[test]
fn an_answer_is_used_without_asking_for_a_few_seconds_and_stands_in_for_half_a_minute() {
    let cache = KafkaAddresses::default();
    let t0 = Instant::now();
    assert_eq!(cache.fresh(2, t0), None, "nothing asked yet");
    assert_eq!(cache.kept(2, t0), None);
    cache.record(2, Some("b:9092".into()), t0);
    let b = Some(Some("b:9092".to_string()));
    assert_eq!(cache.fresh(2, t0 + KAFKA_ADDRESS_FRESH / 2), b);
    assert_eq!(cache.fresh(2, t0 + KAFKA_ADDRESS_FRESH), None, "ask again");
    assert_eq!(cache.kept(2, t0 + KAFKA_ADDRESS_KEPT / 2), b);
    assert_eq!(cache.kept(2, t0 + KAFKA_ADDRESS_KEPT), None, "too old");
    // "No Kafka listener" is an answer too, kept like any other.
    cache.record(3, None, t0);
    assert_eq!(cache.fresh(3, t0), Some(None));
}

#[test]
fn answers_too_old_to_use_are_forgotten() {
    let cache = KafkaAddresses::default();
    let t0 = Instant::now();
    cache.record(2, Some("b:9092".into()), t0);
    cache.record(3, Some("c:9092".into()), t0 + KAFKA_ADDRESS_KEPT);
    let answers = cache.answers.lock().expect("not poisoned");
    assert_eq!(answers.keys().copied().collect::<Vec<_>>(), vec![3]);
}

async fn node_with(kafka: Option<&str>, transport: Arc<dyn Peers>) -> Arc<Node> {
    let kafka = kafka.map(str::to_owned);
    leading_alone_with(
        move |config| NodeConfig {
            kafka_advertise: kafka,
            ..config
        },
        transport,
    )
    .await
}

#[tokio::test]
async fn every_members_kafka_address_travels_and_a_silent_member_is_left_out() {
    // Only the question asked here: Raft's replication to these learners
    // goes unanswered.
    let peers = Arc::new(InProcessPeers::carrying(&[RpcKind::KafkaAddress]));
    let http = || Arc::new(RequestPeers::http().expect("an HTTP client builds"));
    let a = node_with(Some("a.example:9092"), peers.clone()).await;
    let b = node_with(Some("b.example:9092"), http()).await;
    let c = node_with(None, http()).await;
    let registered = BTreeMap::from([("node-b:1".to_string(), b), ("node-c:1".to_string(), c)]);
    peers.register(registered);
    // Learners join a's membership without a quorum; node 4 never answers.
    for (id, addr) in [(2, "node-b:1"), (3, "node-c:1"), (4, "node-d:1")] {
        a.raft()
            .add_learner(id, BasicNode::new(addr), false)
            .await
            .expect("a learner is added");
    }

    let expected = BTreeMap::from([
        (1, "a.example:9092".to_string()),
        (2, "b.example:9092".to_string()),
    ]);
    assert_eq!(a.kafka_brokers().await, expected);

    // Gone quiet: b's recent answer is used in the meantime.
    peers.refuse_all();
    assert_eq!(a.kafka_brokers().await, expected);
}

#[tokio::test]
async fn a_node_alone_lists_itself_only_if_it_has_a_kafka_listener() {
    let http = || Arc::new(RequestPeers::http().expect("an HTTP client builds"));
    let with = node_with(Some("me:9092"), http()).await;
    assert_eq!(
        with.kafka_brokers().await,
        BTreeMap::from([(1, "me:9092".to_string())])
    );
    let without = node_with(None, http()).await;
    assert!(without.kafka_brokers().await.is_empty());
}
