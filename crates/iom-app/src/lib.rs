//! iom's application layer: every use case, written once. The HTTP handlers and the web UI
//! (`iom-server`), the flow steps (`flow`) and the command line (`iom-cli`) all call these same
//! functions, so what an order can go through cannot differ by the door it came in.
//!
//! - [`orders`]: capture an order and act on it (hold, release, cancel, ship, deliver), with what
//!   each change does to inventory committed in the same transaction.
//! - [`fulfillment`]: locate a ship-to, plan one order or a brokering run, commit a plan
//!   (reserve its assignments, allocate or backorder its lines).
//! - [`inventory`]: on-hand changes, reservations, allocations, ATP; the engine's decisions
//!   (`iom-inventory`) run inside store transactions.
//! - [`returns`]: the return lifecycle and refunds a channel reports.
//! - [`tax`]: tax calculated, committed and voided through a tax service.
//! - [`payments`]: authorisation, captures per shipment and refunds through a payment service.
//! - [`pipeline`]: provider instances, inbound documents, outbound actions and documents, event
//!   delivery to subscribers and NATS.
//! - [`flow`]: the durable flow executor, whose steps call the use cases above.
//! - [`insights`]: the anomaly and alert worker.
//! - [`notifications`]: templates, and the e-mails and webhooks business events cause.
//! - [`access`]: roles, and what each may do.
//!
//! [`App`] holds what they share, and [`App::spawn_workers`] starts the background work.

pub mod access;
pub mod config;
pub mod flow;
pub mod fulfillment;
pub mod insights;
pub mod inventory;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod people;
pub mod pipeline;
pub mod returns;
pub mod settlement;
pub mod shipping;
pub mod tax;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use iom_store::Store;
use tokio::task::JoinHandle;

pub use inventory::Inventory;

/// What the application needs to run, whatever serves it.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// When set, an admin token with exactly this value exists after start.
    pub admin_token: Option<String>,
    /// How often expired reservations are released.
    pub sweep_interval: Duration,
    /// Seals connection and subscription secrets (`IOM_MASTER_KEY`); see `pipeline::master_key`
    /// for what happens without it.
    pub master_key: Option<String>,
    /// When set, business events are published to NATS JetStream (`IOM_NATS_URL`).
    pub nats_url: Option<String>,
    /// How often the insights worker looks for anomalies and evaluates alerts.
    pub insights_every: Duration,
    /// The bucket of the series judged for anomalies (`hour`; the demo uses `minute`).
    pub anomaly_interval: iom_insights::Interval,
    /// Runs the published flows (the default order flow among them). On by default; off only
    /// where orders must stay as captured (`IOM_FLOWS=off`, tests of other parts).
    pub flows: bool,
    /// Backordered orders are cancelled after this many days without supply; `None` keeps them.
    pub backorder_cancel_days: Option<u32>,
    /// The SMTP server and the retry policy of notifications.
    pub notifications: notifications::Settings,
    /// Signing in to the web UI: session lifetime, OpenID Connect.
    pub people: people::Settings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://iom.db".into(),
            admin_token: None,
            sweep_interval: Duration::from_secs(1),
            master_key: None,
            nats_url: None,
            insights_every: Duration::from_secs(2),
            anomaly_interval: iom_insights::Interval::Hour,
            flows: true,
            backorder_cancel_days: Some(30),
            notifications: notifications::Settings::default(),
            people: people::Settings::default(),
        }
    }
}

/// The application: the store and the services every use case reaches. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub inventory: Inventory,
    pub pipeline: Arc<pipeline::Pipeline>,
    /// Runs the published flows (when `Config::flows` is on) and manages definitions and tasks.
    pub executor: flow::Executor,
    /// Users, sessions and signing in.
    pub people: people::People,
}

