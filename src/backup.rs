//! `ordo backup` and `ordo restore`: a node's applied state to a file
//! (`GET /v1/admin/snapshot`), and a new node's data dir seeded from one
//! (`ordo_node::restore`), for a cluster that starts from the backup.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use ordo_core::NodeId;

use crate::connect::ConnectArgs;
use crate::output::outln;
use crate::serve;

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// The file to write (replaced only once the whole backup is in).
    #[arg(long)]
    to: PathBuf,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// A backup written by `ordo backup` (or `GET /v1/admin/snapshot`).
    #[arg(long)]
    from: PathBuf,
    /// The new node's data dir; must not hold a node's state yet.
    #[arg(long)]
    data_dir: PathBuf,
    /// The id the new node will run as (`ordo serve --node-id`).
    #[arg(long)]
    node_id: NodeId,
    /// The new cluster's voters, `1=host:port,2=host:port,...`, the same on
    /// every node restored; without it the backup's membership is kept.
    #[arg(long)]
    peers: Option<String>,
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let addr = args.connect.addr.first().context("--addr names a node")?;
    let url = format!(
        "{}/v1/admin/snapshot",
        ordo_client::addr::normalize_addr(addr)?
    );
    // No overall deadline: a large backup takes as long as it takes; a
    // stalled one fails on the connect or read timeout.
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(args.connect.timeout_ms))
        .read_timeout(Duration::from_millis(args.connect.timeout_ms))
        .build()?;
    let mut request = client.get(&url);
    if let Some(token) = args.connect.api_token()? {
        request = request.bearer_auth(token.expose());
    }
    let mut response = request.send().await.with_context(|| format!("GET {url}"))?;
    if !response.status().is_success() {
        let status = response.status();
        bail!(
            "GET {url}: {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned()
    };
    let (index, term) = (header("ordo-snapshot-index"), header("ordo-snapshot-term"));
    let expected = response.content_length();
    let partial = args.to.with_extension("partial");
    let mut file = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await.context("reading the backup")? {
        file.write_all(&chunk)
            .with_context(|| format!("writing {}", partial.display()))?;
        written += chunk.len() as u64;
    }
    if expected.is_some_and(|expected| expected != written) {
        bail!(
            "the backup ended after {written} of {expected:?} bytes; {} is incomplete",
            partial.display()
        );
    }
    file.sync_all()?;
    std::fs::rename(&partial, &args.to)
        .with_context(|| format!("renaming {} to {}", partial.display(), args.to.display()))?;
    outln!(
        "backup of log index {index} (term {term}), {written} bytes, in {}",
        args.to.display()
    )
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let peers = args
        .peers
        .as_deref()
        .map(serve::settings::parse_peers)
        .transpose()?;
    serve::claim_data_dir(&args.data_dir, args.node_id)?;
    let restored = ordo_node::restore::restore(
        &args.data_dir.join(serve::STORE_DIR),
        &ordo_store::StoreOptions::default(),
        &args.from,
        args.node_id,
        peers.as_ref(),
    )
    .await
    .with_context(|| {
        format!(
            "restoring {} into {}",
            args.from.display(),
            args.data_dir.display()
        )
    })?;
    let members: Vec<String> = restored
        .members
        .iter()
        .map(|(id, addr)| format!("{id}={addr}"))
        .collect();
    outln!(
        "restored log index {} (term {}) into {} for node {}; voters {}",
        restored.last_log_index,
        restored.term,
        args.data_dir.display(),
        args.node_id,
        members.join(",")
    )
}
