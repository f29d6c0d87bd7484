//! Inventory: balances per (sku, node) kept in step with an append-only ledger, reservations,
//! allocations (ring-fencing), scheduled supply and demand.

use serde::Serialize;

use crate::db::{Conn, Dialect, Owned, Row, Value};
use crate::features::{JobPart, Nothing};
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
    /// The node's kind (warehouse, store, …); `None` for a node since removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_kind: Option<String>,
}

const BALANCE_COLUMNS: &str = "b.sku, b.node, b.on_hand, b.reserved, b.allocated,
    COALESCE(b.safety_stock, n.safety_stock, 0), n.kind";

impl Store {
    /// Balances of these SKUs (at these nodes, or all nodes when `nodes` is empty), by sku then node.
    pub async fn balances(
        &self,
        skus: Vec<String>,
        nodes: Vec<String>,
    ) -> Result<Vec<Balance>, StoreError> {
        self.read(move |c| balances_in(c, &skus, &nodes)).await
    }
}

/// Balances of these SKUs (at these nodes, or all), on any connection (inside a write as well).
pub fn balances_in(
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
            out.push(balance(row)?);
        }
    }
    Ok(out)
}

/// The balances of every SKU on the order `order_id`'s lines, at every node, by sku then node
/// (as [`balances_in`] reads them), held back to go out with the next statement: a flow reads
/// them with the order, in the same round trip, for planning.
pub fn order_balances_later(
    conn: &mut dyn Conn,
    order_id: &str,
) -> Result<LaterBalances, StoreError> {
    // One row per balance, and one with no balance for a SKU that has none, so the answer says
    // which SKUs it covers.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT l.sku, {BALANCE_COLUMNS}
             FROM (SELECT DISTINCT sku FROM order_lines WHERE order_id = $1) l
             LEFT JOIN inventory_balances b ON b.sku = l.sku
             LEFT JOIN nodes n ON n.code = b.node
             ORDER BY l.sku, b.node"
        )
    });
    Ok(LaterBalances(
        conn.query_deferred(&SQL, &[Value::Text(order_id)])?,
    ))
}

/// The answer to [`order_balances_later`].
pub struct LaterBalances(crate::DeferredRows);

impl LaterBalances {
    /// The SKUs read, and their balances, once the read was sent.
    pub fn take(self) -> Result<(std::collections::BTreeSet<String>, Vec<Balance>), StoreError> {
        let mut skus = std::collections::BTreeSet::new();
        let mut balances = Vec::new();
        for Row(mut values) in self.0.take()? {
            let sku = values.remove(0);
            if let Owned::Text(sku) = sku {
                skus.insert(sku);
            }
            // A SKU with no balance has NULL for every balance column.
            if values.get(1).is_some_and(|node| *node != Owned::Null) {
                balances.push(balance(Row(values))?);
            }
        }
        Ok((skus, balances))
    }
}

fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A balance row; its texts are moved out, not copied (a view of one SKU reads a row per node).
pub(crate) fn balance(mut row: Row) -> Result<Balance, StoreError> {
    let (on_hand, reserved, allocated, safety_stock) =
        (row.int(2)?, row.int(3)?, row.int(4)?, row.int(5)?);
    Ok(Balance {
        sku: row.take_text(0)?,
        node: row.take_text(1)?,
        on_hand,
        reserved,
        allocated,
        safety_stock,
        available: on_hand - reserved - allocated - safety_stock,
        node_kind: row.take_opt_text(6)?,
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

/// The balance rows a write job locked, as it last wrote them, and how often it wrote balances:
/// its part of the job's state (see [`crate::features`]).
///
/// A row the job locked is read once per job ([`lock_positions`]): it is then as the job last
/// wrote it, until a savepoint rolls back, which undoes the writes and gives back the row locks
/// taken inside it, so every row is forgotten then and read again. Nothing of it outlives the job.
#[derive(Debug, Default)]
pub(crate) struct JobPositions {
    locked: std::collections::HashMap<Key, StoredPosition>,
    /// How many times the job wrote balance rows, or rolled back a savepoint that may have (see
    /// [`crate::Tx::balance_writes`]).
    writes: u64,
}

impl JobPart for JobPositions {
    /// A savepoint rolled back forgets every row, whenever it was locked.
    type Mark = Nothing;
    /// Nothing is kept past the job.
    type Group = Nothing;

    fn mark(&self) -> Nothing {
        Nothing
    }

    fn rolled_back(&mut self, _: Nothing) {
        self.locked.clear();
        self.writes += 1;
    }

    fn merge_into(self, _: &mut Nothing) {}

    fn before_commit(_: Nothing, _: &mut dyn Conn) -> Result<(), StoreError> {
        Ok(())
    }
}

impl crate::Tx<'_> {
    /// Grows whenever the job writes balance rows or rolls back a savepoint (which may undo such
    /// writes): balances read while it stays the same are still what the database holds.
    pub fn balance_writes(&self) -> u64 {
        self.job().positions.writes
    }
}

/// The job's [`JobPositions`], to change. Reaching them counts as no change
/// ([`crate::Tx::changes`]): the statements that lock and write the rows are counted themselves.
fn job_positions<'t>(tx: &'t mut crate::Tx<'_>) -> &'t mut JobPositions {
    &mut tx.job_mut().positions
}

/// Loads the positions of `keys` (empty ones for new pairs) and locks them until the transaction
/// ends. On PostgreSQL a new pair gets its row first, so that it can be locked like the rest; on
/// SQLite, which has one writer, it is written by [`save_positions`] only, with its final figures.
///
/// A row the job locked before is not read again: it is as the job last wrote it. A flow pass
/// reserves for hundreds of orders in one job, most of them on the same few SKUs.
pub fn lock_positions(
    tx: &mut crate::Tx<'_>,
    keys: &[Key],
) -> Result<std::collections::HashMap<Key, StoredPosition>, StoreError> {
    let locked = &tx.job().positions.locked;
    let missing: Vec<Key> = keys
        .iter()
        .filter(|k| !locked.contains_key(*k))
        .cloned()
        .collect();
    if !missing.is_empty() {
        let read = read_positions(tx, &missing)?;
        job_positions(tx).locked.extend(read);
    }
    let locked = &tx.job().positions.locked;
    Ok(keys
        .iter()
        .filter_map(|k| locked.get(k).map(|p| (k.clone(), *p)))
        .collect())
}

/// [`lock_positions`] from the database.
fn read_positions(
    tx: &mut crate::Tx<'_>,
    keys: &[Key],
) -> Result<std::collections::HashMap<Key, StoredPosition>, StoreError> {
    if tx.dialect() == crate::Dialect::Sqlite {
        return select_all_positions(tx, keys);
    }
    let mut out = select_positions(tx, keys)?;
    if out.len() < keys.len() {
        // New pairs get an empty row first, so that they can be locked and updated like the rest.
        let missing: Vec<Key> = keys
            .iter()
            .filter(|k| !out.contains_key(*k))
            .cloned()
            .collect();
        let now = crate::micros(tx.now());
        job_positions(tx).writes += 1;
        for chunk in missing.chunks(32) {
            let mut params = Vec::with_capacity(chunk.len() * 3);
            let mut rows = Vec::with_capacity(chunk.len());
            for (i, (sku, node)) in chunk.iter().enumerate() {
                params.extend([Value::Text(sku), Value::Text(node), Value::Int(now)]);
                rows.push(format!(
                    "(${}, ${}, 0, 0, 0, ${})",
                    i * 3 + 1,
                    i * 3 + 2,
                    i * 3 + 3
                ));
            }
            let sql = format!(
                "INSERT INTO inventory_balances (sku, node, on_hand, reserved, allocated, updated_at)
                 VALUES {} ON CONFLICT (sku, node) DO NOTHING",
                rows.join(", ")
            );
            tx.conn().execute(&sql, &params)?;
        }
        out.extend(select_positions(tx, &missing)?);
    }
    Ok(out)
}

/// The rows of `keys` that exist, locked until the transaction ends (PostgreSQL).
fn select_positions(
    tx: &mut crate::Tx<'_>,
    keys: &[Key],
) -> Result<std::collections::HashMap<Key, StoredPosition>, StoreError> {
    // A row-value IN list is answered from the primary key; the order makes concurrent writers
    // lock rows in the same order.
    positions_of_pairs(tx, keys, "locked positions", |pairs| {
        format!(
            "SELECT b.sku, b.node, b.on_hand, b.reserved, b.allocated, b.safety_stock, COALESCE(n.safety_stock, 0)
             FROM inventory_balances b LEFT JOIN nodes n ON n.code = b.node
             WHERE (b.sku, b.node) IN (VALUES {pairs}) ORDER BY b.sku, b.node FOR UPDATE OF b"
        )
    })
}

/// Runs `statement` (built once per size, named `name`, given the pairs' placeholder list) for
/// `keys`, 64 pairs at a time, and reads the position rows it returns ([`stored_position`]).
fn positions_of_pairs(
    tx: &mut crate::Tx<'_>,
    keys: &[Key],
    name: &'static str,
    statement: impl Fn(&str) -> String,
) -> Result<std::collections::HashMap<Key, StoredPosition>, StoreError> {
    let mut out = std::collections::HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(64) {
        let mut params = Vec::with_capacity(chunk.len() * 2);
        for (sku, node) in chunk {
            params.extend([Value::Text(sku), Value::Text(node)]);
        }
        let sql = crate::db::sized_statement(name, chunk.len(), || {
            statement(&pair_placeholders(chunk.len()))
        });
        for row in tx.conn().query(&sql, &params)? {
            let (key, position) = stored_position(&row)?;
            out.insert(key, position);
        }
    }
    Ok(out)
}

/// `($1, $2), ($3, $4), …` for `count` (sku, node) pairs.
fn pair_placeholders(count: usize) -> String {
    (0..count)
        .map(|i| format!("(${}, ${})", i * 2 + 1, i * 2 + 2))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A position row: sku, node, on hand, reserved, allocated, the pair's safety stock override and
/// the node's own safety stock.
fn stored_position(row: &Row) -> Result<(Key, StoredPosition), StoreError> {
    Ok((
        (row.text(0)?.to_owned(), row.text(1)?.to_owned()),
        StoredPosition {
            on_hand: row.int(2)?,
            reserved: row.int(3)?,
            allocated: row.int(4)?,
            safety_override: row.opt_int(5)?,
            node_safety: row.int(6)?,
        },
    ))
}

/// Every position of `keys`, an empty one where the pair has no row yet (SQLite, where the one
/// writer needs no row lock).
fn select_all_positions(
    tx: &mut crate::Tx<'_>,
    keys: &[Key],
) -> Result<std::collections::HashMap<Key, StoredPosition>, StoreError> {
    positions_of_pairs(tx, keys, "all positions", |pairs| {
        format!(
            "SELECT k.column1, k.column2, COALESCE(b.on_hand, 0), COALESCE(b.reserved, 0),
                    COALESCE(b.allocated, 0), b.safety_stock, COALESCE(n.safety_stock, 0)
             FROM (VALUES {pairs}) k
             LEFT JOIN inventory_balances b ON b.sku = k.column1 AND b.node = k.column2
             LEFT JOIN nodes n ON n.code = k.column2"
        )
    })
}

/// Writes positions back: one UPDATE for a single position that has its row, multi-row upserts
/// otherwise (one statement per 32 rows instead of one per row is what lets a 1,000-change batch
/// commit quickly).
pub fn save_positions(
    tx: &mut crate::Tx<'_>,
    positions: &[(&Key, &StoredPosition)],
) -> Result<(), StoreError> {
    let now = crate::micros(tx.now());
    let job = job_positions(tx);
    job.writes += 1;
    for (key, p) in positions {
        job.locked.insert((*key).clone(), **p);
    }
    if let [((sku, node), p)] = positions {
        let sql = "UPDATE inventory_balances SET on_hand = $3, reserved = $4, allocated = $5, safety_stock = $6, updated_at = $7
             WHERE sku = $1 AND node = $2";
        let params = position_values(sku, node, p, now);
        // PostgreSQL locked every row it saves (`lock_positions` inserts the new ones), so the
        // write needs no answer and goes out with the next statement.
        if tx.dialect() == crate::Dialect::Postgres {
            return tx.conn().execute_deferred(sql, &params);
        }
        if tx.conn().execute(sql, &params)? == 1 {
            return Ok(());
        }
        // A new pair on SQLite: its row is written below.
    }
    for chunk in positions.chunks(32) {
        let mut params = Vec::with_capacity(chunk.len() * 7);
        for ((sku, node), p) in chunk {
            params.extend(position_values(sku, node, p, now));
        }
        let sql = crate::db::multi_row_statement(
            "inventory_balances (sku, node, on_hand, reserved, allocated, safety_stock, updated_at)",
            7,
            chunk.len(),
            "ON CONFLICT (sku, node) DO UPDATE SET on_hand = excluded.on_hand,
             reserved = excluded.reserved, allocated = excluded.allocated,
             safety_stock = excluded.safety_stock, updated_at = excluded.updated_at",
        );
        tx.conn().execute_deferred(&sql, &params)?;
    }
    Ok(())
}

/// A position row's values as [`save_positions`] writes them: sku, node, on hand, reserved,
/// allocated, safety stock override, updated at.
fn position_values<'a>(
    sku: &'a str,
    node: &'a str,
    p: &StoredPosition,
    now: i64,
) -> [Value<'a>; 7] {
    [
        Value::Text(sku),
        Value::Text(node),
        Value::Int(p.on_hand),
        Value::Int(p.reserved),
        Value::Int(p.allocated),
        p.safety_override.map_or(Value::Null, Value::Int),
        Value::Int(now),
    ]
}

/// Which of these node codes exist.
pub fn known_nodes(
    conn: &mut dyn Conn,
    codes: &[String],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut out = std::collections::HashSet::new();
    for chunk in codes.chunks(100) {
        let params: Vec<Value<'_>> = chunk.iter().map(|c| Value::Text(c)).collect();
        let sql = crate::db::sized_statement("known nodes", chunk.len(), || {
            format!(
                "SELECT code FROM nodes WHERE code IN ({})",
                placeholders(1, chunk.len())
            )
        });
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
        let sql = crate::db::sized_statement("seen changes", chunk.len(), || {
            format!(
                "SELECT change_id FROM inventory_ledger WHERE change_id IN ({})",
                placeholders(1, chunk.len())
            )
        });
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
        let sql = crate::db::multi_row_append(
            tx.dialect(),
            "inventory_ledger (change_id, sku, node, kind, quantity, delta, on_hand_after, reason, source, at)",
            10,
            chunk.len(),
        );
        tx.conn().execute_deferred(&sql, &params)?;
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

/// A reservation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReservationRow {
    pub id: String,
    pub sku: String,
    pub node: String,
    pub quantity: i64,
    pub reference: Option<String>,
    pub order_id: Option<String>,
    pub line_no: Option<i64>,
    pub allocation_id: Option<String>,
    /// How much of `quantity` was drawn from the allocation.
    pub from_allocation: i64,
    /// `active`, `released`, `expired` or `consumed`.
    pub status: String,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

const RESERVATION_COLUMNS: &str =
    "id, sku, node, quantity, reference, order_id, line_no, allocation_id,
    from_allocation, status, expires_at, created_at";

fn reservation(row: &Row) -> Result<ReservationRow, StoreError> {
    Ok(ReservationRow {
        id: row.text(0)?.to_owned(),
        sku: row.text(1)?.to_owned(),
        node: row.text(2)?.to_owned(),
        quantity: row.int(3)?,
        reference: row.opt_text(4)?.map(str::to_owned),
        order_id: row.opt_text(5)?.map(str::to_owned),
        line_no: row.opt_int(6)?,
        allocation_id: row.opt_text(7)?.map(str::to_owned),
        from_allocation: row.int(8)?,
        status: row.text(9)?.to_owned(),
        expires_at: row.opt_int(10)?.map(crate::from_micros),
        created_at: crate::from_micros(row.int(11)?),
    })
}

/// Most reservations one statement inserts: an order's lines are reserved together.
const RESERVATIONS_PER_INSERT: usize = 32;

/// Inserts new reservations, one statement per 32: each statement is a round of the server's
/// work on PostgreSQL, and a flow run reserves every line of its order at once.
pub fn insert_reservations(
    tx: &mut crate::Tx<'_>,
    reservations: &[ReservationRow],
) -> Result<(), StoreError> {
    static TABLE: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("reservations ({RESERVATION_COLUMNS}, updated_at)"));
    let now = crate::micros(tx.now());
    let dialect = tx.dialect();
    for chunk in reservations.chunks(RESERVATIONS_PER_INSERT) {
        let mut params = Vec::with_capacity(chunk.len() * 13);
        for r in chunk {
            params.extend([
                Value::Text(&r.id),
                Value::Text(&r.sku),
                Value::Text(&r.node),
                Value::Int(r.quantity),
                r.reference.as_ref().into(),
                r.order_id.as_ref().into(),
                r.line_no.map_or(Value::Null, Value::Int),
                r.allocation_id.as_ref().into(),
                Value::Int(r.from_allocation),
                Value::Text(&r.status),
                r.expires_at
                    .map_or(Value::Null, |t| Value::Int(crate::micros(t))),
                Value::Int(now),
                Value::Int(now),
            ]);
        }
        let sql = crate::db::multi_row_append(dialect, &TABLE, 13, chunk.len());
        tx.conn().execute_deferred(&sql, &params)?;
    }
    Ok(())
}

/// Writes a reservation's quantity, allocation share and status.
pub fn update_reservation(tx: &mut crate::Tx<'_>, r: &ReservationRow) -> Result<(), StoreError> {
    let now = crate::micros(tx.now());
    tx.conn().execute_deferred(
        "UPDATE reservations SET quantity = $2, from_allocation = $3, status = $4, updated_at = $5 WHERE id = $1",
        &[
            Value::Text(&r.id),
            Value::Int(r.quantity),
            Value::Int(r.from_allocation),
            Value::Text(&r.status),
            Value::Int(now),
        ],
    )?;
    Ok(())
}

pub fn get_reservation(
    conn: &mut dyn Conn,
    id: &str,
) -> Result<Option<ReservationRow>, StoreError> {
    conn.query_one(
        &format!("SELECT {RESERVATION_COLUMNS} FROM reservations WHERE id = $1"),
        &[Value::Text(id)],
    )?
    .as_ref()
    .map(reservation)
    .transpose()
}

/// Active reservations of an order (one line, or all lines when `line_no` is `None`), oldest first.
pub fn order_reservations(
    conn: &mut dyn Conn,
    order_id: &str,
    line_no: Option<i64>,
) -> Result<Vec<ReservationRow>, StoreError> {
    // Every reservation of the order is read and the active ones kept here: an order has few,
    // and with `status` in the query PostgreSQL may combine the order index with the status
    // index, which reads every active reservation (it does so while the table's statistics are
    // young, as in a new database taking its first orders).
    let rows = match line_no {
        Some(line) => conn.query(
            &format!(
                "SELECT {RESERVATION_COLUMNS} FROM reservations
                 WHERE order_id = $1 AND line_no = $2 ORDER BY created_at, id"
            ),
            &[Value::Text(order_id), Value::Int(line)],
        )?,
        None => conn.query(&every_line_of_order(), &[Value::Text(order_id)])?,
    };
    only_active(rows)
}

/// The reservations of every line of the order `$1`, oldest first.
fn every_line_of_order() -> String {
    format!(
        "SELECT {RESERVATION_COLUMNS} FROM reservations WHERE order_id = $1 ORDER BY created_at, id"
    )
}

/// An order (its row locked until the transaction ends, on PostgreSQL) with its active
/// reservations, in one statement: the fulfilment steps of a flow read both.
pub fn order_with_reservations(
    conn: &mut dyn Conn,
    id: iom_domain::OrderId,
) -> Result<Option<(iom_domain::Order, Vec<ReservationRow>)>, StoreError> {
    static SQL: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
        let columns: Vec<String> = RESERVATION_COLUMNS
            .split(',')
            .map(|c| format!("r.{}", c.trim()))
            .collect();
        let read = format!(
            "SELECT o.doc, {} FROM orders o LEFT JOIN reservations r ON r.order_id = o.id
             WHERE o.id = $1 ORDER BY r.created_at, r.id",
            columns.join(", ")
        );
        let lock = format!("{read} FOR UPDATE OF o");
        [read, lock]
    });
    let sql = match conn.dialect() {
        Dialect::Sqlite => &SQL[0],
        Dialect::Postgres => &SQL[1],
    };
    let rows = conn.query(sql, &[Value::Text(&id.to_string())])?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let order: iom_domain::Order = serde_json::from_str(first.text(0)?)?;
    // Each row is the order's document, then one reservation (all NULL when it has none).
    let reservations: Vec<Row> = rows
        .into_iter()
        .filter_map(|Row(mut values)| {
            values.remove(0);
            let some = values.first().is_some_and(|id| *id != Owned::Null);
            some.then_some(Row(values))
        })
        .collect();
    Ok(Some((order, only_active(reservations)?)))
}

fn only_active(rows: Vec<Row>) -> Result<Vec<ReservationRow>, StoreError> {
    rows.iter()
        .map(reservation)
        .filter(|r| r.as_ref().map_or(true, |r| r.status == "active"))
        .collect()
}

/// Active reservations whose time is up at `now`, oldest expiry first.
pub fn due_reservations(
    conn: &mut dyn Conn,
    now: chrono::DateTime<chrono::Utc>,
    limit: usize,
) -> Result<Vec<ReservationRow>, StoreError> {
    conn.query(
        &format!(
            "SELECT {RESERVATION_COLUMNS} FROM reservations
             WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= $1
             ORDER BY expires_at LIMIT {limit}"
        ),
        &[Value::Int(crate::micros(now))],
    )?
    .iter()
    .map(reservation)
    .collect()
}

/// Every active reservation of one (sku, node).
pub fn active_reservations(
    conn: &mut dyn Conn,
    sku: &str,
    node: &str,
) -> Result<Vec<ReservationRow>, StoreError> {
    conn.query(
        &format!(
            "SELECT {RESERVATION_COLUMNS} FROM reservations WHERE sku = $1 AND node = $2 AND status = 'active'"
        ),
        &[Value::Text(sku), Value::Text(node)],
    )?
    .iter()
    .map(reservation)
    .collect()
}

/// Quantity ring-fenced for a channel or customer group at one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllocationRow {
    pub id: String,
    pub sku: String,
    pub node: String,
    /// `channel` or `customer_group`.
    pub group_kind: String,
    pub group_value: String,
    pub quantity: i64,
    pub consumed: i64,
}

