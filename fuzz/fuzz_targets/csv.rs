//! Any bytes, read as a CSV order file. Nothing may panic; every error names a row.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(errors) = iom_providers::csv::parse_orders(data, "csv") {
        assert!(!errors.0.is_empty(), "a failure names at least one problem");
    }
});
