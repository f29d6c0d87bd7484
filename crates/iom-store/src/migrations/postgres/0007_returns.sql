CREATE TABLE returns (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    status TEXT NOT NULL,
    origin TEXT NOT NULL,
    channel TEXT NOT NULL,
    reference TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX returns_order ON returns (order_id, id);
CREATE INDEX returns_status ON returns (status, id);
CREATE INDEX returns_channel ON returns (channel, id);
-- A source system's return (a channel's refund id) becomes one return, even across processes.
CREATE UNIQUE INDEX returns_reference ON returns (order_id, reference);

CREATE TABLE return_policies (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
