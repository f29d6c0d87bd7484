//! Tests of the `iom` binary as a user runs it: real processes, killed and restarted.

mod bench_net;
mod config;
mod contract_fuzz;
mod crash;
mod demo;
mod documents;
mod flow;
mod flow_crash;
mod import;
mod journey;
mod label_crash;
mod notify;
mod payment_crash;
mod simulate;
mod token;
mod two_processes;
mod user;

/// The local EasyPost of the server's tests (the tracker half is theirs).
#[allow(dead_code)]
#[path = "../../../iom-server/tests/it/fake_easypost.rs"]
mod fake_easypost;

/// The local Stripe of the server's tests.
#[allow(dead_code)]
#[path = "../../../iom-server/tests/it/fake_stripe.rs"]
mod fake_stripe;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const TOKEN: &str = "iom_cli_test_admin";

/// An `iom serve` process on a port of its own choosing.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    pub async fn start(database_url: &str) -> Server {
        Self::start_with(database_url, &[]).await
    }

    /// With extra environment variables (`IOM_FLOWS=off`).
    pub async fn start_with(database_url: &str, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iom"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database",
                database_url,
            ])
            .env("IOM_ADMIN_TOKEN", TOKEN)
            .env("IOM_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start iom serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("iom serve prints its address")
            .unwrap()
            .expect("a line");
        let url = line
            .strip_prefix("iom listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { child, url }
    }

    /// SIGKILL: no shutdown, no flush.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }
}

pub fn order(external_id: &str) -> serde_json::Value {
    serde_json::json!({
        "channel": "web",
        "external_id": external_id,
        "currency": "USD",
        "ship_to": {"country": "US", "postal_code": "98101"},
        "lines": [
            {"line_no": 1, "sku": "A", "quantity": 1, "unit_price": "5.00"},
            {"line_no": 2, "sku": "B", "quantity": 2, "unit_price": "7.50"},
            {"line_no": 3, "sku": "C", "quantity": 3, "unit_price": "1.25"}
        ]
    })
}
