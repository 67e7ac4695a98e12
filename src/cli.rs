//! The CLI subcommands that talk to a running cluster: `append`, `read`,
//! `cluster status` and `cluster init` (`tail` is in `tail.rs`, `topics` in
//! `topics.rs`, `cluster add|remove|transfer` in `membership.rs`). Each goes through the one
//! `ordo_client::Client`; output is for people by default and for programs
//! with `--json`. Errors reach the user as one line and a non-zero exit.

use std::collections::BTreeMap;
use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, bail};
use ordo_client::{Client, ClientError, Producer, RetryPolicy};
use ordo_core::api::{
    AppendRequest, AppendResponse, ClusterStatus, Consistency, InitRequest, ReadParams,
};
use ordo_core::limits::MAX_READ_LIMIT;
use ordo_core::secret::Secret;
use ordo_core::{Condition, NewRecord, NodeId, Offset, ProducerId, Record};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

use crate::secrets::{self, SecretSetting, API_TOKEN_ENV};

/// Most stdin lines sent in one append request.
pub const APPEND_BATCH_RECORDS: usize = 500;
/// Most bytes of stdin text sent in one append request: well under the
/// server's `MAX_REQUEST_BODY_BYTES`, leaving room for JSON escaping.
pub const APPEND_BATCH_BYTES: usize = 1024 * 1024;
/// Longest excerpt of a failed line quoted in an error.
const MAX_QUOTED_CHARS: usize = 80;

/// How to reach the cluster; shared by every subcommand that talks to it.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Node address(es), `host:port` or `http://host:port`, comma-separated.
    #[arg(
        long,
        env = "ORDO_ADDR",
        default_value = "127.0.0.1:7001",
        value_delimiter = ','
    )]
    pub addr: Vec<String>,
    /// Deadline for each HTTP request, in milliseconds.
    #[arg(long, env = "ORDO_TIMEOUT_MS", default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// A file holding the cluster's API token (trimmed; or put the token
    /// itself in ORDO_API_TOKEN), for a cluster whose nodes require one.
    #[arg(long, env = "ORDO_API_TOKEN_FILE")]
    pub api_token_file: Option<std::path::PathBuf>,
}

impl ConnectArgs {
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::builder(self.addr.clone())
            .timeout(Duration::from_millis(self.timeout_ms))
            .api_token(self.api_token()?)
            .build()?)
    }

    /// The API token from --api-token-file or ORDO_API_TOKEN, if either is set.
    pub(crate) fn api_token(&self) -> anyhow::Result<Option<Secret>> {
        SecretSetting {
            flag: "--api-token-file",
            env: API_TOKEN_ENV,
            file: self.api_token_file.as_deref(),
            value: secrets::from_env(API_TOKEN_ENV)?,
            config_file: None,
        }
        .resolve()
    }
}

