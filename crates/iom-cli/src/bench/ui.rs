//! `iom bench ui`: fills a store with orders (100,000 by default) through the store's own
//! intake path, then loads every page of the web UI as a signed-in browser would and prints the
//! server time of each (its `Server-Timing` header: from the request's arrival to the response
//! head), with the wall time seen by the client beside it; then the time the whole order list
//! takes to download as CSV.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use hdrhistogram::Histogram;
use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
use iom_domain::{OrderId, OrderIntake};
use iom_store::Store;
use serde_json::json;

/// The server under measurement.
struct Seeded {
    url: String,
    token: String,
    backend: &'static str,
}

#[derive(clap::Args)]
pub struct UiArgs {
    /// Orders in the store before the pages are measured.
    #[arg(long, default_value_t = 100_000)]
    orders: usize,
    /// Loads of each page.
    #[arg(long, default_value_t = 30)]
    samples: usize,
    /// Database of the in-process server: a fresh SQLite file when absent, or `postgres://…`
    /// (an empty database).
    #[arg(long)]
    database: Option<String>,
}

const CHANNELS: &[&str] = &["web", "store", "app", "marketplace"];
/// (code, name, kind, lat, lon): real cities.
const NODES: &[(&str, &str, &str, f64, f64)] = &[
    ("SEA", "Seattle DC", "warehouse", 47.61, -122.33),
    ("LAX", "Los Angeles DC", "warehouse", 34.05, -118.24),
    ("DFW", "Dallas DC", "warehouse", 32.78, -96.80),
    ("ORD", "Chicago 3PL", "3pl", 41.88, -87.63),
    ("ATL", "Atlanta DC", "warehouse", 33.75, -84.39),
    ("NYC", "New York store", "store", 40.71, -74.01),
    ("MIA", "Miami store", "store", 25.76, -80.19),
    ("DEN", "Denver drop-ship", "dropship", 39.74, -104.99),
];
const SKUS: usize = 5_000;

