//! `iom demo`: a ready system on SQLite with a steady stream of simulated business, so every
//! screen and dashboard moves. It seeds a network of nodes at real city coordinates, inventory,
//! profiles, provider instances, alerts and two weeks of order history through the public API,
//! prints the URL, an admin user's e-mail and password for the web UI and an admin token, then runs the simulation (see [`sim`]) until stopped.

mod seed;
mod sim;

use std::net::SocketAddr;

use anyhow::Context;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, env = "IOM_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The demo database; kept between runs (a second run goes on where the first stopped).
    #[arg(long = "database", default_value = "sqlite://iom-demo.db")]
    database: String,
    /// The admin token; a new random one when absent.
    #[arg(long, env = "IOM_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// New orders per second, across all channels.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    /// Days of order history seeded on the first run, so month and trend figures have data.
    #[arg(long, default_value_t = 14)]
    history_days: i64,
    /// Orders per day in the seeded history.
    #[arg(long, default_value_t = 150)]
    history_per_day: usize,
}

/// The demo's admin user, for the web UI.
const DEMO_EMAIL: &str = "admin@demo.iom";

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if !(args.rate > 0.0 && args.rate <= 500.0) {
        anyhow::bail!("--rate must be above 0 and at most 500 orders per second");
    }
    let token = args
        .admin_token
        .clone()
        .unwrap_or_else(iom_server::auth::generate_token);
    let running = iom_server::spawn(iom_server::Config {
        listen: args.listen,
        app: iom_app::Config {
            database_url: args.database.clone(),
            admin_token: Some(token.clone()),
            master_key: Some(
                std::env::var("IOM_MASTER_KEY").unwrap_or_else(|_| "iom demo master key".into()),
            ),
            // Minute buckets: with a stream of a few orders a second, anomalies show within minutes.
            anomaly_interval: iom_insights::Interval::Minute,
            ..Default::default()
        },
    })
    .await
    .context("starting the demo server")?;
    let url = running.url();
    let api = sim::Api::new(&url, &token)?;
    let fresh = seed::seed(
        &api,
        &running.state.store,
        args.history_days,
        args.history_per_day,
    )
    .await
    .context("seeding the demo")?;
    // A new password each run: the demo database is kept between runs, its passwords are not.
    let password = hex::encode(rand::random::<[u8; 10]>());
    iom_app::people::users::put(
        &running.state.store,
        DEMO_EMAIL,
        iom_app::people::users::Update {
            role: Some("admin".into()),
            password: Some(password.clone()),
            disabled: Some(false),
        },
    )
    .await
    .context("creating the demo admin user")?;
    // On stdout, so that scripts learn the address and token.
    println!("iom demo running at {url}");
    println!("sign in at {url}/ui as {DEMO_EMAIL} with password {password}");
    println!("admin token: {token}");
    println!("try: curl -H 'Authorization: Bearer {token}' {url}/api/v1/insights/kpis");
    tracing::info!(
        database = %args.database,
        seeded = fresh,
        rate = args.rate,
        "demo ready; simulating orders, shipments, deliveries and returns"
    );
    let simulation = tokio::spawn(sim::run(api, running.state.app.clone(), args.rate));
    iom_server::shutdown_signal().await;
    simulation.abort();
    running.stop().await;
    Ok(())
}
