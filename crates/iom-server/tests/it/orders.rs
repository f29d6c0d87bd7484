use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ADMIN, TestApp, apps, order_body};

#[tokio::test]
async fn an_order_is_captured_and_read_back() {
    for app in apps().await {
        let order = app.create_order("1001", &[2, 1]).await;
        assert_eq!(order["status"], "received");
        assert_eq!(order["channel"], "web");
        assert_eq!(order["lines"][0]["status"], "open");
        assert_eq!(order["lines"][0]["unit_price"], "19.99");
        assert_eq!(order["totals"]["total"], "59.97");
        let id = order["id"].as_str().unwrap();
        let (status, read) = app.get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read, order, "{}", app.backend);
        for missing in ["not-a-uuid", "01912345-0000-7000-8000-000000000000"] {
            let (status, body) = app.get(&format!("/api/v1/orders/{missing}")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        }
    }
}

async fn post_with_key(app: &TestApp, key: &str, body: &Value) -> (StatusCode, String) {
    let resp = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(ADMIN)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_identical_response_and_creates_one_order() {
    for app in apps().await {
        let body = order_body("idem-1", &[1]);
        let first = post_with_key(&app, "k-1", &body).await;
        assert_eq!(first.0, StatusCode::CREATED);
        let again = post_with_key(&app, "k-1", &body).await;
        assert_eq!(again, first, "{}", app.backend);
        assert_eq!(app.counts().await, (1, 1));

        // The same key with another body is refused and changes nothing.
        let (status, text) = post_with_key(&app, "k-1", &order_body("idem-2", &[1])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
        assert!(text.contains("Idempotency-Key"));
        assert_eq!(app.counts().await, (1, 1));

        // Twenty clients sending one request with one key at the same instant: one order, one
        // response for all.
        let body = order_body("idem-3", &[1]);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let client = app.client.clone();
            let url = app.url("/api/v1/orders");
            let body = body.clone();
            tasks.push(tokio::spawn(async move {
                let resp = client
                    .post(url)
                    .bearer_auth(ADMIN)
                    .header("Idempotency-Key", "k-burst")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                (resp.status(), resp.text().await.unwrap())
            }));
        }
        let mut responses = HashSet::new();
        for t in tasks {
            responses.insert(t.await.unwrap());
        }
        assert_eq!(responses.len(), 1, "{}: {responses:?}", app.backend);
        assert_eq!(responses.iter().next().unwrap().0, StatusCode::CREATED);
        assert_eq!(app.counts().await, (2, 2));
    }
}

#[tokio::test]
async fn the_same_channel_and_external_id_is_409_naming_the_order_even_under_a_burst() {
    for app in apps().await {
        let first = app.create_order("dup-1", &[1]).await;
        let (status, problem) = app.post("/api/v1/orders", order_body("dup-1", &[3])).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(problem["existing_id"], first["id"]);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains(first["id"].as_str().unwrap())
        );

        let mut tasks = Vec::new();
        for _ in 0..20 {
            let client = app.client.clone();
            let url = app.url("/api/v1/orders");
            tasks.push(tokio::spawn(async move {
                let resp = client
                    .post(url)
                    .bearer_auth(ADMIN)
                    .json(&order_body("dup-burst", &[1]))
                    .send()
                    .await
                    .unwrap();
                (resp.status(), resp.json::<Value>().await.unwrap())
            }));
        }
        let mut created = Vec::new();
        let mut named = HashSet::new();
        for t in tasks {
            let (status, body) = t.await.unwrap();
            match status {
                StatusCode::CREATED => created.push(body["id"].clone()),
                StatusCode::CONFLICT => {
                    named.insert(body["existing_id"].to_string());
                }
                other => panic!("{}: unexpected {other}: {body}", app.backend),
            }
        }
        assert_eq!(created.len(), 1, "{}", app.backend);
        assert_eq!(named, HashSet::from([created[0].to_string()]));
        assert_eq!(app.counts().await, (2, 2));
    }
}

