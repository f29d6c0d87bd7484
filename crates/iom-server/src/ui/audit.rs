//! `/ui/audit`: the configuration's history as `GET /api/v1/audit` answers it (the same handler,
//! so the same people may read it), filtered by actor and subject, a page at a time; each change
//! shown as the fields that differ between the document before and after.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::session::Session;
use super::{UiResult, format, layout};
use crate::AppState;
use crate::routes::audit as api;

const PAGE: usize = 50;

#[derive(Deserialize, Default)]
pub struct AuditParams {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub after: String,
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<AuditParams>,
) -> UiResult<Response> {
    let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let result = api::list(
        State(state),
        session.principal.clone(),
        Query(api::AuditParams {
            actor: opt(&params.actor),
            subject: opt(&params.subject),
            after: opt(&params.after),
            limit: Some(PAGE),
        }),
    )
    .await;
    let (page, error) = match result {
        Ok(p) => (Some(p.0), None),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => (None, Some(e)),
        Err(e) => return Err(e.into()),
    };
    let body = html! {
        h1 { "Configuration audit" }
        p.hint { "Every change of nodes, profiles, flows, policies, providers, subscriptions, alerts, templates, the return policy and tokens: who, when, and what changed. Secrets show as fingerprints, never as values." }
        form.filters method="get" action="/ui/audit" {
            label { "Actor" input name="actor" value=(params.actor) placeholder="ops@example.com or token:deploy"; }
            label { "Subject" input name="subject" value=(params.subject) placeholder="node:SEA or provider:*"; }
            button type="submit" { "Show" }
        }
        @if let Some(e) = &error { p.flash.error role="alert" { (e.problem.detail)
            @for f in &e.problem.errors { " (" (f.field) ": " (f.message) ")" } } }
        @if let Some(page) = &page {
            @if page.items.is_empty() { p.muted { "No changes." } } @else {
                table #audit {
                    thead { tr { th { "When" } th { "Who" } th { "Subject" } th { "Change" } } }
                    tbody { @for e in &page.items { tr {
                        td { (format::time(e.at)) }
                        td { a href={ "/ui/audit" (format::query(&[("actor", &e.actor.id)])) } { (e.actor.id) } " " span.muted { (e.actor.kind.as_str()) } }
                        td { a href={ "/ui/audit" (format::query(&[("subject", &e.subject)])) } { code { (e.subject) } } }
                        td { (change(e.before.as_ref(), e.after.as_ref())) }
                    } } }
                }
            }
            nav.pager aria-label="Pages" {
                @if !params.after.is_empty() {
                    a href={ "/ui/audit" (format::query(&[("actor", &params.actor), ("subject", &params.subject)])) } { "« First page" }
                }
                @if page.items.len() == PAGE {
                    a rel="next" href={ "/ui/audit" (format::query(&[("actor", &params.actor), ("subject", &params.subject), ("after", &page.next_cursor)])) } { "Next page »" }
                }
            }
        }
    };
    Ok(layout::page(
        &session,
        "Configuration audit",
        "/ui/audit",
        body,
    ))
}

/// A change as the fields that differ, each with its value before and after.
fn change(before: Option<&Value>, after: Option<&Value>) -> Markup {
    let rows = diff(before, after);
    let what = match (before, after) {
        (None, Some(_)) => "created",
        (Some(_), None) => "removed",
        _ => "changed",
    };
    html! {
        span.badge.change { (what) }
        @if rows.is_empty() { " " span.muted { "no field changed" } } @else {
            table.diff {
                @for (field, old, new) in &rows { tr {
                    td { code { (field) } }
                    td.before { @if let Some(v) = old { del { (v) } } }
                    td.after { @if let Some(v) = new { ins { (v) } } }
                } }
            }
        }
    }
}

/// The fields (as dotted paths) whose values differ, with their value before and after.
pub fn diff(
    before: Option<&Value>,
    after: Option<&Value>,
) -> Vec<(String, Option<String>, Option<String>)> {
    let mut old = BTreeMap::new();
    let mut new = BTreeMap::new();
    if let Some(v) = before {
        flatten("", v, &mut old);
    }
    if let Some(v) = after {
        flatten("", v, &mut new);
    }
    let mut fields: Vec<&String> = old.keys().chain(new.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| old.get(*f) != new.get(*f))
        .map(|f| (f.clone(), old.get(f).cloned(), new.get(f).cloned()))
        .collect()
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(&join(k), v, out);
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().any(|i| i.is_object()) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn only_the_fields_that_differ_are_shown() {
        let before =
            json!({"name": "East", "costs": {"per_unit": "0.25", "per_km": "0"}, "tags": ["a"]});
        let after = json!({"name": "East", "costs": {"per_unit": "0.30", "per_km": "0"}, "tags": ["a", "b"], "active": false});
        let rows = super::diff(Some(&before), Some(&after));
        assert_eq!(
            rows,
            vec![
                ("active".into(), None, Some("false".into())),
                (
                    "costs.per_unit".into(),
                    Some("0.25".into()),
                    Some("0.30".into())
                ),
                (
                    "tags".into(),
                    Some("[\"a\"]".into()),
                    Some("[\"a\",\"b\"]".into())
                ),
            ]
        );
        let created = super::diff(None, Some(&json!({"lines": [{"sku": "A"}]})));
        assert_eq!(
            created,
            vec![("lines[0].sku".into(), None, Some("A".into()))]
        );
    }
}
