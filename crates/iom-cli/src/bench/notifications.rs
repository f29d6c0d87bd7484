//! `iom bench notifications`: e-mails per second handed to a local SMTP server, and what sending
//! order confirmations costs order intake.
//!
//! 1. A backlog of order confirmations is recorded by an `iom serve` without an SMTP server
//!    (they wait, `pending`); a second `iom serve` on the same database, pointed at the SMTP
//!    server, drains it. The rate is messages the server accepted per second, from the first to
//!    the last.
//! 2. Intake (`POST /api/v1/orders` from concurrent clients, `iom serve` with its default
//!    order flow on) on a fresh database with the confirmation on, then with it off (the
//!    template disabled), A B A B A B after a warm-up round that is not counted, so drift of
//!    the machine falls on both.
//!
//! The SMTP server is aiosmtpd (`tests/smtp/sink.py`, the one the tests use) in the virtual
//! environment under `~/.cache/iom/smtp-sink`, made on first use; `--sink-python` names another
//! Python that has aiosmtpd.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use iom_server::auth::generate_token;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const SINK: &str = include_str!("../../tests/smtp/sink.py");

#[derive(clap::Args)]
pub struct NotificationsArgs {
    /// E-mails in the backlog drained by the sender.
    #[arg(long, default_value_t = 20_000)]
    emails: usize,
    /// Orders per intake round.
    #[arg(long, default_value_t = 5_000)]
    orders: usize,
    /// Concurrent intake clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// A Python with aiosmtpd (default: a virtual environment under ~/.cache/iom).
    #[arg(long)]
    sink_python: Option<PathBuf>,
}

pub async fn run(args: NotificationsArgs) -> anyhow::Result<()> {
    if args.emails == 0 || args.orders == 0 || args.clients == 0 {
        bail!("--emails, --orders and --clients must be at least 1");
    }
    let python = match &args.sink_python {
        Some(p) => p.clone(),
        None => sink_python()?,
    };
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("sink.py");
    std::fs::write(&script, SINK)?;
    drain(&args, &python, &script, dir.path()).await?;
    intake(&args, &python, &script, dir.path()).await
}

/// aiosmtpd in a virtual environment under `~/.cache/iom`, made on first use.
fn sink_python() -> anyhow::Result<PathBuf> {
    let home = std::env::var("HOME").context("HOME")?;
    let venv = Path::new(&home).join(".cache/iom/smtp-sink");
    let python = venv.join("bin/python");
    let ready = std::process::Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        let ok = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()?
            .success()
            && std::process::Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "aiosmtpd==1.4.6"])
                .status()?
                .success();
        if !ok {
            bail!("cannot install aiosmtpd in {}", venv.display());
        }
    }
    Ok(python)
}

/// The SMTP server, counting what it accepts into `count`.
async fn sink(
    python: &Path,
    script: &Path,
    count: &Path,
) -> anyhow::Result<(tokio::process::Child, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .arg(port.to_string())
        .arg(count)
        .arg("--count")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting aiosmtpd")?;
    let first = BufReader::new(child.stdout.take().context("stdout")?)
        .lines()
        .next_line()
        .await?;
    if first.as_deref() != Some("ready") {
        bail!("the SMTP server printed {first:?}");
    }
    Ok((child, port))
}

