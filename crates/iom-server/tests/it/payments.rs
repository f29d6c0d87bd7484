//! Payments through a local Stripe: the authorisation before release, a capture per shipment to
//! the cent, the rest let go at cancellation, refunds paid out never above what was captured, a
//! service that is down, and orders of channels no instance serves.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::fake_stripe::{FakeStripe, SECRET_KEY};
use super::{TestApp, apps_with_flows};

pub(super) async fn stripe(app: &TestApp, fake: &FakeStripe, settings: Value) {
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/providers/stripe",
            Some(json!({"type": "payment",
                "connection": {"base_url": fake.url, "secret_key": SECRET_KEY},
                "settings": settings})),
        )
        .await;
    assert!(status.is_success(), "{}: {body}", app.backend);
}

/// Three units of A at 10.00 with 2.00 tax on the line, one B at 5.00 with 0.50 tax, 1.00 off the
/// order and 4.99 shipping: 41.49 in all. The order's discount is shared 0.86 / 0.14.
pub(super) fn order(external_id: &str, method: Value) -> Value {
    json!({
        "channel": "web", "external_id": external_id, "currency": "USD",
        "customer": {"email": "ann@example.com"},
        "ship_to": {"line1": "1 Main St", "city": "Seattle", "region": "WA", "postal_code": "98101",
                    "country": "US", "lat": 47.61, "lon": -122.33},
        "lines": [
            {"line_no": 1, "sku": "A", "quantity": 3, "unit_price": "10.00", "tax": "2.00"},
            {"line_no": 2, "sku": "B", "quantity": 1, "unit_price": "5.00", "tax": "0.50"}],
        "discount_amount": "1.00", "shipping_amount": "4.99",
        "attributes": {"payment_method": method},
    })
}

pub(super) async fn stocked(app: &TestApp) {
    app.put_seattle_node("SEA", "warehouse", None).await;
    app.stock_delta("A", "SEA", 100).await;
    app.stock_delta("B", "SEA", 100).await;
}

