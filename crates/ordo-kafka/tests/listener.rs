//! The listener against a real TCP connection and an in-memory node that
//! leads a cluster of itself: each API key served, answered as a Kafka
//! client expects, and bad frames that leave it serving.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use ordo_api::Consistency;
use ordo_core::{GroupName, Offset, TopicName as OrdoTopic};
use ordo_kafka::{serve, KafkaConfig, KafkaLimits};
use ordo_node::Node;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Listener {
    node: Arc<Node>,
    addr: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn listener_with(principals: Option<ordo_http::Principals>) -> Listener {
    let node = ordo_node::testing::leading_alone().await;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = KafkaConfig {
        advertise: addr.to_string(),
        limits: KafkaLimits {
            max_request_bytes: 1024 * 1024,
            ..KafkaLimits::default()
        },
        tls: None,
        principals,
        certificate_principals: false,
    };
    tokio::spawn(serve(Arc::clone(&node), tcp, config, async move {
        let _ = stopped.await;
    }));
    Listener {
        node,
        addr,
        _stop: stop,
    }
}

async fn listener() -> Listener {
    listener_with(None).await
}

/// A Kafka client's side of a connection, written with the protocol
/// crate's encoders.
struct Client {
    stream: TcpStream,
    correlation: i32,
}

impl Client {
    async fn connect(listener: &Listener) -> Client {
        Client {
            stream: TcpStream::connect(listener.addr).await.unwrap(),
            correlation: 0,
        }
    }

    async fn send_frame(&mut self, frame: &[u8]) -> std::io::Result<()> {
        self.stream
            .write_all(&(frame.len() as i32).to_be_bytes())
            .await?;
        self.stream.write_all(frame).await
    }

    /// The next answer's bytes after its size, or `None` once closed.
    async fn read_frame(&mut self) -> Option<Bytes> {
        let size = tokio::time::timeout(Duration::from_secs(10), self.stream.read_i32())
            .await
            .expect("an answer or a close within 10 s")
            .ok()?;
        let mut frame = vec![0; size as usize];
        self.stream.read_exact(&mut frame).await.ok()?;
        Some(Bytes::from(frame))
    }

    fn encode<R: Request>(&mut self, request: &R, version: i16) -> BytesMut {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("test")));
        let mut out = BytesMut::new();
        header.encode(&mut out, R::header_version(version)).unwrap();
        request.encode(&mut out, version).unwrap();
        out
    }

    async fn call<R: Request>(&mut self, request: R, version: i16) -> R::Response {
        let frame = self.encode(&request, version);
        self.send_frame(&frame).await.unwrap();
        let mut answer = self.read_frame().await.expect("an answer");
        let header =
            ResponseHeader::decode(&mut answer, R::Response::header_version(version)).unwrap();
        assert_eq!(header.correlation_id, self.correlation);
        let response = R::Response::decode(&mut answer, version).unwrap();
        assert!(!answer.has_remaining(), "the whole answer decodes");
        response
    }
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

fn record(offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        // One batch: offset minus sequence the same for every record.
        sequence: offset as i32 - 1,
        timestamp: 0,
        key: key.map(Bytes::copy_from_slice),
        value: value.map(Bytes::copy_from_slice),
        headers: IndexMap::new(),
    }
}

fn batch(records: &[Record], compression: Compression) -> Bytes {
    let mut out = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut out,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    out.freeze()
}

/// A producer's batch of `count` values `v<seq>` numbered from `base`.
fn idempotent_batch(producer_id: i64, base: i32, count: i32) -> Bytes {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            producer_id,
            producer_epoch: 0,
            sequence: base + i,
            ..record(
                i64::from(i),
                None,
                Some(format!("v{}", base + i).as_bytes()),
            )
        })
        .collect();
    batch(&records, Compression::None)
}

fn produce(topic: &str, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])])
}

fn produced(response: &ProduceResponse) -> (i16, i64) {
    let partition = &response.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
}

fn fetch(topic: &str, offset: i64, max_wait_ms: i32) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])])
}

fn fetched(response: &FetchResponse) -> (i16, i64, Vec<Record>) {
    let partition = &response.responses[0].partitions[0];
    let mut records = Vec::new();
    if let Some(bytes) = &partition.records {
        let mut bytes = bytes.clone();
        while bytes.has_remaining() {
            records.extend(RecordBatchDecoder::decode(&mut bytes).unwrap().records);
        }
    }
    (partition.error_code, partition.high_watermark, records)
}

