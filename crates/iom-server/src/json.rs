//! The JSON body extractor. It refuses an oversized body before reading it whole (413), tells a
//! body that is not JSON (400) from JSON of the wrong shape (422, naming the field), and keeps the
//! raw bytes for idempotency fingerprints. The body is parsed as JSON whatever content type it
//! declares: clients such as `curl -d` label JSON as a form.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};

use iom_domain::FieldError;
use serde::de::DeserializeOwned;
use serde_json::Value;

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
/// posted without one. Every field of the wrong type is named (422), not only the first.
pub fn parse<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    match parse_lenient(raw)? {
        (value, errors) if errors.is_empty() => Ok(value),
        (_, errors) => Err(ApiError::invalid(errors)),
    }
}

/// A body whose fields of the wrong type do not hide the other errors of the request: those
/// fields read as absent, and the handler's own checks run over the rest before the answer is
/// given (`changes[0].quantity` is not a whole number *and* `changes[3].node` is unknown).
pub struct CheckedJson<T> {
    value: T,
    pub raw: Bytes,
    type_errors: Vec<FieldError>,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CheckedJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let raw = read_body(req, MAX_BODY).await?;
        let (value, type_errors) = parse_lenient(&raw)?;
        Ok(CheckedJson {
            value,
            raw,
            type_errors,
        })
    }
}

impl<T> CheckedJson<T> {
    /// A body built in the server (a web UI form's), with nothing of the wrong type.
    pub fn from_value(value: T) -> Self {
        CheckedJson {
            value,
            raw: Bytes::new(),
            type_errors: Vec::new(),
        }
    }

    /// The value when every field had its type. Otherwise 422 with the type errors and what
    /// `check` finds in the fields that were readable; `check`'s complaints about a field that
    /// had the wrong type (now absent) give way to the type error. The value of a body with type
    /// errors never leaves this function, so nothing is done with it.
    pub fn check(self, check: impl FnOnce(T) -> Vec<FieldError>) -> Result<T, ApiError> {
        if self.type_errors.is_empty() {
            return Ok(self.value);
        }
        let mut errors = self.type_errors;
        let mistyped: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
        let within = |field: &str| {
            mistyped.iter().any(|m| {
                field == m
                    || field
                        .strip_prefix(m.as_str())
                        .is_some_and(|rest| rest.starts_with(['.', '[']))
            })
        };
        errors.extend(check(self.value).into_iter().filter(|e| !within(&e.field)));
        errors.sort_by_cached_key(|e| path_key(&e.field));
        Err(ApiError::invalid(errors))
    }
}

/// Most type errors named in one answer.
const MAX_TYPE_ERRORS: usize = 100;

/// The body's value and the fields whose type was wrong; those fields are absent (null) from the
/// value. 400 for a body that is not JSON; a type error the value cannot be read without (the
/// body itself of the wrong type, a required field) is a 422 of its own.
fn parse_lenient<T: DeserializeOwned>(raw: &[u8]) -> Result<(T, Vec<FieldError>), ApiError> {
    let raw: &[u8] = if raw.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        raw
    };
    let not_json =
        |e: serde_json::Error| ApiError::bad_request(format!("the body is not valid JSON: {e}"));
    let mut de = serde_json::Deserializer::from_slice(raw);
    let first = serde_path_to_error::deserialize(&mut de);
    let value = match first {
        Ok(value) => {
            de.end().map_err(not_json)?;
            value
        }
        Err(e) if e.inner().classify() == serde_json::error::Category::Data => {
            // Read it as a tree, then null out each mistyped field in turn until it reads.
            let mut tree: Value = serde_json::from_slice(raw).map_err(not_json)?;
            let mut errors = Vec::new();
            loop {
                let e = match serde_path_to_error::deserialize::<_, T>(&tree) {
                    Ok(value) => {
                        refuse_nul(raw)?;
                        return Ok((value, errors));
                    }
                    Err(e) => e,
                };
                let field = field_name(e.path());
                let message = e.inner().to_string();
                let repeated = errors.iter().any(|f: &FieldError| f.field == field);
                if !repeated {
                    errors.push(FieldError::new(field, message));
                }
                if repeated || errors.len() >= MAX_TYPE_ERRORS || !null_out(&mut tree, e.path()) {
                    return Err(ApiError::invalid(errors));
                }
            }
        }
        Err(e) => return Err(not_json(e.into_inner())),
    };
    refuse_nul(raw)?;
    Ok((value, Vec::new()))
}

/// The JSON path serde_path_to_error reports, as field errors name it (`lines[0].sku`; the
/// body itself is `body`).
fn field_name(path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    if path == "." { "body".to_owned() } else { path }
}

/// Sets the value at `path` to null; false when the path cannot be followed (the body itself,
/// an enum's variant).
fn null_out(tree: &mut Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            _ => return false,
        }
    }
    match tree.pointer_mut(&pointer) {
        Some(at) if !pointer.is_empty() && !at.is_null() => {
            *at = Value::Null;
            true
        }
        _ => false,
    }
}

/// Orders field errors by their path, entry numbers as numbers (`lines[2]` before `lines[10]`).
fn path_key(field: &str) -> Vec<(String, usize)> {
    field
        .split(['.', '['])
        .map(
            |part| match part.strip_suffix(']').and_then(|n| n.parse().ok()) {
                Some(index) => (String::new(), index),
                None => (part.to_owned(), 0),
            },
        )
        .collect()
}

/// PostgreSQL cannot store U+0000 in text, so a string holding it is refused on every backend
/// alike (422 at its JSON path) before anything is written. JSON can only carry it escaped, so
/// the body is walked only when the escape appears in it.
fn refuse_nul(raw: &[u8]) -> Result<(), ApiError> {
    if !raw.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<Value>(raw) else {
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
fn nul_at(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
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
