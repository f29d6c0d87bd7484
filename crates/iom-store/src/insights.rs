//! Insights: the fact rows of orders, lines and shipments (kept in the transaction that writes the
//! order), the SQL aggregates that feed `iom_insights::KpiReport` and chart series, found
//! anomalies, alerts and their firings.
//!
//! The fact rows are a projection like the filter columns of `orders`: `iom_insights::facts` says
//! what each is, this module writes and sums them. All sums are `CAST(… AS BIGINT)` so both
//! backends hand back integers (PostgreSQL's `SUM(BIGINT)` is `NUMERIC`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use iom_domain::{EventDraft, Order};
use iom_insights::facts::{
    DeliveryFacts, JEOPARDY_WINDOW, LineFacts, NodeCosts, OrderFacts, ShipmentFacts,
};
use iom_insights::kpi::{
    ChannelSums, DeliverySums, KpiInputs, NodeSums, OrderSums, PeriodSums, ProductSums,
    ProviderSums, RegionSums,
};
use iom_insights::money::to_micros;
use iom_insights::series::{Bucket, Interval, Metric};
use iom_insights::{AlertCondition, AlertDefinition, Anomaly};
use serde_json::json;

use crate::db::{Conn, DeferredRows, Dialect, Owned, Row, Value};
use crate::{Store, StoreError, Tx, from_micros, micros};

/// How many products `top_products` lists.
pub const TOP_PRODUCTS: usize = 10;
/// Most subjects one alert fires for in one evaluation; the rest fire at the next.
pub const FIRINGS_PER_RUN: usize = 500;

// ---------------------------------------------------------------- fact rows

/// Writes an order's fact row: inserted for a new order, updated after a change.
const FACT_UPSERT: &str = "INSERT INTO order_facts (order_id, channel, currency, region, node, status, placed_at,
             created_at, ship_by, requested_delivery_at, lines, units, cancelled_units,
             shipped_units, delivered_units, total_micros, booked_micros, backordered, cancelled,
             open, released_at, first_shipped_at, shipped_at, delivered_at, shipments, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19, $20, $21, $22, $23, $24, $25, $26)
         ON CONFLICT (order_id) DO UPDATE SET node = excluded.node, status = excluded.status,
             ship_by = excluded.ship_by, requested_delivery_at = excluded.requested_delivery_at,
             cancelled_units = excluded.cancelled_units, shipped_units = excluded.shipped_units,
             delivered_units = excluded.delivered_units, total_micros = excluded.total_micros,
             backordered = CASE WHEN order_facts.backordered = 1 THEN 1 ELSE excluded.backordered END,
             cancelled = excluded.cancelled, open = excluded.open,
             released_at = COALESCE(order_facts.released_at, excluded.released_at),
             first_shipped_at = excluded.first_shipped_at, shipped_at = excluded.shipped_at,
             delivered_at = excluded.delivered_at, shipments = excluded.shipments,
             updated_at = excluded.updated_at";

/// [`FACT_UPSERT`], handing back the row's contribution to [`ORDERS_DAILY`] as it now stands.
static FACT_UPSERT_RETURNING: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{FACT_UPSERT} {}", ORDERS_DAILY.returning()));

/// [`FACT_UPSERT`] on PostgreSQL, handing back the row's contribution to [`ORDERS_DAILY`] both
/// as it was (times −1) and as it now stands: every part of a statement reads the rows as they
/// were before it began.
static FACT_UPSERT_MOVED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH old_row AS ({}), new_row AS ({FACT_UPSERT} {})
         SELECT * FROM old_row UNION ALL SELECT * FROM new_row",
        ORDERS_DAILY.contributions_times("-1"),
        ORDERS_DAILY.returning()
    )
});

/// Writes the fact rows of `after` (a new order when `before` is `None`). Called by
/// `orders::insert` and `orders::save`, so it commits with the order.
pub(crate) fn record(
    conn: &mut dyn Conn,
    before: Option<&Order>,
    after: &Order,
) -> Result<(), StoreError> {
    let f = OrderFacts::of(after);
    let opt = |t: Option<DateTime<Utc>>| t.map_or(Value::Null, |t| Value::Int(micros(t)));
    let open = f.units - f.cancelled_units - f.shipped_units > 0;
    // The roll-ups move only when what they sum does: a new order has no fact row to take out,
    // and a change that leaves the summed facts as they were (a hold, a line allocated, the
    // status on its way from `processing` to `allocated`) leaves the sums as they were. Each
    // roll-up statement is a round trip of the writer on PostgreSQL.
    let previous = before.map(OrderFacts::of);
    let moved = previous.as_ref().map(rolled) != Some(rolled(&f));
    let deferred = deferred_rollups(conn).is_some();
    // On PostgreSQL the row's old contribution is read by the statement that changes it (its
    // `WITH` reads the row as it was), when only the order roll-up moves.
    let fused = moved
        && deferred
        && conn.dialect() == Dialect::Postgres
        && previous.as_ref().is_some_and(|p| p.shipped_at.is_none())
        && f.shipped_at.is_none();
    if let Some(previous) = previous.as_ref().filter(|_| moved && !fused) {
        roll(conn, &f.order_id, -1, previous.shipped_at.is_some())?;
    }
    let params = [
        Value::Text(&f.order_id),
        Value::Text(&f.channel),
        Value::Text(&f.currency),
        Value::Text(&f.region),
        Value::Text(&f.node),
        Value::Text(&f.status),
        Value::Int(micros(f.placed_at)),
        Value::Int(micros(f.created_at)),
        Value::Int(micros(f.ship_by)),
        opt(f.requested_delivery_at),
        Value::Int(f.lines),
        Value::Int(f.units),
        Value::Int(f.cancelled_units),
        Value::Int(f.shipped_units),
        Value::Int(f.delivered_units),
        Value::Int(to_micros(f.total)),
        Value::Int(to_micros(f.booked)),
        Value::Int(f.backordered.into()),
        Value::Int(f.cancelled.into()),
        Value::Int(open.into()),
        opt(f.released_at),
        opt(f.first_shipped_at),
        opt(f.shipped_at),
        opt(f.delivered_at),
        Value::Int(f.shipments),
        Value::Int(micros(after.updated_at)),
    ];
    // The row's new contribution to the order roll-up comes back from the upsert itself when
    // there is an old one to take out: one statement fewer than reading it afterwards.
    let returned = moved && before.is_some() && deferred;
    if returned {
        let sql: &str = if fused {
            &FACT_UPSERT_MOVED
        } else {
            &FACT_UPSERT_RETURNING
        };
        let rows = conn.query_deferred(sql, &params)?;
        deferred_rollups(conn)
            .expect("checked above")
            .push(RollupDelta(Delta::Read {
                rollup: &ORDERS_DAILY,
                rows,
            }));
    } else {
        conn.execute_deferred(FACT_UPSERT, &params)?;
    }
    if moved {
        if before.is_none() && deferred_rollups(conn).is_some() {
            // A new order's row is `f` as it stands: its contribution needs no statement.
            let delta = new_order_contribution(&f, open);
            deferred_rollups(conn).expect("checked").extend(delta);
        } else if returned {
            if f.shipped_at.is_some() {
                SHIPPED_DAILY.roll(conn, 1, &f.order_id, None)?;
            }
        } else {
            roll(conn, &f.order_id, 1, f.shipped_at.is_some())?;
        }
    }

    let placed = micros(after.placed_at);
    let lines = LineFacts::of(after);
    if before.is_none() {
        // A new order: all its lines in one statement per 32, as `orders::insert` does.
        let numbers: Vec<[i64; 6]> = lines
            .iter()
            .map(|l| {
                [
                    l.line_no,
                    placed,
                    l.units,
                    l.cancelled_units,
                    l.shipped_units,
                    to_micros(l.revenue),
                ]
            })
            .collect();
        for (chunk, numbers) in lines.chunks(32).zip(numbers.chunks(32)) {
            let mut params = Vec::with_capacity(chunk.len() * 8);
            for (line, n) in chunk.iter().zip(numbers) {
                params.extend([
                    Value::Text(&f.order_id),
                    Value::Int(n[0]),
                    Value::Text(&line.sku),
                    Value::Int(n[1]),
                    Value::Int(n[2]),
                    Value::Int(n[3]),
                    Value::Int(n[4]),
                    Value::Int(n[5]),
                ]);
            }
            let sql = crate::db::multi_row_insert(
                "line_facts (order_id, line_no, sku, placed_at, units, cancelled_units,
                     shipped_units, revenue_micros)",
                8,
                chunk.len(),
            );
            conn.execute_deferred(&sql, &params)?;
        }
        if deferred_rollups(conn).is_some() {
            let day = day_of(placed);
            let deltas = lines.iter().map(|l| {
                RollupDelta::known(Summed {
                    rollup: &ORDER_LINES_DAILY,
                    key: vec![Owned::Int(day), Owned::Text(l.sku.clone())],
                    sums: vec![1, l.units, l.shipped_units, to_micros(l.revenue)],
                })
            });
            let deltas: Vec<RollupDelta> = deltas.collect();
            deferred_rollups(conn).expect("checked").extend(deltas);
        } else {
            ORDER_LINES_DAILY.roll(conn, 1, &f.order_id, None)?;
        }
    } else {
        for line in lines {
            let unchanged = before
                .and_then(|b| b.line(line.line_no as u32))
                .is_some_and(|b| {
                    i64::from(b.cancelled_quantity) == line.cancelled_units
                        && i64::from(b.shipped_quantity) == line.shipped_units
                });
            if unchanged {
                continue;
            }
            LINE_DAILY.roll(conn, -1, &f.order_id, Some(line.line_no))?;
            conn.execute_deferred(
                "UPDATE line_facts SET cancelled_units = $3, shipped_units = $4, revenue_micros = $5
                 WHERE order_id = $1 AND line_no = $2",
                &[
                    Value::Text(&f.order_id),
                    Value::Int(line.line_no),
                    Value::Int(line.cancelled_units),
                    Value::Int(line.shipped_units),
                    Value::Int(to_micros(line.revenue)),
                ],
            )?;
            LINE_DAILY.roll(conn, 1, &f.order_id, Some(line.line_no))?;
        }
    }

    let known = before.map_or(0, |b| b.shipments.len());
    if after.shipments.len() > known {
        let mut costs: BTreeMap<String, Option<NodeCosts>> = BTreeMap::new();
        for s in &after.shipments[known..] {
            if !costs.contains_key(&s.node) {
                let doc = conn
                    .query_one(
                        "SELECT doc FROM nodes WHERE code = $1",
                        &[Value::Text(&s.node)],
                    )?
                    .map(|r| -> Result<_, StoreError> {
                        Ok(serde_json::from_str::<serde_json::Value>(r.text(0)?)?)
                    })
                    .transpose()?;
                costs.insert(s.node.clone(), doc.as_ref().map(NodeCosts::from_node_doc));
            }
        }
        let shipments =
            ShipmentFacts::new_shipments(before, after, |node| costs.get(node).cloned().flatten());
        for s in shipments {
            let inserted = conn.execute(
                "INSERT INTO shipment_facts (shipment_id, order_id, node, units, at,
                     order_created_at, ship_by, metres, cost_micros)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (shipment_id) DO NOTHING",
                &[
                    Value::Text(&s.shipment_id),
                    Value::Text(&f.order_id),
                    Value::Text(&s.node),
                    Value::Int(s.units),
                    Value::Int(micros(s.at)),
                    Value::Int(micros(f.created_at)),
                    Value::Int(micros(f.ship_by)),
                    s.km.map_or(Value::Null, |km| Value::Int((km * 1000.0).round() as i64)),
                    Value::Int(to_micros(s.cost)),
                ],
            )?;
            if inserted == 1 {
                SHIPMENTS_DAILY.roll(conn, 1, &s.shipment_id, None)?;
            }
        }
    }
    for (shipment_id, at) in iom_insights::facts::new_exceptions(before, after) {
        conn.execute(
            "UPDATE shipment_facts SET exception_at = $2 WHERE shipment_id = $1",
            &[Value::Text(&shipment_id), Value::Int(micros(at))],
        )?;
    }
    for d in DeliveryFacts::new_deliveries(before, after) {
        conn.execute(
            "UPDATE shipment_facts SET delivered_at = $2, promised_at = $3 WHERE shipment_id = $1",
            &[
                Value::Text(&d.shipment_id),
                Value::Int(micros(d.delivered_at)),
                d.promised_at.map_or(Value::Null, |t| Value::Int(micros(t))),
            ],
        )?;
    }
    Ok(())
}

