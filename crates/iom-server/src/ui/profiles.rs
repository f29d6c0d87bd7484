//! Fulfilment profiles: the list (`/ui/profiles`) and a form per profile (`/ui/profiles/{name}`,
//! `/ui/profiles/new`): objective, distance and node limits, partial shipments and line splits,
//! node kinds, excluded nodes, capacity and safety stock, transit days. Saving calls the handler
//! of `PUT /api/v1/fulfillment/profiles/{name}` with the stored document and the form's fields
//! over it (tiers, soft constraints, alternates and rates written through the API are kept).

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use iom_domain::FieldError;
use maud::html;
use serde_json::{Value, json};

use super::form::{self, Errors};
use super::session::{Flash, Session};
use super::{UiResult, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::json::ApiJson;
use crate::routes::fulfillment as api;

const OBJECTIVES: &[(&str, &str)] = &[
    ("cost", "Lowest shipping cost"),
    ("distance", "Shortest distance"),
    ("shipments", "Fewest shipments"),
];
const KINDS: &[&str] = &["warehouse", "store", "3pl", "dropship"];
const CHECKS: &[(&str, &str)] = &[
    (
        "allow_partial",
        "Ship what is available (partial shipments)",
    ),
    ("allow_line_split", "Split a line across nodes"),
    ("respect_capacity", "Respect each node's daily capacity"),
    ("respect_safety_stock", "Hold back safety stock"),
];

fn page_of(name: &str) -> String {
    format!("/ui/profiles/{}", format::segment(name))
}

pub async fn list(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    let page = api::list_profiles(State(state), session.principal.clone())
        .await?
        .0;
    let items: Vec<Value> = page
        .items
        .iter()
        .filter_map(|p| serde_json::to_value(p).ok())
        .collect();
    let text = |v: &Value| match v {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let body = html! {
        p.muted { a href="/ui/nodes" { "Nodes" } " ›" }
        h1 { "Fulfilment profiles" }
        p.hint { "How orders are sourced: what is optimised and under which constraints. The profile “default” applies when an order names none." }
        @if session.can(Access::Configure) { p { a #new-profile href="/ui/profiles/new" { "New profile" } } }
        @if items.is_empty() { p.muted { "No profiles: the built-in default applies." } } @else {
            table #profiles {
                thead { tr { th { "Name" } th { "Objective" } th.num { "Max km" } th.num { "Max nodes" } th { "Partial" } th { "Split lines" } th { "Node kinds" } th { "Excluded" } th { "Updated" } } }
                tbody { @for p in &items { tr {
                    td { a href=(page_of(p["name"].as_str().unwrap_or_default())) { (text(&p["name"])) } }
                    td { (text(&p["objective"])) }
                    td.num { (text(&p["max_distance_km"])) }
                    td.num { (text(&p["max_nodes"])) }
                    td { @if p["allow_partial"] == true { "yes" } @else { "no" } }
                    td { @if p["allow_line_split"] == true { "yes" } @else { "no" } }
                    td { (list_text(&p["node_kinds"], "all")) }
                    td { (list_text(&p["exclude_nodes"], "none")) }
                    td { (text(&p["updated_at"])) }
                } } }
            }
        }
    };
    Ok(layout::page(
        &session,
        "Fulfilment profiles",
        "/ui/nodes",
        body,
    ))
}

fn list_text(v: &Value, empty: &str) -> String {
    let items: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.as_str().map(str::to_owned))
        .collect();
    if items.is_empty() {
        empty.to_owned()
    } else {
        items.join(", ")
    }
}

/// The form's values, as text.
struct Typed {
    name: String,
    doc: Value,
}

impl Typed {
    fn text(&self, field: &str) -> String {
        match &self.doc[field] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        }
    }

    fn has_kind(&self, kind: &str) -> bool {
        self.doc["node_kinds"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == kind))
    }
}

pub async fn new(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    session.principal.require(Access::Configure)?;
    let doc = serde_json::to_value(iom_sourcing::Profile::default()).unwrap_or_default();
    let typed = Typed {
        name: String::new(),
        doc,
    };
    draw(&state, &session, &typed, true, &Errors::none())
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
) -> UiResult<Response> {
    let view = api::get_profile(
        State(state.clone()),
        session.principal.clone(),
        Path(name.clone()),
    )
    .await?
    .0;
    let typed = Typed {
        name,
        doc: serde_json::to_value(&view.profile).unwrap_or_default(),
    };
    draw(&state, &session, &typed, false, &Errors::none())
}

