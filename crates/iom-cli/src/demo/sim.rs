//! The simulation: a set of actors, each a small step of business that runs on its own cadence.
//! Intake brings orders from four channels (web, marketplace and app through the REST API, EDI as
//! X12 850 documents through the `edi` provider instance); brokering allocates them; the release
//! step hands them to their nodes; nodes ship them after a node-specific delay; carriers deliver;
//! customers cancel a few and return a few delivered ones, whose parcels arrive at their return
//! node a little later (the default return flow then inspects, restocks, refunds and closes);
//! stock is recounted now and then.
//!
//! Adding a part of the business is adding an [`Actor`]; once the default order flow releases
//! orders by itself, [`Release`] finds nothing to do and can be dropped.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use iom_app::App;
use iom_domain::OrderId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::seed::{self, NODES};

pub const SKUS: [&str; 24] = [
    "TSHIRT-BLK-M",
    "TSHIRT-BLK-L",
    "TSHIRT-WHT-M",
    "HOODIE-GRY-M",
    "HOODIE-GRY-L",
    "JEANS-32-32",
    "JEANS-34-32",
    "SNEAKER-42",
    "SNEAKER-43",
    "SNEAKER-44",
    "CAP-NAVY",
    "SOCKS-3PK",
    "JACKET-RAIN-M",
    "JACKET-RAIN-L",
    "BACKPACK-20L",
    "BOTTLE-750",
    "MUG-CERAMIC",
    "LAMP-DESK",
    "CHAIR-OFFICE",
    "DESK-OAK",
    "HEADPHONES-BT",
    "CHARGER-USB-C",
    "CABLE-2M",
    "WATCH-SPORT",
];

/// Ship-to cities: (city, region, postal code, lat, lon).
const CITIES: [(&str, &str, &str, f64, f64); 12] = [
    ("Seattle", "WA", "98101", 47.6062, -122.3321),
    ("Portland", "OR", "97201", 45.5152, -122.6784),
    ("San Francisco", "CA", "94103", 37.7749, -122.4194),
    ("Los Angeles", "CA", "90012", 34.0522, -118.2437),
    ("Phoenix", "AZ", "85004", 33.4484, -112.0740),
    ("Denver", "CO", "80202", 39.7392, -104.9903),
    ("Dallas", "TX", "75201", 32.7767, -96.7970),
    ("Chicago", "IL", "60601", 41.8781, -87.6298),
    ("Atlanta", "GA", "30303", 33.7490, -84.3880),
    ("Miami", "FL", "33130", 25.7617, -80.1918),
    ("New York", "NY", "10001", 40.7128, -74.0060),
    ("Boston", "MA", "02108", 42.3601, -71.0589),
];

/// Channels that send through the REST API, with their share of the traffic.
const REST_CHANNELS: [(&str, u32); 3] = [("web", 45), ("marketplace", 25), ("app", 20)];
/// The rest (10 %) arrives as EDI.
const EDI_SHARE: u32 = 10;

