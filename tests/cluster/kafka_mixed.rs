//! One log, two front doors (DESIGN.md §3d): records appended over HTTP
//! reach Kafka consumers at the same offsets, with the JSON text of their
//! values as bytes, their keys and headers and their timestamps; records
//! produced over Kafka read back over Kafka byte for byte, and over HTTP as
//! JSON when their bytes are JSON, a string when UTF-8, else `value_b64`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Value};

use super::kafka_support::{
    base64_field, events_of, field_u64, hex, http_append, http_records, start_kafka_cluster,
    PyClient,
};

const CLIENTS: [PyClient; 2] = [PyClient::Confluent, PyClient::KafkaPython];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_appended_over_http_reach_kafka_consumers_with_offsets_values_keys_and_headers() {
    for client in CLIENTS {
        client.require();
    }
    let cluster = start_kafka_cluster().await;
    let bootstrap = cluster.nodes.kafka_bootstrap().expect("Kafka listeners");
    let topic = "from-http";
    let appended = json!([
        {"key": "jane", "value": {"any": "json", "n": 1}, "headers": {"trace": "abc", "via": "http"}},
        {"value": "héllo"},
        {"key": "k", "value": [1, 2.5, null, true]},
        {"value": 42},
    ]);
    let offsets = http_append(&cluster, cluster.followers()[0], topic, appended.clone()).await;
    let over_http = http_records(&cluster, cluster.leader, topic).await;
    let count = over_http.len().to_string();

    for client in CLIENTS {
        let events = client
            .run(&[
                "consume",
                "--bootstrap",
                &bootstrap,
                "--topic",
                topic,
                "--count",
                &count,
            ])
            .await;
        let consumed = events_of(&events, "record");
        assert_eq!(consumed.len(), offsets.len(), "{client:?}");
        for ((sent, offset), (record, http)) in appended
            .as_array()
            .expect("records")
            .iter()
            .zip(&offsets)
            .zip(consumed.iter().zip(&over_http))
        {
            let what = format!("{client:?} at offset {offset}: {record}");
            assert_eq!(field_u64(record, "offset"), *offset, "{what}");
            // The value's JSON text, as serde_json writes it (compact, as it
            // was sent).
            let text = serde_json::to_vec(&sent["value"]).expect("JSON");
            assert_eq!(base64_field(record, "value_b64"), Some(text), "{what}");
            let key = sent["key"].as_str().map(|k| k.as_bytes().to_vec());
            assert_eq!(base64_field(record, "key_b64"), key, "{what}");
            assert_eq!(headers_of(record), http_headers(sent), "{what}");
            assert_eq!(record["timestamp_ms"], http["timestamp_ms"], "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_produced_over_kafka_read_over_http_as_json_string_or_base64_and_over_kafka_as_sent(
) {
    for client in CLIENTS {
        client.require();
    }
    let cluster = start_kafka_cluster().await;
    let bootstrap = cluster.nodes.kafka_bootstrap().expect("Kafka listeners");
    // JSON (with the spaces a client wrote), UTF-8 that is not JSON, bytes
    // that are not UTF-8.
    let json_bytes = br#"{"a": 1, "b": [true, null]}"#.to_vec();
    let text = "héllo, ordo".as_bytes().to_vec();
    let binary = vec![0xff, 0x00, 0xfe, 0x80, 0x7f];
    let values = [json_bytes, text, binary.clone()];
    let hex_values: Vec<String> = values.iter().map(|v| hex(v)).collect();

    for client in CLIENTS {
        let topic = format!("from-kafka-{client:?}").to_lowercase();
        let mut args = vec!["produce-hex", "--bootstrap", &bootstrap, "--topic", &topic];
        args.extend(hex_values.iter().map(String::as_str));
        let acked = client.run(&args).await;
        let offsets: Vec<u64> = events_of(&acked, "acked")
            .iter()
            .map(|event| field_u64(event, "offset"))
            .collect();
        assert_eq!(offsets, [0, 1, 2], "{client:?}");

        let records = http_records(&cluster, cluster.followers()[1], &topic).await;
        assert_eq!(records.len(), 3, "{client:?}: {records:?}");
        assert_eq!(
            records[0]["value"],
            json!({"a": 1, "b": [true, null]}),
            "{client:?}"
        );
        assert_eq!(records[1]["value"], json!("héllo, ordo"), "{client:?}");
        assert_eq!(
            records[2]["value_b64"],
            json!(BASE64.encode(&binary)),
            "{client:?}: {}",
            records[2]
        );
        assert!(
            records[2]["value"].is_null(),
            "{client:?}: bytes that are not UTF-8 have no `value`: {}",
            records[2]
        );

        let consumed = client
            .run(&[
                "consume",
                "--bootstrap",
                &bootstrap,
                "--topic",
                &topic,
                "--count",
                "3",
            ])
            .await;
        let read: Vec<Option<Vec<u8>>> = events_of(&consumed, "record")
            .iter()
            .map(|event| base64_field(event, "value_b64"))
            .collect();
        let sent: Vec<Option<Vec<u8>>> = values.iter().cloned().map(Some).collect();
        assert_eq!(read, sent, "{client:?}: over Kafka byte for byte");
    }
}

/// A consumed record's headers, `(name, bytes)`, sorted.
fn headers_of(record: &Value) -> Vec<(String, Vec<u8>)> {
    let mut headers: Vec<(String, Vec<u8>)> = record["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|pair| {
            let name = pair[0].as_str().expect("a header name").to_string();
            let value = BASE64
                .decode(pair[1].as_str().unwrap_or_default())
                .expect("a base64 header value");
            (name, value)
        })
        .collect();
    headers.sort();
    headers
}

/// An HTTP record's headers as Kafka carries them: UTF-8 bytes, sorted.
fn http_headers(record: &Value) -> Vec<(String, Vec<u8>)> {
    let mut headers: Vec<(String, Vec<u8>)> = record["headers"]
        .as_object()
        .map(|headers| {
            headers
                .iter()
                .map(|(name, value)| {
                    let value = value.as_str().expect("a string header");
                    (name.clone(), value.as_bytes().to_vec())
                })
                .collect()
        })
        .unwrap_or_default();
    headers.sort();
    headers
}
