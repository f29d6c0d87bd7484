//! `iom bench journey`: the whole life of orders, measured from outside a real `iom serve`
//! process configured as users run it.
//!
//! Without `--url` the bench starts this binary as `iom serve` in a child process, with the
//! default order flow on, on a fresh SQLite file (or on `--database postgres://…`, which should
//! be an empty database), and waits for `/readyz`. Over the API it then sets up 4 warehouses
//! across the US and ample stock of 200 SKUs at each, so that every order can be released.
//!
//! `--clients` concurrent clients each take the next order and follow it through its life, one
//! order at a time, on an HTTP/1.1 connection of their own:
//!
//! 1. intake: `POST /api/v1/orders` (`--lines` lines, a geocoded ship-to) answers 201;
//! 2. released: the default flow validates, plans, reserves and releases the order. One follower
//!    task pages `GET /api/v1/events` for `fulfillment.requested`, `order.released` and the
//!    outcomes that end a journey (`order.backordered`, `order.held`, `order.cancelled`), and
//!    wakes the client waiting for that order;
//! 3. shipped: one `POST /api/v1/orders/{id}/shipments` per node that got a fulfilment request,
//!    for the lines and quantities it names, as a warehouse would answer;
//! 4. delivered: `POST /api/v1/orders/{id}/deliveries` for every line.
//!
//! Figures, over the `--orders` measured orders (after `--warmup` whole journeys not counted):
//!
//! - orders/s of each stage at steady state: the completions of that stage that happened between
//!   the moment its 10% completion happened and the moment its 90% completion happened, divided
//!   by that time. The ramp at the start (every client starting at once) and the tail at the end
//!   (fewer orders left than clients) are left out. Clients follow one order at a time, so every
//!   stage runs at about clients ÷ journey time: more clients put more orders in flight.
//! - intake → released p50, p99, max: from sending the intake request to the arrival of the page
//!   of events holding the order's `order.released`. The follower asks again at once after a full
//!   page and 5 ms after any other, so up to about 5 ms of each figure is that polling. The
//!   intake request's own latency is printed beside it.
//! - errors: an unexpected answer, a request that failed or took over 30 s, an order not released
//!   within `--release-timeout` or backordered, held or cancelled instead. Its journey ends there
//!   and the bench goes on; `--time-limit` bounds the whole run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::cluster::{Cluster, Row, Setting, sweep};
use super::load::{Connection, exchange};

#[derive(clap::Args)]
pub struct JourneyArgs {
    /// Concurrent clients, each following one order at a time.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Orders measured.
    #[arg(long, default_value_t = 5_000)]
    orders: usize,
    /// Whole journeys before measuring (connections, caches, the flow's first passes).
    #[arg(long, default_value_t = 500)]
    warmup: usize,
    /// Lines per order (1 to 200).
    #[arg(long, default_value_t = 3)]
    lines: usize,
    /// Seconds an order may take from intake to released before it counts as an error.
    #[arg(long, default_value_t = 60)]
    release_timeout: u64,
    /// Seconds after which no new order is started (warm-up and measured run together).
    #[arg(long, default_value_t = 900)]
    time_limit: u64,
    /// A running server (with its flows on) instead of a child `iom serve`.
    #[arg(long)]
    url: Option<String>,
    /// Token for `--url`.
    #[arg(long, env = "IOM_TOKEN")]
    token: Option<String>,
    /// Database of the `iom serve` started for the bench: a fresh SQLite file when absent, or
    /// `postgres://…` naming an empty database (create a fresh one for each run).
    #[arg(long, conflicts_with = "url")]
    database: Option<String>,
    /// `iom serve` child processes sharing the database, each client sticking to one; a list
    /// (`1,2,4`) runs each in turn, each on a fresh database.
    #[arg(long, value_delimiter = ',', conflicts_with = "url")]
    processes: Vec<usize>,
    /// Round trip in ms added between every process and PostgreSQL by a delaying TCP proxy
    /// (half each way); a list (`0,1,2`) runs each in turn.
    #[arg(long, value_delimiter = ',', conflicts_with = "url")]
    db_latency_ms: Vec<f64>,
}

