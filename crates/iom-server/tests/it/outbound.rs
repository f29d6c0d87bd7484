//! Outbound documents over the real pipeline: an 850 in gives an 855 out; shipping it gives an
//! 856 and an 810; releasing lines to partner-run nodes gives a 940 or a signed JSON release.
//! They arrive at a local receiving server (switched down to see retries, the dead letter and a
//! retry from the API), or wait in the message log for pick-up. Every document is parsed back
//! with iom's own X12 parser.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use iom_domain::LineStatus;
use iom_providers::x12;
use serde_json::{Value, json};

use super::providers::sample;
use super::{TestApp, apps};

const SECRET: &str = "partner-secret-42";

/// What the receiver got: (path, headers, body).
type Got = (String, HashMap<String, String>, Vec<u8>);

#[derive(Clone, Default)]
struct Receiver {
    up: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<Got>>>,
    refused: Arc<Mutex<usize>>,
}

impl Receiver {
    async fn start() -> (SocketAddr, Receiver) {
        let r = Receiver::default();
        r.up.store(true, Ordering::SeqCst);
        let state = r.clone();
        let app = axum::Router::new().route(
            "/{path}",
            axum::routing::post(
                move |axum::extract::Path(path): axum::extract::Path<String>,
                      headers: HeaderMap,
                      body: axum::body::Bytes| {
                    let state = state.clone();
                    async move {
                        if !state.up.load(Ordering::SeqCst) {
                            *state.refused.lock().unwrap() += 1;
                            return StatusCode::SERVICE_UNAVAILABLE;
                        }
                        let headers = headers
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect();
                        state
                            .got
                            .lock()
                            .unwrap()
                            .push((path, headers, body.to_vec()));
                        StatusCode::OK
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, r)
    }

    /// Waits until `n` documents arrived at `path`; returns them.
    async fn wait_for(&self, path: &str, n: usize) -> Vec<Got> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got: Vec<Got> = self
                .got
                .lock()
                .unwrap()
                .iter()
                .filter(|g| g.0 == path)
                .cloned()
                .collect();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} documents at /{path}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// An X12 document as sent: its ISA13, its body segments as element lists, its bytes.
type ReadBack = (String, Vec<Vec<String>>, Vec<u8>);

/// (set id, ISA13, the body segments as element lists) of an X12 document.
fn read(doc: &[u8]) -> (String, String, Vec<Vec<String>>) {
    let ix = x12::parse(doc).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(doc)));
    assert!(ix.warnings().is_empty(), "{:?}", ix.warnings());
    let set = ix.transaction_sets().next().unwrap();
    (
        set.id().to_owned(),
        ix.isa().unwrap().get(13).unwrap().to_owned(),
        set.body()
            .map(|s| {
                std::iter::once(s.id())
                    .chain(s.elements().iter().copied())
                    .map(str::to_owned)
                    .collect()
            })
            .collect(),
    )
}

fn segment<'b>(body: &'b [Vec<String>], id: &str) -> &'b Vec<String> {
    body.iter()
        .find(|s| s[0] == id)
        .unwrap_or_else(|| panic!("no {id} in {body:?}"))
}

fn x12_settings(receiver: &str) -> Value {
    json!({"sender_id": "IOMRETAIL", "sender_qualifier": "12", "receiver_id": receiver})
}

const FAST: &str = r#"{"attempts": 3, "timeout_ms": 2000, "backoff_ms": 20, "max_backoff_ms": 50}"#;

