//! Money settled whatever runs the order, through a local Stripe and a local AvaTax: a return's
//! refund gives the tax of the returned units back through a return invoice (once, also when
//! AvaTax was down), and
//! an order cancelled after its flow run ended lets its authorisation go and voids its tax
//! document, once.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::fake_avatax::{COMPANY, FakeAvaTax};
use super::fake_stripe::{FakeStripe, SECRET_KEY};
use super::payments::{stocked, wait_order};
use super::tax::{avatax, order};
use super::{ADMIN, TestApp, apps_with_flows};

async fn stripe(app: &TestApp, fake: &FakeStripe) {
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/providers/stripe",
            Some(json!({"type": "payment",
                "connection": {"base_url": fake.url, "secret_key": SECRET_KEY}})),
        )
        .await;
    assert!(status.is_success(), "{body}");
}

async fn place(app: &TestApp, body: Value) -> String {
    let (status, body) = app.post("/api/v1/orders", body).await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", app.backend);
    body["id"].as_str().unwrap().to_owned()
}

async fn wait_return(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, ret) = app.get(&format!("/api/v1/returns/{id}")).await;
        if done(&ret) {
            return ret;
        }
        assert!(Instant::now() < deadline, "{}: {ret:#}", app.backend);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn settlement_a_refunded_return_gives_its_tax_back_through_avatax_once() {
    for app in apps_with_flows().await {
        let tax = FakeAvaTax::start().await;
        let pay = FakeStripe::start().await;
        avatax(&app, &tax).await;
        stripe(&app, &pay).await;
        stocked(&app).await;
        let id = place(&app, order("S-1", "0")).await;
        wait_order(&app, &id, |o| o["status"] == "released").await;
        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{id}/shipments"),
                json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 3}, {"line_no": 2, "quantity": 1}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        wait_order(&app, &id, |o| {
            o["tax_transaction"]["status"] == "committed" && o["payment"]["status"] == "captured"
        })
        .await;

        // AvaTax is down when one of the three A and the B come back and are refunded.
        tax.set(|f| f.down = true);
        let (status, ret) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": id, "origin": "online",
                       "lines": [{"line_no": 1, "quantity": 1, "reason": "changed_mind"},
                                 {"line_no": 2, "quantity": 1, "reason": "changed_mind"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ret}");
        let rid = ret["id"].as_str().unwrap().to_owned();
        let (status, body) = app
            .post(
                &format!("/api/v1/returns/{rid}/receive"),
                json!({"node": "SEA", "lines": [
                    {"line_no": 1, "quantity": 1, "condition": "new", "disposition": "restock"},
                    {"line_no": 2, "quantity": 1, "condition": "new", "disposition": "restock"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        wait_return(&app, &rid, |r| r["refund"]["reference"].is_string()).await;
        let path = "/api/v2/transactions/createoradjust";
        let deadline = Instant::now() + Duration::from_secs(20);
        while tax.requests(path).len() < 2 {
            assert!(Instant::now() < deadline, "AvaTax's refund is tried again");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let (_, ret) = app.get(&format!("/api/v1/returns/{rid}")).await;
        assert!(ret["refund"].get("tax").is_none(), "{ret}");

        // Back up: the refund document is made once, and recorded on the return and the order.
        tax.set(|f| f.down = false);
        let ret = wait_return(&app, &rid, |r| r["refund"]["tax"].is_object()).await;
        let code = format!("{id}-refund-{rid}");
        assert_eq!(ret["refund"]["tax"]["code"], code.as_str(), "{ret}");
        // One A of three at 10.00 and B at 5.00: 1.00 and 0.50 of tax (a refund of whole lines
        // would give back the tax of all three A).
        assert_eq!(ret["refund"]["tax"]["amount"], "1.50");
        assert_eq!(ret["refund"]["tax"]["provider"], "avatax");
        let sent = tax.requests(path);
        let body = &sent.last().unwrap().1["createTransactionModel"];
        assert_eq!(body["type"], "ReturnInvoice");
        assert_eq!(body["code"], code.as_str());
        assert_eq!(body["referenceCode"], id.as_str());
        assert_eq!(body["taxOverride"]["type"], "TaxDate");
        assert_eq!(body["date"], chrono::Utc::now().date_naive().to_string());
        let lines: Vec<(Value, Value, Value)> = body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["number"].clone(),
                    l["quantity"].clone(),
                    l["amount"].clone(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                (json!("1"), json!(1), json!(-10)),
                (json!("2"), json!(1), json!(-5))
            ]
        );
        // Every attempt named the same refund document: one was made.
        assert!(
            sent.iter()
                .all(|(_, b)| b["createTransactionModel"]["code"] == code.as_str())
        );
        let doc = tax.document(&code).unwrap();
        assert_eq!(doc["type"], "ReturnInvoice");
        assert_eq!(doc["totalTax"], json!(-1.5));
        let order = wait_order(&app, &id, |o| o["tax_transaction"]["refunded"] == "1.50").await;
        assert_eq!(order["tax_transaction"]["status"], "committed", "{order}");

        // Asking for the refund again moves no money and makes no second document.
        let (status, body) = app
            .post(&format!("/api/v1/returns/{rid}/refund"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(tax.requests(path).len(), sent.len());
        assert_eq!(pay.acted("refund"), 1);

        // The order page shows the tax given back with its document.
        let ui = super::ui::UiClient::sign_in(&app, "admin").await;
        let page = ui.get(&format!("/ui/orders/{id}")).await;
        let card = &page.body[page.body.find("id=\"payment\"").expect("a payment card")..];
        assert!(card.contains(&code), "{card}");
        assert!(card.contains("1.50"), "{card}");
    }
}

/// Validates, plans, reserves, taxes, authorises and releases: the run ends at release, with no
/// step waiting for shipments or cancellations.
const SHORT_FLOW: &str = "name: release-only
type: order
trigger: order.received
priority: 10
steps:
  - id: validate
    uses: validate-order
  - id: plan
    uses: plan-fulfillment
    with:
      profile: default
  - id: reserve
    uses: reserve-inventory
  - id: calculate-tax
    uses: calculate-tax
  - id: authorize-payment
    uses: authorize-payment
  - id: release
    uses: release-to-nodes
";

#[tokio::test]
async fn settlement_an_order_cancelled_after_its_run_ended_lets_the_authorisation_go_and_voids_the_tax()
 {
    for app in apps_with_flows().await {
        let tax = FakeAvaTax::start().await;
        let pay = FakeStripe::start().await;
        avatax(&app, &tax).await;
        stripe(&app, &pay).await;
        stocked(&app).await;
        let resp = app
            .client
            .put(app.url("/api/v1/flows/release-only"))
            .bearer_auth(ADMIN)
            .header("content-type", "application/yaml")
            .body(SHORT_FLOW)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        let (status, body) = app
            .post("/api/v1/flows/release-only/publish", json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let id = place(&app, order("S-2", "0")).await;
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;
        assert_eq!(order["payment"]["authorized"], "37.50", "{order}");
        let (_, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut runs = runs;
        while runs["items"][0]["status"] != "completed" {
            assert!(Instant::now() < deadline, "{runs:#}");
            tokio::time::sleep(Duration::from_millis(25)).await;
            runs = app.get(&format!("/api/v1/orders/{id}/runs")).await.1;
        }
        assert_eq!(runs["items"][0]["flow"], "release-only", "{runs:#}");

        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{id}/cancel"),
                json!({"reason": "customer"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let order = wait_order(&app, &id, |o| {
            o["payment"]["status"] == "released" && o["tax_transaction"]["status"] == "voided"
        })
        .await;
        assert_eq!(order["payment"]["released"], "37.50", "{order}");
        assert_eq!(pay.intent()["status"], "canceled");
        assert_eq!(tax.document(&id).unwrap()["status"], "Cancelled");
        // Once each, whatever else looks at the order.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(pay.acted("cancel"), 1);
        assert_eq!(pay.requests("/v1/payment_intents/pi_").len(), 1);
        let voids = tax.requests(&format!(
            "/api/v2/companies/{COMPANY}/transactions/{id}/void"
        ));
        assert_eq!(voids.len(), 1, "{voids:?}");
        assert_eq!(pay.captured(), 0);
    }
}

/// Orders that are never cancelled nor refunded: the settlement consumer's cursor still moves
/// past their events, so each round reads only what came since the last one (it stayed before
/// them, and read the whole run again every tenth of a second).
#[tokio::test]
async fn settlement_moves_past_the_events_it_does_not_settle() {
    for app in super::apps().await {
        for i in 0..3 {
            app.create_order(&format!("NOTHING-TO-SETTLE-{i}"), &[1])
                .await;
        }
        let store = &app.server.state.store;
        let head = store.last_event_seq().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let at = store
                .read_cursor("settlement".into())
                .await
                .unwrap()
                .map_or(0, |c| c.cursor);
            if at >= head {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: the cursor stayed at {at}, the log is at {head}",
                app.backend
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
