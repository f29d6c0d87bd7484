//! Signing in to the web UI. The browser keeps the API token it signed in with in a cookie that
//! scripts cannot read (`HttpOnly`), that no other site's page sends (`SameSite=Strict`), and, off
//! the loopback interface, only over HTTPS (`Secure`). Every request authenticates that token
//! exactly as the API does, so roles, revocation and their cache are the API's own.
//!
//! Forms carry a CSRF token derived from the session's token (HMAC-SHA256 keyed with it): an
//! attacker who cannot read the cookie cannot compute it, and the server keeps no session state,
//! so any process of a deployment accepts it and a restart signs no one out.

use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use maud::html;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::UiError;
use super::layout;
use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "iom_session";
pub const FLASH_COOKIE: &str = "iom_flash";
/// A signed-in browser stays signed in for 12 hours.
const SESSION_SECONDS: i64 = 12 * 3600;

/// A message shown once on the next page, after a form's redirect.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

/// The signed-in caller of a page.
pub struct Session {
    pub principal: Principal,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// Whether cookies set for this browser need the `Secure` attribute.
    pub secure: bool,
}

impl Session {
    pub fn can(&self, access: Access) -> bool {
        access.allowed(self.principal.role)
    }

    /// Checks a form's CSRF token (in constant time).
    pub fn verify(&self, csrf: &str) -> Result<(), UiError> {
        if bool::from(self.csrf.as_bytes().ct_eq(csrf.as_bytes())) {
            Ok(())
        } else {
            Err(UiError::Api(ApiError::forbidden(
                "the form is not from this session; reload the page and try again",
            )))
        }
    }

    /// A 303 to `to` that shows `flash` there.
    pub fn redirect(&self, to: &str, flash: Flash) -> Response {
        let mut response = Redirect::to(to).into_response();
        let value = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&flash).unwrap_or_default());
        set_cookie(&mut response, cookie(FLASH_COOKIE, value, 60, self.secure));
        response
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let next = parts
            .uri
            .path_and_query()
            .map_or("/ui", |p| p.as_str())
            .to_owned();
        let token = read_cookie(&parts.headers, SESSION_COOKIE)
            .ok_or_else(|| UiError::SignIn { next: next.clone() })?;
        let principal = match state.tokens.authenticate(&state.store, &token).await {
            Ok(p) => p,
            Err(e) if e.status() == StatusCode::UNAUTHORIZED => {
                return Err(UiError::SignIn { next });
            }
            Err(e) => return Err(UiError::Api(e)),
        };
        iom_store::acting::set(principal.actor());
        let flash = read_cookie(&parts.headers, FLASH_COOKIE)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        Ok(Session {
            principal,
            csrf: csrf_token(&token),
            flash,
            secure: needs_secure(&parts.headers),
        })
    }
}

/// The CSRF token of a session: HMAC-SHA256 of a fixed label, keyed with the session's API token.
pub fn csrf_token(token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(b"iom web ui csrf");
    hex::encode(mac.finalize().into_bytes())
}

fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse_encoded)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// Browsers keep `Secure` cookies only from secure origins, which include the loopback
/// interface; a request through a TLS-terminating proxy says so in `X-Forwarded-Proto`. Plain HTTP
/// to any other host gets no session cookie it could leak: put TLS in front of such a deployment.
fn needs_secure(headers: &HeaderMap) -> bool {
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    if forwarded_https {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    // Loopback over plain HTTP: a browser treats it as a secure origin, while command-line
    // clients (and the plain-HTTP tests) may not send `Secure` cookies to it.
    !(name == "localhost" || name == "[::1]" || name.starts_with("127."))
}

fn cookie(name: &'static str, value: String, max_age: i64, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/ui")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

pub fn set_cookie(response: &mut Response, cookie: Cookie<'static>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.encoded().to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Removes the flash message once a page showed it.
pub fn clear_flash(response: &mut Response, secure: bool) {
    set_cookie(response, cookie(FLASH_COOKIE, String::new(), 0, secure));
}

#[derive(Deserialize, Default)]
pub struct SignInQuery {
    pub next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub next: String,
}

/// Where to go after signing in: only a page of the UI, never another site.
fn safe_next(next: &str) -> &str {
    if next.starts_with("/ui") && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/ui"
    }
}

pub async fn sign_in_page(Query(query): Query<SignInQuery>) -> Response {
    sign_in_form(query.next.as_deref().unwrap_or("/ui"), None, StatusCode::OK)
}

fn sign_in_form(next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        main.signin {
            h1 { "Sign in to iom" }
            @if let Some(error) = error { p.flash.error role="alert" { (error) } }
            form method="post" action="/ui/sign-in" {
                input type="hidden" name="next" value=(safe_next(next));
                label for="token" { "API token" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                button type="submit" { "Sign in" }
            }
            p.hint { "Any API token works; what you can do follows its role (admin, operator, integration, viewer). "
                "Create one with " code { "iom token create" } "." }
        }
    };
    (status, layout::bare("Sign in", body)).into_response()
}

pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let token = form.token.trim();
    let next = safe_next(&form.next).to_owned();
    if token.is_empty() {
        return sign_in_form(
            &next,
            Some("Enter an API token."),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match state.tokens.authenticate(&state.store, token).await {
        Ok(_) => {
            let mut response = Redirect::to(&next).into_response();
            set_cookie(
                &mut response,
                cookie(
                    SESSION_COOKIE,
                    token.to_owned(),
                    SESSION_SECONDS,
                    needs_secure(&headers),
                ),
            );
            response
        }
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => sign_in_form(
            &next,
            Some("This token is not valid."),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => UiError::Api(e).into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn sign_out(session: Session, Form(form): Form<CsrfForm>) -> Result<Response, UiError> {
    session.verify(&form.csrf)?;
    let mut response = Redirect::to("/ui/sign-in").into_response();
    set_cookie(
        &mut response,
        cookie(SESSION_COOKIE, String::new(), 0, session.secure),
    );
    Ok(response)
}
