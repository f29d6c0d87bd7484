//! The web UI in headless Chromium, driven through WebDriver (chromedriver, started by each test
//! on a free port with a fresh profile).
//!
//! Chromium and chromedriver are Debian's `chromium` and `chromium-driver` packages (`.ci/run`
//! installs them). When they are missing these tests fail, saying how to install them; only
//! outside CI (`CI` unset) can a developer skip them on purpose with `IOM_SKIP_BROWSER_TESTS=1`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use super::ui::{dashboard_figures, seed};
use super::{TestApp, apps};

/// A running chromedriver; stopped when dropped.
pub struct Driver {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// A browser session, JavaScript on or off; `None` only when skipping was asked for.
pub async fn browser(javascript: bool) -> Option<(Driver, Client)> {
    let chromium = find(&["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = find(&["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        let skip = std::env::var_os("CI").is_none()
            && std::env::var("IOM_SKIP_BROWSER_TESTS").is_ok_and(|v| v == "1");
        if skip {
            eprintln!("browser test skipped: IOM_SKIP_BROWSER_TESTS=1 and no chromium");
            return None;
        }
        panic!(
            "the browser tests need chromium and chromedriver on PATH: \
             apt-get install -y chromium chromium-driver \
             (or, outside CI, IOM_SKIP_BROWSER_TESTS=1 to skip them)"
        );
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver {
        child,
        _profile: profile,
    };
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{url}/status")).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut options = json!({
        "binary": chromium,
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage",
            format!("--user-data-dir={}", driver._profile.path().display()),
        ],
    });
    if !javascript {
        options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a browser session");
    Some((driver, client))
}

/// Signs in through the form as an admin user created for it.
pub async fn sign_in(browser: &Client, app: &TestApp, page: &str) {
    let email = super::ui::ensure_user(app, "admin").await;
    browser.goto(&app.url(page)).await.unwrap();
    let url = browser.current_url().await.unwrap();
    assert_eq!(
        url.path(),
        "/ui/sign-in",
        "an anonymous visit asks to sign in"
    );
    browser
        .find(Locator::Css("#email"))
        .await
        .unwrap()
        .send_keys(&email)
        .await
        .unwrap();
    browser
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(super::ui::PASSWORD)
        .await
        .unwrap();
    click(browser, "main form button[type=submit]").await;
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.path(), page, "signed in, back where the visit began");
}

pub async fn text(browser: &Client, css: &str) -> String {
    // A live page may swap the element out between finding it and reading it: find it again.
    for _ in 0..20 {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            match element.text().await {
                Ok(text) => return text,
                Err(e) if e.is_stale_element_reference() => continue,
                Err(e) => panic!("{css}: {e}"),
            }
        }
        break;
    }
    match browser.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap(),
        Err(e) => {
            // The page that lacks it says why (an error page, a sign-in form, …).
            let url = browser.current_url().await.map(|u| u.to_string());
            let source = browser.source().await.unwrap_or_default();
            panic!("{css}: {e}\nat {url:?}:\n{source}")
        }
    }
}

