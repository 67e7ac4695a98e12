//! What a stdin import has read and appended: the batch being filled
//! ([`StdinBatch`]), the progress so far and its one-line summary
//! ([`Progress`]), and the words for a batch that failed.

use std::time::{Duration, Instant};

use ordo_api::AppendResponse;
use ordo_client::ClientError;
use ordo_core::{NewRecord, Offset, TopicName};

/// Most stdin lines sent in one append request.
pub const APPEND_BATCH_RECORDS: usize = 500;
/// Most bytes of stdin text sent in one append request: well under the
/// server's `MAX_REQUEST_BODY_BYTES`, leaving room for JSON escaping.
pub const APPEND_BATCH_BYTES: usize = 1024 * 1024;
/// Longest excerpt of a failed line quoted in an error.
const MAX_QUOTED_CHARS: usize = 80;

/// Records read from stdin waiting to be sent as one request.
#[derive(Default)]
pub(super) struct StdinBatch {
    pub(super) records: Vec<NewRecord>,
    text_bytes: usize,
}

impl StdinBatch {
    /// Adds `record`, made of a line of `line_bytes`.
    pub(super) fn push(&mut self, record: NewRecord, line_bytes: usize) {
        self.text_bytes += line_bytes;
        self.records.push(record);
    }

    pub(super) fn is_full(&self) -> bool {
        self.records.len() >= APPEND_BATCH_RECORDS || self.text_bytes >= APPEND_BATCH_BYTES
    }

    pub(super) fn first_text(&self) -> String {
        self.records
            .first()
            .and_then(|r| r.value.parse::<String>().ok())
            .unwrap_or_default()
    }
}

/// What an import has appended so far: lines, requests, the offset ranges
/// and log indexes they got, and when it started.
pub(super) struct Progress {
    started: Instant,
    pub(super) lines: u64,
    requests: u64,
    /// Contiguous offset ranges, merged as they come (another producer's
    /// appends in between split them).
    ranges: Vec<(Offset, Offset)>,
    log_indexes: Option<(u64, u64)>,
}

impl Progress {
    pub(super) fn new() -> Progress {
        Progress {
            started: Instant::now(),
            lines: 0,
            requests: 0,
            ranges: Vec::new(),
            log_indexes: None,
        }
    }

    pub(super) fn acknowledged(&mut self, lines: u64, response: &AppendResponse) {
        self.lines += lines;
        self.requests += 1;
        for &offset in &response.offsets {
            match self.ranges.last_mut() {
                Some((_, last)) if last.0 + 1 == offset.0 => *last = offset,
                _ => self.ranges.push((offset, offset)),
            }
        }
        let index = response.log_index.0;
        self.log_indexes = Some(match self.log_indexes {
            Some((first, _)) => (first, index),
            None => (index, index),
        });
    }

    pub(super) fn appended_so_far(&self) -> String {
        match self.lines {
            0 => "no earlier lines were appended".to_string(),
            n => format!("lines 1-{n} were appended"),
        }
    }

    /// `appended 1000 records to numbers at offsets 0-999 (log index
    /// 3-4) in 2 requests, 0.1 s, 9,870 records/s`.
    pub(super) fn summary(&self, topic: &TopicName) -> String {
        self.summary_after(topic, self.started.elapsed())
    }

    fn summary_after(&self, topic: &TopicName, took: Duration) -> String {
        let offsets: Vec<String> = self
            .ranges
            .iter()
            .map(|(first, last)| match first == last {
                true => first.to_string(),
                false => format!("{first}-{last}"),
            })
            .collect();
        let plural = |n: u64, word: &str| match n {
            1 => format!("1 {word}"),
            n => format!("{n} {word}s"),
        };
        let offsets = match offsets.as_slice() {
            [one] if !one.contains('-') => format!("offset {one}"),
            _ => format!("offsets {}", offsets.join(",")),
        };
        let log_index = match self.log_indexes {
            Some((first, last)) if first != last => format!("log index {first}-{last}"),
            Some((index, _)) => format!("log index {index}"),
            None => "no log index".to_string(),
        };
        let seconds = took.as_secs_f64();
        let rate = if seconds > 0.0 {
            format!(", {:.0} records/s", self.lines as f64 / seconds)
        } else {
            String::new()
        };
        format!(
            "appended {} to {topic} at {offsets} ({log_index}) in {}, {seconds:.1} s{rate}",
            plural(self.lines, "record"),
            plural(self.requests, "request"),
        )
    }
}

/// `line 7 ("text")`, or `lines 501-1000 (first: "text")`.
pub(super) fn describe_lines(first_line: u64, count: u64, first_text: &str) -> String {
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
pub(super) fn batch_fate(error: &ClientError, progress: &Progress) -> String {
    let this_batch = match error {
        ClientError::OutcomeUnknown { .. } => "these lines may or may not have been appended",
        _ => "these lines were not appended",
    };
    format!("{this_batch}; {}", progress.appended_so_far())
}

fn quote(text: &str) -> String {
    let excerpt: String = text.chars().take(MAX_QUOTED_CHARS).collect();
    if excerpt.len() < text.len() {
        format!("{excerpt:?}…")
    } else {
        format!("{excerpt:?}")
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use ordo_core::LogIndex;

    /// An answer that gave `offsets` at `log_index`.
    pub(in crate::append) fn response(offsets: Vec<u64>, log_index: u64) -> AppendResponse {
        AppendResponse {
            offsets: offsets.into_iter().map(Offset).collect(),
            log_index: LogIndex(log_index),
            duplicate: false,
        }
    }

    #[test]
    fn an_import_is_summed_up_in_one_line_with_its_offsets_and_rate() {
        let topic = TopicName::new("numbers").unwrap();
        let mut progress = Progress::new();
        progress.acknowledged(2, &response(vec![0, 1], 3));
        progress.acknowledged(2, &response(vec![2, 3], 4));
        assert_eq!(
            progress.summary_after(&topic, Duration::from_millis(500)),
            "appended 4 records to numbers at offsets 0-3 (log index 3-4) in 2 requests, 0.5 s, 8 records/s"
        );
        // Another producer's records in between split the ranges.
        progress.acknowledged(1, &response(vec![9], 7));
        assert!(progress
            .summary_after(&topic, Duration::from_secs(1))
            .starts_with(
                "appended 5 records to numbers at offsets 0-3,9 (log index 3-7) in 3 requests"
            ));
        let mut one = Progress::new();
        one.acknowledged(1, &response(vec![5], 9));
        assert!(one
            .summary_after(&topic, Duration::ZERO)
            .starts_with("appended 1 record to numbers at offset 5 (log index 9) in 1 request"));
    }
}
