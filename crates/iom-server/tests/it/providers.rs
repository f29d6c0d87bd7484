//! Providers over HTTP: instances, inbound documents from the conformance samples, the message
//! log and retries. The only stand-ins are a local BigCommerce store API (axum on port 0).

use std::net::SocketAddr;

use iom_providers::secrets::shopify_signature;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ADMIN, TestApp, apps};

pub fn sample(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/../../../shared/conformance/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
}

pub const SHOP_SECRET: &str = "shpss_0123456789abcdef";

impl TestApp {
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// Posts a raw document to `/api/v1/inbound/{provider}` with the given headers.
    pub async fn inbound(
        &self,
        provider: &str,
        body: &[u8],
        headers: &[(&str, String)],
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(self.url(&format!("/api/v1/inbound/{provider}")))
            .body(body.to_vec());
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn inbound_bearer(&self, provider: &str, body: &[u8]) -> (StatusCode, Value) {
        self.inbound(
            provider,
            body,
            &[("Authorization", format!("Bearer {ADMIN}"))],
        )
        .await
    }

    pub async fn order(&self, id: &Value) -> Value {
        let (status, order) = self
            .get(&format!("/api/v1/orders/{}", id.as_str().unwrap()))
            .await;
        assert_eq!(status, StatusCode::OK, "{order}");
        order
    }

    async fn messages(&self, provider: &str, query: &str) -> Vec<Value> {
        let (status, page) = self
            .get(&format!("/api/v1/providers/{provider}/messages{query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["items"].as_array().unwrap().clone()
    }
}

fn lines_of(order: &Value) -> Vec<(String, u64)> {
    order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().to_owned(),
                l["quantity"].as_u64().unwrap(),
            )
        })
        .collect()
}

