//! Everything the CLI prints on stdout goes through here, and the shapes it
//! prints in: tables ([`render_table`]) and records ([`format_record`]).
//! A stdout whose reader went away (`ordo topics | head -1`, `ordo cluster status | true`)
//! is how a pipe normally ends, not a failure: a write then fails with
//! [`StdoutClosed`], which `main` turns into a quiet exit with status 0,
//! for every command at once (as `ordo tail | head` always did). Nothing
//! here panics: `print!` would ("failed printing to stdout").

use std::io::Write;

use ordo_core::{Record, RecordValue};

/// The reader of stdout has gone away; nothing more can be printed.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed by its reader")]
pub struct StdoutClosed;

/// Writes `text` to stdout and flushes it, so that what a command printed
/// is out of the process once this returns (a consumer commits a position
/// only for records printed this way).
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::anyhow!("writing to stdout: {e}")),
    }
}

/// `println!` that returns [`StdoutClosed`] (or another write error)
/// instead of panicking.
macro_rules! outln {
    () => {
        $crate::output::print("\n")
    };
    ($($arg:tt)*) => {
        $crate::output::print(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// Prints `value` as pretty JSON and a newline.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| anyhow::anyhow!("encoding the answer as JSON: {e}"))?;
    outln!("{text}")
}

/// True if `error` says stdout was closed: the command ends quietly.
pub fn is_stdout_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<StdoutClosed>())
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFormat {
    /// The value only; strings without quotes.
    Value,
    /// The whole record (offset, key, value, headers, timestamp) as JSON.
    Json,
}

pub(crate) fn format_record(record: &Record, format: ReadFormat) -> String {
    match format {
        ReadFormat::Value => value_text(&record.value),
        ReadFormat::Json => serde_json::to_string(record).expect("a Record always serializes"),
    }
}

/// A value as the CLI hands it to people and pipes: a string (or raw
/// bytes that are UTF-8) as its text; any other value as its JSON; raw
/// bytes that are not UTF-8 (a Kafka producer's, read as `value_b64`) as
/// `base64:` and their base64.
pub(crate) fn value_text(value: &RecordValue) -> String {
    value
        .parse::<String>()
        .unwrap_or_else(|_| value.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_core::Offset;

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
    fn value_format_prints_raw_bytes_as_text_or_base64_with_a_note() {
        let record = |bytes: &[u8]| Record {
            offset: Offset(3),
            key: None,
            value: RecordValue::from_bytes(bytes.to_vec()),
            headers: Default::default(),
            timestamp_ms: 7,
        };
        assert_eq!(format_record(&record(b"hello"), ReadFormat::Value), "hello");
        assert_eq!(format_record(&record(b" [1] "), ReadFormat::Value), " [1] ");
        let binary = record(b"\xff\x00");
        assert_eq!(format_record(&binary, ReadFormat::Value), "base64:/wA=");
        assert_eq!(
            format_record(&binary, ReadFormat::Json),
            r#"{"offset":3,"value_b64":"/wA=","timestamp_ms":7}"#
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
    fn a_closed_stdout_is_recognised_through_added_context() {
        let error = anyhow::Error::from(StdoutClosed).context("printing the topics");
        assert!(is_stdout_closed(&error));
        assert!(!is_stdout_closed(&anyhow::anyhow!("no leader")));
    }
}
