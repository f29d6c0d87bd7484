//! `iom bench reads`: `GET /api/v1/orders/{id}` from concurrent clients against `iom serve` as
//! users run it (a child process, default flow on), with the orders it reads captured first
//! through the API. Prints reads/s, the latency percentiles and maximum (a pool that makes some
//! callers wait shows in p99 and max, not in p50), and the server's resident memory before and
//! after the run (a cache that grows with what is read shows there).

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde::Deserialize;

use super::intake::order_body;
use super::load::drive;

#[derive(clap::Args)]
pub struct ReadsArgs {
    /// Concurrent clients reading.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Orders captured before the reads (each read picks one of them).
    #[arg(long, default_value_t = 20_000)]
    orders: usize,
    /// Reads in the measured run.
    #[arg(long, default_value_t = 200_000)]
    reads: usize,
    /// Database of the `iom serve` started for the bench: a fresh SQLite file when absent, or
    /// `postgres://…` naming an empty database.
    #[arg(long)]
    database: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    items: Vec<Listed>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Listed {
    id: String,
}

pub async fn run(args: ReadsArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.orders == 0 || args.reads == 0 {
        bail!("--clients, --orders and --reads must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("reads.db").display()));
    let backend = if database.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    let token = iom_server::auth::generate_token();
    let (mut child, url) =
        super::serve_child_as(&database, true, &[("IOM_ADMIN_TOKEN", token.as_str())]).await?;
    let pid = child.id().context("the server's process id")?;
    let outcome = measure(&args, &url, &token, pid, backend).await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    outcome
}

async fn measure(
    args: &ReadsArgs,
    url: &str,
    token: &str,
    pid: u32,
    backend: &str,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let auth = format!("Bearer {token}");
    let started = Instant::now();
    let run_id = chrono::Utc::now().timestamp_micros();
    let captured = {
        let (http, endpoint, auth) = (http.clone(), format!("{url}/api/v1/orders"), auth.clone());
        drive(32, args.orders, &[201], move |i| {
            http.post(&endpoint)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(order_body(&format!("r{run_id}"), i, 3))
        })
        .await?
    };
    ensure!(
        captured.errors == 0,
        "capturing the orders failed: {}",
        captured.first_error.unwrap_or_default()
    );
    // The default flow takes each order on (no stock: it backorders them); reads are measured
    // once it is idle, so they share the server with nothing.
    for status in ["received", "processing"] {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let page: Page = http
                .get(format!("{url}/api/v1/orders?status={status}&limit=1"))
                .header("authorization", &auth)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            if page.items.is_empty() {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "orders still {status} after 300 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut ids = Vec::with_capacity(args.orders);
    let mut cursor: Option<String> = None;
    loop {
        let mut request = http
            .get(format!("{url}/api/v1/orders"))
            .header("authorization", &auth)
            .query(&[("limit", "500")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: Page = request.send().await?.error_for_status()?.json().await?;
        ids.extend(page.items.into_iter().map(|o| o.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    ensure!(!ids.is_empty(), "no orders to read");
    println!(
        "captured {} orders in {:.1} s; {} server (iom serve, default flow on)",
        ids.len(),
        started.elapsed().as_secs_f64(),
        backend
    );
    let before = memory(pid)?;
    let report = {
        let (http, auth) = (http.clone(), auth.clone());
        let paths: Vec<String> = ids
            .iter()
            .map(|id| format!("{url}/api/v1/orders/{id}"))
            .collect();
        // A stride that is prime to any order count visits the orders in a scattered order.
        drive(args.clients, args.reads, &[200], move |i| {
            http.get(&paths[(i * 7919) % paths.len()])
                .header("authorization", &auth)
        })
        .await?
    };
    let after = memory(pid)?;
    println!(
        "reads: {} of GET /api/v1/orders/{{id}}, {} concurrent clients: {:.0} reads/s",
        args.reads,
        args.clients,
        report.per_second()
    );
    println!("latency: {}", report.latency_line());
    println!(
        "server memory: resident {:.0} MB before the reads, {:.0} MB after (peak {:.0} MB)",
        before.resident_mb, after.resident_mb, after.peak_mb
    );
    report.print_errors();
    Ok(())
}

struct Memory {
    resident_mb: f64,
    peak_mb: f64,
}

/// The server's resident set now and at its peak, from `/proc/PID/status` (Linux).
fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading the server's memory (Linux /proc)")?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("{name} in /proc/{pid}/status"))?;
        Ok(kb / 1024.0)
    };
    Ok(Memory {
        resident_mb: field("VmRSS:")?,
        peak_mb: field("VmHWM:")?,
    })
}