#[tokio::test]
async fn malformed_json_is_400_and_invalid_orders_are_422_listing_each_field() {
    for app in apps().await {
        app.create_order("keep", &[1]).await;
        let before = app.counts().await;
        for raw in ["{\"channel\": ", "not json", "{\"a\":1} trailing"] {
            let resp = app
                .client
                .post(app.url("/api/v1/orders"))
                .bearer_auth(ADMIN)
                .header("content-type", "application/json")
                .body(raw)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{raw}");
            assert_eq!(resp.headers()["content-type"], "application/problem+json");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["status"], 400);
        }
        let (status, problem) = app
            .post(
                "/api/v1/orders",
                json!({"channel": "web", "currency": "usd$", "lines": [
                    {"line_no": 1, "sku": "A", "quantity": 0, "unit_price": "1"},
                    {"line_no": 1, "quantity": 1, "unit_price": "-2"}
                ], "ship_to": {"country": "Narnia"}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let mut fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            vec![
                "currency",
                "external_id",
                "lines[0].quantity",
                "lines[1].line_no",
                "lines[1].sku",
                "lines[1].unit_price",
                "ship_to.country"
            ]
        );
        // A value of the wrong JSON type names its field.
        let mut wrong_type = order_body("typed", &[1]);
        wrong_type["lines"][0]["quantity"] = json!("two");
        let (status, problem) = app.post("/api/v1/orders", wrong_type).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "lines[0].quantity");
        let (status, _) = app.post("/api/v1/orders", json!([1, 2])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            app.counts().await,
            before,
            "{}: refused requests change nothing",
            app.backend
        );
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused_without_being_read() {
    for app in apps().await {
        // A body over the limit, sent whole.
        let big = format!("{{\"channel\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
        let resp = app
            .client
            .post(app.url("/api/v1/orders"))
            .bearer_auth(ADMIN)
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

        // A declared length of 1 GB with no body behind it: the answer comes at once, so the
        // server did not wait to read it.
        let mut socket = tokio::net::TcpStream::connect(app.server.addr)
            .await
            .unwrap();
        let head = format!(
            "POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{{"
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        let mut answer = vec![0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut answer))
            .await
            .expect("answered without reading the body")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert_eq!(app.counts().await, (0, 0));
    }
}

#[tokio::test]
async fn orders_are_listed_with_filters_and_pages() {
    for app in apps().await {
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(app.create_order(&format!("list-{i}"), &[1]).await["id"].clone());
        }
        let hold = format!("/api/v1/orders/{}/hold", ids[1].as_str().unwrap());
        app.post(&hold, json!({"reason": "credit"})).await;

        let (_, page) = app.get("/api/v1/orders?limit=2").await;
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        assert_eq!(page["items"][0]["id"], ids[4]);
        let cursor = page["next_cursor"].as_str().unwrap();
        let (_, page2) = app
            .get(&format!("/api/v1/orders?limit=2&cursor={cursor}"))
            .await;
        assert_eq!(page2["items"][0]["id"], ids[2]);
        let (_, last) = app
            .get(&format!(
                "/api/v1/orders?limit=2&cursor={}",
                ids[1].as_str().unwrap()
            ))
            .await;
        assert_eq!(last["items"].as_array().unwrap().len(), 1);
        assert!(last["next_cursor"].is_null());

        let (_, held) = app.get("/api/v1/orders?status=on_hold").await;
        assert_eq!(held["items"].as_array().unwrap().len(), 1);
        assert_eq!(held["items"][0]["status_reason"], "credit");
        let (_, by_sku) = app
            .get("/api/v1/orders?sku=SKU-1&channel=web&q=list-3")
            .await;
        assert_eq!(by_sku["items"][0]["id"], ids[3], "{}", app.backend);
        let (status, problem) = app.get("/api/v1/orders?status=lost&limit=0").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn a_nul_character_is_refused_at_its_field_on_every_backend() {
    // PostgreSQL cannot store U+0000 in text; it once answered 500 there and stored it on SQLite.
    for app in apps().await {
        let mut body = order_body("nul-1", &[1]);
        body["external_id"] = json!("nul\u{0}1");
        let (status, problem) = app.post("/api/v1/orders", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "external_id", "{problem}");

        let mut body = order_body("nul-2", &[1]);
        body["lines"][0]["sku"] = json!("SKU\u{0}");
        let (status, problem) = app.post("/api/v1/orders", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "lines[0].sku", "{problem}");
        assert_eq!(app.counts().await, (0, 0));

        let (status, problem) = app
            .post(
                "/api/v1/inventory/changes",
                json!({"changes": [{"id": "chg\u{0}1", "sku": "SKU-1", "node": "SEA", "kind": "delta", "quantity": 1}]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "changes[0].id", "{problem}");
        let (_, sku) = app.get("/api/v1/inventory/SKU-1").await;
        assert_ne!(sku["on_hand"], 1, "{sku}");
    }
}
