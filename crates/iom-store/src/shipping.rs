//! Labels bought from carriers (`shipping_labels`): the purchase claimed under its key before the
//! carrier is called, the carrier's shipment id kept before it is bought, and the label file with
//! the shipment it became. `iom_app::shipping` drives a purchase through these steps.

use chrono::{DateTime, Utc};
use iom_domain::{DomainError, LineQuantity};

use crate::db::{Conn, Row, Value};
use crate::{StoreError, from_micros, micros};

/// A purchase as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelRow {
    pub key: String,
    pub order_id: String,
    pub provider: String,
    pub node: String,
    pub lines: Vec<LineQuantity>,
    /// `started`, `created` or `recorded`.
    pub status: String,
    pub carrier_shipment_id: Option<String>,
    pub shipment_id: Option<String>,
    pub tracking_code: Option<String>,
    pub label_format: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl LabelRow {
    pub fn recorded(&self) -> bool {
        self.status == "recorded"
    }
}

const COLUMNS: &str = "key, order_id, provider, node, lines, status, carrier_shipment_id, \
                       shipment_id, tracking_code, label_format, created_at";

fn row(mut r: Row) -> Result<LabelRow, StoreError> {
    Ok(LabelRow {
        lines: serde_json::from_str(r.text(4)?)?,
        key: r.take_text(0)?,
        order_id: r.take_text(1)?,
        provider: r.take_text(2)?,
        node: r.take_text(3)?,
        status: r.take_text(5)?,
        carrier_shipment_id: r.take_opt_text(6)?,
        shipment_id: r.take_opt_text(7)?,
        tracking_code: r.take_opt_text(8)?,
        label_format: r.take_opt_text(9)?,
        created_at: from_micros(r.int(10)?),
    })
}

pub fn get(conn: &mut dyn Conn, key: &str) -> Result<Option<LabelRow>, StoreError> {
    conn.query_one(
        &format!("SELECT {COLUMNS} FROM shipping_labels WHERE key = $1"),
        &[Value::Text(key)],
    )?
    .map(row)
    .transpose()
}

/// Claims the purchase `key` for (order, node, lines) through `provider`, or finds it. Another
/// unfinished purchase of the same order is a conflict: it may have bought a label for these
/// very units, and must be finished (under its key) before another is bought.
pub fn claim(
    conn: &mut dyn Conn,
    key: &str,
    order_id: &str,
    provider: &str,
    node: &str,
    lines: &[LineQuantity],
    now: DateTime<Utc>,
) -> Result<LabelRow, StoreError> {
    if let Some(existing) = get(conn, key)? {
        return Ok(existing);
    }
    let pending = conn.query_one(
        "SELECT key FROM shipping_labels WHERE order_id = $1 AND status <> 'recorded'",
        &[Value::Text(order_id)],
    )?;
    if let Some(other) = pending {
        return Err(StoreError::Domain(DomainError::conflict(format!(
            "a label for other lines of this order is being bought ({}); buy that one again first",
            other.text(0)?
        ))));
    }
    let lines_json = serde_json::to_string(lines)?;
    let at = micros(now);
    conn.execute(
        "INSERT INTO shipping_labels (key, order_id, provider, node, lines, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'started', $6, $6)",
        &[
            Value::Text(key),
            Value::Text(order_id),
            Value::Text(provider),
            Value::Text(node),
            Value::Text(&lines_json),
            Value::Int(at),
        ],
    )?;
    get(conn, key)?.ok_or_else(|| StoreError::Corrupt("a claimed label vanished".into()))
}

/// The carrier's shipment exists: kept before it is bought, so a resumed purchase asks the
/// carrier about this one rather than making another.
pub fn created(
    conn: &mut dyn Conn,
    key: &str,
    carrier_shipment_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE shipping_labels SET status = 'created', carrier_shipment_id = $2, updated_at = $3
         WHERE key = $1 AND status = 'started'",
        &[
            Value::Text(key),
            Value::Text(carrier_shipment_id),
            Value::Int(micros(now)),
        ],
    )?;
    Ok(())
}

/// The purchase became shipment `shipment_id` of its order (in the transaction that records it).
pub fn recorded(
    conn: &mut dyn Conn,
    key: &str,
    shipment_id: &str,
    tracking_code: Option<&str>,
    label_format: &str,
    label_base64: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE shipping_labels SET status = 'recorded', shipment_id = $2, tracking_code = $3,
           label_format = $4, label = $5, updated_at = $6
         WHERE key = $1",
        &[
            Value::Text(key),
            Value::Text(shipment_id),
            tracking_code.map_or(Value::Null, Value::Text),
            Value::Text(label_format),
            Value::Text(label_base64),
            Value::Int(micros(now)),
        ],
    )?;
    Ok(())
}

/// The order and shipment whose label `provider` bought with tracking code `tracking`.
pub fn by_tracking(
    conn: &mut dyn Conn,
    provider: &str,
    tracking: &str,
) -> Result<Option<LabelRow>, StoreError> {
    conn.query_one(
        &format!(
            "SELECT {COLUMNS} FROM shipping_labels WHERE provider = $1 AND tracking_code = $2
             AND status = 'recorded'"
        ),
        &[Value::Text(provider), Value::Text(tracking)],
    )?
    .map(row)
    .transpose()
}

/// The label file of a shipment: its format and base64 content.
pub fn label_file(
    conn: &mut dyn Conn,
    order_id: &str,
    shipment_id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    conn.query_one(
        "SELECT label_format, label FROM shipping_labels
         WHERE order_id = $1 AND shipment_id = $2 AND status = 'recorded'",
        &[Value::Text(order_id), Value::Text(shipment_id)],
    )?
    .map(|mut r| Ok((r.take_text(0)?, r.take_text(1)?)))
    .transpose()
}

/// The provider instances of type `carrier`, by name, each with its `base_url` (not secret):
/// which carrier service a cached rate came from.
pub fn carriers(conn: &mut dyn Conn) -> Result<Vec<(String, String)>, StoreError> {
    conn.query(
        "SELECT name, config FROM providers WHERE type = 'carrier' ORDER BY name",
        &[],
    )?
    .into_iter()
    .map(|mut r| {
        let config: serde_json::Value = serde_json::from_str(r.text(1)?)?;
        let base = config["connection"]["base_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok((r.take_text(0)?, base))
    })
    .collect()
}