#[derive(clap::Args, Debug)]
pub struct AppendArgs {
    /// The topic; created on first append.
    pub topic: String,
    /// The record's value: JSON if it parses as JSON, else a string. Without
    /// it, every stdin line is one record whose value is the line as a string.
    pub value: Option<String>,
    /// The key of every record appended.
    #[arg(long)]
    pub key: Option<String>,
    /// A header for every record appended (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Append as idempotent producer ID: each request carries the next seq,
    /// and one whose outcome is unknown is resent with the same seq, so no
    /// record is appended twice.
    #[arg(long, value_name = "ID", value_parser = ProducerId::from_str)]
    pub producer: Option<ProducerId>,
    /// The producer's first seq in this run: 0 for a new producer, else its
    /// last acknowledged seq + 1.
    #[arg(long, default_value_t = 0, requires = "producer")]
    pub seq: u64,
    /// Append VALUE only if --key has no live record (none, or a tombstone).
    #[arg(long, requires_all = ["key", "value"], conflicts_with_all = ["if_key_last_offset", "if_end_offset"])]
    pub if_key_absent: bool,
    /// Append VALUE only if --key's latest record is at this offset.
    #[arg(long, value_name = "OFFSET", requires_all = ["key", "value"], conflicts_with = "if_end_offset")]
    pub if_key_last_offset: Option<u64>,
    /// Append VALUE only if the topic's next offset is this one.
    #[arg(long, value_name = "OFFSET", requires = "value")]
    pub if_end_offset: Option<u64>,
    /// Print each raw append response as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

impl AppendArgs {
    fn condition(&self) -> Option<Condition> {
        if self.if_key_absent {
            return Some(Condition::KeyAbsent);
        }
        self.if_key_last_offset
            .map(|o| Condition::KeyLastOffset(Offset(o)))
            .or(self
                .if_end_offset
                .map(|o| Condition::ExpectedOffset(Offset(o))))
    }
}

/// Sends the CLI's appends: plainly, or numbered by an idempotent producer.
enum Sender {
    Plain(Client),
    Producer(Producer),
}

impl Sender {
    async fn append(
        &mut self,
        topic: &str,
        records: Vec<NewRecord>,
        condition: Option<Condition>,
    ) -> Result<AppendResponse, ClientError> {
        match self {
            Sender::Plain(client) => {
                let request = AppendRequest {
                    records,
                    producer: None,
                    condition,
                };
                client.append_with(topic, &request).await
            }
            Sender::Producer(producer) => producer.append_if(topic, records, condition).await,
        }
    }
}

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
    pub topic: String,
    /// First offset to read.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Most records to print; without it, reads to the topic's end as of
    /// the first page.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, value_enum, default_value = "linearizable")]
    pub consistency: ConsistencyArg,
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

pub async fn append(args: AppendArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    let mut sender = match &args.producer {
        Some(id) => Sender::Producer(Producer::resume(client, id.clone(), args.seq)),
        None => Sender::Plain(client),
    };
    let template = NewRecord {
        key: args.key.clone(),
        value: Value::Null,
        headers: args.headers.iter().cloned().collect(),
    };
    let mut out = std::io::stdout().lock();
    if let Some(value) = &args.value {
        let record = NewRecord {
            value: parse_value(value),
            ..template
        };
        let response = sender
            .append(&args.topic, vec![record], args.condition())
            .await
            .map_err(|e| anyhow!("{}", explain(&e, &args.connect)))?;
        return print_ignoring_closed_pipe(&mut out, &append_summary(&response, args.json));
    }

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin());
    let mut batch = StdinBatch::default();
    let mut acknowledged_lines = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = lines
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| anyhow!("reading stdin: {e}"))?;
        let at_end = read == 0;
        if !at_end {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            let line_number = acknowledged_lines + batch.records.len() as u64 + 1;
            let text = String::from_utf8(std::mem::take(&mut line)).map_err(|_| {
                anyhow!(
                    "line {line_number} is not valid UTF-8 (record values are JSON strings); {}",
                    appended_so_far(acknowledged_lines)
                )
            })?;
            batch.push(NewRecord {
                value: Value::String(text),
                ..template.clone()
            });
        }
        if batch.is_full() || (at_end && !batch.records.is_empty()) {
            let first_line = acknowledged_lines + 1;
            let first_text = batch.first_text();
            let count = batch.records.len() as u64;
            match sender
                .append(&args.topic, std::mem::take(&mut batch).records, None)
                .await
            {
                Ok(response) => {
                    acknowledged_lines += count;
                    print_ignoring_closed_pipe(&mut out, &append_summary(&response, args.json))?;
                }
                Err(error) => bail!(
                    "append failed for {}: {}; {}",
                    describe_lines(first_line, count, &first_text),
                    explain(&error, &args.connect),
                    batch_fate(&error, acknowledged_lines),
                ),
            }
        }
        if at_end {
            break;
        }
    }
    if acknowledged_lines == 0 {
        eprintln!("nothing to append: stdin was empty");
    }
    Ok(())
}

pub async fn read(args: ReadArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    let consistency = match args.consistency {
        ConsistencyArg::Linearizable => Consistency::Linearizable,
        ConsistencyArg::Local => Consistency::Local,
    };
    let mut out = std::io::stdout().lock();
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
            .read(&args.topic, &params)
            .await
            .map_err(|e| anyhow!("{}", explain(&e, &args.connect)))?;
        let end = *end.get_or_insert(page.end_offset);
        let mut text = String::new();
        for record in &page.records {
            text.push_str(&format_record(record, args.format));
            text.push('\n');
        }
        if !write_or_closed(&mut out, &text)? {
            return Ok(());
        }
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
        ClusterCommand::Status { json, connect } => status(json, &connect).await,
        ClusterCommand::Init { members, connect } => {
            let client = connect.client()?;
            let members: BTreeMap<NodeId, String> = members.into_iter().collect();
            let request = InitRequest {
                members: (!members.is_empty()).then_some(members),
            };
            match client.init(&request).await {
                Ok(()) => println!("cluster initialized; `ordo cluster status` shows its members"),
                // Initializing twice is harmless by design; say so, succeed.
                Err(error) if error.code() == Some("already_initialized") => {
                    println!("cluster is already initialized; nothing to do")
                }
                Err(error) => bail!("{}", explain(&error, &connect)),
            }
            Ok(())
        }
        ClusterCommand::Add(args) => crate::membership::add(args).await,
        ClusterCommand::Remove(args) => crate::membership::remove(args).await,
        ClusterCommand::Transfer(args) => crate::membership::transfer(args).await,
    }
}

