//! Orders in headless Chromium: an order entered on `/ui/orders/new` (a line added with the
//! form's own button) goes through the default flow to `released`; a line held from the order
//! page waits while the other is released, and follows once its hold is released.

use fantoccini::{Client, Locator};

use super::TestApp;
use super::apps_with_flows;
use super::browser::{browser, click, sign_in, text};
use super::order_edits::{held_preorder, wait_order};

async fn fill(browser: &Client, name: &str, value: &str) {
    let input = browser
        .find(Locator::Css(&format!("input[name='{name}']")))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

async fn stock(app: &TestApp) {
    app.put_seattle_node("SEA", "warehouse", None).await;
    app.stock_delta("SKU-1", "SEA", 10).await;
    app.stock_delta("SKU-2", "SEA", 10).await;
}

#[tokio::test]
async fn an_order_entered_on_the_new_order_page_is_released() {
    for app in apps_with_flows().await {
        let Some((_driver, browser)) = browser(true).await else {
            return;
        };
        stock(&app).await;
        sign_in(&browser, &app, "/ui/orders/new").await;
        fill(&browser, "external_id", "BR-NEW-1").await;
        fill(&browser, "customer.name", "Bo Chen").await;
        fill(&browser, "customer.email", "bo@example.com").await;
        for (field, value) in [
            ("name", "Bo Chen"),
            ("line1", "1 Main St"),
            ("city", "Seattle"),
            ("region", "WA"),
            ("postal_code", "98101"),
            ("country", "US"),
        ] {
            fill(&browser, &format!("ship_to.{field}"), value).await;
        }
        fill(&browser, "lines[0].sku", "SKU-1").await;
        fill(&browser, "lines[0].quantity", "2").await;
        fill(&browser, "lines[0].unit_price", "19.99").await;
        click(&browser, "button[name=add_line]").await;
        // The form came back with its values and a second row.
        let kept = browser
            .find(Locator::Css("input[name='lines[0].sku']"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap();
        assert_eq!(kept.as_deref(), Some("SKU-1"));
        fill(&browser, "lines[1].sku", "SKU-2").await;
        fill(&browser, "lines[1].quantity", "1").await;
        fill(&browser, "lines[1].unit_price", "5.00").await;
        click(&browser, "button[name=create]").await;
        assert!(
            text(&browser, "p.flash")
                .await
                .contains("Order BR-NEW-1 entered."),
            "{}",
            app.backend
        );
        let path = browser.current_url().await.unwrap().path().to_owned();
        let id = path.trim_start_matches("/ui/orders/").to_owned();
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;
        assert_eq!(order["channel"], "manual");
        assert_eq!(order["lines"][1]["sku"], "SKU-2");
        browser.refresh().await.unwrap();
        assert!(text(&browser, "#status").await.starts_with("released"));
    }
}

#[tokio::test]
async fn a_line_held_and_released_from_the_order_page() {
    for app in apps_with_flows().await {
        let Some((_driver, browser)) = browser(true).await else {
            return;
        };
        let id = held_preorder(&app, "BR-LH-1", 1, 2).await;
        let page = format!("/ui/orders/{id}");
        sign_in(&browser, &app, &page).await;
        browser
            .find(Locator::Css(
                "form[action$='/lines/2/hold'] input[name=reason]",
            ))
            .await
            .unwrap()
            .send_keys("engraving")
            .await
            .unwrap();
        click(&browser, "form[action$='/lines/2/hold'] button").await;
        assert!(
            text(&browser, "p.flash")
                .await
                .contains("Line 2 is on hold")
        );
        assert!(text(&browser, "#lines").await.contains("engraving"));

        // The order's own (preorder) hold released: line 1 goes, line 2 waits.
        click(&browser, &format!("form[action='{page}/release'] button")).await;
        wait_order(&app, &id, |o| {
            o["lines"][0]["status"] == "released" && o["lines"][1]["status"] == "allocated"
        })
        .await;
        browser.refresh().await.unwrap();
        assert!(text(&browser, "#lines").await.contains("on hold"));

        click(&browser, "form[action$='/lines/2/release'] button").await;
        assert!(
            text(&browser, "p.flash")
                .await
                .contains("Line 2 is released from its hold.")
        );
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;
        assert_eq!(order["lines"][1]["status"], "released", "{}", app.backend);
        browser.refresh().await.unwrap();
        assert!(text(&browser, "#status").await.starts_with("released"));
        assert!(!text(&browser, "#lines").await.contains("on hold"));
    }
}
