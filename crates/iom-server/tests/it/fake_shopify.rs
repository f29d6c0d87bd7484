//! A local Shopify Admin API, as far as iom reads it to test a connection:
//! `GET /admin/api/{version}/shop.json` authenticated with `X-Shopify-Access-Token`; a wrong or
//! missing token gets Shopify's 401 with its `errors` text.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

pub const ACCESS_TOKEN: &str = "shpat_iom_test_0123456789";
pub const SHOP_NAME: &str = "iom test shop";

#[derive(Clone)]
pub struct FakeShopify {
    pub url: String,
    /// The paths asked for, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl FakeShopify {
    pub async fn start() -> FakeShopify {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/admin/api/{version}/shop.json", get(shop))
            .with_state(requests.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeShopify { url, requests }
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

async fn shop(
    State(requests): State<Arc<Mutex<Vec<String>>>>,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> Response {
    requests
        .lock()
        .unwrap()
        .push(format!("/admin/api/{version}/shop.json"));
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok());
    if token != Some(ACCESS_TOKEN) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})),
        )
            .into_response();
    }
    axum::Json(json!({"shop": {
        "id": 548380009,
        "name": SHOP_NAME,
        "myshopify_domain": "iom-test.myshopify.com",
        "currency": "USD",
        "plan_name": "partner_test",
    }}))
    .into_response()
}