#[tokio::test]
async fn api_versions_lists_what_is_served_and_anything_else_is_answered_unsupported() {
    let listener = listener().await;
    let mut client = Client::connect(&listener).await;
    let versions = client.call(ApiVersionsRequest::default(), 3).await;
    assert_eq!(versions.error_code, 0);
    let produce = versions.api_keys.iter().find(|k| k.api_key == 0).unwrap();
    assert_eq!((produce.min_version, produce.max_version), (3, 9));
    assert_eq!(versions.api_keys.len(), ordo_kafka::versions::SERVED.len());
    // DescribeAcls (29) is not served; nor is ApiVersions v9.
    for (key, version) in [(29i16, 1i16), (18, 9), (1000, 0)] {
        client.correlation += 1;
        let mut frame = BytesMut::new();
        frame.put_i16(key);
        frame.put_i16(version);
        frame.put_i32(client.correlation);
        frame.put_i16(-1);
        client.send_frame(&frame).await.unwrap();
        let mut answer = client.read_frame().await.expect("answered, not dropped");
        assert_eq!(answer.get_i32(), client.correlation);
        let body = ApiVersionsResponse::decode(&mut answer, 0).unwrap();
        assert_eq!(body.error_code, 35, "UNSUPPORTED_VERSION");
        assert!(!body.api_keys.is_empty());
    }
    let again = client.call(ApiVersionsRequest::default(), 0).await;
    assert_eq!(again.error_code, 0, "the connection still serves");
}

#[tokio::test]
async fn produced_records_fetch_back_byte_for_byte_and_read_over_http_by_kind() {
    let listener = listener().await;
    let mut client = Client::connect(&listener).await;
    let metadata = client
        .call(
            MetadataRequest::default()
                .with_topics(Some(vec![
                    MetadataRequestTopic::default().with_name(Some(topic_name("events")))
                ]))
                .with_allow_auto_topic_creation(true),
            9,
        )
        .await;
    assert_eq!(metadata.brokers.len(), 1);
    assert_eq!(metadata.brokers[0].port, i32::from(listener.addr.port()));
    let partition = &metadata.topics[0].partitions[0];
    assert_eq!(
        (metadata.topics[0].error_code, partition.leader_id.0),
        (0, 1)
    );
    let values: [Option<&[u8]>; 4] = [
        Some(b"{\"n\":1}"),
        Some(b"plain"),
        Some(&[0xff, 0, 7]),
        None,
    ];
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| record(i as i64, Some(b"k"), *v))
        .collect();
    for compression in [
        Compression::None,
        Compression::Gzip,
        Compression::Zstd,
        Compression::Lz4,
        Compression::Snappy,
    ] {
        let (error, _) = produced(
            &client
                .call(produce("events", batch(&records, compression)), 9)
                .await,
        );
        assert_eq!(error, 0, "{compression:?}");
    }
    let (error, end, back) = fetched(&client.call(fetch("events", 0, 0), 12).await);
    assert_eq!((error, end, back.len()), (0, 20, 20));
    for (i, r) in back.iter().enumerate() {
        assert_eq!(r.offset, i as i64);
        assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(r.value.as_deref(), values[i % 4], "record {i}");
    }
    let page = listener
        .node
        .read_waiting(
            &OrdoTopic::new("events").unwrap(),
            &ordo_node::ReadRequest::starting_at(Offset(0), Consistency::Local),
        )
        .await
        .unwrap();
    let json = serde_json::to_value(&page.records[..4]).unwrap();
    assert_eq!(json[0]["value"], serde_json::json!({"n": 1}));
    assert_eq!(json[1]["value"], "plain");
    assert_eq!(json[2]["value_b64"], "/wAH");
    assert_eq!(json[3]["value"], serde_json::Value::Null);

    let offsets = client
        .call(
            ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![ListOffsetsTopic::default()
                    .with_name(topic_name("events"))
                    .with_partitions(vec![
                        ListOffsetsPartition::default().with_timestamp(-2),
                        ListOffsetsPartition::default().with_timestamp(-1),
                        ListOffsetsPartition::default().with_timestamp(0),
                        ListOffsetsPartition::default().with_timestamp(i64::MAX / 2),
                    ])]),
            6,
        )
        .await;
    let found: Vec<i64> = offsets.topics[0]
        .partitions
        .iter()
        .map(|p| p.offset)
        .collect();
    assert_eq!(found, [0, 20, 0, -1]);
    // A fetch past the end is out of range; a missing topic unknown.
    assert_eq!(fetched(&client.call(fetch("events", 21, 0), 12).await).0, 1);
    assert_eq!(fetched(&client.call(fetch("nothing", 0, 0), 12).await).0, 3);
}

