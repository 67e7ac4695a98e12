//! `ordo cluster status`: every member's role, term, indexes and
//! replication lag as a table (each member asked once for its own view; the
//! leader's view gives the followers' progress), then each consumer group's
//! lag and each work queue's depth; or the answering node's raw status with
//! `--json`.

use ordo_api::ClusterStatus;
use ordo_client::RetryPolicy;
use ordo_core::NodeId;

use crate::connect::{ConnectArgs, Explain};
use crate::output::{print, print_json, render_table};

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Print the answering node's raw status as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let connect = &args.connect;
    let client = connect.client()?;
    let first = client.cluster_status().await.explained(connect)?;
    if args.json {
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
    if !first.queues.is_empty() {
        text.push('\n');
        text.push_str(&crate::queues::render_queues(&first.queues));
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
    // A leader that lost its quorum may still answer; one that has its
    // quorum (a newer term) knows the followers' progress better.
    let leader_view = views
        .iter()
        .filter_map(|(_, _, v)| v.as_ref())
        .filter(|v| v.role == "leader")
        .max_by_key(|v| (v.quorum, v.term));
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
                    role(v),
                    if v.ready { "yes" } else { "no" }.to_string(),
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
                    row.extend(std::iter::repeat_n("-".to_string(), 6));
                    row.extend([progress.0, progress.1]);
                    row
                }
            }
        })
        .collect();
    let mut text = render_table(
        &[
            "NODE", "ADDR", "ROLE", "READY", "LEADER", "TERM", "LAST LOG", "COMMIT", "APPLIED",
            "MATCHED", "LAG",
        ],
        &rows,
    );
    // Why a node is not ready, in its own words (what its /readyz says).
    for (id, _, view) in views {
        if let Some(v) = view.as_ref().filter(|v| !v.ready && !v.health.is_empty()) {
            text.push_str(&format!("node {id} not ready: {}\n", v.health));
        }
    }
    text
}

/// The node's role; a leader that has lost its quorum says so, since it
/// keeps the role (nothing replaced it in its own eyes) but cannot commit;
/// a node whose storage failed names the cause.
fn role(status: &ClusterStatus) -> String {
    if let Some(cause) = &status.storage.failure {
        return format!("storage failed: {cause}");
    }
    match (status.role.as_str(), status.quorum) {
        ("leader", false) => match status.quorum_contact_age_ms {
            Some(ms) => format!("leader (no quorum for {:.1} s)", ms as f64 / 1000.0),
            None => "leader (no quorum)".to_string(),
        },
        (role, _) => role.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(id: NodeId, role: &str, quorum: bool) -> ClusterStatus {
        ClusterStatus {
            node_id: id,
            role: role.to_string(),
            leader: Some(1),
            term: 2,
            quorum,
            quorum_contact_age_ms: Some(5_200),
            ready: quorum,
            health: match quorum {
                true => "ok".into(),
                false => "no quorum: node 1 reaches 1 of 3 voters, 2 needed for a quorum".into(),
            },
            ..ClusterStatus::default()
        }
    }

    #[test]
    fn a_leader_without_its_quorum_says_so_and_why_it_is_not_ready() {
        let views = vec![
            (1, "a:1".to_string(), Some(status(1, "leader", false))),
            (2, "a:2".to_string(), None),
            (3, "a:3".to_string(), Some(status(3, "follower", true))),
        ];
        let table = render_status(&views);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("NODE  ADDR  ROLE"), "{table}");
        assert!(
            lines[1].contains("leader (no quorum for 5.2 s)  no"),
            "{table}"
        );
        assert!(lines[2].contains("unreachable"), "{table}");
        assert!(
            lines[3].contains("follower") && lines[3].contains(" yes "),
            "{table}"
        );
        assert_eq!(
            lines[4],
            "node 1 not ready: no quorum: node 1 reaches 1 of 3 voters, 2 needed for a quorum"
        );
    }

    #[test]
    fn a_node_whose_storage_failed_shows_the_cause_as_its_role() {
        let mut failed = status(2, "failed", false);
        failed.storage.failure = Some("No space left on device (os error 28)".into());
        failed.health = "storage failed: No space left on device (os error 28); ...".into();
        let table = render_status(&[(2, "a:2".to_string(), Some(failed))]);
        assert!(
            table.contains("storage failed: No space left on device (os error 28)"),
            "{table}"
        );
        assert!(!table.contains("leader"), "{table}");
    }
}
