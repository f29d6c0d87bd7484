//! `/api/v1/notification-templates` and `/api/v1/notifications`: the templates business events
//! are rendered with (defaults, replaced by name), a preview for an order, and what was sent.
//! The use cases are `iom_app::notifications`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iom_app::notifications::{self, NamedTemplate, NotifyError};
use iom_store::notifications::NotificationRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiJson;

#[derive(Serialize, ToSchema)]
pub struct TemplateView {
    pub name: String,
    /// The business event type that sends it.
    pub event: String,
    /// `email` or `webhook`.
    pub channel: String,
    /// Recipients (a template): e-mail addresses separated by commas, or a URL.
    pub to: String,
    pub subject: String,
    /// The plain-text part (a webhook's body).
    pub body: String,
    /// The HTML part of an e-mail.
    pub html: Option<String>,
    pub enabled: bool,
    /// `default` (shipped with iom) or `custom` (saved by an operator).
    pub source: String,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<NamedTemplate> for TemplateView {
    fn from(t: NamedTemplate) -> Self {
        TemplateView {
            name: t.name,
            event: t.template.event,
            channel: t.template.channel.as_str().to_owned(),
            to: t.template.to,
            subject: t.template.subject,
            body: t.template.body,
            html: t.template.html,
            enabled: t.template.enabled,
            source: if t.custom { "custom" } else { "default" }.to_owned(),
            updated_at: t.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TemplateList {
    pub items: Vec<TemplateView>,
    /// Always null: the list is complete.
    pub next_cursor: Option<String>,
}

/// The body of `PUT /notification-templates/{name}`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TemplatePut {
    /// A business event type (`order.received`, `order.shipment_created`, `alert.fired`, …).
    pub event: String,
    /// `email` (when absent) or `webhook`.
    pub channel: Option<String>,
    /// MiniJinja; `{{ order.customer.email }}` when absent.
    pub to: Option<String>,
    /// MiniJinja; required for e-mail.
    pub subject: Option<String>,
    /// MiniJinja: the plain-text part, or a webhook's body.
    pub body: String,
    /// MiniJinja: the HTML part of an e-mail (escaped automatically).
    pub html: Option<String>,
    /// true when absent; a disabled template sends nothing.
    pub enabled: Option<bool>,
}

/// Every notification template in effect: the defaults and those saved.
#[utoipa::path(get, path = "/api/v1/notification-templates", tag = "notifications",
    responses((status = 200, body = TemplateList)), security(("bearer" = [])))]
pub async fn list_templates(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<TemplateList>> {
    principal.require(Access::Read)?;
    Ok(Json(TemplateList {
        items: notifications::templates(&state.store)
            .await?
            .into_iter()
            .map(TemplateView::from)
            .collect(),
        next_cursor: None,
    }))
}

/// One notification template.
#[utoipa::path(get, path = "/api/v1/notification-templates/{name}", tag = "notifications",
    params(("name" = String, Path)),
    responses((status = 200, body = TemplateView),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_template(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<TemplateView>> {
    principal.require(Access::Read)?;
    notifications::template(&state.store, &name)
        .await?
        .map(|t| Json(t.into()))
        .ok_or_else(|| ApiError::not_found(format!("notification template {name} does not exist")))
}

pub(crate) fn notify_error(e: NotifyError) -> ApiError {
    match e {
        NotifyError::Invalid(errors) => ApiError::invalid(errors),
        NotifyError::NotFound(m) => ApiError::not_found(m),
        NotifyError::Store(e) => e.into(),
    }
}

/// Create or replace a notification template (a default is replaced by saving its name).
///
/// Every part is a MiniJinja template, compiled and rendered against a sample of its event when
/// saved: an error is answered 422 naming the field and the line. In scope: `order`, `event`,
/// `shipment` (with `tracking_url`), `return`, `refund`, `alert`.
#[utoipa::path(put, path = "/api/v1/notification-templates/{name}", tag = "notifications",
    params(("name" = String, Path)), request_body(content = TemplatePut, example = json!({"event": "order.shipped", "channel": "email", "to": "{{ order.customer.email }}", "subject": "Your order {{ order.external_id }} is on its way", "body": "Hello {{ order.customer.name }}, your order {{ order.external_id }} has shipped."})),
    responses((status = 200, body = TemplateView), (status = 201, body = TemplateView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_template(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    body: ApiJson<Value>,
) -> ApiResult<Response> {
    principal.require(Access::Configure)?;
    let created = notifications::put_template(&state.store, &name, &body.value)
        .await
        .map_err(notify_error)?;
    let stored = notifications::template(&state.store, &name)
        .await?
        .ok_or_else(|| ApiError::internal("notification template vanished after PUT"))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(TemplateView::from(stored))).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct PreviewRequest {
    pub order_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct PreviewView {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub html: Option<String>,
}

/// Render a template for an order without sending it.
#[utoipa::path(post, path = "/api/v1/notification-templates/{name}/preview", tag = "notifications",
    params(("name" = String, Path)), request_body(content = PreviewRequest, example = json!({"order_id": "ORD-1"})),
    responses((status = 200, body = PreviewView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn preview(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    body: ApiJson<PreviewRequest>,
) -> ApiResult<Json<PreviewView>> {
    principal.require(Access::Read)?;
    let order_id = body
        .value
        .order_id
        .parse()
        .map_err(|_| ApiError::invalid_field("order_id", "is not an order id"))?;
    let r = notifications::preview(&state.store, &name, order_id)
        .await
        .map_err(notify_error)?;
    Ok(Json(PreviewView {
        to: r.to,
        subject: r.subject,
        body: r.text,
        html: r.html,
    }))
}

/// One notification: what was (or is to be) sent, to whom, and how it went.
#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    pub order_id: Option<String>,
    /// The business event that caused it.
    pub event_seq: i64,
    pub event_type: String,
    pub template: String,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    /// `pending`, `sending`, `handing` (its message on the way to the server), `sent`, `failed`
    /// (tried again at `next_attempt_at`), `dead`, `unknown` (its sender stopped while handing
    /// it over: it may or may not have arrived, and is not sent again) or `opted_out`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The e-mail's `Message-ID`, the same on every attempt.
    pub message_id: String,
}

impl From<NotificationRecord> for NotificationView {
    fn from(n: NotificationRecord) -> Self {
        NotificationView {
            message_id: notifications::send::message_id(&n.id),
            id: n.id,
            order_id: n.order_id,
            event_seq: n.event_seq,
            event_type: n.event_type,
            template: n.template,
            channel: n.channel,
            recipient: n.recipient,
            subject: n.subject,
            status: n.status,
            attempts: n.attempts,
            last_error: n.last_error,
            next_attempt_at: n.next_attempt_at,
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    /// The `cursor` for the next (older) page, or null on the last.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct NotificationQuery {
    /// Only this order's notifications.
    pub order_id: Option<String>,
    /// 1 to 500; 100 when absent.
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Notifications newest first, with attempts, last error and status.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    params(NotificationQuery),
    responses((status = 200, body = NotificationPage),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<NotificationQuery>,
) -> ApiResult<Json<NotificationPage>> {
    principal.require(Access::Read)?;
    let page = page(&state, query).await?;
    Ok(Json(page))
}

pub(crate) async fn page(
    state: &AppState,
    query: NotificationQuery,
) -> Result<NotificationPage, ApiError> {
    let limit = match query.limit.as_deref() {
        None | Some("") => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| ApiError::invalid_field("limit", "must be between 1 and 500"))?,
    };
    let order_id = match query.order_id.as_deref() {
        None | Some("") => None,
        Some(o) => Some(
            o.parse::<iom_domain::OrderId>()
                .map_err(|_| ApiError::invalid_field("order_id", "is not an order id"))?
                .to_string(),
        ),
    };
    let items = state
        .store
        .list_notifications(order_id, query.cursor.filter(|c| !c.is_empty()), limit)
        .await?;
    let next_cursor = (items.len() == limit)
        .then(|| items.last().map(|n| n.id.clone()))
        .flatten();
    Ok(NotificationPage {
        items: items.into_iter().map(NotificationView::from).collect(),
        next_cursor,
    })
}

/// Send an `unknown` or `dead` notification again, at once. An `unknown` one may have arrived
/// already: its sender stopped while handing it over. It keeps its `Message-ID`.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/resend", tag = "notifications",
    params(("id" = String, Path)),
    responses((status = 202, body = NotificationView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn resend(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<NotificationView>)> {
    principal.require(Access::Operate)?;
    match state.store.resend_notification(id.clone()).await? {
        None => Err(ApiError::not_found(format!(
            "notification {id} does not exist"
        ))),
        Some(Err(status)) => Err(ApiError::conflict(format!(
            "notification {id} is {status}: only an unknown or dead notification is sent again"
        ))),
        Some(Ok(n)) => Ok((StatusCode::ACCEPTED, Json(n.into()))),
    }
}
