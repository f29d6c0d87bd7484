//! Pull mode against a local Shopify-like "orders updated since" endpoint: pages with orders
//! that share their updated time across page boundaries, a server stopped while a page is in
//! flight and started again on the same database, and orders added later. Every order is
//! imported exactly once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, FixedOffset};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::ADMIN;
use super::providers::sample;

#[derive(Clone)]
struct Shop {
    orders: Arc<Mutex<Vec<Value>>>,
    requests: Arc<AtomicUsize>,
    /// The request (1-based) that waits for `open` before answering.
    blocked: usize,
    open: Arc<Notify>,
    /// The `updated_at_min` of each request.
    since: Arc<Mutex<Vec<String>>>,
}

fn time(v: &Value) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(v["updated_at"].as_str().unwrap()).unwrap()
}

/// Shopify order `id`, updated at minute `minute`.
fn shop_order(template: &Value, id: u64, minute: u32) -> Value {
    let mut o = template.clone();
    o["id"] = json!(id);
    o["name"] = json!(format!("#{id}"));
    o["updated_at"] = json!(format!("2026-01-01T10:{minute:02}:00+01:00"));
    o
}

async fn orders_since(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<axum::Json<Value>, StatusCode> {
    if headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok())
        != Some("shpat_pull")
    {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let n = shop.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let since_text = q.get("updated_at_min").cloned().unwrap_or_default();
    shop.since.lock().unwrap().push(since_text.clone());
    let since = DateTime::parse_from_rfc3339(&since_text).map_err(|_| StatusCode::BAD_REQUEST)?;
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
    if n == shop.blocked {
        shop.open.notified().await;
    }
    let mut page: Vec<Value> = shop
        .orders
        .lock()
        .unwrap()
        .iter()
        .filter(|o| time(o) >= since)
        .cloned()
        .collect();
    // Oldest first, as the endpoint is asked to (Shopify: order=updated_at asc).
    page.sort_by_key(|o| (time(o), o["id"].as_u64()));
    page.truncate(limit);
    Ok(axum::Json(json!({"orders": page})))
}

async fn start_shop(shop: Shop) -> SocketAddr {
    let app = axum::Router::new()
        .route(
            "/admin/api/2024-01/orders.json",
            axum::routing::get(orders_since),
        )
        .with_state(shop);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn serve(url: &str) -> iom_server::Running {
    iom_server::spawn(iom_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        app: iom_app::Config {
            database_url: url.to_owned(),
            admin_token: Some(ADMIN.into()),
            master_key: Some("iom test master key".into()),
            ..Default::default()
        },
    })
    .await
    .unwrap()
}

async fn get(server: &iom_server::Running, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", server.url()))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// External ids of the orders of channel `shop`.
async fn imported(server: &iom_server::Running) -> Vec<String> {
    let page = get(server, "/api/v1/orders?channel=shop&limit=500").await;
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["external_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn wait_for_orders(server: &iom_server::Running, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ids = imported(server).await;
        if ids.len() >= n {
            return ids;
        }
        assert!(Instant::now() < deadline, "{} of {n} orders", ids.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn polled_orders_are_imported_once_across_a_restart_mid_import() {
    let template = serde_json::from_slice::<Value>(&sample("shopify/shopify-api-ruby_order.json"))
        .unwrap()["order"]
        .clone();
    for db in iom_store::testing::all() {
        // 25 orders, two per minute: pages of 5 end in the middle of a pair.
        let shop = Shop {
            orders: Arc::new(Mutex::new(
                (0..25)
                    .map(|i| shop_order(&template, 5000 + i, (i / 2) as u32))
                    .collect(),
            )),
            requests: Arc::new(AtomicUsize::new(0)),
            blocked: 3,
            open: Arc::new(Notify::new()),
            since: Arc::new(Mutex::new(Vec::new())),
        };
        let addr = start_shop(shop.clone()).await;
        let first = serve(&db.url).await;
        let response = reqwest::Client::new()
            .put(format!("{}/api/v1/providers/shop", first.url()))
            .bearer_auth(ADMIN)
            .json(&json!({
                "type": "shopify",
                "connection": {"shop": "pull.myshopify.com", "access_token": "shpat_pull",
                               "webhook_secret": "whsec"},
                "settings": {"pull": {
                    "url": format!("http://{addr}/admin/api/2024-01/orders.json"),
                    "limit": 5, "interval_ms": 100}}
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);

        // Two pages are stored, the third is in flight: stop the server there.
        let deadline = Instant::now() + Duration::from_secs(20);
        while shop.requests.load(Ordering::SeqCst) < 3 {
            assert!(
                Instant::now() < deadline,
                "the third page was never asked for"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let before = imported(&first).await;
        assert_eq!(before.len(), 9, "{before:?}");
        let checkpoint = first
            .state
            .store
            .pull_checkpoint("shop".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(checkpoint.pages, 2);
        assert_eq!(checkpoint.checkpoint, "2026-01-01T10:04:00+01:00");
        first.stop().await;
        shop.open.notify_one();

        // Started again: it goes on from the checkpoint, and nothing comes twice.
        let second = serve(&db.url).await;
        let ids = wait_for_orders(&second, 25).await;
        let expected: Vec<String> = (5000..5025).map(|i| i.to_string()).collect();
        assert_eq!(ids, expected, "{}", db.backend);
        let since = shop.since.lock().unwrap().clone();
        assert_eq!(since[0], "1970-01-01T00:00:00Z");
        // The request after the restart asks from the checkpoint the first server stored.
        assert_eq!(since[3], "2026-01-01T10:04:00+01:00");

        // New orders are picked up by the next poll.
        {
            let mut orders = shop.orders.lock().unwrap();
            for i in 25..28 {
                orders.push(shop_order(&template, 5000 + i, 30));
            }
        }
        let ids = wait_for_orders(&second, 28).await;
        assert_eq!(ids.len(), 28);
        // Imported as the webhook would: lines through the Shopify transformation.
        let page = get(&second, "/api/v1/orders?channel=shop&limit=1").await;
        let order = &page["items"][0];
        assert_eq!(order["lines"].as_array().unwrap().len(), 3);
        assert_eq!(order["lines"][0]["sku"], "IPOD2008GREEN");
        let cp = second
            .state
            .store
            .pull_checkpoint("shop".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cp.checkpoint, "2026-01-01T10:30:00+01:00");
        assert_eq!(cp.orders, 28);
        // Quiet source: polling goes on without importing anything again.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(imported(&second).await.len(), 28);
        second.stop().await;
    }
}
