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
