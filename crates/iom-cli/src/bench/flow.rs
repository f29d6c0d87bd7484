//! `iom bench flow`: the default order flow end to end. A backlog of orders is captured with the
//! executor off (one node, stock for all), then `--processes` real `iom serve` processes with the
//! executor on drain it; runs/s is orders gone from `received` to `released` per second of
//! draining. Step time p50 is the median wall time of a step execution as recorded on the run
//! (bookkeeping and the step's own work: validate, plan, reserve, release).

use std::time::{Duration, Instant};

use anyhow::bail;
use iom_store::Store;
use serde_json::json;

use super::cluster::{Cluster, Row, Setting, sweep};

#[derive(clap::Args)]
pub struct FlowArgs {
    /// Orders in the backlog.
    #[arg(long, default_value_t = 20_000)]
    orders: usize,
    /// `iom serve` processes that run the flows at once (PostgreSQL: 2 or more share the work);
    /// a list (`1,2,4`) runs each in turn, each on a fresh database.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    processes: Vec<usize>,
    /// Round trip in ms added between every process and PostgreSQL by a delaying TCP proxy
    /// (half each way); a list (`0,1,2`) runs each in turn.
    #[arg(long, value_delimiter = ',')]
    db_latency_ms: Vec<f64>,
    /// A fresh SQLite file when absent, or an empty PostgreSQL database (`postgres://…`).
    #[arg(long)]
    database: Option<String>,
}

pub async fn run(args: FlowArgs) -> anyhow::Result<()> {
    if args.orders == 0 || args.processes.contains(&0) {
        bail!("--orders and --processes must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    match args.processes.as_slice() {
        [processes] if args.db_latency_ms.is_empty() => {
            let setting = Setting {
                processes: *processes,
                db_latency_ms: 0.0,
                database,
            };
            run_once(&args, setting).await.map(|_| ())
        }
        processes => {
            sweep(&database, processes, &args.db_latency_ms, |setting| {
                run_once(&args, setting)
            })
            .await
        }
    }
}

/// Captures the backlog on `setting.database` directly, then drains it with the processes.
async fn run_once(args: &FlowArgs, setting: Setting) -> anyhow::Result<Row> {
    let database = setting.database.clone();
    let token = iom_server::auth::generate_token();
    let backend = if database.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };

    // The backlog, captured with the executor off.
    let setup = iom_server::spawn(iom_server::Config {
        listen: "127.0.0.1:0".parse()?,
        app: iom_app::Config {
            database_url: database.clone(),
            admin_token: Some(token.clone()),
            flows: false,
            ..Default::default()
        },
    })
    .await?;
    let client = reqwest::Client::new();
    let api = |path: &str| format!("{}/api/v1{path}", setup.url());
    let put = client
        .put(api("/nodes/SEA"))
        .bearer_auth(&token)
        .json(&json!({"kind": "warehouse", "location": {"lat": 47.61, "lon": -122.33}}))
        .send()
        .await?;
    anyhow::ensure!(put.status().is_success(), "node: {}", put.status());
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

    // Opened before the executors start: on SQLite, opening runs the migrations check under a
    // write lock, which a writer busy with back-to-back passes may not yield in time.
    let monitor = Store::open(&database).await?;

    // The executors, as real processes, maybe with the database a round trip away.
    let cluster = Cluster::start(&database, setting.processes, setting.db_round_trip()).await?;
    let started = Instant::now();
    // The first processes start draining while the later ones start: what they released by now
    // is not counted, neither in the runs nor in the time.
    let before = monitor.count_orders_with_status("released".into()).await? as usize;
    if before >= args.orders {
        cluster.stop().await;
        bail!(
            "all {} orders were released while the processes started: measure more --orders",
            args.orders
        );
    }
    let measured = args.orders - before;
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
            cluster.stop().await;
            bail!(
                "only {released} of {} released after 10 minutes",
                args.orders
            );
        }
        // The count reads the status index of every released order: often, it would take the
        // CPU the executors are measured on (4 ms a count on PostgreSQL at 5,000 orders). Every
        // 100 ms adds at most that to the time measured.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    cluster.stop().await;
    let mut durations = monitor.step_durations().await?;
    durations.sort_unstable();
    let p = |q: f64| {
        durations
            .get(((durations.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default() as f64
            / 1000.0
    };
    let latency = if setting.db_latency_ms > 0.0 {
        format!(", database round trip +{} ms", setting.db_latency_ms)
    } else {
        String::new()
    };
    println!(
        "default flow, {} orders, {} process(es), {backend}{latency}: {:.0} runs/s received → released ({:.2} s)",
        args.orders,
        setting.processes,
        measured as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    if before > 0 {
        println!("  ({before} released while the processes started, not counted)");
    }
    println!(
        "step time ({} steps): p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms",
        durations.len(),
        p(0.5),
        p(0.9),
        p(0.99)
    );
    Ok(Row {
        throughput: measured as f64 / elapsed.as_secs_f64(),
        unit: "runs/s",
        p99_ms: p(0.99),
        p99_of: "flow step",
    })
}

/// Sends the backlog with 32 concurrent clients.
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
                    ]
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
