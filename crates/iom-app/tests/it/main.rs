//! Tests of iom-app's use cases against real databases: SQLite always, PostgreSQL when
//! `IOM_TEST_POSTGRES_URL` is set.

mod flow;
mod inventory;
mod returns;

use chrono::{DateTime, Utc};
use iom_domain::{Order, OrderIntake};

/// A real order, through the same validation as `POST /api/v1/orders`.
pub fn order(json: serde_json::Value) -> Order {
    let intake: OrderIntake = serde_json::from_value(json).expect("well-formed intake");
    intake
        .validate(DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap())
        .expect("a valid order")
}

pub fn web_order() -> serde_json::Value {
    serde_json::json!({
        "channel": "web",
        "external_id": "1001",
        "currency": "USD",
        "customer": {"id": "C-1", "email": "ann@example.com", "group": "vip"},
        "ship_to": {"name": "Ann Lee", "line1": "1 Main St", "city": "Seattle", "region": "WA",
                    "postal_code": "98101", "country": "US"},
        "lines": [
            {"line_no": 1, "sku": "BULKY-SOFA", "quantity": 1, "unit_price": "899.00"},
            {"line_no": 2, "sku": "LAMP", "quantity": 2, "unit_price": "19.99"}
        ],
        "attributes": {}
    })
}