const ALLOCATION_COLUMNS: &str = "id, sku, node, group_kind, group_value, quantity, consumed";

fn allocation(row: &Row) -> Result<AllocationRow, StoreError> {
    Ok(AllocationRow {
        id: row.text(0)?.to_owned(),
        sku: row.text(1)?.to_owned(),
        node: row.text(2)?.to_owned(),
        group_kind: row.text(3)?.to_owned(),
        group_value: row.text(4)?.to_owned(),
        quantity: row.int(5)?,
        consumed: row.int(6)?,
    })
}

/// Allocations of one (sku, node); those of one group only when `group` is given.
pub fn allocations(
    conn: &mut dyn Conn,
    sku: &str,
    node: Option<&str>,
) -> Result<Vec<AllocationRow>, StoreError> {
    let rows = match node {
        Some(node) => conn.query(
            &format!("SELECT {ALLOCATION_COLUMNS} FROM inventory_allocations WHERE sku = $1 AND node = $2 ORDER BY id"),
            &[Value::Text(sku), Value::Text(node)],
        )?,
        None => conn.query(
            &format!("SELECT {ALLOCATION_COLUMNS} FROM inventory_allocations WHERE sku = $1 ORDER BY node, id"),
            &[Value::Text(sku)],
        )?,
    };
    rows.iter().map(allocation).collect()
}

