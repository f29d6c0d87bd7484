-- A firing stays open until someone acknowledges it; who and when are kept.
ALTER TABLE alert_firings ADD COLUMN acknowledged_at BIGINT;
ALTER TABLE alert_firings ADD COLUMN acknowledged_by TEXT;
CREATE INDEX alert_firings_acknowledged ON alert_firings (acknowledged_at, id);

-- A list's filter (its query string) saved by a user under a name.
CREATE TABLE saved_filters (
    owner TEXT NOT NULL,
    list TEXT NOT NULL,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (owner, list, name)
);

-- The order list's sort orders, each read as a keyset (sort key, id) from its own index.
CREATE INDEX orders_placed_id ON orders (placed_at, id);
CREATE INDEX orders_external_id_id ON orders (external_id, id);
CREATE INDEX orders_customer_name_id ON orders (customer_name, id);
CREATE INDEX orders_updated_id ON orders (updated_at, id);

-- Tasks are paged oldest first by (created_at, id).
CREATE INDEX flow_tasks_page ON flow_tasks (status, created_at, id);