async fn messages(app: &TestApp, provider: &str) -> Vec<Value> {
    let (status, page) = app
        .get(&format!("/api/v1/providers/{provider}/messages?limit=100"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// Waits until the outbound messages of `kind` of `provider` are all in `status`.
async fn wait_status(
    app: &TestApp,
    provider: &str,
    kind: &str,
    n: usize,
    status: &str,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found: Vec<Value> = messages(app, provider)
            .await
            .into_iter()
            .filter(|m| m["direction"] == "outbound" && m["kind"] == kind)
            .collect();
        if found.len() == n && found.iter().all(|m| m["status"] == status) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{kind} of {provider}: want {n} {status}, have {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn an_850_order_gets_855_856_and_810_with_retries_and_a_dead_letter() {
    let (addr, receiver) = Receiver::start().await;
    for app in apps().await {
        let path = format!("edi-{}", app.backend);
        let (status, body) = app
            .put(
                "/api/v1/providers/edi",
                json!({"type": "x12",
                       "connection": {"url": format!("http://{addr}/{path}"), "secret": SECRET},
                       "settings": {"default_node": "DC-LAREDO",
                                    "x12": {"sender_id": "IOMRETAIL", "sender_qualifier": "12"},
                                    "delivery": serde_json::from_str::<Value>(FAST).unwrap()}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(!body.to_string().contains(SECRET));
        let (_, accepted) = app
            .inbound_bearer("edi", &sample("x12/EDI.Net_x12.850a.edi"))
            .await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        let order_id = accepted["order_ids"][0].as_str().unwrap().to_owned();
        // Nothing is acknowledged before iom has decided what to do with the lines.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(receiver.wait_for(&path, 0).await.is_empty());
        release_all(&app, order_id.parse().unwrap(), "DC-LAREDO").await;

        // The 855, to the partner that sent the 850, signed.
        let got = receiver.wait_for(&path, 1).await;
        let (_, headers, doc) = &got[0];
        assert_eq!(headers["content-type"], "application/edi-x12");
        assert_eq!(headers["x-iom-document"], "855");
        assert_eq!(
            headers["x-iom-signature"],
            iom_providers::secrets::iom_signature(SECRET, doc)
        );
        let (set, isa13, body) = read(doc);
        assert_eq!(set, "855");
        let bak = segment(&body, "BAK");
        assert_eq!(bak[3], "4600000406");
        assert_eq!(
            x12::outbound::order_of_reference(&bak[8]).map(|u| u.to_string()),
            Some(order_id.clone())
        );
        let ix = x12::parse(doc).unwrap();
        assert_eq!(ix.isa().unwrap().get(8).map(str::trim), Some("000123456"));
        wait_status(&app, "edi", "855", 1, "processed").await;
        let (_, partners) = app.get("/api/v1/providers/edi/partners").await;
        assert_eq!(partners["items"][0]["id"], "000123456", "{partners}");
        assert_eq!(
            partners["items"][0]["learned"]["qualifier"], "01",
            "{partners}"
        );
        assert_eq!(partners["items"][0]["learned"]["usage"], "T", "{partners}");

        // A shipment of two lines: an 856 and an 810.
        let (status, order) = app
            .post(
                &format!("/api/v1/orders/{order_id}/shipments"),
                json!({"node": "DC-LAREDO", "carrier": "UPSN", "tracking": "1Z001",
                       "lines": [{"line_no": 100001, "quantity": 2500}, {"line_no": 200002, "quantity": 1000}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{order}");
        let got = receiver.wait_for(&path, 3).await;
        let mut by_set: HashMap<String, ReadBack> = HashMap::new();
        let mut controls = Vec::new();
        for (_, _, doc) in &got {
            let (set, isa13, body) = read(doc);
            controls.push(isa13.clone());
            by_set.insert(set, (isa13, body, doc.clone()));
        }
        assert_eq!(controls[0], isa13);
        let (_, body_856, doc_856) = &by_set["856"];
        let notices = x12::ship856::notices(&x12::parse(doc_856).unwrap()).unwrap();
        assert_eq!(notices[0].order_ref, "4600000406");
        assert_eq!(notices[0].tracking.as_deref(), Some("1Z001"));
        assert_eq!(
            notices[0]
                .lines
                .iter()
                .map(|l| (l.sku.clone().unwrap(), l.quantity))
                .collect::<Vec<_>>(),
            [
                ("A_QU001-BLK".to_owned(), 2500),
                ("A_QF001-RED".to_owned(), 1000)
            ]
        );
        assert_eq!(segment(body_856, "PRF")[1], "4600000406");
        let (_, body_810, _) = &by_set["810"];
        // 2500 × 2.53 + 1000 × 3.41 = 9735.00
        assert_eq!(segment(body_810, "TDS")[1], "973500");
        assert_eq!(segment(body_810, "BIG")[4], "4600000406");
        // Control numbers from the instance's counter, never twice: the 997 answering the 850
        // took 1, the 855, 856 and 810 took 2, 3 and 4.
        let mut sorted = controls.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ["000000002", "000000003", "000000004"]);

        // The partner is down: the next documents fail, are retried with backoff, then dead.
        receiver.up.store(false, Ordering::SeqCst);
        let refused_before = *receiver.refused.lock().unwrap();
        let (status, _) = app
            .post(
                &format!("/api/v1/orders/{order_id}/shipments"),
                json!({"node": "DC-LAREDO", "lines": [{"line_no": 200001, "quantity": 2000}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let dead = wait_dead(&app, "edi", 2).await;
        assert!(*receiver.refused.lock().unwrap() >= refused_before + 6);
        for m in &dead {
            assert_eq!(m["attempts"], 3, "{m}");
            assert!(
                m["error"]["message"].as_str().unwrap().contains("503"),
                "{m}"
            );
        }
        // Back up: a retry from the API sends each again.
        receiver.up.store(true, Ordering::SeqCst);
        for m in &dead {
            let (status, view) = app
                .post(
                    &format!(
                        "/api/v1/providers/edi/messages/{}/retry",
                        m["id"].as_str().unwrap()
                    ),
                    json!({}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{view}");
            assert_eq!(view["status"], "pending");
        }
        let got = receiver.wait_for(&path, 5).await;
        let last: Vec<String> = got[3..].iter().map(|g| read(&g.2).0).collect();
        assert!(last.contains(&"856".to_owned()) && last.contains(&"810".to_owned()));
        wait_status(&app, "edi", "810", 2, "processed").await;
        // A delivered message is not sent again.
        let m = &dead[0];
        let (status, _) = app
            .post(
                &format!(
                    "/api/v1/providers/edi/messages/{}/retry",
                    m["id"].as_str().unwrap()
                ),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        // Five documents, five control numbers.
        let mut all: Vec<String> = got.iter().map(|g| read(&g.2).1).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5);
        receiver.got.lock().unwrap().retain(|g| g.0 != path);
    }
}

/// Waits until two outbound messages (the second shipment's 856 and 810) are dead.
async fn wait_dead(app: &TestApp, provider: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let dead: Vec<Value> = messages(app, provider)
            .await
            .into_iter()
            .filter(|m| m["direction"] == "outbound" && m["status"] == "dead")
            .collect();
        if dead.len() == n {
            return dead;
        }
        assert!(Instant::now() < deadline, "{dead:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn without_a_url_documents_wait_in_the_log_for_pick_up() {
    for app in apps().await {
        let (status, body) = app
            .put(
                "/api/v1/providers/edi",
                json!({"type": "x12", "settings": {"x12": x12_settings("ACME")}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, accepted) = app
            .inbound_bearer("edi", &sample("x12/EDI.Net_x12.850.edi"))
            .await;
        assert_eq!(accepted["status"], "processed");
        let order_id = accepted["order_ids"][0].as_str().unwrap().to_owned();
        release_all(&app, order_id.parse().unwrap(), "DC-LAREDO").await;
        let ready = wait_status(&app, "edi", "855", 1, "ready").await;
        let (_, m) = app
            .get(&format!(
                "/api/v1/providers/edi/messages/{}",
                ready[0]["id"].as_str().unwrap()
            ))
            .await;
        let (set, _, body) = read(m["payload"].as_str().unwrap().as_bytes());
        assert_eq!(set, "855");
        assert_eq!(segment(&body, "BAK")[3], "1000012");
        let ix = x12::parse(m["payload"].as_str().unwrap().as_bytes()).unwrap();
        // To the partner that sent the 850, as its 997 went, whatever the instance's default.
        assert_eq!(ix.isa().unwrap().get(8).map(str::trim), Some("000123456"));
        let (_, listed) = app.get("/api/v1/providers/edi/messages?status=ready").await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        // Kept for pick-up: nothing to send again.
        let (status, _) = app
            .post(
                &format!(
                    "/api/v1/providers/edi/messages/{}/retry",
                    ready[0]["id"].as_str().unwrap()
                ),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn releasing_lines_sends_a_940_to_an_x12_node_and_leaves_webhook_nodes_to_the_flow() {
    let (addr, receiver) = Receiver::start().await;
    for app in apps().await {
        let wh = format!("wh-{}", app.backend);
        let hook = format!("hook-{}", app.backend);
        let (status, body) = app
            .put(
                "/api/v1/providers/wh-edi",
                json!({"type": "x12",
                       "connection": {"url": format!("http://{addr}/{wh}")},
                       "settings": {"x12": x12_settings("3PLWH"),
                                    "delivery": serde_json::from_str::<Value>(FAST).unwrap()}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, _) = app
            .put(
                "/api/v1/providers/dc-hook",
                json!({"type": "webhook",
                       "connection": {"url": format!("http://{addr}/{hook}"), "secret": SECRET}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let store = &app.server.state.store;
        for (code, provider) in [("WH-3PL", "wh-edi"), ("DC-WEB", "dc-hook")] {
            store
                .put_node(iom_store::nodes::NodeRecord {
                    code: code.into(),
                    kind: "warehouse".into(),
                    active: true,
                    safety_stock: 0,
                    doc: json!({"code": code, "kind": "warehouse", "name": code, "provider": provider}),
                    updated_at: chrono::Utc::now(),
                })
                .await
                .unwrap();
        }
        let order = app.create_order("REL-1", &[3, 2, 1]).await;
        let id: iom_domain::OrderId = order["id"].as_str().unwrap().parse().unwrap();
        store
            .update_order(id, |o, now| {
                let mut events =
                    o.set_line_stage(1, LineStatus::Released, Some("WH-3PL".into()), None, now)?;
                events.extend(o.set_line_stage(
                    2,
                    LineStatus::Released,
                    Some("WH-3PL".into()),
                    None,
                    now,
                )?);
                events.extend(o.set_line_stage(
                    3,
                    LineStatus::Released,
                    Some("DC-WEB".into()),
                    None,
                    now,
                )?);
                Ok(events)
            })
            .await
            .unwrap();
        let (_, o) = app.get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(o["status"], "released", "{o}");

        let got = receiver.wait_for(&wh, 1).await;
        let (set, _, body) = read(&got[0].2);
        assert_eq!(set, "940");
        assert_eq!(segment(&body, "W05")[2], "REL-1");
        let w01: Vec<(String, String)> = body
            .iter()
            .filter(|s| s[0] == "W01")
            .map(|s| (s[5].clone(), s[1].clone()))
            .collect();
        assert_eq!(
            w01,
            [
                ("SKU-1".to_owned(), "3".to_owned()),
                ("SKU-2".to_owned(), "2".to_owned())
            ]
        );
        wait_status(&app, "wh-edi", "940", 1, "processed").await;
        // Each release once, even with the consumer running on; the webhook node is released by
        // the flow step that calls it (flows are off here), never by the consumer as well.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.wait_for(&wh, 1).await.len(), 1);
        assert!(receiver.wait_for(&hook, 0).await.is_empty());
        assert!(messages(&app, "dc-hook").await.is_empty());
    }
}

#[tokio::test]
async fn bad_outbound_and_pull_settings_are_refused_with_their_fields() {
    for app in apps().await {
        let (status, problem) = app
            .put(
                "/api/v1/providers/edi",
                json!({"type": "x12", "settings": {
                    "x12": {"sender_id": "A_SENDER_ID_TOO_LONG", "documents": ["855", "999"]},
                    "delivery": {"attempts": 0, "retries": 3}}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "settings.x12.sender_id",
                "settings.x12.documents",
                "settings.delivery.attempts",
                "settings.delivery.retries"
            ],
            "{problem}"
        );
        let (status, problem) = app
            .put(
                "/api/v1/providers/sheet",
                json!({"type": "csv", "settings": {"pull": {"url": "http://x/orders"}}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "settings.pull");
        let (status, problem) = app
            .put(
                "/api/v1/providers/rest-in",
                json!({"type": "rest", "settings": {"pull": {"url": "ftp://x", "limit": 0}}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "settings.pull");
        // Nothing was stored.
        for name in ["edi", "sheet", "rest-in"] {
            let (status, _) = app.get(&format!("/api/v1/providers/{name}")).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
    }
}

/// Marks every line of an order released at `node`, as the flow would.
async fn release_all(app: &TestApp, id: iom_domain::OrderId, node: &str) {
    let node = node.to_owned();
    app.server
        .state
        .store
        .update_order(id, move |o, now| {
            let mut events = Vec::new();
            let lines: Vec<u32> = o.lines.iter().map(|l| l.line_no).collect();
            for line in lines {
                events.extend(o.set_line_stage(
                    line,
                    LineStatus::Released,
                    Some(node.clone()),
                    None,
                    now,
                )?);
            }
            Ok(events)
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_945_quoting_the_940s_reference_ships_the_order_and_an_invalid_940_is_never_sent() {
    let (addr, receiver) = Receiver::start().await;
    for app in apps().await {
        let wh = format!("wh2-{}", app.backend);
        let (status, body) = app
            .put(
                "/api/v1/providers/wh-edi",
                json!({"type": "x12",
                       "connection": {"url": format!("http://{addr}/{wh}")},
                       "settings": {"x12": x12_settings("3PLWH"),
                                    "delivery": serde_json::from_str::<Value>(FAST).unwrap()}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        app.server
            .state
            .store
            .put_node(iom_store::nodes::NodeRecord {
                code: "WH-3PL".into(),
                kind: "warehouse".into(),
                active: true,
                safety_stock: 0,
                doc: json!({"code": "WH-3PL", "kind": "warehouse", "name": "WH-3PL", "provider": "wh-edi"}),
                updated_at: chrono::Utc::now(),
            })
            .await
            .unwrap();

        // An order number of 30 characters does not fit W0502 (22): the 940 carries a
        // reference instead, and the warehouse's 945 quoting it ships the order.
        let long = "gid-shopify-Order-123456789012";
        let order = app.create_order(long, &[3]).await;
        let id: iom_domain::OrderId = order["id"].as_str().unwrap().parse().unwrap();
        release_all(&app, id, "WH-3PL").await;
        let got = receiver.wait_for(&wh, 1).await;
        let (set, _, body) = read(&got[0].2);
        assert_eq!(set, "940");
        let depositor = segment(&body, "W05")[2].clone();
        assert_ne!(depositor, long);
        assert!(depositor.len() <= 22, "{depositor}");
        let advice = format!(
            "ISA*00*          *00*          *ZZ*3PLWH          *ZZ*IOMRETAIL      *260304*0506*U*00401*000000077*0*T*>~\
             GS*SW*3PLWH*IOMRETAIL*20260304*0506*77*X*004010~ST*945*0001~\
             W06*F*{depositor}*20260304*SHIP-77~N1*SF*WH-3PL*92*WH-3PL~\
             LX*1~W12*CC*3*3*0*EA**SKU-1~W03*3~SE*8*0001~GE*1*77~IEA*1*000000077~"
        );
        let (_, accepted) = app.inbound_bearer("wh-edi", advice.as_bytes()).await;
        assert_eq!(accepted["status"], "processed", "{accepted}");
        let (_, o) = app.get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(o["lines"][0]["shipped_quantity"], 3, "{o}");

        // The warehouse is now a known partner, and its envelope (a test interchange, `T`)
        // is what the next 940 to it follows.
        let (status, partners) = app.get("/api/v1/providers/wh-edi/partners").await;
        assert_eq!(status, StatusCode::OK, "{partners}");
        let partner = &partners["items"][0];
        assert_eq!(partner["id"], "3PLWH", "{partners}");
        assert_eq!(partner["learned"]["usage"], "T", "{partners}");
        assert_eq!(partner["interchanges"], 1);
        let order = app.create_order("AFTER-945", &[1]).await;
        let id: iom_domain::OrderId = order["id"].as_str().unwrap().parse().unwrap();
        release_all(&app, id, "WH-3PL").await;
        let got = receiver.wait_for(&wh, 2).await;
        let ix = x12::parse(&got[1].2).unwrap();
        assert_eq!(ix.isa().unwrap().get(15), Some("T"));
        assert_eq!(ix.isa().unwrap().get(8).map(str::trim), Some("3PLWH"));

        // A SKU longer than W0105 allows (48): the 940 is not sent, and the message log says
        // which element is at fault.
        let mut body = super::order_body("LONG-SKU-1", &[1]);
        body["lines"][0]["sku"] = json!("S".repeat(60));
        let (status, created) = app.post("/api/v1/orders", body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id: iom_domain::OrderId = created["id"].as_str().unwrap().parse().unwrap();
        release_all(&app, id, "WH-3PL").await;
        let deadline = Instant::now() + Duration::from_secs(15);
        let failed = loop {
            let failed: Vec<Value> = messages(&app, "wh-edi")
                .await
                .into_iter()
                .filter(|m| m["kind"] == "940" && m["status"] == "failed")
                .collect();
            if let Some(m) = failed.into_iter().next() {
                break m;
            }
            assert!(Instant::now() < deadline, "no failed 940");
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let message = failed["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("940 W0105"), "{message}");
        assert_eq!(
            receiver.wait_for(&wh, 2).await.len(),
            2,
            "nothing more was sent"
        );
        receiver.got.lock().unwrap().retain(|g| g.0 != wh);
    }
}
