//! Changes to an order before it is released: `PATCH /api/v1/orders/{id}` (ship-to, ship
//! method, lines) and holds on single lines. The order aggregate decides what its state allows;
//! these handlers parse, authorise and call the use cases in `iom_app::orders`.

use axum::Json;
use axum::extract::{Path, State};
use iom_app::orders::OrderAction;
use iom_domain::{AmendmentIntake, Order};
use serde::Deserialize;
use utoipa::ToSchema;

use super::orders::{act, parse_id, visible_order};
use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, CheckedJson};

/// Change the order before release: ship-to, ship method, attributes, lines (quantities
/// changed, lines added or removed).
///
/// Refused with 409 once any line is released to a node (or shipped), or when the order is
/// cancelled. A changed line's reservation is given back and the line planned again by the
/// order's flow; a removed line is cancelled. Announced by `order.amended` (`changes` names
/// what changed). A request that changes nothing changes nothing, and answers the order.
#[utoipa::path(patch, path = "/api/v1/orders/{id}", tag = "orders",
    params(("id" = String, Path)),
    request_body(content = AmendmentIntake, example = json!({
        "ship_to": {"name": "Ann Lee", "line1": "2 Pine St", "city": "Seattle", "region": "WA",
                    "postal_code": "98101", "country": "US"},
        "ship_method": "express",
        "lines": [{"line_no": 1, "quantity": 3}, {"sku": "SKU-2", "quantity": 1, "unit_price": "5.00"}]
    })),
    responses(
        (status = 200, body = Order),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The order is released, shipped or cancelled", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn amend(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: CheckedJson<AmendmentIntake>,
) -> ApiResult<Json<Order>> {
    principal.require(Access::CaptureOrders)?;
    let id = parse_id(&id)?;
    let order = visible_order(&state, &principal, id).await?;
    let intake = body.check(|intake| intake.validate(&order).err().unwrap_or_default())?;
    let amendment = intake.validate(&order).map_err(ApiError::invalid)?;
    Ok(Json(
        iom_app::orders::amend(&state.store, id, amendment).await?,
    ))
}

#[derive(Deserialize, Default, ToSchema)]
pub struct LineHoldRequest {
    /// Why the line is held (free text).
    pub reason: Option<String>,
}

/// Hold one line: it is planned and reserved with the others, but not released to a node
/// until its hold is released, while the rest of the order goes on.
///
/// 409 once the line is released, shipped or cancelled, or when it is on hold already.
/// Announced by `order.line_held`.
#[utoipa::path(post, path = "/api/v1/orders/{id}/lines/{line_no}/hold", tag = "orders",
    params(("id" = String, Path), ("line_no" = u32, Path)),
    request_body(content = LineHoldRequest, example = json!({"reason": "engraving to confirm"})),
    responses(
        (status = 200, body = Order),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn hold_line(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, line_no)): Path<(String, String)>,
    body: ApiJson<LineHoldRequest>,
) -> ApiResult<Json<Order>> {
    principal.require(Access::OperateOrders)?;
    let line_no = existing_line(&state, &principal, &id, &line_no).await?;
    let note = body
        .value
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    act(
        &state,
        &principal,
        &id,
        OrderAction::HoldLine { line_no, note },
    )
    .await
}

/// Release the hold of one line: the line is released to its node as it would have been
/// (`order.line_hold_released`). 409 when the line is not on hold.
#[utoipa::path(post, path = "/api/v1/orders/{id}/lines/{line_no}/release", tag = "orders",
    params(("id" = String, Path), ("line_no" = u32, Path)),
    responses(
        (status = 200, body = Order),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn release_line(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, line_no)): Path<(String, String)>,
) -> ApiResult<Json<Order>> {
    principal.require(Access::OperateOrders)?;
    let line_no = existing_line(&state, &principal, &id, &line_no).await?;
    act(
        &state,
        &principal,
        &id,
        OrderAction::ReleaseLine { line_no },
    )
    .await
}

/// The line number of a line the order has, or 404.
async fn existing_line(
    state: &AppState,
    principal: &Principal,
    id: &str,
    line_no: &str,
) -> ApiResult<u32> {
    let order_id = parse_id(id)?;
    let order = visible_order(state, principal, order_id).await?;
    line_no
        .parse::<u32>()
        .ok()
        .filter(|n| order.line(*n).is_some())
        .ok_or_else(|| ApiError::not_found(format!("order {order_id} has no line {line_no}")))
}
