//! Manual tasks (reviews): open or completed, oldest first, paged by keyset however many there
//! are, each with the order's customer, value and status; decided with Approve or Reject.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use iom_domain::TaskStatus;
use iom_store::flows::{TaskOrder, TaskRow};
use maud::html;
use serde::Deserialize;

use super::attention::money;
use super::lists::CsvPage;
use super::session::Session;
use super::{UiResult, format, layout, lists};
use crate::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use crate::routes::flows as api;

const PAGE: usize = 50;

#[derive(Deserialize)]
pub struct TaskParams {
    #[serde(default)]
    pub status: String,
    /// `created` (oldest first, the default) or `-created` (newest first).
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub cursor: String,
    /// `csv` for every task of the list, as CSV.
    #[serde(default)]
    pub format: String,
}

/// Tasks read from the store per page of an export.
const EXPORT_PAGE: usize = 500;

const CSV_HEADER: &[&str] = &[
    "id",
    "order_id",
    "external_id",
    "customer",
    "value",
    "currency",
    "order_status",
    "queue",
    "step",
    "reason",
    "status",
    "decision",
    "note",
    "created_at",
    "completed_at",
];

/// Every task of the list as CSV, in its order, read and sent a page at a time.
fn export(state: AppState, status: TaskStatus, newest_first: bool) -> Response {
    lists::export(
        "tasks.csv",
        CSV_HEADER,
        EXPORT_PAGE,
        move |after: Option<(DateTime<Utc>, String)>| {
            let store = state.store.clone();
            async move {
                let (rows, _) = store
                    .task_page(Some(status), after, EXPORT_PAGE, newest_first)
                    .await?;
                Ok(rows)
            }
        },
        |page: &mut CsvPage, (t, order): &(TaskRow, Option<TaskOrder>)| {
            let time = |at: Option<DateTime<Utc>>| at.map(|at| at.to_rfc3339()).unwrap_or_default();
            let fields = [
                t.id.clone(),
                t.order_id.clone().unwrap_or_default(),
                order
                    .as_ref()
                    .map(|o| o.external_id.clone())
                    .unwrap_or_default(),
                order
                    .as_ref()
                    .and_then(|o| o.customer_name.clone().or_else(|| o.customer_email.clone()))
                    .unwrap_or_default(),
                order.as_ref().map(|o| o.total.clone()).unwrap_or_default(),
                order
                    .as_ref()
                    .map(|o| o.currency.clone())
                    .unwrap_or_default(),
                order.as_ref().map(|o| o.status.clone()).unwrap_or_default(),
                t.queue.clone(),
                t.step.clone(),
                t.reason.clone().unwrap_or_default(),
                t.status.as_str().to_owned(),
                t.decision.clone().unwrap_or_default(),
                t.note.clone().unwrap_or_default(),
                time(Some(t.created_at)),
                time(t.completed_at),
            ];
            page.record(fields.iter().map(String::as_str));
        },
        |(t, _): &(TaskRow, Option<TaskOrder>)| (t.created_at, t.id.clone()),
    )
}

/// Whether the list runs newest first; any other sort than by creation is refused, naming it.
fn newest_first(sort: &str) -> Result<bool, ApiError> {
    match sort.trim() {
        "" | "created" => Ok(false),
        "-created" => Ok(true),
        _ => Err(ApiError::invalid_field(
            "sort",
            "must be created, with - first for descending",
        )),
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<TaskParams>,
) -> UiResult<Response> {
    let status = if params.status == "completed" {
        TaskStatus::Completed
    } else {
        TaskStatus::Open
    };
    let newest_first = newest_first(&params.sort)?;
    if params.format == "csv" {
        return Ok(export(state, status, newest_first));
    }
    let after = api::parse_task_cursor(Some(params.cursor.as_str()))?;
    let (tasks, total) = state
        .store
        .task_page(Some(status), after, PAGE, newest_first)
        .await?;
    let status_name = status.as_str();
    let next = (tasks.len() == PAGE)
        .then(|| tasks.last())
        .flatten()
        .map(|(t, _)| api::task_cursor(t));
    let sort = params.sort.trim();
    let filters = [("status", params.status.as_str())];
    let pairs = [("status", params.status.as_str()), ("sort", sort)];
    let current = if sort.is_empty() { "created" } else { sort };
    let can_decide = session.can(Access::Operate);
    let body = html! {
        h1 { "Tasks" }
        p {
            @if status == TaskStatus::Open { "Open · " a href="/ui/tasks?status=completed" { "completed" } }
            @else { a href="/ui/tasks" { "open" } " · completed" }
        }
        div #live data-live="flow." {
            div.list-head {
                (lists::count(total, &format!("{status_name} {}", if total == 1 { "task" } else { "tasks" })))
                a.export href={ "/ui/tasks" (format::query(&[("status", params.status.as_str()), ("sort", sort), ("format", "csv")])) } download { "Export CSV" }
            }
            @if tasks.is_empty() { p.muted #no-tasks { "No " (status_name) " tasks." } } @else {
                div.table-scroll {
                    table #tasks {
                        thead { tr {
                            th { "Order" } th { "Customer" } th.num { "Value" } th { "Order status" }
                            th { "Queue" } th { "Step" } th { "Reason" }
                            (lists::sort_header("/ui/tasks", &filters, current, "created", "Created", false))
                            th { "Decision" }
                        } }
                        tbody { @for (t, order) in &tasks { tr {
                            td {
                                @if let Some(id) = &t.order_id {
                                    a href={ "/ui/orders/" (format::segment(id)) } title=(id) {
                                        (order.as_ref().map_or(id.as_str(), |o| o.external_id.as_str()))
                                    }
                                }
                            }
                            td { @if let Some(o) = order { (o.customer_name.clone().or_else(|| o.customer_email.clone()).unwrap_or_default()) } }
                            td.num { @if let Some(o) = order { (money(o)) } }
                            td { @if let Some(o) = order { (format::badge(&o.status)) } }
                            td { (t.queue) }
                            td { (t.step) }
                            td { (t.reason.clone().unwrap_or_default()) }
                            td { (format::time(t.created_at)) }
                            td {
                                @if t.status == TaskStatus::Open && can_decide {
                                    form.inline method="post" action={ "/ui/tasks/" (format::segment(&t.id)) "/complete" } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        input type="text" name="note" placeholder="Note" aria-label="Note";
                                        button type="submit" name="decision" value="approve" { "Approve" }
                                        button.danger type="submit" name="decision" value="reject" { "Reject" }
                                    }
                                } @else {
                                    (t.decision.clone().unwrap_or_default()) " " span.muted { (t.note.clone().unwrap_or_default()) }
                                }
                            }
                        } } }
                    }
                }
            }
            (lists::pager("/ui/tasks", &pairs, !params.cursor.is_empty(), next.as_deref()))
        }
    };
    Ok(layout::page(&session, "Tasks", "/ui/tasks", body))
}
