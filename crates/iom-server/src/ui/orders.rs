//! Orders: one order with everything known about it (the list is `order_list`); the actions on it (hold, release, cancel the order or a line), each through the API's handler.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use iom_domain::{LineStatus, Order, OrderStatus};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::session::Session;
use super::{UiResult, done, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::routes::{flows, fulfillment, order_edits, orders as api, returns};

fn opt(v: &str) -> Option<String> {
    Some(v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> UiResult<Response> {
    let principal = session.principal.clone();
    let order = api::get(State(state.clone()), principal.clone(), Path(id.clone()))
        .await?
        .0;
    let timeline = api::timeline(State(state.clone()), principal.clone(), Path(id.clone()));
    let plan = async {
        if order.lines.iter().all(|l| l.open_quantity() == 0) {
            return Err(ApiError::conflict("nothing is left to ship"));
        }
        let body = fulfillment::PlanBody {
            order: None,
            order_id: Some(id.clone()),
            profile: None,
            solver: None,
        };
        let plan = fulfillment::plan_order(
            State(state.clone()),
            principal.clone(),
            ApiJson {
                value: body,
                raw: Default::default(),
            },
        )
        .await?;
        Ok(serde_json::to_value(&plan.0).unwrap_or(Value::Null))
    };
    let runs = flows::order_runs(State(state.clone()), principal.clone(), Path(id.clone()));
    let order_returns = returns::list(
        State(state.clone()),
        principal.clone(),
        Query(returns::ListQuery {
            status: None,
            order_id: Some(order.id.to_string()),
            origin: None,
            channel: None,
            limit: Some(50),
            cursor: None,
        }),
    );
    let (timeline, plan, runs, order_returns) = tokio::join!(timeline, plan, runs, order_returns);
    let timeline = timeline?.0;
    let runs = runs?.0.items;
    let order_returns: Vec<Value> = order_returns?
        .0
        .items
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .collect();
    let why = why_backordered(&order, &plan);
    let can_operate = session.can(Access::OperateOrders);
    let can_cancel = session.can(Access::CaptureOrders);
    let open = !order.status.is_terminal();
    let csrf = session.csrf.as_str();
    let base = format!("/ui/orders/{}", order.id);
    let ship_to = order.ship_to.as_ref();
    let body = html! {
        p.muted { a href="/ui/orders" { "Orders" } " ›" }
        // Headed by the number the channel and the customer know it by; the id is for lookups.
        h1 data-live-subject=(order.id) { "Order " (order.external_id) " " (format::badge(order.status.as_str())) }
        p.muted.order-id { (order.channel) " · id " code { (order.id) } }
        div.grid {
            section.card {
                h2 { "Summary" }
                dl.facts {
                    dt { "Channel" } dd { (order.channel) }
                    dt { "External id" } dd { (order.external_id) }
                    dt { "Status" } dd #status {
                        (order.status.as_str())
                        @if let Some(why) = &why { " — " span #why { (why) } }
                        @else if let Some(r) = &order.status_reason { " (" (r) ")" }
                    }
                    dt { "Placed" } dd { (format::time(order.placed_at)) }
                    dt { "Updated" } dd { (format::time(order.updated_at)) }
                    @if let Some(at) = order.requested_delivery_at { dt { "Requested delivery" } dd { (format::time(at)) } }
                    @if let Some(c) = &order.customer {
                        dt { "Customer" } dd { (c.name.clone().unwrap_or_default()) " " (c.email.clone().unwrap_or_default()) " " span.muted { (c.id.clone().unwrap_or_default()) } }
                    }
                    @if let Some(a) = ship_to {
                        dt { "Ship to" } dd {
                            (a.name.clone().unwrap_or_default()) br;
                            (a.line1.clone().unwrap_or_default()) " " (a.city.clone().unwrap_or_default()) " "
                            (a.region.clone().unwrap_or_default()) " " (a.postal_code.clone().unwrap_or_default()) " " (a.country)
                            @if let Some(by) = a.located_by { " " span.muted { "(placed by " (by.as_str().replace('_', " ")) ")" } }
                        }
                    }
                    @if let Some(m) = &order.ship_method { dt { "Ship method" } dd { (m) } }
                    dt { "Total" } dd { (format::money(order.totals.total, order.currency.code()))
                        span.muted { " (subtotal " (format::money(order.totals.subtotal, order.currency.code())) ", discount " (format::money(order.totals.discount, order.currency.code())) ", tax " (format::money(order.totals.tax, order.currency.code())) ", shipping " (format::money(order.totals.shipping, order.currency.code())) ")" } }
                }
            }
            section.card #actions {
                h2 { "Actions" }
                @if !can_operate && !can_cancel {
                    p.muted { "Your role (" (session.principal.role.as_str()) ") can only read." }
                } @else if !open {
                    p.muted { "The order is " (order.status.as_str()) "; nothing more can be done to it." }
                    @if can_cancel { p { a href={ (base) "/clone" } { "Copy into a new order" } } }
                } @else {
                    @if can_cancel {
                        p.actions {
                            @if order.check_amend().is_ok() { a href={ (base) "/edit" } { "Change the order" } " · " }
                            a href={ (base) "/clone" } { "Copy into a new order" }
                        }
                    }
                    @if can_operate && order.check_hold().is_ok() {
                        form.inline method="post" action={ (base) "/hold" } {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="text" name="reason" placeholder="Reason" aria-label="Hold reason";
                            button type="submit" { "Put on hold" }
                        }
                    }
                    @if can_operate && order.check_release_holds().is_ok() {
                        form.inline method="post" action={ (base) "/release" } {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Release holds" }
                        }
                    }
                    @if can_cancel && order.check_cancel().is_ok() {
                        form.inline method="post" action={ (base) "/cancel" } data-confirm="Cancel the whole order? This cannot be undone." {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="confirmed" value="";
                            input type="text" name="reason" placeholder="Reason" aria-label="Cancellation reason";
                            button.danger type="submit" { "Cancel order" }
                        }
                    }
                }
                h2 { "Holds" }
                @if order.holds.is_empty() { p.muted #holds { "No holds." } } @else {
                    table #holds {
                        thead { tr { th { "Code" } th { "Reason" } th { "Since" } } }
                        tbody { @for h in &order.holds { tr { td { (h.code) } td { (h.reason.clone().unwrap_or_default()) } td { (format::time(h.at)) } } } }
                    }
                }
            }
        }
        section.card {
            h2 { "Lines" }
            table #lines {
                thead { tr {
                    th { "#" } th { "SKU" } th { "Status" } th.num { "Ordered" } th.num { "Cancelled" }
                    th.num { "Shipped" } th.num { "Delivered" } th.num { "Unit price" } th { "Node" }
                    @if can_operate && open { th { "Hold" } }
                    @if can_cancel && open { th { "Cancel" } }
                } }
                tbody {
                    @for l in &order.lines {
                        tr {
                            td { (l.line_no) }
                            td { a href={ "/ui/inventory/" (format::segment(&l.sku)) } { (l.sku) } }
                            td {
                                (format::badge(l.status.as_str()))
                                @if let Some(h) = &l.hold { " " span.badge.s-on_hold { "on hold" } @if let Some(r) = &h.reason { " " span.muted { (r) } } }
                                @if l.status == LineStatus::Backordered { @if let Some(w) = &why { br; span.muted { (w) } } }
                            }
                            td.num { (l.quantity) } td.num { (l.cancelled_quantity) }
                            td.num { (l.shipped_quantity) } td.num { (l.delivered_quantity) }
                            td.num { (format::money(l.unit_price, order.currency.code())) }
                            td { (l.node.clone().unwrap_or_default()) }
                            @if can_operate && open {
                                td {
                                    @if order.check_hold_line(l.line_no).is_ok() {
                                        form.inline method="post" action={ (base) "/lines/" (l.line_no) "/hold" } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="text" name="reason" placeholder="Reason" aria-label={ "Reason to hold line " (l.line_no) } style="width:8rem";
                                            button.secondary type="submit" { "Hold line" }
                                        }
                                    }
                                    @if order.check_release_line_hold(l.line_no).is_ok() {
                                        form.inline method="post" action={ (base) "/lines/" (l.line_no) "/release" } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button type="submit" { "Release line" }
                                        }
                                    }
                                }
                            }
                            @if can_cancel && open {
                                td {
                                    @if order.check_cancel_line(l.line_no).is_ok() {
                                        form.inline method="post" action={ (base) "/lines/" (l.line_no) "/cancel" } data-confirm={ "Cancel line " (l.line_no) "? This cannot be undone." } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="confirmed" value="";
                                            input type="number" name="quantity" min="1" max=(l.open_quantity()) value=(l.open_quantity()) aria-label={ "Quantity of line " (l.line_no) " to cancel" } style="width:5rem";
                                            button.secondary type="submit" { "Cancel" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card #plan {
            h2 { "Fulfilment plan" }
            p.hint { "A simulation with the default profile: it reserves nothing." }
            (plan_view(&plan, why.as_deref()))
        }
        section.card #runs {
            h2 { "Flow runs" }
            @if runs.is_empty() { p.muted { "No runs." } }
            @for run in &runs {
                div {
                    p {
                        a href={ "/ui/flows/" (format::segment(&run.flow)) "?version=" (run.version) } { (run.flow) " v" (run.version) }
                        " · " (format::badge(run.status.as_str())) " · triggered by " code { (run.trigger_type) }
                        @if let Some(step) = &run.current_step { " · at " code { (step) } }
                        @if let Some(e) = &run.error { " · " span.muted { (e) } }
                        @if can_operate && matches!(run.status.as_str(), "failed" | "held") {
                            " "
                            form.inline method="post" action={ "/ui/runs/" (format::segment(&run.id)) "/retry" } {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="back" value=(base);
                                button type="submit" { "Reprocess from the failed step" }
                            }
                        }
                    }
                    @if let Some(steps) = &run.steps {
                        table.steps {
                            thead { tr { th { "Step" } th { "Uses" } th { "Status" } th.num { "Attempt" } th.num { "ms" } th { "Error" } } }
                            tbody { @for st in steps { tr {
                                td { (st.step) } td { code { (st.uses) } } td { (format::badge(st.status.as_str())) }
                                td.num { (st.attempt) }
                                td.num { @if let Some(ms) = st.duration_ms { (format!("{ms:.1}")) } }
                                td { (st.error.clone().unwrap_or_default()) }
                            } } }
                        }
                    }
                }
            }
        }
        (super::payment::card(&order, &order_returns))
        section.card #order-returns {
            h2 { "Returns" }
            (super::returns::table(&order_returns))
            @if can_cancel && order.lines.iter().any(|l| l.returnable_quantity() > 0) {
                p { a #start-return href={ "/ui/returns/new?order_id=" (order.id) } { "Start a return" } }
            }
        }
        div.grid {
            section.card #shipments {
                h2 { "Shipments" }
                @if order.shipments.is_empty() { p.muted { "None yet." } } @else {
                    (super::shipping::table(&order))
                }
                @if can_cancel { (super::shipping::buy_form(&order, csrf)) }
                @if !order.deliveries.is_empty() {
                    h2 { "Deliveries" }
                    table {
                        thead { tr { th { "Lines" } th { "At" } } }
                        tbody { @for d in &order.deliveries { tr {
                            td { @for l in &d.lines { "#" (l.line_no) " × " (l.quantity) " " } }
                            td { (format::time(d.at)) }
                        } } }
                    }
                }
            }
            section.card #timeline {
                h2 { "Timeline" }
                table {
                    thead { tr { th { "At" } th { "Event" } th { "By" } th { "Details" } } }
                    tbody { @for e in &timeline.items { tr {
                        td { (format::time(e.at)) }
                        td { code { (e.event_type) } }
                        td.actor { @if let Some(a) = &e.actor { (a) } }
                        td { (summary(&e.data)) }
                    } } }
                }
            }
        }
    };
    Ok(layout::page(
        &session,
        &format!("Order {}", order.external_id),
        "/ui/orders",
        body,
    ))
}

/// A few fields of an event's data, not the whole document.
fn summary(data: &Value) -> Markup {
    let keys = [
        "status", "reason", "code", "node", "line_no", "quantity", "tracking",
    ];
    html! {
        @if let Some(map) = data.as_object() {
            @for key in keys {
                @if let Some(v) = map.get(key).filter(|v| !v.is_null()) {
                    span.muted { (key) "=" } (v.as_str().map_or_else(|| v.to_string(), str::to_owned)) " "
                }
            }
        }
    }
}

fn plan_view(plan: &Result<Value, ApiError>, why: Option<&str>) -> Markup {
    match plan {
        Err(e) => html! { p.muted { "No plan: " (e.problem.detail) } },
        Ok(p) => {
            let empty = Vec::new();
            let assignments = p["assignments"].as_array().unwrap_or(&empty);
            let unassigned = p["unassigned"].as_array().unwrap_or(&empty);
            let explanation = p["explanation"].as_array().unwrap_or(&empty);
            let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            html! {
                dl.facts {
                    dt { "Profile" } dd { (text(&p["profile"])) }
                    dt { "Cost" } dd { (text(&p["cost"])) }
                    dt { "Distance" } dd { (text(&p["distance_km"])) " km" }
                    dt { "Shipments" } dd { (text(&p["shipments"])) }
                }
                @if !assignments.is_empty() {
                    table {
                        thead { tr { th { "Line" } th { "Node" } th.num { "Quantity" } } }
                        tbody { @for a in assignments { tr {
                            td { (text(&a["line_no"])) } td { (text(&a["node"])) } td.num { (text(&a["quantity"])) }
                        } } }
                    }
                }
                @if !unassigned.is_empty() {
                    h2 { "Cannot be placed" }
                    @if let Some(why) = why { p { "Why backordered: " (why) } }
                    ul { @for u in unassigned { li { "Line " (text(&u["line_no"])) " × " (text(&u["quantity"])) ": " (reason_words(&text(&u["reason"]))) } } }
                }
                @if !explanation.is_empty() {
                    details { summary { "Why" } ul { @for e in explanation { li { (text(e)) } } } }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub reason: String,
    /// `yes` once the person confirmed a destructive action (the confirmation page's button, or
    /// the script's `confirm()`).
    #[serde(default)]
    pub confirmed: String,
}

#[derive(Deserialize)]
pub struct LineCancelForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub quantity: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub confirmed: String,
}

/// Asks before a destructive action, without scripts: the same form again, with its values,
/// `confirmed=yes` and a way back.
fn confirmation(
    session: &Session,
    question: &str,
    action: &str,
    fields: &[(&str, &str)],
    back: &str,
) -> Response {
    let body = html! {
        h1 { (question) }
        p { "This cannot be undone." }
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name="confirmed" value="yes";
            @for (name, value) in fields { input type="hidden" name=(name) value=(value); }
            button.danger type="submit" { "Yes, cancel" }
        }
        a href=(back) { "No, go back" }
    };
    layout::page(session, question, "/ui/orders", body)
}

fn body<T>(value: T) -> ApiJson<T> {
    ApiJson {
        value,
        raw: Default::default(),
    }
}

pub async fn hold(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let request = api::HoldRequest {
        reason: opt(&form.reason),
        code: None,
    };
    let result = api::hold(
        State(state),
        session.principal.clone(),
        Path(id.clone()),
        body(request),
    )
    .await
    .map(|_| "The order is on hold.".to_owned());
    done(&session, &order_page(&id), result)
}

pub async fn release(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let result = api::release(
        State(state),
        session.principal.clone(),
        Path(id.clone()),
        body(api::ReleaseRequest { code: None }),
    )
    .await
    .map(|o| format!("Holds released; the order is {}.", o.status.as_str()));
    done(&session, &order_page(&id), result)
}

pub async fn cancel(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    // Asking is pointless when the answer is no anyway.
    session.principal.require(Access::CaptureOrders)?;
    if form.confirmed != "yes" {
        let action = format!("{}/cancel", order_page(&id));
        return Ok(confirmation(
            &session,
            "Cancel the whole order?",
            &action,
            &[("reason", &form.reason)],
            &order_page(&id),
        ));
    }
    let result = api::cancel(
        State(state),
        session.principal.clone(),
        Path(id.clone()),
        body(api::CancelRequest {
            reason: opt(&form.reason),
        }),
    )
    .await
    .map(|_| "The order is cancelled.".to_owned());
    done(&session, &order_page(&id), result)
}

pub async fn cancel_line(
    State(state): State<AppState>,
    session: Session,
    Path((id, line_no)): Path<(String, String)>,
    Form(form): Form<LineCancelForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let back = order_page(&id);
    session.principal.require(Access::CaptureOrders)?;
    if form.confirmed != "yes" {
        let action = format!("{back}/lines/{}/cancel", format::segment(&line_no));
        let question = format!("Cancel line {line_no}?");
        return Ok(confirmation(
            &session,
            &question,
            &action,
            &[("quantity", &form.quantity), ("reason", &form.reason)],
            &back,
        ));
    }
    let quantity = match form.quantity.trim() {
        "" => None,
        q => match q.parse::<i64>() {
            Ok(q) => Some(q),
            Err(_) => {
                return done(
                    &session,
                    &back,
                    Err(ApiError::invalid_field(
                        "quantity",
                        "must be a whole number",
                    )),
                );
            }
        },
    };
    let result = api::cancel_line(
        State(state),
        session.principal.clone(),
        Path((id.clone(), line_no.clone())),
        body(api::CancelLineRequest {
            quantity,
            reason: opt(&form.reason),
        }),
    )
    .await
    .map(|_| format!("Line {line_no} cancelled."));
    done(&session, &back, result)
}

pub async fn hold_line(
    State(state): State<AppState>,
    session: Session,
    Path((id, line_no)): Path<(String, String)>,
    Form(form): Form<ReasonForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let result = order_edits::hold_line(
        State(state),
        session.principal.clone(),
        Path((id.clone(), line_no.clone())),
        body(order_edits::LineHoldRequest {
            reason: opt(&form.reason),
        }),
    )
    .await
    .map(|_| format!("Line {line_no} is on hold; the other lines go on."));
    done(&session, &order_page(&id), result)
}

pub async fn release_line(
    State(state): State<AppState>,
    session: Session,
    Path((id, line_no)): Path<(String, String)>,
    Form(form): Form<ReasonForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let result = order_edits::release_line(
        State(state),
        session.principal.clone(),
        Path((id.clone(), line_no.clone())),
    )
    .await
    .map(|_| format!("Line {line_no} is released from its hold."));
    done(&session, &order_page(&id), result)
}

/// Where an order action sends the browser back to: the order's page.
fn order_page(id: &str) -> String {
    format!("/ui/orders/{}", format::segment(id))
}

/// Why the order is backordered, in one sentence that the summary, the lines and the plan all
/// show: what planning says now blocks the first line it cannot place (the order's own reason
/// is only that nothing could be sourced), else the order's status reason in words.
fn why_backordered(order: &Order, plan: &Result<Value, ApiError>) -> Option<String> {
    let backordered = order.status == OrderStatus::Backordered
        || order
            .lines
            .iter()
            .any(|l| l.status == LineStatus::Backordered);
    if !backordered {
        return None;
    }
    let from_plan = plan.as_ref().ok().and_then(|p| {
        p["unassigned"]
            .as_array()?
            .iter()
            .find_map(|u| u["reason"].as_str().map(reason_words))
    });
    let from_order = order
        .lines
        .iter()
        .find(|l| l.status == LineStatus::Backordered)
        .and_then(|l| l.status_reason.clone())
        .or_else(|| order.status_reason.clone())
        .map(|r| reason_words(&r));
    from_plan.or(from_order)
}

/// A reason code (planning's, or a status reason) in plain words.
fn reason_words(code: &str) -> String {
    if code == iom_domain::NO_INVENTORY {
        return "no node has enough stock".to_owned();
    }
    match serde_json::from_value::<iom_sourcing::Reason>(Value::String(code.to_owned())) {
        Ok(reason) => reason.describe().to_owned(),
        Err(_) => code.replace('_', " "),
    }
}
