//! People who sign in to the web UI: users with a role (the roles of [`crate::access`]), their
//! passwords (argon2id), server-side sessions, rate-limited sign-in and OpenID Connect.
//!
//! Admins create users (`iom user create`, `PUT /api/v1/users/{email}`); nobody signs up. A
//! first sign-in through OpenID Connect with a verified e-mail links the issuer's subject to the
//! user with that e-mail, and creates nothing when there is none.
//!
//! A session is a random id in the browser's cookie and a row in the store (by the id's hash):
//! every request reads it, so signing out or disabling the user ends it at once in every process.

pub mod oidc;
pub mod passwords;
pub mod sessions;
pub mod sign_in;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use iom_store::{Store, StoreError};

pub use users::User;

/// How people sign in.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a session lasts after signing in.
    pub session_lifetime: Duration,
    /// Signing in through an OpenID Connect issuer, when configured.
    pub oidc: Option<oidc::OidcSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_lifetime: Duration::from_secs(12 * 3600),
            oidc: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no user with the e-mail {0}")]
    NotFound(String),
    #[error("a user with the e-mail {0} exists already")]
    Exists(String),
    /// Unknown e-mail, wrong password or a disabled user: one answer for all, so a sign-in form
    /// tells no one which e-mails exist.
    #[error("the e-mail or the password is not right")]
    BadCredentials,
    #[error("too many failed sign-ins; try again in a minute")]
    TooManyAttempts,
    #[error("signing in with OpenID Connect is not configured")]
    OidcNotConfigured,
    /// The issuer's answer was refused (signature, nonce, audience, expiry, PKCE) or it could
    /// not be reached.
    #[error("signing in through the identity provider failed: {0}")]
    Oidc(String),
    /// The identity provider vouched for someone who is not a user here.
    #[error("{0}")]
    NotAUser(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl PeopleError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        PeopleError::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// The people use cases of a running server: the store, the settings and the OpenID Connect
/// client (discovered on first use, again hourly). Cheap to clone.
#[derive(Clone)]
pub struct People {
    pub store: Store,
    pub settings: Settings,
    /// The issuer as last discovered.
    oidc: Arc<tokio::sync::RwLock<Option<Arc<oidc::Issuer>>>>,
}

impl People {
    pub fn new(store: Store, settings: Settings) -> People {
        People {
            store,
            settings,
            oidc: Arc::default(),
        }
    }

    /// The issuer's name to show on the sign-in page, when OpenID Connect is configured.
    pub fn oidc_issuer(&self) -> Option<&str> {
        self.settings.oidc.as_ref().map(|o| o.issuer.as_str())
    }
}
