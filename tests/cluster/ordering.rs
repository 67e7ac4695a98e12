//! Total order and linearizability (DESIGN §4.2-4.4): whichever node takes
//! an append, offsets are assigned in one order, contiguously, never twice;
//! and every node serves the same log.

use std::collections::BTreeMap;
use std::time::Duration;

use ordo_api::limits::MAX_READ_BYTES;
use ordo_api::{Consistency, ReadParams};
use ordo_core::Offset;
use serde_json::json;

use crate::support::{
    offsets, read_all, read_all_in_pages, record, wait_for_local_log, TestCluster,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_through_every_node_get_contiguous_offsets_and_every_node_reads_the_same_log() {
    let cluster = TestCluster::start().await;
    let topic = "orders";
    let ids = cluster.ids();

    // Each append is acknowledged before the next is sent, so each must
    // start exactly where the previous one ended, whichever node took it.
    let mut values = Vec::new();
    let mut last_log_index = None;
    for i in 0..30 {
        let id = ids[i % ids.len()];
        let batch: Vec<_> = (0..if i % 5 == 4 { 3 } else { 1 })
            .map(|j| json!(format!("a{i}-{j}")))
            .collect();
        let first = values.len() as u64;
        let ack = cluster
            .client_for(id)
            .append(topic, batch.iter().cloned().map(record).collect())
            .await
            .unwrap_or_else(|e| panic!("append {i} through node {id}: {e}"));
        assert_eq!(
            ack.offsets,
            offsets(first..first + batch.len() as u64),
            "append {i} through node {id} must continue the offsets"
        );
        assert!(
            Some(ack.log_index) > last_log_index,
            "append {i}: log index {:?} after {last_log_index:?}",
            ack.log_index
        );
        last_log_index = Some(ack.log_index);
        values.extend(batch);
    }

    // A linearizable read sees every acknowledged append at once, anywhere.
    let reference = read_all(
        &cluster.client_for(cluster.leader),
        topic,
        Consistency::Linearizable,
    )
    .await
    .expect("a linearizable read from the leader");
    assert_eq!(
        reference.iter().map(|r| r.offset).collect::<Vec<_>>(),
        offsets(0..values.len() as u64)
    );
    assert_eq!(
        reference
            .iter()
            .map(|r| r.value.clone())
            .collect::<Vec<_>>(),
        values
    );
    for &id in &ids {
        let log = read_all(&cluster.client_for(id), topic, Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("a linearizable read from node {id}: {e}"));
        assert_eq!(log, reference, "node {id}'s linearizable read");
    }

    // Page by page, following `next_offset`, it is the same log again.
    let paged = read_all_in_pages(
        &cluster.client_for(ids[1]),
        topic,
        Consistency::Linearizable,
        Some(4),
    )
    .await
    .expect("a linearizable read in pages of 4");
    assert_eq!(paged, reference, "the log read 4 records at a time");

    // A local read may lag, but once caught up it is the same log, record
    // for record (timestamps included: the leader stamps them once).
    for &id in &ids {
        wait_for_local_log(&cluster, id, topic, &reference).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_through_all_nodes_leave_no_gaps_and_no_duplicates() {
    const CLIENTS: usize = 16;
    const APPENDS_PER_CLIENT: usize = 50;
    let cluster = TestCluster::start().await;
    let topic = "concurrent";
    let ids = cluster.ids();

    let writers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let id = ids[c % ids.len()];
            let client = cluster.client_for(id);
            tokio::spawn(async move {
                let mut acked = Vec::with_capacity(APPENDS_PER_CLIENT);
                for i in 0..APPENDS_PER_CLIENT {
                    let value = format!("c{c}-{i}");
                    let ack = client
                        .append(topic, vec![record(value.clone())])
                        .await
                        .unwrap_or_else(|e| panic!("client {c}, append {i}, via node {id}: {e}"));
                    assert_eq!(ack.offsets.len(), 1, "one record, one offset: {ack:?}");
                    acked.push((value, ack.offsets[0]));
                }
                acked
            })
        })
        .collect();
    let mut acked_by_client = Vec::new();
    for writer in writers {
        let acked = tokio::time::timeout(Duration::from_secs(40), writer)
            .await
            .expect("16 x 50 appends take far less than 40 s")
            .expect("a writer task failed");
        acked_by_client.push(acked);
    }

    // Each client sent its appends one after another, so each must have
    // landed after the one before it.
    for (c, acked) in acked_by_client.iter().enumerate() {
        let client_offsets: Vec<Offset> = acked.iter().map(|(_, o)| *o).collect();
        assert!(
            client_offsets.windows(2).all(|w| w[0] < w[1]),
            "client {c}'s offsets are not increasing: {client_offsets:?}"
        );
    }

    // No gaps and no duplicates: the acknowledged offsets are exactly 0..n.
    let by_offset: BTreeMap<Offset, String> = acked_by_client
        .into_iter()
        .flatten()
        .map(|(value, offset)| (offset, value))
        .collect();
    let total = (CLIENTS * APPENDS_PER_CLIENT) as u64;
    assert_eq!(
        by_offset.keys().copied().collect::<Vec<_>>(),
        offsets(0..total),
        "every acknowledged append has its own offset, with no gaps"
    );

    // Every acknowledged record is readable, on every node, at exactly the
    // offset it was acknowledged with, and nothing else is in the log.
    for &id in &ids {
        let log = read_all(&cluster.client_for(id), topic, Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("a linearizable read from node {id}: {e}"));
        assert_eq!(log.len() as u64, total, "node {id} holds every record once");
        for r in &log {
            assert_eq!(
                r.value,
                json!(by_offset[&r.offset]),
                "node {id}, offset {}",
                r.offset
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_records_are_read_in_pages_and_none_is_skipped() {
    let cluster = TestCluster::start().await;
    let topic = "large";
    // Each value is over a third of a read page's byte budget, so no page
    // can hold more than two of them.
    let size_bytes = MAX_READ_BYTES / 3 + 1;
    let mut values = Vec::new();
    // Idempotent: an election on a loaded machine can leave an append's
    // outcome unknown, and its resend must not add the record twice.
    let mut producer = ordo_client::Producer::new(
        cluster.client(),
        ordo_core::ProducerId::new("large-writer").expect("a valid producer id"),
    );
    for i in 0..5u64 {
        let value = json!(format!("{i}").repeat(size_bytes));
        let ack = producer
            .append(topic, vec![record(value.clone())])
            .await
            .unwrap_or_else(|e| panic!("appending large record {i}: {e}"));
        assert_eq!(ack.offsets, offsets(i..i + 1));
        values.push(value);
    }
    for id in cluster.ids() {
        let client = cluster.client_for(id);
        let first = client
            .read(
                topic,
                &ReadParams {
                    consistency: Consistency::Linearizable,
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("reading from node {id}: {e}"));
        assert!(
            !first.records.is_empty() && first.records.len() < values.len(),
            "node {id}: a page is bounded by bytes, not only by count: {} records",
            first.records.len()
        );
        assert_eq!(first.end_offset, Offset(values.len() as u64));
        let log = read_all(&client, topic, Consistency::Linearizable)
            .await
            .unwrap_or_else(|e| panic!("reading all from node {id}: {e}"));
        assert_eq!(
            log.iter().map(|r| r.value.clone()).collect::<Vec<_>>(),
            values,
            "node {id}: every large record, in order"
        );
    }
}