fn counted(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn order(n: usize) -> Value {
    json!({
        "channel": "web", "external_id": format!("B-{n}"), "currency": "EUR",
        "customer": {"email": format!("customer{n}@example.com"), "name": "Bench Customer"},
        "ship_to": {"country": "DE", "postal_code": "10115"},
        "lines": [
            {"line_no": 1, "sku": "MUG-BLUE", "quantity": 2, "unit_price": "12.50"},
            {"line_no": 2, "sku": "TEA-100", "quantity": 1, "unit_price": "4.00"}
        ]
    })
}

/// Posts `count` orders from `clients` concurrent clients; orders per second.
async fn post_orders(
    url: &str,
    token: &str,
    first: usize,
    count: usize,
    clients: usize,
) -> anyhow::Result<f64> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let next = Arc::new(AtomicUsize::new(first));
    let end = first + count;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, next, url, token) = (
            client.clone(),
            next.clone(),
            format!("{url}/api/v1/orders"),
            token.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return Ok::<_, anyhow::Error>(());
                }
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&order(i))
                    .send()
                    .await?;
                if resp.status() != reqwest::StatusCode::CREATED {
                    bail!("order {i}: {} {}", resp.status(), resp.text().await?);
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

async fn drain(
    args: &NotificationsArgs,
    python: &Path,
    script: &Path,
    dir: &Path,
) -> anyhow::Result<()> {
    let database = format!("sqlite://{}", dir.join("drain.db").display());
    let token = generate_token();
    let env = [("IOM_ADMIN_TOKEN", token.as_str())];
    // The backlog: confirmations recorded, no SMTP server to send them to.
    let (mut child, url) = super::serve_child_as(&database, false, &env).await?;
    post_orders(&url, &token, 0, args.emails, args.clients).await?;
    let store = iom_store::Store::open(&database).await?;
    let recorded = Instant::now();
    loop {
        let counts = store.notification_counts().await?;
        let pending: i64 = counts
            .iter()
            .filter(|(s, _)| s == "pending")
            .map(|(_, n)| n)
            .sum();
        if pending as usize >= args.emails {
            break;
        }
        if recorded.elapsed() > Duration::from_secs(600) {
            bail!("only {pending} of {} confirmations recorded", args.emails);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill().await;

    let count = dir.join("drain.count");
    let (mut smtp, port) = sink(python, script, &count).await?;
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let env = [
        ("IOM_ADMIN_TOKEN", token.as_str()),
        ("IOM_SMTP_URL", smtp_url.as_str()),
    ];
    let (mut child, _) = super::serve_child_as(&database, false, &env).await?;
    let mut first = None;
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let n = counted(&count);
        if n > 0 && first.is_none() {
            first = Some((Instant::now(), n));
        }
        if n >= args.emails {
            break;
        }
        if Instant::now() > deadline {
            bail!("{n} of {} e-mails accepted in 15 minutes", args.emails);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (t0, n0) = first.context("nothing sent")?;
    let elapsed = t0.elapsed().as_secs_f64();
    let _ = child.kill().await;
    let _ = smtp.kill().await;
    println!(
        "E-mails handed to a local SMTP server (aiosmtpd) by iom serve (sqlite, {} connections): {} in {elapsed:.2} s = {:.0} e-mails/s",
        iom_app::notifications::Settings::default().connections,
        args.emails - n0,
        (args.emails - n0) as f64 / elapsed
    );
    Ok(())
}

async fn intake(
    args: &NotificationsArgs,
    python: &Path,
    script: &Path,
    dir: &Path,
) -> anyhow::Result<()> {
    let count = dir.join("intake.count");
    let (mut smtp, port) = sink(python, script, &count).await?;
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let mut on = Vec::new();
    let mut off = Vec::new();
    // Round 0 warms the machine up (files, caches, the SMTP server) and is not counted. Then
    // A B A B A B.
    for round in 0..7 {
        let confirm = round % 2 == 1;
        let database = format!(
            "sqlite://{}",
            dir.join(format!("intake-{round}.db")).display()
        );
        let token = generate_token();
        let env = [
            ("IOM_ADMIN_TOKEN", token.as_str()),
            ("IOM_SMTP_URL", smtp_url.as_str()),
        ];
        // As users run it: the default order flow on.
        let (mut child, url) = super::serve_child_as(&database, true, &env).await?;
        if !confirm {
            let resp = reqwest::Client::new()
                .put(format!("{url}/api/v1/notification-templates/order-confirmation"))
                .bearer_auth(&token)
                .json(&json!({"event": "order.received", "subject": "off", "body": "off", "enabled": false}))
                .send()
                .await?;
            if !resp.status().is_success() {
                bail!("disabling the confirmation: {}", resp.status());
            }
        }
        let rate = post_orders(&url, &token, 0, args.orders, args.clients).await?;
        let _ = child.kill().await;
        if round == 0 {
            println!("  warm-up round: {rate:.0} orders/s (not counted)");
            continue;
        }
        println!(
            "  round {} ({}): {rate:.0} orders/s",
            round,
            if confirm {
                "A, confirmation on"
            } else {
                "B, confirmation off"
            }
        );
        if confirm {
            on.push(rate)
        } else {
            off.push(rate)
        }
    }
    let _ = smtp.kill().await;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (a, b) = (mean(&on), mean(&off));
    println!(
        "Order intake with the confirmation e-mail on vs off (sqlite, default flow on, {} clients, {} orders a round, A B A B A B after a warm-up round): on {a:.0} orders/s, off {b:.0} orders/s, loss {:.1} %",
        args.clients,
        args.orders,
        (1.0 - a / b) * 100.0
    );
    Ok(())
}
