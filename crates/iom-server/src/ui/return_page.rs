//! One return (`/ui/returns/{id}`): its lines, where the items go, status, receipts and refund,
//! with the actions its status allows: receive (per line a quantity, condition and disposition,
//! as `POST /api/v1/returns/{id}/receive` takes them), refund and close. Each calls the API's
//! handler with the signed-in user's principal.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use iom_app::returns::RefundRequest;
use iom_domain::returns::{Disposition, ReceiptIntake, ReceiptLineIntake};
use iom_domain::{FieldError, ReturnOrder, ReturnStatus};
use maud::{Markup, html};
use serde::Deserialize;

use super::form::{self, Errors};
use super::session::{Flash, Session};
use super::{UiResult, done, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::json::ApiJson;
use crate::routes::returns as api;

fn page_of(id: &str) -> String {
    format!("/ui/returns/{}", format::segment(id))
}

/// The receive form as first shown (everything authorised, restocked) or as posted.
struct Receiving {
    node: String,
    /// (line, quantity, condition, disposition)
    lines: Vec<(u32, String, String, String)>,
}

impl Receiving {
    fn proposed(ret: &ReturnOrder) -> Receiving {
        Receiving {
            node: ret
                .return_to
                .as_ref()
                .map(|r| r.node.clone())
                .unwrap_or_default(),
            lines: ret
                .lines
                .iter()
                .map(|l| {
                    (
                        l.line_no,
                        l.quantity.to_string(),
                        "new".into(),
                        Disposition::Restock.as_str().into(),
                    )
                })
                .collect(),
        }
    }

    fn line(&self, n: u32) -> (&str, &str, &str) {
        self.lines
            .iter()
            .find(|l| l.0 == n)
            .map_or(("0", "", ""), |l| {
                (l.1.as_str(), l.2.as_str(), l.3.as_str())
            })
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> UiResult<Response> {
    let ret = api::get(State(state.clone()), session.principal.clone(), Path(id)).await?;
    let receiving = Receiving::proposed(&ret);
    draw(&state, &session, &ret, &receiving, &Errors::none()).await
}

async fn draw(
    state: &AppState,
    session: &Session,
    ret: &ReturnOrder,
    receiving: &Receiving,
    errors: &Errors,
) -> UiResult<Response> {
    let nodes = state.store.list_nodes().await?;
    let currency = ret.currency.to_string();
    // What the status allows, as the aggregate's transitions say; the role as the API checks it.
    let can_receive =
        session.can(Access::CaptureOrders) && ret.status.can_become(ReturnStatus::Received);
    let can_refund = session.can(Access::OperateOrders)
        && ret.status == ReturnStatus::Received
        && ret.status.can_become(ReturnStatus::Refunded);
    let can_close =
        session.can(Access::OperateOrders) && ret.status.can_become(ReturnStatus::Closed);
    let base = page_of(&ret.id);
    let body = html! {
        p.muted { a href="/ui/returns" { "Returns" } " ›" }
        h1 { "Return " code { (ret.id) } " " (format::badge(ret.status.as_str())) }
        (errors.banner(&["node", "line", "lines"]))
        div.grid {
            section.card #return-facts {
                dl.facts {
                    dt { "Order" } dd { a href={ "/ui/orders/" (ret.order_id) } { (ret.channel) " · " (ret.external_id) } }
                    dt { "Origin" } dd { (ret.origin.as_str().replace('_', " ")) }
                    dt { "Status" } dd { (format::badge(ret.status.as_str()))
                        @if let Some(r) = &ret.status_reason { " " span.muted { (r) } } }
                    @if let Some(r) = &ret.reference { dt { "Reference" } dd { (r) } }
                    @if let Some(n) = &ret.note { dt { "Note" } dd { (n) } }
                    @if let Some(x) = &ret.exchange_order_id { dt { "Exchange order" } dd { a href={ "/ui/orders/" (x) } { code { (x) } } } }
                    dt { "Created" } dd { (format::time(ret.created_at)) }
                    dt { "Updated" } dd { (format::time(ret.updated_at)) }
                }
            }
            section.card #return-instructions {
                h2 { "Instructions" }
                (instructions(ret, &nodes))
            }
        }
        section.card {
            h2 { "Lines" }
            table #return-detail-lines {
                thead { tr { th { "Line" } th { "SKU" } th { "Reason" } th.num { "Authorised" } th.num { "Received" } th.num { "Released" } th.num { "Refunded" } th.num { "Refund" } } }
                tbody { @for l in &ret.lines { tr {
                    td { "#" (l.line_no) }
                    td { (l.sku) @if let Some(x) = &l.exchange_sku { " " span.muted { "exchange for " (x) } } }
                    td { (l.reason) @if let Some(n) = &l.note { " " span.muted { (n) } } }
                    td.num { (l.quantity) }
                    td.num { (l.received_quantity) }
                    td.num { (l.released_quantity) }
                    td.num { (l.refunded_quantity) }
                    td.num { (format::money(l.refund_amount, &currency)) }
                } } }
            }
        }
        @if !ret.receipts.is_empty() {
            section.card #return-receipts {
                h2 { "Received" }
                @for r in &ret.receipts {
                    p { "At " (r.node) ", " (format::time(r.at)) }
                    table {
                        thead { tr { th { "Line" } th { "SKU" } th.num { "Quantity" } th { "Condition" } th { "Disposition" } } }
                        tbody { @for l in &r.lines { tr {
                            td { "#" (l.line_no) } td { (l.sku) } td.num { (l.quantity) } td { (l.condition) }
                            td { @match l.disposition { Some(d) => { (d.as_str().replace('_', " ")) @if l.inspected { " " span.muted { "(inspected)" } } }, None => { span.muted { "waiting for inspection" } } } }
                        } } }
                    }
                }
            }
        }
        @if let Some(refund) = &ret.refund {
            section.card #return-refund {
                h2 { "Refund" }
                dl.facts {
                    dt { "Refunded" } dd #refund-amount { (format::money(refund.amount, &currency)) }
                    dt { "Owed by the policy" } dd { (format::money(refund.computed, &currency)) }
                    dt { "Shipping" } dd { (format::money(refund.shipping, &currency)) }
                    dt { "Restocking fee" } dd { (format::money(refund.restocking_fee, &currency)) }
                    @if let Some(r) = &refund.reference { dt { "Payment reference" } dd { code { (r) } } }
                    @if let Some(t) = &refund.tax { dt { "Tax given back" } dd { (format::money(t.amount, &currency)) " (" (t.provider) " " code { (t.code) } ")" } }
                    dt { "At" } dd { (format::time(refund.at)) }
                }
            }
        }
        @if can_receive {
            (receive_form(session, ret, receiving, errors, &nodes))
        }
        @if can_refund || can_close {
            section.card.actions #return-actions {
                @if can_refund {
                    form.inline method="post" action={ (base) "/refund" } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" { "Refund" }
                    }
                }
                @if can_close {
                    form.inline method="post" action={ (base) "/close" } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button.secondary type="submit" { "Close" }
                    }
                }
            }
        }
        @if !session.can(Access::CaptureOrders) {
            p.muted { "Your role can only read this return." }
        }
    };
    Ok(layout::page(
        session,
        &format!("Return {}", ret.id),
        "/ui/returns",
        body,
    ))
}

