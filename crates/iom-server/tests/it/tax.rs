//! Tax through a local AvaTax: an order that arrived without tax is taxed before release (lines
//! and totals), its document committed when it has shipped or voided when it is cancelled, and
//! the payment authorises the taxed total.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::fake_avatax::{ACCOUNT, COMPANY, FakeAvaTax, LICENSE};
use super::fake_stripe::{FakeStripe, SECRET_KEY};
use super::{TestApp, apps_with_flows};

pub(super) async fn avatax(app: &TestApp, fake: &FakeAvaTax) {
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/providers/avatax",
            Some(json!({"type": "tax",
                "connection": {"base_url": fake.url, "account_id": ACCOUNT,
                               "license_key": LICENSE, "company_code": COMPANY}})),
        )
        .await;
    assert!(status.is_success(), "{}: {body}", app.backend);
}

/// Three A at 10.00 and one B at 5.00, 1.00 off the order, no tax.
pub(super) fn order(external_id: &str, tax: &str) -> Value {
    json!({
        "channel": "web", "external_id": external_id, "currency": "USD",
        "customer": {"id": "C-9"},
        "ship_to": {"line1": "1 Main St", "city": "Seattle", "region": "WA", "postal_code": "98101",
                    "country": "US", "lat": 47.61, "lon": -122.33},
        "lines": [
            {"line_no": 1, "sku": "A", "quantity": 3, "unit_price": "10.00", "tax": tax},
            {"line_no": 2, "sku": "B", "quantity": 1, "unit_price": "5.00"}],
        "discount_amount": "1.00",
        "attributes": {"payment_method": "pm_card_visa"},
    })
}

async fn stocked(app: &TestApp) {
    app.put_seattle_node("SEA", "warehouse", None).await;
    app.stock_delta("A", "SEA", 100).await;
    app.stock_delta("B", "SEA", 100).await;
}

async fn place(app: &TestApp, body: Value) -> String {
    let (status, body) = app.post("/api/v1/orders", body).await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", app.backend);
    body["id"].as_str().unwrap().to_owned()
}

async fn wait_order(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
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

#[tokio::test]
async fn tax_an_untaxed_order_is_taxed_before_release_authorised_taxed_and_committed_when_shipped()
{
    for app in apps_with_flows().await {
        let tax = FakeAvaTax::start().await;
        let stripe = FakeStripe::start().await;
        avatax(&app, &tax).await;
        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/providers/stripe",
                Some(json!({"type": "payment",
                    "connection": {"base_url": stripe.url, "secret_key": SECRET_KEY}})),
            )
            .await;
        assert!(status.is_success(), "{body}");
        stocked(&app).await;
        let id = place(&app, order("T-1", "0")).await;
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;

        // What AvaTax received: the order as an uncommitted SalesInvoice under its id.
        let created = tax.requests("/api/v2/transactions/create");
        assert_eq!(created.len(), 1);
        let doc = &created[0].1;
        assert_eq!(doc["type"], "SalesInvoice");
        assert_eq!(doc["companyCode"], COMPANY);
        assert_eq!(doc["code"], id.as_str());
        assert_eq!(doc["commit"], false);
        assert_eq!(doc["customerCode"], "C-9");
        assert_eq!(doc["addresses"]["shipTo"]["postalCode"], "98101");
        assert_eq!(doc["addresses"]["shipFrom"]["latitude"], 47.61);
        assert_eq!(doc["lines"][0]["amount"], 30);
        assert_eq!(doc["lines"][1]["amount"], 5);

        // 10 % of each line: the lines' tax and the totals are AvaTax's.
        assert_eq!(order["lines"][0]["tax"], "3.00", "{order}");
        assert_eq!(order["lines"][1]["tax"], "0.50");
        assert_eq!(order["totals"]["tax"], "3.50");
        assert_eq!(order["totals"]["total"], "37.50");
        assert_eq!(order["tax_transaction"]["status"], "calculated");
        assert_eq!(order["tax_transaction"]["code"], id.as_str());
        // The payment authorises the taxed total.
        assert_eq!(order["payment"]["authorized"], "37.50");
        assert_eq!(
            stripe.requests("/v1/payment_intents")[0].field("amount"),
            Some("3750")
        );

        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{id}/shipments"),
                json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 3}, {"line_no": 2, "quantity": 1}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let order = wait_order(&app, &id, |o| o["tax_transaction"]["status"] == "committed").await;
        assert_eq!(order["payment"]["captured"], "37.50", "{order}");
        let commits = tax.requests(&format!(
            "/api/v2/companies/{COMPANY}/transactions/{id}/commit"
        ));
        assert_eq!(commits.len(), 1);
        assert_eq!(tax.document(&id).unwrap()["status"], "Committed");

        // The order page shows both, with the services' ids.
        let ui = super::ui::UiClient::sign_in(&app, "admin").await;
        let page = ui.get(&format!("/ui/orders/{id}")).await;
        assert_eq!(page.status, StatusCode::OK);
        let pi = stripe.intent()["id"].as_str().unwrap().to_owned();
        let card = &page.body[page.body.find("id=\"payment\"").expect("a payment card")..];
        assert!(card.contains(&pi), "{card}");
        assert!(card.contains("captured"), "{card}");
        assert!(card.contains("37.50"), "{card}");
        assert!(
            card.contains(&format!("<code class=\"tax-code\">{id}</code>")),
            "{card}"
        );
        assert!(card.contains("committed"), "{card}");
    }
}

#[tokio::test]
async fn tax_a_cancelled_order_voids_its_document_and_a_taxed_order_is_left_alone() {
    for app in apps_with_flows().await {
        let tax = FakeAvaTax::start().await;
        avatax(&app, &tax).await;
        stocked(&app).await;
        let mut body = order("T-2", "0");
        body["attributes"] = json!({});
        let id = place(&app, body).await;
        wait_order(&app, &id, |o| o["status"] == "released").await;
        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{id}/cancel"),
                json!({"reason": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        wait_order(&app, &id, |o| o["tax_transaction"]["status"] == "voided").await;
        assert_eq!(tax.document(&id).unwrap()["status"], "Cancelled");

        // An order with its own tax is not sent to AvaTax.
        let mut body = order("T-3", "2.40");
        body["attributes"] = json!({});
        let taxed = place(&app, body).await;
        let o = wait_order(&app, &taxed, |o| o["status"] == "released").await;
        assert!(o.get("tax_transaction").is_none(), "{o}");
        assert_eq!(o["lines"][0]["tax"], "2.40");
        assert!(tax.document(&taxed).is_none());
    }
}
