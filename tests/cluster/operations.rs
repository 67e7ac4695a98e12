//! What operators and clients rely on from every node (DESIGN §3): the
//! `ordo-leader` header on every response, and `/readyz` once the cluster
//! has formed.

use std::time::Duration;

use crate::support::{eventually, http, leader_header, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_names_the_leader_success_or_error() {
    let cluster = TestCluster::start().await;
    let http = http();
    for id in cluster.ids() {
        let base = cluster.base_url(id);
        let success = http
            .post(format!("{base}/v1/topics/headers/records"))
            .json(&serde_json::json!({"records": [{"value": id}]}))
            .send()
            .await
            .expect("an append");
        assert_eq!(success.status(), 200, "an append through node {id}");
        assert_eq!(
            leader_header(&success),
            Some(cluster.leader),
            "node {id}'s success response names the leader"
        );

        let error = http
            .get(format!("{base}/v1/topics/no-such-topic/records"))
            .send()
            .await
            .expect("a read of an unknown topic");
        assert_eq!(error.status(), 404, "an unknown topic on node {id}");
        assert_eq!(
            leader_header(&error),
            Some(cluster.leader),
            "node {id}'s error response names the leader"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_is_ready_once_the_cluster_has_formed() {
    let cluster = TestCluster::start().await;
    let http = http();
    for id in cluster.ids() {
        let url = format!("{}/readyz", cluster.base_url(id));
        // Formed means a leader is agreed on; a node may still be applying
        // the last committed entries for a moment.
        eventually(
            &format!("node {id} answers /readyz with 200"),
            Duration::from_secs(10),
            || async {
                match http.get(&url).send().await {
                    Ok(r) if r.status() == 200 => Ok(()),
                    Ok(r) => Err(format!("{}: {:?}", r.status(), r.text().await)),
                    Err(e) => Err(e.to_string()),
                }
            },
        )
        .await;
    }
}
