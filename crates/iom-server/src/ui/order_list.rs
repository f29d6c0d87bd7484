//! The order list: search, filters, a count, sorting by column, keyset paging, saved filters,
//! and the same list as CSV at its own address (`?format=csv`), streamed page by page.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, NaiveDate, SecondsFormat};
use iom_domain::{Order, OrderStatus};
use iom_store::{OrderFilter, OrderSummary};
use maud::{Markup, html};
use serde::Deserialize;

use super::lists::{self, CsvPage};
use super::session::Session;
use super::{UiResult, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use crate::routes::orders as api;

const PAGE: usize = 50;

/// Orders read from the store per page of an export.
const EXPORT_PAGE: usize = 2000;

#[derive(Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub node: String,
    #[serde(default)]
    pub sku: String,
    /// First day placed (YYYY-MM-DD), inclusive.
    #[serde(default)]
    pub from: String,
    /// Last day placed (YYYY-MM-DD), inclusive.
    #[serde(default)]
    pub to: String,
    /// `past` or `soon`: open orders past due, or due within the jeopardy window.
    #[serde(default)]
    pub due: String,
    #[serde(default)]
    pub cursor: String,
    /// As the API's `sort`: `placed_at`, `-placed_at`, `external_id`, …
    #[serde(default)]
    pub sort: String,
    /// `csv` for the whole list as CSV.
    #[serde(default)]
    pub format: String,
}

impl ListParams {
    /// The filter, without sort or cursor.
    fn filters(&self) -> Vec<(&str, &str)> {
        vec![
            ("q", self.q.trim()),
            ("status", &self.status),
            ("channel", self.channel.trim()),
            ("node", &self.node),
            ("sku", self.sku.trim()),
            ("from", &self.from),
            ("to", &self.to),
            ("due", &self.due),
        ]
    }

    /// The filter and the sort: what a page link, a saved filter and the export keep.
    fn pairs(&self) -> Vec<(&str, &str)> {
        let mut pairs = self.filters();
        pairs.push(("sort", self.sort.trim()));
        pairs
    }

    fn query(&self) -> Result<api::ListQuery, ApiError> {
        Ok(api::ListQuery {
            status: opt(&self.status),
            channel: opt(&self.channel),
            sku: opt(&self.sku),
            node: opt(&self.node),
            placed_from: day_start("from", &self.from, 0)?,
            placed_to: day_start("to", &self.to, 1)?,
            q: opt(&self.q),
            due: opt(&self.due),
            limit: Some(PAGE),
            cursor: opt(&self.cursor),
            sort: opt(&self.sort),
        })
    }
}

fn opt(v: &str) -> Option<String> {
    Some(v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A day of a date field as the RFC 3339 time it starts (plus `days`).
fn day_start(field: &str, value: &str, days: i64) -> Result<Option<String>, ApiError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let day = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid_field(field, "must be a date, YYYY-MM-DD"))?;
    let start = (day + Duration::days(days))
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    Ok(Some(start.to_rfc3339()))
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
) -> UiResult<Response> {
    if params.format == "csv" {
        let filter = params
            .query()
            .and_then(|q| api::order_filter(&session.principal, &q))?;
        return Ok(export(state, filter));
    }
    let result = async {
        let query = params.query()?;
        let filter = api::order_filter(&session.principal, &query)?;
        let (page, total) = tokio::try_join!(
            api::list(
                State(state.clone()),
                session.principal.clone(),
                Query(query)
            ),
            async { Ok::<_, ApiError>(state.store.count_orders(filter).await?) },
        )?;
        Ok::<_, ApiError>((page.0, total))
    }
    .await;
    let (nodes, saved) = tokio::try_join!(
        async { Ok::<_, super::UiError>(state.store.list_nodes().await?) },
        lists::load_saved(&state, &session, "orders"),
    )?;
    let (page, error) = match result {
        Ok(page) => (Some(page), None),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => (None, Some(e)),
        Err(e) => return Err(e.into()),
    };
    let base = params.pairs();
    let filters = params.filters();
    let sort = params.sort.trim();
    let next_link = page
        .as_ref()
        .and_then(|(p, _)| p.next_cursor.as_deref())
        .map(|next| {
            let mut pairs = base.clone();
            pairs.push(("cursor", next));
            format!("/ui/orders{}", format::query(&pairs))
        });
    let mut csv_pairs = base.clone();
    csv_pairs.push(("format", "csv"));
    let current_query = format::query(&base);
    let header = |column: &str, label: &str, numeric: bool| {
        lists::sort_header("/ui/orders", &filters, sort, column, label, numeric)
    };
    let body = html! {
        h1 { "Orders" }
        @if session.can(Access::CaptureOrders) { p { a href="/ui/orders/new" { "Enter an order" } } }
        form.filters method="get" action="/ui/orders" role="search" {
            label { "Search" input type="search" name="q" value=(params.q) placeholder="Order id, external id, customer"; }
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in OrderStatus::ALL {
                        option value=(s.as_str()) selected[params.status == s.as_str()] { (s.as_str().replace('_', " ")) }
                    }
                }
            }
            label { "Channel" input type="text" name="channel" value=(params.channel) size="10"; }
            label { "Node"
                select name="node" {
                    option value="" { "any" }
                    @for n in &nodes {
                        option value=(n.code) selected[params.node == n.code] { (n.code) }
                    }
                }
            }
            label { "SKU" input type="text" name="sku" value=(params.sku) size="10"; }
            label { "Placed from" input type="date" name="from" value=(params.from); }
            label { "to" input type="date" name="to" value=(params.to); }
            label { "Due"
                select name="due" {
                    option value="" { "any" }
                    option value="past" selected[params.due == "past"] { "past due" }
                    option value="soon" selected[params.due == "soon"] { "within 24 hours" }
                }
            }
            @if !sort.is_empty() { input type="hidden" name="sort" value=(sort); }
            button type="submit" { "Search" }
            a href="/ui/orders" { "Clear" }
        }
        (lists::saved_filters(&session, "orders", "/ui/orders", current_query.trim_start_matches('?'), &saved))
        @if let Some(e) = &error {
            p.flash.error role="alert" {
                (e.problem.detail)
                @for f in &e.problem.errors { " · " code { (f.field) } " " (f.message) }
            }
        }
        @if let Some((page, total)) = &page {
            div #live data-live="order." {
                div.list-head {
                    (lists::count(*total, if *total == 1 { "order" } else { "orders" }))
                    a.export href={ "/ui/orders" (format::query(&csv_pairs)) } download { "Export CSV" }
                }
                @if page.items.is_empty() {
                    p.muted { "No orders match." }
                } @else {
                    div.table-scroll {
                        table #orders {
                            thead { tr {
                                (header("external_id", "Order", false))
                                th { "Customer" }
                                (header("status", "Status", false))
                                th.num { "Total" }
                                (header("channel", "Channel", false))
                                th.num { "Lines" }
                                (header("placed_at", "Placed", false))
                            } }
                            tbody {
                                @for o in &page.items { (order_row(o)) }
                            }
                        }
                    }
                }
                nav.pager aria-label="Pages" {
                    @if !params.cursor.is_empty() {
                        a href={ "/ui/orders" (format::query(&base)) } { "« First page" }
                    }
                    @if let Some(next) = &next_link {
                        a rel="next" href=(next) { "Next page »" }
                    }
                }
            }
        }
    };
    let mut response = layout::page(&session, "Orders", "/ui/orders", body);
    if error.is_some() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// Who the customer is, in the fewest words: name, else e-mail, else id.
