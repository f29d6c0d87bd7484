//! Bearer tokens and roles. A token is looked up by its hash; answers are cached for under a
//! second so that a busy integration does not cost a database read per request, while a token
//! revoked anywhere is refused by every process within a second. Revoking through this process
//! takes effect at once.
//!
//! Web UI sessions are cached the same way ([`SessionCache`]): a session ended or a user disabled
//! in another process is refused here within a second, and at once when it happens here.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use iom_store::{TokenLimits, TokenRecord, UserRecord};

pub use iom_app::access::{Access, Role, generate_token};

use crate::AppState;
use crate::error::ApiError;

pub const CACHE_TTL: Duration = Duration::from_millis(900);

/// The caller, known by its token or, in the web UI, by its session's user.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's id, or `user:<id>` for a signed-in user.
    pub token_id: String,
    /// The token's name, or the user's e-mail.
    pub name: String,
    pub role: Role,
    /// The channels and providers the token is limited to; `None`: all its role allows.
    pub limits: Option<TokenLimits>,
}

impl Principal {
    pub fn require(&self, access: Access) -> Result<(), ApiError> {
        if access.allowed(self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "the role {} may not do this",
                self.role.as_str()
            )))
        }
    }

    /// Who acts when this caller changes something: the signed-in user, or the token.
    pub fn actor(&self) -> iom_domain::Actor {
        if self.token_id.starts_with("user:") {
            iom_domain::Actor::user(&self.name)
        } else {
            iom_domain::Actor::token(&self.name)
        }
    }

    /// Whether the caller may see and change orders of this channel.
    pub fn sees_channel(&self, channel: &str) -> bool {
        self.limits
            .as_ref()
            .is_none_or(|l| l.channels.iter().chain(&l.providers).any(|c| c == channel))
    }

    /// The channels a limited caller sees, for filtering lists; `None` when not limited.
    pub fn channels(&self) -> Option<Vec<String>> {
        self.limits
            .as_ref()
            .map(|l| l.channels.iter().chain(&l.providers).cloned().collect())
    }

    /// Capturing an order for a channel the caller is not limited to: 403.
    pub fn require_channel(&self, channel: &str) -> Result<(), ApiError> {
        if self.sees_channel(channel) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this token is limited to other channels than {channel:?}"
            )))
        }
    }

    /// Acting for a provider instance the caller is not limited to: 403.
    pub fn require_provider(&self, provider: &str) -> Result<(), ApiError> {
        if self
            .limits
            .as_ref()
            .is_none_or(|l| l.providers.iter().any(|p| p == provider))
        {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this token is limited to other providers than {provider:?}"
            )))
        }
    }

    /// What belongs to no channel (stock, reservations, configuration) is not for a limited
    /// caller: 403.
    pub fn require_unlimited(&self, what: &str) -> Result<(), ApiError> {
        match self.limits {
            None => Ok(()),
            Some(_) => Err(ApiError::forbidden(format!(
                "a token limited to channels and providers may not change {what}"
            ))),
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        let principal = state.tokens.authenticate(&state.store, token).await?;
        // What this request writes names the token as its actor.
        iom_store::acting::set(principal.actor());
        Ok(principal)
    }
}

/// Verified tokens, by hash, with when they were checked. A handful of entries in practice, so a
/// locked map is all it takes.
#[derive(Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<String, (Option<Principal>, Instant)>>,
}

impl TokenCache {
    pub async fn authenticate(
        &self,
        store: &iom_store::Store,
        token: &str,
    ) -> Result<Principal, ApiError> {
        let hash = iom_store::tokens::hash_token(token);
        if let Some((principal, at)) = self.entries.read().expect("token cache").get(&hash)
            && at.elapsed() < CACHE_TTL
        {
            return principal.clone().ok_or_else(ApiError::unauthorized);
        }
        let record = store.find_token(token).await?;
        let principal = record.as_ref().and_then(principal_of);
        let mut entries = self.entries.write().expect("token cache");
        if entries.len() > 10_000 {
            // Unknown tokens are cached too (a client retrying with a bad one); bound the map.
            entries.clear();
        }
        entries.insert(hash, (principal.clone(), Instant::now()));
        principal.ok_or_else(ApiError::unauthorized)
    }

    /// Forgets every cached answer, after a token was revoked or changed.
    pub fn clear(&self) {
        self.entries.write().expect("token cache").clear();
    }
}

fn principal_of(record: &TokenRecord) -> Option<Principal> {
    Some(Principal {
        token_id: record.id.clone(),
        name: record.name.clone(),
        role: Role::parse(&record.role)?,
        limits: record.limits.clone(),
    })
}

/// Live sessions' users, by the hash of the session id, with when they were read.
#[derive(Default)]
pub struct SessionCache {
    entries: RwLock<HashMap<String, (Option<Principal>, Instant)>>,
}

impl SessionCache {
    /// The signed-in user of a session id; 401 when the session is not live.
    pub async fn authenticate(
        &self,
        people: &iom_app::people::People,
        session_id: &str,
    ) -> Result<Principal, ApiError> {
        let hash = iom_app::people::sessions::hash_id(session_id);
        if let Some((principal, at)) = self.entries.read().expect("session cache").get(&hash)
            && at.elapsed() < CACHE_TTL
        {
            return principal.clone().ok_or_else(ApiError::unauthorized);
        }
        let record = people.session_user(session_id).await?;
        let principal = record.as_ref().and_then(user_principal);
        let mut entries = self.entries.write().expect("session cache");
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert(hash, (principal.clone(), Instant::now()));
        principal.ok_or_else(ApiError::unauthorized)
    }

    /// Forgets every cached answer, after a session ended or a user was disabled.
    pub fn clear(&self) {
        self.entries.write().expect("session cache").clear();
    }
}

/// A signed-in user as the caller of the API's handlers: their role, no channel limits.
pub fn user_principal(user: &UserRecord) -> Option<Principal> {
    Some(Principal {
        token_id: format!("user:{}", user.id),
        name: user.email.clone(),
        role: Role::parse(&user.role)?,
        limits: None,
    })
}
