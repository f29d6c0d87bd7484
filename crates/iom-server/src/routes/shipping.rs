//! Carrier labels of an order's shipments: buying one by hand, and the label file.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iom_app::shipping::{self, LabelRequest, ShippingError};
use iom_domain::{Order, OrderId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiJson;

impl From<ShippingError> for ApiError {
    fn from(e: ShippingError) -> Self {
        match e {
            ShippingError::Store(e) => e.into(),
            ShippingError::Pipeline(e) => e.into(),
            ShippingError::Carrier(detail) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "carrier-failed", detail)
            }
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LabelBought {
    /// The shipment the label became (its carrier, service, cost and tracking code are on it).
    pub shipment_id: String,
    /// Where the label file is.
    pub label_url: String,
    pub order: Order,
}

fn parse_id(id: &str) -> ApiResult<OrderId> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("order {id} does not exist")))
}

/// Buy a carrier label for released lines and record it as a shipment.
///
/// The same parcel (order, node, lines) asked for again is the same purchase: it answers the
/// shipment bought before, and a purchase interrupted anywhere is finished rather than bought
/// again. Without `lines`, the parcel is every released, unshipped line of `node`.
#[utoipa::path(post, path = "/api/v1/orders/{id}/labels", tag = "orders",
    params(("id" = String, Path)), request_body = LabelRequest,
    responses((status = 201, body = LabelBought, description = "Bought (now or before) and recorded"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "Nothing of these lines is left to ship, the order is on hold, or another purchase of the order is unfinished", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "A field is wrong (`provider`, `node`, `lines[i].…`, `service`), or the carrier instance lacks a sender address or parcel", content_type = "application/problem+json"),
        (status = 502, body = Problem, description = "The carrier refused or could not be reached; the purchase can be asked for again", content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn buy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: ApiJson<LabelRequest>,
) -> ApiResult<(StatusCode, Json<LabelBought>)> {
    principal.require(Access::Capture)?;
    let order_id = parse_id(&id)?;
    if principal.limits.is_some() {
        super::orders::visible_order(&state, &principal, order_id).await?;
    }
    let bought = shipping::buy_label(&state.store, &state.pipeline, order_id, body.value).await?;
    Ok((
        StatusCode::CREATED,
        Json(LabelBought {
            label_url: format!(
                "/api/v1/orders/{order_id}/shipments/{}/label",
                bought.shipment_id
            ),
            shipment_id: bought.shipment_id,
            order: bought.order,
        }),
    ))
}

/// The label of a shipment whose label iom bought: PDF, ZPL or PNG as the carrier made it.
#[utoipa::path(get, path = "/api/v1/orders/{id}/shipments/{shipment_id}/label", tag = "orders",
    params(("id" = String, Path), ("shipment_id" = String, Path)),
    responses((status = 200, description = "The label file", content(
            (Vec<u8> = "application/pdf"), (Vec<u8> = "application/zpl"), (Vec<u8> = "image/png"))),
        (status = 404, body = Problem, description = "No such order or shipment, or iom bought no label for it", content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn label(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, shipment_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    principal.require(Access::Read)?;
    let order_id = parse_id(&id)?;
    if principal.limits.is_some() {
        super::orders::visible_order(&state, &principal, order_id).await?;
    }
    let (format, bytes) = shipping::label_file(&state.store, order_id, shipment_id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("a label of shipment {shipment_id}")))?;
    let media = iom_providers::easypost::label_media_type(&format);
    let mut response = bytes.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    Ok(response)
}
