//! HTTP tests: a real server on port 0 with a fresh database per test, on SQLite and (when
//! `IOM_TEST_POSTGRES_URL` is set) PostgreSQL.

mod audit;
mod auth;
mod batch_errors;
mod browser;
mod browser_editor;
mod browser_lists;
mod browser_orders;
mod browser_setup;
mod connection_test;
mod events;
pub mod fake_avatax;
pub mod fake_easypost;
pub mod fake_oidc;
pub mod fake_shopify;
pub mod fake_stripe;
mod flows;
mod fulfillment;
mod insights;
mod inventory;
mod lifecycle;
mod nodes;
mod notifications;
mod openapi;
mod order_edits;
mod orders;
mod outbound;
mod payment_renewal;
mod payments;
mod policies;
mod providers;
mod pull;
mod return_flow;
mod returns;
mod service;
mod settlement;
mod shipping;
mod shopify_topics;
mod subscriptions;
mod tax;
mod ui;
mod ui_alert_forms;
mod ui_audit;
mod ui_editor;
mod ui_lists;
mod ui_nodes;
mod ui_orders;
mod ui_profiles;
mod ui_providers;
pub mod ui_returns;
mod users;
mod x12_receipts;

use iom_store::testing::TestDb;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

pub const ADMIN: &str = "iom_test_admin_token";

pub struct TestApp {
    pub server: iom_server::Running,
    pub client: Client,
    pub backend: &'static str,
    _db: TestDb,
}

/// One app per backend under test.
pub async fn apps() -> Vec<TestApp> {
    let mut apps = Vec::new();
    for db in iom_store::testing::all() {
        apps.push(TestApp::start(db).await);
    }
    apps
}

/// One app per backend with the flow executor running, as `iom serve` runs it.
pub async fn apps_with_flows() -> Vec<TestApp> {
    let mut apps = Vec::new();
    for db in iom_store::testing::all() {
        apps.push(TestApp::start_with(db, true).await);
    }
    apps
}

impl TestApp {
    /// Without the flow executor: tests of other parts see orders as they captured them.
    pub async fn start(db: TestDb) -> TestApp {
        Self::start_with(db, false).await
    }

    pub async fn start_with(db: TestDb, flows: bool) -> TestApp {
        let server = iom_server::spawn(Self::config(&db, flows))
            .await
            .expect("server starts");
        TestApp {
            server,
            client: Client::new(),
            backend: db.backend,
            _db: db,
        }
    }

    pub fn config(db: &TestDb, flows: bool) -> iom_server::Config {
        iom_server::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            app: iom_app::Config {
                database_url: db.url.clone(),
                admin_token: Some(ADMIN.into()),
                sweep_interval: std::time::Duration::from_millis(100),
                // A fixed key, so that PostgreSQL runs (which get no key file) can store secrets.
                master_key: Some("iom test master key".into()),
                flows,
                ..Default::default()
            },
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(ADMIN, method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    /// How many orders and events exist: to show that a refused request changed nothing.
    pub async fn counts(&self) -> (usize, usize) {
        let (_, orders) = self.get("/api/v1/orders?limit=500").await;
        let (_, events) = self.get("/api/v1/events?limit=1000").await;
        (
            orders["items"].as_array().unwrap().len(),
            events["items"].as_array().unwrap().len(),
        )
    }

    pub async fn create_order(&self, external_id: &str, quantities: &[u32]) -> Value {
        let (status, body) = self
            .post("/api/v1/orders", order_body(external_id, quantities))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", self.backend);
        body
    }
}

pub fn order_body(external_id: &str, quantities: &[u32]) -> Value {
    let lines: Vec<Value> = quantities
        .iter()
        .enumerate()
        .map(|(i, q)| json!({"line_no": i + 1, "sku": format!("SKU-{}", i + 1), "quantity": q, "unit_price": "19.99"}))
        .collect();
    json!({
        "channel": "web",
        "external_id": external_id,
        "currency": "USD",
        "placed_at": "2026-11-26T10:00:00Z",
        "customer": {"id": "C-1", "email": "ann@example.com", "name": "Ann Lee"},
        "ship_to": {"name": "Ann Lee", "line1": "1 Main St", "city": "Seattle", "region": "WA",
                    "postal_code": "98101", "country": "US", "lat": 47.61, "lon": -122.33},
        "lines": lines,
        "ship_method": "standard",
        "attributes": {}
    })
}

impl TestApp {
    /// A fulfilment node, stored directly (nodes have their own API tests).
    pub async fn add_node(&self, code: &str, kind: &str, safety_stock: i64) {
        self.server
            .state
            .store
            .put_node(iom_store::nodes::NodeRecord {
                code: code.into(),
                kind: kind.into(),
                active: true,
                safety_stock,
                doc: json!({"code": code, "kind": kind}),
                updated_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }

    /// A node of `kind` at Seattle (the ship-to of `order_body`) through the API, optionally
    /// served by a provider instance.
    pub async fn put_seattle_node(&self, code: &str, kind: &str, provider: Option<&str>) {
        let mut body = json!({"kind": kind, "location": {"lat": 47.61, "lon": -122.33}});
        if let Some(p) = provider {
            body["provider"] = json!(p);
        }
        let (status, body) = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/nodes/{code}"),
                Some(body),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }

    /// Adds `delta` units of `sku` at `node` through the inventory change API.
    pub async fn stock_delta(&self, sku: &str, node: &str, delta: i64) {
        let id = format!("chg-{}", uuid::Uuid::now_v7());
        let (status, body) = self
            .post(
                "/api/v1/inventory/changes",
                json!({"changes": [{"id": id, "sku": sku, "node": node, "kind": "delta", "quantity": delta}]}),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    }
}
