//! Notification templates (list, edit with the error's field and line shown, preview for an
//! order) and the notifications sent. Saving and previewing call the API's handlers.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::session::Session;
use super::{UiResult, done, format, layout};
use crate::AppState;
use crate::json::ApiJson;
use crate::routes::notifications as api;

fn body<T>(value: T) -> ApiJson<T> {
    ApiJson {
        value,
        raw: Default::default(),
    }
}

fn page_of(name: &str) -> String {
    format!("/ui/notification-templates/{name}")
}

pub async fn templates(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    let list = api::list_templates(State(state), session.principal.clone()).await?;
    let body = html! {
        h1 { "Notification templates" }
        p.muted { "E-mails and webhooks sent when a business event happens. "
            a href="/ui/notifications" { "What was sent" } }
        table #templates {
            thead { tr { th { "Name" } th { "Event" } th { "Channel" } th { "To" } th { "Source" } th { "Enabled" } } }
            tbody { @for t in &list.items { tr {
                td { a href=(page_of(&t.name)) { (t.name) } }
                td { code { (t.event) } }
                td { (t.channel) }
                td { code { (t.to) } }
                td { (t.source) }
                td { @if t.enabled { "yes" } @else { "no" } }
            } } }
        }
    };
    Ok(layout::page(
        &session,
        "Notification templates",
        "/ui/notification-templates",
        body,
    ))
}

#[derive(Deserialize, Default)]
pub struct EditParams {
    #[serde(default)]
    pub order_id: String,
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Query(params): Query<EditParams>,
) -> UiResult<Response> {
    let template = match api::get_template(
        State(state.clone()),
        session.principal.clone(),
        Path(name.clone()),
    )
    .await
    {
        Ok(t) => Some(t.0),
        Err(e) if e.status() == StatusCode::NOT_FOUND => None,
        Err(e) => return Err(e.into()),
    };
    let preview = if params.order_id.trim().is_empty() || template.is_none() {
        None
    } else {
        Some(
            api::preview(
                State(state),
                session.principal.clone(),
                Path(name.clone()),
                body(api::PreviewRequest {
                    order_id: params.order_id.trim().to_owned(),
                }),
            )
            .await,
        )
    };
    let t = template.as_ref();
    let field = |f: fn(&api::TemplateView) -> &str| t.map(f).unwrap_or_default().to_owned();
    let channel = field(|t| &t.channel);
    let body = html! {
        h1 { "Notification template " code { (name) } }
        @if let Some(t) = t { p.muted { (t.source) " template" } }
        form.edit method="post" action=(page_of(&name)) {
            input type="hidden" name="csrf" value=(session.csrf);
            label { "Event" input name="event" required value=(field(|t| &t.event)); }
            label { "Channel"
                select name="channel" {
                    option value="email" selected[channel != "webhook"] { "email" }
                    option value="webhook" selected[channel == "webhook"] { "webhook" }
                }
            }
            label { "To" input name="to" value=(field(|t| &t.to)); }
            label { "Subject" input name="subject" value=(field(|t| &t.subject)); }
            label { "Text" textarea name="body" rows="12" { (field(|t| &t.body)) } }
            label { "HTML" textarea name="html" rows="12" { (t.and_then(|t| t.html.clone()).unwrap_or_default()) } }
            label { input type="checkbox" name="enabled" value="true" checked[t.is_none_or(|t| t.enabled)]; " enabled" }
            button type="submit" disabled[!session.can(crate::auth::Access::Configure)] { "Save" }
        }
        h2 { "Preview" }
        form.filters method="get" action=(page_of(&name)) {
            label { "Order id" input name="order_id" value=(params.order_id); }
            button type="submit" { "Preview" }
        }
        @match &preview {
            Some(Ok(p)) => {
                dl {
                    dt { "To" } dd { (p.to.join(", ")) }
                    dt { "Subject" } dd { (p.subject) }
                }
                pre #preview-text { (p.body) }
                @if let Some(h) = &p.html {
                    iframe #preview-html sandbox="" srcdoc=(h) style="width:100%;height:20em" {}
                }
            }
            Some(Err(e)) => { p.flash.error role="alert" { (e.problem.detail)
                @for f in &e.problem.errors { " (" (f.field) ": " (f.message) ")" } } }
            None => {}
        }
    };
    Ok(layout::page(
        &session,
        "Notification template",
        "/ui/notification-templates",
        body,
    ))
}

