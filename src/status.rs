//! `ordo cluster status`: every member's role, term, indexes and
//! replication lag as a table (each member asked once for its own view; the
//! leader's view gives the followers' progress), then each consumer group's
//! lag; or the answering node's raw status with `--json`.

use ordo_client::RetryPolicy;
use ordo_core::api::ClusterStatus;
use ordo_core::NodeId;

use crate::cli::render_table;
use crate::connect::{ConnectArgs, Explain};
use crate::output::{print, print_json};

pub async fn run(json: bool, connect: &ConnectArgs) -> anyhow::Result<()> {
    let client = connect.client()?;
    let first = client.cluster_status().await.explained(connect)?;
    if json {
        return print_json(&first);
    }
    // Each member is asked once, directly, for its own view; a node that
    // does not answer is shown as such rather than retried.
    let probe = connect.client_with(RetryPolicy::no_retries())?;
    let mut members: Vec<(NodeId, String)> = first
        .members
        .iter()
        .map(|m| (m.id, m.addr.clone()))
        .collect();
    if members.is_empty() {
        members.push((first.node_id, "-".into()));
    }
    let mut views = Vec::with_capacity(members.len());
    for (id, addr) in &members {
        let view = if *id == first.node_id {
            Some(first.clone())
        } else {
            match probe.for_node(addr) {
                Ok(node) => node.cluster_status().await.ok(),
                Err(_) => None,
            }
        };
        views.push((*id, addr.clone(), view));
    }
    let mut text = render_status(&views);
    if !first.consumers.is_empty() {
        text.push('\n');
        text.push_str(&render_consumer_lag(&first));
    }
    print(&text)
}

/// One row per consumer group and topic: position, topic end, lag.
fn render_consumer_lag(status: &ClusterStatus) -> String {
    let rows: Vec<Vec<String>> = status
        .consumers
        .iter()
        .flat_map(|(group, topics)| {
            topics.iter().map(move |(topic, position)| {
                vec![
                    group.to_string(),
                    topic.to_string(),
                    position.offset.to_string(),
                    position.end_offset.to_string(),
                    position.lag_records.to_string(),
                ]
            })
        })
        .collect();
    render_table(&["GROUP", "TOPIC", "POSITION", "END", "LAG"], &rows)
}

/// One row per member; matched index and lag come from the leader's view.
fn render_status(views: &[(NodeId, String, Option<ClusterStatus>)]) -> String {
    let leader_view = views
        .iter()
        .filter_map(|(_, _, v)| v.as_ref())
        .find(|v| v.role == "leader");
    let opt = |value: Option<u64>| value.map_or("-".to_string(), |v| v.to_string());
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|(id, addr, view)| {
            let progress = leader_view
                .and_then(|l| l.followers.iter().find(|f| f.id == *id))
                .map(|f| (opt(f.matched_index), opt(f.lag_entries)))
                .unwrap_or(("-".into(), "-".into()));
            match view {
                Some(v) => vec![
                    id.to_string(),
                    addr.clone(),
                    v.role.clone(),
                    opt(v.leader),
                    v.term.to_string(),
                    opt(v.last_log_index),
                    opt(v.commit_index),
                    opt(v.last_applied_index),
                    progress.0,
                    progress.1,
                ],
                None => {
                    let mut row = vec![id.to_string(), addr.clone(), "unreachable".into()];
                    row.extend(std::iter::repeat_n("-".to_string(), 5));
                    row.extend([progress.0, progress.1]);
                    row
                }
            }
        })
        .collect();
    render_table(
        &[
            "NODE", "ADDR", "ROLE", "LEADER", "TERM", "LAST LOG", "COMMIT", "APPLIED", "MATCHED",
            "LAG",
        ],
        &rows,
    )
}
