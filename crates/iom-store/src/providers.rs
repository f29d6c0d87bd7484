//! Provider instances, the message log, webhook subscriptions and the cursors of event consumers.
//!
//! An inbound message and what it causes (orders created, shipments recorded, the 997 answering
//! it) commit in one transaction, so a message marked `processed` always has its orders and an
//! order from a document always has its message. Processing that fails for a business reason
//! (no order for a shipment, a quantity already shipped) is undone to a savepoint and recorded
//! on the message as `failed`, so the document is kept for a retry instead of being lost with the
//! transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use iom_domain::order::ShipmentRequest;
use iom_domain::{EventDraft, Order};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::db::{Conn, Dialect, Row, Value};
use crate::keyset::{After, Column, Conditions, Param, Sort};
use crate::{Store, StoreError, Tx, from_micros, micros, orders};

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderRecord {
    pub name: String,
    pub kind: String,
    /// Connection fields that are not secret, mappings, settings, transformation.
    pub config: Json,
    /// Connection field → sealed value. Sealing happens above the store; it never sees a secret.
    pub secrets: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProviderRecord {
    /// The instance as the audit log keeps it: each secret as a fingerprint of its sealed value,
    /// which tells that it changed and nothing of what it is.
    fn audited(&self) -> Json {
        let secrets: BTreeMap<&str, String> = self
            .secrets
            .iter()
            .map(|(field, sealed)| (field.as_str(), crate::audit::fingerprint(sealed)))
            .collect();
        serde_json::json!({"type": self.kind, "config": self.config, "secrets": secrets})
    }
}

impl SubscriptionRecord {
    /// The subscription as the audit log keeps it (the secret as a fingerprint).
    fn audited(&self) -> Json {
        serde_json::json!({
            "url": self.url,
            "types": self.types,
            "secret": crate::audit::fingerprint(&self.secret),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// `received` (stored, not yet processed), `processed`, `failed` (kept with its error; can be
/// retried), `ignored` (an inbound message with nothing to do, kept with the reason), `dead` (an
/// outbound message that ran out of attempts), `pending` (an outbound
/// message waiting to be sent), `ready` (an outbound document kept for the partner to pick up).
pub const STATUSES: &[&str] = &[
    "received",
    "processed",
    "failed",
    "ignored",
    "dead",
    "pending",
    "ready",
];

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub id: String,
    pub provider: String,
    pub direction: String,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub error: Option<Json>,
    pub payload: Vec<u8>,
    pub content_hash: String,
    pub order_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Outbound messages to send: when the next attempt is due (microseconds since the epoch).
    pub next_attempt_at: Option<i64>,
}

/// A message to log.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub provider: String,
    pub direction: Direction,
    pub kind: String,
    pub status: &'static str,
    pub payload: Vec<u8>,
}

impl NewMessage {
    pub fn content_hash(&self) -> String {
        content_hash(&self.payload)
    }
}

/// Turns the order as it is now into the shipment to record, or says why it cannot.
pub type PlanShipment = Box<dyn FnOnce(&Order) -> Result<ShipmentRequest, String> + Send>;

/// A shipment a document reports for an order of the provider's channel.
pub struct ShipmentWork {
    pub external_id: String,
    pub plan: PlanShipment,
}

/// Further work a document asks for, run in the message's transaction after its orders and
/// shipments (a channel's refund becoming a return's receipt and refund). It returns the ids of
/// the orders it touched; a business failure fails the message and applies nothing of it.
pub type ContentWork = Box<dyn FnOnce(&mut Tx<'_>) -> Result<Vec<String>, ApplyError> + Send>;

/// What processing a message decided.
pub enum Apply {
    /// Leave the message as received (a document whose content is fetched later).
    Nothing,
    Failed(Json),
    /// Nothing to do, for the reason given (a Shopify topic iom does not act on): the message
    /// is kept as `ignored` with it.
    Ignored(Json),
    Content {
        orders: Vec<Order>,
        shipments: Vec<ShipmentWork>,
        work: Vec<ContentWork>,
    },
}

pub enum Target {
    /// Log a new message; an inbound one whose content was processed before is not processed
    /// again (one whose processing failed is).
    New(NewMessage),
    /// Process a logged message again (a retry, or a message stored before its content arrived).
    Existing { provider: String, id: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Processed {
    Done {
        id: String,
        status: String,
        /// The orders the document created or refers to (a shipment's order, an order that
        /// came before through another document).
        order_ids: Vec<String>,
        /// How many of `order_ids` this document created.
        created: usize,
        error: Option<Json>,
    },
    /// The same document was received and processed before as this message, which created or
    /// refers to `order_ids`.
    Duplicate { id: String, order_ids: Vec<String> },
    /// A retry of a message that is already processed.
    AlreadyProcessed { id: String },
}

#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub provider: String,
    pub status: Option<String>,
    pub limit: usize,
    /// The id of the last message of the previous page.
    pub cursor: Option<String>,
    /// Newest first unless told otherwise.
    pub sort: Sort<MessageColumn>,
}

/// What a message log is sorted by: its ids are time-ordered, so the id is when it was logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageColumn {
    Created,
}

impl Column for MessageColumn {
    const ALL: &'static [Self] = &[MessageColumn::Created];

    fn as_str(self) -> &'static str {
        "created"
    }

    fn sql(self) -> Option<&'static str> {
        None
    }

    fn is_integer(self) -> bool {
        false
    }
}

/// A message filter's conditions; `paged`, its cursor's too.
fn message_conditions(filter: &MessageFilter, paged: bool) -> Conditions {
    let mut conditions = Conditions::new();
    conditions.and("provider = ?", Param::Text(filter.provider.clone()));
    if let Some(status) = &filter.status {
        conditions.and("status = ?", Param::Text(status.clone()));
    }
    if paged && let Some(cursor) = &filter.cursor {
        let after = After {
            key: None,
            id: cursor.clone(),
        };
        conditions.after(filter.sort, "id", &after);
    }
    conditions
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRecord {
    pub name: String,
    pub url: String,
    pub types: Vec<String>,
    /// Sealed.
    pub secret: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CursorRecord {
    pub consumer: String,
    /// The last event delivered.
    pub cursor: i64,
    pub delivered: i64,
    /// Failed attempts since the last success.
    pub attempts: i64,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Creates or replaces an instance; `true` when it is new.
    pub async fn put_provider(&self, record: ProviderRecord) -> Result<bool, StoreError> {
        self.write(move |tx| put_provider_in(tx, &record)).await
    }

    pub async fn get_provider(&self, name: String) -> Result<Option<ProviderRecord>, StoreError> {
        self.read(move |c| {
            c.query_one(
                "SELECT name, type, config, secrets, created_at, updated_at FROM providers WHERE name = $1",
                &[Value::Text(&name)],
            )?
            .map(provider)
            .transpose()
        })
        .await
    }

    pub async fn list_providers(&self) -> Result<Vec<ProviderRecord>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT name, type, config, secrets, created_at, updated_at FROM providers ORDER BY name",
                &[],
            )?
            .into_iter()
            .map(provider)
            .collect()
        })
        .await
    }

    /// Logs and processes a message in one transaction (see the module comment).
    pub async fn process_message(
        &self,
        target: Target,
        kind: Option<String>,
        apply: Apply,
        outbound: Vec<NewMessage>,
    ) -> Result<Processed, StoreError> {
        self.write(move |tx| process(tx, target, kind, apply, outbound))
            .await
    }

    /// Processes several documents of one receipt (the transaction sets of an X12 body) in one
    /// transaction, each as [`Store::process_message`] does it and in its own savepoint, so that
    /// one that fails leaves the others processed.
    pub async fn process_messages(
        &self,
        items: Vec<(Target, Option<String>, Apply)>,
    ) -> Result<Vec<Processed>, StoreError> {
        self.write(move |tx| {
            let mut out = Vec::with_capacity(items.len());
            for (target, kind, apply) in items {
                out.push(process(tx, target, kind, apply, Vec::new())?);
            }
            Ok(out)
        })
        .await
    }

    /// Logs messages as they are (acknowledgements written after their documents were
    /// processed), in one transaction.
    pub async fn log_messages(&self, messages: Vec<NewMessage>) -> Result<(), StoreError> {
        self.write(move |tx| {
            let now = tx_now(tx);
            for message in &messages {
                insert_message(tx.conn(), message, now)?;
            }
            Ok(())
        })
        .await
    }

    /// Logs a message as it is, e.g. an outbound call about to be made.
    pub async fn log_message(&self, message: NewMessage) -> Result<String, StoreError> {
        self.write(move |tx| {
            let now = tx_now(tx);
            insert_message(tx.conn(), &message, now)?
                .ok_or_else(|| StoreError::Corrupt("message logged twice".into()))
        })
        .await
    }

    /// Records an attempt on a logged message.
    pub async fn set_message_status(
        &self,
        id: String,
        status: &'static str,
        attempts: i64,
        error: Option<Json>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let error = error.map(|e| e.to_string());
            tx.conn().execute(
                "UPDATE provider_messages SET status = $2, attempts = $3, error = $4, updated_at = $5 WHERE id = $1",
                &[
                    Value::Text(&id),
                    Value::Text(status),
                    Value::Int(attempts),
                    error.as_ref().into(),
                    Value::Int(now),
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn get_message(
        &self,
        provider: String,
        id: String,
    ) -> Result<Option<MessageRecord>, StoreError> {
        self.read(move |c| {
            c.query_one(
                &format!("SELECT {MESSAGE_COLUMNS} FROM provider_messages WHERE provider = $1 AND id = $2"),
                &[Value::Text(&provider), Value::Text(&id)],
            )?
            .map(message)
            .transpose()
        })
        .await
    }

    /// A page of a provider's messages, in the filter's sort.
    pub async fn list_messages(
        &self,
        filter: MessageFilter,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        self.read(move |c| {
            let conditions = message_conditions(&filter, true);
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM provider_messages WHERE {} ORDER BY {} LIMIT {}",
                conditions.sql,
                filter.sort.order_by("id"),
                filter.limit.clamp(1, 500)
            );
            c.query(&sql, &conditions.values())?
                .into_iter()
                .map(message)
                .collect()
        })
        .await
    }

    /// How many messages the filter finds (its cursor aside), counted up to one past
    /// [`COUNT_CAP`](crate::keyset::COUNT_CAP): a busy provider logs millions.
    pub async fn count_messages(&self, filter: MessageFilter) -> Result<i64, StoreError> {
        self.read(move |c| message_conditions(&filter, false).count_capped(c, "provider_messages"))
            .await
    }

    /// Inbound messages left `received` (stored, but the process stopped before finishing them),
    /// oldest first: resumed at start.
    pub async fn unfinished_messages(
        &self,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        self.read(move |c| {
            c.query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM provider_messages
                     WHERE status = 'received' AND direction = 'inbound' ORDER BY id LIMIT {}",
                    limit.clamp(1, 10_000)
                ),
                &[],
            )?
            .into_iter()
            .map(message)
            .collect()
        })
        .await
    }

    /// Creates or replaces a subscription. A new one starts after `start` (its events before are
    /// not sent); a replaced one keeps its cursor.
    pub async fn put_subscription(
        &self,
        record: SubscriptionRecord,
        start: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| put_subscription_in(tx, &record, start))
            .await
    }

    pub async fn get_subscription(
        &self,
        name: String,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        self.read(move |c| {
            c.query_one(
                "SELECT name, url, types, secret, created_at, updated_at FROM subscriptions WHERE name = $1",
                &[Value::Text(&name)],
            )?
            .map(subscription)
            .transpose()
        })
        .await
    }

    pub async fn list_subscriptions(&self) -> Result<Vec<SubscriptionRecord>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT name, url, types, secret, created_at, updated_at FROM subscriptions ORDER BY name",
                &[],
            )?
            .into_iter()
            .map(subscription)
            .collect()
        })
        .await
    }

    /// The cursor of a consumer, created at `start` when it has none.
    pub async fn cursor(&self, consumer: String, start: i64) -> Result<CursorRecord, StoreError> {
        self.write(move |tx| {
            ensure_cursor(tx.conn(), &consumer, start)?;
            read_cursor(tx.conn(), &consumer)?
                .ok_or_else(|| StoreError::Corrupt("cursor vanished".into()))
        })
        .await
    }

    pub async fn read_cursor(&self, consumer: String) -> Result<Option<CursorRecord>, StoreError> {
        self.read(move |c| read_cursor(c, &consumer)).await
    }

    /// Events up to `to` were delivered. The cursor never moves back (two processes delivering
    /// the same subscription both only move it forward).
    pub async fn advance_cursor(
        &self,
        consumer: String,
        to: i64,
        delivered: i64,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            tx.conn().execute(
                "UPDATE delivery_cursors SET cursor = $2, delivered = delivered + $3, attempts = 0,
                     last_error = NULL, last_attempt_at = $4, last_success_at = $4
                 WHERE consumer = $1 AND cursor < $2",
                &[
                    Value::Text(&consumer),
                    Value::Int(to),
                    Value::Int(delivered),
                    Value::Int(now),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Takes or renews the lease on a consumer for `owner` (a process) until `ttl` from now;
    /// `false` while another owner's lease runs. The cursor is created at `start` if missing.
    pub async fn lease_cursor(
        &self,
        consumer: String,
        owner: String,
        start: i64,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let until = now + i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX / 2);
            ensure_cursor(tx.conn(), &consumer, start)?;
            let taken = tx.conn().execute(
                "UPDATE delivery_cursors SET owner = $2, lease_until = $3
                 WHERE consumer = $1 AND (owner IS NULL OR owner = $2 OR lease_until < $4)",
                &[
                    Value::Text(&consumer),
                    Value::Text(&owner),
                    Value::Int(until),
                    Value::Int(now),
                ],
            )?;
            Ok(taken == 1)
        })
        .await
    }

    /// An attempt failed; the cursor stays where it is.
    pub async fn cursor_failed(&self, consumer: String, error: String) -> Result<(), StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            tx.conn().execute(
                "UPDATE delivery_cursors SET attempts = attempts + 1, last_error = $2, last_attempt_at = $3
                 WHERE consumer = $1",
                &[Value::Text(&consumer), Value::Text(&error), Value::Int(now)],
            )?;
            Ok(())
        })
        .await
    }
}

