use reqwest::StatusCode;

use super::apps;

#[tokio::test]
async fn health_readiness_metrics_and_openapi_answer_without_a_token() {
    for app in apps().await {
        let get = |p: &str| app.client.get(app.url(p)).send();
        assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
        assert_eq!(get("/readyz").await.unwrap().status(), StatusCode::OK);
        app.create_order("m-1", &[1]).await;
        let metrics = get("/metrics").await.unwrap().text().await.unwrap();
        assert!(metrics.contains("iom_http_requests_total"), "{metrics}");
        assert!(metrics.contains("iom_orders_created_total"));

        let doc: serde_json::Value = get("/api/v1/openapi.json").await.unwrap().json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for path in [
            "/api/v1/orders",
            "/api/v1/orders/{id}",
            "/api/v1/orders/{id}/cancel",
            "/api/v1/orders/{id}/lines/{line_no}/cancel",
            "/api/v1/orders/{id}/hold",
            "/api/v1/orders/{id}/release",
            "/api/v1/orders/{id}/shipments",
            "/api/v1/orders/{id}/deliveries",
            "/api/v1/orders/{id}/timeline",
            "/api/v1/events",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
        }
        assert!(doc["components"]["schemas"]["OrderIntake"].is_object());
    }
}

#[tokio::test]
async fn unknown_api_paths_are_problem_json_404() {
    for app in apps().await {
        let resp = app
            .client
            .get(app.url("/api/v1/nothing-here"))
            .bearer_auth(super::ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
}