/// The UTC day of a time in microseconds, as the roll-ups' SQL computes it (`t - t % DAY`).
fn day_of(t: i64) -> i64 {
    t - t % DAY
}

/// What a new order's fact row `f` adds to `ORDERS_DAILY` (and `SHIPPED_DAILY` when it was
/// shipped already): the expressions of [`ORDER_SUMS`], in their order, computed from `f`, which
/// is the row as inserted. `rollups::the_daily_rollups_equal_the_sums_over_the_fact_rows_whatever_the_changes`
/// compares every column with the sums over the fact rows.
fn new_order_contribution(f: &OrderFacts, open: bool) -> Vec<RollupDelta> {
    let (created, ship_by) = (micros(f.created_at), micros(f.ship_by));
    let shipped = f.shipped_at.map(micros);
    let released = f.released_at.map(micros);
    let settled = !open;
    let sums = vec![
        1,
        i64::from(f.cancelled),
        i64::from(f.backordered),
        f.lines,
        f.units,
        f.cancelled_units,
        f.shipped_units,
        0,
        to_micros(f.total),
        to_micros(f.booked),
        i64::from(settled),
        if settled { f.units } else { 0 },
        if settled { f.shipped_units } else { 0 },
        i64::from(shipped.is_some()),
        i64::from(shipped.is_some_and(|at| at <= ship_by)),
        shipped.map_or(0, |at| at - created),
        i64::from(released.is_some()),
        released.map_or(0, |at| at - created),
    ];
    debug_assert_eq!(sums.len(), ORDER_SUMS.len());
    let mut deltas = vec![RollupDelta::known(Summed {
        rollup: &ORDERS_DAILY,
        key: vec![
            Owned::Int(day_of(micros(f.placed_at))),
            Owned::Text(f.channel.clone()),
            Owned::Text(f.currency.clone()),
            Owned::Text(f.region.clone()),
        ],
        sums,
    })];
    if let Some(at) = shipped {
        deltas.push(RollupDelta::known(Summed {
            rollup: &SHIPPED_DAILY,
            key: vec![Owned::Int(day_of(at)), Owned::Text(f.currency.clone())],
            sums: vec![to_micros(f.total)],
        }));
    }
    deltas
}

/// What the order roll-ups (`ORDERS_DAILY`, `SHIPPED_DAILY`) read of an order's fact row: its
/// keys and every input of their sums. Two facts equal here add the same to every roll-up.
/// `returned_units` is not computed from the order; `add_returned_units` rolls it itself.
#[allow(clippy::type_complexity)]
fn rolled(
    f: &OrderFacts,
) -> (
    (&str, &str, &str, i64),
    [i64; 7],
    (bool, bool),
    [Option<DateTime<Utc>>; 2],
    [DateTime<Utc>; 2],
) {
    (
        (
            f.channel.as_str(),
            f.currency.as_str(),
            f.region.as_str(),
            micros(f.placed_at),
        ),
        [
            f.lines,
            f.units,
            f.cancelled_units,
            f.shipped_units,
            to_micros(f.total),
            to_micros(f.booked),
            i64::from(f.units - f.cancelled_units - f.shipped_units > 0),
        ],
        (f.backordered, f.cancelled),
        [f.shipped_at, f.released_at],
        [f.ship_by, f.created_at],
    )
}

/// Adds returned units to an order's facts (for the return rate); the returns flow calls it in
/// the transaction that records the return.
pub fn add_returned_units(
    conn: &mut dyn Conn,
    order_id: &str,
    units: i64,
) -> Result<(), StoreError> {
    // Returned units change no shipped value: only the order roll-up moves.
    roll(conn, order_id, -1, false)?;
    conn.execute(
        "UPDATE order_facts SET returned_units = returned_units + $2 WHERE order_id = $1",
        &[Value::Text(order_id), Value::Int(units)],
    )?;
    roll(conn, order_id, 1, false)?;
    Ok(())
}

