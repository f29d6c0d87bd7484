-- People who sign in to the web UI. The e-mail is kept lower-case and is the user's handle; the
-- password is an argon2id PHC string (NULL for a user who signs in only through OpenID Connect);
-- the OpenID Connect subject is linked on the first sign-in through the issuer.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT,
    oidc_issuer TEXT,
    oidc_subject TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    disabled_at BIGINT,
    UNIQUE (oidc_issuer, oidc_subject)
);

-- Signed-in browsers. Only a SHA-256 hash of the session id (256 random bits, in the cookie) is
-- stored. A session ends when it expires, when its user signs out, or when the user is disabled.
CREATE TABLE user_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);

-- Failed sign-ins, one row each, keyed by `email:<address>` and `client:<ip>`: counted over the
-- last minute by every process of a deployment alike.
CREATE TABLE sign_in_failures (
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_key_at ON sign_in_failures (key, at);

-- OpenID Connect sign-ins under way: from the redirect to the issuer until its callback, the
-- PKCE verifier and the nonce the ID token must carry, by the `state` sent along.
CREATE TABLE oidc_sign_ins (
    state TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