fn instructions(ret: &ReturnOrder, nodes: &[iom_store::nodes::NodeRecord]) -> Markup {
    let to = ret
        .return_to
        .as_ref()
        .and_then(|r| nodes.iter().find(|n| n.code == r.node).map(|n| (r, n)));
    html! {
        @match (&ret.return_to, to) {
            (Some(r), Some((_, node))) => {
                p { "Bring or send the items to " strong { (node.doc["name"].as_str().unwrap_or(&node.code)) } " (" code { (r.node) } ")"
                    @if let Some(km) = r.distance_km { ", " (format!("{km:.0}")) " km from the customer" } "." }
                @if let Some(address) = node.doc.get("address").filter(|a| a.is_object()) {
                    address.muted { @for key in ["line1", "line2", "city", "region", "postal_code", "country"] {
                        @if let Some(v) = address[key].as_str() { (v) br; }
                    } }
                }
            }
            (Some(r), None) => { p { "Bring or send the items to node " code { (r.node) } "." } }
            (None, _) => { p.muted { "No node takes returns near the customer: choose one when receiving." } }
        }
        p.hint { "Authorised " (format::time(ret.created_at)) "; a return label, when a node issues them, is sent with the customer's notification." }
    }
}

fn receive_form(
    session: &Session,
    ret: &ReturnOrder,
    receiving: &Receiving,
    errors: &Errors,
    nodes: &[iom_store::nodes::NodeRecord],
) -> Markup {
    let dispositions: Vec<&str> = Disposition::ALL.iter().map(|d| d.as_str()).collect();
    html! {
        section.card {
            h2 { "Receive" }
            form #receive-form method="post" action={ (page_of(&ret.id)) "/receive" } {
                input type="hidden" name="csrf" value=(session.csrf);
                label { "At node "
                    select name="node" {
                        @for n in nodes.iter().filter(|n| n.active && n.doc["accepts_returns"].as_bool().unwrap_or(true)) {
                            option value=(n.code) selected[n.code == receiving.node] { (n.code) " · " (n.doc["name"].as_str().unwrap_or_default()) }
                        }
                    }
                    (errors.at("node"))
                }
                table #receive-lines {
                    thead { tr { th { "Line" } th { "SKU" } th.num { "Authorised" } th { "Received" } th { "Condition" } th { "Disposition" } } }
                    tbody { @for l in &ret.lines {
                        @let n = l.line_no;
                        @let (quantity, condition, disposition) = receiving.line(n);
                        tr {
                            td { "#" (n) }
                            td { (l.sku) }
                            td.num { (l.quantity) }
                            td {
                                input type="number" name={ "quantity_" (n) } min="0" max=(l.quantity) value=(quantity) aria-label={ "Received of line " (n) };
                                (errors.at(&format!("line{n}.quantity")))
                                (errors.at(&format!("line{n}.line_no")))
                            }
                            td {
                                input name={ "condition_" (n) } value=(condition) size="10" aria-label={ "Condition of line " (n) };
                                (errors.at(&format!("line{n}.condition")))
                            }
                            td {
                                select name={ "disposition_" (n) } aria-label={ "Disposition of line " (n) } {
                                    @for d in &dispositions { option value=(d) selected[*d == disposition] { (d.replace('_', " ")) } }
                                    option value="" selected[disposition.is_empty()] { "inspect later" }
                                }
                                (errors.at(&format!("line{n}.disposition")))
                            }
                        }
                    } }
                }
                (errors.at("lines"))
                p.hint { "The receipt is final: authorised units not received are released. Restocked units are on hand at the node at once." }
                button type="submit" { "Receive" }
            }
        }
    }
}

