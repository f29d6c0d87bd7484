use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{TestApp, apps};

pub async fn put(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, path, Some(body)).await
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_node_is_created_replaced_read_and_listed() {
    for app in apps().await {
        let body = json!({"name": "Seattle DC", "kind": "3pl", "location": {"lat": 47.45, "lon": -122.3},
            "daily_capacity": 100, "safety_stock": 2, "provider": "wms-sea",
            "costs": {"per_shipment": "5.00", "per_unit": "0.25", "per_km": "0.002"}});
        let (status, node) = put(&app, "/api/v1/nodes/SEA", body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {node}", app.backend);
        assert_eq!(node["code"], "SEA");
        assert_eq!(node["kind"], "3pl");
        assert_eq!(node["active"], true, "active defaults to true");
        assert_eq!(node["costs"]["per_unit"], "0.25");
        assert_eq!(node["provider"], "wms-sea");
        assert_eq!(
            node["calendar"]["working_days"].as_array().unwrap().len(),
            5
        );
        assert!(node["updated_at"].is_string());

        let (status, replaced) = put(
            &app,
            "/api/v1/nodes/SEA",
            json!({"kind": "warehouse", "active": false, "location": {"lat": 47.45, "lon": -122.3}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{replaced}");
        assert_eq!(replaced["kind"], "warehouse");
        assert_eq!(replaced["name"], "SEA", "the name defaults to the code");
        assert_eq!(replaced["active"], false);
        assert!(
            replaced.get("provider").is_none(),
            "a replacement drops omitted fields"
        );

        let (status, _) = put(&app, "/api/v1/nodes/ATL", json!({"code": "ATL"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, read) = app.get("/api/v1/nodes/SEA").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read, replaced);
        let (status, list) = app.get("/api/v1/nodes").await;
        assert_eq!(status, StatusCode::OK);
        let codes: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["ATL", "SEA"]);
        assert_eq!(list["next_cursor"], Value::Null);

        let (status, problem) = app.get("/api/v1/nodes/NOPE").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    }
}

#[tokio::test]
async fn an_invalid_node_is_refused_naming_each_field_and_nothing_is_stored() {
    for app in apps().await {
        let (_, events_before) = app.counts().await;
        let (status, problem) = put(
            &app,
            "/api/v1/nodes/BAD",
            json!({"location": {"lat": 91.0, "lon": -200.0},
                   "costs": {"per_shipment": "1", "per_unit": "-0.5", "per_km": "-1"},
                   "max_distance_km": -10}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(
            fields(&problem),
            [
                "location.lat",
                "location.lon",
                "costs.per_unit",
                "costs.per_km",
                "max_distance_km"
            ]
        );

        let (status, problem) = put(&app, "/api/v1/nodes/BAD", json!({"kind": "spaceship"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&problem), ["kind"]);
        let (status, problem) = put(&app, "/api/v1/nodes/BAD", json!({"daily_capacity": -3})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&problem), ["daily_capacity"]);
        let (status, problem) = put(&app, "/api/v1/nodes/BAD", json!({"code": "OTHER"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&problem), ["code"]);
        let (status, _) = put(&app, "/api/v1/nodes/BAD", json!("a node")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        let (_, list) = app.get("/api/v1/nodes").await;
        assert_eq!(list["items"], json!([]));
        assert_eq!(
            app.counts().await.1,
            events_before,
            "a refused request emits nothing"
        );
    }
}

#[tokio::test]
async fn configuration_needs_the_admin_role_and_reading_does_not() {
    for app in apps().await {
        app.server
            .state
            .store
            .put_token("viewer".into(), "viewer".into(), "iom_viewer".into())
            .await
            .unwrap();
        let (status, _) = app
            .call_as(
                "iom_viewer",
                Method::PUT,
                "/api/v1/nodes/SEA",
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app
            .call_as(
                "iom_viewer",
                Method::PUT,
                "/api/v1/fulfillment/profiles/p",
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app
            .call_as("iom_viewer", Method::GET, "/api/v1/nodes", None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app
            .call_as("nobody", Method::GET, "/api/v1/nodes", None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_node_group_must_name_existing_nodes() {
    for app in apps().await {
        put(&app, "/api/v1/nodes/SEA", json!({})).await;
        put(&app, "/api/v1/nodes/PDX", json!({})).await;
        let (status, problem) = put(
            &app,
            "/api/v1/node-groups/west",
            json!({"nodes": ["SEA", "GHOST", "SEA"], "max_distance_km": -1}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(
            fields(&problem),
            ["nodes[2]", "max_distance_km", "nodes[1]"]
        );
        let (status, problem) = put(&app, "/api/v1/node-groups/west", json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&problem), ["nodes"]);

        let (status, group) = put(
            &app,
            "/api/v1/node-groups/west",
            json!({"nodes": ["SEA", "PDX"], "max_distance_km": 800}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{group}");
        assert_eq!(group["name"], "west");
        assert_eq!(group["nodes"], json!(["SEA", "PDX"]));
        let (status, _) = put(&app, "/api/v1/node-groups/west", json!({"nodes": ["SEA"]})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, read) = app.get("/api/v1/node-groups/west").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read["nodes"], json!(["SEA"]));
        assert!(read.get("max_distance_km").is_none());
        let (_, list) = app.get("/api/v1/node-groups").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        let (status, _) = app.get("/api/v1/node-groups/east").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
