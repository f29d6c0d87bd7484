//! The dashboard: what needs attention now, and how the day goes. It reloads itself every
//! 15 seconds when scripts run; without them it is as current as its last load.
//!
//! Its KPIs are the report `GET /api/v1/insights/kpis` answers for its default window (the last
//! 30 days, with today and month to date), computed by the same function, so the page and the
//! API never disagree.

use axum::extract::State;
use axum::response::Response;
use chrono::{Duration, Utc};
use iom_insights::kpi::{Change, KpiReport};
use maud::{Markup, html};

use super::format::money;
use super::session::Session;
use super::{UiResult, attention, charts, format, layout};
use crate::AppState;
use crate::routes::insights::{DEFAULT_WINDOW, kpi_report};

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

/// A KPI as a tile linking to the orders it counts; `key` names it for whoever reads the page
/// (`data-kpi`).
fn kpi_tile(key: &str, label: &str, value: String, note: Option<String>, link: &str) -> Markup {
    html! {
        div.tile data-kpi=(key) {
            div.label { (label) }
            div.value { a href=(link) { (value) } }
            @if let Some(note) = note { div.label { (note) } }
        }
    }
}

/// A fraction as a percentage with one decimal; a dash when there was nothing to divide by.
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{:.1} %", r * 100.0))
}

/// Hours with one decimal, or a dash.
pub fn hours(h: Option<f64>) -> String {
    h.map_or_else(|| "–".to_owned(), |h| format!("{h:.1} h"))
}

/// A change as a signed percentage, or a dash when there is nothing to compare with.
pub fn change(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{:+.1} %", r * 100.0))
}

fn change_note(c: &Change) -> String {
    format!("orders {}, revenue {}", change(c.orders), change(c.revenue))
}

/// A row of the KPI table: label, then the figure.
fn kpi_row(key: &str, label: &str, value: String) -> Markup {
    html! { tr { th { (label) } td.num data-kpi=(key) { (value) } } }
}

