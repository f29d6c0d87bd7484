//! The audit log of configuration changes: who changed which object when, with its document
//! before and after. The store functions that write configuration (nodes, profiles, flows,
//! policies, providers, subscriptions, alerts, templates, the return policy, tokens) call
//! [`Tx::audit`] with the object's document as the API shows it (secrets masked), so the log
//! holds nothing the API would not show. A write that leaves the document as it was is not a
//! change and is not logged.

use chrono::{DateTime, Utc};
use iom_domain::Actor;
use serde::Serialize;
use serde_json::Value as Json;

use crate::db::{Conn, Row, Value};
use crate::writer::Tx;
use crate::{Store, StoreError, from_micros, micros};

/// One configuration change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// `kind:name`: `node:WH-EAST`, `flow:default`, `provider:shop-eu`.
    pub subject: String,
    /// The document before the change; none when the object was created.
    pub before: Option<Json>,
    /// The document after; none when it was removed.
    pub after: Option<Json>,
}

/// Which changes to list.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// An actor's id (`ops@example.com`), or `kind:id` (`token:shop-eu`).
    pub actor: Option<String>,
    /// A subject (`node:WH-EAST`), or a prefix ending in `*` (`node:*`).
    pub subject: Option<String>,
    /// Only changes after this sequence number.
    pub after: i64,
    pub limit: usize,
}

/// `sealed:1a2b3c4d`: a short digest of a sealed secret for the log, so that a change of the
/// secret shows as a change without the log holding the secret, sealed or not.
pub fn fingerprint(sealed: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(sealed.as_bytes());
    format!("sealed:{}", hex::encode(&digest[..4]))
}

/// The JSON `doc` column of the row of `table` whose `name` is `name`, for a change's `before`.
pub(crate) fn stored_doc(
    conn: &mut dyn Conn,
    table: &str,
    name: &str,
) -> Result<Option<Json>, StoreError> {
    conn.query_one(
        &format!("SELECT doc FROM {table} WHERE name = $1"),
        &[Value::Text(name)],
    )?
    .map(|row| Ok(serde_json::from_str(row.text(0)?)?))
    .transpose()
}

impl Tx<'_> {
    /// Logs a change of `subject` by this job's actor, unless `before` and `after` are the same.
    pub fn audit(
        &mut self,
        subject: &str,
        before: Option<&Json>,
        after: Option<&Json>,
    ) -> Result<(), StoreError> {
        if before == after {
            return Ok(());
        }
        let actor = self.actor().clone();
        let at = micros(self.now());
        let text = |v: Option<&Json>| v.map(Json::to_string);
        let (before, after) = (text(before), text(after));
        self.conn().execute(
            "INSERT INTO audit_log (at, actor_kind, actor_id, subject, before, after)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                Value::Int(at),
                Value::Text(actor.kind.as_str()),
                Value::Text(&actor.id),
                Value::Text(subject),
                before.as_deref().map_or(Value::Null, Value::Text),
                after.as_deref().map_or(Value::Null, Value::Text),
            ],
        )?;
        Ok(())
    }
}

impl Store {
    /// Configuration changes, oldest first.
    pub async fn audit_entries(&self, query: AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |c| entries(c, &query)).await
    }
}

fn entries(conn: &mut dyn Conn, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
    let mut sql = String::from(
        "SELECT seq, at, actor_kind, actor_id, subject, before, after FROM audit_log WHERE seq > $1",
    );
    // $1 is `after`; each bound value takes the next number.
    let mut params: Vec<String> = Vec::new();
    let mut bind = |value: String| {
        params.push(value);
        format!("${}", params.len() + 1)
    };
    if let Some(actor) = query.actor.as_deref().filter(|a| !a.is_empty()) {
        match actor.split_once(':') {
            Some((kind, id)) if Actor::from_parts(kind, id).is_some() => {
                let kind = bind(kind.to_owned());
                let id = bind(id.to_owned());
                sql.push_str(&format!(" AND actor_kind = {kind} AND actor_id = {id}"));
            }
            _ => {
                let id = bind(actor.to_owned());
                sql.push_str(&format!(" AND actor_id = {id}"));
            }
        }
    }
    if let Some(subject) = query.subject.as_deref().filter(|s| !s.is_empty()) {
        match subject.strip_suffix('*') {
            Some(prefix) => {
                // The range [prefix, prefix + U+10FFFF): a LIKE would need its wildcards escaped.
                let low = bind(prefix.to_owned());
                let high = bind(format!("{prefix}\u{10FFFF}"));
                sql.push_str(&format!(" AND subject >= {low} AND subject < {high}"));
            }
            None => {
                let subject = bind(subject.to_owned());
                sql.push_str(&format!(" AND subject = {subject}"));
            }
        }
    }
    sql.push_str(&format!(
        " ORDER BY seq LIMIT {}",
        query.limit.clamp(1, 1000)
    ));
    let mut values = vec![Value::Int(query.after)];
    values.extend(params.iter().map(|p| Value::Text(p)));
    conn.query(&sql, &values)?.into_iter().map(entry).collect()
}

fn entry(mut row: Row) -> Result<AuditEntry, StoreError> {
    let json = |text: Option<String>| -> Result<Option<Json>, StoreError> {
        Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
    };
    let before = json(row.take_opt_text(5)?)?;
    let after = json(row.take_opt_text(6)?)?;
    let kind = row.text(2)?.to_owned();
    let id = row.text(3)?.to_owned();
    Ok(AuditEntry {
        seq: row.int(0)?,
        at: from_micros(row.int(1)?),
        actor: Actor::from_parts(&kind, &id).unwrap_or_else(|| Actor::system(id)),
        subject: row.text(4)?.to_owned(),
        before,
        after,
    })
}
