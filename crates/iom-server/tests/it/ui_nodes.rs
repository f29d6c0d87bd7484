//! Nodes in the web UI without JavaScript: created and edited through the form (the API's
//! validation, errors at their field, nothing saved), the map to pick a place on drawn without
//! scripts, what the form does not show kept; a viewer reads and is refused.

use reqwest::StatusCode;
use serde_json::json;

use super::apps;
use super::ui::{UiClient, seed};

#[tokio::test]
async fn a_node_is_created_and_edited_through_its_form() {
    for app in apps().await {
        seed(&app).await;
        let ui = UiClient::sign_in(&app, "admin").await;
        let list = ui.get("/ui/nodes").await;
        assert!(
            list.body.contains("href=\"/ui/nodes/new\""),
            "{}",
            list.body
        );
        assert!(list.body.contains("href=\"/ui/nodes/SEA\""));
        let form = ui.get("/ui/nodes/new").await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains("id=\"pick-map\""), "{}", form.body);
        assert!(form.body.contains("data-scale="));
        // The other nodes are on it.
        assert!(form.body.matches("<circle").count() >= 3, "{}", form.body);

        let fields = |lat: &'static str, per_unit: &'static str| {
            vec![
                ("code", "DAL"),
                ("name", "Dallas DC"),
                ("kind", "3pl"),
                ("lat", lat),
                ("lon", "-96.8"),
                ("daily_capacity", "300"),
                ("safety_stock", "2"),
                ("per_shipment", "4.50"),
                ("per_unit", per_unit),
                ("per_km", "0.002"),
                ("active", "true"),
                ("accepts_returns", "true"),
            ]
        };
        let post = |pairs: Vec<(&'static str, &'static str)>| {
            let mut all = vec![("csrf", ui.csrf.as_str())];
            all.extend(pairs);
            all
        };
        let refused = ui.post("/ui/nodes/new", &post(fields("95", "-1"))).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains("data-field=\"location.lat\">must be between -90 and 90"),
            "{}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains("data-field=\"costs.per_unit\">must not be negative"),
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains("value=\"Dallas DC\""),
            "what was typed stays"
        );
        let (status, _) = app.get("/api/v1/nodes/DAL").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let refused = ui
            .post("/ui/nodes/new", &post(fields("north", "0.25")))
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.body.contains("data-field=\"location.lat\""),
            "{}",
            refused.body
        );
        let (status, _) = app.get("/api/v1/nodes/DAL").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let page = ui
            .submit("/ui/nodes/new", &post(fields("32.78", "0.25")))
            .await;
        assert!(page.body.contains("Node DAL is saved."), "{}", page.body);
        let (_, node) = app.get("/api/v1/nodes/DAL").await;
        assert_eq!(node["kind"], "3pl", "{node}");
        assert_eq!(node["location"]["lat"], 32.78);
        assert_eq!(node["daily_capacity"], 300);
        assert_eq!(node["safety_stock"], 2);
        assert_eq!(node["costs"]["per_unit"], "0.25");
        assert_eq!(node["active"], true);

        // Edit: what the form does not show (the provider) is kept.
        let (status, body) = app
            .call(
                reqwest::Method::PUT,
                "/api/v1/nodes/SEA",
                Some(json!({"name": "Seattle DC", "kind": "warehouse", "location": {"lat": 47.45, "lon": -122.3}, "provider": "edi"})),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let edit = ui.get("/ui/nodes/SEA").await;
        assert!(edit.body.contains("value=\"Seattle DC\""), "{}", edit.body);
        assert!(edit.body.contains("value=\"47.45\""));
        let page = ui
            .submit(
                "/ui/nodes/SEA",
                &[
                    ("csrf", &ui.csrf),
                    ("name", "Seattle DC"),
                    ("kind", "warehouse"),
                    ("lat", "47.45"),
                    ("lon", "-122.3"),
                    ("daily_capacity", ""),
                    ("safety_stock", "3"),
                    ("per_shipment", "5"),
                    ("per_unit", "0"),
                    ("per_km", "0"),
                    ("accepts_returns", "true"),
                ],
            )
            .await;
        assert!(page.body.contains("Node SEA is saved."), "{}", page.body);
        let (_, node) = app.get("/api/v1/nodes/SEA").await;
        assert_eq!(node["active"], false, "unchecked: {node}");
        assert_eq!(node["safety_stock"], 3);
        assert_eq!(node["provider"], "edi", "kept: {node}");
        assert!(node["daily_capacity"].is_null());
    }
}

#[tokio::test]
async fn a_viewer_reads_a_node_but_cannot_change_it() {
    for app in apps().await {
        seed(&app).await;
        let ui = UiClient::sign_in(&app, "viewer").await;
        let page = ui.get("/ui/nodes/SEA").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains(">Save<"), "{}", page.body);
        assert!(!ui.get("/ui/nodes").await.body.contains("/ui/nodes/new"));
        assert_eq!(ui.get("/ui/nodes/new").await.status, StatusCode::FORBIDDEN);
        let refused = ui
            .post(
                "/ui/nodes/SEA",
                &[
                    ("csrf", &ui.csrf),
                    ("name", "Taken"),
                    ("kind", "store"),
                    ("lat", "1"),
                    ("lon", "1"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let (_, node) = app.get("/api/v1/nodes/SEA").await;
        assert_eq!(node["name"], "Seattle DC");
    }
}
