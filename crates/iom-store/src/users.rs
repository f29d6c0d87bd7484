//! People who sign in to the web UI: their e-mail (the handle, kept lower-case), role, password
//! hash and the OpenID Connect subject linked to them. Disabling a user ends their sessions in the
//! same transaction.

use chrono::{DateTime, Utc};

use crate::db::{Conn, Row, Value};
use crate::{Store, StoreError, from_micros, micros};

#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub role: String,
    /// An argon2id PHC string; `None` for a user who signs in only through OpenID Connect.
    pub password_hash: Option<String>,
    pub oidc_issuer: Option<String>,
    pub oidc_subject: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// What a change to a user sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<String>,
    pub password_hash: Option<String>,
    pub disabled: Option<bool>,
}

pub(crate) const USER_COLUMNS: &str = "users.id, users.email, users.role, users.password_hash, \
     users.oidc_issuer, users.oidc_subject, users.created_at, users.updated_at, users.disabled_at";

impl Store {
    /// Creates a user; `None` when a user with this e-mail exists already.
    pub async fn insert_user(
        &self,
        email: String,
        role: String,
        password_hash: Option<String>,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let id = uuid::Uuid::now_v7().to_string();
            tx.conn()
                .query_one(
                    &format!(
                        "INSERT INTO users (id, email, role, password_hash, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $5)
                         ON CONFLICT (email) DO NOTHING
                         RETURNING {USER_COLUMNS}"
                    ),
                    &[
                        Value::Text(&id),
                        Value::Text(&email),
                        Value::Text(&role),
                        password_hash.as_ref().into(),
                        Value::Int(now),
                    ],
                )?
                .map(user)
                .transpose()
        })
        .await
    }

    pub async fn find_user(&self, email: String) -> Result<Option<UserRecord>, StoreError> {
        self.read(move |c| user_by(c, "users.email = $1", &email))
            .await
    }

    /// The user an OpenID Connect issuer's subject is linked to.
    pub async fn find_user_by_subject(
        &self,
        issuer: String,
        subject: String,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.read(move |c| {
            c.query_one(
                &format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2"
                ),
                &[Value::Text(&issuer), Value::Text(&subject)],
            )?
            .map(user)
            .transpose()
        })
        .await
    }

    pub async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.read(|c| {
            c.query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"),
                &[],
            )?
            .into_iter()
            .map(user)
            .collect()
        })
        .await
    }

    /// Changes a user; `None` when there is none with this e-mail. Disabling ends every session
    /// of the user in the same transaction.
    pub async fn update_user(
        &self,
        email: String,
        change: UserChange,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            // 1 disables (keeping the first time), 0 enables, -1 leaves it.
            let disable = match change.disabled {
                None => -1,
                Some(false) => 0,
                Some(true) => 1,
            };
            let n = tx.conn().execute(
                "UPDATE users SET
                     role = COALESCE($2, role),
                     password_hash = COALESCE($3, password_hash),
                     disabled_at = CASE WHEN $4 = 1 THEN COALESCE(disabled_at, $5)
                                        WHEN $4 = 0 THEN NULL ELSE disabled_at END,
                     updated_at = $5
                 WHERE email = $1",
                &[
                    Value::Text(&email),
                    change.role.as_ref().into(),
                    change.password_hash.as_ref().into(),
                    Value::Int(disable),
                    Value::Int(now),
                ],
            )?;
            if n == 0 {
                return Ok(None);
            }
            if change.disabled == Some(true) {
                tx.conn().execute(
                    "UPDATE user_sessions SET ended_at = $2
                     WHERE ended_at IS NULL
                       AND user_id = (SELECT id FROM users WHERE email = $1)",
                    &[Value::Text(&email), Value::Int(now)],
                )?;
            }
            user_by(tx.conn(), "users.email = $1", &email)
        })
        .await
    }

    /// Links an OpenID Connect subject to a user (on their first sign-in through the issuer).
    pub async fn link_oidc_subject(
        &self,
        user_id: String,
        issuer: String,
        subject: String,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            tx.conn().execute(
                "UPDATE users SET oidc_issuer = $2, oidc_subject = $3, updated_at = $4 WHERE id = $1",
                &[
                    Value::Text(&user_id),
                    Value::Text(&issuer),
                    Value::Text(&subject),
                    Value::Int(now),
                ],
            )?;
            Ok(())
        })
        .await
    }
}

fn user_by(
    c: &mut dyn Conn,
    condition: &str,
    value: &str,
) -> Result<Option<UserRecord>, StoreError> {
    c.query_one(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE {condition}"),
        &[Value::Text(value)],
    )?
    .map(user)
    .transpose()
}

/// A user from the nine columns of [`USER_COLUMNS`], starting at the first.
pub(crate) fn user(row: Row) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: row.text(0)?.to_owned(),
        email: row.text(1)?.to_owned(),
        role: row.text(2)?.to_owned(),
        password_hash: row.opt_text(3)?.map(str::to_owned),
        oidc_issuer: row.opt_text(4)?.map(str::to_owned),
        oidc_subject: row.opt_text(5)?.map(str::to_owned),
        created_at: from_micros(row.int(6)?),
        updated_at: from_micros(row.int(7)?),
        disabled_at: row.opt_int(8)?.map(from_micros),
    })
}
