//! The demo's starting point, created through the public API: nodes at real city coordinates,
//! stock, sourcing profiles, provider instances, alerts, and order history.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use iom_domain::order::LineQuantityRequest;
use iom_domain::{LineStatus, ShipmentRequest};
use iom_store::Store;
use serde_json::json;

use super::sim::{Api, SKUS, order_intake};

/// (code, name, kind, lat, lon, per shipment, per unit, per km, daily capacity)
pub type NodeRow = (
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
    &'static str,
    &'static str,
    &'static str,
    i64,
);

pub const NODES: [NodeRow; 8] = [
    (
        "SEA-DC",
        "Seattle distribution centre",
        "warehouse",
        47.6062,
        -122.3321,
        "4.50",
        "0.35",
        "0.0020",
        4000,
    ),
    (
        "LAX-DC",
        "Los Angeles distribution centre",
        "warehouse",
        34.0522,
        -118.2437,
        "4.00",
        "0.30",
        "0.0020",
        6000,
    ),
    (
        "DFW-DC",
        "Dallas–Fort Worth distribution centre",
        "warehouse",
        32.8998,
        -97.0403,
        "3.80",
        "0.30",
        "0.0018",
        6000,
    ),
    (
        "ORD-DC",
        "Chicago distribution centre",
        "warehouse",
        41.8781,
        -87.6298,
        "4.20",
        "0.32",
        "0.0020",
        5000,
    ),
    (
        "EWR-DC",
        "Newark distribution centre",
        "warehouse",
        40.7357,
        -74.1724,
        "4.60",
        "0.35",
        "0.0022",
        5000,
    ),
    (
        "NYC-5TH",
        "New York Fifth Avenue store",
        "store",
        40.7580,
        -73.9855,
        "6.50",
        "0.60",
        "0.0030",
        300,
    ),
    (
        "MEM-3PL",
        "Memphis 3PL",
        "3pl",
        35.1495,
        -90.0490,
        "3.20",
        "0.45",
        "0.0015",
        8000,
    ),
    (
        "DEN-VND",
        "Denver drop-ship vendor",
        "dropship",
        39.7392,
        -104.9903,
        "7.00",
        "0.20",
        "0.0025",
        2000,
    ),
];

/// Creates what the demo needs unless the database already has it; `true` on a first run.
pub async fn seed(
    api: &Api,
    store: &Store,
    history_days: i64,
    per_day: usize,
) -> anyhow::Result<bool> {
    let (_, nodes) = api.get("/api/v1/nodes").await?;
    if nodes["items"].as_array().is_some_and(|n| !n.is_empty()) {
        return Ok(false);
    }
    for (code, name, kind, lat, lon, per_shipment, per_unit, per_km, capacity) in NODES {
        api.put(
            &format!("/api/v1/nodes/{code}"),
            json!({"name": name, "kind": kind, "location": {"lat": lat, "lon": lon}, "active": true,
                   "daily_capacity": capacity, "safety_stock": 2,
                   "costs": {"per_shipment": per_shipment, "per_unit": per_unit, "per_km": per_km}}),
        )
        .await
        .with_context(|| format!("node {code}"))?;
    }
    api.put(
        "/api/v1/fulfillment/profiles/default",
        json!({"objective": "cost", "max_nodes": 2, "allow_partial": true, "allow_line_split": true}),
    )
    .await?;
    api.put(
        "/api/v1/fulfillment/profiles/fastest",
        json!({"objective": "distance", "max_nodes": 3}),
    )
    .await?;
    api.put(
        "/api/v1/fulfillment/profiles/ship-from-store",
        json!({"objective": "distance", "node_kinds": ["store"], "max_distance_km": 80}),
    )
    .await?;
    restock(api, 0).await?;
    api.put(
        "/api/v1/providers/edi",
        json!({"type": "x12", "connection": {}, "settings": {}}),
    )
    .await?;
    api.put(
        "/api/v1/providers/shopify-us",
        json!({"type": "shopify", "connection": {"shop": "iom-demo.myshopify.com",
               "access_token": "shpat_demo", "webhook_secret": "iom-demo-webhook-secret"}}),
    )
    .await?;
    api.put(
        "/api/v1/alerts/release-overdue",
        json!({"condition": {"type": "order_not_released", "hours": 2},
               "notify": {"email": "ops@example.com"}}),
    )
    .await?;
    api.put(
        "/api/v1/alerts/ship-before-promise",
        json!({"condition": {"type": "order_not_shipped", "hours": 24},
               "notify": {"email": "ops@example.com"}}),
    )
    .await?;
    api.put(
        "/api/v1/alerts/low-stock",
        json!({"condition": {"type": "inventory_below", "threshold": 10},
               "notify": {"channel": "#replenishment"}}),
    )
    .await?;
    history(store, history_days, per_day).await?;
    Ok(true)
}