/// The consumer name of a subscription's cursor.
/// The type of provider instance `name` (`webhook`, `x12`, …), on any connection (inside a write
/// as well); `None` when there is no such instance.
/// Creates or replaces an instance inside a write; `true` when it is new.
pub fn put_provider_in(tx: &mut Tx<'_>, record: &ProviderRecord) -> Result<bool, StoreError> {
    let now = micros(tx.now());
    let config = serde_json::to_string(&record.config)?;
    let secrets = serde_json::to_string(&record.secrets)?;
    let before = tx
        .conn()
        .query_one(
            "SELECT name, type, config, secrets, created_at, updated_at FROM providers WHERE name = $1",
            &[Value::Text(&record.name)],
        )?
        .map(provider)
        .transpose()?;
    let existed = before.is_some();
    tx.audit(
        &format!("provider:{}", record.name),
        before.as_ref().map(ProviderRecord::audited).as_ref(),
        Some(&record.audited()),
    )?;
    tx.conn().execute(
        "INSERT INTO providers (name, type, config, secrets, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (name) DO UPDATE SET type = $2, config = $3, secrets = $4, updated_at = $5",
        &[
            Value::Text(&record.name),
            Value::Text(&record.kind),
            Value::Text(&config),
            Value::Text(&secrets),
            Value::Int(now),
        ],
    )?;
    Ok(!existed)
}

