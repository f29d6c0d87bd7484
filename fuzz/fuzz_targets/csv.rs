//! Any bytes, read as a CSV order file: with iom's own columns, as Shopify's order export, and
//! through a column map. Nothing may panic; a failure names at least one row and column.
#![no_main]

use iom_providers::csv::{CsvOptions, CsvPreset, parse_orders_with};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mapped = CsvOptions {
        columns: vec![
            ("Order".into(), "external_id".into()),
            ("Item".into(), "sku".into()),
            ("Qty".into(), "quantity".into()),
        ],
        default_currency: Some("EUR".into()),
        delimiter: b';',
        ..CsvOptions::default()
    };
    let shopify = CsvOptions {
        preset: Some(CsvPreset::ShopifyExport),
        ..CsvOptions::default()
    };
    for options in [CsvOptions::default(), shopify, mapped] {
        if let Err(errors) = parse_orders_with(data, "csv", &options) {
            assert!(!errors.0.is_empty(), "a failure names at least one problem");
        }
    }
});