fn draw(
    _state: &AppState,
    session: &Session,
    typed: &Typed,
    creating: bool,
    errors: &Errors,
) -> UiResult<Response> {
    let can = session.can(Access::Configure);
    let action = if creating {
        "/ui/profiles/new".to_owned()
    } else {
        page_of(&typed.name)
    };
    let title = if creating {
        "New profile".to_owned()
    } else {
        format!("Profile {}", typed.name)
    };
    let objective = typed.text("objective");
    let body = html! {
        p.muted { a href="/ui/profiles" { "Profiles" } " ›" }
        h1 { (title) }
        (errors.banner(&["name", "objective", "max_distance_km", "max_nodes", "node_kinds", "exclude_nodes", "transit_days", "allow_partial", "allow_line_split", "respect_capacity", "respect_safety_stock"]))
        @if !can { p.muted { "Your role can only read the profile: changing it needs the admin role." } }
        form.stack #profile-form method="post" action=(action) {
            input type="hidden" name="csrf" value=(session.csrf);
            @if creating {
                label { "Name" input #name name="name" required value=(typed.name); (errors.at("name")) }
            }
            label { "Objective"
                select name="objective" disabled[!can] {
                    @for (value, label) in OBJECTIVES { option value=(value) selected[objective == *value] { (label) } }
                }
                (errors.at("objective"))
            }
            fieldset {
                legend { "Limits" }
                label { "Max distance (km; blank: none)" input name="max_distance_km" value=(typed.text("max_distance_km")) disabled[!can]; (errors.at("max_distance_km")) }
                label { "Max nodes per order (blank: none)" input name="max_nodes" type="number" min="1" value=(typed.text("max_nodes")) disabled[!can]; (errors.at("max_nodes")) }
                label { "Transit days" input name="transit_days" type="number" min="0" value=(typed.text("transit_days")) disabled[!can]; (errors.at("transit_days")) }
            }
            fieldset #node-kinds {
                legend { "Node kinds that may ship (none checked: all)" }
                @for k in KINDS {
                    label.check { input type="checkbox" name="node_kinds" value=(k) checked[typed.has_kind(k)] disabled[!can]; " " (k) }
                }
                (errors.at("node_kinds"))
            }
            label { "Excluded nodes or groups (comma-separated)"
                input name="exclude_nodes" value=(typed.text("exclude_nodes")) disabled[!can];
                (errors.at("exclude_nodes"))
            }
            @for (field, label) in CHECKS {
                label.check { input type="checkbox" name=(field) value="true" checked[typed.doc[*field] == true] disabled[!can]; " " (label) }
            }
            @if can { div.actions { button type="submit" { "Save" } a href="/ui/profiles" { "Cancel" } } }
        }
    };
    Ok(layout::page(session, &title, "/ui/nodes", body))
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

/// A number typed in a field as JSON (the text itself when it is none: the API names the field).
fn number(text: &str) -> Value {
    let text = text.trim();
    if text.is_empty() {
        return Value::Null;
    }
    form::number(text)
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
    let stored = state
        .store
        .get_doc(iom_store::nodes::DocKind::Profile, name.clone())
        .await?;
    let mut doc = match &stored {
        Some(d) if !creating => d.doc.clone(),
        _ => serde_json::to_value(iom_sourcing::Profile::default()).unwrap_or_default(),
    };
    let mut bad = Vec::new();
    if creating && name.is_empty() {
        bad.push(FieldError::new("name", "is required"));
    }
    if creating && stored.is_some() {
        bad.push(FieldError::new(
            "name",
            format!("a profile {name} exists already: edit it instead"),
        ));
    }
    doc["objective"] = json!(form::value(&pairs, "objective"));
    for field in ["max_distance_km", "max_nodes"] {
        let v = number(form::value(&pairs, field));
        match doc.as_object_mut() {
            Some(map) if v.is_null() => {
                map.remove(field);
            }
            _ => doc[field] = v,
        }
    }
    let transit = number(form::value(&pairs, "transit_days"));
    doc["transit_days"] = if transit.is_null() { json!(3) } else { transit };
    let kinds: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "node_kinds")
        .map(|(_, v)| v.as_str())
        .collect();
    doc["node_kinds"] = json!(kinds);
    let excluded: Vec<String> = form::value(&pairs, "exclude_nodes")
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    doc["exclude_nodes"] = json!(excluded);
    for (field, _) in CHECKS {
        doc[*field] = json!(form::value(&pairs, field) == "true");
    }
    if let Some(map) = doc.as_object_mut() {
        map.remove("name");
        map.remove("updated_at");
        map.remove("warnings");
    }
    let typed = Typed {
        name: name.clone(),
        doc: {
            let mut shown = doc.clone();
            for field in ["max_distance_km", "max_nodes", "transit_days"] {
                let typed = form::value(&pairs, field).trim();
                shown[field] = if typed.is_empty() {
                    Value::Null
                } else {
                    json!(typed)
                };
            }
            shown
        },
    };
    if !bad.is_empty() {
        let errors = Errors {
            detail: Some("The form has errors; nothing was saved.".into()),
            fields: bad,
        };
        return Ok(form::refused(draw(
            &state, &session, &typed, creating, &errors,
        )?));
    }
    let raw = axum::body::Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    let result = match crate::json::parse(&raw) {
        Ok(profile) => {
            api::put_profile(
                State(state.clone()),
                session.principal.clone(),
                Path(name.clone()),
                ApiJson {
                    value: profile,
                    raw,
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    match form::outcome(result)? {
        Ok(_) => Ok(session.redirect(
            &page_of(&name),
            Flash {
                ok: true,
                text: format!("Profile {name} is saved."),
            },
        )),
        Err(errors) => Ok(form::refused(draw(
            &state, &session, &typed, creating, &errors,
        )?)),
    }
}
