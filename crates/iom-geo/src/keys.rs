//! How a postal code and a city name are written as keys, both when the table is derived and when
//! a ship-to is looked up, so that what an address says meets what the data says.

/// The key of `code` in `country` (ISO 3166-1 alpha-2, upper case): upper case, letters and digits
/// only, cut to the part the data knows. `None` when nothing is left.
///
/// The data has whole codes for most countries and a prefix for some, so an address's full code
/// is cut to that prefix: the US ZIP without its +4 suffix, Canada's forward sortation area
/// (`K1A 0B1` → `K1A`), the outward code of UK-style postcodes (`SW1A 1AA` → `SW1A`), the
/// routing key of an Irish Eircode, the 4 digits of a Dutch postcode and the 5 digits of a French
/// one (a `CEDEX` suffix names a delivery, not a place). Where the data goes down to the building
/// (Portugal's `1000-001`, Japan's `100-0001`, Singapore's 6 digits), the code is cut to its area
/// (`1000`, `100`, the 2-digit sector) so that the table stays small.
pub fn postal_key(country: &str, code: &str) -> Option<String> {
    let mut key: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    match country {
        "US" | "PR" | "VI" | "GU" | "AS" | "MP" | "FM" | "MH" | "PW" => key.truncate(5),
        "CA" | "IE" => key.truncate(3),
        "NL" | "PT" => key.truncate(4),
        "JP" => key.truncate(3),
        "SG" => key.truncate(2),
        "FR" | "MC" => key.truncate(5),
        // The inward code is always a digit and two letters: what comes before it is the outward
        // code, which is what the data has.
        "GB" | "IM" | "JE" | "GG" if key.len() >= 5 => key.truncate(key.len() - 3),
        _ => {}
    }
    (!key.is_empty()).then_some(key)
}

/// The key of a city's name: accents and other scripts folded to ASCII, lower case, every run of
/// anything but letters and digits one space (`Köln` → `koln`, `SAINT-ÉTIENNE` → `saint etienne`).
/// `None` when nothing is left.
pub fn city_key(name: &str) -> Option<String> {
    let folded = deunicode::deunicode(name);
    let mut key = String::with_capacity(folded.len());
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.is_empty() && !key.ends_with(' ') {
            key.push(' ');
        }
    }
    if key.ends_with(' ') {
        key.pop();
    }
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postal_codes_are_cut_to_what_the_data_knows() {
        let key = |country, code| postal_key(country, code);
        assert_eq!(key("US", "98101-1234").as_deref(), Some("98101"));
        assert_eq!(key("US", " 98101 ").as_deref(), Some("98101"));
        assert_eq!(key("CA", "k1a 0b1").as_deref(), Some("K1A"));
        assert_eq!(key("CA", "M5V").as_deref(), Some("M5V"));
        assert_eq!(key("GB", "sw1a 1aa").as_deref(), Some("SW1A"));
        assert_eq!(key("GB", "M1 1AE").as_deref(), Some("M1"));
        assert_eq!(key("GB", "SW1A").as_deref(), Some("SW1A"));
        assert_eq!(key("NL", "1012 ab").as_deref(), Some("1012"));
        assert_eq!(key("FR", "75001 CEDEX 01").as_deref(), Some("75001"));
        assert_eq!(key("DE", "10115").as_deref(), Some("10115"));
        assert_eq!(key("PT", "1000-001").as_deref(), Some("1000"));
        assert_eq!(key("JP", "100-0001").as_deref(), Some("100"));
        assert_eq!(key("ES", "28013").as_deref(), Some("28013"));
        assert_eq!(key("DE", " - "), None);
    }

    #[test]
    fn a_key_is_its_own_key() {
        for (country, code) in [("US", "98101-1234"), ("GB", "sw1a 1aa"), ("CA", "k1a 0b1")] {
            let once = postal_key(country, code).unwrap();
            assert_eq!(postal_key(country, &once).as_deref(), Some(once.as_str()));
        }
    }

    #[test]
    fn city_names_fold_case_accents_and_punctuation() {
        assert_eq!(city_key("Köln").as_deref(), Some("koln"));
        assert_eq!(
            city_key("  SAINT-ÉTIENNE ").as_deref(),
            Some("saint etienne")
        );
        assert_eq!(
            city_key("Frankfurt am Main").as_deref(),
            Some("frankfurt am main")
        );
        assert_eq!(city_key("São Paulo").as_deref(), Some("sao paulo"));
        assert_eq!(city_key("--"), None);
    }
}
