//! Alert and subscription forms without JavaScript: created and edited, errors at their field
//! with nothing saved, a subscription's secret write-only (blank keeps it); a viewer is refused.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::apps;
use super::ui::UiClient;

#[tokio::test]
async fn alerts_are_created_and_edited_through_their_form() {
    for app in apps().await {
        let ui = UiClient::sign_in(&app, "admin").await;
        assert!(
            ui.get("/ui/subscriptions")
                .await
                .body
                .contains("href=\"/ui/alerts/new\"")
        );
        let form = ui.get("/ui/alerts/new").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert!(form.body.contains("value=\"inventory_below\""));

        let refused = ui
            .post(
                "/ui/alerts/new",
                &[
                    ("csrf", &ui.csrf),
                    ("name", "late"),
                    ("type", "order_not_released"),
                    ("hours", "-3"),
                    ("email", "ops@example.com"),
                    ("enabled", "true"),
                ],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains("data-field=\"condition.hours\">must be between 0"),
            "{}",
            refused.body
        );
        let (status, _) = app.get("/api/v1/alerts/late").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let page = ui
            .submit(
                "/ui/alerts/new",
                &[
                    ("csrf", &ui.csrf),
                    ("name", "late"),
                    ("type", "order_not_released"),
                    ("hours", "4"),
                    ("email", "ops@example.com"),
                    ("enabled", "true"),
                ],
            )
            .await;
        assert!(page.body.contains("Alert late is saved."), "{}", page.body);
        let (_, alert) = app.get("/api/v1/alerts/late").await;
        assert_eq!(
            alert["condition"],
            json!({"type": "order_not_released", "hours": 4}),
            "{alert}"
        );
        assert_eq!(alert["notify"]["email"], "ops@example.com");
        assert_eq!(alert["enabled"], true);

        let edit = ui.get("/ui/alerts/late/edit").await;
        assert!(
            edit.body.contains("value=\"ops@example.com\""),
            "{}",
            edit.body
        );
        let page = ui
            .submit(
                "/ui/alerts/late/edit",
                &[
                    ("csrf", &ui.csrf),
                    ("type", "inventory_below"),
                    ("threshold", "5"),
                    ("sku", "SKU-1"),
                    ("node", ""),
                    ("email", ""),
                ],
            )
            .await;
        assert!(page.body.contains("Alert late is saved."), "{}", page.body);
        let (_, alert) = app.get("/api/v1/alerts/late").await;
        assert_eq!(
            alert["condition"],
            json!({"type": "inventory_below", "threshold": 5, "sku": "SKU-1"}),
            "{alert}"
        );
        assert_eq!(alert["enabled"], false);
        assert!(alert["notify"].get("email").is_none());
    }
}

#[tokio::test]
async fn subscriptions_are_created_and_edited_with_a_write_only_secret() {
    for app in apps().await {
        let ui = UiClient::sign_in(&app, "admin").await;
        let list = ui.get("/ui/subscriptions").await;
        assert!(list.body.contains("/ui/subscriptions/new"), "{}", list.body);
        let secret = "a-long-shared-secret-123";
        let refused = ui
            .post(
                "/ui/subscriptions/new",
                &[
                    ("csrf", &ui.csrf),
                    ("name", "erp"),
                    ("url", "ftp://example.com/"),
                    ("types", "order.*"),
                    ("secret", "short"),
                ],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains("data-field=\"url\""),
            "{}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains("data-field=\"secret\">must be at least 16 characters")
        );
        assert!(
            !refused.body.contains("value=\"short\""),
            "a typed secret is not drawn back"
        );
        let (status, _) = app.get("/api/v1/subscriptions/erp").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let page = ui
            .submit(
                "/ui/subscriptions/new",
                &[
                    ("csrf", &ui.csrf),
                    ("name", "erp"),
                    ("url", "http://127.0.0.1:9/hook"),
                    ("types", "order.*, inventory.changed"),
                    ("secret", secret),
                ],
            )
            .await;
        assert!(
            page.body.contains("Subscription erp is saved."),
            "{}",
            page.body
        );
        let (_, sub) = app.get("/api/v1/subscriptions/erp").await;
        assert_eq!(
            sub["types"],
            json!(["order.*", "inventory.changed"]),
            "{sub}"
        );

        let edit = ui.get("/ui/subscriptions/erp/edit").await;
        assert!(!edit.body.contains(secret));
        assert!(edit.body.contains("stored: leave blank to keep"));
        let page = ui
            .submit(
                "/ui/subscriptions/erp/edit",
                &[
                    ("csrf", &ui.csrf),
                    ("url", "http://127.0.0.1:9/other"),
                    ("types", "return.*"),
                    ("secret", ""),
                ],
            )
            .await;
        assert!(
            page.body.contains("Subscription erp is saved."),
            "{}",
            page.body
        );
        let (_, sub) = app.get("/api/v1/subscriptions/erp").await;
        assert_eq!(sub["url"], "http://127.0.0.1:9/other");
        // The secret was kept: the stored one is what signs deliveries (as the API keeps it).
        let stored = app
            .server
            .state
            .store
            .get_subscription("erp".into())
            .await
            .unwrap()
            .unwrap();
        let key = app.server.state.pipeline.key.as_ref().unwrap();
        let opened = key
            .open(
                &stored.secret,
                &iom_store::providers::subscription_consumer("erp"),
            )
            .unwrap();
        assert_eq!(opened, secret.as_bytes());

        // Through the API too: a new subscription needs a secret, a replaced one keeps it.
        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/subscriptions/new-one",
                Some(json!({"url": "http://127.0.0.1:9/x", "types": ["order.*"]})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["errors"][0]["field"], "secret", "{body}");
    }
}

#[tokio::test]
async fn a_viewer_gets_no_alert_or_subscription_forms() {
    for app in apps().await {
        let ui = UiClient::sign_in(&app, "viewer").await;
        assert_eq!(ui.get("/ui/alerts/new").await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            ui.get("/ui/subscriptions/new").await.status,
            StatusCode::FORBIDDEN
        );
        assert!(
            !ui.get("/ui/subscriptions")
                .await
                .body
                .contains("/ui/subscriptions/new")
        );
        let refused = ui
            .post(
                "/ui/alerts/new",
                &[
                    ("csrf", &ui.csrf),
                    ("name", "x"),
                    ("type", "shipment_exception"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let refused = ui
            .post(
                "/ui/subscriptions/new",
                &[
                    ("csrf", &ui.csrf),
                    ("name", "x"),
                    ("url", "http://127.0.0.1:9/"),
                    ("secret", "0123456789abcdef"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let (_, alerts) = app.get("/api/v1/alerts").await;
        assert!(alerts["items"].as_array().unwrap().is_empty());
        let (_, subs) = app.get("/api/v1/subscriptions").await;
        assert!(subs["items"].as_array().unwrap().is_empty());
    }
}
