//! Exact decimal money for jq programs, as native filters: `money_sum` and `split_total`.
//!
//! jq numbers are doubles, so the prelude once did this arithmetic on strings in jq itself
//! (parse each amount into integer minor units with a regex, rescale, add, format). That was
//! exact but it was most of the cost of transforming a Shopify order. These filters do the same
//! with `rust_decimal` and accept and answer exactly what the jq definitions did (decimal
//! strings or numbers in, decimal strings out, the same error text), so programs written
//! against the prelude run unchanged.

use std::str::FromStr;

use jaq_core::native::{Fun, bome, run, v};
use jaq_core::{DataT, Error};
use jaq_json::Val;
use rust_decimal::Decimal;

/// The native filters, to add to a program's functions.
pub fn funs<D: for<'a> DataT<V<'a> = Val>>() -> [Fun<D>; 2] {
    [
        run(("money_sum", v(0), |cv| bome(money_sum(&cv.1)))),
        run(("split_total", v(1), |mut cv| {
            let qty = cv.0.pop_var();
            bome(split_total(&cv.1, &qty))
        })),
    ]
}

fn fail(message: String) -> Error<Val> {
    Error::str(message)
}

/// `"12.30"`, `12.3` or `-1` as a decimal; what `dec_parse` accepted: an optional minus, digits,
/// and optionally a point followed by digits.
pub(crate) fn parse(value: &Val) -> Result<Decimal, Error<Val>> {
    let text: std::borrow::Cow<'_, str> = match value {
        Val::TStr(s) | Val::BStr(s) => String::from_utf8_lossy(s),
        Val::Num(n) => n.to_string().into(),
        other => return Err(fail(format!("{other} is not a decimal amount"))),
    };
    if !is_decimal_text(&text) {
        let shown = match value {
            Val::TStr(_) | Val::BStr(_) => serde_json::to_string(text.as_ref()).unwrap_or_default(),
            _ => text.into_owned(),
        };
        return Err(fail(format!("{shown} is not a decimal amount")));
    }
    Decimal::from_str(&text).map_err(|e| fail(format!("{text}: {e}")))
}

/// Whether `text` is what `dec_parse` accepted: an optional minus, digits, and optionally a
/// point followed by digits.
pub(crate) fn is_decimal_text(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && fraction.is_none_or(all_digits)
}

fn string(d: Decimal) -> Val {
    Val::from(d.to_string())
}

/// The exact sum of an array of decimal strings or numbers (nulls skipped), with the largest
/// scale among them; null when there is nothing to add.
fn money_sum(input: &Val) -> Result<Val, Error<Val>> {
    let Val::Arr(items) = input else {
        return Err(fail(format!("money_sum needs an array, found {input}")));
    };
    let mut sum: Option<Decimal> = None;
    for item in items.iter().filter(|v| !matches!(v, Val::Null)) {
        let d = parse(item)?;
        sum = Some(match sum {
            None => d,
            Some(s) => s
                .checked_add(d)
                .ok_or_else(|| fail("money_sum overflows".into()))?,
        });
    }
    Ok(sum.map_or(Val::Null, string))
}

/// Splits a line total into a unit price and a rounding discount so that
/// `unit_price × qty − rounding` equals the total exactly: the unit price is the total divided by
/// `qty`, rounded up at the total's scale (at least cents).
fn split_total(input: &Val, qty: &Val) -> Result<Val, Error<Val>> {
    let mut total = parse(input)?;
    if total.scale() < 2 {
        total.rescale(2);
    }
    let scale = total.scale();
    let units = total.mantissa();
    let qty = match qty {
        Val::Num(n) => {
            let text = n.to_string();
            i128::from_str(&text)
                .or_else(|_| f64::from_str(&text).map(|f| f.floor() as i128))
                .map_err(|_| fail(format!("split_total: {n} is not a quantity")))?
        }
        other => return Err(fail(format!("split_total: {other} is not a quantity"))),
    };
    let obj = |unit: Decimal, rounding: Decimal| {
        Val::obj(
            [
                (Val::from("unit_price".to_owned()), string(unit)),
                (Val::from("rounding".to_owned()), string(rounding)),
            ]
            .into_iter()
            .collect(),
        )
    };
    if qty <= 0 {
        return Ok(obj(total, Decimal::ZERO));
    }
    let unit = (units + qty - 1).div_euclid(qty);
    let rounding = unit * qty - units;
    let dec = |u: i128| {
        Decimal::try_from_i128_with_scale(u, scale).map_err(|e| fail(format!("split_total: {e}")))
    };
    Ok(obj(dec(unit)?, dec(rounding)?))
}