/// A unit price per SKU, from 4.99 to 249.99.
fn price(sku: usize) -> String {
    let cents = 499 + (sku as u64 * 3_761) % 24_500;
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A realistic order, deterministic in `n`: 1 to 4 lines, a ship-to in one of twelve cities.
pub fn order_intake(n: u64, external_id: &str, placed_at: DateTime<Utc>) -> Value {
    let mut rng = StdRng::seed_from_u64(n);
    let (city, region, postal, lat, lon) = CITIES[rng.random_range(0..CITIES.len())];
    let lines: Vec<Value> = (0..rng.random_range(1..=4u32))
        .map(|l| {
            let sku = rng.random_range(0..SKUS.len());
            json!({"line_no": l + 1, "sku": SKUS[sku], "quantity": rng.random_range(1..=3u32),
                   "unit_price": price(sku)})
        })
        .collect();
    let roll = rng.random_range(0..100u32);
    let mut channel = REST_CHANNELS[0].0;
    let mut acc = 0;
    for (name, share) in REST_CHANNELS {
        acc += share;
        if roll < acc * 100 / (100 - EDI_SHARE) {
            channel = name;
            break;
        }
    }
    let customer = rng.random_range(1..5_000u32);
    let mut body = json!({
        "channel": channel,
        "external_id": external_id,
        "currency": "USD",
        "placed_at": placed_at,
        "customer": {"id": format!("C-{customer}"), "email": format!("customer{customer}@example.com"),
                     "name": format!("Customer {customer}")},
        "ship_to": {"name": format!("Customer {customer}"), "line1": format!("{} Main St", 1 + customer % 900),
                    "city": city, "region": region, "postal_code": postal, "country": "US",
                    "lat": lat, "lon": lon},
        "lines": lines,
        "ship_method": if rng.random_range(0..5) == 0 { "express" } else { "standard" },
    });
    if rng.random_range(0..4) == 0 {
        body["requested_delivery_at"] =
            json!(placed_at + chrono::Duration::days(rng.random_range(2..6)));
    }
    body
}

/// The demo's HTTP client: the real API, with the admin token.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub fn new(base: &str, token: &str) -> anyhow::Result<Api> {
        Ok(Api {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
        let resp = req.bearer_auth(&self.token).send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        if status >= 500 {
            anyhow::bail!("server error {status}: {text}");
        }
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        self.send(self.client.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    pub async fn post_raw(&self, path: &str, body: String) -> anyhow::Result<(u16, Value)> {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/edi-x12")
                .body(body),
        )
        .await
    }

    /// A PUT that must succeed (configuration).
    pub async fn put(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, value) = self
            .send(self.client.put(format!("{}{path}", self.base)).json(&body))
            .await?;
        if !(200..300).contains(&status) {
            anyhow::bail!("PUT {path}: {status} {value}");
        }
        Ok(value)
    }

    /// Orders in `status`, oldest first (up to 200).
    async fn orders(&self, status: &str) -> anyhow::Result<Vec<Value>> {
        let (_, page) = self
            .get(&format!("/api/v1/orders?status={status}&limit=200"))
            .await?;
        let mut items = page["items"].as_array().cloned().unwrap_or_default();
        items.reverse();
        Ok(items)
    }
}

/// What every actor sees.
pub struct World {
    pub api: Api,
    pub app: App,
    pub rng: StdRng,
    /// Orders created so far by this run (numbers their external ids).
    pub created: u64,
    pub run: i64,
}

/// One part of the business, run on its own cadence. A new part is a new variant, its cadence in
/// [`Actor::every`] and its step in [`Actor::tick`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// New orders from web, marketplace and app, at the configured rate.
    Intake,
    /// EDI purchase orders: X12 850 documents to the `edi` provider instance; now and then one is
    /// malformed and stays `failed` in the message log.
    Edi,
    /// Brokering over the open and backordered orders: reserve stock, allocate lines.
    Allocate,
    /// Hands allocated orders to their nodes (lines `released`).
    Release,
    /// Nodes ship what was released to them, each after its own handling time.
    Ship,
    /// Carriers deliver what shipped.
    Deliver,
    /// Customers cancel a few orders before they ship.
    Cancel,
    /// Cycle counts put stock back at every node.
    Restock,
    /// Customers return part of a few delivered orders.
    Return,
    /// Returned parcels arrive at their return node; some units come with a disposition, the
    /// others are left to the return flow's inspection.
    ReceiveReturns,
}

pub const ACTORS: [Actor; 10] = [
    Actor::Intake,
    Actor::Edi,
    Actor::Allocate,
    Actor::Release,
    Actor::Ship,
    Actor::Deliver,
    Actor::Cancel,
    Actor::Restock,
    Actor::Return,
    Actor::ReceiveReturns,
];

