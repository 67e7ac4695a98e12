//! No credential leaks (DESIGN.md §3b, "Tokens never appear in logs or
//! error messages"): after a run of a TLS cluster with a cluster secret, an
//! API token and an ACL file that uses every one of them, right and wrong,
//! and replaces the ACL file and a node's key with bad ones, no token, no
//! secret and no line of a private key is in any node's log (at debug),
//! any answer, `/metrics`, `/v1/cluster` or the CLI's output.

use std::path::Path;
use std::time::Duration;

use ordo_api::secret::{Secret, CLUSTER_SECRET_HEADER};
use reqwest::Method;
use serde_json::json;

use crate::acl_file::{principal, send_as, start_with_acl, token, AclFile, ADMIN_TOKEN};
use crate::support::{eventually, https, TestCluster};

const CLUSTER_SECRET: &str = "test-leak-cluster-secret-0d6f2b9a7c14e853";
const READER_TOKEN: &str = "test-leak-reader-token-4c7a1e93b6d20f58";
const APPENDER_TOKEN: &str = "test-leak-appender-token-e2b94d0c71a6358f";
/// Presented, never configured: a typo of the appender's, and a stranger's.
const WRONG_TOKENS: [&str; 2] = [
    "test-leak-appender-token-e2b94d0c71a6358",
    "test-leak-unknown-token-93a1f7c2e05b6d48",
];
const WRONG_SECRET: &str = "test-leak-wrong-secret-6b30e8d1a9f4c275";
/// In ACL files that are refused.
const REFUSED_FILE_TOKENS: [&str; 3] = [
    "test-leak-refused-token-a8d2c5e0f17b3946",
    "test-leak-refused-token-71f0b3c9e2d5a864",
    "test-leak-refused-token-5e9d04a7c3b28f16",
];
/// Enough debug output to show what a node logs of a request.
const LOG_LEVELS: &str = "debug,openraft=warn,sled=warn,h2=info";

fn acl_text() -> String {
    [
        principal("reader", &token(READER_TOKEN), &["orders"], &[], &[], false),
        principal(
            "appender",
            &token(APPENDER_TOKEN),
            &["orders"],
            &["orders"],
            &[],
            false,
        ),
    ]
    .concat()
}

/// Bad replacements of the ACL file, each with a token in it: a token
/// left unquoted (no TOML), a token in a field that does not exist, and a
/// token that is no valid secret.
fn refused_acl_texts() -> [String; 3] {
    [
        format!(
            "{}[[principals]]\nname = \"typo\"\ntoken = {}\nread = [\"orders\"]\n",
            acl_text(),
            REFUSED_FILE_TOKENS[0]
        ),
        format!(
            "{}[[principals]]\nname = \"typo\"\ntokn = \"{}\"\n",
            acl_text(),
            REFUSED_FILE_TOKENS[1]
        ),
        format!(
            "{}[[principals]]\nname = \"typo\"\ntoken = \"{} trailing\"\n",
            acl_text(),
            REFUSED_FILE_TOKENS[2]
        ),
    ]
}

/// The base64 lines of a PEM private key (between its BEGIN and END).
fn key_body_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .map(str::to_owned)
        .collect()
}

/// Replaces `path`'s contents at once, as a deploy would.
fn replace_file(path: &Path, contents: &[u8]) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, contents).expect("writing a replacement");
    std::fs::rename(&staged, path).expect("renaming a replacement into place");
}

