//! Shopify webhooks by `X-Shopify-Topic`, end to end over HTTP with real signatures: the order
//! sample of the conformance set created, changed before release, refused a change after it,
//! cancelled; fulfilments shipped once however often they are sent; unknown topics ignored; a
//! topic message retried with its topic.

use iom_providers::secrets::shopify_signature;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::providers::{SHOP_SECRET, sample, shopify_instance};
use super::{TestApp, apps};

/// The order of the conformance sample as the `orders/create` webhook sends it (bare).
fn order_doc() -> Value {
    let doc: Value =
        serde_json::from_slice(&sample("shopify/shopify-api-ruby_order.json")).unwrap();
    doc["order"].clone()
}

impl TestApp {
    /// Posts `body` to a Shopify instance, signed, with `topic` when given.
    async fn webhook(&self, shop: &str, topic: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let mut headers = vec![(
            "X-Shopify-Hmac-Sha256",
            shopify_signature(SHOP_SECRET, &bytes),
        )];
        if let Some(t) = topic {
            headers.push(("X-Shopify-Topic", t.to_owned()));
        }
        self.inbound(shop, &bytes, &headers).await
    }

    async fn message_of(&self, shop: &str, accepted: &Value) -> Value {
        let (status, m) = self
            .get(&format!(
                "/api/v1/providers/{shop}/messages/{}",
                accepted["message_id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{m}");
        m
    }
}

fn active_lines(order: &Value) -> Vec<(String, u64, String)> {
    order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().to_owned(),
                l["quantity"].as_u64().unwrap() - l["cancelled_quantity"].as_u64().unwrap(),
                l["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_order_is_created_changed_before_release_and_cancelled() {
    for app in apps().await {
        shopify_instance(&app, "shop").await;
        let created = order_doc();
        let (status, accepted) = app.webhook("shop", Some("orders/create"), &created).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        assert_eq!(accepted["status"], "processed", "{accepted}");
        assert_eq!(accepted["created"], 1);
        let id = accepted["order_ids"][0].clone();
        assert_eq!(
            app.message_of("shop", &accepted).await["kind"],
            "orders/create"
        );

        // The customer moves, takes three red ones, drops the black one, adds a case, and
        // leaves a note; Shopify says what is left of an edited line in current_quantity.
        let mut updated = created.clone();
        updated["shipping_address"]["city"] = json!("Lexington");
        updated["shipping_address"]["zip"] = json!("40507");
        updated["line_items"][1]["quantity"] = json!(1);
        updated["line_items"][1]["current_quantity"] = json!(3);
        updated["line_items"][2]["current_quantity"] = json!(0);
        let mut case = created["line_items"][0].clone();
        case["id"] = json!(999000111);
        case["sku"] = json!("IPOD-CASE");
        case["price"] = json!("19.00");
        case["quantity"] = json!(2);
        updated["line_items"].as_array_mut().unwrap().push(case);
        updated["note"] = json!("Leave at the back door");
        updated["shipping_lines"][0]["code"] = json!("Express");
        let (_, accepted) = app.webhook("shop", Some("orders/updated"), &updated).await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        assert_eq!(accepted["created"], 0);
        assert_eq!(accepted["order_ids"][0], id);
        let order = app.order(&id).await;
        assert_eq!(order["ship_to"]["city"], "Lexington");
        assert_eq!(order["ship_to"]["postal_code"], "40507");
        assert_eq!(order["ship_method"], "Express");
        assert_eq!(order["attributes"]["note"], "Leave at the back door");
        assert_eq!(
            active_lines(&order),
            [
                ("IPOD2008GREEN".to_owned(), 1, "open".to_owned()),
                ("IPOD2008RED".to_owned(), 3, "open".to_owned()),
                ("IPOD2008BLACK".to_owned(), 0, "cancelled".to_owned()),
                ("IPOD-CASE".to_owned(), 2, "open".to_owned()),
            ]
        );
        assert_eq!(order["lines"][3]["line_no"], 4);
        // 199 + 3 × 199 + 2 × 19, less the sample's line discounts, plus its line taxes.
        assert_eq!(order["totals"]["subtotal"], "834.00");
        let (_, events) = app.get("/api/v1/events?type=order.amended").await;
        assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");

        // The same update again is the same document: nothing more happens.
        let version = order["version"].clone();
        let (_, again) = app.webhook("shop", Some("orders/updated"), &updated).await;
        assert_eq!(again["status"], "duplicate", "{again}");
        // Shopify's resend of the order with only its own fields changed changes nothing.
        let mut paid = updated.clone();
        paid["financial_status"] = json!("paid");
        paid["updated_at"] = json!("2008-01-10T11:00:01-05:00");
        let (_, accepted) = app.webhook("shop", Some("orders/updated"), &paid).await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        assert_eq!(app.order(&id).await["version"], version);

        let mut cancelled = paid.clone();
        cancelled["cancel_reason"] = json!("customer");
        cancelled["cancelled_at"] = json!("2008-01-10T12:00:00-05:00");
        let (_, accepted) = app
            .webhook("shop", Some("orders/cancelled"), &cancelled)
            .await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        let order = app.order(&id).await;
        assert_eq!(order["status"], "cancelled");
        assert_eq!(order["status_reason"], "customer");
        // Cancelled again (a resend with another timestamp), and the update Shopify sends with
        // a cancellation, its lines at quantity 0: nothing more to do.
        cancelled["updated_at"] = json!("2008-01-10T12:00:05-05:00");
        let (_, accepted) = app
            .webhook("shop", Some("orders/cancelled"), &cancelled)
            .await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        for item in cancelled["line_items"].as_array_mut().unwrap() {
            item["current_quantity"] = json!(0);
        }
        let (_, accepted) = app
            .webhook("shop", Some("orders/updated"), &cancelled)
            .await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        assert_eq!(app.order(&id).await["version"], order["version"]);
    }
}

#[tokio::test]
async fn after_release_a_change_fails_the_message_and_changes_nothing() {
    for app in apps().await {
        shopify_instance(&app, "shop").await;
        // An update whose create never came: the order is created from it.
        let doc = order_doc();
        let (_, accepted) = app.webhook("shop", Some("orders/updated"), &doc).await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        assert_eq!(accepted["created"], 1, "{accepted}");
        let id = accepted["order_ids"][0].clone();

        let (status, shipped) = app
            .post(
                &format!("/api/v1/orders/{}/shipments", id.as_str().unwrap()),
                json!({"node": "DC-1", "lines": [{"line_no": 1, "quantity": 1}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{shipped}");
        let before = app.order(&id).await;

        let mut moved = doc.clone();
        moved["shipping_address"]["city"] = json!("Lexington");
        let (status, accepted) = app.webhook("shop", Some("orders/updated"), &moved).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(accepted["status"], "failed", "{accepted}");
        let message = accepted["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("partially_shipped") && message.contains("ship_to"),
            "{message}"
        );
        assert_eq!(app.order(&id).await, before);

        // An update that changes nothing iom keeps is no conflict.
        let mut tagged = doc.clone();
        tagged["tags"] = json!("vip");
        let (_, accepted) = app.webhook("shop", Some("orders/updated"), &tagged).await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        assert_eq!(app.order(&id).await, before);
    }
}

/// The fulfilment embedded in the order sample, as the fulfillments/create webhook sends it.
fn fulfillment_doc() -> Value {
    order_doc()["fulfillments"][0].clone()
}

#[tokio::test]
async fn a_fulfillment_ships_once_and_its_update_brings_the_new_tracking() {
    for app in apps().await {
        let (status, body) = app
            .put(
                "/api/v1/providers/shop",
                json!({"type": "shopify", "connection": {"shop": "example.myshopify.com",
                       "access_token": "shpat_secret_token", "webhook_secret": SHOP_SECRET},
                       "settings": {"default_node": "DC-1"}}),
            )
            .await;
        assert!(status.is_success(), "{body}");

        // Shipped before the order arrived: failed, and retried once the order exists, with
        // its topic.
        let mut fulfillment = fulfillment_doc();
        fulfillment["status"] = json!("success");
        fulfillment["tracking_company"] = json!("UPS");
        let (_, early) = app
            .webhook("shop", Some("fulfillments/create"), &fulfillment)
            .await;
        assert_eq!(early["status"], "failed", "{early}");
        assert!(
            early["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no order"),
            "{early}"
        );
        let (_, accepted) = app
            .webhook("shop", Some("orders/create"), &order_doc())
            .await;
        let id = accepted["order_ids"][0].clone();
        let (status, retried) = app
            .call(
                Method::POST,
                &format!(
                    "/api/v1/providers/shop/messages/{}/retry",
                    early["message_id"].as_str().unwrap()
                ),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{retried}");
        assert_eq!(retried["status"], "processed", "{retried}");
        assert_eq!(retried["kind"], "fulfillments/create");
        let order = app.order(&id).await;
        assert_eq!(order["status"], "partially_shipped");
        let shipments = order["shipments"].as_array().unwrap();
        assert_eq!(shipments.len(), 1);
        assert_eq!(shipments[0]["node"], "DC-1");
        assert_eq!(shipments[0]["carrier"], "UPS");
        assert_eq!(shipments[0]["tracking"], "1Z2345");
        assert_eq!(shipments[0]["reference"], "255858046");
        assert_eq!(
            shipments[0]["lines"],
            json!([{"line_no": 1, "quantity": 1}])
        );

        // The update with a new tracking number: the same shipment, tracked anew.
        let mut update = fulfillment.clone();
        update["tracking_number"] = json!("1Z9999");
        update["tracking_numbers"] = json!(["1Z9999"]);
        let (_, accepted) = app
            .webhook("shop", Some("fulfillments/update"), &update)
            .await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        let order = app.order(&id).await;
        let shipments = order["shipments"].as_array().unwrap();
        assert_eq!(shipments.len(), 1, "{order}");
        assert_eq!(shipments[0]["tracking"], "1Z9999");
        assert_eq!(order["lines"][0]["shipped_quantity"], 1);
        // The create sent once more, as Shopify does after a timeout: still one shipment.
        let mut resent = fulfillment.clone();
        resent["updated_at"] = json!("2014-03-07T16:20:00-05:00");
        let (_, accepted) = app
            .webhook("shop", Some("fulfillments/create"), &resent)
            .await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        assert_eq!(
            app.order(&id).await["shipments"].as_array().unwrap().len(),
            1
        );

        // The sample's own fulfilment failed: nothing shipped, and the log says why.
        let (_, accepted) = app
            .webhook("shop", Some("fulfillments/create"), &fulfillment_doc())
            .await;
        assert_eq!(accepted["status"], "ignored", "{accepted}");
        assert!(
            accepted["error"]["message"]
                .as_str()
                .unwrap()
                .contains("failure"),
            "{accepted}"
        );
    }
}

#[tokio::test]
async fn other_topics_are_ignored_and_refunds_go_by_their_topic() {
    for app in apps().await {
        shopify_instance(&app, "shop").await;
        let before = app.counts().await;
        let (status, accepted) = app
            .webhook(
                "shop",
                Some("products/update"),
                &json!({"id": 1, "title": "Mug"}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        assert_eq!(accepted["status"], "ignored", "{accepted}");
        assert_eq!(app.counts().await, before);
        let (_, page) = app
            .get("/api/v1/providers/shop/messages?status=ignored")
            .await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{page}");
        assert_eq!(items[0]["kind"], "products/update");
        assert!(
            items[0]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("products/update")
        );
        // A bad signature is refused before the topic is read.
        let (status, _) = app
            .inbound(
                "shop",
                b"{}",
                &[
                    ("X-Shopify-Hmac-Sha256", "bad".into()),
                    ("X-Shopify-Topic", "products/update".into()),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // refunds/create is read as a refund: here of an order iom does not have.
        let refund: Value =
            serde_json::from_slice(&sample("shopify/shopify-api-ruby_refund.json")).unwrap();
        let (_, accepted) = app
            .webhook("shop", Some("refunds/create"), &refund["refund"])
            .await;
        assert_eq!(accepted["status"], "failed", "{accepted}");
        assert!(
            accepted["error"]["message"]
                .as_str()
                .unwrap()
                .contains("refund"),
            "{accepted}"
        );
        assert_eq!(
            app.message_of("shop", &accepted).await["kind"],
            "refunds/create"
        );
    }
}

#[tokio::test]
async fn a_changed_line_gives_back_what_was_reserved_for_it() {
    for app in apps().await {
        shopify_instance(&app, "shop").await;
        app.add_node("WH1", "warehouse", 0).await;
        let (status, body) = app
            .post(
                "/api/v1/inventory/changes",
                json!({"changes": [{"id": "s", "sku": "IPOD2008RED", "node": "WH1",
                                    "kind": "set", "quantity": 10}]}),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let doc = order_doc();
        let (_, accepted) = app.webhook("shop", Some("orders/create"), &doc).await;
        let id = accepted["order_ids"][0].as_str().unwrap().to_owned();
        let (status, body) = app
            .post(
                "/api/v1/inventory/reservations",
                json!({"sku": "IPOD2008RED", "node": "WH1", "quantity": 1,
                       "order_id": id, "line_no": 2}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let reserved = || async {
            let (_, view) = app.get("/api/v1/inventory/IPOD2008RED").await;
            view["nodes"][0]["reserved"].clone()
        };
        assert_eq!(reserved().await, 1);

        let mut updated = doc.clone();
        updated["line_items"][1]["current_quantity"] = json!(4);
        let (_, accepted) = app.webhook("shop", Some("orders/updated"), &updated).await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        assert_eq!(reserved().await, 0);
        let (_, events) = app.get("/api/v1/events?type=reservation.released").await;
        assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
    }
}
