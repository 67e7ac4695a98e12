//! The CLI's `read` and `cluster` commands, and what the other commands
//! share: record and table formatting (`append` is in `append.rs`, `tail`
//! in `tail.rs`, `topics` in `topics.rs`, `cluster status` in `status.rs`,
//! `cluster add|remove|transfer` in `membership.rs`, the connection flags
//! in `connect.rs`). Each goes through the one `ordo_client::Client`;
//! output is for people by default and for programs with `--json`. Errors
//! reach the user as one line and a non-zero exit.

use std::collections::BTreeMap;

use anyhow::anyhow;
use ordo_api::limits::MAX_READ_LIMIT;
use ordo_api::{Consistency, InitRequest, ReadParams};
use ordo_core::{NodeId, Offset, Record, TopicName};

use crate::connect::{ConnectArgs, Explain};
use crate::output::{outln, print};

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ConsistencyArg {
    /// Sees every append acknowledged before the read began.
    Linearizable,
    /// This node's applied state: may lag, never shows uncommitted records.
    Local,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFormat {
    /// The value only; strings without quotes.
    Value,
    /// The whole record (offset, key, value, headers, timestamp) as JSON.
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ReadArgs {
    /// The topic to read.
    pub topic: TopicName,
    /// First offset to read.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Most records to print; without it, reads to the topic's end as of
    /// the first page.
    #[arg(long)]
    pub limit: Option<usize>,
    /// How fresh the read is.
    #[arg(long, value_enum, default_value = "linearizable")]
    pub consistency: ConsistencyArg,
    /// What to print of each record.
    #[arg(long, value_enum, default_value = "value")]
    pub format: ReadFormat,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum ClusterCommand {
    /// Every member's role, term, indexes and replication lag.
    Status {
        /// Print the answering node's raw status as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Initialize membership (nodes started with --peers do this themselves).
    Init {
        /// A member as ID=ADDR (repeatable); none: the node's own peers.
        #[arg(long = "member", value_name = "ID=ADDR", value_parser = parse_member)]
        members: Vec<(NodeId, String)>,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Add a node (started with `ordo serve --join`): as a learner, then,
    /// once it has caught up, as a voter. Prints the new membership.
    Add(crate::membership::AddArgs),
    /// Remove a voter or learner from the membership. Prints the new membership.
    Remove(crate::membership::RemoveArgs),
    /// Hand leadership to another voter. Prints the membership and new leader.
    Transfer(crate::membership::TransferArgs),
}

impl ClusterCommand {
    pub fn connect_mut(&mut self) -> &mut ConnectArgs {
        match self {
            ClusterCommand::Status { connect, .. } | ClusterCommand::Init { connect, .. } => {
                connect
            }
            ClusterCommand::Add(args) => &mut args.connect,
            ClusterCommand::Remove(args) => &mut args.connect,
            ClusterCommand::Transfer(args) => &mut args.connect,
        }
    }
}

pub async fn read(args: ReadArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    let consistency = match args.consistency {
        ConsistencyArg::Linearizable => Consistency::Linearizable,
        ConsistencyArg::Local => Consistency::Local,
    };
    let mut from = Offset(args.from);
    let mut remaining = args.limit;
    // The end as of the first page: a fast producer cannot keep us reading.
    let mut end: Option<Offset> = None;
    while remaining != Some(0) {
        let params = ReadParams {
            from,
            limit: remaining.map(|r| r.min(MAX_READ_LIMIT)),
            consistency,
        };
        let page = client
            .read(args.topic.as_str(), &params)
            .await
            .explained(&args.connect)?;
        let end = *end.get_or_insert(page.end_offset);
        let mut text = String::new();
        for record in &page.records {
            text.push_str(&format_record(record, args.format));
            text.push('\n');
        }
        print(&text)?;
        remaining = remaining.map(|r| r.saturating_sub(page.records.len()));
        if page.records.is_empty() || page.next_offset >= end || page.next_offset <= from {
            break;
        }
        from = page.next_offset;
    }
    Ok(())
}

pub async fn cluster(command: ClusterCommand) -> anyhow::Result<()> {
    match command {
        ClusterCommand::Status { json, connect } => crate::status::run(json, &connect).await,
        ClusterCommand::Init { members, connect } => {
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
        ClusterCommand::Add(args) => crate::membership::add(args).await,
        ClusterCommand::Remove(args) => crate::membership::remove(args).await,
        ClusterCommand::Transfer(args) => crate::membership::transfer(args).await,
    }
}

/// Left-aligned columns, two spaces apart, no trailing spaces.
pub(crate) fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
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

pub(crate) fn format_record(record: &Record, format: ReadFormat) -> String {
    match format {
        // A string is printed as its text; any other value as its JSON.
        ReadFormat::Value => record
            .value
            .parse::<String>()
            .unwrap_or_else(|_| record.value.json_text().to_owned()),
        ReadFormat::Json => serde_json::to_string(record).expect("a Record always serializes"),
    }
}

/// An error and its causes as one line, `outer: cause: root cause`, for
/// errors whose chain `anyhow` would otherwise print over several lines.
pub(crate) fn one_line(error: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    anyhow!(ordo_client::error::error_chain(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_format_prints_strings_raw_and_other_json_compact() {
        let record = |value: serde_json::Value| Record {
            offset: Offset(3),
            key: None,
            value: value.into(),
            headers: Default::default(),
            timestamp_ms: 7,
        };
        let text = record(serde_json::json!("a \"b\""));
        assert_eq!(format_record(&text, ReadFormat::Value), "a \"b\"");
        let object = record(serde_json::json!({"n": 1}));
        assert_eq!(format_record(&object, ReadFormat::Value), r#"{"n":1}"#);
        assert_eq!(
            format_record(&object, ReadFormat::Json),
            r#"{"offset":3,"value":{"n":1},"timestamp_ms":7}"#
        );
    }

    #[test]
    fn tables_align_columns_without_trailing_space() {
        let table = render_table(
            &["NODE", "ROLE"],
            &[
                vec!["1".into(), "leader".into()],
                vec!["12".into(), "-".into()],
            ],
        );
        assert_eq!(table, "NODE  ROLE\n1     leader\n12    -\n");
    }

    #[test]
    fn members_parse_from_pairs() {
        assert_eq!(
            parse_member("2=127.0.0.1:7002"),
            Ok((2, "127.0.0.1:7002".into()))
        );
        assert!(parse_member("x=y").is_err());
    }
}
