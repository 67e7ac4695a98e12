//! The Kafka listener's request decoding: arbitrary bytes as a request
//! frame (after its size), through `ordo_kafka::frame::decode_request`,
//! and, where one decodes, each Produce partition's records through
//! `ordo_kafka::records::decode_batches` (the record batches, their CRC,
//! their codecs), as the listener takes them. Whatever comes in, the
//! answer is a request, a refusal or an error: never a panic, and never an
//! allocation sized by a count the bytes claim rather than hold.
#![no_main]

use bytes::Bytes;
use kafka_protocol::messages::RequestKind;
use libfuzzer_sys::fuzz_target;

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
