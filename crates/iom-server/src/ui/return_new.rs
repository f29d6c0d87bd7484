//! Starting a return from an order (`/ui/returns/new?order_id=`): the order's shipped lines with
//! what each can still return, a quantity and a reason per line, the origin and where the items
//! go. Posting calls the handler of `POST /api/v1/returns`, so eligibility (window, returnable,
//! more than shipped) is decided once; a refusal draws the form again with each error at its line.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use iom_domain::returns::{ReturnIntake, ReturnLineIntake};
use iom_domain::{FieldError, Order, ReturnOrigin};
use maud::{Markup, html};
use serde::Deserialize;

use super::form::{self, Errors};
use super::session::{Flash, Session};
use super::{UiResult, format, layout};
use crate::AppState;
use crate::auth::{Access, Principal};
use crate::json::ApiJson;
use crate::routes::{orders as order_api, returns as api};

const ORIGINS: &[ReturnOrigin] = &[
    ReturnOrigin::Online,
    ReturnOrigin::Store,
    ReturnOrigin::App,
    ReturnOrigin::ServiceCenter,
];

#[derive(Deserialize, Default)]
pub struct NewParams {
    #[serde(default)]
    pub order_id: String,
}

/// What the form holds: as first shown, or as posted.
struct Typed {
    origin: String,
    node: String,
    note: String,
    /// (quantity, reason) by line number.
    lines: Vec<(u32, String, String)>,
}

