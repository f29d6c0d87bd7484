//! Returns, newest first, filtered by status; each links to its order, whose page shows them too.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::session::Session;
use super::{UiResult, format, layout};
use crate::AppState;
use crate::routes::returns as api;

const STATUSES: &[&str] = &["authorized", "received", "refunded", "closed", "cancelled"];

#[derive(Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub cursor: String,
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
) -> UiResult<Response> {
    let page = api::list(
        State(state),
        session.principal.clone(),
        Query(api::ListQuery {
            status: Some(params.status.clone()).filter(|s| !s.is_empty()),
            order_id: None,
            origin: None,
            channel: None,
            limit: Some(50),
            cursor: Some(params.cursor.clone()).filter(|s| !s.is_empty()),
        }),
    )
    .await;
    let (page, error) = match page {
        Ok(p) => (Some(p.0), None),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => (None, Some(e)),
        Err(e) => return Err(e.into()),
    };
    let items: Vec<Value> = page
        .as_ref()
        .map(|p| {
            p.items
                .iter()
                .filter_map(|r| serde_json::to_value(r).ok())
                .collect()
        })
        .unwrap_or_default();
    let body = html! {
        h1 { "Returns" }
        p.muted { a href="/ui/returns/new" { "Start a return" } }
        form.filters method="get" action="/ui/returns" {
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES { option value=(s) selected[params.status == *s] { (s) } }
                }
            }
            button type="submit" { "Show" }
        }
        @if let Some(e) = &error { p.flash.error role="alert" { (e.problem.detail) } }
        (table(&items))
        @if let Some(next) = page.as_ref().and_then(|p| p.next_cursor.as_deref()) {
            nav.pager { a rel="next" href={ "/ui/returns" (format::query(&[("status", &params.status), ("cursor", next)])) } { "Next page »" } }
        }
    };
    Ok(layout::page(&session, "Returns", "/ui/returns", body))
}

/// Returns as JSON documents (as the API answers them) in a table.
pub fn table(items: &[Value]) -> Markup {
    let text = |v: &Value| {
        v.as_str().map_or_else(
            || {
                if v.is_null() {
                    String::new()
                } else {
                    v.to_string()
                }
            },
            str::to_owned,
        )
    };
    html! {
        @if items.is_empty() { p.muted { "No returns." } } @else {
            table #returns {
                thead { tr { th { "Return" } th { "Order" } th { "Origin" } th { "Status" } th { "Lines" } th { "Refund" } th { "Created" } } }
                tbody { @for r in items { tr {
                    td { a href={ "/ui/returns/" (format::segment(&text(&r["id"]))) } { code { (text(&r["id"])) } } }
                    td { a href={ "/ui/orders/" (text(&r["order_id"])) } { (text(&r["channel"])) " · " (text(&r["external_id"])) } }
                    td { (text(&r["origin"])) }
                    td { (format::badge(&text(&r["status"]))) }
                    td { @for l in r["lines"].as_array().into_iter().flatten() {
                        "#" (text(&l["line_no"])) " " (text(&l["sku"])) " × " (text(&l["quantity"])) " " span.muted { (text(&l["reason"])) } br;
                    } }
                    td { (text(&r["refund"]["amount"])) }
                    td { (text(&r["created_at"])) }
                } } }
            }
        }
    }
}
