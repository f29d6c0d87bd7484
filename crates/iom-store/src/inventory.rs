//! Inventory: balances per (sku, node) kept in step with an append-only ledger, reservations,
//! allocations (ring-fencing), scheduled supply and demand.

use serde::Serialize;

use crate::db::{Conn, Row, Value};
use crate::{Store, StoreError};

/// The stock position of one SKU at one node.
///
/// `available = on_hand − reserved − allocated − safety_stock`, where `allocated` is what is
/// ring-fenced for a channel or customer group and not yet consumed, and `safety_stock` is the
/// (sku, node) override or else the node's own. It can be negative when a physical count comes in
/// below what was already promised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Balance {
    pub sku: String,
    pub node: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub allocated: i64,
    pub safety_stock: i64,
    pub available: i64,
}

const BALANCE_COLUMNS: &str = "b.sku, b.node, b.on_hand, b.reserved, b.allocated,
    COALESCE(b.safety_stock, n.safety_stock, 0)";

impl Store {
    /// Balances of these SKUs (at these nodes, or all nodes when `nodes` is empty), by sku then node.
    pub async fn balances(
        &self,
        skus: Vec<String>,
        nodes: Vec<String>,
    ) -> Result<Vec<Balance>, StoreError> {
        self.read(move |c| balances(c, &skus, &nodes)).await
    }
}

pub(crate) fn balances(
    conn: &mut dyn Conn,
    skus: &[String],
    nodes: &[String],
) -> Result<Vec<Balance>, StoreError> {
    let mut out = Vec::new();
    // Bounded IN lists keep statement shapes few and parameters under every backend's limit.
    for chunk in skus.chunks(100) {
        let mut params: Vec<Value<'_>> = chunk.iter().map(|s| Value::Text(s)).collect();
        let sku_list = placeholders(1, chunk.len());
        let mut sql = format!(
            "SELECT {BALANCE_COLUMNS} FROM inventory_balances b LEFT JOIN nodes n ON n.code = b.node
             WHERE b.sku IN ({sku_list})"
        );
        if !nodes.is_empty() {
            sql.push_str(&format!(
                " AND b.node IN ({})",
                placeholders(chunk.len() + 1, nodes.len())
            ));
            params.extend(nodes.iter().map(|n| Value::Text(n)));
        }
        sql.push_str(" ORDER BY b.sku, b.node");
        for row in conn.query(&sql, &params)? {
            out.push(balance(&row)?);
        }
    }
    Ok(out)
}

fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn balance(row: &Row) -> Result<Balance, StoreError> {
    let (on_hand, reserved, allocated, safety_stock) =
        (row.int(2)?, row.int(3)?, row.int(4)?, row.int(5)?);
    Ok(Balance {
        sku: row.text(0)?.to_owned(),
        node: row.text(1)?.to_owned(),
        on_hand,
        reserved,
        allocated,
        safety_stock,
        available: on_hand - reserved - allocated - safety_stock,
    })
}

// ------------------------------------------------------------------ row operations for writers
//
// The inventory service composes these inside one `Store::write` job; each is one or a few
// statements and none decides anything.

/// A (sku, node) pair.
pub type Key = (String, String);

/// The stored position of one (sku, node), before safety stock is applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoredPosition {
    pub on_hand: i64,
    pub reserved: i64,
    pub allocated: i64,
    pub safety_override: Option<i64>,
    /// The node's own safety stock.
    pub node_safety: i64,
}

/// Loads the positions of `keys`, creating empty rows for new pairs, and locks them until the
/// transaction ends (PostgreSQL; SQLite has one writer).
pub fn lock_positions(
    tx: &mut crate::Tx<'_>,
    keys: &[Key],
) -> Result<std::collections::HashMap<Key, StoredPosition>, StoreError> {
    let now = crate::micros(tx.now());
    let pg = tx.dialect() == crate::Dialect::Postgres;
    for chunk in keys.chunks(32) {
        let mut params = Vec::with_capacity(chunk.len() * 3);
        for (sku, node) in chunk {
            params.extend([Value::Text(sku), Value::Text(node), Value::Int(now)]);
        }
        let mut sql = String::from(
            "INSERT INTO inventory_balances (sku, node, on_hand, reserved, allocated, updated_at) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, 0, 0, 0, ${})",
                i * 3 + 1,
                i * 3 + 2,
                i * 3 + 3
            ));
        }
        sql.push_str(" ON CONFLICT (sku, node) DO NOTHING");
        tx.conn().execute(&sql, &params)?;
    }
    let mut out = std::collections::HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(32) {
        let mut params = Vec::with_capacity(chunk.len() * 2);
        let mut clauses = Vec::with_capacity(chunk.len());
        for (i, (sku, node)) in chunk.iter().enumerate() {
            params.extend([Value::Text(sku), Value::Text(node)]);
            clauses.push(format!(
                "(b.sku = ${} AND b.node = ${})",
                i * 2 + 1,
                i * 2 + 2
            ));
        }
        let sql = format!(
            "SELECT b.sku, b.node, b.on_hand, b.reserved, b.allocated, b.safety_stock, COALESCE(n.safety_stock, 0)
             FROM inventory_balances b LEFT JOIN nodes n ON n.code = b.node
             WHERE {}{}",
            clauses.join(" OR "),
            if pg { " FOR UPDATE OF b" } else { "" }
        );
        for row in tx.conn().query(&sql, &params)? {
            out.insert(
                (row.text(0)?.to_owned(), row.text(1)?.to_owned()),
                StoredPosition {
                    on_hand: row.int(2)?,
                    reserved: row.int(3)?,
                    allocated: row.int(4)?,
                    safety_override: row.opt_int(5)?,
                    node_safety: row.int(6)?,
                },
            );
        }
    }
    Ok(out)
}

