//! Signing in to the web UI, with e-mail and password or through an OpenID Connect issuer. The
//! browser keeps an opaque session id (never an API token) in a cookie that scripts cannot read
//! (`HttpOnly`), that no other site's page sends (`SameSite=Strict`), and, off the loopback
//! interface, only over HTTPS (`Secure`). The session lives in the store (`iom_app::people`):
//! every request reads it through [`crate::auth::SessionCache`], so signing out or disabling the
//! user ends it in every process within a second (here at once).
//!
//! Forms carry a CSRF token derived from the session id (HMAC-SHA256 keyed with it): an attacker
//! who cannot read the cookie cannot compute it, and any process of a deployment accepts it.

use axum::Form;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
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
use iom_app::people::PeopleError;

pub const SESSION_COOKIE: &str = "iom_session";
pub const FLASH_COOKIE: &str = "iom_flash";

/// A message shown once on the next page, after a form's redirect.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

/// The signed-in caller of a page.
pub struct Session {
    pub principal: Principal,
    /// The id in the cookie, which names the session in the store.
    pub session_id: String,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// Whether cookies set for this browser need the `Secure` attribute.
    pub secure: bool,
    /// The last event committed before this request read anything (pages only): a page's live
    /// stream starts after it, so an event committed while the page was rendered or loading is
    /// still pushed to it.
    pub seen_seq: Option<i64>,
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
        let session_id = read_cookie(&parts.headers, SESSION_COOKIE)
            .ok_or_else(|| UiError::SignIn { next: next.clone() })?;
        let principal = match state
            .sessions
            .authenticate(&state.people, &session_id)
            .await
        {
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
        let seen_seq = if parts.method == Method::GET {
            Some(state.store.last_event_seq().await.map_err(ApiError::from)?)
        } else {
            None
        };
        Ok(Session {
            principal,
            csrf: csrf_token(&session_id),
            session_id,
            flash,
            secure: needs_secure(&parts.headers),
            seen_seq,
        })
    }
}

/// The CSRF token of a session: HMAC-SHA256 of a fixed label, keyed with the session id.
pub fn csrf_token(session_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(session_id.as_bytes()).expect("any key length");
    mac.update(b"iom web ui csrf");
    hex::encode(mac.finalize().into_bytes())
}

pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
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
    pub email: String,
    #[serde(default)]
    pub password: String,
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

/// The caller's address (as the listener saw it), which failed sign-ins are counted by.
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        ))
    }
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    Query(query): Query<SignInQuery>,
) -> Response {
    sign_in_form(
        &state,
        query.next.as_deref().unwrap_or("/ui"),
        "",
        None,
        StatusCode::OK,
    )
}

