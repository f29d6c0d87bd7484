//! Returns over HTTP on every backend: authorisation with eligibility (422 naming the line and
//! changing nothing), receipt that restocks at once and exactly once under 50 concurrent
//! receipts, refunds from what was paid, close, cancel, exchanges, the policy, and the Shopify
//! refund sample becoming a return received and refunded.

use iom_providers::secrets::shopify_signature;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::providers::sample;
use super::{TestApp, apps};

/// A node with a location and stock of SKU-1 and SKU-2.
pub async fn setup(app: &TestApp) {
    for (code, lat, lon, accepts) in [
        ("SEA", 47.6, -122.3, true),
        ("PDX", 45.5, -122.7, true),
        ("DROP", 47.61, -122.33, false),
    ] {
        let (status, body) = app
            .put(
                &format!("/api/v1/nodes/{code}"),
                json!({"name": code, "kind": "warehouse", "location": {"lat": lat, "lon": lon},
                       "accepts_returns": accepts}),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
}

/// An order of the harness (SKU-1 ×q1, SKU-2 ×q2 …, 19.99 each) with `shipped` units shipped.
pub async fn shipped_order(
    app: &TestApp,
    external_id: &str,
    quantities: &[u32],
    shipped: &[u32],
) -> Value {
    let order = app.create_order(external_id, quantities).await;
    let id = order["id"].as_str().unwrap();
    let lines: Vec<Value> = shipped
        .iter()
        .enumerate()
        .filter(|(_, q)| **q > 0)
        .map(|(i, q)| json!({"line_no": i + 1, "quantity": q}))
        .collect();
    if lines.is_empty() {
        return order;
    }
    let (status, order) = app
        .post(
            &format!("/api/v1/orders/{id}/shipments"),
            json!({"node": "SEA", "lines": lines, "carrier": "UPS", "tracking": "1Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    order
}

async fn on_hand(app: &TestApp, sku: &str, node: &str) -> i64 {
    let (status, view) = app.get(&format!("/api/v1/inventory/{sku}")).await;
    if status == StatusCode::NOT_FOUND {
        return 0;
    }
    assert_eq!(status, StatusCode::OK, "{view}");
    view["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == node)
        .map_or(0, |n| n["on_hand"].as_i64().unwrap())
}

async fn event_types(app: &TestApp, prefix: &str) -> Vec<String> {
    let (_, events) = app
        .get(&format!("/api/v1/events?limit=1000&type={prefix}"))
        .await;
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_return_goes_from_authorisation_to_close() {
    for app in apps().await {
        setup(&app).await;
        let order = shipped_order(&app, "R-100", &[2, 1], &[2, 1]).await;
        let order_id = order["id"].as_str().unwrap();
        let before = on_hand(&app, "SKU-1", "PDX").await;

        let (status, ret) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": order_id, "origin": "store",
                       "lines": [{"line_no": 1, "quantity": 2, "reason": "damaged"},
                                 {"line_no": 2, "quantity": 1, "reason": "changed_mind"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {ret}", app.backend);
        assert_eq!(ret["status"], "authorized");
        assert_eq!(ret["origin"], "store");
        // Seattle is nearest to the customer; DROP is nearer still but takes no returns.
        assert_eq!(ret["return_to"]["node"], "SEA", "{ret}");
        let id = ret["id"].as_str().unwrap();

        let shown = app.order(&json!(order_id)).await;
        assert_eq!(shown["lines"][0]["return_authorized_quantity"], 2);
        assert_eq!(
            shown["returns"][0],
            json!({"id": id, "status": "authorized"})
        );

        let (status, received) = app
            .post(
                &format!("/api/v1/returns/{id}/receive"),
                json!({"node": "PDX", "lines": [
                    {"line_no": 1, "quantity": 1, "condition": "new", "disposition": "restock"},
                    {"line_no": 1, "quantity": 1, "condition": "damaged", "disposition": "scrap"},
                    {"line_no": 2, "quantity": 1, "condition": "opened", "disposition": "restock"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{received}");
        assert_eq!(received["status"], "received");
        assert_eq!(
            on_hand(&app, "SKU-1", "PDX").await,
            before + 1,
            "restocked at once"
        );
        assert_eq!(on_hand(&app, "SKU-2", "PDX").await, 1);

        let (status, refunded) = app
            .post(&format!("/api/v1/returns/{id}/refund"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{refunded}");
        assert_eq!(refunded["status"], "refunded");
        // Everything came back, so shipping too (none here): 3 × 19.99.
        assert_eq!(refunded["refund"]["amount"], "59.97", "{refunded}");

        let (status, closed) = app
            .post(&format!("/api/v1/returns/{id}/close"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{closed}");
        let (status, got) = app.get(&format!("/api/v1/returns/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["status"], "closed");
        assert_eq!(got["refund"]["amount"], "59.97");

        let shown = app.order(&json!(order_id)).await;
        assert_eq!(shown["lines"][0]["returned_quantity"], 2);
        assert_eq!(shown["refunded_amount"], "59.97");
        assert_eq!(shown["returns"][0]["status"], "closed");
        assert_eq!(
            event_types(&app, "return.*").await,
            [
                "return.authorized",
                "return.received",
                "return.refunded",
                "return.closed"
            ]
        );
        let (_, timeline) = app
            .get(&format!("/api/v1/orders/{order_id}/timeline"))
            .await;
        assert!(
            timeline["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["type"] == "return.received"),
            "a return's events are on its order's timeline"
        );

        let (status, page) = app
            .get(&format!(
                "/api/v1/returns?order_id={order_id}&status=closed"
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        let (_, page) = app.get("/api/v1/returns?status=authorized").await;
        assert!(page["items"].as_array().unwrap().is_empty());
        let (status, bad) = app.get("/api/v1/returns?status=lost").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[tokio::test]
async fn ineligible_returns_get_422_naming_the_line_and_change_nothing() {
    for app in apps().await {
        setup(&app).await;
        let order = shipped_order(&app, "R-200", &[2, 1], &[1, 0]).await;
        let order_id = order["id"].as_str().unwrap();
        let before = (app.counts().await, app.order(&json!(order_id)).await);
        let cases = [
            (
                json!({"order_id": "0192f0e0-0000-7000-8000-000000000000", "origin": "online",
                       "lines": [{"line_no": 1, "quantity": 1, "reason": "damaged"}]}),
                "order_id",
                "does not exist",
            ),
            (
                json!({"order_id": order_id, "origin": "online",
                       "lines": [{"line_no": 2, "quantity": 1, "reason": "damaged"}]}),
                "lines[0].line_no",
                "line 2",
            ),
            (
                json!({"order_id": order_id, "origin": "app",
                       "lines": [{"line_no": 1, "quantity": 2, "reason": "damaged"}]}),
                "lines[0].quantity",
                "line 1",
            ),
            (
                json!({"order_id": order_id, "origin": "app",
                       "lines": [{"line_no": 7, "quantity": 1, "reason": "damaged"}]}),
                "lines[0].line_no",
                "line 7",
            ),
            (
                json!({"order_id": order_id, "origin": "kiosk",
                       "lines": [{"line_no": 1, "quantity": 1, "reason": "bored"}]}),
                "origin",
                "store, online",
            ),
        ];
        for (body, field, says) in cases {
            let (status, problem) = app.post("/api/v1/returns", body).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}: {problem}",
                app.backend
            );
            let error = &problem["errors"][0];
            assert_eq!(error["field"], field, "{problem}");
            assert!(
                error["message"].as_str().unwrap().contains(says),
                "{problem}"
            );
        }
        // Both bad lines of one request are named.
        let (status, problem) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": order_id, "origin": "online", "lines": [
                    {"line_no": 1, "quantity": 5, "reason": "damaged"},
                    {"line_no": 2, "quantity": 1, "reason": "damaged"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"].as_array().unwrap().len(), 2, "{problem}");

        // A SKU the policy makes non-returnable.
        let (status, policy) = app
            .put(
                "/api/v1/return-policy",
                json!({"non_returnable_skus": ["SKU-1"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{policy}");
        let (status, problem) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": order_id, "origin": "online",
                       "lines": [{"line_no": 1, "quantity": 1, "reason": "damaged"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("not returnable")
        );

        let (counts, _) = before.clone();
        let after = app.order(&json!(order_id)).await;
        assert_eq!(after, before.1, "the order is untouched");
        let (orders_now, events_now) = app.counts().await;
        assert_eq!(orders_now, counts.0);
        assert_eq!(events_now, counts.1 + 1, "only return_policy.updated");
        let (_, page) = app.get("/api/v1/returns").await;
        assert!(page["items"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn receipts_never_exceed_what_was_authorised() {
    for app in apps().await {
        setup(&app).await;
        let order = shipped_order(&app, "R-300", &[3], &[3]).await;
        let (status, ret) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": order["id"], "origin": "online",
                       "lines": [{"line_no": 1, "quantity": 2, "reason": "size_fit"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ret}");
        let id = ret["id"].as_str().unwrap();
        let events_before = app.counts().await.1;
        for (body, field) in [
            (
                json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 3, "disposition": "restock"}]}),
                "lines[0].quantity",
            ),
            (
                json!({"node": "SEA", "lines": [{"line_no": 2, "quantity": 1, "disposition": "restock"}]}),
                "lines[0].line_no",
            ),
            (
                json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 1, "disposition": "resell"}]}),
                "lines[0].disposition",
            ),
            (
                json!({"node": "NOPE", "lines": [{"line_no": 1, "quantity": 1, "disposition": "restock"}]}),
                "node",
            ),
            (
                json!({"node": "DROP", "lines": [{"line_no": 1, "quantity": 1, "disposition": "restock"}]}),
                "node",
            ),
        ] {
            let (status, problem) = app
                .post(&format!("/api/v1/returns/{id}/receive"), body)
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
        assert_eq!(
            app.counts().await.1,
            events_before,
            "refused receipts change nothing"
        );
        assert_eq!(on_hand(&app, "SKU-1", "SEA").await, 0);
        let (status, _) = app.post("/api/v1/returns/nope/receive", json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, ret) = app
            .post(
                &format!("/api/v1/returns/{id}/receive"),
                json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 1, "condition": "new", "disposition": "restock"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{ret}");
        assert_eq!(ret["lines"][0]["released_quantity"], 1);
        // The released unit can be returned again; the one received cannot.
        let (status, problem) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": order["id"], "origin": "online",
                       "lines": [{"line_no": 1, "quantity": 3, "reason": "size_fit"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("only 2"),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn fifty_concurrent_receipts_restock_once() {
    for app in apps().await {
        setup(&app).await;
        let order = shipped_order(&app, "R-400", &[4], &[4]).await;
        let (status, ret) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": order["id"], "origin": "app",
                       "lines": [{"line_no": 1, "quantity": 4, "reason": "defective"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ret}");
        let id = ret["id"].as_str().unwrap().to_owned();
        let body = json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 4, "condition": "new", "disposition": "restock"}]});
        let path = format!("/api/v1/returns/{id}/receive");
        let calls = (0..50).map(|_| app.post(&path, body.clone()));
        let results = futures_util::future::join_all(calls).await;
        let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        let conflicts = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::CONFLICT)
            .count();
        assert_eq!((ok, conflicts), (1, 49), "{}: {results:?}", app.backend);
        assert_eq!(
            on_hand(&app, "SKU-1", "SEA").await,
            4,
            "restocked exactly once"
        );
        assert_eq!(
            event_types(&app, "return.received").await.len(),
            1,
            "one receipt announced"
        );
        let shown = app.order(&order["id"]).await;
        assert_eq!(shown["lines"][0]["returned_quantity"], 4);
    }
}

#[tokio::test]
async fn exchanges_ship_when_the_return_arrives_and_cancel_with_it() {
    for app in apps().await {
        setup(&app).await;
        let order = shipped_order(&app, "R-500", &[1, 1], &[1, 1]).await;
        let (status, ret) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": order["id"], "origin": "service_center", "lines": [
                    {"line_no": 1, "quantity": 1, "reason": "size_fit", "exchange": {"sku": "SKU-1-L"}}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ret}");
        let exchange = app.order(&ret["exchange_order_id"]).await;
        assert_eq!(exchange["status"], "on_hold");
        assert_eq!(exchange["status_reason"], "awaiting_return");
        assert_eq!(exchange["lines"][0]["sku"], "SKU-1-L");
        assert_eq!(exchange["totals"]["total"], "0.00");
        assert_eq!(exchange["attributes"]["exchange_for_return"], ret["id"]);

        let id = ret["id"].as_str().unwrap();
        let (status, received) = app
            .post(
                &format!("/api/v1/returns/{id}/receive"),
                json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 1, "disposition": "refurbish"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{received}");
        let exchange = app.order(&ret["exchange_order_id"]).await;
        assert_eq!(
            exchange["status"], "received",
            "released from its hold: {exchange}"
        );
        let (status, problem) = app
            .post(&format!("/api/v1/returns/{id}/refund"), json!({}))
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "an exchange is not refunded: {problem}"
        );
        let (status, _) = app
            .post(&format!("/api/v1/returns/{id}/close"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);

        // Cancelling a return cancels its exchange, and frees the quantity.
        let (status, ret) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": order["id"], "origin": "online", "lines": [
                    {"line_no": 2, "quantity": 1, "reason": "wrong_item", "exchange": {}}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ret}");
        let id = ret["id"].as_str().unwrap();
        let (status, cancelled) = app
            .post(
                &format!("/api/v1/returns/{id}/cancel"),
                json!({"reason": "customer kept it"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{cancelled}");
        assert_eq!(cancelled["status"], "cancelled");
        let exchange = app.order(&ret["exchange_order_id"]).await;
        assert_eq!(exchange["status"], "cancelled");
        assert_eq!(exchange["lines"][0]["sku"], "SKU-2");
        let shown = app.order(&order["id"]).await;
        assert_eq!(shown["lines"][1]["return_authorized_quantity"], 0);
        let (status, _) = app
            .post(&format!("/api/v1/returns/{id}/cancel"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn the_policy_is_configured_over_the_api() {
    for app in apps().await {
        let (status, policy) = app.get("/api/v1/return-policy").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(policy["default_window_days"], 30);
        assert!(
            policy["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["code"] == "damaged")
        );

        let (status, problem) = app
            .put(
                "/api/v1/return-policy",
                json!({"restocking_fees": {"nope": "10", "changed_mind": "150"},
                       "windows": [{"days": 99999}]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "windows[0].days",
                "restocking_fees.changed_mind",
                "restocking_fees.nope"
            ]
        );
        let (status, problem) = app
            .put("/api/v1/return-policy", json!({"windowz": []}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

        let (status, _) = app
            .put(
                "/api/v1/return-policy",
                json!({"restocking_fees": {"changed_mind": "10"}, "shipping_refund": "always",
                       "windows": [{"channel": "web", "days": 60}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, policy) = app.get("/api/v1/return-policy").await;
        assert_eq!(policy["restocking_fees"]["changed_mind"], "10");
        assert_eq!(policy["shipping_refund"], "always");

        // The fee applies: 2 × 19.99 = 39.98 less 10 % (4.00).
        setup(&app).await;
        let order = shipped_order(&app, "R-600", &[2], &[2]).await;
        let (_, ret) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": order["id"], "origin": "online",
                       "lines": [{"line_no": 1, "quantity": 2, "reason": "changed_mind"}]}),
            )
            .await;
        let id = ret["id"].as_str().unwrap();
        app.post(
            &format!("/api/v1/returns/{id}/receive"),
            json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 2, "disposition": "restock"}]}),
        )
        .await;
        let (status, refunded) = app
            .post(
                &format!("/api/v1/returns/{id}/refund"),
                json!({"amount": "40.00"}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "more than computed: {refunded}"
        );
        let (status, refunded) = app
            .post(&format!("/api/v1/returns/{id}/refund"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{refunded}");
        assert_eq!(refunded["refund"]["restocking_fee"], "4.00");
        assert_eq!(refunded["refund"]["amount"], "35.98");
    }
}

const SHOP_SECRET: &str = "shpss_returns_secret";

#[tokio::test]
async fn a_shopify_refund_becomes_a_receipt_and_a_refund() {
    for app in apps().await {
        setup(&app).await;
        let (status, body) = app
            .put(
                "/api/v1/providers/shop",
                json!({"type": "shopify", "connection": {"shop": "example.myshopify.com",
                       "webhook_secret": SHOP_SECRET}, "settings": {"default_node": "PDX"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let post = |file: &'static str| {
            let body = sample(file);
            let signature = shopify_signature(SHOP_SECRET, &body);
            let app = &app;
            async move {
                app.inbound("shop", &body, &[("X-Shopify-Hmac-Sha256", signature)])
                    .await
            }
        };
        let (status, accepted) = post("shopify/shopify-api-ruby_order.json").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        let order_id = accepted["order_ids"][0].clone();

        // Before anything shipped the refund cannot be a return: the message fails, naming why.
        let (status, failed) = post("shopify/shopify-api-ruby_refund.json").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{failed}");
        assert_eq!(failed["status"], "failed", "{failed}");
        assert!(
            failed["error"].to_string().contains("never shipped"),
            "{failed}"
        );

        let order = app.order(&order_id).await;
        let all: Vec<Value> = order["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| json!({"line_no": l["line_no"], "quantity": l["quantity"]}))
            .collect();
        let (status, shipped) = app
            .post(
                &format!("/api/v1/orders/{}/shipments", order_id.as_str().unwrap()),
                json!({"node": "SEA", "lines": all}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{shipped}");

        let (status, retried) = app
            .post(
                &format!(
                    "/api/v1/providers/shop/messages/{}/retry",
                    failed["message_id"].as_str().unwrap()
                ),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{retried}");
        assert_eq!(retried["status"], "processed", "{retried}");

        let (_, page) = app
            .get(&format!(
                "/api/v1/returns?order_id={}",
                order_id.as_str().unwrap()
            ))
            .await;
        let returns = page["items"].as_array().unwrap();
        assert_eq!(returns.len(), 1, "{page}");
        let ret = &returns[0];
        assert_eq!(ret["status"], "closed");
        assert_eq!(ret["origin"], "online");
        assert_eq!(ret["reference"], "refund:509562969");
        let skus: Vec<&str> = ret["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["sku"].as_str().unwrap())
            .collect();
        assert_eq!(skus, ["IPOD2008BLACK", "IPOD2008GREEN"]);
        assert_eq!(ret["receipts"][0]["node"], "PDX");
        // Shopify paid back 209.00 of the 398.00 (2 × 199.00; the order sample carries no tax
        // lines) the policy allows.
        assert_eq!(ret["refund"]["amount"], "209.00", "{ret}");
        assert_eq!(ret["refund"]["computed"], "398.00", "{ret}");
        assert_eq!(ret["refund"]["lines"][0]["tax"], "0.00", "{ret}");
        assert_eq!(ret["refund"]["reference"], "509562969");
        assert_eq!(on_hand(&app, "IPOD2008BLACK", "PDX").await, 1);
        assert_eq!(on_hand(&app, "IPOD2008GREEN", "PDX").await, 1);
        let order = app.order(&order_id).await;
        assert_eq!(order["refunded_amount"], "209.00");

        // The same refund again is the same message and changes nothing.
        let (status, again) = post("shopify/shopify-api-ruby_refund.json").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{again}");
        assert_eq!(on_hand(&app, "IPOD2008BLACK", "PDX").await, 1);
        let (_, page) = app.get("/api/v1/returns").await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_receipt_counts_in_the_return_rate_at_once() {
    for app in apps().await {
        setup(&app).await;
        let order = shipped_order(&app, "R-RATE", &[4, 1], &[4, 1]).await;
        let kpis = async || {
            let (status, k) = app
                .get("/api/v1/insights/kpis?from=2026-11-01T00:00:00Z&to=2100-01-01T00:00:00Z")
                .await;
            assert_eq!(status, StatusCode::OK, "{k}");
            k["return_rate"].clone()
        };
        assert_eq!(kpis().await, json!(0.0));
        let (status, ret) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": order["id"], "origin": "online",
                       "lines": [{"line_no": 1, "quantity": 3, "reason": "size_fit"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ret}");
        // Authorised units are not returned units yet.
        assert_eq!(kpis().await, json!(0.0));
        let id = ret["id"].as_str().unwrap();
        let (status, received) = app
            .post(
                &format!("/api/v1/returns/{id}/receive"),
                json!({"node": "SEA", "lines": [
                    {"line_no": 1, "quantity": 1, "condition": "new", "disposition": "restock"},
                    {"line_no": 1, "quantity": 1, "condition": "damaged", "disposition": "scrap"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{received}");
        // 2 of the 5 shipped units came back, whatever became of them.
        assert_eq!(kpis().await, json!(0.4), "{}", app.backend);
        // A refused second receipt counts nothing.
        let (status, _) = app
            .post(
                &format!("/api/v1/returns/{id}/receive"),
                json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 1, "disposition": "restock"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(kpis().await, json!(0.4));
    }
}
