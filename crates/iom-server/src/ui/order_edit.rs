//! Changing an order before it is released (`/ui/orders/{id}/edit`): ship-to, ship method and
//! lines (quantities, added rows, removed lines), through the API's `PATCH /api/v1/orders/{id}`
//! handler. Whether the order may still change is the order's own answer (`Order::check_amend`).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use iom_domain::{AmendmentIntake, FieldError, Order};
use maud::{Markup, html};

use super::order_form::{Errors, Fields, address_fieldset, at_rows, input, line_rows, lookups};
use super::session::{Flash, Session};
use super::{UiResult, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use crate::json::CheckedJson;
use crate::routes::{order_edits, orders as api};

fn body(
    order: &Order,
    fields: &Fields,
    errors: &Errors,
    session: &Session,
    lookups: Markup,
) -> Markup {
    let base = format!("/ui/orders/{}", order.id);
    html! {
        p.muted { a href="/ui/orders" { "Orders" } " › " a href=(base) { code { (order.id) } } " ›" }
        h1 { "Change order " (order.external_id) }
        @if !errors.is_empty() {
            div.flash.error role="alert" {
                @for g in &errors.general { p { (g) } }
                @if !errors.by_field.is_empty() { p { "Nothing was changed. Please correct the fields marked below." } }
            }
        }
        @if let Err(refusal) = order.check_amend() {
            p.flash.error role="alert" { (refusal.to_string()) }
        } @else {
            form.order-form method="post" action={ (base) "/edit" } {
                input type="hidden" name="csrf" value=(session.csrf);
                (lookups)
                div.grid {
                    fieldset.form-grid {
                        legend { "Shipping" }
                        (input(fields, errors, "ship_method", "Ship method", None))
                    }
                    (address_fieldset(fields, errors))
                }
                fieldset {
                    legend { "Lines" }
                    p.hint { "A changed line gives back its reservation and is planned again; a removed line is cancelled." }
                    (line_rows(fields, errors, true))
                }
                p { button type="submit" name="save" value="1" { "Save changes" } " " a href=(base) { "Back to the order" } }
            }
        }
    }
}

async fn order_of(state: &AppState, session: &Session, id: &str) -> UiResult<Order> {
    if !session.can(Access::CaptureOrders) {
        return Err(ApiError::forbidden(format!(
            "your role ({}) cannot change orders",
            session.principal.role.as_str()
        ))
        .into());
    }
    Ok(api::get(
        State(state.clone()),
        session.principal.clone(),
        Path(id.to_owned()),
    )
    .await?
    .0)
}

fn render(
    session: &Session,
    order: &Order,
    fields: &Fields,
    errors: &Errors,
    lookups: Markup,
    status: StatusCode,
) -> Response {
    let mut response = layout::page(
        session,
        &format!("Change order {}", order.external_id),
        "/ui/orders",
        body(order, fields, errors, session, lookups),
    );
    *response.status_mut() = status;
    response
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> UiResult<Response> {
    let order = order_of(&state, &session, &id).await?;
    let fields = Fields::of_order(&order);
    let lookups = lookups(&state).await?;
    Ok(render(
        &session,
        &order,
        &fields,
        &Errors::default(),
        lookups,
        StatusCode::OK,
    ))
}

pub async fn save(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    session.verify(&csrf)?;
    let order = order_of(&state, &session, &id).await?;
    let (fields, add_line) = Fields::from_pairs(
        pairs
            .into_iter()
            .filter(|(k, _)| k != "csrf" && k != "save")
            .collect(),
    );
    if add_line {
        let lookups = lookups(&state).await?;
        return Ok(render(
            &session,
            &order,
            &fields,
            &Errors::default(),
            lookups,
            StatusCode::OK,
        ));
    }
    let mut parse_errors = Vec::new();
    let rows = fields.lines(&mut parse_errors);
    let row_of: Vec<usize> = rows.iter().map(|(row, _)| *row).collect();
    // The address as shown is sent only when it was changed: the order's own carries where it
    // was located, which the form does not show.
    let shown = Fields::of_order(&order);
    let address_changed = super::order_form::ADDRESS.iter().any(|(f, _)| {
        let name = format!("ship_to.{f}");
        fields.get(&name).trim() != shown.get(&name).trim()
    });
    let intake = AmendmentIntake {
        ship_to: fields.ship_to().filter(|_| address_changed),
        ship_method: Some(fields.get("ship_method").trim().to_owned()).filter(|m| !m.is_empty()),
        lines: Some(rows.into_iter().map(|(_, l)| l).collect()),
        attributes: None,
    };
    let from_form = !parse_errors.is_empty();
    let result = if parse_errors.is_empty() {
        order_edits::amend(
            State(state.clone()),
            session.principal.clone(),
            Path(id.clone()),
            CheckedJson::from_value(intake),
        )
        .await
        .map(|_| ())
    } else {
        if let Err(more) = intake.validate(&order) {
            parse_errors.extend(at_rows(more, &row_of));
        }
        Err(ApiError::invalid(parse_errors))
    };
    let e = match result {
        Ok(()) => {
            return Ok(session.redirect(
                &format!("/ui/orders/{}", format::segment(&id)),
                Flash {
                    ok: true,
                    text: "The order is changed.".into(),
                },
            ));
        }
        Err(e)
            if matches!(
                e.status(),
                StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND
            ) || e.status().is_server_error() =>
        {
            return Err(e.into());
        }
        Err(e) => e,
    };
    let field_errors: Vec<FieldError> = e.problem.errors.clone();
    let mut errors = Errors::new(if from_form {
        field_errors
    } else {
        at_rows(field_errors, &row_of)
    });
    if errors.by_field.is_empty() {
        errors.general.push(e.problem.detail.clone());
    }
    // The order as it now is (a conflict: it moved on meanwhile).
    let order = order_of(&state, &session, &id).await?;
    let lookups = lookups(&state).await?;
    Ok(render(
        &session,
        &order,
        &fields,
        &errors,
        lookups,
        e.status(),
    ))
}