pub async fn receive(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    session.verify(form::value(&pairs, "csrf"))?;
    let ret = api::get(
        State(state.clone()),
        session.principal.clone(),
        Path(id.clone()),
    )
    .await?
    .0;
    let receiving = Receiving {
        node: form::value(&pairs, "node").to_owned(),
        lines: ret
            .lines
            .iter()
            .map(|l| {
                let n = l.line_no;
                let v = |f: &str| form::value(&pairs, &format!("{f}_{n}")).to_owned();
                (n, v("quantity"), v("condition"), v("disposition"))
            })
            .collect(),
    };
    let mut lines = Vec::new();
    let mut line_nos = Vec::new();
    let mut bad = Vec::new();
    for (n, quantity, condition, disposition) in &receiving.lines {
        match quantity.trim().parse::<i64>() {
            Ok(0) => {}
            Ok(q) => {
                line_nos.push(*n);
                lines.push(ReceiptLineIntake {
                    line_no: Some(i64::from(*n)),
                    quantity: Some(q),
                    condition: form::opt(condition),
                    disposition: form::opt(disposition),
                });
            }
            Err(_) => bad.push(FieldError::new(
                format!("line{n}.quantity"),
                "must be a whole number",
            )),
        }
    }
    if !bad.is_empty() {
        let errors = Errors {
            detail: Some("The form has errors.".into()),
            fields: bad,
        };
        return Ok(form::refused(
            draw(&state, &session, &ret, &receiving, &errors).await?,
        ));
    }
    let result = api::receive(
        State(state.clone()),
        session.principal.clone(),
        Path(id.clone()),
        ApiJson {
            value: ReceiptIntake {
                node: form::opt(&receiving.node),
                lines: Some(lines),
            },
            raw: Default::default(),
        },
    )
    .await;
    match form::outcome(result)? {
        Ok(received) => {
            let units: u32 = received.lines.iter().map(|l| l.received_quantity).sum();
            Ok(session.redirect(
                &page_of(&id),
                Flash {
                    ok: true,
                    text: format!("Received {units} unit(s) at {}.", receiving.node),
                },
            ))
        }
        Err(mut errors) => {
            for f in &mut errors.fields {
                f.field = super::return_new::by_line(&f.field, &line_nos);
            }
            Ok(form::refused(
                draw(&state, &session, &ret, &receiving, &errors).await?,
            ))
        }
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn refund(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let result = api::refund(
        State(state),
        session.principal.clone(),
        Path(id.clone()),
        ApiJson {
            value: RefundRequest::default(),
            raw: Default::default(),
        },
    )
    .await
    .map(|r| {
        let amount = r.refund.as_ref().map(|f| f.amount).unwrap_or_default();
        format!(
            "Refunded {}.",
            format::money(amount, &r.currency.to_string())
        )
    });
    done(&session, &page_of(&id), result)
}

pub async fn close(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let result = api::close(State(state), session.principal.clone(), Path(id.clone()))
        .await
        .map(|_| "The return is closed.".to_owned());
    done(&session, &page_of(&id), result)
}
