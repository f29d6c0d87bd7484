//! Reading business events: in commit order after a sequence number, or all of one subject.

use chrono::{DateTime, Utc};
use iom_domain::Actor;
use serde::Serialize;

use crate::db::{Conn, Row, Value};
use crate::{Store, StoreError, from_micros};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
    /// Who did it; none on events written before actors were recorded.
    pub actor: Option<Actor>,
}

/// The columns [`event`] reads, in its order.
pub(crate) const EVENT_COLUMNS: &str = "seq, type, subject, at, data, actor_kind, actor_id";

impl Store {
    /// Events after `after`, oldest first. `types` is a comma-separated list of types or prefixes
    /// ending in `*` (`order.*,inventory.changed`); `None` or `*` for all.
    pub async fn events_after(
        &self,
        after: i64,
        types: Option<String>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.read(move |c| after_seq(c, after, types.as_deref(), limit))
            .await
    }

    /// A consumer's next events of `types` after its cursor `after`, and how far the log was
    /// read for them ([`Scan::read_to`]), which is where its cursor goes once it has handled
    /// them: past every event it does not want, not only the last one it does. Moving only to
    /// the last wanted event leaves a consumer of rare types (cancellations, refunds) reading
    /// the same run of every other event again each round, ever longer.
    pub async fn scan_events(
        &self,
        after: i64,
        types: String,
        limit: usize,
    ) -> Result<Scan, StoreError> {
        self.read(move |c| {
            // Read first: every event up to it is visible to the page read next.
            let head = c
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[])?
                .map_or(Ok(0), |r| r.int(0))?;
            let events = page(c, after, Some(head), Some(&types), limit)?;
            let read_to = match events.last() {
                Some(last) if events.len() >= limit.clamp(1, 10_000) => last.seq,
                _ => head.max(after),
            };
            Ok(Scan { events, read_to })
        })
        .await
    }

    /// Every event about one subject (an order's timeline), oldest first.
    pub async fn subject_events(&self, subject: String) -> Result<Vec<Event>, StoreError> {
        self.read(move |c| {
            c.query(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE subject = $1 ORDER BY seq"),
                &[Value::Text(&subject)],
            )?
            .into_iter()
            .map(event)
            .collect()
        })
        .await
    }

    /// The highest sequence number committed so far (0 when there is none).
    pub async fn last_event_seq(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            let row = c.query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[])?;
            row.map_or(Ok(0), |r| r.int(0))
        })
        .await
    }
}

/// What [`Store::scan_events`] read: the events wanted, and the seq the log was read to.
#[derive(Debug, Clone)]
pub struct Scan {
    pub events: Vec<Event>,
    /// The last event of the page when it is full; otherwise the last event of any type when
    /// it was read (or the cursor, on an empty log).
    pub read_to: i64,
}

/// Events after `after` on any connection (inside a write as well); see [`Store::events_after`].
pub fn after_seq(
    conn: &mut dyn Conn,
    after: i64,
    types: Option<&str>,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    page(conn, after, None, types, limit)
}

/// Events in `(after, until]` of `types` (patterns, comma-separated), oldest first.
fn page(
    conn: &mut dyn Conn,
    after: i64,
    until: Option<i64>,
    types: Option<&str>,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1");
    if let Some(until) = until {
        sql.push_str(&format!(" AND seq <= {until}"));
    }
    let mut bounds: Vec<String> = Vec::new();
    let patterns: Vec<&str> = types
        .unwrap_or("*")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if !patterns.is_empty() && !patterns.contains(&"*") {
        let mut clauses = Vec::new();
        for pattern in patterns {
            if let Some(prefix) = pattern.strip_suffix('*') {
                // A prefix is the range [prefix, prefix with its last character incremented).
                let mut upper: Vec<char> = prefix.chars().collect();
                if let Some(last) = upper.pop() {
                    let next = char::from_u32(last as u32 + 1).unwrap_or(char::MAX);
                    upper.push(next);
                }
                // $1 is `after`; the bounds follow it.
                let first = bounds.len() + 2;
                bounds.push(prefix.to_owned());
                bounds.push(upper.into_iter().collect());
                clauses.push(format!("(type >= ${first} AND type < ${})", first + 1));
            } else {
                clauses.push(format!("type = ${}", bounds.len() + 2));
                bounds.push(pattern.to_owned());
            }
        }
        sql.push_str(&format!(" AND ({})", clauses.join(" OR ")));
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT {}", limit.clamp(1, 10_000)));
    let mut params = vec![Value::Int(after)];
    params.extend(bounds.iter().map(|b| Value::Text(b)));
    conn.query(&sql, &params)?.into_iter().map(event).collect()
}

pub(crate) fn event(mut row: Row) -> Result<Event, StoreError> {
    let data = row.take_text(4)?;
    Ok(Event {
        seq: row.int(0)?,
        kind: row.text(1)?.to_owned(),
        subject: row.text(2)?.to_owned(),
        at: from_micros(row.int(3)?),
        data: serde_json::from_str(&data)?,
        actor: match (row.opt_text(5)?, row.opt_text(6)?) {
            (Some(kind), Some(id)) => Actor::from_parts(kind, id),
            _ => None,
        },
    })
}
