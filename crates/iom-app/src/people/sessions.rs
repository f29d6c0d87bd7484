//! Server-side sessions. The browser holds a random 256-bit id; the store holds its SHA-256 hash,
//! the user and the expiry. A session is looked up on every request, so ending it (signing out,
//! disabling the user) takes effect at once everywhere.

use chrono::Utc;
use iom_store::UserRecord;

use super::{People, PeopleError};

/// The hash a session id is stored under.
pub fn hash_id(session_id: &str) -> String {
    iom_store::tokens::hash_token(session_id)
}

impl People {
    /// Starts a session for a user who just proved who they are; returns its id for the cookie.
    pub async fn start_session(&self, user: &UserRecord) -> Result<String, PeopleError> {
        let id = hex::encode(rand::random::<[u8; 32]>());
        let lifetime = chrono::Duration::from_std(self.settings.session_lifetime)
            .map_err(|e| PeopleError::Internal(e.to_string()))?;
        self.store
            .insert_session(hash_id(&id), user.id.clone(), Utc::now() + lifetime)
            .await?;
        Ok(id)
    }

    /// The user of a live session; `None` when it is unknown, ended, expired or its user disabled.
    pub async fn session_user(&self, session_id: &str) -> Result<Option<UserRecord>, PeopleError> {
        Ok(self
            .store
            .find_session_user(hash_id(session_id), Utc::now())
            .await?)
    }

    /// Ends a session (signing out).
    pub async fn end_session(&self, session_id: &str) -> Result<(), PeopleError> {
        self.store.end_session(hash_id(session_id)).await?;
        Ok(())
    }
}
