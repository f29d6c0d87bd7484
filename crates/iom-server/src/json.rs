//! The JSON body extractor. It refuses an oversized body before reading it whole (413), tells a
//! body that is not JSON (400) from JSON of the wrong shape (422, naming the field), and keeps the
//! raw bytes for idempotency fingerprints. The body is parsed as JSON whatever content type it
//! declares: clients such as `curl -d` label JSON as a form.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};

use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body accepted anywhere in the API.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

pub struct ApiJson<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let raw = read_body(req, MAX_BODY).await?;
        let value = parse(&raw)?;
        Ok(ApiJson { value, raw })
    }
}

/// Reads at most `limit` bytes: a declared length above it is refused unread, and an undeclared
/// one is cut off as soon as it passes the limit.
pub async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    axum::body::to_bytes(Body::new(req.into_body()), limit)
        .await
        .map_err(|_| too_large(limit))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        format!("the request body is larger than {limit} bytes"),
    )
}

/// Parses JSON; an empty body reads as `{}` so that actions whose fields are all optional can be
/// posted without one.
pub fn parse<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let raw: &[u8] = if raw.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        raw
    };
    let mut de = serde_json::Deserializer::from_slice(raw);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::invalid_field(
                if path == "." { "body".to_owned() } else { path },
                inner.to_string(),
            ),
            _ => ApiError::bad_request(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    refuse_nul(raw)?;
    Ok(value)
}

/// PostgreSQL cannot store U+0000 in text, so a string holding it is refused on every backend
/// alike (422 at its JSON path) before anything is written. JSON can only carry it escaped, so
/// the body is walked only when the escape appears in it.
fn refuse_nul(raw: &[u8]) -> Result<(), ApiError> {
    if !raw.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(raw) else {
        return Ok(());
    };
    match nul_at(&value, String::new()) {
        Some(path) => Err(ApiError::invalid_field(
            if path.is_empty() {
                "body".to_owned()
            } else {
                path
            },
            "must not contain the NUL character (U+0000)",
        )),
        None => Ok(()),
    }
}

/// The JSON path (`lines[0].sku`, as the other field errors name it) of the first string or key
/// holding U+0000.
fn nul_at(value: &serde_json::Value, path: String) -> Option<String> {
    match value {
        serde_json::Value::String(s) => s.contains('\0').then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, format!("{path}[{i}]"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            let path = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(path)
            } else {
                nul_at(v, path)
            }
        }),
        _ => None,
    }
}

/// A definition (a flow, a policy) sent as YAML or JSON: its text and `"json"` or `"yaml"`, by
/// the declared content type, or by the text when the type names neither. `what` names it in
/// the 400 for a body that is not UTF-8.
pub async fn read_definition(req: Request, what: &str) -> Result<(String, &'static str), ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let raw = read_body(req, MAX_BODY).await?;
    let text = String::from_utf8(raw.to_vec())
        .map_err(|_| ApiError::bad_request(format!("the {what} is not UTF-8 text")))?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("the body is empty"));
    }
    let format = if declared.contains("json")
        || (!declared.contains("yaml") && text.trim_start().starts_with('{'))
    {
        "json"
    } else {
        "yaml"
    };
    Ok((text, format))
}