async fn status(json: bool, connect: &ConnectArgs) -> anyhow::Result<()> {
    let client = connect.client()?;
    let first = client
        .cluster_status()
        .await
        .map_err(|e| anyhow!("{}", explain(&e, connect)))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&first)?);
        return Ok(());
    }
    // Each member is asked once, directly, for its own view; a node that
    // does not answer is shown as such rather than retried.
    let probe = Client::builder(connect.addr.clone())
        .timeout(Duration::from_millis(connect.timeout_ms))
        .retry(RetryPolicy::no_retries())
        .api_token(connect.api_token()?)
        .build()?;
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
    print!("{}", render_status(&views));
    if !first.consumers.is_empty() {
        println!();
        print!("{}", render_consumer_lag(&first));
    }
    Ok(())
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

/// Records read from stdin waiting to be sent as one request.
#[derive(Default)]
struct StdinBatch {
    records: Vec<NewRecord>,
    text_bytes: usize,
}

impl StdinBatch {
    fn push(&mut self, record: NewRecord) {
        self.text_bytes += record.value.as_str().map_or(0, str::len);
        self.records.push(record);
    }

    fn is_full(&self) -> bool {
        self.records.len() >= APPEND_BATCH_RECORDS || self.text_bytes >= APPEND_BATCH_BYTES
    }

    fn first_text(&self) -> String {
        self.records
            .first()
            .and_then(|r| r.value.as_str())
            .unwrap_or_default()
            .to_string()
    }
}

/// A command-line VALUE: JSON if it parses as JSON, else the text as a string.
fn parse_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected NAME=VALUE, got {text:?}"))
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

/// `offset 12 (log index 3051)`, `offsets 0-499 (log index 3052)`, or the
/// raw response with `--json`.
fn append_summary(response: &AppendResponse, json: bool) -> String {
    if json {
        return serde_json::to_string(response).expect("an AppendResponse always serializes");
    }
    let log_index = if response.duplicate {
        format!(
            "{}; duplicate: this seq was appended before, nothing new was",
            response.log_index
        )
    } else {
        response.log_index.to_string()
    };
    match response.offsets.as_slice() {
        [] => format!("no records appended (log index {log_index})"),
        [only] => format!("offset {only} (log index {log_index})"),
        [first, .., last] if last.0 - first.0 + 1 == response.offsets.len() as u64 => {
            format!("offsets {first}-{last} (log index {log_index})")
        }
        offsets => {
            let list: Vec<String> = offsets.iter().map(Offset::to_string).collect();
            format!("offsets {} (log index {log_index})", list.join(","))
        }
    }
}

pub(crate) fn format_record(record: &Record, format: ReadFormat) -> String {
    match (format, &record.value) {
        (ReadFormat::Value, Value::String(text)) => text.clone(),
        (ReadFormat::Value, value) => value.to_string(),
        (ReadFormat::Json, _) => serde_json::to_string(record).expect("a Record always serializes"),
    }
}

/// `line 7 ("text")`, or `lines 501-1000 (first: "text")`.
fn describe_lines(first_line: u64, count: u64, first_text: &str) -> String {
    match count {
        1 => format!("line {first_line} ({})", quote(first_text)),
        _ => format!(
            "lines {first_line}-{} (first: {})",
            first_line + count - 1,
            quote(first_text)
        ),
    }
}

/// What became of a failed batch and the lines before it.
fn batch_fate(error: &ClientError, acknowledged_lines: u64) -> String {
    let this_batch = match error {
        ClientError::OutcomeUnknown { .. } => "these lines may or may not have been appended",
        _ => "these lines were not appended",
    };
    format!("{this_batch}; {}", appended_so_far(acknowledged_lines))
}

fn appended_so_far(acknowledged_lines: u64) -> String {
    match acknowledged_lines {
        0 => "no earlier lines were appended".to_string(),
        n => format!("lines 1-{n} were appended"),
    }
}

/// A client error in the user's terms.
pub(crate) fn explain(error: &ClientError, connect: &ConnectArgs) -> String {
    match error {
        ClientError::Unavailable { .. } => format!(
            "no node at {} could serve the request ({error})",
            connect.addr.join(",")
        ),
        _ => error.to_string(),
    }
}

