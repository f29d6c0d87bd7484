//! Drives `POST /api/v1/orders` over real HTTP with N concurrent clients and prints orders/s and
//! latency percentiles. Without `--url` it starts a server in this process on a fresh database with
//! its flows off, so the figures are order capture alone (and include the bench client's own cost
//! on the same machine); `iom bench journey` measures orders as `iom serve` handles them.

use std::time::Duration;

use anyhow::bail;

use super::cluster::{Cluster, Row, Setting, sweep};
use super::load::{Target, drive, drive_clients};

#[derive(clap::Args)]
pub struct IntakeArgs {
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Orders to send in the measured run.
    #[arg(long, default_value_t = 20_000)]
    orders: usize,
    /// Orders sent before measuring (connections, caches).
    #[arg(long, default_value_t = 1_000)]
    warmup: usize,
    /// Lines per order.
    #[arg(long, default_value_t = 3)]
    lines: usize,
    /// A running server; without it one is started in this process.
    #[arg(long)]
    url: Option<String>,
    /// Token for `--url`.
    #[arg(long, env = "IOM_TOKEN")]
    token: Option<String>,
    /// Database of the in-process server: a fresh SQLite file when absent, or `postgres://…`.
    #[arg(long)]
    database: Option<String>,
    /// Send to this many `iom serve` child processes (flows on, as users run them) instead of
    /// an in-process server, each client sticking to one; a list (`1,2,4`) runs each in turn.
    #[arg(long, value_delimiter = ',', conflicts_with = "url")]
    processes: Vec<usize>,
    /// Round trip in ms added between every process and PostgreSQL by a delaying TCP proxy
    /// (half each way); a list (`0,1,2`) runs each in turn. Implies child processes.
    #[arg(long, value_delimiter = ',', conflicts_with = "url")]
    db_latency_ms: Vec<f64>,
}

pub async fn run(args: IntakeArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.lines == 0 {
        bail!("--clients and --lines must be at least 1");
    }
    if !args.processes.is_empty() || !args.db_latency_ms.is_empty() {
        let dir = tempfile::tempdir()?;
        let database = args
            .database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
        return sweep(&database, &args.processes, &args.db_latency_ms, |setting| {
            run_on_processes(&args, setting)
        })
        .await;
    }
    let target = Target::start(args.url.clone(), args.token.clone(), args.database.clone()).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    let run_id = chrono::Utc::now().timestamp_micros();
    let send = |prefix: String| {
        let (client, endpoint, auth, lines) = (
            client.clone(),
            format!("{}/api/v1/orders", target.url),
            format!("Bearer {}", target.token),
            args.lines,
        );
        move |i: usize| {
            client
                .post(&endpoint)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(order_body(&prefix, i, lines))
        }
    };
    let warm = drive(
        args.clients,
        args.warmup,
        &[201],
        send(format!("w{run_id}")),
    )
    .await?;
    if warm.errors > 0 {
        eprintln!(
            "warm-up: {} errors (first: {})",
            warm.errors,
            warm.first_error.unwrap_or_default()
        );
    }
    let report = drive(
        args.clients,
        args.orders,
        &[201],
        send(format!("m{run_id}")),
    )
    .await?;
    // The in-process server runs no flows: this is capture alone (`bench journey` measures
    // orders as `iom serve` handles them, flows on).
    let scope = if target.server.is_some() {
        "capture only, flows off"
    } else {
        "the server at --url"
    };
    println!(
        "intake ({scope}): {} orders of {} lines, {} concurrent clients, {} server",
        args.orders, args.lines, args.clients, target.backend
    );
    println!(
        "throughput ({scope}): {:.0} orders/s ({:.2} s)",
        report.per_second(),
        report.elapsed.as_secs_f64()
    );
    println!("latency: {}", report.latency_line());
    report.print_errors();
    target.stop().await;
    Ok(())
}

/// The intake bench against `iom serve` child processes, as in production: flows on, the
/// database maybe a round trip away.
async fn run_on_processes(args: &IntakeArgs, setting: Setting) -> anyhow::Result<Row> {
    let cluster = Cluster::start(
        &setting.database,
        setting.processes,
        setting.db_round_trip(),
    )
    .await?;
    let run_id = chrono::Utc::now().timestamp_micros();
    let client = reqwest::Client::new();
    let send = |prefix: String| {
        let endpoints: Vec<String> = (0..args.clients)
            .map(|c| format!("{}/api/v1/orders", cluster.url_for(c)))
            .collect();
        let (client, auth, lines) = (
            client.clone(),
            format!("Bearer {}", cluster.token),
            args.lines,
        );
        move |c: usize, i: usize| {
            client
                .post(&endpoints[c])
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(order_body(&prefix, i, lines))
        }
    };
    let outcome = async {
        let warm = drive_clients(
            args.clients,
            args.warmup,
            &[201],
            send(format!("w{run_id}")),
        )
        .await?;
        if warm.errors > 0 {
            eprintln!(
                "warm-up: {} errors (first: {})",
                warm.errors,
                warm.first_error.unwrap_or_default()
            );
        }
        drive_clients(
            args.clients,
            args.orders,
            &[201],
            send(format!("m{run_id}")),
        )
        .await
    }
    .await;
    cluster.stop().await;
    let report = outcome?;
    println!(
        "intake (iom serve, flows on): {} orders of {} lines, {} concurrent clients over {} process(es), database round trip +{} ms",
        args.orders, args.lines, args.clients, setting.processes, setting.db_latency_ms
    );
    println!(
        "throughput: {:.0} orders/s ({:.2} s)",
        report.per_second(),
        report.elapsed.as_secs_f64()
    );
    println!("latency: {}", report.latency_line());
    report.print_errors();
    Ok(Row {
        throughput: report.per_second(),
        unit: "orders/s",
        p99_ms: report.percentile_ms(0.99),
        p99_of: "intake request",
    })
}

/// A realistic web order: customer, geocoded ship-to, `lines` lines of different SKUs.
pub(crate) fn order_body(prefix: &str, i: usize, lines: usize) -> String {
    let lines: Vec<serde_json::Value> = (0..lines)
        .map(|l| {
            serde_json::json!({
                "line_no": l + 1,
                "sku": format!("SKU-{}", (i * 7 + l * 13) % 5000),
                "quantity": 1 + (i + l) % 3,
                "unit_price": format!("{}.{:02}", 5 + (i + l) % 95, (i * 31 + l) % 100),
            })
        })
        .collect();
    serde_json::json!({
        "channel": "bench",
        "external_id": format!("{prefix}-{i}"),
        "currency": "USD",
        "placed_at": "2026-11-26T10:00:00Z",
        "customer": {"id": format!("C-{}", i % 10_000), "email": format!("c{}@example.com", i % 10_000), "name": "Bench Customer"},
        "ship_to": {"name": "Bench Customer", "line1": "1 Main St", "city": "Seattle", "region": "WA",
                    "postal_code": "98101", "country": "US", "lat": 47.61, "lon": -122.33},
        "lines": lines,
        "ship_method": "standard",
    })
    .to_string()
}