/// Every provider instance, by name, on any connection.
pub fn providers_in(conn: &mut dyn Conn) -> Result<Vec<ProviderRecord>, StoreError> {
    conn.query(
        "SELECT name, type, config, secrets, created_at, updated_at FROM providers ORDER BY name",
        &[],
    )?
    .into_iter()
    .map(provider)
    .collect()
}

/// Creates or replaces a subscription inside a write (see [`Store::put_subscription`]).
pub fn put_subscription_in(
    tx: &mut Tx<'_>,
    record: &SubscriptionRecord,
    start: i64,
) -> Result<bool, StoreError> {
    let now = micros(tx.now());
    let types = serde_json::to_string(&record.types)?;
    let before = tx
        .conn()
        .query_one(
            "SELECT name, url, types, secret, created_at, updated_at FROM subscriptions WHERE name = $1",
            &[Value::Text(&record.name)],
        )?
        .map(subscription)
        .transpose()?;
    let existed = before.is_some();
    tx.audit(
        &format!("subscription:{}", record.name),
        before.as_ref().map(SubscriptionRecord::audited).as_ref(),
        Some(&record.audited()),
    )?;
    tx.conn().execute(
        "INSERT INTO subscriptions (name, url, types, secret, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (name) DO UPDATE SET url = $2, types = $3, secret = $4, updated_at = $5",
        &[
            Value::Text(&record.name),
            Value::Text(&record.url),
            Value::Text(&types),
            Value::Text(&record.secret),
            Value::Int(now),
        ],
    )?;
    ensure_cursor(tx.conn(), &subscription_consumer(&record.name), start)?;
    Ok(!existed)
}

