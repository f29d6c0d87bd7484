//! From business events to notification rows: a consumer of the event log (cursor
//! `notifications`), like the outbound documents. Each round reads the next events of the types
//! some enabled template names, renders those templates, and records the result with the move
//! of the cursor in one transaction (`Store::commit_notifications`, a compare-and-set), so each
//! event is turned into notifications once, in commit order, whatever dies when.
//!
//! On a database that has history when notifications first run, the cursor starts at the last
//! event: customers are not written to about what happened before.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use iom_domain::{FieldError, Order, OrderId};
use iom_providers::notify::{Channel, Compiled};
use iom_store::events::Event;
use iom_store::notifications::{NewNotification, Skip};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::NamedTemplate;
use crate::App;
use crate::pipeline::delivery::{Lease, backoff};

/// The cursor of this consumer in `delivery_cursors`.
pub const CONSUMER: &str = "notifications";
/// Events rendered per transaction.
const BATCH: usize = 200;
const LEASE: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(50);
/// The wait after a round that found less than a batch.
pub(super) const PACE: Duration = Duration::from_millis(20);

/// Runs the consumer: one process at a time holds it (a lease), the others wait.
pub fn spawn(app: App) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lease = Lease::with_ttl(CONSUMER, LEASE);
        let mut failures = 0u32;
        loop {
            lease.hold(&app).await;
            match round(&app).await {
                Ok(0) => tokio::time::sleep(POLL).await,
                Ok(n) => {
                    failures = 0;
                    // Less than a batch: the events come in slower than rounds go. A short
                    // wait lets the next round take many at once, not one transaction each.
                    if n < BATCH {
                        tokio::time::sleep(PACE).await;
                    }
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, failures, "notifications: round failed");
                    let _ = app
                        .store
                        .cursor_failed(CONSUMER.to_owned(), error.clone())
                        .await;
                    tokio::time::sleep(backoff(failures, Duration::from_secs(30))).await;
                }
            }
        }
    })
}

/// Records the notifications of the next events with the cursor; the number of events read.
pub async fn round(app: &App) -> Result<usize, String> {
    let store = &app.store;
    let cursor = match store
        .read_cursor(CONSUMER.to_owned())
        .await
        .map_err(|e| e.to_string())?
    {
        Some(c) => c,
        None => {
            let last = store.last_event_seq().await.map_err(|e| e.to_string())?;
            store
                .cursor(CONSUMER.to_owned(), last)
                .await
                .map_err(|e| e.to_string())?
        }
    };
    let templates: Vec<NamedTemplate> = super::templates(store)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|t| t.template.enabled)
        .collect();
    // Parsed once for the whole round.
    let compiled: Vec<Result<Compiled, FieldError>> =
        templates.iter().map(|t| t.template.compile()).collect();
    let types: HashSet<&str> = templates
        .iter()
        .map(|t| t.template.event.as_str())
        .collect();
    if types.is_empty() {
        return Ok(0);
    }
    let scan = store
        .scan_events(
            cursor.cursor,
            types.into_iter().collect::<Vec<_>>().join(","),
            BATCH,
        )
        .await
        .map_err(|e| e.to_string())?;
    // Past the events no template names too, with the notifications of these.
    let (events, last) = (scan.events, scan.read_to);
    if last <= cursor.cursor {
        return Ok(0);
    }
    let ids: Vec<OrderId> = events
        .iter()
        .filter_map(order_of)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let orders: HashMap<String, Order> = store
        .get_orders(ids)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|o| (o.id.to_string(), o))
        .collect();
    let channel_opt_outs: HashMap<String, Value> = store
        .list_providers()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter_map(|p| {
            let out = p.config["settings"]["notifications"]["opt_out"].clone();
            (!out.is_null()).then_some((p.name, out))
        })
        .collect();
    let mut rows = Vec::new();
    for event in &events {
        let order = order_of(event).and_then(|id| orders.get(&id.to_string()));
        let order_json = order.and_then(|o| serde_json::to_value(o).ok());
        let scope = super::scope(store, event, order_json).await;
        for (named, compiled) in templates
            .iter()
            .zip(&compiled)
            .filter(|(t, _)| t.template.event == event.kind)
        {
            let opted_out = order.and_then(|o| {
                if names(
                    &o.attributes.get("notifications_opt_out").cloned(),
                    &named.name,
                ) {
                    Some("the customer opted out (attributes.notifications_opt_out)".to_owned())
                } else if names(&channel_opt_outs.get(&o.channel).cloned(), &named.name) {
                    Some(format!(
                        "channel {} opted out (settings.notifications.opt_out)",
                        o.channel
                    ))
                } else {
                    None
                }
            });
            rows.extend(notifications_of(
                event,
                named,
                compiled,
                &scope,
                order.map(|o| o.id.to_string()),
                opted_out,
            ));
        }
    }
    store
        .commit_notifications(CONSUMER.to_owned(), cursor.cursor, last, rows)
        .await
        .map_err(|e| e.to_string())?;
    Ok(events.len())
}

