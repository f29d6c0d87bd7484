-- Products and their attributes (style, colour, size, …) and low-stock threshold.
CREATE TABLE skus (
    sku TEXT PRIMARY KEY,
    attributes TEXT NOT NULL,
    low_threshold BIGINT,
    updated_at BIGINT NOT NULL
);

-- Current balance per (sku, node), kept in step with the ledger in the same transaction.
CREATE TABLE inventory_balances (
    sku TEXT NOT NULL,
    node TEXT NOT NULL,
    on_hand BIGINT NOT NULL,
    reserved BIGINT NOT NULL,
    -- Ring-fenced for a channel or customer group and not yet consumed.
    allocated BIGINT NOT NULL,
    -- Overrides the node's safety stock for this SKU when set.
    safety_stock BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (sku, node)
);
CREATE INDEX inventory_balances_node ON inventory_balances (node, sku);

-- Every on-hand change, append-only; `change_id` makes a change idempotent.
CREATE TABLE inventory_ledger (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_id TEXT NOT NULL UNIQUE,
    sku TEXT NOT NULL,
    node TEXT NOT NULL,
    kind TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    delta BIGINT NOT NULL,
    on_hand_after BIGINT NOT NULL,
    reason TEXT,
    source TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX inventory_ledger_item ON inventory_ledger (sku, node, seq);

CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    node TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    reference TEXT,
    order_id TEXT,
    line_no BIGINT,
    -- The allocation this reservation draws on, if any, and how much of it.
    allocation_id TEXT,
    from_allocation BIGINT NOT NULL,
    status TEXT NOT NULL,
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX reservations_item ON reservations (sku, node, status);
CREATE INDEX reservations_expiry ON reservations (status, expires_at);
CREATE INDEX reservations_order ON reservations (order_id, line_no);

-- Ring-fencing: quantity set aside for a channel or a customer group.
CREATE TABLE inventory_allocations (
    id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    node TEXT NOT NULL,
    group_kind TEXT NOT NULL,
    group_value TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    consumed BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX inventory_allocations_item ON inventory_allocations (sku, node);

-- Scheduled receipts (purchase orders, transfers, advance ship notices) and scheduled demand.
CREATE TABLE inventory_supply (
    id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    node TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    kind TEXT NOT NULL,
    expected_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX inventory_supply_item ON inventory_supply (sku, node, expected_at);

CREATE TABLE inventory_demand (
    id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    node TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    reference TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX inventory_demand_item ON inventory_demand (sku, node, due_at);