/// Writes the fact rows of orders stored before the insights tables existed, a batch at a time.
pub(crate) fn backfill(conn: &mut dyn Conn) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let rows = conn.query(
            "SELECT o.doc FROM orders o
             WHERE NOT EXISTS (SELECT 1 FROM order_facts f WHERE f.order_id = o.id) LIMIT 500",
            &[],
        )?;
        if rows.is_empty() {
            return Ok(total);
        }
        for row in &rows {
            let order: Order = serde_json::from_str(row.text(0)?)?;
            record(conn, None, &order)?;
        }
        total += rows.len();
    }
}

// ---------------------------------------------------------------- KPIs

fn sum(expr: &str) -> String {
    format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT)")
}

fn order_sums(row: &Row, first: usize) -> Result<OrderSums, StoreError> {
    let v = |i: usize| row.int(first + i);
    Ok(OrderSums {
        orders: v(0)?,
        cancelled_orders: v(1)?,
        backordered_orders: v(2)?,
        lines: v(3)?,
        units: v(4)?,
        cancelled_units: v(5)?,
        shipped_units: v(6)?,
        returned_units: v(7)?,
        revenue_micros: v(8)?,
        booked_micros: v(9)?,
        settled_orders: v(10)?,
        settled_units: v(11)?,
        settled_shipped_units: v(12)?,
        shipped_orders: v(13)?,
        on_time_orders: v(14)?,
        cycle_micros: v(15)?,
        released_orders: v(16)?,
        release_micros: v(17)?,
    })
}

/// What one order adds to the sums of its group: (column of `order_facts_daily`, expression over
/// its `order_facts` row), in the order of the fields of `OrderSums`.
const ORDER_SUMS: [(&str, &str); 18] = [
    ("orders", "1"),
    ("cancelled_orders", "cancelled"),
    ("backordered_orders", "backordered"),
    ("lines", "lines"),
    ("units", "units"),
    ("cancelled_units", "cancelled_units"),
    ("shipped_units", "shipped_units"),
    ("returned_units", "returned_units"),
    ("revenue_micros", "total_micros"),
    ("booked_micros", "booked_micros"),
    ("settled_orders", "CASE WHEN open = 0 THEN 1 ELSE 0 END"),
    ("settled_units", "CASE WHEN open = 0 THEN units ELSE 0 END"),
    (
        "settled_shipped_units",
        "CASE WHEN open = 0 THEN shipped_units ELSE 0 END",
    ),
    (
        "shipped_orders",
        "CASE WHEN shipped_at IS NOT NULL THEN 1 ELSE 0 END",
    ),
    (
        "on_time_orders",
        "CASE WHEN shipped_at <= ship_by THEN 1 ELSE 0 END",
    ),
    (
        "cycle_micros",
        "CASE WHEN shipped_at IS NOT NULL THEN shipped_at - created_at ELSE 0 END",
    ),
    (
        "released_orders",
        "CASE WHEN released_at IS NOT NULL THEN 1 ELSE 0 END",
    ),
    (
        "release_micros",
        "CASE WHEN released_at IS NOT NULL THEN released_at - created_at ELSE 0 END",
    ),
];

/// A UTC day in microseconds: the unit of the daily roll-ups.
const DAY: i64 = 86_400_000_000;

/// A daily roll-up of fact rows (migration 0015): per key (the first of which is the UTC day),
/// the sums of `sums` over the rows of `source`. The store keeps each by delta in the transaction
/// that writes the fact rows (`roll`): a row's contribution out before it changes, back in
/// after, so a roll-up always equals the sums of its fact rows and a KPI window reads its whole
/// days from it instead of every row.
#[derive(Debug)]
struct Rollup {
    table: &'static str,
    /// (column, expression over the fact row).
    keys: &'static [(&'static str, &'static str)],
    sums: &'static [(&'static str, &'static str)],
    /// The fact rows that change together: `FROM … WHERE …`, with `$1` (and `$3`) naming them.
    source: &'static str,
    /// The statements of [`Rollup::roll`], built on first use.
    statements: OnceLock<(String, String)>,
}

static ORDERS_DAILY: Rollup = Rollup {
    table: "order_facts_daily",
    keys: &[
        ("day", "placed_at - placed_at % 86400000000"),
        ("channel", "channel"),
        ("currency", "currency"),
        ("region", "region"),
    ],
    sums: &ORDER_SUMS,
    source: "FROM order_facts WHERE order_id = $1",
    statements: OnceLock::new(),
};

static SHIPPED_DAILY: Rollup = Rollup {
    table: "order_shipped_daily",
    keys: &[
        ("day", "shipped_at - shipped_at % 86400000000"),
        ("currency", "currency"),
    ],
    sums: &[("value_micros", "total_micros")],
    source: "FROM order_facts WHERE order_id = $1 AND shipped_at IS NOT NULL",
    statements: OnceLock::new(),
};

const LINE_SUMS: [(&str, &str); 4] = [
    ("lines", "1"),
    ("units", "units"),
    ("shipped_units", "shipped_units"),
    ("revenue_micros", "revenue_micros"),
];
const LINES_KEYS: [(&str, &str); 2] = [
    ("day", "placed_at - placed_at % 86400000000"),
    ("sku", "sku"),
];

/// The lines of one order.
static ORDER_LINES_DAILY: Rollup = Rollup {
    table: "line_facts_daily",
    keys: &LINES_KEYS,
    sums: &LINE_SUMS,
    source: "FROM line_facts WHERE order_id = $1",
    statements: OnceLock::new(),
};

/// One line of an order.
static LINE_DAILY: Rollup = Rollup {
    table: "line_facts_daily",
    keys: &LINES_KEYS,
    sums: &LINE_SUMS,
    source: "FROM line_facts WHERE order_id = $1 AND line_no = $3",
    statements: OnceLock::new(),
};

const SHIPMENT_SUMS: [(&str, &str); 5] = [
    ("shipments", "1"),
    ("units", "units"),
    ("cost_micros", "cost_micros"),
    (
        "on_time_shipments",
        "CASE WHEN at <= ship_by THEN 1 ELSE 0 END",
    ),
    ("cycle_micros", "at - order_created_at"),
];

static SHIPMENTS_DAILY: Rollup = Rollup {
    table: "shipment_facts_daily",
    keys: &[("day", "at - at % 86400000000"), ("node", "node")],
    sums: &SHIPMENT_SUMS,
    source: "FROM shipment_facts WHERE shipment_id = $1",
    statements: OnceLock::new(),
};

impl Rollup {
    fn sql(&self) -> String {
        let key_exprs: Vec<&str> = self.keys.iter().map(|(_, e)| *e).collect();
        let values: Vec<String> = self
            .sums
            .iter()
            .map(|(_, e)| format!("CAST(CAST($2 AS BIGINT) * SUM({e}) AS BIGINT)"))
            .collect();
        format!(
            "INSERT INTO {table} SELECT {key_exprs}, {values} {source} GROUP BY {key_exprs}
             {add}",
            table = self.target(),
            key_exprs = key_exprs.join(", "),
            values = values.join(", "),
            source = self.source,
            add = self.add_on_conflict(),
        )
    }

    /// `table (keys, sums)`: what an insert into the roll-up names.
    fn target(&self) -> String {
        let columns: Vec<&str> = self.keys.iter().chain(self.sums).map(|(c, _)| *c).collect();
        format!("{} ({})", self.table, columns.join(", "))
    }

    /// The clause that adds an inserted row's sums to the row of its keys when there is one.
    fn add_on_conflict(&self) -> String {
        let keys: Vec<&str> = self.keys.iter().map(|(c, _)| *c).collect();
        let updates: Vec<String> = self
            .sums
            .iter()
            .map(|(c, _)| format!("{c} = {t}.{c} + excluded.{c}", t = self.table))
            .collect();
        format!(
            "ON CONFLICT ({}) DO UPDATE SET {}",
            keys.join(", "),
            updates.join(", ")
        )
    }

    /// The contribution of the fact row a statement wrote, as a `RETURNING` clause: its keys,
    /// then its sums, as [`Rollup::contributions_sql`] reads them with the sign +1.
    fn returning(&self) -> String {
        let columns: Vec<String> = self
            .keys
            .iter()
            .map(|(_, e)| (*e).to_owned())
            .chain(
                self.sums
                    .iter()
                    .map(|(_, e)| format!("CAST(({e}) AS BIGINT)")),
            )
            .collect();
        format!("RETURNING {}", columns.join(", "))
    }

    /// Each fact row's contribution, times the sign `$2`: its keys, then its sums.
    fn contributions_sql(&self) -> String {
        self.contributions_times("CAST($2 AS BIGINT)")
    }

