//! A fulfilment node's form: `/ui/nodes/new` and `/ui/nodes/{code}` (name, kind, location,
//! capacity, safety stock, costs, active, returns). The location is typed as latitude and
//! longitude, or, with scripts on, set by clicking the map (drawn on the server like the nodes'
//! map; no tiles are fetched). Saving calls the handler of `PUT /api/v1/nodes/{code}` with the
//! stored document and the form's fields over it, so what the form does not show (calendar,
//! rate tables, provider) is kept, and validation is the API's own.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use iom_domain::FieldError;
use maud::html;
use serde_json::{Map, Value, json};

use super::form::{self, Errors};
use super::session::{Flash, Session};
use super::{UiResult, format, layout, nodes};
use crate::AppState;
use crate::auth::Access;
use crate::json::ApiJson;
use crate::routes::nodes as api;

const KINDS: &[(&str, &str)] = &[
    ("warehouse", "Warehouse"),
    ("store", "Store"),
    ("3pl", "3PL"),
    ("dropship", "Drop-ship vendor"),
];

/// The fields the form shows, by name, with their place in the node's document.
const FIELDS: &[&str] = &[
    "name",
    "kind",
    "lat",
    "lon",
    "daily_capacity",
    "safety_stock",
    "per_shipment",
    "per_unit",
    "per_km",
];

fn page_of(code: &str) -> String {
    format!("/ui/nodes/{}", format::segment(code))
}

/// What the form shows, as text: from the stored document or as posted.
struct Typed {
    code: String,
    values: Map<String, Value>,
    active: bool,
    accepts_returns: bool,
}

impl Typed {
    fn get(&self, field: &str) -> String {
        match self.values.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }

    fn from_doc(code: &str, doc: &Value) -> Typed {
        let text = |v: &Value| match v {
            Value::Null => Value::String(String::new()),
            Value::String(s) => Value::String(s.clone()),
            other => Value::String(other.to_string()),
        };
        let mut values = Map::new();
        values.insert("name".into(), text(&doc["name"]));
        values.insert("kind".into(), text(&doc["kind"]));
        values.insert("lat".into(), text(&doc["location"]["lat"]));
        values.insert("lon".into(), text(&doc["location"]["lon"]));
        values.insert("daily_capacity".into(), text(&doc["daily_capacity"]));
        values.insert("safety_stock".into(), text(&doc["safety_stock"]));
        for c in ["per_shipment", "per_unit", "per_km"] {
            values.insert(c.into(), text(&doc["costs"][c]));
        }
        Typed {
            code: code.to_owned(),
            values,
            active: doc["active"].as_bool().unwrap_or(true),
            accepts_returns: doc["accepts_returns"].as_bool().unwrap_or(true),
        }
    }
}

pub async fn new(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    session.principal.require(Access::Configure)?;
    let mut typed = Typed::from_doc("", &json!({"kind": "warehouse", "safety_stock": 0}));
    typed.values.insert("kind".into(), json!("warehouse"));
    draw(&state, &session, &typed, true, &Errors::none()).await
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
) -> UiResult<Response> {
    let view = api::get(
        State(state.clone()),
        session.principal.clone(),
        Path(code.clone()),
    )
    .await?
    .0;
    let doc = serde_json::to_value(&view.node).unwrap_or_default();
    let typed = Typed::from_doc(&code, &doc);
    draw(&state, &session, &typed, false, &Errors::none()).await
}

async fn draw(
    state: &AppState,
    session: &Session,
    typed: &Typed,
    creating: bool,
    errors: &Errors,
) -> UiResult<Response> {
    let all = state.store.list_nodes().await?;
    let others: Vec<_> = all.into_iter().filter(|n| n.code != typed.code).collect();
    let pins = nodes::pins(&others);
    let picked = typed
        .get("lat")
        .parse::<f64>()
        .ok()
        .zip(typed.get("lon").parse::<f64>().ok())
        .filter(|(lat, lon)| lat.abs() <= 90.0 && lon.abs() <= 180.0);
    let can = session.can(Access::Configure);
    let action = if creating {
        "/ui/nodes/new".to_owned()
    } else {
        page_of(&typed.code)
    };
    let title = if creating {
        "New node".to_owned()
    } else {
        format!("Node {}", typed.code)
    };
    let input = |field: &str, label: &str, kind: &str, step: &str| {
        html! {
            label { (label)
                input id=(field) name=(field) type=(kind) step=(step) value=(typed.get(field)) disabled[!can];
                (errors.at(field_path(field)))
            }
        }
    };
    let body = html! {
        p.muted { a href="/ui/nodes" { "Nodes" } " ›" }
        h1 { (title) }
        (errors.banner(&["code", "name", "kind", "location", "daily_capacity", "safety_stock", "costs", "active", "accepts_returns"]))
        @if !can { p.muted { "Your role can only read the node: changing nodes needs the admin role." } }
        form.stack #node-form method="post" action=(action) {
            input type="hidden" name="csrf" value=(session.csrf);
            @if creating {
                label { "Code"
                    input #code name="code" required value=(typed.code);
                    span.hint { "Short and without spaces, e.g. DC-EAST; it cannot be changed later." }
                    (errors.at("code"))
                }
            }
            (input("name", "Name", "text", ""))
            label { "Kind"
                select #kind name="kind" disabled[!can] {
                    @for (value, label) in KINDS { option value=(value) selected[typed.get("kind") == *value] { (label) } }
                }
                (errors.at("kind"))
            }
            fieldset #location {
                legend { "Location" }
                (input("lat", "Latitude (−90 to 90)", "text", ""))
                (input("lon", "Longitude (−180 to 180)", "text", ""))
            }
            (nodes::pick_map(&pins, picked))
            p.hint.js-only { "Click the map to set the location; the other nodes are shown for orientation." }
            fieldset {
                legend { "Capacity" }
                (input("daily_capacity", "Daily capacity (blank: unlimited)", "number", "1"))
                (input("safety_stock", "Safety stock (units per SKU)", "number", "1"))
            }
            fieldset #costs {
                legend { "Costs" }
                (input("per_shipment", "Per shipment", "text", ""))
                (input("per_unit", "Per unit", "text", ""))
                (input("per_km", "Per km", "text", ""))
            }
            label.check { input type="checkbox" name="active" value="true" checked[typed.active] disabled[!can]; " Active (ships orders)" }
            label.check { input type="checkbox" name="accepts_returns" value="true" checked[typed.accepts_returns] disabled[!can]; " Accepts returns" }
            @if can { div.actions { button type="submit" { "Save" } a href="/ui/nodes" { "Cancel" } } }
        }
    };
    Ok(layout::page(session, &title, "/ui/nodes", body))
}

