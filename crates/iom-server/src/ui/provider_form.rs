//! Setting up a provider instance: `/ui/providers/new` (choose a type, then its form) and
//! `/ui/providers/{name}/edit`. The form is built from the type's definition (the same one
//! `GET /api/v1/provider-types` answers): each connection field with its description, secret
//! fields write-only (never shown; left blank, the stored value is kept), then value mappings,
//! settings and the transformation. Saving calls the handler of `PUT /api/v1/providers/{name}`;
//! "Test connection" calls `POST /api/v1/providers/{name}/test`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use iom_app::pipeline::connection_test::Outcome;
use iom_domain::FieldError;
use iom_providers::Mappings;
use iom_providers::types::{self, ProviderType};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::form::{self, Errors};
use super::session::{Flash, Session};
use super::{UiResult, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::routes::providers as api;

fn page_of(name: &str) -> String {
    format!("/ui/providers/{}", format::segment(name))
}

/// The form's values: as stored, or as posted.
#[derive(Default)]
struct Typed {
    name: String,
    /// Non-secret connection fields (secrets are never put back into a page).
    connection: Map<String, Value>,
    secrets_set: Vec<String>,
    mappings: String,
    settings: String,
    transformation: String,
}

#[derive(Deserialize, Default)]
pub struct NewParams {
    #[serde(default, rename = "type")]
    pub kind: String,
}

pub async fn new(
    State(_state): State<AppState>,
    session: Session,
    Query(params): Query<NewParams>,
) -> UiResult<Response> {
    session.principal.require(Access::Configure)?;
    let Some(kind) = types::find(&params.kind) else {
        let body = html! {
            p.muted { a href="/ui/providers" { "Providers" } " ›" }
            h1 { "New provider" }
            p { "Choose the type of the instance:" }
            table #provider-types {
                thead { tr { th { "Type" } th { "What it does" } th { "Connection" } } }
                tbody { @for t in types::builtin() { tr {
                    td { a href={ "/ui/providers/new?type=" (t.name) } { (t.name) } }
                    td { (t.description) }
                    td { (t.connection.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")) }
                } } }
            }
        };
        return Ok(layout::page(
            &session,
            "New provider",
            "/ui/providers",
            body,
        ));
    };
    let typed = Typed {
        mappings: "{}".into(),
        settings: "{}".into(),
        ..Typed::default()
    };
    Ok(draw(&session, kind, &typed, true, &Errors::none()))
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
) -> UiResult<Response> {
    session.principal.require(Access::Configure)?;
    let stored = api::get(State(state), session.principal.clone(), Path(name)).await?;
    let v = stored.0;
    let kind = types::find(&v.kind)
        .ok_or_else(|| ApiError::internal(format!("unknown stored type {}", v.kind)))?;
    let pretty = |v: &Value| {
        if v.is_null() {
            "{}".to_owned()
        } else {
            serde_json::to_string_pretty(v).unwrap_or_default()
        }
    };
    let typed = Typed {
        name: v.name.clone(),
        connection: v.connection.as_object().cloned().unwrap_or_default(),
        secrets_set: v.secrets_set.clone(),
        mappings: pretty(&v.mappings),
        settings: pretty(&v.settings),
        transformation: v.transformation.clone().unwrap_or_default(),
    };
    Ok(draw(&session, kind, &typed, false, &Errors::none()))
}

fn draw(
    session: &Session,
    kind: &ProviderType,
    typed: &Typed,
    creating: bool,
    errors: &Errors,
) -> Response {
    let action = if creating {
        "/ui/providers/new".to_owned()
    } else {
        format!("{}/edit", page_of(&typed.name))
    };
    let title = if creating {
        format!("New {} provider", kind.name)
    } else {
        format!("Provider {}", typed.name)
    };
    let body = html! {
        p.muted { a href="/ui/providers" { "Providers" } " ›"
            @if !creating { " " a href=(page_of(&typed.name)) { (typed.name) } " ›" } }
        h1 { (title) " " span.badge { (kind.name) } }
        p.hint { (kind.description) }
        (errors.banner(&["name", "type", "connection", "mappings", "settings", "transformation"]))
        form.stack #provider-form method="post" action=(action) {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name="type" value=(kind.name);
            @if creating {
                label { "Name"
                    input #name name="name" required value=(typed.name) pattern="[A-Za-z0-9._-]{1,64}";
                    span.hint { "1 to 64 letters, digits, '-', '_' or '.'; orders it creates carry it as their channel." }
                    (errors.at("name"))
                }
            }
            @if !kind.connection.is_empty() {
                fieldset #connection {
                    legend { "Connection" }
                    @for f in kind.connection {
                        @let id = format!("connection-{}", f.name);
                        label for=(id) {
                            (f.name) @if f.required { " *" }
                            @if f.secret {
                                @let set = typed.secrets_set.iter().any(|s| s == f.name);
                                input id=(id) type="password" name={ "connection." (f.name) } autocomplete="new-password"
                                    placeholder=(if set { "stored: leave blank to keep" } else { "not set" });
                                span.hint { (f.description) " · secret: sealed, never shown"
                                    @if set { " · " span.badge.secret-set { "set" } } }
                            } @else {
                                input id=(id) name={ "connection." (f.name) }
                                    value=(typed.connection.get(f.name).and_then(Value::as_str).unwrap_or_default());
                                span.hint { (f.description) }
                            }
                            (errors.at(&format!("connection.{}", f.name)))
                        }
                    }
                }
            } @else {
                p.muted { "A " (kind.name) " instance has no connection fields." }
            }
            label { "Value mappings (JSON: table → external code → internal code)"
                textarea #mappings name="mappings" rows="6" spellcheck="false" { (typed.mappings) }
                span.hint { "e.g. {\"sku\": {\"EXT-1\": \"SKU-1\"}, \"ship_method\": {\"Express\": \"express\"}}; tables: sku, ship_method, node, uom, customer." }
                (errors.at("mappings"))
            }
            label { "Settings (JSON)"
                textarea #settings name="settings" rows="6" spellcheck="false" { (typed.settings) }
                (errors.at("settings"))
            }
            @if kind.default_transformation.is_some() || kind.name == "rest" {
                label { "Transformation (jq; blank: the type's own)"
                    textarea #transformation name="transformation" rows="6" spellcheck="false" { (typed.transformation) }
                    (errors.at("transformation"))
                }
            }
            div.actions {
                button type="submit" { "Save" }
                @if !creating { a href=(page_of(&typed.name)) { "Cancel" } }
            }
        }
    };
    layout::page(session, &title, "/ui/providers", body)
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
    let kind_name = form::value(&pairs, "type");
    let kind = types::find(kind_name).ok_or_else(|| {
        ApiError::invalid_field("type", format!("{kind_name:?} is not a provider type"))
    })?;
    let text = |s: &str| s.replace("\r\n", "\n");
    let mut connection = Map::new();
    for f in kind.connection {
        let value = form::value(&pairs, &format!("connection.{}", f.name)).trim();
        // A blank secret keeps the stored one; a blank field is not set.
        if !value.is_empty() {
            connection.insert(f.name.to_owned(), Value::String(value.to_owned()));
        }
    }
    let stored = if creating {
        None
    } else {
        state.store.get_provider(name.clone()).await?
    };
    let mut typed = Typed {
        name: name.clone(),
        connection: connection.clone(),
        secrets_set: stored
            .as_ref()
            .map(|s| s.secrets.keys().cloned().collect())
            .unwrap_or_default(),
        mappings: text(form::value(&pairs, "mappings")),
        settings: text(form::value(&pairs, "settings")),
        transformation: text(form::value(&pairs, "transformation")),
    };
    // Secrets typed are not drawn again: the page never holds one.
    for f in kind.connection.iter().filter(|f| f.secret) {
        typed.connection.remove(f.name);
    }
    let mut bad = Vec::new();
    if creating && name.is_empty() {
        bad.push(FieldError::new("name", "is required"));
    }
    if creating && !name.is_empty() && state.store.get_provider(name.clone()).await?.is_some() {
        bad.push(FieldError::new(
            "name",
            format!("a provider named {name} exists already: edit it instead"),
        ));
    }
    let mappings = json_object("mappings", &typed.mappings, &mut bad)
        .and_then(|v| match serde_json::from_value::<Mappings>(v) {
            Ok(m) => Some(m),
            Err(e) => {
                bad.push(FieldError::new("mappings", e.to_string()));
                None
            }
        })
        .unwrap_or_default();
    let settings = json_object("settings", &typed.settings, &mut bad)
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    if !bad.is_empty() {
        let errors = Errors {
            detail: Some("The form has errors; nothing was saved.".into()),
            fields: bad,
        };
        return Ok(form::refused(draw(
            &session, kind, &typed, creating, &errors,
        )));
    }
    let result = api::put(
        State(state.clone()),
        session.principal.clone(),
        Path(name.clone()),
        ApiJson {
            value: api::ProviderPut {
                kind: kind.name.to_owned(),
                connection,
                mappings,
                settings,
                transformation: form::opt(&typed.transformation),
            },
            raw: Default::default(),
        },
    )
    .await;
    match form::outcome(result)? {
        Ok(_) => Ok(session.redirect(
            &page_of(&name),
            Flash {
                ok: true,
                text: format!("Provider {name} is saved."),
            },
        )),
        Err(errors) => Ok(form::refused(draw(
            &session, kind, &typed, creating, &errors,
        ))),
    }
}