    /// Each fact row's contribution, times `sign` (an SQL expression): its keys, then its sums.
    fn contributions_times(&self, sign: &str) -> String {
        let key_exprs: Vec<&str> = self.keys.iter().map(|(_, e)| *e).collect();
        let values: Vec<String> = self
            .sums
            .iter()
            .map(|(_, e)| format!("CAST({sign} * ({e}) AS BIGINT)"))
            .collect();
        format!(
            "SELECT {key_exprs}, {values} {source}",
            key_exprs = key_exprs.join(", "),
            values = values.join(", "),
            source = self.source,
        )
    }

    /// Moves the contribution of the fact rows `id` (and `line`) name out of (`sign` −1) or
    /// into (+1) the roll-up: at once, or read now and written at the end of the transaction
    /// when the connection defers roll-ups.
    fn roll(
        &'static self,
        conn: &mut dyn Conn,
        sign: i64,
        id: &str,
        line: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut params = vec![Value::Text(id), Value::Int(sign)];
        params.extend(line.map(Value::Int));
        let (apply, read) = self
            .statements
            .get_or_init(|| (self.sql(), self.contributions_sql()));
        if deferred_rollups(conn).is_none() {
            conn.execute(apply, &params)?;
            return Ok(());
        }
        // Nothing needs the contribution before the commit: the read goes out with the
        // statements around it, in their order (before or after the fact row's change).
        let rows = conn.query_deferred(read, &params)?;
        deferred_rollups(conn)
            .expect("checked above")
            .push(RollupDelta(Delta::Read { rollup: self, rows }));
        Ok(())
    }

    /// The roll-up changes in rows of contributions: each row's keys, then its sums.
    fn deltas_of(&'static self, rows: Vec<Row>) -> Result<Vec<Summed>, StoreError> {
        let keys = self.keys.len();
        let mut deltas = Vec::with_capacity(rows.len());
        for Row(mut values) in rows {
            let sums = values
                .split_off(keys)
                .into_iter()
                .map(|v| match v {
                    Owned::Int(n) => Ok(n),
                    Owned::Null => Ok(0),
                    Owned::Text(t) => Err(StoreError::Corrupt(format!(
                        "a {} sum is not a number: {t:?}",
                        self.table
                    ))),
                })
                .collect::<Result<Vec<i64>, _>>()?;
            deltas.push(Summed {
                rollup: self,
                key: values,
                sums,
            });
        }
        Ok(deltas)
    }
}

/// A change to roll-up rows, waiting for the end of its transaction (`DeferredRollups`):
/// known, or the contributions of fact rows as a held-back read will find them.
#[derive(Debug, Clone)]
pub struct RollupDelta(Delta);

#[derive(Debug, Clone)]
enum Delta {
    Known(Summed),
    Read {
        rollup: &'static Rollup,
        rows: DeferredRows,
    },
}

impl RollupDelta {
    fn known(summed: Summed) -> Self {
        RollupDelta(Delta::Known(summed))
    }
}

/// A change to one roll-up row.
#[derive(Debug, Clone)]
struct Summed {
    rollup: &'static Rollup,
    key: Vec<Owned>,
    sums: Vec<i64>,
}

/// The roll-up changes of a write job, held back until its transaction commits: the roll-ups are
/// counters that most transactions update (one row per day, channel, currency and region, say),
/// so summed per roll-up row over every job of a group commit they are written once per
/// transaction rather than once per change (see [`crate::features`]). A savepoint rolled back
/// takes back the changes made inside it; a failed job's are dropped with it.
#[derive(Debug, Default)]
pub(crate) struct DeferredRollups(Vec<RollupDelta>);

impl crate::features::JobPart for DeferredRollups {
    /// How many changes the job held back.
    type Mark = usize;
    /// Every successful job's changes, in order.
    type Group = DeferredRollups;

    fn mark(&self) -> usize {
        self.0.len()
    }

    fn rolled_back(&mut self, mark: usize) {
        self.0.truncate(mark);
    }

    fn merge_into(self, group: &mut DeferredRollups) {
        // The first job's changes become the group's as they are, without a copy.
        if group.0.is_empty() {
            group.0 = self.0;
        } else {
            group.0.extend(self.0);
        }
    }

    fn before_commit(group: DeferredRollups, conn: &mut dyn Conn) -> Result<(), StoreError> {
        write_deferred(conn, group.0)
    }
}

/// Where `conn` holds roll-up changes back until the commit: on the writer's connection inside a
/// job. Elsewhere `None`, and each change is written at once. Asking counts as a change on the
/// writer's connection ([`Conn::job_state`]).
fn deferred_rollups(conn: &mut dyn Conn) -> Option<&mut Vec<RollupDelta>> {
    conn.job_state().map(|job| &mut job.rollups.0)
}

/// Roll-up rows written by one statement.
const ROLLUP_ROWS_PER_STATEMENT: usize = 32;

/// Writes the changes a transaction deferred, summed per roll-up row: one upsert per 32 rows.
fn write_deferred(conn: &mut dyn Conn, deltas: Vec<RollupDelta>) -> Result<(), StoreError> {
    if deltas.is_empty() {
        return Ok(());
    }
    // The held-back reads are answered by now: the job flushed before it ended.
    let mut known = Vec::with_capacity(deltas.len());
    for delta in deltas {
        match delta.0 {
            Delta::Known(summed) => known.push(summed),
            Delta::Read { rollup, rows } => known.extend(rollup.deltas_of(rows.take()?)?),
        }
    }
    // Summed per roll-up row; ordered by table, so each table's rows are together.
    let mut rows: BTreeMap<(&'static str, Vec<Owned>), Summed> = BTreeMap::new();
    for d in known {
        match rows.entry((d.rollup.table, d.key.clone())) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(d);
            }
            std::collections::btree_map::Entry::Occupied(mut e) => {
                for (total, n) in e.get_mut().sums.iter_mut().zip(d.sums) {
                    *total += n;
                }
            }
        }
    }
    let rows: Vec<Summed> = rows
        .into_values()
        .filter(|row| row.sums.iter().any(|n| *n != 0))
        .collect();
    for table in rows.chunk_by(|a, b| a.rollup.table == b.rollup.table) {
        for chunk in table.chunks(ROLLUP_ROWS_PER_STATEMENT) {
            let rollup = chunk[0].rollup;
            let width = rollup.keys.len() + rollup.sums.len();
            let sql = crate::db::multi_row_statement(
                &rollup.target(),
                width,
                chunk.len(),
                &rollup.add_on_conflict(),
            );
            let mut params = Vec::with_capacity(chunk.len() * width);
            for row in chunk {
                params.extend(row.key.iter().map(Owned::as_value));
                params.extend(row.sums.iter().map(|n| Value::Int(*n)));
            }
            conn.execute_deferred(&sql, &params)?;
        }
    }
    Ok(())
}

/// Moves one order's contribution out of (`sign` −1) or into (+1) the roll-ups of its
/// `order_facts` row; called around every change of that row. `shipped` says whether the row
/// has a `shipped_at` (only then does it count in the shipped value, and the statement that
/// would find nothing is skipped).
fn roll(conn: &mut dyn Conn, order_id: &str, sign: i64, shipped: bool) -> Result<(), StoreError> {
    ORDERS_DAILY.roll(conn, sign, order_id, None)?;
    if shipped {
        SHIPPED_DAILY.roll(conn, sign, order_id, None)?;
    }
    Ok(())
}

/// A range of microseconds, `[start, end)`.
type Span = (i64, i64);

/// How to read `[from, to)`: the UTC days `[first, end)` from a roll-up, when it holds any, and
/// fact rows `(sign, span)`: the partial day before `first` added, and the part of the last day
/// from `to` on taken away. Taking away the rest of the last day rather than adding its start
/// keeps a window that ends now cheap: nothing happened after now, however busy today was.
fn split(from: i64, to: i64) -> (Option<Span>, Vec<(i64, Span)>) {
    let ceil = |t: i64| t.div_euclid(DAY) * DAY + if t.rem_euclid(DAY) == 0 { 0 } else { DAY };
    let (first, end) = (ceil(from), ceil(to));
    if from >= to {
        (None, Vec::new())
    } else if first < end {
        let edges = [(1, (from, first)), (-1, (to, end))]
            .into_iter()
            .filter(|(_, (a, b))| a < b)
            .collect();
        (Some((first, end)), edges)
    } else {
        (None, vec![(1, (from, to))])
    }
}

