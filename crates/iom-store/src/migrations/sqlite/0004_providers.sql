-- Provider instances: the type, the configuration without secrets (connection fields, value
-- mappings, settings, transformation) as JSON, and the secrets sealed one by one as JSON.
CREATE TABLE providers (
    name TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    config TEXT NOT NULL,
    secrets TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The message log: every document received from or sent to a provider. `dedup_key` is the
-- content hash of an inbound document (NULL for outbound), so the same document twice is one
-- message; NULLs do not collide in a unique index on either backend.
CREATE TABLE provider_messages (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    error TEXT,
    payload TEXT NOT NULL,
    encoding TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    dedup_key TEXT,
    order_ids TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (provider, dedup_key)
);
CREATE INDEX provider_messages_list ON provider_messages (provider, id);
CREATE INDEX provider_messages_status ON provider_messages (status, provider, id);

-- Webhook subscriptions to business events; the secret is sealed like a connection secret.
CREATE TABLE subscriptions (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    types TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- How far each consumer of business events got (`subscription:NAME`, `nats`), how its last
-- attempt went, and which process delivers it until when (a lease, so that of several
-- processes on one database only one sends a consumer's events and their order holds).
CREATE TABLE delivery_cursors (
    consumer TEXT PRIMARY KEY,
    cursor BIGINT NOT NULL,
    delivered BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    last_error TEXT,
    last_attempt_at BIGINT,
    last_success_at BIGINT,
    owner TEXT,
    lease_until BIGINT
);
