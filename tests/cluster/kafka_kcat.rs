//! kcat (librdkafka's command-line client, unmodified) against the nodes'
//! Kafka listeners: lines produced through the leader come back in order
//! through any node, over Kafka and over HTTP; produced through a
//! follower's address they land all the same (clients learn the leader
//! from Metadata); `kcat -L` lists the topics with the Raft leader as
//! partition 0's leader.

use serde_json::{json, Value};

use super::kafka_support::{http_records, kafka_addr, kcat, require_kcat, start_kafka_cluster};

const LINES: u64 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_lines_come_back_in_order_over_kafka_from_any_node_and_over_http() {
    require_kcat();
    let cluster = start_kafka_cluster().await;
    let leader = kafka_addr(&cluster, cluster.leader);
    let follower = kafka_addr(&cluster, cluster.followers()[0]);
    let lines: String = (1..=LINES).map(|n| format!("{n}\n")).collect();

    kcat(&["-P", "-b", &leader, "-t", "nums"], lines.as_bytes()).await;

    for node in [&follower, &leader] {
        let consumed = kcat(
            &["-C", "-b", node, "-t", "nums", "-o", "beginning", "-e"],
            b"",
        )
        .await;
        assert!(
            String::from_utf8_lossy(&consumed) == lines,
            "kcat -C through {node} did not print 1..{LINES} in order: {} bytes, starting {:?}",
            consumed.len(),
            String::from_utf8_lossy(&consumed[..consumed.len().min(80)])
        );
    }

    // Each value is the bytes `1`..`10000`, which are JSON: over HTTP they
    // read as JSON numbers (DESIGN.md §3d), at offsets 0..10000.
    let records = http_records(&cluster, cluster.followers()[1], "nums").await;
    assert_eq!(records.len() as u64, LINES);
    for (index, record) in records.iter().enumerate() {
        let n = index as u64 + 1;
        assert_eq!(record["offset"], json!(index), "{record}");
        assert_eq!(record["value"], json!(n), "offset {index}: {record}");
    }

    let listing = String::from_utf8(kcat(&["-L", "-b", &follower], b"").await).expect("UTF-8");
    assert!(
        listing.contains("topic \"nums\" with 1 partitions:"),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("partition 0, leader {},", cluster.leader)),
        "the Raft leader leads partition 0: {listing}"
    );
    assert!(
        listing.contains(&format!("broker {} at {leader}", cluster.leader)),
        "the leader's broker at its advertised address: {listing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_produces_through_a_follower_s_address_alone() {
    require_kcat();
    let cluster = start_kafka_cluster().await;
    let follower = cluster.followers()[0];
    let follower_addr = kafka_addr(&cluster, follower);

    kcat(
        &["-P", "-b", &follower_addr, "-t", "via-follower"],
        "first\nsecond\nthird\n".as_bytes(),
    )
    .await;

    // Not JSON but UTF-8: strings over HTTP, read on another node.
    let records = http_records(&cluster, cluster.leader, "via-follower").await;
    let values: Vec<&Value> = records.iter().map(|r| &r["value"]).collect();
    assert_eq!(values, [&json!("first"), &json!("second"), &json!("third")]);
    let consumed = kcat(
        &[
            "-C",
            "-b",
            &follower_addr,
            "-t",
            "via-follower",
            "-o",
            "beginning",
            "-e",
        ],
        b"",
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&consumed), "first\nsecond\nthird\n");
}
