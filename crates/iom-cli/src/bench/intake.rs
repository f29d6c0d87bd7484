//! Drives `POST /api/v1/orders` over real HTTP with N concurrent clients and prints orders/s and
//! latency percentiles. Without `--url` it starts a server in this process on a fresh database, so
//! the figures include the bench client's own cost on the same machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use iom_server::auth::generate_token;

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
}

pub async fn run(args: IntakeArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.lines == 0 {
        bail!("--clients and --lines must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let (url, token, backend, server) = match &args.url {
        Some(url) => {
            let token = args.token.clone().context("--url needs --token")?;
            (
                url.trim_end_matches('/').to_owned(),
                token,
                "remote".to_owned(),
                None,
            )
        }
        None => {
            let database_url = args
                .database
                .clone()
                .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
            let token = generate_token();
            let running = iom_server::spawn(iom_server::Config {
                listen: "127.0.0.1:0".parse()?,
                database_url: database_url.clone(),
                admin_token: Some(token.clone()),
                master_key: None,
                nats_url: None,
            })
            .await?;
            let backend = if database_url.starts_with("postgres") {
                "postgresql"
            } else {
                "sqlite"
            };
            (running.url(), token, backend.to_owned(), Some(running))
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    let run_id = chrono::Utc::now().timestamp_micros();

    let warm = drive(
        &client,
        &url,
        &token,
        &args,
        args.warmup,
        &format!("w{run_id}"),
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
        &client,
        &url,
        &token,
        &args,
        args.orders,
        &format!("m{run_id}"),
    )
    .await?;

    let h = &report.latency;
    println!(
        "intake: {} orders of {} lines, {} concurrent clients, {} server",
        args.orders, args.lines, args.clients, backend
    );
    println!(
        "throughput: {:.0} orders/s ({:.2} s)",
        args.orders as f64 / report.elapsed.as_secs_f64(),
        report.elapsed.as_secs_f64()
    );
    println!(
        "latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    );
    println!("errors: {}", report.errors);
    if let Some(e) = report.first_error {
        println!("first error: {e}");
    }
    if let Some(server) = server {
        server.stop().await;
    }
    Ok(())
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

struct Report {
    elapsed: Duration,
    latency: Histogram<u64>,
    errors: usize,
    first_error: Option<String>,
}

async fn drive(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    args: &IntakeArgs,
    count: usize,
    prefix: &str,
) -> anyhow::Result<Report> {
    let next = Arc::new(AtomicUsize::new(0));
    let endpoint = format!("{url}/api/v1/orders");
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let client = client.clone();
        let endpoint = endpoint.clone();
        let auth = format!("Bearer {token}");
        let next = next.clone();
        let prefix = prefix.to_owned();
        let lines = args.lines;
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
            let mut errors = 0usize;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let body = order_body(&prefix, i, lines);
                let sent = Instant::now();
                let result = client
                    .post(&endpoint)
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let outcome = match result {
                    Ok(resp) if resp.status().as_u16() == 201 => {
                        let _ = resp.bytes().await;
                        Ok(())
                    }
                    Ok(resp) => {
                        let status = resp.status();
                        Err(format!(
                            "{status}: {}",
                            resp.text().await.unwrap_or_default()
                        ))
                    }
                    Err(e) => Err(e.to_string()),
                };
                latency.saturating_record(sent.elapsed().as_micros() as u64);
                if let Err(e) = outcome {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
            (latency, errors, first_error)
        }));
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        let (h, e, f) = task.await?;
        latency.add(h)?;
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    Ok(Report {
        elapsed: started.elapsed(),
        latency,
        errors,
        first_error,
    })
}

/// A realistic web order: customer, geocoded ship-to, `lines` lines of different SKUs.
fn order_body(prefix: &str, i: usize, lines: usize) -> String {
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
