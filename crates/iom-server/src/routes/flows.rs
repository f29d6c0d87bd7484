//! `/api/v1/flows`, `/runs`, `/tasks` and `/orders/{id}/runs`: orchestration. Definitions are
//! compiled by `iom-flow` and stored as versions; the executor (`iom_app::flow`) runs the
//! published ones. `validate` compiles a definition as `PUT` does and stores nothing.

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use iom_app::flow::FlowError;
use iom_domain::{FieldError, RunStatus, StepStatus, TaskStatus};
use iom_flow::ExecutablePlan;
use iom_store::flows::{FlowVersion, RunRow, StepRow, TaskRow};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, read_definition};

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::Invalid(errors) => {
                let fields = errors
                    .iter()
                    .map(|e| {
                        FieldError::new(
                            if e.path.is_empty() {
                                "definition".to_owned()
                            } else {
                                e.path.clone()
                            },
                            format!("line {}, column {}: {}", e.line, e.column, e.message),
                        )
                    })
                    .collect();
                let locations: Vec<Value> = errors
                    .iter()
                    .map(|e| json!({"line": e.line, "column": e.column, "path": e.path, "message": e.message}))
                    .collect();
                ApiError::invalid(fields).with("locations", locations)
            }
            FlowError::NameMismatch {
                expected,
                found,
                at,
            } => {
                let message = format!(
                    "the definition is named {found:?}; PUT it under that name or rename it to {expected:?}"
                );
                let locations: Vec<Value> = at
                    .map(|at| json!({"line": at.line, "column": at.column, "path": "name", "message": message}))
                    .into_iter()
                    .collect();
                ApiError::invalid_field("name", message).with("locations", locations)
            }
            FlowError::NotFound(what) => ApiError::not_found(format!("{what} does not exist")),
            FlowError::Conflict(detail) => ApiError::conflict(detail),
            FlowError::Store(e) => e.into(),
        }
    }
}

// ---------------------------------------------------------------- definitions

