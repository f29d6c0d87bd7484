//! Signing in to the web UI: `POST /ui/sign-in` with e-mail and password from concurrent clients
//! against a server started in this process, each answered with a new session (argon2id at the
//! `argon2` crate's recommended cost, one session row). Prints sign-ins per second and p50/p99.

use std::time::Instant;

use anyhow::{Context, bail};
use hdrhistogram::Histogram;

use super::load::Target;

#[derive(clap::Args)]
pub struct SignInArgs {
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Sign-ins in all.
    #[arg(long, default_value_t = 200)]
    sign_ins: usize,
    /// Database of the in-process server: a fresh SQLite file when absent, or `postgres://…`.
    #[arg(long)]
    database: Option<String>,
}

const PASSWORD: &str = "bench user password";

pub async fn run(args: SignInArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.sign_ins == 0 {
        bail!("--clients and --sign-ins must be at least 1");
    }
    let target = Target::start_with(None, None, args.database.clone(), false).await?;
    let store = &target
        .server
        .as_ref()
        .context("an in-process server")?
        .state
        .store;
    let users: Vec<String> = (0..args.clients)
        .map(|i| format!("bench-{i}@example.com"))
        .collect();
    for email in &users {
        iom_app::people::users::put(
            store,
            email,
            iom_app::people::users::Update {
                role: Some("operator".into()),
                password: Some(PASSWORD.into()),
                disabled: Some(false),
            },
        )
        .await?;
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let per_client = args.sign_ins.div_ceil(args.clients);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for email in users {
        let client = client.clone();
        let url = format!("{}/ui/sign-in", target.url);
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            for _ in 0..per_client {
                let t = Instant::now();
                let answer = client
                    .post(&url)
                    .form(&[("email", email.as_str()), ("password", PASSWORD)])
                    .send()
                    .await?;
                if answer.status() != 303 {
                    bail!("sign-in answered {}", answer.status());
                }
                latency.record(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX))?;
            }
            anyhow::Ok(latency)
        }));
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for task in tasks {
        latency.add(task.await??)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "sign-in ({} server, {} clients): {:.1} sign-ins/s, p50 {:.1} ms, p99 {:.1} ms over {}",
        target.backend,
        args.clients,
        latency.len() as f64 / seconds,
        latency.value_at_quantile(0.5) as f64 / 1000.0,
        latency.value_at_quantile(0.99) as f64 / 1000.0,
        latency.len()
    );
    Ok(())
}
