//! Passwords, stored as argon2id PHC strings with the `argon2` crate's default (recommended)
//! parameters. Hashing costs tens of milliseconds of CPU and memory by design, so it runs off the
//! async threads.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::PeopleError;

/// Passwords shorter than this are refused.
pub const MIN_LENGTH: usize = 8;
/// A bound on the work a password can cost (argon2 reads all of it).
pub const MAX_LENGTH: usize = 1024;

pub fn check(password: &str) -> Result<(), PeopleError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        Err(PeopleError::invalid(
            "password",
            format!("must be at least {MIN_LENGTH} characters"),
        ))
    } else if password.len() > MAX_LENGTH {
        Err(PeopleError::invalid(
            "password",
            format!("must be at most {MAX_LENGTH} bytes"),
        ))
    } else {
        Ok(())
    }
}

/// The argon2id hash of a password, with a fresh random salt.
pub async fn hash(password: String) -> Result<String, PeopleError> {
    check(&password)?;
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| PeopleError::Internal(e.to_string()))?
}

fn hash_now(password: &str) -> Result<String, PeopleError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PeopleError::Internal(format!("hashing a password: {e}")))
}

/// Whether `password` matches `hash`. Without a hash (an unknown user, or one who signs in only
/// through OpenID Connect) a fixed hash is checked instead, so that the answer takes as long
/// either way and its time tells no one which e-mails exist.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool, PeopleError> {
    tokio::task::spawn_blocking(move || {
        let stored = hash.as_deref().unwrap_or_else(|| decoy());
        let parsed = PasswordHash::new(stored)
            .map_err(|e| PeopleError::Internal(format!("a stored password hash: {e}")))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(matches && hash.is_some())
    })
    .await
    .map_err(|e| PeopleError::Internal(e.to_string()))?
}

fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_now("not anyone's password").unwrap_or_default())
}
