//! Outbound documents in the message log: written in the transaction that moves the consumer
//! of business events which decided them (so an event causes its documents exactly once, even
//! when a process dies between reading the event and writing them), numbered from a counter per
//! provider instance, then sent by a worker that claims each due message, or kept for the
//! partner to pick up.
//!
//! Statuses of an outbound message: `pending` (to be sent at `next_attempt_at`), `failed` (an
//! attempt failed; sent again at `next_attempt_at`), `processed` (the receiver took it), `dead`
//! (out of attempts; an operator may retry it), `ready` (kept for pick-up).

use serde_json::Value as Json;

use crate::db::{Conn, Value};
use crate::providers::{MESSAGE_COLUMNS, MessageRecord, content_hash, log_text, message};
use crate::{Store, StoreError, micros};

/// Builds a document from its control number (for X12; other kinds ignore it).
pub type BuildDocument = Box<dyn FnOnce(u64) -> Result<Built, String> + Send>;

/// A built document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Built {
    pub payload: Vec<u8>,
    /// References the document uses for its (first) order, recorded in `x12_references` so that
    /// a reply quoting one finds the order ([`Store::order_of_reference`]).
    pub references: Vec<String>,
}

impl From<Vec<u8>> for Built {
    fn from(payload: Vec<u8>) -> Self {
        Built {
            payload,
            references: Vec::new(),
        }
    }
}

/// A document decided by a business event.
pub struct OutboundDocument {
    pub provider: String,
    /// `855`, `856`, `810`, `940`, `release` …
    pub kind: String,
    pub order_ids: Vec<String>,
    /// Posted by the sender (`pending`), or kept for the partner to fetch (`ready`).
    pub deliver: bool,
    /// Takes the next X12 control number of the provider.
    pub numbered: bool,
    /// A key that makes the document one of a kind for its provider (`855:<order id>`): when a
    /// document with this key was logged before (`outbound_once`), this one is dropped before
    /// it takes a number.
    pub once: Option<String>,
    pub build: BuildDocument,
}

/// What a send attempt came to.
#[derive(Debug, Clone)]
pub enum Attempt {
    Delivered,
    /// Failed; try again at this time (microseconds since the epoch) or, when `None`, give up.
    Failed {
        error: String,
        retry_at: Option<i64>,
    },
}

