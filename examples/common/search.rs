//! Rebuilding a search index by replaying a topic from offset 0, shared by
//! `examples/search_index.rs` and its test (`tests/cluster/examples.rs`).
//! The log is the source of truth and the index only a view of it: a view
//! that is lost, or built by new code, is rebuilt by reading from the start.

use std::collections::{BTreeMap, BTreeSet};

use ordo_api::{Consistency, ReadParams};
use ordo_client::{Client, ClientError};
use ordo_core::Offset;

/// Word → the offsets of the records that contain it.
#[derive(Debug, Default)]
pub struct Index {
    pub words: BTreeMap<String, BTreeSet<Offset>>,
    /// Records replayed into the index.
    pub records: u64,
}

/// The words of a record's value: a string as it is, any other JSON as its
/// text; lowercased, split at everything that is not a letter or digit.
pub fn words(value: &serde_json::Value) -> BTreeSet<String> {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Replays `topic` from offset 0 to its end (as of each page's read) into a
/// new index, calling `progress(next_offset, end_offset)` after each page.
pub async fn rebuild(
    client: &Client,
    topic: &str,
    mut progress: impl FnMut(Offset, Offset),
) -> Result<Index, ClientError> {
    let mut index = Index::default();
    let mut from = Offset(0);
    loop {
        let params = ReadParams {
            from,
            limit: None,
            consistency: Consistency::Linearizable,
        };
        let page = client.read(topic, &params).await?;
        for record in &page.records {
            for word in words(&record.value.to_json()) {
                index.words.entry(word).or_default().insert(record.offset);
            }
            index.records += 1;
        }
        progress(page.next_offset, page.end_offset);
        if page.records.is_empty() || page.next_offset >= page.end_offset {
            return Ok(index);
        }
        from = page.next_offset;
    }
}
