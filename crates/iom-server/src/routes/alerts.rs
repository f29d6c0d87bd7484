//! `/api/v1/alerts`: alert definitions and their firings. The evaluator (`iom_app::insights`)
//! checks every enabled alert in the background; each subject fires once, as an `alert.fired`
//! business event committed with the firing.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iom_insights::AlertDefinition;
use iom_insights::alert::{AlertCondition, valid_name};
use iom_store::insights::{Acknowledgement, AlertRecord, Firing};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiJson;
use crate::routes::insights::insights_error;

#[derive(Serialize, ToSchema)]
pub struct AlertView {
    pub name: String,
    pub condition: AlertCondition,
    #[schema(value_type = Object)]
    pub notify: Map<String, Value>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<AlertRecord> for AlertView {
    fn from(a: AlertRecord) -> Self {
        AlertView {
            name: a.name,
            condition: a.definition.condition,
            notify: a.definition.notify,
            enabled: a.definition.enabled,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AlertList {
    pub items: Vec<AlertView>,
    /// Always null: the list is complete.
    pub next_cursor: Option<String>,
}

/// One firing: an alert's condition met by one subject.
#[derive(Serialize, ToSchema)]
pub struct FiringView {
    pub id: String,
    pub alert: String,
    /// An order id, or `SKU@NODE` for inventory.
    pub subject: String,
    pub fired_at: DateTime<Utc>,
    /// What the subject looked like when it fired (also the `details` of its event).
    #[schema(value_type = Object)]
    pub data: Value,
    /// When it was acknowledged; null while it is open.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it (`user:ann@example.com`, `token:ops`).
    pub acknowledged_by: Option<String>,
}

impl From<Firing> for FiringView {
    fn from(f: Firing) -> Self {
        FiringView {
            id: f.id,
            alert: f.alert,
            subject: f.subject,
            fired_at: f.fired_at,
            data: f.data,
            acknowledged_at: f.acknowledged_at,
            acknowledged_by: f.acknowledged_by,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FiringPage {
    pub items: Vec<FiringView>,
    /// The `cursor` for the next (older) page, or null on the last.
    pub next_cursor: Option<String>,
}

/// The body of `PUT /alerts/{name}`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct AlertPut {
    pub condition: AlertCondition,
    /// Free-form routing copied into each `alert.fired` event (`{"email":"ops@example.com"}`).
    #[schema(value_type = Object)]
    pub notify: Option<Map<String, Value>>,
    /// true when absent.
    pub enabled: Option<bool>,
}

/// Create or replace an alert.
///
/// Conditions: `{"type":"order_not_released","hours":N}` (not released N hours after intake),
/// `{"type":"order_not_shipped","hours":N}` (not shipped N hours before the requested delivery
/// date), `{"type":"inventory_below","threshold":T,"sku"?,"node"?}` (available units of a SKU at
/// a node below T), `{"type":"shipment_exception"}` (the carrier reported an exception for a
/// shipment not delivered since). Each subject (order, SKU at a node, shipment) fires once per
/// alert.
#[utoipa::path(put, path = "/api/v1/alerts/{name}", tag = "alerts",
    params(("name" = String, Path)), request_body(content = AlertPut, example = json!({"condition": {"type": "order_not_released", "hours": 4}, "notify": {"email": "ops@example.com"}})),
    responses((status = 200, body = AlertView), (status = 201, body = AlertView),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    body: ApiJson<Value>,
) -> ApiResult<Response> {
    principal.require(Access::Configure)?;
    let parsed = AlertDefinition::parse(&body.value);
    if !valid_name(&name) {
        let mut errors = vec![iom_domain::FieldError::new(
            "name",
            "1 to 64 letters, digits, '-', '_' or '.'",
        )];
        if let Err(iom_insights::InsightsError::Invalid(more)) = parsed {
            errors.extend(more);
        }
        return Err(ApiError::invalid(errors));
    }
    let definition = parsed.map_err(insights_error)?;
    let created = state.store.put_alert(name.clone(), definition).await?;
    let stored = state
        .store
        .get_alert(name)
        .await?
        .ok_or_else(|| ApiError::internal("alert vanished after PUT"))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(AlertView::from(stored))).into_response())
}

/// One alert.
#[utoipa::path(get, path = "/api/v1/alerts/{name}", tag = "alerts",
    params(("name" = String, Path)),
    responses((status = 200, body = AlertView),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<AlertView>> {
    principal.require(Access::Read)?;
    let alert = state
        .store
        .get_alert(name.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("alert {name} does not exist")))?;
    Ok(Json(alert.into()))
}

/// Every alert, by name.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts",
    responses((status = 200, body = AlertList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<AlertList>> {
    principal.require(Access::Read)?;
    Ok(Json(AlertList {
        items: state
            .store
            .list_alerts()
            .await?
            .into_iter()
            .map(AlertView::from)
            .collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct FiringQuery {
    /// 1 to 500; 100 when absent.
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Firings of an alert, newest first.
#[utoipa::path(get, path = "/api/v1/alerts/{name}/firings", tag = "alerts",
    params(("name" = String, Path), FiringQuery),
    responses((status = 200, body = FiringPage),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn firings(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    Query(query): Query<FiringQuery>,
) -> ApiResult<Json<FiringPage>> {
    principal.require(Access::Read)?;
    let limit = match query.limit.as_deref() {
        None | Some("") => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| ApiError::invalid_field("limit", "must be between 1 and 500"))?,
    };
    if state.store.get_alert(name.clone()).await?.is_none() {
        return Err(ApiError::not_found(format!("alert {name} does not exist")));
    }
    let items = state
        .store
        .alert_firings(name, query.cursor.filter(|c| !c.is_empty()), limit)
        .await?;
    let next_cursor = (items.len() == limit)
        .then(|| items.last().map(|f| f.id.clone()))
        .flatten();
    Ok(Json(FiringPage {
        items: items.into_iter().map(FiringView::from).collect(),
        next_cursor,
    }))
}

/// Acknowledge a firing: someone has seen it and takes care of it. Records who and when, and
/// announces it as an `alert.acknowledged` event. A firing acknowledged before is answered as it
/// is, keeping its first acknowledgement.
#[utoipa::path(post, path = "/api/v1/alerts/{name}/firings/{id}/acknowledge", tag = "alerts",
    params(("name" = String, Path), ("id" = String, Path, description = "The firing's id")),
    responses((status = 200, body = FiringView),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn acknowledge(
    State(state): State<AppState>,
    principal: Principal,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<FiringView>> {
    principal.require(Access::Operate)?;
    match iom_app::insights::acknowledge(&state.store, &name, &id).await? {
        Acknowledgement::Acknowledged(f) | Acknowledgement::Already(f) => Ok(Json(f.into())),
        Acknowledgement::NotFound => Err(ApiError::not_found(format!(
            "alert {name} has no firing {id}"
        ))),
    }
}