impl Store {
    /// Logs `documents` and moves `consumer` from `from` to `to`, in one transaction. `false`,
    /// with nothing written, when the consumer is no longer at `from` (another process got
    /// there first). A document that cannot be built (incomplete settings) is logged `failed`
    /// with the reason, so it is visible rather than lost.
    pub async fn commit_documents(
        &self,
        consumer: String,
        from: i64,
        to: i64,
        documents: Vec<OutboundDocument>,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let moved = tx.conn().execute(
                "UPDATE delivery_cursors SET cursor = $3, delivered = delivered + 1, attempts = 0,
                     last_error = NULL, last_attempt_at = $4, last_success_at = $4
                 WHERE consumer = $1 AND cursor = $2",
                &[
                    Value::Text(&consumer),
                    Value::Int(from),
                    Value::Int(to),
                    Value::Int(now),
                ],
            )?;
            if moved != 1 {
                return Ok(false);
            }
            // One-of-a-kind documents already logged are dropped first, so that no control
            // number is taken for them; then each instance's numbers come as one block, and
            // the documents are written in a few multi-row statements.
            let claimed = claim_once(tx.conn(), &documents)?;
            let kept: Vec<OutboundDocument> = documents
                .into_iter()
                .filter(|d| {
                    d.once
                        .as_ref()
                        .is_none_or(|k| claimed.contains(&(d.provider.clone(), k.clone())))
                })
                .collect();
            let mut numbers: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
            for doc in kept.iter().filter(|d| d.numbered) {
                numbers.entry(doc.provider.clone()).or_default().1 += 1;
            }
            for (provider, (first, count)) in numbers.iter_mut() {
                *first = take_controls(tx.conn(), provider, *count)?;
            }
            let mut rows = Vec::with_capacity(kept.len());
            for doc in kept {
                let control = match numbers.get_mut(&doc.provider) {
                    Some((next, _)) if doc.numbered => {
                        *next += 1;
                        *next - 1
                    }
                    _ => 0,
                };
                rows.push(built_row(doc, control, now));
            }
            insert_rows(tx.conn(), &rows)?;
            Ok(true)
        })
        .await
    }

    /// The order a reference written into one of `provider`'s documents stands for.
    pub async fn order_of_reference(
        &self,
        provider: String,
        reference: String,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |conn| order_of_reference(conn, &provider, &reference))
            .await
    }

    /// The next X12 control number of `provider` (1, 2, 3 …), committed before it is used.
    pub async fn next_control_number(&self, provider: String) -> Result<u64, StoreError> {
        self.write(move |tx| next_control(tx.conn(), &provider))
            .await
    }

    /// Outbound messages due for an attempt, oldest first.
    pub async fn due_outbound(&self, limit: usize) -> Result<Vec<MessageRecord>, StoreError> {
        let now = micros(chrono::Utc::now());
        self.read(move |c| {
            c.query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM provider_messages
                     WHERE direction = 'outbound' AND status IN ('pending', 'failed')
                       AND next_attempt_at <= $1
                     ORDER BY next_attempt_at, id LIMIT {}",
                    limit.clamp(1, 1000)
                ),
                &[Value::Int(now)],
            )?
            .into_iter()
            .map(message)
            .collect()
        })
        .await
    }

    /// Claims a due message for one attempt until `until`: `false` when another sender claimed
    /// it first (its `next_attempt_at` moved).
    pub async fn claim_outbound(
        &self,
        id: String,
        due: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let n = tx.conn().execute(
                "UPDATE provider_messages SET next_attempt_at = $3
                 WHERE id = $1 AND next_attempt_at = $2 AND status IN ('pending', 'failed')",
                &[Value::Text(&id), Value::Int(due), Value::Int(until)],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Records an attempt on a claimed message.
    pub async fn outbound_attempt(&self, id: String, attempt: Attempt) -> Result<(), StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let (status, error, next) = match &attempt {
                Attempt::Delivered => ("processed", None, None),
                Attempt::Failed { error, retry_at } => (
                    if retry_at.is_some() { "failed" } else { "dead" },
                    Some(serde_json::json!({"message": error}).to_string()),
                    *retry_at,
                ),
            };
            tx.conn().execute(
                "UPDATE provider_messages SET status = $2, attempts = attempts + 1, error = $3,
                     next_attempt_at = $4, updated_at = $5
                 WHERE id = $1",
                &[
                    Value::Text(&id),
                    Value::Text(status),
                    error.as_ref().into(),
                    next.into(),
                    Value::Int(now),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Sends a `failed` or `dead` outbound message again now, with a fresh set of attempts.
    /// `false` when the message is in another status.
    pub async fn requeue_outbound(&self, provider: String, id: String) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let n = tx.conn().execute(
                "UPDATE provider_messages SET status = 'pending', attempts = 0, next_attempt_at = $3,
                     updated_at = $3
                 WHERE provider = $1 AND id = $2 AND direction = 'outbound'
                   AND status IN ('failed', 'dead') AND payload <> ''",
                &[Value::Text(&provider), Value::Text(&id), Value::Int(now)],
            )?;
            Ok(n == 1)
        })
        .await
    }
}

fn next_control(conn: &mut dyn Conn, provider: &str) -> Result<u64, StoreError> {
    take_controls(conn, provider, 1)
}

/// `count` consecutive control numbers of `provider`; the first of them.
fn take_controls(conn: &mut dyn Conn, provider: &str, count: u64) -> Result<u64, StoreError> {
    let count =
        i64::try_from(count).map_err(|_| StoreError::Corrupt("too many documents".into()))?;
    let row = conn
        .query_one(
            "INSERT INTO x12_control_numbers (provider, last) VALUES ($1, $2)
             ON CONFLICT (provider) DO UPDATE SET last = x12_control_numbers.last + $2
             RETURNING last",
            &[Value::Text(provider), Value::Int(count)],
        )?
        .ok_or_else(|| StoreError::Corrupt("control number not returned".into()))?;
    let last = row.int(0)?;
    u64::try_from(last - count + 1)
        .map_err(|_| StoreError::Corrupt("negative control number".into()))
}