/// An error and its causes as one line, `outer: cause: root cause`, for
/// errors whose chain `anyhow` would otherwise print over several lines.
pub(crate) fn one_line(error: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    anyhow!(ordo_client::error::error_chain(error))
}

fn quote(text: &str) -> String {
    let excerpt: String = text.chars().take(MAX_QUOTED_CHARS).collect();
    if excerpt.len() < text.len() {
        format!("{excerpt:?}…")
    } else {
        format!("{excerpt:?}")
    }
}

fn print_ignoring_closed_pipe(out: &mut impl Write, line: &str) -> anyhow::Result<()> {
    write_or_closed(out, &format!("{line}\n")).map(drop)
}

/// Writes `text`; `Ok(false)` if the reader went away (`ordo read | head`),
/// which is a normal way for a pipe to end, not an error.
pub(crate) fn write_or_closed(out: &mut impl Write, text: &str) -> anyhow::Result<bool> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow!("writing to stdout: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_core::LogIndex;

    #[test]
    fn a_value_is_json_when_it_parses_and_a_string_otherwise() {
        assert_eq!(parse_value("12"), serde_json::json!(12));
        assert_eq!(parse_value(r#"{"a":1}"#), serde_json::json!({"a": 1}));
        assert_eq!(parse_value("hello, ordo"), serde_json::json!("hello, ordo"));
        assert_eq!(parse_value(r#""quoted""#), serde_json::json!("quoted"));
    }

    #[test]
    fn append_summaries_read_naturally() {
        let response = |offsets: Vec<u64>| AppendResponse {
            offsets: offsets.into_iter().map(Offset).collect(),
            log_index: LogIndex(3051),
            duplicate: false,
        };
        assert_eq!(
            append_summary(&response(vec![12]), false),
            "offset 12 (log index 3051)"
        );
        assert_eq!(
            append_summary(&response(vec![0, 1, 2]), false),
            "offsets 0-2 (log index 3051)"
        );
        assert_eq!(
            append_summary(&response(vec![12]), true),
            r#"{"offsets":[12],"log_index":3051}"#
        );
        let duplicate = AppendResponse {
            duplicate: true,
            ..response(vec![12])
        };
        assert_eq!(
            append_summary(&duplicate, false),
            "offset 12 (log index 3051; duplicate: this seq was appended before, nothing new was)"
        );
    }

    #[derive(clap::Parser)]
    struct AppendCli {
        #[command(flatten)]
        args: AppendArgs,
    }

    fn parse_append(args: &[&str]) -> Result<AppendArgs, clap::Error> {
        use clap::Parser;
        let argv = std::iter::once("ordo-append").chain(args.iter().copied());
        AppendCli::try_parse_from(argv).map(|cli| cli.args)
    }

    #[test]
    fn append_conditions_need_a_value_and_key_conditions_a_key() {
        let claim = parse_append(&["users", "alice", "--key", "jane", "--if-key-absent"]).unwrap();
        assert_eq!(claim.condition(), Some(Condition::KeyAbsent));
        let update =
            parse_append(&["users", "b", "--key", "jane", "--if-key-last-offset", "4"]).unwrap();
        assert_eq!(
            update.condition(),
            Some(Condition::KeyLastOffset(Offset(4)))
        );
        let at_end = parse_append(&["t", "v", "--if-end-offset", "9"]).unwrap();
        assert_eq!(
            at_end.condition(),
            Some(Condition::ExpectedOffset(Offset(9)))
        );
        for bad in [
            &["users", "alice", "--if-key-absent"][..],
            &["users", "--key", "jane", "--if-key-absent"],
            &["t", "--if-end-offset", "9"],
            &[
                "t",
                "v",
                "--key",
                "k",
                "--if-key-absent",
                "--if-end-offset",
                "1",
            ],
            &["t", "v", "--seq", "3"],
            &["t", "v", "--producer", "a b"],
        ] {
            assert!(parse_append(bad).is_err(), "{bad:?} should be refused");
        }
        let producer = parse_append(&["t", "--producer", "importer-1", "--seq", "7"]).unwrap();
        assert_eq!(producer.producer.unwrap().as_str(), "importer-1");
        assert_eq!(producer.seq, 7);
    }

    #[test]
    fn value_format_prints_strings_raw_and_other_json_compact() {
        let record = |value: Value| Record {
            offset: Offset(3),
            key: None,
            value,
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
    fn headers_and_members_parse_from_pairs() {
        assert_eq!(parse_header("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_header("nope").is_err());
        assert_eq!(
            parse_member("2=127.0.0.1:7002"),
            Ok((2, "127.0.0.1:7002".into()))
        );
        assert!(parse_member("x=y").is_err());
    }
}
