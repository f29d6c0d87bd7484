//! Signing in through an OpenID Connect issuer (`IOM_OIDC_ISSUER`, `IOM_OIDC_CLIENT_ID`,
//! `IOM_OIDC_CLIENT_SECRET`) with the `openidconnect` crate: discovery of the issuer's endpoints
//! and keys (on first use, and again hourly for keys rotated in), the authorisation code flow
//! with PKCE and a nonce, and the ID token's signature checked against the issuer's JWKS (with
//! its issuer, audience and expiry).
//!
//! The state, nonce and PKCE verifier of a sign-in under way are kept in the store, so the
//! callback may reach any process, and each can be used once. The user is found by the linked
//! subject, or else by the ID token's e-mail when the issuer says it is verified; that links the
//! subject. Nobody is created: an admin creates users first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use iom_store::UserRecord;
use iom_store::sessions::OidcSignIn;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use super::{People, PeopleError};

/// How long a sign-in may take between the redirect to the issuer and its callback.
const SIGN_IN_TIMEOUT: chrono::Duration = chrono::Duration::minutes(10);

#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer's URL, as in its discovery document.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

/// What discovery found: the issuer's endpoints and signing keys.
pub(super) struct Issuer {
    metadata: CoreProviderMetadata,
    http: openidconnect::reqwest::Client,
    discovered: Instant,
}

const REDISCOVER_AFTER: Duration = Duration::from_secs(3600);

fn failed(e: impl std::fmt::Display) -> PeopleError {
    PeopleError::Oidc(e.to_string())
}

impl People {
    fn oidc_settings(&self) -> Result<&OidcSettings, PeopleError> {
        self.settings
            .oidc
            .as_ref()
            .ok_or(PeopleError::OidcNotConfigured)
    }

    /// The issuer's endpoints and keys, discovered again once they are an hour old so that keys
    /// the issuer rotated in are known.
    async fn issuer(&self) -> Result<Arc<Issuer>, PeopleError> {
        if let Some(issuer) = self.oidc.read().await.as_ref()
            && issuer.discovered.elapsed() < REDISCOVER_AFTER
        {
            return Ok(issuer.clone());
        }
        let mut cached = self.oidc.write().await;
        if let Some(issuer) = cached.as_ref()
            && issuer.discovered.elapsed() < REDISCOVER_AFTER
        {
            return Ok(issuer.clone());
        }
        let settings = self.oidc_settings()?;
        // Following redirects would let a token endpoint send our secrets elsewhere.
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(failed)?;
        let url = IssuerUrl::new(settings.issuer.clone()).map_err(failed)?;
        let metadata = CoreProviderMetadata::discover_async(url, &http)
            .await
            .map_err(|e| failed(format!("discovery of {}: {e}", settings.issuer)))?;
        let issuer = Arc::new(Issuer {
            metadata,
            http,
            discovered: Instant::now(),
        });
        *cached = Some(issuer.clone());
        Ok(issuer)
    }

    fn client(
        &self,
        issuer: &Issuer,
        redirect_url: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        PeopleError,
    > {
        let settings = self.oidc_settings()?;
        Ok(CoreClient::from_provider_metadata(
            issuer.metadata.clone(),
            ClientId::new(settings.client_id.clone()),
            Some(ClientSecret::new(settings.client_secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_url.to_owned()).map_err(failed)?))
    }

    /// Begins a sign-in: the issuer's authorisation URL to send the browser to, and the state
    /// that comes back with the callback. `redirect_url` is this server's callback; `next` the
    /// page to show once signed in.
    pub async fn begin_oidc_sign_in(
        &self,
        redirect_url: &str,
        next: &str,
    ) -> Result<(String, String), PeopleError> {
        let issuer = self.issuer().await?;
        let client = self.client(&issuer, redirect_url)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        self.store
            .insert_oidc_sign_in(OidcSignIn {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                next: next.to_owned(),
                created_at: Utc::now(),
            })
            .await?;
        Ok((url.to_string(), state.secret().clone()))
    }

    /// Completes a sign-in from the issuer's callback: exchanges the code (with the PKCE
    /// verifier and the client secret), checks the ID token and finds the user. Returns the user
    /// and the page to show.
    pub async fn complete_oidc_sign_in(
        &self,
        redirect_url: &str,
        state: &str,
        code: &str,
    ) -> Result<(UserRecord, String), PeopleError> {
        let issuer = self.issuer().await?;
        let pending = self
            .store
            .take_oidc_sign_in(state.to_owned(), Utc::now() - SIGN_IN_TIMEOUT)
            .await?
            .ok_or_else(|| failed("this sign-in is unknown, used or too old; start again"))?;
        let client = self.client(&issuer, redirect_url)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(failed)?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&issuer.http)
            .await
            .map_err(|e| failed(format!("the token request was refused: {e}")))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| failed("the issuer returned no ID token"))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(pending.nonce))
            .map_err(|e| failed(format!("the ID token was refused: {e}")))?;
        let issuer_url = self.oidc_settings()?.issuer.clone();
        let subject = claims.subject().as_str().to_owned();
        if let Some(user) = self
            .store
            .find_user_by_subject(issuer_url.clone(), subject.clone())
            .await?
        {
            return if user.disabled_at.is_none() {
                Ok((user, pending.next))
            } else {
                Err(PeopleError::NotAUser(format!("{} is disabled", user.email)))
            };
        }
        let email = match (claims.email(), claims.email_verified()) {
            (Some(email), Some(true)) => email.as_str().trim().to_lowercase(),
            _ => {
                return Err(PeopleError::NotAUser(
                    "the identity provider did not vouch for an e-mail address".into(),
                ));
            }
        };
        let not_a_user = || {
            PeopleError::NotAUser(format!(
                "{email} is not a user of iom; an admin creates users (iom user create)"
            ))
        };
        let user = self
            .store
            .find_user(email.clone())
            .await?
            .ok_or_else(not_a_user)?;
        if user.disabled_at.is_some() {
            return Err(PeopleError::NotAUser(format!("{email} is disabled")));
        }
        if user.oidc_subject.is_some() {
            // Linked to another subject of this (or another) issuer: an e-mail alone does not
            // take the account over.
            return Err(not_a_user());
        }
        self.store
            .link_oidc_subject(user.id.clone(), issuer_url, subject)
            .await?;
        Ok((user, pending.next))
    }
}
