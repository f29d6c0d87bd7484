//! Returns, newest first, filtered by status; each links to its order, whose page shows them too.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use iom_domain::{FieldError, ReturnOrder};
use iom_store::keyset::{After, Sort};
use iom_store::returns::{ReturnColumn, ReturnFilter};

use super::lists::{self, CsvPage};
use super::session::Session;
use super::{UiResult, format, layout};
use crate::AppState;
use crate::error::ApiError;

const STATUSES: &[&str] = &["authorized", "received", "refunded", "closed", "cancelled"];

#[derive(Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    pub status: String,
    /// `created`, `updated`, `status` or `order`, `-` first for descending; newest first when
    /// empty.
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub cursor: String,
    /// `csv` for every return the filter finds, as CSV.
    #[serde(default)]
    pub format: String,
}

const PAGE: usize = 50;

/// Returns read from the store per page of an export.
const EXPORT_PAGE: usize = 500;

/// The store's filter, with the page's sort and cursor; every bad parameter named.
fn filter(params: &ListParams) -> Result<ReturnFilter, ApiError> {
    let mut errors = Vec::new();
    let status = Some(params.status.trim().to_owned()).filter(|s| !s.is_empty());
    if let Some(s) = &status
        && iom_domain::ReturnStatus::parse(s).is_none()
    {
        errors.push(FieldError::new(
            "status",
            format!("{s:?} is not a return status"),
        ));
    }
    let (sort, after) = lists::sort_and_cursor(&params.sort, &params.cursor, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let (sort_key, cursor) = match after {
        Some(a) => (a.key, Some(a.id)),
        None => (None, None),
    };
    Ok(ReturnFilter {
        status,
        limit: PAGE,
        cursor,
        sort_key,
        sort,
        ..ReturnFilter::default()
    })
}

/// Where a list in `sort` continues after `ret`.
fn after(sort: Sort<ReturnColumn>, ret: &ReturnOrder) -> After {
    After::row(sort, || sort.column.key_of(ret), &ret.id)
}

const CSV_HEADER: &[&str] = &[
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
];

/// Every return the filter finds as CSV, in its sort, read and sent a page at a time.
fn export(state: AppState, filter: ReturnFilter) -> Response {
    let sort = filter.sort;
    lists::export(
        "returns.csv",
        CSV_HEADER,
        EXPORT_PAGE,
        move |position: Option<After>| {
            let (sort_key, cursor) = match position {
                Some(a) => (a.key, Some(a.id)),
                None => (None, None),
            };
            let filter = ReturnFilter {
                limit: EXPORT_PAGE,
                cursor,
                sort_key,
                ..filter.clone()
            };
            let store = state.store.clone();
            async move { Ok(store.list_returns(filter).await?) }
        },
        |page: &mut CsvPage, r: &ReturnOrder| {
            let v = serde_json::to_value(r).unwrap_or_default();
            let text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let units: u64 = r.lines.iter().map(|l| u64::from(l.quantity)).sum();
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
        },
        move |r: &ReturnOrder| after(sort, r),
    )
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
) -> UiResult<Response> {
    crate::auth::Principal::require(&session.principal, crate::auth::Access::Read)?;
    if params.format == "csv" {
        return Ok(export(state, filter(&params)?));
    }
    let result = match filter(&params) {
        Ok(f) => tokio::try_join!(
            state.store.list_returns(f.clone()),
            state.store.count_returns(f.clone()),
        )
        .map(|(items, total)| (f.sort, items, total))
        .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let saved = lists::load_saved(&state, &session, "returns").await?;
    let (page, error) = match result {
        Ok(p) => (Some(p), None),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => (None, Some(e)),
        Err(e) => return Err(e.into()),
    };
    let items: Vec<Value> = page
        .as_ref()
        .map(|(_, items, _)| {
            items
                .iter()
                .filter_map(|r| serde_json::to_value(r).ok())
                .collect()
        })
        .unwrap_or_default();
    let next = page.as_ref().and_then(|(sort, items, _)| {
        (items.len() == PAGE)
            .then(|| items.last())
            .flatten()
            .map(|r| after(*sort, r).cursor())
    });
    let status = params.status.trim();
    let sort = params.sort.trim();
    let filters = [("status", status)];
    let pairs = [("status", status), ("sort", sort)];
    let csv_pairs = [("status", status), ("sort", sort), ("format", "csv")];
    let current = if sort.is_empty() { "-created" } else { sort };
    let header = |column: &str, label: &str| {
        lists::sort_header("/ui/returns", &filters, current, column, label, false)
    };
    let head = html! {
        th { "Return" }
        (header("order", "Order"))
        th { "Origin" }
        (header("status", "Status"))
        th { "Lines" } th { "Refund" }
        (header("created", "Created"))
        (header("updated", "Updated"))
    };
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
            @if !sort.is_empty() { input type="hidden" name="sort" value=(sort); }
            button type="submit" { "Show" }
        }
        (lists::saved_filters(&session, "returns", "/ui/returns", format::query(&pairs).trim_start_matches('?'), &saved))
        @if let Some(e) = &error {
            p.flash.error role="alert" {
                (e.problem.detail)
                @for f in &e.problem.errors { " · " code { (f.field) } " " (f.message) }
            }
        }
        @if let Some((_, _, total)) = &page {
            div.list-head {
                (lists::count_capped(*total, "return", "returns"))
                a.export href={ "/ui/returns" (format::query(&csv_pairs)) } download { "Export CSV" }
            }
            (table_with(&items, head, true))
            (lists::pager("/ui/returns", &pairs, !params.cursor.is_empty(), next.as_deref()))
        }
    };
    let mut response = layout::page(&session, "Returns", "/ui/returns", body);
    if error.is_some() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// Returns as JSON documents (as the API answers them) in a table.
pub fn table(items: &[Value]) -> Markup {
    let head = html! {
        th { "Return" } th { "Order" } th { "Origin" } th { "Status" } th { "Lines" } th { "Refund" } th { "Created" }
    };
    table_with(items, head, false)
}

/// The table with the header cells given (a list's sort headers), and with each return's last
/// change when `updated` (the list sorts by it).
fn table_with(items: &[Value], head: Markup, updated: bool) -> Markup {
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
                    thead { tr { (head) } }
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
                        @if updated { td { (format::time_str(&text(&r["updated_at"]))) } }
                    } } }
                }
            }
        }
    }
}