pub async fn run(args: UiArgs) -> anyhow::Result<()> {
    if args.orders == 0 || args.samples == 0 {
        bail!("--orders and --samples must be at least 1");
    }
    // The flow executor is off: the orders are seeded in the states the pages should show, and
    // what is measured is the pages, not 100,000 runs executing beside them.
    let dir = tempfile::tempdir()?;
    let database_url = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let token = iom_server::auth::generate_token();
    let server = iom_server::spawn(iom_server::Config {
        listen: "127.0.0.1:0".parse()?,
        app: iom_app::Config {
            database_url: database_url.clone(),
            admin_token: Some(token.clone()),
            flows: false,
            ..Default::default()
        },
    })
    .await?;
    let target = Seeded {
        url: server.url(),
        token,
        backend: if database_url.starts_with("postgres") {
            "postgresql"
        } else {
            "sqlite"
        },
    };
    let store = server.state.store.clone();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let api = |path: &str| format!("{}/api/v1{path}", target.url);

    let started = Instant::now();
    for (code, name, kind, lat, lon) in NODES {
        client
            .put(api(&format!("/nodes/{code}")))
            .bearer_auth(&target.token)
            .json(&json!({"name": name, "kind": kind, "location": {"lat": lat, "lon": lon}, "daily_capacity": 5000}))
            .send()
            .await?
            .error_for_status()?;
    }
    for chunk in (0..SKUS).collect::<Vec<_>>().chunks(1000 / NODES.len()) {
        let changes: Vec<_> = chunk
            .iter()
            .flat_map(|s| {
                NODES.iter().enumerate().map(move |(n, (code, ..))| {
                    json!({"id": format!("seed-{s}-{code}"), "sku": format!("SKU-{s}"), "node": code,
                           "kind": "set", "quantity": (s * 7 + n * 11) % 200, "reason": "count"})
                })
            })
            .collect();
        client
            .post(api("/inventory/changes"))
            .bearer_auth(&target.token)
            .json(&json!({"changes": changes}))
            .send()
            .await?
            .error_for_status()?;
    }
    let ids = seed_orders(&store, args.orders).await?;
    seed_changes(&store, &ids).await?;
    client
        .put(api("/providers/edi"))
        .bearer_auth(&target.token)
        .json(&json!({"type": "x12"}))
        .send()
        .await?
        .error_for_status()?;
    client
        .put(api("/subscriptions/erp"))
        .bearer_auth(&target.token)
        .json(&json!({"url": "http://127.0.0.1:9/hook", "types": ["order.*"], "secret": "bench-secret-bench-secret"}))
        .send()
        .await?;
    println!(
        "seeded {} orders, {} SKUs at {} nodes in {:.1} s ({} server)",
        ids.len(),
        SKUS,
        NODES.len(),
        started.elapsed().as_secs_f64(),
        target.backend
    );
    let caught_up = Instant::now();
    catch_up(&store).await?;
    println!(
        "the event consumers caught up with the seeded events in {:.1} s",
        caught_up.elapsed().as_secs_f64()
    );

    // Sign in as a browser does, as a user made for it.
    let password = "bench user password";
    client
        .put(api("/users/bench@example.com"))
        .bearer_auth(&target.token)
        .json(&json!({"role": "admin", "password": password}))
        .send()
        .await?
        .error_for_status()?;
    let signed_in = client
        .post(format!("{}/ui/sign-in", target.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "email=bench%40example.com&password={}&next=%2Fui",
            password.replace(' ', "+")
        ))
        .send()
        .await?;
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("a session cookie")?
        .to_owned();

    let first = client
        .get(format!("{}/ui/orders", target.url))
        .header("cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    let next_page = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("a second page of orders")?
        .replace("&amp;", "&");
    let sorted_first = client
        .get(format!("{}/ui/orders?sort=-placed_at", target.url))
        .header("cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    let sorted_next = vec![
        sorted_first
            .split("rel=\"next\" href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("a second page of sorted orders")?
            .replace("&amp;", "&"),
    ];
    let today = Utc::now().date_naive();
    let pages: Vec<(&str, Vec<String>)> = vec![
        ("dashboard", vec!["/ui".into()]),
        ("orders, first page", vec!["/ui/orders".into()]),
        ("orders, next page", vec![next_page]),
        ("orders by status", vec!["/ui/orders?status=on_hold".into()]),
        ("orders by channel", vec!["/ui/orders?channel=store".into()]),
        (
            "orders by SKU",
            (0..20)
                .map(|i| format!("/ui/orders?sku=SKU-{}", i * 97))
                .collect(),
        ),
        (
            "orders by node",
            vec!["/ui/orders?node=SEA".into(), "/ui/orders?node=DEN".into()],
        ),
        (
            "orders of one day",
            vec![format!(
                "/ui/orders?from={}&to={}",
                today - Duration::days(3),
                today - Duration::days(3)
            )],
        ),
        (
            "orders, status + channel + dates",
            vec![format!(
                "/ui/orders?status=shipped&channel=web&from={}",
                today - Duration::days(7)
            )],
        ),
        (
            "search by external id",
            (0..20)
                .map(|i| format!("/ui/orders?q=bench-{}", i * 4999 % args.orders))
                .collect(),
        ),
        (
            "search by customer e-mail",
            vec!["/ui/orders?q=c42%40".into()],
        ),
        ("search, no match", vec!["/ui/orders?q=nobody".into()]),
        (
            "order detail",
            ids.iter()
                .step_by((ids.len() / 20).max(1))
                .map(|id| format!("/ui/orders/{id}"))
                .collect(),
        ),
        ("inventory", vec!["/ui/inventory".into()]),
        (
            "inventory of a SKU",
            (0..20)
                .map(|i| format!("/ui/inventory/SKU-{}", i * 211))
                .collect(),
        ),
        ("nodes (map)", vec!["/ui/nodes".into()]),
        ("providers", vec!["/ui/providers".into()]),
        ("provider messages", vec!["/ui/providers/edi".into()]),
        ("subscriptions", vec!["/ui/subscriptions".into()]),
        (
            "orders sorted by a column",
            [
                "placed_at",
                "-placed_at",
                "external_id",
                "-external_id",
                "status",
                "-updated_at",
            ]
            .iter()
            .map(|s| format!("/ui/orders?sort={s}"))
            .collect(),
        ),
        ("orders sorted, next page", sorted_next),
        (
            "orders sorted and filtered",
            vec![
                "/ui/orders?status=on_hold&sort=-placed_at".into(),
                "/ui/orders?channel=web&sort=external_id".into(),
            ],
        ),
        ("alerts", vec!["/ui/alerts".into()]),
        ("tasks", vec!["/ui/tasks".into()]),
        ("returns", vec!["/ui/returns".into()]),
        ("notifications", vec!["/ui/notifications".into()]),
        ("flows", vec!["/ui/flows".into()]),
    ];
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>11}",
        "page", "p50 ms", "p99 ms", "max ms", "client p50"
    );
    let mut worst = 0.0_f64;
    for (name, paths) in &pages {
        let mut server = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let mut wall = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        for i in 0..args.samples {
            let path = &paths[i % paths.len()];
            let sent = Instant::now();
            let resp = client
                .get(format!("{}{path}", target.url))
                .header("cookie", &cookie)
                .send()
                .await?;
            let status = resp.status();
            let timing = resp
                .headers()
                .get("server-timing")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("app;dur="))
                .and_then(|v| v.parse::<f64>().ok());
            let body = resp.bytes().await?;
            wall.saturating_record(sent.elapsed().as_micros() as u64);
            if !status.is_success() {
                bail!("{path}: {status}: {}", String::from_utf8_lossy(&body));
            }
            let ms = timing.context("a Server-Timing header")?;
            server.saturating_record((ms * 1000.0) as u64);
        }
        let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        worst = worst.max(server.max() as f64 / 1000.0);
        println!(
            "{:<34} {:>9.2} {:>9.2} {:>9.2} {:>11.2}",
            name,
            ms(&server, 0.5),
            ms(&server, 0.99),
            server.max() as f64 / 1000.0,
            ms(&wall, 0.5)
        );
    }
    println!(
        "slowest page load: {worst:.2} ms server time ({} 100 ms)",
        if worst < 100.0 { "under" } else { "NOT under" }
    );

    // The export of the whole list, as a browser downloads it: time to the last byte.
    for (name, path) in [
        ("orders CSV export, all", "/ui/orders?format=csv"),
        (
            "orders CSV export, sorted by placed",
            "/ui/orders?format=csv&sort=-placed_at",
        ),
    ] {
        let sent = Instant::now();
        let mut resp = client
            .get(format!("{}{path}", target.url))
            .header("cookie", &cookie)
            .send()
            .await?
            .error_for_status()?;
        let (mut bytes, mut lines) = (0usize, 0usize);
        while let Some(chunk) = resp.chunk().await? {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        let seconds = sent.elapsed().as_secs_f64();
        println!(
            "{name}: {} rows, {:.1} MB in {seconds:.2} s ({} 5 s)",
            lines.saturating_sub(1),
            bytes as f64 / 1e6,
            if seconds < 5.0 { "under" } else { "NOT under" }
        );
    }
    server.stop().await;
    drop(dir);
    Ok(())
}

