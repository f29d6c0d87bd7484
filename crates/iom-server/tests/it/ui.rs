//! The web UI over plain HTTP, as a browser without JavaScript uses it: sign in with a form, read
//! every page, act through forms that redirect. Real server, real database, both backends.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use super::providers::sample;
use super::{ADMIN, TestApp, apps, order_body};

/// A browser without scripts: keeps the session cookie, follows nothing by itself.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub server_timing: Option<String>,
    pub body: String,
}

pub struct UiClient {
    client: Client,
    base: String,
    pub cookie: String,
    pub csrf: String,
}

/// The password of the users the tests sign in as.
pub const PASSWORD: &str = "correct horse battery staple";

/// Creates (or updates) the user `<role>@example.com` with [`PASSWORD`] through the API.
pub async fn ensure_user(app: &TestApp, role: &str) -> String {
    let email = format!("{role}@example.com");
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/{email}"),
            Some(json!({"role": role, "password": PASSWORD})),
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
    email
}

impl UiClient {
    /// A browser without a session, on `app`.
    pub fn anonymous(app: &TestApp) -> UiClient {
        UiClient {
            client: Client::builder().redirect(Policy::none()).build().unwrap(),
            base: app.server.url(),
            cookie: String::new(),
            csrf: String::new(),
        }
    }

    /// The same browser (its cookie and CSRF token) talking to another server.
    pub fn on(&self, base: String) -> UiClient {
        UiClient {
            client: self.client.clone(),
            base,
            cookie: self.cookie.clone(),
            csrf: self.csrf.clone(),
        }
    }

    /// Signs in through the form as the user `<role>@example.com`, created for it.
    pub async fn sign_in(app: &TestApp, role: &str) -> UiClient {
        let email = ensure_user(app, role).await;
        Self::sign_in_with(app, &email, PASSWORD).await
    }

    /// Signs in through the form with an e-mail and password.
    pub async fn sign_in_with(app: &TestApp, email: &str, password: &str) -> UiClient {
        let mut ui = Self::anonymous(app);
        let page = ui
            .post(
                "/ui/sign-in",
                &[
                    ("email", email),
                    ("password", password),
                    ("next", "/ui/orders"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert_eq!(page.location.as_deref(), Some("/ui/orders"));
        let cookie = page
            .set_cookies
            .iter()
            .find(|c| c.starts_with("iom_session="))
            .expect("a session cookie")
            .clone();
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
        ui.cookie = cookie.split(';').next().unwrap().to_owned();
        let home = ui.get("/ui").await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        ui.csrf = csrf_of(&home.body);
        ui
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form), None).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        origin: Option<&str>,
    ) -> Page {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if !self.cookie.is_empty() {
            req = req.header(COOKIE, &self.cookie);
        }
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        if let Some(form) = form {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(form).unwrap());
        }
        let resp = req.send().await.unwrap();
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        Page {
            status: resp.status(),
            location: header(LOCATION),
            server_timing: header(reqwest::header::HeaderName::from_static("server-timing")),
            set_cookies: resp
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect(),
            body: resp.text().await.unwrap(),
        }
    }

    /// Posts a form, then loads the page it redirects to with the one-time message cookie.
    pub async fn submit(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let posted = self.post(path, form).await;
        assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
        let flash = posted
            .set_cookies
            .iter()
            .find(|c| c.starts_with("iom_flash="))
            .map(|c| c.split(';').next().unwrap().to_owned());
        let mut req = self
            .client
            .get(format!("{}{}", self.base, posted.location.unwrap()));
        let cookies = match flash {
            Some(f) => format!("{}; {f}", self.cookie),
            None => self.cookie.clone(),
        };
        req = req.header(COOKIE, cookies);
        let resp = req.send().await.unwrap();
        Page {
            status: resp.status(),
            location: None,
            set_cookies: Vec::new(),
            server_timing: None,
            body: resp.text().await.unwrap(),
        }
    }
}

pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..start + 64].to_owned()
}

/// What the pages show: two nodes with coordinates, stock, an order, a provider with a failed
/// message, a subscription.
pub struct Seeded {
    pub order_id: String,
    pub external_id: String,
}