/// Rows of `rollup_sql` over the whole days of a window (`$1`, `$2`), and of `facts_sql` over
/// the fact rows of its edges (`$1`, `$2`, and the sign `$3` its sums are multiplied by), so that
/// their sum is the window's.
fn split_query(
    conn: &mut dyn Conn,
    from: i64,
    to: i64,
    rollup_sql: &str,
    facts_sql: &str,
) -> Result<Vec<Row>, StoreError> {
    split_query_with(conn, from, to, rollup_sql, facts_sql, &[])
}

/// [`split_query`] with more parameters, after the others: `$3…` of `rollup_sql`, `$4…` of
/// `facts_sql`.
fn split_query_with(
    conn: &mut dyn Conn,
    from: i64,
    to: i64,
    rollup_sql: &str,
    facts_sql: &str,
    extra: &[Value<'_>],
) -> Result<Vec<Row>, StoreError> {
    let (days, edges) = split(from, to);
    let mut rows = Vec::new();
    if let Some((first, end)) = days {
        let mut params = vec![Value::Int(first), Value::Int(end)];
        params.extend_from_slice(extra);
        rows.extend(conn.query(rollup_sql, &params)?);
    }
    for (sign, (a, b)) in edges {
        let mut params = vec![Value::Int(a), Value::Int(b), Value::Int(sign)];
        params.extend_from_slice(extra);
        rows.extend(conn.query(facts_sql, &params)?);
    }
    Ok(rows)
}

/// The sums of the roll-up's columns (`facts` false), or of the expressions over fact rows, each
/// times the sign `$3` (`facts` true; see `split_query`).
fn order_sums_sql(facts: bool) -> String {
    ORDER_SUMS
        .iter()
        .map(|(column, expr)| if facts { signed(expr) } else { sum(column) })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `sum(expr)` times the sign `$3` of a fact-row part of a window (see `split_query`).
fn signed(expr: &str) -> String {
    format!("CAST($3 AS BIGINT) * {}", sum(expr))
}

/// (channel, currency, region) → sums of its orders.
type GroupSums = BTreeMap<(String, String, String), OrderSums>;

/// The sums of the orders placed in `[from, to)` per channel, currency and region: the whole UTC
/// days of the window from `order_facts_daily`, its partial first and last days from the fact
/// rows. Exact either way; the roll-up only saves reading every order of a long window.
fn order_groups(conn: &mut dyn Conn, from: i64, to: i64) -> Result<GroupSums, StoreError> {
    let rows = split_query(
        conn,
        from,
        to,
        &format!(
            "SELECT channel, currency, region, {} FROM order_facts_daily
             WHERE day >= $1 AND day < $2 GROUP BY channel, currency, region",
            order_sums_sql(false)
        ),
        &format!(
            "SELECT channel, currency, region, {} FROM order_facts
             WHERE placed_at >= $1 AND placed_at < $2 GROUP BY channel, currency, region",
            order_sums_sql(true)
        ),
    )?;
    let mut groups = GroupSums::new();
    for row in rows {
        let key = (
            row.text(0)?.to_owned(),
            row.text(1)?.to_owned(),
            row.text(2)?.to_owned(),
        );
        groups.entry(key).or_default().add(&order_sums(&row, 3)?);
    }
    // A group whose orders were all taken away again (placed after `to`) has none in the window.
    groups.retain(|_, sums| sums.orders != 0);
    Ok(groups)
}

fn period(conn: &mut dyn Conn, from: i64, to: i64) -> Result<PeriodSums, StoreError> {
    let mut p = PeriodSums::default();
    for ((_, currency, _), sums) in order_groups(conn, from, to)? {
        p.orders += sums.orders;
        *p.revenue_micros.entry(currency).or_default() += sums.revenue_micros;
    }
    Ok(p)
}

/// Runs `f` in one read-only snapshot, so every figure it reads sees the same commits.
fn snapshot<T>(
    conn: &mut dyn Conn,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.batch(match conn.dialect() {
        Dialect::Sqlite => "BEGIN DEFERRED",
        Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    })?;
    let result = f(conn);
    let end = conn.batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
    let value = result?;
    end?;
    Ok(value)
}

/// The first instant of `t`'s UTC month.
fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(t)
}

/// The same day and time of month, one month earlier (the last day when the month is shorter).
fn month_earlier(t: DateTime<Utc>) -> DateTime<Utc> {
    t.checked_sub_months(chrono::Months::new(1)).unwrap_or(t)
}

/// The best-selling products of `[from, to)` by units, at most [`TOP_PRODUCTS`]: every SKU's
/// lines and units first (two sums over every SKU of every day of the window), then the other
/// sums of the few on top only.
fn top_products(conn: &mut dyn Conn, f: i64, t: i64) -> Result<Vec<ProductSums>, StoreError> {
    let ranking = sku_sums(conn, f, t, &LINE_SUMS[..2], &[])?;
    let mut top: Vec<(String, i64)> = ranking
        .into_iter()
        .filter(|(_, sums)| sums[0] != 0)
        .map(|(sku, sums)| (sku, sums[1]))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(TOP_PRODUCTS);
    let skus: Vec<String> = top.into_iter().map(|(sku, _)| sku).collect();
    let mut sums = sku_sums(conn, f, t, &LINE_SUMS, &skus)?;
    Ok(skus
        .into_iter()
        .filter_map(|sku| {
            let s = sums.remove(&sku)?;
            Some(ProductSums {
                sku,
                lines: s[0],
                units: s[1],
                shipped_units: s[2],
                revenue_micros: s[3],
            })
        })
        .collect())
}

/// `columns` (of [`LINE_SUMS`]) summed per SKU over `[from, to)`, of every SKU or of `only`.
/// Every part of the window is summed before anything is cut: a limit per part could drop a
/// SKU whose units are split between them.
fn sku_sums(
    conn: &mut dyn Conn,
    f: i64,
    t: i64,
    columns: &[(&str, &str)],
    only: &[String],
) -> Result<BTreeMap<String, Vec<i64>>, StoreError> {
    let sums = |facts: bool| -> String {
        columns
            .iter()
            .map(|(column, e)| if facts { signed(e) } else { sum(column) })
            .collect::<Vec<_>>()
            .join(", ")
    };
    // The SKUs as parameters after the window's (and the facts' sign).
    let among = |first: usize| -> String {
        if only.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = (0..only.len()).map(|i| format!("${}", first + i)).collect();
            format!(" AND sku IN ({})", list.join(", "))
        }
    };
    // SQLite's planner, without statistics, prefers the day range of the primary key and then
    // sorts every row of the window; the covering index by SKU is the faster plan.
    let by_sku_index = match conn.dialect() {
        Dialect::Sqlite => "INDEXED BY line_facts_daily_sku",
        Dialect::Postgres => "",
    };
    let extra: Vec<Value<'_>> = only.iter().map(|s| Value::Text(s)).collect();
    let mut by_sku: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in split_query_with(
        conn,
        f,
        t,
        &format!(
            "SELECT sku, {} FROM line_facts_daily {by_sku_index}
             WHERE day >= $1 AND day < $2{} GROUP BY sku",
            sums(false),
            among(3)
        ),
        &format!(
            "SELECT sku, {} FROM line_facts WHERE placed_at >= $1 AND placed_at < $2{} GROUP BY sku",
            sums(true),
            among(4)
        ),
        &extra,
    )? {
        let p = by_sku
            .entry(row.text(0)?.to_owned())
            .or_insert_with(|| vec![0; columns.len()]);
        for (i, v) in p.iter_mut().enumerate() {
            *v += row.int(1 + i)?;
        }
    }
    Ok(by_sku)
}

