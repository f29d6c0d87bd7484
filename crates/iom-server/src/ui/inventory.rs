//! Inventory: SKUs with their stock across nodes, and one SKU per node with available-to-promise
//! for the next two weeks.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::Utc;
use maud::html;
use serde::Deserialize;

use super::session::Session;
use super::{UiResult, charts, format, layout};
use crate::AppState;

const PAGE: usize = 50;
const ATP_DAYS: u32 = 14;

#[derive(Deserialize, Default)]
pub struct ListParams {
    /// The beginning of the SKU.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub after: String,
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
) -> UiResult<Response> {
    let prefix = params.q.trim().to_owned();
    let after = Some(params.after.clone()).filter(|a| !a.is_empty());
    let skus = state
        .store
        .inventory_skus(prefix.clone(), after, PAGE)
        .await?;
    let last = (skus.len() == PAGE).then(|| skus.last().cloned()).flatten();
    let views = state.inventory.view(skus, Vec::new(), None).await?;
    let body = html! {
        h1 { "Inventory" }
        form.filters method="get" action="/ui/inventory" role="search" {
            label { "SKU begins with" input type="search" name="q" value=(params.q); }
            button type="submit" { "Search" }
        }
        @if views.is_empty() { p.muted { "No stock positions match." } } @else {
            table #skus {
                thead { tr { th { "SKU" } th.num { "On hand" } th.num { "Reserved" } th.num { "Allocated" } th.num { "Available" } th.num { "Nodes" } } }
                tbody { @for v in &views { tr {
                    td { a href={ "/ui/inventory/" (format::segment(&v.sku)) } { (v.sku) } }
                    td.num { (v.on_hand) } td.num { (v.reserved) } td.num { (v.allocated) }
                    td.num { (v.available) } td.num { (v.nodes.len()) }
                } } }
            }
        }
        nav.pager aria-label="Pages" {
            @if !params.after.is_empty() { a href={ "/ui/inventory" (format::query(&[("q", &prefix)])) } { "« First page" } }
            @if let Some(last) = &last {
                a rel="next" href={ "/ui/inventory" (format::query(&[("q", &prefix), ("after", last)])) } { "Next page »" }
            }
        }
    };
    Ok(layout::page(&session, "Inventory", "/ui/inventory", body))
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