/// Warehouses across the US: (code, name, lat, lon).
const NODES: [(&str, &str, f64, f64); 4] = [
    ("SEA-DC", "Seattle distribution centre", 47.6062, -122.3321),
    (
        "DFW-DC",
        "Dallas–Fort Worth distribution centre",
        32.8998,
        -97.0403,
    ),
    ("ORD-DC", "Chicago distribution centre", 41.8781, -87.6298),
    ("EWR-DC", "Newark distribution centre", 40.7357, -74.1724),
];

const SKUS: usize = 200;

/// Ship-to cities: (city, region, postal code, lat, lon).
const SHIP_TO: [(&str, &str, &str, f64, f64); 10] = [
    ("Seattle", "WA", "98101", 47.61, -122.33),
    ("Portland", "OR", "97201", 45.51, -122.69),
    ("San Francisco", "CA", "94103", 37.77, -122.41),
    ("Los Angeles", "CA", "90012", 34.06, -118.24),
    ("Denver", "CO", "80202", 39.75, -104.99),
    ("Dallas", "TX", "75201", 32.79, -96.80),
    ("Chicago", "IL", "60601", 41.89, -87.62),
    ("Atlanta", "GA", "30303", 33.75, -84.39),
    ("Boston", "MA", "02108", 42.36, -71.06),
    ("New York", "NY", "10001", 40.75, -73.99),
];

/// The event types the follower reads.
const FOLLOWED: &str =
    "fulfillment.requested,order.released,order.backordered,order.held,order.cancelled";
const PAGE: usize = 1000;
const POLL: Duration = Duration::from_millis(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(args: JourneyArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.orders == 0 || !(1..=SKUS).contains(&args.lines) {
        bail!("--clients and --orders must be at least 1, --lines 1 to {SKUS}");
    }
    if !args.processes.is_empty() || !args.db_latency_ms.is_empty() {
        let dir = tempfile::tempdir()?;
        let database = args
            .database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("journey.db").display()));
        return sweep(&database, &args.processes, &args.db_latency_ms, |setting| {
            let args = &args;
            async move {
                let server = Server::start_cluster(&setting).await?;
                let outcome = measure(args, &server).await;
                server.stop().await;
                outcome
            }
        })
        .await;
    }
    let server = Server::start(&args).await?;
    let outcome = measure(&args, &server).await;
    server.stop().await;
    outcome.map(|_| ())
}