#[tokio::test]
async fn an_idempotent_producers_resent_batch_is_answered_with_its_original_offset() {
    let listener = listener().await;
    let mut client = Client::connect(&listener).await;
    let init = client
        .call(
            InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
            4,
        )
        .await;
    assert_eq!(init.error_code, 0);
    let pid = init.producer_id.0;
    assert!(pid > 0);
    let other = client
        .call(
            InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
            4,
        )
        .await;
    assert_ne!(other.producer_id.0, pid, "each producer its own id");

    assert_eq!(
        produced(
            &client
                .call(produce("ids", idempotent_batch(pid, 0, 2)), 9)
                .await
        ),
        (0, 0)
    );
    assert_eq!(
        produced(
            &client
                .call(produce("ids", idempotent_batch(pid, 2, 3)), 9)
                .await
        ),
        (0, 2)
    );
    // Both resent (a lost answer): the originals' offsets, nothing appended.
    assert_eq!(
        produced(
            &client
                .call(produce("ids", idempotent_batch(pid, 0, 2)), 9)
                .await
        ),
        (0, 0)
    );
    assert_eq!(
        produced(
            &client
                .call(produce("ids", idempotent_batch(pid, 2, 3)), 9)
                .await
        ),
        (0, 2)
    );
    // A gap is refused as Kafka refuses it.
    assert_eq!(
        produced(
            &client
                .call(produce("ids", idempotent_batch(pid, 9, 1)), 9)
                .await
        )
        .0,
        45
    );
    assert_eq!(
        produced(
            &client
                .call(produce("ids", idempotent_batch(pid, 5, 1)), 9)
                .await
        ),
        (0, 5)
    );
    let (_, end, records) = fetched(&client.call(fetch("ids", 0, 0), 12).await);
    assert_eq!(end, 6, "each record once");
    let values: Vec<_> = records.iter().map(|r| r.value.clone().unwrap()).collect();
    assert_eq!(
        values,
        ["v0", "v1", "v2", "v3", "v4", "v5"].map(|v| Bytes::from_static(v.as_bytes()))
    );
}

#[tokio::test]
async fn a_group_of_one_joins_syncs_commits_and_reads_its_offset_back() {
    let listener = listener().await;
    let mut client = Client::connect(&listener).await;
    client
        .call(
            produce(
                "orders",
                batch(
                    &[record(0, None, Some(b"a")), record(1, None, Some(b"b"))],
                    Compression::None,
                ),
            ),
            9,
        )
        .await;
    let coordinator = client
        .call(
            FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("billing")),
            3,
        )
        .await;
    assert_eq!((coordinator.error_code, coordinator.node_id.0), (0, 1));
    assert_eq!(coordinator.port, i32::from(listener.addr.port()));
    let started = Instant::now();
    let joined = client
        .call(
            JoinGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("billing")))
                .with_session_timeout_ms(10_000)
                .with_rebalance_timeout_ms(10_000)
                .with_protocol_type(StrBytes::from_static_str("consumer"))
                .with_protocols(vec![JoinGroupRequestProtocol::default()
                    .with_name(StrBytes::from_static_str("range"))
                    .with_metadata(Bytes::from_static(b"meta"))]),
            7,
        )
        .await;
    assert_eq!(joined.error_code, 0);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.leader, joined.member_id, "alone, it leads");
    assert_eq!(joined.members.len(), 1);
    let member = joined.member_id.clone();
    let synced = client
        .call(
            SyncGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("billing")))
                .with_generation_id(1)
                .with_member_id(member.clone())
                .with_assignments(vec![SyncGroupRequestAssignment::default()
                    .with_member_id(member.clone())
                    .with_assignment(Bytes::from_static(b"orders-0"))]),
            5,
        )
        .await;
    assert_eq!(
        (synced.error_code, synced.assignment.as_ref()),
        (0, &b"orders-0"[..])
    );
    let beat = client
        .call(
            HeartbeatRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("billing")))
                .with_generation_id(1)
                .with_member_id(member.clone()),
            4,
        )
        .await;
    assert_eq!(beat.error_code, 0);
    let commit = |generation: i32, offset: i64| {
        OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("billing")))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(member.clone())
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(topic_name("orders"))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(offset)])])
    };
    let stale = client.call(commit(7, 1), 8).await;
    assert_eq!(
        stale.topics[0].partitions[0].error_code, 22,
        "ILLEGAL_GENERATION"
    );
    let committed = client.call(commit(1, 2), 8).await;
    assert_eq!(committed.topics[0].partitions[0].error_code, 0);
    let position = listener
        .node
        .consumer_offset(
            &GroupName::new("billing").unwrap(),
            &OrdoTopic::new("orders").unwrap(),
            Consistency::Local,
        )
        .await
        .unwrap();
    assert_eq!(
        position,
        Offset(2),
        "a committed offset is the group's ordo position"
    );
    let offsets = client
        .call(
            OffsetFetchRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("billing")))
                .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                    .with_name(topic_name("orders"))
                    .with_partition_indexes(vec![0])])),
            7,
        )
        .await;
    assert_eq!(offsets.topics[0].partitions[0].committed_offset, 2);
    let described = client
        .call(
            DescribeGroupsRequest::default()
                .with_groups(vec![GroupId(StrBytes::from_static_str("billing"))]),
            5,
        )
        .await;
    assert_eq!(described.groups[0].group_state.as_str(), "Stable");
    assert_eq!(described.groups[0].members.len(), 1);
    let left = client
        .call(
            LeaveGroupRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("billing")))
                .with_member_id(member.clone()),
            2,
        )
        .await;
    assert_eq!(left.error_code, 0);
    let listed = client.call(ListGroupsRequest::default(), 4).await;
    let billing = listed
        .groups
        .iter()
        .find(|g| g.group_id.0.as_str() == "billing")
        .unwrap();
    assert_eq!(
        billing.group_state.as_str(),
        "Empty",
        "gone from memory, its offsets kept"
    );
}

