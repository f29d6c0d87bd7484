//! Calls to payment services (`payment_calls`): each movement of money claimed under its
//! idempotency key, with its amount, before the service is called, then marked recorded (in the
//! transaction that records it on the order) or failed. `iom_app::payments` drives a call through
//! these steps.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::db::{Conn, Row, Value};
use crate::{StoreError, from_micros, micros};

/// A call as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentCall {
    pub key: String,
    pub order_id: String,
    pub provider: String,
    /// `authorize`, `capture`, `release` or `refund`.
    pub kind: String,
    pub reference: String,
    pub amount: Decimal,
    /// `started`, `recorded` or `failed`.
    pub status: String,
    pub service_id: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl PaymentCall {
    pub fn recorded(&self) -> bool {
        self.status == "recorded"
    }
}

const COLUMNS: &str =
    "key, order_id, provider, kind, reference, amount, status, service_id, error, created_at";

fn row(mut r: Row) -> Result<PaymentCall, StoreError> {
    let amount = r
        .text(5)?
        .parse()
        .map_err(|_| StoreError::Corrupt("a payment call's amount".into()))?;
    Ok(PaymentCall {
        key: r.take_text(0)?,
        order_id: r.take_text(1)?,
        provider: r.take_text(2)?,
        kind: r.take_text(3)?,
        reference: r.take_text(4)?,
        amount,
        status: r.take_text(6)?,
        service_id: r.take_opt_text(7)?,
        error: r.take_opt_text(8)?,
        created_at: from_micros(r.int(9)?),
    })
}

pub fn get(conn: &mut dyn Conn, key: &str) -> Result<Option<PaymentCall>, StoreError> {
    conn.query_one(
        &format!("SELECT {COLUMNS} FROM payment_calls WHERE key = $1"),
        &[Value::Text(key)],
    )?
    .map(row)
    .transpose()
}

/// The calls of an order, oldest first.
pub fn of_order(conn: &mut dyn Conn, order_id: &str) -> Result<Vec<PaymentCall>, StoreError> {
    conn.query(
        &format!(
            "SELECT {COLUMNS} FROM payment_calls WHERE order_id = $1 ORDER BY created_at, key"
        ),
        &[Value::Text(order_id)],
    )?
    .into_iter()
    .map(row)
    .collect()
}

/// What to claim: the call and what it is for.
#[derive(Debug, Clone)]
pub struct Claim {
    pub key: String,
    pub order_id: String,
    pub provider: String,
    pub kind: &'static str,
    pub reference: String,
    pub amount: Decimal,
}

/// Claims the call `key`, or finds it as claimed before (with the amount it was claimed with,
/// which a resumed call sends again unchanged).
pub fn claim(
    conn: &mut dyn Conn,
    claim: &Claim,
    now: DateTime<Utc>,
) -> Result<PaymentCall, StoreError> {
    if let Some(existing) = get(conn, &claim.key)? {
        return Ok(existing);
    }
    let amount = claim.amount.to_string();
    conn.execute(
        "INSERT INTO payment_calls (key, order_id, provider, kind, reference, amount, status,
           created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'started', $7, $7)",
        &[
            Value::Text(&claim.key),
            Value::Text(&claim.order_id),
            Value::Text(&claim.provider),
            Value::Text(claim.kind),
            Value::Text(&claim.reference),
            Value::Text(&amount),
            Value::Int(micros(now)),
        ],
    )?;
    get(conn, &claim.key)?
        .ok_or_else(|| StoreError::Corrupt("a claimed payment call vanished".into()))
}

/// The call is done: `recorded` with the service's id of what it made, or `failed` for good
/// with the service's reason (a later attempt claims a new key).
pub fn finish(
    conn: &mut dyn Conn,
    key: &str,
    status: &str,
    service_id: Option<&str>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE payment_calls SET status = $2, service_id = $3, error = $4, updated_at = $5
         WHERE key = $1",
        &[
            Value::Text(key),
            Value::Text(status),
            service_id.map_or(Value::Null, Value::Text),
            error.map_or(Value::Null, Value::Text),
            Value::Int(micros(now)),
        ],
    )?;
    Ok(())
}

/// The authorisation the recorded call `key` made lapses at `expires_at`: watched from now on
/// (and the order's earlier authorisations no longer).
pub fn watch(
    conn: &mut dyn Conn,
    key: &str,
    order_id: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    unwatch(conn, order_id)?;
    conn.execute(
        "UPDATE payment_calls SET expires_at = $2 WHERE key = $1",
        &[
            Value::Text(key),
            expires_at.map_or(Value::Null, |t| Value::Int(micros(t))),
        ],
    )?;
    Ok(())
}

/// Nothing of the order's authorisations needs watching any more (all shipped or let go).
pub fn unwatch(conn: &mut dyn Conn, order_id: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE payment_calls SET expires_at = NULL WHERE order_id = $1 AND expires_at IS NOT NULL",
        &[Value::Text(order_id)],
    )?;
    Ok(())
}

/// Orders whose watched authorisation lapses before `before`, soonest first.
pub fn lapsing(
    conn: &mut dyn Conn,
    before: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    conn.query(
        "SELECT order_id FROM payment_calls WHERE expires_at IS NOT NULL AND expires_at < $1
         ORDER BY expires_at LIMIT $2",
        &[Value::Int(micros(before)), Value::Int(limit)],
    )?
    .into_iter()
    .map(|mut r| r.take_text(0))
    .collect()
}

/// A provider instance of a type that serves channels: its name, type and the channels of
/// `settings.channels` (`None`: all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingInstance {
    pub name: String,
    pub kind: String,
    pub channels: Option<Vec<String>>,
}

impl ServingInstance {
    pub fn serves(&self, channel: &str) -> bool {
        self.channels
            .as_ref()
            .is_none_or(|c| c.iter().any(|c| c == channel))
    }
}

/// The instances of the `payment` and `tax` types, by name.
pub fn serving_instances(conn: &mut dyn Conn) -> Result<Vec<ServingInstance>, StoreError> {
    conn.query(
        "SELECT name, type, config FROM providers WHERE type IN ('payment', 'tax') ORDER BY name",
        &[],
    )?
    .into_iter()
    .map(|mut r| {
        let config: serde_json::Value = serde_json::from_str(r.text(2)?)?;
        let channels = config["settings"]["channels"].as_array().map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        });
        Ok(ServingInstance {
            name: r.take_text(0)?,
            kind: r.take_text(1)?,
            channels,
        })
    })
    .collect()
}

/// The instance of `kind` (`payment` or `tax`) serving `channel`: the first by name whose
/// `settings.channels` names it or which names none.
pub fn serving_instance_in(
    conn: &mut dyn Conn,
    kind: &str,
    channel: &str,
) -> Result<Option<String>, StoreError> {
    Ok(serving_instances(conn)?
        .into_iter()
        .find(|i| i.kind == kind && i.serves(channel))
        .map(|i| i.name))
}
