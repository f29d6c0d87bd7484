//! All of iom's SQL. Two backends, SQLite (the embedded default) and PostgreSQL (to scale out to
//! many processes), behind one [`Store`].
//!
//! Reads run on a pool of connections. Writes go to one writer per process that commits them in
//! groups: jobs that arrive while a transaction is open share the next one, each inside its own
//! savepoint, so a failing job does not take the others with it. Every business event a job emits is
//! written in the same transaction as the change it announces (the transactional outbox), and events
//! become visible strictly in sequence order (see `writer.rs`).

pub mod acting;
pub mod audit;
mod db;
pub mod events;
mod features;
pub mod flows;
pub mod insights;
pub mod inventory;
pub mod keyset;
mod migrate;
pub mod nodes;
pub mod notifications;
mod open;
pub mod orders;
pub mod outbound;
pub mod overview;
pub mod payments;
mod pg;
pub mod policies;
pub mod providers;
pub mod pull;
pub mod returns;
pub mod saved_filters;
pub mod sessions;
pub mod shipping;
pub mod testing;
pub mod tokens;
pub mod users;
mod writer;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use iom_domain::{DomainError, EventDraft};

pub use db::{Conn, DeferredRows, Dialect, Owned, Row, Value};
pub use events::Event;
pub use orders::{
    CreateOutcome, Due, Idempotency, OrderColumn, OrderFilter, OrderSort, OrderSummary,
};
pub use tokens::{TokenLimits, TokenRecord};
pub use users::{UserChange, UserRecord};
pub use writer::Tx;

/// A PostgreSQL error with the server's message, when it sent one.
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{e}: {}", db.message()),
        None => e.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Shown with the server's message: the client's own text for it is only "db error".
    #[error("postgres: {}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
    #[error("the transaction could not commit: {0}")]
    Commit(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    BadUrl(String),
    #[error("the store is shutting down")]
    Closed,
    /// Work that failed had already changed something, with no savepoint to undo it alone: the
    /// whole transaction must be rolled back (and the work done again with savepoints).
    #[error("the transaction must be rolled back: {0}")]
    RollBack(String),
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// The handle the rest of iom holds. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    readers: open::Readers,
    writer: writer::WriterHandle,
    dialect: Dialect,
    /// SQLite only: checkpoints the log off the writer's path; stops when the store is dropped.
    _checkpointer: Option<open::Checkpointer>,
}

impl Store {
    /// Opens (creating and migrating as needed) the database at `url`: `sqlite://PATH`,
    /// `sqlite::memory:` is not supported (readers and the writer must share one file), or
    /// `postgres://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let url = url.to_owned();
        tokio::task::spawn_blocking(move || open::open(&url))
            .await
            .map_err(|e| StoreError::Commit(e.to_string()))?
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// Runs `f` on a pooled read connection, off the async threads.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        let turn = inner.readers.turn().await?;
        tokio::task::spawn_blocking(move || {
            let outcome = inner.readers.with(f);
            drop(turn);
            outcome
        })
        .await
        .map_err(|e| StoreError::Commit(e.to_string()))?
    }

    /// Runs `f` in a write transaction shared with other jobs (group commit). `f`'s changes and the
    /// events it emits commit together or not at all; the result is returned once committed.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.inner.writer.run(false, f).await
    }

    /// As [`Store::write`], in a transaction of its own rather than a shared one: for large jobs
    /// (a flow pass, a batch of a thousand inventory changes) that gain nothing from sharing a
    /// commit. In a shared transaction each job runs under a savepoint, and while one is open
    /// SQLite copies every page a statement changes into a statement journal.
    pub async fn write_solo<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.inner.writer.run(true, f).await
    }

    /// The database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query("SELECT 1", &[]).map(|_| ())).await
    }
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(v: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(v).single().unwrap_or_default()
}

/// An event of a job, waiting for the end of the batch to be written.
pub(crate) struct PendingEvent {
    pub draft: EventDraft,
    pub at: DateTime<Utc>,
    pub actor: std::sync::Arc<iom_domain::Actor>,
}