/// Runs the journeys and prints their figures; the delivered orders/s and the intake → released
/// p99 as a table row.
async fn measure(args: &JourneyArgs, server: &Server) -> anyhow::Result<Row> {
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let run_id = chrono::Utc::now().timestamp_micros();
    setup(&http, server, run_id).await?;

    let ctx = Arc::new(Ctx {
        http: http.clone(),
        urls: server.urls.clone(),
        auth: format!("Bearer {}", server.token),
        lines: args.lines,
        release_timeout: Duration::from_secs(args.release_timeout),
        deadline: Instant::now() + Duration::from_secs(args.time_limit),
        watch: Watch::default(),
    });
    // Events already in the log (the setup's, or a running server's history) are skipped.
    let mut after = 0;
    loop {
        let (_, page) = events_page(&ctx, after).await?;
        after = page.next_cursor.parse().context("next_cursor")?;
        if page.items.len() < PAGE {
            break;
        }
    }
    let follower = tokio::spawn(follow(ctx.clone(), after));

    let warm = journeys(&ctx, args.clients, args.warmup, format!("w{run_id}")).await?;
    let warm_failed = warm.iter().filter(|r| r.error.is_some()).count();
    if args.warmup > 0 && warm_failed == warm.len() {
        follower.abort();
        let first = warm
            .iter()
            .find_map(|r| r.error.clone())
            .unwrap_or_default();
        bail!(
            "warm-up: every order failed; first: {} {}",
            first.0,
            first.1
        );
    }
    if warm_failed > 0 {
        eprintln!("warm-up: {warm_failed} of {} orders failed", warm.len());
    }
    let started = Instant::now();
    let records = journeys(&ctx, args.clients, args.orders, format!("m{run_id}")).await?;
    let elapsed = started.elapsed();
    follower.abort();

    let label = match &server.cluster {
        Some(cluster) if server.db_latency_ms > 0.0 || cluster.urls.len() > 1 => format!(
            "{}, {} clients, {} processes, database round trip +{} ms",
            server.backend,
            args.clients,
            cluster.urls.len(),
            server.db_latency_ms
        ),
        _ => format!("{}, {} clients", server.backend, args.clients),
    };
    println!(
        "journey: {} orders of {} lines after {} of warm-up, {} clients, {} server{}; {} nodes, {SKUS} SKUs",
        args.orders,
        args.lines,
        args.warmup,
        args.clients,
        server.backend,
        if server.cluster.is_some() {
            " (iom serve, default order flow)"
        } else {
            ""
        },
        NODES.len(),
    );
    let mut delivered_rate = 0.0;
    for (index, stage) in ["intake", "released", "shipped", "delivered"]
        .into_iter()
        .enumerate()
    {
        let mut times: Vec<Duration> = records
            .iter()
            .filter_map(|r| r.stages()[index].map(|t| t - started))
            .collect();
        match steady_rate(&mut times) {
            Some((rate, counted, span)) => {
                if stage == "delivered" {
                    delivered_rate = rate;
                }
                println!(
                    "{label}: {stage} {rate:.0} orders/s ({counted} completions of {} between the 10% and 90% ones, {:.2} s)",
                    times.len(),
                    span.as_secs_f64()
                )
            }
            None => println!(
                "{label}: {stage} too few completions to measure ({})",
                times.len()
            ),
        }
    }
    let mut to_release: Vec<Duration> = records
        .iter()
        .filter_map(|r| r.released.map(|t| t - r.sent))
        .collect();
    to_release.sort_unstable();
    let mut intake_request: Vec<Duration> = records
        .iter()
        .filter_map(|r| r.intake.map(|t| t - r.sent))
        .collect();
    intake_request.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if !to_release.is_empty() {
        for (name, q) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
            println!(
                "{label}: intake → released {name} {:.2} ms",
                ms(quantile(&to_release, q))
            );
        }
    }
    if !intake_request.is_empty() {
        println!(
            "{label}: intake request p50 {:.2} ms, p99 {:.2} ms",
            ms(quantile(&intake_request, 0.5)),
            ms(quantile(&intake_request, 0.99))
        );
    }
    println!(
        "{label}: {} journeys done in {:.2} s",
        records.iter().filter(|r| r.delivered.is_some()).count(),
        elapsed.as_secs_f64()
    );
    let errors: Vec<&(&str, String)> = records.iter().filter_map(|r| r.error.as_ref()).collect();
    println!("{label}: errors {}", errors.len());
    let mut by_stage: Vec<(&str, usize)> = Vec::new();
    for (stage, _) in &errors {
        match by_stage.iter_mut().find(|(s, _)| s == stage) {
            Some((_, n)) => *n += 1,
            None => by_stage.push((stage, 1)),
        }
    }
    for (stage, n) in by_stage {
        println!("{label}: errors at {stage} {n}");
    }
    let first = records
        .iter()
        .filter(|r| r.error.is_some())
        .min_by_key(|r| r.sent);
    if let Some((stage, e)) = first.and_then(|r| r.error.as_ref()) {
        println!("first error ({stage}): {e}");
    }
    if records.len() < args.orders {
        println!(
            "{label}: not started (time limit) {}",
            args.orders - records.len()
        );
    }
    ensure!(
        records.iter().any(|r| r.delivered.is_some()),
        "no order went all the way to delivered"
    );
    Ok(Row {
        throughput: delivered_rate,
        unit: "journeys/s",
        p99_ms: if to_release.is_empty() {
            0.0
        } else {
            ms(quantile(&to_release, 0.99))
        },
        p99_of: "intake → released",
    })
}