#[tokio::test]
async fn topics_are_created_described_and_deleted() {
    let listener = listener().await;
    let mut client = Client::connect(&listener).await;
    let create = |name: &str, partitions: i32, configs: Vec<(&'static str, &'static str)>| {
        CreateTopicsRequest::default()
            .with_timeout_ms(10_000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(topic_name(name))
                .with_num_partitions(partitions)
                .with_replication_factor(3)
                .with_configs(
                    configs
                        .into_iter()
                        .map(|(k, v)| {
                            CreatableTopicConfig::default()
                                .with_name(StrBytes::from_static_str(k))
                                .with_value(Some(StrBytes::from_static_str(v)))
                        })
                        .collect(),
                )])
    };
    let made = client
        .call(create("users", 1, vec![("cleanup.policy", "compact")]), 7)
        .await;
    assert_eq!(made.topics[0].error_code, 0);
    let again = client.call(create("users", 1, vec![]), 7).await;
    assert_eq!(again.topics[0].error_code, 36, "TOPIC_ALREADY_EXISTS");
    let many = client.call(create("wide", 6, vec![]), 7).await;
    assert_eq!(many.topics[0].error_code, 37, "INVALID_PARTITIONS");
    let odd = client
        .call(create("odd", 1, vec![("min.insync.replicas", "2")]), 7)
        .await;
    assert_eq!(odd.topics[0].error_code, 40, "INVALID_CONFIG");
    assert!(odd.topics[0]
        .error_message
        .as_ref()
        .unwrap()
        .contains("min.insync.replicas"));
    let configs = client
        .call(
            DescribeConfigsRequest::default().with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("users")),
            ]),
            4,
        )
        .await;
    let policy = configs.results[0]
        .configs
        .iter()
        .find(|c| c.name.as_str() == "cleanup.policy")
        .unwrap_or_else(|| panic!("{configs:?}"));
    assert_eq!(policy.value.as_ref().unwrap().as_str(), "compact");
    let deleted = client
        .call(
            DeleteTopicsRequest::default().with_topic_names(vec![topic_name("users")]),
            5,
        )
        .await;
    assert_eq!(deleted.responses[0].error_code, 0);
    let all = client
        .call(MetadataRequest::default().with_topics(None), 9)
        .await;
    assert!(all.topics.is_empty());
}

#[tokio::test]
async fn a_fetch_at_the_end_waits_for_the_next_record() {
    let listener = listener().await;
    let mut client = Client::connect(&listener).await;
    client
        .call(
            produce(
                "tail",
                batch(&[record(0, None, Some(b"first"))], Compression::None),
            ),
            9,
        )
        .await;
    let mut producer = Client::connect(&listener).await;
    let started = Instant::now();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        producer
            .call(
                produce(
                    "tail",
                    batch(&[record(0, None, Some(b"second"))], Compression::None),
                ),
                9,
            )
            .await;
    });
    let (error, _, records) = fetched(&client.call(fetch("tail", 1, 10_000), 12).await);
    assert_eq!(error, 0);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value.as_deref(), Some(&b"second"[..]));
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered when the record came"
    );
    later.await.unwrap();
    let (_, _, none) = fetched(&client.call(fetch("tail", 2, 200), 12).await);
    assert!(none.is_empty(), "an empty answer at the deadline");
}