/// Where the API names a form field.
fn field_path(field: &str) -> &'static str {
    match field {
        "lat" => "location.lat",
        "lon" => "location.lon",
        "per_shipment" => "costs.per_shipment",
        "per_unit" => "costs.per_unit",
        "per_km" => "costs.per_km",
        "name" => "name",
        "kind" => "kind",
        "daily_capacity" => "daily_capacity",
        "safety_stock" => "safety_stock",
        _ => "",
    }
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(pairs): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    let code = form::value(&pairs, "code").trim().to_owned();
    save(state, session, code, pairs, true).await
}

pub async fn update(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    save(state, session, code, pairs, false).await
}

async fn save(
    state: AppState,
    session: Session,
    code: String,
    pairs: Vec<(String, String)>,
    creating: bool,
) -> UiResult<Response> {
    session.verify(form::value(&pairs, "csrf"))?;
    session.principal.require(Access::Configure)?;
    let mut typed = Typed {
        code: code.clone(),
        values: Map::new(),
        active: form::value(&pairs, "active") == "true",
        accepts_returns: form::value(&pairs, "accepts_returns") == "true",
    };
    for f in FIELDS {
        typed.values.insert(
            (*f).into(),
            Value::String(form::value(&pairs, f).to_owned()),
        );
    }
    let mut bad = Vec::new();
    if creating && code.is_empty() {
        bad.push(FieldError::new("code", "is required"));
    }
    if creating && !code.is_empty() && state.store.get_node(code.clone()).await?.is_some() {
        bad.push(FieldError::new(
            "code",
            format!("a node {code} exists already: edit it instead"),
        ));
    }
    let (lat, lon) = (typed.get("lat"), typed.get("lon"));
    if lat.trim().is_empty() != lon.trim().is_empty() {
        bad.push(FieldError::new(
            "location",
            "give both latitude and longitude, or neither",
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
    // The stored document, with the form's fields over it.
    let mut doc = match state.store.get_node(code.clone()).await? {
        Some(stored) if !creating => stored.doc,
        _ => json!({}),
    };
    let text = |f: &str| typed.get(f).trim().to_owned();
    doc["name"] = json!(text("name"));
    doc["kind"] = json!(text("kind"));
    doc["active"] = json!(typed.active);
    doc["accepts_returns"] = json!(typed.accepts_returns);
    if let Some(map) = doc.as_object_mut() {
        map.remove("code");
        map.remove("updated_at");
    }
    if lat.trim().is_empty() {
        if let Some(map) = doc.as_object_mut() {
            map.remove("location");
        }
    } else {
        doc["location"] = json!({"lat": form::number(&lat), "lon": form::number(&lon)});
    }
    if text("daily_capacity").is_empty() {
        if let Some(map) = doc.as_object_mut() {
            map.remove("daily_capacity");
        }
    } else {
        doc["daily_capacity"] = form::number(&text("daily_capacity"));
    }
    doc["safety_stock"] = if text("safety_stock").is_empty() {
        json!(0)
    } else {
        form::number(&text("safety_stock"))
    };
    if !doc["costs"].is_object() {
        doc["costs"] = json!({});
    }
    for c in ["per_shipment", "per_unit", "per_km"] {
        let v = text(c);
        doc["costs"][c] = json!(if v.is_empty() { "0".to_owned() } else { v });
    }
    let raw = axum::body::Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    let result = match crate::json::parse(&raw) {
        Ok(node) => {
            api::put(
                State(state.clone()),
                session.principal.clone(),
                Path(code.clone()),
                ApiJson { value: node, raw },
            )
            .await
        }
        Err(e) => Err(e),
    };
    match form::outcome(result)? {
        Ok(_) => Ok(session.redirect(
            &page_of(&code),
            Flash {
                ok: true,
                text: format!("Node {code} is saved."),
            },
        )),
        Err(errors) => Ok(form::refused(
            draw(&state, &session, &typed, creating, &errors).await?,
        )),
    }
}
