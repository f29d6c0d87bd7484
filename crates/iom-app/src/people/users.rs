//! Creating, listing and changing users. The e-mail is the handle: trimmed and kept lower-case.

use chrono::{DateTime, Utc};
use iom_store::{Store, UserChange, UserRecord};
use serde::Serialize;
use utoipa::ToSchema;

use super::{PeopleError, passwords};
use crate::access::Role;

/// A user as shown: never the password hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// A disabled user cannot sign in, and their sessions ended when they were disabled.
    pub disabled: bool,
    /// Whether the user can sign in with a password.
    pub has_password: bool,
    /// Whether an OpenID Connect subject is linked (after the first sign-in through the issuer).
    pub oidc_linked: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl User {
    pub fn of(record: &UserRecord) -> Result<User, PeopleError> {
        Ok(User {
            id: record.id.clone(),
            email: record.email.clone(),
            role: Role::parse(&record.role).ok_or_else(|| {
                PeopleError::Internal(format!("user {} has an unknown role", record.email))
            })?,
            disabled: record.disabled_at.is_some(),
            has_password: record.password_hash.is_some(),
            oidc_linked: record.oidc_subject.is_some(),
            created_at: record.created_at,
            updated_at: record.updated_at,
            disabled_at: record.disabled_at,
        })
    }
}

/// An e-mail as it is kept: trimmed, lower-case, one `@` with something on both sides.
pub fn normalise_email(email: &str) -> Result<String, PeopleError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(PeopleError::invalid(
            "email",
            "must be an e-mail address such as ann@example.com",
        ))
    }
}

pub fn parse_role(role: &str) -> Result<Role, PeopleError> {
    match Role::parse(role) {
        Some(role) if role != Role::Integration => Ok(role),
        _ => Err(PeopleError::invalid(
            "role",
            "must be admin, operator, service or viewer",
        )),
    }
}

/// Creates a user; `password` `None` for one who signs in only through OpenID Connect.
pub async fn create(
    store: &Store,
    email: &str,
    role: &str,
    password: Option<String>,
) -> Result<User, PeopleError> {
    let email = normalise_email(email)?;
    let role = parse_role(role)?;
    if let Some(p) = &password {
        passwords::check(p)?;
    }
    let hash = match password {
        Some(p) => Some(passwords::hash(p).await?),
        None => None,
    };
    let record = store
        .insert_user(email.clone(), role.as_str().into(), hash)
        .await?
        .ok_or(PeopleError::Exists(email))?;
    User::of(&record)
}

pub async fn list(store: &Store) -> Result<Vec<User>, PeopleError> {
    store.list_users().await?.iter().map(User::of).collect()
}

/// What `PUT /api/v1/users/{email}` may set; missing fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub role: Option<String>,
    pub password: Option<String>,
    pub disabled: Option<bool>,
}

/// Creates the user (a role is then required) or changes it; `true` when created. Disabling ends
/// the user's sessions at once.
pub async fn put(store: &Store, email: &str, update: Update) -> Result<(User, bool), PeopleError> {
    let email = normalise_email(email)?;
    let role = update.role.as_deref().map(parse_role).transpose()?;
    if let Some(p) = &update.password {
        passwords::check(p)?;
    }
    let existing = store.find_user(email.clone()).await?;
    if existing.is_none() {
        let Some(role) = role else {
            return Err(PeopleError::invalid(
                "role",
                "is required to create a user: admin, operator, service or viewer",
            ));
        };
        let user = create(store, &email, role.as_str(), update.password).await?;
        if update.disabled == Some(true) {
            return Ok((disable(store, &email).await?, true));
        }
        return Ok((user, true));
    }
    let password_hash = match update.password {
        Some(p) => Some(passwords::hash(p).await?),
        None => None,
    };
    let record = store
        .update_user(
            email.clone(),
            UserChange {
                role: role.map(|r| r.as_str().to_owned()),
                password_hash,
                disabled: update.disabled,
            },
        )
        .await?
        .ok_or(PeopleError::NotFound(email))?;
    Ok((User::of(&record)?, false))
}

/// Disables a user and ends their sessions.
pub async fn disable(store: &Store, email: &str) -> Result<User, PeopleError> {
    let email = normalise_email(email)?;
    let record = store
        .update_user(
            email.clone(),
            UserChange {
                disabled: Some(true),
                ..UserChange::default()
            },
        )
        .await?
        .ok_or(PeopleError::NotFound(email))?;
    User::of(&record)
}
