//! The default return flow over HTTP with the executor running, as `iom serve` runs it: an RMA
//! gets its run (subject: the return), a label through the return node's provider or as an
//! event, the wait for the receipt, inspection and disposition of units received without one,
//! the refund and the close; concurrent receipts restock once; a new version of the flow leaves
//! a waiting run on its own; a return cancelled while its run waits ends the run. The only
//! stand-in is a webhook receiver (axum on port 0).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ADMIN, TestApp, apps_with_flows};

async fn on_hand(app: &TestApp, sku: &str, node: &str) -> i64 {
    let (status, view) = app.get(&format!("/api/v1/inventory/{sku}")).await;
    if status == StatusCode::NOT_FOUND {
        return 0;
    }
    view["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == node)
        .map_or(0, |n| n["on_hand"].as_i64().unwrap())
}

/// Polls until `done` yields a value; panics with what was last seen after 20 s.
async fn eventually<T>(what: &str, mut done: impl AsyncFnMut() -> (Option<T>, Value)) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (found, seen) = done().await;
        if let Some(v) = found {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: {seen:#}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An order of `quantities` (SKU-1, SKU-2 …) released by the default order flow from SEA and
/// shipped in full.
async fn shipped(app: &TestApp, external_id: &str, quantities: &[u32]) -> String {
    let order = app.create_order(external_id, quantities).await;
    let id = order["id"].as_str().unwrap().to_owned();
    eventually("the order is released", async || {
        let (_, o) = app.get(&format!("/api/v1/orders/{id}")).await;
        ((o["status"] == "released").then_some(()), o)
    })
    .await;
    let lines: Vec<Value> = quantities
        .iter()
        .enumerate()
        .map(|(i, q)| json!({"line_no": i + 1, "quantity": q}))
        .collect();
    let (status, body) = app
        .post(
            &format!("/api/v1/orders/{id}/shipments"),
            json!({"node": "SEA", "lines": lines, "carrier": "UPS", "tracking": "1Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

async fn authorize(app: &TestApp, body: Value) -> String {
    let (status, ret) = app.post("/api/v1/returns", body).await;
    assert_eq!(status, StatusCode::CREATED, "{}: {ret}", app.backend);
    assert_eq!(ret["status"], "authorized");
    ret["id"].as_str().unwrap().to_owned()
}

/// The return runs of the order (the order's own runs left out).
async fn return_runs(app: &TestApp, order_id: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/api/v1/orders/{order_id}/runs")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "return")
        .cloned()
        .collect()
}

/// The run of return `id`, once `done` says it is where the test wants it.
async fn run_of(app: &TestApp, order_id: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    eventually("the return's run", async || {
        let runs = return_runs(app, order_id).await;
        let run = runs.iter().find(|r| r["subject"] == id).cloned();
        (run.clone().filter(|r| done(r)), json!(runs))
    })
    .await
}

fn step<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s["step"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {run:#}"))
}

fn steps(run: &Value) -> Vec<(String, String)> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn waiting_for_receipt(run: &Value) -> bool {
    run["status"] == "waiting" && run["current_step"] == "await-receipt"
}

async fn events(app: &TestApp, kind: &str) -> Vec<Value> {
    let (_, body) = app
        .get(&format!("/api/v1/events?type={kind}&limit=1000"))
        .await;
    body["items"].as_array().unwrap().clone()
}

/// A webhook receiver that accepts everything and keeps the bodies.
async fn hook() -> (SocketAddr, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let state = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                state
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, got)
}

#[tokio::test]
async fn an_rma_runs_the_return_flow_from_label_to_close() {
    for app in apps_with_flows().await {
        let (addr, got) = hook().await;
        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/providers/ret-hook",
                Some(json!({"type": "webhook", "connection": {"url": format!("http://{addr}/hook"), "secret": "s3cret"}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        app.put_seattle_node("SEA", "warehouse", None).await;
        app.put_seattle_node("RET", "store", Some("ret-hook")).await;
        app.stock_delta("SKU-1", "SEA", 10).await;
        app.stock_delta("SKU-2", "SEA", 10).await;
        let order_id = shipped(&app, "RF-1", &[2, 1]).await;

        let id = authorize(
            &app,
            json!({"order_id": order_id, "origin": "online", "node": "RET",
                   "lines": [{"line_no": 1, "quantity": 2, "reason": "damaged"},
                             {"line_no": 2, "quantity": 1, "reason": "changed_mind"}]}),
        )
        .await;
        // The label went through the return node's provider, and the run waits for the receipt.
        let run = run_of(&app, &order_id, &id, waiting_for_receipt).await;
        assert_eq!(run["flow"], "default-return");
        assert_eq!(run["order_id"], order_id.as_str());
        let label = step(&run, "label");
        assert_eq!(label["status"], "succeeded", "{run:#}");
        assert_eq!(label["output"]["label"]["provider"], "ret-hook", "{run:#}");
        assert!(
            label["output"]["label"]["message_id"].is_string(),
            "{run:#}"
        );
        let calls = got.lock().unwrap().clone();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0]["action"], "return_label");
        assert_eq!(calls[0]["document"]["return_id"], id.as_str());
        assert_eq!(calls[0]["document"]["node"], "RET");
        assert!(
            calls[0]["document"]["idempotency_key"]
                .as_str()
                .unwrap()
                .starts_with(run["id"].as_str().unwrap()),
            "{calls:?}"
        );
        assert!(events(&app, "return.label_requested").await.is_empty());

        // Two units of SKU-1 without a disposition (inspection decides), one of SKU-2 restocked
        // by the receipt itself.
        let (status, received) = app
            .post(
                &format!("/api/v1/returns/{id}/receive"),
                json!({"node": "RET", "lines": [
                    {"line_no": 1, "quantity": 1, "condition": "new"},
                    {"line_no": 1, "quantity": 1, "condition": "damaged"},
                    {"line_no": 2, "quantity": 1, "condition": "opened", "disposition": "restock"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{received}");
        assert_eq!(on_hand(&app, "SKU-2", "RET").await, 1, "restocked at once");

        let run = run_of(&app, &order_id, &id, |r| r["status"] == "completed").await;
        assert_eq!(
            steps(&run),
            [
                ("label", "succeeded"),
                ("await-receipt", "succeeded"),
                ("inspect", "succeeded"),
                ("disposition", "succeeded"),
                ("refund", "succeeded"),
                ("close", "succeeded"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned())),
            "{run:#}"
        );
        let decided: Vec<(Value, Value)> = step(&run, "inspect")["output"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["disposition"].clone(), l["decided_by"].clone()))
            .collect();
        assert_eq!(
            decided,
            [
                (json!("restock"), json!("inspection")),
                (json!("scrap"), json!("inspection")),
                (json!("restock"), json!("receipt")),
            ]
        );
        let disposed = &step(&run, "disposition")["output"];
        assert_eq!(
            disposed["restocked"],
            json!([{"line_no": 1, "sku": "SKU-1", "node": "RET", "quantity": 1}]),
            "{disposed}"
        );
        assert_eq!(disposed["units"], json!({"restock": 2, "scrap": 1}));
        assert_eq!(step(&run, "refund")["output"]["amount"], "59.97");
        // Each restocked unit once: one of SKU-1 by inspection, one of SKU-2 by the receipt.
        assert_eq!(on_hand(&app, "SKU-1", "RET").await, 1);
        assert_eq!(on_hand(&app, "SKU-2", "RET").await, 1);

        let (_, ret) = app.get(&format!("/api/v1/returns/{id}")).await;
        assert_eq!(ret["status"], "closed", "{ret}");
        assert_eq!(ret["refund"]["amount"], "59.97", "{ret}");
        let order = app.order(&json!(order_id)).await;
        assert_eq!(order["lines"][0]["returned_quantity"], 2, "{order}");
        assert_eq!(order["lines"][1]["returned_quantity"], 1, "{order}");
        assert_eq!(order["refunded_amount"], "59.97");
        let types: Vec<String> = events(&app, "return.*")
            .await
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types,
            [
                "return.authorized",
                "return.received",
                "return.inspected",
                "return.disposed",
                "return.refunded",
                "return.closed"
            ]
        );
        // The refund API finds it refunded already: the flow and the API never both refund.
        let (status, problem) = app
            .post(&format!("/api/v1/returns/{id}/refund"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert_eq!(return_runs(&app, &order_id).await.len(), 1);
    }
}

#[tokio::test]
async fn twenty_concurrent_receipts_restock_once_with_the_flow_running() {
    for app in apps_with_flows().await {
        app.put_seattle_node("SEA", "warehouse", None).await;
        app.stock_delta("SKU-1", "SEA", 10).await;
        // One receipt states the disposition (the receipt restocks), the other leaves it to the
        // flow (inspection decides, `disposition` restocks).
        for (n, disposition) in [(1, Some("restock")), (2, None)] {
            let order_id = shipped(&app, &format!("RC-{n}"), &[4]).await;
            let before = on_hand(&app, "SKU-1", "SEA").await;
            let id = authorize(
                &app,
                json!({"order_id": order_id, "origin": "app",
                       "lines": [{"line_no": 1, "quantity": 4, "reason": "defective"}]}),
            )
            .await;
            let mut line = json!({"line_no": 1, "quantity": 4, "condition": "new"});
            if let Some(d) = disposition {
                line["disposition"] = json!(d);
            }
            let body = json!({"node": "SEA", "lines": [line]});
            let path = format!("/api/v1/returns/{id}/receive");
            let calls = (0..20).map(|_| app.post(&path, body.clone()));
            let results = futures_util::future::join_all(calls).await;
            let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
            let conflicts = results
                .iter()
                .filter(|(s, _)| *s == StatusCode::CONFLICT)
                .count();
            assert_eq!((ok, conflicts), (1, 19), "{}: {results:?}", app.backend);
            let run = run_of(&app, &order_id, &id, |r| r["status"] == "completed").await;
            let restocked = step(&run, "disposition")["output"]["restocked"].clone();
            match disposition {
                Some(_) => assert_eq!(restocked, json!([]), "{run:#}"),
                None => assert_eq!(restocked[0]["quantity"], 4, "{run:#}"),
            }
            assert_eq!(
                on_hand(&app, "SKU-1", "SEA").await,
                before + 4,
                "{}: restocked exactly once",
                app.backend
            );
            assert_eq!(return_runs(&app, &order_id).await.len(), 1);
            let (_, ret) = app.get(&format!("/api/v1/returns/{id}")).await;
            assert_eq!(ret["status"], "closed", "{ret}");
        }
        assert_eq!(events(&app, "return.received").await.len(), 2);
        assert_eq!(events(&app, "return.refunded").await.len(), 2);
    }
}

const RETURN_V2: &str = "
name: default-return
type: return
trigger: return.authorized
steps:
  - id: await-receipt
    uses: await-receipt
    timeout: 30d
    on_timeout: cancel not_received
  - id: done
    uses: emit-event
    with: {type: test.return_v2}
";

#[tokio::test]
async fn a_return_flow_published_while_a_run_waits_leaves_the_run_on_its_version() {
    for app in apps_with_flows().await {
        app.put_seattle_node("SEA", "warehouse", None).await;
        app.stock_delta("SKU-1", "SEA", 10).await;
        let order_id = shipped(&app, "RV-1", &[2]).await;
        let body = |reference: &str| {
            json!({"order_id": order_id, "origin": "online", "reference": reference,
                   "lines": [{"line_no": 1, "quantity": 1, "reason": "changed_mind"}]})
        };
        let first = authorize(&app, body("first")).await;
        let run = run_of(&app, &order_id, &first, waiting_for_receipt).await;
        assert_eq!(run["version"], 1);
        // No provider at the return node: the label is asked for as an event.
        let requested = events(&app, "return.label_requested").await;
        assert_eq!(requested.len(), 1, "{requested:?}");
        assert_eq!(requested[0]["data"]["return_id"], first.as_str());
        assert_eq!(requested[0]["subject"], order_id.as_str());

        let resp = app
            .client
            .put(app.url("/api/v1/flows/default-return"))
            .bearer_auth(ADMIN)
            .header("content-type", "application/yaml")
            .body(RETURN_V2)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let (status, flow) = app
            .post("/api/v1/flows/default-return/publish", json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{flow}");
        assert_eq!(flow["published_version"], 2);

        let second = authorize(&app, body("second")).await;
        let run = run_of(&app, &order_id, &second, waiting_for_receipt).await;
        assert_eq!(run["version"], 2);

        for id in [&first, &second] {
            let (status, received) = app
                .post(
                    &format!("/api/v1/returns/{id}/receive"),
                    json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 1, "condition": "new"}]}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{received}");
        }
        let run = run_of(&app, &order_id, &first, |r| r["status"] == "completed").await;
        assert_eq!(run["version"], 1, "the waiting run kept its version");
        assert_eq!(step(&run, "close")["status"], "succeeded", "{run:#}");
        let (_, ret) = app.get(&format!("/api/v1/returns/{first}")).await;
        assert_eq!(ret["status"], "closed");

        let run = run_of(&app, &order_id, &second, |r| r["status"] == "completed").await;
        assert_eq!(run["version"], 2);
        let (_, ret) = app.get(&format!("/api/v1/returns/{second}")).await;
        assert_eq!(
            ret["status"], "received",
            "version 2 neither refunds nor closes"
        );
        let v2 = events(&app, "test.return_v2").await;
        assert_eq!(v2.len(), 1);
        assert_eq!(v2[0]["data"]["return_id"], second.as_str());
        // Version 2 has no disposition step: the unit received without one waits for inspection.
        assert_eq!(on_hand(&app, "SKU-1", "SEA").await, 8 + 1);
    }
}

#[tokio::test]
async fn a_return_cancelled_while_its_run_waits_ends_the_run_and_nothing_else() {
    for app in apps_with_flows().await {
        app.put_seattle_node("SEA", "warehouse", None).await;
        app.stock_delta("SKU-1", "SEA", 10).await;
        let order_id = shipped(&app, "RX-1", &[1]).await;
        let id = authorize(
            &app,
            json!({"order_id": order_id, "origin": "store",
                   "lines": [{"line_no": 1, "quantity": 1, "reason": "size_fit"}]}),
        )
        .await;
        run_of(&app, &order_id, &id, waiting_for_receipt).await;
        let (status, body) = app
            .post(
                &format!("/api/v1/returns/{id}/cancel"),
                json!({"reason": "customer_kept_it"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let run = run_of(&app, &order_id, &id, |r| r["status"] == "cancelled").await;
        assert_eq!(step(&run, "await-receipt")["status"], "failed", "{run:#}");
        assert!(
            run["steps"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["step"] != "refund"),
            "{run:#}"
        );
        // The return's cancellation stands as the API made it; its order is not touched.
        let (_, ret) = app.get(&format!("/api/v1/returns/{id}")).await;
        assert_eq!(ret["status"], "cancelled");
        assert_eq!(ret["status_reason"], "customer_kept_it");
        let order = app.order(&json!(order_id)).await;
        assert_eq!(order["status"], "shipped", "{order}");
        assert_eq!(events(&app, "return.cancelled").await.len(), 1);
    }
}
