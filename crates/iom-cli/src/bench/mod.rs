//! `iom bench …`: programs that drive the real system and print figures.

mod intake;
mod providers;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Orders per second and latency of `POST /api/v1/orders` with concurrent clients.
    Intake(intake::IntakeArgs),
    /// X12 parsing MB/s, Shopify webhooks to committed orders per second, outbound webhook
    /// deliveries per second.
    Providers(providers::ProvidersArgs),
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Intake(args) => intake::run(args).await,
        BenchCommand::Providers(args) => providers::run(args).await,
    }
}