fn customer(o: &Order) -> String {
    o.customer
        .as_ref()
        .and_then(|c| {
            c.name
                .clone()
                .or_else(|| c.email.clone())
                .or_else(|| c.id.clone())
        })
        .unwrap_or_default()
}

fn order_row(o: &Order) -> Markup {
    html! {
        tr {
            td { a href={ "/ui/orders/" (o.id) } title=(o.id) { (o.external_id) } }
            td { (customer(o)) }
            td { (format::badge(o.status.as_str())) @if let Some(r) = &o.status_reason { " " span.muted { (r.replace('_', " ")) } } }
            td.num { (format::money(o.totals.total, o.currency.code())) }
            td { (o.channel) }
            td.num { (o.lines.len()) }
            td { (format::time(o.placed_at)) }
        }
    }
}

const CSV_HEADER: [&str; 10] = [
    "id",
    "channel",
    "external_id",
    "status",
    "customer_name",
    "customer_email",
    "currency",
    "total",
    "placed_at",
    "updated_at",
];

/// The list as CSV, every page of it: read from the store a page at a time (keyset, the same
/// filter and sort) and sent as each page is read, so no export is held in memory whole.
fn export(state: AppState, mut filter: OrderFilter) -> Response {
    filter.limit = EXPORT_PAGE;
    filter.cursor = None;
    filter.sort_key = None;
    let store = state.store.clone();
    let pages = futures_util::stream::unfold(Some((filter, true)), move |next| {
        let store = store.clone();
        async move {
            let (mut filter, first) = next?;
            let rows = match store.order_summaries(filter.clone()).await {
                Ok(rows) => rows,
                Err(e) => {
                    // The status line has gone; cutting the body short tells the client.
                    tracing::error!(error = %e, "order export failed");
                    return Some((Err(std::io::Error::other(e.to_string())), None));
                }
            };
            let mut page = CsvPage::default();
            if first {
                page.record(CSV_HEADER);
            }
            for o in &rows {
                csv_row(&mut page, o);
            }
            let more = rows.len() == filter.limit;
            let next = match rows.last() {
                Some(last) if more => {
                    filter.cursor = Some(last.id);
                    filter.sort_key = Some(filter.sort.column.key_of_summary(last));
                    Some((filter, false))
                }
                _ => None,
            };
            Some((Ok(Bytes::from(page.into_bytes())), next))
        }
    });
    lists::csv("orders.csv", Body::from_stream(pages))
}

fn csv_row(page: &mut CsvPage, o: &OrderSummary) {
    let id = o.id.to_string();
    let placed = o.placed_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let updated = o.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    page.record([
        id.as_str(),
        &o.channel,
        &o.external_id,
        &o.status,
        o.customer_name.as_deref().unwrap_or(""),
        o.customer_email.as_deref().unwrap_or(""),
        &o.currency,
        &o.total,
        &placed,
        &updated,
    ]);
}
