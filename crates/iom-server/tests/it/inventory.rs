use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{TestApp, apps};

async fn change(app: &TestApp, changes: Value) -> (StatusCode, Value) {
    app.post("/api/v1/inventory/changes", json!({"changes": changes}))
        .await
}

async fn node_view(app: &TestApp, sku: &str, node: &str) -> Value {
    let (status, view) = app.get(&format!("/api/v1/inventory/{sku}")).await;
    assert_eq!(status, StatusCode::OK);
    view["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == node)
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_batch_applies_atomically_and_a_replay_changes_nothing() {
    for app in apps().await {
        app.add_node("WH1", "warehouse", 2).await;
        app.add_node("ST1", "store", 0).await;
        let batch = json!([
            {"id": "c1", "sku": "A", "node": "WH1", "kind": "set", "quantity": 10, "reason": "count"},
            {"id": "c2", "sku": "A", "node": "WH1", "kind": "delta", "quantity": -3, "reason": "damage"},
            {"id": "c3", "sku": "A", "node": "ST1", "kind": "delta", "quantity": 4},
            {"id": "c4", "sku": "B", "node": "ST1", "kind": "set", "quantity": 1}
        ]);
        let (status, outcome) = change(&app, batch.clone()).await;
        assert_eq!(status, StatusCode::OK, "{outcome}");
        assert_eq!(outcome["applied"], 4);
        assert_eq!(outcome["duplicates"], 0);
        let (_, view) = app.get("/api/v1/inventory/A").await;
        assert_eq!(view["on_hand"], 11, "{}: {view}", app.backend);
        assert_eq!(view["available"], 9, "safety stock 2 at WH1 is held back");
        let wh1 = node_view(&app, "A", "WH1").await;
        assert_eq!(
            (
                wh1["on_hand"].as_i64(),
                wh1["safety_stock"].as_i64(),
                wh1["available"].as_i64()
            ),
            (Some(7), Some(2), Some(5))
        );
        let (_, events) = app.get("/api/v1/events?type=inventory.changed").await;
        assert_eq!(events["items"].as_array().unwrap().len(), 3);

        let (status, replay) = change(&app, batch).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (replay["applied"].as_i64(), replay["duplicates"].as_i64()),
            (Some(0), Some(4))
        );
        let (_, again) = app.get("/api/v1/inventory/A").await;
        assert_eq!(again, view);
        let (_, events) = app.get("/api/v1/events?type=inventory.changed").await;
        assert_eq!(
            events["items"].as_array().unwrap().len(),
            3,
            "a replay announces nothing"
        );

        // Reserve 5 of A at WH1, then a batch with three bad entries: nothing of it applies.
        let (status, _) = app
            .post(
                "/api/v1/inventory/reservations",
                json!({"sku": "A", "node": "WH1", "quantity": 5}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, problem) = change(
            &app,
            json!([
                {"id": "d1", "sku": "A", "node": "ST1", "kind": "delta", "quantity": 1},
                {"id": "d2", "sku": "A", "node": "NOPE", "kind": "delta", "quantity": 1},
                {"id": "d3", "sku": "A", "node": "WH1", "kind": "set", "quantity": 4},
                {"id": "d4", "sku": "A", "node": "WH1", "kind": "delta", "quantity": 2.5}
            ]),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            vec!["changes[1].node", "changes[3].quantity"],
            "a malformed entry does not hide an unknown node"
        );
        let (status, problem) = change(
            &app,
            json!([
                {"id": "d1", "sku": "A", "node": "ST1", "kind": "delta", "quantity": 1},
                {"id": "d2", "sku": "A", "node": "NOPE", "kind": "delta", "quantity": 1},
                {"id": "d3", "sku": "A", "node": "WH1", "kind": "set", "quantity": 4}
            ]),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, vec!["changes[1].node", "changes[2].quantity"]);
        assert_eq!(
            node_view(&app, "A", "ST1").await["on_hand"],
            4,
            "the good entry was not applied either"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_clients_never_oversell() {
    for app in apps().await {
        app.add_node("WH1", "warehouse", 3).await;
        change(
            &app,
            json!([{"id": "s", "sku": "HOT", "node": "WH1", "kind": "set", "quantity": 40}]),
        )
        .await;
        let mut tasks = Vec::new();
        for i in 0..100 {
            let client = app.client.clone();
            let url = app.url("/api/v1/inventory/reservations");
            tasks.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(super::ADMIN)
                    .json(&json!({"sku": "HOT", "node": "WH1", "quantity": 1, "reference": format!("cart-{i}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }));
        }
        let mut created = 0;
        for t in tasks {
            match t.await.unwrap() {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => {}
                other => panic!("{other}"),
            }
        }
        assert_eq!(
            created, 37,
            "{}: 40 on hand less 3 safety stock",
            app.backend
        );
        let node = node_view(&app, "HOT", "WH1").await;
        assert_eq!(
            (node["reserved"].as_i64(), node["available"].as_i64()),
            (Some(37), Some(0))
        );
    }
}

#[tokio::test]
async fn reservations_expire_within_a_sweep_and_release_is_idempotent() {
    for app in apps().await {
        app.add_node("WH1", "warehouse", 0).await;
        change(
            &app,
            json!([{"id": "s", "sku": "A", "node": "WH1", "kind": "set", "quantity": 5}]),
        )
        .await;
        let expires = (chrono::Utc::now() + chrono::Duration::milliseconds(300)).to_rfc3339();
        let (_, short) = app
            .post(
                "/api/v1/inventory/reservations",
                json!({"sku": "A", "node": "WH1", "quantity": 2, "expires_at": expires}),
            )
            .await;
        let (_, kept) = app
            .post(
                "/api/v1/inventory/reservations",
                json!({"sku": "A", "node": "WH1", "quantity": 1}),
            )
            .await;
        assert_eq!(node_view(&app, "A", "WH1").await["available"], 2);
        tokio::time::sleep(Duration::from_millis(700)).await;
        let (_, expired) = app
            .get(&format!(
                "/api/v1/inventory/reservations/{}",
                short["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(expired["status"], "expired", "{}", app.backend);
        assert_eq!(node_view(&app, "A", "WH1").await["available"], 4);
        let (_, events) = app.get("/api/v1/events?type=reservation.expired").await;
        assert_eq!(events["items"].as_array().unwrap().len(), 1);

        let path = format!(
            "/api/v1/inventory/reservations/{}",
            kept["id"].as_str().unwrap()
        );
        let (status, _) = app.call(Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.call(Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(node_view(&app, "A", "WH1").await["available"], 5);
        let (_, events) = app.get("/api/v1/events?type=reservation.released").await;
        assert_eq!(
            events["items"].as_array().unwrap().len(),
            1,
            "released once"
        );
        let (status, _) = app
            .call(Method::DELETE, "/api/v1/inventory/reservations/nope", None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, problem) = app
            .post(
                "/api/v1/inventory/reservations",
                json!({"sku": "A", "node": "WH1", "quantity": 6}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        let (status, problem) = app
            .post(
                "/api/v1/inventory/reservations",
                json!({"node": "X", "quantity": 0}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn shipping_consumes_reservations_and_cancelling_releases_them() {
    for app in apps().await {
        app.add_node("WH1", "warehouse", 0).await;
        change(
            &app,
            json!([
                {"id": "a", "sku": "SKU-1", "node": "WH1", "kind": "set", "quantity": 10},
                {"id": "b", "sku": "SKU-2", "node": "WH1", "kind": "set", "quantity": 10}
            ]),
        )
        .await;
        let order = app.create_order("inv-1", &[3, 2]).await;
        let id = order["id"].as_str().unwrap();
        for (line, sku, q) in [(1, "SKU-1", 3), (2, "SKU-2", 2)] {
            let (status, _) = app.post("/api/v1/inventory/reservations", json!({"sku": sku, "node": "WH1", "quantity": q, "order_id": id, "line_no": line})).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (status, _) = app
            .post(
                &format!("/api/v1/orders/{id}/shipments"),
                json!({"node": "WH1", "lines": [{"line_no": 1, "quantity": 2}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let one = node_view(&app, "SKU-1", "WH1").await;
        assert_eq!(
            (
                one["on_hand"].as_i64(),
                one["reserved"].as_i64(),
                one["available"].as_i64()
            ),
            (Some(8), Some(1), Some(7)),
            "{}",
            app.backend
        );

        let (status, _) = app
            .post(
                &format!("/api/v1/orders/{id}/lines/2/cancel"),
                json!({"quantity": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(node_view(&app, "SKU-2", "WH1").await["reserved"], 1);
        let (status, _) = app
            .post(&format!("/api/v1/orders/{id}/lines/1/cancel"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app
            .post(&format!("/api/v1/orders/{id}/lines/2/cancel"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        for sku in ["SKU-1", "SKU-2"] {
            assert_eq!(node_view(&app, sku, "WH1").await["reserved"], 0, "{sku}");
        }
        let (_, listed) = app
            .get(&format!("/api/v1/inventory/reservations?order_id={id}"))
            .await;
        assert!(
            listed["items"].as_array().unwrap().is_empty(),
            "nothing is held for the order any more"
        );
        let (_, timeline) = app.get(&format!("/api/v1/orders/{id}/timeline")).await;
        let kinds: Vec<&str> = timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"reservation.consumed") && kinds.contains(&"reservation.released"),
            "{kinds:?}"
        );
    }
}

#[tokio::test]
async fn allocations_ring_fence_stock_for_their_group() {
    for app in apps().await {
        app.add_node("WH1", "warehouse", 0).await;
        change(
            &app,
            json!([{"id": "s", "sku": "A", "node": "WH1", "kind": "set", "quantity": 10}]),
        )
        .await;
        let (status, _) = app
            .call(Method::PUT, "/api/v1/inventory/allocations/web-A", Some(json!({"sku": "A", "node": "WH1", "group": {"kind": "channel", "value": "web"}, "quantity": 6})))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(node_view(&app, "A", "WH1").await["available"], 4);
        let (_, for_web) = app.get("/api/v1/inventory/A?channel=web").await;
        assert_eq!(for_web["available"], 10);
        let (status, _) = app
            .post(
                "/api/v1/inventory/reservations",
                json!({"sku": "A", "node": "WH1", "quantity": 5}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "{}: others cannot use the ring-fenced units",
            app.backend
        );
        let (status, web) = app
            .post(
                "/api/v1/inventory/reservations",
                json!({"sku": "A", "node": "WH1", "quantity": 8, "channel": "web"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(web["from_allocation"], 6);
        assert_eq!(node_view(&app, "A", "WH1").await["available"], 2);
        let (status, _) = app
            .call(Method::PUT, "/api/v1/inventory/allocations/app-A", Some(json!({"sku": "A", "node": "WH1", "group": {"kind": "channel", "value": "app"}, "quantity": 3})))
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "cannot set aside more than is available"
        );
        let (status, _) = app
            .call(
                Method::DELETE,
                &format!(
                    "/api/v1/inventory/reservations/{}",
                    web["id"].as_str().unwrap()
                ),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            node_view(&app, "A", "WH1").await["available"],
            4,
            "the ring-fence is restored"
        );
        let (status, _) = app
            .call(Method::DELETE, "/api/v1/inventory/allocations/web-A", None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            node_view(&app, "A", "WH1").await["available"],
            10,
            "removed: everyone may use it"
        );
        let (status, _) = app
            .call(Method::DELETE, "/api/v1/inventory/allocations/web-A", None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn atp_safety_stock_attributes_and_low_stock() {
    for app in apps().await {
        app.add_node("WH1", "warehouse", 0).await;
        app.add_node("ST1", "store", 0).await;
        for (sku, colour) in [("TEE-R-M", "red"), ("TEE-R-L", "red"), ("TEE-B-M", "blue")] {
            let (status, _) = app.call(Method::PUT, &format!("/api/v1/skus/{sku}"), Some(json!({"attributes": {"style": "TEE", "colour": colour}, "low_threshold": 5}))).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        change(
            &app,
            json!([
                {"id": "1", "sku": "TEE-R-M", "node": "WH1", "kind": "set", "quantity": 10},
                {"id": "2", "sku": "TEE-R-L", "node": "ST1", "kind": "set", "quantity": 4},
                {"id": "3", "sku": "TEE-B-M", "node": "WH1", "kind": "set", "quantity": 7}
            ]),
        )
        .await;
        let (_, groups) = app.get("/api/v1/inventory/groups?attribute=colour").await;
        assert_eq!(
            groups,
            json!([
                {"value": "blue", "skus": 1, "on_hand": 7, "reserved": 0, "available": 7},
                {"value": "red", "skus": 2, "on_hand": 14, "reserved": 0, "available": 14}
            ]),
            "{}",
            app.backend
        );
        let (_, many) = app
            .get("/api/v1/inventory?skus=TEE-R-M,TEE-R-L,TEE-R-M&nodes=ST1")
            .await;
        // In the order asked, a SKU asked for twice given twice.
        assert_eq!(many["items"][0]["sku"], "TEE-R-M");
        assert_eq!(many["items"][0]["on_hand"], 0);
        assert_eq!(many["items"][1]["sku"], "TEE-R-L");
        assert_eq!(many["items"][1]["available"], 4);
        assert_eq!(many["items"][1]["nodes"][0]["node"], "ST1");
        assert_eq!(many["items"][2], many["items"][0]);
        let (_, view) = app.get("/api/v1/inventory/TEE-R-M").await;
        assert_eq!(view["by_kind"][0]["kind"], "warehouse");

        let (status, balance) = app
            .call(
                Method::PUT,
                "/api/v1/inventory/TEE-R-M/nodes/WH1/safety-stock",
                Some(json!({"quantity": 6})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(balance["available"], 4);
        // `inventory.low` is announced when available falls below the threshold, not when a
        // receipt leaves it still below (TEE-R-L came in at 4).
        let (_, low) = app.get("/api/v1/events?type=inventory.low").await;
        assert_eq!(
            low["items"].as_array().unwrap().len(),
            1,
            "the safety stock took TEE-R-M below 5"
        );
        change(
            &app,
            json!([{"id": "4", "sku": "TEE-B-M", "node": "WH1", "kind": "delta", "quantity": -3}]),
        )
        .await;
        change(
            &app,
            json!([{"id": "5", "sku": "TEE-B-M", "node": "WH1", "kind": "delta", "quantity": -1}]),
        )
        .await;
        let (_, low) = app.get("/api/v1/events?type=inventory.low").await;
        let skus: Vec<&str> = low["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["data"]["sku"].as_str().unwrap())
            .collect();
        assert_eq!(skus, vec!["TEE-R-M", "TEE-B-M"]);

        // ATP: 4 available now at WH1 (10 less 6 safety), 5 arriving in 2 days, 7 due in 3 days.
        let now = chrono::Utc::now();
        let (status, _) = app.post("/api/v1/inventory/supply", json!({"id": "po-1", "sku": "TEE-R-M", "node": "WH1", "quantity": 5, "expected_at": (now + chrono::Duration::days(2)).to_rfc3339()})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = app.post("/api/v1/inventory/supply", json!({"id": "po-1", "sku": "TEE-R-M", "node": "WH1", "quantity": 5, "expected_at": now.to_rfc3339()})).await;
        assert_eq!(status, StatusCode::OK, "the same id again changes nothing");
        app.post("/api/v1/inventory/demand", json!({"id": "d-1", "sku": "TEE-R-M", "node": "WH1", "quantity": 7, "due_at": (now + chrono::Duration::days(3)).to_rfc3339()})).await;
        let (status, atp) = app
            .get("/api/v1/inventory/TEE-R-M/atp?node=WH1&days=5")
            .await;
        assert_eq!(status, StatusCode::OK);
        let projected: Vec<i64> = atp
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["projected"].as_i64().unwrap())
            .collect();
        let promisable: Vec<i64> = atp
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["atp"].as_i64().unwrap())
            .collect();
        assert_eq!(projected, vec![4, 4, 9, 2, 2]);
        assert_eq!(promisable, vec![2, 2, 2, 2, 2]);
        let (status, _) = app.get("/api/v1/inventory/TEE-R-M/atp?days=181").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, scheduled) = app.get("/api/v1/events?type=supply.scheduled").await;
        assert_eq!(scheduled["items"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_reservation_batch_is_all_or_nothing() {
    for app in apps().await {
        app.add_node("WH1", "warehouse", 0).await;
        change(
            &app,
            json!([
                {"id": "a", "sku": "A", "node": "WH1", "kind": "set", "quantity": 5},
                {"id": "b", "sku": "B", "node": "WH1", "kind": "set", "quantity": 1}
            ]),
        )
        .await;
        let (status, problem) = app
            .post(
                "/api/v1/inventory/reservations/batch",
                json!({"reservations": [
                    {"sku": "A", "node": "WH1", "quantity": 3, "order_id": "o-1", "line_no": 1},
                    {"sku": "B", "node": "WH1", "quantity": 2, "order_id": "o-1", "line_no": 2},
                    {"sku": "A", "node": "WH1", "quantity": 3, "order_id": "o-1", "line_no": 3}
                ]}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("reservations[1]") && detail.contains("reservations[2]"),
            "{detail}"
        );
        assert!(!detail.contains("reservations[0]"));
        assert_eq!(
            node_view(&app, "A", "WH1").await["reserved"],
            0,
            "{}: nothing was held",
            app.backend
        );
        let (status, made) = app
            .post(
                "/api/v1/inventory/reservations/batch",
                json!({"reservations": [
                    {"sku": "A", "node": "WH1", "quantity": 3},
                    {"sku": "B", "node": "WH1", "quantity": 1},
                    {"sku": "A", "node": "WH1", "quantity": 2}
                ]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(made["items"].as_array().unwrap().len(), 3);
        assert_eq!(node_view(&app, "A", "WH1").await["available"], 0);
        let (status, problem) = app
            .post(
                "/api/v1/inventory/reservations/batch",
                json!({"reservations": [{"sku": "A", "node": "ZZ", "quantity": 0}]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "reservations[0].quantity");
    }
}
