//! Inventory: SKUs with their stock across nodes, and one SKU per node with available-to-promise
//! for the next two weeks.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::Utc;
use maud::html;
use serde::Deserialize;

use iom_app::inventory::SkuView;
use iom_store::keyset::{Column, Sort};

use super::lists::{self, CsvPage};
use super::session::Session;
use super::{UiResult, charts, format, layout};
use crate::AppState;
use crate::error::ApiError;

const PAGE: usize = 50;
const ATP_DAYS: u32 = 14;

/// SKUs read per page of an export.
const EXPORT_PAGE: usize = 500;

/// The inventory list sorts by SKU only. On hand and available are sums over a SKU's nodes
/// (available also takes each node's safety stock and state, worked out by the inventory
/// service), so a sort by them would aggregate every balance for every page: no index gives
/// them in order, and keyset paging over them would cost a full read each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SkuColumn {
    Sku,
}

impl Column for SkuColumn {
    const ALL: &'static [Self] = &[SkuColumn::Sku];

    fn as_str(self) -> &'static str {
        "sku"
    }

    /// The SKU is the list's key: a cursor is the last SKU of the page.
    fn sql(self) -> Option<&'static str> {
        None
    }

    fn is_integer(self) -> bool {
        false
    }
}

#[derive(Deserialize, Default)]
pub struct ListParams {
    /// The beginning of the SKU.
    #[serde(default)]
    pub q: String,
    /// The last SKU of the previous page.
    #[serde(default)]
    pub cursor: String,
    /// `sku` (the default) or `-sku`.
    #[serde(default)]
    pub sort: String,
    /// `csv` for every SKU the search finds, as CSV.
    #[serde(default)]
    pub format: String,
}

/// A sort by SKU: ascending unless asked otherwise.
fn sort(params: &ListParams) -> Result<Sort<SkuColumn>, ApiError> {
    if params.sort.trim().is_empty() {
        return Ok(Sort {
            column: SkuColumn::Sku,
            descending: false,
        });
    }
    lists::parse_sort(&params.sort)
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
) -> UiResult<Response> {
    let prefix = params.q.trim().to_owned();
    let sort = sort(&params)?;
    let descending = sort.descending;
    if params.format == "csv" {
        return Ok(export(state, prefix, descending));
    }
    let after = lists::parse_cursor(sort, &params.cursor)?.map(|a| a.id);
    let (skus, total, saved) = tokio::try_join!(
        async {
            Ok::<_, super::UiError>(
                state
                    .store
                    .inventory_sku_page(prefix.clone(), after, PAGE, descending)
                    .await?,
            )
        },
        async { Ok(state.store.count_inventory_skus(prefix.clone()).await?) },
        lists::load_saved(&state, &session, "inventory"),
    )?;
    let last = (skus.len() == PAGE).then(|| skus.last().cloned()).flatten();
    let views = state.inventory.view(skus, Vec::new(), None).await?;
    let sort_param = sort.as_param();
    let sort_param = if descending { sort_param.as_str() } else { "" };
    let filters = [("q", prefix.as_str())];
    let pairs = [("q", prefix.as_str()), ("sort", sort_param)];
    let csv_pairs = [
        ("q", prefix.as_str()),
        ("sort", sort_param),
        ("format", "csv"),
    ];
    let current = if descending { "-sku" } else { "sku" };
    let body = html! {
        h1 { "Inventory" }
        form.filters method="get" action="/ui/inventory" role="search" {
            label { "SKU begins with" input type="search" name="q" value=(params.q); }
            @if !sort_param.is_empty() { input type="hidden" name="sort" value=(sort_param); }
            button type="submit" { "Search" }
        }
        (lists::saved_filters(&session, "inventory", "/ui/inventory", format::query(&pairs).trim_start_matches('?'), &saved))
        div.list-head {
            (lists::count_capped(total, "SKU", "SKUs"))
            a.export href={ "/ui/inventory" (format::query(&csv_pairs)) } download { "Export CSV" }
        }
        @if views.is_empty() { p.muted { "No stock positions match." } } @else {
            table #skus {
                thead { tr {
                    (lists::sort_header("/ui/inventory", &filters, current, "sku", "SKU", false))
                    th.num { "On hand" } th.num { "Reserved" } th.num { "Allocated" } th.num { "Available" } th.num { "Nodes" }
                } }
                tbody { @for v in &views { tr {
                    td { a href={ "/ui/inventory/" (format::segment(&v.sku)) } { (v.sku) } }
                    td.num { (v.on_hand) } td.num { (v.reserved) } td.num { (v.allocated) }
                    td.num { (v.available) } td.num { (v.nodes.len()) }
                } } }
            }
        }
        (lists::pager("/ui/inventory", &pairs, !params.cursor.is_empty(), last.as_deref()))
    };
    Ok(layout::page(&session, "Inventory", "/ui/inventory", body))
}

