//! The flow executor killed in the middle of 1,000 runs: after a restart every run completes, and
//! exactly once in effect. On PostgreSQL, two processes then share the work.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Server, TOKEN};

const ORDERS: usize = 1000;

fn order(i: usize) -> Value {
    json!({
        "channel": "web", "external_id": format!("fc-{i}"), "currency": "USD",
        "ship_to": {"country": "US", "postal_code": "98101", "lat": 47.61, "lon": -122.33},
        "lines": [
            {"line_no": 1, "sku": "A", "quantity": 1, "unit_price": "5.00"},
            {"line_no": 2, "sku": "B", "quantity": 2, "unit_price": "7.50"}
        ]
    })
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let mut req = client.request(method, url).bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

async fn events(client: &reqwest::Client, url: &str, kind: &str) -> Vec<Value> {
    let (mut all, mut after) = (Vec::new(), 0i64);
    loop {
        let page = call(
            client,
            reqwest::Method::GET,
            format!("{url}/api/v1/events?type={kind}&after={after}&limit=1000"),
            None,
        )
        .await;
        let items = page["items"].as_array().unwrap().clone();
        if items.is_empty() {
            return all;
        }
        after = items.last().unwrap()["seq"].as_i64().unwrap();
        all.extend(items);
    }
}

/// A node with plenty of A and B, and 1,000 orders captured with the executor off.
async fn setup(db_url: &str) -> Vec<String> {
    let server = Server::start_with(db_url, &[("IOM_FLOWS", "off")]).await;
    let client = reqwest::Client::new();
    call(
        &client,
        reqwest::Method::PUT,
        format!("{}/api/v1/nodes/SEA", server.url),
        Some(json!({"kind": "warehouse", "location": {"lat": 47.61, "lon": -122.33}})),
    )
    .await;
    call(
        &client,
        reqwest::Method::POST,
        format!("{}/api/v1/inventory/changes", server.url),
        Some(json!({"changes": [
            {"id": "a", "sku": "A", "node": "SEA", "kind": "set", "quantity": 100000},
            {"id": "b", "sku": "B", "node": "SEA", "kind": "set", "quantity": 100000}
        ]})),
    )
    .await;
    let mut tasks = Vec::new();
    for c in 0..8 {
        let (client, url) = (client.clone(), server.url.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (c..ORDERS).step_by(8) {
                let o = call(
                    &client,
                    reqwest::Method::POST,
                    format!("{url}/api/v1/orders"),
                    Some(order(i)),
                )
                .await;
                ids.push(o["id"].as_str().unwrap().to_owned());
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    server.kill().await;
    ids
}

/// Waits until every order is released (60 s at most).
async fn wait_released(client: &reqwest::Client, url: &str, backend: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let released = events(client, url, "order.released").await.len();
        if released >= ORDERS {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{backend}: only {released} of {ORDERS} released"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Exactly once in effect: one release event, one fulfilment request and one run per order, and
/// reservations of exactly the ordered quantities.
async fn check_exactly_once(client: &reqwest::Client, url: &str, ids: &[String], backend: &str) {
    for kind in ["order.released", "fulfillment.requested"] {
        let all = events(client, url, kind).await;
        let mut per_order: BTreeMap<String, usize> = BTreeMap::new();
        for e in &all {
            *per_order
                .entry(e["subject"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        assert_eq!(per_order.len(), ORDERS, "{backend}: {kind}");
        assert!(
            per_order.values().all(|n| *n == 1),
            "{backend}: a duplicate {kind}"
        );
    }
    let reservations = events(client, url, "reservation.created").await;
    assert_eq!(
        reservations.len(),
        2 * ORDERS,
        "{backend}: duplicate reservations"
    );
    for (sku, per_order) in [("A", 1), ("B", 2)] {
        let view = call(
            client,
            reqwest::Method::GET,
            format!("{url}/api/v1/inventory/{sku}"),
            None,
        )
        .await;
        assert_eq!(
            view["reserved"],
            per_order * ORDERS as i64,
            "{backend}: {view}"
        );
    }
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ORDERS);
    for id in ids.iter().step_by(50) {
        let runs = call(
            client,
            reqwest::Method::GET,
            format!("{url}/api/v1/orders/{id}/runs"),
            None,
        )
        .await;
        let items = runs["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{backend}: {runs}");
        assert_eq!(items[0]["status"], "completed");
        let steps: Vec<&str> = items[0]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        assert_eq!(
            steps,
            ["validate", "plan", "reserve", "release"],
            "{backend}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_in_the_middle_of_1000_runs_then_every_run_completes_exactly_once() {
    for db in iom_store::testing::all() {
        let ids = setup(&db.url).await;
        let client = reqwest::Client::new();
        let server = Server::start(&db.url).await;
        // Kill it once some orders are released and most are not.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let released = events(&client, &server.url, "order.released").await.len();
            if released >= 50 {
                assert!(
                    released < ORDERS,
                    "{}: all done before the kill",
                    db.backend
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: nothing released",
                db.backend
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill().await;

        let server = Server::start(&db.url).await;
        wait_released(&client, &server.url, db.backend).await;
        check_exactly_once(&client, &server.url, &ids, db.backend).await;
        let received = call(
            &client,
            reqwest::Method::GET,
            format!("{}/api/v1/orders?status=received&limit=10", server.url),
            None,
        )
        .await;
        assert!(received["items"].as_array().unwrap().is_empty());
        server.kill().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_share_the_runs_and_each_runs_once() {
    let Some(db) = iom_store::testing::postgres() else {
        eprintln!("IOM_TEST_POSTGRES_URL is not set: skipping the PostgreSQL half");
        return;
    };
    let ids = setup(&db.url).await;
    let client = reqwest::Client::new();
    let servers = [Server::start(&db.url).await, Server::start(&db.url).await];
    wait_released(&client, &servers[0].url, db.backend).await;
    check_exactly_once(&client, &servers[1].url, &ids, db.backend).await;
    for s in servers {
        s.kill().await;
    }
}
