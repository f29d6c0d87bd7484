//! `/api/v1/subscriptions`: webhooks that receive business events (see `pipeline::delivery`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iom_store::providers::{SubscriptionRecord, subscription_consumer};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiJson;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionPut {
    /// Where each event is posted.
    pub url: String,
    /// Event types or prefixes ending in `*`: `["order.*", "inventory.changed"]`.
    pub types: Vec<String>,
    /// Signs each body: `X-IOM-Signature: sha256=HEX`. Required for a new subscription; left out
    /// when replacing one, the stored secret is kept.
    pub secret: Option<String>,
    /// A new subscription starts after this event sequence number; by default after the last
    /// event committed, so it receives what happens from now on.
    pub after: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionView {
    pub name: String,
    pub url: String,
    pub types: Vec<String>,
    /// The last event delivered.
    pub cursor: i64,
    /// Events of any type committed after the cursor (an upper bound of what is pending).
    pub lag: i64,
    pub delivered: i64,
    /// Failed attempts since the last success.
    pub attempts: i64,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    pub items: Vec<SubscriptionView>,
    pub next_cursor: Option<String>,
}

async fn view(state: &AppState, s: SubscriptionRecord) -> ApiResult<SubscriptionView> {
    let cursor = state
        .store
        .read_cursor(subscription_consumer(&s.name))
        .await?;
    let last = state.store.last_event_seq().await?;
    let (position, delivered, attempts, last_error, last_attempt_at, last_success_at) = match cursor
    {
        Some(c) => (
            c.cursor,
            c.delivered,
            c.attempts,
            c.last_error,
            c.last_attempt_at,
            c.last_success_at,
        ),
        None => (0, 0, 0, None, None, None),
    };
    Ok(SubscriptionView {
        name: s.name,
        url: s.url,
        types: s.types,
        cursor: position,
        lag: (last - position).max(0),
        delivered,
        attempts,
        last_error,
        last_attempt_at,
        last_success_at,
        created_at: s.created_at,
        updated_at: s.updated_at,
    })
}

/// Create or replace a subscription (a replaced one keeps its cursor).
#[utoipa::path(put, path = "/api/v1/subscriptions/{name}", tag = "subscriptions",
    params(("name" = String, Path)), request_body(content = SubscriptionPut, example = json!({"url": "https://example.com/hooks/iom", "types": ["order.*"], "secret": "a-long-shared-secret"})),
    responses((status = 200, body = SubscriptionView), (status = 201, body = SubscriptionView),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    body: ApiJson<SubscriptionPut>,
) -> ApiResult<Response> {
    principal.require(Access::Configure)?;
    let body = body.value;
    let mut errors = iom_app::pipeline::subscription::check(
        &name,
        &body.url,
        &body.types,
        body.secret.as_deref(),
    );
    let existing = match body.secret {
        Some(_) => None,
        None => state.store.get_subscription(name.clone()).await?,
    };
    if body.secret.is_none() && existing.is_none() {
        errors.push(iom_domain::FieldError::new(
            "secret",
            "is required for a new subscription",
        ));
    }
    if body.after.is_some_and(|a| a < 0) {
        errors.push(iom_domain::FieldError::new("after", "must not be negative"));
    }
    let Some(key) = &state.pipeline.key else {
        errors.push(iom_domain::FieldError::new(
            "secret",
            "secrets cannot be stored: set IOM_MASTER_KEY",
        ));
        return Err(ApiError::invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let start = match body.after {
        Some(a) => a,
        None => state.store.last_event_seq().await?,
    };
    let now = Utc::now();
    let created = state
        .store
        .put_subscription(
            SubscriptionRecord {
                name: name.clone(),
                url: body.url,
                types: body.types.iter().map(|t| t.trim().to_owned()).collect(),
                secret: match (&body.secret, existing) {
                    (Some(secret), _) => key.seal(secret.as_bytes(), &subscription_consumer(&name)),
                    (None, Some(kept)) => kept.secret,
                    (None, None) => {
                        return Err(ApiError::internal("a subscription without secret"));
                    }
                },
                created_at: now,
                updated_at: now,
            },
            start,
        )
        .await?;
    let stored = state
        .store
        .get_subscription(name)
        .await?
        .ok_or_else(|| ApiError::internal("subscription vanished after PUT"))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(&state, stored).await?)).into_response())
}

/// One subscription with its delivery state.
#[utoipa::path(get, path = "/api/v1/subscriptions/{name}", tag = "subscriptions",
    params(("name" = String, Path)),
    responses((status = 200, body = SubscriptionView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<SubscriptionView>> {
    principal.require(Access::Read)?;
    let s = state
        .store
        .get_subscription(name.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("subscription {name} does not exist")))?;
    Ok(Json(view(&state, s).await?))
}

/// Every subscription.
#[utoipa::path(get, path = "/api/v1/subscriptions", tag = "subscriptions",
    responses((status = 200, body = SubscriptionList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<SubscriptionList>> {
    principal.require(Access::Read)?;
    let mut items = Vec::new();
    for s in state.store.list_subscriptions().await? {
        items.push(view(&state, s).await?);
    }
    Ok(Json(SubscriptionList {
        items,
        next_cursor: None,
    }))
}