/// The order an event is about: its `order_id`, else its subject when that is an order id.
fn order_of(event: &Event) -> Option<OrderId> {
    event.data["order_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| event.subject.parse().ok())
}

/// Does an opt-out setting (`true`, `"*"`, a name or a list of names) cover `template`?
fn names(setting: &Option<Value>, template: &str) -> bool {
    match setting {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "*" || s == template,
        Some(Value::Array(items)) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| s == "*" || s == template)),
        _ => false,
    }
}

/// One row per recipient of `named` for `event`.
fn notifications_of(
    event: &Event,
    named: &NamedTemplate,
    compiled: &Result<Compiled, FieldError>,
    scope: &Value,
    order_id: Option<String>,
    opted_out: Option<String>,
) -> Vec<NewNotification> {
    let row = |recipient: String, subject, body, html, skipped| NewNotification {
        event_seq: event.seq,
        event_type: event.kind.clone(),
        template: named.name.clone(),
        channel: named.template.channel.as_str().to_owned(),
        recipient,
        order_id: order_id.clone(),
        subject,
        body,
        html,
        skipped,
    };
    let rendered = match compiled {
        Ok(c) => c.render(scope),
        Err(e) => Err(e.clone()),
    };
    match rendered {
        // A template passed its check when saved; what fails here fails on this event's data.
        Err(e) => vec![row(
            String::new(),
            String::new(),
            String::new(),
            None,
            Some(Skip::Failed(format!("{}: {}", e.field, e.message))),
        )],
        Ok(r) => {
            r.to.iter()
                .map(|to| {
                    let skipped = opted_out
                        .clone()
                        .map(Skip::OptedOut)
                        .or_else(|| bad_recipient(named.template.channel, to).map(Skip::Failed));
                    row(
                        to.clone(),
                        r.subject.clone(),
                        r.text.clone(),
                        r.html.clone(),
                        skipped,
                    )
                })
                .collect()
        }
    }
}

fn bad_recipient(channel: Channel, to: &str) -> Option<String> {
    match channel {
        Channel::Email => to
            .parse::<lettre::Address>()
            .err()
            .map(|e| format!("{to:?} is not an e-mail address: {e}")),
        Channel::Webhook => (!(to.starts_with("http://") || to.starts_with("https://")))
            .then(|| format!("{to:?} is not an http(s) URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn opt_out_settings() {
        assert!(names(&Some(json!(true)), "a"));
        assert!(!names(&Some(json!(false)), "a"));
        assert!(names(&Some(json!(["b", "a"])), "a"));
        assert!(names(&Some(json!("*")), "a"));
        assert!(!names(&Some(json!(["b"])), "a"));
        assert!(!names(&None, "a"));
    }
}
