//! A batch with a field of the wrong type names it together with every other bad entry, each at
//! its JSON path, and changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{ADMIN, apps};

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_inventory_batch_names_a_fractional_quantity_and_an_unknown_node_together() {
    for app in apps().await {
        app.add_node("WH1", "warehouse", 0).await;
        let (status, problem) = app
            .post(
                "/api/v1/inventory/changes",
                json!({"changes": [
                    {"id": "c0", "sku": "A", "node": "WH1", "kind": "delta", "quantity": 2.5},
                    {"id": "c1", "sku": "A", "node": "WH1", "kind": "delta", "quantity": 3},
                    {"id": "c2", "sku": "A", "node": "WH1", "kind": "set", "quantity": 1},
                    {"id": "c3", "sku": "A", "node": "NOWHERE", "kind": "delta", "quantity": 1},
                    {"id": "c4", "sku": "B", "node": "WH1", "kind": "move", "quantity": 1}
                ]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(
            fields(&problem),
            vec!["changes[0].quantity", "changes[3].node", "changes[4].kind"],
            "{}: {problem}",
            app.backend
        );
        let (_, view) = app.get("/api/v1/inventory/A").await;
        assert_eq!(view["on_hand"], 0, "nothing applied: {view}");
        let (_, events) = app.get("/api/v1/events?type=inventory.changed").await;
        assert_eq!(events["items"], json!([]));
    }
}

#[tokio::test]
async fn a_reservation_batch_names_type_errors_with_the_other_bad_entries() {
    for app in apps().await {
        app.add_node("WH1", "warehouse", 0).await;
        let (status, _) = app
            .post(
                "/api/v1/inventory/changes",
                json!({"changes": [{"id": "c", "sku": "A", "node": "WH1", "kind": "set", "quantity": 10}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, problem) = app
            .post(
                "/api/v1/inventory/reservations/batch",
                json!({"reservations": [
                    {"sku": "A", "node": "WH1", "quantity": 1.5},
                    {"node": "WH1", "quantity": 1},
                    {"sku": "A", "node": "WH1", "quantity": 0},
                    {"sku": "A", "node": "WH1", "quantity": 1, "expires_at": "soon"},
                    {"sku": "A", "node": "WH1", "quantity": 2}
                ]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(
            fields(&problem),
            vec![
                "reservations[0].quantity",
                "reservations[1].sku",
                "reservations[2].quantity",
                "reservations[3].expires_at"
            ],
            "{}: {problem}",
            app.backend
        );
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("1.5"), "the type error is kept: {message}");
        let (_, view) = app.get("/api/v1/inventory/A").await;
        assert_eq!(view["reserved"], 0, "nothing reserved: {view}");
    }
}

#[tokio::test]
async fn an_order_with_a_fractional_quantity_names_its_other_bad_lines_too() {
    for app in apps().await {
        let (status, problem) = app
            .post(
                "/api/v1/orders",
                json!({
                    "channel": "web", "external_id": "T-1", "currency": "USD",
                    "ship_to": {"country": "US", "postal_code": "98101"},
                    "lines": [
                        {"line_no": 1, "sku": "A", "quantity": 1.5, "unit_price": "2.00"},
                        {"line_no": 2, "quantity": 1, "unit_price": "2.00"},
                        {"line_no": 3, "sku": "C", "quantity": 1, "unit_price": "2.00"},
                        {"line_no": "four", "sku": "D", "quantity": 0, "unit_price": "2.00"}
                    ]
                }),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(
            fields(&problem),
            vec![
                "lines[0].quantity",
                "lines[1].sku",
                "lines[3].line_no",
                "lines[3].quantity"
            ],
            "{}: {problem}",
            app.backend
        );
        let (_, list) = app.get("/api/v1/orders").await;
        assert_eq!(list["items"], json!([]), "no order captured");
    }
}

#[tokio::test]
async fn every_field_of_the_wrong_type_is_named_at_once() {
    for app in apps().await {
        let (status, problem) = app
            .post(
                "/api/v1/orders/ORD-NONE/shipments",
                json!({"node": 7, "lines": [
                    {"line_no": 1, "quantity": 0.5},
                    {"line_no": "two", "quantity": 1}
                ]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(
            fields(&problem),
            vec!["lines[0].quantity", "lines[1].line_no", "node"],
            "{}: {problem}",
            app.backend
        );
        // A body that is not JSON at all is still a 400.
        let response = app
            .client
            .post(app.url("/api/v1/orders/ORD-NONE/shipments"))
            .bearer_auth(ADMIN)
            .body(r#"{"lines": [{"quantity": 1.5}], "#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
