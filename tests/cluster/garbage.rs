//! No request, however malformed, can take a node down (neon's rule: never
//! panic on input from the network): a seeded burst of garbage at every
//! node (random bodies, huge query strings, invalid UTF-8 in paths, bytes
//! that are not HTTP at all) gets 4xx answers or closed connections, never a
//! 5xx, and leaves every node running and the cluster taking appends.

use futures::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{assert_all_healthy, http, record, Rng, TestCluster, HTTP_TIMEOUT};

/// Garbage requests sent to each node.
const GARBAGE_PER_NODE: usize = 200;
const GARBAGE_IN_FLIGHT: usize = 8;
/// Appends of garbage go to this topic; no garbage may ever create it.
const GARBAGE_TOPIC: &str = "garbage-target";

/// One malformed request.
enum Garbage {
    Http {
        method: Method,
        path: String,
        body: Option<(&'static str, Vec<u8>)>,
        /// True where the HTTP server may close the connection instead of
        /// answering (a request line longer than it buffers).
        may_drop: bool,
    },
    /// Bytes written straight to a TCP connection.
    Raw(Vec<u8>),
}

/// JSON-shaped bodies that have tripped parsers before.
fn tricky_json(rng: &mut Rng) -> Vec<u8> {
    let deep = rng.below(100_000) + 1_000;
    let choices: [Vec<u8>; 8] = [
        format!(
            r#"{{"records":[{{"value":{}{}}}]}}"#,
            "[".repeat(deep),
            "]".repeat(deep)
        )
        .into_bytes(),
        format!(
            r#"{{"records":[{{"value":{}1{}}}]}}"#,
            "{\"a\":".repeat(deep),
            "}".repeat(deep)
        )
        .into_bytes(),
        br#"{"records":[{"value":1e999999}]}"#.to_vec(),
        br#"{"records":[{"value":"\ud800"}]}"#.to_vec(),
        br#"{"records":[{"value":1}],"records":[{"value":2}]}"#.to_vec(),
        b"\xEF\xBB\xBF{\"records\":[{\"value\":1}]".to_vec(),
        b"{\"records\":[{\"value\":\"\xFF\xFE\"}]}".to_vec(),
        b"{\"records\":[{\"value\":1}]}\x00garbage".to_vec(),
    ];
    choices[rng.below(choices.len())].clone()
}

fn garbage(rng: &mut Rng) -> Garbage {
    const INTERNAL: [&str; 7] = [
        "/raft/append",
        "/raft/vote",
        "/raft/pre-vote",
        "/raft/snapshot",
        "/raft/forward",
        "/raft/read-index",
        "/v1/cluster/init",
    ];
    let append_path = format!("/v1/topics/{GARBAGE_TOPIC}/records");
    let random_len = |rng: &mut Rng| match rng.below(3) {
        0 => rng.below(64),
        1 => rng.below(4096),
        _ => rng.below(65_536),
    };
    let http = |method, path, body| Garbage::Http {
        method,
        path,
        body,
        may_drop: false,
    };
    match rng.below(7) {
        0 => {
            let len = random_len(rng);
            http(
                Method::POST,
                append_path,
                Some(("application/json", rng.bytes(len))),
            )
        }
        1 => {
            let path = INTERNAL[rng.below(INTERNAL.len())].to_string();
            let len = random_len(rng);
            http(
                Method::POST,
                path,
                Some(("application/json", rng.bytes(len))),
            )
        }
        2 => {
            let len = 1_000 + rng.below(200_000);
            let query: String = (0..len)
                .map(|_| b"abcdefghijklmnopqrstuvwxyz0123456789=&_-.~"[rng.below(42)] as char)
                .collect();
            Garbage::Http {
                method: Method::GET,
                path: format!("/v1/topics/{GARBAGE_TOPIC}/records?{query}"),
                body: None,
                may_drop: true,
            }
        }
        3 => {
            let len = 1 + rng.below(64);
            let topic: String = rng.bytes(len).iter().map(|b| format!("%{b:02X}")).collect();
            let method = if rng.below(2) == 0 {
                Method::GET
            } else {
                Method::POST
            };
            let body = (method == Method::POST)
                .then(|| ("application/json", br#"{"records":[{"value":1}]}"#.to_vec()));
            http(method, format!("/v1/topics/{topic}/records"), body)
        }
        4 => http(
            Method::POST,
            append_path,
            Some(("application/json", tricky_json(rng))),
        ),
        5 => {
            let name: Vec<u8> = (0..3 + rng.below(8))
                .map(|_| b'A' + rng.below(26) as u8)
                .collect();
            let method = Method::from_bytes(&name).expect("ASCII letters make a method");
            let len = rng.below(200);
            let path: String = (0..len)
                .map(|_| b"abcdefghijklmnopqrstuvwxyz0123456789/-._~"[rng.below(41)] as char)
                .collect();
            http(method, format!("/{path}"), None)
        }
        _ => Garbage::Raw(match rng.below(4) {
            0 => {
                let len = 1 + random_len(rng);
                rng.bytes(len)
            }
            1 => {
                let mut request = b"GET /v1/topics/".to_vec();
                let len = 1 + rng.below(32);
                request.extend(rng.bytes(len).into_iter().map(|b| b | 0x80));
                request.extend_from_slice(b"/records HTTP/1.1\r\nhost: x\r\n\r\n");
                request
            }
            2 => format!(
                "POST {append_path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\n\r\n{{\"records\":[{{\"val",
                1_000 + rng.below(1_000_000)
            )
            .into_bytes(),
            _ => {
                let mut request = b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-junk: ".to_vec();
                let len = rng.below(1024);
                request.extend(rng.bytes(len).into_iter().filter(|b| *b != b'\n'));
                request.extend_from_slice(b"\r\n\r\n");
                request
            }
        }),
    }
}

/// Sends one piece of garbage; `Ok` with what came back, `Err` if the node
/// misbehaved (a 5xx, or no answer where one is due).
async fn send_garbage(
    http: &reqwest::Client,
    base: &str,
    addr: &str,
    garbage: Garbage,
) -> Result<String, String> {
    match garbage {
        Garbage::Http {
            method,
            path,
            body,
            may_drop,
        } => {
            let what = format!("{method} {path:.100}");
            let mut request = http.request(method, format!("{base}{path}"));
            if let Some((content_type, body)) = body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(body);
            }
            match request.send().await {
                Ok(response) if response.status().is_server_error() => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    Err(format!("{what}: {status} {text:.200}"))
                }
                Ok(response) => Ok(response.status().as_str().to_string()),
                Err(_) if may_drop => Ok("dropped".to_string()),
                Err(e) => Err(format!("{what}: no answer: {e}")),
            }
        }
        Garbage::Raw(bytes) => {
            let exchange = async {
                let mut stream = tokio::net::TcpStream::connect(addr).await?;
                // The server may answer and close before it has read it all.
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer).await;
                Ok::<_, std::io::Error>(answer)
            };
            match tokio::time::timeout(HTTP_TIMEOUT, exchange).await {
                Ok(Ok(answer)) if answer.starts_with(b"HTTP/1.1 5") => Err(format!(
                    "raw bytes got {:.200}",
                    String::from_utf8_lossy(&answer)
                )),
                Ok(Ok(answer)) => Ok(match answer.get(..12) {
                    Some(status_line) => {
                        format!("raw {}", String::from_utf8_lossy(&status_line[9..]))
                    }
                    None => "raw closed".to_string(),
                }),
                Ok(Err(e)) => Err(format!("raw bytes: could not connect: {e}")),
                Err(_) => Err("raw bytes: the connection neither answered nor closed".into()),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_garbage_cannot_crash_a_node() {
    let mut cluster = TestCluster::start().await;
    let mut rng = Rng::from_env_or_clock();
    let http = http();
    let mut requests = Vec::new();
    for id in cluster.ids() {
        let base = cluster.base_url(id);
        let addr = cluster.nodes.addr(id).expect("an address").to_string();
        for _ in 0..GARBAGE_PER_NODE {
            requests.push((id, base.clone(), addr.clone(), garbage(&mut rng)));
        }
    }
    let results: Vec<Result<String, String>> = stream::iter(requests)
        .map(|(id, base, addr, garbage)| {
            let http = http.clone();
            async move {
                send_garbage(&http, &base, &addr, garbage)
                    .await
                    .map_err(|e| format!("node {id}: {e}"))
            }
        })
        .buffer_unordered(GARBAGE_IN_FLIGHT)
        .collect()
        .await;
    let mut answers = std::collections::BTreeMap::<&str, usize>::new();
    for answer in results.iter().flatten() {
        *answers.entry(answer.as_str()).or_default() += 1;
    }
    eprintln!("answers to garbage: {answers:?}");
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "{} garbage requests were not refused cleanly:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Every node is alive, answers, and never panicked.
    assert_all_healthy(&mut cluster).await;
    // No garbage was appended, and the cluster still takes appends.
    let missing = cluster
        .client()
        .read(GARBAGE_TOPIC, &Default::default())
        .await
        .expect_err("no garbage append may create a topic");
    assert_eq!(missing.code(), Some("topic_not_found"), "{missing}");
    cluster.wait_for_leader().await;
    let ack = cluster
        .client()
        .append("after-garbage", vec![record(json!("still here"))])
        .await
        .expect("an append after the garbage");
    assert_eq!(ack.offsets[0].0, 0);
}