const CSV_HEADER: &[&str] = &[
    "sku",
    "on_hand",
    "reserved",
    "allocated",
    "available",
    "nodes",
];

/// Every SKU the search finds with its stock across nodes, a page of SKUs at a time.
fn export(state: AppState, prefix: String, descending: bool) -> Response {
    lists::export(
        "inventory.csv",
        CSV_HEADER,
        EXPORT_PAGE,
        move |after: Option<String>| {
            let (state, prefix) = (state.clone(), prefix.clone());
            async move {
                let skus = state
                    .store
                    .inventory_sku_page(prefix, after, EXPORT_PAGE, descending)
                    .await?;
                Ok(state.inventory.view(skus, Vec::new(), None).await?)
            }
        },
        |page: &mut CsvPage, v: &SkuView| {
            let numbers = [
                v.on_hand,
                v.reserved,
                v.allocated,
                v.available,
                v.nodes.len() as i64,
            ]
            .map(|n| n.to_string());
            page.record(std::iter::once(v.sku.as_str()).chain(numbers.iter().map(String::as_str)));
        },
        |v: &SkuView| v.sku.clone(),
    )
}

pub async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(sku): Path<String>,
) -> UiResult<Response> {
    let (views, atp) = tokio::join!(
        state.inventory.view(vec![sku.clone()], Vec::new(), None),
        state.inventory.atp(sku.clone(), None, ATP_DAYS, Utc::now())
    );
    let view = views?.into_iter().next();
    let atp = atp?;
    let points: Vec<(String, f64)> = atp
        .iter()
        .map(|d| (d.date.format("%m-%d").to_string(), d.atp.max(0) as f64))
        .collect();
    let body = html! {
        p.muted { a href="/ui/inventory" { "Inventory" } " ›" }
        h1 { "SKU " (sku) }
        @match &view {
            None => p.muted { "No stock positions." },
            Some(v) => {
                div.tiles {
                    div.tile data-figure="on_hand" { div.label { "On hand" } div.value { (v.on_hand) } }
                    div.tile data-figure="reserved" { div.label { "Reserved" } div.value { (v.reserved) } }
                    div.tile data-figure="allocated" { div.label { "Allocated" } div.value { (v.allocated) } }
                    div.tile data-figure="available" { div.label { "Available" } div.value { (v.available) } }
                }
                section.card {
                    h2 { "Per node" }
                    table #nodes {
                        thead { tr { th { "Node" } th { "Kind" } th.num { "On hand" } th.num { "Reserved" } th.num { "Allocated" } th.num { "Safety stock" } th.num { "Available" } } }
                        tbody { @for n in &v.nodes { tr {
                            td { (n.node) } td { (n.kind.clone().unwrap_or_default()) }
                            td.num { (n.on_hand) } td.num { (n.reserved) } td.num { (n.allocated) }
                            td.num { (n.safety_stock) } td.num { (n.available) }
                        } } }
                    }
                }
            }
        }
        section.card {
            h2 { "Available to promise, all nodes" }
            (charts::columns("Available to promise per day", &points, 2))
            table #atp {
                thead { tr { th { "Date" } th.num { "Supply" } th.num { "Demand" } th.num { "Projected" } th.num { "ATP" } } }
                tbody { @for d in &atp { tr {
                    td { (d.date) } td.num { (d.supply) } td.num { (d.demand) } td.num { (d.projected) } td.num { (d.atp) }
                } } }
            }
        }
        p { a href={ "/ui/orders?sku=" (format::segment(&sku)) } { "Orders with this SKU" } }
    };
    Ok(layout::page(
        &session,
        &format!("SKU {sku}"),
        "/ui/inventory",
        body,
    ))
}
