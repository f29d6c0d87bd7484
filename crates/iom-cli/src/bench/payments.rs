//! `iom bench payments`: the default order flow with payment and tax on. A local Stripe and a
//! local AvaTax (in this process) answer every call after `--service-ms` (20 ms, a fast real
//! service); a backlog of untaxed orders with a payment method is captured with the executor
//! off, then a real `iom serve` process with the executor on drains it: each order is taxed,
//! authorised and released. Runs/s is orders gone from `received` to `released` per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use axum::extract::{Form, State};
use axum::routing::post;
use iom_store::Store;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct PaymentsArgs {
    /// Orders in the backlog.
    #[arg(long, default_value_t = 5_000)]
    orders: usize,
    /// How long the local Stripe and AvaTax take to answer each call.
    #[arg(long, default_value_t = 20)]
    service_ms: u64,
    /// A fresh SQLite file when absent, or an empty PostgreSQL database (`postgres://…`).
    #[arg(long)]
    database: Option<String>,
}

const MASTER_KEY: &str = "iom bench payments key";

pub async fn run(args: PaymentsArgs) -> anyhow::Result<()> {
    if args.orders == 0 {
        bail!("--orders must be at least 1");
    }
    let delay = Duration::from_millis(args.service_ms);
    let services = fake_services(delay).await?;
    let dir = tempfile::tempdir()?;
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let token = iom_server::auth::generate_token();
    let backend = if database.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };

    let setup = iom_server::spawn(iom_server::Config {
        listen: "127.0.0.1:0".parse()?,
        app: iom_app::Config {
            database_url: database.clone(),
            admin_token: Some(token.clone()),
            master_key: Some(MASTER_KEY.into()),
            flows: false,
            ..Default::default()
        },
    })
    .await?;
    let client = reqwest::Client::new();
    let api = |path: &str| format!("{}/api/v1{path}", setup.url());
    let puts = [
        (
            "/nodes/SEA",
            json!({"kind": "warehouse", "location": {"lat": 47.61, "lon": -122.33}}),
        ),
        (
            "/providers/stripe",
            json!({"type": "payment",
                   "connection": {"base_url": services, "secret_key": "sk_test_bench"}}),
        ),
        (
            "/providers/avatax",
            json!({"type": "tax",
                   "connection": {"base_url": services, "account_id": "1", "license_key": "k",
                                  "company_code": "BENCH"}}),
        ),
    ];
    for (path, body) in puts {
        let put = client
            .put(api(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(put.status().is_success(), "{path}: {}", put.status());
    }
    let stock = client
        .post(api("/inventory/changes"))
        .bearer_auth(&token)
        .json(&json!({"changes": [
            {"id": "bench-a", "sku": "A", "node": "SEA", "kind": "set", "quantity": 100_000_000},
            {"id": "bench-b", "sku": "B", "node": "SEA", "kind": "set", "quantity": 100_000_000}
        ]}))
        .send()
        .await?;
    anyhow::ensure!(stock.status().is_success(), "stock: {}", stock.status());
    let started = Instant::now();
    capture(&client, &api("/orders"), &token, args.orders).await?;
    println!(
        "backlog: {} orders captured in {:.1} s ({backend})",
        args.orders,
        started.elapsed().as_secs_f64()
    );
    setup.stop().await;

    let monitor = Store::open(&database).await?;
    let (mut child, _) =
        super::serve_child_as(&database, true, &[("IOM_MASTER_KEY", MASTER_KEY)]).await?;
    let started = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let released = monitor.count_orders_with_status("released".into()).await? as usize;
        if released >= args.orders {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!("  … {released} released");
            last_report = Instant::now();
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!(
                "only {released} of {} released after 10 minutes",
                args.orders
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    let _ = child.kill().await;
    println!(
        "default flow with tax and payment (services answering in {} ms), {} orders, {backend}: {:.0} runs/s received → released ({:.2} s)",
        args.service_ms,
        args.orders,
        args.orders as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    Ok(())
}

/// Sends the backlog with 32 concurrent clients: untaxed orders with a payment method.
async fn capture(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    orders: usize,
) -> anyhow::Result<()> {
    let run = chrono::Utc::now().timestamp_micros();
    let mut tasks = Vec::new();
    for c in 0..32 {
        let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            for i in (c..orders).step_by(32) {
                let body = json!({
                    "channel": "bench", "external_id": format!("{run}-{i}"), "currency": "USD",
                    "ship_to": {"country": "US", "postal_code": "98101", "lat": 47.61, "lon": -122.33},
                    "lines": [
                        {"line_no": 1, "sku": "A", "quantity": 1, "unit_price": "5.00"},
                        {"line_no": 2, "sku": "B", "quantity": 2, "unit_price": "7.50"}
                    ],
                    "attributes": {"payment_method": "pm_card_visa"}
                });
                let resp = client.post(&url).bearer_auth(&token).json(&body).send().await?;
                anyhow::ensure!(resp.status() == 201, "order {i}: {}", resp.status());
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

type Shared = (Duration, Arc<AtomicUsize>);

/// Stand-ins for Stripe (authorisations) and AvaTax (10 % of each line), each answering after
/// `delay`, on one port.
async fn fake_services(delay: Duration) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/v1/payment_intents", post(authorize))
        .route("/api/v2/transactions/create", post(tax))
        .with_state((delay, Arc::new(AtomicUsize::new(0))));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

async fn authorize(
    State((delay, next)): State<Shared>,
    Form(form): Form<Vec<(String, String)>>,
) -> axum::Json<Value> {
    tokio::time::sleep(delay).await;
    let n = next.fetch_add(1, Ordering::Relaxed);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let amount: i64 = field("amount").parse().unwrap_or(0);
    axum::Json(
        json!({"id": format!("pi_{n}"), "object": "payment_intent", "amount": amount,
        "amount_capturable": amount, "amount_received": 0, "currency": field("currency"),
        "status": "requires_capture"}),
    )
}

async fn tax(State((delay, _)): State<Shared>, body: axum::Json<Value>) -> axum::Json<Value> {
    tokio::time::sleep(delay).await;
    let lines: Vec<Value> = body.0["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let amount: rust_decimal::Decimal = l["amount"]
                .as_number()
                .and_then(|n| n.to_string().parse().ok())
                .unwrap_or_default();
            let tax = (amount / rust_decimal::Decimal::TEN).round_dp(2);
            json!({"lineNumber": l["number"], "tax": serde_json::from_str::<Value>(&tax.to_string()).unwrap_or(Value::Null)})
        })
        .collect();
    axum::Json(json!({"code": body.0["code"], "status": "Saved", "lines": lines}))
}
