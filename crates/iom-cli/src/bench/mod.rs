//! `iom bench …`: programs that drive the real system and print figures.

mod carrier;
mod cluster;
mod delay_proxy;
mod documents;
mod dom;
mod flow;
mod insights;
mod intake;
mod inventory;
mod journey;
mod load;
mod locate;
mod notifications;
mod payments;
mod providers;
mod reads;
mod returns;
mod sign_in;
mod ui;
mod webhooks;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Orders per second and latency of `POST /api/v1/orders` with concurrent clients.
    Intake(intake::IntakeArgs),
    /// Inventory changes/s, reservations/s (spread and on one hot SKU), availability latency.
    Inventory(inventory::InventoryArgs),
    /// Fulfilment optimisation: heuristic latency, exact batch time, gap and saving vs closest.
    Dom(dom::DomArgs),
    /// Outbound X12 documents/s: a real `iom serve` draining a backlog of shipped orders.
    Documents(documents::DocumentsArgs),
    /// X12 parsing MB/s, Shopify webhooks to committed orders per second, outbound webhook
    /// deliveries per second.
    Providers(providers::ProvidersArgs),
    /// `GET /api/v1/orders/{id}` from concurrent clients on `iom serve`: reads/s, p50/p99/max,
    /// and the server's resident memory before and after.
    Reads(reads::ReadsArgs),
    /// Return authorisations and receipts (restocking) per second over HTTP.
    Returns(returns::ReturnsArgs),
    /// KPI endpoint latency with 100,000 orders in the store, and the lag from an order's commit
    /// to the KPIs that count it.
    Insights(insights::InsightsArgs),
    /// The default order flow end to end: runs/s from received to released, step time p50.
    Flow(flow::FlowArgs),
    /// Orders through their whole life on a real `iom serve` process: intake, released by the
    /// default flow, shipped, delivered; orders/s per stage and intake → released latency.
    Journey(journey::JourneyArgs),
    /// Locating a ship-to without coordinates from the shipped place data: load time and memory,
    /// lookup p50/p99 by postal code, city and country.
    Locate(locate::LocateArgs),
    /// E-mails/s handed to a local SMTP server (aiosmtpd), and order intake with the
    /// confirmation e-mail on vs off (A B A B A B).
    Notifications(notifications::NotificationsArgs),
    /// Server time of every web UI page with 100,000 orders in the store.
    Ui(ui::UiArgs),
    /// Shopify `orders/create` webhooks to committed orders per second: signed posts from
    /// concurrent clients to a real `iom serve` child process.
    Webhooks(webhooks::WebhooksArgs),
    /// Shipping through a carrier (a local EasyPost answering in 20 ms): planning a 5-line order
    /// with carrier rates (p50/p99), and tracker webhooks per second.
    Carrier(carrier::CarrierArgs),
    /// The default flow with tax and payment on (a local AvaTax and Stripe answering in 20 ms):
    /// orders/s from `received` to `released`, taxed and authorised.
    Payments(payments::PaymentsArgs),
    /// Web UI sign-ins with e-mail and password (argon2id at its recommended cost): sign-ins/s
    /// and p50/p99 with concurrent clients.
    SignIn(sign_in::SignInArgs),
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Intake(args) => intake::run(args).await,
        BenchCommand::Inventory(args) => inventory::run(args).await,
        BenchCommand::Dom(args) => dom::run(args).await,
        BenchCommand::Providers(args) => providers::run(args).await,
        BenchCommand::Documents(args) => documents::run(args).await,
        BenchCommand::Reads(args) => reads::run(args).await,
        BenchCommand::Returns(args) => returns::run(args).await,
        BenchCommand::Insights(args) => insights::run(args).await,
        BenchCommand::Flow(args) => flow::run(args).await,
        BenchCommand::Journey(args) => journey::run(args).await,
        BenchCommand::Locate(args) => locate::run(args).await,
        BenchCommand::Notifications(args) => notifications::run(args).await,
        BenchCommand::Ui(args) => ui::run(args).await,
        BenchCommand::Webhooks(args) => webhooks::run(args).await,
        BenchCommand::Carrier(args) => carrier::run(args).await,
        BenchCommand::Payments(args) => payments::run(args).await,
        BenchCommand::SignIn(args) => sign_in::run(args).await,
    }
}

/// Starts `iom serve` on `database` as users run it, as a child process (killed when dropped),
/// and waits until it is listening (its first line on standard output).
pub(crate) async fn serve_child(
    database: &str,
    flows: bool,
) -> anyhow::Result<tokio::process::Child> {
    Ok(serve_child_as(database, flows, &[]).await?.0)
}

/// As [`serve_child`], with more environment (`IOM_ADMIN_TOKEN` to call its API,
/// `IOM_MASTER_KEY` to store secrets on PostgreSQL); also returns the URL it listens on.
pub(crate) async fn serve_child_as(
    database: &str,
    flows: bool,
    env: &[(&str, &str)],
) -> anyhow::Result<(tokio::process::Child, String)> {
    cluster::serve(database, Some(flows), env).await
}
