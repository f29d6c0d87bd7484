//! `/api/v1/fulfillment`: sourcing profiles, planning one order, and brokering runs over the
//! open orders. Planning is a simulation: it reads nodes, profiles and inventory and writes
//! nothing.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iom_app::fulfillment::{BrokeringRequest, BrokeringRun, load_profile, profile_of};
use iom_domain::{FieldError, OrderId, OrderIntake, OrderStatus};
use iom_sourcing::{Plan, PlanRequest, PostalCentroids, Profile, Solver};
use iom_store::nodes::DocKind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiJson;
use crate::routes::nodes::{path_name_check, put_status};

/// A profile as stored, and the names it uses that match no node or group.
#[derive(Serialize, ToSchema)]
pub struct ProfileView {
    #[serde(flatten)]
    pub profile: Profile,
    pub updated_at: DateTime<Utc>,
    /// Names in `exclude_nodes`, `source_groups` or `tiers` that are neither a node nor a node
    /// group at the moment. They are accepted, since a profile may be written before the nodes it
    /// names, and ignored when planning; a `source_groups` of unknown names lets no node ship.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<FieldError>,
}

#[derive(Serialize, ToSchema)]
pub struct ProfilePage {
    pub items: Vec<ProfileView>,
    /// Always null: the list is complete.
    pub next_cursor: Option<String>,
}

async fn known_names(state: &AppState) -> ApiResult<HashSet<String>> {
    let mut names: HashSet<String> = state
        .store
        .list_nodes()
        .await?
        .into_iter()
        .map(|n| n.code)
        .collect();
    names.extend(
        state
            .store
            .list_docs(DocKind::NodeGroup)
            .await?
            .into_iter()
            .map(|g| g.name),
    );
    Ok(names)
}

fn view(profile: Profile, updated_at: DateTime<Utc>, known: &HashSet<String>) -> ProfileView {
    let warnings = profile.unknown_references(&|n| known.contains(n));
    ProfileView {
        profile,
        updated_at,
        warnings,
    }
}

