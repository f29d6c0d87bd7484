//! Money in SQL aggregates: amounts are stored as integer millionths of the currency unit, so
//! `SUM` over many rows is exact on both backends (a decimal `TEXT` column cannot be summed, and a
//! float would drift). Six decimals hold every ISO 4217 currency and B2B unit prices to 1/10,000.

use rust_decimal::{Decimal, RoundingStrategy};

const SCALE: u32 = 6;

/// `amount` in millionths, rounded half to even beyond six decimals.
pub fn to_micros(amount: Decimal) -> i64 {
    let rounded = amount.round_dp_with_strategy(SCALE, RoundingStrategy::MidpointNearestEven);
    let mut mantissa = rounded.mantissa();
    for _ in rounded.scale()..SCALE {
        mantissa *= 10;
    }
    i64::try_from(mantissa).unwrap_or(if mantissa < 0 { i64::MIN } else { i64::MAX })
}

/// Millionths back to an amount, shown with at least two decimals and no trailing zeros beyond.
pub fn from_micros(micros: i64) -> Decimal {
    display(Decimal::new(micros, SCALE))
}

/// An amount shown with at least two decimals (`"12.50"`, not `"12.5"` or `"12.500000"`).
pub fn display(amount: Decimal) -> Decimal {
    let mut amount = amount.normalize();
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    amount
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn round_trips() {
        for s in ["0", "19.99", "-3.5", "1234567.123456", "0.0000005"] {
            let d = Decimal::from_str(s).unwrap();
            let back = from_micros(to_micros(d));
            assert_eq!(
                back,
                d.round_dp_with_strategy(6, RoundingStrategy::MidpointNearestEven)
            );
        }
        assert_eq!(
            from_micros(to_micros(Decimal::from_str("12.5").unwrap())).to_string(),
            "12.50"
        );
        assert_eq!(to_micros(Decimal::from_str("19.99").unwrap()), 19_990_000);
    }
}
