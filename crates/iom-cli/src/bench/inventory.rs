//! `iom bench inventory`: inventory changes through the batch API, reservations spread over many
//! SKUs and on one hot SKU, and the availability of one SKU across 100 nodes, all over real HTTP
//! against a server in this process.

use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use super::load::{Target, drive};

#[derive(clap::Args)]
pub struct InventoryArgs {
    /// Database of the in-process server: a fresh SQLite file when absent, or `postgres://…`.
    #[arg(long)]
    database: Option<String>,
    /// Batches of 1,000 changes.
    #[arg(long, default_value_t = 100)]
    batches: usize,
    /// Concurrent clients sending batches.
    #[arg(long, default_value_t = 4)]
    batch_clients: usize,
    /// Distinct SKUs.
    #[arg(long, default_value_t = 10_000)]
    skus: usize,
    /// Reservations spread over the SKUs, and again on one hot SKU.
    #[arg(long, default_value_t = 20_000)]
    reservations: usize,
    /// Concurrent clients reserving.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Availability reads of one SKU stocked at 100 nodes.
    #[arg(long, default_value_t = 10_000)]
    reads: usize,
}

const NODES: usize = 100;
const STOCKED_NODES: usize = 10;

pub async fn run(args: InventoryArgs) -> anyhow::Result<()> {
    let target = Target::start(None, None, args.database.clone()).await?;
    let store = target
        .server
        .as_ref()
        .context("in-process server")?
        .state
        .store
        .clone();
    for n in 0..NODES {
        store
            .put_node(iom_store::nodes::NodeRecord {
                code: format!("N{n:03}"),
                kind: if n % 4 == 0 { "store" } else { "warehouse" }.into(),
                active: true,
                safety_stock: 0,
                doc: json!({}),
                updated_at: chrono::Utc::now(),
            })
            .await?;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients.max(args.batch_clients))
        .timeout(Duration::from_secs(60))
        .build()?;
    let auth = format!("Bearer {}", target.token);
    println!(
        "inventory bench, {} server, {} SKUs",
        target.backend, args.skus
    );

    // 1. Changes: batches of 1,000 deltas, each (sku, node) among skus × 10 nodes. The bodies are
    // serialised before the clock starts: the client shares the machine with the server, and
    // building JSON is its cost, not the server's.
    let skus = args.skus;
    let bodies: Vec<Vec<u8>> = (0..args.batches)
        .map(|b| {
            let changes: Vec<serde_json::Value> = (0..1000)
                .map(|j| {
                    let k = b * 1000 + j;
                    json!({"id": format!("b{b}-{j}"), "sku": format!("SKU-{}", k % skus),
                           "node": format!("N{:03}", (k / skus) % STOCKED_NODES), "kind": "delta", "quantity": 100})
                })
                .collect();
            serde_json::to_vec(&json!({"changes": changes})).expect("json")
        })
        .collect();
    let batch = {
        let (client, url, auth) = (
            client.clone(),
            format!("{}/api/v1/inventory/changes", target.url),
            auth.clone(),
        );
        move |b: usize| {
            client
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(bodies[b].clone())
        }
    };
    let report = drive(args.batch_clients, args.batches, &[200], batch).await?;
    println!(
        "changes: {:.0} changes/s through the batch API ({} batches of 1,000, {} clients); per batch {}",
        report.per_second() * 1000.0,
        args.batches,
        args.batch_clients,
        report.latency_line()
    );
    report.print_errors();

    // 2. Reservations spread over the stocked SKUs.
    let stocked = (args.batches * 1000).min(skus * STOCKED_NODES);
    let spread = {
        let (client, url, auth) = (
            client.clone(),
            format!("{}/api/v1/inventory/reservations", target.url),
            auth.clone(),
        );
        move |i: usize| {
            let k = (i * 7919) % stocked;
            client.post(&url).header("authorization", &auth).json(&json!({
                "sku": format!("SKU-{}", k % skus), "node": format!("N{:03}", (k / skus) % STOCKED_NODES),
                "quantity": 1, "reference": format!("cart-{i}")}))
        }
    };
    let report = drive(args.clients, args.reservations, &[201], spread).await?;
    println!(
        "reservations, spread: {:.0}/s ({} clients); {}",
        report.per_second(),
        args.clients,
        report.latency_line()
    );
    report.print_errors();

    // 2b. The same, an order at a time: the five lines of an order reserved together.
    let orders = {
        let (client, url, auth) = (
            client.clone(),
            format!("{}/api/v1/inventory/reservations/batch", target.url),
            auth.clone(),
        );
        move |i: usize| {
            let lines: Vec<serde_json::Value> = (0..5)
                .map(|l| {
                    let k = ((i * 5 + l) * 7919 + 13) % stocked;
                    json!({"sku": format!("SKU-{}", k % skus), "node": format!("N{:03}", (k / skus) % STOCKED_NODES),
                           "quantity": 1, "order_id": format!("o-{i}"), "line_no": l + 1})
                })
                .collect();
            client
                .post(&url)
                .header("authorization", &auth)
                .json(&json!({"reservations": lines}))
        }
    };
    let report = drive(args.clients, args.reservations / 5, &[201], orders).await?;
    println!(
        "reservations, 5-line orders reserved together: {:.0} reservations/s ({:.0} orders/s, {} clients); {}",
        report.per_second() * 5.0,
        report.per_second(),
        args.clients,
        report.latency_line()
    );
    report.print_errors();

    // 3. Reservations on one hot SKU at one node.
    let set = client
        .post(format!("{}/api/v1/inventory/changes", target.url))
        .header("authorization", &auth)
        .json(&json!({"changes": [{"id": "hot", "sku": "HOT", "node": "N000", "kind": "set", "quantity": 10_000_000}]}))
        .send()
        .await?;
    anyhow::ensure!(
        set.status().is_success(),
        "stocking the hot SKU failed: {}",
        set.status()
    );
    let hot = {
        let (client, url, auth) = (
            client.clone(),
            format!("{}/api/v1/inventory/reservations", target.url),
            auth.clone(),
        );
        move |_: usize| {
            client
                .post(&url)
                .header("authorization", &auth)
                .json(&json!({"sku": "HOT", "node": "N000", "quantity": 1}))
        }
    };
    let report = drive(args.clients, args.reservations, &[201], hot).await?;
    println!(
        "reservations, one hot SKU: {:.0}/s ({} clients); {}",
        report.per_second(),
        args.clients,
        report.latency_line()
    );
    report.print_errors();

    // 4. Availability of one SKU stocked at 100 nodes.
    let wide: Vec<serde_json::Value> = (0..NODES)
        .map(|n| json!({"id": format!("wide-{n}"), "sku": "WIDE", "node": format!("N{n:03}"), "kind": "set", "quantity": 10 + n}))
        .collect();
    client
        .post(format!("{}/api/v1/inventory/changes", target.url))
        .header("authorization", &auth)
        .json(&json!({"changes": wide}))
        .send()
        .await?
        .error_for_status()?;
    let read = {
        let (client, url, auth) = (
            client.clone(),
            format!("{}/api/v1/inventory/WIDE", target.url),
            auth.clone(),
        );
        move |_: usize| client.get(&url).header("authorization", &auth)
    };
    let report = drive(4, args.reads, &[200], read).await?;
    println!(
        "availability of one SKU across {NODES} nodes: {:.0} reads/s (4 clients); {}",
        report.per_second(),
        report.latency_line()
    );
    report.print_errors();
    target.stop().await;
    Ok(())
}