/// A small deterministic generator for the malformed frames.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test]
async fn a_thousand_malformed_frames_leave_the_listener_serving() {
    let listener = listener().await;
    let mut rng = XorShift(0x5eed_0018);
    let mut client = Client::connect(&listener).await;
    let valid = client.encode(
        &produce(
            "fuzz",
            batch(&[record(0, None, Some(b"x"))], Compression::Gzip),
        ),
        9,
    );
    for round in 0..1000 {
        let frame: Vec<u8> = match round % 4 {
            // Random bytes.
            0 => (0..rng.next() % 200).map(|_| rng.next() as u8).collect(),
            // A served key and version with a random body.
            1 => {
                let keys = ordo_kafka::versions::SERVED;
                let served = keys[(rng.next() % keys.len() as u64) as usize];
                let mut frame = BytesMut::new();
                frame.put_i16(served.key as i16);
                frame.put_i16(served.max);
                frame.put_i32(round);
                frame.extend((0..rng.next() % 300).map(|_| rng.next() as u8));
                frame.to_vec()
            }
            // A valid produce with bytes flipped (its batch's CRC catches most).
            2 => {
                let mut frame = valid.to_vec();
                for _ in 0..3 {
                    let at = (rng.next() % frame.len() as u64) as usize;
                    frame[at] ^= rng.next() as u8 | 1;
                }
                frame
            }
            // Truncated.
            _ => valid[..(rng.next() % valid.len() as u64) as usize].to_vec(),
        };
        if client.send_frame(&frame).await.is_err() {
            client = Client::connect(&listener).await;
            continue;
        }
        // Answered or closed; either way, next.
        let answered = tokio::time::timeout(Duration::from_millis(500), client.read_frame()).await;
        if !matches!(answered, Ok(Some(_))) {
            client = Client::connect(&listener).await;
        }
    }
    // An oversized frame, and a negative size, close the connection.
    for size in [i32::MAX, -5] {
        let mut client = Client::connect(&listener).await;
        client.stream.write_all(&size.to_be_bytes()).await.unwrap();
        assert!(client.read_frame().await.is_none());
    }
    let mut fresh = Client::connect(&listener).await;
    let versions = fresh.call(ApiVersionsRequest::default(), 3).await;
    assert_eq!(versions.error_code, 0, "still serving");
    let (error, _) = produced(
        &fresh
            .call(
                produce(
                    "fuzz",
                    batch(&[record(0, None, Some(b"ok"))], Compression::None),
                ),
                9,
            )
            .await,
    );
    assert_eq!(error, 0);
}

#[tokio::test]
async fn with_principals_a_client_authenticates_with_an_ordo_token() {
    let token = ordo_api::secret::Secret::new("s3cret-token-for-kafka").unwrap();
    let listener = listener_with(Some(ordo_http::Principals::api_token(token))).await;
    let mut client = Client::connect(&listener).await;
    let frame = client.encode(&MetadataRequest::default().with_topics(None), 9);
    client.send_frame(&frame).await.unwrap();
    assert!(
        client.read_frame().await.is_none(),
        "nothing but SASL before authenticating"
    );

    let mut client = Client::connect(&listener).await;
    let handshake = client
        .call(
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
            1,
        )
        .await;
    assert_eq!(handshake.error_code, 0);
    let refused = client
        .call(
            SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(b"\0me\0wrong")),
            2,
        )
        .await;
    assert_eq!(refused.error_code, 58, "SASL_AUTHENTICATION_FAILED");
    assert!(client.read_frame().await.is_none(), "then closed");

    let mut client = Client::connect(&listener).await;
    client
        .call(
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
            1,
        )
        .await;
    let accepted = client
        .call(
            SaslAuthenticateRequest::default()
                .with_auth_bytes(Bytes::from_static(b"\0me\0s3cret-token-for-kafka")),
            2,
        )
        .await;
    assert_eq!(accepted.error_code, 0);
    let metadata = client
        .call(MetadataRequest::default().with_topics(None), 9)
        .await;
    assert_eq!(metadata.error_code, 0);
}