impl App {
    /// Opens (creating and migrating) the database, stores the admin token, prepares the master
    /// key and publishes the default flows on a new database.
    pub async fn open(config: &Config) -> anyhow::Result<App> {
        let store = Store::open(&config.database_url)
            .await
            .with_context(|| format!("opening the database {}", redact(&config.database_url)))?;
        if let Some(token) = &config.admin_token {
            store
                .put_token(
                    "admin (IOM_ADMIN_TOKEN)".into(),
                    "admin".into(),
                    token.clone(),
                )
                .await
                .context("storing IOM_ADMIN_TOKEN")?;
        }
        let (key, source) =
            pipeline::master_key(config.master_key.as_deref(), &config.database_url)
                .context("preparing the master key")?;
        if source == pipeline::KeySource::None {
            tracing::warn!(
                "IOM_MASTER_KEY is not set: provider and subscription secrets cannot be stored"
            );
        }
        // A bad IOM_SMTP_URL or sender stops the start, not the first e-mail.
        notifications::send::server(&config.notifications)?;
        config
            .notifications
            .from
            .parse::<lettre::message::Mailbox>()
            .with_context(|| format!("IOM_SMTP_FROM {:?}", config.notifications.from))?;
        let pipeline = Arc::new(pipeline::Pipeline::new(key));
        let executor = flow::Executor::new(
            store.clone(),
            Arc::new(pipeline::flow_calls::ProviderCalls {
                store: store.clone(),
                pipeline: pipeline.clone(),
            }),
            flow::ExecutorConfig {
                backorder_cancel_after: config
                    .backorder_cancel_days
                    .map(|d| Duration::from_secs(u64::from(d) * 86_400)),
                ..Default::default()
            },
        );
        executor
            .install_defaults()
            .await
            .context("installing the default flows")?;
        Ok(App {
            inventory: Inventory::new(store.clone()),
            people: people::People::new(store.clone(), config.people.clone()),
            store,
            pipeline,
            executor,
        })
    }

    /// Background work: releasing expired reservations, finishing inbound messages a stopped
    /// process left behind, delivering business events to subscriptions (and to NATS when
    /// configured), turning events into outbound documents and sending them, polling the sources
    /// that must be pulled, looking for anomalies, deriving and sending notifications, and running
    /// flows.
    pub fn spawn_workers(&self, config: &Config) -> Vec<JoinHandle<()>> {
        let resume = {
            let app = self.clone();
            tokio::spawn(async move {
                match app.pipeline.resume(&app.store).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(messages = n, "resumed unfinished inbound messages"),
                    Err(e) => tracing::warn!(error = %e, "cannot resume inbound messages"),
                }
            })
        };
        let mut workers = vec![
            tokio::spawn(sweep_reservations(
                self.inventory.clone(),
                config.sweep_interval,
            )),
            resume,
            pipeline::delivery::spawn(self.clone(), Duration::from_secs(30)),
            pipeline::documents::spawn(self.clone()),
            pipeline::sender::spawn(self.clone()),
            pipeline::pull::spawn(self.clone()),
            notifications::derive::spawn(self.clone()),
            settlement::spawn(self.clone()),
            tokio::spawn(insights::run(
                self.store.clone(),
                config.anomaly_interval,
                config.insights_every,
            )),
        ];
        match notifications::send::spawn(self.clone(), config.notifications.clone()) {
            Ok(sender) => workers.push(sender),
            // Checked in `App::open`; only a changed configuration gets here.
            Err(e) => tracing::error!(error = %e, "notifications are not sent"),
        }
        if let Some(url) = config.nats_url.clone().filter(|u| !u.is_empty()) {
            workers.push(pipeline::nats::spawn(self.clone(), url));
        }
        if config.flows {
            workers.push(self.executor.spawn());
        }
        workers
    }
}

/// Releases expired reservations, forever; each run announces `reservation.expired`.
async fn sweep_reservations(inventory: Inventory, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match inventory.expire_due().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "released expired reservations"),
            Err(e) => tracing::warn!(error = %e, "reservation sweep failed"),
        }
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
