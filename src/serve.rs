//! `ordo serve` (placeholder).
#[derive(clap::Args)]
pub struct ServeArgs {}
pub async fn run(_: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
