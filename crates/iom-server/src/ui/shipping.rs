//! An order's shipments as the order page shows them (carrier, service, cost, tracking status,
//! the label), buying a label from the page, and the label file for a signed-in operator.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use iom_domain::{LineStatus, Order};
use maud::{Markup, html};
use serde::Deserialize;

use super::session::Session;
use super::{UiResult, done, format};
use crate::AppState;
use crate::routes::shipping as api;

pub fn table(order: &Order) -> Markup {
    let base = format!("/ui/orders/{}", order.id);
    html! {
        table #shipment-list {
            thead { tr {
                th { "Node" } th { "Carrier · service" } th { "Tracking" } th { "Status" }
                th.num { "Cost" } th { "Lines" } th { "At" } th { "Label" }
            } }
            tbody { @for s in &order.shipments { tr {
                td { (s.node) }
                td {
                    (s.carrier.clone().unwrap_or_default())
                    @if let Some(l) = &s.label { " · " (l.service) }
                }
                td { code { (s.tracking.clone().unwrap_or_default()) } }
                td { @if let Some(t) = s.tracking_status { (format::badge(t.as_str())) } }
                td.num { @if let Some(l) = &s.label { (format::money(l.cost, &l.currency)) } }
                td { @for l in &s.lines { "#" (l.line_no) " × " (l.quantity) " " } }
                td { (format::time(s.at)) }
                td { @if let Some(l) = &s.label {
                    a href={ (base) "/shipments/" (format::segment(&s.id)) "/label" } { "Label (" (l.format.to_uppercase()) ")" }
                } }
            } } }
        }
    }
}

/// "Buy a label" for the released lines not shipped yet, one form per node.
pub fn buy_form(order: &Order, csrf: &str) -> Markup {
    let mut nodes: Vec<&String> = order
        .lines
        .iter()
        .filter(|l| l.status == LineStatus::Released && l.open_quantity() > 0)
        .filter_map(|l| l.node.as_ref())
        .collect();
    nodes.sort();
    nodes.dedup();
    html! {
        @for node in nodes {
            form.inline method="post" action={ "/ui/orders/" (order.id) "/labels" } {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="node" value=(node);
                label { "Service " input type="text" name="service" placeholder="cheapest on time" style="width:10rem"; }
                " "
                button type="submit" { "Buy a label for " (node) }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct BuyForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub node: String,
    #[serde(default)]
    pub service: String,
}

pub async fn buy(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<BuyForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let non_empty = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let request = iom_app::shipping::LabelRequest {
        node: non_empty(&form.node),
        service: non_empty(&form.service),
        ..Default::default()
    };
    let result = api::buy(
        State(state),
        session.principal.clone(),
        Path(id.clone()),
        crate::json::ApiJson {
            value: request,
            raw: Default::default(),
        },
    )
    .await
    .map(|(_, bought)| {
        let s = bought
            .0
            .order
            .shipments
            .iter()
            .find(|s| s.id == bought.0.shipment_id);
        format!(
            "Label bought: {} {}.",
            s.and_then(|s| s.carrier.clone()).unwrap_or_default(),
            s.and_then(|s| s.tracking.clone()).unwrap_or_default()
        )
    });
    done(
        &session,
        &format!("/ui/orders/{}", format::segment(&id)),
        result,
    )
}

pub async fn label(
    State(state): State<AppState>,
    session: Session,
    Path((id, shipment_id)): Path<(String, String)>,
) -> UiResult<Response> {
    Ok(api::label(
        State(state),
        session.principal.clone(),
        Path((id, shipment_id)),
    )
    .await
    .into_response())
}
