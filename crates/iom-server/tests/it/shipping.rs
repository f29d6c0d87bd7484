//! Carrier labels and tracking against a local EasyPost: what iom sends, which rate it buys, the
//! label it keeps, and tracker webhooks moving the shipment to its delivery.

use std::time::{Duration, Instant};

use iom_providers::secrets::easypost_signature;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::fake_easypost::{self, FakeEasyPost};
use super::{TestApp, apps, apps_with_flows};

/// With a composed accent: EasyPost keys the HMAC with the NFKD form of the secret.
pub const WEBHOOK_SECRET: &str = "whsec_caf\u{e9}";

async fn carrier(app: &TestApp, name: &str, fake: &FakeEasyPost) {
    let (status, body) = app
        .put(
            &format!("/api/v1/providers/{name}"),
            json!({"type": "carrier",
                   "connection": {"base_url": fake.url, "api_key": fake_easypost::API_KEY,
                                  "webhook_secret": WEBHOOK_SECRET},
                   "settings": {
                       "from_address": {"name": "Seattle DC", "line1": "500 Dock Rd", "city": "Seattle",
                                        "region": "WA", "postal_code": "98134", "country": "US"},
                       "parcel": {"length": 10.0, "width": 8.0, "height": 4.0, "weight": 8.0},
                       "services": {"express": "Express"}}}),
        )
        .await;
    assert!(status.is_success(), "{}: {body}", app.backend);
}

/// An order of two lines (2 × SKU-1, 1 × SKU-2) released by the default flow to SEA.
async fn released_order(app: &TestApp, external_id: &str, extra: Value) -> String {
    app.put_seattle_node("SEA", "warehouse", None).await;
    app.stock_delta("SKU-1", "SEA", 100).await;
    app.stock_delta("SKU-2", "SEA", 100).await;
    let mut body = super::order_body(external_id, &[2, 1]);
    if let Value::Object(extra) = extra {
        body.as_object_mut().unwrap().extend(extra);
    }
    let (status, order) = app.post("/api/v1/orders", body).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    wait_order(app, &id, |o| o["status"] == "released").await;
    id
}

