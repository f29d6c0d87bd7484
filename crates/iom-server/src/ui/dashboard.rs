//! The dashboard: what needs attention now, and how the day goes. It reloads itself every
//! 15 seconds when scripts run; without them it is as current as its last load.

use axum::extract::State;
use axum::response::Response;
use chrono::{Duration, Utc};
use maud::{Markup, html};

use super::session::Session;
use super::{UiResult, charts, format, layout};
use crate::AppState;

/// Days of the order-volume chart, today included.
const DAYS: i64 = 14;

fn tile(key: &str, label: &str, value: i64, link: Option<String>) -> Markup {
    html! {
        div.tile data-figure=(key) {
            div.label { (label) }
            div.value {
                @if let Some(link) = link { a href=(link) { (value) } } @else { (value) }
            }
        }
    }
}

pub async fn page(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    let now = Utc::now();
    let since = (now - Duration::days(DAYS - 1)).date_naive();
    let overview = state.store.overview(since, now, 15).await?;
    let today = overview.per_day.last().map_or(0, |(_, n)| *n);
    let failed: i64 = overview.failed_messages.iter().map(|(_, n)| n).sum();
    let per_day: Vec<(String, f64)> = overview
        .per_day
        .iter()
        .map(|(d, n)| (d.format("%m-%d").to_string(), *n as f64))
        .collect();
    let by_status: Vec<(String, f64)> = overview
        .by_status
        .iter()
        .map(|(s, n)| (s.clone(), *n as f64))
        .collect();
    let by_channel: Vec<(String, f64)> = overview
        .by_channel
        .iter()
        .map(|(s, n)| (s.clone(), *n as f64))
        .collect();
    let body = html! {
        div data-refresh="15" {
            h1 { "Dashboard" }
            div.tiles {
                (tile("orders", "Orders", overview.orders(), Some("/ui/orders".into())))
                (tile("today", "Placed today", today, None))
                (tile("on_hold", "On hold", overview.with_status("on_hold"), Some("/ui/orders?status=on_hold".into())))
                (tile("backordered", "Backordered", overview.with_status("backordered"), Some("/ui/orders?status=backordered".into())))
                (tile("released", "Released, not shipped", overview.with_status("released"), Some("/ui/orders?status=released".into())))
                (tile("failed_messages", "Failed provider messages", failed, Some("/ui/providers".into())))
            }
            div.grid {
                section.card {
                    h2 { "Orders placed per day" }
                    (charts::columns("Orders placed per day, last 14 days", &per_day, 2))
                }
                section.card {
                    h2 { "Orders by status" }
                    (charts::bars("Orders by status", &by_status))
                }
                section.card {
                    h2 { "Orders by channel" }
                    (charts::bars("Orders by channel", &by_channel))
                }
                section.card {
                    h2 { "Provider messages needing attention" }
                    @if overview.failed_messages.is_empty() {
                        p.muted { "None." }
                    } @else {
                        table {
                            thead { tr { th { "Provider" } th.num { "Failed or dead" } } }
                            tbody {
                                @for (provider, n) in &overview.failed_messages {
                                    tr {
                                        td { a href={ "/ui/providers/" (format::segment(provider)) "?status=failed" } { (provider) } }
                                        td.num { (n) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { "Latest events" }
                table {
                    thead { tr { th { "Seq" } th { "At" } th { "Type" } th { "Subject" } } }
                    tbody {
                        @for e in &overview.recent_events {
                            tr {
                                td.num { (e.seq) }
                                td { (format::time(e.at)) }
                                td { code { (e.kind) } }
                                td {
                                    @if e.kind.starts_with("order.") {
                                        a href={ "/ui/orders/" (format::segment(&e.subject)) } { (e.subject) }
                                    } @else { (e.subject) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&session, "Dashboard", "/ui", body))
}
