//! `iom bench webhooks`: Shopify `orders/create` webhooks to committed orders, the way a shop
//! sends them: `iom serve` runs as its own process (as users run it), and concurrent clients
//! post signed webhooks with `X-Shopify-Topic` to `POST /api/v1/inbound/{provider}`. Each answer
//! is a 202 `processed` only once its order is committed, so the rate is orders captured, with
//! the signature check, the message log and the order's events in it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use iom_providers::secrets::shopify_signature;
use iom_server::auth::generate_token;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct WebhooksArgs {
    /// Webhooks to send, one order each.
    #[arg(long, default_value_t = 20_000)]
    webhooks: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Run the default order flow in the server too (off: capture alone is measured).
    #[arg(long)]
    flows: bool,
    /// A fresh SQLite file when absent, or an empty PostgreSQL database (`postgres://…`).
    #[arg(long)]
    database: Option<String>,
}

pub async fn run(args: WebhooksArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.webhooks == 0 {
        bail!("--clients and --webhooks must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let backend = if database.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    let token = generate_token();
    let env = [
        ("IOM_ADMIN_TOKEN", token.as_str()),
        ("IOM_MASTER_KEY", "bench master key"),
    ];
    let (mut child, url) = super::serve_child_as(&database, args.flows, &env).await?;
    let result = send(&url, &token, &args, backend).await;
    let _ = child.kill().await;
    result
}

async fn send(url: &str, token: &str, args: &WebhooksArgs, backend: &str) -> anyhow::Result<()> {
    let secret = "bench-webhook-secret";
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let resp = client
        .put(format!("{url}/api/v1/providers/shop-bench"))
        .bearer_auth(token)
        .json(&json!({"type": "shopify",
                      "connection": {"shop": "bench.myshopify.com", "webhook_secret": secret}}))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!(
            "creating the provider: {} {}",
            resp.status(),
            resp.text().await?
        );
    }
    // Bodies and signatures are made first, so that the clock measures the server.
    let bodies: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..args.webhooks)
            .map(|n| {
                let body = serde_json::to_vec(&super::providers::shopify_order(n)).expect("JSON");
                let signature = shopify_signature(secret, &body);
                (body, signature)
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let endpoint = format!("{url}/api/v1/inbound/shop-bench");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (client, bodies, next, endpoint) = (
            client.clone(),
            bodies.clone(),
            next.clone(),
            endpoint.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, signature)) = bodies.get(i) else {
                    return Ok::<_, anyhow::Error>(latencies);
                };
                let sent = Instant::now();
                let resp = client
                    .post(&endpoint)
                    .header("X-Shopify-Hmac-Sha256", signature)
                    .header("X-Shopify-Topic", "orders/create")
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                let status = resp.status();
                let answer: Value = resp.json().await?;
                latencies.push(sent.elapsed());
                if status != reqwest::StatusCode::ACCEPTED
                    || answer["status"] != "processed"
                    || answer["created"] != 1
                {
                    bail!("webhook {i}: {status} {answer}");
                }
            }
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(args.webhooks);
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1e3
    };
    println!(
        "Shopify orders/create webhooks to iom serve ({backend}, {} clients{}): {} orders in {elapsed:.2} s = {:.0} orders/s; latency p50 {:.1} ms, p99 {:.1} ms",
        args.clients,
        if args.flows { ", flows on" } else { "" },
        args.webhooks,
        args.webhooks as f64 / elapsed,
        at(0.5),
        at(0.99),
    );
    Ok(())
}
