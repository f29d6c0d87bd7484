//! `iom bench insights`: seeds orders straight through the store (many at once, so the writer
//! commits them in groups), then measures `GET /api/v1/insights/kpis` over real HTTP, and the lag
//! from an order's commit (its `201`) to the first KPI answer that counts it.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use iom_domain::order::LineQuantityRequest;
use iom_domain::{LineStatus, OrderIntake, ShipmentRequest};
use tokio::task::JoinSet;

use super::load::{Target, drive};

#[derive(clap::Args)]
pub struct InsightsArgs {
    /// Orders in the store before measuring.
    #[arg(long, default_value_t = 100_000)]
    orders: usize,
    /// Days the orders' placement times spread over, ending now.
    #[arg(long, default_value_t = 90)]
    days: i64,
    /// KPI requests per measured window.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Orders whose commit-to-KPI lag is measured.
    #[arg(long, default_value_t = 50)]
    lag_samples: usize,
    /// Database of the in-process server: a fresh SQLite file when absent, or `postgres://…`
    /// (an empty database).
    #[arg(long)]
    database: Option<String>,
}

const CHANNELS: [&str; 4] = ["web", "marketplace", "app", "edi"];
const NODES: [&str; 6] = ["SEA", "LAX", "DFW", "ORD", "ATL", "EWR"];
const REGIONS: [(&str, f64, f64); 6] = [
    ("WA", 47.61, -122.33),
    ("CA", 34.05, -118.24),
    ("TX", 32.78, -96.80),
    ("IL", 41.88, -87.63),
    ("GA", 33.75, -84.39),
    ("NY", 40.71, -74.01),
];

fn intake(i: usize, placed_at: DateTime<Utc>) -> serde_json::Value {
    let (region, lat, lon) = REGIONS[i % REGIONS.len()];
    let lines: Vec<serde_json::Value> = (0..1 + i % 3)
        .map(|l| {
            serde_json::json!({
                "line_no": l + 1,
                "sku": format!("SKU-{}", (i * 7 + l * 13) % 500),
                "quantity": 1 + (i + l) % 3,
                "unit_price": format!("{}.{:02}", 5 + (i + l) % 95, (i * 31 + l) % 100),
            })
        })
        .collect();
    serde_json::json!({
        "channel": CHANNELS[i % CHANNELS.len()],
        "external_id": format!("bench-{i}"),
        "currency": "USD",
        "placed_at": placed_at,
        "ship_to": {"name": "Bench", "line1": "1 Main St", "city": "City", "region": region,
                    "postal_code": "00000", "country": "US", "lat": lat, "lon": lon},
        "lines": lines,
    })
}

/// Stores order `i` and moves it along its life: most ship (some delivered), some are
/// cancelled, some backordered, the rest stay open.
async fn seed_one(
    store: iom_store::Store,
    i: usize,
    placed_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let body: OrderIntake = serde_json::from_value(intake(i, placed_at))?;
    let order = body
        .validate(Utc::now())
        .map_err(|e| anyhow::anyhow!("invalid bench order: {e:?}"))?;
    let id = order.id;
    let render: iom_store::orders::Render = Box::new(|_| (201, String::new()));
    store.create_order(order, None, render).await?;
    match i % 20 {
        0 | 1 => {
            store
                .update_order(id, |o, now| o.cancel("customer", now))
                .await?;
        }
        2 => {
            store
                .update_order(id, |o, now| {
                    let mut events = Vec::new();
                    for n in o.lines.iter().map(|l| l.line_no).collect::<Vec<_>>() {
                        events.extend(o.set_line_stage(
                            n,
                            LineStatus::Backordered,
                            None,
                            None,
                            now,
                        )?);
                    }
                    Ok(events)
                })
                .await?;
        }
        3..=15 => {
            let node = NODES[i % NODES.len()].to_owned();
            let deliver = i % 20 < 10;
            store
                .update_order(id, move |o, now| {
                    let lines: Vec<LineQuantityRequest> = o
                        .lines
                        .iter()
                        .map(|l| LineQuantityRequest {
                            line_no: Some(l.line_no.into()),
                            quantity: Some(l.quantity.into()),
                        })
                        .collect();
                    let mut events = o.record_shipment(
                        ShipmentRequest {
                            node: Some(node),
                            lines: Some(lines.clone()),
                            carrier: Some("UPS".into()),
                            tracking: None,
                        },
                        now,
                    )?;
                    if deliver {
                        events.extend(o.record_delivery(Some(lines), now)?);
                    }
                    Ok(events)
                })
                .await?;
        }
        _ => {}
    }
    Ok(())
}

