use reqwest::StatusCode;
use serde_json::{Value, json};

use super::apps;

fn path(order: &Value, action: &str) -> String {
    format!("/api/v1/orders/{}/{action}", order["id"].as_str().unwrap())
}

#[tokio::test]
async fn hold_release_ship_cancel_the_rest_and_deliver() {
    for app in apps().await {
        let order = app.create_order("life-1", &[3, 2]).await;

        let (status, held) = app.post(&path(&order, "hold"), json!({"reason": "credit"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(held["status"], "on_hold");
        assert_eq!(held["status_reason"], "credit");
        // A held order does not ship.
        let ship = json!({"node": "WH-1", "lines": [{"line_no": 1, "quantity": 2}], "carrier": "UPS", "tracking": "1Z999"});
        let (status, _) = app.post(&path(&order, "shipments"), ship.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, released) = app.post(&path(&order, "release"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(released["status"], "received");
        let (status, _) = app.post(&path(&order, "release"), json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "nothing left to release");

        let (status, shipped) = app.post(&path(&order, "shipments"), ship).await;
        assert_eq!(status, StatusCode::OK, "{shipped}");
        assert_eq!(shipped["status"], "partially_shipped");
        assert_eq!(shipped["lines"][0]["shipped_quantity"], 2);
        assert_eq!(shipped["shipments"][0]["tracking"], "1Z999");

        // Shipped quantity cannot be cancelled: not the whole order, not more than is open.
        let (status, problem) = app.post(&path(&order, "cancel"), json!({"reason": "customer"})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        let (status, _) = app.post(&path(&order, "lines/1/cancel"), json!({"quantity": 2})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = app.post(&path(&order, "lines/9/cancel"), json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app.post(&path(&order, "lines/1/cancel"), json!({"quantity": 0})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        let (status, partly) = app.post(&path(&order, "lines/1/cancel"), json!({"quantity": 1, "reason": "customer_request"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(partly["lines"][0]["status"], "shipped");
        assert_eq!(partly["lines"][0]["cancelled_quantity"], 1);
        let (_, rest) = app.post(&path(&order, "lines/2/cancel"), json!({"reason": "customer_request"})).await;
        assert_eq!(rest["lines"][1]["status"], "cancelled");
        assert_eq!(rest["status"], "shipped");
        assert_eq!(rest["totals"]["subtotal"], "39.98");

        let (status, _) = app.post(&path(&order, "deliveries"), json!({"lines": [{"line_no": 1, "quantity": 3}]})).await;
        assert_eq!(status, StatusCode::CONFLICT, "more than shipped");
        let (status, delivered) = app.post(&path(&order, "deliveries"), json!({"lines": [{"line_no": 1, "quantity": 2}]})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(delivered["status"], "delivered");
        let (status, _) = app.post(&path(&order, "hold"), json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT);

        let (status, timeline) = app.get(&path(&order, "timeline")).await;
        assert_eq!(status, StatusCode::OK);
        let kinds: Vec<&str> = timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            vec![
                "order.received",
                "order.held",
                "order.hold_released",
                "order.shipment_created",
                "order.partially_shipped",
                "order.line_cancelled",
                "order.line_cancelled",
                "order.shipped",
                "order.delivery_recorded",
                "order.delivered",
            ],
            "{}",
            app.backend
        );
    }
}

#[tokio::test]
async fn cancelling_an_unshipped_order_releases_every_open_quantity() {
    for app in apps().await {
        let order = app.create_order("cancel-1", &[3, 2]).await;
        let (_, line) = app.post(&path(&order, "lines/2/cancel"), json!({"quantity": 1})).await;
        assert_eq!(line["lines"][1]["cancelled_quantity"], 1);
        assert_eq!(line["status"], "received");
        let (status, cancelled) = app.post(&path(&order, "cancel"), json!({"reason": "fraud"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(cancelled["status_reason"], "fraud");
        assert_eq!(cancelled["totals"]["total"], "0.00");
        let (_, events) = app.get("/api/v1/events?type=order.cancelled").await;
        assert_eq!(
            events["items"][0]["data"]["lines"],
            json!([{"line_no": 1, "quantity": 3}, {"line_no": 2, "quantity": 1}])
        );
        let (status, _) = app.post(&path(&order, "cancel"), json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = app.post(&path(&order, "shipments"), json!({"node": "WH-1", "lines": [{"line_no": 1, "quantity": 1}]})).await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn actions_on_an_unknown_order_are_404_and_bad_bodies_422() {
    for app in apps().await {
        let (status, _) = app.post("/api/v1/orders/01912345-0000-7000-8000-000000000000/cancel", json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let order = app.create_order("bad-1", &[1]).await;
        let (status, problem) = app.post(&path(&order, "shipments"), json!({"lines": [{"line_no": 7, "quantity": 1}]})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["node", "lines[0].line_no"]);
        let (_, unchanged) = app.get(&format!("/api/v1/orders/{}", order["id"].as_str().unwrap())).await;
        assert_eq!(unchanged["version"], 1);
    }
}
