//! Who did it: the actor of every business event (a token, a flow, a provider) and the audit log
//! of configuration changes with the documents before and after.

use iom_providers::secrets::shopify_signature;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::providers::{SHOP_SECRET, sample, shopify_instance};
use super::{ADMIN, apps, apps_with_flows};

const ADMIN_NAME: &str = "admin (IOM_ADMIN_TOKEN)";

fn actor(kind: &str, id: &str) -> Value {
    json!({"kind": kind, "id": id})
}

#[tokio::test]
async fn every_event_names_who_caused_it_a_token_a_flow_or_a_provider() {
    for app in apps_with_flows().await {
        let store = &app.server.state.store;
        store
            .put_token("ops desk".into(), "operator".into(), "iom_ops".into())
            .await
            .unwrap();
        let order = app.create_order("actor-1", &[1]).await;
        let id = order["id"].as_str().unwrap().to_owned();
        // The default flow acts on the order in the background (it finds no stock: a backorder).
        let mut acted = false;
        for _ in 0..100 {
            let (_, t) = app.get(&format!("/api/v1/orders/{id}/timeline")).await;
            acted = t["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "event" && e["actor"]["kind"] == "flow");
            if acted {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(acted, "{}: the flow did nothing in 10 s", app.backend);
        let (status, held) = app
            .call_as(
                "iom_ops",
                Method::POST,
                &format!("/api/v1/orders/{id}/hold"),
                Some(json!({"reason": "fraud check"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}: {held}", app.backend);
        let (_, timeline) = app.get(&format!("/api/v1/orders/{id}/timeline")).await;
        let events: Vec<&Value> = timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "event")
            .collect();
        let of = |kind: &str| {
            events
                .iter()
                .find(|e| e["type"] == kind)
                .unwrap_or_else(|| panic!("{}: no {kind} in {timeline}", app.backend))["actor"]
                .clone()
        };
        assert_eq!(of("order.received"), actor("token", ADMIN_NAME));
        assert_eq!(of("order.held"), actor("token", "ops desk"));
        assert!(
            events
                .iter()
                .any(|e| e["actor"]["kind"] == "flow" && e["actor"]["id"] == "default-order"),
            "{}: no event of the default flow in {timeline}",
            app.backend
        );
        assert!(
            events.iter().all(|e| e["actor"].is_object()),
            "every event names its actor: {timeline}"
        );
        // The event feed says the same.
        let (_, feed) = app.get("/api/v1/events?type=order.held").await;
        assert_eq!(feed["items"][0]["actor"], actor("token", "ops desk"));

        // A document a provider sent: its instance acted, whatever token may have been used.
        shopify_instance(&app, "shop").await;
        let doc: Value =
            serde_json::from_slice(&sample("shopify/shopify-api-ruby_order.json")).unwrap();
        let bytes = serde_json::to_vec(&doc["order"]).unwrap();
        let headers = vec![
            (
                "X-Shopify-Hmac-Sha256",
                shopify_signature(SHOP_SECRET, &bytes),
            ),
            ("X-Shopify-Topic", "orders/create".to_owned()),
        ];
        let (status, accepted) = app.inbound("shop", &bytes, &headers).await;
        assert!(status.is_success(), "{status}: {accepted}");
        let (_, feed) = app.get("/api/v1/events?type=order.received").await;
        let from_shop = feed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["data"]["channel"] == "shop" || e["actor"]["kind"] == "provider")
            .unwrap_or_else(|| panic!("no order from the shop in {feed}"));
        assert_eq!(from_shop["actor"], actor("provider", "shop"));
    }
}

#[tokio::test]
async fn configuration_changes_are_logged_with_who_before_and_after() {
    for app in apps().await {
        let store = &app.server.state.store;
        store
            .put_token("deploy".into(), "admin".into(), "iom_deploy".into())
            .await
            .unwrap();
        let put_node = |token: &'static str, body: Value| {
            let app = &app;
            async move {
                app.call_as(token, Method::PUT, "/api/v1/nodes/WH-1", Some(body))
                    .await
            }
        };
        let (status, _) = put_node(ADMIN, json!({"kind": "warehouse", "safety_stock": 1})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = put_node(
            "iom_deploy",
            json!({"kind": "warehouse", "safety_stock": 4}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        // The same document again is no change.
        let (status, _) = put_node(
            "iom_deploy",
            json!({"kind": "warehouse", "safety_stock": 4}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);

        let (status, page) = app.get("/api/v1/audit?subject=node:WH-1").await;
        assert_eq!(status, StatusCode::OK, "{}: {page}", app.backend);
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{}: {page}", app.backend);
        assert_eq!(items[0]["actor"], actor("token", ADMIN_NAME));
        assert_eq!(items[0]["before"], Value::Null);
        assert_eq!(items[0]["after"]["safety_stock"], 1);
        assert_eq!(items[1]["actor"], actor("token", "deploy"));
        assert_eq!(items[1]["before"]["safety_stock"], 1);
        assert_eq!(items[1]["after"]["safety_stock"], 4);

        // By actor, and paging on from the cursor.
        let (_, mine) = app.get("/api/v1/audit?actor=token:deploy").await;
        assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");
        let (_, rest) = app
            .get(&format!(
                "/api/v1/audit?subject=node:*&after={}",
                items[0]["seq"]
            ))
            .await;
        assert_eq!(rest["items"].as_array().unwrap().len(), 1, "{rest}");
        assert_eq!(rest["next_cursor"], items[1]["seq"].to_string());

        // A provider's secrets are never in the log; a new secret shows as a change.
        shopify_instance(&app, "shop").await;
        let (status, _) = app
            .put(
                "/api/v1/providers/shop",
                json!({"type": "shopify", "connection": {"shop": "example.myshopify.com",
                       "access_token": "shpat_rotated", "webhook_secret": SHOP_SECRET}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, log) = app.get("/api/v1/audit?subject=provider:shop").await;
        let text = log.to_string();
        assert_eq!(log["items"].as_array().unwrap().len(), 2, "{log}");
        for secret in ["shpat_secret_token", "shpat_rotated", SHOP_SECRET] {
            assert!(!text.contains(secret), "a secret in the audit log: {text}");
        }
        assert_ne!(
            log["items"][1]["before"]["secrets"]["access_token"],
            log["items"][1]["after"]["secrets"]["access_token"]
        );

        // Flows and policies are configuration too.
        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/policies/big-orders",
                Some(json!({"name": "big-orders", "kind": "filter",
                            "rule": "order.lines.exists(l, l.quantity >= 6)"})),
            )
            .await;
        assert!(status.is_success(), "{status}: {body}");
        let (_, log) = app.get("/api/v1/audit?subject=policy:big-orders").await;
        assert_eq!(log["items"][0]["after"]["version"], 1, "{log}");

        // Only for those who may read all of the configuration; bad cursors are refused.
        let (status, _) = app.get("/api/v1/audit?after=x").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        store
            .put_limited_token(
                "web only".into(),
                "integration".into(),
                "iom_web".into(),
                Some(iom_store::TokenLimits {
                    channels: vec!["web".into()],
                    providers: vec![],
                }),
            )
            .await
            .unwrap();
        let (status, _) = app
            .call_as("iom_web", Method::GET, "/api/v1/audit", None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}
