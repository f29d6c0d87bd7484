//! Several `iom serve` processes on one database, as iom scales out: started as users run them,
//! waited for until ready, stopped together; optionally behind a [`DelayProxy`] that puts the
//! database a given round trip away. [`sweep`] runs a bench once per (processes, latency)
//! combination, each on a fresh PostgreSQL database, and prints one table row per combination.

use std::future::Future;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::delay_proxy::DelayProxy;

/// Running `iom serve` processes sharing one database.
pub struct Cluster {
    /// Where each process listens.
    pub urls: Vec<String>,
    /// The admin token every process accepts.
    pub token: String,
    children: Vec<tokio::process::Child>,
    _proxy: Option<DelayProxy>,
}

impl Cluster {
    /// Starts `processes` × `iom serve` on `database` (flows at their default, on) and waits until
    /// each answers `/readyz`. With a non-zero `db_round_trip` (PostgreSQL only) every process
    /// reaches the database through one delay proxy adding that round trip, half each way.
    pub async fn start(
        database: &str,
        processes: usize,
        db_round_trip: Duration,
    ) -> anyhow::Result<Cluster> {
        ensure!(processes > 0, "--processes must be at least 1");
        let (database, proxy) = if db_round_trip.is_zero() {
            (database.to_owned(), None)
        } else {
            let mut url = reqwest::Url::parse(database)
                .with_context(|| format!("--database {database:?} is not a URL"))?;
            ensure!(
                url.scheme().starts_with("postgres"),
                "--db-latency-ms needs a postgres://… --database"
            );
            let host = url.host_str().unwrap_or("localhost").to_owned();
            let port = url.port().unwrap_or(5432);
            let proxy = DelayProxy::start(format!("{host}:{port}"), db_round_trip / 2).await?;
            url.set_host(Some("127.0.0.1"))
                .map_err(|e| anyhow::anyhow!("--database: {e}"))?;
            url.set_port(Some(proxy.addr().port()))
                .map_err(|()| anyhow::anyhow!("--database: cannot set its port"))?;
            (url.to_string(), Some(proxy))
        };
        let token = iom_server::auth::generate_token();
        let mut cluster = Cluster {
            urls: Vec::new(),
            token,
            children: Vec::new(),
            _proxy: proxy,
        };
        for _ in 0..processes {
            let (child, url) =
                serve(&database, None, &[("IOM_ADMIN_TOKEN", &cluster.token)]).await?;
            cluster.children.push(child);
            cluster.urls.push(url);
        }
        let http = reqwest::Client::new();
        for url in &cluster.urls {
            let waiting = Instant::now();
            loop {
                match http.get(format!("{url}/readyz")).send().await {
                    Ok(r) if r.status().is_success() => break,
                    _ if waiting.elapsed() > Duration::from_secs(60) => {
                        bail!("{url}/readyz did not answer 200 within 60 s")
                    }
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
        Ok(cluster)
    }

    /// The process client number `client` sends to: clients are spread evenly, each sticking
    /// to one process.
    pub fn url_for(&self, client: usize) -> &str {
        &self.urls[client % self.urls.len()]
    }

    pub async fn stop(self) {
        for mut child in self.children {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

/// Starts this binary as `iom serve` on `database` in a child process (killed when dropped);
/// `flows` sets `IOM_FLOWS`, `None` leaves it at its default (on). Answers the child and the URL
/// it printed it listens on; the rest of its standard output is read and dropped.
pub async fn serve(
    database: &str,
    flows: Option<bool>,
    env: &[(&str, &str)],
) -> anyhow::Result<(tokio::process::Child, String)> {
    let exe = std::env::current_exe().context("locating the iom binary")?;
    let mut command = tokio::process::Command::new(&exe);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
        .env("IOM_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    match flows {
        Some(on) => command.env("IOM_FLOWS", if on { "on" } else { "off" }),
        None => command.env_remove("IOM_FLOWS"),
    };
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().context("starting iom serve")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let first = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .context("iom serve did not start within 120 s")??
        .context("iom serve exited before serving")?;
    let url = first
        .strip_prefix("iom listening on ")
        .with_context(|| format!("iom serve printed {first:?}"))?
        .to_owned();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, url))
}

/// One combination of a sweep, and the fresh database it runs on.
pub struct Setting {
    pub processes: usize,
    pub db_latency_ms: f64,
    pub database: String,
}

impl Setting {
    pub fn db_round_trip(&self) -> Duration {
        Duration::from_secs_f64(self.db_latency_ms / 1000.0)
    }
}

/// A combination's figures: throughput in `unit`, and a p99 in milliseconds.
pub struct Row {
    pub throughput: f64,
    pub unit: &'static str,
    pub p99_ms: f64,
    pub p99_of: &'static str,
}

/// Runs `bench` for every combination of `processes` and `latencies_ms` (database round trip),
/// each on a database of its own created next to `database` (PostgreSQL) and dropped after, and
/// prints the table. With one combination the bench runs on `database` itself.
pub async fn sweep<F, Fut>(
    database: &str,
    processes: &[usize],
    latencies_ms: &[f64],
    mut bench: F,
) -> anyhow::Result<()>
where
    F: FnMut(Setting) -> Fut,
    Fut: Future<Output = anyhow::Result<Row>>,
{
    let processes = if processes.is_empty() {
        &[1]
    } else {
        processes
    };
    let latencies_ms = if latencies_ms.is_empty() {
        &[0.0]
    } else {
        latencies_ms
    };
    ensure!(
        processes.iter().all(|n| *n > 0),
        "--processes must be at least 1"
    );
    ensure!(
        latencies_ms.iter().all(|l| l.is_finite() && *l >= 0.0),
        "--db-latency-ms must be 0 or more"
    );
    let fresh = processes.len() * latencies_ms.len() > 1;
    ensure!(
        !fresh || database.starts_with("postgres"),
        "several --processes or --db-latency-ms need a postgres://… --database (each runs on a fresh database created next to it)"
    );
    let mut rows = Vec::new();
    for &n in processes {
        for &latency in latencies_ms {
            println!("— {n} process(es), database round trip +{latency} ms");
            let (url, created) = if fresh {
                let (url, name) = create_database(database).await?;
                (url, Some(name))
            } else {
                (database.to_owned(), None)
            };
            let outcome = bench(Setting {
                processes: n,
                db_latency_ms: latency,
                database: url,
            })
            .await;
            if let Some(name) = created {
                drop_database(database, &name).await?;
            }
            rows.push((n, latency, outcome?));
        }
    }
    println!();
    println!(
        "{:>9} | {:>21} | {:>22} | {:>10}",
        "processes", "db round trip (ms)", "throughput", "p99 (ms)"
    );
    for (n, latency, row) in rows {
        println!(
            "{n:>9} | {latency:>21} | {:>22} | {:>10.2}  ({})",
            format!("{:.0} {}", row.throughput, row.unit),
            row.p99_ms,
            row.p99_of
        );
    }
    Ok(())
}

/// Creates an empty database on the server of `database`; its URL and name.
async fn create_database(database: &str) -> anyhow::Result<(String, String)> {
    let mut url = reqwest::Url::parse(database).context("--database")?;
    let name = format!("iom_bench_{}", hex::encode(rand::random::<[u8; 6]>()));
    admin(database, &format!("CREATE DATABASE {name}")).await?;
    url.set_path(&format!("/{name}"));
    Ok((url.to_string(), name))
}

async fn drop_database(database: &str, name: &str) -> anyhow::Result<()> {
    admin(
        database,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await
}

async fn admin(database: &str, sql: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(database, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to {database}"))?;
    let connection = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .with_context(|| sql.to_owned())?;
    drop(client);
    let _ = connection.await;
    Ok(())
}
