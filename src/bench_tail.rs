//! `ordo bench --tail pages|stream`: how fast one consumer reads a topic
//! back from one node, the other half of a log's job. It reads from
//! `--from` (default 0) until it has `--records` records (default: every
//! record up to the topic's end when it starts) or for `--seconds` at most,
//! with `local` reads page after page (`pages`, as a consumer polls) or from
//! the NDJSON stream (`stream`, as `ordo tail` follows). The summary is
//! records/s over the whole read.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ordo_api::limits::MAX_READ_LIMIT;
use ordo_api::secret::Secret;
use ordo_api::{Consistency, ReadParams};
use ordo_client::Client;
use ordo_core::Offset;
use serde::Serialize;

/// How a tail reads.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TailVia {
    /// `GET /v1/topics/{topic}/records?consistency=local`, page after page.
    Pages,
    /// `GET /v1/topics/{topic}/stream`, NDJSON.
    Stream,
}

impl std::fmt::Display for TailVia {
    /// As the user typed it (`--tail stream`), not the enum's name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TailVia::Pages => "pages",
            TailVia::Stream => "stream",
        })
    }
}

/// What a tail run measured.
#[derive(Debug, Serialize)]
pub struct TailSummary {
    pub via: TailVia,
    pub records: u64,
    pub seconds: f64,
    pub records_per_s: f64,
}

impl TailSummary {
    fn new(via: TailVia, records: u64, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        TailSummary {
            via,
            records,
            seconds,
            records_per_s: records as f64 / seconds,
        }
    }
}

impl std::fmt::Display for TailSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tail via {}: {} records, {:.0} records/s, {:.1} s",
            self.via, self.records, self.records_per_s, self.seconds
        )
    }
}

/// What to read: from where, how many, for how long at most.
pub struct TailPlan<'a> {
    pub client: &'a Client,
    /// For the raw stream request, which does not go through `client`.
    pub api_token: Option<&'a Secret>,
    /// What the stream is read with (`reqwest` itself: the client has no
    /// stream of raw bytes), with the cluster's TLS.
    pub stream_http: &'a reqwest::Client,
    pub addr: &'a str,
    pub topic: &'a str,
    pub from: u64,
    pub records: Option<u64>,
    pub deadline: Duration,
}

pub async fn run(via: TailVia, plan: TailPlan<'_>) -> anyhow::Result<TailSummary> {
    let wanted = match plan.records {
        Some(records) => records,
        None => {
            let info = plan
                .client
                .topic(plan.topic, Consistency::Local)
                .await?
                .with_context(|| format!("topic {} does not exist", plan.topic))?;
            info.end_offset.0.saturating_sub(plan.from)
        }
    };
    if wanted == 0 {
        bail!(
            "nothing to read: topic {} has no records after offset {}",
            plan.topic,
            plan.from
        );
    }
    let start = Instant::now();
    let records = match via {
        TailVia::Pages => read_pages(&plan, wanted).await?,
        TailVia::Stream => read_stream(&plan, wanted).await?,
    };
    Ok(TailSummary::new(via, records, start.elapsed()))
}

async fn read_pages(plan: &TailPlan<'_>, wanted: u64) -> anyhow::Result<u64> {
    let mut records = 0;
    let mut from = Offset(plan.from);
    let deadline = Instant::now() + plan.deadline;
    while records < wanted && Instant::now() < deadline {
        let params = ReadParams {
            from,
            limit: Some(MAX_READ_LIMIT),
            consistency: Consistency::Local,
        };
        let page = plan.client.read(plan.topic, &params).await?;
        records += page.records.len() as u64;
        if page.next_offset == from {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        from = page.next_offset;
    }
    Ok(records.min(wanted))
}

async fn read_stream(plan: &TailPlan<'_>, wanted: u64) -> anyhow::Result<u64> {
    // `addr` is normalized (scheme included); topic names are URL-safe
    // (TopicName's rules).
    let url = format!(
        "{}/v1/topics/{}/stream?from={}",
        plan.addr, plan.topic, plan.from
    );
    let mut request = plan.stream_http.get(&url);
    if let Some(token) = plan.api_token {
        request = request.bearer_auth(token.expose());
    }
    let response = request
        .send()
        .await
        .and_then(|response| response.error_for_status())
        .with_context(|| format!("GET {url}"))?;
    let mut response = response;
    let mut records = 0;
    let deadline = tokio::time::sleep(plan.deadline);
    tokio::pin!(deadline);
    let mut at_line_start = true;
    while records < wanted {
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk.context("reading the stream")?,
            () = &mut deadline => break,
        };
        let Some(chunk) = chunk else { break };
        // A record is a non-empty line; a keep-alive is an empty one.
        for byte in chunk.iter() {
            if *byte == b'\n' {
                records += u64::from(!at_line_start);
                at_line_start = true;
            } else {
                at_line_start = false;
            }
        }
    }
    Ok(records.min(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_summary_is_rates_over_the_whole_read() {
        let summary = TailSummary::new(TailVia::Stream, 1000, Duration::from_secs(2));
        assert_eq!(summary.records_per_s, 500.0);
        assert_eq!(
            summary.to_string(),
            "tail via stream: 1000 records, 500 records/s, 2.0 s"
        );
        assert_eq!(serde_json::to_value(&summary).unwrap()["via"], "stream");
    }
}
