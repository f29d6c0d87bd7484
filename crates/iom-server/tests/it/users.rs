//! People: users created through the API, signed in through the web UI's form or an OpenID
//! Connect issuer (a local fake), into sessions the server keeps. Real servers on port 0, both
//! backends; a second server on the same database stands for a second process.

use std::time::Duration;

use iom_store::testing::TestDb;
use reqwest::redirect::Policy;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use super::TestApp;
use super::fake_oidc::{FakeIdp, Person, Tamper};
use super::ui::{PASSWORD, UiClient};

/// A server on `db` with these sign-in settings.
async fn start(db: TestDb, people: iom_app::people::Settings) -> TestApp {
    let mut config = TestApp::config(&db, false);
    config.app.people = people;
    TestApp {
        server: iom_server::spawn(config).await.expect("server starts"),
        client: Client::new(),
        backend: db.backend,
        _db: db,
    }
}

/// Another server on the same database, as a second process of one deployment.
async fn second_process(app: &TestApp) -> iom_server::Running {
    iom_server::spawn(TestApp::config(&app._db, false))
        .await
        .expect("second server starts")
}

async fn put_user(app: &TestApp, email: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, &format!("/api/v1/users/{email}"), Some(body))
        .await
}

async fn users(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

fn session_id(ui: &UiClient) -> String {
    ui.cookie.strip_prefix("iom_session=").unwrap().to_owned()
}

/// Whether `ui`'s cookie still opens a page.
async fn signed_in(ui: &UiClient) -> bool {
    let page = ui.get("/ui/orders").await;
    match page.status {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER => {
            assert!(page.location.unwrap().starts_with("/ui/sign-in"));
            false
        }
        other => panic!("{other}: {}", page.body),
    }
}

#[tokio::test]
async fn users_are_admins_to_create_and_bad_input_changes_nothing() {
    for app in super::apps().await {
        let b = app.backend;
        let cases = [
            (
                "not-an-email",
                json!({"role": "admin", "password": PASSWORD}),
                "email",
            ),
            (
                "ann@example.com",
                json!({"role": "boss", "password": PASSWORD}),
                "role",
            ),
            (
                "ann@example.com",
                json!({"role": "integration", "password": PASSWORD}),
                "role",
            ),
            (
                "ann@example.com",
                json!({"role": "viewer", "password": "short"}),
                "password",
            ),
            ("ann@example.com", json!({"password": PASSWORD}), "role"),
        ];
        for (email, body, field) in cases {
            let (status, problem) = put_user(&app, email, body).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}: {problem}");
            assert_eq!(problem["errors"][0]["field"], field, "{b}: {problem}");
        }
        let (status, problem) = put_user(&app, "ann@example.com", json!({"role": 5})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "role", "{b}: {problem}");
        let (status, _) = put_user(
            &app,
            "ann@example.com",
            json!({"role": "viewer", "admin": true}),
        )
        .await;
        assert!(status.is_client_error(), "{b}: {status}");
        assert!(users(&app).await.is_empty(), "{b}");

        // Only admins manage users.
        app.server
            .state
            .store
            .put_token("op".into(), "operator".into(), "iom_operator_token".into())
            .await
            .unwrap();
        let (status, _) = app
            .call_as("iom_operator_token", Method::GET, "/api/v1/users", None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{b}");
        let (status, _) = app
            .call_as(
                "iom_operator_token",
                Method::PUT,
                "/api/v1/users/ann@example.com",
                Some(json!({"role": "admin", "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{b}");
        assert!(users(&app).await.is_empty(), "{b}");

        let (status, ann) = put_user(
            &app,
            "Ann@Example.com",
            json!({"role": "service", "password": PASSWORD}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{b}: {ann}");
        assert_eq!(ann["email"], "ann@example.com");
        assert_eq!(ann["role"], "service");
        assert_eq!(ann["has_password"], true);
        assert!(ann.get("password").is_none() && ann.get("password_hash").is_none());
        let (status, ann) = put_user(&app, "ann@example.com", json!({"role": "viewer"})).await;
        assert_eq!(status, StatusCode::OK, "{b}: {ann}");
        assert_eq!(ann["role"], "viewer");
        let listed = users(&app).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["role"], "viewer");
        // The password is stored as an argon2id hash.
        let record = app
            .server
            .state
            .store
            .find_user("ann@example.com".into())
            .await
            .unwrap()
            .unwrap();
        assert!(
            record.password_hash.unwrap().starts_with("$argon2id$"),
            "{b}"
        );
    }
}

#[tokio::test]
async fn the_users_api_is_in_the_openapi_document_with_every_answer() {
    let app = super::apps().await.remove(0);
    let (_, doc) = app.get("/api/v1/openapi.json").await;
    let list = &doc["paths"]["/api/v1/users"]["get"]["responses"];
    for status in ["200", "401", "403"] {
        assert!(list[status].is_object(), "GET /users {status}: {list}");
    }
    let put = &doc["paths"]["/api/v1/users/{email}"]["put"]["responses"];
    for status in ["200", "201", "400", "401", "403", "422"] {
        assert!(
            put[status].is_object(),
            "PUT /users/{{email}} {status}: {put}"
        );
    }
    for schema in ["User", "UserPage", "UserUpdate", "Role"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
}

#[tokio::test]
async fn sessions_are_kept_by_the_server_and_end_everywhere_at_once() {
    for app in super::apps().await {
        let b = app.backend;
        let other = second_process(&app).await;
        let ui = UiClient::sign_in(&app, "operator").await;

        // The cookie is an opaque session id: not a token, and no key to the API.
        let id = session_id(&ui);
        assert_eq!(id.len(), 64, "{b}: {id}");
        assert!(!id.starts_with("iom_"), "{b}");
        let (status, _) = app.call_as(&id, Method::GET, "/api/v1/orders", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{b}");
        let page = ui.get("/ui/orders").await;
        assert_eq!(page.status, StatusCode::OK, "{b}");
        assert!(page.body.contains("operator@example.com"), "{b}");
        // Another process of the deployment knows the session.
        let there = ui.on(other.url());
        assert!(signed_in(&there).await, "{b}");

        // Signing out ends the session: the old cookie is refused here at once, and by the
        // other process within a second.
        let out = ui.post("/ui/sign-out", &[("csrf", &ui.csrf)]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{b}");
        assert!(!signed_in(&ui).await, "{b}: signed out");
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert!(
            !signed_in(&there).await,
            "{b}: signed out in the other process"
        );

        // Disabling the user ends their live sessions at once, in every process.
        let ui = UiClient::sign_in(&app, "operator").await;
        let there = ui.on(other.url());
        assert!(signed_in(&there).await, "{b}");
        assert!(signed_in(&ui).await, "{b}");
        let (status, user) =
            put_user(&app, "operator@example.com", json!({"disabled": true})).await;
        assert_eq!(status, StatusCode::OK, "{b}: {user}");
        assert_eq!(user["disabled"], true);
        assert!(!signed_in(&ui).await, "{b}: disabled");
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert!(
            !signed_in(&there).await,
            "{b}: disabled in the other process"
        );
        // And a disabled user cannot sign in again.
        let refused = UiClient::anonymous(&app)
            .post(
                "/ui/sign-in",
                &[("email", "operator@example.com"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{b}");
        assert!(refused.set_cookies.is_empty());
        other.stop().await;
    }
}

#[tokio::test]
async fn a_session_expires() {
    for db in iom_store::testing::all() {
        let app = start(
            db,
            iom_app::people::Settings {
                session_lifetime: Duration::from_secs(2),
                oidc: None,
            },
        )
        .await;
        let ui = UiClient::sign_in(&app, "admin").await;
        assert!(ui.cookie.starts_with("iom_session="));
        assert!(signed_in(&ui).await, "{}", app.backend);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(!signed_in(&ui).await, "{}: expired", app.backend);
    }
}

#[tokio::test]
async fn the_sixth_sign_in_within_a_minute_after_five_failures_is_refused_even_when_right() {
    for app in super::apps().await {
        let b = app.backend;
        let email = super::ui::ensure_user(&app, "admin").await;
        let anonymous = UiClient::anonymous(&app);
        for _ in 0..5 {
            let page = anonymous
                .post(
                    "/ui/sign-in",
                    &[("email", &email), ("password", "a wrong guess")],
                )
                .await;
            assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{b}");
        }
        let page = anonymous
            .post("/ui/sign-in", &[("email", &email), ("password", PASSWORD)])
            .await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{b}");
        assert!(page.set_cookies.is_empty(), "{b}");
        assert!(page.body.contains("Too many failed sign-ins"), "{b}");
        // The limit holds for the client address too: another user's right password from here.
        let other = super::ui::ensure_user(&app, "viewer").await;
        let page = anonymous
            .post("/ui/sign-in", &[("email", &other), ("password", PASSWORD)])
            .await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{b}");
    }
}

#[tokio::test]
async fn customer_service_acts_on_orders_but_not_on_stock_or_configuration() {
    for app in super::apps().await {
        let b = app.backend;
        let order = app.create_order("CS-1", &[1]).await;
        let id = order["id"].as_str().unwrap();
        let ui = UiClient::sign_in(&app, "service").await;
        let page = ui.get(&format!("/ui/orders/{id}")).await;
        assert!(page.body.contains("Put on hold"), "{b}: {}", page.body);
        let held = ui
            .submit(
                &format!("/ui/orders/{id}/hold"),
                &[("csrf", &ui.csrf), ("reason", "customer called")],
            )
            .await;
        assert_eq!(held.status, StatusCode::OK, "{b}");
        let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(order["holds"].as_array().unwrap().len(), 1, "{b}: {order}");

        app.server
            .state
            .store
            .put_token("cs".into(), "service".into(), "iom_service_token".into())
            .await
            .unwrap();
        let (status, _) = app
            .call_as(
                "iom_service_token",
                Method::POST,
                "/api/v1/inventory/changes",
                Some(json!({"changes": [{"id": "c1", "sku": "SKU-1", "node": "N1", "kind": "set", "quantity": 5}]})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{b}");
        let (status, _) = app
            .call_as(
                "iom_service_token",
                Method::PUT,
                "/api/v1/nodes/N1",
                Some(json!({"kind": "warehouse"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{b}");
    }
}

/// A browser signing in through the issuer; the callback's answer.
async fn through_issuer(app: &TestApp) -> super::ui::Page {
    let mut ui = UiClient::anonymous(app);
    let begin = ui.get("/ui/sign-in/oidc?next=/ui/orders").await;
    assert_eq!(begin.status, StatusCode::SEE_OTHER, "{}", begin.body);
    let authorize = begin.location.unwrap();
    ui.cookie = begin
        .set_cookies
        .iter()
        .find(|c| c.starts_with("iom_oidc_state="))
        .expect("the cookie that binds the sign-in to this browser")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let issuer = Client::builder().redirect(Policy::none()).build().unwrap();
    let back = issuer.get(&authorize).send().await.unwrap();
    assert!(back.status().is_redirection(), "{}", back.status());
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    let path = callback
        .strip_prefix(&app.server.url())
        .unwrap_or_else(|| panic!("the callback {callback} is ours"));
    ui.get(path).await
}

fn session_cookie(page: &super::ui::Page) -> Option<String> {
    page.set_cookies
        .iter()
        .find(|c| c.starts_with("iom_session=") && !c.starts_with("iom_session=;"))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

#[tokio::test]
async fn openid_connect_signs_in_users_an_admin_created_and_refuses_forged_tokens() {
    for db in iom_store::testing::all() {
        let idp = FakeIdp::start(Person {
            subject: "subject-carol".into(),
            email: "carol@example.com".into(),
            email_verified: true,
        })
        .await;
        let app = start(
            db,
            iom_app::people::Settings {
                oidc: Some(idp.settings()),
                ..Default::default()
            },
        )
        .await;
        let b = app.backend;
        let form = UiClient::anonymous(&app).get("/ui/sign-in").await;
        assert!(
            form.body.contains(&format!("Sign in with {}", idp.issuer)),
            "{b}: {}",
            form.body
        );

        // Nobody is created by signing in.
        let refused = through_issuer(&app).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{b}: {}",
            refused.body
        );
        assert!(refused.body.contains("is not a user of iom"), "{b}");
        assert!(session_cookie(&refused).is_none(), "{b}");
        assert!(users(&app).await.is_empty(), "{b}");

        // An admin creates the user; the first sign-in links the issuer's subject.
        let (status, _) = put_user(&app, "carol@example.com", json!({"role": "viewer"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let done = through_issuer(&app).await;
        assert_eq!(done.status, StatusCode::OK, "{b}: {}", done.body);
        let mut ui = UiClient::anonymous(&app);
        ui.cookie = session_cookie(&done).expect("a session");
        let page = ui.get("/ui/orders").await;
        assert_eq!(page.status, StatusCode::OK, "{b}");
        assert!(page.body.contains("carol@example.com · viewer"), "{b}");
        assert_eq!(users(&app).await[0]["oidc_linked"], true, "{b}");
        assert!(idp.refusals().is_empty(), "{b}: {:?}", idp.refusals());

        // Linked by subject: a changed e-mail at the issuer still signs in the same user.
        idp.set_person(Person {
            subject: "subject-carol".into(),
            email: "carol.new@example.com".into(),
            email_verified: false,
        });
        let again = through_issuer(&app).await;
        assert_eq!(again.status, StatusCode::OK, "{b}: {}", again.body);

        // An ID token with another sign-in's nonce, or signed with a key not in the JWKS.
        for tamper in [Tamper::WrongNonce, Tamper::WrongKey] {
            idp.set_tamper(tamper);
            let refused = through_issuer(&app).await;
            assert_eq!(
                refused.status,
                StatusCode::FORBIDDEN,
                "{b} {tamper:?}: {}",
                refused.body
            );
            assert!(
                refused.body.contains("ID token was refused"),
                "{b} {tamper:?}: {}",
                refused.body
            );
            assert!(session_cookie(&refused).is_none(), "{b} {tamper:?}");
        }
        idp.set_tamper(Tamper::Nothing);

        // Another person with a verified e-mail that is a user's, but linked elsewhere: no.
        idp.set_person(Person {
            subject: "subject-mallory".into(),
            email: "carol@example.com".into(),
            email_verified: true,
        });
        let refused = through_issuer(&app).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{b}");
        assert!(session_cookie(&refused).is_none(), "{b}");
    }
}

#[tokio::test]
async fn admins_create_and_disable_users_on_the_users_page() {
    for app in super::apps().await {
        let b = app.backend;
        let admin = UiClient::sign_in(&app, "admin").await;
        let page = admin
            .submit(
                "/ui/users",
                &[
                    ("csrf", &admin.csrf),
                    ("email", "dan@example.com"),
                    ("role", "service"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{b}");
        assert!(
            page.body.contains("dan@example.com can sign in now."),
            "{b}: {}",
            page.body
        );
        let refused = admin
            .submit(
                "/ui/users",
                &[
                    ("csrf", &admin.csrf),
                    ("email", "dan@example.com"),
                    ("role", "admin"),
                    ("password", "another password"),
                ],
            )
            .await;
        assert!(
            refused.body.contains("exists already"),
            "{b}: {}",
            refused.body
        );
        let dan = UiClient::sign_in_with(&app, "dan@example.com", PASSWORD).await;
        assert!(
            dan.get("/ui/orders")
                .await
                .body
                .contains("dan@example.com · service")
        );

        let page = admin
            .submit(
                "/ui/users/dan@example.com/disable",
                &[("csrf", &admin.csrf)],
            )
            .await;
        assert!(
            page.body.contains("their sessions have ended"),
            "{b}: {}",
            page.body
        );
        assert!(!signed_in(&dan).await, "{b}");

        // Not for other roles: neither the page nor its forms.
        let viewer = UiClient::sign_in(&app, "viewer").await;
        assert!(admin.get("/ui").await.body.contains("href=\"/ui/users\""));
        assert!(!viewer.get("/ui").await.body.contains("href=\"/ui/users\""));
        assert_eq!(viewer.get("/ui/users").await.status, StatusCode::FORBIDDEN);
        let refused = viewer
            .post(
                "/ui/users",
                &[
                    ("csrf", &viewer.csrf),
                    ("email", "eve@example.com"),
                    ("role", "admin"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(users(&app).await.len(), 3, "{b}");
    }
}
