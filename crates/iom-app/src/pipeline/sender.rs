//! Sends the outbound messages that wait in the message log (`pending`, or `failed` and due
//! again) to their instance's `url`: a POST with a timeout, signed with the instance's `secret`
//! when it has one, retried with exponential backoff, `dead` after the last attempt (an operator
//! sends it again with `POST /providers/{name}/messages/{id}/retry`).
//!
//! Each attempt is claimed first (`Store::claim_outbound` moves the message's due time, a
//! compare-and-set), so of several processes on one database only one sends a given attempt. A
//! process that dies after the receiver answered but before recording it leaves the claim to
//! expire and the message is sent again: delivery is at least once, and receivers recognise a
//! resend by `X-IOM-Message-Id` (and X12 partners by the control number).
//!
//! Attempts and backoff per instance: `settings.delivery` `{"attempts", "timeout_ms",
//! "backoff_ms", "max_backoff_ms"}`, defaulting to [`RetryPolicy::default`].

use std::time::Duration;

use chrono::Utc;
use iom_store::outbound::Attempt;
use iom_store::providers::MessageRecord;
use tokio::task::JoinHandle;

use super::outbound::RetryPolicy;
use crate::App as AppState;

const POLL: Duration = Duration::from_millis(100);
const BATCH: usize = 100;

impl RetryPolicy {
    /// The instance's `settings.delivery`, each field defaulting.
    pub fn from_settings(settings: &serde_json::Value) -> RetryPolicy {
        let d = RetryPolicy::default();
        let ms = |field: &str, default: Duration| {
            settings[field]
                .as_u64()
                .map_or(default, Duration::from_millis)
        };
        RetryPolicy {
            attempts: settings["attempts"]
                .as_u64()
                .and_then(|a| u32::try_from(a).ok())
                .unwrap_or(d.attempts)
                .max(1),
            timeout: ms("timeout_ms", d.timeout),
            first_backoff: ms("backoff_ms", d.first_backoff),
            max_backoff: ms("max_backoff_ms", d.max_backoff),
        }
    }

    /// The wait after the `attempt`-th failure.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.first_backoff
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff)
    }
}

pub fn spawn(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match state.store.due_outbound(BATCH).await {
                Ok(due) if due.is_empty() => tokio::time::sleep(POLL).await,
                Ok(due) => {
                    let sends = due.into_iter().map(|m| send(&state, m));
                    futures_util::future::join_all(sends).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read outbound messages");
                    tokio::time::sleep(POLL * 10).await;
                }
            }
        }
    })
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 4)
}

/// One attempt at one message.
async fn send(state: &AppState, message: MessageRecord) {
    let Some(due) = message.next_attempt_at else {
        return;
    };
    let loaded = match state.pipeline.load(&state.store, &message.provider).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, message = %message.id, "cannot load the provider of an outbound message");
            return;
        }
    };
    let policy = RetryPolicy::from_settings(&loaded.record.config["settings"]["delivery"]);
    let now = Utc::now().timestamp_micros();
    // Claimed for longer than the attempt can take; another sender takes it after that only if
    // this process died.
    let until = now + micros(policy.timeout) + micros(Duration::from_secs(30));
    match state
        .store
        .claim_outbound(message.id.clone(), due, until)
        .await
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot claim an outbound message");
            return;
        }
    }
    let result = match loaded.connection("url") {
        None => Err(format!(
            "provider {} has no url to send to",
            message.provider
        )),
        Some(url) => {
            let content_type = if loaded.kind.name == "x12" {
                "application/edi-x12"
            } else {
                "application/json"
            };
            let mut request = state
                .pipeline
                .http
                .post(url)
                .timeout(policy.timeout)
                .header("Content-Type", content_type)
                .header("X-IOM-Message-Id", &message.id)
                .header("X-IOM-Document", &message.kind);
            if let Some(secret) = loaded.connection("secret") {
                request = request.header(
                    "X-IOM-Signature",
                    iom_providers::secrets::iom_signature(secret, &message.payload),
                );
            }
            match request.body(message.payload.clone()).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("{url} answered {}", r.status())),
                Err(e) => Err(format!("{url}: {e}")),
            }
        }
    };
    let attempt_no = u32::try_from(message.attempts)
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let attempt = match result {
        Ok(()) => Attempt::Delivered,
        Err(error) => Attempt::Failed {
            retry_at: (attempt_no < policy.attempts)
                .then(|| Utc::now().timestamp_micros() + micros(policy.backoff(attempt_no))),
            error,
        },
    };
    metrics::counter!("iom_outbound_attempts_total", "provider" => message.provider.clone(),
        "result" => if matches!(attempt, Attempt::Delivered) { "delivered" } else { "failed" })
    .increment(1);
    if let Err(e) = state
        .store
        .outbound_attempt(message.id.clone(), attempt)
        .await
    {
        tracing::warn!(error = %e, message = %message.id, "cannot record an outbound attempt");
    }
}
