//! How values read on a page.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

pub fn time(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M")) } }
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
    fn segment_encodes_slashes_and_spaces() {
        assert_eq!(super::segment("SKU 1/2"), "SKU%201%2F2");
    }
}