/// Every subscription, by name, on any connection.
pub fn subscriptions_in(conn: &mut dyn Conn) -> Result<Vec<SubscriptionRecord>, StoreError> {
    conn.query(
        "SELECT name, url, types, secret, created_at, updated_at FROM subscriptions ORDER BY name",
        &[],
    )?
    .into_iter()
    .map(subscription)
    .collect()
}

pub fn provider_type_in(conn: &mut dyn Conn, name: &str) -> Result<Option<String>, StoreError> {
    conn.query_one(
        "SELECT type FROM providers WHERE name = $1",
        &[Value::Text(name)],
    )?
    .map(|r| Ok(r.text(0)?.to_owned()))
    .transpose()
}

pub fn subscription_consumer(name: &str) -> String {
    format!("subscription:{name}")
}

fn tx_now(tx: &Tx<'_>) -> i64 {
    micros(tx.now())
}

pub(crate) const MESSAGE_COLUMNS: &str = "id, provider, direction, kind, status, attempts, error, payload, encoding, content_hash, order_ids, created_at, updated_at, next_attempt_at";

/// The hash a message's content is known by (SHA-256, hex).
pub(crate) fn content_hash(payload: &[u8]) -> String {
    hex::encode(Sha256::digest(payload))
}

/// A payload as the log keeps it: the log is TEXT on both backends, so a document that is not
/// UTF-8 (an ISO-8859-1 EDI file), or holds a NUL byte (which PostgreSQL's text cannot), is kept
/// byte for byte as hex. The text and its encoding.
pub(crate) fn log_text(payload: &[u8]) -> (std::borrow::Cow<'_, str>, &'static str) {
    match std::str::from_utf8(payload) {
        Ok(text) if !text.contains('\0') => (std::borrow::Cow::Borrowed(text), "utf8"),
        _ => (std::borrow::Cow::Owned(hex::encode(payload)), "hex"),
    }
}

