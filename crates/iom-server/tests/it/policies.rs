//! Stored policies over HTTP with the executor running: versions, checks at the place of each
//! error, filter policies choosing flows and skipping steps, `apply-policy` setting values on
//! the order, critical checks failing a step, and runs keeping the versions they started with.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ADMIN, TestApp, apps_with_flows};

async fn put_text(app: &TestApp, path: &str, yaml: &str) -> (StatusCode, Value) {
    let resp = app
        .client
        .put(app.url(path))
        .bearer_auth(ADMIN)
        .header("content-type", "application/yaml")
        .body(yaml.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn put_policy(app: &TestApp, name: &str, yaml: &str) -> (StatusCode, Value) {
    put_text(app, &format!("/api/v1/policies/{name}"), yaml).await
}

/// Stores and publishes a flow; panics when either is refused.
async fn flow(app: &TestApp, name: &str, yaml: &str) {
    let (status, body) = put_text(app, &format!("/api/v1/flows/{name}"), yaml).await;
    assert_eq!(status, StatusCode::CREATED, "{}: {body}", app.backend);
    let (status, body) = app
        .post(&format!("/api/v1/flows/{name}/publish"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The order's runs once the first has ended; panics with them after 15 s.
async fn ended_runs(app: &TestApp, order_id: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = app.get(&format!("/api/v1/orders/{order_id}/runs")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let runs = body["items"].as_array().unwrap().clone();
        let ended = runs.first().is_some_and(|r| {
            matches!(
                r["status"].as_str(),
                Some("completed" | "failed" | "held" | "cancelled" | "backordered")
            )
        });
        if ended {
            return runs;
        }
        assert!(
            Instant::now() < deadline,
            "{}: runs of {order_id}: {runs:#?}",
            app.backend
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
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

async fn order(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

const BIG_ORDERS: &str = "\
name: big-orders
kind: filter
rule: order.lines.exists(l, l.quantity >= 5)
";

#[tokio::test]
async fn a_policy_is_checked_at_the_place_of_each_error_and_stored_as_versions() {
    for app in apps_with_flows().await {
        // A CEL type error: a number compared with a string.
        let bad = "name: big-orders\nkind: filter\nrule: order.totals.total > \"500\"\n";
        let (status, body) = put_policy(&app, "big-orders", bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let locations = body["locations"].as_array().unwrap();
        assert_eq!(locations.len(), 1, "{body}");
        assert_eq!(locations[0]["line"], 3, "{body}");
        assert!(locations[0]["column"].as_u64().unwrap() >= 7, "{body}");
        assert_eq!(body["errors"][0]["field"], "rule", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("cannot compare"),
            "{body}"
        );
        let (status, _) = app.get("/api/v1/policies/big-orders").await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "a refused policy stores nothing"
        );

        let (status, v1) = put_policy(&app, "big-orders", BIG_ORDERS).await;
        assert_eq!(status, StatusCode::CREATED, "{v1}");
        assert_eq!(
            (v1["version"].as_i64(), v1["kind"].as_str()),
            (Some(1), Some("filter"))
        );
        // JSON as well; a stated version must be the one the policy gets.
        let (status, v2) = app
            .call(
                Method::PUT,
                "/api/v1/policies/big-orders",
                Some(json!({"name": "big-orders", "version": 2, "kind": "filter",
                            "rule": "order.lines.exists(l, l.quantity >= 6)"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v2}");
        assert_eq!(v2["version"], 2);
        let (status, body) =
            put_policy(&app, "big-orders", &format!("{BIG_ORDERS}version: 2\n")).await;
        assert_eq!(status, StatusCode::CONFLICT, "a stale version: {body}");
        // A policy keeps its kind: flows name it for one use.
        let (status, body) = put_policy(
            &app,
            "big-orders",
            "name: big-orders\nkind: execution\nchecks:\n  - name: any\n    rule: true\n",
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (status, body) = put_policy(&app, "other-name", BIG_ORDERS).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["errors"][0]["field"], "name");

        let (status, list) = app.get("/api/v1/policies").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(
            list["items"],
            json!([{"name": "big-orders", "kind": "filter", "latest_version": 2,
                    "updated_at": v2["created_at"]}])
        );
        let (status, detail) = app.get("/api/v1/policies/big-orders").await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        assert_eq!(detail["latest_version"], 2);
        let versions = detail["versions"].as_array().unwrap();
        assert_eq!(versions.len(), 2, "{detail}");
        assert_eq!(versions[0]["version"], 2);
        assert_eq!(versions[0]["format"], "json");
        assert_eq!(versions[1]["version"], 1);
        assert_eq!(versions[1]["source"], BIG_ORDERS);
        assert_eq!(versions[1]["format"], "yaml");

        // Readers may look but not change.
        app.server
            .state
            .store
            .put_token("viewer".into(), "viewer".into(), "iom_policy_viewer".into())
            .await
            .unwrap();
        let (status, _) = app
            .call_as("iom_policy_viewer", Method::GET, "/api/v1/policies", None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app
            .call_as(
                "iom_policy_viewer",
                Method::PUT,
                "/api/v1/policies/big-orders",
                Some(json!({"name": "big-orders", "kind": "filter", "rule": "true"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (_, doc) = app.get("/api/v1/openapi.json").await;
        assert!(doc["paths"]["/api/v1/policies/{name}"]["put"].is_object());
        assert!(doc["paths"]["/api/v1/policies"]["get"].is_object());
    }
}

const BIG_FLOW: &str = "\
name: big
type: order
trigger: order.received
filter: big-orders
priority: 10
steps:
  - id: mark
    uses: set-attribute
    with: {name: route, value: big}
";

const TAGGING_FLOW: &str = "\
name: tagging
type: order
trigger: order.received
when: order.channel == 'web'
priority: 5
steps:
  - id: tag-big
    uses: set-attribute
    filter: [big-orders]
    with: {name: size, value: big}
  - id: tag-all
    uses: set-attribute
    with: {name: seen, value: true}
";

#[tokio::test]
async fn a_filter_policy_chooses_the_flow_and_skips_steps_for_orders_that_do_not_pass() {
    for app in apps_with_flows().await {
        // A flow naming a policy that is not stored, or one of the wrong kind, is refused at
        // the place of the name.
        let (status, body) = put_text(&app, "/api/v1/flows/big", BIG_FLOW).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["locations"][0]["line"], 4, "{body}");
        assert!(
            body["locations"][0]["message"]
                .as_str()
                .unwrap()
                .contains("unknown policy `big-orders`"),
            "{body}"
        );
        let (status, body) = put_policy(
            &app,
            "tidy",
            "name: tidy\nkind: execution\nchecks:\n  - name: any\n    rule: true\n",
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = put_text(
            &app,
            "/api/v1/flows/big",
            &BIG_FLOW.replace("filter: big-orders", "filter: tidy"),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["locations"][0]["message"]
                .as_str()
                .unwrap()
                .contains("expected a filter policy"),
            "{body}"
        );

        let (status, body) = put_policy(&app, "big-orders", BIG_ORDERS).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        flow(&app, "big", BIG_FLOW).await;

        let big = app.create_order("pol-big", &[5]).await;
        let small = app.create_order("pol-small", &[1]).await;
        let runs = ended_runs(&app, big["id"].as_str().unwrap()).await;
        assert_eq!(runs.len(), 1, "{runs:#?}");
        assert_eq!(runs[0]["flow"], "big", "{runs:#?}");
        assert_eq!(runs[0]["status"], "completed", "{runs:#?}");
        assert_eq!(
            order(&app, big["id"].as_str().unwrap()).await["attributes"]["route"],
            "big"
        );
        // The other order falls to the default flow.
        let runs = ended_runs(&app, small["id"].as_str().unwrap()).await;
        assert_eq!(runs[0]["flow"], "default-order", "{runs:#?}");
        assert!(order(&app, small["id"].as_str().unwrap()).await["attributes"]["route"].is_null());

        // A step's filter: the step is skipped for orders that do not pass.
        let (status, body) = app.post("/api/v1/flows/big/unpublish", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        flow(&app, "tagging", TAGGING_FLOW).await;
        let big = app.create_order("pol-big-2", &[7]).await;
        let small = app.create_order("pol-small-2", &[2]).await;
        for (order_id, tagged) in [(&big, true), (&small, false)] {
            let id = order_id["id"].as_str().unwrap();
            let runs = ended_runs(&app, id).await;
            assert_eq!(runs[0]["flow"], "tagging", "{runs:#?}");
            assert_eq!(runs[0]["status"], "completed", "{runs:#?}");
            let expected = if tagged { "succeeded" } else { "skipped" };
            assert_eq!(step(&runs[0], "tag-big")["status"], expected, "{runs:#?}");
            assert_eq!(step(&runs[0], "tag-all")["status"], "succeeded");
            let attributes = &order(&app, id).await["attributes"];
            assert_eq!(attributes["seen"], true, "{attributes}");
            assert_eq!(
                attributes["size"].as_str(),
                tagged.then_some("big"),
                "{attributes}"
            );
        }
    }
}

const ROUTING_V1: &str = r#"
name: routing
kind: execution
checks:
  - name: vip
    rule: has(order.attributes.vip)
    criticality: info
    message: not a VIP order
  - name: has-address
    rule: order.ship_to.country != null
    criticality: critical
actions:
  - set: line.node
    when: line.sku == "SKU-1"
    value: '"SEA"'
  - set: line.attributes.handling
    value: '"bulky"'
  - set: order.attributes.routed_by
    value: '"routing v1"'
"#;

const ROUTING_FLOW: &str = "\
name: routed
type: order
trigger: order.received
priority: 10
steps:
  - id: review
    uses: manual-review
    when: order.lines.exists(l, l.quantity == 3)
    with: {queue: routing}
  - id: route
    uses: apply-policy
    with: {policy: routing}
";

#[tokio::test]
async fn apply_policy_sets_values_on_the_order_and_a_run_keeps_the_version_it_started_with() {
    for app in apps_with_flows().await {
        let (status, body) = put_policy(&app, "routing", ROUTING_V1).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        flow(&app, "routed", ROUTING_FLOW).await;

        let first = app.create_order("route-1", &[2, 1]).await;
        let id = first["id"].as_str().unwrap();
        let runs = ended_runs(&app, id).await;
        assert_eq!(runs[0]["status"], "completed", "{runs:#?}");
        let route = step(&runs[0], "route");
        assert_eq!(route["status"], "succeeded", "{route}");
        let output = &route["output"];
        assert_eq!(
            (output["policy"].as_str(), output["version"].as_i64()),
            (Some("routing"), Some(1))
        );
        // The info check failed and is only reported.
        assert_eq!(
            output["checks"],
            json!([
                {"name": "vip", "criticality": "info", "passed": false, "message": "not a VIP order"},
                {"name": "has-address", "criticality": "critical", "passed": true, "message": null},
            ])
        );
        let routed = order(&app, id).await;
        assert_eq!(routed["lines"][0]["node"], "SEA", "{routed}");
        assert!(routed["lines"][1]["node"].is_null(), "{routed}");
        assert_eq!(
            routed["lines"][0]["attributes"]["handling"], "bulky",
            "{routed}"
        );
        assert_eq!(
            routed["lines"][1]["attributes"]["handling"], "bulky",
            "{routed}"
        );
        assert_eq!(routed["attributes"]["routed_by"], "routing v1", "{routed}");
        let (_, events) = app
            .get("/api/v1/events?type=order.policy_applied&limit=100")
            .await;
        let events = events["items"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["subject"], id);
        assert_eq!(events[0]["data"]["version"], 1);

        // A run that started on version 1 waits for a review while version 2 is stored; it
        // finishes on version 1, and a run started afterwards uses version 2.
        let waiting = app.create_order("route-2", &[3]).await;
        let waiting_id = waiting["id"].as_str().unwrap();
        let task = wait_task(&app, waiting_id).await;
        let (status, body) = put_policy(
            &app,
            "routing",
            &ROUTING_V1.replace("routing v1", "routing v2"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["version"], 2);
        let later = app.create_order("route-3", &[1]).await;
        let later_id = later["id"].as_str().unwrap();
        let runs = ended_runs(&app, later_id).await;
        assert_eq!(step(&runs[0], "route")["output"]["version"], 2, "{runs:#?}");
        assert_eq!(
            order(&app, later_id).await["attributes"]["routed_by"],
            "routing v2"
        );

        let (status, body) = app
            .post(
                &format!("/api/v1/tasks/{task}/complete"),
                json!({"decision": "approve"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let runs = ended_runs(&app, waiting_id).await;
        assert_eq!(runs[0]["status"], "completed", "{runs:#?}");
        assert_eq!(step(&runs[0], "route")["output"]["version"], 1, "{runs:#?}");
        assert_eq!(
            order(&app, waiting_id).await["attributes"]["routed_by"],
            "routing v1"
        );
    }
}

/// The open task of an order's run.
async fn wait_task(app: &TestApp, order_id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, tasks) = app.get("/api/v1/tasks?status=open").await;
        if let Some(task) = tasks["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["order_id"] == order_id)
        {
            return task["id"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{}: no task for {order_id}",
            app.backend
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

const LIMITS: &str = "\
name: limits
kind: execution
checks:
  - name: few-units
    rule: order.lines.all(l, l.quantity <= 10)
    message: more than 10 units of one line
actions:
  - set: order.attributes.limits_checked
    value: 'true'
";

const LIMITED_FLOW: &str = "\
name: limited
type: order
trigger: order.received
priority: 10
steps:
  - id: validate
    uses: validate-order
  - id: limits
    uses: apply-policy
    with: {policy: limits}
    on_failure: hold policy_failed
";

#[tokio::test]
async fn a_critical_check_that_fails_fails_the_step_and_on_failure_holds_the_order() {
    for app in apps_with_flows().await {
        let (status, body) = put_policy(&app, "limits", LIMITS).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        flow(&app, "limited", LIMITED_FLOW).await;

        let ok = app.create_order("limits-ok", &[4]).await;
        let too_many = app.create_order("limits-bad", &[20]).await;

        let ok_id = ok["id"].as_str().unwrap();
        let runs = ended_runs(&app, ok_id).await;
        assert_eq!(runs[0]["status"], "completed", "{runs:#?}");
        assert_eq!(
            order(&app, ok_id).await["attributes"]["limits_checked"],
            true
        );

        let bad_id = too_many["id"].as_str().unwrap();
        let runs = ended_runs(&app, bad_id).await;
        assert_eq!(runs[0]["status"], "held", "{runs:#?}");
        let limits = step(&runs[0], "limits");
        assert_eq!(limits["status"], "failed", "{limits}");
        let error = limits["error"].as_str().unwrap();
        assert!(error.contains("policy limits version 1"), "{error}");
        assert!(
            error.contains("few-units: more than 10 units of one line"),
            "{error}"
        );
        let held = order(&app, bad_id).await;
        assert_eq!(held["status"], "on_hold", "{held}");
        assert_eq!(held["status_reason"], "policy_failed", "{held}");
        // A failed step changes nothing: the action's attribute was not written.
        assert!(held["attributes"]["limits_checked"].is_null(), "{held}");
    }
}
