//! Provider instances with their message logs (and a retry for what failed), and the webhook
//! subscriptions with how far each has delivered.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::SecondsFormat;
use iom_store::providers::{MessageFilter, MessageRecord, STATUSES, subscription_consumer};
use maud::html;
use serde::Deserialize;

use super::lists::{self, CsvPage};
use super::session::Session;
use super::{UiResult, done, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use crate::routes::providers as api;

const PAGE: usize = 50;
/// How much of a payload a row shows.
const PREVIEW: usize = 160;

pub async fn list(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    let providers = state.store.list_providers().await?;
    let body = html! {
        h1 { "Providers" }
        @if session.can(Access::Configure) { p { a #new-provider href="/ui/providers/new" { "New provider" } } }
        @if providers.is_empty() { p.muted { "No provider instances yet." } } @else {
            table #providers {
                thead { tr { th { "Name" } th { "Type" } th { "Secrets set" } th { "Updated" } } }
                tbody { @for p in &providers { tr {
                    td { a href={ "/ui/providers/" (format::segment(&p.name)) } { (p.name) } }
                    td { (p.kind) }
                    td { (p.secrets.keys().cloned().collect::<Vec<_>>().join(", ")) }
                    td { (format::time(p.updated_at)) }
                } } }
            }
        }
    };
    Ok(layout::page(&session, "Providers", "/ui/providers", body))
}

#[derive(Deserialize, Default)]
pub struct MessageParams {
    #[serde(default)]
    pub status: String,
    /// `created` (oldest first) or `-created` (newest first, the default).
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub cursor: String,
    /// `csv` for every message the filter finds, as CSV.
    #[serde(default)]
    pub format: String,
}

/// Messages read per page of an export.
const EXPORT_PAGE: usize = 500;

/// The store's filter for a provider's messages; every bad parameter named.
fn message_filter(name: &str, params: &MessageParams) -> Result<MessageFilter, ApiError> {
    let mut errors = Vec::new();
    let status = lists::one_of("status", &params.status, STATUSES, &mut errors);
    let (sort, cursor) = lists::sort_and_cursor(&params.sort, &params.cursor, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    Ok(MessageFilter {
        provider: name.to_owned(),
        status,
        limit: PAGE,
        cursor: cursor.map(|a| a.id),
        sort,
    })
}

pub async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Query(params): Query<MessageParams>,
) -> UiResult<Response> {
    let provider = state
        .store
        .get_provider(name.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("provider {name} does not exist")))?;
    let filter = message_filter(&name, &params)?;
    if params.format == "csv" {
        return Ok(export(state, filter, &name));
    }
    let (messages, total) = tokio::try_join!(
        state.store.list_messages(filter.clone()),
        state.store.count_messages(filter.clone()),
    )?;
    let next = (messages.len() == PAGE)
        .then(|| messages.last().map(|m| m.id.clone()))
        .flatten();
    let can_retry = session.can(Access::Operate);
    let base = format!("/ui/providers/{}", format::segment(&name));
    let sort = params.sort.trim();
    let filters = [("status", params.status.trim())];
    let pairs = [("status", params.status.trim()), ("sort", sort)];
    let csv_pairs = [
        ("status", params.status.trim()),
        ("sort", sort),
        ("format", "csv"),
    ];
    // Newest first unless told otherwise: the header shows that as a descending sort.
    let current = if sort.is_empty() { "-created" } else { sort };
    let config = serde_json::to_string_pretty(&provider.config).unwrap_or_default();
    let body = html! {
        p.muted { a href="/ui/providers" { "Providers" } " ›" }
        h1 { "Provider " (provider.name) " " span.badge { (provider.kind) } }
        (super::provider_form::actions(&session, &name))
        details.card {
            summary { "Configuration (without secrets)" }
            pre { (config) }
        }
        h2 { "Messages" }
        form.filters method="get" action=(base) {
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES { option value=(s) selected[params.status == *s] { (s) } }
                }
            }
            @if !sort.is_empty() { input type="hidden" name="sort" value=(sort); }
            button type="submit" { "Show" }
        }
        div.list-head {
            (lists::count_capped(total, "message", "messages"))
            a.export href={ (base) (format::query(&csv_pairs)) } download { "Export CSV" }
        }
        @if messages.is_empty() { p.muted { "No messages." } } @else {
            div.table-scroll {
                table #messages {
                    thead { tr {
                        th { "Id" } th { "Direction · kind" } th { "Status" } th.num { "Attempts" } th { "Error" } th { "Orders" } th { "Payload" }
                        (lists::sort_header(&base, &filters, current, "created", "At", false))
                        th {}
                    } }
                    tbody { @for m in &messages { tr {
                        td { code title=(m.id) { (m.id.get(..8).unwrap_or(&m.id)) } }
                        td { (m.direction) " · " (m.kind) }
                        td { (format::badge(&m.status)) }
                        td.num { (m.attempts) }
                        td { @if let Some(e) = &m.error { code { (error_text(e)) } } }
                        td { @for id in &m.order_ids { a href={ "/ui/orders/" (format::segment(id)) } { code { (id.get(..8).unwrap_or(id)) } } " " } }
                        td { code { (preview(&m.payload)) } }
                        td { (format::time(m.created_at)) }
                        td {
                            @if can_retry && m.direction == "inbound" && m.status != "processed" {
                                form.inline method="post" action={ (base) "/messages/" (format::segment(&m.id)) "/retry" } {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    button.secondary type="submit" { "Retry" }
                                }
                            }
                        }
                    } } }
                }
            }
        }
        (lists::pager(&base, &pairs, !params.cursor.is_empty(), next.as_deref()))
    };
    Ok(layout::page(
        &session,
        &format!("Provider {name}"),
        "/ui/providers",
        body,
    ))
}

