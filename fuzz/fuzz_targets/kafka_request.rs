//! The Kafka listener's request decoding: arbitrary bytes as a request
//! frame (after its size), through `ordo_kafka::frame::decode_request`,
//! and, where one decodes, each Produce partition's records through
//! `ordo_kafka::records::decode_batches` (the record batches, their CRC,
//! their codecs), as the listener takes them. Whatever comes in, the
//! answer is a request, a refusal or an error: never a panic, and never an
//! allocation the node cannot survive.
//!
//! The protocol crate reserves an array's claimed length before it reads
//! the elements (a count of 2^31 in a 20-byte frame). Under ordo's
//! allocator, mimalloc, as in the `ordo` binary, such a reservation is
//! address space only and is freed as soon as the short frame fails to
//! decode; under glibc's malloc, with the kernel's default overcommit
//! heuristic, it is refused and the process aborts. So this target runs
//! on mimalloc, as the node does (docs/kafka.md says more).
#![no_main]

use bytes::Bytes;
use kafka_protocol::messages::RequestKind;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = ordo_kafka::frame::decode_request(Bytes::copy_from_slice(data)) else {
        return;
    };
    if let RequestKind::Produce(produce) = request.body {
        for topic in produce.topic_data {
            for partition in topic.partition_data {
                let _ = ordo_kafka::records::decode_batches(partition.records.unwrap_or_default());
            }
        }
    }
});
