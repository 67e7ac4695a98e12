//! Local cluster launcher (placeholder until the launcher helper fills it in).
#[derive(clap::Args)]
pub struct LocalClusterArgs {}
pub async fn run(_: LocalClusterArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
