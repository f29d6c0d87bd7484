//! Webhook subscriptions: a worker per subscription sends each business event whose type it
//! asked for, in commit order, signed with `X-IOM-Signature: sha256=HEX`.
//!
//! At least once: the cursor (the last event delivered) is stored after the receiver answered
//! 2xx, so a crash between the two sends that event again; receivers deduplicate on
//! `X-IOM-Event-Seq`. Order: the worker does not pass an event it could not deliver, so the
//! events of one subject (one order) arrive in the order they happened. A failure waits with
//! exponential backoff, capped, and is visible on the subscription (attempts, last error, lag).
//! With several processes on one database, a lease in the cursor's row lets one of them deliver
//! a subscription at a time; another takes over when the lease runs out.

use std::collections::HashMap;
use std::time::Duration;

use iom_store::providers::subscription_consumer;
use tokio::task::JoinHandle;

use crate::App as AppState;

/// Events fetched per round.
const BATCH: usize = 200;
/// How often an idle worker looks for new events, and the supervisor for new subscriptions.
const POLL: Duration = Duration::from_millis(100);
const BACKOFF_FIRST: Duration = Duration::from_millis(100);

/// The wait after `failures` failed attempts in a row: 100 ms doubling up to `cap`.
pub fn backoff(failures: u32, cap: Duration) -> Duration {
    BACKOFF_FIRST
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
        .min(cap)
}

/// Starts a worker for each subscription, now and whenever one is added.
pub fn spawn(state: AppState, cap: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        // Owned by this task: when it is aborted (`Running::stop`), dropping the set aborts
        // every worker with it.
        let mut set = tokio::task::JoinSet::new();
        let mut workers: HashMap<String, tokio::task::AbortHandle> = HashMap::new();
        loop {
            while set.try_join_next().is_some() {}
            match state.store.list_subscriptions().await {
                Ok(subscriptions) => {
                    for s in subscriptions {
                        let running = workers.get(&s.name).is_some_and(|h| !h.is_finished());
                        if !running {
                            let state = state.clone();
                            let name = s.name.clone();
                            workers.insert(s.name, set.spawn(deliver(state, name, cap)));
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list subscriptions"),
            }
            tokio::time::sleep(POLL * 5).await;
        }
    })
}

/// How long a process owns a consumer's delivery without renewing: another process takes over
/// after this when the owner died.
const LEASE: Duration = Duration::from_secs(15);

/// This process's claim on a consumer (see `Store::lease_cursor`), renewed a third of the way
/// through, so an idle worker does not write on every poll.
pub struct Lease {
    consumer: String,
    owner: String,
    renewed: Option<std::time::Instant>,
    ttl: Duration,
}

impl Lease {
    pub fn new(consumer: &str) -> Lease {
        Lease::with_ttl(consumer, LEASE)
    }

    /// A lease another process takes over `ttl` after this one stopped renewing it.
    pub fn with_ttl(consumer: &str, ttl: Duration) -> Lease {
        Lease {
            consumer: consumer.to_owned(),
            owner: uuid::Uuid::now_v7().to_string(),
            renewed: None,
            ttl,
        }
    }

    /// Holds the lease, waiting while another process does.
    pub async fn hold(&mut self, state: &AppState) {
        loop {
            if self.renewed.is_some_and(|at| at.elapsed() < self.ttl / 3) {
                return;
            }
            match state
                .store
                .lease_cursor(self.consumer.clone(), self.owner.clone(), 0, self.ttl)
                .await
            {
                Ok(true) => {
                    self.renewed = Some(std::time::Instant::now());
                    return;
                }
                Ok(false) => self.renewed = None,
                Err(e) => {
                    self.renewed = None;
                    tracing::warn!(consumer = %self.consumer, error = %e, "cannot take the delivery lease");
                }
            }
            tokio::time::sleep(self.ttl / 3).await;
        }
    }
}

async fn deliver(state: AppState, name: String, cap: Duration) {
    let consumer = subscription_consumer(&name);
    let mut lease = Lease::new(&consumer);
    let mut failures: u32 = 0;
    loop {
        // Several processes on one PostgreSQL each run this worker; only the lease holder sends,
        // so events are not sent twice at once and arrive in order.
        lease.hold(&state).await;
        match round(&state, &name, &consumer).await {
            Ok(Some(0)) => tokio::time::sleep(POLL).await,
            Ok(Some(_)) => failures = 0,
            Ok(None) => return,
            Err(error) => {
                failures += 1;
                tracing::warn!(subscription = %name, %error, failures, "delivery failed");
                if let Err(e) = state.store.cursor_failed(consumer.clone(), error).await {
                    tracing::warn!(error = %e, "cannot record a failed delivery");
                }
                tokio::time::sleep(backoff(failures, cap)).await;
            }
        }
    }
}

/// Delivers what is pending: `Some(n)` events sent, `None` when the subscription is gone.
async fn round(state: &AppState, name: &str, consumer: &str) -> Result<Option<usize>, String> {
    let Some(subscription) = state
        .store
        .get_subscription(name.to_owned())
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let key = state
        .pipeline
        .key
        .as_ref()
        .ok_or("no master key to open the subscription's secret")?;
    let secret = key
        .open(&subscription.secret, &format!("subscription:{name}"))
        .map_err(|e| e.to_string())?;
    let cursor = state
        .store
        .cursor(consumer.to_owned(), 0)
        .await
        .map_err(|e| e.to_string())?;
    let scan = state
        .store
        .scan_events(cursor.cursor, subscription.types.join(","), BATCH)
        .await
        .map_err(|e| e.to_string())?;
    let mut sent = 0;
    let mut last = cursor.cursor;
    let mut failure = None;
    for event in &scan.events {
        let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        let signature = iom_providers::secrets::iom_signature(
            std::str::from_utf8(&secret).unwrap_or_default(),
            &body,
        );
        let result = state
            .pipeline
            .http
            .post(&subscription.url)
            .header("Content-Type", "application/json")
            .header("X-IOM-Signature", signature)
            .header("X-IOM-Event-Type", &event.kind)
            .header("X-IOM-Event-Seq", event.seq.to_string())
            .header("X-IOM-Subscription", name)
            .body(body)
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {
                sent += 1;
                last = event.seq;
            }
            Ok(r) => {
                failure = Some(format!("{} answered {}", subscription.url, r.status()));
                break;
            }
            Err(e) => {
                failure = Some(format!("{}: {e}", subscription.url));
                break;
            }
        }
    }
    if failure.is_none() {
        // Past the events of types not subscribed to too.
        last = last.max(scan.read_to);
    }
    if last > cursor.cursor {
        state
            .store
            .advance_cursor(consumer.to_owned(), last, sent as i64)
            .await
            .map_err(|e| e.to_string())?;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(Some(sent)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(30);
        assert_eq!(backoff(1, cap), Duration::from_millis(100));
        assert_eq!(backoff(2, cap), Duration::from_millis(200));
        assert_eq!(backoff(5, cap), Duration::from_millis(1600));
        assert_eq!(backoff(12, cap), cap);
        assert_eq!(backoff(u32::MAX, cap), cap);
    }
}
