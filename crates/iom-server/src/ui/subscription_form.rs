//! A webhook subscription's form: `/ui/subscriptions/new` and `/ui/subscriptions/{name}/edit`
//! (URL, event types, secret). The secret is write-only: never shown, and left blank when editing
//! the stored one is kept. Saving calls the handler of `PUT /api/v1/subscriptions/{name}`.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use iom_domain::FieldError;
use maud::html;

use super::form::{self, Errors};
use super::session::{Flash, Session};
use super::{UiResult, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::json::ApiJson;
use crate::routes::subscriptions as api;

fn page_of(name: &str) -> String {
    format!("/ui/subscriptions/{}/edit", format::segment(name))
}

#[derive(Default)]
struct Typed {
    name: String,
    url: String,
    types: String,
}

pub async fn new(State(_state): State<AppState>, session: Session) -> UiResult<Response> {
    session.principal.require(Access::Configure)?;
    let typed = Typed {
        types: "order.*".into(),
        ..Typed::default()
    };
    Ok(draw(&session, &typed, true, &Errors::none()))
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
) -> UiResult<Response> {
    session.principal.require(Access::Configure)?;
    let view = api::get(State(state), session.principal.clone(), Path(name.clone()))
        .await?
        .0;
    let typed = Typed {
        name,
        url: view.url,
        types: view.types.join(", "),
    };
    Ok(draw(&session, &typed, false, &Errors::none()))
}

fn draw(session: &Session, typed: &Typed, creating: bool, errors: &Errors) -> Response {
    let action = if creating {
        "/ui/subscriptions/new".to_owned()
    } else {
        page_of(&typed.name)
    };
    let title = if creating {
        "New subscription".to_owned()
    } else {
        format!("Subscription {}", typed.name)
    };
    let body = html! {
        p.muted { a href="/ui/subscriptions" { "Subscriptions" } " ›" }
        h1 { (title) }
        p.hint { "Business events are posted to the URL at least once, in order, signed with X-IOM-Signature: sha256=HEX (HMAC-SHA256 of the body with the secret). A new subscription receives what happens from now on." }
        (errors.banner(&["name", "url", "types", "secret"]))
        form.stack #subscription-form method="post" action=(action) {
            input type="hidden" name="csrf" value=(session.csrf);
            @if creating {
                label { "Name" input #name name="name" required value=(typed.name); (errors.at("name")) }
            }
            label { "URL" input #url name="url" type="url" required value=(typed.url); (errors.at("url")) }
            label { "Event types (comma-separated; a prefix ends in *)"
                input #types name="types" value=(typed.types) placeholder="order.*, inventory.changed";
                (errors.at("types"))
            }
            label { "Secret"
                input #secret name="secret" type="password" autocomplete="new-password"
                    placeholder=(if creating { "at least 16 characters" } else { "stored: leave blank to keep" });
                span.hint { "Write-only: it is sealed and never shown." }
                (errors.at("secret"))
            }
            div.actions { button type="submit" { "Save" } a href="/ui/subscriptions" { "Cancel" } }
        }
    };
    layout::page(session, &title, "/ui/subscriptions", body)
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(pairs): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    let name = form::value(&pairs, "name").trim().to_owned();
    save(state, session, name, pairs, true).await
}

pub async fn update(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    save(state, session, name, pairs, false).await
}

async fn save(
    state: AppState,
    session: Session,
    name: String,
    pairs: Vec<(String, String)>,
    creating: bool,
) -> UiResult<Response> {
    session.verify(form::value(&pairs, "csrf"))?;
    session.principal.require(Access::Configure)?;
    let typed = Typed {
        name: name.clone(),
        url: form::value(&pairs, "url").trim().to_owned(),
        types: form::value(&pairs, "types").to_owned(),
    };
    let mut bad = Vec::new();
    if creating && name.is_empty() {
        bad.push(FieldError::new("name", "is required"));
    }
    if creating && !name.is_empty() && state.store.get_subscription(name.clone()).await?.is_some() {
        bad.push(FieldError::new(
            "name",
            format!("a subscription {name} exists already: edit it instead"),
        ));
    }
    if !bad.is_empty() {
        let errors = Errors {
            detail: Some("The form has errors; nothing was saved.".into()),
            fields: bad,
        };
        return Ok(form::refused(draw(&session, &typed, creating, &errors)));
    }
    let types: Vec<String> = typed
        .types
        .split([',', '\n'])
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let result = api::put(
        State(state.clone()),
        session.principal.clone(),
        Path(name.clone()),
        ApiJson {
            value: api::SubscriptionPut {
                url: typed.url.clone(),
                types,
                secret: form::opt(form::value(&pairs, "secret")),
                after: None,
            },
            raw: Default::default(),
        },
    )
    .await;
    match form::outcome(result)? {
        Ok(_) => Ok(session.redirect(
            "/ui/subscriptions",
            Flash {
                ok: true,
                text: format!("Subscription {name} is saved."),
            },
        )),
        Err(errors) => Ok(form::refused(draw(&session, &typed, creating, &errors))),
    }
}