/// The figure of a stage: completions after the 10% one up to the 90% one, per second between
/// them; with that count and time. `None` when there are too few to tell.
fn steady_rate(times: &mut [Duration]) -> Option<(f64, usize, Duration)> {
    times.sort_unstable();
    let n = times.len();
    let (first, last) = (n / 10, (n * 9).div_ceil(10).checked_sub(1)?);
    let span = times[last].checked_sub(times[first])?;
    if last <= first || span.is_zero() {
        return None;
    }
    Some((
        (last - first) as f64 / span.as_secs_f64(),
        last - first,
        span,
    ))
}

/// Nearest-rank quantile of sorted durations.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The server under measure: child `iom serve` processes, or the one at `--url`.
struct Server {
    /// Where the clients send, spread over them.
    urls: Vec<String>,
    token: String,
    backend: &'static str,
    db_latency_ms: f64,
    cluster: Option<Cluster>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(args: &JourneyArgs) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        if let Some(url) = &args.url {
            let token = args.token.clone().context("--url needs --token")?;
            return Ok(Server {
                urls: vec![url.trim_end_matches('/').to_owned()],
                token,
                backend: "remote",
                db_latency_ms: 0.0,
                cluster: None,
                _dir: dir,
            });
        }
        let database = args
            .database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("journey.db").display()));
        let mut server = Server::start_cluster(&Setting {
            processes: 1,
            db_latency_ms: 0.0,
            database,
        })
        .await?;
        server._dir = dir;
        Ok(server)
    }

    /// `iom serve` processes as users run them (flows at their default, on; warnings only on
    /// stderr), ready.
    async fn start_cluster(setting: &Setting) -> anyhow::Result<Server> {
        let backend = if setting.database.starts_with("postgres") {
            "postgresql"
        } else {
            "sqlite"
        };
        let cluster = Cluster::start(
            &setting.database,
            setting.processes,
            setting.db_round_trip(),
        )
        .await?;
        Ok(Server {
            urls: cluster.urls.clone(),
            token: cluster.token.clone(),
            backend,
            db_latency_ms: setting.db_latency_ms,
            cluster: Some(cluster),
            _dir: tempfile::tempdir()?,
        })
    }

    async fn stop(self) {
        if let Some(cluster) = self.cluster {
            cluster.stop().await;
        }
    }
}

/// The nodes, and stock of every SKU at every node for far more orders than a run sends.
async fn setup(http: &reqwest::Client, server: &Server, run_id: i64) -> anyhow::Result<()> {
    for (code, name, lat, lon) in NODES {
        let put = http
            .put(format!("{}/api/v1/nodes/{code}", server.urls[0]))
            .bearer_auth(&server.token)
            .json(&json!({"name": name, "kind": "warehouse", "location": {"lat": lat, "lon": lon},
                "active": true, "costs": {"per_shipment": "4.00", "per_unit": "0.30", "per_km": "0.0020"}}))
            .send()
            .await?;
        ensure!(
            put.status().is_success(),
            "node {code}: {} {}",
            put.status(),
            put.text().await.unwrap_or_default()
        );
    }
    let changes: Vec<Value> = NODES
        .iter()
        .flat_map(|(node, ..)| {
            (0..SKUS).map(move |s| {
                json!({"id": format!("journey-{run_id}-{node}-{s}"), "sku": sku(s), "node": node,
                       "kind": "set", "quantity": 1_000_000, "reason": "bench journey"})
            })
        })
        .collect();
    let stock = http
        .post(format!("{}/api/v1/inventory/changes", server.urls[0]))
        .bearer_auth(&server.token)
        .json(&json!({ "changes": changes }))
        .send()
        .await?;
    ensure!(
        stock.status().is_success(),
        "stock: {} {}",
        stock.status(),
        stock.text().await.unwrap_or_default()
    );
    Ok(())
}

