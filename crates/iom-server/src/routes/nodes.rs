//! `/api/v1/nodes` and `/api/v1/node-groups`: the fulfilment network as users configure it. A
//! definition is validated by `iom-sourcing` (every bad field at once) and stored as its JSON, with the
//! engine's defaults filled in, so that reading it back shows what planning will use.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iom_domain::FieldError;
use iom_sourcing::{Node, NodeGroup};
use iom_store::nodes::{DocKind, NodeRecord};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiJson;
use iom_app::fulfillment::{group_of, node_of};

/// A node as stored, with the time of its last change.
#[derive(Serialize, ToSchema)]
pub struct NodeView {
    #[serde(flatten)]
    pub node: Node,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct NodePage {
    /// Every node, by code.
    pub items: Vec<NodeView>,
    /// Always null: the list is complete.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct NodeGroupView {
    #[serde(flatten)]
    pub group: NodeGroup,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct NodeGroupPage {
    pub items: Vec<NodeGroupView>,
    /// Always null: the list is complete.
    pub next_cursor: Option<String>,
}

/// The path names the resource; a body may repeat the name but not contradict it.
pub(crate) fn path_name_check(raw: &[u8], key: &str, in_path: &str) -> Option<FieldError> {
    let body: serde_json::Value = serde_json::from_slice(raw).ok()?;
    match body.get(key)? {
        serde_json::Value::String(s) if s == in_path => None,
        _ => Some(FieldError::new(
            key,
            format!("must be {in_path:?} as in the path, or left out"),
        )),
    }
}

/// 201 for a new resource, 200 for a replaced one.
pub(crate) fn put_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Create or replace a fulfilment node.
///
/// Fields not given take their defaults: `kind` warehouse, `active` true, no capacity limit,
/// `safety_stock` 0, costs 0, a Monday-to-Friday calendar without cut-off, `name` the code.
/// A node without `location` is kept but never ships (its distance is unknown).
#[utoipa::path(put, path = "/api/v1/nodes/{code}", tag = "fulfillment",
    params(("code" = String, Path, description = "The node's code, 1 to 100 characters without spaces")),
    request_body(content = Node, example = json!({"name": "East DC", "kind": "warehouse", "location": {"lat": 40.71, "lon": -74.0}, "active": true, "daily_capacity": 500, "safety_stock": 2, "costs": {"per_shipment": "5.00", "per_unit": "0.25", "per_km": "0.002"}})),
    responses(
        (status = 201, body = NodeView, description = "Created"),
        (status = 200, body = NodeView, description = "Replaced"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "Each invalid field, e.g. `kind`, `location.lat`, `costs.per_unit`", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
    body: ApiJson<Node>,
) -> ApiResult<Response> {
    principal.require(Access::Configure)?;
    let mut errors: Vec<FieldError> = path_name_check(&body.raw, "code", &code)
        .into_iter()
        .collect();
    let mut node = body.value;
    node.code = code;
    if node.name.trim().is_empty() {
        node.name.clone_from(&node.code);
    }
    errors.extend(node.validate());
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let doc = serde_json::to_value(&node).map_err(ApiError::internal)?;
    let created = state
        .store
        .put_node(NodeRecord {
            code: node.code.clone(),
            kind: node.kind.as_str().to_owned(),
            active: node.active,
            safety_stock: i64::from(node.safety_stock),
            doc,
            updated_at: Utc::now(),
        })
        .await?;
    let stored = state
        .store
        .get_node(node.code.clone())
        .await?
        .ok_or_else(|| ApiError::internal("a node just stored is missing"))?;
    let view = NodeView {
        node: node_of(&stored)?,
        updated_at: stored.updated_at,
    };
    Ok((put_status(created), Json(view)).into_response())
}

/// One node.
#[utoipa::path(get, path = "/api/v1/nodes/{code}", tag = "fulfillment",
    params(("code" = String, Path)),
    responses((status = 200, body = NodeView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
) -> ApiResult<Json<NodeView>> {
    principal.require(Access::Read)?;
    let record = state
        .store
        .get_node(code.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("node {code:?} does not exist")))?;
    Ok(Json(NodeView {
        node: node_of(&record)?,
        updated_at: record.updated_at,
    }))
}

/// Every node, by code.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "fulfillment",
    responses((status = 200, body = NodePage)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<NodePage>> {
    principal.require(Access::Read)?;
    let items = state
        .store
        .list_nodes()
        .await?
        .iter()
        .map(|r| {
            Ok(NodeView {
                node: node_of(r)?,
                updated_at: r.updated_at,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(NodePage {
        items,
        next_cursor: None,
    }))
}

/// Create or replace a node group (a source list).
///
/// `{"nodes":["DC-1","ST-7"],"max_distance_km":800}`: every member must be an existing node. A
/// profile names groups in `source_groups`, `tiers` and `exclude_nodes`; where a group and a
/// node share a name, the node is meant.
#[utoipa::path(put, path = "/api/v1/node-groups/{name}", tag = "fulfillment",
    params(("name" = String, Path)),
    request_body = NodeGroup,
    responses(
        (status = 201, body = NodeGroupView, description = "Created"),
        (status = 200, body = NodeGroupView, description = "Replaced"),
        (status = 422, body = Problem, description = "Each invalid field, e.g. `nodes[2]` naming no node", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put_group(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    body: ApiJson<NodeGroup>,
) -> ApiResult<Response> {
    principal.require(Access::Configure)?;
    let mut errors: Vec<FieldError> = path_name_check(&body.raw, "name", &name)
        .into_iter()
        .collect();
    let mut group = body.value;
    group.name = name;
    errors.extend(group.validate());
    let codes: Vec<String> = state
        .store
        .list_nodes()
        .await?
        .into_iter()
        .map(|n| n.code)
        .collect();
    for (i, member) in group.nodes.iter().enumerate() {
        if !codes.contains(member) {
            errors.push(FieldError::new(
                format!("nodes[{i}]"),
                format!("no node has the code {member:?}"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let doc = serde_json::to_value(&group).map_err(ApiError::internal)?;
    let created = state
        .store
        .put_doc(DocKind::NodeGroup, group.name.clone(), doc)
        .await?;
    let stored = state
        .store
        .get_doc(DocKind::NodeGroup, group.name.clone())
        .await?
        .ok_or_else(|| ApiError::internal("a node group just stored is missing"))?;
    let view = NodeGroupView {
        group: group_of(&stored)?,
        updated_at: stored.updated_at,
    };
    Ok((put_status(created), Json(view)).into_response())
}

/// One node group.
#[utoipa::path(get, path = "/api/v1/node-groups/{name}", tag = "fulfillment",
    params(("name" = String, Path)),
    responses((status = 200, body = NodeGroupView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_group(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<NodeGroupView>> {
    principal.require(Access::Read)?;
    let doc = state
        .store
        .get_doc(DocKind::NodeGroup, name.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("node group {name:?} does not exist")))?;
    Ok(Json(NodeGroupView {
        group: group_of(&doc)?,
        updated_at: doc.updated_at,
    }))
}

/// Every node group, by name.
#[utoipa::path(get, path = "/api/v1/node-groups", tag = "fulfillment",
    responses((status = 200, body = NodeGroupPage)),
    security(("bearer" = [])))]
pub async fn list_groups(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<NodeGroupPage>> {
    principal.require(Access::Read)?;
    let items = state
        .store
        .list_docs(DocKind::NodeGroup)
        .await?
        .iter()
        .map(|d| {
            Ok(NodeGroupView {
                group: group_of(d)?,
                updated_at: d.updated_at,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(NodeGroupPage {
        items,
        next_cursor: None,
    }))
}
