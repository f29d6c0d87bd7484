//! The web UI: server-rendered HTML (maud templates compiled into the binary), a stylesheet and a
//! small script embedded in it, nothing to build with Node. Every page works with JavaScript
//! disabled: filters are GET forms, actions are POST forms answered with a redirect (303) to the
//! page they came from, carrying a one-time message. The script only refreshes live pages.
//!
//! Pages read through the same store queries as the API, and actions call the API's own handlers
//! with the signed-in user's principal, so the UI can do exactly what the API allows that role.

mod alert_form;
mod alerts;
mod assets;
mod attention;
mod audit;
mod charts;
mod dashboard;
mod editor;
mod flow_editor;
mod flows;
mod form;
mod format;
mod inventory;
mod layout;
mod lists;
mod live;
mod node_form;
mod nodes;
mod notifications;
mod order_edit;
mod order_form;
mod order_list;
mod orders;
mod payment;
mod policy_editor;
mod profiles;
mod provider_form;
mod providers;
mod return_new;
mod return_page;
mod returns;
pub mod session;
mod shipping;
mod subscription_form;
mod tasks;
mod users;

use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use session::{Flash, Session};

/// Why a page could not be shown.
#[derive(Debug)]
pub enum UiError {
    /// Not signed in (or the token is no longer valid): sign in, then come back to `next`.
    SignIn { next: String },
    /// What the API would have answered, shown as a page.
    Api(ApiError),
}

pub type UiResult<T> = Result<T, UiError>;

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        if e.status() == StatusCode::UNAUTHORIZED {
            UiError::SignIn { next: "/ui".into() }
        } else {
            UiError::Api(e)
        }
    }
}

impl From<iom_store::StoreError> for UiError {
    fn from(e: iom_store::StoreError) -> Self {
        UiError::Api(e.into())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn { next } => {
                let query =
                    serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
                Redirect::to(&format!("/ui/sign-in?{query}")).into_response()
            }
            UiError::Api(e) => {
                let status = e.status();
                let problem = &e.problem;
                let title = match status {
                    StatusCode::FORBIDDEN => "Not allowed",
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::CONFLICT => "Not possible now",
                    StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => "Invalid request",
                    _ => "Something went wrong",
                };
                if let Some(cause) = e.cause() {
                    tracing::error!(%cause, "page failed");
                }
                let body = html! {
                    main.error {
                        h1 { (status.as_u16()) " · " (title) }
                        p { (problem.detail) }
                        @if !problem.errors.is_empty() {
                            ul { @for f in &problem.errors { li { code { (f.field) } ": " (f.message) } } }
                        }
                        p { a href="/ui" { "Back to the dashboard" } }
                    }
                };
                (status, layout::bare(title, body)).into_response()
            }
        }
    }
}

/// After an action: back to `to` with a message saying what happened. A refusal for lack of
/// rights or an unknown resource is a page of its own (403, 404); anything else the API refused
/// (409, 422) is shown as a message on the page the form was on.
pub fn done(session: &Session, to: &str, result: ApiResult<String>) -> UiResult<Response> {
    match result {
        Ok(text) => Ok(session.redirect(to, Flash { ok: true, text })),
        Err(e)
            if matches!(
                e.status(),
                StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED
            ) || e.status().is_server_error() =>
        {
            Err(e.into())
        }
        Err(e) => {
            let mut text = e.problem.detail.clone();
            for f in &e.problem.errors {
                if !text.contains(&f.message) {
                    text.push_str(&format!(" ({}: {})", f.field, f.message));
                }
            }
            Ok(session.redirect(to, Flash { ok: false, text }))
        }
    }
}