/// A message's error as a row shows it: its message, else the whole error.
fn error_text(e: &serde_json::Value) -> String {
    e["message"]
        .as_str()
        .map_or_else(|| e.to_string(), str::to_owned)
}

const CSV_HEADER: &[&str] = &[
    "id",
    "direction",
    "kind",
    "status",
    "attempts",
    "error",
    "order_ids",
    "payload_preview",
    "created_at",
    "updated_at",
];

/// Every message the filter finds, in its sort, a page at a time: what the page shows of each
/// (the payload only as far as its preview), never more.
fn export(state: AppState, filter: MessageFilter, name: &str) -> Response {
    let filename = if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        format!("{name}-messages.csv")
    } else {
        "messages.csv".to_owned()
    };
    lists::export(
        &filename,
        CSV_HEADER,
        EXPORT_PAGE,
        move |cursor: Option<String>| {
            let filter = MessageFilter {
                cursor,
                limit: EXPORT_PAGE,
                ..filter.clone()
            };
            let store = state.store.clone();
            async move { Ok(store.list_messages(filter).await?) }
        },
        |page: &mut CsvPage, m: &MessageRecord| {
            let time =
                |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
            let fields = [
                m.id.clone(),
                m.direction.clone(),
                m.kind.clone(),
                m.status.clone(),
                m.attempts.to_string(),
                m.error.as_ref().map(error_text).unwrap_or_default(),
                m.order_ids.join(" "),
                preview(&m.payload),
                time(m.created_at),
                time(m.updated_at),
            ];
            page.record(fields.iter().map(String::as_str));
        },
        |m: &MessageRecord| m.id.clone(),
    )
}

fn preview(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    let mut out: String = text.chars().take(PREVIEW).collect();
    if text.chars().count() > PREVIEW {
        out.push('…');
    }
    out
}

#[derive(Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn retry(
    State(state): State<AppState>,
    session: Session,
    Path((name, id)): Path<(String, String)>,
    Form(form): Form<RetryForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let result = api::retry(
        State(state),
        session.principal.clone(),
        Path((name.clone(), id.clone())),
    )
    .await
    .map(|m| format!("Message {id} retried: {}.", m.0.status));
    done(
        &session,
        &format!("/ui/providers/{}", format::segment(&name)),
        result,
    )
}

pub async fn subscriptions(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    let subscriptions = state.store.list_subscriptions().await?;
    let last = state.store.last_event_seq().await?;
    let mut rows = Vec::with_capacity(subscriptions.len());
    for s in subscriptions {
        let cursor = state
            .store
            .read_cursor(subscription_consumer(&s.name))
            .await?;
        rows.push((s, cursor));
    }
    let body = html! {
        h1 { "Subscriptions" }
        @if session.can(Access::Configure) {
            p.actions {
                a #new-subscription href="/ui/subscriptions/new" { "New subscription" } " · "
                a #new-alert href="/ui/alerts/new" { "New alert" } span.muted { " (alerts fire as alert.fired events)" }
            }
        }
        p.hint { "Business events are delivered at least once, in order, to each subscription. The last event committed is number " (last) "." }
        @if rows.is_empty() { p.muted { "No subscriptions." } } @else {
            table #subscriptions {
                thead { tr { th { "Name" } th { "URL" } th { "Types" } th.num { "Delivered up to" } th.num { "Behind" } th.num { "Failed attempts" } th { "Last error" } th { "Last success" } } }
                tbody { @for (s, c) in &rows { tr {
                    td { @if session.can(Access::Configure) { a href={ "/ui/subscriptions/" (format::segment(&s.name)) "/edit" } { (s.name) } } @else { (s.name) } }
                    td { code { (s.url) } }
                    td { (s.types.join(", ")) }
                    @if let Some(c) = c {
                        td.num { (c.cursor) }
                        td.num { (last - c.cursor) }
                        td.num { (c.attempts) }
                        td { (c.last_error.clone().unwrap_or_default()) }
                        td { @if let Some(at) = c.last_success_at { (format::time(at)) } }
                    } @else {
                        td {} td {} td {} td {} td {}
                    }
                } } }
            }
        }
    };
    Ok(layout::page(
        &session,
        "Subscriptions",
        "/ui/subscriptions",
        body,
    ))
}
