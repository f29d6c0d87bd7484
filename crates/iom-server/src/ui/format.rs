//! How values read on a page.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use iom_domain::Currency;
use maud::{Markup, html};
use rust_decimal::{Decimal, RoundingStrategy};

/// An amount as people read it: rounded to the currency's minor unit (2 places for USD, 0 for
/// JPY, 3 for KWD), thousands grouped, then the code: `3,947.80 USD`. An unknown code keeps 2.
pub fn money(amount: Decimal, currency: &str) -> String {
    let places = Currency::parse(currency).map_or(2, |c| c.decimals());
    let rounded = amount.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    let text = format!("{:.*}", places as usize, rounded.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let mut grouped = String::with_capacity(text.len() + whole.len() / 3 + 6);
    if rounded.is_sign_negative() && !rounded.is_zero() {
        grouped.push('-');
    }
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if !fraction.is_empty() {
        grouped.push('.');
        grouped.push_str(fraction);
    }
    format!("{grouped} {currency}")
}

tokio::task_local! {
    /// The time zone of the person the page is for, for the whole of a request.
    static ZONE: Tz;
}

/// The cookie in which the browser's script leaves its IANA time zone (`Europe/Paris`).
pub const ZONE_COOKIE: &str = "iom_tz";

/// Renders what `work` renders with times in `zone`.
pub async fn in_zone<F: std::future::Future>(zone: Tz, work: F) -> F::Output {
    ZONE.scope(zone, work).await
}

/// The zone of the request being answered; UTC outside one, or when the browser never said.
pub fn zone() -> Tz {
    ZONE.try_with(|z| *z).unwrap_or(Tz::UTC)
}

/// A time to the second in the reader's zone (named), the UTC instant kept in `datetime` and
/// shown on hover.
/// An amount given as a decimal string (as JSON carries money), read as [`money`] reads; what
/// is not a number is shown as it is.
pub fn money_text(amount: &str, currency: &str) -> String {
    amount
        .trim()
        .parse::<Decimal>()
        .map_or_else(|_| amount.to_owned(), |a| money(a, currency))
}

/// An RFC 3339 time given as text (as JSON carries it), shown as [`time`] shows it.
pub fn time_str(at: &str) -> Markup {
    match DateTime::parse_from_rfc3339(at) {
        Ok(t) => time(t.with_timezone(&Utc)),
        Err(_) => html! { (at) },
    }
}

pub fn time(at: DateTime<Utc>) -> Markup {
    let local = at.with_timezone(&zone());
    let utc = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    html! { time datetime=(utc) title=(utc) { (local.format("%Y-%m-%d %H:%M:%S %Z")) } }
}

/// A short label of a time in the reader's zone (`12-07 14:00`), for chart axes.
pub fn time_text(at: DateTime<Utc>) -> String {
    at.with_timezone(&zone()).format("%m-%d %H:%M").to_string()
}

/// A status as a coloured badge; the class is the status itself.
pub fn badge(status: &str) -> Markup {
    html! { span class={ "badge s-" (status) } { (status.replace('_', " ")) } }
}

/// A query string from non-empty pairs, with a leading `?` (or nothing).
pub fn query(pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
    }
}

/// A path segment, percent-encoded.
pub fn segment(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .unwrap_or_default()
        .trim_start_matches('=')
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_drops_empty_values_and_encodes() {
        assert_eq!(
            super::query(&[("q", "a b&c"), ("status", "")]),
            "?q=a+b%26c"
        );
        assert_eq!(super::query(&[("q", "")]), "");
    }

    #[test]
    fn money_keeps_the_currency_minor_unit_and_groups_thousands() {
        let dec = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
        assert_eq!(super::money(dec("3947.798232"), "USD"), "3,947.80 USD");
        assert_eq!(super::money(dec("1234567.5"), "JPY"), "1,234,568 JPY");
        assert_eq!(super::money(dec("-0.0005"), "KWD"), "-0.001 KWD");
        assert_eq!(super::money(dec("-0.0004"), "KWD"), "0.000 KWD");
        assert_eq!(super::money(dec("999.999"), "EUR"), "1,000.00 EUR");
        assert_eq!(super::money(dec("12"), "ABC"), "12.00 ABC");
    }

    #[tokio::test]
    async fn times_are_shown_in_the_reader_zone_to_the_second() {
        let at = "2026-12-07T21:05:09.123456789Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap();
        let utc = super::time(at).into_string();
        assert!(utc.contains(">2026-12-07 21:05:09 UTC<"), "{utc}");
        assert!(utc.contains("datetime=\"2026-12-07T21:05:09Z\""), "{utc}");
        let paris = super::in_zone(chrono_tz::Europe::Paris, async { super::time(at) })
            .await
            .into_string();
        assert!(paris.contains(">2026-12-07 22:05:09 CET<"), "{paris}");
    }

    #[test]
    fn segment_encodes_slashes_and_spaces() {
        assert_eq!(super::segment("SKU 1/2"), "SKU%201%2F2");
    }
}
