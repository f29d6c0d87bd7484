-- Insights: a narrow projection of every order, line and shipment, written in the same
-- transaction as the order (see iom-insights `facts`), so KPIs are SQL aggregates over indexed
-- columns and never lag the orders. Money is in millionths of the currency unit (BIGINT), so SUM
-- is exact; times are microseconds since the Unix epoch, like everywhere else.
CREATE TABLE order_facts (
    order_id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    currency TEXT NOT NULL,
    region TEXT NOT NULL,
    node TEXT NOT NULL,
    status TEXT NOT NULL,
    placed_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    ship_by BIGINT NOT NULL,
    requested_delivery_at BIGINT,
    lines BIGINT NOT NULL,
    units BIGINT NOT NULL,
    cancelled_units BIGINT NOT NULL,
    shipped_units BIGINT NOT NULL,
    delivered_units BIGINT NOT NULL,
    returned_units BIGINT NOT NULL DEFAULT 0,
    total_micros BIGINT NOT NULL,
    booked_micros BIGINT NOT NULL,
    -- Once backordered, always counted as backordered.
    backordered BIGINT NOT NULL,
    cancelled BIGINT NOT NULL,
    -- Units left to ship: 1 while some remain.
    open BIGINT NOT NULL,
    released_at BIGINT,
    first_shipped_at BIGINT,
    shipped_at BIGINT,
    delivered_at BIGINT,
    shipments BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX order_facts_placed ON order_facts (placed_at);
CREATE INDEX order_facts_shipped ON order_facts (shipped_at) WHERE shipped_at IS NOT NULL;
CREATE INDEX order_facts_open ON order_facts (ship_by) WHERE open = 1;
CREATE INDEX order_facts_unreleased ON order_facts (created_at) WHERE released_at IS NULL AND open = 1;
CREATE INDEX order_facts_requested ON order_facts (requested_delivery_at) WHERE open = 1 AND requested_delivery_at IS NOT NULL;

CREATE TABLE line_facts (
    order_id TEXT NOT NULL,
    line_no BIGINT NOT NULL,
    sku TEXT NOT NULL,
    placed_at BIGINT NOT NULL,
    units BIGINT NOT NULL,
    cancelled_units BIGINT NOT NULL,
    shipped_units BIGINT NOT NULL,
    revenue_micros BIGINT NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX line_facts_placed ON line_facts (placed_at, sku);

CREATE TABLE shipment_facts (
    shipment_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    node TEXT NOT NULL,
    units BIGINT NOT NULL,
    at BIGINT NOT NULL,
    order_created_at BIGINT NOT NULL,
    ship_by BIGINT NOT NULL,
    -- Metres from the node to the ship-to, when both are located.
    metres BIGINT,
    cost_micros BIGINT NOT NULL
);
CREATE INDEX shipment_facts_at ON shipment_facts (at, node);

CREATE INDEX provider_messages_created ON provider_messages (created_at, provider);

-- Anomalies found, each once (the key), announced by an `insights.anomaly` event.
CREATE TABLE insight_anomalies (
    metric TEXT NOT NULL,
    subject TEXT NOT NULL,
    at BIGINT NOT NULL,
    value TEXT NOT NULL,
    expected TEXT NOT NULL,
    lower TEXT NOT NULL,
    upper TEXT NOT NULL,
    score TEXT NOT NULL,
    detected_at BIGINT NOT NULL,
    PRIMARY KEY (metric, subject, at)
);
CREATE INDEX insight_anomalies_detected ON insight_anomalies (detected_at);

CREATE TABLE alerts (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Each subject fires an alert once (the unique key), announced by an `alert.fired` event.
CREATE TABLE alert_firings (
    id TEXT PRIMARY KEY,
    alert TEXT NOT NULL,
    subject TEXT NOT NULL,
    fired_at BIGINT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (alert, subject)
);
CREATE INDEX alert_firings_list ON alert_firings (alert, fired_at);
