//! `iom bench documents`: outbound X12 documents decided, written, validated and logged by the
//! documents consumer of a real `iom serve` process, draining a backlog. The backlog is made
//! directly in the store, before any server runs (so no consumer has moved past it): an `x12`
//! instance with its envelope, orders of that channel each with one shipment of all its lines.
//! Each order then causes three documents: its 855 (on the shipment, flows being off), an 856
//! and an 810. Documents/s is the consumer's event cursor reaching the last event, timed from
//! the moment the server is up.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use iom_app::orders::{OrderAction, act, capture};
use iom_domain::OrderIntake;
use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
use iom_store::Store;
use iom_store::orders::CreateOutcome;
use iom_store::providers::{MessageFilter, ProviderRecord};
use serde_json::json;

const CHANNEL: &str = "edi-bench";

#[derive(clap::Args)]
pub struct DocumentsArgs {
    /// Orders in the backlog (three documents each).
    #[arg(long, default_value_t = 5_000)]
    orders: usize,
    /// A fresh SQLite file when absent, or an empty PostgreSQL database (`postgres://…`).
    #[arg(long)]
    database: Option<String>,
}

pub async fn run(args: DocumentsArgs) -> anyhow::Result<()> {
    if args.orders == 0 {
        bail!("--orders must be at least 1");
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

    let store = Store::open(&database).await?;
    let now = chrono::Utc::now();
    store
        .put_provider(ProviderRecord {
            name: CHANNEL.into(),
            kind: "x12".into(),
            // As `PUT /api/v1/providers/{name}` stores it.
            config: json!({"connection": {}, "mappings": {}, "transformation": null,
                           "settings": {"default_node": "DC-1",
                                        "x12": {"sender_id": "IOMRETAIL", "receiver_id": "BUYER"}}}),
            secrets: Default::default(),
            created_at: now,
            updated_at: now,
        })
        .await?;
    let started = Instant::now();
    for n in 0..args.orders {
        let intake: OrderIntake = serde_json::from_value(json!({
            "channel": CHANNEL, "external_id": format!("PO-{n:07}"), "currency": "USD",
            "placed_at": "2026-11-26T10:00:00Z", "shipping_amount": "4.95", "discount_amount": "2.00",
            "ship_to": {"name": "Ann Lee", "line1": "1 Main St", "city": "Seattle", "region": "WA",
                        "postal_code": "98101", "country": "US"},
            "lines": [
                {"sku": "SKU-1", "quantity": 2, "unit_price": "19.95", "tax": "3.59"},
                {"sku": "SKU-2", "quantity": 1, "unit_price": "7.50", "tax": "0.68"},
                {"sku": "SKU-3", "quantity": 4, "unit_price": "2.25", "discount": "1.00"}
            ]
        }))?;
        let order = intake
            .validate(now)
            .map_err(|e| anyhow::anyhow!("the generated order is invalid: {e:?}"))?;
        let lines = order
            .lines
            .iter()
            .map(|l| LineQuantityRequest {
                line_no: Some(l.line_no.into()),
                quantity: Some(l.quantity.into()),
            })
            .collect();
        let CreateOutcome::Created(order) =
            capture(&store, order, None, Box::new(|_| (201, String::new()))).await?
        else {
            bail!("order {n} was not created");
        };
        act(
            &store,
            order.id,
            OrderAction::Ship(ShipmentRequest {
                node: Some("DC-1".into()),
                lines: Some(lines),
                carrier: Some("UPS".into()),
                tracking: Some(format!("1Z999AA1{n:010}")),
            }),
        )
        .await?;
    }
    // The consumer's cursor stops at the last event it reads, the last shipment's.
    let tail = store.last_event_seq().await?;
    let last = store
        .events_after(
            (tail - 20).max(0),
            Some("order.shipment_created".into()),
            100,
        )
        .await?
        .last()
        .map(|e| e.seq)
        .context("no shipment event")?;
    println!(
        "backlog: {} orders of an x12 channel, each shipped, in {:.1} s ({backend})",
        args.orders,
        started.elapsed().as_secs_f64()
    );

    let mut child = super::serve_child(&database, false).await?;
    let started = Instant::now();
    loop {
        let at = store
            .read_cursor("documents".into())
            .await?
            .map_or(0, |c| c.cursor);
        if at >= last {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the documents consumer is at event {at} of {last} after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = child.kill().await;

    // Every document is there, built (none failed).
    let mut counted = 0usize;
    let mut cursor = None;
    loop {
        let page = store
            .list_messages(MessageFilter {
                provider: CHANNEL.into(),
                status: Some("ready".into()),
                limit: 500,
                cursor,
                ..MessageFilter::default()
            })
            .await?;
        counted += page.len();
        match page.last() {
            Some(m) if page.len() == 500 => cursor = Some(m.id.clone()),
            _ => break,
        }
    }
    let expected = args.orders * 3;
    if counted != expected {
        bail!("{counted} documents ready, {expected} expected");
    }
    println!(
        "X12 documents (855, 856, 810) drained by iom serve, {backend}: {counted} in {elapsed:.2} s = {:.0} documents/s",
        counted as f64 / elapsed
    );
    Ok(())
}
