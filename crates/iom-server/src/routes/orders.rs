//! `/api/v1/orders`: capture, read, list, and every action on an order.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use iom_app::orders::OrderAction;
use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
use iom_domain::{Order, OrderId, OrderIntake, OrderStatus};
use iom_store::{CreateOutcome, Due, Event, Idempotency, OrderColumn, OrderFilter, OrderSort};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, PROBLEM_JSON, Problem};
use crate::json::{ApiJson, CheckedJson};

const MAX_IDEMPOTENCY_KEY: usize = 255;

#[derive(Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<Order>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// One of the order statuses.
    pub status: Option<String>,
    pub channel: Option<String>,
    /// Orders with a line of this SKU.
    pub sku: Option<String>,
    /// Orders with a line assigned to, or shipped from, this node.
    pub node: Option<String>,
    /// Orders placed at or after this time (RFC 3339).
    pub placed_from: Option<String>,
    /// Orders placed before this time (RFC 3339).
    pub placed_to: Option<String>,
    /// Order id, external id, customer id, or the beginning of the customer's e-mail or name.
    pub q: Option<String>,
    /// Open orders by their ship-by time: `past` (past due) or `soon` (due within 24 hours: in
    /// jeopardy). The orders the KPIs `past_due` and `in_jeopardy` count.
    pub due: Option<String>,
    /// 1 to 500; 50 when absent.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// The column to sort by, `-` first for descending: `id` (the order captured first),
    /// `placed_at`, `updated_at`, `external_id`, `status`, `channel`. `-id` (newest first) when
    /// absent. Ties are broken by id; the cursor carries the sort key.
    pub sort: Option<String>,
}

/// A list's `sort` parameter: `column` or `-column`.
pub fn parse_sort(text: Option<&str>) -> Result<OrderSort, iom_domain::FieldError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(OrderSort::default());
    };
    let (descending, name) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let column = OrderColumn::parse(name).ok_or_else(|| {
        let names: Vec<&str> = OrderColumn::ALL.iter().map(|c| c.as_str()).collect();
        iom_domain::FieldError::new(
            "sort",
            format!(
                "must be one of {}, with - first for descending",
                names.join(", ")
            ),
        )
    })?;
    Ok(OrderSort { column, descending })
}

/// The cursor that continues a list after `order` in `sort`.
pub fn cursor_after(sort: OrderSort, id: OrderId, key: String) -> String {
    match sort.column {
        OrderColumn::Newest => id.to_string(),
        _ => format!("{key}~{id}"),
    }
}

/// The filter a list query asks for, as `principal` may see it; every bad parameter named.
pub fn order_filter(principal: &Principal, query: &ListQuery) -> ApiResult<OrderFilter> {
    let mut errors = Vec::new();
    if let Some(status) = query.status.as_deref().filter(|s| !s.is_empty())
        && OrderStatus::parse(status).is_none()
    {
        errors.push(iom_domain::FieldError::new(
            "status",
            format!("{status:?} is not an order status"),
        ));
    }
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        errors.push(iom_domain::FieldError::new(
            "limit",
            "must be between 1 and 500",
        ));
    }
    let sort = parse_sort(query.sort.as_deref()).unwrap_or_else(|e| {
        errors.push(e);
        OrderSort::default()
    });
    let (sort_key, cursor) = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => (None, None),
        Some(c) => {
            let (key, id) = match (sort.column, c.rsplit_once('~')) {
                (OrderColumn::Newest, _) => (None, c),
                (_, Some((key, id))) => (Some(key.to_owned()), id),
                (_, None) => (None, ""),
            };
            let integer_key_ok = match (sort.column, &key) {
                (OrderColumn::Placed | OrderColumn::Updated, Some(k)) => k.parse::<i64>().is_ok(),
                _ => true,
            };
            match id.parse::<OrderId>() {
                Ok(id) if integer_key_ok => (key, Some(id)),
                _ => {
                    errors.push(iom_domain::FieldError::new(
                        "cursor",
                        "is not a cursor of this list",
                    ));
                    (None, None)
                }
            }
        }
    };
    let due = match query
        .due
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => None,
        Some("past") => Some(Due::Past(Utc::now())),
        Some("soon") => Some(Due::Soon(Utc::now())),
        Some(_) => {
            errors.push(iom_domain::FieldError::new("due", "must be past or soon"));
            None
        }
    };
    let mut time = |field: &str, value: Option<&str>| match value.filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match chrono::DateTime::parse_from_rfc3339(v) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                errors.push(iom_domain::FieldError::new(
                    field,
                    "must be an RFC 3339 time, e.g. 2026-11-30T00:00:00Z",
                ));
                None
            }
        },
    };
    let placed_from = time("placed_from", query.placed_from.as_deref());
    let placed_to = time("placed_to", query.placed_to.as_deref());
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let non_empty = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    Ok(OrderFilter {
        status: non_empty(&query.status),
        channel: non_empty(&query.channel),
        channels: principal.channels(),
        sku: non_empty(&query.sku),
        node: non_empty(&query.node),
        placed_from,
        placed_to,
        q: query.q.clone(),
        due,
        limit,
        cursor,
        sort_key,
        sort,
    })
}

