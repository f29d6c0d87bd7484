//! `iom demo` as a user starts it: it prints the URL, an admin user's e-mail and password for the
//! web UI and an admin token, and orders keep coming.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn demo_starts_prints_url_sign_in_and_token_and_orders_stream_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("demo.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_iom"))
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db,
            "--history-days",
            "2",
            "--history-per-day",
            "30",
            "--rate",
            "10",
        ])
        .env("IOM_LOG", "warn")
        .env_remove("IOM_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start iom demo");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .expect("iom demo prints")
            .unwrap()
            .expect("a line")
    };
    let first = next().await;
    let url = first
        .strip_prefix("iom demo running at ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    let second = next().await;
    let (email, password) = second
        .strip_prefix(&format!("sign in at {url}/ui as "))
        .and_then(|rest| rest.split_once(" with password "))
        .unwrap_or_else(|| panic!("unexpected second line {second:?}"));
    let (email, password) = (email.to_owned(), password.to_owned());
    let third = next().await;
    let token = third
        .strip_prefix("admin token: ")
        .unwrap_or_else(|| panic!("unexpected third line {third:?}"))
        .to_owned();
    assert!(token.starts_with("iom_"), "{token}");

    // The printed e-mail and password sign in to the web UI.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = browser
        .post(format!("{url}/ui/sign-in"))
        .form(&[("email", email.as_str()), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("iom_session="), "{cookie}");

    let client = reqwest::Client::new();
    let get = async |path: &str| -> Value {
        client
            .get(format!("{url}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    // The seeded network and history are there at once.
    let nodes = get("/api/v1/nodes").await;
    assert!(nodes["items"].as_array().unwrap().len() >= 6, "{nodes}");
    let history = get("/api/v1/insights/kpis").await;
    assert!(history["orders"].as_i64().unwrap() >= 60, "{history}");

    // New orders from several channels stream in, and some move on to shipment.
    let mut channels = std::collections::BTreeSet::new();
    let mut shipped = false;
    for _ in 0..120 {
        let page = get("/api/v1/orders?limit=200").await;
        for o in page["items"].as_array().unwrap() {
            let external = o["external_id"].as_str().unwrap_or_default();
            if external.starts_with("demo-") || external.starts_with("PO-") {
                channels.insert(o["channel"].as_str().unwrap().to_owned());
                shipped |= o["external_id"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("demo-"))
                    && o["shipments"].as_array().is_some_and(|s| !s.is_empty());
            }
        }
        if channels.len() >= 3 && shipped {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        channels.len() >= 3,
        "orders from several channels: {channels:?}"
    );
    assert!(shipped, "the simulation ships orders");
    let today = get("/api/v1/insights/kpis").await;
    assert!(today["today"]["orders"].as_i64().unwrap() > 0, "{today}");
    child.start_kill().unwrap();
    let _ = child.wait().await;
}
