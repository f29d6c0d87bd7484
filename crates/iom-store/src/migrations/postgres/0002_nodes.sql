-- Fulfilment nodes, node groups and sourcing profiles. Each is kept as its JSON definition (`doc`)
-- with the columns that queries filter on beside it.
CREATE TABLE nodes (
    code TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    active BIGINT NOT NULL,
    safety_stock BIGINT NOT NULL DEFAULT 0,
    doc TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE node_groups (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE fulfillment_profiles (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