#[derive(Serialize, ToSchema)]
pub struct FlowSummary {
    pub name: String,
    #[serde(rename = "type")]
    pub flow_type: String,
    /// The version that starts runs, if one is published.
    pub published_version: Option<i64>,
    pub latest_version: i64,
    pub latest_status: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct FlowList {
    pub items: Vec<FlowSummary>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FlowDetail {
    pub name: String,
    #[serde(rename = "type")]
    pub flow_type: String,
    pub published_version: Option<i64>,
    /// Every version, newest first: `draft`, `published`, `unpublished` or `superseded`, with its
    /// source.
    #[schema(value_type = Vec<Object>)]
    pub versions: Vec<FlowVersion>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionView {
    pub name: String,
    pub version: i64,
    pub status: String,
    #[serde(rename = "type")]
    pub flow_type: String,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

impl From<FlowVersion> for VersionView {
    fn from(v: FlowVersion) -> Self {
        VersionView {
            name: v.name,
            version: v.version,
            status: v.status,
            flow_type: v.flow_type,
            created_at: v.created_at,
            published_at: v.published_at,
        }
    }
}

fn detail(name: String, versions: Vec<FlowVersion>) -> FlowDetail {
    FlowDetail {
        flow_type: versions
            .first()
            .map(|v| v.flow_type.clone())
            .unwrap_or_default(),
        published_version: versions
            .iter()
            .find(|v| v.status == "published")
            .map(|v| v.version),
        name,
        versions,
    }
}

/// Store a new draft version of a flow: YAML (`application/yaml`) or JSON.
#[utoipa::path(put, path = "/api/v1/flows/{name}", tag = "flows",
    params(("name" = String, Path)),
    request_body(content = String, content_type = "application/yaml", description = "The definition, YAML or JSON",
        example = json!("name: hold-for-review\ntype: order\ntrigger: order.received\npriority: 10\nsteps:\n  - id: validate\n    uses: validate-order\n  - id: hold\n    uses: hold\n    with:\n      reason: review\n")),
    responses(
        (status = 201, body = VersionView, description = "A new draft version"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Every error with its line and column (`locations`)", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<VersionView>)> {
    principal.require(Access::Configure)?;
    let (text, format) = read_definition(req, "definition").await?;
    let version = state.executor.put_flow(&name, &text, format).await?;
    Ok((StatusCode::CREATED, Json(version.into())))
}

/// What a definition that passed the check would become.
#[derive(Serialize, ToSchema)]
pub struct FlowCheck {
    pub name: String,
    #[serde(rename = "type")]
    pub flow_type: String,
    /// The business event types that start it.
    pub triggers: Vec<String>,
    pub priority: i64,
    /// The compiled plan, as a version stores it.
    #[schema(value_type = Object)]
    pub plan: ExecutablePlan,
}

impl From<ExecutablePlan> for FlowCheck {
    fn from(plan: ExecutablePlan) -> Self {
        FlowCheck {
            name: plan.name.clone(),
            flow_type: plan.flow_type.as_str().to_owned(),
            triggers: plan.triggers.clone(),
            priority: plan.priority,
            plan,
        }
    }
}

/// Check a definition exactly as `PUT /flows/{name}` would, storing nothing: the compiled plan,
/// or 422 with every error at its line and column (`locations`).
#[utoipa::path(post, path = "/api/v1/flows/{name}/validate", tag = "flows",
    params(("name" = String, Path)),
    request_body(content = String, content_type = "application/yaml", description = "The definition, YAML or JSON",
        example = json!("name: hold-for-review\ntype: order\ntrigger: order.received\nsteps:\n  - id: hold\n    uses: hold\n    with:\n      reason: review\n")),
    responses(
        (status = 200, body = FlowCheck, description = "The definition is valid; nothing was stored"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Every error with its line and column (`locations`)", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn validate(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Json<FlowCheck>> {
    principal.require(Access::Configure)?;
    let (text, _) = read_definition(req, "definition").await?;
    let plan = state.executor.check_flow(&name, &text).await?;
    Ok(Json(plan.into()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// The version to publish; the newest when left out.
    pub version: Option<i64>,
}

/// Publish a version: it starts the runs from now on; runs already started finish on theirs.
#[utoipa::path(post, path = "/api/v1/flows/{name}/publish", tag = "flows",
    params(("name" = String, Path)), request_body = PublishBody,
    responses((status = 200, body = FlowDetail), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    body: ApiJson<PublishBody>,
) -> ApiResult<Json<FlowDetail>> {
    principal.require(Access::Configure)?;
    state.executor.publish(&name, body.value.version).await?;
    let versions = state.store.flow_versions(name.clone()).await?;
    Ok(Json(detail(name, versions)))
}

/// Unpublish a flow: it starts no more runs; runs already started finish.
#[utoipa::path(post, path = "/api/v1/flows/{name}/unpublish", tag = "flows",
    params(("name" = String, Path)),
    responses((status = 200, body = FlowDetail), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn unpublish(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<FlowDetail>> {
    principal.require(Access::Configure)?;
    let versions = state.executor.unpublish(&name).await?;
    Ok(Json(detail(name, versions)))
}

/// Every flow with its published and newest version.
#[utoipa::path(get, path = "/api/v1/flows", tag = "flows",
    responses((status = 200, body = FlowList)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<FlowList>> {
    principal.require(Access::Read)?;
    let latest = state.store.latest_flow_versions().await?;
    let published = state.store.published_flows().await?;
    let items = latest
        .into_iter()
        .map(|v| FlowSummary {
            published_version: published
                .iter()
                .find(|p| p.name == v.name)
                .map(|p| p.version),
            updated_at: v.unpublished_at.or(v.published_at).unwrap_or(v.created_at),
            name: v.name,
            flow_type: v.flow_type,
            latest_version: v.version,
            latest_status: v.status,
        })
        .collect();
    Ok(Json(FlowList {
        items,
        next_cursor: None,
    }))
}

/// A flow with all its versions.
#[utoipa::path(get, path = "/api/v1/flows/{name}", tag = "flows",
    params(("name" = String, Path)),
    responses((status = 200, body = FlowDetail), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<FlowDetail>> {
    principal.require(Access::Read)?;
    let versions = state.store.flow_versions(name.clone()).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("flow {name} does not exist")));
    }
    Ok(Json(detail(name, versions)))
}

// ---------------------------------------------------------------- runs

#[derive(Serialize, ToSchema)]
pub struct StepView {
    /// The step's place in the run (a loop runs a step again under a new number).
    pub n: i64,
    pub step: String,
    pub uses: String,
    pub attempt: i64,
    pub status: StepStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<f64>,
    pub error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
}

impl From<StepRow> for StepView {
    fn from(s: StepRow) -> Self {
        StepView {
            duration_ms: s
                .finished_at
                .map(|f| (f - s.started_at).num_microseconds().unwrap_or(0) as f64 / 1000.0),
            n: s.n,
            step: s.step,
            uses: s.uses,
            attempt: s.attempt,
            status: s.status,
            started_at: s.started_at,
            finished_at: s.finished_at,
            error: s.error,
            output: s.output,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub flow: String,
    /// The version the run began with and keeps.
    pub version: i64,
    #[serde(rename = "type")]
    pub flow_type: String,
    pub subject: String,
    pub order_id: Option<String>,
    pub trigger_seq: i64,
    pub trigger_type: String,
    pub status: RunStatus,
    pub current_step: Option<String>,
    /// When the run next does something by itself (a retry, a deadline, a backorder's expiry).
    pub wake_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
}

fn run_view(r: RunRow, steps: Option<Vec<StepRow>>) -> RunView {
    RunView {
        id: r.id,
        flow: r.flow,
        version: r.version,
        flow_type: r.flow_type,
        subject: r.subject,
        order_id: r.order_id,
        trigger_seq: r.trigger_seq,
        trigger_type: r.trigger_type,
        status: r.status,
        current_step: r.current_step,
        wake_at: r.wake_at,
        error: r.error,
        created_at: r.created_at,
        updated_at: r.updated_at,
        finished_at: r.finished_at,
        steps: steps.map(|s| s.into_iter().map(StepView::from).collect()),
    }
}

#[derive(Serialize, ToSchema)]
pub struct RunList {
    pub items: Vec<RunView>,
    pub next_cursor: Option<String>,
}

/// The flow runs of an order with their steps, oldest first.
#[utoipa::path(get, path = "/api/v1/orders/{id}/runs", tag = "flows",
    params(("id" = String, Path)),
    responses((status = 200, body = RunList), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn order_runs(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<RunList>> {
    principal.require(Access::Read)?;
    let order_id: iom_domain::OrderId = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("order {id} does not exist")))?;
    super::orders::visible_order(&state, &principal, order_id).await?;
    let runs = state.store.order_runs(order_id.to_string()).await?;
    Ok(Json(RunList {
        items: runs
            .into_iter()
            .map(|(r, steps)| run_view(r, Some(steps)))
            .collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct RunQuery {
    /// Only runs in this status (`failed` to find what needs a hand).
    pub status: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Runs, newest first, optionally of one status.
#[utoipa::path(get, path = "/api/v1/runs", tag = "flows", params(RunQuery),
    responses((status = 200, body = RunList), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_runs(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<RunQuery>,
) -> ApiResult<Json<RunList>> {
    principal.require(Access::Read)?;
    let status = match q.status.as_deref() {
        None => None,
        Some(name) => Some(RunStatus::parse(name).ok_or_else(|| {
            let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::invalid_field("status", format!("must be one of {}", names.join(", ")))
        })?),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let runs = state.store.list_runs(status, q.cursor, limit).await?;
    let next_cursor = (runs.len() == limit)
        .then(|| runs.last().map(|r| r.id.clone()))
        .flatten();
    Ok(Json(RunList {
        items: runs.into_iter().map(|r| run_view(r, None)).collect(),
        next_cursor,
    }))
}

/// One run with its steps.
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "flows",
    params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_run(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    principal.require(Access::Read)?;
    let (run, steps) = state
        .store
        .run(id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {id} does not exist")))?;
    Ok(Json(run_view(run, Some(steps))))
}

/// Reprocess a failed (or held) run from the step where it stopped.
#[utoipa::path(post, path = "/api/v1/runs/{id}/retry", tag = "flows",
    params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn retry_run(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    principal.require(Access::Operate)?;
    let run = state.executor.retry_run(&id).await?;
    Ok(Json(run_view(run, None)))
}

// ---------------------------------------------------------------- tasks

#[derive(Serialize, ToSchema)]
pub struct TaskList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<TaskRow>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct TaskQuery {
    /// `open` or `completed`.
    pub status: Option<String>,
    /// 1 to 500; 100 when absent.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A task list's cursor: the last task's creation (microseconds) and id.
pub fn task_cursor(task: &TaskRow) -> String {
    format!("{}~{}", task.created_at.timestamp_micros(), task.id)
}

/// The position a task list's `cursor` names.
pub fn parse_task_cursor(
    cursor: Option<&str>,
) -> ApiResult<Option<(chrono::DateTime<chrono::Utc>, String)>> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    cursor
        .split_once('~')
        .and_then(|(at, id)| {
            let at = chrono::DateTime::from_timestamp_micros(at.parse().ok()?)?;
            Some((at, id.to_owned()))
        })
        .map(Some)
        .ok_or_else(|| ApiError::invalid_field("cursor", "is not a cursor of this list"))
}

/// Manual tasks (reviews), oldest first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "flows", params(TaskQuery),
    responses((status = 200, body = TaskList), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_tasks(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<TaskQuery>,
) -> ApiResult<Json<TaskList>> {
    principal.require(Access::Read)?;
    let status = match q.status.as_deref() {
        None => None,
        Some(name) => Some(
            TaskStatus::parse(name)
                .ok_or_else(|| ApiError::invalid_field("status", "must be open or completed"))?,
        ),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 500",
        ));
    }
    let after = parse_task_cursor(q.cursor.as_deref())?;
    let (page, _) = state.store.task_page(status, after, limit, false).await?;
    let items: Vec<TaskRow> = page.into_iter().map(|(t, _)| t).collect();
    let next_cursor = (items.len() == limit)
        .then(|| items.last().map(task_cursor))
        .flatten();
    Ok(Json(TaskList { items, next_cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// `approve` lets the run go on; `reject` fails the review step (its `on_failure` applies).
    pub decision: String,
    pub note: Option<String>,
}

/// Decide a task; the run waiting for it goes on.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/complete", tag = "flows",
    params(("id" = String, Path)), request_body = CompleteBody,
    responses((status = 200, body = Object), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn complete_task(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: ApiJson<CompleteBody>,
) -> ApiResult<Json<TaskRow>> {
    principal.require(Access::Operate)?;
    let body = body.value;
    if !matches!(body.decision.as_str(), "approve" | "reject") {
        return Err(ApiError::invalid_field(
            "decision",
            "must be approve or reject",
        ));
    }
    let task = state
        .executor
        .complete_task(&id, body.decision, body.note)
        .await?;
    Ok(Json(task))
}
