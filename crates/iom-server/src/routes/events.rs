//! `GET /api/v1/events`: business events in commit order, for consumers that poll.

use axum::Json;
use axum::extract::{Query, State};
use iom_domain::Actor;
use iom_store::Event;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};

#[derive(Deserialize, IntoParams)]
pub struct EventQuery {
    /// Only events with a greater `seq` (0 or absent: from the start).
    pub after: Option<i64>,
    /// Types or prefixes, comma-separated: `order.*,inventory.changed`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub types: Option<String>,
    /// 1 to 1000; 100 when absent.
    pub limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    pub at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Who did it (none on events recorded before actors were).
    pub actor: Option<Actor>,
}

#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<EventView>,
    /// The `seq` to pass as `after` for the next page: the last one returned, or `after` itself when
    /// nothing is new.
    pub next_cursor: String,
}

/// Business events in commit order. An event never appears behind one already returned.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventQuery),
    responses((status = 200, body = EventPage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<EventQuery>,
) -> ApiResult<Json<EventPage>> {
    principal.require(Access::Read)?;
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid_field("after", "must not be negative"));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 1000",
        ));
    }
    let events = state.store.events_after(after, query.types, limit).await?;
    let next = events.last().map_or(after, |e| e.seq);
    Ok(Json(EventPage {
        items: events.into_iter().map(view).collect(),
        next_cursor: next.to_string(),
    }))
}

pub fn view(e: Event) -> EventView {
    EventView {
        seq: e.seq,
        kind: e.kind,
        subject: e.subject,
        at: e.at,
        data: e.data,
        actor: e.actor,
    }
}
