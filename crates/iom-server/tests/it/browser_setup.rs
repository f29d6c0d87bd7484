//! Returns and provider setup in headless Chromium, scripts on: a return started from its order,
//! authorised and received (restocked at the node); a payment provider set up from its type's
//! form and its connection tested against a local Stripe.

use fantoccini::{Client, Locator};

use super::apps;
use super::browser::{browser, click, sign_in, text};
use super::fake_stripe::{self, FakeStripe};
use super::ui::seed;
use super::ui_returns::{on_hand, ship_seeded};

async fn fill(browser: &Client, css: &str, value: &str) {
    let field = browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

async fn choose(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_return_is_started_from_its_order_and_received() {
    for app in apps().await {
        let Some((_driver, browser)) = browser(true).await else {
            return;
        };
        let seeded = seed(&app).await;
        ship_seeded(&app, &seeded.order_id).await;
        let before = on_hand(&app, "SKU-1", "SEA").await;
        let order = format!("/ui/orders/{}", seeded.order_id);
        sign_in(&browser, &app, &order).await;

        click(&browser, "#start-return").await;
        fill(&browser, "input[name=quantity_1]", "2").await;
        choose(&browser, "select[name=reason_1] option[value=defective]").await;
        choose(&browser, "select[name=origin] option[value=store]").await;
        choose(&browser, "#return-form select[name=node] option[value=SEA]").await;
        click(&browser, "#return-form button[type=submit]").await;
        assert!(text(&browser, "p.flash").await.contains("is authorised"));
        let path = browser.current_url().await.unwrap().path().to_owned();
        let id = path.trim_start_matches("/ui/returns/").to_owned();
        let (_, ret) = app.get(&format!("/api/v1/returns/{id}")).await;
        assert_eq!(ret["status"], "authorized", "{ret}");
        assert_eq!(ret["lines"][0]["reason"], "defective");

        // Received as proposed: everything authorised, restocked, at the node it was sent to.
        choose(
            &browser,
            "#receive-form select[name=node] option[value=SEA]",
        )
        .await;
        click(&browser, "#receive-form button[type=submit]").await;
        assert!(
            text(&browser, "p.flash")
                .await
                .contains("Received 2 unit(s) at SEA."),
            "{}",
            browser.source().await.unwrap()
        );
        assert!(text(&browser, "#return-receipts").await.contains("restock"));
        let (_, ret) = app.get(&format!("/api/v1/returns/{id}")).await;
        assert_eq!(ret["status"], "received", "{ret}");
        assert_eq!(on_hand(&app, "SKU-1", "SEA").await, before + 2);

        click(&browser, "#return-actions form[action$='/refund'] button").await;
        assert!(text(&browser, "p.flash").await.contains("Refunded"));
        assert!(text(&browser, "h1").await.contains("refunded"));
        browser.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_payment_provider_is_set_up_and_its_connection_tested() {
    for app in apps().await {
        let Some((_driver, browser)) = browser(true).await else {
            return;
        };
        let stripe = FakeStripe::start().await;
        sign_in(&browser, &app, "/ui/providers").await;
        click(&browser, "#new-provider").await;
        click(&browser, "a[href='/ui/providers/new?type=payment']").await;
        fill(&browser, "#name", "stripe").await;
        fill(&browser, "#connection-base_url", &stripe.url).await;
        // Saved without the secret: refused at its field.
        click(&browser, "#provider-form button[type=submit]").await;
        assert!(
            text(&browser, "[data-field='connection.secret_key']")
                .await
                .contains("is required")
        );
        fill(&browser, "#connection-secret_key", fake_stripe::SECRET_KEY).await;
        fill(&browser, "#settings", "{\"channels\": [\"web\"]}").await;
        click(&browser, "#provider-form button[type=submit]").await;
        assert!(
            text(&browser, "p.flash")
                .await
                .contains("Provider stripe is saved.")
        );
        assert!(
            !browser
                .source()
                .await
                .unwrap()
                .contains(fake_stripe::SECRET_KEY)
        );

        click(&browser, "#test-connection").await;
        let flash = text(&browser, "p.flash").await;
        assert!(
            flash.contains("Connection OK: Stripe accepted the secret key"),
            "{flash}"
        );
        assert!(flash.contains("/v1/balance"), "{flash}");
        assert_eq!(stripe.requests("/v1/balance").len(), 1);
        let (_, view) = app.get("/api/v1/providers/stripe").await;
        assert_eq!(view["settings"]["channels"][0], "web", "{view}");
        browser.close().await.unwrap();
    }
}

#[tokio::test]
async fn clicking_the_map_sets_a_new_nodes_location() {
    for app in apps().await {
        let Some((_driver, browser)) = browser(true).await else {
            return;
        };
        seed(&app).await;
        sign_in(&browser, &app, "/ui/nodes/new").await;
        fill(&browser, "#code", "MID").await;
        fill(&browser, "#name", "Middle DC").await;
        // The map is fitted to Seattle and Miami: its middle lies between them.
        choose(&browser, "#pick-map").await;
        let value = |css: &'static str| {
            let browser = browser.clone();
            async move {
                browser
                    .find(Locator::Css(css))
                    .await
                    .unwrap()
                    .prop("value")
                    .await
                    .unwrap()
                    .unwrap_or_default()
                    .parse::<f64>()
                    .unwrap_or_else(|e| panic!("{css}: {e}"))
            }
        };
        let (lat, lon) = (value("#lat").await, value("#lon").await);
        assert!((25.76..47.45).contains(&lat), "lat {lat}");
        assert!((-122.3..-80.19).contains(&lon), "lon {lon}");
        click(&browser, "#node-form button[type=submit]").await;
        assert!(
            text(&browser, "p.flash")
                .await
                .contains("Node MID is saved.")
        );
        let (_, node) = app.get("/api/v1/nodes/MID").await;
        assert_eq!(node["location"]["lat"].as_f64(), Some(lat), "{node}");
        assert_eq!(node["location"]["lon"].as_f64(), Some(lon), "{node}");
        browser.close().await.unwrap();
    }
}
