//! Provider setup in the web UI without JavaScript: a form per type from its definition, errors
//! at their field with nothing saved, secrets write-only (never in a page; blank keeps the stored
//! one), mappings and settings, the connection test; a viewer gets no forms and is refused.

use reqwest::StatusCode;

use super::apps;
use super::fake_stripe::{self, FakeStripe};
use super::ui::UiClient;

#[tokio::test]
async fn a_payment_provider_is_set_up_edited_and_tested_through_forms() {
    for app in apps().await {
        let stripe = FakeStripe::start().await;
        let ui = UiClient::sign_in(&app, "admin").await;
        let list = ui.get("/ui/providers").await;
        assert!(list.body.contains("/ui/providers/new"), "{}", list.body);
        let types = ui.get("/ui/providers/new").await;
        assert_eq!(types.status, StatusCode::OK);
        for t in ["payment", "shopify", "x12", "csv", "webhook"] {
            assert!(
                types.body.contains(&format!("/ui/providers/new?type={t}")),
                "{t}"
            );
        }
        let form = ui.get("/ui/providers/new?type=payment").await;
        assert!(
            form.body
                .contains("type=\"password\" name=\"connection.secret_key\""),
            "{}",
            form.body
        );
        assert!(
            form.body.contains("The secret key (sk_…)"),
            "the field's description"
        );

        // The required secret left out: named at its field, nothing stored.
        let refused = ui
            .post(
                "/ui/providers/new",
                &[
                    ("csrf", &ui.csrf),
                    ("type", "payment"),
                    ("name", "stripe"),
                    ("connection.base_url", &stripe.url),
                    ("connection.secret_key", ""),
                    ("mappings", "{}"),
                    ("settings", "{}"),
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
                .contains("data-field=\"connection.secret_key\">is required"),
            "{}",
            refused.body
        );
        assert!(refused.body.contains(&stripe.url), "what was typed stays");
        let (status, _) = app.get("/api/v1/providers/stripe").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Mappings that are not JSON: at their field, nothing stored.
        let refused = ui
            .post(
                "/ui/providers/new",
                &[
                    ("csrf", &ui.csrf),
                    ("type", "payment"),
                    ("name", "stripe"),
                    ("connection.base_url", &stripe.url),
                    ("connection.secret_key", fake_stripe::SECRET_KEY),
                    ("mappings", "{\"sku\": "),
                    ("settings", "{}"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.body.contains("data-field=\"mappings\">is not JSON"),
            "{}",
            refused.body
        );
        assert!(
            !refused.body.contains(fake_stripe::SECRET_KEY),
            "a typed secret is not drawn back into the page"
        );
        let (status, _) = app.get("/api/v1/providers/stripe").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let page = ui
            .submit(
                "/ui/providers/new",
                &[
                    ("csrf", &ui.csrf),
                    ("type", "payment"),
                    ("name", "stripe"),
                    ("connection.base_url", &stripe.url),
                    ("connection.secret_key", fake_stripe::SECRET_KEY),
                    ("mappings", "{\"sku\": {\"EXT-1\": \"SKU-1\"}}"),
                    ("settings", "{\"channels\": [\"web\"]}"),
                ],
            )
            .await;
        assert!(
            page.body.contains("Provider stripe is saved."),
            "{}",
            page.body
        );
        assert!(!page.body.contains(fake_stripe::SECRET_KEY));
        let (_, view) = app.get("/api/v1/providers/stripe").await;
        assert_eq!(view["secrets_set"][0], "secret_key", "{view}");
        assert_eq!(view["mappings"]["sku"]["EXT-1"], "SKU-1", "{view}");
        assert_eq!(view["settings"]["channels"][0], "web", "{view}");

        // Edit: the secret is never shown; left blank it is kept.
        let edit = ui.get("/ui/providers/stripe/edit").await;
        assert_eq!(edit.status, StatusCode::OK);
        assert!(!edit.body.contains(fake_stripe::SECRET_KEY));
        assert!(
            edit.body.contains("stored: leave blank to keep"),
            "{}",
            edit.body
        );
        assert!(edit.body.contains("EXT-1"));
        let page = ui
            .submit(
                "/ui/providers/stripe/edit",
                &[
                    ("csrf", &ui.csrf),
                    ("type", "payment"),
                    ("connection.base_url", &stripe.url),
                    ("connection.secret_key", ""),
                    ("mappings", "{}"),
                    ("settings", "{}"),
                ],
            )
            .await;
        assert!(
            page.body.contains("Provider stripe is saved."),
            "{}",
            page.body
        );
        let (_, view) = app.get("/api/v1/providers/stripe").await;
        assert_eq!(view["secrets_set"][0], "secret_key", "kept: {view}");

        // Test connection: the stored key still works.
        assert!(
            page.body.contains("id=\"test-connection\""),
            "{}",
            page.body
        );
        let page = ui
            .submit("/ui/providers/stripe/test", &[("csrf", &ui.csrf)])
            .await;
        assert!(
            page.body
                .contains("Connection OK: Stripe accepted the secret key"),
            "{}",
            page.body
        );
        assert!(page.body.contains("flash ok"));
        assert_eq!(stripe.requests("/v1/balance").len(), 1);

        // A wrong key: the test says so, as an error.
        ui.submit(
            "/ui/providers/stripe/edit",
            &[
                ("csrf", &ui.csrf),
                ("type", "payment"),
                ("connection.base_url", &stripe.url),
                ("connection.secret_key", "sk_test_wrong"),
                ("mappings", "{}"),
                ("settings", "{}"),
            ],
        )
        .await;
        let page = ui
            .submit("/ui/providers/stripe/test", &[("csrf", &ui.csrf)])
            .await;
        assert!(
            page.body
                .contains("Connection failed: Stripe refused the credentials (401)"),
            "{}",
            page.body
        );
        assert!(page.body.contains("flash error"));

        // A type with nothing to call says so.
        ui.submit(
            "/ui/providers/new",
            &[
                ("csrf", &ui.csrf),
                ("type", "csv"),
                ("name", "sheets"),
                ("mappings", ""),
                ("settings", ""),
            ],
        )
        .await;
        let page = ui
            .submit("/ui/providers/sheets/test", &[("csrf", &ui.csrf)])
            .await;
        assert!(
            page.body
                .contains("Nothing to test: A csv instance only receives"),
            "{}",
            page.body
        );
    }
}

#[tokio::test]
async fn a_viewer_gets_no_provider_forms_and_is_refused_when_posting() {
    for app in apps().await {
        let stripe = FakeStripe::start().await;
        let (status, body) = app
            .call(
                reqwest::Method::PUT,
                "/api/v1/providers/stripe",
                Some(serde_json::json!({"type": "payment", "connection": {"base_url": stripe.url, "secret_key": fake_stripe::SECRET_KEY}})),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let ui = UiClient::sign_in(&app, "viewer").await;
        let page = ui.get("/ui/providers/stripe").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("test-connection"), "{}", page.body);
        assert!(!page.body.contains("/ui/providers/stripe/edit"));
        assert!(
            !ui.get("/ui/providers")
                .await
                .body
                .contains("/ui/providers/new")
        );
        assert_eq!(
            ui.get("/ui/providers/new?type=payment").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            ui.get("/ui/providers/stripe/edit").await.status,
            StatusCode::FORBIDDEN
        );
        let refused = ui
            .post(
                "/ui/providers/stripe/edit",
                &[
                    ("csrf", &ui.csrf),
                    ("type", "payment"),
                    ("connection.base_url", "http://127.0.0.1:9"),
                    ("mappings", "{}"),
                    ("settings", "{}"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let refused = ui
            .post("/ui/providers/stripe/test", &[("csrf", &ui.csrf)])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let (_, view) = app.get("/api/v1/providers/stripe").await;
        assert_eq!(view["connection"]["base_url"], stripe.url.as_str());
        assert!(stripe.requests("/v1/balance").is_empty());
    }
}
