//! Schema migrations, one ordered list per backend, applied at start in one transaction.
//! On PostgreSQL an advisory lock keeps two processes starting at once from both applying them.

use crate::db::{Conn, Dialect};
use crate::{StoreError, Value};

const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("migrations/sqlite/0001_orders.sql")),
    (2, include_str!("migrations/sqlite/0002_nodes.sql")),
    (3, include_str!("migrations/sqlite/0003_inventory.sql")),
    (4, include_str!("migrations/sqlite/0004_providers.sql")),
    (
        5,
        include_str!("migrations/sqlite/0005_postal_centroids.sql"),
    ),
    (6, include_str!("migrations/sqlite/0006_flows.sql")),
    (7, include_str!("migrations/sqlite/0007_returns.sql")),
    (8, include_str!("migrations/sqlite/0008_insights.sql")),
    (
        9,
        include_str!("migrations/sqlite/0009_providers_outbound.sql"),
    ),
    (
        10,
        include_str!("migrations/sqlite/0010_order_lines_node.sql"),
    ),
    (11, include_str!("migrations/sqlite/0011_policies.sql")),
    (13, include_str!("migrations/sqlite/0013_order_search.sql")),
    (15, include_str!("migrations/sqlite/0015_kpi_rollup.sql")),
    (
        16,
        include_str!("migrations/sqlite/0016_inventory_balances_clustered.sql"),
    ),
    (
        17,
        include_str!("migrations/sqlite/0017_reservations_item_index.sql"),
    ),
    (
        18,
        include_str!("migrations/sqlite/0018_x12_references.sql"),
    ),
    (19, include_str!("migrations/sqlite/0019_x12_partners.sql")),
    (20, include_str!("migrations/sqlite/0020_outbound_once.sql")),
    (22, include_str!("migrations/sqlite/0022_notifications.sql")),
    (
        25,
        include_str!("migrations/sqlite/0025_shipping_labels.sql"),
    ),
    (27, include_str!("migrations/sqlite/0027_token_limits.sql")),
    (28, include_str!("migrations/sqlite/0028_payments.sql")),
    (
        30,
        include_str!("migrations/sqlite/0030_delivery_promise.sql"),
    ),
    (
        31,
        include_str!("migrations/sqlite/0031_payment_expiry.sql"),
    ),
    (32, include_str!("migrations/sqlite/0032_users.sql")),
    (
        34,
        include_str!("migrations/sqlite/0034_actors_and_audit.sql"),
    ),
    (35, include_str!("migrations/sqlite/0035_list_sorting.sql")),
    (36, include_str!("migrations/sqlite/0036_order_counts.sql")),
    (
        38,
        include_str!("migrations/sqlite/0038_lists_and_alerts.sql"),
    ),
];
const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("migrations/postgres/0001_orders.sql")),
    (2, include_str!("migrations/postgres/0002_nodes.sql")),
    (3, include_str!("migrations/postgres/0003_inventory.sql")),
    (4, include_str!("migrations/postgres/0004_providers.sql")),
    (
        5,
        include_str!("migrations/postgres/0005_postal_centroids.sql"),
    ),
    (6, include_str!("migrations/postgres/0006_flows.sql")),
    (7, include_str!("migrations/postgres/0007_returns.sql")),
    (8, include_str!("migrations/postgres/0008_insights.sql")),
    (
        9,
        include_str!("migrations/postgres/0009_providers_outbound.sql"),
    ),
    (
        10,
        include_str!("migrations/postgres/0010_order_lines_node.sql"),
    ),
    (11, include_str!("migrations/postgres/0011_policies.sql")),
    (
        13,
        include_str!("migrations/postgres/0013_order_search.sql"),
    ),
    (15, include_str!("migrations/postgres/0015_kpi_rollup.sql")),
    (
        17,
        include_str!("migrations/postgres/0017_reservations_item_index.sql"),
    ),
    (
        18,
        include_str!("migrations/postgres/0018_x12_references.sql"),
    ),
    (
        19,
        include_str!("migrations/postgres/0019_x12_partners.sql"),
    ),
    (
        20,
        include_str!("migrations/postgres/0020_outbound_once.sql"),
    ),
    (
        22,
        include_str!("migrations/postgres/0022_notifications.sql"),
    ),
    (
        25,
        include_str!("migrations/postgres/0025_shipping_labels.sql"),
    ),
    (
        27,
        include_str!("migrations/postgres/0027_token_limits.sql"),
    ),
    (28, include_str!("migrations/postgres/0028_payments.sql")),
    (
        30,
        include_str!("migrations/postgres/0030_delivery_promise.sql"),
    ),
    (
        31,
        include_str!("migrations/postgres/0031_payment_expiry.sql"),
    ),
    (32, include_str!("migrations/postgres/0032_users.sql")),
    (
        34,
        include_str!("migrations/postgres/0034_actors_and_audit.sql"),
    ),
    (
        35,
        include_str!("migrations/postgres/0035_list_sorting.sql"),
    ),
    (
        36,
        include_str!("migrations/postgres/0036_order_counts.sql"),
    ),
    (
        38,
        include_str!("migrations/postgres/0038_lists_and_alerts.sql"),
    ),
];

/// Arbitrary but fixed: the advisory lock key that serialises migrations.
const MIGRATION_LOCK: i64 = 0x10_0001;

pub(crate) fn run(conn: &mut dyn Conn) -> Result<(), StoreError> {
    if conn.dialect() == Dialect::Sqlite && up_to_date(conn, SQLITE)? {
        // Nothing to apply: no write lock, which a busy server may hold for long stretches
        // (a second process opening the same file must not wait on it, or time out).
        return Ok(());
    }
    let migrations = match conn.dialect() {
        Dialect::Sqlite => {
            conn.batch("BEGIN IMMEDIATE")?;
            SQLITE
        }
        Dialect::Postgres => {
            conn.batch(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"
            ))?;
            POSTGRES
        }
    };
    let result = apply(conn, migrations);
    match result {
        Ok(()) => conn.batch("COMMIT"),
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Every migration is recorded as applied (read without a lock; `run` checks again under one).
fn up_to_date(conn: &mut dyn Conn, migrations: &[(i64, &str)]) -> Result<bool, StoreError> {
    let table = conn.query_one(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        &[],
    )?;
    if table.is_none() {
        return Ok(false);
    }
    let applied: Vec<i64> = conn
        .query("SELECT version FROM schema_migrations", &[])?
        .iter()
        .map(|r| r.int(0))
        .collect::<Result<_, _>>()?;
    Ok(migrations.iter().all(|(v, _)| applied.contains(v)))
}

fn apply(conn: &mut dyn Conn, migrations: &[(i64, &str)]) -> Result<(), StoreError> {
    conn.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    let applied: Vec<i64> = conn
        .query("SELECT version FROM schema_migrations", &[])?
        .iter()
        .map(|r| r.int(0))
        .collect::<Result<_, _>>()?;
    for (version, sql) in migrations {
        if applied.contains(version) {
            continue;
        }
        tracing::info!(version, "applying migration");
        conn.batch(sql)?;
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[
                Value::Int(*version),
                Value::Int(crate::micros(chrono::Utc::now())),
            ],
        )?;
        if *version == 8 {
            // Orders stored before the insights tables existed get their fact rows now.
            let n = crate::insights::backfill(conn)?;
            if n > 0 {
                tracing::info!(orders = n, "wrote insight facts of existing orders");
            }
        }
    }
    Ok(())
}
