//! `POST /api/v1/providers/{name}/test`: one harmless authenticated call of each type's API
//! against the local fakes (Stripe, AvaTax, EasyPost), what a wrong key or an unreachable
//! service reads as, types with nothing to call, and who may ask.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::fake_avatax::{self, FakeAvaTax};
use super::fake_easypost::{self, FakeEasyPost};
use super::fake_shopify::{self, FakeShopify};
use super::fake_stripe::{self, FakeStripe};
use super::{TestApp, apps};

async fn put(app: &TestApp, name: &str, body: Value) {
    let (status, view) = app
        .call(
            Method::PUT,
            &format!("/api/v1/providers/{name}"),
            Some(body),
        )
        .await;
    assert!(status.is_success(), "{view}");
}

async fn test(app: &TestApp, name: &str) -> Value {
    let (status, answer) = app
        .post(&format!("/api/v1/providers/{name}/test"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// A port nothing listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn each_type_makes_one_authenticated_call_and_says_what_happened() {
    for app in apps().await {
        let stripe = FakeStripe::start().await;
        put(&app, "pay", json!({"type": "payment", "connection": {"base_url": stripe.url, "secret_key": fake_stripe::SECRET_KEY}})).await;
        let answer = test(&app, "pay").await;
        assert_eq!(answer["outcome"], "ok", "{answer}");
        assert_eq!(answer["status"], 200);
        assert_eq!(answer["call"], format!("GET {}/v1/balance", stripe.url));
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("Stripe accepted the secret key")
        );
        assert_eq!(stripe.requests("/v1/balance").len(), 1);
        // Nothing was moved or created.
        assert!(stripe.intents().is_empty());

        put(&app, "pay", json!({"type": "payment", "connection": {"base_url": stripe.url, "secret_key": "sk_test_wrong"}})).await;
        let answer = test(&app, "pay").await;
        assert_eq!(answer["outcome"], "failed", "{answer}");
        assert_eq!(answer["status"], 401);
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains("Stripe refused the credentials (401)"),
            "{message}"
        );
        assert!(!answer.to_string().contains("sk_test_wrong"), "{answer}");

        let avatax = FakeAvaTax::start().await;
        let tax = json!({"type": "tax", "connection": {"base_url": avatax.url,
            "account_id": fake_avatax::ACCOUNT, "license_key": fake_avatax::LICENSE,
            "company_code": fake_avatax::COMPANY}});
        put(&app, "tax", tax.clone()).await;
        let answer = test(&app, "tax").await;
        assert_eq!(answer["outcome"], "ok", "{answer}");
        assert_eq!(avatax.requests("/api/v2/utilities/ping").len(), 1);
        let mut wrong = tax.clone();
        wrong["connection"]["license_key"] = json!("NOTTHEKEY");
        put(&app, "tax", wrong).await;
        let answer = test(&app, "tax").await;
        // AvaTax's ping answers 200 either way; the body says the key did not authenticate.
        assert_eq!(answer["outcome"], "failed", "{answer}");
        assert_eq!(answer["status"], 200);
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("authenticated: false")
        );

        let easypost = FakeEasyPost::start().await;
        put(
            &app,
            "ship",
            json!({"type": "carrier", "connection": {"base_url": easypost.url,
            "api_key": fake_easypost::API_KEY, "webhook_secret": "whsec"}}),
        )
        .await;
        let answer = test(&app, "ship").await;
        assert_eq!(answer["outcome"], "ok", "{answer}");
        assert_eq!(easypost.requests("GET /v2/addresses").len(), 1);
        assert_eq!(easypost.buys(), 0);

        // Down: the status and the service named.
        easypost.set(|f| f.down = true);
        let answer = test(&app, "ship").await;
        assert_eq!(answer["outcome"], "failed", "{answer}");
        assert_eq!(answer["status"], 503);

        // Unreachable: said in words, no status.
        put(&app, "hook", json!({"type": "webhook", "connection": {"url": format!("{}/release", closed_port_url()), "secret": "s3cret"}})).await;
        let answer = test(&app, "hook").await;
        assert_eq!(answer["outcome"], "failed", "{answer}");
        assert!(answer["status"].is_null());
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("could not be reached")
        );
        // Reachable: any answer counts (a receiver may refuse HEAD).
        put(&app, "hook", json!({"type": "webhook", "connection": {"url": format!("{}/release", stripe.url), "secret": "s3cret"}})).await;
        let answer = test(&app, "hook").await;
        assert_eq!(answer["outcome"], "ok", "{answer}");

        // Shopify: the shop's own API with the Admin access token; without a token the instance
        // only receives webhooks and there is nothing to call.
        let shopify = FakeShopify::start().await;
        put(
            &app,
            "shop",
            json!({"type": "shopify", "connection": {"shop": shopify.url,
            "access_token": fake_shopify::ACCESS_TOKEN, "webhook_secret": "whsec-shop"}}),
        )
        .await;
        let answer = test(&app, "shop").await;
        assert_eq!(answer["outcome"], "ok", "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains(fake_shopify::SHOP_NAME),
            "{answer}"
        );
        put(
            &app,
            "shop",
            json!({"type": "shopify", "connection": {"shop": shopify.url,
            "access_token": "shpat_wrong", "webhook_secret": "whsec-shop"}}),
        )
        .await;
        let answer = test(&app, "shop").await;
        assert_eq!(answer["outcome"], "failed", "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("Invalid API key or access token"),
            "{answer}"
        );
        assert_eq!(shopify.requests().len(), 2);
        put(&app, "hooks-only", json!({"type": "shopify", "connection": {"shop": "example.myshopify.com", "webhook_secret": "whsec-shop"}})).await;
        let answer = test(&app, "hooks-only").await;
        assert_eq!(answer["outcome"], "nothing_to_call", "{answer}");

        put(&app, "sheet", json!({"type": "csv"})).await;
        let answer = test(&app, "sheet").await;
        assert_eq!(answer["outcome"], "nothing_to_call", "{answer}");
        assert!(answer["call"].is_null());

        let (status, _) = app.post("/api/v1/providers/nope/test", json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        app.server
            .state
            .store
            .put_token("viewer".into(), "viewer".into(), "iom_viewer".into())
            .await
            .unwrap();
        let (status, _) = app
            .call_as(
                "iom_viewer",
                Method::POST,
                "/api/v1/providers/pay/test",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(stripe.requests("/v1/balance").len(), 2);
    }
}
