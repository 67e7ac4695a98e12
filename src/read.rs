//! `ordo read TOPIC`: a topic's records from an offset, page by page, up to
//! `--limit` or to the topic's end as of the first page, one per line.

use ordo_api::limits::MAX_READ_LIMIT;
use ordo_api::{Consistency, ReadParams};
use ordo_core::{Offset, TopicName};

use crate::connect::{ConnectArgs, Explain};
use crate::output::{format_record, print, ReadFormat};

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ConsistencyArg {
    /// Sees every append acknowledged before the read began.
    Linearizable,
    /// This node's applied state: may lag, never shows uncommitted records.
    Local,
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

pub async fn run(args: ReadArgs) -> anyhow::Result<()> {
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