/// Writes positions back.
pub fn save_positions(
    tx: &mut crate::Tx<'_>,
    positions: &[(&Key, &StoredPosition)],
) -> Result<(), StoreError> {
    let now = crate::micros(tx.now());
    for ((sku, node), p) in positions {
        tx.conn().execute(
            "UPDATE inventory_balances SET on_hand = $3, reserved = $4, allocated = $5, safety_stock = $6, updated_at = $7
             WHERE sku = $1 AND node = $2",
            &[
                Value::Text(sku),
                Value::Text(node),
                Value::Int(p.on_hand),
                Value::Int(p.reserved),
                Value::Int(p.allocated),
                p.safety_override.map_or(Value::Null, Value::Int),
                Value::Int(now),
            ],
        )?;
    }
    Ok(())
}

/// Which of these node codes exist.
pub fn known_nodes(
    conn: &mut dyn Conn,
    codes: &[String],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut out = std::collections::HashSet::new();
    for chunk in codes.chunks(100) {
        let params: Vec<Value<'_>> = chunk.iter().map(|c| Value::Text(c)).collect();
        let sql = format!(
            "SELECT code FROM nodes WHERE code IN ({})",
            placeholders(1, chunk.len())
        );
        for row in conn.query(&sql, &params)? {
            out.insert(row.text(0)?.to_owned());
        }
    }
    Ok(out)
}

/// Which of these change ids the ledger has already applied.
pub fn seen_changes(
    conn: &mut dyn Conn,
    ids: &[String],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut out = std::collections::HashSet::new();
    for chunk in ids.chunks(100) {
        let params: Vec<Value<'_>> = chunk.iter().map(|c| Value::Text(c)).collect();
        let sql = format!(
            "SELECT change_id FROM inventory_ledger WHERE change_id IN ({})",
            placeholders(1, chunk.len())
        );
        for row in conn.query(&sql, &params)? {
            out.insert(row.text(0)?.to_owned());
        }
    }
    Ok(out)
}

/// One line of the on-hand ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRow {
    pub change_id: String,
    pub sku: String,
    pub node: String,
    /// `delta`, `set`, `consume` (shipped against a reservation), `receive` (a return restocked).
    pub kind: String,
    pub quantity: i64,
    pub delta: i64,
    pub on_hand_after: i64,
    pub reason: Option<String>,
    pub source: Option<String>,
}

pub fn insert_ledger(tx: &mut crate::Tx<'_>, rows: &[LedgerRow]) -> Result<(), StoreError> {
    let at = crate::micros(tx.now());
    for chunk in rows.chunks(32) {
        let mut params = Vec::with_capacity(chunk.len() * 10);
        for r in chunk {
            params.extend([
                Value::Text(&r.change_id),
                Value::Text(&r.sku),
                Value::Text(&r.node),
                Value::Text(&r.kind),
                Value::Int(r.quantity),
                Value::Int(r.delta),
                Value::Int(r.on_hand_after),
                r.reason.as_ref().into(),
                r.source.as_ref().into(),
                Value::Int(at),
            ]);
        }
        let sql = crate::db::multi_row_insert(
            "inventory_ledger (change_id, sku, node, kind, quantity, delta, on_hand_after, reason, source, at)",
            10,
            chunk.len(),
        );
        tx.conn().execute(&sql, &params)?;
    }
    Ok(())
}

/// The whole ledger of one (sku, node), oldest first.
pub fn ledger(conn: &mut dyn Conn, sku: &str, node: &str) -> Result<Vec<LedgerRow>, StoreError> {
    conn.query(
        "SELECT change_id, sku, node, kind, quantity, delta, on_hand_after, reason, source
         FROM inventory_ledger WHERE sku = $1 AND node = $2 ORDER BY seq",
        &[Value::Text(sku), Value::Text(node)],
    )?
    .into_iter()
    .map(|r| {
        Ok(LedgerRow {
            change_id: r.text(0)?.to_owned(),
            sku: r.text(1)?.to_owned(),
            node: r.text(2)?.to_owned(),
            kind: r.text(3)?.to_owned(),
            quantity: r.int(4)?,
            delta: r.int(5)?,
            on_hand_after: r.int(6)?,
            reason: r.opt_text(7)?.map(str::to_owned),
            source: r.opt_text(8)?.map(str::to_owned),
        })
    })
    .collect()
}
