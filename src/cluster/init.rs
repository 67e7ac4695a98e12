//! `ordo cluster init`: initializes a cluster's membership, with the given
//! members or the answering node's own peers; a second init is harmless.

use std::collections::BTreeMap;

use ordo_api::InitRequest;
use ordo_core::NodeId;

use crate::connect::{ConnectArgs, Explain};
use crate::output::outln;

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// A member as ID=ADDR (repeatable); none: the node's own peers.
    #[arg(long = "member", value_name = "ID=ADDR", value_parser = parse_member)]
    pub members: Vec<(NodeId, String)>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

pub async fn run(args: InitArgs) -> anyhow::Result<()> {
    let InitArgs { members, connect } = args;
    let client = connect.client()?;
    let members: BTreeMap<NodeId, String> = members.into_iter().collect();
    let request = InitRequest {
        members: (!members.is_empty()).then_some(members),
    };
    match client.init(&request).await {
        Ok(()) => outln!("cluster initialized; `ordo cluster status` shows its members"),
        // Initializing twice is harmless by design; say so, succeed.
        Err(error) if error.code() == Some("already_initialized") => {
            outln!("cluster is already initialized; nothing to do")
        }
        Err(error) => Err(error).explained(&connect),
    }
}

fn parse_member(text: &str) -> Result<(NodeId, String), String> {
    let (id, addr) = text
        .split_once('=')
        .ok_or_else(|| format!("expected ID=ADDR, got {text:?}"))?;
    let id = id
        .parse()
        .map_err(|_| format!("node id {id:?} is not a number"))?;
    Ok((id, addr.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_parse_from_pairs() {
        assert_eq!(
            parse_member("2=127.0.0.1:7002"),
            Ok((2, "127.0.0.1:7002".into()))
        );
        assert!(parse_member("x=y").is_err());
    }
}
