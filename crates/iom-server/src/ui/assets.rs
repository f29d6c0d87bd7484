//! The stylesheet and the script, compiled into the binary.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("assets/ui.css");
const JS: &str = include_str!("assets/ui.js");
const EDITOR_CSS: &str = include_str!("assets/editor.css");
const EDITOR_JS: &str = include_str!("assets/editor.js");

/// The version in the URL makes a new release's assets bypass what browsers cached.
pub const CSS_URL: &str = concat!("/ui/static/ui.css?v=", env!("CARGO_PKG_VERSION"));
pub const JS_URL: &str = concat!("/ui/static/ui.js?v=", env!("CARGO_PKG_VERSION"));
/// The definition editor's (flows and policies), loaded by its pages only.
pub const EDITOR_CSS_URL: &str = concat!("/ui/static/editor.css?v=", env!("CARGO_PKG_VERSION"));
pub const EDITOR_JS_URL: &str = concat!("/ui/static/editor.js?v=", env!("CARGO_PKG_VERSION"));

pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "ui.css" => (CSS, "text/css; charset=utf-8"),
        "ui.js" => (JS, "text/javascript; charset=utf-8"),
        "editor.css" => (EDITOR_CSS, "text/css; charset=utf-8"),
        "editor.js" => (EDITOR_JS, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}