fn kpi_inputs(
    conn: &mut dyn Conn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<KpiInputs, StoreError> {
    let (f, t) = (micros(from), micros(to));
    let window = [Value::Int(f), Value::Int(t)];

    // One set of sums per channel, currency and region, folded here into the per-channel and
    // per-region figures.
    let mut by_channel: BTreeMap<(String, String), OrderSums> = BTreeMap::new();
    let mut by_region: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for ((channel, currency, region), sums) in order_groups(conn, f, t)? {
        let region = by_region.entry((region, currency.clone())).or_default();
        region.0 += sums.orders;
        region.1 += sums.revenue_micros;
        by_channel
            .entry((channel, currency))
            .or_default()
            .add(&sums);
    }
    let channels = by_channel
        .into_iter()
        .map(|((channel, currency), sums)| ChannelSums {
            channel,
            currency,
            sums,
        })
        .collect();
    let regions = by_region
        .into_iter()
        .map(
            |((region, currency), (orders, revenue_micros))| RegionSums {
                region,
                currency,
                orders,
                revenue_micros,
            },
        )
        .collect();

    let shipment_sums = |expr: bool| -> String {
        SHIPMENT_SUMS
            .iter()
            .map(|(column, e)| if expr { signed(e) } else { sum(column) })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut by_node: BTreeMap<String, NodeSums> = BTreeMap::new();
    for row in split_query(
        conn,
        f,
        t,
        &format!(
            "SELECT node, {} FROM shipment_facts_daily WHERE day >= $1 AND day < $2 GROUP BY node",
            shipment_sums(false)
        ),
        &format!(
            "SELECT node, {} FROM shipment_facts WHERE at >= $1 AND at < $2 GROUP BY node",
            shipment_sums(true)
        ),
    )? {
        let node = row.text(0)?.to_owned();
        let n = by_node.entry(node.clone()).or_insert_with(|| NodeSums {
            node,
            shipments: 0,
            units: 0,
            cost_micros: 0,
            on_time_shipments: 0,
            cycle_micros: 0,
        });
        n.shipments += row.int(1)?;
        n.units += row.int(2)?;
        n.cost_micros += row.int(3)?;
        n.on_time_shipments += row.int(4)?;
        n.cycle_micros += row.int(5)?;
    }
    let nodes = by_node.into_values().filter(|n| n.shipments != 0).collect();

    let mut providers = Vec::new();
    let finished = "status IN ('processed', 'failed', 'dead')";
    for row in conn.query(
        &format!(
            "SELECT provider, COUNT(*), {}, {}, {} FROM provider_messages
             WHERE created_at >= $1 AND created_at < $2 GROUP BY provider ORDER BY provider",
            sum("CASE WHEN status IN ('failed', 'dead') THEN 1 ELSE 0 END"),
            sum(&format!(
                "CASE WHEN {finished} THEN updated_at - created_at ELSE 0 END"
            )),
            sum(&format!("CASE WHEN {finished} THEN 1 ELSE 0 END")),
        ),
        &window,
    )? {
        providers.push(ProviderSums {
            provider: row.text(0)?.to_owned(),
            requests: row.int(1)?,
            failures: row.int(2)?,
            latency_micros: row.int(3)?,
            finished: row.int(4)?,
        });
    }

    let mut shipped_value_micros = BTreeMap::new();
    for row in split_query(
        conn,
        f,
        t,
        &format!(
            "SELECT currency, {} FROM order_shipped_daily
             WHERE day >= $1 AND day < $2 GROUP BY currency",
            sum("value_micros")
        ),
        &format!(
            "SELECT currency, {} FROM order_facts
             WHERE shipped_at >= $1 AND shipped_at < $2 GROUP BY currency",
            signed("total_micros")
        ),
    )? {
        *shipped_value_micros
            .entry(row.text(0)?.to_owned())
            .or_insert(0) += row.int(1)?;
    }

    let now = micros(as_of);
    let jeopardy = micros(as_of + JEOPARDY_WINDOW);
    let count = |conn: &mut dyn Conn, sql: &str, params: &[Value<'_>]| -> Result<i64, StoreError> {
        conn.query_one(sql, params)?.map_or(Ok(0), |r| r.int(0))
    };
    let past_due = count(
        conn,
        "SELECT COUNT(*) FROM order_facts WHERE open = 1 AND ship_by < $1",
        &[Value::Int(now)],
    )?;
    let in_jeopardy = count(
        conn,
        "SELECT COUNT(*) FROM order_facts WHERE open = 1 AND ship_by >= $1 AND ship_by < $2",
        &[Value::Int(now), Value::Int(jeopardy)],
    )?;

    let deliveries = conn
        .query_one(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN delivered_at > promised_at THEN 1 ELSE 0 END), 0)
             FROM shipment_facts
             WHERE delivered_at >= $1 AND delivered_at < $2 AND promised_at IS NOT NULL",
            &[Value::Int(f), Value::Int(t)],
        )?
        .map_or(Ok(DeliverySums::default()), |r| {
            Ok::<_, StoreError>(DeliverySums {
                delivered: r.int(0)?,
                late: r.int(1)?,
            })
        })?;

    let length = t - f;
    let day = micros(Interval::Day.floor(as_of));
    let month = month_start(as_of);
    let last_month = month_earlier(as_of);
    Ok(KpiInputs {
        from,
        to,
        as_of,
        channels,
        nodes,
        regions,
        // Read beside the rest: see `Store::kpi_inputs`.
        products: Vec::new(),
        providers,
        deliveries,
        shipped_value_micros,
        past_due,
        in_jeopardy,
        previous: period(conn, f - length, f)?,
        today: period(conn, day, now + 1)?,
        month_to_date: period(conn, micros(month), now + 1)?,
        previous_month_to_date: period(
            conn,
            micros(month_start(last_month)),
            micros(last_month) + 1,
        )?,
    })
}

// ---------------------------------------------------------------- series

fn buckets(
    conn: &mut dyn Conn,
    metric: Metric,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Bucket>, StoreError> {
    let (table, time, group, value) = match metric {
        Metric::Orders => ("order_facts", "placed_at", "channel", "1".to_owned()),
        Metric::Revenue => (
            "order_facts",
            "placed_at",
            "currency",
            "total_micros".to_owned(),
        ),
        Metric::Units => ("order_facts", "placed_at", "channel", "units".to_owned()),
        Metric::Shipments => ("shipment_facts", "at", "node", "1".to_owned()),
        Metric::CycleTimeHours => (
            "shipment_facts",
            "at",
            "node",
            "at - order_created_at".to_owned(),
        ),
        Metric::ProviderRequests => (
            "provider_messages",
            "created_at",
            "provider",
            "1".to_owned(),
        ),
        Metric::ProviderFailureRate => (
            "provider_messages",
            "created_at",
            "provider",
            "CASE WHEN status IN ('failed', 'dead') THEN 1 ELSE 0 END".to_owned(),
        ),
    };
    let sql = format!(
        "SELECT ({time} / $3) * $3, {group}, {}, COUNT(*) FROM {table}
         WHERE {time} >= $1 AND {time} < $2 GROUP BY 1, 2 ORDER BY 1, 2",
        sum(&value)
    );
    conn.query(
        &sql,
        &[
            Value::Int(micros(from)),
            Value::Int(micros(to)),
            Value::Int(interval.micros()),
        ],
    )?
    .into_iter()
    .map(|row| {
        Ok(Bucket {
            at: from_micros(row.int(0)?),
            group: row.text(1)?.to_owned(),
            sum: row.int(2)?,
            count: row.int(3)?,
        })
    })
    .collect()
}

// ---------------------------------------------------------------- anomalies

fn anomaly(row: &Row) -> Result<Anomaly, StoreError> {
    let number = |i: usize| -> Result<f64, StoreError> {
        row.text(i)?
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("anomaly column {i} is not a number")))
    };
    Ok(Anomaly {
        metric: row.text(0)?.to_owned(),
        subject: row.text(1)?.to_owned(),
        at: from_micros(row.int(2)?),
        value: number(3)?,
        expected: number(4)?,
        lower: number(5)?,
        upper: number(6)?,
        score: number(7)?,
    })
}

// ---------------------------------------------------------------- alerts

/// A stored alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub name: String,
    pub definition: AlertDefinition,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One firing of an alert for one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub id: String,
    pub alert: String,
    /// An order id, or `SKU@NODE` for inventory.
    pub subject: String,
    pub fired_at: DateTime<Utc>,
    /// What the subject looked like when it fired.
    pub data: serde_json::Value,
    /// When someone acknowledged it; open until then.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it (`user:ann@example.com`).
    pub acknowledged_by: Option<String>,
}

const FIRING_COLUMNS: &str = "id, alert, subject, fired_at, data, acknowledged_at, acknowledged_by";

fn firing(r: &Row) -> Result<Firing, StoreError> {
    Ok(Firing {
        id: r.text(0)?.to_owned(),
        alert: r.text(1)?.to_owned(),
        subject: r.text(2)?.to_owned(),
        fired_at: from_micros(r.int(3)?),
        data: serde_json::from_str(r.text(4)?)?,
        acknowledged_at: r.opt_int(5)?.map(from_micros),
        acknowledged_by: r.opt_text(6)?.map(str::to_owned),
    })
}

