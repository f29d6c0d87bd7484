//! Lists, alerts and live pages in headless Chromium: an alert acknowledged, a list exported,
//! and an order page that changes by itself when another client releases the order.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::apps;
use super::browser::{api_status, browser, click, sign_in, text};
use super::ui_lists::firings;

async fn wait_for(browser: &Client, what: &str, mut ok: impl AsyncFnMut(&Client) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ok(browser).await {
        assert!(
            Instant::now() < deadline,
            "{what}: {}",
            browser.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_alert_is_acknowledged_from_the_alerts_page() {
    for app in apps().await {
        let Some((_driver, browser)) = browser(true).await else {
            return;
        };
        app.create_order("ALERT-1", &[1]).await;
        let fired = firings(&app, 1).await;
        let id = fired[0]["id"].as_str().unwrap().to_owned();
        sign_in(&browser, &app, "/ui/alerts").await;
        assert!(text(&browser, "#open").await.contains("1 firing waits"));
        click(
            &browser,
            &format!("tr[data-firing='{id}'] form button[type=submit]"),
        )
        .await;
        assert!(
            text(&browser, "p.flash").await.contains("Acknowledged"),
            "{}",
            browser.source().await.unwrap()
        );
        assert!(text(&browser, "#open").await.contains("0 firings wait"));
        assert!(
            text(&browser, "#acknowledged-firings")
                .await
                .contains("user:admin@example.com")
        );
        let (_, page) = app.get("/api/v1/alerts/slow-release/firings").await;
        assert_eq!(
            page["items"][0]["acknowledged_by"], "user:admin@example.com",
            "{page}"
        );
        browser.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_filtered_list_is_exported_as_csv() {
    for app in apps().await {
        let Some((_driver, browser)) = browser(true).await else {
            return;
        };
        for (i, channel) in ["web", "store", "web", "store", "web"].iter().enumerate() {
            let mut body = super::order_body(&format!("X-{i}"), &[1]);
            body["channel"] = json!(channel);
            let (status, order) = app.post("/api/v1/orders", body).await;
            assert!(status.is_success(), "{order}");
        }
        sign_in(&browser, &app, "/ui/orders").await;
        browser
            .find(Locator::Css("input[name=channel]"))
            .await
            .unwrap()
            .send_keys("store")
            .await
            .unwrap();
        click(&browser, "form.filters button[type=submit]").await;
        let rows = browser
            .find_all(Locator::Css("#orders tbody tr"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(text(&browser, "p.count").await, "2 orders");
        let link = browser.find(Locator::Css("a.export")).await.unwrap();
        let href = link.attr("href").await.unwrap().unwrap();
        assert!(href.contains("channel=store"), "{href}");
        assert!(href.contains("format=csv"), "{href}");
        // What the link downloads, fetched by the page itself with its session.
        let csv = browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(arguments[0], {credentials: 'same-origin'})
                   .then(r => r.text().then(t => done(r.headers.get('content-type') + '\\n' + t)))
                   .catch(e => done('failed: ' + e));",
                vec![Value::String(href)],
            )
            .await
            .unwrap();
        let csv = csv.as_str().unwrap().to_owned();
        let mut lines = csv.lines();
        assert!(lines.next().unwrap().starts_with("text/csv"), "{csv}");
        assert!(lines.next().unwrap().starts_with("id,channel,external_id"));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 2, "{csv}");
        assert!(rows.iter().all(|r| r.contains(",store,X-")), "{csv}");
        browser.close().await.unwrap();
    }
}

#[tokio::test]
async fn an_order_page_shows_a_release_made_elsewhere_without_reloading() {
    for app in apps().await {
        let Some((_driver, browser)) = browser(true).await else {
            return;
        };
        let order = app.create_order("LIVE-1", &[1]).await;
        let id = order["id"].as_str().unwrap().to_owned();
        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{id}/hold"),
                json!({"reason": "call the customer"}),
            )
            .await;
        assert!(status.is_success(), "{body}");
        sign_in(&browser, &app, "/ui/orders").await;
        browser
            .goto(&app.url(&format!("/ui/orders/{id}")))
            .await
            .unwrap();
        assert!(text(&browser, "#status").await.starts_with("on_hold"));
        wait_for(&browser, "the page listens for events", async |b| {
            b.find(Locator::Css("html[data-live-state=listening]"))
                .await
                .is_ok()
        })
        .await;
        // A mark that a reload would wipe out.
        browser
            .execute("window.stayedOnThePage = 42;", vec![])
            .await
            .unwrap();

        // Another client releases the order.
        let (status, body) = app
            .post(&format!("/api/v1/orders/{id}/release"), json!({}))
            .await;
        assert!(status.is_success(), "{body}");
        assert_ne!(api_status(&app, &id).await, "on_hold");

        wait_for(&browser, "the status changes by itself", async |b| {
            !text(b, "#status").await.starts_with("on_hold")
        })
        .await;
        assert!(text(&browser, "#holds").await.contains("No holds"));
        let mark = browser
            .execute("return window.stayedOnThePage;", vec![])
            .await
            .unwrap();
        assert_eq!(mark, json!(42), "the page was not reloaded");
        browser.close().await.unwrap();
    }
}
