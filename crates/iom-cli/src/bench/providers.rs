//! `iom bench providers`: the data pipeline's figures.
//!
//! - X12 850 parsing: MB/s of `x12::parse` alone, and of parsing plus mapping every 850 to an
//!   order intake, over one large generated interchange.
//! - X12 mailbag: the same purchase orders in many interchanges of ten, read with `x12::read`,
//!   then taken as the pipeline takes a body (each set mapped and enveloped alone, every
//!   interchange acknowledged): MB/s of each.
//! - X12 outbound: µs to write and validate an 856 and an 810 for an order of the generated
//!   850s shipped in two parts, and the documents per second that makes on one core.
//! - Shopify webhooks over HTTP: signed `POST /api/v1/inbound/{provider}` with concurrent clients,
//!   each answered 202 only once its order is committed; orders per second.
//! - Outbound webhooks: a subscription created after the orders exist, with `after: 0`, delivers
//!   every `order.received` to a local receiver; deliveries per second until its cursor reaches
//!   the last event.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use iom_providers::secrets::shopify_signature;
use iom_server::auth::generate_token;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct ProvidersArgs {
    /// Purchase orders in the generated X12 interchange.
    #[arg(long, default_value_t = 20_000)]
    x12_orders: usize,
    /// Shopify webhooks to send.
    #[arg(long, default_value_t = 20_000)]
    webhooks: usize,
    /// Concurrent webhook clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Database of the in-process server: a fresh SQLite file when absent, or `postgres://…`.
    #[arg(long)]
    database: Option<String>,
}

pub async fn run(args: ProvidersArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.webhooks == 0 || args.x12_orders == 0 {
        bail!("--clients, --webhooks and --x12-orders must be at least 1");
    }
    x12(args.x12_orders)?;
    x12_mailbag(args.x12_orders)?;
    x12_outbound()?;
    let dir = tempfile::tempdir()?;
    let database_url = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let token = generate_token();
    let running = iom_server::spawn(iom_server::Config {
        listen: "127.0.0.1:0".parse()?,
        app: iom_app::Config {
            database_url: database_url.clone(),
            admin_token: Some(token.clone()),
            master_key: Some("bench master key".into()),
            nats_url: None,
            flows: false,
            ..Default::default()
        },
    })
    .await?;
    let backend = if database_url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    let url = running.url();
    let result = async {
        shopify(&url, &token, &args, backend).await?;
        deliveries(&running, &url, &token, args.webhooks).await
    }
    .await;
    running.stop().await;
    result
}

/// One 850 with ten lines and a ship-to, numbered `n`.
fn purchase_order(n: usize, out: &mut String) {
    use std::fmt::Write;
    let control = format!("{:04}", n % 10_000);
    let start = out.len();
    let _ = write!(
        out,
        "ST*850*{control}~BEG*00*SA*PO-{n}**20261126~CUR*BY*USD~REF*DP*042~TD5****M*UPSG~\
         N1*ST*Ann Lee*92*ST-{n}~N3*1 Main St~N4*Seattle*WA*98101*US~"
    );
    for line in 1..=10 {
        let _ = write!(
            out,
            "PO1*{line}*{q}*EA*{line}.95**VP*SKU-{line:03}*UP*0000000{line:05}~PID*F****Article {line}~",
            q = line * 2
        );
    }
    let _ = write!(out, "CTT*10~");
    let segments = out[start..].matches('~').count() + 1;
    let _ = write!(out, "SE*{segments}*{control}~");
}

