//! `/api/v1/users`: the people who sign in to the web UI (admins only). The use cases are
//! `iom_app::people::users`; signing in is the UI's (`/ui/sign-in`).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use iom_app::people::{User, users};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiResult, Problem};
use crate::json::ApiJson;
use crate::routes::nodes::put_status;

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    /// Every user, by e-mail.
    pub items: Vec<User>,
    /// Always null: the list is complete.
    pub next_cursor: Option<String>,
}

/// A user to create or the changes to one; fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// `admin`, `operator`, `service` (customer service: orders and returns) or `viewer`;
    /// required to create a user.
    pub role: Option<String>,
    /// A new password, at least 8 characters (stored as an argon2id hash, never answered).
    /// Leave it out for a user who signs in only through OpenID Connect.
    pub password: Option<String>,
    /// `true` disables the user and ends their sessions at once; `false` enables them again.
    pub disabled: Option<bool>,
}

/// List users.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses(
        (status = 200, body = UserPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, description = "Not an admin", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<UserPage>> {
    principal.require(Access::Configure)?;
    Ok(Json(UserPage {
        items: users::list(&state.store).await?,
        next_cursor: None,
    }))
}

/// Create or change a user.
///
/// Creating needs a `role`; a `password` lets the user sign in with it (OpenID Connect users
/// need none: their first sign-in through the issuer with this verified e-mail links them).
/// `disabled: true` ends the user's sessions at once, in every process.
#[utoipa::path(put, path = "/api/v1/users/{email}", tag = "users",
    params(("email" = String, Path, description = "The user's e-mail address (kept lower-case)")),
    request_body = UserUpdate,
    responses(
        (status = 201, body = User, description = "Created"),
        (status = 200, body = User, description = "Changed"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, description = "Not an admin", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "The invalid field: `email`, `role` or `password`", content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path(email): Path<String>,
    body: ApiJson<UserUpdate>,
) -> ApiResult<Response> {
    principal.require(Access::Configure)?;
    let body = body.value;
    let disables = body.disabled == Some(true);
    let (user, created) = users::put(
        &state.store,
        &email,
        users::Update {
            role: body.role,
            password: body.password,
            disabled: body.disabled,
        },
    )
    .await?;
    if disables {
        // This process forgets the user's sessions now; others within the cache's second.
        state.sessions.clear();
    }
    Ok((put_status(created), Json(user)).into_response())
}
