//! Carriers as X12 names them: the Standard Carrier Alpha Code (SCAC, 2 to 4 letters) that TD503
//! and W6610 carry. Shipments name their carrier as people do (`FedEx`, `UPS`, `usps`); a
//! partner's translator expects the code. An instance adds to or overrides this table with
//! `settings.x12.scac`.

use std::collections::BTreeMap;

/// The SCACs of the carriers most shipments use, by a normalised name (lower-case letters and
/// digits only).
const KNOWN: &[(&str, &str)] = &[
    ("ups", "UPSN"),
    ("unitedparcelservice", "UPSN"),
    ("upsground", "UPSN"),
    ("fedex", "FDEG"),
    ("fedexground", "FDEG"),
    ("fedexhomedelivery", "FDEG"),
    ("fedexexpress", "FDXE"),
    ("usps", "USPS"),
    ("unitedstatespostalservice", "USPS"),
    ("dhl", "DHLC"),
    ("dhlexpress", "DHLC"),
    ("ontrac", "EMSY"),
    ("estes", "EXLA"),
    ("olddominion", "ODFL"),
    ("saia", "SAIA"),
    ("xpo", "CNWY"),
    ("yrc", "RDWY"),
    ("rl", "RLCA"),
    ("rlcarriers", "RLCA"),
];

fn normalise(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The SCAC of `carrier`: from the instance's table (`overrides`, by the name as shipments
/// carry it, compared without case and punctuation), then the built-in one; a carrier already
/// named by a known SCAC is that SCAC. `None` when the carrier is unknown: the caller then
/// names it in free text (TD505 routing) instead of sending a code the partner would misread.
pub fn scac(carrier: &str, overrides: &BTreeMap<String, String>) -> Option<String> {
    let key = normalise(carrier);
    if key.is_empty() {
        return None;
    }
    if let Some(code) = overrides
        .iter()
        .find(|(name, _)| normalise(name) == key)
        .map(|(_, code)| code.clone())
    {
        return Some(code);
    }
    if let Some((_, code)) = KNOWN.iter().find(|(name, _)| *name == key) {
        return Some((*code).to_owned());
    }
    let upper = carrier.trim().to_ascii_uppercase();
    (KNOWN.iter().any(|(_, code)| *code == upper) || overrides.values().any(|c| *c == upper))
        .then_some(upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_codes_and_overrides() {
        let none = BTreeMap::new();
        assert_eq!(scac("FedEx", &none).as_deref(), Some("FDEG"));
        assert_eq!(scac("FedEx Express", &none).as_deref(), Some("FDXE"));
        assert_eq!(scac("UPSN", &none).as_deref(), Some("UPSN"));
        assert_eq!(scac("Bob's Trucks", &none), None);
        let set = BTreeMap::from([("Bob's Trucks".to_owned(), "BOBT".to_owned())]);
        assert_eq!(scac("bobs trucks", &set).as_deref(), Some("BOBT"));
    }
}