fn x12(orders: usize) -> anyhow::Result<()> {
    let mut doc = String::from(
        "ISA*00*          *00*          *ZZ*BUYER          *ZZ*IOM            *261126*1200*U*00401*000000001*0*P*>~GS*PO*BUYER*IOM*20261126*1200*1*X*004010~",
    );
    for n in 0..orders {
        purchase_order(n, &mut doc);
    }
    doc.push_str(&format!("GE*{orders}*1~IEA*1*000000001~"));
    let bytes = doc.as_bytes();
    let mb = bytes.len() as f64 / 1e6;
    // Warm caches once, then measure the best of three.
    let _ = iom_providers::x12::parse(bytes).context("parsing the generated interchange")?;
    let mut parse_best = f64::MAX;
    let mut map_best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let ix = iom_providers::x12::parse(bytes)?;
        parse_best = parse_best.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let ix2 = iom_providers::x12::parse(bytes)?;
        let intakes = iom_providers::x12::po850::orders(&ix2, "edi")?;
        map_best = map_best.min(t.elapsed().as_secs_f64());
        if intakes.len() != orders || ix.len() < orders {
            bail!("expected {orders} orders, got {}", intakes.len());
        }
    }
    println!("X12 850: {orders} purchase orders, {mb:.1} MB in one interchange");
    println!("  parse:              {:>8.1} MB/s", mb / parse_best);
    println!(
        "  parse + map to intakes: {:>4.1} MB/s ({:.0} orders/s)",
        mb / map_best,
        orders as f64 / map_best
    );
    Ok(())
}

fn x12_mailbag(orders: usize) -> anyhow::Result<()> {
    use std::fmt::Write;
    let per_interchange = 10;
    let mut doc = String::new();
    let interchanges = orders.div_ceil(per_interchange);
    for i in 0..interchanges {
        let control = i + 1;
        let _ = write!(
            doc,
            "ISA*00*          *00*          *ZZ*BUYER          *ZZ*IOM            *261126*1200*U*00401*{control:09}*0*P*>~\nGS*PO*BUYER*IOM*20261126*1200*{control}*X*004010~\n"
        );
        let sets = per_interchange.min(orders - i * per_interchange);
        for n in 0..sets {
            purchase_order(i * per_interchange + n, &mut doc);
        }
        let _ = write!(doc, "GE*{sets}*{control}~\nIEA*1*{control:09}~\n");
    }
    let bytes = doc.as_bytes();
    let mb = bytes.len() as f64 / 1e6;
    let instance = iom_providers::inbound::Instance {
        name: "edi".into(),
        kind: iom_providers::types::find("x12").context("the x12 type")?,
        mappings: Default::default(),
        transform: None,
        default_node: None,
        csv: Default::default(),
    };
    let now = chrono::Utc::now();
    let mut read_best = f64::MAX;
    let mut receipt_best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let received = iom_providers::x12::read(bytes)?;
        read_best = read_best.min(t.elapsed().as_secs_f64());
        if received.len() != interchanges {
            bail!(
                "expected {interchanges} interchanges, read {}",
                received.len()
            );
        }
        let t = Instant::now();
        let receipt = iom_providers::inbound::x12_receipt(&instance, bytes, now)?;
        let succeeded: Vec<bool> = receipt.parts.iter().map(|p| p.result.is_ok()).collect();
        let controls: Vec<u32> = (1..=receipt.acknowledgements_needed() as u32).collect();
        let acks = receipt.acknowledgements(&succeeded, &controls, now);
        receipt_best = receipt_best.min(t.elapsed().as_secs_f64());
        if succeeded.iter().filter(|ok| **ok).count() != orders || acks.len() != interchanges {
            bail!(
                "the mailbag's orders did not all map, or not every interchange was acknowledged"
            );
        }
    }
    println!("X12 mailbag: {orders} purchase orders, {mb:.1} MB in {interchanges} interchanges");
    println!("  read:               {:>8.1} MB/s", mb / read_best);
    println!(
        "  read + map + envelope each set + acknowledge: {:.1} MB/s ({:.0} orders/s)",
        mb / receipt_best,
        orders as f64 / receipt_best
    );
    Ok(())
}

