//! Any bytes, read as an X12 body the way `POST /api/v1/inbound/{x12 instance}` takes one: read,
//! every transaction set mapped and enveloped alone, every interchange acknowledged. Nothing
//! may panic, and every acknowledgement iom writes must read back as X12.
#![no_main]

use chrono::{TimeZone, Utc};
use iom_providers::inbound::{Instance, x12_receipt};
use iom_providers::{types, x12};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = x12::parse(data);
    let _ = x12::parse_many(data);
    let instance = Instance {
        name: "edi".into(),
        kind: types::find("x12").expect("the x12 type"),
        mappings: Default::default(),
        transform: None,
        default_node: None,
        csv: Default::default(),
    };
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let Ok(receipt) = x12_receipt(&instance, data, now) else {
        return;
    };
    let succeeded: Vec<bool> = receipt.parts.iter().map(|p| p.result.is_ok()).collect();
    let controls: Vec<u32> = (1..=receipt.acknowledgements_needed() as u32).collect();
    for (kind, text) in receipt.acknowledgements(&succeeded, &controls, now) {
        if let Err(e) = x12::parse(text.as_bytes()) {
            panic!("the {kind} iom wrote does not read back: {e}\n{text}");
        }
    }
});
