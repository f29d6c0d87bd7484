//! An alert's form: `/ui/alerts/new` and `/ui/alerts/{name}/edit` (the condition with the fields
//! of its type, who is notified, enabled). Saving calls the handler of `PUT /api/v1/alerts/{name}`,
//! so the condition is checked by the definition's own parser.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use iom_domain::FieldError;
use maud::html;
use serde_json::{Map, Value, json};

use super::form::{self, Errors};
use super::session::{Flash, Session};
use super::{UiResult, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::json::ApiJson;
use crate::routes::alerts as api;

/// Condition types and the fields each takes.
const CONDITIONS: &[(&str, &str, &[&str])] = &[
    (
        "order_not_released",
        "Order not released N hours after intake",
        &["hours"],
    ),
    (
        "order_not_shipped",
        "Order not shipped N hours before its requested delivery",
        &["hours"],
    ),
    (
        "inventory_below",
        "Available units of a SKU at a node below a threshold",
        &["threshold", "sku", "node"],
    ),
    (
        "shipment_exception",
        "The carrier reported an exception for a shipment",
        &[],
    ),
];

fn page_of(name: &str) -> String {
    format!("/ui/alerts/{}/edit", format::segment(name))
}

struct Typed {
    name: String,
    kind: String,
    /// hours, threshold, sku, node, email: as text.
    fields: Map<String, Value>,
    enabled: bool,
}

impl Typed {
    fn text(&self, field: &str) -> String {
        match self.fields.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }
}

pub async fn new(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    session.principal.require(Access::Configure)?;
    let typed = Typed {
        name: String::new(),
        kind: "order_not_released".into(),
        fields: Map::new(),
        enabled: true,
    };
    draw(&state, &session, &typed, true, &Errors::none()).await
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
) -> UiResult<Response> {
    let view = api::get(
        State(state.clone()),
        session.principal.clone(),
        Path(name.clone()),
    )
    .await?
    .0;
    let condition = serde_json::to_value(&view.condition).unwrap_or_default();
    let mut fields = condition.as_object().cloned().unwrap_or_default();
    let kind = fields
        .remove("type")
        .and_then(|t| t.as_str().map(str::to_owned))
        .unwrap_or_default();
    if let Some(email) = view.notify.get("email") {
        fields.insert("email".into(), email.clone());
    }
    let typed = Typed {
        name,
        kind,
        fields,
        enabled: view.enabled,
    };
    draw(&state, &session, &typed, false, &Errors::none()).await
}

async fn draw(
    state: &AppState,
    session: &Session,
    typed: &Typed,
    creating: bool,
    errors: &Errors,
) -> UiResult<Response> {
    let alerts = state.store.list_alerts().await?;
    let can = session.can(Access::Configure);
    let action = if creating {
        "/ui/alerts/new".to_owned()
    } else {
        page_of(&typed.name)
    };
    let title = if creating {
        "New alert".to_owned()
    } else {
        format!("Alert {}", typed.name)
    };
    let field = |name: &str, label: &str, kind: &str| {
        html! {
            label { (label)
                input name=(name) type=(kind) value=(typed.text(name)) disabled[!can];
                (errors.at(&format!("condition.{name}")))
            }
        }
    };
    let body = html! {
        h1 { (title) }
        p.hint { "An alert fires once per subject (an order, a SKU at a node, a shipment) as an alert.fired business event; notification templates and subscriptions deliver it." }
        (errors.banner(&["name", "condition.hours", "condition.threshold", "condition.sku", "condition.node", "notify", "enabled"]))
        @if !can { p.muted { "Your role can only read the alert: changing alerts needs the admin role." } }
        form.stack #alert-form method="post" action=(action) {
            input type="hidden" name="csrf" value=(session.csrf);
            @if creating {
                label { "Name" input #name name="name" required value=(typed.name); (errors.at("name")) }
            }
            fieldset #condition {
                legend { "Condition" }
                @for (kind, label, takes) in CONDITIONS {
                    label.check {
                        input type="radio" name="type" value=(kind) checked[typed.kind == *kind] disabled[!can];
                        " " (label)
                        @if !takes.is_empty() { span.muted { " (" (takes.join(", ")) ")" } }
                    }
                }
                (field("hours", "Hours (order conditions)", "number"))
                (field("threshold", "Threshold (inventory_below)", "number"))
                (field("sku", "SKU (inventory_below; blank: every SKU)", "text"))
                (field("node", "Node (inventory_below; blank: every node)", "text"))
            }
            label { "Notify e-mail"
                input name="email" type="email" value=(typed.text("email")) disabled[!can];
                (errors.at("notify"))
            }
            label.check { input type="checkbox" name="enabled" value="true" checked[typed.enabled] disabled[!can]; " Enabled" }
            @if can { div.actions { button type="submit" { "Save" } } }
        }
        @if !alerts.is_empty() {
            h2 { "Alerts" }
            ul #alert-forms { @for a in &alerts {
                li { a href=(page_of(&a.name)) { (a.name) } " " span.muted { (a.definition.condition.kind()) @if !a.definition.enabled { " · disabled" } } }
            } }
        }
        @if can { p { a href="/ui/alerts/new" { "New alert" } } }
    };
    Ok(layout::page(session, &title, "/ui", body))
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
    let kind = form::value(&pairs, "type").to_owned();
    let takes: &[&str] = CONDITIONS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map_or(&[], |(_, _, t)| t);
    let mut condition = json!({"type": kind});
    let mut fields = Map::new();
    for f in ["hours", "threshold", "sku", "node", "email"] {
        fields.insert(f.into(), json!(form::value(&pairs, f).trim()));
    }
    for f in takes {
        let text = form::value(&pairs, f).trim();
        match *f {
            "sku" | "node" if text.is_empty() => {}
            "sku" | "node" => condition[*f] = json!(text),
            _ => condition[*f] = form::number(text),
        }
    }
    let stored = state.store.get_alert(name.clone()).await?;
    let mut notify = match &stored {
        Some(a) if !creating => a.definition.notify.clone(),
        _ => Map::new(),
    };
    notify.remove("email");
    let typed = Typed {
        name: name.clone(),
        kind: kind.clone(),
        fields,
        enabled: form::value(&pairs, "enabled") == "true",
    };
    let email = form::value(&pairs, "email").trim();
    if !email.is_empty() {
        notify.insert("email".into(), json!(email));
    }
    let mut bad = Vec::new();
    if creating && name.is_empty() {
        bad.push(FieldError::new("name", "is required"));
    }
    if creating && stored.is_some() {
        bad.push(FieldError::new(
            "name",
            format!("an alert {name} exists already: edit it instead"),
        ));
    }
    if !bad.is_empty() {
        let errors = Errors {
            detail: Some("The form has errors; nothing was saved.".into()),
            fields: bad,
        };
        return Ok(form::refused(
            draw(&state, &session, &typed, creating, &errors).await?,
        ));
    }
    let doc = json!({"condition": condition, "notify": notify, "enabled": typed.enabled});
    let result = api::put(
        State(state.clone()),
        session.principal.clone(),
        Path(name.clone()),
        ApiJson {
            value: doc,
            raw: Default::default(),
        },
    )
    .await;
    match form::outcome(result)? {
        Ok(_) => Ok(session.redirect(
            &page_of(&name),
            Flash {
                ok: true,
                text: format!("Alert {name} is saved."),
            },
        )),
        Err(errors) => Ok(form::refused(
            draw(&state, &session, &typed, creating, &errors).await?,
        )),
    }
}
