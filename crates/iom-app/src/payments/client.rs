//! Stripe's API over HTTP, for one `payment` instance: form-encoded POSTs as
//! `iom_providers::stripe` writes them, `Authorization: Bearer` with the instance's secret key,
//! and the call's `Idempotency-Key` on every request, so a request sent again (a retry, a resume
//! after a crash) gets the first answer back instead of moving money again.

use std::time::Duration;

use iom_providers::stripe::{ApiError, Form, PaymentIntent, Refund};
use serde::de::DeserializeOwned;

use super::PaymentError;
use crate::pipeline::Loaded;

/// A service answer slower than this counts as the service being down for this attempt.
const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Client<'a> {
    http: &'a reqwest::Client,
    base: String,
    secret_key: String,
}

impl<'a> Client<'a> {
    pub fn new(http: &'a reqwest::Client, loaded: &Loaded) -> Result<Self, PaymentError> {
        let field = |name: &str| {
            loaded.connection(name).map(str::to_owned).ok_or_else(|| {
                PaymentError::Refused(format!(
                    "provider {} has no connection.{name}",
                    loaded.name()
                ))
            })
        };
        Ok(Client {
            http,
            base: field("base_url")?.trim_end_matches('/').to_owned(),
            secret_key: field("secret_key")?,
        })
    }

    /// `POST /v1/payment_intents` (create and confirm).
    pub async fn create_intent(
        &self,
        form: &Form,
        key: &str,
    ) -> Result<PaymentIntent, PaymentError> {
        self.post("/v1/payment_intents", form, key).await
    }

    /// `POST /v1/payment_intents/{id}/capture`.
    pub async fn capture(
        &self,
        intent: &str,
        form: &Form,
        key: &str,
    ) -> Result<PaymentIntent, PaymentError> {
        self.post(&format!("/v1/payment_intents/{intent}/capture"), form, key)
            .await
    }

    /// `POST /v1/payment_intents/{id}/cancel`.
    pub async fn cancel(
        &self,
        intent: &str,
        form: &Form,
        key: &str,
    ) -> Result<PaymentIntent, PaymentError> {
        self.post(&format!("/v1/payment_intents/{intent}/cancel"), form, key)
            .await
    }

    /// `POST /v1/refunds`.
    pub async fn refund(&self, form: &Form, key: &str) -> Result<Refund, PaymentError> {
        self.post("/v1/refunds", form, key).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &Form,
        key: &str,
    ) -> Result<T, PaymentError> {
        let body = serde_urlencoded::to_string(form)
            .map_err(|e| PaymentError::Refused(format!("encoding the request: {e}")))?;
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.secret_key)
            .header("Idempotency-Key", key)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .timeout(TIMEOUT)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                PaymentError::Unavailable(format!("the payment service cannot be reached: {e}"))
            })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| {
            PaymentError::Unavailable(format!("reading the payment service's answer: {e}"))
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                PaymentError::Unavailable(format!(
                    "the payment service's answer is unreadable: {e}"
                ))
            });
        }
        let error = ApiError::parse(&bytes);
        let message = format!(
            "the payment service answered {status}: {}",
            error.describe()
        );
        // Stripe: 402 a refused card, 400 and 404 a request it will never take; 409 (the same
        // key in flight), 429, 5xx, and a key an operator is about to fix (401, 403) may go
        // through later under the same key.
        Err(match status.as_u16() {
            _ if error.is_lapsed() => PaymentError::Lapsed(message),
            402 => PaymentError::Declined(message),
            400 | 404 => PaymentError::Refused(message),
            _ => PaymentError::Unavailable(message),
        })
    }
}