pub fn router() -> Router<AppState> {
    let pages = Router::new()
        .route("/ui", get(dashboard::page))
        .route(
            "/ui/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/ui/sign-in/oidc", get(session::oidc_begin))
        .route("/ui/sign-in/oidc/callback", get(session::oidc_callback))
        .route("/ui/sign-out", post(session::sign_out))
        .route("/ui/static/{file}", get(assets::serve))
        .route("/ui/orders", get(order_list::list))
        .route(
            "/ui/orders/new",
            get(order_form::new_page).post(order_form::create),
        )
        .route("/ui/orders/{id}", get(orders::detail))
        .route(
            "/ui/orders/{id}/edit",
            get(order_edit::page).post(order_edit::save),
        )
        .route("/ui/orders/{id}/clone", get(order_form::clone_page))
        .route(
            "/ui/orders/{id}/lines/{line_no}/hold",
            post(orders::hold_line),
        )
        .route(
            "/ui/orders/{id}/lines/{line_no}/release",
            post(orders::release_line),
        )
        .route("/ui/orders/{id}/hold", post(orders::hold))
        .route("/ui/orders/{id}/release", post(orders::release))
        .route("/ui/orders/{id}/cancel", post(orders::cancel))
        .route(
            "/ui/orders/{id}/lines/{line_no}/cancel",
            post(orders::cancel_line),
        )
        .route("/ui/orders/{id}/labels", post(shipping::buy))
        .route(
            "/ui/orders/{id}/shipments/{shipment_id}/label",
            get(shipping::label),
        )
        .route("/ui/inventory", get(inventory::list))
        .route("/ui/inventory/{sku}", get(inventory::detail))
        .route("/ui/nodes", get(nodes::page))
        .route("/ui/nodes/new", get(node_form::new).post(node_form::create))
        .route(
            "/ui/nodes/{code}",
            get(node_form::edit).post(node_form::update),
        )
        .route("/ui/profiles", get(profiles::list))
        .route(
            "/ui/profiles/new",
            get(profiles::new).post(profiles::create),
        )
        .route(
            "/ui/profiles/{name}",
            get(profiles::edit).post(profiles::update),
        )
        .route("/ui/providers", get(providers::list))
        .route(
            "/ui/providers/new",
            get(provider_form::new).post(provider_form::create),
        )
        .route("/ui/providers/{name}", get(providers::detail))
        .route(
            "/ui/providers/{name}/edit",
            get(provider_form::edit).post(provider_form::update),
        )
        .route("/ui/providers/{name}/test", post(provider_form::test))
        .route(
            "/ui/providers/{name}/messages/{id}/retry",
            post(providers::retry),
        )
        .route("/ui/subscriptions", get(providers::subscriptions))
        .route(
            "/ui/subscriptions/new",
            get(subscription_form::new).post(subscription_form::create),
        )
        .route(
            "/ui/subscriptions/{name}/edit",
            get(subscription_form::edit).post(subscription_form::update),
        )
        .route(
            "/ui/alerts/new",
            get(alert_form::new).post(alert_form::create),
        )
        .route(
            "/ui/alerts/{name}/edit",
            get(alert_form::edit).post(alert_form::update),
        )
        .route("/ui/flows", get(flows::list))
        .route("/ui/flows/{name}", get(flows::detail))
        .route("/ui/policies/{name}", get(flows::policy))
        .route(
            "/ui/flows/new",
            get(flow_editor::new).post(flow_editor::create),
        )
        .route("/ui/flows/check", post(flow_editor::check))
        .route(
            "/ui/flows/{name}/edit",
            get(flow_editor::edit).post(flow_editor::save),
        )
        .route("/ui/flows/{name}/publish", post(flow_editor::publish))
        .route("/ui/flows/{name}/unpublish", post(flow_editor::unpublish))
        .route(
            "/ui/policies/new",
            get(policy_editor::new).post(policy_editor::create),
        )
        .route("/ui/policies/check", post(policy_editor::check))
        .route(
            "/ui/policies/{name}/edit",
            get(policy_editor::edit).post(policy_editor::save),
        )
        .route("/ui/tasks", get(tasks::page))
        .route("/ui/tasks/{id}/complete", post(flows::complete_task))
        .route("/ui/runs/{id}/retry", post(flows::retry_run))
        .route("/ui/returns", get(returns::list))
        .route(
            "/ui/returns/new",
            get(return_new::page).post(return_new::create),
        )
        .route("/ui/returns/{id}", get(return_page::page))
        .route("/ui/returns/{id}/receive", post(return_page::receive))
        .route("/ui/returns/{id}/refund", post(return_page::refund))
        .route("/ui/returns/{id}/close", post(return_page::close))
        .route("/ui/notification-templates", get(notifications::templates))
        .route(
            "/ui/notification-templates/{name}",
            get(notifications::edit).post(notifications::save),
        )
        .route("/ui/notifications", get(notifications::list))
        .route("/ui/audit", get(audit::page))
        .route("/ui/users", get(users::list).post(users::create))
        .route("/ui/users/{email}/disable", post(users::disable))
        .route("/ui/users/{email}/enable", post(users::enable))
        .route("/ui/alerts", get(alerts::page))
        .route(
            "/ui/alerts/{name}/firings/{id}/acknowledge",
            post(alerts::acknowledge),
        )
        .route("/ui/events", get(live::events))
        .route("/ui/saved-filters", post(lists::save))
        .route("/ui/saved-filters/delete", post(lists::delete))
        .layer(middleware::from_fn(same_origin))
        .layer(middleware::from_fn(time_zone))
        .layer(middleware::from_fn(server_timing));
    pages.route("/", get(|| async { Redirect::to("/ui") }))
}

/// `Server-Timing: app;dur=MS` on every page: the time the server spent on it, which the
/// browser's developer tools and `iom bench ui` read.
async fn server_timing(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let mut response = next.run(request).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        response.headers_mut().insert("server-timing", value);
    }
    // Pages show live data and who is signed in: never from a cache.
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Pages show times in the zone the browser's script remembered in a cookie (UTC until it has).
async fn time_zone(request: Request, next: Next) -> Response {
    let zone = session::read_cookie(request.headers(), format::ZONE_COOKIE)
        .and_then(|name| name.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(chrono_tz::Tz::UTC);
    format::in_zone(zone, next.run(request)).await
}

/// A form posted from another site is refused whatever cookies came with it (defence in depth
/// beside `SameSite=Strict` and the CSRF token; it also stops signing a browser in from elsewhere).
async fn same_origin(request: Request, next: Next) -> Response {
    if request.method() == Method::POST {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        if let (Some(origin), Some(host)) = (origin, host) {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            if origin_host != host {
                return UiError::Api(ApiError::forbidden("this form was sent from another site"))
                    .into_response();
            }
        }
    }
    next.run(request).await
}
