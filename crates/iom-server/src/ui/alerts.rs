//! Alerts: the firings that wait for someone (open, newest first) with a button to acknowledge
//! each, those acknowledged (by whom, when), and the alerts defined. Acknowledging goes through
//! the API's handler with the signed-in user's principal.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use iom_store::insights::Firing;
use maud::{Markup, html};
use serde::Deserialize;

use super::session::Session;
use super::{UiResult, done, format, layout, lists};
use crate::AppState;
use crate::auth::Access;
use crate::routes::alerts as api;

/// Firings per page of either table.
const PAGE: usize = 50;

#[derive(Deserialize, Default)]
pub struct AlertParams {
    /// The id of the last open firing of the previous page.
    #[serde(default)]
    pub open_cursor: String,
    /// The id of the last acknowledged firing of the previous page.
    #[serde(default)]
    pub done_cursor: String,
}

/// Where a firing's subject is shown: an order's page, a SKU's, or nowhere.
fn subject_link(f: &Firing) -> Markup {
    let order = f.data.get("order_id").and_then(|v| v.as_str());
    let sku = f.data.get("sku").and_then(|v| v.as_str());
    html! {
        @if let Some(order) = order {
            a href={ "/ui/orders/" (format::segment(order)) } { (f.subject) }
        } @else if let Some(sku) = sku {
            a href={ "/ui/inventory/" (format::segment(sku)) } { (f.subject) }
        } @else {
            (f.subject)
        }
    }
}

/// The acknowledge button of an open firing, for those who may; `back` is where to return.
pub fn acknowledge_button(session: &Session, f: &Firing, back: &str) -> Markup {
    html! {
        @if session.can(Access::Operate) {
            form.inline method="post"
                action={ "/ui/alerts/" (format::segment(&f.alert)) "/firings/" (format::segment(&f.id)) "/acknowledge" } {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="back" value=(back);
                button.secondary type="submit" { "Acknowledge" }
            }
        }
    }
}

/// A firing's details in a few words (`status received, 4 h`).
fn details(f: &Firing) -> String {
    match f.data.as_object() {
        None => String::new(),
        Some(map) => map
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "order_id" | "sku" | "node" | "shipment_id"))
            .map(|(k, v)| {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                format!("{} {v}", k.replace('_', " "))
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The open firings as a table (the dashboard shows the first few the same way).
pub fn open_table(session: &Session, firings: &[Firing], back: &str) -> Markup {
    html! {
        div.table-scroll {
            table #open-firings {
                thead { tr { th { "Alert" } th { "Subject" } th { "Fired" } th { "Details" } th { "" } } }
                tbody {
                    @for f in firings {
                        tr data-firing=(f.id) {
                            td { (f.alert) }
                            td { (subject_link(f)) }
                            td { (format::time(f.fired_at)) }
                            td.muted { (details(f)) }
                            td { (acknowledge_button(session, f, back)) }
                        }
                    }
                }
            }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<AlertParams>,
) -> UiResult<Response> {
    let cursor = |c: &str| Some(c.to_owned()).filter(|c| !c.is_empty());
    let ((open, open_total), (acknowledged, done_total), alerts) = tokio::try_join!(
        state.store.firings(true, cursor(&params.open_cursor), PAGE),
        state
            .store
            .firings(false, cursor(&params.done_cursor), PAGE),
        state.store.list_alerts(),
    )?;
    let next = |items: &[Firing], key: &str| {
        (items.len() == PAGE)
            .then(|| items.last())
            .flatten()
            .map(|f| format!("/ui/alerts{}", format::query(&[(key, f.id.as_str())])))
    };
    let (open_next, done_next) = (
        next(&open, "open_cursor"),
        next(&acknowledged, "done_cursor"),
    );
    let body = html! {
        h1 { "Alerts" }
        div #live data-live="alert." {
            section.card #open {
                h2 { "Open firings" }
                (lists::count(open_total, if open_total == 1 { "firing waits for someone" } else { "firings wait for someone" }))
                @if open.is_empty() {
                    p.muted #no-open-firings { "Nothing waits: every firing is acknowledged." }
                } @else {
                    (open_table(&session, &open, "/ui/alerts"))
                }
                nav.pager aria-label="Pages of open firings" {
                    @if !params.open_cursor.is_empty() { a href="/ui/alerts" { "« First page" } }
                    @if let Some(n) = &open_next { a rel="next" href=(n) { "Older open firings »" } }
                }
            }
            section.card #acknowledged {
                h2 { "Acknowledged" }
                (lists::count(done_total, "acknowledged"))
                @if !acknowledged.is_empty() {
                    div.table-scroll {
                        table #acknowledged-firings {
                            thead { tr { th { "Alert" } th { "Subject" } th { "Fired" } th { "Acknowledged" } th { "By" } } }
                            tbody {
                                @for f in &acknowledged {
                                    tr data-firing=(f.id) {
                                        td { (f.alert) }
                                        td { (subject_link(f)) }
                                        td { (format::time(f.fired_at)) }
                                        td { @if let Some(at) = f.acknowledged_at { (format::time(at)) } }
                                        td { (f.acknowledged_by.clone().unwrap_or_default()) }
                                    }
                                }
                            }
                        }
                    }
                }
                nav.pager aria-label="Pages of acknowledged firings" {
                    @if !params.done_cursor.is_empty() { a href="/ui/alerts" { "« First page" } }
                    @if let Some(n) = &done_next { a rel="next" href=(n) { "Older »" } }
                }
            }
        }
        section.card #alerts {
            h2 { "Alerts defined" }
            @if alerts.is_empty() {
                p.muted { "No alerts are defined." }
            } @else {
                table {
                    thead { tr { th { "Name" } th { "Condition" } th { "Enabled" } } }
                    tbody {
                        @for a in &alerts {
                            tr {
                                td { (a.name) }
                                td { code { (serde_json::to_string(&a.definition.condition).unwrap_or_default()) } }
                                td { (if a.definition.enabled { "yes" } else { "no" }) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&session, "Alerts", "/ui/alerts", body))
}

#[derive(Deserialize)]
pub struct AcknowledgeForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub back: String,
}

pub async fn acknowledge(
    State(state): State<AppState>,
    session: Session,
    Path((name, id)): Path<(String, String)>,
    Form(form): Form<AcknowledgeForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    // Back to the page the button was on, never to another site.
    let back = if form.back.starts_with("/ui") && !form.back.starts_with("//") {
        form.back.as_str()
    } else {
        "/ui/alerts"
    };
    let me = {
        let actor = session.principal.actor();
        format!("{}:{}", actor.kind.as_str(), actor.id)
    };
    let result = api::acknowledge(State(state), session.principal.clone(), Path((name, id)))
        .await
        .map(|firing| {
            let f = firing.0;
            match f.acknowledged_by {
                Some(by) if by != me => {
                    format!("{} had already acknowledged this firing.", by)
                }
                _ => format!("Acknowledged the firing of {} for {}.", f.alert, f.subject),
            }
        });
    done(&session, back, result)
}
