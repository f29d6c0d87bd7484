//! An order's payment: capturing what shipped by hand (what the flow step `capture-payment`
//! does as shipments come), and how payment failures are answered.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use iom_app::payments::{self, PaymentError};
use iom_domain::{Order, OrderId};

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};

impl From<PaymentError> for ApiError {
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::Store(e) => e.into(),
            PaymentError::Pipeline(e) => e.into(),
            PaymentError::Pending(detail) => ApiError::conflict(detail),
            PaymentError::Unavailable(detail)
            | PaymentError::Declined(detail)
            | PaymentError::Refused(detail)
            | PaymentError::Lapsed(detail) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "payment-failed", detail)
            }
        }
    }
}

/// Capture what shipped and is not captured yet.
///
/// Each shipment captures its lines with their share of the order's discount and of tax, and
/// the shipping charge with the first shipment (the shares of the shipment's invoice, so the
/// captures of a shipped order add up to its total); once nothing is left to ship, the rest of
/// the authorisation is let go. Each capture is sent under an idempotency key of its shipment,
/// stored before it is sent: asking again, or after a crash, never captures twice. An order
/// without a `payment` is answered as it is.
///
/// An authorisation that lapsed (or that the card's issuer closed after a partial capture) is
/// renewed first: what is still owed is authorised again as a new PaymentIntent against the
/// order's payment method (`payment.renewed`), and captured from it. A renewal the card refuses
/// puts the order on the hold `payment` (`payment.failed`); its captures wait until the hold is
/// released.
#[utoipa::path(post, path = "/api/v1/orders/{id}/payment/capture", tag = "orders",
    params(("id" = String, Path)),
    responses((status = 200, body = Order, description = "The order with its `payment` as it is now (with the hold `payment` when a renewal was refused)"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The payment service refused a capture iom's own figures do not allow", content_type = "application/problem+json"),
        (status = 502, body = Problem, description = "The payment service refused or could not be reached; asking again sends the same captures", content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn capture(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Order>> {
    principal.require(Access::Capture)?;
    let order_id: OrderId = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("order {id} does not exist")))?;
    if principal.limits.is_some() {
        super::orders::visible_order(&state, &principal, order_id).await?;
    }
    Ok(Json(
        payments::settle(&state.store, &state.pipeline, order_id).await?,
    ))
}