fn sku(s: usize) -> String {
    format!("JRN-{s:03}")
}

/// What the clients and the follower share.
struct Ctx {
    http: reqwest::Client,
    /// The servers' URLs; client `c` sends to `urls[c % urls.len()]`, the follower to the first.
    urls: Vec<String>,
    auth: String,
    lines: usize,
    release_timeout: Duration,
    deadline: Instant,
    watch: Watch,
}

/// One order's journey: when its intake was sent and when each stage was done.
struct Record {
    sent: Instant,
    intake: Option<Instant>,
    released: Option<Instant>,
    shipped: Option<Instant>,
    delivered: Option<Instant>,
    /// The stage that failed, and why.
    error: Option<(&'static str, String)>,
}

impl Record {
    /// When intake, release, shipping and delivery were done.
    fn stages(&self) -> [Option<Instant>; 4] {
        [self.intake, self.released, self.shipped, self.delivered]
    }
}

/// `count` journeys from `clients` concurrent clients.
async fn journeys(
    ctx: &Arc<Ctx>,
    clients: usize,
    count: usize,
    prefix: String,
) -> anyhow::Result<Vec<Record>> {
    let next = Arc::new(AtomicUsize::new(0));
    let prefix = Arc::new(prefix);
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let (ctx, next, prefix) = (ctx.clone(), next.clone(), prefix.clone());
        tasks.push(tokio::spawn(async move {
            let base = ctx.urls[client % ctx.urls.len()].clone();
            let mut connection = None;
            let mut records = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() > ctx.deadline {
                    break;
                }
                records.push(journey(&ctx, &mut connection, &base, &prefix, i).await);
            }
            records
        }));
    }
    let mut records = Vec::with_capacity(count);
    for task in tasks {
        records.extend(task.await?);
    }
    Ok(records)
}

async fn journey(
    ctx: &Ctx,
    connection: &mut Option<Connection>,
    base: &str,
    prefix: &str,
    i: usize,
) -> Record {
    let (body, lines) = order_body(prefix, i, ctx.lines);
    let mut record = Record {
        sent: Instant::now(),
        intake: None,
        released: None,
        shipped: None,
        delivered: None,
        error: None,
    };
    let id = match call(ctx, connection, base, "/orders".into(), body, 201).await {
        Ok(order) => match order["id"].as_str() {
            Some(id) => id.to_owned(),
            None => {
                record.error = Some(("intake", format!("an answer without id: {order}")));
                return record;
            }
        },
        Err(e) => {
            record.error = Some(("intake", e));
            return record;
        }
    };
    record.intake = Some(Instant::now());

    let requests = match ctx.watch.wait(&id, ctx.release_timeout).await {
        Some(Outcome::Released { at, requests }) => {
            record.released = Some(at);
            requests
        }
        Some(Outcome::Stopped(why)) => {
            record.error = Some(("released", format!("order {id}: {why}")));
            return record;
        }
        None => {
            record.error = Some((
                "released",
                format!(
                    "order {id} not released within {} s",
                    ctx.release_timeout.as_secs()
                ),
            ));
            return record;
        }
    };

    let mut status = String::new();
    for (n, request) in requests.iter().enumerate() {
        let body = json!({
            "node": request.node,
            "lines": request.lines.iter().map(|(line_no, quantity)| json!({"line_no": line_no, "quantity": quantity})).collect::<Vec<_>>(),
            "carrier": "UPS",
            "tracking": format!("1Z{prefix}{i:08}{n}"),
        });
        match call(
            ctx,
            connection,
            base,
            format!("/orders/{id}/shipments"),
            body,
            200,
        )
        .await
        {
            Ok(order) => status = order["status"].as_str().unwrap_or_default().to_owned(),
            Err(e) => {
                record.error = Some(("shipped", format!("order {id}: {e}")));
                return record;
            }
        }
    }
    if status != "shipped" {
        record.error = Some((
            "shipped",
            format!(
                "order {id} is {status:?} after the shipments of its {} fulfilment request(s)",
                requests.len()
            ),
        ));
        return record;
    }
    record.shipped = Some(Instant::now());

    let body = json!({"lines": lines.iter().map(|(line_no, quantity)| json!({"line_no": line_no, "quantity": quantity})).collect::<Vec<_>>()});
    match call(
        ctx,
        connection,
        base,
        format!("/orders/{id}/deliveries"),
        body,
        200,
    )
    .await
    {
        Ok(order) if order["status"] == "delivered" => record.delivered = Some(Instant::now()),
        Ok(order) => {
            record.error = Some((
                "delivered",
                format!("order {id} is {} after its delivery", order["status"]),
            ))
        }
        Err(e) => record.error = Some(("delivered", format!("order {id}: {e}"))),
    }
    record
}

