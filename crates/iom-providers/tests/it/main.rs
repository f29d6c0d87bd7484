//! Integration tests of iom-providers, run against the real sample documents in
//! `shared/conformance/` (beside the repository) and against small documents written here.

mod ack997;
mod csv;
mod jq;
mod json_paths;
mod mapping;
mod outbound;
mod partner_validator;
mod refund;
mod shopify_native;
mod ubl;
mod x12;

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use iom_domain::{Order, OrderIntake};
use rust_decimal::Decimal;

/// A conformance sample, read as it is.
pub fn sample(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/../../../shared/conformance/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
}

pub fn sample_json(path: &str) -> serde_json::Value {
    serde_json::from_slice(&sample(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// Validates as the API does and fails the test with every field error.
pub fn valid(intake: &OrderIntake) -> Order {
    intake
        .clone()
        .validate(now())
        .unwrap_or_else(|errors| panic!("invalid order: {errors:?}"))
}

/// (line_no, sku, quantity, unit_price) of each line of a validated order.
pub fn lines(order: &Order) -> Vec<(u32, String, u32, Decimal)> {
    order
        .lines
        .iter()
        .map(|l| (l.line_no, l.sku.clone(), l.quantity, l.unit_price))
        .collect()
}