/// What acknowledging a firing did.
#[derive(Debug, Clone, PartialEq)]
pub enum Acknowledgement {
    /// Acknowledged now, by the actor acting.
    Acknowledged(Firing),
    /// Someone had acknowledged it before: kept as they left it.
    Already(Firing),
    /// No such firing of that alert.
    NotFound,
}

fn alert_record(row: &Row) -> Result<AlertRecord, StoreError> {
    let doc: serde_json::Value = serde_json::from_str(row.text(1)?)?;
    let definition = AlertDefinition::parse(&doc)
        .map_err(|e| StoreError::Corrupt(format!("alert {}: {e}", row.text(0).unwrap_or("?"))))?;
    Ok(AlertRecord {
        name: row.text(0)?.to_owned(),
        definition,
        created_at: from_micros(row.int(2)?),
        updated_at: from_micros(row.int(3)?),
    })
}

/// Subjects that meet `condition` now and have not fired `alert` yet: (subject, event subject,
/// data).
fn alert_candidates(
    conn: &mut dyn Conn,
    alert: &str,
    condition: &AlertCondition,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String, serde_json::Value)>, StoreError> {
    let limit = FIRINGS_PER_RUN;
    let not_fired = "NOT EXISTS (SELECT 1 FROM alert_firings a WHERE a.alert = $1 AND a.subject = ";
    match condition {
        AlertCondition::OrderNotReleased { hours } => {
            let cutoff = condition.cutoff(now).unwrap_or(now);
            conn.query(
                &format!(
                    "SELECT order_id, channel, status, created_at FROM order_facts
                     WHERE released_at IS NULL AND open = 1 AND created_at <= $2
                       AND {not_fired} order_facts.order_id)
                     ORDER BY created_at LIMIT {limit}"
                ),
                &[Value::Text(alert), Value::Int(micros(cutoff))],
            )?
            .into_iter()
            .map(|r| {
                let id = r.text(0)?.to_owned();
                Ok((
                    id.clone(),
                    id.clone(),
                    json!({"order_id": id, "channel": r.text(1)?, "status": r.text(2)?,
                           "created_at": from_micros(r.int(3)?), "hours": hours}),
                ))
            })
            .collect()
        }
        AlertCondition::OrderNotShipped { hours } => {
            let cutoff = condition.cutoff(now).unwrap_or(now);
            conn.query(
                &format!(
                    "SELECT order_id, channel, status, requested_delivery_at FROM order_facts
                     WHERE open = 1 AND requested_delivery_at IS NOT NULL
                       AND requested_delivery_at <= $2 AND {not_fired} order_facts.order_id)
                     ORDER BY requested_delivery_at LIMIT {limit}"
                ),
                &[Value::Text(alert), Value::Int(micros(cutoff))],
            )?
            .into_iter()
            .map(|r| {
                let id = r.text(0)?.to_owned();
                Ok((
                    id.clone(),
                    id.clone(),
                    json!({"order_id": id, "channel": r.text(1)?, "status": r.text(2)?,
                           "requested_delivery_at": from_micros(r.int(3)?), "hours": hours}),
                ))
            })
            .collect()
        }
        AlertCondition::InventoryBelow {
            threshold,
            sku,
            node,
        } => {
            let available = "b.on_hand - b.reserved - b.allocated - COALESCE(b.safety_stock, n.safety_stock, 0)";
            let subject = "b.sku || '@' || b.node";
            let mut sql = format!(
                "SELECT b.sku, b.node, {available} FROM inventory_balances b
                 LEFT JOIN nodes n ON n.code = b.node
                 WHERE {available} < $2 AND {not_fired} {subject})"
            );
            let mut params = vec![Value::Text(alert), Value::Int(*threshold)];
            if let Some(sku) = sku {
                params.push(Value::Text(sku));
                sql.push_str(&format!(" AND b.sku = ${}", params.len()));
            }
            if let Some(node) = node {
                params.push(Value::Text(node));
                sql.push_str(&format!(" AND b.node = ${}", params.len()));
            }
            sql.push_str(&format!(" ORDER BY b.sku, b.node LIMIT {limit}"));
            conn.query(&sql, &params)?
                .into_iter()
                .map(|r| {
                    let (sku, node) = (r.text(0)?.to_owned(), r.text(1)?.to_owned());
                    Ok((
                        format!("{sku}@{node}"),
                        format!("inventory:{sku}@{node}"),
                        json!({"sku": sku, "node": node, "available": r.int(2)?,
                               "threshold": threshold}),
                    ))
                })
                .collect()
        }
        AlertCondition::ShipmentException {} => conn
            .query(
                &format!(
                    "SELECT shipment_id, order_id, node, exception_at FROM shipment_facts
                     WHERE exception_at IS NOT NULL AND delivered_at IS NULL
                       AND {not_fired} shipment_facts.shipment_id)
                     ORDER BY exception_at LIMIT {limit}"
                ),
                &[Value::Text(alert)],
            )?
            .into_iter()
            .map(|r| {
                let (shipment, order) = (r.text(0)?.to_owned(), r.text(1)?.to_owned());
                Ok((
                    shipment.clone(),
                    order.clone(),
                    json!({"shipment_id": shipment, "order_id": order, "node": r.text(2)?,
                           "exception_at": from_micros(r.int(3)?)}),
                ))
            })
            .collect(),
    }
}

/// Records the firings of one alert due now and emits `alert.fired` for each, in the caller's
/// transaction; a subject that fired before is skipped (the unique key holds across processes).
pub fn fire_alert(tx: &mut Tx<'_>, alert: &AlertRecord) -> Result<Vec<Firing>, StoreError> {
    let now = tx.now();
    let candidates = alert_candidates(tx.conn(), &alert.name, &alert.definition.condition, now)?;
    let mut fired = Vec::new();
    for (subject, event_subject, data) in candidates {
        let id = uuid::Uuid::now_v7().to_string();
        let text = data.to_string();
        let inserted = tx.conn().execute(
            "INSERT INTO alert_firings (id, alert, subject, fired_at, data)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (alert, subject) DO NOTHING",
            &[
                Value::Text(&id),
                Value::Text(&alert.name),
                Value::Text(&subject),
                Value::Int(micros(now)),
                Value::Text(&text),
            ],
        )?;
        if inserted == 0 {
            continue;
        }
        tx.emit(EventDraft::new(
            "alert.fired",
            event_subject,
            json!({
                "firing_id": id,
                "alert": alert.name,
                "condition": alert.definition.condition,
                "notify": alert.definition.notify,
                "subject": subject,
                "fired_at": now,
                "details": data,
            }),
        ));
        fired.push(Firing {
            id,
            alert: alert.name.clone(),
            subject,
            fired_at: now,
            data,
            acknowledged_at: None,
            acknowledged_by: None,
        });
    }
    Ok(fired)
}

impl Store {
    /// The sums behind a KPI report of the orders placed in `[from, to)`, as of `as_of`.
    pub async fn kpi_inputs(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        as_of: DateTime<Utc>,
    ) -> Result<KpiInputs, StoreError> {
        // The top products are the costliest figure (every SKU of every day of the window):
        // read on a second connection at the same time, from a snapshot taken with the rest's
        // give or take the commits between the two starting, so a report takes as long as its
        // slowest half rather than the sum.
        let (f, t) = (micros(from), micros(to));
        let (mut inputs, products) = tokio::try_join!(
            self.read(move |c| snapshot(c, |c| kpi_inputs(c, from, to, as_of))),
            self.read(move |c| snapshot(c, |c| top_products(c, f, t))),
        )?;
        inputs.products = products;
        Ok(inputs)
    }

