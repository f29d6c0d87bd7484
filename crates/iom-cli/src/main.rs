//! The `iom` binary.

mod bench;
mod config;
mod demo;
mod flow;
mod import;
mod simulate;
mod token;
mod user;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

/// Parsing and transforming documents allocates many small values (jq runs on a tree of them);
/// with mimalloc the Shopify transformation ran about twice as fast as with the system
/// allocator (`iom bench providers`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "iom", version, about = "Intelligent Order Management")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Serve a ready demo on SQLite with a stream of simulated orders; prints the URL and an
    /// admin token.
    Demo(demo::DemoArgs),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Create, list and disable the people who sign in to the web UI.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Load files into the database: inventory counts, or orders through a provider instance.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Replay orders against the network once per profile and compare what each would cost.
    Simulate(simulate::SimulateArgs),
    /// Measure throughput and latency.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Check and draw flow definitions.
    #[command(subcommand)]
    Flow(flow::FlowCommand),
    /// The setup as one YAML file: export it, or import one (`--dry-run` to see the difference).
    #[command(subcommand)]
    Config(config::ConfigCommand),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "IOM_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    db: DatabaseArg,
    /// An admin token that exists after start (created or updated).
    #[arg(long, env = "IOM_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Seals provider and subscription secrets. Without it, a SQLite database gets a key file
    /// beside it (`PATH.key`); on PostgreSQL secrets are refused.
    #[arg(long, env = "IOM_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// Publish business events to NATS JetStream (subjects `iom.<type>`).
    #[arg(long, env = "IOM_NATS_URL")]
    nats_url: Option<String>,
    /// Run the published flows (`off` leaves orders as captured).
    #[arg(long, env = "IOM_FLOWS", default_value = "on", value_parser = on_off)]
    flows: bool,
    /// Cancel backordered orders after this many days without supply (0: never).
    #[arg(long, env = "IOM_BACKORDER_CANCEL_DAYS", default_value_t = 30)]
    backorder_cancel_days: u32,
    /// The SMTP server notifications are sent through: `smtp://host:port`,
    /// `smtps://user:pass@host:port` (without it e-mails wait, `pending`).
    #[arg(long, env = "IOM_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The sender of notification e-mails.
    #[arg(long, env = "IOM_SMTP_FROM", default_value = "iom <iom@localhost>")]
    smtp_from: String,
    /// The wait after a notification's first failed attempt, doubling (milliseconds).
    #[arg(long, env = "IOM_NOTIFY_BACKOFF_MS", default_value_t = 1000)]
    notify_backoff_ms: u64,
    /// The longest wait between two attempts at a notification (milliseconds).
    #[arg(long, env = "IOM_NOTIFY_MAX_BACKOFF_MS", default_value_t = 600_000)]
    notify_max_backoff_ms: u64,
    /// How long a notification being sent is held before another process may take it up, when
    /// the sender died (milliseconds).
    #[arg(long, env = "IOM_NOTIFY_CLAIM_MS", default_value_t = 60_000)]
    notify_claim_ms: u64,
    /// Sign people in to the web UI through this OpenID Connect issuer (with the client id and
    /// secret below); users are created by an admin first and linked on first sign-in.
    #[arg(long, env = "IOM_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    #[arg(long, env = "IOM_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    #[arg(long, env = "IOM_OIDC_CLIENT_SECRET", hide_env_values = true)]
    oidc_client_secret: Option<String>,
    /// How long a web UI session lasts after signing in (hours).
    #[arg(long, env = "IOM_SESSION_HOURS", default_value_t = 12)]
    session_hours: u64,
}

fn on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        other => Err(format!("{other:?}: use on or off")),
    }
}

#[derive(clap::Args, Clone)]
pub struct DatabaseArg {
    /// `sqlite://PATH` (created and migrated on first start) or `postgres://…`.
    #[arg(
        long = "database",
        env = "IOM_DATABASE_URL",
        default_value = "sqlite://iom.db"
    )]
    pub url: String,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IOM_LOG")
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Token(cmd) => token::run(cmd).await,
            Command::User(cmd) => user::run(cmd).await,
            Command::Simulate(args) => simulate::run(args).await,
            Command::Import(cmd) => import::run(cmd).await,
            Command::Bench(cmd) => bench::run(cmd).await,
            Command::Flow(cmd) => flow::run(cmd).await,
            Command::Config(cmd) => config::run(cmd).await,
        }
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let oidc = match (
        args.oidc_issuer.filter(|v| !v.is_empty()),
        args.oidc_client_id.filter(|v| !v.is_empty()),
        args.oidc_client_secret.filter(|v| !v.is_empty()),
    ) {
        (Some(issuer), Some(client_id), Some(client_secret)) => {
            Some(iom_app::people::oidc::OidcSettings {
                issuer,
                client_id,
                client_secret,
            })
        }
        (None, None, None) => None,
        _ => anyhow::bail!(
            "set all of IOM_OIDC_ISSUER, IOM_OIDC_CLIENT_ID and IOM_OIDC_CLIENT_SECRET, or none"
        ),
    };
    if args.session_hours == 0 {
        anyhow::bail!("IOM_SESSION_HOURS must be at least 1");
    }
    let running = iom_server::spawn(iom_server::Config {
        listen: args.listen,
        app: iom_app::Config {
            database_url: args.db.url.clone(),
            admin_token: args.admin_token,
            master_key: args.master_key,
            nats_url: args.nats_url,
            flows: args.flows,
            backorder_cancel_days: (args.backorder_cancel_days > 0)
                .then_some(args.backorder_cancel_days),
            notifications: iom_app::notifications::Settings {
                smtp_url: args.smtp_url.filter(|u| !u.is_empty()),
                from: args.smtp_from,
                first_backoff: Duration::from_millis(args.notify_backoff_ms.max(1)),
                max_backoff: Duration::from_millis(args.notify_max_backoff_ms.max(1)),
                claim: Duration::from_millis(args.notify_claim_ms.max(100)),
                ..Default::default()
            },
            people: iom_app::people::Settings {
                session_lifetime: Duration::from_secs(args.session_hours * 3600),
                oidc,
            },
            ..Default::default()
        },
    })
    .await?;
    // On stdout, so that scripts (and `--listen 127.0.0.1:0`) learn the address.
    println!("iom listening on {}", running.url());
    tracing::info!(url = %running.url(), database = %iom_app::redact(&args.db.url), "serving");
    iom_server::shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}