pub fn get_allocation(conn: &mut dyn Conn, id: &str) -> Result<Option<AllocationRow>, StoreError> {
    conn.query_one(
        &format!("SELECT {ALLOCATION_COLUMNS} FROM inventory_allocations WHERE id = $1"),
        &[Value::Text(id)],
    )?
    .as_ref()
    .map(allocation)
    .transpose()
}

pub fn upsert_allocation(tx: &mut crate::Tx<'_>, a: &AllocationRow) -> Result<(), StoreError> {
    let now = crate::micros(tx.now());
    tx.conn().execute(
        "INSERT INTO inventory_allocations (id, sku, node, group_kind, group_value, quantity, consumed, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (id) DO UPDATE SET quantity = excluded.quantity, consumed = excluded.consumed,
           updated_at = excluded.updated_at",
        &[
            Value::Text(&a.id),
            Value::Text(&a.sku),
            Value::Text(&a.node),
            Value::Text(&a.group_kind),
            Value::Text(&a.group_value),
            Value::Int(a.quantity),
            Value::Int(a.consumed),
            Value::Int(now),
        ],
    )?;
    Ok(())
}

pub fn delete_allocation(tx: &mut crate::Tx<'_>, id: &str) -> Result<(), StoreError> {
    tx.conn().execute(
        "DELETE FROM inventory_allocations WHERE id = $1",
        &[Value::Text(id)],
    )?;
    Ok(())
}

