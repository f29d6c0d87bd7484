//! `iom bench carrier`: shipping through a carrier against a local stand-in for EasyPost's v2
//! API that answers every call after `--carrier-ms` (20 ms, a fast real carrier):
//! - planning a 5-line order with a profile priced by carrier rates (`"rates": "carrier"`),
//!   `POST /api/v1/fulfillment/plan` p50/p99 — the rates of a lane are cached, so most plans
//!   make no carrier call;
//! - tracker webhooks per second through `POST /api/v1/inbound/{carrier}`, each signed as EasyPost
//!   signs them and applied to a shipment whose label iom bought (in transit, out for delivery,
//!   delivered).
//!
//! `iom serve` runs as its own process, as users run it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use iom_providers::secrets::easypost_signature;
use iom_server::auth::generate_token;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct CarrierArgs {
    /// How long the carrier takes to answer each call, in milliseconds.
    #[arg(long, default_value_t = 20)]
    carrier_ms: u64,
    /// Plans to time.
    #[arg(long, default_value_t = 2_000)]
    plans: usize,
    /// Shipments (labels bought before the clock starts) whose trackers send three events each.
    #[arg(long, default_value_t = 2_000)]
    shipments: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// A fresh SQLite file when absent, or an empty PostgreSQL database (`postgres://…`).
    #[arg(long)]
    database: Option<String>,
}

const SECRET: &str = "bench-tracker-secret";

pub async fn run(args: CarrierArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.plans == 0 || args.shipments == 0 {
        bail!("--clients, --plans and --shipments must be at least 1");
    }
    let carrier = fake_carrier(Duration::from_millis(args.carrier_ms)).await?;
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
    let (mut child, url) = super::serve_child_as(&database, true, &env).await?;
    let result = bench(&url, &token, &carrier, &args, backend).await;
    let _ = child.kill().await;
    result
}

async fn call(
    client: &reqwest::Client,
    token: &str,
    method: reqwest::Method,
    url: String,
    body: Value,
) -> anyhow::Result<Value> {
    let resp = client
        .request(method, &url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("{url}: {status} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn bench(
    url: &str,
    token: &str,
    carrier: &str,
    args: &CarrierArgs,
    backend: &str,
) -> anyhow::Result<()> {
    use reqwest::Method;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let address = json!({"line1": "500 Dock Rd", "city": "Seattle", "region": "WA",
                         "postal_code": "98134", "country": "US"});
    call(&client, token, Method::PUT, format!("{url}/api/v1/providers/easypost"),
        json!({"type": "carrier",
               "connection": {"base_url": carrier, "api_key": "EZTKbench", "webhook_secret": SECRET},
               "settings": {"from_address": address, "parcel": {"weight": 8.0}}})).await?;
    let mut changes = Vec::new();
    for (i, (code, lat, lon)) in [("SEA", 47.61, -122.33), ("PDX", 45.52, -122.68)]
        .iter()
        .enumerate()
    {
        call(
            &client,
            token,
            Method::PUT,
            format!("{url}/api/v1/nodes/{code}"),
            json!({"kind": "warehouse", "location": {"lat": lat, "lon": lon},
                   "costs": {"per_shipment": "6.00", "per_unit": "0.50"}}),
        )
        .await?;
        for s in 0..5 {
            changes.push(
                json!({"id": format!("bench-{i}-{s}"), "sku": format!("SKU-{s}"),
                "node": code, "kind": "set", "quantity": 1_000_000}),
            );
        }
    }
    call(
        &client,
        token,
        Method::POST,
        format!("{url}/api/v1/inventory/changes"),
        json!({"changes": changes}),
    )
    .await?;
    call(
        &client,
        token,
        Method::PUT,
        format!("{url}/api/v1/fulfillment/profiles/carrier-rates"),
        json!({"objective": "cost", "rates": "carrier"}),
    )
    .await?;

    // Planning with carrier rates: one lane (the cache holds it after the first plan).
    let order = |n: usize| {
        json!({"channel": "bench", "external_id": format!("c-{n}"), "currency": "USD",
            "ship_to": {"line1": "1 Main St", "city": "Seattle", "region": "WA",
                        "postal_code": "98101", "country": "US", "lat": 47.61, "lon": -122.33},
            "lines": (0..5).map(|l| json!({"line_no": l + 1, "sku": format!("SKU-{l}"),
                "quantity": 1, "unit_price": "10.00"})).collect::<Vec<_>>()})
    };
    let plan_url = format!("{url}/api/v1/fulfillment/plan");
    let first = call(
        &client,
        token,
        Method::POST,
        plan_url.clone(),
        json!({"order": order(0), "profile": "carrier-rates"}),
    )
    .await?;
    if !first["explanation"].to_string().contains("carrier rate") {
        bail!("the plan does not show carrier rates: {first}");
    }
    let (plan_client, plan_token) = (client.clone(), token.to_owned());
    let report = super::load::drive(args.clients, args.plans, &[200], move |n| {
        plan_client
            .post(&plan_url)
            .bearer_auth(&plan_token)
            .json(&json!({"order": order(n), "profile": "carrier-rates"}))
    })
    .await?;
    println!(
        "{backend}: planning a 5-line order with carrier rates (carrier {} ms), {} clients: {:.0} plans/s, {}",
        args.carrier_ms,
        args.clients,
        report.per_second(),
        report.latency_line()
    );
    report.print_errors();

    // Tracker webhooks: labels bought first (not timed), then three events per shipment.
    let labels = Arc::new(AtomicUsize::new(0));
    let mut tracking = Vec::with_capacity(args.shipments);
    let mut tasks = Vec::new();
    let per = args.shipments.div_ceil(args.clients);
    for c in 0..args.clients {
        let (client, url, token, labels) = (
            client.clone(),
            url.to_owned(),
            token.to_owned(),
            labels.clone(),
        );
        let range = (c * per)..((c + 1) * per).min(args.shipments);
        tasks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for n in range {
                let created = call(
                    &client,
                    &token,
                    Method::POST,
                    format!("{url}/api/v1/orders"),
                    order(1_000_000 + n),
                )
                .await?;
                let id = created["id"].as_str().context("an order id")?.to_owned();
                let bought = loop {
                    let labelled = client
                        .post(format!("{url}/api/v1/orders/{id}/labels"))
                        .bearer_auth(&token)
                        .json(&json!({}))
                        .send()
                        .await?;
                    if labelled.status().is_success() {
                        break labelled.json::<Value>().await?;
                    }
                    // Not released by the flow yet.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                };
                let code = bought["order"]["shipments"][0]["tracking"]
                    .as_str()
                    .context("a tracking code")?
                    .to_owned();
                codes.push(code);
                labels.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(codes)
        }));
    }
    for t in tasks {
        tracking.extend(t.await??);
    }
    let bodies: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        ["in_transit", "out_for_delivery", "delivered"]
            .iter()
            .enumerate()
            .flat_map(|(s, status)| {
                tracking.iter().enumerate().map(move |(n, code)| {
                    let body = serde_json::to_vec(&json!({
                        "object": "Event", "id": format!("evt_{s}_{n}"), "description": "tracker.updated",
                        "result": {"object": "Tracker", "tracking_code": code, "status": status,
                                   "carrier": "USPS"}})).expect("JSON");
                    let signature = easypost_signature(SECRET, &body);
                    (body, signature)
                })
            })
            .collect(),
    );
    let inbound = format!("{url}/api/v1/inbound/easypost");
    let count = bodies.len();
    let report = super::load::drive(args.clients, count, &[202], move |i| {
        let (body, signature) = &bodies[i];
        client
            .post(&inbound)
            .header("X-Hmac-Signature", signature)
            .body(body.clone())
    })
    .await?;
    println!(
        "{backend}: tracker events through POST /api/v1/inbound/{{carrier}}, {} clients: {:.0} events/s, {}",
        args.clients,
        report.per_second(),
        report.latency_line()
    );
    report.print_errors();
    Ok(())
}