pub async fn shopify_instance(app: &TestApp, name: &str) {
    let (status, body) = app
        .put(
            &format!("/api/v1/providers/{name}"),
            json!({"type": "shopify", "connection": {"shop": "example.myshopify.com",
                   "access_token": "shpat_secret_token", "webhook_secret": SHOP_SECRET}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn provider_types_and_instances_never_show_secrets() {
    for app in apps().await {
        let (status, types) = app.get("/api/v1/provider-types").await;
        assert_eq!(status, StatusCode::OK);
        let names: Vec<&str> = types["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        for t in [
            "rest",
            "shopify",
            "bigcommerce",
            "amazon",
            "x12",
            "csv",
            "ubl",
            "webhook",
            "nats",
        ] {
            assert!(names.contains(&t), "{t} missing from {names:?}");
        }

        shopify_instance(&app, "shop-us").await;
        let (status, read) = app.get("/api/v1/providers/shop-us").await;
        assert_eq!(status, StatusCode::OK);
        let text = read.to_string();
        assert!(!text.contains("shpat_secret_token") && !text.contains(SHOP_SECRET));
        assert_eq!(read["connection"], json!({"shop": "example.myshopify.com"}));
        assert_eq!(
            read["secrets_set"],
            json!(["access_token", "webhook_secret"])
        );
        let (_, list) = app.get("/api/v1/providers").await;
        assert!(!list.to_string().contains(SHOP_SECRET));

        // A PUT without the secrets keeps them; with one, replaces it.
        let (status, _) = app
            .put(
                "/api/v1/providers/shop-us",
                json!({"type": "shopify", "connection": {"shop": "example.myshopify.com"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let body = br#"{"id": 1}"#;
        let (status, _) = app
            .inbound(
                "shop-us",
                body,
                &[(
                    "X-Shopify-Hmac-Sha256",
                    shopify_signature(SHOP_SECRET, body),
                )],
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "secret kept");

        // Invalid instances name the field.
        let (status, problem) = app
            .put(
                "/api/v1/providers/bad",
                json!({"type": "shopify", "connection": {"nope": "x"}, "transformation": "{"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&"connection.nope"), "{problem}");
        assert!(fields.contains(&"connection.shop"), "{problem}");
        assert!(fields.contains(&"connection.webhook_secret"), "{problem}");
        assert!(fields.contains(&"transformation"), "{problem}");
        let (status, problem) = app
            .put("/api/v1/providers/bad", json!({"type": "sap"}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "type");
    }
}

#[tokio::test]
async fn shopify_samples_become_orders_and_a_bad_signature_stores_nothing() {
    let samples = [
        "shopify/shopify-api-ruby_order.json",
        "shopify/shopify-api-ruby_orders.json",
        "shopify/shopify-api-ruby_order_with_properties.json",
        "shopify/shopify_python_api_order.json",
    ];
    for app in apps().await {
        for (i, file) in samples.iter().enumerate() {
            // The samples are one order (450789469) in several shapes: one instance each.
            let name = format!("shop-{i}");
            shopify_instance(&app, &name).await;
            let body = sample(file);

            let (counts_before, messages_before) =
                (app.counts().await, app.messages(&name, "").await.len());
            for bad in [shopify_signature("wrong secret", &body), "garbage".into()] {
                let (status, problem) = app
                    .inbound(&name, &body, &[("X-Shopify-Hmac-Sha256", bad)])
                    .await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
            }
            let (status, _) = app.inbound(&name, &body, &[]).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(app.counts().await, counts_before);
            assert_eq!(app.messages(&name, "").await.len(), messages_before);

            let signature = shopify_signature(SHOP_SECRET, &body);
            let (status, accepted) = app
                .inbound(&name, &body, &[("X-Shopify-Hmac-Sha256", signature)])
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{file}: {accepted}");
            assert_eq!(accepted["status"], "processed", "{file}: {accepted}");
            assert_eq!(accepted["order_ids"].as_array().unwrap().len(), 1);
            let order = app.order(&accepted["order_ids"][0]).await;

            let doc: Value = serde_json::from_slice(&body).unwrap();
            let source = doc
                .get("order")
                .cloned()
                .or_else(|| doc.get("orders").map(|o| o[0].clone()))
                .unwrap_or(doc);
            assert_eq!(order["channel"], name.as_str());
            assert_eq!(order["external_id"], "450789469");
            let expected: Vec<(String, u64)> = source["line_items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let sku = l["sku"].as_str().unwrap_or_default();
                    let sku = if sku.is_empty() {
                        l["variant_id"].to_string()
                    } else {
                        sku.to_owned()
                    };
                    (sku, l["quantity"].as_u64().unwrap())
                })
                .collect();
            assert_eq!(lines_of(&order), expected, "{file}");
            let ship_to = &source["shipping_address"];
            assert_eq!(order["ship_to"]["city"], ship_to["city"], "{file}");
            assert_eq!(order["ship_to"]["postal_code"], ship_to["zip"], "{file}");
            assert_eq!(order["ship_to"]["line1"], ship_to["address1"], "{file}");
            assert_eq!(order["ship_to"]["country"], "US");
        }

        // An order without line items is kept as a failed message.
        shopify_instance(&app, "shop-new").await;
        let body = sample("shopify/shopify_python_api_orders.json");
        let (status, accepted) = app
            .inbound(
                "shop-new",
                &body,
                &[(
                    "X-Shopify-Hmac-Sha256",
                    shopify_signature(SHOP_SECRET, &body),
                )],
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(accepted["status"], "failed", "{accepted}");
        let failed = app.messages("shop-new", "?status=failed").await;
        assert_eq!(failed.len(), 1);
        assert!(
            failed[0]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("line"),
            "{}",
            failed[0]
        );
    }
}

/// A BigCommerce store API with order 100 of the sample and one product.
async fn fake_bigcommerce() -> SocketAddr {
    use axum::routing::get;
    use axum::{Json, Router};
    let orders: Value =
        serde_json::from_slice(&sample("bigcommerce/bigcommerce-api-ruby_order.json")).unwrap();
    let order = orders[0].clone();
    let numeric = order.clone();
    let check = |headers: &axum::http::HeaderMap| {
        headers.get("x-auth-token").and_then(|v| v.to_str().ok()) == Some("bc-token")
    };
    let app = Router::new()
        .route(
            "/stores/abc/v2/orders/100",
            get(move |headers: axum::http::HeaderMap| {
                let order = order.clone();
                async move {
                    if check(&headers) {
                        Ok(Json(order))
                    } else {
                        Err(StatusCode::UNAUTHORIZED)
                    }
                }
            }),
        )
        .route(
            "/stores/abc/v2/orders/100/products",
            get(|| async {
                Json(json!([{
                    "id": 7, "order_id": 100, "product_id": 31, "name": "Gift certificate",
                    "sku": "GC-001", "quantity": 1, "base_price": "0.0100", "price_ex_tax": "0.0100",
                    "price_inc_tax": "0.0100", "total_tax": "0.0000", "applied_discounts": []
                }]))
            }),
        )
        .route(
            "/stores/abc/v2/orders/100/shipping_addresses",
            get(|| async { StatusCode::NO_CONTENT }),
        )
        // The same order as a store sends it that keeps some text fields as JSON numbers.
        .route(
            "/stores/abc/v2/orders/101",
            get(move || {
                let mut order = numeric.clone();
                async move {
                    order["id"] = json!(101);
                    order["billing_address"]["zip"] = json!(99362);
                    order["billing_address"]["phone"] = json!(5_095_550_100u64);
                    Json(order)
                }
            }),
        )
        .route(
            "/stores/abc/v2/orders/101/products",
            get(|| async {
                Json(json!([{
                    "id": 8, "order_id": 101, "product_id": 32, "name": "Mug",
                    "sku": 40021, "quantity": 2, "base_price": "4.5000", "price_ex_tax": "4.5000",
                    "price_inc_tax": "4.5000", "total_tax": "0.0000", "applied_discounts": []
                }]))
            }),
        )
        .route(
            "/stores/abc/v2/orders/101/shipping_addresses",
            get(|| async {
                Json(json!([{
                    "id": 3, "order_id": 101, "first_name": "Daffy", "last_name": "Duck",
                    "street_1": "12 Pond Road", "city": "Portland", "state": "Oregon",
                    "zip": 97201, "country": "United States", "country_iso2": "US",
                    "phone": 5_035_550_100u64, "shipping_method": "UPS Ground"
                }]))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn bigcommerce_webhook_fetches_the_order_it_names() {
    let store = fake_bigcommerce().await;
    for app in apps().await {
        let (status, body) = app
            .put(
                "/api/v1/providers/bc",
                json!({"type": "bigcommerce", "connection": {
                    "api_url": format!("http://{store}/stores/abc/v2"),
                    "access_token": "bc-token", "webhook_secret": "bc-hook-secret"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let hook = serde_json::to_vec(&json!({"scope": "store/order/created", "store_id": "1",
            "data": {"type": "order", "id": 100}, "hash": "x", "created_at": 1561479335, "producer": "stores/abc"}))
        .unwrap();
        let (status, _) = app
            .inbound("bc", &hook, &[("X-Webhook-Secret", "wrong".into())])
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.counts().await.0, 0);
        let (status, accepted) = app
            .inbound(
                "bc",
                &hook,
                &[("X-Webhook-Secret", "bc-hook-secret".into())],
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(accepted["status"], "processed", "{accepted}");
        let order = app.order(&accepted["order_ids"][0]).await;
        assert_eq!(order["channel"], "bc");
        assert_eq!(order["external_id"], "100");
        assert_eq!(lines_of(&order), [("GC-001".to_owned(), 1)]);
        assert_eq!(order["bill_to"]["city"], "Walla Walla");
        assert_eq!(order["bill_to"]["line1"], "1 Main Street");
        assert_eq!(order["bill_to"]["postal_code"], "99362");

        // Numbers where text is expected (zip, phone, SKU) are taken as text.
        let hook = serde_json::to_vec(&json!({"scope": "store/order/created", "store_id": "1",
            "data": {"type": "order", "id": 101}, "hash": "y", "created_at": 1561479336, "producer": "stores/abc"}))
        .unwrap();
        let (_, accepted) = app
            .inbound(
                "bc",
                &hook,
                &[("X-Webhook-Secret", "bc-hook-secret".into())],
            )
            .await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        let order = app.order(&accepted["order_ids"][0]).await;
        assert_eq!(order["external_id"], "101");
        assert_eq!(lines_of(&order), [("40021".to_owned(), 2)]);
        assert_eq!(order["bill_to"]["postal_code"], "99362");
        assert_eq!(order["bill_to"]["phone"], "5095550100");
        assert_eq!(order["customer"]["phone"], "5095550100");
        assert_eq!(order["ship_to"]["postal_code"], "97201");
        assert_eq!(order["ship_to"]["phone"], "5035550100");
        assert_eq!(order["ship_method"], "UPS Ground");
    }
}

#[tokio::test]
async fn x12_purchase_orders_become_orders_with_a_997() {
    // (file, [(external_id, [(sku, quantity)], ship-to city)])
    #[allow(clippy::type_complexity)]
    let cases: &[(&str, &[(&str, &[(&str, u64)], Option<&str>)])] = &[
        (
            "x12/EDI.Net_x12.850.edi",
            &[("1000012", &[("0054321", 1)], Some("Hauppauge"))],
        ),
        (
            "x12/EDI.Net_x12.850a.edi",
            &[(
                "4600000406",
                &[
                    ("A_QU001-BLK", 2500),
                    ("A_QF001-BLK", 2000),
                    ("A_QF001-RED", 1000),
                ],
                Some("Laredo"),
            )],
        ),
        (
            "x12/vscode-edi-support_850-loop.edi",
            &[(
                "0019-1234567-1234",
                &[("7680-02009152", 3), ("123", 3)],
                None,
            )],
        ),
    ];
    for app in apps().await {
        let (status, body) = app
            .put("/api/v1/providers/edi", json!({"type": "x12"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        for (file, expected) in cases {
            let (status, accepted) = app.inbound_bearer("edi", &sample(file)).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{file}");
            assert_eq!(accepted["status"], "processed", "{file}: {accepted}");
            let ids = accepted["order_ids"].as_array().unwrap();
            assert_eq!(ids.len(), expected.len());
            for (id, (external_id, lines, city)) in ids.iter().zip(expected.iter()) {
                let order = app.order(id).await;
                assert_eq!(order["channel"], "edi");
                assert_eq!(order["external_id"], *external_id, "{file}");
                let want: Vec<(String, u64)> =
                    lines.iter().map(|(s, q)| (s.to_string(), *q)).collect();
                assert_eq!(lines_of(&order), want, "{file}");
                assert_eq!(order["ship_to"]["city"].as_str(), *city, "{file}");
                // A purchase order's ship-to has no coordinates: its ZIP code places it
                // (Hauppauge 11788-1234, Laredo 78045).
                if city.is_some() {
                    assert_eq!(order["ship_to"]["located_by"], "postal_code", "{file}");
                }
            }
        }
        // Two 850s in one interchange: 10 and 11 lines.
        let (_, accepted) = app
            .inbound_bearer("edi", &sample("x12/EDI.Net_x12.850.issue135.edi"))
            .await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        let ids = accepted["order_ids"].as_array().unwrap();
        let first = app.order(&ids[0]).await;
        let second = app.order(&ids[1]).await;
        assert_eq!(
            (
                first["external_id"].as_str(),
                second["external_id"].as_str()
            ),
            (Some("740150"), Some("740151"))
        );
        assert_eq!(lines_of(&first).len(), 10);
        assert_eq!(lines_of(&second).len(), 11);
        assert_eq!(lines_of(&first)[0], ("F07EXPLBA1818".to_owned(), 13200));

        // Every interchange got its 997, stored as an outbound message.
        let outbound: Vec<Value> = app
            .messages("edi", "")
            .await
            .into_iter()
            .filter(|m| m["direction"] == "outbound")
            .collect();
        assert_eq!(outbound.len(), 4);
        let (_, ack) = app
            .get(&format!(
                "/api/v1/providers/edi/messages/{}",
                outbound[0]["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(ack["kind"], "997");
        let text = ack["payload"].as_str().unwrap();
        assert!(text.contains("AK1*PO") && text.contains("AK9*A"), "{text}");

        // Each 997 has a control number of its own, from the instance's sequence: ISA13 and
        // GS06 are 1 to 4, one per interchange received.
        let mut numbers = Vec::new();
        for m in &outbound {
            let (_, ack) = app
                .get(&format!(
                    "/api/v1/providers/edi/messages/{}",
                    m["id"].as_str().unwrap()
                ))
                .await;
            let text = ack["payload"].as_str().unwrap().to_owned();
            // ISA is fixed-length: its 4th character separates elements, its 106th ends
            // segments.
            let separator = text.chars().nth(3).unwrap();
            let terminator = text.chars().nth(105).unwrap();
            let element = |segment: &str, n: usize| -> u64 {
                let line = text
                    .split(terminator)
                    .map(str::trim)
                    .find(|s| s.starts_with(&format!("{segment}{separator}")))
                    .unwrap_or_else(|| panic!("no {segment} in {text}"));
                let value = line
                    .split(separator)
                    .nth(n)
                    .unwrap_or_else(|| panic!("{segment} has no element {n}: {line}"));
                value.trim().parse().unwrap()
            };
            let isa13 = element("ISA", 13);
            assert_eq!(element("GS", 6), isa13, "{text}");
            numbers.push(isa13);
        }
        numbers.sort_unstable();
        assert_eq!(numbers, vec![1, 2, 3, 4]);
    }
}

/// An order of channel `edi` to ship against.
async fn edi_order(app: &TestApp, external_id: &str, lines: &[(u32, &str, u32)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(n, sku, q)| json!({"line_no": n, "sku": sku, "quantity": q, "unit_price": "1.00"}))
        .collect();
    let (status, order) = app
        .post(
            "/api/v1/orders",
            json!({"channel": "edi", "external_id": external_id, "currency": "USD",
                   "placed_at": "2026-11-26T10:00:00Z", "lines": lines,
                   "ship_to": {"name": "A", "line1": "1 Main St", "city": "Seattle",
                               "postal_code": "98101", "country": "US"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    order
}

#[tokio::test]
async fn x12_ship_notices_ship_the_orders_they_name() {
    for app in apps().await {
        let (status, _) = app
            .put(
                "/api/v1/providers/edi",
                json!({"type": "x12", "settings": {"default_node": "DC-1"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        // 856 with two orders of two items each.
        let a = edi_order(
            &app,
            "9988776655",
            &[(1, "008815509183", 4), (2, "008815547321", 9)],
        )
        .await;
        let b = edi_order(
            &app,
            "2288115555",
            &[(1, "008815509183", 4), (2, "008815547321", 9)],
        )
        .await;
        let c = edi_order(&app, "DR3469500", &[(1, "25901", 2)]).await;
        let d = edi_order(&app, "IF102", &[(10, "123456789", 3000)]).await;
        let e = edi_order(
            &app,
            "01766655",
            &[(1, "007117901645", 144), (3, "007117900070", 96)],
        )
        .await;
        let f = edi_order(&app, "12345", &[(1, "X", 10)]).await;
        for (file, orders) in [
            ("x12/x12-types_856_1.edi", vec![&a, &b]),
            ("x12/x12-types_856_2.edi", vec![&c]),
            ("x12/x12-types_945_1.edi", vec![&d]),
            ("x12/x12-types_945_2.edi", vec![&e]),
            ("x12/x12-types_945_3.edi", vec![&f]),
        ] {
            let (status, accepted) = app.inbound_bearer("edi", &sample(file)).await;
            assert_eq!(status, StatusCode::ACCEPTED);
            assert_eq!(accepted["status"], "processed", "{file}: {accepted}");
            for order in orders {
                let now = app.order(&order["id"]).await;
                assert_eq!(now["status"], "shipped", "{file}: {now}");
            }
        }
        // 856_2 names no ship-from: the provider's default node is used.
        let c = app.order(&c["id"]).await;
        assert_eq!(c["shipments"][0]["node"], "DC-1", "{c}");
        assert_eq!(c["shipments"][0]["tracking"], "1Z54242X0357922222");

        // An 856 whose order level has no PRF is kept as failed, with where.
        let (_, accepted) = app
            .inbound_bearer("edi", &sample("x12/x12-types_856_3.edi"))
            .await;
        assert_eq!(accepted["status"], "failed");
        assert_eq!(accepted["error"]["position"]["segment_id"], "PRF");
        assert_eq!(accepted["error"]["position"]["segment"], 7);
    }
}

#[tokio::test]
async fn unparseable_x12_is_kept_as_failed_with_the_segment() {
    for app in apps().await {
        app.put("/api/v1/providers/edi", json!({"type": "x12"}))
            .await;
        let doc = b"ST*850*0001~BEG*00*SA*PO-1**20200101~PO1*1*2*EA*3**VP*A~S E*4*0001~";
        let (status, accepted) = app.inbound_bearer("edi", doc).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(accepted["status"], "failed", "{accepted}");
        assert_eq!(accepted["error"]["position"]["segment"], 3, "{accepted}");
        let id = accepted["message_id"].as_str().unwrap();
        let (_, message) = app
            .get(&format!("/api/v1/providers/edi/messages/{id}"))
            .await;
        assert_eq!(message["status"], "failed");
        assert_eq!(message["payload"], std::str::from_utf8(doc).unwrap());
        assert_eq!(app.counts().await.0, 0);
        // Without a token, an x12 provider refuses.
        let (status, _) = app.inbound("edi", doc, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn unmapped_skus_fail_until_the_mapping_is_fixed_and_retried() {
    for app in apps().await {
        let mappings = json!({"sku": {"A_QU001-BLK": "QUILT-BLK"}});
        app.put(
            "/api/v1/providers/edi",
            json!({"type": "x12", "mappings": mappings}),
        )
        .await;
        let (_, accepted) = app
            .inbound_bearer("edi", &sample("x12/EDI.Net_x12.850a.edi"))
            .await;
        assert_eq!(accepted["status"], "failed", "{accepted}");
        let unmapped: Vec<&str> = accepted["error"]["unmapped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["value"].as_str().unwrap())
            .collect();
        assert_eq!(unmapped, ["A_QF001-BLK", "A_QF001-RED"]);
        assert_eq!(app.counts().await.0, 0);
        let id = accepted["message_id"].as_str().unwrap().to_owned();

        let mappings = json!({"sku": {"A_QU001-BLK": "QUILT-BLK", "A_QF001-BLK": "FLEECE-BLK",
                                      "A_QF001-RED": "FLEECE-RED"}});
        app.put(
            "/api/v1/providers/edi",
            json!({"type": "x12", "mappings": mappings}),
        )
        .await;
        let (status, retried) = app
            .post(
                &format!("/api/v1/providers/edi/messages/{id}/retry"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{retried}");
        assert_eq!(retried["status"], "processed");
        assert_eq!(retried["attempts"], 2);
        let order = app.order(&retried["order_ids"][0]).await;
        assert_eq!(
            lines_of(&order),
            [
                ("QUILT-BLK".to_owned(), 2500),
                ("FLEECE-BLK".to_owned(), 2000),
                ("FLEECE-RED".to_owned(), 1000)
            ]
        );
        let (status, _) = app
            .post(
                &format!("/api/v1/providers/edi/messages/{id}/retry"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn a_failed_document_sent_again_is_processed_again_and_only_a_success_is_a_duplicate() {
    for app in apps().await {
        app.put(
            "/api/v1/providers/edi",
            json!({"type": "x12", "mappings": {"sku": {"A_QU001-BLK": "QUILT-BLK"}}}),
        )
        .await;
        let doc = sample("x12/EDI.Net_x12.850a.edi");
        let (_, first) = app.inbound_bearer("edi", &doc).await;
        assert_eq!(first["status"], "failed", "{first}");
        // Sent again as it is: processed again, and it fails again, saying why.
        let (_, again) = app.inbound_bearer("edi", &doc).await;
        assert_eq!(again["status"], "failed", "{again}");
        assert_eq!(again["duplicate"], false, "{again}");
        assert_eq!(again["message_id"], first["message_id"]);
        assert!(again["error"]["unmapped"].is_array(), "{again}");
        // The mapping fixed, the same bytes sent again create the order.
        let mappings = json!({"sku": {"A_QU001-BLK": "QUILT-BLK", "A_QF001-BLK": "FLEECE-BLK",
                                      "A_QF001-RED": "FLEECE-RED"}});
        app.put(
            "/api/v1/providers/edi",
            json!({"type": "x12", "mappings": mappings}),
        )
        .await;
        let (_, third) = app.inbound_bearer("edi", &doc).await;
        assert_eq!(third["status"], "processed", "{third}");
        assert_eq!(third["created"], 1);
        assert_eq!(app.counts().await.0, 1);
        // Now it is a duplicate, naming what it created.
        let (_, fourth) = app.inbound_bearer("edi", &doc).await;
        assert_eq!(fourth["status"], "duplicate", "{fourth}");
        assert_eq!(fourth["order_ids"], third["order_ids"]);
        assert_eq!(app.counts().await.0, 1);
        let message = app
            .messages("edi", "")
            .await
            .into_iter()
            .find(|m| m["direction"] == "inbound")
            .unwrap();
        assert_eq!(message["attempts"], 3, "{message}");
    }
}

#[tokio::test]
async fn the_same_document_twice_creates_one_order() {
    for app in apps().await {
        app.put("/api/v1/providers/edi", json!({"type": "x12"}))
            .await;
        let doc = sample("x12/EDI.Net_x12.850.edi");
        let (_, first) = app.inbound_bearer("edi", &doc).await;
        let (status, second) = app.inbound_bearer("edi", &doc).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(second["duplicate"], true);
        assert_eq!(second["message_id"], first["message_id"]);
        assert_eq!(app.counts().await.0, 1);
        let inbound = app
            .messages("edi", "")
            .await
            .into_iter()
            .filter(|m| m["direction"] == "inbound")
            .count();
        assert_eq!(inbound, 1);

        // The same order in another document (a resend with new control numbers) names the
        // existing order instead of creating one.
        let resend = String::from_utf8(doc)
            .unwrap()
            .replace("000000055", "000000056");
        let (_, third) = app.inbound_bearer("edi", resend.as_bytes()).await;
        assert_eq!(third["status"], "processed");
        assert_eq!(third["order_ids"], first["order_ids"]);
        assert_eq!(app.counts().await.0, 1);
    }
}

#[tokio::test]
async fn csv_rest_and_ubl_documents() {
    for app in apps().await {
        for t in ["csv", "rest", "ubl"] {
            app.put(&format!("/api/v1/providers/{t}-in"), json!({"type": t}))
                .await;
        }
        let rest = serde_json::to_vec(&super::order_body("R-1", &[2])).unwrap();
        let (_, accepted) = app.inbound_bearer("rest-in", &rest).await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        let order = app.order(&accepted["order_ids"][0]).await;
        assert_eq!(order["channel"], "rest-in");

        let ubl = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../iom-providers/tests/data/ubl-order-2.1.xml"
        ))
        .unwrap();
        let (_, accepted) = app.inbound_bearer("ubl-in", &ubl).await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
    }
}

#[tokio::test]
async fn amazon_documents_become_orders() {
    for app in apps().await {
        let (status, _) = app
            .put("/api/v1/providers/amazon-us", json!({"type": "amazon"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let json = |path: &str| serde_json::from_slice::<Value>(&sample(path)).unwrap();
        let doc = json!({
            "order": json("amazon/ordersV0_sandbox_getOrder_TEST_CASE_200.json"),
            "items": json("amazon/ordersV0_sandbox_getOrderItems_TEST_CASE_200.json"),
        });
        let (status, accepted) = app
            .inbound_bearer("amazon-us", &serde_json::to_vec(&doc).unwrap())
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(accepted["status"], "processed", "{accepted}");
        let order = app.order(&accepted["order_ids"][0]).await;
        assert_eq!(order["channel"], "amazon-us");
        assert_eq!(order["external_id"], "902-1845936-5435065");
        assert_eq!(lines_of(&order), [("NABetaASINB00551Q3CS".to_owned(), 1)]);

        // The getOrderItems example belongs to an order without an example of its own.
        let doc = json!({
            "order": {"AmazonOrderId": "903-1671087-0812628", "PurchaseDate": "2013-09-01T10:00:00Z",
                      "OrderStatus": "Shipped", "MarketplaceId": "A1VC38T7YXB528"},
            "items": json("amazon/ordersV0_getOrderItems_example.json"),
        });
        let (_, accepted) = app
            .inbound_bearer("amazon-us", &serde_json::to_vec(&doc).unwrap())
            .await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        let order = app.order(&accepted["order_ids"][0]).await;
        assert_eq!(order["currency"], "JPY");
        let lines = lines_of(&order);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], ("CBA_OTF_1".to_owned(), 1));
    }
}

#[tokio::test]
async fn messages_left_received_are_resumed_at_start() {
    use iom_store::providers::{Apply, Direction, NewMessage, Processed, Target};
    for app in apps().await {
        app.put("/api/v1/providers/rest-in", json!({"type": "rest"}))
            .await;
        // As a process that stopped right after logging the document would leave it.
        let body = serde_json::to_vec(&super::order_body("RESUME-1", &[1])).unwrap();
        let logged = app
            .server
            .state
            .store
            .process_message(
                Target::New(NewMessage {
                    provider: "rest-in".into(),
                    direction: Direction::Inbound,
                    kind: "order".into(),
                    status: "received",
                    payload: body,
                }),
                None,
                Apply::Nothing,
                Vec::new(),
            )
            .await
            .unwrap();
        let Processed::Done { id, status, .. } = logged else {
            panic!("{logged:?}");
        };
        assert_eq!(status, "received");
        assert_eq!(app.counts().await.0, 0);
        let restarted = iom_server::spawn(iom_server::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            app: iom_app::Config {
                database_url: app._db.url.clone(),
                admin_token: None,
                master_key: Some("iom test master key".into()),
                nats_url: None,
                flows: false,
                ..Default::default()
            },
        })
        .await
        .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (_, message) = app
                .get(&format!("/api/v1/providers/rest-in/messages/{id}"))
                .await;
            if message["status"] == "processed" {
                assert_eq!(message["order_ids"].as_array().unwrap().len(), 1);
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{message}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(app.counts().await.0, 1);
        restarted.stop().await;
    }
}

#[tokio::test]
async fn a_csv_instance_reads_shopifys_export_and_its_own_column_map() {
    let export = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../iom-providers/tests/data/shopify-orders-export.csv"
    ))
    .unwrap();
    for app in apps().await {
        let (status, body) = app
            .put(
                "/api/v1/providers/shop-export",
                json!({"type": "csv", "settings": {"preset": "shopify_export"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, accepted) = app.inbound_bearer("shop-export", &export).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(accepted["status"], "processed", "{accepted}");
        assert_eq!(accepted["created"], 2, "{accepted}");
        let first = app.order(&accepted["order_ids"][0]).await;
        assert_eq!(first["external_id"], "5550000001");
        assert_eq!(
            lines_of(&first),
            [
                ("FERN-1".to_owned(), 2),
                ("TOTE-2".to_owned(), 1),
                ("CARD-9".to_owned(), 1)
            ]
        );

        let (status, body) = app
            .put(
                "/api/v1/providers/sheet",
                json!({"type": "csv", "settings": {"columns": {
                    "Order": "external_id", "Item": "sku", "Qty": "quantity",
                    "Price": "unit_price", "Cur": "currency"}}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, accepted) = app
            .inbound_bearer("sheet", b"Order,Item,Qty,Price,Cur\nS-1,MUG,2,3.50,EUR\n")
            .await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        assert_eq!(
            lines_of(&app.order(&accepted["order_ids"][0]).await),
            [("MUG".to_owned(), 2)]
        );
        let (_, failed) = app
            .inbound_bearer("sheet", b"Order,Item,Qty,Price,Cur\nS-2,MUG,two,3.50,EUR\n")
            .await;
        assert_eq!(failed["status"], "failed", "{failed}");
        assert_eq!(
            failed["error"]["errors"],
            json!([{"row": 2, "column": "Qty", "message": "\"two\" is not a whole quantity"}])
        );
        // A NUL byte (which PostgreSQL's text cannot hold) fails the document at its field, and
        // the document stays in the log byte for byte.
        let with_nul = b"Order,Item,Qty,Price,Cur\nS-3,MU\0G,1,3.50,EUR\n";
        let (status, failed) = app.inbound_bearer("sheet", with_nul).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{failed}");
        assert_eq!(failed["status"], "failed", "{failed}");
        assert!(failed["error"].to_string().contains("NUL"), "{failed}");
        let (status, message) = app
            .get(&format!(
                "/api/v1/providers/sheet/messages/{}",
                failed["message_id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{message}");
        assert_eq!(message["status"], "failed", "{message}");
        assert_eq!(
            message["payload"].as_str().map(str::as_bytes),
            Some(&with_nul[..]),
            "{message}"
        );

        // A map to no iom column is answered when the instance is put, and changes nothing.
        let (status, problem) = app
            .put(
                "/api/v1/providers/sheet",
                json!({"type": "csv", "settings": {"columns": {"Qty": "qty"}}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(
            problem["errors"][0]["field"], "settings.columns.Qty",
            "{problem}"
        );
    }
}