/// Inserts a message; `None` when an inbound message with the same content exists.
pub(crate) fn insert_message(
    conn: &mut dyn Conn,
    m: &NewMessage,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    let hash = m.content_hash();
    let (payload, encoding) = log_text(&m.payload);
    let dedup = (m.direction == Direction::Inbound).then_some(hash.as_str());
    let inserted = conn.execute(
        "INSERT INTO provider_messages (id, provider, direction, kind, status, attempts, error, payload,
             encoding, content_hash, dedup_key, order_ids, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 0, NULL, $6, $7, $8, $9, '[]', $10, $10)
         ON CONFLICT (provider, dedup_key) DO NOTHING",
        &[
            Value::Text(&id),
            Value::Text(&m.provider),
            Value::Text(m.direction.as_str()),
            Value::Text(&m.kind),
            Value::Text(m.status),
            Value::Text(&payload),
            Value::Text(encoding),
            Value::Text(&hash),
            dedup.into(),
            Value::Int(now),
        ],
    )?;
    Ok((inserted == 1).then_some(id))
}

pub(crate) fn process(
    tx: &mut Tx<'_>,
    target: Target,
    kind: Option<String>,
    apply: Apply,
    outbound: Vec<NewMessage>,
) -> Result<Processed, StoreError> {
    let now = tx_now(tx);
    let (id, provider) = match target {
        Target::New(message) => match insert_message(tx.conn(), &message, now)? {
            Some(id) => (id, message.provider),
            None => {
                let lock = if tx.dialect() == Dialect::Postgres {
                    " FOR UPDATE"
                } else {
                    ""
                };
                let row = tx
                    .conn()
                    .query_one(
                        &format!(
                            "SELECT id, status, order_ids FROM provider_messages
                             WHERE provider = $1 AND dedup_key = $2{lock}"
                        ),
                        &[
                            Value::Text(&message.provider),
                            Value::Text(&message.content_hash()),
                        ],
                    )?
                    .ok_or_else(|| StoreError::Corrupt("duplicate message vanished".into()))?;
                let id = row.text(0)?.to_owned();
                // A document whose processing failed is processed again when it is sent again:
                // the sender learns what happens now, not that it was seen before.
                if row.text(1)? != "failed" {
                    return Ok(Processed::Duplicate {
                        id,
                        order_ids: serde_json::from_str(row.text(2)?)?,
                    });
                }
                (id, message.provider)
            }
        },
        Target::Existing { provider, id } => {
            let lock = if tx.dialect() == Dialect::Postgres {
                " FOR UPDATE"
            } else {
                ""
            };
            let row = tx
                .conn()
                .query_one(
                    &format!(
                        "SELECT status FROM provider_messages WHERE provider = $1 AND id = $2{lock}"
                    ),
                    &[Value::Text(&provider), Value::Text(&id)],
                )?
                .ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
            if row.text(0)? == "processed" {
                return Ok(Processed::AlreadyProcessed { id });
            }
            (id, provider)
        }
    };
    let (status, (order_ids, created), error) = match apply {
        Apply::Nothing => ("received", (Vec::new(), 0), None),
        Apply::Failed(error) => ("failed", (Vec::new(), 0), Some(error)),
        Apply::Ignored(reason) => ("ignored", (Vec::new(), 0), Some(reason)),
        Apply::Content {
            orders,
            shipments,
            work,
        } => {
            tx.conn().batch("SAVEPOINT message")?;
            let mut events = Vec::new();
            let at = tx.now();
            let mark = tx.event_mark();
            let applied = apply_content(tx.conn(), &provider, orders, shipments, at, &mut events)
                .and_then(|(mut ids, created)| {
                    tx.emit_all(events);
                    for w in work {
                        for id in w(tx)? {
                            if !ids.contains(&id) {
                                ids.push(id);
                            }
                        }
                    }
                    Ok((ids, created))
                });
            match applied {
                Ok(ids) => {
                    tx.conn().batch("RELEASE SAVEPOINT message")?;
                    ("processed", ids, None)
                }
                Err(ApplyError::Store(e)) => return Err(e),
                Err(ApplyError::Business(error)) => {
                    tx.discard_events_since(mark);
                    tx.conn()
                        .batch("ROLLBACK TO SAVEPOINT message; RELEASE SAVEPOINT message")?;
                    ("failed", (Vec::new(), 0), Some(error))
                }
            }
        }
    };
    let ids_json = serde_json::to_string(&order_ids)?;
    let error_text = error.as_ref().map(Json::to_string);
    tx.conn().execute(
        "UPDATE provider_messages SET status = $2, kind = COALESCE($3, kind),
             attempts = attempts + $4, error = $5, order_ids = $6, updated_at = $7
         WHERE id = $1",
        &[
            Value::Text(&id),
            Value::Text(status),
            kind.as_ref().into(),
            Value::Int(i64::from(status != "received")),
            error_text.as_ref().into(),
            Value::Text(&ids_json),
            Value::Int(now),
        ],
    )?;
    for message in &outbound {
        insert_message(tx.conn(), message, now)?;
    }
    Ok(Processed::Done {
        id,
        status: status.to_owned(),
        order_ids,
        created,
        error,
    })
}

