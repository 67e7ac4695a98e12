//! One request of the workload and what its answer proves: sent through
//! `ordo_client`, pinned to one node and sent once, and recorded as one
//! operation of the history.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{PAGE, REQUEST_TIMEOUT};
use crate::cluster::node_addr;
use crate::history::{Current, NodeId, Op, OpKind, Outcome};
use crate::net::SimTransport;
use crate::recorder::{now, SharedRecorder};
use ordo_api::{AppendRequest, Consistency, ReadParams};
use ordo_client::{Client, ClientError, RetryPolicy};
use ordo_core::{Condition, NewRecord, Offset, Producer, ProducerId, RecordValue};

/// A client of `node` alone that sends each request once, through the real
/// `ordo_client` over the simulated network: every attempt is its own
/// operation in the history, and what an answer proves (nothing appended,
/// or maybe) is decided by the client's one rule, as for any user.
pub(super) fn client_of(node: NodeId) -> Client {
    let addr = node_addr(node);
    Client::builder(vec![addr.clone()])
        .transport(Arc::new(SimTransport))
        .timeout(REQUEST_TIMEOUT)
        .retry(RetryPolicy::no_retries())
        .build()
        .and_then(|client| client.for_node(&addr))
        .expect("a simulated node's address is host:port")
}

/// The request an append operation sends.
fn append_request(kind: &OpKind) -> AppendRequest {
    let OpKind::Append {
        values,
        key,
        producer,
        key_absent,
        ..
    } = kind
    else {
        unreachable!("only an append operation has an append request")
    };
    let records = values
        .iter()
        .map(|value| NewRecord {
            key: key.clone(),
            value: RecordValue::from(serde_json::Value::from(value.as_str())),
            headers: BTreeMap::new(),
        })
        .collect();
    let producer = producer.as_ref().map(|(id, seq)| {
        Producer::new(
            ProducerId::new(id.as_str()).expect("the workload's producer ids are valid"),
            *seq,
        )
    });
    AppendRequest {
        records,
        producer,
        condition: key_absent.then_some(Condition::KeyAbsent),
    }
}

/// Sends one append and classifies the answer by what it proves.
async fn append(node: NodeId, topic: &str, request: AppendRequest) -> Outcome {
    let answer = client_of(node).append_with(topic, &request).await;
    classify(answer, |ack| Outcome::AppendOk {
        offsets: ack.offsets.iter().map(|o| o.0).collect(),
        log_index: ack.log_index.0,
        duplicate: ack.duplicate,
    })
}

/// What an answer to a request that changes something proves: `ok` says
/// what an answer that it happened shows; a refusal, an unavailable node
/// or a request that never left proves that nothing happened; anything
/// else leaves the outcome unknown.
pub(super) fn classify<T>(
    answer: Result<T, ClientError>,
    ok: impl FnOnce(T) -> Outcome,
) -> Outcome {
    match answer {
        Ok(answer) => ok(answer),
        // A refusal (409) promises that nothing happened, and says why.
        Err(ClientError::Api {
            status: 409,
            code,
            current,
            ..
        }) => Outcome::Rejected {
            current: rejection(current.as_ref()),
            code,
        },
        // Any other refusal (4xx), a 503 or a request that never left
        // promises that nothing happened.
        Err(e @ (ClientError::Api { .. } | ClientError::Unavailable { .. })) => Outcome::Failed {
            reason: e.to_string(),
        },
        Err(e) => Outcome::Unknown {
            reason: e.to_string(),
        },
    }
}

/// What a 409 found instead, as the checkers compare it.
fn rejection(current: Option<&serde_json::Value>) -> Current {
    let Some(current) = current else {
        return Current::Other(String::new());
    };
    if let Some(at) = current.get("key_last_offset") {
        Current::KeyLastOffset(at.as_u64())
    } else if let Some(expected) = current["expected_seq"].as_u64() {
        Current::ExpectedSeq(expected)
    } else if let Some(seq) = current["last_seq"].as_u64() {
        Current::LastSeq {
            seq,
            topic: current["topic"].as_str().map(str::to_string),
        }
    } else {
        Current::Other(current.to_string())
    }
}

pub(super) async fn read(
    node: NodeId,
    topic: &str,
    from: u64,
    consistency: Consistency,
) -> Outcome {
    let params = ReadParams {
        from: Offset(from),
        limit: Some(PAGE),
        consistency,
    };
    match client_of(node).read(topic, &params).await {
        Ok(page) => Outcome::ReadOk {
            records: page
                .records
                .iter()
                .map(|r| (r.offset.0, r.value.parse::<String>().unwrap_or_default()))
                .collect(),
            end_offset: page.end_offset.0,
        },
        // An unknown topic is an empty log.
        Err(e) if e.status() == Some(404) => Outcome::ReadOk {
            records: Vec::new(),
            end_offset: 0,
        },
        Err(e) => Outcome::Failed {
            reason: e.to_string(),
        },
    }
}

/// Runs `kind` against `node` and records it.
pub(super) async fn perform(
    recorder: &SharedRecorder,
    client: u32,
    node: NodeId,
    kind: OpKind,
) -> Op {
    let invoked_at = now();
    let outcome = match &kind {
        OpKind::Append { topic, .. } => append(node, topic, append_request(&kind)).await,
        OpKind::Read {
            topic,
            from,
            consistency,
        } => read(node, topic, *from, *consistency).await,
        OpKind::Queue { queue, request } => {
            super::queue_requests::send(&client_of(node), queue, request).await
        }
    };
    let mut rec = recorder.borrow_mut();
    let op = Op {
        id: rec.next_op_id(),
        client,
        node,
        invoked_at,
        completed_at: now(),
        kind,
        outcome,
    };
    rec.ops.push(op.clone());
    op
}
