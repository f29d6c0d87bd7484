use iom_domain::{OrderIntake, OrderStatus};
use serde_json::json;

use super::now;

fn fields(value: serde_json::Value) -> Vec<String> {
    let intake: OrderIntake = serde_json::from_value(value).unwrap();
    let mut fields: Vec<String> = intake
        .validate(now())
        .unwrap_err()
        .into_iter()
        .map(|e| e.field)
        .collect();
    fields.sort();
    fields
}

#[test]
fn the_contract_example_is_valid() {
    let intake: OrderIntake = serde_json::from_value(json!({
        "channel": "web", "external_id": "1001", "currency": "USD",
        "placed_at": "2026-11-26T10:00:00Z",
        "customer": {"id": "C-1", "email": "ann@example.com", "name": "Ann Lee"},
        "ship_to": {"name": "Ann Lee", "line1": "1 Main St", "city": "Seattle", "region": "WA",
                    "postal_code": "98101", "country": "US", "lat": 47.61, "lon": -122.33},
        "lines": [{"line_no": 1, "sku": "SKU-1", "quantity": 2, "unit_price": "19.99"}],
        "ship_method": "standard", "attributes": {}
    }))
    .unwrap();
    let order = intake.validate(now()).unwrap();
    assert_eq!(order.status, OrderStatus::Received);
    assert_eq!(order.totals.total.to_string(), "39.98");
    assert_eq!(order.ship_to.unwrap().geo().unwrap().lat, 47.61);
    assert_eq!(order.lines[0].quantity, 2);
}

#[test]
fn every_bad_field_is_reported_at_once() {
    let got = fields(json!({
        "channel": "  ", "currency": "ABC",
        "ship_to": {"country": "XX", "lat": 91.0, "lon": 0.0},
        "customer": {"email": "not-an-email"},
        "lines": [
            {"line_no": 1, "sku": "A", "quantity": 0, "unit_price": "1.00"},
            {"line_no": 1, "sku": "", "quantity": 1, "unit_price": "-0.01"},
            {"line_no": 3, "sku": "C", "quantity": 2, "unit_price": "5", "discount": "10.01"}
        ]
    }));
    assert_eq!(
        got,
        vec![
            "channel",
            "currency",
            "customer.email",
            "external_id",
            "lines[0].quantity",
            "lines[1].line_no",
            "lines[1].sku",
            "lines[1].unit_price",
            "lines[2].discount",
            "ship_to.country",
            "ship_to.lat",
        ]
    );
}

#[test]
fn an_order_needs_lines() {
    assert_eq!(
        fields(json!({"channel": "web", "external_id": "1", "currency": "USD"})),
        vec!["lines"]
    );
    assert_eq!(
        fields(json!({"channel": "web", "external_id": "1", "currency": "USD", "lines": []})),
        vec!["lines"]
    );
}

#[test]
fn codes_are_normalised_and_numbers_accepted_as_ids_and_amounts() {
    let intake: OrderIntake = serde_json::from_value(json!({
        "channel": "shopify", "external_id": 450789469, "currency": "eur",
        "ship_to": {"country": "deu"},
        "lines": [{"sku": 12345, "quantity": 1, "unit_price": 199.5}]
    }))
    .unwrap();
    let order = intake.validate(now()).unwrap();
    assert_eq!(order.external_id, "450789469");
    assert_eq!(order.currency.code(), "EUR");
    assert_eq!(order.ship_to.unwrap().country.as_str(), "DE");
    assert_eq!(order.lines[0].sku, "12345");
    assert_eq!(order.lines[0].line_no, 1);
    assert_eq!(order.lines[0].unit_price.to_string(), "199.5");
}

#[test]
fn placed_at_with_an_offset_is_stored_in_utc() {
    let intake: OrderIntake = serde_json::from_value(json!({
        "channel": "web", "external_id": "1", "currency": "USD",
        "placed_at": "2026-11-26T12:00:00+02:00",
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "1"}]
    }))
    .unwrap();
    let order = intake.validate(now()).unwrap();
    assert_eq!(order.placed_at.to_rfc3339(), "2026-11-26T10:00:00+00:00");
}

#[test]
fn amounts_too_large_to_total_are_refused_by_field() {
    // A unit price near the largest decimal times a large quantity once overflowed (a panic).
    let got = fields(json!({
        "channel": "web", "external_id": "1", "currency": "USD",
        "discount_amount": "1000000000000.01",
        "lines": [
            {"line_no": 1, "sku": "A", "quantity": 138920000, "unit_price": "79228162514264337593543950335"},
            {"line_no": 2, "sku": "B", "quantity": 1, "unit_price": "1", "tax": "1e13"}
        ]
    }));
    assert_eq!(
        got,
        vec!["discount_amount", "lines[0].unit_price", "lines[1].tax"]
    );
}

#[test]
fn text_stored_in_columns_may_not_hold_nul() {
    let got = fields(json!({
        "channel": "web\u{0}", "external_id": "1\u{0}", "currency": "USD",
        "customer": {"id": "C\u{0}", "name": "Ann\u{0}"},
        "lines": [{"line_no": 1, "sku": "A\u{0}", "quantity": 1, "unit_price": "1"}]
    }));
    assert_eq!(
        got,
        vec![
            "channel",
            "customer.id",
            "customer.name",
            "external_id",
            "lines[0].sku"
        ]
    );
}
