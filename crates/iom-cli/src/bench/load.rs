//! A closed-loop load generator: `clients` tasks each send the next request as soon as the previous
//! one answered, until `count` requests were sent; latency is recorded per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

pub struct Report {
    pub count: usize,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    pub errors: usize,
    pub first_error: Option<String>,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// `p50 …, p90 …, p99 …, max …` in milliseconds.
    pub fn latency_line(&self) -> String {
        format!(
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.percentile_ms(0.5),
            self.percentile_ms(0.9),
            self.percentile_ms(0.99),
            self.latency.max() as f64 / 1000.0
        )
    }

    pub fn print_errors(&self) {
        println!("errors: {}", self.errors);
        if let Some(e) = &self.first_error {
            println!("first error: {e}");
        }
    }
}

/// Sends `count` requests from `clients` concurrent clients; `request(i)` builds the i-th, and an
/// answer with a status outside `ok` counts as an error.
///
/// Each client keeps one HTTP/1.1 connection of its own and sends on it with hyper's connection
/// API, as a load tool such as wrk does: the bench shares the machine with the server it measures,
/// and reqwest's pool, per-request futures and body handling cost the client as much CPU as the
/// server spent answering.
pub async fn drive<F>(
    clients: usize,
    count: usize,
    ok: &'static [u16],
    request: F,
) -> anyhow::Result<Report>
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    drive_clients(clients, count, ok, move |_, i| request(i)).await
}

/// As [`drive`], with `request(client, i)` told which client sends the i-th request (to send each
/// client's requests to a server of its own).
pub async fn drive_clients<F>(
    clients: usize,
    count: usize,
    ok: &'static [u16],
    request: F,
) -> anyhow::Result<Report>
where
    F: Fn(usize, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let (request, next) = (request.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
            let (mut errors, mut first_error) = (0usize, None);
            let mut connection: Option<Connection> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let sent = Instant::now();
                let outcome = send(&mut connection, request(client, i), ok).await;
                latency.saturating_record(sent.elapsed().as_micros() as u64);
                if let Err(e) = outcome {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
            (latency, errors, first_error)
        }));
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut errors, mut first_error) = (0, None);
    for task in tasks {
        let (h, e, f) = task.await?;
        latency.add(h)?;
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    Ok(Report {
        count,
        elapsed: started.elapsed(),
        latency,
        errors,
        first_error,
    })
}

/// One client's HTTP/1.1 connection to the server (see [`drive`]).
pub type Connection = hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>;

/// Sends one request on the client's connection, opening it first when there is none (or the
/// server closed it), and reads the whole answer.
async fn send(
    connection: &mut Option<Connection>,
    request: reqwest::RequestBuilder,
    ok: &[u16],
) -> Result<(), String> {
    let (status, body) = exchange(connection, request).await?;
    if ok.contains(&status) {
        Ok(())
    } else {
        Err(format!("{status}: {}", String::from_utf8_lossy(&body)))
    }
}

/// As [`send`], answering the status code and the whole body whatever the status.
pub async fn exchange(
    connection: &mut Option<Connection>,
    request: reqwest::RequestBuilder,
) -> Result<(u16, bytes::Bytes), String> {
    use http_body_util::BodyExt;
    let request = request.build().map_err(|e| e.to_string())?;
    let url = request.url();
    let authority = match url.port_or_known_default() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or("localhost")),
        None => url.host_str().unwrap_or("localhost").to_owned(),
    };
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let mut builder = hyper::Request::builder()
        .method(request.method().clone())
        .uri(target)
        .header(hyper::header::HOST, &authority);
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    let body = request
        .body()
        .and_then(|b| b.as_bytes())
        .map(bytes::Bytes::copy_from_slice)
        .unwrap_or_default();
    let outgoing = builder
        .body(http_body_util::Full::new(body))
        .map_err(|e| e.to_string())?;
    if connection.as_ref().is_none_or(|c| c.is_closed()) {
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| format!("connect {authority}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        *connection = Some(sender);
    }
    let sender = connection.as_mut().expect("connected");
    sender.ready().await.map_err(|e| e.to_string())?;
    let response = sender
        .send_request(outgoing)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}

/// A server for a bench: the one at `url`, or one started in this process on `database` (a fresh
/// SQLite file when absent).
pub struct Target {
    pub url: String,
    pub token: String,
    pub backend: String,
    pub server: Option<iom_server::Running>,
    _dir: tempfile::TempDir,
}

impl Target {
    pub async fn start(
        url: Option<String>,
        token: Option<String>,
        database: Option<String>,
    ) -> anyhow::Result<Target> {
        Self::start_with(url, token, database, false).await
    }

    /// As [`Target::start`], with the flow executor running in the in-process server when `flows`.
    pub async fn start_with(
        url: Option<String>,
        token: Option<String>,
        database: Option<String>,
        flows: bool,
    ) -> anyhow::Result<Target> {
        use anyhow::Context;
        let dir = tempfile::tempdir()?;
        if let Some(url) = url {
            let token = token.context("--url needs --token")?;
            return Ok(Target {
                url: url.trim_end_matches('/').to_owned(),
                token,
                backend: "remote".into(),
                server: None,
                _dir: dir,
            });
        }
        let database_url = database
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
        let token = iom_server::auth::generate_token();
        let running = iom_server::spawn(iom_server::Config {
            listen: "127.0.0.1:0".parse()?,
            app: iom_app::Config {
                database_url: database_url.clone(),
                admin_token: Some(token.clone()),
                // Intake and inventory figures measure those paths alone; `bench flow` measures
                // orchestration, `bench returns` the return flow too unless told not to.
                flows,
                ..Default::default()
            },
        })
        .await?;
        let backend = if database_url.starts_with("postgres") {
            "postgresql"
        } else {
            "sqlite"
        };
        Ok(Target {
            url: running.url(),
            token,
            backend: backend.into(),
            server: Some(running),
            _dir: dir,
        })
    }

    pub async fn stop(self) {
        if let Some(server) = self.server {
            server.stop().await;
        }
    }
}
