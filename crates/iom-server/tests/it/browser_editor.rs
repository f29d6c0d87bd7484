//! The flow editor in headless Chromium with scripts on: an error typed into a flow is marked at
//! its line while one types, the fixed flow is drawn, saved, published, and then runs for the
//! next order.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use reqwest::StatusCode;

use super::browser::{browser, click, html_class, sign_in, text};
use super::{TestApp, apps_with_flows};

/// The default order flow with a step the catalogue lacks, on line 8.
const WITH_AN_ERROR: &str = "name: default-order
type: order
trigger: order.received
steps:
  - id: validate
    uses: validate-order
  - id: review
    uses: hold-everything
";

/// Fixed: every new order is validated and held for review.
const FIXED: &str = "name: default-order
type: order
trigger: order.received
steps:
  - id: validate
    uses: validate-order
  - id: review
    uses: hold
    with:
      reason: review
";

/// Waits until `css` matches (or, with `present` false, matches nothing); panics with the page.
async fn wait_for(browser: &Client, css: &str, present: bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = browser.find_all(Locator::Css(css)).await.unwrap();
        if found.is_empty() != present {
            return;
        }
        if Instant::now() > deadline {
            let source = browser.source().await.unwrap_or_default();
            panic!(
                "{css} is still {}:\n{source}",
                if present { "missing" } else { "there" }
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn type_over(browser: &Client, text: &str) {
    let area = browser.find(Locator::Css("textarea#source")).await.unwrap();
    area.clear().await.unwrap();
    area.send_keys(text).await.unwrap();
}

async fn order_runs(app: &TestApp, id: &str) -> serde_json::Value {
    let (status, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    runs
}

#[tokio::test]
async fn a_flow_edited_with_an_error_shown_at_its_line_is_fixed_published_and_runs() {
    for app in apps_with_flows().await {
        let Some((_driver, browser)) = browser(true).await else {
            return;
        };
        // Wide enough for the editor and the graph side by side.
        browser.set_window_size(1400, 1000).await.unwrap();
        let page = "/ui/flows/default-order/edit";
        sign_in(&browser, &app, page).await;
        assert_eq!(
            html_class(&browser).await,
            "js",
            "scripts run in this session"
        );
        assert!(
            text(&browser, "#graph-drawing")
                .await
                .contains("plan-fulfillment")
        );

        // Typed with an error: marked at its line, and listed, with nothing pressed.
        type_over(&browser, WITH_AN_ERROR).await;
        wait_for(&browser, ".editor .mark[data-line='8']", true).await;
        let mark = text(&browser, ".editor .mark[data-line='8']").await;
        assert!(mark.contains("unknown step `hold-everything`"), "{mark}");
        let listed = text(&browser, "#problems li[data-line='8']").await;
        assert!(listed.starts_with("Line 8, column"), "{listed}");
        assert_eq!(
            browser
                .find_all(Locator::Css(".editor .mark"))
                .await
                .unwrap()
                .len(),
            1,
            "one error, one mark"
        );
        let gutter = text(&browser, ".editor .gutter").await;
        // Eight lines and the empty one after the last newline.
        assert!(
            gutter.trim_end().ends_with("8\n9"),
            "numbers follow the text: {gutter}"
        );
        let class = browser
            .find(Locator::Css("#graph"))
            .await
            .unwrap()
            .attr("class")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(
            class.contains("stale"),
            "the graph is of the last text that compiled"
        );

        // Fixed: the mark goes, and the graph is redrawn from the new plan.
        type_over(&browser, FIXED).await;
        wait_for(&browser, ".editor .mark", false).await;
        wait_for(&browser, "#graph:not(.stale)", true).await;
        let drawn = text(&browser, "#graph-drawing").await;
        assert!(
            drawn.contains("review") && !drawn.contains("plan-fulfillment"),
            "{drawn}"
        );
        assert!(
            text(&browser, "#check-status")
                .await
                .starts_with("No errors")
        );

        // Saved as a draft (the default flow still runs), then published.
        click(&browser, "button[value=save]").await;
        assert!(
            text(&browser, "p.flash")
                .await
                .contains("Version 2 of flow default-order is saved as a draft"),
            "{}",
            browser.source().await.unwrap()
        );
        click(
            &browser,
            "tr[data-version='2'] form[action$='/publish'] button",
        )
        .await;
        assert!(text(&browser, "p.flash").await.contains("is published"));
        assert!(
            text(&browser, "tr[data-version='2']")
                .await
                .contains("active")
        );
        let (_, flow) = app.get("/api/v1/flows/default-order").await;
        assert_eq!(flow["published_version"], 2, "{flow}");
        assert_eq!(flow["versions"][0]["source"], FIXED);

        // The next order runs on the published version: held for review.
        let order = app.create_order("EDITED-1", &[1]).await;
        let id = order["id"].as_str().unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        let held = loop {
            let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
            if order["status"] == "on_hold" {
                break order;
            }
            assert!(
                Instant::now() < deadline,
                "{}: {order}\n{}",
                app.backend,
                order_runs(&app, id).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(held["status_reason"], "review", "{held}");
        let runs = order_runs(&app, id).await;
        let run = &runs["items"][0];
        assert_eq!(
            (run["flow"].as_str(), run["version"].as_i64()),
            (Some("default-order"), Some(2)),
            "{runs}"
        );
        browser.close().await.unwrap();
    }
}

#[tokio::test]
async fn without_scripts_check_and_save_show_the_errors_at_their_lines() {
    for app in super::apps().await {
        let Some((_driver, browser)) = browser(false).await else {
            return;
        };
        let page = "/ui/flows/default-order/edit";
        sign_in(&browser, &app, page).await;
        assert_eq!(html_class(&browser).await, "no-js", "scripts are off");

        type_over(&browser, WITH_AN_ERROR).await;
        click(&browser, "button[value=check]").await;
        let mark = text(&browser, ".editor .mark[data-line='8']").await;
        assert!(mark.contains("unknown step `hold-everything`"), "{mark}");
        assert!(text(&browser, "#check-status").await.contains("1 error"));
        // What was typed is still there to fix.
        let typed = browser
            .find(Locator::Css("textarea#source"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default();
        assert_eq!(typed, WITH_AN_ERROR);

        click(&browser, "button[value=save]").await;
        assert!(
            text(&browser, "#check-status")
                .await
                .starts_with("Not saved")
        );
        assert!(text(&browser, "#problems").await.contains("Line 8"));
        let (_, flow) = app.get("/api/v1/flows/default-order").await;
        assert_eq!(flow["versions"].as_array().unwrap().len(), 1, "{flow}");

        type_over(&browser, FIXED).await;
        click(&browser, "button[value=check]").await;
        assert!(
            text(&browser, "#check-status")
                .await
                .starts_with("No errors")
        );
        assert!(text(&browser, "#graph-drawing").await.contains("review"));
        click(&browser, "button[value=save]").await;
        assert!(text(&browser, "p.flash").await.contains("Version 2"));
        let (_, flow) = app.get("/api/v1/flows/default-order").await;
        assert_eq!(flow["versions"][0]["status"], "draft", "{flow}");
        browser.close().await.unwrap();
    }
}