impl Typed {
    fn line(&self, line_no: u32) -> (&str, &str) {
        self.lines
            .iter()
            .find(|(n, _, _)| *n == line_no)
            .map_or(("0", ""), |(_, q, r)| (q.as_str(), r.as_str()))
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<NewParams>,
) -> UiResult<Response> {
    session.principal.require(Access::Read)?;
    let Some(order_id) = form::opt(&params.order_id) else {
        let body = html! {
            (crumbs())
            h1 { "Start a return" }
            form.filters method="get" action="/ui/returns/new" {
                label { "Order id" input name="order_id" required; }
                button type="submit" { "Continue" }
            }
            p.hint { "Or open the order and choose “Start a return”." }
        };
        return Ok(layout::page(
            &session,
            "Start a return",
            "/ui/returns",
            body,
        ));
    };
    let order = load_order(&state, &session.principal, &order_id).await?;
    let typed = Typed {
        origin: ReturnOrigin::Online.as_str().into(),
        node: String::new(),
        note: String::new(),
        lines: Vec::new(),
    };
    draw(&state, &session, &order, &typed, &Errors::none()).await
}

async fn load_order(state: &AppState, principal: &Principal, id: &str) -> UiResult<Order> {
    Ok(
        order_api::get(State(state.clone()), principal.clone(), Path(id.to_owned()))
            .await?
            .0,
    )
}

fn crumbs() -> Markup {
    html! { p.muted { a href="/ui/returns" { "Returns" } " ›" } }
}

async fn draw(
    state: &AppState,
    session: &Session,
    order: &Order,
    typed: &Typed,
    errors: &Errors,
) -> UiResult<Response> {
    let policy = state.store.return_policy().await?;
    let nodes = state.store.list_nodes().await?;
    let takes_returns: Vec<_> = nodes
        .iter()
        .filter(|n| n.active && n.doc["accepts_returns"].as_bool().unwrap_or(true))
        .collect();
    let shipped: Vec<_> = order
        .lines
        .iter()
        .filter(|l| l.shipped_quantity > 0)
        .collect();
    let can = session.can(Access::CaptureOrders);
    let body = html! {
        (crumbs())
        h1 { "Start a return of " a href={ "/ui/orders/" (order.id) } { (order.channel) " · " (order.external_id) } }
        (errors.banner(&["line", "lines", "origin", "node", "note"]))
        @if shipped.is_empty() {
            p.muted #nothing-to-return { "Nothing of this order has shipped: there is nothing to return yet." }
        } @else if !can {
            p.muted { "Your role can only read: starting a return needs the operator, service or admin role." }
        } @else {
            form.stack #return-form method="post" action="/ui/returns/new" {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="order_id" value=(order.id);
                table #return-lines {
                    thead { tr { th { "Line" } th { "SKU" } th.num { "Shipped" } th.num { "Can return" } th { "Quantity" } th { "Reason" } } }
                    tbody { @for l in &shipped {
                        @let n = l.line_no;
                        @let (quantity, reason) = typed.line(n);
                        @let left = l.returnable_quantity();
                        tr {
                            td { "#" (n) }
                            td { (l.sku) }
                            td.num { (l.shipped_quantity) }
                            td.num { (left) }
                            td {
                                input type="number" name={ "quantity_" (n) } min="0" max=(left) value=(quantity)
                                    disabled[left == 0] aria-label={ "Quantity of line " (n) };
                                (errors.at(&format!("line{n}.quantity")))
                                (errors.at(&format!("line{n}.line_no")))
                            }
                            td {
                                select name={ "reason_" (n) } aria-label={ "Reason of line " (n) } disabled[left == 0] {
                                    @for r in &policy.reasons {
                                        option value=(r.code) selected[r.code == reason] { (r.description) " (" (r.code) ")" }
                                    }
                                }
                                (errors.at(&format!("line{n}.reason")))
                            }
                        }
                    } }
                }
                (errors.at("lines"))
                label { "Origin"
                    select name="origin" {
                        @for o in ORIGINS { option value=(o.as_str()) selected[o.as_str() == typed.origin] { (o.as_str().replace('_', " ")) } }
                    }
                    (errors.at("origin"))
                }
                label { "Return to"
                    select name="node" {
                        option value="" { "the nearest node that takes returns" }
                        @for n in &takes_returns { option value=(n.code) selected[n.code == typed.node] { (n.code) " · " (n.doc["name"].as_str().unwrap_or_default()) } }
                    }
                    (errors.at("node"))
                }
                label { "Note" input name="note" value=(typed.note); (errors.at("note")) }
                button type="submit" { "Authorise the return" }
            }
        }
    };
    Ok(layout::page(session, "Start a return", "/ui/returns", body))
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(pairs): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    session.verify(form::value(&pairs, "csrf"))?;
    let order = load_order(&state, &session.principal, form::value(&pairs, "order_id")).await?;
    let typed = Typed {
        origin: form::value(&pairs, "origin").to_owned(),
        node: form::value(&pairs, "node").to_owned(),
        note: form::value(&pairs, "note").to_owned(),
        lines: order
            .lines
            .iter()
            .map(|l| {
                let n = l.line_no;
                (
                    n,
                    form::value(&pairs, &format!("quantity_{n}")).to_owned(),
                    form::value(&pairs, &format!("reason_{n}")).to_owned(),
                )
            })
            .collect(),
    };
    // The lines asked for, in order; the API names them by their place in this list.
    let mut asked = Vec::new();
    let mut errors = Vec::new();
    for (n, quantity, reason) in &typed.lines {
        let quantity = quantity.trim();
        if quantity.is_empty() {
            continue;
        }
        match quantity.parse::<i64>() {
            Ok(0) => {}
            Ok(q) => asked.push((
                *n,
                ReturnLineIntake {
                    line_no: Some(i64::from(*n)),
                    quantity: Some(q),
                    reason: form::opt(reason),
                    ..Default::default()
                },
            )),
            Err(_) => errors.push(FieldError::new(
                format!("line{n}.quantity"),
                "must be a whole number",
            )),
        }
    }
    if !errors.is_empty() {
        let errors = Errors {
            detail: Some("The form has errors.".into()),
            fields: errors,
        };
        return Ok(form::refused(
            draw(&state, &session, &order, &typed, &errors).await?,
        ));
    }
    let line_nos: Vec<u32> = asked.iter().map(|(n, _)| *n).collect();
    let intake = ReturnIntake {
        order_id: Some(order.id.to_string()),
        origin: form::opt(&typed.origin),
        lines: Some(asked.into_iter().map(|(_, l)| l).collect()),
        node: form::opt(&typed.node),
        note: form::opt(&typed.note),
        reference: None,
    };
    let result = api::create(
        State(state.clone()),
        session.principal.clone(),
        ApiJson {
            value: intake,
            raw: Default::default(),
        },
    )
    .await;
    match form::outcome(result)? {
        Ok(response) => {
            let created: serde_json::Value = read_json(response).await;
            let id = created["id"].as_str().unwrap_or_default().to_owned();
            Ok(session.redirect(
                &format!("/ui/returns/{}", format::segment(&id)),
                Flash {
                    ok: true,
                    text: format!("Return {id} is authorised."),
                },
            ))
        }
        Err(mut errors) => {
            // `lines[i].quantity` of the request is the form's `line{n}.quantity`.
            for f in &mut errors.fields {
                f.field = by_line(&f.field, &line_nos);
            }
            Ok(form::refused(
                draw(&state, &session, &order, &typed, &errors).await?,
            ))
        }
    }
}

/// Renames `lines[i].rest` to `line{n}.rest`, `n` being the i-th line asked for.
pub(super) fn by_line(field: &str, line_nos: &[u32]) -> String {
    let Some(rest) = field.strip_prefix("lines[") else {
        return field.to_owned();
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return field.to_owned();
    };
    match index.parse::<usize>().ok().and_then(|i| line_nos.get(i)) {
        Some(n) => format!("line{n}{tail}"),
        None => field.to_owned(),
    }
}

/// The JSON body of a handler's response (the created return).
async fn read_json(response: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(response.into_body(), crate::json::MAX_BODY)
        .await
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_request_line_is_named_by_the_order_line_it_is() {
        assert_eq!(
            super::by_line("lines[1].quantity", &[2, 5]),
            "line5.quantity"
        );
        assert_eq!(
            super::by_line("lines[7].quantity", &[2]),
            "lines[7].quantity"
        );
        assert_eq!(super::by_line("origin", &[2]), "origin");
    }
}
