//! The dashboard's "needs attention" part: open alert firings (acknowledged from here), the
//! anomalies `GET /api/v1/insights/anomalies` answers with their series charted, and open tasks.
//! Each links to the list behind it.

use axum::extract::{Query, State};
use chrono::Duration;
use iom_insights::Anomaly;
use iom_store::flows::{TaskOrder, TaskRow};
use iom_store::insights::Firing;
use maud::{Markup, html};

use super::session::Session;
use super::{UiResult, alerts, charts, format};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::insights as api;

/// How many of each the dashboard shows before "all …".
const SHOWN: usize = 5;
/// Anomalies whose series are drawn.
const CHARTED: usize = 3;

pub struct Attention {
    pub open_firings: Vec<Firing>,
    pub open_firing_count: i64,
    pub anomalies: Vec<(Anomaly, Vec<(String, f64)>)>,
    pub anomaly_count: usize,
    pub tasks: Vec<(TaskRow, Option<TaskOrder>)>,
    pub task_count: i64,
}

/// Reads what needs attention, through the same handlers and queries as the API and the lists.
pub async fn load(state: &AppState, session: &Session) -> UiResult<Attention> {
    let anomalies = api::anomalies(
        State(state.clone()),
        session.principal.clone(),
        Query(api::AnomalyQuery {
            since: None,
            limit: Some("100".into()),
        }),
    );
    let ((open_firings, open_firing_count), anomalies, (tasks, task_count)) = tokio::try_join!(
        async { Ok::<_, ApiError>(state.store.firings(true, None, SHOWN).await?) },
        async { Ok(anomalies.await?.0) },
        async {
            Ok(state
                .store
                .task_page(Some(iom_domain::TaskStatus::Open), None, SHOWN, false)
                .await?)
        },
    )?;
    let anomaly_count = anomalies.len();
    let mut charted = Vec::new();
    for a in anomalies.into_iter().take(CHARTED) {
        let points = series_around(state, session, &a).await?;
        charted.push((a, points));
    }
    Ok(Attention {
        open_firings,
        open_firing_count,
        anomalies: charted,
        anomaly_count,
        tasks,
        task_count,
    })
}

/// The hourly series of an anomaly's metric and subject: the two days up to its bucket and the
/// hour after it.
async fn series_around(
    state: &AppState,
    session: &Session,
    a: &Anomaly,
) -> UiResult<Vec<(String, f64)>> {
    let response = api::series(
        State(state.clone()),
        session.principal.clone(),
        Query(api::SeriesQuery {
            metric: Some(a.metric.clone()),
            interval: Some("hour".into()),
            from: Some((a.at - Duration::hours(47)).to_rfc3339()),
            to: Some((a.at + Duration::hours(2)).to_rfc3339()),
            group: Some(a.subject.clone()),
        }),
    )
    .await?
    .0;
    Ok(response
        .series
        .into_iter()
        .find(|s| s.group == a.subject)
        .map(|s| {
            s.points
                .into_iter()
                .map(|p| {
                    let value = p.value.try_into().unwrap_or(0.0);
                    (format::time_text(p.at), value)
                })
                .collect()
        })
        .unwrap_or_default())
}

pub fn view(session: &Session, a: &Attention) -> Markup {
    html! {
        div.grid #attention {
            section.card #dashboard-alerts {
                h2 { a href="/ui/alerts" { "Open alerts" } " " span.muted { "(" (a.open_firing_count) ")" } }
                @if a.open_firings.is_empty() {
                    p.muted { "No alert waits for anyone." }
                } @else {
                    (alerts::open_table(session, &a.open_firings, "/ui"))
                    @if a.open_firing_count > a.open_firings.len() as i64 {
                        p { a href="/ui/alerts" { "All " (a.open_firing_count) " open firings »" } }
                    }
                }
            }
            section.card #anomalies {
                h2 { "Anomalies, last 7 days" " " span.muted { "(" (a.anomaly_count) ")" } }
                @if a.anomalies.is_empty() {
                    p.muted { "Nothing out of the ordinary." }
                }
                @for (anomaly, points) in &a.anomalies {
                    figure.anomaly {
                        figcaption {
                            strong { (anomaly.metric.replace('_', " ")) } " of " (anomaly.subject) ": "
                            (format!("{:.2}", anomaly.value)) " at " (format::time(anomaly.at))
                            span.muted { " (expected " (format!("{:.2}", anomaly.expected)) ", score " (format!("{:.1}", anomaly.score)) ")" }
                        }
                        (charts::columns(&format!("{} of {}, hourly", anomaly.metric, anomaly.subject), points, 8))
                    }
                }
            }
            section.card #open-tasks {
                h2 { a href="/ui/tasks" { "Open tasks" } " " span.muted { "(" (a.task_count) ")" } }
                @if a.tasks.is_empty() {
                    p.muted { "No open tasks." }
                } @else {
                    ul {
                        @for (t, order) in &a.tasks {
                            li {
                                (t.queue) " · "
                                @if let (Some(id), Some(o)) = (&t.order_id, order) {
                                    a href={ "/ui/orders/" (format::segment(id)) } { (o.external_id) }
                                    " " (o.customer_name.clone().or_else(|| o.customer_email.clone()).unwrap_or_default())
                                    " · " (money(o))
                                }
                                @if let Some(r) = &t.reason { " · " span.muted { (r) } }
                            }
                        }
                    }
                    @if a.task_count > a.tasks.len() as i64 {
                        p { a href="/ui/tasks" { "All " (a.task_count) " open tasks »" } }
                    }
                }
            }
        }
    }
}

/// A task's order value, to its currency's decimals.
pub fn money(o: &TaskOrder) -> String {
    o.total
        .parse()
        .map(|v| format::money(v, &o.currency))
        .unwrap_or_else(|_| format!("{} {}", o.total, o.currency))
}