/// Claims the keys of the one-of-a-kind documents among `documents`; the (provider, key)
/// pairs claimed now, the others having been logged before.
fn claim_once(
    conn: &mut dyn Conn,
    documents: &[OutboundDocument],
) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
    let keys: Vec<(&str, &str)> = documents
        .iter()
        .filter_map(|d| d.once.as_deref().map(|k| (d.provider.as_str(), k)))
        .collect();
    let mut claimed = std::collections::HashSet::new();
    for chunk in keys.chunks(200) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let params: Vec<Value<'_>> = chunk
            .iter()
            .flat_map(|(p, k)| [Value::Text(p), Value::Text(k)])
            .collect();
        for row in conn.query(
            &format!(
                "INSERT INTO outbound_once (provider, key) VALUES {}
                 ON CONFLICT (provider, key) DO NOTHING RETURNING provider, key",
                values.join(", ")
            ),
            &params,
        )? {
            claimed.insert((row.text(0)?.to_owned(), row.text(1)?.to_owned()));
        }
    }
    Ok(claimed)
}

/// A document built and ready to be inserted into the message log.
struct Row {
    id: String,
    provider: String,
    kind: String,
    status: &'static str,
    error: Option<String>,
    payload: String,
    encoding: &'static str,
    hash: String,
    order_ids: String,
    /// For a message to send: now.
    next_attempt_at: Option<i64>,
    /// (reference, order id) for `x12_references`.
    references: Vec<(String, String)>,
    now: i64,
}

/// Builds a document with its control number; a document that cannot be built becomes a
/// `failed` message with the reason, so that it is visible rather than lost.
fn built_row(doc: OutboundDocument, control: u64, now: i64) -> Row {
    let (built, status, error) = match (doc.build)(control) {
        Ok(built) => (built, if doc.deliver { "pending" } else { "ready" }, None),
        Err(message) => (
            Built::default(),
            "failed",
            Some(serde_json::json!({"message": message}).to_string()),
        ),
    };
    let hash = content_hash(&built.payload);
    let (payload, encoding) = log_text(&built.payload);
    let payload = payload.into_owned();
    let references = match doc.order_ids.first() {
        Some(order) => built
            .references
            .into_iter()
            .map(|r| (r, order.clone()))
            .collect(),
        None => Vec::new(),
    };
    Row {
        id: uuid::Uuid::now_v7().to_string(),
        order_ids: serde_json::to_string(&doc.order_ids).unwrap_or_else(|_| "[]".into()),
        provider: doc.provider,
        kind: doc.kind,
        status,
        error,
        payload,
        encoding,
        hash,
        next_attempt_at: (status == "pending").then_some(now),
        references,
        now,
    }
}

/// Inserts the rows into the message log, and their references, a chunk per statement.
fn insert_rows(conn: &mut dyn Conn, rows: &[Row]) -> Result<(), StoreError> {
    const COLUMNS: usize = 12;
    for chunk in rows.chunks(50) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = |k: usize| format!("${}", i * COLUMNS + k);
                format!(
                    "({}, {}, 'outbound', {}, {}, 0, {}, {}, {}, {}, NULL, {}, {}, {}, {})",
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7),
                    p(8),
                    p(9),
                    p(10),
                    p(11),
                    p(12)
                )
            })
            .collect();
        let mut params: Vec<Value<'_>> = Vec::with_capacity(chunk.len() * COLUMNS);
        for r in chunk {
            params.extend([
                Value::Text(&r.id),
                Value::Text(&r.provider),
                Value::Text(&r.kind),
                Value::Text(r.status),
                r.error.as_ref().into(),
                Value::Text(&r.payload),
                Value::Text(r.encoding),
                Value::Text(&r.hash),
                Value::Text(&r.order_ids),
                Value::Int(r.now),
                Value::Int(r.now),
                r.next_attempt_at.into(),
            ]);
        }
        conn.execute(
            &format!(
                "INSERT INTO provider_messages (id, provider, direction, kind, status, attempts,
                     error, payload, encoding, content_hash, dedup_key, order_ids, created_at,
                     updated_at, next_attempt_at)
                 VALUES {}",
                values.join(", ")
            ),
            &params,
        )?;
    }
    let references: Vec<(&Row, &(String, String))> = rows
        .iter()
        .flat_map(|r| r.references.iter().map(move |x| (r, x)))
        .collect();
    for chunk in references.chunks(100) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "(${}, ${}, ${}, ${})",
                    4 * i + 1,
                    4 * i + 2,
                    4 * i + 3,
                    4 * i + 4
                )
            })
            .collect();
        let params: Vec<Value<'_>> = chunk
            .iter()
            .flat_map(|(r, (reference, order))| {
                [
                    Value::Text(&r.provider),
                    Value::Text(reference),
                    Value::Text(order),
                    Value::Int(r.now),
                ]
            })
            .collect();
        conn.execute(
            &format!(
                "INSERT INTO x12_references (provider, reference, order_id, created_at)
                 VALUES {} ON CONFLICT (provider, reference) DO NOTHING",
                values.join(", ")
            ),
            &params,
        )?;
    }
    Ok(())
}

