use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::FieldError;

/// An ISO 3166-1 country, held as its alpha-2 code. Alpha-3 codes are accepted and normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountryCode(&'static str);

impl CountryCode {
    pub fn parse(code: &str) -> Option<Self> {
        let code = code.trim().to_ascii_uppercase();
        let country = match code.len() {
            2 => celes::Country::from_alpha2(&code).ok()?,
            3 => celes::Country::from_alpha3(&code).ok()?,
            _ => return None,
        };
        Some(Self(country.alpha2))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        CountryCode::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown ISO 3166-1 country {code:?}")))
    }
}

impl utoipa::PartialSchema for CountryCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "ISO 3166-1 alpha-2 country code (alpha-3 accepted on input)",
            ))
            .examples(["US"])
            .into()
    }
}

impl ToSchema for CountryCode {}

/// A point on the earth in decimal degrees (WGS 84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> Option<Self> {
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon))
            .then_some(Self { lat, lon })
    }
}

/// A postal address as an order carries it, with an optional geo point for distance calculations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    pub country: CountryCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// Where planning places a ship-to: what its point comes from, set when the order is captured
    /// (`iom_app::fulfillment::locate`). Absent on a bill-to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub located_by: Option<LocatedBy>,
}

/// What a ship-to's point comes from, finest first: its own `lat`/`lon`, the centroid of its
/// postal code (loaded by an operator, else shipped with iom), of its city, of its country; `none`
/// when none of them is known, and planning then says `no_ship_to_location`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LocatedBy {
    Coordinates,
    PostalCode,
    City,
    Country,
    None,
}

impl LocatedBy {
    /// The name as the API writes it (`postal_code`).
    pub fn as_str(self) -> &'static str {
        match self {
            LocatedBy::Coordinates => "coordinates",
            LocatedBy::PostalCode => "postal_code",
            LocatedBy::City => "city",
            LocatedBy::Country => "country",
            LocatedBy::None => "none",
        }
    }
}

impl Address {
    pub fn geo(&self) -> Option<GeoPoint> {
        GeoPoint::new(self.lat?, self.lon?)
    }
}

/// An address as a request sends it: every field optional so that validation can name each problem.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct AddressIntake {
    pub name: Option<String>,
    pub company: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 (or alpha-3) country code.
    pub country: Option<String>,
    pub phone: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

impl AddressIntake {
    /// Checks the address and reports each bad field under `path`.
    pub fn validate(self, path: &str, errors: &mut Vec<FieldError>) -> Option<Address> {
        let country = match self.country.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(FieldError::new(format!("{path}.country"), "is required"));
                None
            }
            Some(code) => {
                let parsed = CountryCode::parse(code);
                if parsed.is_none() {
                    errors.push(FieldError::new(
                        format!("{path}.country"),
                        format!("{code:?} is not an ISO 3166-1 country code"),
                    ));
                }
                parsed
            }
        };
        let mut geo_ok = true;
        match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => {
                if !(-90.0..=90.0).contains(&lat) {
                    errors.push(FieldError::new(
                        format!("{path}.lat"),
                        "must be between -90 and 90",
                    ));
                    geo_ok = false;
                }
                if !(-180.0..=180.0).contains(&lon) {
                    errors.push(FieldError::new(
                        format!("{path}.lon"),
                        "must be between -180 and 180",
                    ));
                    geo_ok = false;
                }
            }
            (None, None) => {}
            (Some(_), None) => {
                errors.push(FieldError::new(
                    format!("{path}.lon"),
                    "is required when lat is given",
                ));
                geo_ok = false;
            }
            (None, Some(_)) => {
                errors.push(FieldError::new(
                    format!("{path}.lat"),
                    "is required when lon is given",
                ));
                geo_ok = false;
            }
        }
        let country = country?;
        geo_ok.then(|| Address {
            name: non_empty(self.name),
            company: non_empty(self.company),
            line1: non_empty(self.line1),
            line2: non_empty(self.line2),
            city: non_empty(self.city),
            region: non_empty(self.region),
            postal_code: non_empty(self.postal_code),
            country,
            phone: non_empty(self.phone),
            lat: self.lat,
            lon: self.lon,
            located_by: None,
        })
    }
}

pub(crate) fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn located_by_is_named_as_serde_writes_it() {
        for by in [
            LocatedBy::Coordinates,
            LocatedBy::PostalCode,
            LocatedBy::City,
            LocatedBy::Country,
            LocatedBy::None,
        ] {
            assert_eq!(serde_json::to_value(by).unwrap(), by.as_str());
        }
    }
}
