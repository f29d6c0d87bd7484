//! A local OpenID Connect identity provider, as the specifications describe one: a discovery
//! document at `/.well-known/openid-configuration`, its signing key at `/jwks` (an RSA key made
//! for the test), `/authorize` that sends the browser back with a code at once (the person is
//! taken as signed in), and `/token` that checks the client secret (HTTP Basic) and the PKCE
//! verifier against the challenge before answering an RS256-signed ID token with the nonce.
//! It can be told to sign with another key or put another nonce in, to show both are refused.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "iom-test-client";
pub const CLIENT_SECRET: &str = "iom-test-client-secret";

/// The provider's signing key and a key it does not publish. RSA keys take a moment to make:
/// once per test binary.
static KEYS: LazyLock<(RsaPrivateKey, RsaPrivateKey)> = LazyLock::new(|| {
    let mut rng = rand_core::OsRng;
    (
        RsaPrivateKey::new(&mut rng, 2048).unwrap(),
        RsaPrivateKey::new(&mut rng, 2048).unwrap(),
    )
});

/// What the next ID token gets wrong, if anything.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tamper {
    Nothing,
    WrongNonce,
    /// Signed with a key that is not in the JWKS.
    WrongKey,
}

pub struct Person {
    pub subject: String,
    pub email: String,
    pub email_verified: bool,
}

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct Idp {
    issuer: String,
    person: Person,
    tamper: Tamper,
    codes: HashMap<String, Grant>,
    /// Token requests refused, with why.
    refusals: Vec<String>,
}

#[derive(Clone)]
pub struct FakeIdp {
    pub issuer: String,
    state: Arc<Mutex<Idp>>,
}

impl FakeIdp {
    pub async fn start(person: Person) -> FakeIdp {
        LazyLock::force(&KEYS);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(Idp {
            issuer: issuer.clone(),
            person,
            tamper: Tamper::Nothing,
            codes: HashMap::new(),
            refusals: Vec::new(),
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeIdp { issuer, state }
    }

    pub fn settings(&self) -> iom_app::people::oidc::OidcSettings {
        iom_app::people::oidc::OidcSettings {
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
        }
    }

    pub fn set_person(&self, person: Person) {
        self.state.lock().unwrap().person = person;
    }

    pub fn set_tamper(&self, tamper: Tamper) {
        self.state.lock().unwrap().tamper = tamper;
    }

    pub fn refusals(&self) -> Vec<String> {
        self.state.lock().unwrap().refusals.clone()
    }
}

type Shared = State<Arc<Mutex<Idp>>>;

async fn discovery(State(state): Shared) -> Json<Value> {
    let issuer = state.lock().unwrap().issuer.clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email"],
    }))
}

async fn jwks() -> Json<Value> {
    let key = KEYS.0.to_public_key();
    Json(json!({"keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "test-key",
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    }]}))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

async fn authorize(State(state): Shared, Query(q): Query<AuthorizeQuery>) -> Response {
    let fault = if q.response_type != "code" {
        Some("unsupported_response_type")
    } else if q.client_id != CLIENT_ID {
        Some("unauthorized_client")
    } else if !q.scope.split(' ').any(|s| s == "openid") {
        Some("invalid_scope")
    } else if q.code_challenge.is_none() || q.code_challenge_method.as_deref() != Some("S256") {
        Some("invalid_request")
    } else {
        None
    };
    let query = |pairs: &[(&str, &str)]| serde_urlencoded::to_string(pairs).unwrap();
    if let Some(error) = fault {
        let back = format!(
            "{}?{}",
            q.redirect_uri,
            query(&[("error", error), ("state", &q.state)])
        );
        return Redirect::to(&back).into_response();
    }
    let code = hex::encode(rand::random::<[u8; 16]>());
    state.lock().unwrap().codes.insert(
        code.clone(),
        Grant {
            nonce: q.nonce.unwrap_or_default(),
            challenge: q.code_challenge.unwrap_or_default(),
            redirect_uri: q.redirect_uri.clone(),
        },
    );
    let back = format!(
        "{}?{}",
        q.redirect_uri,
        query(&[("code", &code), ("state", &q.state)])
    );
    Redirect::to(&back).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: Option<String>,
}

fn refuse(state: &mut Idp, status: StatusCode, error: &str, why: &str) -> Response {
    state.refusals.push(why.to_owned());
    (
        status,
        Json(json!({"error": error, "error_description": why})),
    )
        .into_response()
}

async fn token(State(state): Shared, headers: HeaderMap, Form(form): Form<TokenForm>) -> Response {
    let mut state = state.lock().unwrap();
    // client_secret_basic: the form-urlencoded id and secret, joined by a colon, in base64.
    let client = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let expected = format!("{}:{}", urlencode(CLIENT_ID), urlencode(CLIENT_SECRET));
    if client.as_deref() != Some(expected.as_str()) {
        return refuse(
            &mut state,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client secret",
        );
    }
    if form.grant_type != "authorization_code" {
        return refuse(
            &mut state,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant type",
        );
    }
    let Some(grant) = state.codes.remove(&form.code) else {
        return refuse(
            &mut state,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown code",
        );
    };
    if grant.redirect_uri != form.redirect_uri {
        return refuse(
            &mut state,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri",
        );
    }
    let verified = form
        .code_verifier
        .as_deref()
        .is_some_and(|v| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == grant.challenge);
    if !verified {
        return refuse(
            &mut state,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verifier",
        );
    }
    let now = chrono::Utc::now().timestamp();
    let nonce = match state.tamper {
        Tamper::WrongNonce => "a nonce of another sign-in".to_owned(),
        _ => grant.nonce,
    };
    let claims = json!({
        "iss": state.issuer,
        "sub": state.person.subject,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "email": state.person.email,
        "email_verified": state.person.email_verified,
    });
    let key = match state.tamper {
        Tamper::WrongKey => &KEYS.1,
        _ => &KEYS.0,
    };
    let pem = key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key".into());
    let id_token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap();
    Json(json!({
        "access_token": hex::encode(rand::random::<[u8; 16]>()),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).unwrap()[1..].to_owned()
}
