//! Policy versions: filter and execution policies in CEL, as `iom-flow` compiles them. Versions
//! never change once written, so a run that pinned one reads the same rules however many newer
//! versions follow.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::{Conn, Row, Value};
use crate::{Store, StoreError, from_micros, micros};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyVersion {
    pub name: String,
    pub version: i64,
    /// `filter` or `execution`.
    pub kind: String,
    /// `yaml` or `json`.
    pub format: String,
    pub source: String,
    /// The compiled policy (JSON), as the executor evaluates it.
    #[serde(skip)]
    pub policy: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "name, version, kind, format, source, policy, created_at";

fn policy_version(row: Row) -> Result<PolicyVersion, StoreError> {
    Ok(PolicyVersion {
        name: row.text(0)?.to_owned(),
        version: row.int(1)?,
        kind: row.text(2)?.to_owned(),
        format: row.text(3)?.to_owned(),
        source: row.text(4)?.to_owned(),
        policy: row.text(5)?.to_owned(),
        created_at: from_micros(row.int(6)?),
    })
}

/// A new version to store. `policy` is built from the number it gets (see [`insert`]).
#[derive(Debug, Clone)]
pub struct NewPolicy {
    pub name: String,
    pub kind: String,
    pub format: String,
    pub source: String,
}

/// The newest version of `name`, if any.
pub fn latest(conn: &mut dyn Conn, name: &str) -> Result<Option<PolicyVersion>, StoreError> {
    conn.query_one(
        &format!(
            "SELECT {COLUMNS} FROM policy_versions WHERE name = $1 ORDER BY version DESC LIMIT 1"
        ),
        &[Value::Text(name)],
    )?
    .map(policy_version)
    .transpose()
}

/// Stores the next version of `new.name`; `compiled` turns the number it gets into the policy's
/// JSON, so the stored policy carries its own version. Two writers at once cannot both take a
/// number: the second finds it taken and gets a conflict to try again.
pub fn insert(
    conn: &mut dyn Conn,
    new: &NewPolicy,
    now: DateTime<Utc>,
    compiled: impl FnOnce(i64) -> Result<String, StoreError>,
) -> Result<PolicyVersion, StoreError> {
    let version = latest(conn, &new.name)?.map_or(0, |v| v.version) + 1;
    let policy = compiled(version)?;
    let inserted = conn.execute(
        "INSERT INTO policy_versions (name, version, kind, format, source, policy, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name, version) DO NOTHING",
        &[
            Value::Text(&new.name),
            Value::Int(version),
            Value::Text(&new.kind),
            Value::Text(&new.format),
            Value::Text(&new.source),
            Value::Text(&policy),
            Value::Int(micros(now)),
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::Domain(iom_domain::DomainError::conflict(
            format!(
                "version {version} of policy {} was stored at the same time; try again",
                new.name
            ),
        )));
    }
    get(conn, &new.name, version)?
        .ok_or_else(|| StoreError::Corrupt("a stored policy version vanished".into()))
}

/// A policy as the audit log keeps it: its newest version; none when it has none.
pub fn audit_doc(conn: &mut dyn Conn, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
    Ok(latest(conn, name)?
        .map(|v| serde_json::json!({"version": v.version, "kind": v.kind, "source": v.source})))
}

pub fn get(
    conn: &mut dyn Conn,
    name: &str,
    version: i64,
) -> Result<Option<PolicyVersion>, StoreError> {
    conn.query_one(
        &format!("SELECT {COLUMNS} FROM policy_versions WHERE name = $1 AND version = $2"),
        &[Value::Text(name), Value::Int(version)],
    )?
    .map(policy_version)
    .transpose()
}

/// Every version of a policy, newest first.
pub fn versions(conn: &mut dyn Conn, name: &str) -> Result<Vec<PolicyVersion>, StoreError> {
    conn.query(
        &format!("SELECT {COLUMNS} FROM policy_versions WHERE name = $1 ORDER BY version DESC"),
        &[Value::Text(name)],
    )?
    .into_iter()
    .map(policy_version)
    .collect()
}

/// The newest version of every policy, by name: the set in force.
pub fn latest_versions(conn: &mut dyn Conn) -> Result<Vec<PolicyVersion>, StoreError> {
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM policy_versions v WHERE version =
               (SELECT MAX(version) FROM policy_versions w WHERE w.name = v.name) ORDER BY name"
        ),
        &[],
    )?
    .into_iter()
    .map(policy_version)
    .collect()
}

/// (name, newest version) of every policy: what a run pins when it starts. Cheap, read once per
/// dispatch.
pub fn latest_keys(conn: &mut dyn Conn) -> Result<Vec<(String, i64)>, StoreError> {
    conn.query(
        "SELECT name, MAX(version) FROM policy_versions GROUP BY name ORDER BY name",
        &[],
    )?
    .into_iter()
    .map(|r| Ok((r.text(0)?.to_owned(), r.int(1)?)))
    .collect()
}

impl Store {
    /// Every version of a policy, newest first.
    pub async fn policy_versions(&self, name: String) -> Result<Vec<PolicyVersion>, StoreError> {
        self.read(move |c| versions(c, &name)).await
    }

    /// The newest version of every policy.
    pub async fn latest_policy_versions(&self) -> Result<Vec<PolicyVersion>, StoreError> {
        self.read(latest_versions).await
    }
}
