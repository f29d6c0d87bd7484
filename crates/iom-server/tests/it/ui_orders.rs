//! Orders in the web UI without JavaScript: entering one by hand, copying, changing it before
//! release, holding a line, the actions each state offers, confirmations, and why an order is
//! backordered. Real server, both backends.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::order_edits::{held_preorder, wait_order};
use super::ui::{UiClient, seed};
use super::{TestApp, apps, apps_with_flows};

/// The form of a new order, filled: `lines` are (SKU, quantity, unit price).
fn new_order_form<'a>(
    csrf: &'a str,
    external_id: &'a str,
    email: &'a str,
    lines: &'a [(&'a str, &'a str, &'a str)],
) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = [
        ("csrf", csrf),
        ("channel", "phone"),
        ("external_id", external_id),
        ("currency", "USD"),
        ("ship_method", "standard"),
        ("customer.name", "Ann Lee"),
        ("customer.email", email),
        ("ship_to.name", "Ann Lee"),
        ("ship_to.line1", "1 Main St"),
        ("ship_to.city", "Seattle"),
        ("ship_to.region", "WA"),
        ("ship_to.postal_code", "98101"),
        ("ship_to.country", "US"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (row, (sku, quantity, price)) in lines.iter().enumerate() {
        form.push((format!("lines[{row}].sku"), sku.to_string()));
        form.push((format!("lines[{row}].quantity"), quantity.to_string()));
        form.push((format!("lines[{row}].unit_price"), price.to_string()));
    }
    form
}

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

async fn order_by_external_id(app: &TestApp, external_id: &str) -> Option<Value> {
    let (_, page) = app
        .get(&format!("/api/v1/orders?q={external_id}&limit=10"))
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["external_id"] == external_id)
        .cloned()
}