#[derive(Deserialize, Default, ToSchema)]
pub struct CancelRequest {
    pub reason: Option<String>,
}

#[derive(Deserialize, Default, ToSchema)]
pub struct CancelLineRequest {
    /// How much to cancel; all of the open quantity when absent.
    pub quantity: Option<i64>,
    pub reason: Option<String>,
}

#[derive(Deserialize, Default, ToSchema)]
pub struct HoldRequest {
    /// Free text, or a short code such as `credit` which then becomes the status reason.
    pub reason: Option<String>,
    /// The hold's code (`manual` when neither this nor a code-like reason is given).
    pub code: Option<String>,
}

#[derive(Deserialize, Default, ToSchema)]
pub struct ReleaseRequest {
    /// Release only the holds with this code; all holds when absent.
    pub code: Option<String>,
}

#[derive(Deserialize, Default, ToSchema)]
pub struct DeliveryRequest {
    pub lines: Option<Vec<LineQuantityRequest>>,
}

#[derive(Serialize, ToSchema)]
pub struct TimelineEntry {
    pub at: chrono::DateTime<Utc>,
    /// `event` for a business event, `step` for a step of a flow run (its `type` is the step's
    /// id, `data` has the run, the outcome, the attempt and the duration).
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub event_type: String,
    pub seq: i64,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Who did it: for an event its actor, for a step the run's flow.
    pub actor: Option<iom_domain::Actor>,
}

#[derive(Serialize, ToSchema)]
pub struct Timeline {
    pub items: Vec<TimelineEntry>,
    pub next_cursor: Option<String>,
}

