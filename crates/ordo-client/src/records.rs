//! Records: append (plain, or with a producer and a condition) and read a
//! page (at once, or waiting for records or for this node to catch up).

use std::time::Duration;

use ordo_api::limits::MIN_LOG_INDEX_WAIT_MS;
use ordo_api::{AppendRequest, AppendResponse, ReadParams, ReadQuery, ReadResponse};
use ordo_core::NewRecord;

use crate::addr::encode_path_segment;
use crate::call::Safety;
use crate::client::Client;
use crate::error::ClientError;
use crate::exchange::{topic_path, Call};

impl Client {
    /// Appends `records` to `topic` atomically, in order. Retried only when
    /// it certainly did not happen; see [`ClientError::OutcomeUnknown`].
    pub async fn append(
        &self,
        topic: &str,
        records: Vec<NewRecord>,
    ) -> Result<AppendResponse, ClientError> {
        let request = AppendRequest {
            records,
            producer: None,
            condition: None,
        };
        self.append_with(topic, &request).await
    }

    /// Appends with everything an append request may carry: a producer id
    /// and seq (see [`crate::Producer`], which numbers them for you) and a
    /// condition. A failed condition is [`ClientError::Api`] 409
    /// `condition_failed` with what the server found in
    /// [`ClientError::current`]. Retried only when it certainly did not
    /// happen, like [`Client::append`].
    pub async fn append_with(
        &self,
        topic: &str,
        request: &AppendRequest,
    ) -> Result<AppendResponse, ClientError> {
        let path = format!("{}/records", topic_path(topic));
        let call = Call::post(&path, request, Safety::AppendOnce);
        self.send(call).await?.json()
    }

    /// Reads one page of `topic` from `params.from`.
    pub async fn read(
        &self,
        topic: &str,
        params: &ReadParams,
    ) -> Result<ReadResponse, ClientError> {
        self.read_wait(topic, &ReadQuery::from(params.clone()))
            .await
    }

    /// Reads one page of `topic` with the query's waits: a long-poll
    /// (`wait_ms`) answers as soon as a record at or after `from` exists, or
    /// with an empty page at the deadline; `min_log_index` first waits for
    /// the node to apply that index (read-your-writes on a `local` read).
    /// The exchange's deadline is the client's timeout plus the wait.
    pub async fn read_wait(
        &self,
        topic: &str,
        query: &ReadQuery,
    ) -> Result<ReadResponse, ClientError> {
        let encoded = serde_urlencoded::to_string(query)
            .expect("ReadQuery is a flat struct of numbers and a unit enum");
        let path = format!(
            "/v1/topics/{}/records?{encoded}",
            encode_path_segment(topic)
        );
        let mut wait = Duration::from_millis(query.wait_ms.unwrap_or(0));
        if query.min_log_index.is_some() {
            wait += Duration::from_millis(MIN_LOG_INDEX_WAIT_MS);
        }
        self.send(Call::get(&path).waiting(wait)).await?.json()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ordo_core::{Offset, RecordValue};
    use ordo_transport::{BoxFuture, Request, Response, Transport, TransportError};

    use super::*;

    /// Answers every request with one page of records.
    struct OnePage(&'static str);

    impl Transport for OnePage {
        fn send(&self, _: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
            let body = self.0.as_bytes().to_vec();
            Box::pin(async move {
                Ok(Response {
                    status: 200,
                    leader: None,
                    retry_after: None,
                    body,
                })
            })
        }
    }

    #[tokio::test]
    async fn a_page_reads_values_of_raw_bytes_from_value_b64() {
        let page = r#"{"records":[
            {"offset":0,"value_b64":"/wA=","timestamp_ms":1},
            {"offset":1,"value":"hello","timestamp_ms":1}
        ],"next_offset":2,"end_offset":2}"#;
        let client = Client::builder(vec!["127.0.0.1:1".to_owned()])
            .transport(Arc::new(OnePage(page)))
            .build()
            .unwrap();
        let read = client.read("t", &ReadParams::default()).await.unwrap();
        assert_eq!(read.records[0].offset, Offset(0));
        assert_eq!(
            read.records[0].value,
            RecordValue::from_bytes(b"\xff\x00".to_vec())
        );
        assert_eq!(read.records[0].value.as_bytes(), b"\xff\x00");
        assert_eq!(read.records[1].value.parse::<String>().unwrap(), "hello");
    }
}