/// A scheduled receipt (`supply`) or a scheduled demand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledRow {
    pub id: String,
    pub sku: String,
    pub node: String,
    pub quantity: i64,
    /// For supply: `purchase_order`, `transfer` or `asn`; for demand: the reference.
    pub kind: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Stores a scheduled receipt; `false` when its id exists already (the first one stands).
pub fn insert_supply(tx: &mut crate::Tx<'_>, s: &ScheduledRow) -> Result<bool, StoreError> {
    let now = crate::micros(tx.now());
    let n = tx.conn().execute(
        "INSERT INTO inventory_supply (id, sku, node, quantity, kind, expected_at, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'open', $7) ON CONFLICT (id) DO NOTHING",
        &[
            Value::Text(&s.id),
            Value::Text(&s.sku),
            Value::Text(&s.node),
            Value::Int(s.quantity),
            Value::Text(&s.kind),
            Value::Int(crate::micros(s.at)),
            Value::Int(now),
        ],
    )?;
    Ok(n == 1)
}

/// Stores a scheduled demand; `false` when its id exists already.
pub fn insert_demand(tx: &mut crate::Tx<'_>, d: &ScheduledRow) -> Result<bool, StoreError> {
    let now = crate::micros(tx.now());
    let n = tx.conn().execute(
        "INSERT INTO inventory_demand (id, sku, node, quantity, due_at, reference, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        &[
            Value::Text(&d.id),
            Value::Text(&d.sku),
            Value::Text(&d.node),
            Value::Int(d.quantity),
            Value::Int(crate::micros(d.at)),
            Value::Text(&d.kind),
            Value::Int(now),
        ],
    )?;
    Ok(n == 1)
}