    /// `metric` summed per `interval` over `[from, to)`, one bucket per group that has data.
    pub async fn insight_buckets(
        &self,
        metric: Metric,
        interval: Interval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Bucket>, StoreError> {
        self.read(move |c| buckets(c, metric, interval, from, to))
            .await
    }

    /// Stores anomalies not seen before and emits `insights.anomaly` for each, in one
    /// transaction; returns those that were new.
    pub async fn record_anomalies(&self, found: Vec<Anomaly>) -> Result<Vec<Anomaly>, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let mut new = Vec::new();
            for a in found {
                let inserted = tx.conn().execute(
                    "INSERT INTO insight_anomalies (metric, subject, at, value, expected, lower,
                         upper, score, detected_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (metric, subject, at) DO NOTHING",
                    &[
                        Value::Text(&a.metric),
                        Value::Text(&a.subject),
                        Value::Int(micros(a.at)),
                        Value::Text(&a.value.to_string()),
                        Value::Text(&a.expected.to_string()),
                        Value::Text(&a.lower.to_string()),
                        Value::Text(&a.upper.to_string()),
                        Value::Text(&a.score.to_string()),
                        Value::Int(now),
                    ],
                )?;
                if inserted == 1 {
                    tx.emit(EventDraft::new(
                        "insights.anomaly",
                        format!("insights:{}:{}", a.metric, a.subject),
                        serde_json::to_value(&a)?,
                    ));
                    new.push(a);
                }
            }
            Ok(new)
        })
        .await
    }

    /// Anomalies whose bucket starts at or after `since`, newest first.
    pub async fn anomalies(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Anomaly>, StoreError> {
        self.read(move |c| {
            c.query(
                &format!(
                    "SELECT metric, subject, at, value, expected, lower, upper, score
                     FROM insight_anomalies WHERE at >= $1
                     ORDER BY at DESC, metric, subject LIMIT {}",
                    limit.clamp(1, 10_000)
                ),
                &[Value::Int(micros(since))],
            )?
            .iter()
            .map(anomaly)
            .collect()
        })
        .await
    }

    /// Creates or replaces an alert; `true` when it is new. Firings of a replaced alert stay, so
    /// a subject that fired does not fire again.
    pub async fn put_alert(
        &self,
        name: String,
        definition: AlertDefinition,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| put_alert_in(tx, &name, &definition))
            .await
    }

    pub async fn get_alert(&self, name: String) -> Result<Option<AlertRecord>, StoreError> {
        self.read(move |c| {
            c.query_one(
                "SELECT name, doc, created_at, updated_at FROM alerts WHERE name = $1",
                &[Value::Text(&name)],
            )?
            .as_ref()
            .map(alert_record)
            .transpose()
        })
        .await
    }

    pub async fn list_alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT name, doc, created_at, updated_at FROM alerts ORDER BY name",
                &[],
            )?
            .iter()
            .map(alert_record)
            .collect()
        })
        .await
    }

    /// Evaluates every enabled alert once: records new firings and their events, one transaction
    /// per alert. Returns the firings made.
    pub async fn evaluate_alerts(&self) -> Result<Vec<Firing>, StoreError> {
        let mut fired = Vec::new();
        for alert in self.list_alerts().await? {
            if !alert.definition.enabled {
                continue;
            }
            fired.extend(self.write(move |tx| fire_alert(tx, &alert)).await?);
        }
        Ok(fired)
    }

    /// Firings of an alert, newest first; `before` is the `id` of the last firing of the
    /// previous page.
    pub async fn alert_firings(
        &self,
        alert: String,
        before: Option<String>,
        limit: usize,
    ) -> Result<Vec<Firing>, StoreError> {
        self.read(move |c| {
            let limit = limit.clamp(1, 1000);
            let rows = match &before {
                Some(id) => c.query(
                    &format!(
                        "SELECT {FIRING_COLUMNS} FROM alert_firings
                         WHERE alert = $1 AND id < $2 ORDER BY id DESC LIMIT {limit}"
                    ),
                    &[Value::Text(&alert), Value::Text(id)],
                )?,
                None => c.query(
                    &format!(
                        "SELECT {FIRING_COLUMNS} FROM alert_firings
                         WHERE alert = $1 ORDER BY id DESC LIMIT {limit}"
                    ),
                    &[Value::Text(&alert)],
                )?,
            };
            rows.iter().map(firing).collect()
        })
        .await
    }

    /// Firings of every alert, newest first: the open ones (not acknowledged) when `open`,
    /// else the acknowledged ones; `before` is the `id` of the last firing of the previous page.
    /// Also answers how many there are in all.
    pub async fn firings(
        &self,
        open: bool,
        before: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Firing>, i64), StoreError> {
        self.read(move |c| {
            let limit = limit.clamp(1, 1000);
            let which = if open {
                "acknowledged_at IS NULL"
            } else {
                "acknowledged_at IS NOT NULL"
            };
            let rows = match &before {
                Some(id) => c.query(
                    &format!(
                        "SELECT {FIRING_COLUMNS} FROM alert_firings
                         WHERE {which} AND id < $1 ORDER BY id DESC LIMIT {limit}"
                    ),
                    &[Value::Text(id)],
                )?,
                None => c.query(
                    &format!(
                        "SELECT {FIRING_COLUMNS} FROM alert_firings
                         WHERE {which} ORDER BY id DESC LIMIT {limit}"
                    ),
                    &[],
                )?,
            };
            let count = c
                .query_one(
                    &format!("SELECT COUNT(*) FROM alert_firings WHERE {which}"),
                    &[],
                )?
                .map_or(Ok(0), |r| r.int(0))?;
            Ok((rows.iter().map(firing).collect::<Result<_, _>>()?, count))
        })
        .await
    }

    /// Acknowledges a firing of `alert` in the name of the actor acting, announced by an
    /// `alert.acknowledged` event; one acknowledged before is left as it is.
    pub async fn acknowledge_firing(
        &self,
        alert: String,
        id: String,
    ) -> Result<Acknowledgement, StoreError> {
        self.write(move |tx| {
            let select =
                format!("SELECT {FIRING_COLUMNS} FROM alert_firings WHERE alert = $1 AND id = $2");
            let Some(found) = tx
                .conn()
                .query_one(&select, &[Value::Text(&alert), Value::Text(&id)])?
            else {
                return Ok(Acknowledgement::NotFound);
            };
            let found = firing(&found)?;
            if found.acknowledged_at.is_some() {
                return Ok(Acknowledgement::Already(found));
            }
            // Kept to the microsecond, as stored: the answer is what a later read returns.
            let now = from_micros(micros(tx.now()));
            let actor = tx.actor().clone();
            let by = format!("{}:{}", actor.kind.as_str(), actor.id);
            tx.conn().execute(
                "UPDATE alert_firings SET acknowledged_at = $1, acknowledged_by = $2
                 WHERE id = $3 AND acknowledged_at IS NULL",
                &[Value::Int(micros(now)), Value::Text(&by), Value::Text(&id)],
            )?;
            tx.emit(EventDraft::new(
                "alert.acknowledged",
                format!("alert:{alert}"),
                json!({"firing_id": id, "alert": alert, "subject": found.subject,
                       "acknowledged_at": now, "acknowledged_by": by}),
            ));
            Ok(Acknowledgement::Acknowledged(Firing {
                acknowledged_at: Some(now),
                acknowledged_by: Some(by),
                ..found
            }))
        })
        .await
    }
}

/// Creates or replaces an alert inside a write (see [`Store::put_alert`]).
pub fn put_alert_in(
    tx: &mut Tx<'_>,
    name: &str,
    definition: &AlertDefinition,
) -> Result<bool, StoreError> {
    let now = micros(tx.now());
    let doc = serde_json::to_string(definition)?;
    let before = crate::audit::stored_doc(tx.conn(), "alerts", name)?;
    let existed = before.is_some();
    let after: serde_json::Value = serde_json::from_str(&doc)?;
    tx.audit(&format!("alert:{name}"), before.as_ref(), Some(&after))?;
    tx.conn().execute(
        "INSERT INTO alerts (name, doc, enabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, enabled = excluded.enabled,
             updated_at = excluded.updated_at",
        &[
            Value::Text(name),
            Value::Text(&doc),
            Value::Int(definition.enabled.into()),
            Value::Int(now),
        ],
    )?;
    tx.emit(EventDraft::new(
        if existed {
            "alert.updated"
        } else {
            "alert.created"
        },
        format!("alert:{name}"),
        json!({"name": name, "condition": definition.condition, "notify": definition.notify,
               "enabled": definition.enabled}),
    ));
    Ok(!existed)
}

/// Every alert, by name, on any connection.
pub fn alerts_in(conn: &mut dyn Conn) -> Result<Vec<AlertRecord>, StoreError> {
    conn.query(
        "SELECT name, doc, created_at, updated_at FROM alerts ORDER BY name",
        &[],
    )?
    .iter()
    .map(alert_record)
    .collect()
}
