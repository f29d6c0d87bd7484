//! `GET /api/v1/audit`: configuration changes, who made them, and the documents before and after.

use axum::Json;
use axum::extract::{Query, State};
use iom_domain::Actor;
use iom_store::audit::{AuditEntry, AuditQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};

#[derive(Deserialize, IntoParams)]
pub struct AuditParams {
    /// An actor's id (`ops@example.com`, a token's name), or `kind:id` (`token:deploy`).
    pub actor: Option<String>,
    /// A subject (`node:WH-EAST`, `flow:default`), or a prefix ending in `*` (`provider:*`).
    pub subject: Option<String>,
    /// The `next_cursor` of the page before (absent: from the first change).
    pub after: Option<String>,
    /// 1 to 1000; 100 when absent.
    pub limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditView {
    pub seq: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: Actor,
    pub subject: String,
    /// The document before the change; null when the object was created.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The document after the change; null when it was removed.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditView>,
    /// Pass as `after` for the next page (the last change returned, or `after` itself when there
    /// is nothing newer).
    pub next_cursor: String,
}

/// Configuration changes, oldest first: nodes, node groups, profiles, flows, policies, providers,
/// subscriptions, alerts, notification templates, the return policy and API tokens. Secrets
/// appear as fingerprints that change with them, never as values.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    principal.require(Access::Read)?;
    principal.require_unlimited("or read the configuration's history")?;
    let after = match params.after.as_deref().filter(|a| !a.is_empty()) {
        None => 0,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::invalid_field("after", "is not a cursor this list gave"))?,
    };
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 1000",
        ));
    }
    let entries = state
        .store
        .audit_entries(AuditQuery {
            actor: params.actor,
            subject: params.subject,
            after,
            limit,
        })
        .await?;
    let next = entries.last().map_or(after, |e| e.seq);
    Ok(Json(AuditPage {
        items: entries.into_iter().map(view).collect(),
        next_cursor: next.to_string(),
    }))
}

fn view(e: AuditEntry) -> AuditView {
    AuditView {
        seq: e.seq,
        at: e.at,
        actor: e.actor,
        subject: e.subject,
        before: e.before,
        after: e.after,
    }
}
