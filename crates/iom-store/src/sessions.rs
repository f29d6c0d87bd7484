//! Web UI sessions, the failed sign-ins that rate-limit signing in, and OpenID Connect sign-ins
//! under way. Session ids are stored only as SHA-256 hashes: a leaked database signs no one in.

use chrono::{DateTime, Utc};

use crate::db::Value;
use crate::users::{USER_COLUMNS, UserRecord, user};
use crate::{Store, StoreError, micros};

/// An OpenID Connect sign-in between the redirect to the issuer and its callback.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcSignIn {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The page to show once signed in.
    pub next: String,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Starts a session of a user until `expires_at`.
    pub async fn insert_session(
        &self,
        id_hash: String,
        user_id: String,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            tx.conn().execute(
                "INSERT INTO user_sessions (id_hash, user_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
                &[
                    Value::Text(&id_hash),
                    Value::Text(&user_id),
                    Value::Int(now),
                    Value::Int(micros(expires_at)),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The user of a live session at `now`: not ended, not expired, and the user not disabled.
    pub async fn find_session_user(
        &self,
        id_hash: String,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.read(move |c| {
            c.query_one(
                &format!(
                    "SELECT {USER_COLUMNS} FROM user_sessions
                     JOIN users ON users.id = user_sessions.user_id
                     WHERE user_sessions.id_hash = $1 AND user_sessions.ended_at IS NULL
                       AND user_sessions.expires_at > $2 AND users.disabled_at IS NULL"
                ),
                &[Value::Text(&id_hash), Value::Int(micros(now))],
            )?
            .map(user)
            .transpose()
        })
        .await
    }

    /// Ends a session (signing out); `false` when it was not live.
    pub async fn end_session(&self, id_hash: String) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let n = tx.conn().execute(
                "UPDATE user_sessions SET ended_at = $2 WHERE id_hash = $1 AND ended_at IS NULL",
                &[Value::Text(&id_hash), Value::Int(now)],
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// Records one failed sign-in under each key, and forgets failures older than `forget_before`.
    pub async fn record_sign_in_failure(
        &self,
        keys: Vec<String>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            tx.conn().execute(
                "DELETE FROM sign_in_failures WHERE at < $1",
                &[Value::Int(micros(forget_before))],
            )?;
            for key in &keys {
                tx.conn().execute(
                    "INSERT INTO sign_in_failures (key, at) VALUES ($1, $2)",
                    &[Value::Text(key), Value::Int(now)],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// The most failed sign-ins since `since` under any one of `keys`.
    pub async fn count_sign_in_failures(
        &self,
        keys: Vec<String>,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.read(move |c| {
            let mut most = 0;
            for key in &keys {
                let n = c
                    .query_one(
                        "SELECT COUNT(*) FROM sign_in_failures WHERE key = $1 AND at >= $2",
                        &[Value::Text(key), Value::Int(micros(since))],
                    )?
                    .map(|row| row.int(0))
                    .transpose()?
                    .unwrap_or(0);
                most = most.max(n);
            }
            Ok(most)
        })
        .await
    }

    pub async fn insert_oidc_sign_in(&self, sign_in: OidcSignIn) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.conn().execute(
                "INSERT INTO oidc_sign_ins (state, nonce, pkce_verifier, next, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    Value::Text(&sign_in.state),
                    Value::Text(&sign_in.nonce),
                    Value::Text(&sign_in.pkce_verifier),
                    Value::Text(&sign_in.next),
                    Value::Int(micros(sign_in.created_at)),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Takes an OpenID Connect sign-in by its state: it can be completed once. Sign-ins begun
    /// before `forget_before` are removed unused.
    pub async fn take_oidc_sign_in(
        &self,
        state: String,
        forget_before: DateTime<Utc>,
    ) -> Result<Option<OidcSignIn>, StoreError> {
        self.write(move |tx| {
            let taken = tx
                .conn()
                .query_one(
                    "DELETE FROM oidc_sign_ins WHERE state = $1
                     RETURNING state, nonce, pkce_verifier, next, created_at",
                    &[Value::Text(&state)],
                )?
                .map(|row| -> Result<OidcSignIn, StoreError> {
                    Ok(OidcSignIn {
                        state: row.text(0)?.to_owned(),
                        nonce: row.text(1)?.to_owned(),
                        pkce_verifier: row.text(2)?.to_owned(),
                        next: row.text(3)?.to_owned(),
                        created_at: crate::from_micros(row.int(4)?),
                    })
                })
                .transpose()?;
            tx.conn().execute(
                "DELETE FROM oidc_sign_ins WHERE created_at < $1",
                &[Value::Int(micros(forget_before))],
            )?;
            Ok(taken.filter(|s| s.created_at >= forget_before))
        })
        .await
    }
}