/// `POST /api/v1{path}` on the client's connection; the answer's JSON when its status is `ok`.
async fn call(
    ctx: &Ctx,
    connection: &mut Option<Connection>,
    base: &str,
    path: String,
    body: Value,
    ok: u16,
) -> Result<Value, String> {
    let request = ctx
        .http
        .post(format!("{base}/api/v1{path}"))
        .header("authorization", &ctx.auth)
        .header("content-type", "application/json")
        .body(body.to_string());
    let (status, body) =
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange(connection, request)).await {
            Ok(answer) => answer?,
            Err(_) => {
                // The connection is in the middle of an exchange: the next request opens another.
                *connection = None;
                return Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()));
            }
        };
    if status != ok {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{status} with a body that is not JSON: {e}"))
}

/// A web order of `lines` lines of different SKUs, shipped to one of ten US cities; its lines
/// as (line_no, quantity).
fn order_body(prefix: &str, i: usize, lines: usize) -> (Value, Vec<(usize, i64)>) {
    let quantities: Vec<(usize, i64)> = (0..lines)
        .map(|l| (l + 1, 1 + ((i + l) % 3) as i64))
        .collect();
    let (city, region, postal_code, lat, lon) = SHIP_TO[i % SHIP_TO.len()];
    let body = json!({
        "channel": "web",
        "external_id": format!("{prefix}-{i}"),
        "currency": "USD",
        "customer": {"id": format!("C-{}", i % 10_000), "email": format!("c{}@example.com", i % 10_000), "name": "Journey Customer"},
        "ship_to": {"name": "Journey Customer", "line1": "1 Main St", "city": city, "region": region,
                    "postal_code": postal_code, "country": "US", "lat": lat, "lon": lon},
        "lines": quantities.iter().map(|(line_no, quantity)| json!({
            "line_no": line_no,
            // 67 is prime to SKUS: the lines of an order never share a SKU.
            "sku": sku((i * 7 + (line_no - 1) * 67) % SKUS),
            "quantity": quantity,
            "unit_price": format!("{}.{:02}", 5 + (i + line_no) % 95, (i * 31 + line_no) % 100),
        })).collect::<Vec<_>>(),
        "ship_method": "standard",
    });
    (body, quantities)
}

/// How an order's wait for release ended.
enum Outcome {
    /// Seen released at `at`, with the fulfilment requests the flow sent its nodes.
    Released {
        at: Instant,
        requests: Vec<FulfilmentRequest>,
    },
    /// Backordered, held or cancelled instead.
    Stopped(String),
}

struct FulfilmentRequest {
    node: String,
    lines: Vec<(i64, i64)>,
}

/// Clients waiting for their order's release, by order id. The follower may see an order's
/// outcome before its client asks (the flow can be quicker than the 201 reaching the client):
/// then the outcome waits in the map instead.
#[derive(Default)]
struct Watch {
    slots: Mutex<HashMap<String, Slot>>,
}