/// Clicks what navigates to another page and waits until that page has replaced this one: a
/// WebDriver click may answer before the navigation it starts has loaded, and a look-up made then
/// would read the old page.
pub async fn click(browser: &Client, css: &str) {
    let before = browser
        .find(Locator::Css("html"))
        .await
        .unwrap()
        .element_id();
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(html) = browser.find(Locator::Css("html")).await
            && html.element_id() != before
        {
            return;
        }
        assert!(Instant::now() < deadline, "clicking {css} led nowhere");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn html_class(browser: &Client) -> String {
    browser
        .find(Locator::Css("html"))
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default()
}

pub async fn api_status(app: &TestApp, id: &str) -> Value {
    let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
    order["status"].clone()
}

#[tokio::test]
async fn an_operator_finds_an_order_holds_and_releases_it_and_reads_the_dashboard() {
    for app in apps().await {
        let Some((_driver, browser)) = browser(true).await else {
            return;
        };
        let seeded = seed(&app).await;
        for i in 0..3 {
            app.create_order(&format!("B-{i}"), &[1]).await;
        }
        sign_in(&browser, &app, "/ui/orders").await;
        assert_eq!(
            html_class(&browser).await,
            "js",
            "scripts run in this session"
        );

        // Find the order by its external id.
        browser
            .find(Locator::Css("input[name=q]"))
            .await
            .unwrap()
            .send_keys(&seeded.external_id)
            .await
            .unwrap();
        click(&browser, "form.filters button[type=submit]").await;
        let rows = browser
            .find_all(Locator::Css("#orders tbody tr"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{}", app.backend);
        click(
            &browser,
            &format!("a[href='/ui/orders/{}']", seeded.order_id),
        )
        .await;
        assert!(!text(&browser, "#status").await.starts_with("on_hold"));

        // Hold it.
        browser
            .find(Locator::Css("form[action$='/hold'] input[name=reason]"))
            .await
            .unwrap()
            .send_keys("credit")
            .await
            .unwrap();
        click(&browser, "form[action$='/hold'] button").await;
        assert!(text(&browser, "p.flash").await.contains("on hold"));
        assert!(text(&browser, "#status").await.starts_with("on_hold"));
        assert_eq!(api_status(&app, &seeded.order_id).await, "on_hold");
        assert!(text(&browser, "#holds").await.contains("credit"));

        // Release it.
        click(&browser, "form[action$='/release'] button").await;
        assert!(text(&browser, "p.flash").await.contains("Holds released"));
        assert_ne!(api_status(&app, &seeded.order_id).await, "on_hold");

        // The dashboard's figures are the API's.
        browser.goto(&app.url("/ui")).await.unwrap();
        let figures = dashboard_figures(&browser.source().await.unwrap());
        let (_, all) = app.get("/api/v1/orders?limit=500").await;
        let all = all["items"].as_array().unwrap();
        let on_hold = all.iter().filter(|o| o["status"] == "on_hold").count() as i64;
        assert_eq!(figures["orders"], all.len() as i64);
        assert_eq!(figures["orders"], 4);
        assert_eq!(figures["on_hold"], on_hold);
        let shown = text(&browser, "[data-figure=orders] .value").await;
        assert_eq!(shown, "4");

        // The dashboard's KPIs are those of `GET /api/v1/insights/kpis` for the same data: orders
        // placed just now, one shipped complete and one cancelled, so that fill rate, top
        // products and today's figures all have something to show.
        let placed = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339();
        let mut ids = Vec::new();
        for (i, (channel, quantities)) in [("web", [3, 1]), ("pos", [2, 2]), ("web", [1, 1])]
            .into_iter()
            .enumerate()
        {
            let mut body = super::order_body(&format!("K-{i}"), &quantities);
            body["placed_at"] = json!(placed);
            body["channel"] = json!(channel);
            let (status, order) = app.post("/api/v1/orders", body).await;
            assert!(status.is_success(), "{order}");
            ids.push(order["id"].as_str().unwrap().to_owned());
        }
        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{}/shipments", ids[0]),
                json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 3}, {"line_no": 2, "quantity": 1}]}),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{}/cancel", ids[1]),
                json!({"reason": "customer"}),
            )
            .await;
        assert!(status.is_success(), "{body}");

        browser.goto(&app.url("/ui")).await.unwrap();
        let (status, kpis) = app.get("/api/v1/insights/kpis").await;
        assert!(status.is_success(), "{kpis}");
        let percent = |v: &Value| format!("{:.1} %", v.as_f64().unwrap() * 100.0);
        let money = |v: &Value| {
            format!(
                "{} {}",
                v.as_str().unwrap(),
                kpis["currency"].as_str().unwrap()
            )
        };
        assert!(kpis["orders"].as_i64().unwrap() >= 3, "{kpis}");
        assert_eq!(
            text(&browser, "[data-kpi=orders]").await,
            kpis["orders"].to_string()
        );
        assert_eq!(
            text(&browser, "[data-kpi=revenue]").await,
            money(&kpis["revenue"])
        );
        assert!(kpis["fill_rate"].is_number(), "{kpis}");
        assert_eq!(
            text(&browser, "[data-kpi=fill_rate]").await,
            percent(&kpis["fill_rate"])
        );
        assert_eq!(
            text(&browser, "[data-kpi=cancellation_rate]").await,
            percent(&kpis["cancellation_rate"])
        );
        assert!(kpis["today"]["orders"].as_i64().unwrap() >= 3, "{kpis}");
        assert_eq!(
            text(&browser, "[data-kpi=today_orders] .value").await,
            kpis["today"]["orders"].to_string()
        );
        assert_eq!(
            text(&browser, "[data-kpi=mtd_revenue] .value").await,
            money(&kpis["month_to_date"]["revenue"])
        );
        let top = &kpis["top_products"][0];
        assert_eq!(
            text(&browser, "#top-products tbody tr:first-child td.sku").await,
            top["sku"].as_str().unwrap()
        );
        assert_eq!(
            text(&browser, "#top-products tbody tr:first-child td.units").await,
            top["units"].to_string()
        );

        // Signing out ends the session.
        click(&browser, "header form button").await;
        browser.goto(&app.url("/ui/orders")).await.unwrap();
        assert_eq!(browser.current_url().await.unwrap().path(), "/ui/sign-in");
        browser.close().await.unwrap();
    }
}

