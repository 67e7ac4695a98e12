//! `ordo topics`: list every topic as a table (`ordo topics`, `topics
//! list`, `topics ls`), and `show`, `put`, `compact` and `delete` one.
//! Through the one `ordo_client::Client`.

use anyhow::bail;
use ordo_api::{Consistency, TopicInfo};
use ordo_core::{Cleanup, TopicConfig, TopicName};

use crate::connect::{ConnectArgs, Explain};
use crate::output::{outln, print, print_json, render_table};

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TopicsArgs {
    #[command(subcommand)]
    pub command: Option<TopicsCommand>,
    /// Print the raw JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

impl TopicsArgs {
    pub fn connect_mut(&mut self) -> &mut ConnectArgs {
        match &mut self.command {
            None => &mut self.connect,
            Some(TopicsCommand::List { connect, .. })
            | Some(TopicsCommand::Show { connect, .. })
            | Some(TopicsCommand::Put { connect, .. })
            | Some(TopicsCommand::Compact { connect, .. })
            | Some(TopicsCommand::Delete { connect, .. }) => connect,
        }
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum TopicsCommand {
    /// Every topic as a table (what `ordo topics` alone prints).
    #[command(visible_alias = "ls")]
    List {
        /// Print the raw JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// One topic's config and offsets, as JSON.
    Show {
        /// The topic to show.
        topic: TopicName,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Create a topic, or set an existing topic's config (omitted settings
    /// go back to their defaults).
    Put {
        /// The topic to create or configure.
        topic: TopicName,
        /// What the topic's cleaner removes.
        #[arg(long, value_enum, default_value = "none")]
        cleanup: CleanupArg,
        /// With `--cleanup delete`: remove records older than this many
        /// milliseconds (by their timestamp).
        #[arg(long, value_name = "MS")]
        retention_ms: Option<u64>,
        /// With `--cleanup delete`: remove the oldest records while the
        /// topic holds more than this many bytes.
        #[arg(long, value_name = "BYTES")]
        retention_bytes: Option<u64>,
        /// With `--cleanup compact`: how long a key's tombstone stays
        /// (default a day).
        #[arg(long, value_name = "MS")]
        tombstone_retention_ms: Option<u64>,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Compact or expire the topic now (passes also run in the
    /// background) and print what was removed.
    Compact {
        /// The topic to clean.
        topic: TopicName,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Delete a topic with its records and every group's position in it.
    Delete {
        /// The topic to delete.
        topic: TopicName,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum CleanupArg {
    /// Keep every record.
    None,
    /// Keep only each key's latest record.
    Compact,
    /// Remove the oldest records past --retention-ms or --retention-bytes.
    Delete,
}

pub async fn run(args: TopicsArgs) -> anyhow::Result<()> {
    match args.command {
        None => list(args.json, &args.connect).await,
        Some(TopicsCommand::List { json, connect }) => list(json || args.json, &connect).await,
        Some(TopicsCommand::Show { topic, connect }) => {
            let shown = connect
                .client()?
                .topic(topic.as_str(), Consistency::Linearizable)
                .await
                .explained(&connect)?;
            match shown {
                Some(info) => print_json(&info),
                None => bail!("topic {topic} does not exist"),
            }
        }
        Some(TopicsCommand::Put {
            topic,
            cleanup,
            retention_ms,
            retention_bytes,
            tombstone_retention_ms,
            connect,
        }) => {
            let cleanup = match cleanup {
                CleanupArg::None => Cleanup::None,
                CleanupArg::Compact => Cleanup::Compact,
                CleanupArg::Delete => Cleanup::Delete,
            };
            let mut config = TopicConfig::new(cleanup, retention_ms, retention_bytes)?;
            if let Some(ms) = tombstone_retention_ms {
                config = config.with_tombstone_retention_ms(ms)?;
            }
            let info = connect
                .client()?
                .put_topic(topic.as_str(), &config)
                .await
                .explained(&connect)?;
            print_json(&info)
        }
        Some(TopicsCommand::Compact { topic, connect }) => {
            let cleaned = connect
                .client()?
                .compact_topic(topic.as_str())
                .await
                .explained(&connect)?;
            print_json(&cleaned)
        }
        Some(TopicsCommand::Delete { topic, connect }) => {
            connect
                .client()?
                .delete_topic(topic.as_str())
                .await
                .explained(&connect)?;
            outln!("topic {topic} deleted")
        }
    }
}

async fn list(json: bool, connect: &ConnectArgs) -> anyhow::Result<()> {
    let list = connect
        .client()?
        .topics(Consistency::Linearizable)
        .await
        .explained(connect)?;
    if json {
        return print_json(&list);
    }
    print(&render_topics(&list.topics))
}

fn render_topics(topics: &[TopicInfo]) -> String {
    let optional = |value: Option<u64>| value.map_or_else(|| "-".to_owned(), |v| v.to_string());
    let rows: Vec<Vec<String>> = topics
        .iter()
        .map(|t| {
            vec![
                t.topic.to_string(),
                t.config.cleanup().to_string(),
                optional(t.config.retention_ms()),
                optional(t.config.retention_bytes()),
                t.start_offset.to_string(),
                t.end_offset.to_string(),
                t.records.to_string(),
                t.bytes.to_string(),
            ]
        })
        .collect();
    render_table(
        &[
            "TOPIC",
            "CLEANUP",
            "RETENTION MS",
            "RETENTION BYTES",
            "START",
            "END",
            "RECORDS",
            "BYTES",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_core::{Offset, TopicName};

    #[test]
    fn the_topic_table_shows_config_and_offsets() {
        let topics = [TopicInfo {
            topic: TopicName::new("orders").unwrap(),
            config: TopicConfig::new(Cleanup::Delete, Some(60_000), None).unwrap(),
            start_offset: Offset(2),
            end_offset: Offset(12),
            records: 10,
            bytes: 4096,
        }];
        assert_eq!(
            render_topics(&topics),
            "TOPIC   CLEANUP  RETENTION MS  RETENTION BYTES  START  END  RECORDS  BYTES\n\
             orders  delete   60000         -                2      12   10       4096\n"
        );
    }
}