/// A JSON object typed in a text area (blank reads as `{}`), or an error at `field`.
fn json_object(field: &str, text: &str, bad: &mut Vec<FieldError>) -> Option<Value> {
    if text.trim().is_empty() {
        return Some(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v) if v.is_object() => Some(v),
        Ok(_) => {
            bad.push(FieldError::new(field, "must be a JSON object ({…})"));
            None
        }
        Err(e) => {
            bad.push(FieldError::new(
                field,
                format!(
                    "is not JSON: {e} (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            ));
            None
        }
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub csrf: String,
}

/// Runs the connection test and says what happened on the provider's page.
pub async fn test(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let test =
        api::connection_test(State(state), session.principal.clone(), Path(name.clone())).await?;
    let t = test.0;
    let mut text = t.message.clone();
    if let Some(call) = &t.call {
        text.push_str(&format!(" ({call}"));
        if let Some(status) = t.status {
            text.push_str(&format!(" → {status}"));
        }
        text.push(')');
    }
    let label = match t.outcome {
        Outcome::Ok => "Connection OK",
        Outcome::Failed => "Connection failed",
        Outcome::NothingToCall => "Nothing to test",
    };
    Ok(session.redirect(
        &page_of(&name),
        Flash {
            ok: t.outcome != Outcome::Failed,
            text: format!("{label}: {text}"),
        },
    ))
}

/// The setup actions on a provider's page: edit, test connection (for those who may configure).
pub fn actions(session: &Session, name: &str) -> Markup {
    html! {
        @if session.can(Access::Configure) {
            div.actions #provider-actions {
                a href={ (page_of(name)) "/edit" } { "Edit" }
                form.inline method="post" action={ (page_of(name)) "/test" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button #test-connection type="submit" { "Test connection" }
                }
            }
        }
    }
}