pub async fn run(args: InsightsArgs) -> anyhow::Result<()> {
    if args.orders == 0 || args.requests == 0 || args.days <= 0 {
        bail!("--orders, --requests and --days must be at least 1");
    }
    let target = Target::start(None, None, args.database.clone()).await?;
    let store = target
        .server
        .as_ref()
        .context("an in-process server")?
        .state
        .store
        .clone();

    // Seed: 256 orders in flight at a time, so the writer commits them in full groups.
    let started = Instant::now();
    let now = Utc::now();
    let span = chrono::Duration::days(args.days);
    let step = span / args.orders as i32;
    let mut tasks = JoinSet::new();
    for i in 0..args.orders {
        if tasks.len() >= 256 {
            tasks.join_next().await.context("a seeding task")???;
        }
        let placed_at = now - span + step * i as i32;
        tasks.spawn(seed_one(store.clone(), i, placed_at));
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let seeded = started.elapsed();
    println!(
        "seeded {} orders over {} days through the store in {:.1} s ({:.0} orders/s, lifecycle included), {} server",
        args.orders,
        args.days,
        seeded.as_secs_f64(),
        args.orders as f64 / seeded.as_secs_f64(),
        target.backend
    );

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let auth = format!("Bearer {}", target.token);
    let windows = [
        ("last 30 days (default window)", String::new()),
        (
            "all orders",
            format!(
                "?from={}&to={}",
                (now - span - chrono::Duration::days(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                (now + chrono::Duration::days(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ),
    ];
    for (name, query) in windows {
        let endpoint = format!("{}/api/v1/insights/kpis{query}", target.url);
        let first: serde_json::Value = client
            .get(&endpoint)
            .header("authorization", &auth)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let (c, e, a) = (client.clone(), endpoint.clone(), auth.clone());
        let report = drive(1, args.requests, &[200], move |_| {
            c.get(&e).header("authorization", &a)
        })
        .await?;
        println!(
            "GET /insights/kpis, {name} ({} orders counted): {}",
            first["orders"],
            report.latency_line()
        );
        report.print_errors();
    }
    let (c, e, a) = (
        client.clone(),
        format!(
            "{}/api/v1/insights/series?metric=orders&interval=day&from={}",
            target.url,
            (now - span).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        auth.clone(),
    );
    let report = drive(1, args.requests, &[200], move |_| {
        c.get(&e).header("authorization", &a)
    })
    .await?;
    println!(
        "GET /insights/series, orders per day and channel over {} days: {}",
        args.days,
        report.latency_line()
    );

    // Lag: from the 201 of a new order to the first KPI answer that counts it.
    let mut lag = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let kpis = format!("{}/api/v1/insights/kpis", target.url);
    for n in 0..args.lag_samples {
        let before: serde_json::Value = client
            .get(&kpis)
            .header("authorization", &auth)
            .send()
            .await?
            .json()
            .await?;
        let count = before["orders"].as_i64().unwrap_or(0);
        let mut body = intake(args.orders + n, Utc::now());
        body["external_id"] = serde_json::json!(format!("lag-{n}"));
        let resp = client
            .post(format!("{}/api/v1/orders", target.url))
            .header("authorization", &auth)
            .json(&body)
            .send()
            .await?;
        if resp.status().as_u16() != 201 {
            bail!("order not created: {}", resp.text().await?);
        }
        let committed = Instant::now();
        loop {
            let now: serde_json::Value = client
                .get(&kpis)
                .header("authorization", &auth)
                .send()
                .await?
                .json()
                .await?;
            if now["orders"].as_i64().unwrap_or(0) > count {
                break;
            }
            if committed.elapsed() > Duration::from_secs(30) {
                bail!("an order did not show in the KPIs within 30 s");
            }
        }
        lag.saturating_record(committed.elapsed().as_micros() as u64);
    }
    println!(
        "lag from order commit (201) to KPI visibility, {} orders: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.lag_samples,
        lag.value_at_quantile(0.5) as f64 / 1000.0,
        lag.value_at_quantile(0.99) as f64 / 1000.0,
        lag.max() as f64 / 1000.0
    );
    target.stop().await;
    Ok(())
}