/// Waits until node `id`'s log has a line with `needle`.
async fn wait_for_log_line(cluster: &TestCluster, id: u64, needle: &str) {
    eventually(
        &format!("node {id} logs {needle:?}"),
        Duration::from_secs(10),
        || async {
            if cluster.log(id).contains(needle) {
                Ok(())
            } else {
                Err("not yet".to_string())
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_key_or_secret_appears_in_any_log_or_answer() {
    let acl = AclFile::new(&acl_text());
    let cluster = start_with_acl(&acl, |config| {
        config.tls = true;
        config.cluster_secret = Some(Secret::new(CLUSTER_SECRET).expect("a valid secret"));
        config.env.push(("RUST_LOG".into(), LOG_LEVELS.into()));
    })
    .await;
    let certs = cluster.certs_dir();
    let ids = cluster.ids();
    // Everything a client was answered, to search afterwards.
    let mut answers: Vec<(String, String)> = Vec::new();

    // Right and wrong tokens, on every node: 200s, 401s and 403s.
    for &id in &ids {
        let append = |text: &str| json!({"records": [{"value": text}]});
        let mut requests: Vec<(Option<&str>, Method, &str, Option<serde_json::Value>)> = vec![
            (
                Some(APPENDER_TOKEN),
                Method::POST,
                "/v1/topics/orders/records",
                Some(append("by the appender")),
            ),
            (
                Some(READER_TOKEN),
                Method::GET,
                "/v1/topics/orders/records?from=0",
                None,
            ),
            (
                Some(READER_TOKEN),
                Method::POST,
                "/v1/topics/orders/records",
                Some(append("by the reader")),
            ),
            (
                Some(READER_TOKEN),
                Method::GET,
                "/v1/topics/payments/records?from=0",
                None,
            ),
            (Some(ADMIN_TOKEN), Method::GET, "/v1/cluster", None),
            (Some(READER_TOKEN), Method::GET, "/v1/cluster", None),
            (None, Method::GET, "/v1/topics", None),
            (None, Method::GET, "/metrics", None),
        ];
        for wrong in WRONG_TOKENS {
            requests.push((
                Some(wrong),
                Method::POST,
                "/v1/topics/orders/records",
                Some(append("by a wrong token")),
            ));
        }
        for (token, method, path, body) in requests {
            let answer = send_as(&cluster, id, token, method.clone(), path, body).await;
            answers.push((
                format!("{method} {path} on node {id}"),
                answer.body.to_string(),
            ));
        }
        // Raw text answers: /metrics and /v1/cluster as they are served.
        for path in ["/metrics", "/v1/cluster"] {
            let text = cluster
                .http()
                .get(format!("{}{path}", cluster.base_url(id)))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {path} on node {id}: {e}"))
                .text()
                .await
                .expect("a body");
            answers.push((format!("GET {path} on node {id} (text)"), text));
        }
        // A Raft message from a node's certificate with a wrong secret.
        let as_node = https(
            ordo_tls::client_config(
                Some(&certs.join("ca.crt")),
                Some((&certs.join("node-1.crt"), &certs.join("node-1.key"))),
            )
            .expect("a client config with a node certificate"),
        );
        let raft = as_node
            .post(format!("{}/raft/vote", cluster.base_url(id)))
            .header(CLUSTER_SECRET_HEADER, WRONG_SECRET)
            .send()
            .await
            .expect("a Raft RPC");
        assert_eq!(raft.status(), 401, "a wrong cluster secret on node {id}");
        answers.push((
            format!("/raft/vote with a wrong secret on node {id}"),
            raft.text().await.unwrap_or_default(),
        ));
    }

    // Bad ACL files, each refused (and said so) on every node.
    for (bad, refused_token) in refused_acl_texts().iter().zip(REFUSED_FILE_TOKENS) {
        acl.replace(bad);
        for &id in &ids {
            let marker = "ACL file not reloaded";
            eventually(
                &format!("node {id} refuses the ACL file with {refused_token:?}"),
                Duration::from_secs(10),
                || async {
                    let refusals = cluster.log(id).matches(marker).count();
                    let answer = send_as(
                        &cluster,
                        id,
                        Some(refused_token),
                        Method::GET,
                        "/v1/topics",
                        None,
                    )
                    .await;
                    if answer.status != 401 {
                        return Err(format!("the refused file's token got {answer:?}"));
                    }
                    // One refusal line per bad file so far.
                    let seen = REFUSED_FILE_TOKENS
                        .iter()
                        .position(|t| *t == refused_token)
                        .expect("a refused token")
                        + 1;
                    if refusals >= seen {
                        Ok(())
                    } else {
                        Err(format!("{refusals} refusals logged"))
                    }
                },
            )
            .await;
        }
    }
    acl.replace(&acl_text());

    // Node 3's key replaced by node 1's, then by a mangled one: refused,
    // said so, then put back.
    let key_path = certs.join("node-3.key");
    let original_key = std::fs::read(&key_path).expect("node 3's key");
    let other_key = std::fs::read(certs.join("node-1.key")).expect("node 1's key");
    let mut mangled = String::from_utf8(original_key.clone()).expect("a PEM key");
    mangled.insert_str(mangled.len() / 2, "!!");
    for replacement in [other_key, mangled.into_bytes()] {
        let refusals = cluster
            .log(3)
            .matches("TLS certificate replacement refused")
            .count();
        replace_file(&key_path, &replacement);
        eventually(
            "node 3 refuses the bad key",
            Duration::from_secs(10),
            || async {
                let now = cluster
                    .log(3)
                    .matches("TLS certificate replacement refused")
                    .count();
                if now > refusals {
                    Ok(())
                } else {
                    Err("no refusal logged yet".to_string())
                }
            },
        )
        .await;
    }
    replace_file(&key_path, &original_key);

    // The CLI with wrong tokens, in the environment and in a file.
    let token_dir = tempfile::tempdir().expect("a dir for a token file");
    let token_file = token_dir.path().join("token");
    std::fs::write(&token_file, format!("{}\n", WRONG_TOKENS[1])).expect("a token file");
    let base = cluster.base_url(cluster.leader);
    let ca = certs.join("ca.crt");
    for (what, env_token, file) in [
        ("ORDO_TOKEN", Some(WRONG_TOKENS[0]), None),
        ("--token-file", None, Some(&token_file)),
    ] {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ordo"));
        command
            .args(["append", "orders", "from the CLI", "--addr", &base, "--ca"])
            .arg(&ca)
            .env_remove("ORDO_API_TOKEN")
            .env_remove("ORDO_TOKEN")
            .kill_on_drop(true);
        if let Some(token) = env_token {
            command.env("ORDO_TOKEN", token);
        }
        if let Some(file) = file {
            command.arg("--token-file").arg(file);
        }
        let output = tokio::time::timeout(Duration::from_secs(30), command.output())
            .await
            .expect("ordo append in time")
            .expect("ordo append ran");
        assert!(!output.status.success(), "a wrong token through {what}");
        answers.push((
            format!("the CLI with a wrong token through {what}"),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        ));
    }
    // Whatever the nodes log of the last requests has been written.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut secrets: Vec<(String, String)> = [
        ("the API token", ADMIN_TOKEN),
        ("the cluster secret", CLUSTER_SECRET),
        ("the reader's token", READER_TOKEN),
        ("the appender's token", APPENDER_TOKEN),
        ("a wrong cluster secret", WRONG_SECRET),
    ]
    .into_iter()
    .chain(WRONG_TOKENS.map(|t| ("a wrong token", t)))
    .chain(REFUSED_FILE_TOKENS.map(|t| ("a refused ACL file's token", t)))
    .map(|(what, text)| (what.to_string(), text.to_string()))
    .collect();
    let keys = ids
        .iter()
        .map(|id| format!("node-{id}.key"))
        .chain(["ca.key".to_string()]);
    for key in keys {
        for line in key_body_lines(&certs.join(&key)) {
            secrets.push((format!("a line of {key}"), line));
        }
    }
    let logs = ids
        .iter()
        .map(|&id| (format!("node {id}'s log"), cluster.log(id)));
    let mut leaks = Vec::new();
    for (place, text) in answers.into_iter().chain(logs) {
        for (what, secret) in &secrets {
            if let Some(at) = text.find(secret.as_str()) {
                let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
                let end = text[at..].find('\n').map_or(text.len(), |n| at + n);
                leaks.push(format!("{what} in {place}: {}", &text[start..end]));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "credentials leaked:\n{}",
        leaks.join("\n")
    );
    // The run did log its refusals (so the search above had lines to look at).
    for &id in &ids {
        wait_for_log_line(&cluster, id, "ACL file not reloaded").await;
    }
    wait_for_log_line(&cluster, 3, "TLS certificate replacement refused").await;
}