#[tokio::test]
async fn every_page_is_usable_with_javascript_disabled() {
    for app in apps().await {
        let Some((_driver, browser)) = browser(false).await else {
            return;
        };
        let seeded = seed(&app).await;
        sign_in(&browser, &app, "/ui").await;
        assert_eq!(html_class(&browser).await, "no-js", "scripts are off");
        let order = format!("/ui/orders/{}", seeded.order_id);
        let pages: Vec<(String, &str, &str)> = vec![
            ("/ui".into(), "h1", "Dashboard"),
            ("/ui".into(), "#kpis", "Last 30 days"),
            ("/ui/orders".into(), "#orders", &seeded.external_id),
            (order.clone(), "#lines", "SKU-2"),
            (order.clone(), "#plan", "SEA"),
            ("/ui/inventory".into(), "#skus", "SKU-1"),
            ("/ui/inventory/SKU-1".into(), "#nodes", "MIA"),
            ("/ui/nodes".into(), "#nodes", "Seattle DC"),
            ("/ui/providers".into(), "#providers", "edi"),
            ("/ui/providers/edi".into(), "#messages", "failed"),
            ("/ui/subscriptions".into(), "#subscriptions", "erp"),
            ("/ui/flows".into(), "#flows", "default-order"),
            ("/ui/flows/default-order".into(), "#graph h2", "Version"),
            ("/ui/tasks".into(), "main", "No open tasks."),
            ("/ui/returns".into(), "main", "No returns."),
        ];
        for (path, css, expected) in &pages {
            browser.goto(&app.url(path)).await.unwrap();
            let shown = text(&browser, css).await;
            assert!(shown.contains(expected), "{path} {css}: {shown}");
        }
        // The map is drawn without scripts: one marker per node.
        browser.goto(&app.url("/ui/nodes")).await.unwrap();
        let markers = browser
            .find_all(Locator::Css("svg.map circle"))
            .await
            .unwrap();
        assert_eq!(markers.len(), 2);

        // Forms work without scripts too.
        browser.goto(&app.url(&order)).await.unwrap();
        click(&browser, "form[action$='/hold'] button").await;
        assert!(
            text(&browser, "p.flash").await.contains("on hold"),
            "{}",
            browser.source().await.unwrap()
        );
        assert_eq!(api_status(&app, &seeded.order_id).await, "on_hold");
        click(&browser, "form[action$='/release'] button").await;
        assert!(text(&browser, "p.flash").await.contains("Holds released"));
        assert_ne!(api_status(&app, &seeded.order_id).await, "on_hold");
        browser.close().await.unwrap();
    }
}