/// Sets every SKU's on-hand at every node back to a healthy level (round `round` makes the change
/// ids unique, so each restock counts).
pub async fn restock(api: &Api, round: u64) -> anyhow::Result<()> {
    let mut changes = Vec::new();
    for (n, node) in NODES.iter().enumerate() {
        for (s, sku) in SKUS.iter().enumerate() {
            // Not every node stocks every SKU: stores and the vendor carry a few.
            let carried = match node.2 {
                "store" => s % 3 == 0,
                "dropship" => s % 4 == 1,
                _ => (s + n) % 5 != 0,
            };
            if carried {
                changes.push(json!({"id": format!("demo-restock-{round}-{}-{sku}", node.0),
                    "sku": sku, "node": node.0, "kind": "set", "quantity": 60 + (s * 17 + n * 7) % 90,
                    "reason": "cycle count"}));
            }
        }
    }
    for chunk in changes.chunks(1000) {
        api.post("/api/v1/inventory/changes", json!({"changes": chunk}))
            .await?;
    }
    Ok(())
}

/// Orders over the past days, written through the store with back-dated times (as if iom had
/// been running then): most shipped within a day from one of the distribution centres and
/// delivered two days later, a tenth cancelled, some still open.
async fn history(store: &Store, days: i64, per_day: usize) -> anyhow::Result<()> {
    let now = Utc::now();
    let mut n = 0u64;
    let mut pending = tokio::task::JoinSet::new();
    for day in (1..=days).rev() {
        let start = now - Duration::days(day);
        for k in 0..per_day {
            let at = start + Duration::seconds((k * 86_400 / per_day.max(1)) as i64);
            n += 1;
            let (store, i) = (store.clone(), n);
            if pending.len() >= 64 {
                pending.join_next().await.context("a history task")???;
            }
            pending.spawn(async move { past_order(&store, i, at).await });
        }
    }
    while let Some(done) = pending.join_next().await {
        done??;
    }
    Ok(())
}

async fn past_order(store: &Store, n: u64, at: DateTime<Utc>) -> anyhow::Result<()> {
    let intake: iom_domain::OrderIntake =
        serde_json::from_value(order_intake(n, &format!("hist-{n}"), at))?;
    let order = intake
        .validate(at)
        .map_err(|e| anyhow::anyhow!("history order: {e:?}"))?;
    let id = order.id;
    let render: iom_store::orders::Render = Box::new(|_| (201, String::new()));
    store.create_order(order, None, render).await?;
    let node = NODES[(n % 5) as usize].0.to_owned();
    // Nodes differ in speed: 6 to 30 hours from intake to shipment.
    let ship_at = at + Duration::hours(6 + (n % 5) as i64 * 6) + Duration::minutes((n % 50) as i64);
    match n % 10 {
        0 => {
            store
                .update_order(id, move |o, _| {
                    o.cancel("customer", at + Duration::hours(1))
                })
                .await?;
        }
        1 => {}
        step => {
            store
                .update_order(id, move |o, _| {
                    let lines: Vec<LineQuantityRequest> = o
                        .lines
                        .iter()
                        .map(|l| LineQuantityRequest {
                            line_no: Some(l.line_no.into()),
                            quantity: Some(l.quantity.into()),
                        })
                        .collect();
                    let mut events = Vec::new();
                    for line in o.lines.iter().map(|l| l.line_no).collect::<Vec<_>>() {
                        events.extend(o.set_line_stage(
                            line,
                            LineStatus::Released,
                            Some(node.clone()),
                            None,
                            at + Duration::hours(1),
                        )?);
                    }
                    events.extend(o.record_shipment(
                        ShipmentRequest {
                            node: Some(node),
                            lines: Some(lines.clone()),
                            carrier: Some("UPS".into()),
                            tracking: Some(format!("1Z{n:010}")),
                        },
                        ship_at,
                    )?);
                    if step > 3 {
                        events.extend(o.record_delivery(Some(lines), ship_at + Duration::days(2))?);
                    }
                    Ok(events)
                })
                .await?;
        }
    }
    Ok(())
}
