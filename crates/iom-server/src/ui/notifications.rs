//! Notification templates (list, edit with the error's field and line shown, preview for an
//! order) and the notifications sent. Saving and previewing call the API's handlers.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use serde_json::json;

use chrono::SecondsFormat;
use iom_domain::FieldError;
use iom_store::keyset::After;
use iom_store::notifications::{NotificationFilter, NotificationRecord, STATUSES};

use super::lists::{self, CsvPage};
use super::session::Session;
use super::{UiResult, done, format, layout};
use crate::AppState;
use crate::error::ApiError;
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
    pub status: String,
    /// `created` or `status`, `-` first for descending; newest first when empty.
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub cursor: String,
    /// `csv` for every notification the filter finds, as CSV.
    #[serde(default)]
    pub format: String,
}

impl ListParams {
    /// The filter, without sort or cursor.
    fn filters(&self) -> Vec<(&str, &str)> {
        vec![
            ("order_id", self.order_id.trim()),
            ("status", self.status.trim()),
        ]
    }

    /// The filter and the sort: what a page link, a saved filter and the export keep.
    fn pairs(&self) -> Vec<(&str, &str)> {
        let mut pairs = self.filters();
        pairs.push(("sort", self.sort.trim()));
        pairs
    }

    /// The store's filter; every bad parameter named.
    fn filter(&self) -> Result<NotificationFilter, ApiError> {
        let mut errors = Vec::new();
        let order_id = match self.order_id.trim() {
            "" => None,
            o => match o.parse::<iom_domain::OrderId>() {
                Ok(id) => Some(id.to_string()),
                Err(_) => {
                    errors.push(FieldError::new("order_id", "is not an order id"));
                    None
                }
            },
        };
        let status = lists::one_of("status", &self.status, STATUSES, &mut errors);
        let (sort, after) = lists::sort_and_cursor(&self.sort, &self.cursor, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        Ok(NotificationFilter {
            order_id,
            status,
            sort,
            after,
            limit: PAGE,
        })
    }
}

const PAGE: usize = 50;

/// Notifications read per page of an export.
const EXPORT_PAGE: usize = 500;

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<ListParams>,
) -> UiResult<Response> {
    crate::auth::Principal::require(&session.principal, crate::auth::Access::Read)?;
    if params.format == "csv" {
        return Ok(export(state, params.filter()?));
    }
    let result = match params.filter() {
        Ok(filter) => tokio::try_join!(
            state.store.notification_page(filter.clone()),
            state.store.count_notifications(filter.clone()),
        )
        .map(|(items, total)| Some((filter, items, total)))
        .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let saved = lists::load_saved(&state, &session, "notifications").await?;
    let (page, error) = match result {
        Ok(page) => (page, None),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => (None, Some(e)),
        Err(e) => return Err(e.into()),
    };
    let base = params.pairs();
    let filters = params.filters();
    let sort = params.sort.trim();
    let mut csv_pairs = base.clone();
    csv_pairs.push(("format", "csv"));
    let current_query = format::query(&base);
    let next = page.as_ref().and_then(|(filter, items, _)| {
        (items.len() == PAGE)
            .then(|| items.last())
            .flatten()
            .map(|n| After::row(filter.sort, || n.status.clone(), &n.id).cursor())
    });
    let header = |column: &str, label: &str| {
        lists::sort_header("/ui/notifications", &filters, sort, column, label, false)
    };
    let body = html! {
        h1 { "Notifications" }
        p.muted { a href="/ui/notification-templates" { "Templates" } }
        form.filters method="get" action="/ui/notifications" {
            label { "Order id" input name="order_id" value=(params.order_id); }
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES { option value=(s) selected[params.status == *s] { (s.replace('_', " ")) } }
                }
            }
            @if !sort.is_empty() { input type="hidden" name="sort" value=(sort); }
            button type="submit" { "Show" }
            a href="/ui/notifications" { "Clear" }
        }
        (lists::saved_filters(&session, "notifications", "/ui/notifications", current_query.trim_start_matches('?'), &saved))
        @if let Some(e) = &error {
            p.flash.error role="alert" {
                (e.problem.detail)
                @for f in &e.problem.errors { " · " code { (f.field) } " " (f.message) }
            }
        }
        @if let Some((_, items, total)) = &page {
            div.list-head {
                (lists::count_capped(*total, "notification", "notifications"))
                a.export href={ "/ui/notifications" (format::query(&csv_pairs)) } download { "Export CSV" }
            }
            @if items.is_empty() { p.muted { "No notifications." } } @else {
                div.table-scroll {
                    table #notifications {
                        thead { tr {
                            (header("created", "Created"))
                            th { "Order" } th { "Event" } th { "Template" } th { "To" }
                            (header("status", "Status"))
                            th { "Attempts" } th { "Last error" }
                        } }
                        tbody { @for n in items { tr {
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
            (lists::pager("/ui/notifications", &base, !params.cursor.is_empty(), next.as_deref()))
        }
    };
    let mut response = layout::page(
        &session,
        "Notifications",
        "/ui/notification-templates",
        body,
    );
    if error.is_some() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

const CSV_HEADER: &[&str] = &[
    "id",
    "created_at",
    "order_id",
    "event_type",
    "event_seq",
    "template",
    "channel",
    "recipient",
    "subject",
    "status",
    "attempts",
    "last_error",
    "sent_at",
];

/// Every notification the filter finds, in its sort, a page at a time.
fn export(state: AppState, filter: NotificationFilter) -> Response {
    let sort = filter.sort;
    lists::export(
        "notifications.csv",
        CSV_HEADER,
        EXPORT_PAGE,
        move |after: Option<After>| {
            let filter = NotificationFilter {
                after,
                limit: EXPORT_PAGE,
                ..filter.clone()
            };
            let store = state.store.clone();
            async move { Ok(store.notification_page(filter).await?) }
        },
        |page: &mut CsvPage, n: &NotificationRecord| {
            let time =
                |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
            let (created, seq, attempts) = (
                time(n.created_at),
                n.event_seq.to_string(),
                n.attempts.to_string(),
            );
            let sent = n.sent_at.map(time).unwrap_or_default();
            page.record([
                n.id.as_str(),
                &created,
                n.order_id.as_deref().unwrap_or(""),
                &n.event_type,
                &seq,
                &n.template,
                &n.channel,
                &n.recipient,
                &n.subject,
                &n.status,
                &attempts,
                n.last_error.as_deref().unwrap_or(""),
                &sent,
            ]);
        },
        move |n: &NotificationRecord| After::row(sort, || n.status.clone(), &n.id),
    )
}