/// Create or replace a sourcing profile.
///
/// Every field is optional: `{}` is lowest cost from any node, partial shipments and line splits
/// allowed, capacity and safety stock respected. The profile named `default` is used by planning
/// requests that name none. Names in `exclude_nodes`, `source_groups` and `tiers` that match no
/// node or group are accepted and listed in `warnings`.
#[utoipa::path(put, path = "/api/v1/fulfillment/profiles/{name}", tag = "fulfillment",
    params(("name" = String, Path)),
    request_body(content = Profile, example = json!({"objective": "cost", "max_distance_km": 2000, "max_nodes": 2, "allow_partial": true, "allow_line_split": true, "node_kinds": ["warehouse", "store"], "exclude_nodes": []})),
    responses(
        (status = 201, body = ProfileView, description = "Created"),
        (status = 200, body = ProfileView, description = "Replaced"),
        (status = 422, body = Problem, description = "Each invalid field, e.g. `objective`, `max_distance_km`", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put_profile(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    body: ApiJson<Profile>,
) -> ApiResult<Response> {
    principal.require(Access::Configure)?;
    let mut errors: Vec<FieldError> = path_name_check(&body.raw, "name", &name)
        .into_iter()
        .collect();
    iom_sourcing::validate::check_name("name", &name, &mut errors);
    let mut profile = body.value;
    profile.name = name;
    errors.extend(profile.validate());
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let doc = serde_json::to_value(&profile).map_err(ApiError::internal)?;
    let created = state
        .store
        .put_doc(DocKind::Profile, profile.name.clone(), doc)
        .await?;
    let stored = state
        .store
        .get_doc(DocKind::Profile, profile.name.clone())
        .await?
        .ok_or_else(|| ApiError::internal("a profile just stored is missing"))?;
    let known = known_names(&state).await?;
    let body = view(profile_of(&stored)?, stored.updated_at, &known);
    Ok((put_status(created), Json(body)).into_response())
}

/// One profile.
#[utoipa::path(get, path = "/api/v1/fulfillment/profiles/{name}", tag = "fulfillment",
    params(("name" = String, Path)),
    responses((status = 200, body = ProfileView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_profile(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<ProfileView>> {
    principal.require(Access::Read)?;
    let doc = state
        .store
        .get_doc(DocKind::Profile, name.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("profile {name:?} does not exist")))?;
    let known = known_names(&state).await?;
    Ok(Json(view(profile_of(&doc)?, doc.updated_at, &known)))
}

/// Every profile, by name.
#[utoipa::path(get, path = "/api/v1/fulfillment/profiles", tag = "fulfillment",
    responses((status = 200, body = ProfilePage)),
    security(("bearer" = [])))]
pub async fn list_profiles(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ProfilePage>> {
    principal.require(Access::Read)?;
    let known = known_names(&state).await?;
    let items = state
        .store
        .list_docs(DocKind::Profile)
        .await?
        .iter()
        .map(|d| Ok(view(profile_of(d)?, d.updated_at, &known)))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(ProfilePage {
        items,
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct PlanBody {
    /// An order as `POST /api/v1/orders` takes it; validated the same way, never stored.
    pub order: Option<OrderIntake>,
    /// A stored order: its open quantities are planned.
    pub order_id: Option<String>,
    /// A stored profile; without it the profile `default` if stored, else the built-in default.
    pub profile: Option<String>,
    /// `heuristic` (default, for orders as they arrive), `exact` (the MIP, up to 5 s) or
    /// `closest` (each line from the closest node with stock: a baseline to compare with).
    pub solver: Option<Solver>,
}

/// A plan and the profile it was made with.
#[derive(Serialize, ToSchema)]
pub struct PlanResponse {
    pub profile: String,
    #[serde(flatten)]
    pub plan: Plan,
}

/// The profile a request names, as a 422 on `profile` when none is stored under that name.
async fn profile_for(state: &AppState, name: Option<&str>) -> ApiResult<Profile> {
    load_profile(&state.store, name).await?.ok_or_else(|| {
        ApiError::invalid_field(
            "profile",
            format!("no profile is called {:?}", name.unwrap_or_default()),
        )
    })
}

/// Plan one order (a simulation).
///
/// Decides which nodes would ship which lines of the order, against the current nodes, profile and
/// inventory (`on_hand − reserved − allocated`, with safety stock held back as the profile says),
/// and explains each node's verdict. Nothing is reserved or changed, and no event is emitted.
/// Each node's full daily capacity is assumed free.
#[utoipa::path(post, path = "/api/v1/fulfillment/plan", tag = "fulfillment",
    request_body(content = PlanBody, example = json!({"order": {
        "channel": "web", "external_id": "1001", "currency": "USD", "placed_at": "2026-11-26T10:00:00Z",
        "customer": {"id": "C-1", "email": "ann@example.com", "name": "Ann Lee"},
        "ship_to": {"name": "Ann Lee", "line1": "1 Main St", "city": "Seattle", "region": "WA",
                    "postal_code": "98101", "country": "US", "lat": 47.61, "lon": -122.33},
        "lines": [{"line_no": 1, "sku": "SKU-1", "quantity": 2, "unit_price": "19.99"}],
        "ship_method": "standard", "attributes": {}
    }})),
    responses(
        (status = 200, body = PlanResponse),
        (status = 404, body = Problem, description = "`order_id` names no order", content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The stored order has nothing left to ship", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Invalid inline order (fields as `order.lines[0].sku`), neither or both of `order` and `order_id`, or an unknown `profile`", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn plan_order(
    State(state): State<AppState>,
    principal: Principal,
    body: ApiJson<PlanBody>,
) -> ApiResult<Json<PlanResponse>> {
    principal.require(Access::Read)?;
    let body = body.value;
    let now = Utc::now();
    let request = match (body.order, body.order_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "order_id",
                "give either order or order_id, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid_field(
                "order",
                "order or order_id is required",
            ));
        }
        (Some(intake), None) => {
            let order = intake.validate(now).map_err(|errors| {
                ApiError::invalid(
                    errors
                        .into_iter()
                        .map(|e| FieldError::new(format!("order.{}", e.field), e.message))
                        .collect(),
                )
            })?;
            let mut request = PlanRequest::from_order(&order, now);
            // The id of an order that is not stored means nothing to the caller.
            request.order_ref = Some(order.external_id.clone());
            request
        }
        (None, Some(id)) => {
            let missing = || ApiError::not_found(format!("order {id} does not exist"));
            let order_id: OrderId = id.parse().map_err(|_| missing())?;
            let order = state.store.get_order(order_id).await?.ok_or_else(missing)?;
            let request = PlanRequest::from_order(&order, now);
            if request.lines.is_empty() {
                return Err(ApiError::conflict(format!(
                    "order {id} is {} and has nothing left to ship",
                    order.status.as_str()
                )));
            }
            request
        }
    };
    let profile = profile_for(&state, body.profile.as_deref()).await?;
    let solver = body.solver.unwrap_or(Solver::Heuristic);
    let (plan, profile) =
        iom_app::fulfillment::plan_one(&state.store, &state.pipeline, request, profile, solver)
            .await?;
    Ok(Json(PlanResponse {
        profile: profile.name,
        plan,
    }))
}

const DEFAULT_RUN_LIMIT: usize = 10_000;
const MAX_RUN_LIMIT: usize = 50_000;

#[derive(Deserialize, Default, ToSchema)]
pub struct BrokeringRunBody {
    /// A stored profile; as for a plan, `default` or the built-in default when absent.
    pub profile: Option<String>,
    /// Order statuses to plan; `received`, `processing` and `backordered` when absent.
    pub statuses: Option<Vec<String>>,
    /// `heuristic` (default: orders one after another), `exact` (the MIP over competing orders)
    /// or `closest` (the baseline).
    pub solver: Option<Solver>,
    /// Most orders to plan, oldest first (1 to 50,000; 10,000 when absent).
    pub limit: Option<usize>,
    /// Commit the plans: reserve every assignment and move the lines to `allocated` (or
    /// `backordered` when nothing could be sourced), one order at a time. A dry run when absent.
    pub commit: Option<bool>,
}

/// Run brokering over the open orders; a dry run unless `commit` is true.
///
/// Plans every order in the given statuses (by default `received`, `processing` and
/// `backordered`) as one batch against the current availability: oldest orders first, each
/// taking stock and capacity from what the earlier ones left, so no unit is promised twice.
/// Returns each order's plan and the totals. Only lines still `open` or `backordered` are planned.
/// As a dry run nothing changes; with `commit` each order's assignments are reserved and its lines
/// move to `allocated` (or `backordered`), order by order, each in one transaction.
#[utoipa::path(post, path = "/api/v1/fulfillment/brokering-runs", tag = "fulfillment",
    request_body = BrokeringRunBody,
    responses(
        (status = 200, body = BrokeringRun),
        (status = 422, body = Problem, description = "An unknown status or profile, or a limit out of range", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn brokering_run(
    State(state): State<AppState>,
    principal: Principal,
    body: ApiJson<BrokeringRunBody>,
) -> ApiResult<Json<BrokeringRun>> {
    principal.require(Access::Operate)?;
    let body = body.value;
    let mut errors = Vec::new();
    let statuses: Vec<OrderStatus> = match &body.statuses {
        None => iom_app::fulfillment::brokering::OPEN_STATUSES.to_vec(),
        Some(names) => {
            if names.is_empty() {
                errors.push(FieldError::new("statuses", "must name at least one status"));
            }
            names
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let parsed = OrderStatus::parse(s);
                    if parsed.is_none() {
                        errors.push(FieldError::new(
                            format!("statuses[{i}]"),
                            format!("{s:?} is not an order status"),
                        ));
                    }
                    parsed
                })
                .collect()
        }
    };
    let limit = body.limit.unwrap_or(DEFAULT_RUN_LIMIT);
    if !(1..=MAX_RUN_LIMIT).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            format!("must be between 1 and {MAX_RUN_LIMIT}"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let profile = profile_for(&state, body.profile.as_deref()).await?;
    let run = iom_app::fulfillment::brokering_run(
        &state.store,
        BrokeringRequest {
            profile,
            statuses,
            solver: body.solver.unwrap_or(Solver::Heuristic),
            limit,
            commit: body.commit.unwrap_or(false),
        },
    )
    .await?;
    Ok(Json(run))
}

/// Load postal-code centroids from CSV (`country,postal_code,lat,lon` with a header row), so a
/// ship-to with no coordinates is located by them: they win over the postal codes that ship with
/// iom. Codes already loaded are replaced.
#[utoipa::path(put, path = "/api/v1/fulfillment/postal-centroids", tag = "fulfillment",
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 200, description = "`{\"loaded\": N}`"),
        (status = 422, body = Problem, description = "A bad row, named by its line", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put_postal_centroids(
    State(state): State<AppState>,
    principal: Principal,
    request: axum::extract::Request,
) -> ApiResult<Json<serde_json::Value>> {
    principal.require(Access::Configure)?;
    let body = crate::json::read_body(request, crate::json::MAX_BODY * 8).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8 text"))?;
    let table = PostalCentroids::from_csv(text).map_err(|e| match e {
        iom_sourcing::SourcingError::CentroidCsv { line, message } => {
            ApiError::invalid_field(format!("line {line}"), message)
        }
        other => ApiError::invalid_field("body", other.to_string()),
    })?;
    let rows: Vec<(String, String, f64, f64)> = table
        .entries()
        .map(|(country, code, p)| (country.to_owned(), code.to_owned(), p.lat, p.lon))
        .collect();
    let loaded = state.store.put_postal_centroids(rows).await?;
    Ok(Json(serde_json::json!({ "loaded": loaded })))
}
