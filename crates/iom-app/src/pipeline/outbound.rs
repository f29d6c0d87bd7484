//! Outbound provider actions. A release to a node goes to a `webhook` instance as signed JSON:
//! logged as an outbound message first, then posted with a timeout and retried with backoff;
//! after the last attempt the message is `dead`, where an operator finds it with its error.

use std::time::Duration;

use iom_store::Store;
use iom_store::providers::{Direction, NewMessage};
use serde_json::{Value, json};
use thiserror::Error;

use super::{Pipeline, PipelineError};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub timeout: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            timeout: Duration::from_secs(10),
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Error)]
pub enum OutboundError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("provider {provider} is a {kind}, which cannot {action}")]
    Unsupported {
        provider: String,
        kind: &'static str,
        action: String,
    },
    #[error("provider {0} has no url or no secret")]
    Incomplete(String),
    #[error("message {message_id} is dead after {attempts} attempts: {last_error}")]
    Dead {
        message_id: String,
        attempts: u32,
        last_error: String,
    },
}

/// What a successful delivery left.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub message_id: String,
    pub attempts: u32,
}

impl Pipeline {
    /// Releases `document` (an order and the lines to ship from the node) through the `webhook`
    /// instance `provider`: `POST url` with `X-IOM-Signature: sha256=HEX` of the body.
    pub async fn release_to_node(
        &self,
        store: &Store,
        provider: &str,
        document: &Value,
        policy: &RetryPolicy,
    ) -> Result<Delivered, OutboundError> {
        self.send_action(store, provider, "release", document, policy)
            .await
    }

    /// Runs the outbound `action` of instance `provider` with `document`: `POST url` with
    /// `{"action", "document"}` and `X-IOM-Signature: sha256=HEX` of the body.
    pub async fn send_action(
        &self,
        store: &Store,
        provider: &str,
        action: &str,
        document: &Value,
        policy: &RetryPolicy,
    ) -> Result<Delivered, OutboundError> {
        let loaded = self.load(store, provider).await?;
        if !loaded.kind.outbound.contains(&action) {
            return Err(OutboundError::Unsupported {
                provider: provider.to_owned(),
                kind: loaded.kind.name,
                action: action.to_owned(),
            });
        }
        let (Some(url), Some(secret)) = (loaded.connection("url"), loaded.connection("secret"))
        else {
            return Err(OutboundError::Incomplete(provider.to_owned()));
        };
        let body = serde_json::to_vec(&json!({"action": action, "document": document}))
            .expect("JSON values serialise");
        let message_id = store
            .log_message(NewMessage {
                provider: provider.to_owned(),
                direction: Direction::Outbound,
                kind: action.to_owned(),
                status: "received",
                payload: body.clone(),
            })
            .await
            .map_err(PipelineError::from)?;
        let signature = iom_providers::secrets::iom_signature(secret, &body);
        let mut last_error = String::new();
        for attempt in 1..=policy.attempts.max(1) {
            let result = self
                .http
                .post(url)
                .timeout(policy.timeout)
                .header("Content-Type", "application/json")
                .header("X-IOM-Signature", &signature)
                .header("X-IOM-Message-Id", &message_id)
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(r) if r.status().is_success() => {
                    store
                        .set_message_status(message_id.clone(), "processed", attempt.into(), None)
                        .await
                        .map_err(PipelineError::from)?;
                    return Ok(Delivered {
                        message_id,
                        attempts: attempt,
                    });
                }
                Ok(r) => last_error = format!("{url} answered {}", r.status()),
                Err(e) => last_error = format!("{url}: {e}"),
            }
            let last = attempt == policy.attempts.max(1);
            store
                .set_message_status(
                    message_id.clone(),
                    if last { "dead" } else { "failed" },
                    attempt.into(),
                    Some(json!({"message": last_error})),
                )
                .await
                .map_err(PipelineError::from)?;
            if !last {
                let wait = policy
                    .first_backoff
                    .saturating_mul(1 << (attempt - 1).min(16))
                    .min(policy.max_backoff);
                tokio::time::sleep(wait).await;
            }
        }
        Err(OutboundError::Dead {
            message_id,
            attempts: policy.attempts.max(1),
            last_error,
        })
    }
}
