//! Returns, newest first, filtered by status; each links to its order, whose page shows them too.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use axum::body::{Body, Bytes};
use iom_store::returns::ReturnFilter;

use super::lists::{self, CsvPage};
use super::session::Session;
use super::{UiResult, format, layout};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::returns as api;

const STATUSES: &[&str] = &["authorized", "received", "refunded", "closed", "cancelled"];

#[derive(Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub cursor: String,
    /// `csv` for every return the filter finds, as CSV.
    #[serde(default)]
    pub format: String,
}

/// Returns read from the store per page of an export.
const EXPORT_PAGE: usize = 500;

fn filter(params: &ListParams) -> Result<ReturnFilter, ApiError> {
    let status = Some(params.status.trim().to_owned()).filter(|s| !s.is_empty());
    if let Some(s) = &status
        && iom_domain::ReturnStatus::parse(s).is_none()
    {
        return Err(ApiError::invalid_field(
            "status",
            format!("{s:?} is not a return status"),
        ));
    }
    Ok(ReturnFilter {
        status,
        limit: EXPORT_PAGE,
        ..ReturnFilter::default()
    })
}

/// Every return the filter finds as CSV, read and sent a page at a time (newest first).
fn export(state: AppState, filter: ReturnFilter) -> Response {
    let store = state.store.clone();
    let pages = futures_util::stream::unfold(Some((filter, true)), move |next| {
        let store = store.clone();
        async move {
            let (mut filter, first) = next?;
            let rows = match store.list_returns(filter.clone()).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "return export failed");
                    return Some((Err(std::io::Error::other(e.to_string())), None));
                }
            };
            let mut page = CsvPage::default();
            if first {
                page.record([
                    "id",
                    "order_id",
                    "channel",
                    "external_id",
                    "origin",
                    "status",
                    "units",
                    "refund",
                    "currency",
                    "created_at",
                ]);
            }
            for r in &rows {
                let v = serde_json::to_value(r).unwrap_or_default();
                let text = |v: &Value| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                let units: i64 = v["lines"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l["quantity"].as_i64())
                    .sum();
                let fields = [
                    text(&v["id"]),
                    text(&v["order_id"]),
                    text(&v["channel"]),
                    text(&v["external_id"]),
                    text(&v["origin"]),
                    text(&v["status"]),
                    units.to_string(),
                    text(&v["refund"]["amount"]),
                    text(&v["currency"]),
                    text(&v["created_at"]),
                ];
                page.record(fields.iter().map(String::as_str));
            }
            let next = match rows.last() {
                Some(last) if rows.len() == filter.limit => {
                    filter.cursor = Some(last.id.clone());
                    Some((filter, false))
                }
                _ => None,
            };
            Some((Ok(Bytes::from(page.into_bytes())), next))
        }
    });
    lists::csv("returns.csv", Body::from_stream(pages))
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
) -> UiResult<Response> {
    if params.format == "csv" {
        return Ok(export(state, filter(&params)?));
    }
    let counted = match filter(&params) {
        Ok(f) => state.store.count_returns(f).await?,
        Err(_) => 0,
    };
    let saved = lists::load_saved(&state, &session, "returns").await?;
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
        (lists::saved_filters(&session, "returns", "/ui/returns", format::query(&[("status", &params.status)]).trim_start_matches('?'), &saved))
        @if let Some(e) = &error { p.flash.error role="alert" { (e.problem.detail) } }
        div.list-head {
            (lists::count(counted, if counted == 1 { "return" } else { "returns" }))
            a.export href={ "/ui/returns" (format::query(&[("status", &params.status), ("format", "csv")])) } download { "Export CSV" }
        }
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
            div.table-scroll {
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
                        td.num { @if r["refund"]["amount"].is_string() {
                            (format::money_text(&text(&r["refund"]["amount"]), &text(&r["currency"])))
                        } }
                        td { (format::time_str(&text(&r["created_at"]))) }
                    } } }
                }
            }
        }
    }
}
