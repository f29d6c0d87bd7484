//! `/api/v1/provider-types`, `/api/v1/providers`, `/api/v1/inbound/{provider}` and the message
//! log of each provider.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iom_providers::Mappings;
use iom_providers::types::{self, Verification};
use iom_store::providers::{MessageFilter, MessageRecord, Processed, ProviderRecord, STATUSES};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiJson;
use iom_app::pipeline::connection_test::{ConnectionTest, Outcome, test_connection};
use iom_app::pipeline::instance::{InstanceInput, instance_record, valid_name};
use iom_app::pipeline::{Loaded, PipelineError};

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::UnknownProvider(_) | PipelineError::UnknownMessage(_) => {
                ApiError::not_found(e.to_string())
            }
            PipelineError::Store(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProviderTypeList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
}

/// The built-in provider types.
#[utoipa::path(get, path = "/api/v1/provider-types", tag = "providers",
    responses((status = 200, body = ProviderTypeList)), security(("bearer" = [])))]
pub async fn list_types(principal: Principal) -> ApiResult<Json<ProviderTypeList>> {
    principal.require(Access::Read)?;
    Ok(Json(ProviderTypeList {
        items: types::builtin()
            .iter()
            .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderPut {
    #[serde(rename = "type")]
    pub kind: String,
    /// Connection fields of the type; secret ones are sealed and never returned. A secret left
    /// out keeps its stored value.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub connection: Map<String, Value>,
    /// `{"sku": {"EXT": "INT"}, "ship_method": {…}, "node": {…}, "uom": {…}, "customer": {…}}`
    #[serde(default)]
    #[schema(value_type = Object)]
    pub mappings: Mappings,
    /// e.g. `default_node` for shipment notices that name none.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// A jq program replacing the type's default transformation.
    pub transformation: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The connection without its secrets.
    #[schema(value_type = Object)]
    pub connection: Value,
    /// Which secret fields have a value.
    pub secrets_set: Vec<String>,
    #[schema(value_type = Object)]
    pub mappings: Value,
    #[schema(value_type = Object)]
    pub settings: Value,
    pub transformation: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    pub items: Vec<ProviderView>,
    pub next_cursor: Option<String>,
}

fn view(r: &ProviderRecord) -> ProviderView {
    ProviderView {
        name: r.name.clone(),
        kind: r.kind.clone(),
        connection: r.config["connection"].clone(),
        secrets_set: r.secrets.keys().cloned().collect(),
        mappings: r.config["mappings"].clone(),
        settings: r.config["settings"].clone(),
        transformation: r.config["transformation"].as_str().map(str::to_owned),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

fn check_name(field: &str, name: &str) -> ApiResult<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            "1 to 64 letters, digits, '-', '_' or '.'",
        ))
    }
}

/// Create or replace a provider instance.
#[utoipa::path(put, path = "/api/v1/providers/{name}", tag = "providers",
    params(("name" = String, Path)), request_body = ProviderPut,
    responses((status = 200, body = ProviderView), (status = 201, body = ProviderView),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    body: ApiJson<ProviderPut>,
) -> ApiResult<Response> {
    principal.require(Access::Configure)?;
    check_name("name", &name)?;
    let body = body.value;
    let existing = state.store.get_provider(name.clone()).await?;
    let input = InstanceInput {
        kind: body.kind,
        connection: body.connection,
        mappings: body.mappings,
        settings: body.settings,
        transformation: body.transformation,
    };
    let record = instance_record(
        &name,
        &input,
        existing.as_ref(),
        state.pipeline.key.as_ref(),
        &[],
        Utc::now(),
    )
    .map_err(ApiError::invalid)?;
    let created = state.store.put_provider(record).await?;
    state.pipeline.forget(&name);
    let stored = state
        .store
        .get_provider(name.clone())
        .await?
        .ok_or_else(|| ApiError::internal("provider vanished after PUT"))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(&stored))).into_response())
}

