//! `ordo append TOPIC [VALUE]`: one record from the command line, or one
//! record per stdin line, sent in batches (at most
//! [`APPEND_BATCH_RECORDS`](progress::APPEND_BATCH_RECORDS) lines or
//! [`APPEND_BATCH_BYTES`](progress::APPEND_BATCH_BYTES) of text per
//! request), plainly or as an idempotent producer. An import prints one
//! summary at its end (records, offsets, rate); `--verbose` adds a line per
//! request and `--json` prints each raw answer. A failure says which lines
//! were appended, which were not and which may have been (`progress.rs`
//! keeps the count and finds the words).

mod progress;

use std::str::FromStr;

use anyhow::{anyhow, bail};
use ordo_api::limits::MAX_REQUEST_BODY_BYTES;
use ordo_api::{AppendRequest, AppendResponse};
use ordo_client::{ClientError, Producer};
use ordo_core::{Condition, NewRecord, Offset, ProducerId, RecordValue, TopicName};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

use crate::connect::{explain, ConnectArgs};
use crate::output::outln;
use progress::{batch_fate, describe_lines, Progress, StdinBatch};

#[derive(clap::Args, Debug)]
pub struct AppendArgs {
    /// The topic (created on its first append): 1-249 characters of
    /// `A-Z a-z 0-9 . _ -`.
    pub topic: TopicName,
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
    /// Print each raw append response as JSON (one line per request).
    #[arg(long)]
    pub json: bool,
    /// From stdin: print a line per request sent, not only the summary.
    #[arg(long, short = 'v')]
    pub verbose: bool,
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
    Plain(ordo_client::Client),
    Producer(Producer),
}

impl Sender {
    async fn append(
        &mut self,
        topic: &TopicName,
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
                client.append_with(topic.as_str(), &request).await
            }
            Sender::Producer(producer) => {
                producer.append_if(topic.as_str(), records, condition).await
            }
        }
    }
}

pub async fn run(args: AppendArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    let mut sender = match &args.producer {
        Some(id) => Sender::Producer(Producer::resume(client, id.clone(), args.seq)),
        None => Sender::Plain(client),
    };
    let template = NewRecord {
        key: args.key.clone(),
        value: RecordValue::null(),
        headers: args.headers.iter().cloned().collect(),
    };
    if let Some(value) = &args.value {
        let record = NewRecord {
            value: parse_value(value).into(),
            ..template
        };
        let response = sender
            .append(&args.topic, vec![record], args.condition())
            .await
            .map_err(|e| anyhow!("{}", explain(&e, &args.connect)))?;
        return outln!("{}", append_summary(&response, args.json));
    }
    import_stdin(&args, &mut sender, template).await
}

/// One record per stdin line, in batches; see the module docs.
async fn import_stdin(
    args: &AppendArgs,
    sender: &mut Sender,
    template: NewRecord,
) -> anyhow::Result<()> {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin());
    let mut batch = StdinBatch::default();
    let mut progress = Progress::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = lines
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| anyhow!("reading stdin: {e}"))?;
        let at_end = read == 0;
        // A line that can never be appended stops the import there (an
        // import never skips a line); what came before it is sent first.
        let mut stop = None;
        if !at_end {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            let line_number = progress.lines + batch.records.len() as u64 + 1;
            match String::from_utf8(std::mem::take(&mut line)) {
                Err(_) => {
                    stop = Some(format!(
                        "line {line_number} is not valid UTF-8 (record values are JSON strings)"
                    ))
                }
                Ok(text) => {
                    let line_bytes = text.len();
                    let record = NewRecord {
                        value: Value::String(text).into(),
                        ..template.clone()
                    };
                    match request_bytes(&record) {
                        bytes if bytes > MAX_REQUEST_BODY_BYTES => {
                            stop = Some(format!(
                                "line {line_number} is {bytes} bytes as a record, over the \
                                 {MAX_REQUEST_BODY_BYTES}-byte request limit"
                            ))
                        }
                        _ => batch.push(record, line_bytes),
                    }
                }
            }
        }
        let flush = batch.is_full() || at_end || stop.is_some();
        if flush && !batch.records.is_empty() {
            send_batch(args, sender, &mut batch, &mut progress).await?;
        }
        if let Some(reason) = stop {
            bail!(
                "{reason}; stopped there: {}, none after",
                progress.appended_so_far()
            );
        }
        if at_end {
            break;
        }
    }
    match progress.lines {
        0 => {
            eprintln!("nothing to append: stdin was empty");
            Ok(())
        }
        _ if args.json || args.verbose => Ok(()),
        _ => outln!("{}", progress.summary(&args.topic)),
    }
}

