//! `/ui/users` (admins): the people who sign in, with forms to create one and to disable or enable
//! them. Every action calls the API's handlers (`routes::users`).

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::session::Session;
use super::{UiResult, done, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::routes::users as api;
use iom_app::people::users;

const PAGE: &str = "/ui/users";

fn body<T>(value: T) -> ApiJson<T> {
    ApiJson {
        value,
        raw: Default::default(),
    }
}

pub async fn list(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    let users = api::list(State(state), session.principal.clone()).await?.0;
    let csrf = session.csrf.as_str();
    let can_change = session.can(Access::Configure);
    let body = html! {
        h1 { "Users" }
        p.muted { "The people who sign in here. A disabled user's sessions end at once." }
        table #users {
            thead { tr { th { "E-mail" } th { "Role" } th { "Signs in with" } th { "Created" } th { "State" } th {} } }
            tbody { @for u in &users.items { tr {
                td { (u.email) }
                td { (u.role.as_str()) }
                td {
                    @if u.has_password { "password" }
                    @if u.has_password && u.oidc_linked { ", " }
                    @if u.oidc_linked { "identity provider" }
                }
                td { (format::time(u.created_at)) }
                td { @if u.disabled { "disabled" } @else { "active" } }
                td { @if can_change {
                    form method="post" action=(format!("/ui/users/{}/{}", format::segment(&u.email), if u.disabled { "enable" } else { "disable" })) {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { @if u.disabled { "Enable" } @else { "Disable" } }
                    }
                } }
            } } }
        }
        @if can_change {
            h2 { "New user" }
            form method="post" action="/ui/users" {
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { "E-mail" }
                input #email type="email" name="email" required;
                label for="role" { "Role" }
                select #role name="role" {
                    option value="viewer" { "viewer" }
                    option value="service" { "service (orders and returns)" }
                    option value="operator" { "operator" }
                    option value="admin" { "admin" }
                }
                label for="password" { "Password (leave empty for sign-in through the identity provider only)" }
                input #password type="password" name="password" autocomplete="new-password";
                button type="submit" { "Create" }
            }
        }
    };
    Ok(layout::page(&session, "Users", PAGE, body))
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub password: String,
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<NewUserForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    session.principal.require(Access::Configure)?;
    let password = (!form.password.is_empty()).then_some(form.password);
    let result = users::create(&state.store, &form.email, &form.role, password)
        .await
        .map(|user| format!("{} can sign in now.", user.email))
        .map_err(ApiError::from);
    done(&session, PAGE, result)
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

async fn set_disabled(
    state: AppState,
    session: Session,
    email: String,
    csrf: &str,
    disabled: bool,
) -> UiResult<Response> {
    session.verify(csrf)?;
    let result = api::put(
        State(state),
        session.principal.clone(),
        Path(email.clone()),
        body(api::UserUpdate {
            role: None,
            password: None,
            disabled: Some(disabled),
        }),
    )
    .await
    .map(|_| {
        if disabled {
            format!("{email} is disabled; their sessions have ended.")
        } else {
            format!("{email} may sign in again.")
        }
    });
    done(&session, PAGE, result)
}

pub async fn disable(
    State(state): State<AppState>,
    session: Session,
    Path(email): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> UiResult<Response> {
    set_disabled(state, session, email, &form.csrf, true).await
}

pub async fn enable(
    State(state): State<AppState>,
    session: Session,
    Path(email): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> UiResult<Response> {
    set_disabled(state, session, email, &form.csrf, false).await
}
