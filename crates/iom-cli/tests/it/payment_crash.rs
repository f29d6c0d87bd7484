//! `iom serve` killed (SIGKILL) after Stripe captured a shipment's amount and before iom recorded
//! the capture: after a restart the capture is sent again under the same idempotency key, Stripe
//! answers it with the first answer, and the customer is charged once.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::fake_stripe::{FakeStripe, SECRET_KEY};
use super::{Server, TOKEN};

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Value,
) -> (u16, Value) {
    let mut req = client.request(method, url).bearer_auth(TOKEN);
    if !body.is_null() {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn order(client: &reqwest::Client, url: &str, id: &str) -> Value {
    call(
        client,
        reqwest::Method::GET,
        format!("{url}/api/v1/orders/{id}"),
        Value::Null,
    )
    .await
    .1
}

async fn setup(client: &reqwest::Client, url: &str, fake: &FakeStripe) -> String {
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
    let provider = json!({"type": "payment",
        "connection": {"base_url": fake.url, "secret_key": SECRET_KEY}});
    let (s, b) = call(
        client,
        Method::PUT,
        format!("{url}/api/v1/providers/stripe"),
        provider,
    )
    .await;
    assert!(s < 300, "{b}");
    let body = json!({"channel": "web", "external_id": "crash-pay", "currency": "USD",
        "ship_to": {"line1": "1 Main St", "city": "Seattle", "region": "WA", "postal_code": "98101",
                    "country": "US", "lat": 47.61, "lon": -122.33},
        "lines": [{"line_no": 1, "sku": "A", "quantity": 2, "unit_price": "5.00"}],
        "attributes": {"payment_method": "pm_card_visa"}});
    let (s, b) = call(client, Method::POST, format!("{url}/api/v1/orders"), body).await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let o = order(client, url, &id).await;
        if o["status"] == "released" && o["payment"]["status"] == "authorized" {
            return id;
        }
        assert!(Instant::now() < deadline, "not released: {o}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payment_a_capture_made_before_a_sigkill_is_recorded_after_restart_and_charged_once() {
    for db in iom_store::testing::all() {
        let fake = FakeStripe::start().await;
        let env = [("IOM_MASTER_KEY", "payment crash test key")];
        let server = Server::start_with(&db.url, &env).await;
        let client = reqwest::Client::new();
        let id = setup(&client, &server.url, &fake).await;

        // Stripe captures at once and answers only after a minute: the kill lands in between.
        fake.set(|f| f.answer_delay = Duration::from_secs(60));
        let (s, b) = call(
            &client,
            reqwest::Method::POST,
            format!("{}/api/v1/orders/{id}/shipments", server.url),
            json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 1}]}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while fake.captured() == 0 {
            assert!(Instant::now() < deadline, "nothing was captured");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill().await;
        fake.set(|f| f.answer_delay = Duration::ZERO);

        let server = Server::start_with(&db.url, &env).await;
        let o = order(&client, &server.url, &id).await;
        assert_eq!(
            o["payment"]["captured"], "0",
            "{}: nothing was recorded before the kill: {o}",
            db.backend
        );
        // Capturing again (by hand here; the flow does the same once its lease runs out) sends
        // the same capture under the same key and records Stripe's first answer.
        let (s, o) = call(
            &client,
            reqwest::Method::POST,
            format!("{}/api/v1/orders/{id}/payment/capture", server.url),
            Value::Null,
        )
        .await;
        assert_eq!(s, 200, "{}: {o}", db.backend);
        assert_eq!(o["payment"]["captured"], "5.00", "{}: {o}", db.backend);
        assert_eq!(o["payment"]["status"], "partially_captured");
        let captures = fake.requests("/v1/payment_intents/pi_");
        assert_eq!(captures.len(), 2, "{}: {captures:?}", db.backend);
        assert_eq!(captures[0].key, captures[1].key, "the same key again");
        assert_eq!(captures[0].form, captures[1].form, "the same capture again");
        assert_eq!(fake.acted("capture"), 1, "{}: one capture", db.backend);
        assert_eq!(fake.captured(), 500, "{}: charged once", db.backend);
        // Once more: nothing is sent.
        let (s, _) = call(
            &client,
            reqwest::Method::POST,
            format!("{}/api/v1/orders/{id}/payment/capture", server.url),
            Value::Null,
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(fake.requests("/v1/payment_intents/pi_").len(), 2);
        server.kill().await;
    }
}
