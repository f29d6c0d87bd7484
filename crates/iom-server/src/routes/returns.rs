//! `/api/v1/returns` and `/api/v1/return-policy`: return authorisations from any origin, receipts
//! with disposition, refunds, close, cancel, and the policy they follow. The lifecycle itself is
//! `iom_app::returns::Returns`; this file only speaks HTTP.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iom_app::returns::{Authorized, RefundRequest, Returns};
use iom_domain::returns::{ReceiptIntake, ReturnIntake};
use iom_domain::{FieldError, OrderId, ReturnOrder, ReturnOrigin, ReturnPolicy, ReturnStatus};
use iom_store::returns::ReturnFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiJson;

#[derive(Serialize, ToSchema)]
pub struct ReturnPage {
    pub items: Vec<ReturnOrder>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// `authorized`, `received`, `refunded`, `closed` or `cancelled`.
    pub status: Option<String>,
    pub order_id: Option<String>,
    /// `store`, `online`, `app` or `service_center`.
    pub origin: Option<String>,
    pub channel: Option<String>,
    /// 1 to 500; 50 when absent.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

#[derive(Deserialize, Default, ToSchema)]
pub struct CancelReturnRequest {
    pub reason: Option<String>,
}

fn returns(state: &AppState) -> Returns {
    Returns::new(state.store.clone())
}

/// Authorise a return (RMA).
#[utoipa::path(post, path = "/api/v1/returns", tag = "returns",
    request_body(content = ReturnIntake, example = json!({"order_id": "ORD-1", "origin": "online", "lines": [{"line_no": 1, "quantity": 1, "reason": "damaged"}]})),
    responses(
        (status = 201, body = ReturnOrder, description = "Authorised: status `authorized`, with `return_to` (the nearest node that accepts returns) and the exchange order when one was asked for"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The order has a return with this `reference`; `existing_id` names it", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Unknown order, or a line that is not eligible (never shipped, more than shipped and not yet returned, outside the return window, not returnable); each such line is named", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    body: ApiJson<ReturnIntake>,
) -> ApiResult<Response> {
    principal.require(Access::CaptureOrders)?;
    if principal.limits.is_some()
        && let Some(id) = body.value.order_id.as_deref()
        && let Ok(order_id) = id.trim().parse()
        && super::orders::visible_order(&state, &principal, order_id)
            .await
            .is_err()
    {
        // Answered as for an order that does not exist: a limited token learns nothing of others.
        return Err(ApiError::invalid_field(
            "order_id",
            format!("order {order_id} does not exist"),
        ));
    }
    match returns(&state).authorize(body.value).await? {
        Authorized::Created(ret) => {
            metrics::counter!("iom_returns_authorized_total", "origin" => ret.origin.as_str())
                .increment(1);
            let mut response = (StatusCode::CREATED, Json(&*ret)).into_response();
            if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/returns/{}", ret.id)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        Authorized::Duplicate { existing_id } => Err(ApiError::conflict(format!(
            "the order has a return with this reference: {existing_id}"
        ))
        .with("existing_id", existing_id)),
    }
}

/// One return, with its receipts and refund.
#[utoipa::path(get, path = "/api/v1/returns/{id}", tag = "returns",
    params(("id" = String, Path)),
    responses((status = 200, body = ReturnOrder), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ReturnOrder>> {
    principal.require(Access::Read)?;
    let ret = state
        .store
        .get_return(id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("return {id} does not exist")))?;
    Ok(Json(ret))
}

/// Returns, newest first.
#[utoipa::path(get, path = "/api/v1/returns", tag = "returns",
    params(ListQuery),
    responses((status = 200, body = ReturnPage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<ReturnPage>> {
    principal.require(Access::Read)?;
    let mut errors = Vec::new();
    if let Some(status) = &query.status
        && ReturnStatus::parse(status).is_none()
    {
        errors.push(FieldError::new(
            "status",
            format!("{status:?} is not a return status"),
        ));
    }
    if let Some(origin) = &query.origin
        && ReturnOrigin::parse(origin).is_none()
    {
        errors.push(FieldError::new(
            "origin",
            format!("{origin:?} is not one of store, online, app, service_center"),
        ));
    }
    let order_id = match query.order_id.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(id) => match id.parse::<OrderId>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new("order_id", "is not an order id"));
                None
            }
        },
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        errors.push(FieldError::new("limit", "must be between 1 and 500"));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let items = state
        .store
        .list_returns(ReturnFilter {
            status: query.status,
            order_id,
            origin: query.origin,
            channel: query.channel,
            limit,
            cursor: query.cursor.filter(|c| !c.is_empty()),
            ..ReturnFilter::default()
        })
        .await?;
    let next_cursor = (items.len() == limit)
        .then(|| items.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Json(ReturnPage { items, next_cursor }))
}

