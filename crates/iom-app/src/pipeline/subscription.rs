//! Checking a webhook subscription's definition: the one place that decides what
//! `PUT /api/v1/subscriptions/{name}` and `iom config import` accept.

use iom_domain::FieldError;

/// Every invalid field of a subscription: its name, an http(s) `url`, at least one event type or
/// prefix, and a `secret` of at least 16 characters (`None`: the secret is not given here and
/// the stored one is kept).
pub fn check(name: &str, url: &str, types: &[String], secret: Option<&str>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !super::instance::valid_name(name) {
        errors.push(FieldError::new(
            "name",
            "1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    if reqwest::Url::parse(url)
        .map(|u| !matches!(u.scheme(), "http" | "https"))
        .unwrap_or(true)
    {
        errors.push(FieldError::new("url", "must be an http(s) URL"));
    }
    if types.is_empty() || types.iter().any(|t| t.trim().is_empty()) {
        errors.push(FieldError::new(
            "types",
            "must list at least one type or prefix",
        ));
    }
    if secret.is_some_and(|s| s.len() < 16) {
        errors.push(FieldError::new("secret", "must be at least 16 characters"));
    }
    errors
}
