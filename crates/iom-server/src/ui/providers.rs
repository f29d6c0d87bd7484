//! Provider instances with their message logs (and a retry for what failed), and the webhook
//! subscriptions with how far each has delivered.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use iom_store::providers::{MessageFilter, STATUSES, subscription_consumer};
use maud::html;
use serde::Deserialize;

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
    #[serde(default)]
    pub cursor: String,
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
    let status = Some(params.status.clone()).filter(|s| STATUSES.contains(&s.as_str()));
    let messages = state
        .store
        .list_messages(MessageFilter {
            provider: name.clone(),
            status: status.clone(),
            limit: PAGE,
            cursor: Some(params.cursor.clone()).filter(|c| !c.is_empty()),
        })
        .await?;
    let next = (messages.len() == PAGE)
        .then(|| messages.last().map(|m| m.id.clone()))
        .flatten();
    let can_retry = session.can(Access::Operate);
    let base = format!("/ui/providers/{}", format::segment(&name));
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
            button type="submit" { "Show" }
        }
        @if messages.is_empty() { p.muted { "No messages." } } @else {
            div.table-scroll {
                table #messages {
                    thead { tr { th { "Id" } th { "Direction · kind" } th { "Status" } th.num { "Attempts" } th { "Error" } th { "Orders" } th { "Payload" } th { "At" } th {} } }
                    tbody { @for m in &messages { tr {
                        td { code title=(m.id) { (m.id.get(..8).unwrap_or(&m.id)) } }
                        td { (m.direction) " · " (m.kind) }
                        td { (format::badge(&m.status)) }
                        td.num { (m.attempts) }
                        td { @if let Some(e) = &m.error { code { (e["message"].as_str().map_or_else(|| e.to_string(), str::to_owned)) } } }
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
        nav.pager aria-label="Pages" {
            @if !params.cursor.is_empty() { a href={ (base) (format::query(&[("status", &params.status)])) } { "« First page" } }
            @if let Some(next) = &next {
                a rel="next" href={ (base) (format::query(&[("status", &params.status), ("cursor", next)])) } { "Next page »" }
            }
        }
    };
    Ok(layout::page(
        &session,
        &format!("Provider {name}"),
        "/ui/providers",
        body,
    ))
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