/// Record what arrived at a node, line by line, with condition and disposition. Restocked units
/// are on-hand at that node when this answers; the receipt is final (authorised units not in it
/// are released). A second receipt of the same return is refused with 409 and restocks nothing.
/// A line without a disposition waits for inspection: the return flow's `inspect` step decides
/// it and its `disposition` step restocks what it decided to restock (once; never the units this
/// call restocked).
#[utoipa::path(post, path = "/api/v1/returns/{id}/receive", tag = "returns",
    params(("id" = String, Path)), request_body(content = ReceiptIntake, example = json!({"node": "DC-EAST", "lines": [{"line_no": 1, "quantity": 1, "condition": "new", "disposition": "restock"}]})),
    responses(
        (status = 200, body = ReturnOrder),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The return is not `authorized` (received already, refunded, closed or cancelled)", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "A line the return does not have, more than authorised, an unknown disposition, or a node that is unknown or takes no returns", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn receive(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: ApiJson<ReceiptIntake>,
) -> ApiResult<Json<ReturnOrder>> {
    principal.require(Access::CaptureOrders)?;
    Ok(Json(returns(&state).receive(id, body.value).await?))
}

/// Refund the return: each received unit's price less its share of the line's and the order's
/// discounts, plus its share of tax, less the restocking fee of its reason; shipping as the policy
/// says. Never more than was paid.
///
/// When the order was paid through a `payment` instance, the refund is paid out through it
/// (Stripe `POST /v1/refunds` under an idempotency key of this return, so asking again never
/// refunds twice), never more than was captured and not refunded yet, and the refund's
/// `reference` is the service's refund id (`re_…`). When the order's tax was committed through a
/// `tax` instance, its tax document is then adjusted by AvaTax's refund of the returned lines
/// (once per return), and the refund's `tax` records the tax given back.
#[utoipa::path(post, path = "/api/v1/returns/{id}/refund", tag = "returns",
    params(("id" = String, Path)), request_body = RefundRequest,
    responses(
        (status = 200, body = ReturnOrder),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The return cannot be refunded now, or nothing captured is left to refund", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "`amount` above the computed refund", content_type = "application/problem+json"),
        (status = 502, body = Problem, description = "The payment service refused or could not be reached; asking again sends the same refund", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn refund(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: ApiJson<RefundRequest>,
) -> ApiResult<Json<ReturnOrder>> {
    principal.require(Access::OperateOrders)?;
    Ok(Json(
        iom_app::payments::refund_return(&state.store, &state.pipeline, id, body.value).await?,
    ))
}

/// Close the return (after its refund, or after a receipt with nothing to refund).
#[utoipa::path(post, path = "/api/v1/returns/{id}/close", tag = "returns",
    params(("id" = String, Path)),
    responses((status = 200, body = ReturnOrder), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn close(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ReturnOrder>> {
    principal.require(Access::OperateOrders)?;
    Ok(Json(returns(&state).close(id).await?))
}

/// Cancel a return that nothing was received for; its quantities may be returned again, and its
/// exchange order is cancelled with it.
#[utoipa::path(post, path = "/api/v1/returns/{id}/cancel", tag = "returns",
    params(("id" = String, Path)), request_body = CancelReturnRequest,
    responses((status = 200, body = ReturnOrder), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: ApiJson<CancelReturnRequest>,
) -> ApiResult<Json<ReturnOrder>> {
    principal.require(Access::CaptureOrders)?;
    let reason = body
        .value
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "manual".into());
    Ok(Json(returns(&state).cancel(id, reason).await?))
}

/// The return policy in force (the defaults until one is stored).
#[utoipa::path(get, path = "/api/v1/return-policy", tag = "returns",
    responses((status = 200, body = ReturnPolicy)),
    security(("bearer" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ReturnPolicy>> {
    principal.require(Access::Read)?;
    Ok(Json(state.store.return_policy().await?))
}

/// Replace the return policy: windows per channel and category, non-returnable SKUs and
/// categories, the reason catalogue, restocking fees by reason, shipping refunds, exchanges.
/// Fields left out take their defaults.
#[utoipa::path(put, path = "/api/v1/return-policy", tag = "returns",
    request_body = ReturnPolicy,
    responses((status = 200, body = ReturnPolicy), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_policy(
    State(state): State<AppState>,
    principal: Principal,
    body: ApiJson<ReturnPolicy>,
) -> ApiResult<Json<ReturnPolicy>> {
    principal.require(Access::Configure)?;
    let policy = body.value;
    policy.validate().map_err(ApiError::invalid)?;
    state.store.put_return_policy(policy.clone()).await?;
    Ok(Json(policy))
}
