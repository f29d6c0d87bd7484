//! Business events to webhook subscribers and release webhooks, against a local receiving
//! server that can be switched down and up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use iom_app::pipeline::outbound::{OutboundError, RetryPolicy};
use reqwest::Method;
use serde_json::{Value, json};

use super::apps;

const SECRET: &str = "subscriber-secret-0123";

/// (signature header, body) of a request.
type Received = (String, Vec<u8>);

#[derive(Clone, Default)]
struct Receiver {
    up: Arc<AtomicBool>,
    /// Every accepted request.
    got: Arc<Mutex<Vec<Received>>>,
    refused: Arc<Mutex<usize>>,
}

async fn receiver() -> (SocketAddr, Receiver) {
    let r = Receiver::default();
    r.up.store(true, Ordering::SeqCst);
    let state = r.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                if !state.up.load(Ordering::SeqCst) {
                    *state.refused.lock().unwrap() += 1;
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let signature = headers
                    .get("x-iom-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                state.got.lock().unwrap().push((signature, body.to_vec()));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, r)
}

#[tokio::test]
async fn a_subscriber_that_was_down_receives_every_event_in_order_per_subject() {
    for app in apps().await {
        let (addr, receiver) = receiver().await;
        let (status, sub) = app
            .call(
                Method::PUT,
                "/api/v1/subscriptions/erp",
                Some(json!({"url": format!("http://{addr}/hook"), "types": ["order.*"], "secret": SECRET})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{sub}");
        assert!(!sub.to_string().contains(SECRET));

        receiver.up.store(false, Ordering::SeqCst);
        let mut ids = Vec::new();
        for i in 0..5 {
            let order = app.create_order(&format!("sub-{i}"), &[1, 1]).await;
            let id = order["id"].as_str().unwrap().to_owned();
            let (status, _) = app
                .post(
                    &format!("/api/v1/orders/{id}/hold"),
                    json!({"reason": "credit"}),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            let (status, _) = app
                .post(
                    &format!("/api/v1/orders/{id}/cancel"),
                    json!({"reason": "test"}),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            ids.push(id);
        }
        // Down: the failure is visible and nothing is lost.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, view) = app.get("/api/v1/subscriptions/erp").await;
            if view["attempts"].as_i64().unwrap() >= 2 {
                assert!(
                    view["last_error"].as_str().unwrap().contains("503"),
                    "{view}"
                );
                assert!(view["lag"].as_i64().unwrap() > 0);
                assert_eq!(view["delivered"], 0);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no failed attempt recorded: {view}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        receiver.up.store(true, Ordering::SeqCst);

        let (_, events) = app.get("/api/v1/events?type=order.*&limit=1000").await;
        let expected: Vec<i64> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        while receiver.got.lock().unwrap().len() < expected.len() {
            assert!(Instant::now() < deadline, "not every event arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let got = receiver.got.lock().unwrap().clone();
        let mut seqs = Vec::new();
        let mut per_subject: HashMap<String, Vec<i64>> = HashMap::new();
        for (signature, body) in &got {
            assert_eq!(
                signature,
                &iom_providers::secrets::iom_signature(SECRET, body),
                "signed"
            );
            let event: Value = serde_json::from_slice(body).unwrap();
            let seq = event["seq"].as_i64().unwrap();
            seqs.push(seq);
            per_subject
                .entry(event["subject"].as_str().unwrap().to_owned())
                .or_default()
                .push(seq);
        }
        // Every event, each once at least, and per subject in commit order.
        let mut unique = seqs.clone();
        unique.dedup();
        assert_eq!(unique, expected, "{}", app.backend);
        for id in &ids {
            let seqs = &per_subject[id];
            assert!(seqs.len() >= 3, "{seqs:?}");
            assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{seqs:?}");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (_, view) = app.get("/api/v1/subscriptions/erp").await;
            if view["cursor"] == json!(expected.last().unwrap()) {
                assert_eq!(view["attempts"], 0);
                assert_eq!(view["last_error"], Value::Null);
                break;
            }
            assert!(Instant::now() < deadline, "{view}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(*receiver.refused.lock().unwrap() >= 2);
    }
}

#[tokio::test]
async fn release_to_a_node_is_a_signed_webhook_logged_as_outbound() {
    for app in apps().await {
        let (addr, receiver) = receiver().await;
        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/providers/dc-east",
                Some(json!({"type": "webhook", "connection": {"url": format!("http://{addr}/hook"), "secret": SECRET}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let pipeline = &app.server.state.pipeline;
        let store = &app.server.state.store;
        let document = json!({"order_id": "o-1", "lines": [{"line_no": 1, "quantity": 2}]});
        let policy = RetryPolicy {
            attempts: 3,
            timeout: Duration::from_secs(2),
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
        };
        let delivered = pipeline
            .release_to_node(store, "dc-east", &document, &policy)
            .await
            .unwrap();
        assert_eq!(delivered.attempts, 1);
        let (signature, body) = receiver.got.lock().unwrap()[0].clone();
        assert_eq!(
            signature,
            iom_providers::secrets::iom_signature(SECRET, &body)
        );
        let sent: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["document"], document);

        receiver.up.store(false, Ordering::SeqCst);
        let err = pipeline
            .release_to_node(store, "dc-east", &document, &policy)
            .await
            .unwrap_err();
        let OutboundError::Dead { message_id, .. } = err else {
            panic!("{err}");
        };
        let (_, dead) = app
            .get(&format!("/api/v1/providers/dc-east/messages/{message_id}"))
            .await;
        assert_eq!(dead["status"], "dead");
        assert_eq!(dead["attempts"], 3);
        assert_eq!(dead["direction"], "outbound");
        assert!(dead["error"]["message"].as_str().unwrap().contains("503"));
        let (_, processed) = app
            .get("/api/v1/providers/dc-east/messages?status=processed")
            .await;
        assert_eq!(processed["items"].as_array().unwrap().len(), 1);
        // A webhook instance receives nothing.
        let (status, _) = app.post("/api/v1/inbound/dc-east", json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn events_reach_nats_jetstream() {
    let url = "nats://127.0.0.1:4222";
    if tokio::net::TcpStream::connect("127.0.0.1:4222")
        .await
        .is_err()
    {
        eprintln!("skipped: no NATS server at 127.0.0.1:4222");
        return;
    }
    let db = iom_store::testing::sqlite();
    let server = iom_server::spawn(iom_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        app: iom_app::Config {
            database_url: db.url.clone(),
            admin_token: Some(super::ADMIN.into()),
            master_key: Some("k".into()),
            nats_url: Some(url.into()),
            flows: false,
            ..Default::default()
        },
    })
    .await
    .unwrap();
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let external_id = format!("nats-{}", rand::random::<u32>());
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/api/v1/orders", server.url()))
        .bearer_auth(super::ADMIN)
        .json(&super::order_body(&external_id, &[1]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let order: Value = resp.json().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cursor = server.state.store.read_cursor("nats".into()).await.unwrap();
        if cursor.is_some_and(|c| c.cursor >= 1) {
            break;
        }
        assert!(Instant::now() < deadline, "the publisher did not advance");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The last message on the subject is this order's event.
    let stream = js.get_stream("IOM").await.unwrap();
    let last = stream
        .get_last_raw_message_by_subject("iom.order.received")
        .await
        .unwrap();
    let event: Value = serde_json::from_slice(&last.payload).unwrap();
    assert_eq!(event["subject"], order["id"]);
    server.stop().await;
}

#[tokio::test]
async fn two_processes_on_one_database_deliver_each_event_once() {
    for app in apps().await {
        let second = iom_server::spawn(iom_server::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            app: iom_app::Config {
                database_url: app._db.url.clone(),
                admin_token: None,
                master_key: Some("iom test master key".into()),
                nats_url: None,
                flows: false,
                ..Default::default()
            },
        })
        .await
        .unwrap();
        let (addr, receiver) = receiver().await;
        let (status, _) = app
            .call(
                Method::PUT,
                "/api/v1/subscriptions/both",
                Some(json!({"url": format!("http://{addr}/hook"), "types": ["order.*"], "secret": SECRET})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        for i in 0..20 {
            app.create_order(&format!("two-{i}"), &[1]).await;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while receiver.got.lock().unwrap().len() < 20 {
            assert!(Instant::now() < deadline, "not every event arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Both workers had time to run; still each event once, in order.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let seqs: Vec<i64> = receiver
            .got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| {
                serde_json::from_slice::<Value>(body).unwrap()["seq"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(seqs.len(), 20, "{}: {seqs:?}", app.backend);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        second.stop().await;
    }
}
