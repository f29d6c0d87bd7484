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
use crate::providers::{
    Direction, MESSAGE_COLUMNS, MessageRecord, NewMessage, insert_message, message,
};
use crate::{Store, StoreError, Tx, micros};

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
    /// document with this key was logged before, this one is dropped before it takes a number.
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
            for doc in documents {
                log_document(tx, doc)?;
            }
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
    let row = conn
        .query_one(
            "INSERT INTO x12_control_numbers (provider, last) VALUES ($1, 1)
             ON CONFLICT (provider) DO UPDATE SET last = x12_control_numbers.last + 1
             RETURNING last",
            &[Value::Text(provider)],
        )?
        .ok_or_else(|| StoreError::Corrupt("control number not returned".into()))?;
    u64::try_from(row.int(0)?).map_err(|_| StoreError::Corrupt("negative control number".into()))
}

fn log_document(tx: &mut Tx<'_>, doc: OutboundDocument) -> Result<Option<String>, StoreError> {
    let now = micros(tx.now());
    if let Some(key) = &doc.once {
        let logged = tx.conn().query_one(
            "SELECT id FROM provider_messages WHERE provider = $1 AND dedup_key = $2",
            &[Value::Text(&doc.provider), Value::Text(key)],
        )?;
        if logged.is_some() {
            return Ok(None);
        }
    }
    let control = if doc.numbered {
        next_control(tx.conn(), &doc.provider)?
    } else {
        0
    };
    let (built, status, error): (Built, &'static str, Option<Json>) = match (doc.build)(control) {
        Ok(built) => (built, if doc.deliver { "pending" } else { "ready" }, None),
        Err(message) => (
            Built::default(),
            "failed",
            Some(serde_json::json!({"message": message})),
        ),
    };
    let id = insert_message(
        tx.conn(),
        &NewMessage {
            provider: doc.provider.clone(),
            direction: Direction::Outbound,
            kind: doc.kind,
            status,
            payload: built.payload,
        },
        now,
    )?
    .ok_or_else(|| StoreError::Corrupt("outbound message logged twice".into()))?;
    let ids = serde_json::to_string(&doc.order_ids)?;
    let error = error.map(|e| e.to_string());
    let next = (status == "pending").then_some(now);
    tx.conn().execute(
        "UPDATE provider_messages SET order_ids = $2, error = $3, next_attempt_at = $4, dedup_key = $5
         WHERE id = $1",
        &[
            Value::Text(&id),
            Value::Text(&ids),
            error.as_ref().into(),
            next.into(),
            doc.once.as_ref().into(),
        ],
    )?;
    if let Some(order_id) = doc.order_ids.first() {
        for reference in &built.references {
            tx.conn().execute(
                "INSERT INTO x12_references (provider, reference, order_id, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (provider, reference) DO NOTHING",
                &[
                    Value::Text(&doc.provider),
                    Value::Text(reference),
                    Value::Text(order_id),
                    Value::Int(now),
                ],
            )?;
        }
    }
    Ok(Some(id))
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
