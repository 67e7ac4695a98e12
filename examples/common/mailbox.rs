//! The mailbox, shared by `examples/mailbox.rs` and its test
//! (`tests/cluster/examples.rs`): each `message_sent` event is appended once
//! (an idempotent producer), and two views are derived from the same log by
//! two consumer groups, each at its own position: `inbox` (the messages per
//! user) and `unread` (a count per user). A consumer commits its group's
//! position after each page it applied, so one that stops resumes from
//! there and its view ends up as if it had never stopped.

use std::collections::BTreeMap;

use ordo_api::{Consistency, ReadParams};
use ordo_client::{Client, ClientError, Producer};
use ordo_core::{NewRecord, Offset, Record};
use serde::{Deserialize, Serialize};

/// The topic of `message_sent` events.
pub const TOPIC: &str = "messages";
/// Records per read of a consumer: small, so a consumer commits several
/// times and can be stopped in the middle.
pub const PAGE_RECORDS: usize = 5;

/// One `message_sent` event, the value of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSent {
    pub from: String,
    pub to: String,
    pub text: String,
}

/// Appends `message` once, however often the producer has to resend it.
pub async fn send(producer: &mut Producer, message: &MessageSent) -> Result<Offset, ClientError> {
    let record = NewRecord {
        key: Some(message.to.clone()),
        value: serde_json::to_value(message)
            .expect("a MessageSent always serializes")
            .into(),
        headers: [("type".to_string(), "message_sent".to_string())].into(),
    };
    let ack = producer.append(TOPIC, vec![record]).await?;
    Ok(ack.offsets[0])
}

/// A view derived from the events, one record at a time, in log order.
pub trait View {
    fn apply(&mut self, offset: Offset, message: &MessageSent);
}

/// Each user's messages, in the order they were sent: (offset, from, text).
pub type Inbox = BTreeMap<String, Vec<(Offset, String, String)>>;
/// How many unread messages each user has.
pub type UnreadCount = BTreeMap<String, u64>;

impl View for Inbox {
    fn apply(&mut self, offset: Offset, m: &MessageSent) {
        let inbox = self.entry(m.to.clone()).or_default();
        inbox.push((offset, m.from.clone(), m.text.clone()));
    }
}

impl View for UnreadCount {
    fn apply(&mut self, _offset: Offset, m: &MessageSent) {
        *self.entry(m.to.clone()).or_default() += 1;
    }
}

/// Starts `group` over from offset 0, for a view that starts empty.
pub async fn reset(client: &Client, group: &str) -> Result<(), ClientError> {
    client
        .commit_offset(group, TOPIC, Offset(0), None)
        .await
        .map(|_| ())
}

/// Applies the events from `group`'s committed position (0 if it has none)
/// to `view`, committing the position after each page, until the topic's
/// end or until at least `stop_after` records were applied. Returns the
/// group's position.
pub async fn consume(
    client: &Client,
    group: &str,
    view: &mut impl View,
    stop_after: Option<u64>,
) -> Result<Offset, ClientError> {
    let mut position = client
        .consumer_offset(group, TOPIC, Consistency::Linearizable)
        .await?
        .unwrap_or(Offset(0));
    let mut applied = 0;
    loop {
        let params = ReadParams {
            from: position,
            limit: Some(PAGE_RECORDS),
            consistency: Consistency::Linearizable,
        };
        let page = client.read(TOPIC, &params).await?;
        for record in &page.records {
            apply(view, record);
            applied += 1;
        }
        // Commit after applying: a consumer stopped between the two applies
        // that page again on resuming (at least once).
        client
            .commit_offset(group, TOPIC, page.next_offset, None)
            .await?;
        position = page.next_offset;
        let stopped = stop_after.is_some_and(|n| applied >= n);
        if page.records.is_empty() || position >= page.end_offset || stopped {
            return Ok(position);
        }
    }
}

/// Other records in the topic (not `message_sent` events) are skipped.
fn apply(view: &mut impl View, record: &Record) {
    if let Ok(message) = record.value.parse::<MessageSent>() {
        view.apply(record.offset, &message);
    }
}

/// Whether the two views agree: every user's unread count is the number of
/// messages in their inbox.
pub fn agree(inbox: &Inbox, unread: &UnreadCount) -> bool {
    inbox.len() == unread.len()
        && inbox
            .iter()
            .all(|(user, messages)| unread.get(user) == Some(&(messages.len() as u64)))
}