/// Open supply and demand of a SKU (at one node, or all) due before `until`.
pub fn scheduled(
    conn: &mut dyn Conn,
    sku: &str,
    node: Option<&str>,
    until: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<ScheduledRow>, Vec<ScheduledRow>), StoreError> {
    let until = crate::micros(until);
    let node_clause = if node.is_some() { " AND node = $3" } else { "" };
    let mut params = vec![Value::Text(sku), Value::Int(until)];
    if let Some(node) = node {
        params.push(Value::Text(node));
    }
    let read = |rows: Vec<Row>| -> Result<Vec<ScheduledRow>, StoreError> {
        rows.iter()
            .map(|r| {
                Ok(ScheduledRow {
                    id: r.text(0)?.to_owned(),
                    sku: r.text(1)?.to_owned(),
                    node: r.text(2)?.to_owned(),
                    quantity: r.int(3)?,
                    kind: r.opt_text(4)?.unwrap_or_default().to_owned(),
                    at: crate::from_micros(r.int(5)?),
                })
            })
            .collect()
    };
    let supply = read(conn.query(
        &format!(
            "SELECT id, sku, node, quantity, kind, expected_at FROM inventory_supply
             WHERE sku = $1 AND status = 'open' AND expected_at < $2{node_clause} ORDER BY expected_at"
        ),
        &params,
    )?)?;
    let demand = read(conn.query(
        &format!(
            "SELECT id, sku, node, quantity, reference, due_at FROM inventory_demand
             WHERE sku = $1 AND due_at < $2{node_clause} ORDER BY due_at"
        ),
        &params,
    )?)?;
    Ok((supply, demand))
}