/// Why applying a document's content stopped: the database, or the document's business content
/// (the message then fails with this error).
pub enum ApplyError {
    Store(StoreError),
    Business(Json),
}

impl From<StoreError> for ApplyError {
    fn from(e: StoreError) -> Self {
        ApplyError::Store(e)
    }
}

fn apply_content(
    conn: &mut dyn Conn,
    channel: &str,
    new_orders: Vec<Order>,
    shipments: Vec<ShipmentWork>,
    now: DateTime<Utc>,
    events: &mut Vec<EventDraft>,
) -> Result<(Vec<String>, usize), ApplyError> {
    let mut ids = Vec::new();
    let mut created = 0;
    for order in new_orders {
        if orders::insert(conn, &order)? {
            events.push(order.received_event());
            ids.push(order.id.to_string());
            created += 1;
        } else {
            // The order came before through another document (or the API): the message is
            // processed and names the order it refers to.
            let row = conn.query_one(
                "SELECT id FROM orders WHERE channel = $1 AND external_id = $2",
                &[Value::Text(channel), Value::Text(&order.external_id)],
            )?;
            if let Some(row) = row {
                ids.push(row.text(0)?.to_owned());
            }
        }
    }
    for (i, work) in shipments.into_iter().enumerate() {
        let business = |message: String| {
            ApplyError::Business(serde_json::json!({
                "message": format!("shipments[{i}] for order {:?}: {message}", work.external_id),
            }))
        };
        // A reference iom wrote into one of this instance's documents (a 940's depositor order
        // number, echoed by the warehouse's 945) first, then the channel's own order number.
        let id = match crate::outbound::order_of_reference(conn, channel, &work.external_id)? {
            Some(id) => id,
            None => conn
                .query_one(
                    "SELECT id FROM orders WHERE channel = $1 AND external_id = $2",
                    &[Value::Text(channel), Value::Text(&work.external_id)],
                )?
                .map(|row| row.text(0).map(str::to_owned))
                .transpose()?
                .ok_or_else(|| {
                    business(format!(
                        "no order of channel {channel:?} has this external_id, and no document of it used this reference"
                    ))
                })?,
        };
        let id = orders::parse_id(&id)?;
        let mut order =
            orders::load(conn, id, true)?.ok_or_else(|| business("the order vanished".into()))?;
        let before = order.clone();
        let request = (work.plan)(&order).map_err(&business)?;
        match order.record_shipment(request, now) {
            Ok(drafts) => events.extend(drafts),
            Err(e) => return Err(business(e.to_string())),
        }
        orders::save(conn, &before, &order)?;
        ids.push(order.id.to_string());
    }
    Ok((ids, created))
}