fn sign_in_form(
    state: &AppState,
    next: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let next = safe_next(next);
    let oidc = state.people.oidc_issuer().map(|issuer| {
        let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
        (issuer.to_owned(), format!("/ui/sign-in/oidc?{query}"))
    });
    let body = html! {
        main.signin {
            h1 { "Sign in to iom" }
            @if let Some(error) = error { p.flash.error role="alert" { (error) } }
            form method="post" action="/ui/sign-in" {
                input type="hidden" name="next" value=(next);
                label for="email" { "E-mail" }
                input #email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
            @if let Some((issuer, href)) = oidc {
                p { a.button href=(href) { "Sign in with " (issuer) } }
            }
            p.hint { "An admin creates users and their roles (admin, operator, service, viewer) with "
                code { "iom user create" } "." }
        }
    };
    (status, layout::bare("Sign in", body)).into_response()
}

/// The session cookie lasts as long as the session in the store.
fn session_seconds(state: &AppState) -> i64 {
    i64::try_from(state.people.settings.session_lifetime.as_secs()).unwrap_or(i64::MAX)
}

/// A 303 to `next` that carries a new session's cookie.
fn signed_in(state: &AppState, next: &str, session_id: String, secure: bool) -> Response {
    let mut response = Redirect::to(safe_next(next)).into_response();
    set_cookie(
        &mut response,
        cookie(SESSION_COOKIE, session_id, session_seconds(state), secure),
    );
    response
}

pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = safe_next(&form.next).to_owned();
    let email = form.email.trim();
    if email.is_empty() || form.password.is_empty() {
        return sign_in_form(
            &state,
            &next,
            email,
            Some("Enter your e-mail and password."),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let user = match state
        .people
        .sign_in_with_password(email, &form.password, client.as_deref())
        .await
    {
        Ok(user) => user,
        Err(PeopleError::BadCredentials) => {
            return sign_in_form(
                &state,
                &next,
                email,
                Some("The e-mail or the password is not right."),
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(PeopleError::TooManyAttempts) => {
            return sign_in_form(
                &state,
                &next,
                email,
                Some("Too many failed sign-ins. Wait a minute, then try again."),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Err(e) => return UiError::Api(e.into()).into_response(),
    };
    match state.people.start_session(&user).await {
        Ok(id) => signed_in(&state, &next, id, needs_secure(&headers)),
        Err(e) => UiError::Api(e.into()).into_response(),
    }
}

/// The cookie that ties an OpenID Connect sign-in to the browser that began it, so that nobody
/// can complete their own sign-in in someone else's browser. `SameSite=Lax`: it must come back
/// with the issuer's redirect, a top-level navigation from another site.
const OIDC_STATE_COOKIE: &str = "iom_oidc_state";

/// This server's callback address for the issuer, as the browser reaches it.
fn oidc_redirect_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| p.eq_ignore_ascii_case("https"))
        .map_or("http", |_| "https");
    format!("{scheme}://{host}/ui/sign-in/oidc/callback")
}

/// `GET /ui/sign-in/oidc`: off to the issuer.
pub async fn oidc_begin(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SignInQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref().unwrap_or("/ui")).to_owned();
    match state
        .people
        .begin_oidc_sign_in(&oidc_redirect_url(&headers), &next)
        .await
    {
        Ok((url, state_token)) => {
            let mut response = Redirect::to(&url).into_response();
            let binding = Cookie::build((OIDC_STATE_COOKIE, state_token))
                .path("/ui/sign-in/oidc")
                .http_only(true)
                .same_site(SameSite::Lax)
                .secure(needs_secure(&headers))
                .max_age(cookie::time::Duration::minutes(10))
                .build();
            set_cookie(&mut response, binding);
            response
        }
        Err(e) => sign_in_form(
            &state,
            &next,
            "",
            Some(&e.to_string()),
            ApiError::from(e).status(),
        ),
    }
}

#[derive(Deserialize)]
pub struct OidcCallback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// `GET /ui/sign-in/oidc/callback`: the issuer sends the browser back with a code.
pub async fn oidc_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<OidcCallback>,
) -> Response {
    let refuse =
        |text: &str, status: StatusCode| sign_in_form(&state, "/ui", "", Some(text), status);
    if let Some(error) = &query.error {
        let detail = query.error_description.as_deref().unwrap_or(error);
        return refuse(
            &format!("The identity provider refused: {detail}"),
            StatusCode::FORBIDDEN,
        );
    }
    let (Some(state_token), Some(code)) = (&query.state, &query.code) else {
        return refuse(
            "The identity provider's answer has no state or code.",
            StatusCode::BAD_REQUEST,
        );
    };
    let bound = read_cookie(&headers, OIDC_STATE_COOKIE)
        .is_some_and(|c| bool::from(c.as_bytes().ct_eq(state_token.as_bytes())));
    if !bound {
        return refuse(
            "This sign-in was not started in this browser; start again.",
            StatusCode::FORBIDDEN,
        );
    }
    let (user, next) = match state
        .people
        .complete_oidc_sign_in(&oidc_redirect_url(&headers), state_token, code)
        .await
    {
        Ok(done) => done,
        Err(e) => {
            if matches!(e, PeopleError::Store(_) | PeopleError::Internal(_)) {
                return UiError::Api(e.into()).into_response();
            }
            return refuse(&e.to_string(), StatusCode::FORBIDDEN);
        }
    };
    let session_id = match state.people.start_session(&user).await {
        Ok(id) => id,
        Err(e) => return UiError::Api(e.into()).into_response(),
    };
    // The browser arrives here from the issuer's site, so a `SameSite=Strict` cookie set now
    // would not come along on a redirect; a page of our own that moves on is a same-site
    // navigation, which sends it.
    let next = safe_next(&next).to_owned();
    let body = html! {
        main.signin {
            meta http-equiv="refresh" content=(format!("0;url={next}"));
            h1 { "Signed in" }
            p { a href=(next) { "Continue" } }
        }
    };
    let mut response = (StatusCode::OK, layout::bare("Signed in", body)).into_response();
    let secure = needs_secure(&headers);
    set_cookie(
        &mut response,
        cookie(SESSION_COOKIE, session_id, session_seconds(&state), secure),
    );
    let clear = Cookie::build((OIDC_STATE_COOKIE, ""))
        .path("/ui/sign-in/oidc")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    set_cookie(&mut response, clear);
    response
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// Ends the session in the store (every process refuses it from now on) and clears the cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<CsrfForm>,
) -> Result<Response, UiError> {
    session.verify(&form.csrf)?;
    state
        .people
        .end_session(&session.session_id)
        .await
        .map_err(|e| UiError::Api(e.into()))?;
    state.sessions.clear();
    let mut response = Redirect::to("/ui/sign-in").into_response();
    set_cookie(
        &mut response,
        cookie(SESSION_COOKIE, String::new(), 0, session.secure),
    );
    Ok(response)
}