/// A product's attributes and low-stock threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkuRow {
    pub sku: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub low_threshold: Option<i64>,
}

pub fn put_sku(tx: &mut crate::Tx<'_>, s: &SkuRow) -> Result<(), StoreError> {
    let now = crate::micros(tx.now());
    let attributes = serde_json::Value::Object(s.attributes.clone()).to_string();
    tx.conn().execute(
        "INSERT INTO skus (sku, attributes, low_threshold, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (sku) DO UPDATE SET attributes = excluded.attributes,
           low_threshold = excluded.low_threshold, updated_at = excluded.updated_at",
        &[
            Value::Text(&s.sku),
            Value::Text(&attributes),
            s.low_threshold.map_or(Value::Null, Value::Int),
            Value::Int(now),
        ],
    )?;
    Ok(())
}

/// The stored products among `skus`.
pub fn skus(conn: &mut dyn Conn, skus: &[String]) -> Result<Vec<SkuRow>, StoreError> {
    let mut out = Vec::new();
    for chunk in skus.chunks(100) {
        let params: Vec<Value<'_>> = chunk.iter().map(|s| Value::Text(s)).collect();
        let sql = format!(
            "SELECT sku, attributes, low_threshold FROM skus WHERE sku IN ({})",
            placeholders(1, chunk.len())
        );
        for row in conn.query(&sql, &params)? {
            out.push(sku_row(&row)?);
        }
    }
    Ok(out)
}

/// Products whose attribute `name` is set, with its value (as text).
pub fn skus_with_attribute(conn: &mut dyn Conn, limit: usize) -> Result<Vec<SkuRow>, StoreError> {
    conn.query(
        &format!("SELECT sku, attributes, low_threshold FROM skus ORDER BY sku LIMIT {limit}"),
        &[],
    )?
    .iter()
    .map(sku_row)
    .collect()
}

fn sku_row(row: &Row) -> Result<SkuRow, StoreError> {
    let attributes = match serde_json::from_str(row.text(1)?)? {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    Ok(SkuRow {
        sku: row.text(0)?.to_owned(),
        attributes,
        low_threshold: row.opt_int(2)?,
    })
}