pub async fn seed(app: &TestApp) -> Seeded {
    for (code, name, kind, lat, lon) in [
        ("SEA", "Seattle DC", "warehouse", 47.45, -122.3),
        ("MIA", "Miami store", "store", 25.76, -80.19),
    ] {
        let (status, body) = app
            .put(
                &format!("/api/v1/nodes/{code}"),
                json!({"name": name, "kind": kind, "location": {"lat": lat, "lon": lon}}),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    let (status, body) = app
        .post(
            "/api/v1/inventory/changes",
            json!({"changes": [
                {"id": "c1", "sku": "SKU-1", "node": "SEA", "kind": "set", "quantity": 40, "reason": "count"},
                {"id": "c2", "sku": "SKU-1", "node": "MIA", "kind": "set", "quantity": 5, "reason": "count"},
                {"id": "c3", "sku": "SKU-2", "node": "SEA", "kind": "set", "quantity": 7, "reason": "count"}
            ]}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let order = app.create_order("UI-1", &[2, 1]).await;
    let (status, body) = app
        .put("/api/v1/providers/edi", json!({"type": "x12"}))
        .await;
    assert!(status.is_success(), "{body}");
    // A warehouse shipping advice for orders iom does not have: kept as a failed message.
    let (status, body) = app
        .inbound_bearer("edi", &sample("x12/x12-types_945_1.edi"))
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = app
        .put(
            "/api/v1/subscriptions/erp",
            json!({"url": "http://127.0.0.1:9/hook", "types": ["order.*"], "secret": "s3cret-s3cret-s3cret"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    Seeded {
        order_id: order["id"].as_str().unwrap().to_owned(),
        external_id: "UI-1".into(),
    }
}

#[tokio::test]
async fn pages_need_a_session_and_bad_tokens_are_refused() {
    for app in apps().await {
        let anonymous = UiClient {
            client: Client::builder().redirect(Policy::none()).build().unwrap(),
            base: app.server.url(),
            cookie: String::new(),
            csrf: String::new(),
        };
        let page = anonymous.get("/ui/orders?status=on_hold").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(
            page.location.as_deref(),
            Some("/ui/sign-in?next=%2Fui%2Forders%3Fstatus%3Don_hold")
        );
        let form = anonymous.get("/ui/sign-in?next=/ui/orders").await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains("type=\"password\""), "{}", form.body);

        let email = ensure_user(&app, "admin").await;
        let refused = anonymous
            .post(
                "/ui/sign-in",
                &[
                    ("email", &email),
                    ("password", "not the password"),
                    ("next", "/ui"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(refused.set_cookies.is_empty());
        assert!(
            refused
                .body
                .contains("The e-mail or the password is not right.")
        );
        // An API token is no password.
        let refused = anonymous
            .post(
                "/ui/sign-in",
                &[("email", &email), ("password", ADMIN), ("next", "/ui")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

        // A forged cookie is no session either.
        let forged = UiClient {
            cookie: "iom_session=iom_forged".into(),
            ..anonymous
        };
        assert_eq!(forged.get("/ui").await.status, StatusCode::SEE_OTHER);

        // After signing in, `next` leads back, but never to another site.
        let ui = UiClient::sign_in(&app, "admin").await;
        let elsewhere = ui
            .post(
                "/ui/sign-in",
                &[
                    ("email", &email),
                    ("password", PASSWORD),
                    ("next", "//evil.example/"),
                ],
            )
            .await;
        assert_eq!(elsewhere.location.as_deref(), Some("/ui"));

        // Signing out needs the form's token, and ends the session cookie.
        let refused = ui.post("/ui/sign-out", &[("csrf", "nope")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let out = ui.post("/ui/sign-out", &[("csrf", &ui.csrf)]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert!(
            out.set_cookies
                .iter()
                .any(|c| c.starts_with("iom_session=;") && c.contains("Max-Age=0")),
            "{:?}",
            out.set_cookies
        );
    }
}

#[tokio::test]
async fn every_page_renders_without_javascript() {
    for app in apps().await {
        let seeded = seed(&app).await;
        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/policies/big-orders",
                Some(json!({"name": "big-orders", "kind": "filter",
                            "rule": "order.lines.exists(l, l.quantity >= 6)"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let ui = UiClient::sign_in(&app, "admin").await;
        let order_page = format!("/ui/orders/{}", seeded.order_id);
        let pages: Vec<(String, Vec<&str>)> = vec![
            (
                "/ui".into(),
                vec![
                    "Dashboard",
                    "Orders placed per day",
                    "<svg",
                    "order.received",
                ],
            ),
            (
                "/ui/orders".into(),
                vec![&seeded.external_id, &seeded.order_id],
            ),
            (
                format!("/ui/orders?q={}", seeded.external_id),
                vec![&seeded.order_id],
            ),
            (
                order_page.clone(),
                vec![
                    "SKU-1",
                    "SKU-2",
                    "Put on hold",
                    "Fulfilment plan",
                    "order.received",
                    "Ann Lee",
                    "Flow runs",
                    "Returns",
                ],
            ),
            ("/ui/inventory".into(), vec!["SKU-1", "SKU-2"]),
            (
                "/ui/inventory/SKU-1".into(),
                vec!["SEA", "MIA", "Available to promise", ">45<"],
            ),
            (
                "/ui/nodes".into(),
                vec!["<svg", "Seattle DC", "Miami store", "<circle"],
            ),
            ("/ui/providers".into(), vec!["edi", "x12"]),
            ("/ui/providers/edi".into(), vec!["failed", "Retry"]),
            ("/ui/providers/edi?status=failed".into(), vec!["Retry"]),
            (
                "/ui/subscriptions".into(),
                vec!["erp", "http://127.0.0.1:9/hook"],
            ),
            (
                "/ui/flows".into(),
                vec!["default-order", "big-orders", "filter"],
            ),
            (
                "/ui/policies/big-orders".into(),
                vec!["Policy big-orders", "order.lines.exists(l, l.quantity"],
            ),
            (
                "/ui/flows/default-order".into(),
                vec!["<svg", "validate-order", "plan-fulfillment"],
            ),
            ("/ui/tasks".into(), vec!["No open tasks."]),
            ("/ui/returns".into(), vec!["No returns."]),
        ];
        for (path, expected) in &pages {
            let page = ui.get(path).await;
            assert_eq!(
                page.status,
                StatusCode::OK,
                "{} {path}: {}",
                app.backend,
                page.body
            );
            for text in expected {
                assert!(
                    page.body.contains(text),
                    "{} {path} lacks {text:?}:\n{}",
                    app.backend,
                    page.body
                );
            }
            assert!(page.body.starts_with("<!DOCTYPE html>"), "{path}");
            let timing = page.server_timing.expect("Server-Timing");
            assert!(timing.starts_with("app;dur="), "{timing}");
        }
        // The stylesheet and script come from the binary.
        let css = ui.get("/ui/static/ui.css").await;
        assert_eq!(css.status, StatusCode::OK);
        assert!(css.body.contains("header.top"));
        assert_eq!(
            ui.get("/ui/static/nope.js").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ui.get("/ui/orders/nope").await.status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn hold_and_release_through_forms() {
    for app in apps().await {
        let seeded = seed(&app).await;
        let ui = UiClient::sign_in(&app, "admin").await;
        let base = format!("/ui/orders/{}", seeded.order_id);
        let api = format!("/api/v1/orders/{}", seeded.order_id);

        // Without the session's CSRF token, or from another site, nothing happens.
        let refused = ui
            .post(
                &format!("{base}/hold"),
                &[("csrf", "forged"), ("reason", "x")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let foreign = ui
            .send(
                Method::POST,
                &format!("{base}/hold"),
                Some(&[("csrf", &ui.csrf), ("reason", "x")]),
                Some("https://evil.example"),
            )
            .await;
        assert_eq!(foreign.status, StatusCode::FORBIDDEN);
        let (_, order) = app.get(&api).await;
        assert!(
            order["holds"].as_array().unwrap().is_empty(),
            "{}",
            app.backend
        );

        let page = ui
            .submit(
                &format!("{base}/hold"),
                &[("csrf", &ui.csrf), ("reason", "credit")],
            )
            .await;
        assert!(page.body.contains("The order is on hold."), "{}", page.body);
        assert!(page.body.contains("Release holds"));
        let (_, order) = app.get(&api).await;
        assert_eq!(order["status"], "on_hold");
        assert_eq!(order["holds"][0]["code"], "credit");

        let page = ui
            .submit(&format!("{base}/release"), &[("csrf", &ui.csrf)])
            .await;
        assert!(page.body.contains("Holds released"), "{}", page.body);
        let (_, order) = app.get(&api).await;
        assert_ne!(order["status"], "on_hold");
        assert!(order["holds"].as_array().unwrap().is_empty());

        // Part of a line, then the order; then a refusal shown as a message, changing nothing.
        let page = ui
            .submit(
                &format!("{base}/lines/1/cancel"),
                &[("csrf", &ui.csrf), ("quantity", "1"), ("confirmed", "yes")],
            )
            .await;
        assert!(page.body.contains("Line 1 cancelled."), "{}", page.body);
        let (_, order) = app.get(&api).await;
        assert_eq!(order["lines"][0]["cancelled_quantity"], 1);
        let page = ui
            .submit(
                &format!("{base}/lines/1/cancel"),
                &[("csrf", &ui.csrf), ("quantity", "x"), ("confirmed", "yes")],
            )
            .await;
        assert!(
            page.body.contains("must be a whole number"),
            "{}",
            page.body
        );
        let page = ui
            .submit(
                &format!("{base}/cancel"),
                &[
                    ("csrf", &ui.csrf),
                    ("reason", "customer_request"),
                    ("confirmed", "yes"),
                ],
            )
            .await;
        assert!(
            page.body.contains("The order is cancelled."),
            "{}",
            page.body
        );
        let (_, events_before) = app.get("/api/v1/events?limit=1000").await;
        let page = ui
            .submit(&format!("{base}/hold"), &[("csrf", &ui.csrf)])
            .await;
        assert!(page.body.contains("class=\"flash error\""), "{}", page.body);
        let (_, events_after) = app.get("/api/v1/events?limit=1000").await;
        assert_eq!(events_before, events_after);
        let (_, order) = app.get(&api).await;
        assert_eq!(order["status"], "cancelled");
    }
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_act() {
    for app in apps().await {
        let seeded = seed(&app).await;
        let ui = UiClient::sign_in(&app, "viewer").await;
        let base = format!("/ui/orders/{}", seeded.order_id);
        let page = ui.get(&base).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("Put on hold"), "{}", page.body);
        assert!(page.body.contains("can only read"));
        let page = ui.get("/ui/providers/edi").await;
        assert!(!page.body.contains(">Retry<"));

        // The form posted anyway: the API's own answer, as a page.
        let refused = ui
            .post(
                &format!("{base}/hold"),
                &[("csrf", &ui.csrf), ("reason", "x")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(
            refused.body.contains("the role viewer may not do this"),
            "{}",
            refused.body
        );
        let refused = ui
            .post(&format!("{base}/cancel"), &[("csrf", &ui.csrf)])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let (_, order) = app
            .get(&format!("/api/v1/orders/{}", seeded.order_id))
            .await;
        assert_ne!(order["status"], "cancelled");
        assert!(order["holds"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn failed_provider_messages_are_retried_from_their_page() {
    for app in apps().await {
        seed(&app).await;
        let ui = UiClient::sign_in(&app, "admin").await;
        let page = ui.get("/ui/providers/edi?status=failed").await;
        let marker = "/messages/";
        let start = page.body.find(marker).expect("a retry form") + marker.len();
        let id: String = page.body[start..]
            .chars()
            .take_while(|c| *c != '/')
            .collect();
        let page = ui
            .submit(
                &format!("/ui/providers/edi/messages/{id}/retry"),
                &[("csrf", &ui.csrf)],
            )
            .await;
        // The orders it names still do not exist: retried, and failed again.
        assert!(
            page.body
                .contains(&format!("Message {id} retried: failed.")),
            "{}",
            page.body
        );
        let (_, message) = app
            .get(&format!("/api/v1/providers/edi/messages/{id}"))
            .await;
        assert_eq!(message["attempts"], 2, "{message}");
    }
}

#[tokio::test]
async fn orders_are_filtered_and_paged() {
    for app in apps().await {
        seed(&app).await;
        // 51 more orders: more than a page of the list.
        for i in 0..51 {
            let mut body = order_body(&format!("P-{i:02}"), &[1]);
            if i % 2 == 0 {
                body["channel"] = json!("store");
                body["placed_at"] = json!("2026-11-20T10:00:00Z");
                body["lines"][0]["sku"] = json!("SKU-9");
            }
            let (status, created) = app.post("/api/v1/orders", body).await;
            assert_eq!(status, StatusCode::CREATED);
            if i == 7 {
                let id = created["id"].as_str().unwrap();
                let (status, body) = app
                    .post(
                        &format!("/api/v1/orders/{id}/cancel"),
                        json!({"reason": "test"}),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
        }
        let ui = UiClient::sign_in(&app, "admin").await;
        let rows = |html: &str| html.matches("<tr><td><a href=\"/ui/orders/").count();

        let first = ui.get("/ui/orders").await;
        assert_eq!(rows(&first.body), 50);
        let marker = "rel=\"next\" href=\"";
        let start = first.body.find(marker).expect("a next page") + marker.len();
        let next: String = first.body[start..]
            .chars()
            .take_while(|c| *c != '"')
            .collect();
        let second = ui.get(&next.replace("&amp;", "&")).await;
        assert_eq!(rows(&second.body), 2, "{}", second.body);
        assert!(!second.body.contains("rel=\"next\""));

        let store = ui.get("/ui/orders?channel=store").await;
        assert_eq!(rows(&store.body), 26);
        let sku = ui.get("/ui/orders?sku=SKU-9&channel=store").await;
        assert_eq!(rows(&sku.body), 26);
        let day = ui.get("/ui/orders?from=2026-11-20&to=2026-11-20").await;
        assert_eq!(rows(&day.body), 26);
        let later = ui.get("/ui/orders?from=2026-11-21").await;
        assert_eq!(rows(&later.body), 26, "25 of the new and UI-1");
        let status = ui.get("/ui/orders?status=cancelled&q=P-07").await;
        assert_eq!(rows(&status.body), 1);
        let status = ui.get("/ui/orders?status=cancelled").await;
        assert_eq!(rows(&status.body), 1);
        let status = ui.get("/ui/orders?status=cancelled&q=P-08").await;
        assert_eq!(rows(&status.body), 0);

        let bad = ui.get("/ui/orders?from=yesterday&status=lost").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("must be a date"), "{}", bad.body);
    }
}

#[tokio::test]
async fn orders_are_found_by_the_node_that_ships_them() {
    for app in apps().await {
        let seeded = seed(&app).await;
        let other = app.create_order("UI-2", &[1]).await;
        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{}/shipments", seeded.order_id),
                json!({"node": "MIA", "lines": [{"line_no": 1, "quantity": 2}], "carrier": "UPS", "tracking": "1Z"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, page) = app.get("/api/v1/orders?node=MIA").await;
        let ids: Vec<&Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| &o["id"])
            .collect();
        assert_eq!(ids, vec![&json!(seeded.order_id)], "{}", app.backend);
        let (_, page) = app.get("/api/v1/orders?node=SEA").await;
        assert!(page["items"].as_array().unwrap().is_empty());
        let (status, body) = app.get("/api/v1/orders?placed_from=soon").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["errors"][0]["field"], "placed_from");

        let ui = UiClient::sign_in(&app, "admin").await;
        let page = ui.get("/ui/orders?node=MIA").await;
        assert!(page.body.contains(&seeded.order_id));
        assert!(!page.body.contains(other["id"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn the_dashboard_shows_the_figures_the_api_returns() {
    for app in apps().await {
        let seeded = seed(&app).await;
        for i in 0..3 {
            let order = app.create_order(&format!("D-{i}"), &[1]).await;
            if i < 2 {
                let (status, _) = app
                    .post(
                        &format!("/api/v1/orders/{}/hold", order["id"].as_str().unwrap()),
                        json!({"reason": "review"}),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK);
            }
        }
        let _ = seeded;
        let ui = UiClient::sign_in(&app, "admin").await;
        let page = ui.get("/ui").await;
        let figures = dashboard_figures(&page.body);
        let api_count = |query: &'static str| {
            let app = &app;
            async move {
                let (_, page) = app.get(&format!("/api/v1/orders?limit=500{query}")).await;
                page["items"].as_array().unwrap().len() as i64
            }
        };
        assert_eq!(figures["orders"], api_count("").await);
        assert_eq!(figures["orders"], 4);
        assert_eq!(figures["on_hold"], api_count("&status=on_hold").await);
        assert_eq!(figures["on_hold"], 2);
        assert_eq!(figures["failed_messages"], 1);
    }
}

/// The tiles of the dashboard: `data-figure="KEY"` … the value.
pub fn dashboard_figures(html: &str) -> std::collections::HashMap<String, i64> {
    let mut out = std::collections::HashMap::new();
    for part in html.split("data-figure=\"").skip(1) {
        let key: String = part.chars().take_while(|c| *c != '"').collect();
        let value_at = part.find("class=\"value\">").unwrap() + "class=\"value\">".len();
        let cell = &part[value_at..part[value_at..].find("</div>").unwrap() + value_at];
        // The value, without the link around it.
        let digits: String = cell
            .split(['<', '>'])
            .find(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()))
            .unwrap_or("")
            .to_owned();
        out.insert(key, digits.parse().unwrap_or(-1));
    }
    out
}