/// A trading partner of an x12 instance as its interchanges describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerRecord {
    pub provider: String,
    /// Its interchange id (ISA06 of what it sends).
    pub partner: String,
    /// The envelope it uses (`iom_providers::x12::writer::Partner` as JSON).
    pub profile: Json,
    pub interchanges: i64,
    pub first_seen: chrono::DateTime<chrono::Utc>,
    pub last_seen: chrono::DateTime<chrono::Utc>,
}

/// Records what an interchange from `partner` of `provider` said about its envelope; called in
/// the transaction that processes the interchange.
pub fn learn_partner(
    conn: &mut dyn Conn,
    provider: &str,
    partner: &str,
    profile: &Json,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let profile = profile.to_string();
    let now = micros(now);
    conn.execute(
        "INSERT INTO x12_partners (provider, partner, profile, interchanges, first_seen, last_seen)
         VALUES ($1, $2, $3, 1, $4, $4)
         ON CONFLICT (provider, partner) DO UPDATE SET profile = excluded.profile,
             interchanges = x12_partners.interchanges + 1, last_seen = excluded.last_seen",
        &[
            Value::Text(provider),
            Value::Text(partner),
            Value::Text(&profile),
            Value::Int(now),
        ],
    )?;
    Ok(())
}

fn partner_record(r: &crate::db::Row) -> Result<PartnerRecord, StoreError> {
    Ok(PartnerRecord {
        provider: r.text(0)?.to_owned(),
        partner: r.text(1)?.to_owned(),
        profile: serde_json::from_str(r.text(2)?)?,
        interchanges: r.int(3)?,
        first_seen: crate::from_micros(r.int(4)?),
        last_seen: crate::from_micros(r.int(5)?),
    })
}

const PARTNER_COLUMNS: &str = "provider, partner, profile, interchanges, first_seen, last_seen";

impl Store {
    /// The partners `provider` has received interchanges from, by id.
    pub async fn x12_partners(&self, provider: String) -> Result<Vec<PartnerRecord>, StoreError> {
        self.read(move |conn| {
            conn.query(
                &format!(
                    "SELECT {PARTNER_COLUMNS} FROM x12_partners WHERE provider = $1 ORDER BY partner"
                ),
                &[Value::Text(&provider)],
            )?
            .iter()
            .map(partner_record)
            .collect()
        })
        .await
    }

    /// One partner of `provider`, when it has sent an interchange.
    pub async fn x12_partner(
        &self,
        provider: String,
        partner: String,
    ) -> Result<Option<PartnerRecord>, StoreError> {
        self.read(move |conn| {
            conn.query_one(
                &format!(
                    "SELECT {PARTNER_COLUMNS} FROM x12_partners WHERE provider = $1 AND partner = $2"
                ),
                &[Value::Text(&provider), Value::Text(&partner)],
            )?
            .as_ref()
            .map(partner_record)
            .transpose()
        })
        .await
    }
}

/// The order a reference written into one of `provider`'s documents stands for.
pub(crate) fn order_of_reference(
    conn: &mut dyn Conn,
    provider: &str,
    reference: &str,
) -> Result<Option<String>, StoreError> {
    conn.query_one(
        "SELECT order_id FROM x12_references WHERE provider = $1 AND reference = $2",
        &[Value::Text(provider), Value::Text(reference)],
    )?
    .map(|r| r.text(0).map(str::to_owned))
    .transpose()
}
