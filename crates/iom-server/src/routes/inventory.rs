//! `/api/v1/inventory`: on-hand changes, availability, reservations, allocations, scheduled supply
//! and demand, available-to-promise.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Utc};
use iom_app::inventory::{AttributeGroup, ChangeOutcome, ReserveRequest, SkuView};
use iom_domain::FieldError;
use iom_inventory::{AtpDay, request};
use iom_store::inventory::{AllocationRow, Balance, ReservationRow, ScheduledRow, SkuRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, CheckedJson};

const MAX_SKUS: usize = 1_000;
const MAX_NODES: usize = 100;
const MAX_ATP_DAYS: u32 = 180;

#[derive(Deserialize, ToSchema)]
pub struct ChangeBatch {
    /// Up to 1,000 changes `{"id","sku","node","kind":"delta"|"set","quantity","reason"?,"source"?}`,
    /// applied atomically.
    #[schema(value_type = Vec<Object>)]
    pub changes: Option<Vec<Value>>,
}

/// Apply on-hand changes: all or nothing; a change id seen before is skipped and counted.
#[utoipa::path(post, path = "/api/v1/inventory/changes", tag = "inventory", request_body(content = ChangeBatch, example = json!({"changes": [{"id": "count-2026-12-01-1", "sku": "SKU-1", "node": "DC-EAST", "kind": "set", "quantity": 120, "reason": "cycle count"}, {"id": "damage-77", "sku": "SKU-2", "node": "DC-EAST", "kind": "delta", "quantity": -1, "reason": "damaged"}]})),
    responses((status = 200, body = ChangeOutcome, description = "`applied`, `duplicates` and the balances after"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn changes(
    State(state): State<AppState>,
    principal: Principal,
    body: ApiJson<ChangeBatch>,
) -> ApiResult<Json<ChangeOutcome>> {
    principal.require(Access::Capture)?;
    principal.require_unlimited("stock")?;
    let entries = body
        .value
        .changes
        .ok_or_else(|| ApiError::invalid_field("changes", "is required"))?;
    Ok(Json(state.inventory.apply_change_entries(entries).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct ViewQuery {
    /// Comma-separated SKUs (for the list form), at most 1,000.
    pub skus: Option<String>,
    /// Comma-separated node codes, at most 100; all nodes when absent.
    pub nodes: Option<String>,
    /// Show availability for this channel: its allocations count as available.
    pub channel: Option<String>,
    /// Show availability for this customer group: its allocations count as available.
    pub customer_group: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SkuViews {
    pub items: Vec<SkuView>,
    pub next_cursor: Option<String>,
}

fn list(text: Option<&str>) -> Vec<String> {
    let mut items: Vec<String> = text
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    items.dedup();
    items
}

fn group(query: &ViewQuery) -> Option<(String, String)> {
    match (&query.channel, &query.customer_group) {
        (Some(c), _) => Some(("channel".into(), c.clone())),
        (None, Some(g)) => Some(("customer_group".into(), g.clone())),
        _ => None,
    }
}

/// One SKU across nodes: on-hand, reserved, available, per node and in total.
#[utoipa::path(get, path = "/api/v1/inventory/{sku}", tag = "inventory", params(("sku" = String, Path), ViewQuery),
    responses((status = 200, body = SkuView, description = "On-hand, reserved and available in total, per node and per node kind")),
    security(("bearer" = [])))]
pub async fn sku(
    State(state): State<AppState>,
    principal: Principal,
    Path(sku): Path<String>,
    Query(query): Query<ViewQuery>,
) -> ApiResult<Json<SkuView>> {
    principal.require(Access::Read)?;
    let nodes = list(query.nodes.as_deref());
    let view = state
        .inventory
        .view(vec![sku], nodes, group(&query))
        .await?;
    Ok(Json(view.into_iter().next().expect("one view per SKU")))
}

/// Many SKUs at once: up to 1,000 SKUs × 100 nodes.
#[utoipa::path(get, path = "/api/v1/inventory", tag = "inventory", params(ViewQuery),
    responses((status = 200, body = SkuViews), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn many(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ViewQuery>,
) -> ApiResult<Json<SkuViews>> {
    principal.require(Access::Read)?;
    let skus = list(query.skus.as_deref());
    let nodes = list(query.nodes.as_deref());
    let mut errors = Vec::new();
    if skus.is_empty() || skus.len() > MAX_SKUS {
        errors.push(FieldError::new(
            "skus",
            format!("give 1 to {MAX_SKUS} SKUs"),
        ));
    }
    if nodes.len() > MAX_NODES {
        errors.push(FieldError::new(
            "nodes",
            format!("give at most {MAX_NODES} nodes"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let items = state.inventory.view(skus, nodes, group(&query)).await?;
    Ok(Json(SkuViews {
        items,
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct ReservationRequest {
    pub sku: Option<String>,
    pub node: Option<String>,
    pub quantity: Option<i64>,
    /// Who the stock is held for (an order number, a cart, …).
    pub reference: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<FixedOffset>>,
    pub order_id: Option<String>,
    pub line_no: Option<i64>,
    /// Draw first on this channel's allocation.
    pub channel: Option<String>,
    /// Draw first on this customer group's allocation.
    pub customer_group: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReservationView {
    pub id: String,
    pub sku: String,
    pub node: String,
    pub quantity: i64,
    pub reference: Option<String>,
    pub order_id: Option<String>,
    pub line_no: Option<i64>,
    pub status: String,
    pub from_allocation: i64,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<ReservationRow> for ReservationView {
    fn from(r: ReservationRow) -> Self {
        Self {
            id: r.id,
            sku: r.sku,
            node: r.node,
            quantity: r.quantity,
            reference: r.reference,
            order_id: r.order_id,
            line_no: r.line_no,
            status: r.status,
            from_allocation: r.from_allocation,
            expires_at: r.expires_at,
            created_at: r.created_at,
        }
    }
}

fn required(value: Option<String>, field: &str, errors: &mut Vec<FieldError>) -> String {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) => v,
        None => {
            errors.push(FieldError::new(field, "is required"));
            String::new()
        }
    }
}

fn quantity(value: Option<i64>, field: &str, min: i64, errors: &mut Vec<FieldError>) -> i64 {
    match value {
        Some(q) if q >= min => q,
        Some(_) => {
            errors.push(FieldError::new(field, format!("must be at least {min}")));
            0
        }
        None => {
            errors.push(FieldError::new(field, "is required"));
            0
        }
    }
}

/// Hold stock; 409 when available would fall below zero.
#[utoipa::path(post, path = "/api/v1/inventory/reservations", tag = "inventory", request_body(content = ReservationRequest, example = json!({"sku": "SKU-1", "node": "DC-EAST", "quantity": 2, "reference": "cart-42", "expires_at": "2030-01-01T00:00:00Z"})),
    responses((status = 201, body = ReservationView), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reserve(
    State(state): State<AppState>,
    principal: Principal,
    body: ApiJson<ReservationRequest>,
) -> ApiResult<Response> {
    principal.require(Access::Capture)?;
    principal.require_unlimited("stock")?;
    let mut errors = Vec::new();
    let request = reserve_request(body.value, "", &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let reservation = state.inventory.reserve(request).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReservationView::from(reservation)),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct ReservationBatch {
    pub reservations: Option<Vec<ReservationRequest>>,
}

#[derive(Serialize, ToSchema)]
pub struct ReservationList {
    pub items: Vec<ReservationView>,
    pub next_cursor: Option<String>,
}

fn reserve_request(
    r: ReservationRequest,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> ReserveRequest {
    let sku = required(r.sku, &format!("{path}sku"), errors);
    let node = required(r.node, &format!("{path}node"), errors);
    let quantity = quantity(r.quantity, &format!("{path}quantity"), 1, errors);
    let expires_at = r.expires_at.map(|t| t.with_timezone(&Utc));
    if expires_at.is_some_and(|t| t <= Utc::now()) {
        errors.push(FieldError::new(
            format!("{path}expires_at"),
            "must be in the future",
        ));
    }
    let group = match (r.channel, r.customer_group) {
        (Some(c), _) => Some(("channel".to_owned(), c)),
        (None, Some(g)) => Some(("customer_group".to_owned(), g)),
        _ => None,
    };
    ReserveRequest {
        sku,
        node,
        quantity,
        reference: r.reference,
        order_id: r.order_id,
        line_no: r.line_no,
        expires_at,
        group,
    }
}

/// Every request of a batch, or every entry's errors at its path (`reservations[2].quantity`).
fn reserve_requests(batch: ReservationBatch) -> Result<Vec<ReserveRequest>, Vec<FieldError>> {
    let requests = batch.reservations.unwrap_or_default();
    let mut errors = Vec::new();
    if requests.is_empty() || requests.len() > request::MAX_BATCH {
        errors.push(FieldError::new(
            "reservations",
            format!("give 1 to {} reservations", request::MAX_BATCH),
        ));
    }
    let requests: Vec<ReserveRequest> = requests
        .into_iter()
        .enumerate()
        .map(|(i, r)| reserve_request(r, &format!("reservations[{i}]."), &mut errors))
        .collect();
    if errors.is_empty() {
        Ok(requests)
    } else {
        Err(errors)
    }
}

/// Hold stock for several lines at once, all or nothing (e.g. every line of an order); 409 names
/// each line that does not fit, and then none is held.
#[utoipa::path(post, path = "/api/v1/inventory/reservations/batch", tag = "inventory", request_body(content = ReservationBatch, example = json!({"reservations": [{"sku": "SKU-1", "node": "DC-EAST", "quantity": 2, "reference": "cart-42"}, {"sku": "SKU-2", "node": "DC-EAST", "quantity": 1, "reference": "cart-42"}]})),
    responses((status = 201, body = ReservationList), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reserve_batch(
    State(state): State<AppState>,
    principal: Principal,
    body: CheckedJson<ReservationBatch>,
) -> ApiResult<Response> {
    principal.require(Access::Capture)?;
    principal.require_unlimited("stock")?;
    let batch = body.check(|batch| reserve_requests(batch).err().unwrap_or_default())?;
    let requests = reserve_requests(batch).map_err(ApiError::invalid)?;
    let made = state.inventory.reserve_all(requests).await?;
    let items = made.into_iter().map(ReservationView::from).collect();
    Ok((
        StatusCode::CREATED,
        Json(ReservationList {
            items,
            next_cursor: None,
        }),
    )
        .into_response())
}

/// One reservation.
#[utoipa::path(get, path = "/api/v1/inventory/reservations/{id}", tag = "inventory", params(("id" = String, Path)),
    responses((status = 200, body = ReservationView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reservation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ReservationView>> {
    principal.require(Access::Read)?;
    let r = state
        .inventory
        .reservation(id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("reservation {id} does not exist")))?;
    Ok(Json(r.into()))
}

/// Release a reservation (again: no effect). A reservation that holds stock for an iom order is
/// released only through the order (cancelling it or its line): 409.
#[utoipa::path(delete, path = "/api/v1/inventory/reservations/{id}", tag = "inventory", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn release(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require(Access::Capture)?;
    principal.require_unlimited("stock")?;
    state.inventory.release(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct ScheduleRequest {
    /// Makes the request idempotent: the same id again changes nothing.
    pub id: Option<String>,
    pub sku: Option<String>,
    pub node: Option<String>,
    pub quantity: Option<i64>,
    /// When the receipt is expected (supply).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expected_at: Option<DateTime<FixedOffset>>,
    /// When the demand is due (demand).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<DateTime<FixedOffset>>,
    /// Supply: `purchase_order` (default), `transfer` or `asn`.
    pub kind: Option<String>,
    /// Demand: what it is for.
    pub reference: Option<String>,
}

fn scheduled(r: ScheduleRequest, supply: bool) -> ApiResult<ScheduledRow> {
    let mut errors = Vec::new();
    let id = required(r.id, "id", &mut errors);
    let sku = required(r.sku, "sku", &mut errors);
    let node = required(r.node, "node", &mut errors);
    let quantity = quantity(r.quantity, "quantity", 1, &mut errors);
    let (field, at) = if supply {
        ("expected_at", r.expected_at)
    } else {
        ("due_at", r.due_at)
    };
    if at.is_none() {
        errors.push(FieldError::new(field, "is required"));
    }
    let kind = if supply {
        let kind = r.kind.unwrap_or_else(|| "purchase_order".into());
        if !matches!(kind.as_str(), "purchase_order" | "transfer" | "asn") {
            errors.push(FieldError::new(
                "kind",
                "must be purchase_order, transfer or asn",
            ));
        }
        kind
    } else {
        r.reference.unwrap_or_default()
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    Ok(ScheduledRow {
        id,
        sku,
        node,
        quantity,
        kind,
        at: at.expect("checked").with_timezone(&Utc),
    })
}

/// Schedule a receipt (purchase order, transfer, advance ship notice).
#[utoipa::path(post, path = "/api/v1/inventory/supply", tag = "inventory", request_body = ScheduleRequest,
    responses((status = 201, description = "Scheduled"), (status = 200, description = "Already scheduled under this id"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn supply(
    State(state): State<AppState>,
    principal: Principal,
    body: ApiJson<ScheduleRequest>,
) -> ApiResult<Response> {
    principal.require(Access::Capture)?;
    principal.require_unlimited("stock")?;
    let row = scheduled(body.value, true)?;
    let new = state.inventory.add_supply(row.clone()).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(row)).into_response())
}

/// Schedule demand (e.g. a future order not yet reserved).
#[utoipa::path(post, path = "/api/v1/inventory/demand", tag = "inventory", request_body = ScheduleRequest,
    responses((status = 201, description = "Scheduled"), (status = 200, description = "Already scheduled under this id"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn demand(
    State(state): State<AppState>,
    principal: Principal,
    body: ApiJson<ScheduleRequest>,
) -> ApiResult<Response> {
    principal.require(Access::Capture)?;
    principal.require_unlimited("stock")?;
    let row = scheduled(body.value, false)?;
    let new = state.inventory.add_demand(row.clone()).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(row)).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct AtpQuery {
    /// One node; all nodes when absent.
    pub node: Option<String>,
    /// 1 to 180; 30 when absent.
    pub days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct AtpItem {
    #[schema(value_type = String, format = Date)]
    pub date: chrono::NaiveDate,
    pub supply: i64,
    pub demand: i64,
    pub projected: i64,
    pub atp: i64,
}

/// Available-to-promise per day: `projected = available now + supply − demand so far`, and `atp` is
/// the lowest projection from that day on (what can be promised without breaking a later commitment).
#[utoipa::path(get, path = "/api/v1/inventory/{sku}/atp", tag = "inventory", params(("sku" = String, Path), AtpQuery),
    responses((status = 200, body = Vec<AtpItem>), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn atp(
    State(state): State<AppState>,
    principal: Principal,
    Path(sku): Path<String>,
    Query(query): Query<AtpQuery>,
) -> ApiResult<Json<Vec<AtpItem>>> {
    principal.require(Access::Read)?;
    let days = query.days.unwrap_or(30);
    if !(1..=MAX_ATP_DAYS).contains(&days) {
        return Err(ApiError::invalid_field(
            "days",
            format!("must be between 1 and {MAX_ATP_DAYS}"),
        ));
    }
    let node = query.node.filter(|n| !n.is_empty());
    let days: Vec<AtpDay> = state.inventory.atp(sku, node, days, Utc::now()).await?;
    Ok(Json(
        days.into_iter()
            .map(|d| AtpItem {
                date: d.date,
                supply: d.supply,
                demand: d.demand,
                projected: d.projected,
                atp: d.atp,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct SafetyStockRequest {
    /// Units held back for this SKU at this node; null returns to the node's own safety stock.
    pub quantity: Option<i64>,
}

/// Set the safety stock of one SKU at one node.
#[utoipa::path(put, path = "/api/v1/inventory/{sku}/nodes/{node}/safety-stock", tag = "inventory",
    params(("sku" = String, Path), ("node" = String, Path)), request_body = SafetyStockRequest,
    responses((status = 200, description = "The balance after"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn safety_stock(
    State(state): State<AppState>,
    principal: Principal,
    Path((sku, node)): Path<(String, String)>,
    body: ApiJson<SafetyStockRequest>,
) -> ApiResult<Json<Balance>> {
    principal.require(Access::Operate)?;
    principal.require_unlimited("stock")?;
    if body.value.quantity.is_some_and(|q| q < 0) {
        return Err(ApiError::invalid_field("quantity", "must not be negative"));
    }
    Ok(Json(
        state
            .inventory
            .set_safety_stock(sku, node, body.value.quantity)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct GroupRef {
    /// `channel` or `customer_group`.
    pub kind: Option<String>,
    pub value: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct AllocationRequest {
    pub sku: Option<String>,
    pub node: Option<String>,
    pub group: Option<GroupRef>,
    pub quantity: Option<i64>,
}

/// Set aside stock for a channel or customer group (ring-fencing); only its orders can use it.
#[utoipa::path(put, path = "/api/v1/inventory/allocations/{id}", tag = "inventory",
    params(("id" = String, Path)), request_body = AllocationRequest,
    responses((status = 200, description = "The allocation"), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn allocation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: ApiJson<AllocationRequest>,
) -> ApiResult<Json<AllocationRow>> {
    principal.require(Access::Operate)?;
    principal.require_unlimited("stock")?;
    let r = body.value;
    let mut errors = Vec::new();
    let sku = required(r.sku, "sku", &mut errors);
    let node = required(r.node, "node", &mut errors);
    let quantity = quantity(r.quantity, "quantity", 0, &mut errors);
    let group = r.group.unwrap_or(GroupRef {
        kind: None,
        value: None,
    });
    let group_kind = required(group.kind, "group.kind", &mut errors);
    let group_value = required(group.value, "group.value", &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let row = AllocationRow {
        id,
        sku,
        node,
        group_kind,
        group_value,
        quantity,
        consumed: 0,
    };
    Ok(Json(state.inventory.put_allocation(row).await?))
}

/// Remove an allocation; what it still set aside becomes available to everyone.
#[utoipa::path(delete, path = "/api/v1/inventory/allocations/{id}", tag = "inventory",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete_allocation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require(Access::Operate)?;
    principal.require_unlimited("stock")?;
    state.inventory.delete_allocation(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
pub struct ReservationQuery {
    /// The order whose active reservations to list.
    pub order_id: String,
}

/// The active reservations of an order.
#[utoipa::path(get, path = "/api/v1/inventory/reservations", tag = "inventory", params(ReservationQuery),
    responses((status = 200, body = ReservationList)),
    security(("bearer" = [])))]
pub async fn reservations(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ReservationQuery>,
) -> ApiResult<Json<ReservationList>> {
    principal.require(Access::Read)?;
    let items = state.inventory.order_reservations(query.order_id).await?;
    Ok(Json(ReservationList {
        items: items.into_iter().map(ReservationView::from).collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct SkuRequest {
    /// Product attributes, e.g. `{"style":"TEE","colour":"red","size":"M"}`.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    /// `inventory.low` is announced when total available falls below this.
    pub low_threshold: Option<i64>,
}

/// Describe a product: attributes and low-stock threshold.
#[utoipa::path(put, path = "/api/v1/skus/{sku}", tag = "inventory", params(("sku" = String, Path)), request_body = SkuRequest,
    responses((status = 204), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_sku(
    State(state): State<AppState>,
    principal: Principal,
    Path(sku): Path<String>,
    body: ApiJson<SkuRequest>,
) -> ApiResult<StatusCode> {
    principal.require(Access::Configure)?;
    if body.value.low_threshold.is_some_and(|t| t < 0) {
        return Err(ApiError::invalid_field(
            "low_threshold",
            "must not be negative",
        ));
    }
    state
        .inventory
        .put_sku(SkuRow {
            sku,
            attributes: body.value.attributes.unwrap_or_default(),
            low_threshold: body.value.low_threshold,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
pub struct GroupQuery {
    /// The product attribute to group by, e.g. `colour`.
    pub attribute: String,
}

/// Availability grouped by a product attribute.
#[utoipa::path(get, path = "/api/v1/inventory/groups", tag = "inventory", params(GroupQuery),
    responses((status = 200, body = Vec<AttributeGroup>, description = "One entry per value of the attribute")),
    security(("bearer" = [])))]
pub async fn groups(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<GroupQuery>,
) -> ApiResult<Json<Vec<AttributeGroup>>> {
    principal.require(Access::Read)?;
    Ok(Json(state.inventory.by_attribute(query.attribute).await?))
}