enum Slot {
    Waiting(oneshot::Sender<Outcome>),
    Arrived(Outcome),
}

impl Watch {
    async fn wait(&self, id: &str, limit: Duration) -> Option<Outcome> {
        let rx = {
            let mut slots = self.slots.lock().expect("watch lock");
            if let Some(Slot::Arrived(outcome)) = slots.remove(id) {
                return Some(outcome);
            }
            let (tx, rx) = oneshot::channel();
            slots.insert(id.to_owned(), Slot::Waiting(tx));
            rx
        };
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(outcome)) => Some(outcome),
            _ => {
                self.slots.lock().expect("watch lock").remove(id);
                None
            }
        }
    }

    fn arrive(&self, id: String, outcome: Outcome) {
        let mut slots = self.slots.lock().expect("watch lock");
        match slots.remove(&id) {
            Some(Slot::Waiting(tx)) => {
                let _ = tx.send(outcome);
            }
            _ => {
                slots.insert(id, Slot::Arrived(outcome));
            }
        }
    }
}

#[derive(Deserialize)]
struct EventPage {
    items: Vec<EventItem>,
    next_cursor: String,
}

#[derive(Deserialize)]
struct EventItem {
    #[serde(rename = "type")]
    kind: String,
    subject: String,
    data: Value,
}

/// One page of the followed events after `after`, and when it arrived.
async fn events_page(ctx: &Ctx, after: i64) -> anyhow::Result<(Instant, EventPage)> {
    let response = ctx
        .http
        .get(format!("{}/api/v1/events", ctx.urls[0]))
        .header("authorization", &ctx.auth)
        .query(&[
            ("after", after.to_string()),
            ("type", FOLLOWED.to_owned()),
            ("limit", PAGE.to_string()),
        ])
        .send()
        .await?;
    let status = response.status();
    let body = response.bytes().await?;
    let at = Instant::now();
    ensure!(
        status.is_success(),
        "events: {status} {}",
        String::from_utf8_lossy(&body)
    );
    Ok((at, serde_json::from_slice(&body)?))
}

/// Pages the event log for ever, handing each order's outcome to its client.
async fn follow(ctx: Arc<Ctx>, mut after: i64) {
    let mut requested: HashMap<String, Vec<FulfilmentRequest>> = HashMap::new();
    let mut failing = false;
    loop {
        let (at, page) = match events_page(&ctx, after).await {
            Ok(page) => page,
            Err(e) => {
                if !failing {
                    eprintln!("event follower: {e:#}; trying again");
                }
                failing = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        failing = false;
        let full = page.items.len() == PAGE;
        for event in page.items {
            match event.kind.as_str() {
                "fulfillment.requested" => {
                    let lines = event.data["lines"]
                        .as_array()
                        .map(|lines| {
                            lines
                                .iter()
                                .map(|l| {
                                    (
                                        l["line_no"].as_i64().unwrap_or_default(),
                                        l["quantity"].as_i64().unwrap_or_default(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    requested
                        .entry(event.subject)
                        .or_default()
                        .push(FulfilmentRequest {
                            node: event.data["node"].as_str().unwrap_or_default().to_owned(),
                            lines,
                        });
                }
                "order.released" => {
                    let requests = requested.remove(&event.subject).unwrap_or_default();
                    ctx.watch
                        .arrive(event.subject, Outcome::Released { at, requests });
                }
                other => {
                    requested.remove(&event.subject);
                    let reason = event.data["status_reason"].as_str().unwrap_or("no reason");
                    ctx.watch.arrive(
                        event.subject,
                        Outcome::Stopped(format!("{other} ({reason})")),
                    );
                }
            }
        }
        match page.next_cursor.parse() {
            Ok(next) => after = next,
            Err(_) => eprintln!("event follower: next_cursor {:?}", page.next_cursor),
        }
        if !full {
            tokio::time::sleep(POLL).await;
        }
    }
}
