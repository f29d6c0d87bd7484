//! Flows and policies edited in the web UI over plain HTTP: the check the editor's script calls
//! (errors at their lines, the graph redrawn), "Check" and "Save" without scripts, drafts,
//! publishing, comparing versions, and who may do what. Both backends.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::ui::UiClient;
use super::{ADMIN, TestApp, apps};

/// The default order flow cut down, with a step the catalogue lacks on line 8.
const BAD_FLOW: &str = "\
name: default-order
type: order
trigger: order.received
steps:
  - id: validate
    uses: validate-order
  - id: review
    uses: hold-everything
";

/// The same, fixed: every order is held for review.
const GOOD_FLOW: &str = "\
name: default-order
type: order
trigger: order.received
steps:
  - id: validate
    uses: validate-order
  - id: review
    uses: hold
    with:
      reason: review
";

async fn flow(app: &TestApp, name: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/flows/{name}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn send_yaml(app: &TestApp, method: Method, path: &str, yaml: &str) -> (StatusCode, Value) {
    let resp = app
        .client
        .request(method, app.url(path))
        .bearer_auth(ADMIN)
        .header("content-type", "application/yaml")
        .body(yaml.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// How many changes of the default order flow the audit log holds.
async fn audited(app: &TestApp) -> usize {
    let (status, audit) = app.get("/api/v1/audit?subject=flow:default-order").await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    audit["items"].as_array().unwrap().len()
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn the_api_checks_a_flow_without_storing_it() {
    for app in apps().await {
        let path = "/api/v1/flows/default-order/validate";
        let (status, body) = send_yaml(&app, Method::POST, path, BAD_FLOW).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let at = &body["locations"][0];
        assert_eq!(
            (at["line"].as_u64(), at["path"].as_str()),
            (Some(8), Some("steps[1].uses")),
            "{body}"
        );
        assert!(
            at["message"].as_str().unwrap().contains("hold-everything"),
            "{body}"
        );

        let (status, body) = send_yaml(&app, Method::POST, path, GOOD_FLOW).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["name"], "default-order");
        assert_eq!(body["type"], "order");
        assert_eq!(body["triggers"], json!(["order.received"]));
        assert_eq!(body["plan"]["nodes"].as_array().unwrap().len(), 2, "{body}");
        assert_eq!(
            flow(&app, "default-order").await["versions"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "a check stores nothing"
        );

        // Under another name: refused at the line that names it, as `PUT` refuses it.
        let (status, body) = send_yaml(
            &app,
            Method::POST,
            "/api/v1/flows/other/validate",
            GOOD_FLOW,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["errors"][0]["field"], "name", "{body}");
        assert_eq!(body["locations"][0]["line"], 1, "{body}");
        let (status, body) = send_yaml(&app, Method::PUT, "/api/v1/flows/other", GOOD_FLOW).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["locations"][0]["line"], 1, "{body}");

        // Policies too, with what only the stored versions can tell (a kind that changes).
        let path = "/api/v1/policies/big/validate";
        let bad = "name: big\nkind: filter\nrule: order.totals.total > \"500\"\n";
        let (status, body) = send_yaml(&app, Method::POST, path, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["locations"][0]["line"], 3, "{body}");
        let good = "name: big\nkind: filter\nrule: order.lines.exists(l, l.quantity >= 6)\n";
        let (status, body) = send_yaml(&app, Method::POST, path, good).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (body["kind"].as_str(), body["version"].as_i64()),
            (Some("filter"), Some(1))
        );
        let (status, _) = app.get("/api/v1/policies/big").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a check stores nothing");
        let (status, body) = send_yaml(&app, Method::PUT, "/api/v1/policies/big", good).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let execution = "name: big\nkind: execution\nchecks:\n  - name: any\n    rule: true\n";
        let (status, body) = send_yaml(&app, Method::POST, path, execution).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (status, body) = send_yaml(&app, Method::POST, path, good).await;
        assert_eq!(body["version"], 2, "{status} {body}");

        // Reading is not enough to check.
        app.server
            .state
            .store
            .put_token("viewer".into(), "viewer".into(), "iom_viewer".into())
            .await
            .unwrap();
        let resp = app
            .client
            .post(app.url("/api/v1/flows/default-order/validate"))
            .bearer_auth("iom_viewer")
            .body(GOOD_FLOW)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_flow_is_checked_as_typed_saved_as_a_draft_published_and_compared() {
    for app in apps().await {
        let ui = UiClient::sign_in(&app, "admin").await;
        let audited_before = audited(&app).await;
        let page = ui.get("/ui/flows/default-order/edit").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for text in [
            "<textarea",
            "uses: validate-order",
            "<svg",
            "Save draft",
            "Versions",
            "Compare versions",
            "editor.js",
        ] {
            assert!(
                page.body.contains(text),
                "the editor lacks {text:?}:\n{}",
                page.body
            );
        }

        // The script's check: the error at its line, nothing drawn; then the fixed text drawn.
        let checked = ui
            .post(
                "/ui/flows/check",
                &[
                    ("csrf", &ui.csrf),
                    ("name", "default-order"),
                    ("source", BAD_FLOW),
                ],
            )
            .await;
        assert_eq!(checked.status, StatusCode::OK, "{}", checked.body);
        let answer = json_of(&checked.body);
        assert_eq!(answer["valid"], false, "{answer}");
        assert_eq!(answer["problems"][0]["line"], 8, "{answer}");
        assert_eq!(answer["problems"][0]["path"], "steps[1].uses", "{answer}");
        assert!(
            answer["problems_html"].as_str().unwrap().contains("Line 8"),
            "{answer}"
        );
        assert!(answer["graph"].is_null(), "{answer}");
        let checked = ui
            .post(
                "/ui/flows/check",
                &[
                    ("csrf", &ui.csrf),
                    ("name", "default-order"),
                    ("source", GOOD_FLOW),
                ],
            )
            .await;
        let answer = json_of(&checked.body);
        assert_eq!(answer["valid"], true, "{answer}");
        assert_eq!(answer["problems"], json!([]));
        let graph = answer["graph"].as_str().unwrap();
        assert!(
            graph.starts_with("<svg") && graph.contains("review"),
            "{graph}"
        );
        // A check needs the page's token.
        let refused = ui
            .post(
                "/ui/flows/check",
                &[
                    ("csrf", "nope"),
                    ("name", "default-order"),
                    ("source", GOOD_FLOW),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        // Without scripts: "Check" shows the error at its line, and "Save draft" with the error
        // changes nothing.
        let edit = "/ui/flows/default-order/edit";
        let crlf = BAD_FLOW.replace('\n', "\r\n");
        let page = ui
            .post(
                edit,
                &[("csrf", &ui.csrf), ("source", &crlf), ("action", "check")],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains(r#"class="mark" data-line="8""#),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("unknown step `hold-everything`"),
            "{}",
            page.body
        );
        let page = ui
            .post(
                edit,
                &[("csrf", &ui.csrf), ("source", BAD_FLOW), ("action", "save")],
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            page.body
        );
        assert!(
            page.body.contains(r#"class="mark" data-line="8""#),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("hold-everything"),
            "the text typed is kept"
        );
        let stored = flow(&app, "default-order").await;
        assert_eq!(stored["versions"].as_array().unwrap().len(), 1, "{stored}");
        assert_eq!(audited(&app).await, audited_before, "nothing logged");

        // "Check" on the fixed text draws it; "Save draft" makes version 2, a draft.
        let page = ui
            .post(
                edit,
                &[
                    ("csrf", &ui.csrf),
                    ("source", GOOD_FLOW),
                    ("action", "check"),
                ],
            )
            .await;
        assert!(page.body.contains("No errors"), "{}", page.body);
        assert!(!page.body.contains(r#"class="mark""#));
        let page = ui
            .submit(
                edit,
                &[
                    ("csrf", &ui.csrf),
                    ("source", &GOOD_FLOW.replace('\n', "\r\n")),
                    ("action", "save"),
                ],
            )
            .await;
        assert!(
            page.body
                .contains("Version 2 of flow default-order is saved as a draft"),
            "{}",
            page.body
        );
        let stored = flow(&app, "default-order").await;
        assert_eq!(stored["versions"][0]["version"], 2, "{stored}");
        assert_eq!(stored["versions"][0]["status"], "draft");
        assert_eq!(
            stored["versions"][0]["source"], GOOD_FLOW,
            "saved with plain newlines"
        );
        assert_eq!(stored["published_version"], 1, "a draft starts no runs");

        // Publish it.
        let page = ui
            .submit(
                "/ui/flows/default-order/publish",
                &[("csrf", &ui.csrf), ("version", "2")],
            )
            .await;
        assert!(
            page.body
                .contains("Version 2 of flow default-order is published"),
            "{}",
            page.body
        );
        assert_eq!(flow(&app, "default-order").await["published_version"], 2);

        // Compare: the active version is named, and the changed lines are shown.
        let page = ui.get("/ui/flows/default-order/edit?from=1&to=2").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body
                .contains("Version 1 (superseded) → Version 2 (published, active)"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains(r#"<tr class="ins">"#) && page.body.contains("reason: review"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains(r#"<tr class="del">"#)
                && page.body.contains("uses: plan-fulfillment")
        );
        let same = ui.get("/ui/flows/default-order/edit?from=2&to=2").await;
        assert!(same.body.contains("The two versions are the same."));
        // An older version's text is opened in the editor on request.
        let old = ui.get("/ui/flows/default-order/edit?version=1").await;
        assert!(old.body.contains("The text of version 1"), "{}", old.body);
        assert!(old.body.contains("uses: plan-fulfillment"));

        // Unpublish, with its confirmation on the page.
        let page = ui.get(edit).await;
        assert!(page.body.contains("Unpublish…"), "{}", page.body);
        let page = ui
            .submit("/ui/flows/default-order/unpublish", &[("csrf", &ui.csrf)])
            .await;
        assert!(page.body.contains("is unpublished"), "{}", page.body);
        assert!(flow(&app, "default-order").await["published_version"].is_null());
    }
}

#[tokio::test]
async fn a_new_flow_is_stored_under_the_name_its_text_gives() {
    for app in apps().await {
        let ui = UiClient::sign_in(&app, "admin").await;
        let page = ui.get("/ui/flows").await;
        assert!(page.body.contains(r#"href="/ui/flows/new""#));
        let page = ui.get("/ui/flows/new").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains("name: my-flow") && page.body.contains("<svg"),
            "{}",
            page.body
        );

        // The starting text passes the check (the script's, which names no flow).
        let starter = "name: vip\ntype: order\ntrigger: order.received\npriority: 10\nsteps:\n  - id: validate\n    uses: validate-order\n";
        let answer = json_of(
            &ui.post(
                "/ui/flows/check",
                &[("csrf", &ui.csrf), ("name", ""), ("source", starter)],
            )
            .await
            .body,
        );
        assert_eq!(answer["valid"], true, "{answer}");
        let missing = "type: order\ntrigger: order.received\nsteps: []\n";
        let answer = json_of(
            &ui.post(
                "/ui/flows/check",
                &[("csrf", &ui.csrf), ("name", ""), ("source", missing)],
            )
            .await
            .body,
        );
        assert_eq!(answer["valid"], false, "{answer}");

        let page = ui
            .submit(
                "/ui/flows/new",
                &[("csrf", &ui.csrf), ("source", starter), ("action", "save")],
            )
            .await;
        assert!(
            page.body
                .contains("Version 1 of flow vip is saved as a draft"),
            "{}",
            page.body
        );
        assert_eq!(flow(&app, "vip").await["versions"][0]["status"], "draft");

        // A name already taken is not silently given a new version.
        let page = ui
            .post(
                "/ui/flows/new",
                &[("csrf", &ui.csrf), ("source", starter), ("action", "save")],
            )
            .await;
        assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
        assert!(
            page.body.contains("exists already") && page.body.contains(r#"data-line="1""#),
            "{}",
            page.body
        );
        assert_eq!(
            flow(&app, "vip").await["versions"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn a_policy_is_checked_saved_as_versions_and_compared() {
    for app in apps().await {
        let ui = UiClient::sign_in(&app, "admin").await;
        let page = ui.get("/ui/policies/new").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("kind: filter"));

        let v1 = "name: big-orders\nkind: filter\nrule: order.lines.exists(l, l.quantity >= 5)\n";
        let page = ui
            .submit(
                "/ui/policies/new",
                &[("csrf", &ui.csrf), ("source", v1), ("action", "save")],
            )
            .await;
        assert!(
            page.body
                .contains("Version 1 of policy big-orders is saved"),
            "{}",
            page.body
        );
        assert!(page.body.contains("Edit policy big-orders"));

        // A CEL type error, at its line and column.
        let bad = "name: big-orders\nkind: filter\nrule: order.totals.total > \"500\"\n";
        let answer = json_of(
            &ui.post(
                "/ui/policies/check",
                &[("csrf", &ui.csrf), ("name", "big-orders"), ("source", bad)],
            )
            .await
            .body,
        );
        assert_eq!(answer["valid"], false, "{answer}");
        assert_eq!(answer["problems"][0]["line"], 3, "{answer}");
        assert!(
            answer["problems"][0]["column"].as_u64().unwrap() >= 7,
            "{answer}"
        );
        assert!(
            answer["problems"][0]["message"]
                .as_str()
                .unwrap()
                .contains("cannot compare"),
            "{answer}"
        );

        let edit = "/ui/policies/big-orders/edit";
        let page = ui
            .post(
                edit,
                &[("csrf", &ui.csrf), ("source", bad), ("action", "save")],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            page.body.contains(r#"class="mark" data-line="3""#),
            "{}",
            page.body
        );
        // Another kind than the stored versions': refused, no line to mark.
        let execution =
            "name: big-orders\nkind: execution\nchecks:\n  - name: any\n    rule: true\n";
        let page = ui
            .post(
                edit,
                &[
                    ("csrf", &ui.csrf),
                    ("source", execution),
                    ("action", "save"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.body.contains("is a filter policy"), "{}", page.body);
        let (_, stored) = app.get("/api/v1/policies/big-orders").await;
        assert_eq!(stored["latest_version"], 1, "{stored}");

        let v2 = "name: big-orders\nkind: filter\nrule: order.lines.exists(l, l.quantity >= 6)\n";
        let answer = json_of(
            &ui.post(
                "/ui/policies/check",
                &[("csrf", &ui.csrf), ("name", "big-orders"), ("source", v2)],
            )
            .await
            .body,
        );
        assert_eq!(answer["valid"], true, "{answer}");
        assert!(
            answer["summary"].as_str().unwrap().contains("version 2"),
            "{answer}"
        );
        let page = ui
            .submit(
                edit,
                &[("csrf", &ui.csrf), ("source", v2), ("action", "save")],
            )
            .await;
        assert!(
            page.body
                .contains("Version 2 of policy big-orders is saved"),
            "{}",
            page.body
        );
        let (_, stored) = app.get("/api/v1/policies/big-orders").await;
        assert_eq!(stored["latest_version"], 2, "{stored}");

        let page = ui.get(&format!("{edit}?from=1&to=2")).await;
        assert!(
            page.body.contains("Version 1 → Version 2 (in force)"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains(r#"<tr class="del">"#) && page.body.contains("quantity &gt;= 5"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains(r#"<tr class="ins">"#) && page.body.contains("quantity &gt;= 6")
        );
    }
}

#[tokio::test]
async fn a_viewer_reads_flows_and_policies_in_the_editor_but_cannot_change_them() {
    for app in apps().await {
        let (status, body) = send_yaml(
            &app,
            Method::PUT,
            "/api/v1/policies/big-orders",
            "name: big-orders\nkind: filter\nrule: order.lines.exists(l, l.quantity >= 5)\n",
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        for role in ["viewer", "operator"] {
            let ui = UiClient::sign_in(&app, role).await;
            for path in [
                "/ui/flows/default-order/edit",
                "/ui/policies/big-orders/edit",
            ] {
                let page = ui.get(path).await;
                assert_eq!(page.status, StatusCode::OK, "{role} {path}: {}", page.body);
                assert!(page.body.contains("readonly"), "{role} {path}");
                assert!(page.body.contains(r#"id="read-only""#), "{role} {path}");
                assert!(!page.body.contains("data-check"), "{role} {path}");
                for button in ["Save draft", "Save (in force", ">Publish<", "Unpublish"] {
                    assert!(!page.body.contains(button), "{role} {path} shows {button}");
                }
            }
            let flows = ui.get("/ui/flows").await;
            assert!(!flows.body.contains(r#"href="/ui/flows/new""#), "{role}");
            let refused = ui
                .post(
                    "/ui/flows/default-order/edit",
                    &[
                        ("csrf", &ui.csrf),
                        ("source", GOOD_FLOW),
                        ("action", "save"),
                    ],
                )
                .await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{role}");
            let refused = ui
                .post(
                    "/ui/flows/check",
                    &[
                        ("csrf", &ui.csrf),
                        ("name", "default-order"),
                        ("source", GOOD_FLOW),
                    ],
                )
                .await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{role}");
            let refused = ui
                .post("/ui/flows/default-order/unpublish", &[("csrf", &ui.csrf)])
                .await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{role}");
            let refused = ui
                .post(
                    "/ui/policies/big-orders/edit",
                    &[
                        ("csrf", &ui.csrf),
                        ("source", "name: big-orders\nkind: filter\nrule: true\n"),
                        ("action", "save"),
                    ],
                )
                .await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{role}");
        }
        let stored = flow(&app, "default-order").await;
        assert_eq!(stored["versions"].as_array().unwrap().len(), 1);
        assert_eq!(stored["published_version"], 1);
        let (_, policy) = app.get("/api/v1/policies/big-orders").await;
        assert_eq!(policy["latest_version"], 1);
    }
}