impl Actor {
    pub fn every(self) -> Duration {
        match self {
            Actor::Intake => Duration::from_millis(250),
            Actor::Edi => Duration::from_secs(5),
            Actor::Allocate => Duration::from_secs(2),
            Actor::Release => Duration::from_secs(2),
            Actor::Ship => Duration::from_secs(2),
            Actor::Deliver => Duration::from_secs(3),
            Actor::Cancel => Duration::from_secs(7),
            Actor::Restock => Duration::from_secs(120),
            Actor::Return => Duration::from_secs(5),
            Actor::ReceiveReturns => Duration::from_secs(4),
        }
    }

    pub async fn tick(self, w: &mut World, rate: f64) -> anyhow::Result<usize> {
        match self {
            Actor::Intake => intake(w, rate * 0.9 * self.every().as_secs_f64()).await,
            Actor::Edi => edi(w, rate * 0.1 * self.every().as_secs_f64()).await,
            Actor::Allocate => {
                let (_, run) = w
                    .api
                    .post(
                        "/api/v1/fulfillment/brokering-runs",
                        json!({"commit": true, "limit": 500}),
                    )
                    .await?;
                Ok(run["plans"].as_array().map_or(0, Vec::len))
            }
            Actor::Release => release(w).await,
            Actor::Ship => ship(w).await,
            Actor::Deliver => deliver(w).await,
            Actor::Cancel => cancel(w).await,
            Actor::Restock => {
                w.run += 1;
                seed::restock(&w.api, w.run as u64 * 1_000_000 + w.created).await?;
                Ok(1)
            }
            Actor::Return => return_some(w).await,
            Actor::ReceiveReturns => receive_returns(w).await,
        }
    }
}

/// `expected` orders on average: the whole part, and one more with the fractional chance.
fn how_many(rng: &mut StdRng, expected: f64) -> usize {
    let whole = expected.floor();
    whole as usize + usize::from(rng.random_bool((expected - whole).clamp(0.0, 1.0)))
}

async fn intake(w: &mut World, expected: f64) -> anyhow::Result<usize> {
    let n = how_many(&mut w.rng, expected);
    for _ in 0..n {
        w.created += 1;
        let seed = w.rng.random::<u64>();
        let body = order_intake(seed, &format!("demo-{}-{}", w.run, w.created), Utc::now());
        w.api.post("/api/v1/orders", body).await?;
    }
    Ok(n)
}

/// One X12 850 interchange with one purchase order, numbered `po`.
fn purchase_order(po: &str, rng: &mut StdRng, broken: bool) -> String {
    let (city, region, postal, _, _) = CITIES[rng.random_range(0..CITIES.len())];
    let mut body = format!(
        "ST*850*0001~BEG*00*SA*{po}**{date}~CUR*BY*USD~N1*ST*Receiving*92*{po}~N3*1 Dock Rd~N4*{city}*{region}*{postal}*US~",
        date = Utc::now().format("%Y%m%d"),
    );
    let lines = if broken { 0 } else { rng.random_range(1..=3) };
    for line in 1..=lines {
        let sku = rng.random_range(0..SKUS.len());
        body.push_str(&format!(
            "PO1*{line}*{q}*EA*{p}**VP*{s}~",
            q = rng.random_range(5..=20),
            p = price(sku),
            s = SKUS[sku]
        ));
    }
    body.push_str(&format!("CTT*{lines}~"));
    let segments = body.matches('~').count() + 1;
    body.push_str(&format!("SE*{segments}*0001~"));
    format!(
        "ISA*00*          *00*          *ZZ*RETAILER       *ZZ*IOM            *{d}*{t}*U*00401*000000001*0*P*>~GS*PO*RETAILER*IOM*{D}*{t}*1*X*004010~{body}GE*1*1~IEA*1*000000001~",
        d = Utc::now().format("%y%m%d"),
        D = Utc::now().format("%Y%m%d"),
        t = Utc::now().format("%H%M"),
    )
}

async fn edi(w: &mut World, expected: f64) -> anyhow::Result<usize> {
    let n = how_many(&mut w.rng, expected);
    for _ in 0..n {
        w.created += 1;
        let broken = w.rng.random_bool(0.05);
        let doc = purchase_order(&format!("PO-{}-{}", w.run, w.created), &mut w.rng, broken);
        w.api.post_raw("/api/v1/inbound/edi", doc).await?;
    }
    Ok(n)
}