async fn wait_order(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
        if done(&order) {
            return order;
        }
        if Instant::now() > deadline {
            let (_, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
            panic!("{}: order {id} is {order}\nruns: {runs:#}", app.backend);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn events(app: &TestApp, kind: &str) -> Vec<Value> {
    let (_, body) = app
        .get(&format!("/api/v1/events?type={kind}&limit=1000"))
        .await;
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_label_is_bought_as_easypost_documents_it_once_and_kept() {
    for app in apps_with_flows().await {
        let fake = FakeEasyPost::start().await;
        carrier(&app, "easypost", &fake).await;
        let (status, _) = app
            .put(
                "/api/v1/skus/SKU-1",
                json!({"attributes": {"weight_oz": 12.5, "length_in": 12.0}}),
            )
            .await;
        assert!(status.is_success());
        // Promised within two days: First (5 days) is cheapest but late; Priority keeps it.
        let promised = chrono::Utc::now() + chrono::Duration::days(2);
        let id = released_order(&app, "L-1", json!({"requested_delivery_at": promised})).await;

        let (status, bought) = app
            .post(&format!("/api/v1/orders/{id}/labels"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {bought}", app.backend);

        // What EasyPost received: the shipment with both addresses and the parcel, then the buy
        // of the Priority rate, each with the API key as the Basic user.
        let created = fake.requests("POST /v2/shipments");
        assert_eq!(created.len(), 2, "one create and one buy: {created:?}");
        let shipment = &created[0].1["shipment"];
        assert_eq!(shipment["to_address"]["zip"], "98101");
        assert_eq!(shipment["to_address"]["street1"], "1 Main St");
        assert_eq!(shipment["to_address"]["email"], "ann@example.com");
        assert_eq!(shipment["from_address"]["zip"], "98134");
        // 2 × 12.5 oz of SKU-1 and SKU-2 at the default 8 oz; the longest side is SKU-1's.
        assert_eq!(shipment["parcel"]["weight"], 33.0);
        assert_eq!(shipment["parcel"]["length"], 12.0);
        assert_eq!(shipment["parcel"]["width"], 8.0);
        assert_eq!(shipment["options"]["label_format"], "PDF");
        let (path, buy) = &created[1];
        let state = fake.state.lock().unwrap().shipments.clone();
        let easypost = state.values().next().unwrap();
        assert_eq!(
            path,
            &format!(
                "POST /v2/shipments/{}/buy",
                easypost["id"].as_str().unwrap()
            )
        );
        let priority = easypost["rates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["service"] == "Priority")
            .unwrap();
        assert_eq!(buy, &json!({"rate": {"id": priority["id"]}}));

        // The shipment carries carrier, service, cost and tracking; the lines are shipped.
        let order = &bought["order"];
        assert_eq!(order["status"], "shipped", "{order}");
        let s = &order["shipments"][0];
        assert_eq!(s["id"], bought["shipment_id"]);
        assert_eq!(s["node"], "SEA");
        assert_eq!(s["carrier"], "USPS");
        assert_eq!(s["tracking"], easypost["tracking_code"]);
        assert_eq!(s["label"]["service"], "Priority");
        assert_eq!(s["label"]["cost"], "7.90");
        assert_eq!(s["label"]["format"], "pdf");
        assert_eq!(s["label"]["carrier_shipment_id"], easypost["id"]);

        // The label file is served as the carrier made it.
        let resp = app
            .client
            .get(app.url(bought["label_url"].as_str().unwrap()))
            .bearer_auth(super::ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/pdf");
        assert!(resp.bytes().await.unwrap().starts_with(b"%PDF"));

        // The same parcel again is the same purchase; nothing is bought twice.
        let again = json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}]});
        let (status, second) = app
            .post(&format!("/api/v1/orders/{id}/labels"), again)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{second}");
        assert_eq!(second["shipment_id"], bought["shipment_id"]);
        let (status, _) = app
            .post(&format!("/api/v1/orders/{id}/labels"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "nothing released is left");
        assert_eq!(fake.buys(), 1, "{}", app.backend);
        assert_eq!(events(&app, "order.shipment_created").await.len(), 1);

        // Unknown shipment: 404.
        let (status, _) = app
            .get(&format!("/api/v1/orders/{id}/shipments/nope/label"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_ship_method_picks_the_service_else_the_cheapest_rate_that_keeps_the_promise() {
    for app in apps_with_flows().await {
        let fake = FakeEasyPost::start().await;
        carrier(&app, "easypost", &fake).await;
        let fast = released_order(&app, "S-1", json!({"ship_method": "express"})).await;
        let (status, bought) = app
            .post(&format!("/api/v1/orders/{fast}/labels"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{bought}");
        assert_eq!(
            bought["order"]["shipments"][0]["label"]["service"],
            "Express"
        );
        // The default profile promised three days: First (five) is late, Priority on time.
        let promised = released_order(&app, "S-2", json!({})).await;
        let order = app.order(&json!(promised)).await;
        assert!(
            order["lines"][0]["promised_delivery_at"].is_string(),
            "{order}"
        );
        let (_, bought) = app
            .post(&format!("/api/v1/orders/{promised}/labels"), json!({}))
            .await;
        assert_eq!(
            bought["order"]["shipments"][0]["label"]["service"],
            "Priority"
        );
        // A profile that promises a week: the cheapest rate keeps it.
        let (status, body) = app
            .put(
                "/api/v1/fulfillment/profiles/default",
                json!({"transit_days": 7}),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let cheap = released_order(&app, "S-3", json!({})).await;
        let (_, bought) = app
            .post(&format!("/api/v1/orders/{cheap}/labels"), json!({}))
            .await;
        assert_eq!(bought["order"]["shipments"][0]["label"]["service"], "First");
        assert_eq!(bought["order"]["shipments"][0]["label"]["cost"], "4.10");
    }
}

#[tokio::test]
async fn bad_requests_name_the_field_and_a_carrier_down_buys_nothing() {
    for app in apps_with_flows().await {
        let fake = FakeEasyPost::start().await;
        let id = released_order(&app, "B-1", json!({})).await;
        let path = format!("/api/v1/orders/{id}/labels");
        let (status, problem) = app.post(&path, json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "provider", "no carrier yet");
        carrier(&app, "easypost", &fake).await;
        let (status, problem) = app
            .post(&path, json!({"lines": [{"line_no": 9, "quantity": 1}]}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "lines[0].line_no");
        let (status, problem) = app.post(&path, json!({"provider": "nope"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "provider");
        let (status, problem) = app.post(&path, json!({"service": "Drone"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "service");
        assert_eq!(fake.buys(), 0);

        // Down: 502, nothing recorded; up again, the same request finishes the same purchase.
        fake.set(|f| f.down = true);
        let (status, problem) = app.post(&path, json!({})).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem}");
        fake.set(|f| f.down = false);
        let (status, bought) = app.post(&path, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{bought}");
        assert_eq!(fake.buys(), 1);
        // The rates asked for with the wrong service were kept: the purchase went on with them.
        assert_eq!(fake.requests("POST /v2/shipments").len(), 2);
    }
}

#[tokio::test]
async fn the_flow_step_buys_a_label_after_release() {
    for app in apps_with_flows().await {
        let fake = FakeEasyPost::start().await;
        carrier(&app, "easypost", &fake).await;
        let flow = "name: ship-it\ntype: order\ntrigger: order.received\npriority: 10\nsteps:\n  - id: plan\n    uses: plan-fulfillment\n  - id: reserve\n    uses: reserve-inventory\n  - id: release\n    uses: release-to-nodes\n  - id: label\n    uses: buy-label\n";
        let resp = app
            .client
            .put(app.url("/api/v1/flows/ship-it"))
            .bearer_auth(super::ADMIN)
            .header("content-type", "application/yaml")
            .body(flow)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        let (status, body) = app.post("/api/v1/flows/ship-it/publish", json!({})).await;
        assert!(status.is_success(), "{body}");
        app.put_seattle_node("SEA", "warehouse", None).await;
        app.stock_delta("SKU-1", "SEA", 10).await;
        let (_, order) = app
            .post("/api/v1/orders", super::order_body("F-1", &[1]))
            .await;
        let id = order["id"].as_str().unwrap();
        let order = wait_order(&app, id, |o| o["status"] == "shipped").await;
        assert_eq!(order["shipments"][0]["carrier"], "USPS");
        assert_eq!(fake.buys(), 1);
    }
}

#[tokio::test]
async fn tracker_webhooks_move_the_shipment_once_and_forgeries_are_refused() {
    for app in apps_with_flows().await {
        let fake = FakeEasyPost::start().await;
        carrier(&app, "easypost", &fake).await;
        let id = released_order(&app, "T-1", json!({})).await;
        let (_, bought) = app
            .post(&format!("/api/v1/orders/{id}/labels"), json!({}))
            .await;
        let tracking = bought["order"]["shipments"][0]["tracking"]
            .as_str()
            .unwrap()
            .to_owned();
        let send = |body: Vec<u8>, signature: String| {
            let app = &app;
            async move {
                app.inbound("easypost", &body, &[("X-Hmac-Signature", signature)])
                    .await
            }
        };
        let signed = |body: &[u8]| easypost_signature(WEBHOOK_SECRET, body);

        // Forged: another secret, a body changed after signing, no signature at all.
        let body = fake_easypost::tracker_event("evt_1", &tracking, "in_transit");
        for bad in [
            easypost_signature("another secret", &body),
            signed(b"{}"),
            "hmac-sha256-hex=zz".into(),
        ] {
            let (status, problem) = send(body.clone(), bad).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
        }
        let (status, _) = app.inbound("easypost", &body, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // EasyPost keys the HMAC with the NFKD secret: the composed form's bytes do not verify.
        let composed = {
            use hmac_check::raw;
            raw(WEBHOOK_SECRET.as_bytes(), &body)
        };
        let (status, _) = send(body.clone(), composed).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let (status, receipt) = send(body.clone(), signed(&body)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{receipt}");
        assert_eq!(receipt["status"], "processed", "{receipt}");
        let order = app.order(&json!(id)).await;
        assert_eq!(order["shipments"][0]["tracking_status"], "in_transit");

        // The same event twice, and another event with the same status: nothing changes.
        let before = app.get("/api/v1/events?limit=1000").await.1["items"]
            .as_array()
            .unwrap()
            .len();
        let (_, receipt) = send(body.clone(), signed(&body)).await;
        assert_eq!(receipt["status"], "duplicate");
        let other = fake_easypost::tracker_event("evt_2", &tracking, "in_transit");
        let (_, receipt) = send(other.clone(), signed(&other)).await;
        assert_eq!(receipt["status"], "processed");
        let after = app.get("/api/v1/events?limit=1000").await.1["items"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(before, after, "{}", app.backend);
        assert_eq!(app.order(&json!(id)).await["version"], order["version"]);

        // A failure is an exception, announced, and an alert fires on it once; then out for
        // delivery, delivered.
        let (status, alert) = app
            .put(
                "/api/v1/alerts/carrier-exception",
                json!({"condition": {"type": "shipment_exception"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{alert}");
        for (n, status) in ["failure", "out_for_delivery", "delivered"]
            .iter()
            .enumerate()
        {
            let body = fake_easypost::tracker_event(&format!("evt_{}", n + 3), &tracking, status);
            let (code, receipt) = send(body.clone(), signed(&body)).await;
            assert_eq!(code, StatusCode::ACCEPTED);
            assert_eq!(receipt["status"], "processed", "{status}: {receipt}");
            if *status == "failure" {
                let deadline = Instant::now() + Duration::from_secs(15);
                let firings = loop {
                    let (_, page) = app.get("/api/v1/alerts/carrier-exception/firings").await;
                    if !page["items"].as_array().unwrap().is_empty() {
                        break page;
                    }
                    assert!(Instant::now() < deadline, "{}: no firing", app.backend);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                };
                let shipment = bought["order"]["shipments"][0]["id"].as_str().unwrap();
                assert_eq!(firings["items"][0]["subject"], shipment, "{firings}");
            }
        }
        let exceptions = events(&app, "shipment.exception").await;
        assert_eq!(exceptions.len(), 1);
        assert_eq!(exceptions[0]["data"]["tracking"], tracking.as_str());
        let order = app.order(&json!(id)).await;
        assert_eq!(order["status"], "delivered", "{order}");
        assert_eq!(order["shipments"][0]["tracking_status"], "delivered");
        assert_eq!(order["lines"][0]["delivered_quantity"], 2);
        assert_eq!(events(&app, "order.delivered").await.len(), 1);

        // After delivery a late in-transit event changes nothing; an unknown tracking code
        // fails visibly in the message log.
        let late = fake_easypost::tracker_event("evt_9", &tracking, "in_transit");
        let (_, receipt) = send(late.clone(), signed(&late)).await;
        assert_eq!(receipt["status"], "processed");
        assert_eq!(app.order(&json!(id)).await["version"], order["version"]);
        let unknown = fake_easypost::tracker_event("evt_10", "NOPE", "delivered");
        let (_, receipt) = send(unknown.clone(), signed(&unknown)).await;
        assert_eq!(receipt["status"], "failed", "{receipt}");
    }
}

/// HMAC-SHA256 over the raw secret bytes, without normalisation: what a receiver that ignored
/// EasyPost's NFKD step would compute.
mod hmac_check {
    pub fn raw(key: &[u8], body: &[u8]) -> String {
        let mac = iom_providers::secrets::hmac_sha256(key, body);
        format!("hmac-sha256-hex={}", hex_encode(&mac))
    }

    fn hex_encode(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[tokio::test]
async fn the_carrier_type_is_listed_and_needs_its_connection() {
    for app in apps().await {
        let (_, types) = app.get("/api/v1/provider-types").await;
        let carrier = types
            .as_array()
            .or_else(|| types["items"].as_array())
            .unwrap()
            .iter()
            .find(|t| t["name"] == "carrier")
            .cloned()
            .expect("carrier type");
        assert_eq!(carrier["verification"], "easypost_hmac");
        let (status, problem) = app
            .put(
                "/api/v1/providers/ep",
                json!({"type": "carrier", "connection": {"base_url": "http://x"}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    }
}

#[tokio::test]
async fn a_profile_priced_by_carrier_rates_shows_them_and_promises_by_their_days() {
    for app in apps().await {
        let fake = FakeEasyPost::start().await;
        carrier(&app, "easypost", &fake).await;
        app.put_seattle_node("SEA", "warehouse", None).await;
        app.stock_delta("SKU-1", "SEA", 10).await;
        let (status, body) = app
            .put(
                "/api/v1/fulfillment/profiles/by-carrier",
                json!({"rates": "carrier", "transit_days": 9}),
            )
            .await;
        assert!(status.is_success(), "{body}");
        assert_eq!(body["rates"], "carrier");
        let request = json!({"order": super::order_body("R-1", &[2]), "profile": "by-carrier"});
        let (status, plan) = app.post("/api/v1/fulfillment/plan", request.clone()).await;
        assert_eq!(status, StatusCode::OK, "{plan}");
        let sea = plan["explanation"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["node"] == "SEA")
            .unwrap();
        assert!(
            sea["detail"]
                .as_str()
                .unwrap()
                .contains("carrier rate USPS First 4.10 USD, 5 days"),
            "{plan}"
        );
        // The cheapest rate (First, 5 days) is the price and the transit time of the promise.
        assert_eq!(plan["cost"], "4.10", "{plan}");
        let a = &plan["assignments"][0];
        let ship: chrono::NaiveDate = a["ship_date"].as_str().unwrap().parse().unwrap();
        let promised: chrono::DateTime<chrono::Utc> =
            a["promised_delivery_at"].as_str().unwrap().parse().unwrap();
        assert_eq!((promised.date_naive() - ship).num_days(), 5, "{plan}");
        // The lane is cached: planning again asks the carrier nothing.
        let asked = fake.requests("POST /v2/shipments").len();
        assert_eq!(asked, 1);
        let (_, again) = app.post("/api/v1/fulfillment/plan", request).await;
        assert_eq!(again["cost"], "4.10");
        assert_eq!(fake.requests("POST /v2/shipments").len(), asked);
        // Rates asked for never buy.
        assert_eq!(fake.buys(), 0);
    }
}

#[tokio::test]
async fn the_order_page_buys_a_label_and_links_it() {
    use super::ui::UiClient;
    for app in apps_with_flows().await {
        let fake = FakeEasyPost::start().await;
        carrier(&app, "easypost", &fake).await;
        let id = released_order(&app, "U-1", json!({})).await;
        let ui = UiClient::sign_in(&app, "admin").await;
        let base = format!("/ui/orders/{id}");
        let page = ui.get(&base).await;
        assert!(page.body.contains("Buy a label for SEA"), "{}", page.body);
        let page = ui
            .submit(
                &format!("{base}/labels"),
                &[("csrf", &ui.csrf), ("node", "SEA"), ("service", "")],
            )
            .await;
        assert!(page.body.contains("Label bought: USPS"), "{}", page.body);
        assert!(page.body.contains("Label (PDF)"), "{}", page.body);
        assert!(!page.body.contains("Buy a label for SEA"));
        let order = app.order(&json!(id)).await;
        let sid = order["shipments"][0]["id"].as_str().unwrap();
        let label = ui.get(&format!("{base}/shipments/{sid}/label")).await;
        assert_eq!(label.status, StatusCode::OK);
        assert!(label.body.starts_with("%PDF"), "{}", label.body);
        assert_eq!(fake.buys(), 1);
    }
}

/// The default flow plans with carrier rates when its profile asks for them: lanes the cache
/// lacks are asked of the carrier outside the flow's transaction, and the promise follows the
/// rate's days. A carrier that is down leaves the plan to the nodes' cost models, and says so.
#[tokio::test]
async fn the_flow_plans_with_carrier_rates_it_asks_for_and_plans_without_them_when_down() {
    for app in apps_with_flows().await {
        let fake = FakeEasyPost::start().await;
        carrier(&app, "easypost", &fake).await;
        let (status, body) = app
            .put(
                "/api/v1/fulfillment/profiles/default",
                json!({"rates": "carrier", "transit_days": 9}),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let id = released_order(&app, "CR-1", json!({})).await;
        assert_eq!(fake.requests("POST /v2/shipments").len(), 1);
        assert_eq!(fake.buys(), 0);
        let plan_output = |runs: &Value| -> Value {
            runs["items"][0]["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["output"]["assignments"].is_array())
                .map(|s| s["output"].clone())
                .unwrap_or_else(|| panic!("no plan step in {runs}"))
        };
        let (_, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
        let plan = plan_output(&runs);
        assert!(plan.get("notes").is_none(), "{plan}");
        let order = app.order(&json!(id)).await;
        let promised: chrono::DateTime<chrono::Utc> = order["lines"][0]["promised_delivery_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        // The cheapest rate (USPS First) takes 5 days, not the profile's 9.
        let days = (promised - chrono::Utc::now()).num_days();
        assert!((4..=8).contains(&days), "{days} days: {order}");

        // Another zone, the carrier down: planned all the same, on the nodes' cost models.
        fake.set(|f| f.down = true);
        let mut body = super::order_body("CR-2", &[1]);
        body["ship_to"]["postal_code"] = json!("10001");
        body["ship_to"]["city"] = json!("New York");
        body["ship_to"]["region"] = json!("NY");
        let (status, created) = app.post("/api/v1/orders", body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let other = created["id"].as_str().unwrap().to_owned();
        wait_order(&app, &other, |o| o["status"] == "released").await;
        let (_, runs) = app.get(&format!("/api/v1/orders/{other}/runs")).await;
        let plan = plan_output(&runs);
        assert!(
            plan["notes"][0]
                .as_str()
                .unwrap_or_default()
                .contains("carrier rates unavailable"),
            "{plan}"
        );
    }
}