fn kpis(r: &KpiReport) -> Markup {
    let cur = r.currency.as_str();
    // The report's today and month are UTC days, as the order list's dates are.
    let today = format!("/ui/orders?from={}", r.as_of.format("%Y-%m-%d"));
    let month = format!("/ui/orders?from={}", r.as_of.format("%Y-%m-01"));
    let k = &r.kpis;
    let by_channel: Vec<(String, f64)> = r
        .by_channel
        .iter()
        .map(|c| (c.channel.clone(), c.kpis.orders as f64))
        .collect();
    let by_region: Vec<(String, f64)> = r
        .by_region
        .iter()
        .map(|g| (g.region.clone(), g.orders as f64))
        .collect();
    let products: Vec<(String, f64)> = r
        .top_products
        .iter()
        .map(|p| (p.sku.clone(), p.units as f64))
        .collect();
    html! {
        section #kpis {
            h2 { "KPIs" }
            div.tiles {
                (kpi_tile("today_orders", "Orders today", r.today.orders.to_string(), None, &today))
                (kpi_tile("today_revenue", "Revenue today", money(r.today.revenue, cur), None, &today))
                (kpi_tile("mtd_orders", "Orders month to date", r.month_to_date.orders.to_string(),
                    Some(format!("month over month {}", change(r.month_over_month.orders))), &month))
                (kpi_tile("mtd_revenue", "Revenue month to date", money(r.month_to_date.revenue, cur),
                    Some(format!("month over month {}", change(r.month_over_month.revenue))), &month))
                (kpi_tile("past_due", "Past due", r.past_due.to_string(), None, "/ui/orders?due=past"))
                (kpi_tile("in_jeopardy", "In jeopardy (24 h)", r.in_jeopardy.to_string(), None, "/ui/orders?due=soon"))
            }
            div.grid {
                section.card {
                    h2 { "Last " (DEFAULT_WINDOW.num_days()) " days" }
                    p.muted { "Orders placed from " (format::time(r.from)) " to " (format::time(r.to)) "." }
                    table #kpi-window {
                        tbody {
                            (kpi_row("orders", "Orders", k.orders.to_string()))
                            (kpi_row("revenue", "Revenue", money(k.revenue, cur)))
                            (kpi_row("change", "Against the 30 days before", change_note(&r.change)))
                            (kpi_row("average_order_value", "Average order value",
                                k.average_order_value.map_or_else(|| "–".to_owned(), |v| money(v, cur))))
                            (kpi_row("lines_per_order", "Lines per order",
                                k.lines_per_order.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))))
                            (kpi_row("units", "Units", k.units.to_string()))
                            (kpi_row("fill_rate", "Fill rate", percent(k.fill_rate)))
                            (kpi_row("on_time_ship_rate", "On-time ship rate", percent(k.on_time_ship_rate)))
                            (kpi_row("book_to_ship", "Book-to-ship", percent(r.book_to_ship)))
                            (kpi_row("cycle_time_hours", "Cycle time", hours(k.cycle_time_hours)))
                            (kpi_row("time_to_release_hours", "Time to release", hours(k.time_to_release_hours)))
                            (kpi_row("cancellation_rate", "Cancellation rate", percent(k.cancellation_rate)))
                            (kpi_row("backorder_rate", "Backorder rate", percent(k.backorder_rate)))
                            (kpi_row("return_rate", "Return rate", percent(k.return_rate)))
                            (kpi_row("fulfillment_cost", "Fulfillment cost", money(r.fulfillment_cost, cur)))
                        }
                    }
                }
                section.card {
                    h2 { "Top products" }
                    @if r.top_products.is_empty() {
                        p.muted { "No orders in the window." }
                    } @else {
                        (charts::bars("Units ordered per product", &products))
                        table #top-products {
                            thead { tr { th { "SKU" } th.num { "Lines" } th.num { "Units" } th.num { "Shipped" } th.num { "Revenue" } } }
                            tbody {
                                @for p in &r.top_products {
                                    tr {
                                        td.sku { a href={ "/ui/inventory/" (format::segment(&p.sku)) } { (p.sku) } }
                                        td.num { (p.lines) }
                                        td.num.units { (p.units) }
                                        td.num { (p.shipped_units) }
                                        td.num.revenue { (money(p.revenue, cur)) }
                                    }
                                }
                            }
                        }
                    }
                }
                section.card {
                    h2 { "By channel" }
                    (charts::bars("Orders per channel, last 30 days", &by_channel))
                    table #kpi-channels {
                        thead { tr { th { "Channel" } th.num { "Orders" } th.num { "Revenue" } th.num { "Fill rate" } th.num { "On time" } th.num { "Cancelled" } } }
                        tbody {
                            @for c in &r.by_channel {
                                tr {
                                    td { a href={ "/ui/orders" (format::query(&[("channel", c.channel.as_str())])) } { (c.channel) } }
                                    td.num { (c.kpis.orders) }
                                    td.num { (money(c.kpis.revenue, cur)) }
                                    td.num { (percent(c.kpis.fill_rate)) }
                                    td.num { (percent(c.kpis.on_time_ship_rate)) }
                                    td.num { (percent(c.kpis.cancellation_rate)) }
                                }
                            }
                        }
                    }
                }
                section.card {
                    h2 { "By node" }
                    @if r.by_node.is_empty() {
                        p.muted { "No shipments in the window." }
                    } @else {
                        table #kpi-nodes {
                            thead { tr { th { "Node" } th.num { "Shipments" } th.num { "Units" } th.num { "Cost" } th.num { "On time" } th.num { "Cycle time" } } }
                            tbody {
                                @for n in &r.by_node {
                                    tr {
                                        td { (n.node) }
                                        td.num { (n.shipments) }
                                        td.num { (n.units) }
                                        td.num { (money(n.fulfillment_cost, cur)) }
                                        td.num { (percent(n.on_time_ship_rate)) }
                                        td.num { (hours(n.cycle_time_hours)) }
                                    }
                                }
                            }
                        }
                    }
                }
                section.card {
                    h2 { "By region" }
                    (charts::bars("Orders per region, last 30 days", &by_region))
                    table #kpi-regions {
                        thead { tr { th { "Region" } th.num { "Orders" } th.num { "Revenue" } } }
                        tbody {
                            @for g in &r.by_region {
                                tr { td { (g.region) } td.num { (g.orders) } td.num { (money(g.revenue, cur)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn page(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    let now = Utc::now();
    let since = (now - Duration::days(DAYS - 1)).date_naive();
    // Two independent read snapshots: run side by side on the read pool.
    let (overview, report, attention) = tokio::try_join!(
        async { Ok::<_, super::UiError>(state.store.overview(since, now, 15).await?) },
        async { Ok(kpi_report(&state, now - DEFAULT_WINDOW, now, now).await?) },
        attention::load(&state, &session),
    )?;
    let today_link = format!("/ui/orders?from={}", now.format("%Y-%m-%d"));
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
                (tile("today", "Placed today", today, Some(today_link)))
                (tile("open_alerts", "Open alerts", attention.open_firing_count, Some("/ui/alerts".into())))
                (tile("open_tasks", "Open tasks", attention.task_count, Some("/ui/tasks".into())))
                (tile("anomalies", "Anomalies (7 days)", attention.anomaly_count as i64, Some("#anomalies".into())))
                (tile("on_hold", "On hold", overview.with_status("on_hold"), Some("/ui/orders?status=on_hold".into())))
                (tile("backordered", "Backordered", overview.with_status("backordered"), Some("/ui/orders?status=backordered".into())))
                (tile("released", "Released, not shipped", overview.with_status("released"), Some("/ui/orders?status=released".into())))
                (tile("failed_messages", "Failed provider messages", failed, Some("/ui/providers".into())))
            }
            (attention::view(&session, &attention))
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
            (kpis(&report))
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
