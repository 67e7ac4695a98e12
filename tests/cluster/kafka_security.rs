//! The Kafka listener behind the node's own protections: on a TLS node it
//! speaks TLS with the node's certificate, and with an API token a client
//! gets in by SASL/PLAIN with that token as its password, and not without.

use ordo_api::secret::Secret;
use ordo_api::Consistency;
use ordo_launcher::KafkaListeners;

use super::kafka_support::{kafka_addr, kcat, kcat_output, require_kcat};
use super::support::{read_all, TestCluster};

const TOKEN: &str = "kafka-test-token-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_node_with_a_token_serves_kafka_over_tls_to_sasl_plain_with_that_token_only() {
    require_kcat();
    let cluster = TestCluster::start_with_config(|config| {
        config.kafka = KafkaListeners::FreePorts;
        config.tls = true;
        config.api_token = Some(Secret::new(TOKEN).expect("a valid token"));
    })
    .await;
    let ca = cluster.certs_dir().join("ca.crt");
    let ca = ca.to_str().expect("a UTF-8 path");
    let follower = kafka_addr(&cluster, cluster.followers()[0]);
    let sasl_ssl = |password: &str| {
        vec![
            "-X".to_string(),
            "security.protocol=sasl_ssl".to_string(),
            "-X".to_string(),
            format!("ssl.ca.location={ca}"),
            "-X".to_string(),
            "sasl.mechanisms=PLAIN".to_string(),
            "-X".to_string(),
            "sasl.username=ci".to_string(),
            "-X".to_string(),
            format!("sasl.password={password}"),
        ]
    };
    let with = |base: &[&str], extra: &[String]| -> Vec<String> {
        base.iter()
            .map(|a| a.to_string())
            .chain(extra.iter().cloned())
            .collect()
    };

    let good = sasl_ssl(TOKEN);
    let produce = with(&["-P", "-b", &follower, "-t", "secured"], &good);
    let produce: Vec<&str> = produce.iter().map(String::as_str).collect();
    kcat(&produce, b"one\ntwo\n").await;
    let consume = with(
        &[
            "-C",
            "-b",
            &follower,
            "-t",
            "secured",
            "-o",
            "beginning",
            "-e",
        ],
        &good,
    );
    let consume: Vec<&str> = consume.iter().map(String::as_str).collect();
    assert_eq!(
        String::from_utf8_lossy(&kcat(&consume, b"").await),
        "one\ntwo\n"
    );
    // Over HTTP, with the same token.
    let records = read_all(&cluster.client(), "secured", Consistency::Linearizable)
        .await
        .expect("reading over HTTP with the token");
    assert_eq!(records.len(), 2, "{records:?}");

    // A wrong token, and plain TCP to a TLS listener, get nowhere.
    let bad = sasl_ssl("not-the-token-at-all-0123456789");
    for extra in [bad, Vec::new()] {
        let list = with(&["-L", "-b", &follower, "-m", "3"], &extra);
        let list: Vec<&str> = list.iter().map(String::as_str).collect();
        let output = kcat_output(&list, b"").await;
        let listing = String::from_utf8_lossy(&output.stdout);
        assert!(
            !output.status.success() && !listing.contains("secured"),
            "kcat {list:?} listed the topics: {listing}"
        );
    }
}
