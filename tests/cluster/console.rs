//! The web console (DESIGN.md §3e) in a real headless Chromium, driven by
//! Selenium from `tests/console/console_test.py` against a 3-node cluster
//! served over TLS and started with an ACL file (the admin token and a
//! read-only principal), as a production cluster runs.
//! The script holds the checks, each against the API's own answer: every
//! page shows the figures the API gives; the live tail shows a record
//! appended after the page opened within 2 s, and pauses; the append form
//! appends; without a token the page asks for one, and the read-only
//! principal's append is "not allowed"; the Topics and Groups pages page
//! and filter 1,000 topics and 100 groups (their load times printed, not
//! asserted); after `kill -9` of the leader the Cluster page names the new
//! leader within 5 s; and all along no console error, no failed request,
//! no request to another origin. This file starts the cluster, hands the
//! script its nodes (with their pids, for the kill), and fails saying what
//! to install when Chromium, chromedriver or Selenium is missing: CI
//! installs them, and a skipped test would pass for nothing.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::Command;

use crate::acl_file::{principal, start_with_acl, token, AclFile, ADMIN_TOKEN};

/// The read-only principal's token: it may read every topic and use every
/// group, and append nowhere.
const READER_TOKEN: &str = "test-console-reader-5d0e8b3a17f2c694";
/// How long the whole browser run may take (about a minute on 2 cores).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_what_the_api_says_in_a_real_browser() {
    require_browser();
    let acl = AclFile::new(&principal(
        "viewer",
        &token(READER_TOKEN),
        &["*"],
        &[],
        &["*"],
        false,
    ));
    let cluster = start_with_acl(&acl, |config| config.tls = true).await;
    // A follower serves the console: it outlives the leader's kill.
    let console_node = cluster.followers()[0];
    let nodes: Vec<Value> = cluster
        .ids()
        .into_iter()
        .map(|id| {
            let pid = cluster
                .nodes
                .pid(id)
                .expect("node ids come from the cluster")
                .expect("every node is running");
            json!({"id": id, "url": cluster.base_url(id), "pid": pid})
        })
        .collect();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/console/console_test.py");
    let mut browser = Command::new("python3")
        .arg(&script)
        .env("ORDO_CONSOLE_NODES", Value::from(nodes).to_string())
        .env("ORDO_CONSOLE_NODE", console_node.to_string())
        .env("ORDO_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("ORDO_READER_TOKEN", READER_TOKEN)
        .env("ORDO_CONSOLE_CA", cluster.certs_dir().join("ca.crt"))
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        // Straight into the test's output: the checks passed, the load
        // times, or the one that failed.
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting python3 {}: {e}", script.display()));
    let status = tokio::time::timeout(SCRIPT_TIMEOUT, browser.wait())
        .await
        .unwrap_or_else(|_| panic!("the browser test did not end within {SCRIPT_TIMEOUT:?}"))
        .expect("waiting for the browser test");
    assert!(
        status.success(),
        "tests/console/console_test.py failed ({status}): its output says which check"
    );
}

/// Fails the test, saying how to install them, unless Chromium and
/// chromedriver run and `python3` imports Selenium.
fn require_browser() {
    let runs = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    let chromium = match std::env::var("CHROMIUM") {
        Ok(chromium) => runs(&chromium, &["--version"]),
        Err(_) => ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .any(|name| runs(name, &["--version"])),
    };
    let chromedriver = runs(
        &std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()),
        &["--version"],
    );
    assert!(
        chromium && chromedriver,
        "Chromium and chromedriver are needed: `apt-get install -y chromium chromium-driver` \
         (Debian, Ubuntu; `.ci/run` does it), or set CHROMIUM and CHROMEDRIVER"
    );
    assert!(
        runs("python3", &["-c", "import selenium"]),
        "python3 cannot import selenium: `python3 -m pip install selenium` (`.ci/run` does it)"
    );
}
