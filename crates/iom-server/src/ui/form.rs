//! Forms that show what the API refused beside the field it names. A form posts, the UI calls the
//! API's handler; when the answer is a refusal of the input (400, 409, 422) the same form is drawn
//! again with what was typed and each error at its field (status 422, nothing changed), and any
//! other refusal (403, 404) is a page of its own.

use axum::http::StatusCode;
use iom_domain::FieldError;
use maud::{Markup, html};

use super::{UiError, UiResult};
use crate::error::{ApiError, ApiResult};

/// What the API said about a form's input: a general message and the errors by field.
#[derive(Debug, Default)]
pub struct Errors {
    pub detail: Option<String>,
    pub fields: Vec<FieldError>,
}

impl Errors {
    pub fn none() -> Errors {
        Errors::default()
    }

    /// The messages at `field` and at the fields inside it (`costs` shows `costs.per_unit`).
    pub fn messages(&self, field: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| {
                f.field == field
                    || f.field
                        .strip_prefix(field)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            })
            .map(|f| f.message.as_str())
            .collect()
    }

    /// The errors of `field`, to put beside its input.
    pub fn at(&self, field: &str) -> Markup {
        let messages = self.messages(field);
        html! {
            @for m in messages { span.field-error role="alert" data-field=(field) { (m) } }
        }
    }

    /// The banner above the form: the API's detail, and the errors no input on the form shows.
    pub fn banner(&self, shown: &[&str]) -> Markup {
        let unplaced: Vec<&FieldError> = self
            .fields
            .iter()
            .filter(|f| {
                !shown.iter().any(|s| {
                    f.field == *s
                        || f.field
                            .strip_prefix(s)
                            .is_some_and(|r| r.starts_with('.') || r.starts_with('['))
                })
            })
            .collect();
        html! {
            @if let Some(detail) = &self.detail {
                p.flash.error role="alert" { (detail)
                    @for f in &unplaced { " (" code { (f.field) } ": " (f.message) ")" }
                }
            }
        }
    }
}

/// Splits the API's answer: `Ok(Ok(v))` done, `Ok(Err(errors))` the input was refused and the
/// form is drawn again, `Err` anything else (not allowed, not found, the server failing).
pub fn outcome<T>(result: ApiResult<T>) -> UiResult<Result<T, Errors>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(e) if refuses_input(&e) => Ok(Err(Errors {
            detail: Some(e.problem.detail.clone()),
            fields: e.problem.errors.clone(),
        })),
        Err(e) => Err(UiError::from(e)),
    }
}

fn refuses_input(e: &ApiError) -> bool {
    matches!(
        e.status(),
        StatusCode::BAD_REQUEST | StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
    )
}

/// A form drawn again with its errors answers 422, so that a client (and a test) can tell it
/// from a page shown for the first time.
pub fn refused(page: axum::response::Response) -> axum::response::Response {
    let mut page = page;
    *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    page
}

/// Trimmed text, `None` when empty.
pub fn opt(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The value of `name` among a posted form's pairs ("" when absent).
pub fn value<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// A number typed in a field, as JSON: a number when it reads as one (an integer first), else the
/// text as typed, so the API names the field and says what it must be.
pub fn number(text: &str) -> serde_json::Value {
    let text = text.trim();
    text.parse::<i64>()
        .map(serde_json::Value::from)
        .or_else(|_| text.parse::<f64>().map(serde_json::Value::from))
        .unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_shows_at_its_field_and_the_fields_inside_it() {
        let errors = Errors {
            detail: Some("invalid".into()),
            fields: vec![
                FieldError::new("costs.per_unit", "must not be negative"),
                FieldError::new("lines[0].quantity", "too many"),
                FieldError::new("name", "is required"),
            ],
        };
        assert_eq!(errors.messages("costs"), vec!["must not be negative"]);
        assert_eq!(errors.messages("lines[0]"), vec!["too many"]);
        assert_eq!(errors.messages("lines[1]"), Vec::<&str>::new());
        assert_eq!(errors.messages("nam"), Vec::<&str>::new());
        let banner = errors.banner(&["costs", "lines"]).into_string();
        assert!(banner.contains("is required"), "{banner}");
        assert!(!banner.contains("too many"), "{banner}");
    }
}
