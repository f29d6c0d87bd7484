//! Checkpoints of polled sources: how far the import of an "orders updated since" endpoint got.
//! A page's orders, its message and the checkpoint after it commit in one transaction, so a
//! process that dies mid-import resumes exactly after the last page it stored: no order is
//! skipped, and one fetched again is recognised by its (channel, external id).

use chrono::{DateTime, Utc};

use crate::db::Value;
use crate::providers::{Apply, NewMessage, Processed, Target, process};
use crate::{Store, StoreError, from_micros, micros};

#[derive(Debug, Clone, PartialEq)]
pub struct PullCheckpoint {
    pub provider: String,
    /// The source's own "updated since" value (a timestamp as it sends them).
    pub checkpoint: String,
    /// Pages and orders imported so far.
    pub pages: i64,
    pub orders: i64,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    pub async fn pull_checkpoint(
        &self,
        provider: String,
    ) -> Result<Option<PullCheckpoint>, StoreError> {
        self.read(move |c| {
            c.query_one(
                "SELECT provider, checkpoint, pages, orders, updated_at FROM pull_checkpoints
                 WHERE provider = $1",
                &[Value::Text(&provider)],
            )?
            .map(|mut r| {
                Ok(PullCheckpoint {
                    provider: r.take_text(0)?,
                    checkpoint: r.take_text(1)?,
                    pages: r.int(2)?,
                    orders: r.int(3)?,
                    updated_at: from_micros(r.int(4)?),
                })
            })
            .transpose()
        })
        .await
    }

    /// Logs and applies one fetched page and moves the provider's checkpoint from `expected`
    /// (`None`: no checkpoint yet) to `checkpoint`, in one transaction. `None`, with nothing
    /// written, when the checkpoint is no longer `expected` (another process imported the page).
    /// A page that fails (an unmapped SKU) still moves the checkpoint: it stays in the message
    /// log as `failed`, where a retry after the fix imports it.
    pub async fn process_pulled_page(
        &self,
        message: NewMessage,
        kind: String,
        apply: Apply,
        expected: Option<String>,
        checkpoint: String,
    ) -> Result<Option<Processed>, StoreError> {
        self.write(move |tx| {
            let provider = message.provider.clone();
            let current = tx
                .conn()
                .query_one(
                    "SELECT checkpoint FROM pull_checkpoints WHERE provider = $1",
                    &[Value::Text(&provider)],
                )?
                .map(|r| r.text(0).map(str::to_owned))
                .transpose()?;
            if current != expected {
                return Ok(None);
            }
            let processed = process(tx, Target::New(message), Some(kind), apply, Vec::new())?;
            let created = match &processed {
                Processed::Done { created, .. } => *created as i64,
                _ => 0,
            };
            let now = micros(tx.now());
            tx.conn().execute(
                "INSERT INTO pull_checkpoints (provider, checkpoint, pages, orders, updated_at)
                 VALUES ($1, $2, 1, $3, $4)
                 ON CONFLICT (provider) DO UPDATE SET checkpoint = $2,
                     pages = pull_checkpoints.pages + 1, orders = pull_checkpoints.orders + $3,
                     updated_at = $4",
                &[
                    Value::Text(&provider),
                    Value::Text(&checkpoint),
                    Value::Int(created),
                    Value::Int(now),
                ],
            )?;
            Ok(Some(processed))
        })
        .await
    }
}