/// Writing and validating the documents a shipment causes, in process (the store and the event
/// consumer around them are not in this figure).
fn x12_outbound() -> anyhow::Result<()> {
    use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
    use iom_providers::x12::outbound::{Outgoing, invoice_810, ship_notice_856};
    use iom_providers::x12::writer::EnvelopeSettings;

    let mut doc = String::from(
        "ISA*00*          *00*          *ZZ*BUYER          *ZZ*IOM            *261126*1200*U*00401*000000001*0*P*>~GS*PO*BUYER*IOM*20261126*1200*1*X*004010~",
    );
    purchase_order(1, &mut doc);
    doc.push_str("GE*1*1~IEA*1*000000001~");
    let ix = iom_providers::x12::parse(doc.as_bytes())?;
    let intake = iom_providers::x12::po850::orders(&ix, "edi")?.remove(0);
    let now = chrono::Utc::now();
    let mut order = intake
        .validate(now)
        .map_err(|e| anyhow::anyhow!("the generated order is invalid: {e:?}"))?;
    for half in [1, 2] {
        let lines = order
            .lines
            .iter()
            .map(|l| LineQuantityRequest {
                line_no: Some(l.line_no.into()),
                quantity: Some(
                    if half == 1 {
                        l.quantity / 2
                    } else {
                        l.quantity - l.quantity / 2
                    }
                    .into(),
                ),
            })
            .collect();
        order.record_shipment(
            ShipmentRequest {
                node: Some("DC-1".into()),
                lines: Some(lines),
                carrier: Some("UPS".into()),
                tracking: Some(format!("1Z999AA1012345678{half}")),
            },
            now,
        )?;
    }
    let settings: EnvelopeSettings =
        serde_json::from_value(json!({"sender_id": "IOM", "receiver_id": "BUYER"}))?;
    let at = now.naive_utc();
    let rounds = 20_000u64;
    // The best of three rounds of `rounds` documents, in seconds.
    let best_of = |write: &dyn Fn(&Outgoing<'_>) -> anyhow::Result<()>| -> anyhow::Result<f64> {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            for control in 1..=rounds {
                write(&Outgoing {
                    envelope: &settings,
                    control,
                    at,
                    learned: None,
                })?;
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok(best)
    };
    let best = (
        best_of(&|out| {
            std::hint::black_box(ship_notice_856(&order, &order.shipments[1], None, out)?);
            Ok(())
        })?,
        best_of(&|out| {
            std::hint::black_box(invoice_810(&order, 1, out)?);
            Ok(())
        })?,
    );
    let per = |secs: f64| secs / rounds as f64 * 1e6;
    println!(
        "X12 outbound: an order of 10 lines shipped in two parts, written and validated on one core"
    );
    println!(
        "  856 ship notice: {:>6.1} µs ({:.0} documents/s)",
        per(best.0),
        rounds as f64 / best.0
    );
    println!(
        "  810 invoice:     {:>6.1} µs ({:.0} documents/s)",
        per(best.1),
        rounds as f64 / best.1
    );
    Ok(())
}

/// A Shopify order webhook body (the bare order), numbered `n`.
pub(super) fn shopify_order(n: usize) -> Value {
    json!({
        "id": 9_000_000 + n, "name": format!("#{n}"), "email": "ann@example.com",
        "created_at": "2026-11-26T10:00:00-05:00", "currency": "USD",
        "total_price": "61.85", "subtotal_price": "59.85", "total_tax": "0.00",
        "line_items": [
            {"id": 1, "sku": "SKU-001", "quantity": 1, "price": "19.95", "variant_id": 11, "title": "One"},
            {"id": 2, "sku": "SKU-002", "quantity": 2, "price": "19.95", "variant_id": 12, "title": "Two"}
        ],
        "shipping_address": {"first_name": "Ann", "last_name": "Lee", "name": "Ann Lee",
            "address1": "1 Main St", "city": "Seattle", "province_code": "WA", "zip": "98101",
            "country_code": "US", "latitude": 47.61, "longitude": -122.33},
        "customer": {"id": 77, "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"},
        "shipping_lines": [{"code": "standard", "title": "Standard", "price": "2.00"}]
    })
}

async fn shopify(
    url: &str,
    token: &str,
    args: &ProvidersArgs,
    backend: &str,
) -> anyhow::Result<()> {
    let secret = "bench-webhook-secret";
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let resp = client
        .put(format!("{url}/api/v1/providers/shop-bench"))
        .bearer_auth(token)
        .json(&json!({"type": "shopify", "connection": {"shop": "bench.myshopify.com", "webhook_secret": secret}}))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!(
            "creating the provider: {} {}",
            resp.status(),
            resp.text().await?
        );
    }
    transform_only(args.webhooks.min(5_000))?;
    // Bodies and signatures are prepared first, so the clock measures the server.
    let bodies: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..args.webhooks)
            .map(|n| {
                let body = serde_json::to_vec(&shopify_order(n)).expect("JSON");
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
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, signature)) = bodies.get(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let resp = client
                    .post(&endpoint)
                    .header("X-Shopify-Hmac-Sha256", signature)
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                let status = resp.status();
                let answer: Value = resp.json().await?;
                if status != reqwest::StatusCode::ACCEPTED || answer["status"] != "processed" {
                    bail!("webhook {i}: {status} {answer}");
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "Shopify webhooks over HTTP ({backend}, {} clients): {} orders in {elapsed:.2} s = {:.0} orders/s",
        args.clients,
        args.webhooks,
        args.webhooks as f64 / elapsed
    );
    Ok(())
}

