//! `ordo cluster`: administration of a cluster's membership through the one
//! `ordo_client::Client`: `status` (`status.rs`), `init` (`init.rs`), and
//! `add`, `remove` and `transfer` (`membership.rs`). This module holds the
//! subcommands and sends each to its module.

mod init;
mod membership;
mod status;

use crate::connect::ConnectArgs;

#[derive(clap::Subcommand, Debug)]
pub enum ClusterCommand {
    /// Every member's role, term, indexes and replication lag.
    Status(status::StatusArgs),
    /// Initialize membership (nodes started with --peers do this themselves).
    Init(init::InitArgs),
    /// Add a node (started with `ordo serve --join`): as a learner, then,
    /// once it has caught up, as a voter. Prints the new membership.
    Add(membership::AddArgs),
    /// Remove a voter or learner from the membership. Prints the new membership.
    Remove(membership::RemoveArgs),
    /// Hand leadership to another voter. Prints the membership and new leader.
    Transfer(membership::TransferArgs),
}

impl ClusterCommand {
    pub fn connect_mut(&mut self) -> &mut ConnectArgs {
        match self {
            ClusterCommand::Status(args) => &mut args.connect,
            ClusterCommand::Init(args) => &mut args.connect,
            ClusterCommand::Add(args) => &mut args.connect,
            ClusterCommand::Remove(args) => &mut args.connect,
            ClusterCommand::Transfer(args) => &mut args.connect,
        }
    }
}

pub async fn run(command: ClusterCommand) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Status(args) => status::run(args).await,
        ClusterCommand::Init(args) => init::run(args).await,
        ClusterCommand::Add(args) => membership::add(args).await,
        ClusterCommand::Remove(args) => membership::remove(args).await,
        ClusterCommand::Transfer(args) => membership::transfer(args).await,
    }
}