#[derive(Deserialize)]
pub struct TemplateForm {
    pub csrf: String,
    pub event: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub html: String,
    #[serde(default)]
    pub enabled: String,
}

pub async fn save(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<TemplateForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    // Browsers send text areas with CRLF line ends; templates keep plain newlines.
    let text = |s: &str| s.replace("\r\n", "\n");
    let mut doc = json!({
        "event": form.event.trim(),
        "channel": if form.channel.is_empty() { "email" } else { form.channel.as_str() },
        "subject": text(&form.subject),
        "body": text(&form.body),
        "enabled": form.enabled == "true",
    });
    if !form.to.trim().is_empty() {
        doc["to"] = json!(form.to.trim());
    }
    if !form.html.trim().is_empty() {
        doc["html"] = json!(text(&form.html));
    }
    let result = api::put_template(
        State(state),
        session.principal.clone(),
        Path(name.clone()),
        body(doc),
    )
    .await
    .map(|_| "The template is saved.".to_owned());
    done(&session, &page_of(&name), result)
}

#[derive(Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    pub order_id: String,
    #[serde(default)]
    pub cursor: String,
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
) -> UiResult<Response> {
    crate::auth::Principal::require(&session.principal, crate::auth::Access::Read)?;
    let page = api::page(
        &state,
        api::NotificationQuery {
            order_id: Some(params.order_id.clone()).filter(|s| !s.is_empty()),
            limit: Some("50".into()),
            cursor: Some(params.cursor.clone()).filter(|s| !s.is_empty()),
        },
    )
    .await;
    let (page, error) = match page {
        Ok(p) => (Some(p), None),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => (None, Some(e)),
        Err(e) => return Err(e.into()),
    };
    let body = html! {
        h1 { "Notifications" }
        p.muted { a href="/ui/notification-templates" { "Templates" } }
        form.filters method="get" action="/ui/notifications" {
            label { "Order id" input name="order_id" value=(params.order_id); }
            button type="submit" { "Show" }
        }
        @if let Some(e) = &error { p.flash.error role="alert" { (e.problem.detail) } }
        @if let Some(page) = &page {
            @if page.items.is_empty() { p.muted { "No notifications." } } @else {
                div.table-scroll {
                    table #notifications {
                        thead { tr { th { "Created" } th { "Order" } th { "Event" } th { "Template" } th { "To" } th { "Status" } th { "Attempts" } th { "Last error" } } }
                        tbody { @for n in &page.items { tr {
                            td { (format::time(n.created_at)) }
                            td { @if let Some(o) = &n.order_id { a href={ "/ui/orders/" (o) } { code { (o) } } } }
                            td { code { (n.event_type) } " #" (n.event_seq) }
                            td { a href=(page_of(&n.template)) { (n.template) } }
                            td { (n.recipient) }
                            td { (format::badge(&n.status)) }
                            td { (n.attempts) }
                            td { (n.last_error.clone().unwrap_or_default()) }
                        } } }
                    }
                }
            }
            @if let Some(next) = &page.next_cursor {
                nav.pager { a rel="next" href={ "/ui/notifications" (format::query(&[("order_id", &params.order_id), ("cursor", next)])) } { "Next page »" } }
            }
        }
    };
    Ok(layout::page(
        &session,
        "Notifications",
        "/ui/notification-templates",
        body,
    ))
}
