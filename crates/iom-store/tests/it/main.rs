//! The store's conformance suite: every test runs against SQLite, and against PostgreSQL when
//! `IOM_TEST_POSTGRES_URL` is set.

mod events;
mod inventory;
mod lists;
mod notifications;
mod open;
mod orders;
mod outbound;
mod payments;
mod rollups;
mod tokens;
mod writer;

use chrono::Utc;
use iom_domain::{Order, OrderIntake};
use iom_store::testing::TestDb;
use iom_store::{CreateOutcome, Store};

/// Each backend under test, opened on a fresh database.
pub async fn stores() -> Vec<(Store, TestDb)> {
    let mut out = Vec::new();
    for db in iom_store::testing::all() {
        let store = Store::open(&db.url).await.expect("open store");
        out.push((store, db));
    }
    out
}

pub fn order(channel: &str, external_id: &str, skus: &[&str]) -> Order {
    let lines: Vec<serde_json::Value> = skus
        .iter()
        .enumerate()
        .map(|(i, sku)| serde_json::json!({"line_no": i + 1, "sku": sku, "quantity": 2, "unit_price": "10.00"}))
        .collect();
    let intake: OrderIntake = serde_json::from_value(serde_json::json!({
        "channel": channel, "external_id": external_id, "currency": "USD",
        "customer": {"id": "C-1", "email": "Ann.Lee@example.com", "name": "Ann Lee"},
        "lines": lines,
    }))
    .unwrap();
    intake.validate(Utc::now()).unwrap()
}

/// Adds the warehouse `code` (a bare row: what balances and reservations join to).
pub fn add_node(tx: &mut iom_store::Tx<'_>, code: &str) -> Result<(), iom_store::StoreError> {
    tx.conn().execute(
        "INSERT INTO nodes (code, kind, active, doc, updated_at) VALUES ($1, 'warehouse', 1, '{}', 0)",
        &[iom_store::Value::Text(code)],
    )?;
    Ok(())
}

pub fn render(outcome: &CreateOutcome) -> (u16, String) {
    match outcome {
        CreateOutcome::Created(o) => (201, serde_json::to_string(o).unwrap()),
        CreateOutcome::Duplicate { existing_id } => (409, format!("dup {existing_id}")),
        _ => (500, String::new()),
    }
}

pub async fn create(store: &Store, order: Order) -> CreateOutcome {
    store
        .create_order(order, None, Box::new(render))
        .await
        .unwrap()
}