/// Capture an order.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders",
    request_body(content = OrderIntake, example = json!({
        "channel": "web", "external_id": "1001", "currency": "USD", "placed_at": "2026-11-26T10:00:00Z",
        "customer": {"id": "C-1", "email": "ann@example.com", "name": "Ann Lee"},
        "ship_to": {"name": "Ann Lee", "line1": "1 Main St", "city": "Seattle", "region": "WA",
                    "postal_code": "98101", "country": "US", "lat": 47.61, "lon": -122.33},
        "lines": [{"line_no": 1, "sku": "SKU-1", "quantity": 2, "unit_price": "19.99"}],
        "ship_method": "standard", "attributes": {}
    })),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the first response")),
    responses(
        (status = 201, body = Order),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The (channel, external_id) exists; `existing_id` names it", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: CheckedJson<OrderIntake>,
) -> ApiResult<Response> {
    principal.require(Access::CaptureOrders)?;
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "Idempotency-Key",
                        format!("must be 1 to {MAX_IDEMPOTENCY_KEY} visible characters"),
                    )
                })?;
            Some(Idempotency::new(
                format!("orders.create/{}", principal.token_id),
                key,
                &body.raw,
            ))
        }
    };
    let now = Utc::now();
    let intake = body.check(|intake| intake.validate(now).err().unwrap_or_default())?;
    let order = intake.validate(now).map_err(ApiError::invalid)?;
    principal.require_channel(&order.channel)?;
    let outcome =
        iom_app::orders::capture(&state.store, order, idempotency, Box::new(render_create)).await?;
    let (status, text) = match &outcome {
        CreateOutcome::Replayed { status, body } => (*status, body.clone()),
        CreateOutcome::KeyReused => {
            return Err(ApiError::invalid_field(
                "Idempotency-Key",
                "this key was used before with a different request",
            ));
        }
        other => render_create(other),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, text).into_response();
    let content_type = if status.is_success() {
        "application/json"
    } else {
        PROBLEM_JSON
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let CreateOutcome::Created(order) = &outcome
        && let Ok(location) = HeaderValue::from_str(&format!("/api/v1/orders/{}", order.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The response an outcome gets; stored with an idempotency key so that a retry gets it again.
fn render_create(outcome: &CreateOutcome) -> (u16, String) {
    match outcome {
        CreateOutcome::Created(order) => (201, serde_json::to_string(order).unwrap_or_default()),
        CreateOutcome::Duplicate { existing_id } => {
            let e = ApiError::conflict(format!(
                "an order with this channel and external_id exists: {existing_id}"
            ))
            .with("existing_id", existing_id);
            (e.status().as_u16(), e.body())
        }
        CreateOutcome::Replayed { status, body } => (*status, body.clone()),
        CreateOutcome::KeyReused => (422, String::new()),
    }
}

/// One order.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders",
    params(("id" = String, Path)),
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Order>> {
    principal.require(Access::Read)?;
    let id = parse_id(&id)?;
    Ok(Json(visible_order(&state, &principal, id).await?))
}

/// Orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders",
    params(ListQuery),
    responses((status = 200, body = OrderPage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<OrderPage>> {
    principal.require(Access::Read)?;
    let filter = order_filter(&principal, &query)?;
    let (sort, limit) = (filter.sort, filter.limit);
    let items = state.store.list_orders(filter).await?;
    let next_cursor = (items.len() == limit)
        .then(|| {
            items
                .last()
                .map(|o| cursor_after(sort, o.id, sort.column.key_of(o)))
        })
        .flatten();
    Ok(Json(OrderPage { items, next_cursor }))
}

/// Cancel the whole order; refused once any of it has shipped.
///
/// Money follows once the cancellation is committed, whether or not a flow run waits for it:
/// the uncaptured rest of the order's payment authorisation is let go (Stripe's cancel of the
/// PaymentIntent) and an uncommitted tax document voided, each once, as `payment.released` and
/// `tax.voided` announce.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders",
    params(("id" = String, Path)), request_body(content = CancelRequest, example = json!({"reason": "customer changed their mind"})),
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: ApiJson<CancelRequest>,
) -> ApiResult<Json<Order>> {
    principal.require(Access::CaptureOrders)?;
    let reason = reason_code(body.value.reason, "manual");
    act(&state, &principal, &id, OrderAction::Cancel { reason }).await
}

/// Cancel a line, or part of it.
#[utoipa::path(post, path = "/api/v1/orders/{id}/lines/{line_no}/cancel", tag = "orders",
    params(("id" = String, Path), ("line_no" = u32, Path)), request_body(content = CancelLineRequest, example = json!({"quantity": 1, "reason": "out of stock"})),
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cancel_line(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, line_no)): Path<(String, String)>,
    body: ApiJson<CancelLineRequest>,
) -> ApiResult<Json<Order>> {
    principal.require(Access::CaptureOrders)?;
    let line_no: u32 = line_no
        .parse()
        .map_err(|_| ApiError::not_found(format!("line {line_no} does not exist")))?;
    let quantity = match body.value.quantity {
        None => None,
        Some(q) if q >= 1 && q <= i64::from(u32::MAX) => Some(q as u32),
        Some(_) => return Err(ApiError::invalid_field("quantity", "must be at least 1")),
    };
    let reason = reason_code(body.value.reason, "manual");
    let order_id = parse_id(&id)?;
    let order = state
        .store
        .get_order(order_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("order {order_id} does not exist")))?;
    if order.line(line_no).is_none() {
        return Err(ApiError::not_found(format!(
            "order {order_id} has no line {line_no}"
        )));
    }
    act(
        &state,
        &principal,
        &id,
        OrderAction::CancelLine {
            line_no,
            quantity,
            reason,
        },
    )
    .await
}

/// Put the order on hold.
#[utoipa::path(post, path = "/api/v1/orders/{id}/hold", tag = "orders",
    params(("id" = String, Path)), request_body(content = HoldRequest, example = json!({"reason": "credit"})),
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn hold(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: ApiJson<HoldRequest>,
) -> ApiResult<Json<Order>> {
    principal.require(Access::OperateOrders)?;
    let HoldRequest { reason, code } = body.value;
    let code = match code.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) {
        Some(code) => code,
        None => reason_code(reason.clone(), "manual"),
    };
    act(
        &state,
        &principal,
        &id,
        OrderAction::Hold { code, note: reason },
    )
    .await
}

/// Release the order's holds.
#[utoipa::path(post, path = "/api/v1/orders/{id}/release", tag = "orders",
    params(("id" = String, Path)), request_body(content = ReleaseRequest, example = json!({"code": "credit"})),
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn release(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: ApiJson<ReleaseRequest>,
) -> ApiResult<Json<Order>> {
    principal.require(Access::OperateOrders)?;
    let code = body.value.code.filter(|c| !c.trim().is_empty());
    act(&state, &principal, &id, OrderAction::Release { code }).await
}

