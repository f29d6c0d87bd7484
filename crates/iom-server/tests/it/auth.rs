use reqwest::{Method, StatusCode};

use super::{apps, order_body};

#[tokio::test]
async fn no_token_or_a_wrong_one_is_401_and_a_role_without_the_right_is_403() {
    for app in apps().await {
        let resp = app.client.get(app.url("/api/v1/orders")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let (status, _) = app.call_as("wrong", Method::GET, "/api/v1/orders", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let store = &app.server.state.store;
        store
            .put_token("viewer".into(), "viewer".into(), "iom_viewer".into())
            .await
            .unwrap();
        store
            .put_token("wms".into(), "integration".into(), "iom_integration".into())
            .await
            .unwrap();
        let (status, _) = app.call_as("iom_viewer", Method::GET, "/api/v1/orders", None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = app
            .call_as("iom_viewer", Method::POST, "/api/v1/orders", Some(order_body("v-1", &[1])))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, order) = app
            .call_as("iom_integration", Method::POST, "/api/v1/orders", Some(order_body("i-1", &[1])))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        // An integration feeds facts in; holding orders is an operator's decision.
        let hold = format!("/api/v1/orders/{}/hold", order["id"].as_str().unwrap());
        let (status, _) = app
            .call_as("iom_integration", Method::POST, &hold, Some(serde_json::json!({"reason": "x"})))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(app.counts().await.0, 1, "{}", app.backend);
    }
}
