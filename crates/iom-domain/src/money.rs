use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 4217 currency. Amounts themselves are `rust_decimal::Decimal`, never floats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Accepts an ISO 4217 alphabetic code in any letter case.
    pub fn parse(code: &str) -> Option<Self> {
        iso_currency::Currency::from_code(&code.trim().to_ascii_uppercase()).map(Self)
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// Decimal places of the currency's minor unit (2 for USD, 0 for JPY, 3 for KWD).
    pub fn decimals(&self) -> u32 {
        self.0.exponent().map_or(2, u32::from)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown ISO 4217 currency {code:?}")))
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("ISO 4217 alphabetic currency code"))
            .examples(["USD"])
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

/// Serde helpers for decimal amounts: written as strings (`"19.99"`), read from strings or JSON
/// numbers, because channels send both.
pub mod decimal {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Number(serde_json::Number),
    }

    fn parse(repr: Repr) -> Result<Decimal, String> {
        let text = match repr {
            Repr::Text(s) => s,
            Repr::Number(n) => n.to_string(),
        };
        let trimmed = text.trim();
        Decimal::from_str_exact(trimmed)
            .or_else(|_| Decimal::from_scientific(trimmed))
            .map_err(|_| format!("{text:?} is not a decimal amount"))
    }

    pub fn deserialize_option<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Decimal>, D::Error> {
        match Option::<Repr>::deserialize(d)? {
            None => Ok(None),
            Some(repr) => parse(repr).map(Some).map_err(serde::de::Error::custom),
        }
    }
}