/// Record a shipment from a node.
#[utoipa::path(post, path = "/api/v1/orders/{id}/shipments", tag = "orders",
    params(("id" = String, Path)), request_body(content = ShipmentRequest, example = json!({"node": "DC-EAST", "lines": [{"line_no": 1, "quantity": 2}], "carrier": "UPS", "tracking": "1Z999AA10123456784"})),
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn ship(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: ApiJson<ShipmentRequest>,
) -> ApiResult<Json<Order>> {
    principal.require(Access::CaptureOrders)?;
    let request = body.value;
    act(&state, &principal, &id, OrderAction::Ship(request)).await
}

/// Record a delivery.
#[utoipa::path(post, path = "/api/v1/orders/{id}/deliveries", tag = "orders",
    params(("id" = String, Path)), request_body(content = DeliveryRequest, example = json!({"lines": [{"line_no": 1, "quantity": 2}]})),
    responses((status = 200, body = Order), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn deliver(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: ApiJson<DeliveryRequest>,
) -> ApiResult<Json<Order>> {
    principal.require(Access::CaptureOrders)?;
    let lines = body.value.lines;
    act(&state, &principal, &id, OrderAction::Deliver(lines)).await
}

/// Every business event of this order and every step of its flow runs, oldest first.
#[utoipa::path(get, path = "/api/v1/orders/{id}/timeline", tag = "orders",
    params(("id" = String, Path)),
    responses((status = 200, body = Timeline), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn timeline(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Timeline>> {
    principal.require(Access::Read)?;
    let order_id = parse_id(&id)?;
    visible_order(&state, &principal, order_id).await?;
    let events = state.store.subject_events(order_id.to_string()).await?;
    let mut items: Vec<TimelineEntry> = events.into_iter().map(entry).collect();
    for (run, steps) in state.store.order_runs(order_id.to_string()).await? {
        for s in steps {
            let duration_ms = s
                .finished_at
                .map(|f| (f - s.started_at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
            items.push(TimelineEntry {
                at: s.started_at,
                kind: "step",
                event_type: s.step.clone(),
                seq: run.trigger_seq,
                data: serde_json::json!({
                    "run_id": run.id, "flow": run.flow, "version": run.version,
                    "step": s.step, "uses": s.uses, "attempt": s.attempt, "status": s.status,
                    "outcome": s.outcome, "error": s.error, "finished_at": s.finished_at,
                    "duration_ms": duration_ms,
                }),
                actor: Some(iom_domain::Actor::flow(run.flow.clone())),
            });
        }
    }
    // Oldest first; an event and a step at the same moment keep the event first.
    items.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then((a.kind == "step").cmp(&(b.kind == "step")))
    });
    Ok(Json(Timeline {
        items,
        next_cursor: None,
    }))
}

fn entry(event: Event) -> TimelineEntry {
    TimelineEntry {
        at: event.at,
        kind: "event",
        event_type: event.kind,
        seq: event.seq,
        data: event.data,
        actor: event.actor,
    }
}

pub(crate) async fn act(
    state: &AppState,
    principal: &Principal,
    id: &str,
    action: OrderAction,
) -> ApiResult<Json<Order>> {
    let id = parse_id(id)?;
    if principal.limits.is_some() {
        // An order's channel never changes, so it may be checked before the action.
        visible_order(state, principal, id).await?;
    }
    Ok(Json(iom_app::orders::act(&state.store, id, action).await?))
}

/// The order, when it exists and the caller may see its channel: a token limited to other
/// channels is told it does not exist, as for any id it may not know.
pub async fn visible_order(
    state: &AppState,
    principal: &Principal,
    id: OrderId,
) -> ApiResult<Order> {
    iom_app::orders::get(&state.store, id)
        .await?
        .filter(|order| principal.sees_channel(&order.channel))
        .ok_or_else(|| ApiError::not_found(format!("order {id} does not exist")))
}

pub(crate) fn parse_id(id: &str) -> ApiResult<OrderId> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("order {id} does not exist")))
}

/// A reason that looks like a code (`credit`, `customer_request`) is used as the status reason;
/// free text is kept as the note and the status reason falls back to `default`.
pub(crate) fn reason_code(reason: Option<String>, default: &str) -> String {
    match reason.as_deref().map(str::trim) {
        Some(r)
            if !r.is_empty()
                && r.len() <= 64
                && r.starts_with(|c: char| c.is_ascii_lowercase())
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
        {
            r.to_owned()
        }
        _ => default.to_owned(),
    }
}
