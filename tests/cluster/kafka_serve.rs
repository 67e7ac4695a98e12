//! `ordo serve`'s Kafka flags as an operator meets them: a Kafka port that
//! is taken, or a listener on every interface that no client could be sent
//! to, stops the start at once with a message that names the setting.

use std::time::Duration;

use tokio::process::Command;

/// How long a refused start may take to end.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(20);

/// `ordo serve --node-id 1` in a fresh data dir with `args`, which must end
/// in an error; its stderr.
async fn refused_start(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("a temporary dir");
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let listen = free.local_addr().expect("its address").to_string();
    drop(free);
    let output = tokio::time::timeout(
        REFUSAL_TIMEOUT,
        Command::new(env!("CARGO_BIN_EXE_ordo"))
            .args(["serve", "--node-id", "1", "--listen", &listen, "--data-dir"])
            .arg(dir.path())
            .args(args)
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("a refused start ends at once")
    .expect("running ordo serve");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{args:?} started: {stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_kafka_port_stops_the_start_naming_the_kafka_listener() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to hold");
    let taken = holder.local_addr().expect("its address").to_string();
    let said = refused_start(&["--kafka-listen", &taken]).await;
    drop(holder); // held until the start was refused
    assert!(
        said.contains(&format!("binding the Kafka listener {taken}")),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_listener_on_every_interface_needs_an_advertised_address() {
    let said = refused_start(&["--kafka-listen", "0.0.0.0:19092"]).await;
    assert!(said.contains("--kafka-advertise"), "{said}");
}
