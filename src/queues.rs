//! `ordo queues`: list every work queue as a table (`ordo queues`, `queues
//! list`, `queues ls`), and `show`, `put` and `delete` one (also spelled
//! `ordo queue …`). Through the one `ordo_client::Client`.

use anyhow::bail;
use ordo_api::{PutQueueRequest, QueueInfo};
use ordo_core::{GroupName, TopicName};

use crate::connect::{ConnectArgs, Explain};
use crate::output::{outln, print, print_json, render_table};

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct QueuesArgs {
    #[command(subcommand)]
    pub command: Option<QueuesCommand>,
    /// Print the raw JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

impl QueuesArgs {
    pub fn connect_mut(&mut self) -> &mut ConnectArgs {
        match &mut self.command {
            None => &mut self.connect,
            Some(QueuesCommand::List { connect, .. })
            | Some(QueuesCommand::Show { connect, .. })
            | Some(QueuesCommand::Put { connect, .. })
            | Some(QueuesCommand::Delete { connect, .. }) => connect,
        }
    }
}

/// A queue: the group that works it and the topic of its jobs.
#[derive(clap::Args, Debug)]
pub struct QueueName {
    /// The consumer group whose queue it is.
    pub group: GroupName,
    /// The topic whose records are the jobs.
    pub topic: TopicName,
}

#[derive(clap::Subcommand, Debug)]
pub enum QueuesCommand {
    /// Every queue as a table (what `ordo queues` alone prints).
    #[command(visible_alias = "ls")]
    List {
        /// Print the raw JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// One queue's config and counts, as JSON.
    Show {
        #[command(flatten)]
        queue: QueueName,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Make a queue, or set an existing queue's config (its jobs stay as
    /// they are; omitted settings go back to their defaults).
    Put {
        #[command(flatten)]
        queue: QueueName,
        /// How long a claim holds a job unless the claim or an extend
        /// says otherwise (default 30000).
        #[arg(long, value_name = "MS")]
        lease_ms: Option<u64>,
        /// Deliveries before a job goes to the dead-letter topic (default 5).
        #[arg(long, value_name = "N")]
        max_deliveries: Option<u32>,
        /// Where jobs go after their last delivery (default TOPIC.dlq).
        #[arg(long, value_name = "TOPIC")]
        dead_letter_topic: Option<TopicName>,
        /// Hand a job out only once every earlier job with its key is done.
        #[arg(long)]
        ordered_by_key: bool,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Delete a queue and where its jobs stand (the topic stays).
    Delete {
        #[command(flatten)]
        queue: QueueName,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

pub async fn run(args: QueuesArgs) -> anyhow::Result<()> {
    match args.command {
        None => list(args.json, &args.connect).await,
        Some(QueuesCommand::List { json, connect }) => list(json || args.json, &connect).await,
        Some(QueuesCommand::Show { queue, connect }) => {
            let shown = connect
                .client()?
                .queue(queue.group.as_str(), queue.topic.as_str())
                .await
                .explained(&connect)?;
            match shown {
                Some(info) => print_json(&info),
                None => bail!(
                    "group {} has no queue over topic {}",
                    queue.group,
                    queue.topic
                ),
            }
        }
        Some(QueuesCommand::Put {
            queue,
            lease_ms,
            max_deliveries,
            dead_letter_topic,
            ordered_by_key,
            connect,
        }) => {
            let config = PutQueueRequest {
                lease_ms,
                max_deliveries,
                dead_letter_topic,
                ordered_by_key,
            };
            let info = connect
                .client()?
                .put_queue(queue.group.as_str(), queue.topic.as_str(), &config)
                .await
                .explained(&connect)?;
            print_json(&info)
        }
        Some(QueuesCommand::Delete { queue, connect }) => {
            let deleted = connect
                .client()?
                .delete_queue(queue.group.as_str(), queue.topic.as_str())
                .await
                .explained(&connect)?;
            let (group, topic) = (&queue.group, &queue.topic);
            match deleted {
                true => outln!("the queue of group {group} over topic {topic} deleted"),
                false => bail!("group {group} has no queue over topic {topic}"),
            }
        }
    }
}

async fn list(json: bool, connect: &ConnectArgs) -> anyhow::Result<()> {
    let list = connect.client()?.queues().await.explained(connect)?;
    if json {
        return print_json(&list);
    }
    print(&render_queues(&list.queues))
}

/// One row per queue: where its jobs stand and how long the oldest pending
/// one has waited (`ordo queues`, and `ordo cluster status`).
pub(crate) fn render_queues(queues: &[QueueInfo]) -> String {
    let rows: Vec<Vec<String>> = queues
        .iter()
        .map(|q| {
            vec![
                q.group.to_string(),
                q.topic.to_string(),
                q.pending.to_string(),
                q.in_flight.to_string(),
                q.acked.to_string(),
                q.dead_lettered.to_string(),
                age_text(q.pending, q.oldest_pending_age_ms),
            ]
        })
        .collect();
    render_table(
        &[
            "GROUP",
            "TOPIC",
            "PENDING",
            "IN FLIGHT",
            "ACKED",
            "DEAD-LETTERED",
            "OLDEST PENDING",
        ],
        &rows,
    )
}

/// How long the oldest pending job has waited, in the largest unit that
/// keeps it a small number; `-` when nothing is pending.
fn age_text(pending: u64, age_ms: u64) -> String {
    const SECOND: u64 = 1_000;
    const MINUTE: u64 = 60 * SECOND;
    const HOUR: u64 = 60 * MINUTE;
    match age_ms {
        _ if pending == 0 => "-".to_owned(),
        ms if ms < SECOND => format!("{ms} ms"),
        ms if ms < MINUTE => format!("{:.1} s", ms as f64 / SECOND as f64),
        ms if ms < HOUR => format!("{} min", ms / MINUTE),
        ms => format!("{} h", ms / HOUR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_api::QueueSettings;
    use ordo_core::Offset;

    #[test]
    fn the_queue_table_shows_where_jobs_stand() {
        let queues = [QueueInfo {
            group: GroupName::new("mailers").unwrap(),
            topic: TopicName::new("emails").unwrap(),
            config: QueueSettings {
                lease_ms: 30_000,
                max_deliveries: 5,
                dead_letter_topic: TopicName::new("emails.dlq").unwrap(),
                ordered_by_key: false,
            },
            floor_offset: Offset(10),
            end_offset: Offset(20),
            pending: 7,
            in_flight: 2,
            acked: 11,
            dead_lettered: 1,
            oldest_pending_age_ms: 2_500,
        }];
        assert_eq!(
            render_queues(&queues),
            "GROUP    TOPIC   PENDING  IN FLIGHT  ACKED  DEAD-LETTERED  OLDEST PENDING\n\
             mailers  emails  7        2          11     1              2.5 s\n"
        );
    }

    #[test]
    fn ages_read_in_a_fitting_unit() {
        assert_eq!(age_text(0, 5_000), "-");
        assert_eq!(age_text(1, 40), "40 ms");
        assert_eq!(age_text(1, 59_900), "59.9 s");
        assert_eq!(age_text(1, 125_000), "2 min");
        assert_eq!(age_text(1, 7_300_000), "2 h");
    }
}
