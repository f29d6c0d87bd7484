//! Fulfilment profiles in the web UI without JavaScript: listed, created and edited through the
//! form (the API's validation, errors at their field, nothing saved, what the form does not
//! show kept); a viewer reads and is refused.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::apps;
use super::ui::UiClient;

#[tokio::test]
async fn a_profile_is_created_and_edited_through_its_form() {
    for app in apps().await {
        let ui = UiClient::sign_in(&app, "admin").await;
        let list = ui.get("/ui/profiles").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("/ui/profiles/new"), "{}", list.body);
        let form = ui.get("/ui/profiles/new").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);

        let fields = |distance: &'static str| {
            vec![
                ("csrf", ui.csrf.as_str()),
                ("name", "nearby"),
                ("objective", "distance"),
                ("max_distance_km", distance),
                ("max_nodes", "2"),
                ("transit_days", "2"),
                ("node_kinds", "warehouse"),
                ("node_kinds", "store"),
                ("exclude_nodes", "MIA, OLD"),
                ("allow_partial", "true"),
                ("respect_capacity", "true"),
            ]
        };
        let refused = ui.post("/ui/profiles/new", &fields("-5")).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains("data-field=\"max_distance_km\""),
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains("value=\"-5\""),
            "what was typed stays"
        );
        let (status, _) = app.get("/api/v1/fulfillment/profiles/nearby").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let page = ui.submit("/ui/profiles/new", &fields("800")).await;
        assert!(
            page.body.contains("Profile nearby is saved."),
            "{}",
            page.body
        );
        let (_, profile) = app.get("/api/v1/fulfillment/profiles/nearby").await;
        assert_eq!(profile["objective"], "distance", "{profile}");
        assert_eq!(profile["max_distance_km"], 800.0);
        assert_eq!(profile["max_nodes"], 2);
        assert_eq!(profile["node_kinds"], json!(["warehouse", "store"]));
        assert_eq!(profile["exclude_nodes"], json!(["MIA", "OLD"]));
        assert_eq!(profile["allow_partial"], true);
        assert_eq!(profile["allow_line_split"], false);
        assert!(
            ui.get("/ui/profiles")
                .await
                .body
                .contains("/ui/profiles/nearby")
        );

        // Tiers written through the API are kept by the form.
        let mut doc = profile.clone();
        doc["tiers"] = json!([["SEA"]]);
        for key in ["name", "updated_at", "warnings"] {
            doc.as_object_mut().unwrap().remove(key);
        }
        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/fulfillment/profiles/nearby",
                Some(doc),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let page = ui
            .submit(
                "/ui/profiles/nearby",
                &[
                    ("csrf", &ui.csrf),
                    ("objective", "cost"),
                    ("max_distance_km", ""),
                    ("max_nodes", "2"),
                    ("transit_days", "3"),
                    ("allow_line_split", "true"),
                ],
            )
            .await;
        assert!(
            page.body.contains("Profile nearby is saved."),
            "{}",
            page.body
        );
        let (_, profile) = app.get("/api/v1/fulfillment/profiles/nearby").await;
        assert_eq!(profile["objective"], "cost", "{profile}");
        assert!(profile["max_distance_km"].is_null());
        assert_eq!(profile["node_kinds"], json!([]));
        assert_eq!(profile["allow_line_split"], true);
        assert_eq!(profile["tiers"], json!([["SEA"]]), "kept: {profile}");
    }
}

#[tokio::test]
async fn a_viewer_reads_profiles_but_cannot_change_them() {
    for app in apps().await {
        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/fulfillment/profiles/fast",
                Some(json!({"objective": "shipments"})),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let ui = UiClient::sign_in(&app, "viewer").await;
        let page = ui.get("/ui/profiles/fast").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains(">Save<"));
        assert!(
            !ui.get("/ui/profiles")
                .await
                .body
                .contains("/ui/profiles/new")
        );
        assert_eq!(
            ui.get("/ui/profiles/new").await.status,
            StatusCode::FORBIDDEN
        );
        let refused = ui
            .post(
                "/ui/profiles/fast",
                &[("csrf", &ui.csrf), ("objective", "cost")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let (_, profile) = app.get("/api/v1/fulfillment/profiles/fast").await;
        assert_eq!(profile["objective"], "shipments");
    }
}
