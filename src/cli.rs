//! CLI subcommands (placeholder until the client helper fills it in).
#[derive(clap::Args)]
pub struct AppendArgs {}
#[derive(clap::Args)]
pub struct ReadArgs {}
#[derive(clap::Subcommand)]
pub enum ClusterCommand {
    Status,
}
pub async fn append(_: AppendArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
pub async fn read(_: ReadArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
pub async fn cluster(_: ClusterCommand) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
