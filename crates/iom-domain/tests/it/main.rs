mod actions;
mod carrier;
mod intake;
mod line_holds;
mod returns;
mod transitions;

use chrono::{DateTime, TimeZone, Utc};
use iom_domain::{Order, OrderIntake};

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap()
}

/// An order with lines of the given quantities, as intake creates it.
pub fn order(quantities: &[u32]) -> Order {
    let lines: Vec<serde_json::Value> = quantities
        .iter()
        .enumerate()
        .map(|(i, q)| serde_json::json!({"line_no": i + 1, "sku": format!("SKU-{i}"), "quantity": q, "unit_price": "10.00"}))
        .collect();
    let intake: OrderIntake = serde_json::from_value(serde_json::json!({
        "channel": "web", "external_id": "1001", "currency": "USD", "lines": lines,
    }))
    .unwrap();
    intake.validate(now()).unwrap()
}
