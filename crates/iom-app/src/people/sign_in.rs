//! Signing in with e-mail and password, rate-limited per e-mail and per client address.
//!
//! The limit is a counter in the store rather than an in-memory limiter (such as `governor`):
//! a deployment runs several processes behind one address, and an attacker spreading guesses
//! over them must meet one limit, not one per process. A failure costs one small insert, next
//! to the argon2 work it already costs.
//!
//! The client address is the peer of the connection: behind a reverse proxy that is the proxy,
//! so the per-address limit then covers everyone behind it (forwarded headers are not trusted,
//! since any client can send them) while the per-e-mail limit still holds.

use std::time::Duration;

use chrono::Utc;
use iom_store::UserRecord;

use super::users::normalise_email;
use super::{People, PeopleError, passwords};

/// Failed sign-ins allowed per e-mail and per client address within [`WINDOW`]; the next attempt
/// is refused, even with the right password, until older failures leave the window.
pub const MAX_FAILURES: i64 = 5;
pub const WINDOW: Duration = Duration::from_secs(60);

impl People {
    /// The user whose e-mail and password these are. `client` is the caller's address.
    pub async fn sign_in_with_password(
        &self,
        email: &str,
        password: &str,
        client: Option<&str>,
    ) -> Result<UserRecord, PeopleError> {
        let email = normalise_email(email).map_err(|_| PeopleError::BadCredentials)?;
        let mut keys = vec![format!("email:{email}")];
        if let Some(client) = client {
            keys.push(format!("client:{client}"));
        }
        let window = chrono::Duration::from_std(WINDOW).unwrap_or_default();
        let since = Utc::now() - window;
        if self
            .store
            .count_sign_in_failures(keys.clone(), since)
            .await?
            >= MAX_FAILURES
        {
            return Err(PeopleError::TooManyAttempts);
        }
        let user = self.store.find_user(email).await?;
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let matches = password.len() <= passwords::MAX_LENGTH
            && passwords::verify(password.to_owned(), hash).await?;
        match user {
            Some(user) if matches && user.disabled_at.is_none() => Ok(user),
            _ => {
                // Failures older than a window count for nothing: forget them as we go.
                self.store
                    .record_sign_in_failure(keys, Utc::now() - window)
                    .await?;
                Err(PeopleError::BadCredentials)
            }
        }
    }
}
