//! `/api/v1/policies`: filter and execution policies (CEL), stored as versions. The newest
//! version is in force for runs that start; a run keeps the versions it started with. Checked by
//! `iom-flow` (`Policy::parse`), stored through the executor like flows; `validate` runs the same
//! check and stores nothing (the web UI's editor checks with it as one types).

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use iom_store::policies::PolicyVersion;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::read_definition;

#[derive(Serialize, ToSchema)]
pub struct PolicySummary {
    pub name: String,
    /// `filter` or `execution`.
    pub kind: String,
    /// The version in force.
    pub latest_version: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyList {
    pub items: Vec<PolicySummary>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyDetail {
    pub name: String,
    pub kind: String,
    pub latest_version: i64,
    /// Every version, newest first, with its source.
    #[schema(value_type = Vec<Object>)]
    pub versions: Vec<PolicyVersion>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyVersionView {
    pub name: String,
    pub version: i64,
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

impl From<PolicyVersion> for PolicyVersionView {
    fn from(v: PolicyVersion) -> Self {
        PolicyVersionView {
            name: v.name,
            version: v.version,
            kind: v.kind,
            created_at: v.created_at,
        }
    }
}

/// Store a new version of a policy, YAML (`application/yaml`) or JSON. It is in force for runs
/// that start from now on. A `version` in the document, if any, must be the number this version
/// gets (409 otherwise), and a policy keeps its `kind` across versions (409).
#[utoipa::path(put, path = "/api/v1/policies/{name}", tag = "policies",
    params(("name" = String, Path)),
    request_body(content = String, content_type = "application/yaml", description = "The policy, YAML or JSON",
        example = json!("name: big-orders\nkind: filter\nrule: order.totals.total > \"500\"\n")),
    responses(
        (status = 201, body = PolicyVersionView, description = "A new version"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "Another kind than the stored versions', or a stale `version`", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Every error with its line and column (`locations`)", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<PolicyVersionView>)> {
    principal.require(Access::Configure)?;
    let (text, format) = read_definition(req, "policy").await?;
    let version = state.executor.put_policy(&name, &text, format).await?;
    Ok((StatusCode::CREATED, Json(version.into())))
}

/// What a policy that passed the check would become.
#[derive(Serialize, ToSchema)]
pub struct PolicyCheck {
    pub name: String,
    /// `filter` or `execution`.
    pub kind: String,
    /// The number it would be stored as.
    pub version: i64,
}

/// Check a policy exactly as `PUT /policies/{name}` would, storing nothing.
#[utoipa::path(post, path = "/api/v1/policies/{name}/validate", tag = "policies",
    params(("name" = String, Path)),
    request_body(content = String, content_type = "application/yaml", description = "The policy, YAML or JSON",
        example = json!("name: big-orders\nkind: filter\nrule: order.lines.exists(l, l.quantity >= 6)\n")),
    responses(
        (status = 200, body = PolicyCheck, description = "The policy is valid; nothing was stored"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "Another kind than the stored versions', or a stale `version`", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Every error with its line and column (`locations`)", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn validate(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Json<PolicyCheck>> {
    principal.require(Access::Configure)?;
    let (text, _) = read_definition(req, "policy").await?;
    let (policy, version) = state.executor.check_policy(&name, &text).await?;
    Ok(Json(PolicyCheck {
        kind: policy.kind().as_str().to_owned(),
        name: policy.name,
        version,
    }))
}

/// Every policy with the version in force.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies",
    responses((status = 200, body = PolicyList)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<PolicyList>> {
    principal.require(Access::Read)?;
    let items = state
        .store
        .latest_policy_versions()
        .await?
        .into_iter()
        .map(|v| PolicySummary {
            name: v.name,
            kind: v.kind,
            latest_version: v.version,
            updated_at: v.created_at,
        })
        .collect();
    Ok(Json(PolicyList {
        items,
        next_cursor: None,
    }))
}

/// A policy with all its versions.
#[utoipa::path(get, path = "/api/v1/policies/{name}", tag = "policies",
    params(("name" = String, Path)),
    responses((status = 200, body = PolicyDetail), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<PolicyDetail>> {
    principal.require(Access::Read)?;
    let versions = state.store.policy_versions(name.clone()).await?;
    let Some(latest) = versions.first() else {
        return Err(ApiError::not_found(format!("policy {name} does not exist")));
    };
    Ok(Json(PolicyDetail {
        kind: latest.kind.clone(),
        latest_version: latest.version,
        name,
        versions,
    }))
}