/// One provider instance, without its secrets.
#[utoipa::path(get, path = "/api/v1/providers/{name}", tag = "providers",
    params(("name" = String, Path)),
    responses((status = 200, body = ProviderView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<ProviderView>> {
    principal.require(Access::Read)?;
    Ok(Json(view(&existing(&state, &name).await?)))
}

/// Test the instance's connection: one harmless, authenticated call of its type's API with the
/// stored connection (Stripe `GET /v1/balance`, AvaTax `GET /api/v2/utilities/ping`, EasyPost
/// `GET /v2/addresses`, Shopify `GET /admin/api/{version}/shop.json`, BigCommerce
/// `GET {api_url}/store`; a webhook's or X12 partner's URL is checked to answer, a NATS server
/// to accept connections). Nothing changes, here or there. The answer is 200 whatever the
/// service said: `outcome` is `ok`, `failed` (with why) or `nothing_to_call` (types that only
/// receive, such as `csv`, `ubl` or `rest`).
#[utoipa::path(post, path = "/api/v1/providers/{name}/test", tag = "providers",
    params(("name" = String, Path)),
    responses(
        (status = 200, body = ConnectionTest, description = "What the call found: `outcome`, the call made, the status answered and a message"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn connection_test(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<ConnectionTest>> {
    principal.require(Access::Configure)?;
    let test = test_connection(&state.store, &state.pipeline, &name).await?;
    metrics::counter!("iom_provider_connection_tests_total", "outcome" => match test.outcome {
        Outcome::Ok => "ok",
        Outcome::Failed => "failed",
        Outcome::NothingToCall => "nothing_to_call",
    })
    .increment(1);
    Ok(Json(test))
}

/// The instance named `name`, or a 404 saying it does not exist.
async fn existing(state: &AppState, name: &str) -> ApiResult<ProviderRecord> {
    state
        .store
        .get_provider(name.to_owned())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("provider {name} does not exist")))
}

/// Every provider instance, by name.
#[utoipa::path(get, path = "/api/v1/providers", tag = "providers",
    responses((status = 200, body = ProviderList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ProviderList>> {
    principal.require(Access::Read)?;
    let items = state
        .store
        .list_providers()
        .await?
        .iter()
        .map(view)
        .collect();
    Ok(Json(ProviderList {
        items,
        next_cursor: None,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub message_id: String,
    /// `processed`, `failed`, `ignored` (nothing to do: the reason is in `error`),
    /// `duplicate`, or `received` when processing continues later; for a body of several
    /// documents, `partial` when some of them failed.
    pub status: String,
    /// The same document was received before: this is that message.
    pub duplicate: bool,
    pub order_ids: Vec<String>,
    /// How many of `order_ids` this document created (the others existed before).
    pub created: usize,
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    /// The documents of a body that held several (the transaction sets of an X12 body), each
    /// logged and processed on its own; the fields above sum them up and name the first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub documents: Vec<Accepted>,
}

/// The answer to a body: its one document, or a summary of its documents.
fn receipt(outcomes: Vec<Processed>) -> Accepted {
    let mut documents: Vec<Accepted> = outcomes.into_iter().map(accepted).collect();
    if documents.len() == 1 {
        return documents.remove(0);
    }
    let failed = documents.iter().filter(|d| d.status == "failed").count();
    let duplicate = documents.iter().all(|d| d.duplicate);
    let status = if failed == documents.len() {
        "failed"
    } else if failed > 0 {
        "partial"
    } else if duplicate {
        "duplicate"
    } else if documents.iter().any(|d| d.status == "received") {
        "received"
    } else {
        "processed"
    };
    let mut order_ids: Vec<String> = Vec::new();
    for id in documents.iter().flat_map(|d| &d.order_ids) {
        if !order_ids.contains(id) {
            order_ids.push(id.clone());
        }
    }
    Accepted {
        message_id: documents
            .first()
            .map(|d| d.message_id.clone())
            .unwrap_or_default(),
        status: status.into(),
        duplicate,
        order_ids,
        created: documents.iter().map(|d| d.created).sum(),
        error: documents.iter().find_map(|d| d.error.clone()),
        documents,
    }
}

fn accepted(outcome: Processed) -> Accepted {
    match outcome {
        Processed::Done {
            id,
            status,
            order_ids,
            created,
            error,
        } => Accepted {
            message_id: id,
            status,
            duplicate: false,
            order_ids,
            created,
            error,
            documents: Vec::new(),
        },
        Processed::Duplicate { id, order_ids } => Accepted {
            message_id: id,
            status: "duplicate".into(),
            duplicate: true,
            order_ids,
            created: 0,
            error: None,
            documents: Vec::new(),
        },
        Processed::AlreadyProcessed { id } => Accepted {
            message_id: id,
            status: "duplicate".into(),
            duplicate: true,
            order_ids: Vec::new(),
            created: 0,
            error: None,
            documents: Vec::new(),
        },
    }
}

/// Proves the document comes from the instance's source, as its type does it.
async fn verify(
    state: &AppState,
    loaded: &Loaded,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<()> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ok = match loaded.kind.verification {
        Verification::ShopifyHmac => match (
            loaded.connection("webhook_secret"),
            header("x-shopify-hmac-sha256"),
        ) {
            (Some(secret), Some(given)) => {
                iom_providers::secrets::verify_shopify(secret, body, given)
            }
            _ => false,
        },
        Verification::EasyPostHmac => match (
            loaded.connection("webhook_secret"),
            header("x-hmac-signature"),
        ) {
            (Some(secret), Some(given)) => {
                iom_providers::secrets::verify_easypost(secret, body, given)
            }
            _ => false,
        },
        Verification::SharedSecretHeader => {
            match (
                loaded.connection("webhook_secret"),
                header("x-webhook-secret"),
            ) {
                (Some(secret), Some(given)) => iom_providers::secrets::constant_time_eq(
                    secret.as_bytes(),
                    given.trim().as_bytes(),
                ),
                _ => false,
            }
        }
        Verification::BearerToken => {
            let token = header(header::AUTHORIZATION.as_str())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(ApiError::unauthorized)?;
            let principal = state.tokens.authenticate(&state.store, token).await?;
            principal.require(Access::Capture)?;
            principal.require_provider(&loaded.record.name)?;
            true
        }
        Verification::None => {
            return Err(ApiError::invalid_field(
                "provider",
                format!("a {} provider receives no documents", loaded.kind.name),
            ));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad-signature",
            "the document's signature does not verify",
        ))
    }
}

/// Receive a document from a provider: JSON, X12, CSV or XML as the source sends it.
///
/// A `shopify` instance reads `X-Shopify-Topic`: `orders/create` (a new order), `orders/updated`
/// (the order is changed while not released; after release a change fails the message with the
/// reason, an update that changes nothing iom keeps is processed without effect),
/// `orders/cancelled`, `refunds/create`, `fulfillments/create` and `fulfillments/update` (a
/// shipment, once per Shopify fulfillment id). Any other topic is answered
/// `{"status": "ignored"}` and kept in the log as `ignored`. Without the header the body decides.
#[utoipa::path(post, path = "/api/v1/inbound/{provider}", tag = "providers",
    params(("provider" = String, Path),
        ("X-Shopify-Topic" = Option<String>, Header, description = "Shopify instances: what the webhook means")),
    request_body(content = String, description = "The raw document"),
    responses((status = 202, body = Accepted, description = "Logged; `status` says what became of it: `processed`, `failed` (with `error`), `ignored` (with the reason in `error`), `duplicate`, or `received` when processing continues later"),
        (status = 401, body = Problem, description = "Signature or token missing or wrong", content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub async fn inbound(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let loaded = state.pipeline.load(&state.store, &provider).await?;
    verify(&state, &loaded, &headers, &body).await?;
    // Shopify says what a webhook means in a header; without one the body decides.
    let topic = (loaded.kind.name == "shopify")
        .then(|| {
            iom_providers::shopify::topic(
                headers.get("x-shopify-topic").and_then(|v| v.to_str().ok()),
            )
        })
        .flatten();
    let outcomes = match topic {
        Some(topic) => vec![
            state
                .pipeline
                .receive_topic(&state.store, &loaded, &topic, body.to_vec())
                .await?,
        ],
        None => {
            state
                .pipeline
                .receive(&state.store, &loaded, body.to_vec())
                .await?
        }
    };
    metrics::counter!("iom_inbound_messages_total", "provider" => provider).increment(1);
    Ok((StatusCode::ACCEPTED, Json(receipt(outcomes))).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct MessageQuery {
    /// `received`, `processed`, `failed`, `ignored`, `dead`, `pending` or `ready`.
    pub status: Option<String>,
    /// 1 to 500; 50 when absent.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub provider: String,
    pub direction: String,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub content_hash: String,
    pub order_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The document as received (on the single-message read only); base64 when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_encoding: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    pub next_cursor: Option<String>,
}

fn message_view(m: MessageRecord, with_payload: bool) -> MessageView {
    let (payload, encoding) = if with_payload {
        match String::from_utf8(m.payload) {
            Ok(text) => (Some(text), Some("utf8")),
            Err(e) => {
                use base64::Engine;
                (
                    Some(base64::engine::general_purpose::STANDARD.encode(e.into_bytes())),
                    Some("base64"),
                )
            }
        }
    } else {
        (None, None)
    };
    MessageView {
        id: m.id,
        provider: m.provider,
        direction: m.direction,
        kind: m.kind,
        status: m.status,
        attempts: m.attempts,
        error: m.error,
        content_hash: m.content_hash,
        order_ids: m.order_ids,
        created_at: m.created_at,
        updated_at: m.updated_at,
        payload,
        payload_encoding: encoding,
    }
}

/// The message log of a provider, newest first.
#[utoipa::path(get, path = "/api/v1/providers/{name}/messages", tag = "providers",
    params(("name" = String, Path), MessageQuery),
    responses((status = 200, body = MessagePage),
        (status = 404, body = Problem, description = "No provider has this name", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn messages(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    Query(query): Query<MessageQuery>,
) -> ApiResult<Json<MessagePage>> {
    principal.require(Access::Read)?;
    principal.require_provider(&name)?;
    if let Some(status) = &query.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::invalid_field(
            "status",
            format!("must be one of {}", STATUSES.join(", ")),
        ));
    }
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 500",
        ));
    }
    if state.store.get_provider(name.clone()).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "provider {name} does not exist"
        )));
    }
    let items = state
        .store
        .list_messages(MessageFilter {
            provider: name,
            status: query.status,
            limit,
            cursor: query.cursor.filter(|c| !c.is_empty()),
            ..MessageFilter::default()
        })
        .await?;
    let next_cursor = (items.len() == limit)
        .then(|| items.last().map(|m| m.id.clone()))
        .flatten();
    Ok(Json(MessagePage {
        items: items.into_iter().map(|m| message_view(m, false)).collect(),
        next_cursor,
    }))
}

/// One message with its payload.
#[utoipa::path(get, path = "/api/v1/providers/{name}/messages/{id}", tag = "providers",
    params(("name" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = MessageView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn message(
    State(state): State<AppState>,
    principal: Principal,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<MessageView>> {
    principal.require(Access::Read)?;
    principal.require_provider(&name)?;
    let m = state
        .store
        .get_message(name, id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("message {id} does not exist")))?;
    Ok(Json(message_view(m, true)))
}

/// Process a failed (or unfinished) inbound message again with the instance as it is now; send
/// a failed or dead outbound message again, with a fresh set of attempts.
#[utoipa::path(post, path = "/api/v1/providers/{name}/messages/{id}/retry", tag = "providers",
    params(("name" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = MessageView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "Already processed, or an outbound message that is not failed or dead", content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    principal: Principal,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<MessageView>> {
    principal.require(Access::Operate)?;
    principal.require_provider(&name)?;
    let m = state
        .store
        .get_message(name.clone(), id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("message {id} does not exist")))?;
    if m.direction != "inbound" {
        if !state
            .store
            .requeue_outbound(name.clone(), id.clone())
            .await?
        {
            return Err(ApiError::conflict(format!(
                "an outbound message is sent again only when failed or dead (and written); this one is {}",
                m.status
            )));
        }
        let m = state
            .store
            .get_message(name, id.clone())
            .await?
            .ok_or_else(|| ApiError::not_found(format!("message {id} does not exist")))?;
        return Ok(Json(message_view(m, false)));
    }
    if m.status == "processed" {
        return Err(ApiError::conflict("the message is already processed"));
    }
    let loaded = state.pipeline.load(&state.store, &name).await?;
    if let Processed::AlreadyProcessed { .. } =
        state.pipeline.reprocess(&state.store, &loaded, m).await?
    {
        return Err(ApiError::conflict("the message is already processed"));
    }
    let m = state
        .store
        .get_message(name, id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("message {id} does not exist")))?;
    Ok(Json(message_view(m, false)))
}

/// A trading partner of an `x12` instance: what its own interchanges say about its envelope,
/// and what the instance's `settings.x12.partners` sets over it. Documents to it use the set
/// values, then the learned ones, then the instance's.
#[derive(Serialize, ToSchema)]
pub struct PartnerView {
    /// Its interchange id (ISA06 of what it sends).
    pub id: String,
    /// Learned from its latest interchange: `qualifier`, `id`, `application_id`,
    /// `our_qualifier`, `our_id`, `our_application_id`, `version`, `usage`, separators; null
    /// for a partner only set in the settings.
    #[schema(value_type = Option<Object>)]
    pub learned: Option<Value>,
    /// `settings.x12.partners.{id}` of the instance, when there is one.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    /// Interchanges received from it.
    pub interchanges: i64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct PartnerList {
    pub items: Vec<PartnerView>,
}

/// The trading partners of an `x12` instance, by id.
#[utoipa::path(get, path = "/api/v1/providers/{name}/partners", tag = "providers",
    params(("name" = String, Path)),
    responses((status = 200, body = PartnerList), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn partners(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<PartnerList>> {
    principal.require(Access::Read)?;
    let record = existing(&state, &name).await?;
    let set = record.config["settings"]["x12"]["partners"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut items: BTreeMap<String, PartnerView> = BTreeMap::new();
    for learned in state.store.x12_partners(name).await? {
        items.insert(
            learned.partner.clone(),
            PartnerView {
                settings: set.get(&learned.partner).cloned(),
                id: learned.partner,
                learned: Some(learned.profile),
                interchanges: learned.interchanges,
                first_seen: Some(learned.first_seen),
                last_seen: Some(learned.last_seen),
            },
        );
    }
    for (id, settings) in set {
        items.entry(id.clone()).or_insert(PartnerView {
            id,
            learned: None,
            settings: Some(settings),
            interchanges: 0,
            first_seen: None,
            last_seen: None,
        });
    }
    Ok(Json(PartnerList {
        items: items.into_values().collect(),
    }))
}
