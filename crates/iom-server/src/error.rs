//! The one error type of the HTTP layer. Every error leaves as `application/problem+json`
//! (RFC 9457); a 500 is logged with its cause and answered without internals.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iom_domain::{DomainError, FieldError};
use iom_store::StoreError;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Further members specific to the problem, e.g. `existing_id` on a duplicate order.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

#[derive(Debug)]
pub struct ApiError {
    /// Boxed: errors travel through every handler's `Result`, which should stay small.
    pub problem: Box<Problem>,
    /// Logged, never sent.
    cause: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Self {
        Self {
            problem: Box::new(Problem {
                kind: format!("urn:iom:problem:{kind}"),
                title: status.canonical_reason().unwrap_or("Error").to_owned(),
                status: status.as_u16(),
                detail: detail.into(),
                errors: Vec::new(),
                extra: Map::new(),
            }),
            cause: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed-request", detail)
    }

    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail);
        e.problem.errors = errors;
        e
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError::new(field, message)])
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request",
        );
        e.cause = Some(cause.to_string());
        e
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.problem.extra.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// What went wrong inside, for the log; never shown to the caller.
    pub fn cause(&self) -> Option<&str> {
        self.cause.as_deref()
    }

    pub fn body(&self) -> String {
        serde_json::to_string(&self.problem).unwrap_or_default()
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => ApiError::invalid(errors),
            DomainError::Conflict(detail) => ApiError::conflict(detail),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} does not exist")),
            StoreError::Domain(d) => d.into(),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(%cause, "request failed");
        }
        let status = self.status();
        let mut response = (status, self.body()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<iom_app::fulfillment::SetupError> for ApiError {
    fn from(e: iom_app::fulfillment::SetupError) -> Self {
        match e {
            iom_app::fulfillment::SetupError::Store(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

/// Answers every API error as problem+json, whoever wrote it: the extractors of the web framework
/// (a query string or path segment of the wrong type, a method the path does not take, a body
/// over the limit) answer in plain text, so their answer is rewritten here, in one place,
/// keeping its status and its words. A query string's parameter is named as the field.
pub async fn problem_for_plain_errors(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = match axum::body::to_bytes(response.into_body(), 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let kind = match status {
        StatusCode::BAD_REQUEST => "malformed-request",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation",
        StatusCode::NOT_FOUND => "not-found",
        _ if status.is_server_error() => "internal",
        _ => "error",
    };
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        text.clone()
    };
    let mut error = ApiError::new(status, kind, detail);
    // axum's query rejection reads "Failed to deserialize query string: FIELD: MESSAGE".
    if let Some((field, message)) = text
        .strip_prefix("Failed to deserialize query string: ")
        .and_then(|rest| rest.split_once(": "))
    {
        error.problem.errors = vec![FieldError::new(field, message)];
    }
    let mut response = error.into_response();
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

impl From<iom_app::people::PeopleError> for ApiError {
    fn from(e: iom_app::people::PeopleError) -> Self {
        use iom_app::people::PeopleError;
        match e {
            PeopleError::Invalid { field, message } => ApiError::invalid_field(field, message),
            PeopleError::NotFound(_) => ApiError::not_found(e.to_string()),
            PeopleError::Exists(_) => ApiError::conflict(e.to_string()),
            PeopleError::BadCredentials => ApiError::unauthorized(),
            PeopleError::TooManyAttempts => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-attempts",
                e.to_string(),
            ),
            PeopleError::OidcNotConfigured => ApiError::not_found(e.to_string()),
            PeopleError::Oidc(_) | PeopleError::NotAUser(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "sign-in-refused", e.to_string())
            }
            PeopleError::Store(s) => s.into(),
            PeopleError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