async fn deliveries(
    running: &iom_server::Running,
    url: &str,
    token: &str,
    expected: usize,
) -> anyhow::Result<()> {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            async { axum::http::StatusCode::NO_CONTENT }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let last = running.state.store.last_event_seq().await?;
    let started = Instant::now();
    let resp = reqwest::Client::new()
        .put(format!("{url}/api/v1/subscriptions/bench"))
        .bearer_auth(token)
        .json(
            &json!({"url": format!("http://{addr}/hook"), "types": ["order.*"],
                      "secret": "bench-subscription-secret", "after": 0}),
        )
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("creating the subscription: {}", resp.text().await?);
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let cursor = running
            .state
            .store
            .read_cursor("subscription:bench".into())
            .await?;
        if cursor.is_some_and(|c| c.cursor >= last) {
            break;
        }
        if Instant::now() > deadline {
            bail!("deliveries did not finish in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let got = received.load(Ordering::Relaxed);
    if got < expected {
        bail!("the receiver got {got} of {expected} events");
    }
    println!(
        "Outbound webhooks (signed, one event per request, in order): {got} deliveries in {elapsed:.2} s = {:.0} deliveries/s",
        got as f64 / elapsed
    );
    Ok(())
}

/// The CPU cost of a webhook without HTTP and database: JSON parse, transformation, mapping,
/// validation; on one thread. Once with the default program interpreted by jq (what an instance
/// with its own program costs) and once with its Rust mapping (what the default costs).
fn transform_only(count: usize) -> anyhow::Result<()> {
    let bodies: Vec<Vec<u8>> = (0..count)
        .map(|n| serde_json::to_vec(&shopify_order(n)).expect("JSON"))
        .collect();
    let jq = transform_rate(&bodies, iom_providers::jq::Transform::shopify_jq()?)?;
    let native = transform_rate(&bodies, iom_providers::jq::Transform::shopify()?)?;
    println!(
        "Shopify order to validated order (parse, jq, mappings, validation; one thread): {jq:.0} orders/s"
    );
    println!(
        "Shopify order to validated order (parse, native Rust mapping, mappings, validation; one thread): {native:.0} orders/s"
    );
    Ok(())
}

/// Orders per second through `interpret` with `transform`.
fn transform_rate(
    bodies: &[Vec<u8>],
    transform: iom_providers::jq::Transform,
) -> anyhow::Result<f64> {
    use iom_providers::inbound::{Instance, interpret};
    let instance = Instance {
        name: "shop-bench".into(),
        kind: iom_providers::types::find("shopify").context("shopify type")?,
        mappings: Default::default(),
        transform: Some(Arc::new(transform)),
        default_node: None,
        csv: Default::default(),
    };
    let now = chrono::Utc::now();
    let started = Instant::now();
    for body in bodies {
        let result = interpret(&instance, body, now, 0).result;
        if let Err(e) = result {
            bail!("the bench order does not transform: {e}");
        }
    }
    Ok(bodies.len() as f64 / started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::shopify_order;
    use iom_providers::jq::{Transform, shopify_native};

    /// The bench measures the Rust mapping; it must give what the jq program gives.
    #[test]
    fn bench_shopify_order_transforms_the_same_natively_and_in_jq() {
        for n in [0, 7, 12_345] {
            let order = shopify_order(n);
            let jq = Transform::shopify_jq().unwrap().run(&order).unwrap();
            let native = shopify_native(&order).expect("handled natively");
            assert_eq!(native, Ok(jq));
        }
    }
}