pub(super) async fn place(app: &TestApp, external_id: &str) -> String {
    let (status, body) = app
        .post("/api/v1/orders", order(external_id, json!("pm_card_visa")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", app.backend);
    body["id"].as_str().unwrap().to_owned()
}

pub(super) async fn wait_order(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
        if done(&order) {
            return order;
        }
        if Instant::now() > deadline {
            let (_, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
            panic!("{}: order {id} is {order:#}\nruns: {runs:#}", app.backend);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub(super) async fn ship(app: &TestApp, id: &str, lines: Value) {
    let (status, body) = app
        .post(
            &format!("/api/v1/orders/{id}/shipments"),
            json!({"node": "SEA", "lines": lines, "carrier": "UPS", "tracking": "1Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);
}

pub(super) async fn event_types(app: &TestApp, id: &str) -> Vec<String> {
    let (_, body) = app.get("/api/v1/events?type=payment.*&limit=1000").await;
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == id)
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn payments_a_partial_shipment_captures_its_share_to_the_cent_and_cancelling_releases_the_rest()
 {
    for app in apps_with_flows().await {
        let fake = FakeStripe::start().await;
        stripe(&app, &fake, json!({})).await;
        stocked(&app).await;
        let id = place(&app, "P-1").await;
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;

        // Authorised before release: the whole total, in cents, as Stripe's manual capture.
        let created = fake.requests("/v1/payment_intents");
        let create = &created[0];
        assert_eq!(create.path, "/v1/payment_intents");
        assert_eq!(create.field("amount"), Some("4149"), "{create:?}");
        assert_eq!(create.field("currency"), Some("usd"));
        assert_eq!(create.field("capture_method"), Some("manual"));
        assert_eq!(create.field("confirm"), Some("true"));
        assert_eq!(create.field("payment_method"), Some("pm_card_visa"));
        assert_eq!(create.field("metadata[order_id]"), Some(id.as_str()));
        assert!(create.key.is_some());
        let pi = fake.intent()["id"].as_str().unwrap().to_owned();
        assert_eq!(order["payment"]["status"], "authorized", "{order}");
        assert_eq!(order["payment"]["authorized"], "41.49");
        assert_eq!(order["payment"]["captured"], "0");
        assert_eq!(order["payment"]["reference"], pi.as_str());

        // One of three A: 10.00, less 0.29 of the discount, plus 0.67 of the tax, plus the
        // shipping on the first shipment: 15.37, not final.
        ship(&app, &id, json!([{"line_no": 1, "quantity": 1}])).await;
        let order = wait_order(&app, &id, |o| o["payment"]["captured"] == "15.37").await;
        assert_eq!(order["payment"]["status"], "partially_captured");
        let captures = fake.requests(&format!("/v1/payment_intents/{pi}/capture"));
        assert_eq!(captures.len(), 1, "{captures:?}");
        assert_eq!(captures[0].field("amount_to_capture"), Some("1537"));
        assert_eq!(captures[0].field("final_capture"), Some("false"));
        assert_eq!(fake.captured(), 1537);

        // What is left is cancelled, line by line: once nothing is left to ship, the rest of
        // the authorisation is let go, nothing more captured.
        for line in [1, 2] {
            let (status, body) = app
                .post(
                    &format!("/api/v1/orders/{id}/lines/{line}/cancel"),
                    json!({"reason": "customer"}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if line == 1 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                assert_eq!(fake.acted("cancel"), 0, "line 2 is still to ship");
            }
        }
        let order = wait_order(&app, &id, |o| o["payment"]["released"] == "26.12").await;
        assert_eq!(order["payment"]["status"], "captured", "{order}");
        assert_eq!(order["payment"]["captured"], "15.37");
        assert_eq!(fake.acted("cancel"), 1);
        assert_eq!(fake.intent()["status"], "canceled");
        assert_eq!(fake.captured(), 1537, "nothing captured after the cancel");
        assert_eq!(
            event_types(&app, &id).await,
            ["payment.authorized", "payment.captured", "payment.released"]
        );
        // Every call carried the secret key and a key of its own.
        let state = fake.state.lock().unwrap();
        let keys: std::collections::HashSet<_> = state
            .requests
            .iter()
            .map(|r| r.key.clone().unwrap())
            .collect();
        assert_eq!(keys.len(), state.requests.len(), "{:?}", state.requests);
    }
}

#[tokio::test]
async fn payments_shipping_everything_captures_the_total_and_a_return_is_refunded_within_it() {
    for app in apps_with_flows().await {
        let fake = FakeStripe::start().await;
        stripe(&app, &fake, json!({"channels": ["web"]})).await;
        stocked(&app).await;
        let id = place(&app, "P-2").await;
        wait_order(&app, &id, |o| o["status"] == "released").await;
        ship(&app, &id, json!([{"line_no": 1, "quantity": 1}])).await;
        wait_order(&app, &id, |o| o["payment"]["captured"] == "15.37").await;
        ship(
            &app,
            &id,
            json!([{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}]),
        )
        .await;
        // The rest: 20.00 − 0.57 + 1.33 and 5.00 − 0.14 + 0.50 = 26.12; the captures add up to
        // the total, and the last one is final.
        let order = wait_order(&app, &id, |o| o["payment"]["status"] == "captured").await;
        assert_eq!(order["payment"]["captured"], "41.49", "{order}");
        assert_eq!(order["payment"]["released"], "0");
        let captures = fake.requests("/v1/payment_intents/pi_");
        assert_eq!(captures.len(), 2, "{captures:?}");
        assert_eq!(captures[1].field("amount_to_capture"), Some("2612"));
        assert_eq!(captures[1].field("final_capture"), None);
        assert_eq!(fake.captured(), 4149);
        assert_eq!(fake.acted("cancel"), 0, "the final capture let nothing go");

        // A return of B: paid back through Stripe, its refund id on the return.
        let (status, ret) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": id, "origin": "online",
                       "lines": [{"line_no": 2, "quantity": 1, "reason": "changed_mind"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ret}");
        let rid = ret["id"].as_str().unwrap().to_owned();
        let (status, body) = app
            .post(
                &format!("/api/v1/returns/{rid}/receive"),
                json!({"node": "SEA", "lines": [{"line_no": 2, "quantity": 1,
                        "condition": "new", "disposition": "restock"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let order = wait_order(&app, &id, |o| o["payment"]["refunded"] != "0").await;
        let (_, ret) = app.get(&format!("/api/v1/returns/{rid}")).await;
        let refund = &ret["refund"];
        let refunds = fake.requests("/v1/refunds");
        assert_eq!(refunds.len(), 1, "{refunds:?}");
        assert_eq!(
            refunds[0].field("payment_intent"),
            order["payment"]["reference"].as_str()
        );
        let paid = refund["amount"].as_str().unwrap();
        assert_eq!(order["payment"]["refunded"], paid, "{order}");
        let cents: i64 = refunds[0].field("amount").unwrap().parse().unwrap();
        assert_eq!(cents, fake.refunded());
        assert_eq!(
            rust_decimal::Decimal::new(cents, 2),
            paid.parse::<rust_decimal::Decimal>().unwrap()
        );
        assert!(cents <= 4149);
        let re = fake.state.lock().unwrap().refunds[0]["id"].clone();
        assert_eq!(refund["reference"], re, "{ret}");
        assert_eq!(order["payment"]["status"], "partially_refunded");

        // The order page names Stripe's refund.
        let ui = super::ui::UiClient::sign_in(&app, "admin").await;
        let page = ui.get(&format!("/ui/orders/{id}")).await;
        assert!(page.body.contains(re.as_str().unwrap()), "{}", page.body);

        // Asking again refunds nothing more.
        let (status, body) = app
            .post(&format!("/api/v1/returns/{rid}/refund"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(fake.acted("refund"), 1);
    }
}

#[tokio::test]
async fn payments_a_refund_waits_for_the_capture_and_never_exceeds_it() {
    for app in apps_with_flows().await {
        let fake = FakeStripe::start().await;
        stripe(&app, &fake, json!({})).await;
        stocked(&app).await;
        let id = place(&app, "P-3").await;
        wait_order(&app, &id, |o| o["status"] == "released").await;

        // Stripe goes down as the unit ships: nothing is captured, so nothing may be refunded.
        fake.set(|f| f.down = true);
        ship(&app, &id, json!([{"line_no": 2, "quantity": 1}])).await;
        let (status, ret) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": id, "origin": "online",
                       "lines": [{"line_no": 2, "quantity": 1, "reason": "changed_mind"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ret}");
        let rid = ret["id"].as_str().unwrap().to_owned();
        let (status, body) = app
            .post(
                &format!("/api/v1/returns/{rid}/receive"),
                json!({"node": "SEA", "lines": [{"line_no": 2, "quantity": 1,
                        "condition": "new", "disposition": "restock"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app
            .post(&format!("/api/v1/returns/{rid}/refund"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("captured"),
            "{body}"
        );
        assert_eq!(fake.acted("refund"), 0);

        // Back up: the capture goes through, then the return flow's refund, within it.
        fake.set(|f| f.down = false);
        let order = wait_order(&app, &id, |o| o["payment"]["refunded"] != "0").await;
        let captured: rust_decimal::Decimal = order["payment"]["captured"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let refunded: rust_decimal::Decimal = order["payment"]["refunded"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        // B with its 0.14 of the discount, 0.50 tax and the first shipment's 4.99 shipping.
        assert_eq!(captured.to_string(), "10.35");
        assert!(refunded <= captured, "{order}");
        assert!(fake.refunded() <= fake.captured());
        assert_eq!(fake.acted("refund"), 1);
    }
}

#[tokio::test]
async fn payments_stripe_down_leaves_the_order_waiting_with_the_reason_then_it_proceeds() {
    for app in apps_with_flows().await {
        let fake = FakeStripe::start().await;
        stripe(&app, &fake, json!({})).await;
        stocked(&app).await;
        fake.set(|f| f.down = true);
        let id = place(&app, "P-4").await;
        // The step is retried with backoff, its error visible in the run.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
            let failed = runs["items"][0]["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["step"] == "authorize-payment" && s["status"] == "failed")
                .count();
            if failed >= 2 {
                let text = runs.to_string();
                assert!(text.contains("503"), "{runs:#}");
                break;
            }
            assert!(Instant::now() < deadline, "{}: {runs:#}", app.backend);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
        assert_ne!(order["status"], "released", "{order}");
        assert!(order["payment"].is_null(), "{order}");
        fake.set(|f| f.down = false);
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;
        assert_eq!(order["payment"]["status"], "authorized");
        assert_eq!(fake.acted("create"), 1);
        // Every attempt sent the same key: one authorisation whatever the retries.
        let keys: std::collections::HashSet<_> = fake
            .requests("/v1/payment_intents")
            .into_iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
    }
}

#[tokio::test]
async fn payments_a_declined_card_holds_the_order_as_failed() {
    for app in apps_with_flows().await {
        let fake = FakeStripe::start().await;
        stripe(&app, &fake, json!({})).await;
        stocked(&app).await;
        let (status, body) = app
            .post(
                "/api/v1/orders",
                order("P-5", json!("pm_card_chargeDeclined")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        let order = wait_order(&app, &id, |o| o["status"] == "on_hold").await;
        assert_eq!(order["status_reason"], "payment", "{order}");
        assert_eq!(order["payment"]["status"], "failed");
        assert!(
            order["payment"]["failure"]
                .as_str()
                .unwrap()
                .contains("declined"),
            "{order}"
        );
        assert_eq!(event_types(&app, &id).await, ["payment.failed"]);
    }
}

#[tokio::test]
async fn payments_orders_of_channels_no_instance_serves_go_as_before() {
    for app in apps_with_flows().await {
        let fake = FakeStripe::start().await;
        stripe(&app, &fake, json!({"channels": ["shop"]})).await;
        stocked(&app).await;
        let id = place(&app, "P-6").await;
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;
        assert!(order.get("payment").is_none(), "{order}");
        let (_, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
        let run = &runs["items"][0];
        let steps: Vec<&str> = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        assert_eq!(
            steps,
            ["validate", "plan", "reserve", "release"],
            "{runs:#}"
        );
        assert_eq!(run["status"], "completed");
        assert!(fake.state.lock().unwrap().requests.is_empty());
    }
}

#[tokio::test]
async fn payments_bad_input_is_answered_with_the_field_and_changes_nothing() {
    for app in apps_with_flows().await {
        let fake = FakeStripe::start().await;
        let before = app.counts().await;
        let (status, body) = app.post("/api/v1/orders", order("P-7", json!(42))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(
            body["errors"][0]["field"], "attributes.payment_method",
            "{body}"
        );
        assert_eq!(app.counts().await, before);

        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/providers/stripe",
                Some(
                    json!({"type": "payment", "connection": {"base_url": fake.url},
                            "settings": {"channels": "web"}}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&"connection.secret_key"), "{body}");
        assert!(fields.contains(&"settings.channels"), "{body}");
        let (status, _) = app.get("/api/v1/providers/stripe").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