async fn send_batch(
    args: &AppendArgs,
    sender: &mut Sender,
    batch: &mut StdinBatch,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let first_line = progress.lines + 1;
    let first_text = batch.first_text();
    let count = batch.records.len() as u64;
    match sender
        .append(&args.topic, std::mem::take(batch).records, None)
        .await
    {
        Ok(response) => {
            progress.acknowledged(count, &response);
            if args.json || args.verbose {
                outln!("{}", append_summary(&response, args.json))?;
            }
            Ok(())
        }
        Err(error) => bail!(
            "append failed for {}: {}; {}",
            describe_lines(first_line, count, &first_text),
            explain(&error, &args.connect),
            batch_fate(&error, progress),
        ),
    }
}

/// The size of an append request carrying `record` alone: a line whose
/// request would exceed the body limit can never be appended.
fn request_bytes(record: &NewRecord) -> usize {
    let request = AppendRequest {
        records: vec![record.clone()],
        producer: None,
        condition: None,
    };
    serde_json::to_vec(&request).map_or(usize::MAX, |body| body.len())
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

#[cfg(test)]
mod tests {
    use super::*;
    use progress::tests::response;

    #[test]
    fn a_value_is_json_when_it_parses_and_a_string_otherwise() {
        assert_eq!(parse_value("12"), serde_json::json!(12));
        assert_eq!(parse_value(r#"{"a":1}"#), serde_json::json!({"a": 1}));
        assert_eq!(parse_value("hello, ordo"), serde_json::json!("hello, ordo"));
        assert_eq!(parse_value(r#""quoted""#), serde_json::json!("quoted"));
    }

    #[test]
    fn append_summaries_read_naturally() {
        assert_eq!(
            append_summary(&response(vec![12], 3051), false),
            "offset 12 (log index 3051)"
        );
        assert_eq!(
            append_summary(&response(vec![0, 1, 2], 3051), false),
            "offsets 0-2 (log index 3051)"
        );
        assert_eq!(
            append_summary(&response(vec![12], 3051), true),
            r#"{"offsets":[12],"log_index":3051}"#
        );
        let duplicate = AppendResponse {
            duplicate: true,
            ..response(vec![12], 3051)
        };
        assert_eq!(
            append_summary(&duplicate, false),
            "offset 12 (log index 3051; duplicate: this seq was appended before, nothing new was)"
        );
    }

    #[test]
    fn a_line_too_large_for_any_request_is_measured_as_its_request() {
        let line = NewRecord {
            key: None,
            value: Value::String("x".repeat(MAX_REQUEST_BODY_BYTES)).into(),
            headers: Default::default(),
        };
        assert!(request_bytes(&line) > MAX_REQUEST_BODY_BYTES);
        let quotes = NewRecord {
            value: Value::String("\"".repeat(MAX_REQUEST_BODY_BYTES / 2 + 1)).into(),
            ..line.clone()
        };
        assert!(
            request_bytes(&quotes) > MAX_REQUEST_BODY_BYTES,
            "escaping counts"
        );
        let small = NewRecord {
            value: Value::String("x".into()).into(),
            ..line
        };
        assert!(request_bytes(&small) < 100);
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
            &[".", "v"],
            &["a/b", "v"],
        ] {
            assert!(parse_append(bad).is_err(), "{bad:?} should be refused");
        }
        let producer = parse_append(&["t", "--producer", "importer-1", "--seq", "7"]).unwrap();
        assert_eq!(producer.producer.unwrap().as_str(), "importer-1");
        assert_eq!(producer.seq, 7);
    }

    #[test]
    fn headers_parse_from_pairs() {
        assert_eq!(parse_header("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_header("nope").is_err());
    }
}