fn ensure_cursor(conn: &mut dyn Conn, consumer: &str, start: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO delivery_cursors (consumer, cursor, delivered, attempts) VALUES ($1, $2, 0, 0)
         ON CONFLICT (consumer) DO NOTHING",
        &[Value::Text(consumer), Value::Int(start)],
    )?;
    Ok(())
}

fn read_cursor(conn: &mut dyn Conn, consumer: &str) -> Result<Option<CursorRecord>, StoreError> {
    conn.query_one(
        "SELECT consumer, cursor, delivered, attempts, last_error, last_attempt_at, last_success_at
         FROM delivery_cursors WHERE consumer = $1",
        &[Value::Text(consumer)],
    )?
    .map(|r| {
        Ok(CursorRecord {
            consumer: r.text(0)?.to_owned(),
            cursor: r.int(1)?,
            delivered: r.int(2)?,
            attempts: r.int(3)?,
            last_error: r.opt_text(4)?.map(str::to_owned),
            last_attempt_at: r.opt_int(5)?.map(from_micros),
            last_success_at: r.opt_int(6)?.map(from_micros),
        })
    })
    .transpose()
}

fn provider(mut r: Row) -> Result<ProviderRecord, StoreError> {
    Ok(ProviderRecord {
        config: serde_json::from_str(&r.take_text(2)?)?,
        secrets: serde_json::from_str(&r.take_text(3)?)?,
        name: r.take_text(0)?,
        kind: r.take_text(1)?,
        created_at: from_micros(r.int(4)?),
        updated_at: from_micros(r.int(5)?),
    })
}

pub(crate) fn message(mut r: Row) -> Result<MessageRecord, StoreError> {
    let payload = r.take_text(7)?;
    let payload = match r.text(8)? {
        "hex" => hex::decode(&payload)
            .map_err(|_| StoreError::Corrupt("message payload is not hex".into()))?,
        _ => payload.into_bytes(),
    };
    Ok(MessageRecord {
        error: r.opt_text(6)?.map(serde_json::from_str).transpose()?,
        order_ids: serde_json::from_str(r.text(10)?)?,
        id: r.take_text(0)?,
        provider: r.take_text(1)?,
        direction: r.take_text(2)?,
        kind: r.take_text(3)?,
        status: r.take_text(4)?,
        attempts: r.int(5)?,
        payload,
        content_hash: r.take_text(9)?,
        created_at: from_micros(r.int(11)?),
        updated_at: from_micros(r.int(12)?),
        next_attempt_at: r.opt_int(13)?,
    })
}

fn subscription(mut r: Row) -> Result<SubscriptionRecord, StoreError> {
    Ok(SubscriptionRecord {
        types: serde_json::from_str(r.text(2)?)?,
        name: r.take_text(0)?,
        url: r.take_text(1)?,
        secret: r.take_text(3)?,
        created_at: from_micros(r.int(4)?),
        updated_at: from_micros(r.int(5)?),
    })
}
