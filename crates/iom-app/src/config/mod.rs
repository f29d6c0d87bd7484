//! Configuration as code: `iom config export` writes a database's setup as one YAML document,
//! `iom config import FILE [--dry-run]` makes a database match one.
//!
//! The document ([`document::Setup`]) holds nodes, node groups, sourcing profiles, policies
//! (the newest version's definition), flows (the definitions of the active version and of a
//! draft newer than it), provider instances with their mappings and settings, webhook
//! subscriptions, alerts, notification templates (every one in effect, the defaults included)
//! and the return policy. Every object is written in its canonical form, with the defaults filled
//! in as the API answers it, and lists are sorted by name: exporting, importing into another
//! database and exporting again gives the same text.
//!
//! Secrets are never written: a provider's secret connection field and a subscription's signing
//! secret are references to environment variables (`{"env": "IOM_SECRET_SHOP_ACCESS_TOKEN"}`),
//! resolved when the file is imported (see [`secrets`] for the names export derives and what an
//! unset variable does). One file thus moves a setup from development to test to production.
//!
//! Import:
//! 1. reads the target as it is now (built-in flows, default templates and the default return
//!    policy count as present, see [`current`]);
//! 2. checks the whole file with the rules of the API ([`check`]): a bad object refuses the file,
//!    naming its place (`policies[0].definition: line 3, column 9: …`), and nothing is written;
//! 3. compares object by object ([`diff`]): added, changed (with the fields that differ),
//!    unchanged, or only in the target;
//! 4. unless it is a dry run, writes what is added or changed in one transaction ([`apply`]).
//!
//! **Objects only in the target are kept, never removed**, and listed as such: nodes, flows and
//! providers carry history (orders, runs, messages) that a missing line in a file should not
//! erase. A flow whose file entry has no `active` definition is unpublished; a draft in the
//! target that the file does not name stays (versions are never deleted). A definition equal to
//! a stored version is that version: importing the same file twice writes nothing the second
//! time, and a flow whose definition equals its active one gets no new version.

pub mod apply;
pub mod check;
pub mod current;
pub mod diff;
pub mod document;
pub mod secrets;

use chrono::Utc;
use iom_providers::secrets::MasterKey;
use iom_store::{Store, StoreError};

pub use check::Problem;
pub use diff::{Change, Kind, Status};
pub use document::Setup;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is not a setup document (YAML syntax, unknown keys, wrong types).
    #[error("{0}")]
    Unreadable(String),
    /// Objects of the file are invalid: every problem with its place.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    /// The store refused a change while applying; nothing was written.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The setup of the database behind `store`, as a YAML document.
pub async fn export(store: &Store) -> Result<String, ConfigError> {
    let current = store.read(current::read).await?;
    document::render(&current.setup()?).map_err(ConfigError::Unreadable)
}

/// How an import runs.
pub struct ImportOptions<'a> {
    /// Compare only: nothing is written.
    pub dry_run: bool,
    /// Seals the secrets the file refers to and opens the stored ones to compare.
    pub key: Option<&'a MasterKey>,
    /// The importing process's environment, where secret references are resolved.
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

/// What an import found and did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every object of the file and of the target, by kind.
    pub changes: Vec<Change>,
    /// Secrets left as they were, and why.
    pub notes: Vec<String>,
    /// Whether the changes were written (false for a dry run or when there were none).
    pub applied: bool,
}

impl Report {
    /// How many objects are added or changed.
    pub fn changed(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c.status, Status::Added | Status::Changed(_)))
            .count()
    }

    /// The report as `iom config import` prints it: one line per object that is added, changed
    /// or only in the target, a count of the unchanged ones, the notes, and what was done.
    pub fn lines(&self, dry_run: bool) -> Vec<String> {
        let mut out: Vec<String> = self
            .changes
            .iter()
            .filter(|c| c.status != Status::Unchanged)
            .map(ToString::to_string)
            .collect();
        let unchanged = self
            .changes
            .iter()
            .filter(|c| c.status == Status::Unchanged)
            .count();
        out.push(format!("= {unchanged} unchanged"));
        out.extend(self.notes.iter().map(|n| format!("! {n}")));
        let n = self.changed();
        out.push(if n == 0 {
            "nothing to change".to_owned()
        } else if dry_run {
            format!("dry run: {n} to change, nothing written")
        } else {
            format!("applied: {n} changed in one transaction")
        });
        out
    }
}

/// Makes the database behind `store` match the setup in `text` (see the module documentation).
pub async fn import(
    store: &Store,
    text: &str,
    options: ImportOptions<'_>,
) -> Result<Report, ConfigError> {
    let file = document::parse(text).map_err(ConfigError::Unreadable)?;
    let current = store.read(current::read).await?;
    let checked = check::check(&file, &current, options.key, options.env, Utc::now())
        .map_err(ConfigError::Invalid)?;
    let changes = diff::diff(&current.setup()?, &checked.setup, &checked.secret_changes);
    let mut report = Report {
        changes,
        notes: checked.notes.clone(),
        applied: false,
    };
    if options.dry_run || report.changed() == 0 {
        return Ok(report);
    }
    let changes = report.changes.clone();
    store
        .write_solo(move |tx| {
            let start = iom_store::flows::max_seq(tx.conn())?;
            match apply::apply(tx, &checked, &changes, start)? {
                Ok(()) => Ok(()),
                // Rolls the whole transaction back.
                Err(message) => Err(StoreError::Domain(iom_domain::DomainError::conflict(
                    message,
                ))),
            }
        })
        .await
        .map_err(|e| match e {
            StoreError::Domain(d) => ConfigError::Refused(d.to_string()),
            other => ConfigError::Store(other),
        })?;
    report.applied = true;
    Ok(report)
}