#[tokio::test]
async fn an_order_is_entered_by_hand_with_lines_added_and_errors_beside_their_fields() {
    for app in apps().await {
        seed(&app).await;
        let ui = UiClient::sign_in(&app, "operator").await;
        let page = ui.get("/ui/orders/new").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("name=\"lines[0].sku\""));
        assert!(!page.body.contains("name=\"lines[1].sku\""));
        // Known SKUs and customers (from earlier orders) are offered.
        assert!(
            page.body.contains("<option value=\"SKU-2\">"),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains("<option value=\"ann@example.com\">Ann Lee</option>")
        );

        // "Add line" without scripts: the same form back, its values kept, one row more.
        let mut form = new_order_form(
            &ui.csrf,
            "PH-1",
            "ann@example.com",
            &[("SKU-1", "2", "19.99")],
        );
        form.push(("add_line".into(), "1".into()));
        let page = ui.post("/ui/orders/new", &pairs(&form)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("name=\"lines[1].sku\""), "{}", page.body);
        assert!(page.body.contains("value=\"PH-1\""));
        assert!(page.body.contains("value=\"SKU-1\""));

        // Errors beside their fields (the capture use case's own), nothing created.
        let before = app.counts().await;
        let form = new_order_form(
            &ui.csrf,
            "PH-1",
            "not-an-email",
            &[("SKU-1", "x", "19.99"), ("", "", ""), ("", "1", "5.00")],
        );
        let page = ui.post("/ui/orders/new", &pairs(&form)).await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            page.body
        );
        assert!(
            page.body.contains("is not an e-mail address"),
            "{}",
            page.body
        );
        assert!(page.body.contains("must be a whole number"));
        // The third row's SKU is named at the third row, though the empty second row is skipped.
        assert!(
            page.body.contains("<code>lines[2].sku</code> is required"),
            "{}",
            page.body
        );
        assert!(page.body.contains("name=\"lines[2].sku\""));
        assert_eq!(app.counts().await, before, "{}", app.backend);

        // Entered: through the capture use case, as any channel's order.
        let form = new_order_form(
            &ui.csrf,
            "PH-1",
            "ann@example.com",
            &[
                ("SKU-1", "2", "19.99"),
                ("", "", ""),
                ("SKU-2", "1", "5.00"),
            ],
        );
        let page = ui.submit("/ui/orders/new", &pairs(&form)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Order PH-1 entered."), "{}", page.body);
        let order = order_by_external_id(&app, "PH-1").await.expect("created");
        assert_eq!(order["channel"], "phone");
        assert_eq!(order["lines"].as_array().unwrap().len(), 2);
        assert_eq!(order["lines"][1]["sku"], "SKU-2");
        assert_eq!(order["totals"]["total"], "44.98");
        assert_ne!(order["ship_to"]["located_by"], "none", "{order}");
        let (_, events) = app
            .get("/api/v1/events?type=order.received&limit=100")
            .await;
        assert!(
            events["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["subject"] == order["id"]),
            "order.received announces it"
        );

        // The same channel and external id again: a conflict beside the external id.
        let before = app.counts().await;
        let page = ui.post("/ui/orders/new", &pairs(&form)).await;
        assert_eq!(page.status, StatusCode::CONFLICT);
        assert!(page.body.contains("exists already"), "{}", page.body);
        assert!(page.body.contains(order["id"].as_str().unwrap()));
        assert_eq!(app.counts().await, before);

        // A copy: the form filled from the order, under a new external id.
        let page = ui
            .get(&format!(
                "/ui/orders/{}/clone",
                order["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("value=\"PH-1-copy-"), "{}", page.body);
        assert!(page.body.contains("value=\"SKU-2\""));
        assert!(page.body.contains("value=\"98101\""));

        // A viewer cannot enter orders.
        let viewer = UiClient::sign_in(&app, "viewer").await;
        assert_eq!(
            viewer.get("/ui/orders/new").await.status,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn an_order_is_changed_through_its_edit_page_until_it_is_released() {
    for app in apps().await {
        let seeded = seed(&app).await;
        let ui = UiClient::sign_in(&app, "operator").await;
        let base = format!("/ui/orders/{}", seeded.order_id);
        let page = ui.get(&base).await;
        assert!(page.body.contains("Change the order"), "{}", page.body);
        let page = ui.get(&format!("{base}/edit")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("name=\"lines[1].remove\""));

        // A bad quantity: named beside its field, nothing changed.
        let (_, before) = app
            .get(&format!("/api/v1/orders/{}", seeded.order_id))
            .await;
        let csrf = ui.csrf.clone();
        let form = [
            ("csrf", csrf.as_str()),
            ("ship_method", "standard"),
            ("lines[0].line_no", "1"),
            ("lines[0].sku", "SKU-1"),
            ("lines[0].quantity", "0"),
            ("lines[0].unit_price", "19.99"),
        ];
        let page = ui.post(&format!("{base}/edit"), &form).await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            page.body
        );
        assert!(page.body.contains("must be at least 1"), "{}", page.body);
        let (_, after) = app
            .get(&format!("/api/v1/orders/{}", seeded.order_id))
            .await;
        assert_eq!(before["version"], after["version"]);

        // Line 1 to 5 units, line 2 removed, a line added, the method changed.
        let form = [
            ("csrf", csrf.as_str()),
            ("ship_method", "express"),
            ("lines[0].line_no", "1"),
            ("lines[0].sku", "SKU-1"),
            ("lines[0].quantity", "5"),
            ("lines[0].unit_price", "19.99"),
            ("lines[1].line_no", "2"),
            ("lines[1].sku", "SKU-2"),
            ("lines[1].quantity", "1"),
            ("lines[1].unit_price", "19.99"),
            ("lines[1].remove", "on"),
            ("lines[2].sku", "SKU-2"),
            ("lines[2].quantity", "2"),
            ("lines[2].unit_price", "7.00"),
        ];
        let page = ui.submit(&format!("{base}/edit"), &form).await;
        assert!(page.body.contains("The order is changed."), "{}", page.body);
        let (_, order) = app
            .get(&format!("/api/v1/orders/{}", seeded.order_id))
            .await;
        assert_eq!(order["ship_method"], "express");
        assert_eq!(order["lines"][0]["quantity"], 5);
        assert_eq!(order["lines"][1]["status"], "cancelled");
        assert_eq!(order["lines"][2]["quantity"], 2);
        assert_eq!(order["ship_to"], before["ship_to"], "the address as it was");
        let (_, events) = app.get("/api/v1/events?type=order.amended").await;
        assert_eq!(events["items"].as_array().unwrap().len(), 1);

        // Shipped in part: no edit offered, and the edit page says why.
        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{}/shipments", seeded.order_id),
                json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 1}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page = ui.get(&base).await;
        assert!(!page.body.contains("Change the order"));
        assert!(
            !page.body.contains(">Cancel order<"),
            "a shipped quantity cannot be cancelled"
        );
        let page = ui.get(&format!("{base}/edit")).await;
        assert!(
            page.body
                .contains("can be changed only before it is released"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("Save changes"));
    }
}

#[tokio::test]
async fn destructive_actions_ask_first_and_actions_follow_the_state() {
    for app in apps().await {
        let seeded = seed(&app).await;
        let ui = UiClient::sign_in(&app, "admin").await;
        let base = format!("/ui/orders/{}", seeded.order_id);
        let api = format!("/api/v1/orders/{}", seeded.order_id);

        // Without confirming: a page that asks, and nothing changed.
        let page = ui
            .post(
                &format!("{base}/cancel"),
                &[("csrf", &ui.csrf), ("reason", "fraud")],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("Cancel the whole order?"),
            "{}",
            page.body
        );
        assert!(page.body.contains("name=\"confirmed\" value=\"yes\""));
        assert!(page.body.contains("value=\"fraud\""));
        let (_, order) = app.get(&api).await;
        assert_ne!(order["status"], "cancelled");
        let page = ui
            .post(
                &format!("{base}/lines/2/cancel"),
                &[("csrf", &ui.csrf), ("quantity", "1")],
            )
            .await;
        assert!(page.body.contains("Cancel line 2?"), "{}", page.body);
        let (_, order) = app.get(&api).await;
        assert_eq!(order["lines"][1]["cancelled_quantity"], 0);

        // A line on hold, and its release, through the line's buttons.
        let page = ui.get(&base).await;
        assert!(page.body.contains("Hold line"), "{}", page.body);
        let page = ui
            .submit(
                &format!("{base}/lines/1/hold"),
                &[("csrf", &ui.csrf), ("reason", "engraving")],
            )
            .await;
        assert!(page.body.contains("Line 1 is on hold"), "{}", page.body);
        assert!(page.body.contains("Release line"));
        let (_, order) = app.get(&api).await;
        assert_eq!(order["lines"][0]["hold"]["reason"], "engraving");
        let page = ui
            .submit(&format!("{base}/lines/1/release"), &[("csrf", &ui.csrf)])
            .await;
        assert!(
            page.body.contains("Line 1 is released from its hold."),
            "{}",
            page.body
        );
        let (_, order) = app.get(&api).await;
        assert!(order["lines"][0].get("hold").is_none());
        // Refused (not on hold): an error banner, never a green one.
        let page = ui
            .submit(&format!("{base}/lines/1/release"), &[("csrf", &ui.csrf)])
            .await;
        assert!(page.body.contains("class=\"flash error\""), "{}", page.body);
        assert!(!page.body.contains("class=\"flash ok\""));

        // Confirmed: cancelled.
        let page = ui
            .submit(
                &format!("{base}/cancel"),
                &[
                    ("csrf", &ui.csrf),
                    ("reason", "fraud"),
                    ("confirmed", "yes"),
                ],
            )
            .await;
        assert!(
            page.body.contains("The order is cancelled."),
            "{}",
            page.body
        );
        // A cancelled order offers no hold, release, cancel or edit; a copy still.
        for absent in [
            "Put on hold",
            "Hold line",
            ">Cancel order<",
            "Change the order",
            "data-confirm",
        ] {
            assert!(!page.body.contains(absent), "{absent}: {}", page.body);
        }
        assert!(page.body.contains("Copy into a new order"));

        // A viewer sees no action buttons.
        let other = app.create_order("UI-V", &[1]).await;
        let viewer = UiClient::sign_in(&app, "viewer").await;
        let page = viewer
            .get(&format!("/ui/orders/{}", other["id"].as_str().unwrap()))
            .await;
        for absent in [
            "Put on hold",
            "Hold line",
            "Cancel order",
            "Change the order",
            "Copy into",
        ] {
            assert!(!page.body.contains(absent), "{absent}");
        }
    }
}

#[tokio::test]
async fn a_held_line_is_held_and_released_from_the_order_page_while_the_flow_runs() {
    for app in apps_with_flows().await {
        let id = held_preorder(&app, "UI-LH", 1, 2).await;
        let ui = UiClient::sign_in(&app, "operator").await;
        let base = format!("/ui/orders/{id}");
        let page = ui
            .submit(&format!("{base}/lines/2/hold"), &[("csrf", &ui.csrf)])
            .await;
        assert!(page.body.contains("Line 2 is on hold"), "{}", page.body);
        ui.submit(&format!("{base}/release"), &[("csrf", &ui.csrf)])
            .await;
        wait_order(&app, &id, |o| {
            o["lines"][0]["status"] == "released" && o["lines"][1]["status"] == "allocated"
        })
        .await;
        let page = ui.get(&base).await;
        assert!(page.body.contains("Release line"), "{}", page.body);
        let page = ui
            .submit(&format!("{base}/lines/2/release"), &[("csrf", &ui.csrf)])
            .await;
        assert!(page.body.contains("Line 2 is released from its hold."));
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;
        assert_eq!(order["lines"][1]["status"], "released");
    }
}

#[tokio::test]
async fn a_backordered_order_says_why_in_words_once() {
    for app in apps_with_flows().await {
        app.put_seattle_node("SEA", "warehouse", None).await;
        let order = app.create_order("UI-BO", &[3]).await;
        let id = order["id"].as_str().unwrap();
        wait_order(&app, id, |o| o["status"] == "backordered").await;
        let ui = UiClient::sign_in(&app, "operator").await;
        let page = ui.get(&format!("/ui/orders/{id}")).await;
        let start = page.body.find("<span id=\"why\">").expect("a reason") + 15;
        let why = &page.body[start..start + page.body[start..].find("</span>").unwrap()];
        assert!(why.starts_with("no node") || why.contains("stock"), "{why}");
        assert!(!why.contains('_'), "words, not a code: {why}");
        assert!(
            page.body.contains(&format!("Why backordered: {why}")),
            "{}",
            page.body
        );
        // No codes or raw documents where words belong.
        for raw in ["(no_inventory)", ": no_stock", "[{\"line_no\""] {
            assert!(!page.body.contains(raw), "{raw}: {}", page.body);
        }
    }
}

#[tokio::test]
async fn a_run_retried_into_the_same_failure_shows_an_error() {
    for app in apps_with_flows().await {
        // No ship-to: validation fails and the run holds the order (`validation_failed`).
        let mut body = super::order_body("UI-RF", &[1]);
        body.as_object_mut().unwrap().remove("ship_to");
        let (status, order) = app.post("/api/v1/orders", body).await;
        assert_eq!(status, StatusCode::CREATED, "{order}");
        let id = order["id"].as_str().unwrap().to_owned();
        wait_order(&app, &id, |o| o["status_reason"] == "validation_failed").await;
        let (_, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
        let run_id = runs["items"][0]["id"].as_str().unwrap().to_owned();
        let ui = UiClient::sign_in(&app, "operator").await;
        let back = format!("/ui/orders/{id}");
        let page = ui
            .submit(
                &format!("/ui/runs/{run_id}/retry"),
                &[("csrf", &ui.csrf), ("back", &back)],
            )
            .await;
        assert!(page.body.contains("class=\"flash error\""), "{}", page.body);
        assert!(!page.body.contains("class=\"flash ok\""));
        assert!(page.body.contains("no ship-to address"), "{}", page.body);
    }
}
