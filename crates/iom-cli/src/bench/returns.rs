//! Returns over real HTTP: authorisations per second (`POST /api/v1/returns`: eligibility, the
//! nearest return node, the order's figures, one transaction) and receipts per second
//! (`POST /api/v1/returns/{id}/receive` restocking through the inventory ledger), with N
//! concurrent clients against a server started in this process, then (unless `--flows off`) how
//! long the default return flow takes to finish every return's run after the last receipt (label,
//! inspection of the units received without a disposition, disposition, refund, close). The
//! shipped orders the returns need are written through the store beforehand and are not measured
//! (nor orchestrated: the default order flow is unpublished first).

use std::time::Duration;

use anyhow::{Context, bail};
use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
use iom_domain::{OrderId, OrderIntake};
use iom_store::returns::ReturnFilter;

use super::load::{Target, drive};

#[derive(clap::Args)]
pub struct ReturnsArgs {
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Returns to authorise and then receive.
    #[arg(long, default_value_t = 5_000)]
    returns: usize,
    /// Database of the in-process server: a fresh SQLite file when absent, or `postgres://…`.
    #[arg(long)]
    database: Option<String>,
    /// Run the return flow (`on`) or measure the API alone (`off`).
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    flows: String,
}

pub async fn run(args: ReturnsArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.returns == 0 {
        bail!("--clients and --returns must be at least 1");
    }
    let flows = args.flows == "on";
    let target = Target::start_with(None, None, args.database.clone(), flows).await?;
    let state = &target
        .server
        .as_ref()
        .context("an in-process server")?
        .state;
    let store = state.store.clone();
    if flows {
        // The orders below are written shipped; orchestrating them (or resuming backorders on
        // the stock receipts put back) is not what is measured, and every run left is a return's.
        for flow in ["default-order", "resume-backorders"] {
            state
                .executor
                .unpublish(flow)
                .await
                .with_context(|| format!("unpublishing the flow {flow}"))?;
        }
    }
    for (code, lat, lon) in [
        ("SEA", 47.6, -122.3),
        ("PDX", 45.5, -122.7),
        ("SFO", 37.6, -122.4),
    ] {
        store
            .put_node(iom_store::nodes::NodeRecord {
                code: code.into(),
                kind: "warehouse".into(),
                active: true,
                safety_stock: 0,
                doc: serde_json::json!({"code": code, "kind": "warehouse", "location": {"lat": lat, "lon": lon}}),
                updated_at: chrono::Utc::now(),
            })
            .await?;
    }
    let orders = shipped_orders(&store, args.returns).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    let auth = format!("Bearer {}", target.token);

    let authorize = {
        let (client, endpoint, auth, orders) = (
            client.clone(),
            format!("{}/api/v1/returns", target.url),
            auth.clone(),
            orders.clone(),
        );
        move |i: usize| {
            let origin = ["store", "online", "app", "service_center"][i % 4];
            client
                .post(&endpoint)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(
                    serde_json::json!({
                        "order_id": orders[i], "origin": origin,
                        "lines": [{"line_no": 1, "quantity": 2, "reason": "changed_mind"},
                                  {"line_no": 2, "quantity": 1, "reason": "damaged"}],
                    })
                    .to_string(),
                )
        }
    };
    let authorized = drive(args.clients, args.returns, &[201], authorize).await?;

    let mut ids = Vec::with_capacity(args.returns);
    let mut cursor = None;
    loop {
        let page = store
            .list_returns(ReturnFilter {
                status: Some("authorized".into()),
                limit: 500,
                cursor: cursor.clone(),
                ..ReturnFilter::default()
            })
            .await?;
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|r| r.id.clone());
        ids.extend(page.into_iter().map(|r| r.id));
    }
    let receive = {
        let (client, base, auth, ids) = (
            client.clone(),
            target.url.clone(),
            auth.clone(),
            ids.clone(),
        );
        move |i: usize| {
            client
                .post(format!("{base}/api/v1/returns/{}/receive", ids[i]))
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(
                    serde_json::json!({"node": "SEA", "lines": [
                        {"line_no": 1, "quantity": 2, "condition": "new", "disposition": "restock"},
                        {"line_no": 2, "quantity": 1, "condition": "damaged"}]})
                    .to_string(),
                )
        }
    };
    let received = drive(args.clients, ids.len(), &[200], receive).await?;
    let drained = if flows {
        Some(drain(&store, ids.len()).await?)
    } else {
        None
    };

    println!(
        "returns: {} orders of 2 shipped lines, {} concurrent clients, {} server",
        args.returns, args.clients, target.backend
    );
    println!(
        "authorisations: {:.0}/s ({:.2} s); {}",
        authorized.per_second(),
        authorized.elapsed.as_secs_f64(),
        authorized.latency_line()
    );
    authorized.print_errors();
    println!(
        "receipts (2 units restocked, 1 left to inspection each): {:.0}/s ({:.2} s); {}",
        received.per_second(),
        received.elapsed.as_secs_f64(),
        received.latency_line()
    );
    received.print_errors();
    if let Some((elapsed, counts)) = drained {
        println!(
            "return flow: every run finished {:.2} s after the last receipt; runs by status: {}",
            elapsed.as_secs_f64(),
            counts
                .iter()
                .map(|(status, n)| format!("{status} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    target.stop().await;
    Ok(())
}

/// Waits until every return's run ended (completed, failed, held or cancelled; the only runs
/// there are); the time it took and the runs by status.
async fn drain(
    store: &iom_store::Store,
    returns: usize,
) -> anyhow::Result<(Duration, Vec<(String, i64)>)> {
    let start = std::time::Instant::now();
    let limit = Duration::from_secs(600);
    loop {
        let counts = store.run_counts().await?;
        let finished: i64 = counts
            .iter()
            .filter(|(s, _)| matches!(s.as_str(), "completed" | "failed" | "held" | "cancelled"))
            .map(|(_, n)| n)
            .sum();
        if finished >= returns as i64 {
            return Ok((start.elapsed(), counts));
        }
        if start.elapsed() > limit {
            bail!("the return runs did not finish within {limit:?}: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `count` orders of two lines, everything shipped from SEA.
async fn shipped_orders(store: &iom_store::Store, count: usize) -> anyhow::Result<Vec<OrderId>> {
    let mut ids = Vec::with_capacity(count);
    let run = chrono::Utc::now().timestamp_micros();
    for i in 0..count {
        let intake: OrderIntake = serde_json::from_value(serde_json::json!({
            "channel": "bench", "external_id": format!("r{run}-{i}"), "currency": "USD",
            "ship_to": {"line1": "1 Main St", "city": "Seattle", "postal_code": "98101", "country": "US",
                        "lat": 47.61, "lon": -122.33},
            "lines": [
                {"line_no": 1, "sku": format!("SKU-{}", i % 500), "quantity": 2, "unit_price": "19.99", "tax": "3.20"},
                {"line_no": 2, "sku": format!("SKU-{}", (i + 250) % 500), "quantity": 1, "unit_price": "5.00"},
            ],
            "shipping_amount": "4.99",
        }))?;
        let order = intake
            .validate(chrono::Utc::now())
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let id = order.id;
        store
            .create_order(order, None, Box::new(|_| (201, String::new())))
            .await?;
        store
            .update_order(id, |o, now| {
                o.record_shipment(
                    ShipmentRequest {
                        node: Some("SEA".into()),
                        lines: Some(
                            [(1, 2), (2, 1)]
                                .into_iter()
                                .map(|(line_no, quantity)| LineQuantityRequest {
                                    line_no: Some(line_no),
                                    quantity: Some(quantity),
                                })
                                .collect(),
                        ),
                        ..ShipmentRequest::default()
                    },
                    now,
                )
            })
            .await?;
        ids.push(id);
    }
    Ok(ids)
}
