//! Notification templates through the API: the defaults, a broken template refused at save time
//! with its field and line, who may save, a preview, and what the consumer records for each
//! event (opted out by the customer or by the channel) without an SMTP server.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{TestApp, apps, order_body};

async fn put(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, path, Some(body)).await
}

/// Waits until the order has `n` notifications recorded.
async fn notifications_of(app: &TestApp, order_id: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let (status, page) = app
            .get(&format!("/api/v1/notifications?order_id={order_id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap().clone();
        if items.len() >= n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{}: fewer than {n} notifications for {order_id}",
        app.backend
    );
}

#[tokio::test]
async fn defaults_exist_and_a_broken_template_is_refused_with_its_line() {
    for app in apps().await {
        let (status, list) = app.get("/api/v1/notification-templates").await;
        assert_eq!(status, StatusCode::OK);
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        for name in [
            "order-confirmation",
            "order-shipped",
            "order-delivered",
            "order-backordered",
            "return-authorised",
            "refund-issued",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        let (status, shipped) = app
            .get("/api/v1/notification-templates/order-shipped")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(shipped["to"], "{{ order.customer.email }}");
        assert_eq!(shipped["source"], "default");

        let (status, problem) = put(
            &app,
            "/api/v1/notification-templates/order-shipped",
            json!({"event": "order.shipped", "channel": "email", "subject": "Shipped",
                   "body": "Hello\n{% if order.external_id %}\n{{ order.external_id }\n{% endif %}"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("line 3:"), "{message}");
        // Nothing was saved: the default is still in effect.
        let (_, still) = app
            .get("/api/v1/notification-templates/order-shipped")
            .await;
        assert_eq!(still["source"], "default");

        let (status, problem) = put(
            &app,
            "/api/v1/notification-templates/bad name",
            json!({"event": "order.shipped", "subject": "s", "body": "b", "html": "{{ x | nope }}"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["name", "html"], "{problem}");

        let (status, saved) = put(
            &app,
            "/api/v1/notification-templates/order-shipped",
            json!({"event": "order.shipped", "subject": "Order {{ order.external_id }} shipped",
                   "body": "{{ order.lines | length }} lines"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{saved}");
        assert_eq!(saved["source"], "custom");
        assert_eq!(saved["to"], "{{ order.customer.email }}");
    }
}

#[tokio::test]
async fn only_an_admin_saves_templates_and_everyone_reads_them() {
    for app in apps().await {
        app.server
            .state
            .store
            .put_token("viewer".into(), "viewer".into(), "iom_viewer".into())
            .await
            .unwrap();
        let (status, _) = app
            .call_as(
                "iom_viewer",
                Method::PUT,
                "/api/v1/notification-templates/x",
                Some(json!({"event": "order.received", "subject": "s", "body": "b"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app
            .call_as(
                "iom_viewer",
                Method::GET,
                "/api/v1/notification-templates",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app
            .call_as("iom_viewer", Method::GET, "/api/v1/notifications", None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_preview_renders_for_an_order_and_sends_nothing() {
    for app in apps().await {
        let order = app.create_order("W-77", &[2, 1]).await;
        let id = order["id"].as_str().unwrap();
        let (status, preview) = app
            .post(
                "/api/v1/notification-templates/order-confirmation/preview",
                json!({"order_id": id}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{preview}");
        assert_eq!(preview["to"], json!(["ann@example.com"]));
        assert_eq!(preview["subject"], "We received your order W-77");
        let text = preview["body"].as_str().unwrap();
        assert!(
            text.contains("2 x SKU-1") && text.contains("1 x SKU-2"),
            "{text}"
        );
        assert!(text.contains("Total: 59.97 USD"), "{text}");
        assert!(preview["html"].as_str().unwrap().contains("<b>W-77</b>"));

        let (status, _) = app
            .post(
                "/api/v1/notification-templates/nope/preview",
                json!({"order_id": id}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, problem) = app
            .post(
                "/api/v1/notification-templates/order-confirmation/preview",
                json!({"order_id": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "order_id");
        // The confirmation of the order itself waits (no SMTP server); the preview added none.
        let recorded = notifications_of(&app, id, 1).await;
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0]["template"], "order-confirmation");
        assert_eq!(recorded[0]["status"], "pending");
        assert_eq!(recorded[0]["recipient"], "ann@example.com");
    }
}

#[tokio::test]
async fn a_customer_or_a_channel_opts_out_of_a_template() {
    for app in apps().await {
        let (status, body) = put(
            &app,
            "/api/v1/providers/quiet-shop",
            json!({"type": "rest",
                   "settings": {"notifications": {"opt_out": ["order-confirmation"]}}}),
        )
        .await;
        assert!(status.is_success(), "{body}");
        let mut quiet = order_body("Q-1", &[1]);
        quiet["channel"] = json!("quiet-shop");
        let (status, quiet) = app.post("/api/v1/orders", quiet).await;
        assert_eq!(status, StatusCode::CREATED, "{quiet}");
        let mut private = order_body("P-1", &[1]);
        private["attributes"] = json!({"notifications_opt_out": ["order-confirmation"]});
        let (_, private) = app.post("/api/v1/orders", private).await;
        let plain = app.create_order("N-1", &[1]).await;

        for (order, status, reason) in [
            (&quiet, "opted_out", Some("channel quiet-shop")),
            (&private, "opted_out", Some("the customer")),
            (&plain, "pending", None),
        ] {
            let n = notifications_of(&app, order["id"].as_str().unwrap(), 1).await;
            assert_eq!(n[0]["status"], status, "{}", n[0]);
            if let Some(reason) = reason {
                assert!(
                    n[0]["last_error"].as_str().unwrap().starts_with(reason),
                    "{}",
                    n[0]
                );
            }
        }
    }
}

#[tokio::test]
async fn an_alert_notifies_its_address_through_the_same_outbox() {
    for app in apps().await {
        let order = app.create_order("A-1", &[1]).await;
        let (status, body) = put(
            &app,
            "/api/v1/alerts/stuck",
            json!({"condition": {"type": "order_not_released", "hours": 0},
                   "notify": {"email": "ops@example.com"}}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = order["id"].as_str().unwrap();
        let n = notifications_of(&app, id, 2).await;
        let alert = n
            .iter()
            .find(|n| n["template"] == "alert-email")
            .unwrap_or_else(|| panic!("{n:?}"));
        assert_eq!(alert["recipient"], "ops@example.com");
        assert_eq!(alert["event_type"], "alert.fired");
        assert_eq!(alert["subject"], format!("Alert stuck: {id}"));
    }
}

#[tokio::test]
async fn templates_are_edited_and_previewed_in_the_ui() {
    use super::ui::UiClient;
    for app in apps().await {
        let order = app.create_order("UI-9", &[1]).await;
        let id = order["id"].as_str().unwrap();
        let ui = UiClient::sign_in(&app, "admin").await;
        let list = ui.get("/ui/notification-templates").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("order-confirmation"), "{}", list.body);

        // A broken template: the page says which field and line.
        let page = ui
            .submit(
                "/ui/notification-templates/order-delivered",
                &[
                    ("csrf", &ui.csrf),
                    ("event", "order.delivered"),
                    ("channel", "email"),
                    ("subject", "Delivered"),
                    ("body", "one\r\n{{ order.external_id "),
                    ("enabled", "true"),
                ],
            )
            .await;
        assert!(page.body.contains("body: line 2"), "{}", page.body);

        let page = ui
            .submit(
                "/ui/notification-templates/order-delivered",
                &[
                    ("csrf", &ui.csrf),
                    ("event", "order.delivered"),
                    ("channel", "email"),
                    ("subject", "Order {{ order.external_id }} arrived"),
                    ("body", "Enjoy {{ order.external_id }}"),
                    ("enabled", "true"),
                ],
            )
            .await;
        assert!(
            page.body.contains("The template is saved."),
            "{}",
            page.body
        );
        let preview = ui
            .get(&format!(
                "/ui/notification-templates/order-delivered?order_id={id}"
            ))
            .await;
        assert_eq!(preview.status, StatusCode::OK);
        assert!(
            preview.body.contains("Order UI-9 arrived"),
            "{}",
            preview.body
        );
        assert!(preview.body.contains("Enjoy UI-9"));
        // The confirmation is recorded by a worker from the order's event: wait for it.
        notifications_of(&app, id, 1).await;
        let listed = ui.get(&format!("/ui/notifications?order_id={id}")).await;
        assert_eq!(listed.status, StatusCode::OK);
        assert!(
            listed.body.contains("order-confirmation"),
            "{}",
            listed.body
        );
    }
}

/// A webhook refused for good is `dead`; an operator sends it again (`resend`), which only an
/// `unknown` or `dead` notification may be.
#[tokio::test]
async fn a_dead_notification_is_sent_again_on_request() {
    use axum::http::StatusCode as Code;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    let refuse = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Code::BAD_REQUEST }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, refuse).await.unwrap() });
    for app in apps().await {
        let (status, body) = put(
            &app,
            "/api/v1/notification-templates/order-hook",
            json!({"event": "order.received", "channel": "webhook",
                   "to": format!("http://127.0.0.1:{port}/hook"),
                   "subject": "order", "body": "{\"order\": \"{{ order.external_id }}\"}"}),
        )
        .await;
        assert!(status.is_success(), "{body}");
        let order = app.create_order("HOOK-1", &[1]).await;
        let id = order["id"].as_str().unwrap();
        let hook = |items: Vec<Value>| {
            items
                .into_iter()
                .find(|n| n["template"] == "order-hook")
                .unwrap_or(Value::Null)
        };
        let wait_status = |want: &'static str, attempts: i64| {
            let app = &app;
            async move {
                for _ in 0..200 {
                    let n = hook(notifications_of(app, id, 1).await);
                    if n["status"] == want && n["attempts"] == attempts {
                        return n;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                panic!("{}: no {want} after {attempts} attempts", app.backend);
            }
        };
        let dead = wait_status("dead", 1).await;
        let nid = dead["id"].as_str().unwrap();
        let path = format!("/api/v1/notifications/{nid}/resend");
        let (status, resent) = app.call(Method::POST, &path, None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{resent}");
        assert_eq!(resent["status"], "pending");
        let (status, problem) = app.call(Method::POST, &path, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        let again = wait_status("dead", 2).await;
        assert_eq!(again["message_id"], dead["message_id"]);
        let (status, _) = app
            .call(Method::POST, "/api/v1/notifications/nope/resend", None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 2);
}