/// Releases allocated lines to their nodes, in process: orchestration does this once the
/// default order flow runs (then nothing is left here to release).
async fn release(w: &mut World) -> anyhow::Result<usize> {
    let mut released = 0;
    for order in w.api.orders("processing").await? {
        let Some(id) = order["id"].as_str().and_then(|i| i.parse::<OrderId>().ok()) else {
            continue;
        };
        let any_allocated = order["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|l| l["status"] == "allocated");
        if !any_allocated {
            continue;
        }
        let result = w
            .app
            .store
            .update_order(id, |o, now| o.release_allocated_lines(now))
            .await;
        if result.is_ok() {
            released += 1;
        }
    }
    Ok(released)
}

/// Seconds a node takes from release to shipment: distribution centres are quick, the store and
/// the vendor slower.
fn handling_seconds(node: &str) -> i64 {
    match NODES.iter().position(|n| n.0 == node) {
        Some(i) if NODES[i].2 == "warehouse" => 8 + i as i64 * 3,
        Some(_) => 40,
        None => 20,
    }
}

fn age_seconds(order: &Value) -> i64 {
    order["updated_at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(0, |t| (Utc::now() - t.with_timezone(&Utc)).num_seconds())
}

async fn ship(w: &mut World) -> anyhow::Result<usize> {
    let mut shipped = 0;
    for order in w.api.orders("released").await? {
        let id = order["id"].as_str().unwrap_or_default();
        let mut by_node: Vec<(String, Vec<Value>)> = Vec::new();
        for line in order["lines"].as_array().into_iter().flatten() {
            let open = line["quantity"].as_i64().unwrap_or(0)
                - line["cancelled_quantity"].as_i64().unwrap_or(0)
                - line["shipped_quantity"].as_i64().unwrap_or(0);
            let Some(node) = line["node"].as_str() else {
                continue;
            };
            if open <= 0 {
                continue;
            }
            let entry = match by_node.iter_mut().find(|(n, _)| n == node) {
                Some(e) => e,
                None => {
                    by_node.push((node.to_owned(), Vec::new()));
                    by_node.last_mut().expect("just pushed")
                }
            };
            entry
                .1
                .push(json!({"line_no": line["line_no"], "quantity": open}));
        }
        for (node, lines) in by_node {
            if age_seconds(&order) < handling_seconds(&node) {
                continue;
            }
            let tracking = format!("1Z{:016}", w.rng.random::<u64>() % 10_000_000_000_000_000);
            let (status, _) = w
                .api
                .post(
                    &format!("/api/v1/orders/{id}/shipments"),
                    json!({"node": node, "lines": lines, "carrier": "UPS", "tracking": tracking}),
                )
                .await?;
            shipped += usize::from(status == 200);
        }
    }
    Ok(shipped)
}

async fn deliver(w: &mut World) -> anyhow::Result<usize> {
    let mut delivered = 0;
    for order in w.api.orders("shipped").await? {
        if age_seconds(&order) < 20 {
            continue;
        }
        let id = order["id"].as_str().unwrap_or_default();
        let lines: Vec<Value> = order["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| {
                let left = l["shipped_quantity"].as_i64()? - l["delivered_quantity"].as_i64()?;
                (left > 0).then(|| json!({"line_no": l["line_no"], "quantity": left}))
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        let (status, _) = w
            .api
            .post(
                &format!("/api/v1/orders/{id}/deliveries"),
                json!({"lines": lines}),
            )
            .await?;
        delivered += usize::from(status == 200);
    }
    Ok(delivered)
}

async fn cancel(w: &mut World) -> anyhow::Result<usize> {
    let mut candidates = w.api.orders("received").await?;
    candidates.extend(w.api.orders("backordered").await?);
    if candidates.is_empty() || !w.rng.random_bool(0.5) {
        return Ok(0);
    }
    let order = &candidates[w.rng.random_range(0..candidates.len())];
    let id = order["id"].as_str().unwrap_or_default();
    let (status, _) = w
        .api
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            json!({"reason": "customer_request"}),
        )
        .await?;
    Ok(usize::from(status == 200))
}

/// Now and then a customer returns some units of one line of a delivered order.
async fn return_some(w: &mut World) -> anyhow::Result<usize> {
    if !w.rng.random_bool(0.6) {
        return Ok(0);
    }
    let delivered: Vec<Value> = w
        .api
        .orders("delivered")
        .await?
        .into_iter()
        .filter(|o| o["returns"].as_array().is_none_or(Vec::is_empty))
        .collect();
    if delivered.is_empty() {
        return Ok(0);
    }
    let order = &delivered[w.rng.random_range(0..delivered.len())];
    let lines = order["lines"].as_array().cloned().unwrap_or_default();
    if lines.is_empty() {
        return Ok(0);
    }
    let line = &lines[w.rng.random_range(0..lines.len())];
    let most = line["delivered_quantity"].as_i64().unwrap_or(0);
    if most < 1 {
        return Ok(0);
    }
    let reasons = [
        "size_fit",
        "changed_mind",
        "damaged",
        "defective",
        "wrong_item",
    ];
    let origins = ["online", "store", "app", "service_center"];
    let (status, _) = w
        .api
        .post(
            "/api/v1/returns",
            json!({"order_id": order["id"], "origin": origins[w.rng.random_range(0..origins.len())],
                   "lines": [{"line_no": line["line_no"], "quantity": w.rng.random_range(1..=most),
                              "reason": reasons[w.rng.random_range(0..reasons.len())]}]}),
        )
        .await?;
    Ok(usize::from(status == 201))
}

/// Parcels authorised a little while ago arrive at their return node. Half the lines come with
/// the receiving clerk's disposition; the others wait for the return flow's inspection.
async fn receive_returns(w: &mut World) -> anyhow::Result<usize> {
    let (_, page) = w
        .api
        .get("/api/v1/returns?status=authorized&limit=100")
        .await?;
    let mut received = 0;
    for ret in page["items"].as_array().cloned().unwrap_or_default() {
        let age = ret["created_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or(0, |t| (Utc::now() - t.with_timezone(&Utc)).num_seconds());
        let Some(node) = ret["return_to"]["node"].as_str() else {
            continue;
        };
        if age < 15 {
            continue;
        }
        let conditions = ["new", "new", "opened", "damaged"];
        let lines: Vec<Value> = ret["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                let mut line = json!({"line_no": l["line_no"], "quantity": l["quantity"],
                    "condition": conditions[w.rng.random_range(0..conditions.len())]});
                if w.rng.random_bool(0.5) {
                    line["disposition"] = json!("restock");
                }
                line
            })
            .collect();
        let id = ret["id"].as_str().unwrap_or_default();
        let (status, _) = w
            .api
            .post(
                &format!("/api/v1/returns/{id}/receive"),
                json!({"node": node, "lines": lines}),
            )
            .await?;
        received += usize::from(status == 200);
    }
    Ok(received)
}

/// Runs every actor on its cadence until the task is aborted. A failing step is logged and
/// tried again at its next turn.
pub async fn run(api: Api, app: App, rate: f64) {
    let mut world = World {
        api,
        app,
        rng: StdRng::from_os_rng(),
        created: 0,
        run: Utc::now().timestamp(),
    };
    let started = Instant::now();
    let mut due: Vec<Duration> = ACTORS.iter().map(|_| Duration::ZERO).collect();
    loop {
        let elapsed = started.elapsed();
        for (actor, next) in ACTORS.iter().zip(due.iter_mut()) {
            if elapsed >= *next {
                *next = elapsed + actor.every();
                match actor
                    .tick(&mut world, rate)
                    .await
                    .context(format!("{actor:?}"))
                {
                    Ok(n) if n > 0 => tracing::debug!(actor = ?actor, n, "demo step"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "demo step failed"),
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