/// A stand-in for EasyPost: rates, buys and labels, each answered after `delay`.
async fn fake_carrier(delay: Duration) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let next = Arc::new(AtomicUsize::new(0));
    let shared = (delay, next, url.clone());
    let app = axum::Router::new()
        .route("/v2/shipments", post(create))
        .route("/v2/shipments/{id}", get(retrieve))
        .route("/v2/shipments/{id}/buy", post(buy))
        .route("/labels/{id}", get(|| async { "%PDF-1.4 bench label" }))
        .with_state(shared);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

type Shared = (Duration, Arc<AtomicUsize>, String);

fn shipment(id: &str, bought: Option<(&str, &str)>) -> Value {
    let rates: Vec<Value> = [
        ("First", "4.10", 5),
        ("Priority", "7.90", 2),
        ("Express", "26.35", 1),
    ]
    .iter()
    .map(|(service, rate, days)| {
        json!({"id": format!("rate_{id}_{service}"), "object": "Rate",
            "carrier": "USPS", "service": service, "rate": rate, "currency": "USD",
            "delivery_days": days})
    })
    .collect();
    let mut s = json!({"id": id, "object": "Shipment", "rates": rates, "postage_label": null,
                       "selected_rate": null, "tracking_code": null});
    if let Some((url, tracking)) = bought {
        s["selected_rate"] = rates[0].clone();
        s["postage_label"] = json!({"label_url": format!("{url}/labels/{id}.pdf"),
                                    "label_pdf_url": format!("{url}/labels/{id}.pdf"),
                                    "label_file_type": "application/pdf"});
        s["tracking_code"] = json!(tracking);
    }
    s
}

async fn create(State((delay, next, _)): State<Shared>) -> axum::Json<Value> {
    tokio::time::sleep(delay).await;
    let n = next.fetch_add(1, Ordering::Relaxed);
    axum::Json(shipment(&format!("shp_{n}"), None))
}

async fn retrieve(
    State((delay, _, _)): State<Shared>,
    Path(id): Path<String>,
) -> axum::Json<Value> {
    tokio::time::sleep(delay).await;
    axum::Json(shipment(&id, None))
}

async fn buy(State((delay, _, url)): State<Shared>, Path(id): Path<String>) -> axum::Json<Value> {
    tokio::time::sleep(delay).await;
    let tracking = format!("9400{}", id.trim_start_matches("shp_"));
    axum::Json(shipment(&id, Some((&url, &tracking))))
}