/// Waits until the consumers of the event log (notifications, outbound documents, settlement)
/// have read the events the seeding wrote in a burst: a server takes in its orders over time
/// and digests them as they come, so its pages are measured beside its usual background work,
/// not beside a backlog of 100,000 orders. (The bench's webhook subscription points nowhere
/// and stays behind, retrying with backoff, as one would.)
async fn catch_up(store: &Store) -> anyhow::Result<()> {
    let head = store.last_event_seq().await?;
    let deadline = Instant::now() + std::time::Duration::from_secs(600);
    for consumer in ["notifications", "documents", "settlement"] {
        loop {
            let at = store
                .read_cursor(consumer.to_owned())
                .await?
                .map_or(0, |c| c.cursor);
            if at >= head {
                break;
            }
            if Instant::now() > deadline {
                bail!("the {consumer} consumer is at {at} of {head} after 10 minutes");
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Orders over the last 30 days from four channels, 1 to 4 lines of 5,000 SKUs, captured through
/// the store's intake (validation as the API does it, one transaction per order with its
/// event), 64 at a time so that the writer groups them.
async fn seed_orders(store: &Store, count: usize) -> anyhow::Result<Vec<OrderId>> {
    let now = Utc::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (store, next) = (store.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let placed = now - Duration::seconds(((count - i) * 30 * 86_400 / count) as i64);
                let lines: Vec<_> = (0..1 + i % 4)
                    .map(|l| json!({"line_no": l + 1, "sku": format!("SKU-{}", (i * 7 + l * 13) % SKUS),
                                    "quantity": 1 + (i + l) % 3, "unit_price": format!("{}.{:02}", 5 + (i + l) % 95, i % 100)}))
                    .collect();
                let intake: OrderIntake = serde_json::from_value(json!({
                    "channel": CHANNELS[i % CHANNELS.len()],
                    "external_id": format!("bench-{i}"),
                    "currency": "USD",
                    "placed_at": placed.to_rfc3339(),
                    "customer": {"id": format!("C-{}", i % 10_000), "email": format!("c{}@example.com", i % 10_000), "name": format!("Customer {}", i % 10_000)},
                    "ship_to": {"name": "Customer", "line1": "1 Main St", "city": "Seattle", "region": "WA",
                                "postal_code": "98101", "country": "US", "lat": 47.61, "lon": -122.33},
                    "lines": lines,
                }))?;
                let order = intake
                    .validate(now)
                    .map_err(|e| anyhow::anyhow!("invalid bench order: {e:?}"))?;
                let id = order.id;
                store
                    .create_order(order, None, Box::new(|_| (201, String::new())))
                    .await?;
                ids.push(id);
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::with_capacity(count);
    for task in tasks {
        ids.extend(task.await??);
    }
    ids.sort();
    Ok(ids)
}

/// Every 50th order on hold, every 5th shipped from a node, so that the status and node filters
/// have something to find.
async fn seed_changes(store: &Store, ids: &[OrderId]) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let (store, id) = (store.clone(), *id);
        if i % 50 == 0 {
            tasks.push(tokio::spawn(async move {
                store
                    .update_order(id, |o, now| o.hold("review", None, now))
                    .await
                    .map(|_| ())
            }));
        } else if i % 5 == 0 {
            let node = NODES[i % NODES.len()].0.to_owned();
            tasks.push(tokio::spawn(async move {
                store
                    .update_order(id, move |o, now| {
                        o.record_shipment(
                            ShipmentRequest {
                                node: Some(node),
                                lines: Some(vec![LineQuantityRequest {
                                    line_no: Some(1),
                                    quantity: Some(1),
                                }]),
                                carrier: Some("UPS".into()),
                                tracking: None,
                            },
                            now,
                        )
                    })
                    .await
                    .map(|_| ())
            }));
        }
        if tasks.len() >= 256 {
            for task in tasks.drain(..) {
                task.await??;
            }
        }
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}
