use reqwest::{Method, StatusCode};

use super::{apps, order_body};

#[tokio::test]
async fn no_token_or_a_wrong_one_is_401_and_a_role_without_the_right_is_403() {
    for app in apps().await {
        let resp = app
            .client
            .get(app.url("/api/v1/orders"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let (status, _) = app
            .call_as("wrong", Method::GET, "/api/v1/orders", None)
            .await;
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
        let (status, _) = app
            .call_as("iom_viewer", Method::GET, "/api/v1/orders", None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = app
            .call_as(
                "iom_viewer",
                Method::POST,
                "/api/v1/orders",
                Some(order_body("v-1", &[1])),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, order) = app
            .call_as(
                "iom_integration",
                Method::POST,
                "/api/v1/orders",
                Some(order_body("i-1", &[1])),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        // An integration feeds facts in; holding orders is an operator's decision.
        let hold = format!("/api/v1/orders/{}/hold", order["id"].as_str().unwrap());
        let (status, _) = app
            .call_as(
                "iom_integration",
                Method::POST,
                &hold,
                Some(serde_json::json!({"reason": "x"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(app.counts().await.0, 1, "{}", app.backend);
    }
}

#[tokio::test]
async fn errors_the_framework_answers_are_problem_json_too() {
    let app = &apps().await[0];
    let send = |method: Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .bearer_auth(super::ADMIN)
            .send()
    };
    // A query parameter of the wrong type: 400, naming the parameter.
    let resp = send(Method::GET, "/api/v1/events?after=soon")
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "after", "{problem}");
    assert_eq!(problem["status"], 400);
    // A method the path does not take: 405 with its Allow header.
    let resp = send(Method::PATCH, "/api/v1/events").await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert!(resp.headers().contains_key("allow"));
}

#[tokio::test]
async fn a_token_revoked_in_one_process_is_refused_by_every_process_within_a_second() {
    for app in apps().await {
        let second = iom_server::spawn(iom_server::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            app: iom_app::Config {
                database_url: app._db.url.clone(),
                admin_token: None,
                master_key: Some("iom test master key".into()),
                flows: false,
                ..Default::default()
            },
        })
        .await
        .unwrap();
        let store = &app.server.state.store;
        store
            .put_token("wms".into(), "integration".into(), "iom_wms".into())
            .await
            .unwrap();
        let on_second = |token: &'static str| {
            app.client
                .get(format!("http://{}/api/v1/orders", second.addr))
                .bearer_auth(token)
                .send()
        };
        // The second process has the token in its cache.
        assert_eq!(on_second("iom_wms").await.unwrap().status(), StatusCode::OK);
        assert!(store.revoke_token("wms".into()).await.unwrap());
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert_eq!(
            on_second("iom_wms").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        second.stop().await;
    }
}

#[tokio::test]
async fn a_token_limited_to_channels_sees_and_changes_only_their_orders() {
    for app in apps().await {
        app.server
            .state
            .store
            .put_limited_token(
                "web-shop".into(),
                "integration".into(),
                "iom_web".into(),
                Some(iom_store::TokenLimits {
                    channels: vec!["web".into()],
                    providers: vec!["shop-eu".into()],
                }),
            )
            .await
            .unwrap();
        let web = app.create_order("w-1", &[1]).await;
        let mut b2b_body = order_body("b-1", &[1]);
        b2b_body["channel"] = "b2b".into();
        let (status, b2b) = app.post("/api/v1/orders", b2b_body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{b2b}");

        // Lists and reads show only the token's channels.
        let (_, page) = app
            .call_as("iom_web", Method::GET, "/api/v1/orders", None)
            .await;
        let ids: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [web["id"].as_str().unwrap()], "{page}");
        let b2b_id = b2b["id"].as_str().unwrap();
        let (status, _) = app
            .call_as(
                "iom_web",
                Method::GET,
                &format!("/api/v1/orders/{b2b_id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Another channel's order cannot be cancelled, nor one captured for it.
        let (status, _) = app
            .call_as(
                "iom_web",
                Method::POST,
                &format!("/api/v1/orders/{b2b_id}/cancel"),
                Some(serde_json::json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(app.order(&b2b["id"]).await["status"], "received");
        b2b_body["external_id"] = "b-2".into();
        let (status, problem) = app
            .call_as("iom_web", Method::POST, "/api/v1/orders", Some(b2b_body))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        let (status, _) = app
            .call_as(
                "iom_web",
                Method::POST,
                "/api/v1/orders",
                Some(order_body("w-2", &[1])),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let web_id = web["id"].as_str().unwrap();
        let (status, cancelled) = app
            .call_as(
                "iom_web",
                Method::POST,
                &format!("/api/v1/orders/{web_id}/cancel"),
                Some(serde_json::json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{cancelled}");

        // No stock, and no other provider's messages.
        let (status, _) = app.call_as("iom_web", Method::POST, "/api/v1/inventory/changes",
            Some(serde_json::json!({"changes": [{"id": "c1", "sku": "SKU-1", "node": "SEA", "kind": "set", "quantity": 100}]})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = app
            .call_as(
                "iom_web",
                Method::GET,
                "/api/v1/providers/shop-us/messages",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}
