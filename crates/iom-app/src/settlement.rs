//! Money settled whatever runs the order: a consumer of the event log (cursor `settlement`),
//! for what must happen even when no flow run waits for it.
//!
//! - `order.cancelled`, `order.line_cancelled`: once nothing of the order is left to ship, its
//!   payment is settled (`payments::settle`: the uncaptured authorisation let go, nothing if all
//!   was captured) and its tax document voided or committed (`tax::settle`). A flow run waiting
//!   in `capture-payment` or `commit-tax` does the same on the same event; both go through the
//!   calls claimed in `payment_calls` under one key each, so the service would act once
//!   anyway; this consumer leaves such an order to its run, and looks again shortly at one
//!   whose run is on its way.
//! - `return.refunded`: the order's committed tax document is adjusted by the tax service's
//!   refund (`tax::refund_return`), whoever recorded the refund (the API, the return flow, a
//!   channel).
//!
//! A service that is down fails the round: the cursor stays before the event, its error is kept
//! on the cursor, and the round is tried again with backoff. A call refused for good is logged
//! and passed over. Every few seconds the same worker renews authorisations about to lapse
//! (`payments::renew_lapsing`).

use std::time::{Duration, Instant};

use iom_domain::OrderId;
use iom_domain::returns::ReturnEvent;
use iom_domain::{EventType, RunStatus};
use iom_store::events::Event;
use tokio::task::JoinHandle;

use crate::App;
use crate::pipeline::delivery::{Lease, backoff};
use crate::{payments, tax};

/// The cursor of this consumer in `delivery_cursors`.
pub const CONSUMER: &str = "settlement";
/// Authorisations that lapse sooner than this, with goods still to ship, are renewed.
pub const RENEW_BEFORE: chrono::Duration = chrono::Duration::hours(24);
const BATCH: usize = 100;
const LEASE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(100);
/// How often authorisations about to lapse are looked for.
const LAPSE_CHECK: Duration = Duration::from_secs(2);
const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// Runs the consumer: one process at a time holds it (a lease), the others wait.
pub fn spawn(app: App) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lease = Lease::with_ttl(CONSUMER, LEASE);
        let mut failures = 0u32;
        let mut checked: Option<Instant> = None;
        loop {
            lease.hold(&app).await;
            if checked.is_none_or(|at| at.elapsed() >= LAPSE_CHECK) {
                checked = Some(Instant::now());
                if let Err(error) =
                    payments::renew_lapsing(&app.store, &app.pipeline, RENEW_BEFORE).await
                {
                    tracing::warn!(%error, "settlement: renewing lapsing authorisations failed");
                }
            }
            match round(&app).await {
                Ok(0) => tokio::time::sleep(POLL).await,
                Ok(_) => failures = 0,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, failures, "settlement: round failed");
                    let _ = app
                        .store
                        .cursor_failed(CONSUMER.to_owned(), error.clone())
                        .await;
                    tokio::time::sleep(backoff(failures, BACKOFF_CAP)).await;
                }
            }
        }
    })
}

/// Settles what the next events call for, moving the cursor past each one done; the number of
/// events done.
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
    let types = [
        EventType::ORDER_CANCELLED,
        EventType::ORDER_LINE_CANCELLED,
        ReturnEvent::REFUNDED,
    ]
    .join(",");
    let scan = store
        .scan_events(cursor.cursor, types, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    let mut done = 0;
    let mut last = cursor.cursor;
    let mut failure = None;
    for event in &scan.events {
        match settle(app, event).await {
            Ok(()) => {}
            Err(Failure::Retry(error)) => {
                failure = Some(format!("event {}: {error}", event.seq));
                break;
            }
            Err(Failure::Refused(error)) => {
                tracing::warn!(seq = event.seq, subject = %event.subject, %error,
                    "settlement: refused for good, passed over");
            }
        }
        last = event.seq;
        done += 1;
    }
    if failure.is_none() {
        // Past the events of other types too.
        last = last.max(scan.read_to);
    }
    if last > cursor.cursor {
        store
            .advance_cursor(CONSUMER.to_owned(), last, i64::try_from(done).unwrap_or(0))
            .await
            .map_err(|e| e.to_string())?;
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(done),
    }
}

enum Failure {
    /// May pass later: the round stops before the event.
    Retry(String),
    /// Will not pass: the event is passed over.
    Refused(String),
}

impl From<payments::PaymentError> for Failure {
    fn from(e: payments::PaymentError) -> Self {
        if e.is_transient() {
            Failure::Retry(e.to_string())
        } else {
            Failure::Refused(e.to_string())
        }
    }
}

impl From<tax::TaxError> for Failure {
    fn from(e: tax::TaxError) -> Self {
        if e.is_transient() {
            Failure::Retry(e.to_string())
        } else {
            Failure::Refused(e.to_string())
        }
    }
}

async fn settle(app: &App, event: &Event) -> Result<(), Failure> {
    let (store, pipeline) = (&app.store, &app.pipeline);
    if event.kind == ReturnEvent::REFUNDED {
        if let Some(return_id) = event.data["return_id"].as_str() {
            tax::refund_return(store, pipeline, return_id).await?;
        }
        return Ok(());
    }
    let Ok(order_id) = event.subject.parse::<OrderId>() else {
        return Ok(());
    };
    let Some(order) = store
        .get_order(order_id)
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?
    else {
        return Ok(());
    };
    if !payments::nothing_open(&order) {
        return Ok(());
    }
    // A run waiting for what is left to ship (`capture-payment`, `commit-tax`) settles the order
    // itself on this event; one on its way may get there: it is looked at again shortly.
    let id = order_id.to_string();
    let runs = store
        .read(move |c| iom_store::flows::order_runs(c, &id))
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
    let waits_to_settle = |w: &str| w.split(',').any(|p| p == EventType::ORDER_LINE_CANCELLED);
    if runs
        .iter()
        .any(|r| r.wait_event.as_deref().is_some_and(waits_to_settle))
    {
        return Ok(());
    }
    if runs
        .iter()
        .any(|r| matches!(r.status, RunStatus::Runnable | RunStatus::External))
    {
        return Err(Failure::Retry(format!(
            "the flow run of order {order_id} is moving; settled once it waits or ends"
        )));
    }
    if payments::unsettled(&order) {
        payments::settle(store, pipeline, order_id).await?;
    }
    tax::settle(store, pipeline, order_id).await?;
    Ok(())
}
