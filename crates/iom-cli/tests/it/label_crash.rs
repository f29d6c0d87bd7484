//! `iom serve` killed (SIGKILL) after the carrier bought a label and before iom recorded it: after
//! a restart the same request finds the purchase, asks the carrier, and records the label already
//! bought. One label is paid for, one shipment exists.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::fake_easypost::{API_KEY, FakeEasyPost};
use super::{Server, TOKEN};

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Value,
) -> (u16, Value) {
    let resp = client
        .request(method, url)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn setup(client: &reqwest::Client, url: &str, fake: &FakeEasyPost) -> String {
    use reqwest::Method;
    let node = json!({"kind": "warehouse", "location": {"lat": 47.61, "lon": -122.33}});
    let (s, b) = call(client, Method::PUT, format!("{url}/api/v1/nodes/SEA"), node).await;
    assert!(s < 300, "{b}");
    let stock =
        json!({"changes": [{"id": "a", "sku": "A", "node": "SEA", "kind": "set", "quantity": 10}]});
    let (s, b) = call(
        client,
        Method::POST,
        format!("{url}/api/v1/inventory/changes"),
        stock,
    )
    .await;
    assert!(s < 300, "{b}");
    let provider = json!({"type": "carrier",
        "connection": {"base_url": fake.url, "api_key": API_KEY, "webhook_secret": "s"},
        "settings": {"parcel": {"weight": 16.0},
                     "from_address": {"line1": "500 Dock Rd", "city": "Seattle", "region": "WA",
                                      "postal_code": "98134", "country": "US"}}});
    let (s, b) = call(
        client,
        Method::PUT,
        format!("{url}/api/v1/providers/easypost"),
        provider,
    )
    .await;
    assert!(s < 300, "{b}");
    let order = json!({"channel": "web", "external_id": "crash-label", "currency": "USD",
        "ship_to": {"line1": "1 Main St", "city": "Seattle", "region": "WA", "postal_code": "98101",
                    "country": "US", "lat": 47.61, "lon": -122.33},
        "lines": [{"line_no": 1, "sku": "A", "quantity": 1, "unit_price": "5.00"}]});
    let (s, b) = call(client, Method::POST, format!("{url}/api/v1/orders"), order).await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, o) = call(
            client,
            Method::GET,
            format!("{url}/api/v1/orders/{id}"),
            Value::Null,
        )
        .await;
        if o["status"] == "released" {
            return id;
        }
        assert!(Instant::now() < deadline, "not released: {o}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_label_bought_before_a_sigkill_is_recorded_after_restart_and_not_bought_again() {
    for db in iom_store::testing::all() {
        let fake = FakeEasyPost::start().await;
        let env = [("IOM_MASTER_KEY", "label crash test key")];
        let server = Server::start_with(&db.url, &env).await;
        let client = reqwest::Client::new();
        let id = setup(&client, &server.url, &fake).await;
        let labels = format!("{}/api/v1/orders/{id}/labels", server.url);

        // The carrier buys at once and answers only after a minute: the kill lands in between.
        fake.set(|f| f.buy_delay = Duration::from_secs(60));
        let pending = {
            let (client, labels) = (client.clone(), labels.clone());
            tokio::spawn(async move {
                client
                    .post(labels)
                    .bearer_auth(TOKEN)
                    .json(&json!({}))
                    .send()
                    .await
            })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while fake.buys() == 0 {
            assert!(Instant::now() < deadline, "the label was never bought");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill().await;
        assert!(
            pending.await.unwrap().is_err(),
            "{}: no answer can have come",
            db.backend
        );
        fake.set(|f| f.buy_delay = Duration::ZERO);

        let server = Server::start_with(&db.url, &env).await;
        let url = |p: &str| format!("{}{p}", server.url);
        let (_, order) = call(
            &client,
            reqwest::Method::GET,
            url(&format!("/api/v1/orders/{id}")),
            Value::Null,
        )
        .await;
        assert_eq!(
            order["shipments"],
            json!([]),
            "{}: nothing was recorded before the kill",
            db.backend
        );

        let (status, bought) = call(
            &client,
            reqwest::Method::POST,
            url(&format!("/api/v1/orders/{id}/labels")),
            json!({}),
        )
        .await;
        assert_eq!(status, 201, "{}: {bought}", db.backend);
        assert_eq!(fake.buys(), 1, "{}: one label paid for", db.backend);
        assert_eq!(
            fake.requests("POST /v2/shipments").len(),
            2,
            "one create, one buy"
        );
        assert_eq!(
            fake.requests("GET /v2/shipments/").len(),
            1,
            "the carrier was asked"
        );
        let shipments = bought["order"]["shipments"].as_array().unwrap();
        assert_eq!(shipments.len(), 1);
        let bought_tracking = fake
            .state
            .lock()
            .unwrap()
            .shipments
            .values()
            .next()
            .unwrap()["tracking_code"]
            .clone();
        assert_eq!(shipments[0]["tracking"], bought_tracking);
        assert_eq!(bought["order"]["status"], "shipped");
        server.kill().await;
    }
}
