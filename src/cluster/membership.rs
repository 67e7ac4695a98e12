//! `ordo cluster add|remove|transfer`: membership changes and leadership
//! transfer through the one `ordo_client::Client`. Each
//! prints the membership the change left (or `--json` for the raw answer).

use anyhow::bail;
use ordo_api::{AddNodeRequest, MembershipResponse};
use ordo_client::ClientError;
use ordo_core::NodeId;

use crate::connect::{explain, ConnectArgs};
use crate::output::{outln, print, print_json, render_table};

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// The new node's id (its `ordo serve --node-id`); never reuse the id of
    /// a removed node.
    #[arg(long)]
    pub id: NodeId,
    /// `host:port` the other nodes reach the new node at.
    #[arg(long = "node-addr", value_name = "HOST:PORT")]
    pub node_addr: String,
    /// Make the change even if it leaves fewer than 3 voters.
    #[arg(long)]
    pub force: bool,
    /// How long the leader waits for the new node to catch up before
    /// promoting it (server default 60 s).
    #[arg(long, value_name = "MS")]
    pub catch_up_timeout_ms: Option<u64>,
    /// Print the raw answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    /// The node to remove (a voter or a learner; the leader too).
    #[arg(long)]
    pub id: NodeId,
    /// Make the change even if it leaves fewer than 3 voters.
    #[arg(long)]
    pub force: bool,
    /// Print the raw answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(clap::Args, Debug)]
pub struct TransferArgs {
    /// The voter to lead; without it, the most caught-up other voter.
    #[arg(long)]
    pub to: Option<NodeId>,
    /// Print the raw answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub async fn add(args: AddArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    ensure_node_answers(&args).await?;
    let request = AddNodeRequest {
        id: args.id,
        addr: args.node_addr,
        force: args.force,
        catch_up_timeout_ms: args.catch_up_timeout_ms,
    };
    let answer = client.add_node(&request).await;
    report(answer, args.json, &args.connect)
}

pub async fn remove(args: RemoveArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    let answer = client.remove_node(args.id, args.force).await;
    report(answer, args.json, &args.connect)?;
    if !args.json {
        outln!(
            "stop node {} now, and do not start it again with its data or its id",
            args.id
        )?;
    }
    Ok(())
}

pub async fn transfer(args: TransferArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    let answer = client.transfer_leader(args.to).await;
    report(answer, args.json, &args.connect)
}

fn report(
    answer: Result<MembershipResponse, ClientError>,
    json: bool,
    connect: &ConnectArgs,
) -> anyhow::Result<()> {
    match answer {
        Ok(membership) if json => print_json(&membership),
        Ok(membership) => print(&render_membership(&membership)),
        Err(ClientError::OutcomeUnknown { addr, reason }) => bail!(
            "the change sent to {addr} may or may not have happened ({reason}); \
             `ordo cluster status` shows the membership"
        ),
        Err(error) => bail!("{}", explain(&error, connect)),
    }
}

/// Before the leader waits up to its catch-up timeout for a node to catch
/// up, makes sure something listens at the node's address: a node not
/// started yet (or a mistyped port) is reported in a moment, not after a
/// minute. Only a refused connection stops the add: this machine may not
/// reach the node the way the cluster does (another network, names only
/// the cluster resolves), so anything else is left to the leader to judge.
async fn ensure_node_answers(args: &AddArgs) -> anyhow::Result<()> {
    let host_port = args
        .node_addr
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let connect = tokio::net::TcpStream::connect(host_port);
    match tokio::time::timeout(args.connect.timeout(), connect).await {
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => bail!(
            "nothing listens at {host_port} (connection refused), so node {id} could never \
             catch up; start it first: `ordo serve --node-id {id} --listen {host_port} --join \
             --peers <the cluster's nodes>`",
            id = args.id,
        ),
        _ => Ok(()),
    }
}

/// One row per member, then the warning, if any.
fn render_membership(membership: &MembershipResponse) -> String {
    let rows: Vec<Vec<String>> = membership
        .members
        .iter()
        .map(|m| {
            let role = if membership.leader == Some(m.id) {
                "voter, leader"
            } else if m.voter {
                "voter"
            } else {
                "learner"
            };
            vec![m.id.to_string(), m.addr.clone(), role.to_string()]
        })
        .collect();
    let mut out = render_table(&["NODE", "ADDR", "MEMBERSHIP"], &rows);
    if let Some(warning) = &membership.warning {
        out.push_str(&format!("warning: {warning}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_api::Member;

    #[test]
    fn the_membership_reads_as_a_table_with_its_warning() {
        let membership = MembershipResponse {
            leader: Some(1),
            members: vec![
                Member {
                    id: 1,
                    addr: "a:1".into(),
                    voter: true,
                },
                Member {
                    id: 4,
                    addr: "d:4".into(),
                    voter: false,
                },
            ],
            warning: Some("x".into()),
        };
        assert_eq!(
            render_membership(&membership),
            "NODE  ADDR  MEMBERSHIP\n1     a:1   voter, leader\n4     d:4   learner\nwarning: x\n"
        );
    }
}
