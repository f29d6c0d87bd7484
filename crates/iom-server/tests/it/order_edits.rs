//! Changing an order before release (`PATCH /api/v1/orders/{id}`) and holding single lines
//! (`POST /api/v1/orders/{id}/lines/{line_no}/hold` and `/release`), with the flow executor
//! running where the flow's part matters. Both backends.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{TestApp, apps, apps_with_flows, order_body};

/// Polls the order until `done` says yes; panics with the order and its runs after 15 s.
pub async fn wait_order(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
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

/// What is reserved of `sku` over all nodes.
pub async fn reserved(app: &TestApp, sku: &str) -> i64 {
    let (status, body) = app.get(&format!("/api/v1/inventory/{sku}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["reserved"].as_i64().unwrap()
}

/// A preorder (held by the default flow before planning, reason `preorder`) of two lines,
/// SKU-1 × `q1` and SKU-2 × `q2`, with stock for both at a Seattle warehouse.
pub async fn held_preorder(app: &TestApp, external_id: &str, q1: u32, q2: u32) -> String {
    app.put_seattle_node("SEA", "warehouse", None).await;
    app.stock_delta("SKU-1", "SEA", 20).await;
    app.stock_delta("SKU-2", "SEA", 20).await;
    let mut body = order_body(external_id, &[q1, q2]);
    body["attributes"] = json!({"preorder": true});
    let (status, order) = app.post("/api/v1/orders", body).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    wait_order(app, &id, |o| o["status_reason"] == "preorder").await;
    id
}

async fn patch(app: &TestApp, id: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PATCH, &format!("/api/v1/orders/{id}"), Some(body))
        .await
}

#[tokio::test]
async fn an_order_is_changed_before_release_and_a_bad_change_changes_nothing() {
    for app in apps().await {
        let order = app.create_order("ED-1", &[2, 1]).await;
        let id = order["id"].as_str().unwrap();

        // Bad fields are named, and nothing changes.
        let before = app.counts().await;
        let (status, body) = patch(
            &app,
            id,
            json!({"lines": [{"line_no": 1, "quantity": 0}, {"line_no": 9, "quantity": 1},
                             {"sku": "", "quantity": 1, "unit_price": "x1"}],
                   "ship_to": {"city": "Portland"}}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        for field in [
            "lines[0].quantity",
            "lines[1].line_no",
            "lines[2].unit_price",
            "ship_to.country",
        ] {
            assert!(fields.contains(&field), "{field} in {body}");
        }
        assert_eq!(app.counts().await, before, "{}", app.backend);

        // Line 1 to 3 units, line 2 removed, a line added, a new ship-to and method.
        let (status, changed) = patch(
            &app,
            id,
            json!({"lines": [{"line_no": 1, "quantity": 3}, {"sku": "SKU-9", "quantity": 4, "unit_price": "2.50"}],
                   "ship_to": {"name": "Ann Lee", "line1": "9 Pine St", "city": "Portland", "region": "OR",
                               "postal_code": "97201", "country": "US"},
                   "ship_method": "express"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {changed}", app.backend);
        assert_eq!(changed["lines"][0]["quantity"], 3);
        assert_eq!(changed["lines"][1]["status"], "cancelled");
        assert_eq!(changed["lines"][2]["sku"], "SKU-9");
        assert_eq!(changed["lines"][2]["line_no"], 3);
        assert_eq!(changed["ship_to"]["city"], "Portland");
        assert!(changed["ship_to"]["located_by"].is_string(), "{changed}");
        assert_eq!(changed["ship_method"], "express");
        assert_eq!(changed["totals"]["subtotal"], "69.97");
        let (_, events) = app.get("/api/v1/events?type=order.amended").await;
        let amended = &events["items"][0];
        assert_eq!(amended["subject"], id);
        let changes = amended["data"]["changes"].as_array().unwrap();
        for change in ["ship_to", "ship_method", "lines[1]", "lines[2]", "lines[+]"] {
            assert!(changes.contains(&json!(change)), "{change} in {amended}");
        }

        // The same change again changes nothing and announces nothing.
        let before = app.counts().await;
        let (status, again) = patch(&app, id, json!({"ship_method": "express"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["version"], changed["version"]);
        assert_eq!(app.counts().await, before);

        // Unknown orders and lines; a viewer may not.
        let (status, _) = patch(&app, "01JXXXXXXXXXXXXXXXXXXXXXXX", json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app
            .post(&format!("/api/v1/orders/{id}/lines/7/hold"), json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Cancelled: a change is a conflict.
        app.post(&format!("/api/v1/orders/{id}/cancel"), json!({}))
            .await;
        let (status, body) = patch(&app, id, json!({"ship_method": "standard"})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }
}

#[tokio::test]
async fn a_released_order_cannot_be_changed_and_a_change_before_release_is_reserved_anew() {
    for app in apps_with_flows().await {
        // Released: refused with 409, nothing changed.
        app.put_seattle_node("SEA", "warehouse", None).await;
        app.stock_delta("SKU-1", "SEA", 20).await;
        let order = app.create_order("ED-R", &[2]).await;
        let id = order["id"].as_str().unwrap();
        let released = wait_order(&app, id, |o| o["status"] == "released").await;
        let (status, body) =
            patch(&app, id, json!({"lines": [{"line_no": 1, "quantity": 5}]})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("released"),
            "{body}"
        );
        let (_, now) = app.get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(now["version"], released["version"]);
        let (status, _) = app
            .post(&format!("/api/v1/orders/{id}/lines/1/hold"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(reserved(&app, "SKU-1").await, 2);

        // A line held stays allocated with its reservation; changing its quantity gives that
        // back and plans it again, so the reservation follows the new quantity exactly.
        let id = held_preorder(&app, "ED-H", 1, 3).await;
        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{id}/lines/2/hold"),
                json!({"reason": "gift wrap to confirm"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["lines"][1]["hold"]["reason"], "gift wrap to confirm");
        app.post(&format!("/api/v1/orders/{id}/release"), json!({}))
            .await;
        let order = wait_order(&app, &id, |o| {
            o["lines"][0]["status"] == "released" && o["lines"][1]["status"] == "allocated"
        })
        .await;
        assert_eq!(order["status"], "processing", "{order}");
        assert_eq!(reserved(&app, "SKU-2").await, 3);
        // Line 1 is released: the order can no longer change.
        let (status, _) = patch(
            &app,
            &id,
            json!({"lines": [{"line_no": 1, "quantity": 1}, {"line_no": 2, "quantity": 5}]}),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(reserved(&app, "SKU-2").await, 3);
    }
}

#[tokio::test]
async fn a_change_while_every_line_waits_on_its_hold_is_planned_again() {
    for app in apps_with_flows().await {
        let id = held_preorder(&app, "ED-A", 1, 3).await;
        for line in [1, 2] {
            let (status, body) = app
                .post(&format!("/api/v1/orders/{id}/lines/{line}/hold"), json!({}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        app.post(&format!("/api/v1/orders/{id}/release"), json!({}))
            .await;
        wait_order(&app, &id, |o| {
            o["lines"][0]["status"] == "allocated" && o["lines"][1]["status"] == "allocated"
        })
        .await;
        assert_eq!(reserved(&app, "SKU-2").await, 3);

        let (status, body) = patch(
            &app,
            &id,
            json!({"lines": [{"line_no": 1, "quantity": 1}, {"line_no": 2, "quantity": 5}]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Given back and planned again: 5 reserved, never 3 + 5.
        wait_order(&app, &id, |o| o["lines"][1]["status"] == "allocated").await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while reserved(&app, "SKU-2").await != 5 {
            assert!(Instant::now() < deadline, "{}: SKU-2 reserved", app.backend);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }

        // Both holds released: both lines go to the node and the order is released.
        for line in [1, 2] {
            let (status, body) = app
                .post(
                    &format!("/api/v1/orders/{id}/lines/{line}/release"),
                    json!({}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;
        assert_eq!(order["lines"][1]["quantity"], 5);
        assert_eq!(reserved(&app, "SKU-2").await, 5);
        let (status, _) = app
            .post(&format!("/api/v1/orders/{id}/lines/2/release"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "not on hold any more");
    }
}

#[tokio::test]
async fn a_held_line_waits_while_the_others_are_released_and_follows_when_released() {
    for app in apps_with_flows().await {
        let id = held_preorder(&app, "LH-1", 2, 1).await;
        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{id}/lines/1/hold"),
                json!({"reason": "engraving"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = app
            .post(&format!("/api/v1/orders/{id}/lines/1/hold"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "held already");
        app.post(&format!("/api/v1/orders/{id}/release"), json!({}))
            .await;

        let order = wait_order(&app, &id, |o| o["lines"][1]["status"] == "released").await;
        assert_eq!(order["lines"][0]["status"], "allocated", "{order}");
        assert_eq!(order["status"], "processing");
        let (_, requested) = app.get("/api/v1/events?type=fulfillment.requested").await;
        let requested = requested["items"].as_array().unwrap().clone();
        assert_eq!(requested.len(), 1);
        let lines: Vec<i64> = requested[0]["data"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["line_no"].as_i64().unwrap())
            .collect();
        assert_eq!(lines, vec![2], "only the line not held goes to the node");
        // Still waiting a moment later: nothing else releases it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(order["lines"][0]["status"], "allocated");

        // The whole order held meanwhile: the line's release waits for that hold too.
        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{id}/hold"),
                json!({"reason": "credit"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app
            .post(&format!("/api/v1/orders/{id}/lines/1/release"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(order["lines"][0]["status"], "allocated", "{order}");
        let (_, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
        assert_eq!(runs["items"][0]["status"], "waiting", "{runs}");
        app.post(&format!("/api/v1/orders/{id}/release"), json!({}))
            .await;
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;
        assert_eq!(order["lines"][0]["status"], "released");
        assert!(order["lines"][0].get("hold").is_none());
        let (_, requested) = app.get("/api/v1/events?type=fulfillment.requested").await;
        let requested = requested["items"].as_array().unwrap();
        assert_eq!(requested.len(), 2);
        assert_eq!(requested[1]["data"]["lines"][0]["line_no"], 1);
        assert_eq!(requested[1]["data"]["lines"][0]["quantity"], 2);
        let (_, events) = app.get("/api/v1/events?type=order.*&limit=1000").await;
        let kinds: Vec<&str> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .filter(|k| k.starts_with("order.line_h"))
            .collect();
        assert_eq!(kinds, vec!["order.line_held", "order.line_hold_released"]);
        let (_, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
        assert_eq!(runs["items"][0]["status"], "completed", "{runs}");
        // Released: a line can no longer be held.
        let (status, _) = app
            .post(&format!("/api/v1/orders/{id}/lines/2/hold"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
}
