//! Orchestration over HTTP with the executor running, as `iom serve` runs it: the default order
//! flow, backorders resumed by supply, preorder holds, versions, retries, failures, manual tasks,
//! releases through a node's provider. The only stand-in is a webhook receiver (axum on port 0).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ADMIN, TestApp, apps_with_flows, order_body};

/// A warehouse on the ship-to of `order_body` (Seattle), optionally releasing through a provider.
async fn node(app: &TestApp, code: &str, provider: Option<&str>) {
    app.put_seattle_node(code, "warehouse", provider).await;
}

/// Polls the order until `done` says yes; panics with the order and its runs after 15 s.
async fn wait_order(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
        if done(&order) {
            return order;
        }
        if Instant::now() > deadline {
            let (_, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
            panic!("{}: order {id} is {order}\nruns: {runs:#}", app.backend);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn wait_status(app: &TestApp, id: &str, status: &str) -> Value {
    wait_order(app, id, |o| o["status"] == status).await
}

async fn runs(app: &TestApp, order_id: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/api/v1/orders/{order_id}/runs")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn events_of(app: &TestApp, kind: &str) -> Vec<Value> {
    let (_, body) = app
        .get(&format!("/api/v1/events?type={kind}&limit=1000"))
        .await;
    body["items"].as_array().unwrap().clone()
}

async fn put_flow(app: &TestApp, name: &str, yaml: &str) -> (StatusCode, Value) {
    let resp = app
        .client
        .put(app.url(&format!("/api/v1/flows/{name}")))
        .bearer_auth(ADMIN)
        .header("content-type", "application/yaml")
        .body(yaml.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn publish(app: &TestApp, name: &str) -> Value {
    let (status, body) = app
        .post(&format!("/api/v1/flows/{name}/publish"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn step_statuses(run: &Value) -> Vec<(String, String)> {
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

#[tokio::test]
async fn an_order_with_stock_goes_from_received_to_released_with_no_configuration() {
    for app in apps_with_flows().await {
        node(&app, "SEA", None).await;
        app.stock_delta("SKU-1", "SEA", 10).await;
        app.stock_delta("SKU-2", "SEA", 10).await;
        let order = app.create_order("flow-1", &[2, 3]).await;
        let id = order["id"].as_str().unwrap();
        let released = wait_status(&app, id, "released").await;
        for line in released["lines"].as_array().unwrap() {
            assert_eq!(line["status"], "released", "{released}");
            assert_eq!(line["node"], "SEA");
        }

        let runs = runs(&app, id).await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        let run = &runs[0];
        assert_eq!(run["flow"], "default-order");
        assert_eq!(run["version"], 1);
        assert_eq!(run["status"], "completed", "{run}");
        assert_eq!(
            step_statuses(run),
            [
                ("validate", "succeeded"),
                ("plan", "succeeded"),
                ("reserve", "succeeded"),
                ("release", "succeeded"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );

        // The reservations carry the run and the step that made them.
        let (_, sku) = app.get("/api/v1/inventory/SKU-1").await;
        assert_eq!(sku["reserved"], 2, "{sku}");
        let (_, reservations) = app
            .get(&format!("/api/v1/inventory/reservations?order_id={id}"))
            .await;
        let reference = reservations["items"][0]["reference"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            reference.contains(run["id"].as_str().unwrap()) && reference.contains("reserve"),
            "{reservations}"
        );

        // The node has no provider: the fulfilment request is a business event, once.
        let requests = events_of(&app, "fulfillment.requested").await;
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0]["data"]["node"], "SEA");
        // Each line names the reservation that holds it: the one the run made in this pass.
        let ids = |items: &Value, field: &str| {
            let mut ids: Vec<String> = items
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item[field].to_string())
                .collect();
            ids.sort();
            ids
        };
        let reserved = ids(&reservations["items"], "id");
        let requested = ids(&requests[0]["data"]["lines"], "reservation_id");
        assert_eq!(reserved.len(), 2, "{reservations}");
        assert_eq!(requested, reserved, "{}", requests[0]);
        assert_eq!(events_of(&app, "order.released").await.len(), 1);

        // A released order's reservation cannot be released on its own: the order would stay
        // released with nothing held and the stock be sold twice.
        let (status, problem) = app
            .call(
                Method::DELETE,
                &format!(
                    "/api/v1/inventory/reservations/{}",
                    reserved[0].trim_matches('"')
                ),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(id),
            "{problem}"
        );
        let (_, sku) = app.get("/api/v1/inventory/SKU-1").await;
        assert_eq!(sku["reserved"], 2, "{sku}");

        // The timeline shows every step with its outcome and duration.
        let (_, timeline) = app.get(&format!("/api/v1/orders/{id}/timeline")).await;
        let steps: Vec<&Value> = timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "step")
            .collect();
        assert_eq!(steps.len(), 4, "{timeline}");
        assert!(
            steps.iter().all(|s| s["data"]["status"] == "succeeded"
                && s["data"]["duration_ms"].as_f64().is_some())
        );
        assert_eq!(timeline["items"][0]["type"], "order.received");
    }
}

#[tokio::test]
async fn no_stock_backorders_and_arriving_stock_resumes_the_order() {
    for app in apps_with_flows().await {
        node(&app, "SEA", None).await;
        let order = app.create_order("bo-1", &[4]).await;
        let id = order["id"].as_str().unwrap();
        let backordered = wait_status(&app, id, "backordered").await;
        assert_eq!(backordered["status_reason"], "no_inventory");
        assert_eq!(backordered["lines"][0]["status"], "backordered");
        let run = &runs(&app, id).await[0];
        assert_eq!(run["status"], "backordered", "{run}");
        assert!(
            run["error"]
                .as_str()
                .unwrap()
                .contains("nothing can be sourced")
        );
        // The run will cancel the order if no supply comes (30 days by default).
        assert!(run["wake_at"].is_string(), "{run}");

        // Too little is still too little.
        app.stock_delta("SKU-1", "SEA", 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, still) = app.get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(still["status"], "backordered");

        app.stock_delta("SKU-1", "SEA", 5).await;
        wait_status(&app, id, "released").await;
        let run = &runs(&app, id).await[0];
        assert_eq!(run["status"], "completed", "{run}");
        let (_, sku) = app.get("/api/v1/inventory/SKU-1").await;
        assert_eq!(sku["reserved"], 4, "{sku}");
    }
}

#[tokio::test]
async fn a_preorder_waits_on_hold_until_released() {
    for app in apps_with_flows().await {
        node(&app, "SEA", None).await;
        app.stock_delta("SKU-1", "SEA", 10).await;
        let mut body = order_body("pre-1", &[1]);
        body["attributes"] = json!({"preorder": true});
        let (status, order) = app.post("/api/v1/orders", body).await;
        assert_eq!(status, StatusCode::CREATED, "{order}");
        let id = order["id"].as_str().unwrap();
        let held = wait_status(&app, id, "on_hold").await;
        assert_eq!(held["status_reason"], "preorder");
        let run = &runs(&app, id).await[0];
        assert_eq!(run["status"], "waiting", "{run}");
        assert_eq!(run["current_step"], "preorder-hold");

        let (status, body) = app
            .post(&format!("/api/v1/orders/{id}/release"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        wait_status(&app, id, "released").await;
    }
}

const REVIEWED: &str = "
name: reviewed
type: order
trigger: order.received
priority: 10
steps:
  - id: review
    uses: manual-review
    with: {queue: fraud, reason: check it}
    on_failure: cancel rejected
  - id: announce
    uses: emit-event
    with: {type: test.v1}
";

const REVIEWED_V2: &str = "
name: reviewed
type: order
trigger: order.received
priority: 10
steps:
  - id: announce
    uses: emit-event
    with: {type: test.v2}
";

#[tokio::test]
async fn a_version_published_while_runs_are_in_flight_leaves_them_on_theirs() {
    for app in apps_with_flows().await {
        let (status, v1) = put_flow(&app, "reviewed", REVIEWED).await;
        assert_eq!(status, StatusCode::CREATED, "{v1}");
        assert_eq!(v1["status"], "draft");
        // A draft starts nothing.
        let draft_order = app.create_order("v-0", &[1]).await;
        let draft_id = draft_order["id"].as_str().unwrap();
        wait_order(&app, draft_id, |o| o["status"] != "received").await;
        assert_eq!(runs(&app, draft_id).await[0]["flow"], "default-order");

        publish(&app, "reviewed").await;
        let first = app.create_order("v-1", &[1]).await;
        let first_id = first["id"].as_str().unwrap().to_owned();
        // The higher priority flow took the order: its run waits for the review.
        let deadline = Instant::now() + Duration::from_secs(15);
        let task = loop {
            let (_, tasks) = app.get("/api/v1/tasks?status=open").await;
            if let Some(t) = tasks["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["order_id"] == first_id.as_str())
            {
                break t.clone();
            }
            assert!(Instant::now() < deadline, "no task: {tasks}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        assert_eq!(task["queue"], "fraud");

        let (status, v2) = put_flow(&app, "reviewed", REVIEWED_V2).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(v2["version"], 2);
        let flow = publish(&app, "reviewed").await;
        assert_eq!(flow["published_version"], 2);
        assert_eq!(flow["versions"][1]["status"], "superseded");

        let second = app.create_order("v-2", &[1]).await;
        let second_id = second["id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let r = runs(&app, &second_id).await;
            if r.first().is_some_and(|r| r["status"] == "completed") {
                assert_eq!(r[0]["version"], 2);
                break;
            }
            assert!(Instant::now() < deadline, "{r:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }

        let (status, done) = app
            .post(
                &format!("/api/v1/tasks/{}/complete", task["id"].as_str().unwrap()),
                json!({"decision": "approve", "note": "fine"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["status"], "completed");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let r = runs(&app, &first_id).await;
            if r.first().is_some_and(|r| r["status"] == "completed") {
                assert_eq!(r[0]["version"], 1, "the run keeps its version");
                break;
            }
            assert!(Instant::now() < deadline, "{r:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let v1_events = events_of(&app, "test.v1").await;
        let v2_events = events_of(&app, "test.v2").await;
        assert_eq!(v1_events.len(), 1);
        assert_eq!(v1_events[0]["subject"], first_id.as_str());
        assert_eq!(v2_events.len(), 1);
        assert_eq!(v2_events[0]["subject"], second_id.as_str());

        // A task is decided once.
        let (status, _) = app
            .post(
                &format!("/api/v1/tasks/{}/complete", task["id"].as_str().unwrap()),
                json!({"decision": "reject"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn a_rejected_review_follows_on_failure() {
    for app in apps_with_flows().await {
        put_flow(&app, "reviewed", REVIEWED).await;
        publish(&app, "reviewed").await;
        let order = app.create_order("rej-1", &[1]).await;
        let id = order["id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(15);
        let task = loop {
            let (_, tasks) = app.get("/api/v1/tasks?status=open").await;
            if let Some(t) = tasks["items"].as_array().unwrap().first() {
                break t.clone();
            }
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        app.post(
            &format!("/api/v1/tasks/{}/complete", task["id"].as_str().unwrap()),
            json!({"decision": "reject", "note": "stolen card"}),
        )
        .await;
        let cancelled = wait_status(&app, &id, "cancelled").await;
        assert_eq!(cancelled["status_reason"], "rejected");
        let run = &runs(&app, &id).await[0];
        assert_eq!(run["status"], "cancelled");
        assert!(
            run["error"].as_str().unwrap().contains("stolen card"),
            "{run}"
        );
    }
}

#[tokio::test]
async fn a_bad_definition_is_refused_with_the_place_of_each_error() {
    for app in apps_with_flows().await {
        let yaml = "name: bad\ntype: order\ntrigger: order.received\nsteps:\n  - id: a\n    uses: validate-ordr\n  - id: b\n    uses: hold\n    when: order.chanel == 'web'\n";
        let (status, body) = put_flow(&app, "bad", yaml).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let locations = body["locations"].as_array().unwrap();
        assert_eq!(locations.len(), 2, "{body}");
        assert_eq!(
            (
                locations[0]["line"].as_u64(),
                locations[0]["column"].as_u64()
            ),
            (Some(6), Some(11))
        );
        assert_eq!(locations[1]["line"], 9);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("line 6, column 11")
        );
        let (status, _) = app.get("/api/v1/flows/bad").await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "a refused definition stores nothing"
        );

        // JSON works as well, and its name must be the one in the path.
        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/flows/other",
                Some(
                    json!({"name": "json-flow", "type": "order", "trigger": "order.received",
                            "steps": [{"id": "a", "uses": "validate-order"}]}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["errors"][0]["field"], "name");
        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/flows/json-flow",
                Some(
                    json!({"name": "json-flow", "type": "order", "trigger": "order.received",
                            "steps": [{"id": "a", "uses": "validate-order"}]}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        let (_, list) = app.get("/api/v1/flows").await;
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "default-order",
                "default-return",
                "json-flow",
                "resume-backorders"
            ]
        );
        assert_eq!(list["items"][0]["published_version"], 1);
        assert!(list["items"][2]["published_version"].is_null());
    }
}

/// A webhook receiver that refuses the first `fail_first` requests (503), then accepts.
#[derive(Clone, Default)]
struct Hook {
    fail_first: Arc<AtomicUsize>,
    got: Arc<Mutex<Vec<Value>>>,
    calls: Arc<AtomicUsize>,
}

async fn hook(fail_first: usize) -> (SocketAddr, Hook) {
    let h = Hook::default();
    h.fail_first.store(fail_first, Ordering::SeqCst);
    let state = h.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let n = state.calls.fetch_add(1, Ordering::SeqCst);
                if n < state.fail_first.load(Ordering::SeqCst) {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                state
                    .got
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
    (addr, h)
}

async fn webhook_provider(app: &TestApp, name: &str, addr: SocketAddr) {
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/providers/{name}"),
            Some(json!({"type": "webhook", "connection": {"url": format!("http://{addr}/hook"), "secret": "s3cret"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_node_with_a_provider_gets_the_release_through_it_once() {
    for app in apps_with_flows().await {
        let (addr, hook) = hook(1).await;
        webhook_provider(&app, "dc-hook", addr).await;
        node(&app, "DC", Some("dc-hook")).await;
        app.stock_delta("SKU-1", "DC", 5).await;
        let order = app.create_order("hook-1", &[2]).await;
        let id = order["id"].as_str().unwrap();
        wait_status(&app, id, "released").await;
        let got = hook.got.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0]["action"], "release");
        assert_eq!(got[0]["document"]["order_id"], id);
        assert_eq!(got[0]["document"]["node"], "DC");
        let run = &runs(&app, id).await[0];
        assert!(
            got[0]["document"]["idempotency_key"]
                .as_str()
                .unwrap()
                .starts_with(run["id"].as_str().unwrap())
        );
        // The first call was refused: the step was retried and both attempts are on the run.
        let release: Vec<&Value> = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["step"] == "release")
            .collect();
        assert_eq!(release.len(), 2, "{run}");
        assert_eq!(release[0]["status"], "failed");
        assert!(
            release[0]["error"].as_str().unwrap().contains("503"),
            "{run}"
        );
        assert_eq!(release[1]["status"], "succeeded");
        // No business event for a node that has a provider.
        assert!(events_of(&app, "fulfillment.requested").await.is_empty());
    }
}

const CALLS_OUT: &str = "
name: calls-out
type: order
trigger: order.received
priority: 5
steps:
  - id: notify
    uses: call-provider
    with: {provider: crm, action: release}
    retry: {max_attempts: 3, backoff: exponential, initial: 200ms, max: 1s}
  - id: done
    uses: emit-event
    with: {type: test.notified}
";

#[tokio::test]
async fn a_transient_failure_is_retried_with_backoff_and_a_permanent_one_is_visible_and_retryable()
{
    for app in apps_with_flows().await {
        let (addr, hook) = hook(2).await;
        webhook_provider(&app, "crm", addr).await;
        put_flow(&app, "calls-out", CALLS_OUT).await;
        publish(&app, "calls-out").await;

        // Two refusals, then success: three attempts, each after a longer wait.
        let order = app.create_order("t-1", &[1]).await;
        let id = order["id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(15);
        let run = loop {
            let r = runs(&app, &id).await;
            if r.first().is_some_and(|r| r["status"] == "completed") {
                break r[0].clone();
            }
            assert!(Instant::now() < deadline, "{r:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let attempts: Vec<&Value> = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["step"] == "notify")
            .collect();
        assert_eq!(attempts.len(), 3, "{run}");
        let at = |i: usize| {
            chrono::DateTime::parse_from_rfc3339(attempts[i]["started_at"].as_str().unwrap())
                .unwrap()
        };
        assert!((at(1) - at(0)).num_milliseconds() >= 200, "{run}");
        assert!(
            (at(2) - at(1)).num_milliseconds() >= 400,
            "exponential: {run}"
        );
        assert_eq!(
            attempts
                .iter()
                .map(|a| a["status"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["failed", "failed", "succeeded"]
        );
        assert_eq!(hook.got.lock().unwrap().len(), 1);

        // Refused every time: the failure stands, on the run, and `on_failure: fail` ends it.
        hook.fail_first.store(usize::MAX, Ordering::SeqCst);
        let order = app.create_order("t-2", &[1]).await;
        let id = order["id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(15);
        let run = loop {
            let r = runs(&app, &id).await;
            if r.first().is_some_and(|r| r["status"] == "failed") {
                break r[0].clone();
            }
            assert!(Instant::now() < deadline, "{r:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        assert_eq!(run["current_step"], "notify");
        assert!(run["error"].as_str().unwrap().contains("503"), "{run}");
        let (_, failed) = app.get("/api/v1/runs?status=failed").await;
        assert_eq!(failed["items"].as_array().unwrap().len(), 1);

        // Fixed on the other side, the step is reprocessed by hand and the run completes.
        hook.fail_first.store(0, Ordering::SeqCst);
        let (status, body) = app
            .post(
                &format!("/api/v1/runs/{}/retry", run["id"].as_str().unwrap()),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let r = runs(&app, &id).await;
            if r.first().is_some_and(|r| r["status"] == "completed") {
                break;
            }
            assert!(Instant::now() < deadline, "{r:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(events_of(&app, "test.notified").await.len(), 2);
        // A completed run cannot be retried.
        let (status, _) = app
            .post(
                &format!("/api/v1/runs/{}/retry", run["id"].as_str().unwrap()),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn no_order_stays_received_under_concurrent_capture() {
    for app in apps_with_flows().await {
        node(&app, "SEA", None).await;
        app.stock_delta("SKU-1", "SEA", 10_000).await;
        let app = Arc::new(app);
        let mut tasks = Vec::new();
        for c in 0..20 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..10 {
                    let order = app.create_order(&format!("many-{c}-{i}"), &[1]).await;
                    ids.push(order["id"].as_str().unwrap().to_owned());
                }
                ids
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.extend(t.await.unwrap());
        }
        for id in &ids {
            wait_status(&app, id, "released").await;
        }
        assert_eq!(events_of(&app, "order.released").await.len(), 200);
        assert_eq!(events_of(&app, "fulfillment.requested").await.len(), 200);
        let (_, sku) = app.get("/api/v1/inventory/SKU-1").await;
        assert_eq!(sku["reserved"], 200);
        for id in &ids {
            assert_eq!(runs(&app, id).await.len(), 1);
        }
    }
}
