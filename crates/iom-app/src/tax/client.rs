//! AvaTax's REST API v2 over HTTP, for one `tax` instance: HTTP Basic with `account_id` and
//! `license_key`, JSON bodies as `iom_providers::avatax` writes them.

use std::time::Duration;

use iom_providers::avatax::{Transaction, error_message};
use serde_json::Value;

use super::TaxError;
use crate::pipeline::Loaded;

const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Client<'a> {
    http: &'a reqwest::Client,
    base: String,
    account_id: String,
    license_key: String,
    pub company_code: String,
}

impl<'a> Client<'a> {
    pub fn new(http: &'a reqwest::Client, loaded: &Loaded) -> Result<Self, TaxError> {
        let field = |name: &str| {
            loaded.connection(name).map(str::to_owned).ok_or_else(|| {
                TaxError::Refused(format!(
                    "provider {} has no connection.{name}",
                    loaded.name()
                ))
            })
        };
        Ok(Client {
            http,
            base: field("base_url")?.trim_end_matches('/').to_owned(),
            account_id: field("account_id")?,
            license_key: field("license_key")?,
            company_code: field("company_code")?,
        })
    }

    /// `POST /api/v2/transactions/create`.
    pub async fn create(&self, body: &Value) -> Result<Transaction, TaxError> {
        self.post("/api/v2/transactions/create".to_owned(), body)
            .await
    }

    /// `POST /api/v2/transactions/createoradjust`.
    pub async fn create_or_adjust(&self, body: &Value) -> Result<Transaction, TaxError> {
        self.post("/api/v2/transactions/createoradjust".to_owned(), body)
            .await
    }

    /// `POST /api/v2/companies/{companyCode}/transactions/{code}/{action}` (`commit`, `void`,
    /// `adjust`).
    pub async fn act(
        &self,
        code: &str,
        action: &str,
        body: &Value,
    ) -> Result<Transaction, TaxError> {
        let path = format!(
            "/api/v2/companies/{}/transactions/{code}/{action}",
            self.company_code
        );
        self.post(path, body).await
    }

    async fn post(&self, path: String, body: &Value) -> Result<Transaction, TaxError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&self.account_id, Some(&self.license_key))
            .timeout(TIMEOUT)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                TaxError::Unavailable(format!("the tax service cannot be reached: {e}"))
            })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| TaxError::Unavailable(format!("reading the tax service's answer: {e}")))?;
        if status.is_success() {
            return Transaction::parse(&bytes).map_err(TaxError::Unavailable);
        }
        let message = format!(
            "the tax service answered {status}: {}",
            error_message(&bytes)
        );
        // 400 and 404: AvaTax will not take this document; anything else may pass later.
        Err(match status.as_u16() {
            400 | 404 => TaxError::Refused(message),
            _ => TaxError::Unavailable(message),
        })
    }
}
